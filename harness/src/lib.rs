//! shakedown: a chaos and fault-injection harness for Docker hosts.
//!
//! Data flows one way: [`scenario`] (YAML → validated plan) → [`runner`] (executes on an [`engine`] target,
//! appends typed events to the [`journal`], every change through the [`ledger`] first) →
//! [`journal::fold`] (→ [`record`]) → [`verdict`] (pure judgement) → [`report`] (terminal, JSON,
//! JUnit). Actions live in [`action`] (their arguments) and [`execute`] (how they run, through their
//! API in [`ctx`]), expectations in [`expect`] and their checks in [`check`], one file each;
//! [`docker`] is the only module that talks to the Docker API, and [`host`] does every bounded,
//! PID-safe piece of host work.

pub use judge::{check, stats, verdict};
pub use model::{
    action, anchor, dispatch_action, error, expect, fact, kernel, record, signal, units,
};

pub mod clean;
pub mod cli;
pub mod ctx;
pub mod docker;
pub mod engine;
pub mod execute;
pub mod fixture;
pub mod forensics;
pub mod host;
pub mod images;
pub mod journal;
pub mod leaks;
pub mod ledger;
pub mod net;
pub mod proc;
pub mod qualify;
pub mod remote;
pub mod report;
pub mod resources;
pub mod runner;
pub mod scenario;
pub mod session;
pub mod ssh;
pub mod vm;

/// This build's version as `--version` prints it: the package version and a hash of the sources it
/// was built from (`build.rs`), so that two binaries that would stream and judge journals
/// differently never pass for one another (see [`remote`]).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (source ",
    env!("SHAKEDOWN_SOURCE_ID"),
    ")"
);

/// Wall-clock now, seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// This host's name, for labels that tell which harness created an object.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".into())
}
