//! The C ABI from C: the library installed into a scratch prefix by
//! scripts/install-c.sh, the examples compiled with plain cc / c++ under -Wall -Werror
//! with flags from pkg-config against the shared and the static library, and run against
//! real peers; the header also compiles as C++17.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::c_build::{compile, compile_with, pkg_config, prefix, Link};
use support::{decode_errors, free_port, packet_counts, require, scratch, source_flv, Peer};

fn run_and_publish(binary: &Path, name: &str) -> String {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    std::env::set_var("LD_LIBRARY_PATH", prefix().join("lib"));
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

/// Builds a server example (shared and static), runs it while ffmpeg publishes, and checks
/// its per-stream counts.
fn server_example_counts_what_ffmpeg_published(source: &str, tag: &str) {
    let (_, (video, audio)) = *source_flv();
    for link in [Link::Shared, Link::Static] {
        let name = format!(
            "{tag}-{}",
            if link == Link::Static {
                "static"
            } else {
                "shared"
            }
        );
        let binary = scratch().join(&name);
        compile(source, &binary, link);
        let log = run_and_publish(&binary, &name);
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
fn c_server_example_counts_what_ffmpeg_published() {
    server_example_counts_what_ffmpeg_published("examples/c/server.c", "c-server");
}

#[test]
fn cpp_server_example_counts_what_ffmpeg_published() {
    server_example_counts_what_ffmpeg_published("examples/cpp/server.cpp", "cpp-server");
    let log = std::fs::read_to_string(scratch().join("cpp-server-shared.log")).unwrap();
    // The wrapper's metadata view read the width ffmpeg sent.
    assert!(
        log.contains("metadata live/cpp-server-shared width=320"),
        "{log}"
    );
}

#[test]
fn headers_compile_as_c11_and_cpp17_without_warnings() {
    let flags = pkg_config(&["--cflags"]);
    for (compiler, std, include) in [
        ("cc", "-std=c11", "rtmp_core.h"),
        ("c++", "-std=c++17", "rtmp_core.h"),
        ("c++", "-std=c++17", "rtmp_core.hpp"),
    ] {
        require(compiler);
        let source = scratch().join(if compiler == "cc" {
            "header.c".to_owned()
        } else {
            format!("{include}.cpp")
        });
        std::fs::write(
            &source,
            format!("#include \"{include}\"\nint main(void) {{ return rtmp_version() == 0; }}\n"),
        )
        .unwrap();
        let out = Command::new(compiler)
            .args([
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                std,
                "-fsyntax-only",
            ])
            .args(&flags)
            .arg(&source)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{compiler} {include}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_installed_library_has_a_versioned_soname_and_programs_need_it() {
    require("readelf");
    let lib = prefix().join("lib");
    let version = env!("CARGO_PKG_VERSION");
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    let dynamic = |path: &Path| {
        let out = Command::new("readelf")
            .arg("-d")
            .arg(path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let real = lib.join(format!("librtmp_core.so.{version}"));
    assert!(dynamic(&real).contains(&format!("Library soname: [librtmp_core.so.{major}]")));
    for link in [format!("librtmp_core.so.{major}"), "librtmp_core.so".into()] {
        assert_eq!(
            std::fs::canonicalize(lib.join(&link)).unwrap(),
            std::fs::canonicalize(&real).unwrap(),
            "{link}"
        );
    }
    assert_eq!(pkg_config(&["--modversion"]), [version]);
    let binary = scratch().join("c-server-needed");
    compile("examples/c/server.c", &binary, Link::Shared);
    assert!(dynamic(&binary).contains(&format!("Shared library: [librtmp_core.so.{major}]")));
    let cmake = lib.join("cmake/rtmp_core");
    let config = std::fs::read_to_string(cmake.join("rtmp_coreConfig.cmake")).unwrap();
    assert!(config.contains(&format!("librtmp_core.so.{version}")));
    assert!(cmake.join("rtmp_coreConfigVersion.cmake").exists());
}

/// A full publish/play cycle through the C API (tests/c/lifecycle.c: server, local
/// publisher, playing and publishing clients, frames, metadata, packager, stats, log
/// callback) under valgrind: no leak, no invalid access, no suppression.
#[test]
fn c_lifecycle_under_valgrind_leaks_nothing_and_touches_nothing_invalid() {
    run_cycle("tests/c/lifecycle.c", "kept=8");
}

/// The C++ wrapper's whole surface (tests/c/wrapper.cpp: Server with a callback relaying
/// into a LocalPublisher, Clients publishing Frames and polling Notices, Metadata,
/// Packager, Error, the log callback) natively and under valgrind, like the C cycle.
#[test]
fn cpp_wrapper_cycle_under_valgrind_leaks_nothing_and_touches_nothing_invalid() {
    run_cycle("tests/c/wrapper.cpp", "kept=14");
}

/// Builds `source` and runs it on the test FLV three ways: natively against the static
/// library; under valgrind against the shared one; built with AddressSanitizer and
/// UndefinedBehaviorSanitizer (any report fails) against the shared one. Each time the
/// player must get what was published and `expect` must be in the output; valgrind must
/// find no leak and no error.
fn run_cycle(source_file: &str, expect: &str) {
    require("valgrind");
    let (source, _) = source_flv().clone();
    std::env::set_var("LD_LIBRARY_PATH", prefix().join("lib"));
    let stem = Path::new(source_file)
        .file_stem()
        .unwrap()
        .to_string_lossy();
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Run {
        Static,
        Valgrind,
        Sanitizers,
    }
    for run in [Run::Static, Run::Valgrind, Run::Sanitizers] {
        let binary = scratch().join(format!("cycle-{stem}-{run:?}"));
        let mut command = match run {
            Run::Static => {
                compile(source_file, &binary, Link::Static);
                Command::new(&binary)
            }
            Run::Valgrind => {
                compile(source_file, &binary, Link::Shared);
                let mut c = Command::new("valgrind");
                c.args([
                    "--error-exitcode=99",
                    "--leak-check=full",
                    "--errors-for-leak-kinds=definite,indirect",
                    "--show-leak-kinds=definite,indirect",
                ])
                .arg(&binary);
                c
            }
            Run::Sanitizers => {
                let flags = [
                    "-g",
                    "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=all",
                ];
                compile_with(source_file, &binary, Link::Shared, &flags);
                let mut c = Command::new(&binary);
                c.env(
                    "ASAN_OPTIONS",
                    "detect_leaks=1:abort_on_error=0:exitcode=98",
                );
                c
            }
        };
        // Each cycle records into an FLV file: the C one what the server tapped.
        let recording = scratch().join(format!("cycle-{stem}-{run:?}.flv"));
        let _ = std::fs::remove_file(&recording);
        command.arg(&source).arg(&recording);
        let out = command.output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "{run:?}: {}\n{stdout}\n{stderr}",
            out.status
        );
        let published = stdout
            .lines()
            .find_map(|l| l.strip_prefix("published "))
            .unwrap();
        assert!(stdout.contains(&format!("played {published}")), "{stdout}");
        if source_file.ends_with(".c") {
            assert!(
                stdout.contains(&format!("recorded {published} metadata=1")),
                "{stdout}"
            );
            let counts = |line: &str| -> Option<(usize, usize)> {
                let (v, a) = line.strip_prefix("video=")?.split_once(" audio=")?;
                Some((v.parse().ok()?, a.parse().ok()?))
            };
            assert_eq!(Some(packet_counts(&recording)), counts(published));
            assert_eq!(decode_errors(&recording), "");
        }
        assert!(
            stdout.contains("metadata=1") && stdout.contains(expect),
            "{stdout}"
        );
        if run == Run::Valgrind {
            for line in [
                "definitely lost: 0 bytes in 0 blocks",
                "indirectly lost: 0 bytes in 0 blocks",
                "ERROR SUMMARY: 0 errors from 0 contexts",
            ] {
                assert!(stderr.contains(line), "{line:?} missing:\n{stderr}");
            }
        }
    }
}

/// The CMake package: a consumer project finds rtmp_core in the scratch prefix and builds
/// the C example against the shared target and the C++ one against the static target; a
/// project asking for a newer minor version does not find it.
#[test]
fn cmake_projects_find_the_installed_package() {
    require("cmake");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = scratch().join("cmake-consumer");
    let _ = std::fs::remove_dir_all(&project);
    std::fs::create_dir_all(project.join("newer")).unwrap();
    std::fs::write(
        project.join("CMakeLists.txt"),
        format!(
            "cmake_minimum_required(VERSION 3.16)\n\
             project(consumer C CXX)\n\
             find_package(rtmp_core {major}.{minor} REQUIRED)\n\
             add_executable(server_c {root}/examples/c/server.c)\n\
             target_compile_options(server_c PRIVATE -Wall -Wextra -Werror)\n\
             target_link_libraries(server_c PRIVATE rtmp_core::rtmp_core)\n\
             add_executable(server_cpp {root}/examples/cpp/server.cpp)\n\
             set_target_properties(server_cpp PROPERTIES CXX_STANDARD 17)\n\
             target_compile_options(server_cpp PRIVATE -Wall -Wextra -Werror)\n\
             target_link_libraries(server_cpp PRIVATE rtmp_core::static)\n",
            major = env!("CARGO_PKG_VERSION_MAJOR"),
            minor = env!("CARGO_PKG_VERSION_MINOR"),
            root = root.display(),
        ),
    )
    .unwrap();
    std::fs::write(
        project.join("newer/CMakeLists.txt"),
        format!(
            "cmake_minimum_required(VERSION 3.16)\n\
             project(newer NONE)\n\
             find_package(rtmp_core {}.{} QUIET)\n\
             if(rtmp_core_FOUND)\n  message(FATAL_ERROR \"a newer minor version was accepted\")\n\
             endif()\n",
            env!("CARGO_PKG_VERSION_MAJOR"),
            env!("CARGO_PKG_VERSION_MINOR").parse::<u32>().unwrap() + 1,
        ),
    )
    .unwrap();
    let run = |args: &[&str], dir: &Path| {
        let out = Command::new("cmake")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cmake {args:?}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let prefix_path = format!("-DCMAKE_PREFIX_PATH={}", prefix().display());
    run(&["-S", ".", "-B", "build", &prefix_path], &project);
    run(&["--build", "build"], &project);
    for binary in ["server_c", "server_cpp"] {
        assert!(project.join("build").join(binary).exists(), "{binary}");
    }
    run(
        &["-S", ".", "-B", "build", &prefix_path],
        &project.join("newer"),
    );
}
