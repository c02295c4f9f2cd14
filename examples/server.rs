//! A relay server: OBS, ffmpeg, GStreamer or rtmpdump publish to rtmp://HOST/APP/KEY and
//! players play the same URL. Prints one line per event.
//!
//!     cargo run --release --example server -- [--listen 0.0.0.0:1935] [--workers N]
//!         [--rtmps 0.0.0.0:443 --cert cert.pem --key key.pem] [--coalesce-ms MS]
//!
//! With --rtmps the same relay also serves rtmps:// (TLS) on that address, with the
//! certificate chain and private key given in PEM files. --coalesce-ms lets each player's
//! media wait up to MS milliseconds to share one write: less CPU per player, more latency.
//! Set RTMP_LOG=debug (or info, trace) to see the library's log.

use std::net::SocketAddr;
use std::time::Duration;

use rtmp_core::{Event, Server};

struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        eprintln!("[{}] {}", record.level(), record.args());
    }
    fn flush(&self) {}
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen: SocketAddr = "0.0.0.0:1935".parse()?;
    let mut workers = None;
    let mut rtmps: Option<SocketAddr> = None;
    let mut cert = None;
    let mut key = None;
    let mut coalesce_ms = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs ADDR")?.parse()?,
            "--workers" => workers = Some(args.next().ok_or("--workers needs N")?.parse()?),
            "--rtmps" => rtmps = Some(args.next().ok_or("--rtmps needs ADDR")?.parse()?),
            "--cert" => cert = Some(args.next().ok_or("--cert needs a PEM file")?),
            "--key" => key = Some(args.next().ok_or("--key needs a PEM file")?),
            "--coalesce-ms" => {
                coalesce_ms = args.next().ok_or("--coalesce-ms needs MS")?.parse()?
            }
            "-h" | "--help" => {
                println!(
                    "usage: server [--listen ADDR] [--workers N] \
                     [--rtmps ADDR --cert CERT.pem --key KEY.pem] [--coalesce-ms MS]"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if let Ok(level) = std::env::var("RTMP_LOG") {
        log::set_logger(&StderrLogger).map_err(|e| e.to_string())?;
        log::set_max_level(level.parse().unwrap_or(log::LevelFilter::Info));
    }

    let mut builder = Server::builder()
        .listen(listen)
        .write_coalescing(Duration::from_millis(coalesce_ms));
    if let Some(n) = workers {
        builder = builder.workers(n);
    }
    match (rtmps, cert, key) {
        (Some(addr), Some(cert), Some(key)) => {
            let cert = std::fs::read(&cert).map_err(|e| format!("{cert}: {e}"))?;
            let key = std::fs::read(&key).map_err(|e| format!("{key}: {e}"))?;
            builder = builder.listen_tls(addr, &cert, &key)?;
        }
        (None, None, None) => {}
        _ => return Err("--rtmps, --cert and --key go together".into()),
    }
    let server = builder.build()?;
    println!("listening on rtmp://{}", server.local_addrs()[0]);
    if let Some(addr) = server.local_addrs().get(1) {
        println!("listening on rtmps://{addr}");
    }

    loop {
        let Some(event) = server.next_event(Duration::from_secs(3600)) else {
            continue;
        };
        match event {
            Event::Connect {
                conn, peer, app, ..
            } => println!("connect {conn} {peer} app={app}"),
            Event::Publish {
                conn, app, stream, ..
            } => println!("publish {conn} {app}/{stream}"),
            Event::Play {
                conn, app, stream, ..
            } => println!("play {conn} {app}/{stream}"),
            Event::Unpublish { conn, app, stream } => println!("unpublish {conn} {app}/{stream}"),
            Event::PlayStop { conn, app, stream } => println!("stop {conn} {app}/{stream}"),
            Event::Metadata { app, stream, .. } => println!("metadata {app}/{stream}"),
            Event::Disconnect { conn, reason } => println!("disconnect {conn} {reason}"),
            other => println!("{other:?}"),
        }
    }
}
