// rtmp_core for C++17: header-only RAII classes over the C API in rtmp_core.h.
//
//   #include "rtmp_core.hpp"     // c++ -std=c++17 ... $(pkg-config --cflags --libs rtmp_core)
//
// - Handles (Server, Client, LocalPublisher, Packager, Depacketizer, FlvWriter, FlvReader,
//   ServerConfig, ClientOptions, Metadata) are move-only and release what they own in
//   their destructor. Frame is a
//   reference-counted frame: copies share the bytes.
// - Errors are exceptions: rtmp::Error carries the rtmp_result code() and the library's
//   message. Destructors never throw.
// - Callbacks are std::function and run on a library thread (see rtmp_core.h for which
//   calls are allowed there). An exception escaping a callback cannot cross the C library:
//   it is caught, reported on stderr and dropped.
// - Event, Notice and Packet (and the string_views and pointers they hold) are borrowed:
//   valid during the callback, or until the next poll / push. Frame::retain keeps a frame.
#ifndef RTMP_CORE_HPP
#define RTMP_CORE_HPP

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rtmp_core.h"

namespace rtmp {

/// A failed call: the result code and the library's message.
class Error : public std::runtime_error {
public:
    Error(rtmp_result code, const std::string &message) : std::runtime_error(message), code_(code) {}
    rtmp_result code() const noexcept { return code_; }

private:
    rtmp_result code_;
};

namespace detail {

inline std::string last_error() {
    std::string text(rtmp_last_error(nullptr, 0), '\0');
    rtmp_last_error(text.data(), text.size());
    text.resize(text.empty() ? 0 : text.size() - 1);
    return text;
}

inline void check(rtmp_result result, const char *what) {
    if (result != RTMP_RESULT_OK) {
        throw Error(result, std::string(what) + ": " + last_error());
    }
}

inline std::string_view view(const char *s) { return s ? std::string_view(s) : std::string_view(); }

/// Runs a user callback, keeping exceptions on this side of the C library.
/// The callback holder whose callback runs on this thread, if any.
inline thread_local const void *running_callback = nullptr;

/// Destroying a Server or Client from inside its own callback would free the callback
/// while it runs (the library refuses to free the handle there): a programming error,
/// stopped here with a message rather than left to corrupt memory.
inline void refuse_self_destruction(const void *holder, const char *what) noexcept {
    if (holder != nullptr && running_callback == holder) {
        std::fprintf(stderr, "rtmp: %s destroyed inside its own callback; close it there and "
                             "destroy it from another thread\n", what);
        std::terminate();
    }
}

template <typename F> void guarded(const char *what, const void *holder, F &&body) noexcept {
    const void *outer = running_callback;
    running_callback = holder;
    try {
        body();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "rtmp: exception in %s callback: %s\n", what, e.what());
    } catch (...) {
        std::fprintf(stderr, "rtmp: exception in %s callback\n", what);
    }
    running_callback = outer;
}

template <typename T, void (*Free)(T *)> struct Deleter {
    void operator()(T *p) const noexcept { Free(p); }
};

} // namespace detail

class FlvReader;

enum class MediaKind { None = RTMP_MEDIA_KIND_NONE, Audio = RTMP_MEDIA_KIND_AUDIO, Video = RTMP_MEDIA_KIND_VIDEO };

/// An owned, reference-counted frame: an FLV tag body, its timestamp and flags.
class Frame {
public:
    /// Copies `size` bytes of an FLV tag body; flags are read from it.
    Frame(MediaKind kind, uint32_t timestamp, const uint8_t *data, size_t size) {
        rtmp_frame *f = nullptr;
        detail::check(rtmp_frame_new(static_cast<rtmp_media_kind>(kind), timestamp, data, size, &f),
                      "rtmp_frame_new");
        reset(f);
    }
    /// Keeps a frame an event, a notice or a packet lends (no copy of the bytes).
    static Frame retain(const rtmp_frame *borrowed) {
        rtmp_frame *f = nullptr;
        detail::check(rtmp_frame_retain(borrowed, &f), "rtmp_frame_retain");
        return Frame(f);
    }
    Frame(const Frame &other) : Frame(retain(other.get())) {}
    Frame &operator=(const Frame &other) {
        if (this != &other) {
            *this = retain(other.get());
        }
        return *this;
    }
    Frame(Frame &&) noexcept = default;
    Frame &operator=(Frame &&) noexcept = default;

    MediaKind kind() const noexcept { return static_cast<MediaKind>(info_.media); }
    uint32_t timestamp() const noexcept { return info_.timestamp; }
    bool keyframe() const noexcept { return info_.keyframe; }
    bool sequence_header() const noexcept { return info_.sequence_header; }
    const uint8_t *data() const noexcept { return info_.data; }
    size_t size() const noexcept { return info_.len; }
    const rtmp_frame *get() const noexcept { return frame_.get(); }

private:
    friend class FlvReader;
    explicit Frame(rtmp_frame *f) { reset(f); }
    void reset(rtmp_frame *f) {
        frame_.reset(f);
        detail::check(rtmp_frame_get_info(f, &info_), "rtmp_frame_get_info");
    }
    std::unique_ptr<rtmp_frame, detail::Deleter<rtmp_frame, rtmp_frame_free>> frame_;
    rtmp_frame_info info_{};
};

/// Read access to metadata (borrowed from an event or a notice, or a Metadata's).
class MetadataView {
public:
    explicit MetadataView(const rtmp_metadata *m) noexcept : m_(m) {}
    size_t size() const noexcept { return rtmp_metadata_count(m_); }
    std::string key(size_t index) const { return copy([&](char *b, size_t n, size_t *need) {
        return rtmp_metadata_key(m_, index, b, n, need); }); }
    std::optional<double> number(const std::string &key) const {
        double value = 0;
        if (rtmp_metadata_get_number(m_, key.c_str(), &value) != RTMP_RESULT_OK) {
            return std::nullopt;
        }
        return value;
    }
    std::optional<std::string> string(const std::string &key) const {
        size_t needed = 0;
        if (rtmp_metadata_get_string(m_, key.c_str(), nullptr, 0, &needed) != RTMP_RESULT_BUFFER_TOO_SMALL) {
            return std::nullopt;
        }
        return copy([&](char *b, size_t n, size_t *need) {
            return rtmp_metadata_get_string(m_, key.c_str(), b, n, need); });
    }
    const rtmp_metadata *get() const noexcept { return m_; }

private:
    template <typename F> static std::string copy(F &&read) {
        size_t needed = 0;
        rtmp_result r = read(nullptr, 0, &needed);
        if (r != RTMP_RESULT_BUFFER_TOO_SMALL) {
            detail::check(r, "metadata");
        }
        std::string text(needed, '\0');
        detail::check(read(text.data(), text.size(), &needed), "metadata");
        text.resize(needed - 1);
        return text;
    }
    const rtmp_metadata *m_;
};

/// Owned metadata: build it, or parse an FLV script tag body.
class Metadata {
public:
    Metadata() : m_(rtmp_metadata_new()) {
        if (!m_) {
            throw Error(RTMP_RESULT_PANIC, "rtmp_metadata_new: out of memory");
        }
    }
    static Metadata from_flv_body(const uint8_t *data, size_t size) {
        rtmp_metadata *m = nullptr;
        detail::check(rtmp_metadata_from_flv_body(data, size, &m), "rtmp_metadata_from_flv_body");
        return Metadata(m);
    }
    Metadata &set(const std::string &key, double value) {
        detail::check(rtmp_metadata_set_number(m_.get(), key.c_str(), value), "rtmp_metadata_set_number");
        return *this;
    }
    Metadata &set(const std::string &key, const std::string &value) {
        detail::check(rtmp_metadata_set_string(m_.get(), key.c_str(), value.c_str()), "rtmp_metadata_set_string");
        return *this;
    }
    Metadata &set(const std::string &key, bool value) {
        detail::check(rtmp_metadata_set_bool(m_.get(), key.c_str(), value), "rtmp_metadata_set_bool");
        return *this;
    }
    MetadataView view() const noexcept { return MetadataView(m_.get()); }
    const rtmp_metadata *get() const noexcept { return m_.get(); }

private:
    friend class FlvReader;
    explicit Metadata(rtmp_metadata *m) : m_(m) {}
    std::unique_ptr<rtmp_metadata, detail::Deleter<rtmp_metadata, rtmp_metadata_free>> m_;
};

/// A server event, borrowed (see the file comment).
class Event {
public:
    explicit Event(const rtmp_event &e) noexcept : e_(e) {}
    rtmp_event_type type() const noexcept { return e_.event_type; }
    uint64_t conn() const noexcept { return e_.conn; }
    uint64_t decision() const noexcept { return e_.decision; }
    std::string_view app() const noexcept { return detail::view(e_.app); }
    std::string_view stream() const noexcept { return detail::view(e_.stream); }
    std::string_view detail() const noexcept { return detail::view(e_.detail); }
    MediaKind media() const noexcept { return static_cast<MediaKind>(e_.media); }
    uint32_t timestamp() const noexcept { return e_.timestamp; }
    bool keyframe() const noexcept { return e_.keyframe; }
    bool sequence_header() const noexcept { return e_.sequence_header; }
    const uint8_t *data() const noexcept { return e_.data; }
    size_t size() const noexcept { return e_.len; }
    /// Frame events: the frame, borrowed; Frame::retain(frame()) keeps it.
    const rtmp_frame *frame() const noexcept { return e_.frame; }
    /// Metadata events: the metadata, borrowed.
    std::optional<MetadataView> metadata() const noexcept {
        return e_.metadata ? std::optional<MetadataView>(MetadataView(e_.metadata)) : std::nullopt;
    }
    const rtmp_event &raw() const noexcept { return e_; }

private:
    const rtmp_event &e_;
};

struct StreamStats {
    std::string key;
    bool publishing;
    uint64_t players, frames_in, bytes_in;
    double bitrate_bps;
};

using ConnectionStats = rtmp_connection_stats;

class ServerConfig {
public:
    ServerConfig() : c_(rtmp_server_config_new()) {
        if (!c_) {
            throw Error(RTMP_RESULT_PANIC, "rtmp_server_config_new: out of memory");
        }
    }
    ServerConfig &listen(const std::string &addr) {
        detail::check(rtmp_server_config_listen(c_.get(), addr.c_str()), "listen");
        return *this;
    }
    /// An rtmps:// listener: the certificate chain and its private key in PEM.
    ServerConfig &listen_tls(const std::string &addr, const std::string &cert_pem,
                             const std::string &key_pem) {
        detail::check(rtmp_server_config_listen_tls(
                          c_.get(), addr.c_str(), reinterpret_cast<const uint8_t *>(cert_pem.data()),
                          cert_pem.size(), reinterpret_cast<const uint8_t *>(key_pem.data()),
                          key_pem.size()),
                      "listen_tls");
        return *this;
    }
    ServerConfig &workers(uint32_t n) {
        detail::check(rtmp_server_config_workers(c_.get(), n), "workers");
        return *this;
    }
    ServerConfig &manual_decisions(bool on) {
        detail::check(rtmp_server_config_manual_decisions(c_.get(), on), "manual_decisions");
        return *this;
    }
    ServerConfig &tap_all(bool on) {
        detail::check(rtmp_server_config_tap_all(c_.get(), on), "tap_all");
        return *this;
    }
    /// Lets each player's media wait up to `ms` to share one write (0, the default: none).
    ServerConfig &write_coalescing_ms(uint32_t ms) {
        detail::check(rtmp_server_config_write_coalescing_ms(c_.get(), ms), "write_coalescing_ms");
        return *this;
    }
    const rtmp_server_config *get() const noexcept { return c_.get(); }

private:
    std::unique_ptr<rtmp_server_config, detail::Deleter<rtmp_server_config, rtmp_server_config_free>> c_;
};

/// Publishes the application's frames into a server stream; destroying it ends the publish.
class LocalPublisher {
public:
    void write(MediaKind kind, uint32_t timestamp, const uint8_t *data, size_t size) {
        detail::check(rtmp_publisher_write(p_.get(), static_cast<rtmp_media_kind>(kind), timestamp, data, size),
                      "rtmp_publisher_write");
    }
    /// Without copying the bytes; also takes a borrowed frame (e.g. Event::frame()).
    void write(const rtmp_frame *frame) {
        detail::check(rtmp_publisher_write_frame(p_.get(), frame), "rtmp_publisher_write_frame");
    }
    void write(const Frame &frame) { write(frame.get()); }
    void set_metadata(const rtmp_metadata *metadata) {
        detail::check(rtmp_publisher_set_metadata(p_.get(), metadata), "rtmp_publisher_set_metadata");
    }
    void set_metadata(const Metadata &metadata) { set_metadata(metadata.get()); }

private:
    friend class ServerRef;
    explicit LocalPublisher(rtmp_publisher *p) : p_(p) {}
    std::unique_ptr<rtmp_publisher, detail::Deleter<rtmp_publisher, rtmp_publisher_free>> p_;
};

/// What acts on a running server; callbacks get one. Non-owning: valid while its Server is.
class ServerRef {
public:
    void accept(const Event &event) const {
        detail::check(rtmp_server_accept(s_, event.conn(), event.decision()), "rtmp_server_accept");
    }
    void reject(const Event &event, const std::string &description, const char *code = nullptr) const {
        detail::check(rtmp_server_reject(s_, event.conn(), event.decision(), code, description.c_str()),
                      "rtmp_server_reject");
    }
    void tap(const std::string &app, const std::string &stream, bool on) const {
        detail::check(rtmp_server_tap(s_, app.c_str(), stream.c_str(), on), "rtmp_server_tap");
    }
    LocalPublisher publisher(const std::string &app, const std::string &stream) const {
        rtmp_publisher *p = nullptr;
        detail::check(rtmp_server_publisher_new(s_, app.c_str(), stream.c_str(), &p), "rtmp_server_publisher_new");
        return LocalPublisher(p);
    }
    std::vector<StreamStats> stream_stats() const {
        std::vector<StreamStats> all;
        detail::check(rtmp_server_stream_stats(
                          s_,
                          [](void *out, const rtmp_stream_stats *s) {
                              static_cast<std::vector<StreamStats> *>(out)->push_back(
                                  {s->key, s->publishing, s->players, s->frames_in, s->bytes_in, s->bitrate_bps});
                          },
                          &all, nullptr),
                      "rtmp_server_stream_stats");
        return all;
    }
    std::vector<ConnectionStats> connection_stats() const {
        std::vector<ConnectionStats> all;
        detail::check(rtmp_server_connection_stats(
                          s_,
                          [](void *out, const rtmp_connection_stats *s) {
                              static_cast<std::vector<ConnectionStats> *>(out)->push_back(*s);
                          },
                          &all, nullptr),
                      "rtmp_server_connection_stats");
        return all;
    }
    std::string local_addr() const {
        std::string text(rtmp_server_local_addr(s_, nullptr, 0), '\0');
        rtmp_server_local_addr(s_, text.data(), text.size());
        text.resize(text.empty() ? 0 : text.size() - 1);
        return text;
    }
    rtmp_server *get() const noexcept { return s_; }
    /// A view of a server the caller keeps alive.
    explicit ServerRef(rtmp_server *s) noexcept : s_(s) {}

protected:
    rtmp_server *s_;
};

/// A running server. Destroying it shuts it down (after the callback's last event).
class Server : public ServerRef {
public:
    using Callback = std::function<void(ServerRef, const Event &)>;

    explicit Server(const ServerConfig &config) : ServerRef(nullptr) {
        detail::check(rtmp_server_start(config.get(), &s_), "rtmp_server_start");
    }
    Server(Server &&other) noexcept : ServerRef(std::exchange(other.s_, nullptr)), callback_(std::move(other.callback_)) {}
    Server &operator=(Server &&other) noexcept {
        if (this != &other) {
            close();
            s_ = std::exchange(other.s_, nullptr);
            callback_ = std::move(other.callback_);
        }
        return *this;
    }
    Server(const Server &) = delete;
    Server &operator=(const Server &) = delete;
    ~Server() { close(); }

    /// Waits up to `timeout` (0: just look) for an event (std::nullopt: none). The event is
    /// borrowed until the next poll (and refers into this object: do not move it meanwhile).
    /// Throws once a callback is set.
    std::optional<Event> poll(std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
        rtmp_result r = rtmp_server_poll(s_, static_cast<uint32_t>(timeout.count()), &polled_);
        if (r == RTMP_RESULT_TIMEOUT) {
            return std::nullopt;
        }
        detail::check(r, "rtmp_server_poll");
        return Event(polled_);
    }

    /// Delivers every event to `callback` on the library's dispatcher thread from now on.
    void on_event(Callback callback) {
        auto dispatch = std::make_unique<Dispatch>(Dispatch{std::move(callback), s_});
        detail::check(rtmp_server_set_callback(
                          s_,
                          [](void *userdata, const rtmp_event *e) {
                              auto *d = static_cast<Dispatch *>(userdata);
                              detail::guarded("server", d, [&] { d->callback(ServerRef(d->server), Event(*e)); });
                          },
                          dispatch.get()),
                      "rtmp_server_set_callback");
        callback_ = std::move(dispatch);
    }

private:
    struct Dispatch {
        Callback callback;
        rtmp_server *server;
    };
    void close() noexcept {
        detail::refuse_self_destruction(callback_.get(), "rtmp::Server");
        if (s_) {
            rtmp_server_free(std::exchange(s_, nullptr));
        }
        callback_.reset(); // after the dispatcher stopped
    }
    std::unique_ptr<Dispatch> callback_;
    rtmp_event polled_{};
};

class ClientOptions {
public:
    ClientOptions() : o_(rtmp_client_options_new()) {
        if (!o_) {
            throw Error(RTMP_RESULT_PANIC, "rtmp_client_options_new: out of memory");
        }
    }
    ClientOptions &flash_ver(const std::string &v) {
        detail::check(rtmp_client_options_flash_ver(o_.get(), v.c_str()), "flash_ver");
        return *this;
    }
    /// rtmps://: trust these PEM certificates instead of the system's roots ("" resets).
    ClientOptions &tls_ca(const std::string &pem) {
        detail::check(rtmp_client_options_tls_ca(o_.get(), reinterpret_cast<const uint8_t *>(pem.data()),
                                                 pem.size()),
                      "tls_ca");
        return *this;
    }
    /// rtmps://: the name checked against the certificate when it is not the URL's host.
    ClientOptions &tls_server_name(const std::string &name) {
        detail::check(rtmp_client_options_tls_server_name(o_.get(), name.c_str()), "tls_server_name");
        return *this;
    }
    /// rtmps://: accept any certificate (test servers only).
    ClientOptions &tls_insecure(bool insecure) {
        detail::check(rtmp_client_options_tls_insecure(o_.get(), insecure), "tls_insecure");
        return *this;
    }
    ClientOptions &connect_timeout(std::chrono::milliseconds t) {
        detail::check(rtmp_client_options_connect_timeout(o_.get(), static_cast<uint32_t>(t.count())),
                      "connect_timeout");
        return *this;
    }
    ClientOptions &publish_type(rtmp_publish_type type) {
        detail::check(rtmp_client_options_publish_type(o_.get(), type), "publish_type");
        return *this;
    }
    ClientOptions &handshake(rtmp_handshake mode) {
        detail::check(rtmp_client_options_handshake(o_.get(), mode), "handshake");
        return *this;
    }
    ClientOptions &reconnect(uint32_t max_attempts, std::chrono::milliseconds initial, std::chrono::milliseconds max) {
        detail::check(rtmp_client_options_reconnect(o_.get(), true, max_attempts,
                                                    static_cast<uint32_t>(initial.count()),
                                                    static_cast<uint32_t>(max.count())),
                      "reconnect");
        return *this;
    }
    ClientOptions &congestion(std::chrono::milliseconds drop_disposable_after,
                              std::chrono::milliseconds drop_inter_after, size_t max_queued_bytes) {
        detail::check(rtmp_client_options_congestion(o_.get(), static_cast<uint32_t>(drop_disposable_after.count()),
                                                     static_cast<uint32_t>(drop_inter_after.count()),
                                                     max_queued_bytes),
                      "congestion");
        return *this;
    }
    const rtmp_client_options *get() const noexcept { return o_.get(); }

private:
    std::unique_ptr<rtmp_client_options, detail::Deleter<rtmp_client_options, rtmp_client_options_free>> o_;
};

/// A client notice, borrowed (see the file comment).
class Notice {
public:
    explicit Notice(const rtmp_client_notice &n) noexcept : n_(n) {}
    rtmp_client_notice_type type() const noexcept { return n_.notice_type; }
    std::string_view code() const noexcept { return detail::view(n_.code); }
    std::string_view level() const noexcept { return detail::view(n_.level); }
    std::string_view text() const noexcept { return detail::view(n_.text); }
    MediaKind media() const noexcept { return static_cast<MediaKind>(n_.media); }
    uint32_t timestamp() const noexcept { return n_.timestamp; }
    bool keyframe() const noexcept { return n_.keyframe; }
    bool sequence_header() const noexcept { return n_.sequence_header; }
    const uint8_t *data() const noexcept { return n_.data; }
    size_t size() const noexcept { return n_.len; }
    const rtmp_frame *frame() const noexcept { return n_.frame; }
    std::optional<MetadataView> metadata() const noexcept {
        return n_.metadata ? std::optional<MetadataView>(MetadataView(n_.metadata)) : std::nullopt;
    }
    const rtmp_client_notice &raw() const noexcept { return n_; }

private:
    const rtmp_client_notice &n_;
};

/// A publishing or playing client. Destroying it closes it (queued frames are sent first).
class Client {
public:
    using Callback = std::function<void(const Notice &)>;

    static Client publish(const std::string &url, const ClientOptions *options = nullptr) {
        rtmp_client *c = nullptr;
        detail::check(rtmp_client_publish(url.c_str(), options ? options->get() : nullptr, &c), "rtmp_client_publish");
        return Client(c);
    }
    static Client play(const std::string &url, const ClientOptions *options = nullptr) {
        rtmp_client *c = nullptr;
        detail::check(rtmp_client_play(url.c_str(), options ? options->get() : nullptr, &c), "rtmp_client_play");
        return Client(c);
    }
    Client(Client &&) noexcept = default;
    Client &operator=(Client &&other) noexcept {
        if (this != &other) {
            detail::refuse_self_destruction(callback_.get(), "rtmp::Client");
            c_.reset();
            callback_ = std::move(other.callback_);
            c_ = std::move(other.c_);
        }
        return *this;
    }
    ~Client() {
        detail::refuse_self_destruction(callback_.get(), "rtmp::Client");
        c_.reset(); // frees the client (joining its dispatcher) before the callback
    }

    void wait_started(std::chrono::milliseconds timeout) {
        detail::check(rtmp_client_wait_started(c_.get(), static_cast<uint32_t>(timeout.count())), "wait_started");
    }
    void write(MediaKind kind, uint32_t timestamp, const uint8_t *data, size_t size) {
        detail::check(rtmp_client_write(c_.get(), static_cast<rtmp_media_kind>(kind), timestamp, data, size),
                      "rtmp_client_write");
    }
    void write(const rtmp_frame *frame) { detail::check(rtmp_client_write_frame(c_.get(), frame), "rtmp_client_write_frame"); }
    void write(const Frame &frame) { write(frame.get()); }
    void write_h264(const uint8_t *annexb, size_t size, int64_t pts_ms, int64_t dts_ms) {
        detail::check(rtmp_client_write_h264(c_.get(), annexb, size, pts_ms, dts_ms), "rtmp_client_write_h264");
    }
    void write_aac_adts(const uint8_t *adts, size_t size, int64_t pts_ms) {
        detail::check(rtmp_client_write_aac_adts(c_.get(), adts, size, pts_ms), "rtmp_client_write_aac_adts");
    }
    void set_metadata(const Metadata &metadata) {
        detail::check(rtmp_client_set_metadata(c_.get(), metadata.get()), "rtmp_client_set_metadata");
    }
    /// Waits up to `timeout` (0: just look) for a notice (std::nullopt: none yet). Borrowed
    /// until the next poll (and refers into this object: do not move it meanwhile). Throws
    /// Error with RTMP_RESULT_CLOSED once the client stopped.
    std::optional<Notice> poll(std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
        rtmp_result r = rtmp_client_poll(c_.get(), static_cast<uint32_t>(timeout.count()), &polled_);
        if (r == RTMP_RESULT_TIMEOUT) {
            return std::nullopt;
        }
        detail::check(r, "rtmp_client_poll");
        return Notice(polled_);
    }
    void on_notice(Callback callback) {
        auto holder = std::make_unique<Callback>(std::move(callback));
        detail::check(rtmp_client_set_callback(
                          c_.get(),
                          [](void *userdata, const rtmp_client_notice *n) {
                              detail::guarded("client", userdata,
                                              [&] { (*static_cast<Callback *>(userdata))(Notice(*n)); });
                          },
                          holder.get()),
                      "rtmp_client_set_callback");
        callback_ = std::move(holder);
    }
    rtmp_client_stats stats() const {
        rtmp_client_stats s{};
        detail::check(rtmp_client_get_stats(c_.get(), &s), "rtmp_client_get_stats");
        return s;
    }
    /// Sends what is queued, unpublishes, disconnects; the object stays for stats().
    void close() { detail::check(rtmp_client_close(c_.get()), "rtmp_client_close"); }
    const rtmp_client *get() const noexcept { return c_.get(); }

private:
    explicit Client(rtmp_client *c) : c_(c) {}
    // Declared first, destroyed last: the callback outlives the client's dispatcher.
    std::unique_ptr<Callback> callback_;
    std::unique_ptr<rtmp_client, detail::Deleter<rtmp_client, rtmp_client_free>> c_;
    rtmp_client_notice polled_{};
};

/// Encoder output to FLV tag bodies (see rtmp_packager_push).
class Packager {
public:
    /// The packets of one push, borrowed until the next push.
    struct Packets {
        const rtmp_packet *first;
        size_t count;
        const rtmp_packet *begin() const noexcept { return first; }
        const rtmp_packet *end() const noexcept { return first + count; }
        size_t size() const noexcept { return count; }
    };

    Packager(rtmp_codec codec, rtmp_tag_format format) {
        rtmp_packager *p = nullptr;
        detail::check(rtmp_packager_new(codec, format, &p), "rtmp_packager_new");
        p_.reset(p);
    }
    static Packager opus(uint8_t channels, uint16_t pre_skip, uint32_t input_sample_rate) {
        rtmp_packager *p = nullptr;
        detail::check(rtmp_packager_new_opus(channels, pre_skip, input_sample_rate, &p), "rtmp_packager_new_opus");
        return Packager(p);
    }
    void set_config(const uint8_t *data, size_t size) {
        detail::check(rtmp_packager_set_config(p_.get(), data, size), "rtmp_packager_set_config");
    }
    Packets push(const uint8_t *data, size_t size, int64_t pts_ms, int64_t dts_ms) {
        Packets out{nullptr, 0};
        detail::check(rtmp_packager_push(p_.get(), data, size, pts_ms, dts_ms, &out.first, &out.count),
                      "rtmp_packager_push");
        return out;
    }

private:
    explicit Packager(rtmp_packager *p) : p_(p) {}
    std::unique_ptr<rtmp_packager, detail::Deleter<rtmp_packager, rtmp_packager_free>> p_;
};

/// Played frames to decoder input: Annex-B H.264/HEVC, AV1 temporal units, VP8/VP9 frames,
/// ADTS AAC, Opus packets, MP3 frames, E-RTMP v2 tracks apart (see rtmp_depacketizer_push).
/// One thread pushes.
class Depacketizer {
public:
    /// The decoder input one push made (none for a sequence header), borrowed until the
    /// next push.
    struct Frames {
        const rtmp_decoded_frame *first;
        size_t count;
        const rtmp_decoded_frame *begin() const noexcept { return first; }
        const rtmp_decoded_frame *end() const noexcept { return first + count; }
        size_t size() const noexcept { return count; }
        bool empty() const noexcept { return count == 0; }
    };

    Depacketizer() {
        rtmp_depacketizer *d = nullptr;
        detail::check(rtmp_depacketizer_new(&d), "rtmp_depacketizer_new");
        d_.reset(d);
    }
    /// Takes a frame an event or a notice lends, or a Frame's get(). Throws Error for a frame
    /// it skips: code() UNSUPPORTED (no depacketizer for the codec), INVALID_STATE (media
    /// before its sequence header) or INVALID_ARGUMENT (a body that does not parse).
    Frames push(const rtmp_frame *frame) {
        Frames out{nullptr, 0};
        detail::check(rtmp_depacketizer_push(d_.get(), frame, &out.first, &out.count), "rtmp_depacketizer_push");
        return out;
    }
    Frames push(const Frame &frame) { return push(frame.get()); }

private:
    std::unique_ptr<rtmp_depacketizer, detail::Deleter<rtmp_depacketizer, rtmp_depacketizer_free>> d_;
};

/// Records frames and metadata into an FLV file (see rtmp_flv_writer_new). One thread writes.
class FlvWriter {
public:
    explicit FlvWriter(const std::string &path) {
        rtmp_flv_writer *w = nullptr;
        detail::check(rtmp_flv_writer_new(path.c_str(), &w), "rtmp_flv_writer_new");
        w_.reset(w);
    }
    /// A frame an event or a notice lends, or a Frame's get().
    void write(const rtmp_frame *frame) { detail::check(rtmp_flv_writer_write(w_.get(), frame), "rtmp_flv_writer_write"); }
    void write(const Frame &frame) { write(frame.get()); }
    /// An onMetaData tag (write it before the first frame).
    void write_metadata(const rtmp_metadata *metadata, uint32_t timestamp = 0) {
        detail::check(rtmp_flv_writer_write_metadata(w_.get(), timestamp, metadata), "rtmp_flv_writer_write_metadata");
    }
    void write_metadata(const Metadata &metadata, uint32_t timestamp = 0) { write_metadata(metadata.get(), timestamp); }
    /// Flushes and closes the file, throwing what the last writes could not do (the
    /// destructor closes too, silently).
    void close() { detail::check(rtmp_flv_writer_close(w_.get()), "rtmp_flv_writer_close"); }

private:
    std::unique_ptr<rtmp_flv_writer, detail::Deleter<rtmp_flv_writer, rtmp_flv_writer_free>> w_;
};

/// Reads an FLV file's frames and metadata, one tag at a time (see rtmp_flv_reader_next).
class FlvReader {
public:
    /// One tag: a frame or (an onMetaData tag) metadata.
    struct Tag {
        std::optional<Frame> frame;
        std::optional<Metadata> metadata;
        uint32_t timestamp;
    };

    explicit FlvReader(const std::string &path) {
        rtmp_flv_reader *r = nullptr;
        detail::check(rtmp_flv_reader_open(path.c_str(), &r), "rtmp_flv_reader_open");
        r_.reset(r);
    }
    /// The next tag, or nullopt at the end of the file. Throws Error (INVALID_ARGUMENT) for
    /// a tag that cannot be used; the next call goes on after it.
    std::optional<Tag> next() {
        rtmp_frame *frame = nullptr;
        rtmp_metadata *metadata = nullptr;
        uint32_t timestamp = 0;
        rtmp_result rc = rtmp_flv_reader_next(r_.get(), &frame, &metadata, &timestamp);
        if (rc == RTMP_RESULT_END) {
            return std::nullopt;
        }
        detail::check(rc, "rtmp_flv_reader_next");
        Tag tag{std::nullopt, std::nullopt, timestamp};
        if (frame) {
            tag.frame.emplace(Frame(frame));
        } else {
            tag.metadata.emplace(Metadata(metadata));
        }
        return tag;
    }

private:
    std::unique_ptr<rtmp_flv_reader, detail::Deleter<rtmp_flv_reader, rtmp_flv_reader_free>> r_;
};

/// Sends the library's log records at `level` or above to `callback` (from any thread, at
/// any time: keep it quick and thread-safe); an empty callback removes it. Callbacks set
/// before are kept alive for the process's life, as a record may still be on its way to
/// one on another thread.
inline void set_log_callback(rtmp_log_level level,
                             std::function<void(rtmp_log_level, std::string_view, std::string_view)> callback) {
    using Fn = std::function<void(rtmp_log_level, std::string_view, std::string_view)>;
    static std::mutex lock;
    static std::vector<std::unique_ptr<Fn>> kept;
    std::lock_guard<std::mutex> guard(lock);
    if (!callback) {
        detail::check(rtmp_set_log_callback(level, nullptr, nullptr), "rtmp_set_log_callback");
        return;
    }
    kept.push_back(std::make_unique<Fn>(std::move(callback)));
    detail::check(rtmp_set_log_callback(
                      level,
                      [](void *userdata, rtmp_log_level l, const char *target, const char *message) {
                          detail::guarded("log", userdata, [&] { (*static_cast<Fn *>(userdata))(l, target, message); });
                      },
                      kept.back().get()),
                  "rtmp_set_log_callback");
}

} // namespace rtmp

#endif // RTMP_CORE_HPP
