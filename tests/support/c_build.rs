//! Building C and C++ programs against the library as a user would: installed by
//! scripts/install-c.sh, flags from pkg-config, every warning an error.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::{require, scratch};

/// target/debug (or release): where cargo put librtmp_core.{so,a} for this test run.
pub fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// This run's libraries and headers installed by scripts/install-c.sh into a scratch
/// prefix, once per test binary: every C program of the tests builds against the installed
/// tree.
pub fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let binary = std::env::current_exe().unwrap();
        let name = binary.file_stem().unwrap().to_string_lossy().into_owned();
        assert_libraries_are_current(root);
        let prefix = scratch().join(format!("prefix-{name}"));
        let _ = std::fs::remove_dir_all(&prefix);
        let out = Command::new("bash")
            .arg(root.join("scripts/install-c.sh"))
            .arg(&prefix)
            .arg(library_dir())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "install-c.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        prefix
    })
}

/// `pkg-config ARGS rtmp_core` against the scratch prefix, split into arguments.
pub fn pkg_config(args: &[&str]) -> Vec<String> {
    require("pkg-config");
    let out = Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", prefix().join("lib/pkgconfig"))
        .args(args)
        .arg("rtmp_core")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pkg-config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Shared,
    Static,
}

/// Compiles `source` (C11, or C++17 for .cpp) with every warning an error, against the
/// installed shared or static library, flags from pkg-config.
pub fn compile(source: &str, output: &Path, link: Link) {
    compile_with(source, output, link, &[]);
}

/// `compile` with extra compiler flags (e.g. sanitizers).
pub fn compile_with(source: &str, output: &Path, link: Link, extra: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cpp = source.ends_with(".cpp");
    let (compiler, std) = if cpp {
        ("c++", "-std=c++17")
    } else {
        ("cc", "-std=c11")
    };
    require(compiler);
    let mut cc = Command::new(compiler);
    cc.args(["-Wall", "-Wextra", "-Werror", std])
        .args(extra)
        .args(pkg_config(&["--cflags"]))
        .arg(root.join(source))
        .arg("-o")
        .arg(output);
    match link {
        Link::Shared => cc.args(pkg_config(&["--libs"])),
        Link::Static => cc.arg(prefix().join("lib/librtmp_core.a")).args(
            pkg_config(&["--static", "--libs-only-l"])
                .into_iter()
                .filter(|l| l != "-lrtmp_core"),
        ),
    };
    let out = cc.output().unwrap();
    assert!(
        out.status.success(),
        "{compiler} {source} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `cargo test` builds the rlib its tests link, not the cdylib and staticlib the C programs
/// link: fail, rather than test an old library, when a source of the library build (as
/// listed in cargo's dep-info, librtmp_core.d) is newer than them.
fn assert_libraries_are_current(root: &Path) {
    let modified = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .unwrap_or(std::time::SystemTime::UNIX_EPOCH)
    };
    let dep_info = std::fs::read_to_string(library_dir().join("librtmp_core.d"))
        .unwrap_or_else(|_| panic!("no librtmp_core.d: run `cargo build --lib` first"));
    let sources = dep_info
        .lines()
        .filter_map(|line| line.split_once(": "))
        .flat_map(|(_, deps)| deps.split_whitespace())
        .map(|dep| modified(Path::new(dep)))
        .max()
        .unwrap_or_else(|| modified(&root.join("src/lib.rs")));
    for lib in ["librtmp_core.so", "librtmp_core.a"] {
        let path = library_dir().join(lib);
        assert!(
            modified(&path) >= sources,
            "{} is older than its sources: run `cargo build --lib` before these tests",
            path.display()
        );
    }
}
