//! Compiles `fixture/fixture.rs` into a fully static `shakedown-fixture` executable in `OUT_DIR`,
//! which `src/fixture.rs` embeds and puts into the offline fixture image. The image is `FROM scratch`
//! (no libc, no loader), so the helper must be static: glibc linked in with `+crt-static` (static-pie).
//!
//! Also sets `SHAKEDOWN_SOURCE_ID`, a hash of the sources (`src/`, `fixture/`, `build.rs`,
//! `Cargo.toml`, and the `src/` and `Cargo.toml` of every workspace crate under this directory),
//! which `--version` prints: a binary copied to an SSH host must match the one that judges its
//! journal.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=fixture/fixture.rs");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let mut files = vec![
        manifest_dir.join("build.rs"),
        manifest_dir.join("Cargo.toml"),
        manifest_dir.join("fixture").join("fixture.rs"),
    ];
    collect(&manifest_dir.join("src"), &mut files);
    // The workspace's other crates beside this one (harness/model, harness/judge, …): what they
    // plan and judge is this binary's behaviour too.
    let mut crates: Vec<PathBuf> = std::fs::read_dir(&manifest_dir)
        .expect("reading the package directory")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file() && p.join("src").is_dir())
        .collect();
    crates.sort();
    for c in crates {
        println!("cargo:rerun-if-changed={}", c.join("src").display());
        println!("cargo:rerun-if-changed={}", c.join("Cargo.toml").display());
        files.push(c.join("Cargo.toml"));
        collect(&c.join("src"), &mut files);
    }
    files.sort();
    let mut id = Fnv::default();
    for f in &files {
        let rel = f.strip_prefix(&manifest_dir).unwrap_or(f);
        id.write(rel.to_string_lossy().as_bytes());
        id.write(&[0]);
        id.write(&std::fs::read(f).unwrap_or_else(|e| panic!("reading {}: {e}", f.display())));
        id.write(&[0]);
    }
    println!("cargo:rustc-env=SHAKEDOWN_SOURCE_ID={:016x}", id.0);

    let source = manifest_dir.join("fixture").join("fixture.rs");
    // The helper is compiled again only when its source changed (this script also runs for every
    // change under src/, for the id above).
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

/// Every file below `dir`, recursively.
fn collect(dir: &std::path::Path, files: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for e in entries {
        let path = e.expect("a directory entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// FNV-1a, 64 bits: stable across compilers, unlike `std`'s hasher.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
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
