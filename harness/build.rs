//! Compiles `fixture/fixture.rs` into a fully static `shakedown-fixture` binary that the harness embeds
//! and puts into its offline fixture image (FROM scratch: no libc there, so it must be static).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=fixture/fixture.rs");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let target = std::env::var("TARGET").expect("TARGET");
    // The plain compiler: clippy's wrappers are meant for the crate, not for this helper.
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let bin = out.join("shakedown-fixture");
    let result = Command::new(&rustc)
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args([
            "--edition",
            "2021",
            "-C",
            "opt-level=2",
            "-C",
            "target-feature=+crt-static",
            "-C",
            "strip=symbols",
            "--target",
            &target,
            "--crate-name",
            "shakedown_fixture",
            "fixture/fixture.rs",
            "-o",
        ])
        .arg(&bin)
        .output()
        .expect("run rustc for the fixture helper");
    if !result.status.success() {
        panic!(
            "compiling fixture/fixture.rs failed:\n{}",
            String::from_utf8_lossy(&result.stderr)
        );
    }
}
