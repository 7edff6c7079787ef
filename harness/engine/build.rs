//! Compiles `fixture/fixture.rs` into a fully static `shakedown-fixture` executable in `OUT_DIR`,
//! which `src/fixture.rs` embeds and puts into the offline fixture image. The image is `FROM scratch`
//! (no libc, no loader), so the helper must be static: glibc linked in with `+crt-static` (static-pie).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=fixture/fixture.rs");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let source = manifest_dir.join("fixture").join("fixture.rs");

    // The helper is compiled again only when its source changed.
    let stamp = out.join("shakedown-fixture.source");
    let helper_source = std::fs::read(&source).unwrap_or_default();
    if out.join("shakedown-fixture").is_file()
        && std::fs::read(&stamp).is_ok_and(|s| s == helper_source)
    {
        return;
    }
    let target = gnu_target(
        &std::env::var("TARGET")
            .or_else(|_| std::env::var("HOST"))
            .unwrap_or_else(|_| "x86_64-unknown-linux-gnu".into()),
    );
    // The plain compiler, never RUSTC_WRAPPER / RUSTC_WORKSPACE_WRAPPER: under `cargo clippy` the
    // workspace wrapper is clippy-driver, meant for the crate, not for this helper.
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let bin = out.join("shakedown-fixture");
    let result = Command::new(&rustc)
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .args(["--edition", "2021"])
        .args(["-C", "opt-level=2"])
        .args(["-C", "target-feature=+crt-static"])
        .args(["-C", "strip=symbols"])
        .args(["--target", &target])
        .args(["--crate-name", "shakedown_fixture"])
        .arg(&source)
        .arg("-o")
        .arg(&bin)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "running {} for the fixture helper: {e}",
                rustc.to_string_lossy()
            )
        });
    if !result.status.success() {
        panic!(
            "compiling {} into a static {target} executable failed ({}):\n{}",
            source.display(),
            result.status,
            String::from_utf8_lossy(&result.stderr)
        );
    }
    std::fs::write(&stamp, &helper_source).expect("writing the helper's stamp");
}

/// The `-linux-gnu` target for the build's architecture: glibc's static-pie is what `+crt-static`
/// gives there (x86_64 is the one that is tested; ARM's `gnueabihf` targets are kept as they are).
fn gnu_target(target: &str) -> String {
    if target.contains("-linux-gnu") {
        return target.to_string();
    }
    let arch = target.split('-').next().unwrap_or("x86_64");
    format!("{arch}-unknown-linux-gnu")
}
