//! The C ABI from C: examples/c/server.c compiled with plain cc under -Wall -Werror
//! against both the shared and the static library, run while ffmpeg publishes; the header
//! also compiles as C++17.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{free_port, require, scratch, source_flv, Peer};

/// target/debug (or release): where cargo put librtmp_core.{so,a} for this test run.
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn compile(output: &Path, link_static: bool) {
    require("cc");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = library_dir();
    let mut cc = Command::new("cc");
    cc.args(["-Wall", "-Wextra", "-Werror", "-std=c11"])
        .arg(format!("-I{}", root.join("include").display()))
        .arg(root.join("examples/c/server.c"))
        .arg("-o")
        .arg(output);
    if link_static {
        cc.arg(lib.join("librtmp_core.a"))
            .args(["-lpthread", "-ldl", "-lm"]);
    } else {
        cc.arg(format!("-L{}", lib.display())).arg("-lrtmp_core");
    }
    let out = cc.output().unwrap();
    assert!(
        out.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_and_publish(binary: &Path, name: &str) -> String {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let lib = library_dir();
    std::env::set_var("LD_LIBRARY_PATH", &lib);
    let mut server = Peer::spawn(name, binary.to_str().unwrap(), &["--listen", &listen]);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (source, _) = source_flv().clone();
    let url = format!("rtmp://{listen}/live/{name}");
    let mut publisher = Peer::spawn(
        &format!("{name}-ffmpeg"),
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            source.to_str().unwrap(),
            "-c",
            "copy",
            "-f",
            "flv",
            &url,
        ],
    );
    publisher.finish(Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    server.interrupt();
    server.finish(Duration::from_secs(10));
    server.log_text()
}

#[test]
fn c_server_example_counts_what_ffmpeg_published() {
    let (_, (video, audio)) = *source_flv();
    for link_static in [false, true] {
        let name = if link_static {
            "c-server-static"
        } else {
            "c-server-shared"
        };
        let binary = scratch().join(name);
        compile(&binary, link_static);
        let log = run_and_publish(&binary, name);
        // ffmpeg's FLV ends video with an AVC end-of-sequence message: one more than the
        // file's video packets; sequence headers are not counted.
        let expected = format!("unpublish live/{name} video={} audio={audio}", video + 1);
        assert!(log.contains(&expected), "expected {expected:?} in:\n{log}");
        assert!(
            log.contains("connect ") && log.contains("disconnect ") && log.ends_with("stopped\n"),
            "{log}"
        );
    }
}

#[test]
fn header_compiles_as_c11_and_cpp17_without_warnings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let include = format!("-I{}", root.join("include").display());
    for (compiler, std) in [("cc", "-std=c11"), ("c++", "-std=c++17")] {
        require(compiler);
        let source = scratch().join(if compiler == "cc" {
            "header.c"
        } else {
            "header.cpp"
        });
        std::fs::write(
            &source,
            "#include \"rtmp_core.h\"\nint main(void) { return rtmp_version() == 0; }\n",
        )
        .unwrap();
        let out = Command::new(compiler)
            .args([
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                std,
                &include,
                "-fsyntax-only",
            ])
            .arg(&source)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{compiler}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
