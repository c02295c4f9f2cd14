/* A full publish/play cycle through the C API, for valgrind: every handle type is made,
 * used and freed, on both the poll and the callback paths.
 *
 *   lifecycle FILE.flv RECORDING.flv
 *
 * A server (polled, live/cycle tapped) with a local publisher; a playing client (callback)
 * on live/cycle; a publishing client that sends the FLV file's tags and metadata to
 * live/cycle, paced by their timestamps (the first 3 s: a relay lets a player that falls a
 * whole GOP behind skip ahead, so an unpaced burst would not reach it whole); tapped frames retained past the poll and republished into
 * live/copy; a packager given the file's AVCDecoderConfigurationRecord; a depacketizer
 * fed every tapped frame; an FLV writer recording the tapped metadata and frames to
 * RECORDING.flv, read back with an FLV reader; a log callback.
 * Prints "published video=N audio=M", "played video=N audio=M", "decoded video=N
 * audio=M", "recorded video=N audio=M metadata=K", "stats ..." and exits 0 when the player
 * got every frame, and the depacketizer and the recording every one; 1 (with a reason)
 * otherwise.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rtmp_core.h"

#define CHECK(call)                                                                                \
    do {                                                                                           \
        rtmp_result check_rc = (call);                                                             \
        if (check_rc != RTMP_RESULT_OK) {                                                          \
            char check_msg[512];                                                                   \
            rtmp_last_error(check_msg, sizeof check_msg);                                          \
            fprintf(stderr, "%s:%d: %s -> %d: %s\n", __FILE__, __LINE__, #call, (int)check_rc,     \
                    check_msg);                                                                    \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

struct player_state {
    atomic_uint_fast64_t video, audio;
    atomic_int ended;
    atomic_int started;
};

static atomic_uint_fast64_t log_records;

static void on_log(void *userdata, rtmp_log_level level, const char *target, const char *message) {
    (void)userdata;
    (void)level;
    if (target && message) {
        atomic_fetch_add(&log_records, 1);
    }
}

static void on_notice(void *userdata, const rtmp_client_notice *notice) {
    struct player_state *st = userdata;
    switch (notice->notice_type) {
    case RTMP_CLIENT_NOTICE_TYPE_PLAY_STARTED:
        atomic_store(&st->started, 1);
        break;
    case RTMP_CLIENT_NOTICE_TYPE_FRAME:
        if (!notice->sequence_header) {
            atomic_fetch_add(notice->media == RTMP_MEDIA_KIND_VIDEO ? &st->video : &st->audio, 1);
        }
        break;
    case RTMP_CLIENT_NOTICE_TYPE_STREAM_END:
    case RTMP_CLIENT_NOTICE_TYPE_DISCONNECTED:
        atomic_store(&st->ended, 1);
        break;
    default:
        break;
    }
}

static void count_stream(void *userdata, const rtmp_stream_stats *stats) {
    size_t *publishing = userdata;
    if (stats->publishing && strlen(stats->key) > 0) {
        (*publishing)++;
    }
}

static void count_connection(void *userdata, const rtmp_connection_stats *stats) {
    uint64_t *bytes = userdata;
    *bytes += stats->bytes_in + stats->bytes_out;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void pace(double start, uint32_t timestamp) {
    double wait = start + timestamp - now_ms();
    if (wait > 0) {
        sleep_ms((long)wait);
    }
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc((size_t)size);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
        exit(1);
    }
    fclose(f);
    *len = (size_t)size;
    return data;
}

static uint32_t be24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s FILE.flv RECORDING.flv\n", argv[0]);
        return 2;
    }
    const char *recording = argv[2];
    size_t len;
    uint8_t *flv = read_file(argv[1], &len);
    CHECK(rtmp_set_log_callback(RTMP_LOG_LEVEL_DEBUG, on_log, NULL));

    rtmp_server_config *config = rtmp_server_config_new();
    CHECK(rtmp_server_config_listen(config, "127.0.0.1:0"));
    CHECK(rtmp_server_config_workers(config, 1));
    rtmp_server *server = NULL;
    CHECK(rtmp_server_start(config, &server));
    rtmp_server_config_free(config);
    char addr[64], url[128];
    rtmp_server_local_addr(server, addr, sizeof addr);

    CHECK(rtmp_server_tap(server, "live", "cycle", true));

    /* The player first, on the callback path. */
    static struct player_state player_state;
    rtmp_client *player = NULL;
    snprintf(url, sizeof url, "rtmp://%s/live/cycle", addr);
    CHECK(rtmp_client_play(url, NULL, &player));
    CHECK(rtmp_client_set_callback(player, on_notice, &player_state));
    CHECK(rtmp_client_wait_started(player, 20000));

    rtmp_client_options *options = rtmp_client_options_new();
    CHECK(rtmp_client_options_flash_ver(options, "lifecycle/1.0"));
    CHECK(rtmp_client_options_connect_timeout(options, 20000));
    CHECK(rtmp_client_options_reconnect(options, true, 2, 100, 400));
    CHECK(rtmp_client_options_congestion(options, 60000, 60000, 256u << 20));
    rtmp_client *publisher = NULL;
    CHECK(rtmp_client_publish(url, options, &publisher));
    rtmp_client_options_free(options);
    CHECK(rtmp_client_wait_started(publisher, 20000));

    /* The FLV file's tags, unpaced, and a packager fed the same AVC configuration. */
    rtmp_packager *packager = NULL;
    CHECK(rtmp_packager_new(RTMP_CODEC_H264, RTMP_TAG_FORMAT_ENHANCED, &packager));
    uint64_t published[2] = {0, 0};
    size_t at = 13;
    double start = now_ms();
    while (at + 11 <= len) {
        const uint8_t *tag = flv + at;
        uint8_t type = tag[0] & 0x1F;
        uint32_t size = be24(tag + 1), timestamp = be24(tag + 4) | (uint32_t)tag[7] << 24;
        const uint8_t *body = tag + 11;
        if (at + 11 + size > len || timestamp > 3000) {
            break;
        }
        pace(start, timestamp);
        if (type == 18) {
            rtmp_metadata *metadata = NULL;
            CHECK(rtmp_metadata_from_flv_body(body, size, &metadata));
            CHECK(rtmp_metadata_set_string(metadata, "encoder", "lifecycle.c"));
            CHECK(rtmp_client_set_metadata(publisher, metadata));
            rtmp_metadata_free(metadata);
        } else if (type == 8 || type == 9) {
            rtmp_frame *frame = NULL;
            CHECK(rtmp_frame_new(type == 9 ? RTMP_MEDIA_KIND_VIDEO : RTMP_MEDIA_KIND_AUDIO, timestamp,
                                 body, size, &frame));
            rtmp_frame_info info;
            CHECK(rtmp_frame_get_info(frame, &info));
            if (type == 9 && info.sequence_header) {
                /* The AVCDecoderConfigurationRecord after the 5-byte tag header. */
                CHECK(rtmp_packager_set_config(packager, body + 5, size - 5));
                const rtmp_packet *packets;
                size_t count;
                CHECK(rtmp_packager_push(packager, NULL, 0, 0, 0, &packets, &count));
                if (count != 1 || !packets[0].sequence_header) {
                    fprintf(stderr, "packager: expected one sequence header, got %zu\n", count);
                    return 1;
                }
            }
            if (!info.sequence_header) {
                published[type == 9]++;
            }
            /* Alternate between the copying and the sharing write. */
            if (published[type == 9] % 2) {
                CHECK(rtmp_client_write_frame(publisher, frame));
            } else {
                CHECK(rtmp_client_write(publisher, info.media, info.timestamp, info.data, info.len));
            }
            rtmp_frame_free(frame);
        }
        at += 11 + size + 4;
    }
    rtmp_packager_free(packager);
    free(flv);

    /* The server, polled: retain frames past the poll and republish them locally. */
    rtmp_publisher *copy = NULL;
    CHECK(rtmp_server_publisher_new(server, "live", "copy", &copy));
    rtmp_frame *kept[8] = {0};
    size_t nkept = 0;
    rtmp_depacketizer *depacketizer = NULL;
    CHECK(rtmp_depacketizer_new(&depacketizer));
    rtmp_flv_writer *recorder = NULL;
    CHECK(rtmp_flv_writer_new(recording, &recorder));
    uint64_t decoded[2] = {0, 0};
    size_t publishing = 0;
    uint64_t connection_bytes = 0;
    int saw_metadata = 0;
    CHECK(rtmp_client_close(publisher));
    rtmp_client_stats stats;
    CHECK(rtmp_client_get_stats(publisher, &stats));
    int unpublished = 0;
    for (int waited = 0; !(unpublished && atomic_load(&player_state.ended)) && waited < 60000; waited += 50) {
        rtmp_event ev;
        rtmp_result rc;
        while ((rc = rtmp_server_poll(server, 0, &ev)) == RTMP_RESULT_OK) {
            if (ev.event_type == RTMP_EVENT_TYPE_METADATA) {
                double width = 0;
                CHECK(rtmp_metadata_get_number(ev.metadata, "width", &width));
                CHECK(rtmp_publisher_set_metadata(copy, ev.metadata));
                if (strcmp(ev.stream, "cycle") == 0) {
                    CHECK(rtmp_flv_writer_write_metadata(recorder, 0, ev.metadata));
                }
                saw_metadata = width > 0;
            }
            unpublished |= ev.event_type == RTMP_EVENT_TYPE_UNPUBLISH && strcmp(ev.stream, "cycle") == 0;
            if (ev.event_type == RTMP_EVENT_TYPE_FRAME && strcmp(ev.stream, "cycle") == 0) {
                CHECK(rtmp_flv_writer_write(recorder, ev.frame));
                const rtmp_decoded_frame *made;
                size_t count;
                CHECK(rtmp_depacketizer_push(depacketizer, ev.frame, &made, &count));
                for (size_t i = 0; i < count; i++) {
                    if (made[i].len > 0 && made[i].track_id == 0) {
                        decoded[made[i].media == RTMP_MEDIA_KIND_VIDEO]++;
                    }
                }
                if (nkept < 8) {
                    CHECK(rtmp_frame_retain(ev.frame, &kept[nkept++]));
                }
            }
        }
        if (rc != RTMP_RESULT_TIMEOUT) {
            CHECK(rc);
        }
        sleep_ms(50);
    }
    CHECK(rtmp_flv_writer_close(recorder));
    if (nkept == 0) {
        fprintf(stderr, "the tap delivered no frame\n");
        return 1;
    }
    if (rtmp_flv_writer_write(recorder, kept[0]) != RTMP_RESULT_CLOSED) {
        fprintf(stderr, "a closed FLV writer took a frame\n");
        return 1;
    }
    rtmp_flv_writer_free(recorder);
    for (size_t i = 0; i < nkept; i++) {
        CHECK(rtmp_publisher_write_frame(copy, kept[i]));
        rtmp_frame_free(kept[i]);
    }
    CHECK(rtmp_server_stream_stats(server, count_stream, &publishing, NULL));
    CHECK(rtmp_server_connection_stats(server, count_connection, &connection_bytes, NULL));

    rtmp_client_free(publisher);
    rtmp_client_free(player);
    rtmp_publisher_free(copy);
    rtmp_depacketizer_free(depacketizer);

    /* The recording, read back: media frames, sequence headers excluded, and metadata. */
    uint64_t recorded[2] = {0, 0}, recorded_metadata = 0;
    rtmp_flv_reader *reader = NULL;
    CHECK(rtmp_flv_reader_open(recording, &reader));
    for (;;) {
        rtmp_frame *frame = NULL;
        rtmp_metadata *metadata = NULL;
        uint32_t timestamp = 0;
        rtmp_result rc = rtmp_flv_reader_next(reader, &frame, &metadata, &timestamp);
        if (rc == RTMP_RESULT_END) {
            break;
        }
        CHECK(rc);
        if (frame) {
            rtmp_frame_info info;
            CHECK(rtmp_frame_get_info(frame, &info));
            if (!info.sequence_header) {
                recorded[info.media == RTMP_MEDIA_KIND_VIDEO]++;
            }
            rtmp_frame_free(frame);
        } else {
            double width = 0;
            CHECK(rtmp_metadata_get_number(metadata, "width", &width));
            recorded_metadata += width > 0;
            rtmp_metadata_free(metadata);
        }
    }
    rtmp_flv_reader_free(reader);
    rtmp_server_free(server);
    CHECK(rtmp_set_log_callback(RTMP_LOG_LEVEL_OFF, NULL, NULL));

    uint64_t video = atomic_load(&player_state.video), audio = atomic_load(&player_state.audio);
    printf("published video=%" PRIu64 " audio=%" PRIu64 "\n", published[1], published[0]);
    printf("played video=%" PRIu64 " audio=%" PRIu64 "\n", video, audio);
    printf("decoded video=%" PRIu64 " audio=%" PRIu64 "\n", decoded[1], decoded[0]);
    printf("recorded video=%" PRIu64 " audio=%" PRIu64 " metadata=%" PRIu64 "\n", recorded[1], recorded[0],
           recorded_metadata);
    printf("stats sent=%" PRIu64 " dropped=%" PRIu64 " publishing=%zu kept=%zu connection_bytes=%" PRIu64
           " metadata=%d log_records=%" PRIu64 "\n",
           stats.frames_sent, stats.frames_dropped, publishing, nkept, connection_bytes, saw_metadata,
           (uint64_t)atomic_load(&log_records));
    if (video != published[1] || audio != published[0]) {
        fprintf(stderr, "the player missed frames\n");
        return 1;
    }
    if (decoded[1] != published[1] || decoded[0] != published[0]) {
        fprintf(stderr, "the depacketizer missed frames\n");
        return 1;
    }
    if (recorded[1] != published[1] || recorded[0] != published[0] || recorded_metadata != 1) {
        fprintf(stderr, "the recording missed frames\n");
        return 1;
    }
    return 0;
}
