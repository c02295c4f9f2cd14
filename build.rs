//! Generates `include/rtmp_core.h` from the C ABI in `src/ffi` with cbindgen.
//!
//! The header is checked in so C users need nothing but it and the library. In a git
//! checkout the build rewrites it when the ABI changed; CI then fails on `git diff`, so a
//! stale header can't land. Outside a checkout (a packaged crate) it is written to OUT_DIR
//! only.
//!
//! On Linux it also gives the cdylib a versioned SONAME, librtmp_core.so.MAJOR.

use std::{env, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=src/ffi/server.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    let version = env::var("CARGO_PKG_VERSION").expect("set by cargo");
    let [major, minor, patch] = ["MAJOR", "MINOR", "PATCH"]
        .map(|part| env::var(format!("CARGO_PKG_VERSION_{part}")).expect("set by cargo"));
    // The shared library's SONAME carries the major version, so programs linked against
    // 0.x load librtmp_core.so.0 (scripts/install-c.sh makes the symlinks).
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librtmp_core.so.{major}");
    }
    let defines = format!(
        "\n#define RTMP_CORE_VERSION \"{version}\"\n\
         #define RTMP_CORE_VERSION_MAJOR {major}\n\
         #define RTMP_CORE_VERSION_MINOR {minor}\n\
         #define RTMP_CORE_VERSION_PATCH {patch}\n"
    );
    // Only the ffi module is the C ABI; public constants elsewhere are Rust API.
    let bindings = match cbindgen::Builder::new()
        .with_src(crate_dir.join("src/ffi/mod.rs"))
        .with_config(config)
        .with_after_include(defines)
        .generate()
    {
        Ok(b) => b,
        Err(e) => {
            // Let rustc report the real error in the source instead of failing here.
            println!("cargo:warning=cbindgen failed: {e}");
            return;
        }
    };
    bindings.write_to_file(out_dir.join("rtmp_core.h"));
    if crate_dir.join(".git").exists() {
        bindings.write_to_file(crate_dir.join("include/rtmp_core.h"));
    }
}
