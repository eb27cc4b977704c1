//! Links the `prefab` binary with packed relative relocations (`DT_RELR`) where the C library
//! supports them: the binary's ~28,000 relative relocations then take a few kilobytes instead of
//! 650 KiB that every `prefab` process reads at start-up (measured: less memory for `inspect` and
//! `deploy`, docs/performance.md). Only for native Linux/glibc builds whose glibc has
//! `GLIBC_ABI_DT_RELR` (2.36+); elsewhere the binary is linked as before.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = env::var("TARGET").unwrap_or_default();
    let host = env::var("HOST").unwrap_or_default();
    let linux_gnu = env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if !linux_gnu || target != host {
        return;
    }
    if glibc_has_dt_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the C library the linker will use defines the `GLIBC_ABI_DT_RELR` version.
fn glibc_has_dt_relr() -> bool {
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let Ok(out) = Command::new(cc).arg("-print-file-name=libc.so.6").output() else {
        return false;
    };
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !path.is_absolute() {
        return false;
    }
    std::fs::read(&path).is_ok_and(|bytes| {
        bytes
            .windows(b"GLIBC_ABI_DT_RELR".len())
            .any(|w| w == b"GLIBC_ABI_DT_RELR")
    })
}
