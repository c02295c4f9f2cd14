//! What the kernel alone charges a relay on this machine: the CPU cost of writing a stream
//! to N loopback players with nothing else to do, no RTMP and no relay logic, one write per
//! frame per player (or, with `--coalesce-ms`, one write per player per window).
//!
//! ```sh
//! cargo run --release --example send_floor -- --media FILE.flv --players 300 \
//!     [--seconds 15] [--coalesce-ms MS] [--sendfile] [--sender-cpu 0] [--receiver-cpu 1]
//! ```
//!
//! The sender paces the FLV's tags by their timestamps, as a publisher would deliver them,
//! and writes each tag's size (plus the RTMP chunk headers it would carry at chunk size
//! 4096) to every player with one `send`. A child process (this program again, pinned to
//! the other CPU with taskset) reads all players with epoll, as players would. The figure printed is
//! delivered bytes per second of the sender's CPU time: the best any relay that writes
//! that way could do here. `scripts/bench_relay.sh` compares servers against it.
//!
//! `--sendfile` (Linux) prices zero-copy sends instead: each frame is written once to a
//! memfd and sent to every player with `sendfile`, so no payload is copied per player.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rtmp_core::media::flv::{FlvReader, TagKind};

const USAGE: &str = "usage: send_floor --media FILE.flv --players N [--seconds S (15)] \
[--coalesce-ms MS (0)] [--sendfile] [--sender-cpu C (0)] [--receiver-cpu C (1)]";

struct Args {
    media: String,
    players: usize,
    seconds: f64,
    coalesce: Duration,
    sender_cpu: usize,
    receiver_cpu: usize,
    sendfile: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        media: String::new(),
        players: 0,
        seconds: 15.0,
        coalesce: Duration::ZERO,
        sender_cpu: 0,
        receiver_cpu: 1,
        sendfile: false,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<f64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--media" => parsed.media = value()?,
            "--players" => parsed.players = number(value()?)? as usize,
            "--seconds" => parsed.seconds = number(value()?)?,
            "--coalesce-ms" => parsed.coalesce = Duration::from_secs_f64(number(value()?)? / 1e3),
            "--sender-cpu" => parsed.sender_cpu = number(value()?)? as usize,
            "--receiver-cpu" => parsed.receiver_cpu = number(value()?)? as usize,
            "--sendfile" => parsed.sendfile = true,
            _ => return Err(USAGE.into()),
        }
    }
    if parsed.media.is_empty() || parsed.players == 0 || parsed.players > 20_000 {
        return Err(USAGE.into());
    }
    Ok(parsed)
}

/// CPU seconds this process used so far (Linux /proc, 100 ticks per second), read the
/// way `scripts/bench_relay.sh` reads a server's.
fn cpu_seconds() -> Result<f64, String> {
    let stat = std::fs::read_to_string("/proc/self/stat").map_err(|e| e.to_string())?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .ok_or("odd /proc/self/stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks = |i: usize| -> Result<u64, String> {
        fields
            .get(i)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| "odd /proc/self/stat".to_string())
    };
    Ok((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

/// The child: connects the players and reads everything until the sender closes them.
fn receive(addr: SocketAddr, players: usize) -> io::Result<()> {
    use mio::{Events, Interest, Poll, Token};
    let mut poll = Poll::new()?;
    let mut sockets = Vec::with_capacity(players);
    for i in 0..players {
        let socket = TcpStream::connect(addr)?;
        socket.set_nonblocking(true)?;
        let mut socket = mio::net::TcpStream::from_std(socket);
        poll.registry()
            .register(&mut socket, Token(i), Interest::READABLE)?;
        sockets.push(Some(socket));
    }
    let mut open = players;
    let mut received = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    let mut events = Events::with_capacity(1024);
    while open > 0 {
        poll.poll(&mut events, Some(Duration::from_secs(30)))?;
        if events.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the sender went quiet",
            ));
        }
        for event in events.iter() {
            let slot = &mut sockets[event.token().0];
            let Some(socket) = slot.as_mut() else {
                continue;
            };
            loop {
                match socket.read(&mut buf) {
                    Ok(0) => {
                        *slot = None;
                        open -= 1;
                        break;
                    }
                    Ok(n) => received += n as u64,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    println!("{received}");
    Ok(())
}

/// Bytes one media message takes on the wire: an 11-byte first chunk header (type 1 with
/// its basic header) and a 1-byte header before each further 4096-byte chunk.
fn wire_len(body: usize) -> usize {
    12 + body.saturating_sub(1) / 4096 + body
}

/// The zero-copy variant (`--sendfile`): each frame is written once into a memfd and every
/// player's socket takes it from there with `sendfile`, so the kernel references the pages
/// instead of copying the payload per player. Old frames are punched out of the file; pages
/// still referenced by unsent socket buffers stay alive until the kernel lets go of them.
#[cfg(target_os = "linux")]
struct ZeroCopyLog {
    file: std::fs::File,
    end: u64,
}

#[cfg(target_os = "linux")]
impl ZeroCopyLog {
    const KEEP: u64 = 4 << 20;

    fn new() -> io::Result<Self> {
        let fd = rustix::fs::memfd_create("send_floor", rustix::fs::MemfdFlags::CLOEXEC)?;
        Ok(ZeroCopyLog {
            file: fd.into(),
            end: 0,
        })
    }

    fn send(&mut self, frame: &[u8], players: &[TcpStream]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let start = self.end;
        self.end += frame.len() as u64;
        self.file.write_all_at(frame, start)?;
        for player in players {
            let mut offset = start;
            while offset < self.end {
                let remaining = (self.end - offset) as usize;
                if rustix::fs::sendfile(player, &self.file, Some(&mut offset), remaining)? == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
            }
        }
        if start > 2 * Self::KEEP {
            let flags =
                rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE;
            rustix::fs::fallocate(&self.file, flags, 0, start - Self::KEEP)?;
        }
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
struct ZeroCopyLog;

#[cfg(not(target_os = "linux"))]
impl ZeroCopyLog {
    fn new() -> io::Result<Self> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "--sendfile needs Linux (memfd_create)",
        ))
    }

    fn send(&mut self, _frame: &[u8], _players: &[TcpStream]) -> io::Result<()> {
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut argv = std::env::args().skip(1).peekable();
    if argv.peek().map(String::as_str) == Some("--receive") {
        let addr: SocketAddr = argv.nth(1).ok_or(USAGE)?.parse()?;
        let players: usize = argv.next().ok_or(USAGE)?.parse()?;
        receive(addr, players)?;
        return Ok(());
    }
    let args = parse_args(argv)?;
    let data = std::fs::read(&args.media).map_err(|e| format!("{}: {e}", args.media))?;
    let frames: Vec<(u32, usize)> = FlvReader::from_bytes(data.into())?
        .filter_map(|tag| tag.ok())
        .filter(|tag| matches!(tag.kind, TagKind::Audio | TagKind::Video))
        .map(|tag| (tag.timestamp, wire_len(tag.body.len())))
        .collect();
    let loop_ms = frames.last().map_or(0, |f| f.0) + 33;
    if frames.is_empty() {
        return Err("no media in the file".into());
    }
    let exe = std::env::current_exe()?;
    let pin = |cpu: usize| -> Result<(), Box<dyn std::error::Error>> {
        let status = Command::new("taskset")
            .args([
                "-p",
                "-c",
                &cpu.to_string(),
                &std::process::id().to_string(),
            ])
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("taskset (util-linux): {e}"))?;
        if !status.success() {
            return Err(format!("taskset could not pin to CPU {cpu}").into());
        }
        Ok(())
    };
    pin(args.sender_cpu)?;

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut child = Command::new("taskset")
        .args(["-c", &args.receiver_cpu.to_string()])
        .arg(exe)
        .args(["--receive", &listener.local_addr()?.to_string()])
        .arg(args.players.to_string())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut players = Vec::with_capacity(args.players);
    for _ in 0..args.players {
        let (socket, _) = listener.accept()?;
        socket.set_nodelay(true)?;
        players.push(socket);
    }
    let payload = vec![0x5a_u8; 16 << 20];

    let start = Instant::now();
    let cpu_before = cpu_seconds()?;
    let mut writes = 0u64;
    let mut sent = 0u64;
    let mut pending = 0usize;
    let mut window_end: Option<Instant> = None;
    let mut log = if args.sendfile {
        Some(ZeroCopyLog::new()?)
    } else {
        None
    };
    let mut write_all = |len: usize, writes: &mut u64| -> io::Result<()> {
        match log.as_mut() {
            Some(log) => log.send(&payload[..len], &players)?,
            None => {
                for player in players.iter_mut() {
                    player.write_all(&payload[..len])?;
                }
            }
        }
        *writes += 1;
        Ok(())
    };
    'outer: for lap in 0u64.. {
        for &(timestamp, len) in &frames {
            let due = start + Duration::from_millis(lap * loop_ms as u64 + timestamp as u64);
            if due.duration_since(start).as_secs_f64() >= args.seconds {
                break 'outer;
            }
            if let Some(end) = window_end.filter(|end| *end <= due) {
                // The window closes before this frame is due: its frames go out first.
                std::thread::sleep(end.saturating_duration_since(Instant::now()));
                write_all(pending, &mut writes)?;
                sent += (pending * args.players) as u64;
                pending = 0;
                window_end = None;
            }
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            pending += len;
            if args.coalesce.is_zero() {
                write_all(pending, &mut writes)?;
                sent += (pending * args.players) as u64;
                pending = 0;
            } else if window_end.is_none() {
                window_end = Some(due + args.coalesce);
            }
        }
    }
    if pending > 0 {
        write_all(pending, &mut writes)?;
        sent += (pending * args.players) as u64;
    }
    let cpu = cpu_seconds()? - cpu_before;
    let elapsed = start.elapsed().as_secs_f64();
    drop(players);
    let mut out = String::new();
    child
        .stdout
        .take()
        .ok_or("no child output")?
        .read_to_string(&mut out)?;
    child.wait()?;
    let received: u64 = out.trim().parse().map_err(|_| "the receiver failed")?;
    println!(
        "players {} coalesce {} ms{}: {:.2} GB sent, {:.2} GB received in {:.1} s; \
         {} writes per player; sender CPU {:.2} s: {:.2} GB per CPU second",
        args.players,
        args.coalesce.as_millis(),
        if args.sendfile { " sendfile" } else { "" },
        sent as f64 / 1e9,
        received as f64 / 1e9,
        elapsed,
        writes,
        cpu,
        sent as f64 / 1e9 / cpu
    );
    Ok(())
}
