/* A server driven from the application's own main loop, the way a game engine or a capture
 * application runs: every tick (16 ms) it polls the server with timeout 0, handles what
 * came, then does its own work. No callbacks, no library thread ever runs your code.
 *
 *   cc -Wall -Werror -std=c11 examples/c/poll_loop.c $(pkg-config --cflags --libs rtmp_core) -o poll_loop
 *   ./poll_loop [--listen 0.0.0.0:1935]
 *
 * What it does with the events: every stream published to APP/NAME is republished as
 * APP/NAME.copy by a local publisher, frame by frame, without copying a byte (the event's
 * frame goes straight to the publisher) and with its metadata. Play either name. Once a
 * second it prints the streams' statistics. When a publish ends it prints
 * "unpublish APP/NAME relayed video=N audio=M". Stops on SIGINT or SIGTERM.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rtmp_core.h"

#define MAX_RELAYS 32

struct relay {
    char key[256]; /* APP/NAME of the source */
    rtmp_publisher *copy;
    uint64_t video, audio;
};

static struct relay relays[MAX_RELAYS];
static volatile sig_atomic_t stopping;

static void on_signal(int signal_number) {
    (void)signal_number;
    stopping = 1;
}

static struct relay *find(const char *app, const char *stream) {
    char key[256];
    snprintf(key, sizeof key, "%s/%s", app, stream);
    for (int i = 0; i < MAX_RELAYS; i++) {
        if (relays[i].copy && strcmp(relays[i].key, key) == 0) {
            return &relays[i];
        }
    }
    return NULL;
}

static int is_copy(const char *stream) {
    size_t n = strlen(stream);
    return n >= 5 && strcmp(stream + n - 5, ".copy") == 0;
}

static void start_relay(rtmp_server *server, const char *app, const char *stream) {
    for (int i = 0; i < MAX_RELAYS; i++) {
        if (!relays[i].copy) {
            char copy_name[256];
            snprintf(copy_name, sizeof copy_name, "%s.copy", stream);
            if (rtmp_server_publisher_new(server, app, copy_name, &relays[i].copy) != RTMP_RESULT_OK) {
                char message[256];
                rtmp_last_error(message, sizeof message);
                fprintf(stderr, "cannot relay %s/%s: %s\n", app, stream, message);
                return;
            }
            snprintf(relays[i].key, sizeof relays[i].key, "%s/%s", app, stream);
            relays[i].video = relays[i].audio = 0;
            printf("relaying %s/%s as %s/%s\n", app, stream, app, copy_name);
            return;
        }
    }
}

static void handle(rtmp_server *server, const rtmp_event *ev) {
    struct relay *relay;
    switch (ev->event_type) {
    case RTMP_EVENT_TYPE_PUBLISH:
        printf("publish %s/%s\n", ev->app, ev->stream);
        if (!is_copy(ev->stream)) {
            start_relay(server, ev->app, ev->stream);
        }
        break;
    case RTMP_EVENT_TYPE_FRAME:
        relay = find(ev->app, ev->stream);
        if (relay) {
            /* The event lends its frame; the publisher takes a reference, not a copy. */
            rtmp_publisher_write_frame(relay->copy, ev->frame);
            if (!ev->sequence_header) {
                *(ev->media == RTMP_MEDIA_KIND_VIDEO ? &relay->video : &relay->audio) += 1;
            }
        }
        break;
    case RTMP_EVENT_TYPE_METADATA:
        relay = find(ev->app, ev->stream);
        if (relay) {
            rtmp_publisher_set_metadata(relay->copy, ev->metadata);
        }
        break;
    case RTMP_EVENT_TYPE_UNPUBLISH:
        relay = find(ev->app, ev->stream);
        if (relay) {
            printf("unpublish %s relayed video=%" PRIu64 " audio=%" PRIu64 "\n", relay->key,
                   relay->video, relay->audio);
            rtmp_publisher_free(relay->copy); /* players of the copy see the stream end */
            relay->copy = NULL;
        }
        break;
    case RTMP_EVENT_TYPE_PLAY:
        printf("play %s/%s\n", ev->app, ev->stream);
        break;
    default:
        break;
    }
}

static void print_stream(void *userdata, const rtmp_stream_stats *stats) {
    (void)userdata;
    if (stats->publishing) {
        printf("  %s: %" PRIu64 " frames in, %" PRIu64 " players, %.0f kbit/s\n", stats->key,
               stats->frames_in, stats->players, stats->bitrate_bps / 1000);
    }
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    const char *listen = "0.0.0.0:1935";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--listen ADDR]\n", argv[0]);
            return 2;
        }
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    rtmp_server_config *config = rtmp_server_config_new();
    rtmp_server *server = NULL;
    int rc = rtmp_server_config_listen(config, listen);
    /* Tap every stream from its first frame, so no sequence header is missed. */
    rtmp_server_config_tap_all(config, true);
    if (rc == RTMP_RESULT_OK) {
        rc = rtmp_server_start(config, &server);
    }
    rtmp_server_config_free(config);
    if (rc != RTMP_RESULT_OK) {
        char message[512];
        rtmp_last_error(message, sizeof message);
        fprintf(stderr, "start: %s\n", message);
        return 1;
    }
    char addr[64];
    rtmp_server_local_addr(server, addr, sizeof addr);
    printf("listening on rtmp://%s\n", addr);
    fflush(stdout);

    double next_stats = now_ms() + 1000;
    while (!stopping) {
        double tick = now_ms();
        rtmp_event ev;
        while (rtmp_server_poll(server, 0, &ev) == RTMP_RESULT_OK) {
            handle(server, &ev);
        }
        /* ... the application's own work for this tick goes here ... */
        if (tick >= next_stats) {
            size_t streams = 0;
            rtmp_server_stream_stats(server, print_stream, NULL, &streams);
            next_stats += 1000;
        }
        fflush(stdout);
        double wait = tick + 16 - now_ms();
        if (wait > 0) {
            struct timespec ts = {0, (long)(wait * 1e6)};
            nanosleep(&ts, NULL);
        }
    }
    for (int i = 0; i < MAX_RELAYS; i++) {
        rtmp_publisher_free(relays[i].copy);
    }
    rtmp_server_free(server);
    printf("stopped\n");
    return 0;
}
