//! rtmps:// through the C ABI: a TLS listener configured from PEM bytes, a client that
//! trusts the certificate, one that does not, and one that opts out of the check.

use super::*;

/// A self-signed certificate for localhost and 127.0.0.1 (openssl CLI): (cert, key).
fn self_signed() -> (Vec<u8>, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("rtmp-ffi-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("the openssl CLI (scripts/install-test-deps.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pair = (std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    pair
}

/// Publishes to `url` with `configure`d options; the result of waiting for the start.
fn publish(url: &str, configure: impl FnOnce(*mut RtmpClientOptions)) -> RtmpResult {
    let options = rtmp_client_options_new();
    configure(options);
    let url = CString::new(url).unwrap();
    let mut client = null_mut();
    // SAFETY: live handles, a valid string, a writable out-parameter.
    unsafe {
        rtmp_client_options_connect_timeout(options, 3000);
        assert_eq!(
            rtmp_client_publish(url.as_ptr(), options, &mut client),
            RtmpResult::Ok,
            "{}",
            last_error()
        );
        rtmp_client_options_free(options);
        let started = rtmp_client_wait_started(client, 5000);
        rtmp_client_free(client);
        started
    }
}

#[test]
fn tls_listeners_and_clients_check_certificates() {
    let (cert, key) = self_signed();
    let config = rtmp_server_config_new();
    let addr = CString::new("127.0.0.1:0").unwrap();
    let mut server = null_mut();
    // SAFETY: a live config, valid strings and buffers, a writable out-parameter.
    unsafe {
        assert_eq!(
            rtmp_server_config_listen_tls(
                config,
                addr.as_ptr(),
                key.as_ptr(),
                key.len(),
                cert.as_ptr(),
                cert.len()
            ),
            RtmpResult::InvalidArgument,
            "certificate and key swapped"
        );
        assert_eq!(
            rtmp_server_config_listen_tls(
                config,
                addr.as_ptr(),
                cert.as_ptr(),
                cert.len(),
                key.as_ptr(),
                key.len()
            ),
            RtmpResult::Ok,
            "{}",
            last_error()
        );
        assert_eq!(rtmp_server_start(config, &mut server), RtmpResult::Ok);
        rtmp_server_config_free(config);
    }
    let mut buf = [0 as c_char; 64];
    // SAFETY: a live server and a 64-byte buffer.
    unsafe { rtmp_server_local_addr(server, buf.as_mut_ptr(), buf.len()) };
    let port = text(buf.as_ptr()).rsplit(':').next().unwrap().to_owned();
    let base = format!("rtmps://localhost:{port}/live");

    // SAFETY (each closure): live options and buffers that outlive the call.
    let trusting = publish(&format!("{base}/trusted"), |o| unsafe {
        rtmp_client_options_tls_ca(o, cert.as_ptr(), cert.len());
    });
    assert_eq!(trusting, RtmpResult::Ok, "{}", last_error());
    let system_roots = publish(&format!("{base}/untrusted"), |_| {});
    assert_ne!(system_roots, RtmpResult::Ok);
    let misnamed = publish(&format!("{base}/misnamed"), |o| unsafe {
        let name = CString::new("example.com").unwrap();
        rtmp_client_options_tls_ca(o, cert.as_ptr(), cert.len());
        rtmp_client_options_tls_server_name(o, name.as_ptr());
    });
    assert_ne!(misnamed, RtmpResult::Ok);
    let insecure = publish(&format!("{base}/insecure"), |o| unsafe {
        rtmp_client_options_tls_insecure(o, true);
    });
    assert_eq!(insecure, RtmpResult::Ok, "{}", last_error());
    // SAFETY: the server is live and freed once.
    unsafe { rtmp_server_free(server) };
}
