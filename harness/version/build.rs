//! Sets `SHAKEDOWN_SOURCE_ID`, a hash of the sources of every crate of the harness (each
//! `harness/*/` with a `Cargo.toml`: its `Cargo.toml`, `build.rs`, `src/` and `fixture/`, and the
//! `shakedown` package's own) and the built-in scenarios it embeds (`scenarios/`), which `--version` prints: a binary copied to an SSH host must match
//! the one that judges its journal.

use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let harness = manifest_dir
        .parent()
        .expect("harness/version has a parent")
        .to_path_buf();
    let mut crates: Vec<PathBuf> = std::fs::read_dir(&harness)
        .expect("reading harness/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    crates.push(harness.clone());
    crates.sort();
    let mut files = Vec::new();
    for c in crates {
        for part in ["Cargo.toml", "build.rs", "src", "fixture"] {
            let p = c.join(part);
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
                collect(&p, &mut files);
            }
        }
    }
    let suite = harness
        .parent()
        .expect("harness/ has a parent")
        .join("scenarios");
    if suite.is_dir() {
        println!("cargo:rerun-if-changed={}", suite.display());
        collect(&suite, &mut files);
    }
    files.sort();
    files.dedup();
    let root = harness.parent().expect("harness/ has a parent");
    let mut id = Fnv::default();
    for f in &files {
        let rel = f.strip_prefix(root).unwrap_or(f);
        id.write(rel.to_string_lossy().as_bytes());
        id.write(&[0]);
        id.write(&std::fs::read(f).unwrap_or_else(|e| panic!("reading {}: {e}", f.display())));
        id.write(&[0]);
    }
    println!("cargo:rustc-env=SHAKEDOWN_SOURCE_ID={:016x}", id.0);
}

/// `path` itself if it is a file, else every file below it, recursively.
fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    if !path.is_dir() {
        files.push(path.to_path_buf());
        return;
    }
    let entries =
        std::fs::read_dir(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    for e in entries {
        collect(&e.expect("a directory entry").path(), files);
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
