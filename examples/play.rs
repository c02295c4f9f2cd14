//! Plays an RTMP stream into an FLV file.
//!
//!     cargo run --release --example play -- rtmp://HOST/APP/KEY -o FILE.flv [--duration SECS]
//!
//! rtmps:// URLs verify the server against the system's roots, or `--ca CA.pem`;
//! `--insecure` skips verification (test servers only).
//!
//! Exits 0 when the stream ends (its publisher stops) or the duration passes.

use std::time::{Duration, Instant};

use rtmp_core::client::{Client, ClientNotice, ClientOptions};
use rtmp_core::media::flv::{FlvHeader, FlvWriter, TagKind};
use rtmp_core::protocol::command::DataMessage;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut url, mut output, mut duration) = (None, None, None);
    let mut options = ClientOptions::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-o" => output = args.next(),
            "--ca" => {
                options.tls.ca_pem =
                    Some(std::fs::read(args.next().ok_or("--ca needs a PEM file")?)?)
            }
            "--insecure" => options.tls.insecure_skip_verify = true,
            "--duration" => {
                duration = Some(Duration::from_secs_f64(
                    args.next().ok_or("--duration needs SECS")?.parse()?,
                ))
            }
            _ => url = Some(arg),
        }
    }
    let (Some(url), Some(output)) = (url, output) else {
        eprintln!(
            "usage: play rtmp[s]://HOST/APP/KEY -o FILE.flv [--duration SECS] [--ca CA.pem] \
             [--insecure]"
        );
        std::process::exit(2);
    };
    let client = Client::play(&url, options)?;
    let file = std::io::BufWriter::new(std::fs::File::create(&output)?);
    let mut writer = FlvWriter::new(file, &FlvHeader::default())?;
    let deadline = duration.map(|d| Instant::now() + d);
    let mut frames = 0u64;
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let Some(notice) = client.next_notice(Duration::from_millis(100)) else {
            continue;
        };
        match notice {
            ClientNotice::Frame(frame) => {
                writer.write(frame.kind.into(), frame.timestamp, &frame.payload)?;
                frames += 1;
            }
            ClientNotice::Metadata(metadata) => {
                let body = DataMessage::on_metadata(metadata).encode();
                writer.write(TagKind::Script, 0, &body)?;
            }
            ClientNotice::StreamEnd => break,
            ClientNotice::Disconnected { reason } => {
                if frames == 0 {
                    return Err(reason.into());
                }
                break;
            }
            _ => {}
        }
    }
    writer.flush()?;
    client.close();
    println!("{frames} frames written to {output}");
    Ok(())
}
