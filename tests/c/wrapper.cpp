// The C++ wrapper end to end, for the tests (and valgrind): a Server with a callback that
// relays the published stream into a LocalPublisher; a publishing Client writing Frames
// (copied and shared) from an FLV file paced by timestamps (the first 2 s); a playing
// Client polled for Notices; Metadata, Packager, Depacketizer, FlvWriter and FlvReader,
// set_log_callback and Error.
//
//   wrapper FILE.flv RECORDING.flv   prints "published video=N audio=M" and "played video=N audio=M"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "rtmp_core.hpp"

using namespace std::chrono_literals;

namespace {

int failed(const std::string &why) {
    std::fprintf(stderr, "wrapper: %s\n", why.c_str());
    return 1;
}

uint32_t be24(const uint8_t *p) { return uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2]; }

} // namespace

int main(int argc, char **argv) {
    if (argc != 3) {
        return failed("usage: wrapper FILE.flv RECORDING.flv");
    }
    std::ifstream in(argv[1], std::ios::binary);
    std::vector<uint8_t> flv((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

    std::atomic<uint64_t> log_records{0};
    rtmp::set_log_callback(RTMP_LOG_LEVEL_DEBUG,
                           [&](rtmp_log_level, std::string_view, std::string_view) { log_records++; });

    try {
        rtmp::Client::publish("http://not-rtmp/a/b");
        return failed("a bad URL did not throw");
    } catch (const rtmp::Error &e) {
        if (e.code() != RTMP_RESULT_INVALID_ARGUMENT) {
            return failed(std::string("wrong code for a bad URL: ") + e.what());
        }
    }

    // Packager: SPS + PPS + IDR in Annex-B make a sequence header and a keyframe.
    const std::vector<uint8_t> access_unit = {
        0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x0a, 0xd9, 0x02, 0x84, 0x7e, 0x5c, 0x04, 0x40, 0x00, 0x00, 0x03,
        0x00, 0x40, 0x00, 0x00, 0x07, 0x83, 0xc4, 0x89, 0x92, 0, 0, 0, 1, 0x68, 0xcb, 0x83, 0xcb, 0x20,
        0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x33};
    rtmp::Packager packager(RTMP_CODEC_H264, RTMP_TAG_FORMAT_LEGACY);
    auto packets = packager.push(access_unit.data(), access_unit.size(), 80, 40);
    if (packets.size() != 2 || !packets.begin()[0].sequence_header || !packets.begin()[1].keyframe ||
        packets.begin()[1].composition_time != 40) {
        return failed("packager output");
    }
    rtmp::Frame kept = rtmp::Frame::retain(packets.begin()[1].frame);

    // Depacketizer: the packets come back as the same Annex-B access unit, with its times.
    rtmp::Depacketizer depacketizer;
    if (!depacketizer.push(packets.begin()[0].frame).empty()) {
        return failed("a sequence header made decoder input");
    }
    auto decoded = depacketizer.push(kept);
    if (decoded.size() != 1) {
        return failed("depacketizer: one frame in, one out");
    }
    const rtmp_decoded_frame &picture = *decoded.begin();
    if (std::string_view(picture.codec) != "h264" || !picture.keyframe || picture.pts != 80 || picture.dts != 40 ||
        picture.track_id != 0 || std::vector<uint8_t>(picture.data, picture.data + picture.len) != access_unit) {
        return failed("depacketizer output");
    }
    // FlvWriter and FlvReader: metadata and the keyframe round-trip through a file.
    {
        rtmp::FlvWriter recording(argv[2]);
        recording.write_metadata(rtmp::Metadata().set("width", 320.0).set("encoder", std::string("wrapper")));
        recording.write(kept);
        recording.close();
        rtmp::FlvReader reader(argv[2]);
        auto first = reader.next();
        auto second = reader.next();
        if (!first || !first->metadata || first->metadata->view().number("width") != 320.0 || !second ||
            !second->frame || second->timestamp != 40 || second->frame->size() != kept.size() ||
            !std::equal(kept.data(), kept.data() + kept.size(), second->frame->data()) || reader.next()) {
            return failed("FLV round trip");
        }
    }
    try {
        uint8_t vp6[] = {0x14, 0, 1, 2};
        depacketizer.push(rtmp::Frame(rtmp::MediaKind::Video, 0, vp6, sizeof vp6));
        return failed("VP6 was depacketized");
    } catch (const rtmp::Error &e) {
        if (e.code() != RTMP_RESULT_UNSUPPORTED) {
            return failed(std::string("wrong code for VP6: ") + e.what());
        }
    }

    rtmp::Server server(rtmp::ServerConfig().listen("127.0.0.1:0").workers(1).tap_all(true));
    const std::string base = "rtmp://" + server.local_addr() + "/live/";
    std::optional<rtmp::LocalPublisher> relay; // touched by the dispatcher only
    server.on_event([&](rtmp::ServerRef ref, const rtmp::Event &e) {
        if (e.type() == RTMP_EVENT_TYPE_PUBLISH && e.stream() == "cpp") {
            relay.emplace(ref.publisher("live", "cpp.copy"));
        } else if (e.type() == RTMP_EVENT_TYPE_FRAME && e.stream() == "cpp" && relay) {
            relay->write(rtmp::Frame::retain(e.frame()));
        } else if (e.type() == RTMP_EVENT_TYPE_METADATA && relay) {
            relay->set_metadata(e.metadata()->get());
        } else if (e.type() == RTMP_EVENT_TYPE_UNPUBLISH && e.stream() == "cpp") {
            relay.reset();
        }
    });

    rtmp::Client player = rtmp::Client::play(base + "cpp.copy");
    player.wait_started(10s);
    rtmp::ClientOptions options;
    options.flash_ver("wrapper.cpp").connect_timeout(10s).reconnect(2, 100ms, 400ms);
    rtmp::Client publisher = rtmp::Client::publish(base + "cpp", &options);
    publisher.wait_started(10s);

    uint64_t published[2] = {0, 0};
    auto start = std::chrono::steady_clock::now();
    for (size_t at = 13; at + 11 <= flv.size();) {
        const uint8_t *tag = flv.data() + at;
        uint8_t type = tag[0] & 0x1F;
        uint32_t size = be24(tag + 1), timestamp = be24(tag + 4) | uint32_t(tag[7]) << 24;
        if (at + 11 + size > flv.size() || timestamp > 2000) {
            break;
        }
        std::this_thread::sleep_until(start + std::chrono::milliseconds(timestamp));
        if (type == 18) {
            auto metadata = rtmp::Metadata::from_flv_body(tag + 11, size);
            metadata.set("encoder", std::string("wrapper.cpp")).set("live", true);
            if (metadata.view().string("encoder") != "wrapper.cpp" || !metadata.view().number("width")) {
                return failed("metadata view");
            }
            publisher.set_metadata(metadata);
        } else if (type == 8 || type == 9) {
            rtmp::Frame frame(type == 9 ? rtmp::MediaKind::Video : rtmp::MediaKind::Audio, timestamp, tag + 11, size);
            rtmp::Frame shared = frame; // a second reference, no copy of the bytes
            if (shared.data() != frame.data()) {
                return failed("frame copies share their bytes");
            }
            if (!frame.sequence_header()) {
                published[type == 9]++;
            }
            publisher.write(shared);
        }
        at += 11 + size + 4;
    }
    publisher.close();
    auto stats = publisher.stats();

    uint64_t played[2] = {0, 0};
    bool metadata_seen = false;
    for (auto deadline = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < deadline;) {
        auto notice = player.poll(100ms);
        if (!notice) {
            continue;
        }
        if (notice->type() == RTMP_CLIENT_NOTICE_TYPE_FRAME && !notice->sequence_header()) {
            played[notice->media() == rtmp::MediaKind::Video]++;
        } else if (notice->type() == RTMP_CLIENT_NOTICE_TYPE_METADATA) {
            metadata_seen = notice->metadata()->string("encoder") == "wrapper.cpp";
        } else if (notice->type() == RTMP_CLIENT_NOTICE_TYPE_STREAM_END) {
            break;
        }
    }
    auto streams = server.stream_stats();
    rtmp::set_log_callback(RTMP_LOG_LEVEL_OFF, nullptr);

    std::printf("published video=%llu audio=%llu\n", (unsigned long long)published[1],
                (unsigned long long)published[0]);
    std::printf("played video=%llu audio=%llu\n", (unsigned long long)played[1], (unsigned long long)played[0]);
    std::printf("sent=%llu streams=%zu metadata=%d kept=%zu logs=%llu\n", (unsigned long long)stats.frames_sent,
                streams.size(), metadata_seen, kept.size(), (unsigned long long)log_records.load());
    if (played[0] != published[0] || played[1] != published[1] || !metadata_seen) {
        return failed("the player of the relayed copy missed something");
    }
    return 0;
}
