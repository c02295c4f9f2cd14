//! What TLS costs the relay: one server worker thread relays a looping FLV to N players,
//! first over rtmp://, then over rtmps://, and the worker's CPU time is read from /proc.
//!
//!     cargo run --release --example tls_cost -- --source FILE.flv --cert cert.pem \
//!         --key key.pem [--players 20] [--seconds 15]
//!
//! The publisher and the players are this process's own clients (players over the same
//! scheme as the run, verifying the certificate given); only the worker thread's CPU time
//! is counted. Linux only (/proc/self/task).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtmp_core::client::{Client, ClientNotice, ClientOptions, TlsOptions};
use rtmp_core::media::flv::FlvReader;
use rtmp_core::{Frame, Server};

struct Args {
    source: String,
    cert: Vec<u8>,
    key: Vec<u8>,
    players: usize,
    seconds: u64,
}

fn parse_args() -> Result<Args, Box<dyn std::error::Error>> {
    let (mut source, mut cert, mut key) = (None, None, None);
    let (mut players, mut seconds) = (20, 15);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--source" => source = Some(value()?),
            "--cert" => cert = Some(std::fs::read(value()?)?),
            "--key" => key = Some(std::fs::read(value()?)?),
            "--players" => players = value()?.parse()?,
            "--seconds" => seconds = value()?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let usage = "usage: tls_cost --source FILE.flv --cert CERT.pem --key KEY.pem \
                 [--players N] [--seconds S]";
    Ok(Args {
        source: source.ok_or(usage)?,
        cert: cert.ok_or(usage)?,
        key: key.ok_or(usage)?,
        players: players.clamp(1, 200),
        seconds: seconds.clamp(1, 300),
    })
}

/// CPU seconds (user + system) of this process's thread named `name`.
fn thread_cpu(name: &str) -> f64 {
    let mut ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        // Fields after the ")" that closes the command: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        ticks += field(14).unwrap_or(0) + field(15).unwrap_or(0);
    }
    ticks as f64 / 100.0
}

fn run(
    args: &Args,
    tags: &[Frame],
    span_ms: u32,
    secure: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder()
        .listen("127.0.0.1:0".parse()?)
        .listen_tls("127.0.0.1:0".parse()?, &args.cert, &args.key)?
        .workers(1)
        .build()?;
    let url = if secure {
        format!(
            "rtmps://localhost:{}/live/cost",
            server.local_addrs()[1].port()
        )
    } else {
        format!("rtmp://{}/live/cost", server.local_addrs()[0])
    };
    let options = ClientOptions {
        tls: TlsOptions {
            ca_pem: Some(args.cert.clone()),
            ..TlsOptions::default()
        },
        ..ClientOptions::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let mut players = Vec::new();
    for _ in 0..args.players {
        let client = Client::play(&url, options.clone())?;
        let (stop, received) = (stop.clone(), received.clone());
        players.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(ClientNotice::Frame(f)) = client.next_notice(Duration::from_millis(50))
                {
                    received.fetch_add(f.payload.len() as u64, Ordering::Relaxed);
                }
            }
            client.close();
        }));
    }
    let publisher = Client::publish(&url, options.clone())?;
    publisher.wait_started(Duration::from_secs(5))?;
    // Warm up (handshakes, the first GOP), then measure.
    let start = Instant::now();
    let warm_up = Duration::from_secs(2);
    let mut measured = None;
    let mut lap = 0u32;
    'publish: loop {
        for frame in tags {
            let ts = frame.timestamp + lap * span_ms;
            let due = start + Duration::from_millis(ts as u64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if measured.is_none() && start.elapsed() >= warm_up {
                measured = Some((
                    Instant::now(),
                    thread_cpu("rtmp-worker-0"),
                    received.load(Ordering::Relaxed),
                ));
            }
            if start.elapsed() >= warm_up + Duration::from_secs(args.seconds) {
                break 'publish;
            }
            if frame.sequence_header && lap > 0 {
                continue;
            }
            let mut frame = frame.clone();
            frame.timestamp = ts;
            publisher.send(frame)?;
        }
        lap += 1;
    }
    let (t0, cpu0, bytes0) = measured.ok_or("too short")?;
    let cpu = thread_cpu("rtmp-worker-0") - cpu0;
    let bytes = received.load(Ordering::Relaxed) - bytes0;
    let wall = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    publisher.close();
    for p in players {
        let _ = p.join();
    }
    let scheme = if secure { "rtmps" } else { "rtmp " };
    println!(
        "{scheme}: {} players, {:.1} MB delivered in {wall:.1} s ({:.1} Mbit/s), worker CPU {cpu:.2} s \
         ({:.0}% of a core), {:.2} GB per CPU second",
        args.players,
        bytes as f64 / 1e6,
        bytes as f64 * 8.0 / wall / 1e6,
        cpu / wall * 100.0,
        bytes as f64 / 1e9 / cpu.max(0.01),
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let data = bytes::Bytes::from(std::fs::read(&args.source)?);
    let mut tags = Vec::new();
    for tag in FlvReader::from_bytes(data)? {
        let tag = tag?;
        let Some(kind) = tag.kind.media() else {
            continue;
        };
        tags.push(Frame::from_tag(kind, tag.timestamp, tag.body));
    }
    let span_ms = tags.last().map_or(0, |f| f.timestamp) + 33;
    run(&args, &tags, span_ms, false)?;
    run(&args, &tags, span_ms, true)?;
    Ok(())
}
