/* Publish to rtmp://HOST/APP/STREAM from C, paced in real time by the media timestamps:
 * either an FLV file's tags as they are, or an encoder's raw output (H.264 Annex-B and/or
 * AAC ADTS), which the library packages into FLV bodies.
 *
 *   cc -Wall -Werror -std=c11 examples/c/publish.c $(pkg-config --cflags --libs rtmp_core) -o publish
 *   ./publish FILE.flv rtmp://HOST/APP/STREAM
 *   ./publish --h264 video.h264 [--fps 30] [--aac audio.aac] rtmp://HOST/APP/STREAM
 *
 * Raw H.264 has no timestamps: access units go out at --fps in file order, so encode it
 * without B-frames (x264: -bf 0). Prints "published video=N audio=M" at the end: the
 * frames written, sequence headers excluded. Exits non-zero if the client fails.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rtmp_core.h"

static int fail(const char *what) {
    char message[512];
    rtmp_last_error(message, sizeof message);
    fprintf(stderr, "publish: %s: %s\n", what, message);
    return 1;
}

/* The whole file in memory (media files of a test or a demo are small). */
static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
    if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *len = (size_t)size;
    return data;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Sleeps until `timestamp` ms after `start`. */
static void pace(double start, int64_t timestamp) {
    double wait = start + (double)timestamp - now_ms();
    if (wait > 0) {
        struct timespec ts = {(time_t)(wait / 1000), (long)((wait - (time_t)(wait / 1000) * 1000) * 1e6)};
        nanosleep(&ts, NULL);
    }
}

/* Returns non-zero (after printing why) once the client stopped for good. */
static int client_stopped(rtmp_client *client) {
    rtmp_client_notice notice;
    while (rtmp_client_poll(client, 0, &notice) == RTMP_RESULT_OK) {
        if (notice.notice_type == RTMP_CLIENT_NOTICE_TYPE_DISCONNECTED) {
            fprintf(stderr, "publish: disconnected: %s\n", notice.text);
            return 1;
        }
        if (notice.notice_type == RTMP_CLIENT_NOTICE_TYPE_RECONNECTING) {
            fprintf(stderr, "publish: reconnecting (%s)\n", notice.text);
        }
    }
    return 0;
}

static uint32_t be24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }

/* An FLV file's tags, as they are. */
static int publish_flv(rtmp_client *client, const uint8_t *data, size_t len, uint64_t counts[2]) {
    if (len < 13 || memcmp(data, "FLV", 3) != 0) {
        fprintf(stderr, "publish: not an FLV file\n");
        return 1;
    }
    size_t at = ((size_t)data[5] << 24 | (size_t)data[6] << 16 | (size_t)data[7] << 8 | data[8]) + 4;
    double start = now_ms();
    while (at + 11 <= len) {
        const uint8_t *tag = data + at;
        uint8_t type = tag[0] & 0x1F;
        uint32_t size = be24(tag + 1);
        uint32_t timestamp = be24(tag + 4) | (uint32_t)tag[7] << 24;
        const uint8_t *body = tag + 11;
        if (at + 11 + size > len) {
            break;
        }
        pace(start, timestamp);
        if (type == 18) {
            rtmp_metadata *metadata;
            if (rtmp_metadata_from_flv_body(body, size, &metadata) == RTMP_RESULT_OK) {
                rtmp_client_set_metadata(client, metadata);
                rtmp_metadata_free(metadata);
            }
        } else if ((type == 8 || type == 9) && size > 0) {
            rtmp_media_kind kind = type == 8 ? RTMP_MEDIA_KIND_AUDIO : RTMP_MEDIA_KIND_VIDEO;
            if (rtmp_client_write(client, kind, timestamp, body, size) != RTMP_RESULT_OK) {
                return fail("write");
            }
            /* Sequence headers: AVC packet type 0, AAC packet type 0. */
            int header = size > 1 && body[1] == 0 && ((type == 9 && (body[0] & 0x0F) == 7) ||
                                                     (type == 8 && (body[0] >> 4) == 10));
            if (!header) {
                counts[type == 9]++;
            }
        }
        if (client_stopped(client)) {
            return 1;
        }
        at += 11 + size + 4;
    }
    return 0;
}

/* The next NAL unit at or after `at`: its start (after the start code) and its end. */
static int next_nal(const uint8_t *d, size_t len, size_t at, size_t *start, size_t *end) {
    size_t i = at;
    while (i + 3 <= len && !(d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1)) {
        i++;
    }
    if (i + 3 > len) {
        return 0;
    }
    *start = i + 3;
    size_t j = *start;
    while (j + 3 <= len && !(d[j] == 0 && d[j + 1] == 0 && (d[j + 2] == 1 || (d[j + 2] == 0 && j + 3 < len && d[j + 3] == 1)))) {
        j++;
    }
    *end = j + 3 <= len ? j : len;
    return 1;
}

/* Splits Annex-B H.264 into access units: a new one starts at an AUD, SPS, PPS or SEI
 * after picture data, or at a slice with first_mb_in_slice 0 after picture data. Returns
 * the end of the access unit starting at `at` (0 when there is none). */
static size_t access_unit_end(const uint8_t *d, size_t len, size_t at) {
    size_t start, end, pos = at;
    int seen_slice = 0;
    while (next_nal(d, len, pos, &start, &end)) {
        uint8_t type = d[start] & 0x1F;
        int slice = type == 1 || type == 5;
        int first_mb_zero = slice && start + 1 < len && (d[start + 1] & 0x80);
        if (seen_slice && ((type >= 6 && type <= 9) || first_mb_zero)) {
            /* The next unit starts at this NAL's start code (3 or 4 bytes). */
            size_t code = start - 3;
            return code > at && d[code - 1] == 0 ? code - 1 : code;
        }
        seen_slice |= slice;
        pos = end;
    }
    return seen_slice ? len : 0;
}

/* An ADTS frame's length and sample rate (0 when `d` holds no whole frame). */
static size_t adts_frame(const uint8_t *d, size_t len, uint32_t *rate) {
    static const uint32_t rates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                     22050, 16000, 12000, 11025, 8000,  7350};
    if (len < 7 || d[0] != 0xFF || (d[1] & 0xF0) != 0xF0) {
        return 0;
    }
    size_t size = ((size_t)(d[3] & 0x03) << 11) | ((size_t)d[4] << 3) | (d[5] >> 5);
    unsigned index = (d[2] >> 2) & 0x0F;
    *rate = index < 13 ? rates[index] : 44100;
    return size >= 7 && size <= len ? size : 0;
}

/* Raw encoder output: H.264 access units at `fps`, AAC frames at their sample rate,
 * interleaved by timestamp. */
static int publish_raw(rtmp_client *client, const uint8_t *h264, size_t h264_len, double fps,
                       const uint8_t *aac, size_t aac_len, uint64_t counts[2]) {
    size_t v_at = 0, a_at = 0;
    uint64_t v_index = 0, a_samples = 0;
    uint32_t rate = 44100;
    double start = now_ms();
    for (;;) {
        size_t v_end = h264 ? access_unit_end(h264, h264_len, v_at) : 0;
        size_t a_size = aac ? adts_frame(aac + a_at, aac_len - a_at, &rate) : 0;
        if (!v_end && !a_size) {
            return 0;
        }
        int64_t v_time = (int64_t)(v_index * 1000 / fps);
        int64_t a_time = (int64_t)(a_samples * 1000 / rate);
        if (v_end && (!a_size || v_time <= a_time)) {
            pace(start, v_time);
            if (rtmp_client_write_h264(client, h264 + v_at, v_end - v_at, v_time, v_time) != RTMP_RESULT_OK) {
                return fail("write H.264");
            }
            v_at = v_end;
            v_index++;
            counts[1]++;
        } else {
            pace(start, a_time);
            if (rtmp_client_write_aac_adts(client, aac + a_at, a_size, a_time) != RTMP_RESULT_OK) {
                return fail("write AAC");
            }
            a_at += a_size;
            a_samples += 1024;
            counts[0]++;
        }
        if (client_stopped(client)) {
            return 1;
        }
    }
}

int main(int argc, char **argv) {
    const char *flv = NULL, *h264_path = NULL, *aac_path = NULL, *url = NULL;
    double fps = 30;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--h264") == 0 && i + 1 < argc) {
            h264_path = argv[++i];
        } else if (strcmp(argv[i], "--aac") == 0 && i + 1 < argc) {
            aac_path = argv[++i];
        } else if (strcmp(argv[i], "--fps") == 0 && i + 1 < argc) {
            fps = atof(argv[++i]);
        } else if (!flv && !h264_path && !aac_path && strncmp(argv[i], "rtmp", 4) != 0) {
            flv = argv[i];
        } else {
            url = argv[i];
        }
    }
    if (!url || (!flv && !h264_path && !aac_path) || fps <= 0) {
        fprintf(stderr, "usage: %s FILE.flv URL\n       %s --h264 FILE [--fps N] [--aac FILE] URL\n",
                argv[0], argv[0]);
        return 2;
    }
    size_t flv_len = 0, h264_len = 0, aac_len = 0;
    uint8_t *flv_data = flv ? read_file(flv, &flv_len) : NULL;
    uint8_t *h264 = h264_path ? read_file(h264_path, &h264_len) : NULL;
    uint8_t *aac = aac_path ? read_file(aac_path, &aac_len) : NULL;
    if ((flv && !flv_data) || (h264_path && !h264) || (aac_path && !aac)) {
        return 1;
    }

    rtmp_client_options *options = rtmp_client_options_new();
    rtmp_client_options_flash_ver(options, "FMLE/3.0 (compatible; rtmp_core publish.c)");
    rtmp_client *client = NULL;
    int rc = rtmp_client_publish(url, options, &client);
    rtmp_client_options_free(options);
    if (rc != RTMP_RESULT_OK) {
        return fail("publish");
    }
    int status = 1;
    uint64_t counts[2] = {0, 0}; /* audio, video */
    if (rtmp_client_wait_started(client, 10000) != RTMP_RESULT_OK) {
        fail("start");
    } else {
        printf("publishing to %s (rtmp_core %s)\n", url, rtmp_version());
        fflush(stdout);
        status = flv_data ? publish_flv(client, flv_data, flv_len, counts)
                          : publish_raw(client, h264, h264_len, fps, aac, aac_len, counts);
    }
    rtmp_client_close(client); /* sends what is queued, then unpublishes */
    rtmp_client_stats stats;
    rtmp_client_get_stats(client, &stats);
    rtmp_client_free(client);
    printf("published video=%" PRIu64 " audio=%" PRIu64 " (sent %" PRIu64 " frames, %" PRIu64
           " dropped, %" PRIu64 " bytes)\n",
           counts[1], counts[0], stats.frames_sent, stats.frames_dropped, stats.bytes_sent);
    free(flv_data);
    free(h264);
    free(aac);
    return status;
}
