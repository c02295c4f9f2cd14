//! Publishes an FLV file to an RTMP URL, paced in real time by the file's timestamps.
//!
//!     cargo run --release --example publish -- FILE.flv rtmp://HOST/APP/KEY [--loop]
//!
//! rtmps:// URLs verify the server against the system's roots, or `--ca CA.pem`;
//! `--insecure` skips verification (test servers only).
//!
//! Exits 0 when the file (or, with --loop, Ctrl-C) ends.

use std::time::{Duration, Instant};

use rtmp_core::client::{Client, ClientNotice, ClientOptions, ReconnectPolicy};
use rtmp_core::media::flv::{FlvReader, TagKind};
use rtmp_core::protocol::amf::AmfLimits;
use rtmp_core::protocol::command::DataMessage;
use rtmp_core::{Frame, MediaKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut options = ClientOptions {
        reconnect: Some(ReconnectPolicy::default()),
        ..ClientOptions::default()
    };
    let mut looping = false;
    let mut positional = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--loop" => looping = true,
            "--ca" => {
                options.tls.ca_pem =
                    Some(std::fs::read(args.next().ok_or("--ca needs a PEM file")?)?)
            }
            "--insecure" => options.tls.insecure_skip_verify = true,
            _ => positional.push(arg),
        }
    }
    let [file, url] = &positional[..] else {
        eprintln!(
            "usage: publish FILE.flv rtmp[s]://HOST/APP/KEY [--loop] [--ca CA.pem] [--insecure]"
        );
        std::process::exit(2);
    };
    let data = bytes::Bytes::from(std::fs::read(file)?);
    let client = Client::publish(url, options)?;
    client.wait_started(Duration::from_secs(10))?;
    println!("publishing {file} to {url}");

    let start = Instant::now();
    let mut offset = 0u32; // added to timestamps on each loop so they keep increasing
    loop {
        let mut last = 0u32;
        for tag in FlvReader::from_bytes(data.clone())? {
            let tag = tag?;
            let timestamp = tag.timestamp.wrapping_add(offset);
            last = last.max(tag.timestamp);
            let due = start + Duration::from_millis(timestamp as u64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            match tag.kind {
                TagKind::Audio => {
                    client.send(Frame::from_tag(MediaKind::Audio, timestamp, tag.body))?
                }
                TagKind::Video => {
                    client.send(Frame::from_tag(MediaKind::Video, timestamp, tag.body))?
                }
                TagKind::Script => {
                    if offset == 0 {
                        let data = DataMessage::decode(&tag.body, false, AmfLimits::default())?;
                        if let Some(metadata) = data.metadata() {
                            client.set_metadata(metadata.clone())?;
                        }
                    }
                }
            }
            while let Ok(notice) = client.notices().try_recv() {
                if let ClientNotice::Disconnected { reason } = notice {
                    return Err(reason.into());
                }
            }
        }
        if !looping {
            break;
        }
        offset = offset.wrapping_add(last + 33);
    }
    let stats = client.stats();
    client.close();
    println!(
        "done: {} frames sent, {} dropped, {} bytes",
        stats.frames_sent, stats.frames_dropped, stats.bytes_sent
    );
    Ok(())
}
