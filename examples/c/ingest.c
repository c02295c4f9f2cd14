/* Ingest in C: an embedded server that hands every published stream to decoders, as a
 * capture app or game engine receiving OBS or ffmpeg would.
 *
 *   cc -Wall -Wextra -Werror -std=c11 -Iinclude examples/c/ingest.c -Ltarget/release -lrtmp_core -o ingest
 *   ./ingest [--listen 0.0.0.0:1935] [--out DIR]
 *
 * Publish with `ffmpeg -re -i input.mp4 -c copy -f flv rtmp://127.0.0.1/live/key` (or OBS).
 * Each frame goes through a depacketizer, and what a decoder takes is written to
 * DIR/APP-STREAM.EXT (DIR defaults to "."; characters other than letters, digits and '_'
 * in APP and STREAM become '_'): Annex-B .h264 / .hevc, AV1 .obu, ADTS .aac, .mp3. Track
 * N > 0 of an E-RTMP v2 multitrack stream (OBS's and ffmpeg 9's extra renditions) goes to
 * DIR/APP-STREAM-tN.EXT. Decoder input of other codecs (VP8/VP9, Opus) needs a container,
 * and frames of codecs without a depacketizer cannot be unpacked: both are skipped. When a
 * publish ends the line is "unpublish APP/STREAM video=N audio=M skipped=K", counting the
 * frames of all tracks written and those skipped. Players can still play the stream
 * meanwhile. Stops on SIGINT or SIGTERM.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "rtmp_core.h"

#define MAX_STREAMS 64
#define MAX_OUTPUTS 8

/* One output file: a media kind's track. `file` is NULL when it cannot be written. */
struct output {
    rtmp_media_kind media;
    uint8_t track_id;
    char path[1024];
    FILE *file;
};

struct ingest {
    char app[128];
    char stream[128];
    rtmp_depacketizer *depacketizer;
    struct output outputs[MAX_OUTPUTS];
    int n_outputs;
    int said_full;
    uint64_t video_frames;
    uint64_t audio_frames;
    uint64_t skipped;
    int used;
};

/* Touched only by the dispatcher thread that runs on_event. */
struct state {
    const char *out_dir;
    struct ingest streams[MAX_STREAMS];
};

static struct ingest *find(struct state *st, const char *app, const char *stream) {
    for (int i = 0; i < MAX_STREAMS; i++) {
        struct ingest *in = &st->streams[i];
        if (in->used && strcmp(in->app, app) == 0 && strcmp(in->stream, stream) == 0) {
            return in;
        }
    }
    return NULL;
}

static struct ingest *start(struct state *st, const char *app, const char *stream) {
    for (int i = 0; i < MAX_STREAMS; i++) {
        struct ingest *in = &st->streams[i];
        if (!in->used) {
            memset(in, 0, sizeof *in);
            if (rtmp_depacketizer_new(&in->depacketizer) != RTMP_RESULT_OK) {
                return NULL;
            }
            in->used = 1;
            snprintf(in->app, sizeof in->app, "%s", app);
            snprintf(in->stream, sizeof in->stream, "%s", stream);
            return in;
        }
    }
    return NULL;
}

static void finish(struct ingest *in) {
    for (int i = 0; i < in->n_outputs; i++) {
        if (in->outputs[i].file) {
            fclose(in->outputs[i].file);
        }
    }
    rtmp_depacketizer_free(in->depacketizer);
    in->used = 0;
}

/* The file extension for a codec's elementary stream, or NULL if it needs a container. */
static const char *extension(const char *codec) {
    static const char *const known[][2] = {
        {"h264", "h264"}, {"hevc", "hevc"}, {"av1", "obu"}, {"aac", "aac"}, {"mp3", "mp3"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(codec, known[i][0]) == 0) {
            return known[i][1];
        }
    }
    return NULL;
}

/* Appends `name` to `out` with every character but [A-Za-z0-9_] made '_', so that names
 * cannot climb directories or run into the '-' and '.' that join the parts. */
static void append_safe(char *out, size_t size, const char *name) {
    size_t at = strlen(out);
    for (; *name && at + 1 < size; name++) {
        char c = *name;
        int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        out[at++] = keep ? c : '_';
    }
    out[at] = '\0';
}

/* Whether another stream's track writes `path` (two names that differ only in characters
 * append_safe replaces). */
static int path_taken(const struct state *st, const char *path) {
    for (int i = 0; i < MAX_STREAMS; i++) {
        const struct ingest *in = &st->streams[i];
        for (int j = 0; in->used && j < in->n_outputs; j++) {
            if (in->outputs[j].file && strcmp(in->outputs[j].path, path) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

/* The output of a decoded frame's track, made on its first frame; its `file` is NULL
 * when the codec needs a container or the file cannot be opened. NULL when full. */
static struct output *output_for(struct state *st, struct ingest *in, const rtmp_decoded_frame *d) {
    for (int i = 0; i < in->n_outputs; i++) {
        if (in->outputs[i].media == d->media && in->outputs[i].track_id == d->track_id) {
            return &in->outputs[i];
        }
    }
    if (in->n_outputs == MAX_OUTPUTS) {
        if (!in->said_full) {
            fprintf(stderr, "%s/%s: more than %d tracks, the rest are skipped\n", in->app, in->stream,
                    MAX_OUTPUTS);
            in->said_full = 1;
        }
        return NULL;
    }
    struct output *out = &in->outputs[in->n_outputs++];
    memset(out, 0, sizeof *out);
    out->media = d->media;
    out->track_id = d->track_id;
    const char *ext = extension(d->codec);
    if (!ext) {
        fprintf(stderr, "%s/%s: %s needs a container, skipped\n", in->app, in->stream, d->codec);
        return out;
    }
    char name[300] = "";
    append_safe(name, sizeof name, in->app);
    snprintf(name + strlen(name), sizeof name - strlen(name), "-");
    append_safe(name, sizeof name, in->stream);
    if (d->track_id != 0) {
        snprintf(name + strlen(name), sizeof name - strlen(name), "-t%u", (unsigned)d->track_id);
    }
    snprintf(out->path, sizeof out->path, "%s/%s.%s", st->out_dir, name, ext);
    if (path_taken(st, out->path)) {
        fprintf(stderr, "%s: another stream writes it, skipped\n", out->path);
        return out;
    }
    out->file = fopen(out->path, "wb");
    if (out->file) {
        printf("writing %s\n", out->path);
    } else {
        perror(out->path);
    }
    return out;
}

static void on_frame(struct state *st, struct ingest *in, const rtmp_event *ev) {
    const rtmp_decoded_frame *decoded;
    size_t count;
    int rc = rtmp_depacketizer_push(in->depacketizer, ev->frame, &decoded, &count);
    if (rc != RTMP_RESULT_OK) {
        /* Unsupported codecs and media before its sequence header are skipped; so is a
         * frame that does not parse, but that one is worth a line. */
        if (rc == RTMP_RESULT_INVALID_ARGUMENT) {
            char message[256];
            rtmp_last_error(message, sizeof message);
            fprintf(stderr, "%s/%s: %s\n", in->app, in->stream, message);
        }
        in->skipped++;
        return;
    }
    /* count is 0 for a sequence header (the depacketizer keeps it), one per track else. */
    for (size_t i = 0; i < count; i++) {
        const rtmp_decoded_frame *d = &decoded[i];
        if (d->len == 0) {
            continue; /* nothing for a decoder */
        }
        struct output *out = output_for(st, in, d);
        if (!out || !out->file || fwrite(d->data, 1, d->len, out->file) != d->len) {
            in->skipped++;
        } else if (d->media == RTMP_MEDIA_KIND_VIDEO) {
            in->video_frames++;
        } else {
            in->audio_frames++;
        }
    }
}

static void on_event(void *userdata, const rtmp_event *ev) {
    struct state *st = userdata;
    struct ingest *in;
    switch (ev->event_type) {
    case RTMP_EVENT_TYPE_PUBLISH:
        printf("publish %" PRIu64 " %s/%s\n", ev->conn, ev->app, ev->stream);
        if (!start(st, ev->app, ev->stream)) {
            fprintf(stderr, "%s/%s: no room, not ingested\n", ev->app, ev->stream);
        }
        break;
    case RTMP_EVENT_TYPE_FRAME:
        in = find(st, ev->app, ev->stream);
        if (in) {
            on_frame(st, in, ev);
        }
        break;
    case RTMP_EVENT_TYPE_UNPUBLISH:
        in = find(st, ev->app, ev->stream);
        if (in) {
            printf("unpublish %s/%s video=%" PRIu64 " audio=%" PRIu64 " skipped=%" PRIu64 "\n",
                   ev->app, ev->stream, in->video_frames, in->audio_frames, in->skipped);
            finish(in);
        }
        break;
    default:
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
    static struct state st = {.out_dir = "."};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            st.out_dir = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--listen ADDR] [--out DIR]\n", argv[0]);
            return 2;
        }
    }
    /* Block the stop signals before the library starts threads, then wait for them here. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, NULL);

    rtmp_server_config *config = rtmp_server_config_new();
    if (rtmp_server_config_listen(config, listen) != RTMP_RESULT_OK) {
        rtmp_server_config_free(config);
        return fail("listen address");
    }
    rtmp_server_config_tap_all(config, true);
    rtmp_server *server;
    int rc = rtmp_server_start(config, &server);
    rtmp_server_config_free(config);
    if (rc != RTMP_RESULT_OK) {
        return fail("start");
    }
    char addr[64];
    rtmp_server_local_addr(server, addr, sizeof addr);
    printf("listening on rtmp://%s, writing to %s\n", addr, st.out_dir);
    fflush(stdout);
    if (rtmp_server_set_callback(server, on_event, &st) != RTMP_RESULT_OK) {
        rc = fail("callback");
        rtmp_server_free(server);
        return rc;
    }
    int signal_number;
    sigwait(&stop, &signal_number);
    /* Freeing the server joins its dispatcher: no callback runs after this. */
    rtmp_server_free(server);
    for (int i = 0; i < MAX_STREAMS; i++) {
        if (st.streams[i].used) {
            finish(&st.streams[i]);
        }
    }
    printf("stopped\n");
    return 0;
}
