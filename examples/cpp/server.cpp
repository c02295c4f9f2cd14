// A relay server in C++17 with the header-only wrapper bindings/cpp/rtmp_core.hpp:
// publish to and play from rtmp://HOST/APP/STREAM.
//
//   c++ -Wall -Werror -std=c++17 examples/cpp/server.cpp $(pkg-config --cflags --libs rtmp_core) -o server
//   ./server [--listen 0.0.0.0:1935]
//
// Prints one line per event, like examples/c/server.c: every stream is tapped from its first
// frame, and when its publish ends the line is "unpublish APP/STREAM video=N audio=M" (media
// frames, sequence headers excluded). Stops on SIGINT or SIGTERM.
#include <signal.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <string>

#include "rtmp_core.hpp"

namespace {

struct Counts {
    uint64_t video = 0;
    uint64_t audio = 0;
};

std::string key_of(const rtmp::Event &e) { return std::string(e.app()) + "/" + std::string(e.stream()); }

} // namespace

int main(int argc, char **argv) {
    std::string listen = "0.0.0.0:1935";
    for (int i = 1; i < argc; i++) {
        if (std::strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else {
            std::cerr << "usage: " << argv[0] << " [--listen ADDR]\n";
            return 2;
        }
    }
    // Block the stop signals before the library starts threads, then wait for them here.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);

    try {
        rtmp::Server server(rtmp::ServerConfig().listen(listen).tap_all(true));
        std::printf("listening on rtmp://%s (rtmp_core %s)\n", server.local_addr().c_str(), rtmp_version());
        std::fflush(stdout);

        // Touched only by the dispatcher thread that runs the callback.
        std::map<std::string, Counts> streams;
        server.on_event([&streams](rtmp::ServerRef, const rtmp::Event &e) {
            switch (e.type()) {
            case RTMP_EVENT_TYPE_CONNECT:
                std::printf("connect %" PRIu64 " %s app=%s\n", e.conn(), std::string(e.detail()).c_str(),
                            std::string(e.app()).c_str());
                break;
            case RTMP_EVENT_TYPE_PUBLISH:
                std::printf("publish %" PRIu64 " %s\n", e.conn(), key_of(e).c_str());
                streams[key_of(e)] = Counts{};
                break;
            case RTMP_EVENT_TYPE_PLAY:
                std::printf("play %" PRIu64 " %s\n", e.conn(), key_of(e).c_str());
                break;
            case RTMP_EVENT_TYPE_FRAME: {
                auto found = streams.find(key_of(e));
                if (found != streams.end() && !e.sequence_header()) {
                    (e.media() == rtmp::MediaKind::Video ? found->second.video : found->second.audio)++;
                }
                break;
            }
            case RTMP_EVENT_TYPE_UNPUBLISH: {
                Counts counts;
                auto found = streams.find(key_of(e));
                if (found != streams.end()) {
                    counts = found->second;
                    streams.erase(found);
                }
                std::printf("unpublish %s video=%" PRIu64 " audio=%" PRIu64 "\n", key_of(e).c_str(), counts.video,
                            counts.audio);
                break;
            }
            case RTMP_EVENT_TYPE_PLAY_STOP:
                std::printf("stop %" PRIu64 " %s\n", e.conn(), key_of(e).c_str());
                break;
            case RTMP_EVENT_TYPE_METADATA: {
                auto metadata = e.metadata();
                auto width = metadata ? metadata->number("width") : std::nullopt;
                std::printf("metadata %s width=%.0f\n", key_of(e).c_str(), width.value_or(0));
                break;
            }
            case RTMP_EVENT_TYPE_DISCONNECT:
                std::printf("disconnect %" PRIu64 " %s\n", e.conn(), std::string(e.detail()).c_str());
                break;
            }
            std::fflush(stdout);
        });
        int signal_number = 0;
        sigwait(&stop, &signal_number);
    } catch (const rtmp::Error &e) {
        std::cerr << "server: " << e.what() << " (code " << e.code() << ")\n";
        return 1;
    }
    // The server was destroyed at the end of the try block: shut down, threads joined.
    std::printf("stopped\n");
    return 0;
}
