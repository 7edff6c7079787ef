//! This build's version, as `--version` prints it and reports record it.

/// The package version and a hash of the sources the harness was built from (`build.rs`), so that
/// two binaries that would stream and judge journals differently never pass for one another.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (source ",
    env!("SHAKEDOWN_SOURCE_ID"),
    ")"
);

/// The hash of the sources alone (the part of [`VERSION`] in parentheses).
pub const SOURCE_ID: &str = env!("SHAKEDOWN_SOURCE_ID");
