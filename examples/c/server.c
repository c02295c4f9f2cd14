/* A relay server in C: publish to and play from rtmp://HOST/APP/STREAM.
 *
 *   cc -Wall -Werror -std=c11 -Iinclude examples/c/server.c -Ltarget/release -lrtmp_core -o server
 *   ./server [--listen 0.0.0.0:1935]
 *
 * Prints one line per event. Every stream is tapped from its first frame, and when its publish ends
 * the line is "unpublish APP/STREAM video=N audio=M": the media frames the callback saw,
 * sequence headers excluded. Stops on SIGINT or SIGTERM.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "rtmp_core.h"

#define MAX_STREAMS 64

struct stream_count {
    char key[256];
    uint64_t video;
    uint64_t audio;
    int used;
};

/* Touched only by the dispatcher thread that runs on_event. */
struct state {
    rtmp_server *server;
    struct stream_count streams[MAX_STREAMS];
};

static struct stream_count *find(struct state *st, const char *app, const char *stream, int create) {
    char key[256];
    snprintf(key, sizeof key, "%s/%s", app, stream);
    for (int i = 0; i < MAX_STREAMS; i++) {
        if (st->streams[i].used && strcmp(st->streams[i].key, key) == 0) {
            return &st->streams[i];
        }
    }
    if (!create) {
        return NULL;
    }
    for (int i = 0; i < MAX_STREAMS; i++) {
        if (!st->streams[i].used) {
            memset(&st->streams[i], 0, sizeof st->streams[i]);
            st->streams[i].used = 1;
            snprintf(st->streams[i].key, sizeof st->streams[i].key, "%s", key);
            return &st->streams[i];
        }
    }
    return NULL;
}

static void on_event(void *userdata, const rtmp_event *ev) {
    struct state *st = userdata;
    struct stream_count *count;
    switch (ev->event_type) {
    case RTMP_EVENT_TYPE_CONNECT:
        printf("connect %" PRIu64 " %s app=%s\n", ev->conn, ev->detail, ev->app);
        break;
    case RTMP_EVENT_TYPE_PUBLISH:
        printf("publish %" PRIu64 " %s/%s\n", ev->conn, ev->app, ev->stream);
        find(st, ev->app, ev->stream, 1);
        break;
    case RTMP_EVENT_TYPE_PLAY:
        printf("play %" PRIu64 " %s/%s\n", ev->conn, ev->app, ev->stream);
        break;
    case RTMP_EVENT_TYPE_FRAME:
        count = find(st, ev->app, ev->stream, 0);
        if (count && !ev->sequence_header) {
            if (ev->media == RTMP_MEDIA_KIND_VIDEO) {
                count->video++;
            } else {
                count->audio++;
            }
        }
        break;
    case RTMP_EVENT_TYPE_UNPUBLISH:
        count = find(st, ev->app, ev->stream, 0);
        printf("unpublish %s/%s video=%" PRIu64 " audio=%" PRIu64 "\n", ev->app, ev->stream,
               count ? count->video : 0, count ? count->audio : 0);
        if (count) {
            count->used = 0;
        }
        break;
    case RTMP_EVENT_TYPE_PLAY_STOP:
        printf("stop %" PRIu64 " %s/%s\n", ev->conn, ev->app, ev->stream);
        break;
    case RTMP_EVENT_TYPE_METADATA:
        printf("metadata %s/%s\n", ev->app, ev->stream);
        break;
    case RTMP_EVENT_TYPE_DISCONNECT:
        printf("disconnect %" PRIu64 " %s\n", ev->conn, ev->detail);
        break;
    }
    fflush(stdout);
}

static int fail(const char *what) {
    char message[512];
    rtmp_last_error(message, sizeof message);
    fprintf(stderr, "%s: %s\n", what, message);
    return 1;
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
    /* Block the stop signals before the library starts threads, then wait for them here. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, NULL);

    static struct state st;
    rtmp_server_config *config = rtmp_server_config_new();
    if (rtmp_server_config_listen(config, listen) != RTMP_RESULT_OK) {
        return fail("listen address");
    }
    rtmp_server_config_tap_all(config, true);
    int rc = rtmp_server_start(config, &st.server);
    rtmp_server_config_free(config);
    if (rc != RTMP_RESULT_OK) {
        return fail("start");
    }
    char addr[64];
    rtmp_server_local_addr(st.server, addr, sizeof addr);
    printf("listening on rtmp://%s (rtmp_core %s)\n", addr, rtmp_version());
    fflush(stdout);
    if (rtmp_server_set_callback(st.server, on_event, &st) != RTMP_RESULT_OK) {
        return fail("callback");
    }
    int signal_number;
    sigwait(&stop, &signal_number);
    rtmp_server_free(st.server);
    printf("stopped\n");
    return 0;
}
