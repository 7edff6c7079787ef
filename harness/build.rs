//! Embeds the built-in suite: every `scenarios/*.yaml` of the repository becomes an entry of
//! `BUILTIN` (`$OUT_DIR/builtin.rs`), so a copied binary carries its scenarios.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let suite = manifest_dir
        .parent()
        .expect("harness/ has a parent")
        .join("scenarios");
    println!("cargo:rerun-if-changed={}", suite.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&suite)
        .unwrap_or_else(|e| panic!("reading {}: {e}", suite.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut code = String::from("/// The built-in scenarios: file name and text.\npub const BUILTIN: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().expect("a file name").to_string_lossy();
        code.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            f.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("builtin.rs"), code).expect("writing builtin.rs");
}
