//! rtmps://: TLS with rustls's sans-IO connections, driven over the same non-blocking
//! sockets and mio loops as plain TCP.
//!
//! [`Socket`] is what a server connection and a client read from and write to. Its plain
//! variant passes every call straight to the TCP stream (the relay's vectored writes send
//! payloads from the publisher's buffers as before); its TLS variant moves bytes through a
//! `rustls::Connection`, which necessarily copies them into encrypted records.
//!
//! Back-pressure stays where the callers handle it: plaintext is taken only once every
//! record encrypted before it left for the socket, so a slow peer shows up as
//! `WouldBlock` and a growing write queue, not as a growing TLS buffer.

use std::io::{self, IoSlice, Read, Write};
use std::sync::{Arc, OnceLock};

use mio::net::TcpStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{self, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::client::TlsOptions;
use crate::error::{Error, Result};

/// A connection's byte stream: TCP, or TLS over TCP.
pub(crate) enum Socket {
    Plain(TcpStream),
    /// Boxed: a rustls connection is large, and most connections are plain.
    Tls(Box<TlsSocket>),
}

/// A TCP stream with a rustls client or server connection on top.
pub(crate) struct TlsSocket {
    tcp: TcpStream,
    tls: rustls::Connection,
}

/// Sends on a TCP stream without raising SIGPIPE when the peer has gone. Rust programs
/// and Python ignore SIGPIPE, but a C or C++ host embedding the library usually does not,
/// and its default action kills the process: a player vanishing between two writes must
/// cost one connection, not the host. Linux and Android have a per-call flag for it.
fn send_vectored(tcp: &TcpStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        socket2::SockRef::from(tcp).send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        (&*tcp).write_vectored(bufs)
    }
}

/// The TCP stream as rustls's record writer, through [`send_vectored`].
struct NoSigPipe<'a>(&'a TcpStream);

impl Write for NoSigPipe<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        send_vectored(self.0, &[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        send_vectored(self.0, bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Socket {
    /// The server side of rtmps:// on an accepted connection.
    pub fn accept_tls(tcp: TcpStream, config: Arc<rustls::ServerConfig>) -> Result<Socket> {
        let tls = rustls::ServerConnection::new(config).map_err(tls_error)?;
        Ok(Socket::Tls(Box::new(TlsSocket {
            tcp,
            tls: tls.into(),
        })))
    }

    /// The client side of rtmps:// on a connected stream; `server_name` is sent as SNI
    /// (unless it is an IP address) and checked against the server's certificate.
    pub fn connect_tls(
        tcp: TcpStream,
        config: Arc<rustls::ClientConfig>,
        server_name: &str,
    ) -> Result<Socket> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|e| Error::Tls(format!("server name {server_name:?}: {e}")))?;
        let tls = rustls::ClientConnection::new(config, name).map_err(tls_error)?;
        Ok(Socket::Tls(Box::new(TlsSocket {
            tcp,
            tls: tls.into(),
        })))
    }

    /// The TCP stream underneath, to register with a poll.
    pub fn tcp_mut(&mut self) -> &mut TcpStream {
        match self {
            Socket::Plain(tcp) => tcp,
            Socket::Tls(s) => &mut s.tcp,
        }
    }

    /// Writes encrypted records that are waiting (TLS only; a plain socket buffers
    /// nothing). `WouldBlock` is not an error here: the rest goes on the next call.
    pub fn send_pending(&mut self) -> io::Result<()> {
        match self {
            Socket::Plain(_) => Ok(()),
            Socket::Tls(s) => s.send_records(),
        }
    }

    /// True if encrypted records wait for the socket.
    pub fn has_pending(&self) -> bool {
        match self {
            Socket::Plain(_) => false,
            Socket::Tls(s) => s.tls.wants_write(),
        }
    }

    /// True while a TLS handshake has not completed (false for plain TCP).
    pub fn tls_handshaking(&self) -> bool {
        match self {
            Socket::Plain(_) => false,
            Socket::Tls(s) => s.tls.is_handshaking(),
        }
    }

    /// Ends a TLS session cleanly (close_notify), as far as the socket takes it now.
    pub fn close_notify(&mut self) {
        if let Socket::Tls(s) = self {
            s.tls.send_close_notify();
            let _ = s.send_records();
        }
    }
}

impl TlsSocket {
    fn send_records(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut NoSigPipe(&self.tcp)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.tls.reader().read(buf) {
                // 0: the peer sent close_notify.
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // TCP closed without close_notify: for RTMP that is just a closed peer.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            // No plaintext: take more records off the socket (WouldBlock ends the read).
            match self.tls.read_tls(&mut self.tcp) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let processed = self.tls.process_new_packets();
            // Handshake messages, and the alert that tells the peer what went wrong.
            let sent = self.send_records();
            if let Err(e) = processed {
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            sent?;
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.send_records()?;
        if self.tls.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let taken = self.tls.writer().write_vectored(bufs)?;
        if taken == 0 && bufs.iter().any(|b| !b.is_empty()) {
            // Before the handshake completes, plaintext waits in a bounded buffer; the
            // handshake's progress (a read) makes room.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.send_records()?;
        Ok(taken)
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Plain(tcp) => tcp.read(buf),
            Socket::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Socket::Plain(tcp) => send_vectored(tcp, bufs),
            Socket::Tls(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_pending()
    }
}

/// Fails if `name` can be neither a DNS name nor an IP address.
pub(crate) fn check_server_name(name: &str) -> Result<()> {
    ServerName::try_from(name)
        .map(|_| ())
        .map_err(|e| Error::Tls(format!("server name {name:?}: {e}")))
}

/// True if `e` came from TLS itself (a certificate rejected, a bad record, an alert), not
/// from the network: retrying the same connection would fail the same way.
pub(crate) fn is_tls_failure(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>())
}

fn tls_error(e: rustls::Error) -> Error {
    Error::Tls(e.to_string())
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(crypto::ring::default_provider()))
        .clone()
}

/// The operating system's trusted roots, read once per process.
fn system_roots() -> Result<Arc<RootCertStore>> {
    static ROOTS: OnceLock<std::result::Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                log::warn!("reading the system's certificates: {e}");
            }
            let mut roots = RootCertStore::empty();
            let (added, ignored) = roots.add_parsable_certificates(found.certs);
            log::debug!("{added} system root certificates ({ignored} unusable)");
            if roots.is_empty() {
                return Err("no trusted root certificates found on this system \
                            (install ca-certificates, or set TlsOptions::ca_pem)"
                    .to_owned());
            }
            Ok(Arc::new(roots))
        })
        .clone()
        .map_err(Error::Tls)
}

/// Parses every certificate in a PEM text.
fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("{what}: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Tls(format!(
            "{what}: no CERTIFICATE in the PEM text"
        )));
    }
    Ok(certs)
}

/// A client configuration from the client's TLS options: the system's roots, a CA given
/// in PEM, or (for test servers) no verification at all.
pub(crate) fn client_config(options: &TlsOptions) -> Result<Arc<rustls::ClientConfig>> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?;
    let config = if options.insecure_skip_verify {
        log::warn!("rtmps: the server's certificate is not verified (insecure_skip_verify)");
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())))
            .with_no_client_auth()
    } else {
        let roots = match &options.ca_pem {
            Some(pem) => {
                let mut roots = RootCertStore::empty();
                for cert in certificates(pem, "ca_pem")? {
                    roots
                        .add(cert)
                        .map_err(|e| Error::Tls(format!("ca_pem: {e}")))?;
                }
                Arc::new(roots)
            }
            None => system_roots()?,
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// A server configuration from a certificate chain and its private key, both PEM.
pub(crate) fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<rustls::ServerConfig>> {
    let certs = certificates(cert_pem, "certificate")?;
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| Error::Tls(format!("private key: {e}")))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(tls_error)?;
    // No TLS 1.3 session tickets: with them, Debian's rtmpdump 2.4 (librtmp on GnuTLS)
    // reports "handshake failed" right after the TLS handshake (the post-handshake
    // NewSessionTicket messages are the only difference that matters; with none it plays
    // every packet: tests/interop_tls.rs). Resumption buys an RTMP connection of minutes
    // or hours next to nothing anyway.
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// `TlsOptions::insecure_skip_verify`: any certificate is taken; the handshake's
/// signatures are still checked, so the connection is encrypted, just not authenticated.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_certificates_and_keys_are_tls_errors() {
        let options = TlsOptions {
            ca_pem: Some(b"not a certificate".to_vec()),
            ..TlsOptions::default()
        };
        assert!(matches!(client_config(&options), Err(Error::Tls(_))));
        let garbled = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let options = TlsOptions {
            ca_pem: Some(garbled.to_vec()),
            ..TlsOptions::default()
        };
        assert!(matches!(client_config(&options), Err(Error::Tls(_))));
        assert!(matches!(
            server_config(
                b"",
                b"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"
            ),
            Err(Error::Tls(_))
        ));
        assert!(matches!(check_server_name("a b"), Err(Error::Tls(_))));
        check_server_name("127.0.0.1").unwrap();
        check_server_name("live.example.com").unwrap();
    }

    #[test]
    fn skipping_verification_needs_no_roots() {
        let options = TlsOptions {
            insecure_skip_verify: true,
            ..TlsOptions::default()
        };
        let config = client_config(&options).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let connection = rustls::ClientConnection::new(config, name).unwrap();
        assert!(connection.wants_write(), "a ClientHello is ready");
    }
}
