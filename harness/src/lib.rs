//! shakedown: a chaos and fault-injection harness for Docker hosts.
//!
//! Data flows one way: [`scenario`] (YAML → validated plan) → [`runner`] (executes on a [`target`],
//! appends to a [`record`]) → [`verdict`] (pure judgement) → [`report`] (terminal, JSON, JUnit).
//! Actions live in [`action`], expectations in [`expect`], one file each; [`docker`] is the only
//! module that talks to the Docker API, and it puts a deadline on every call.

pub mod action;
pub mod cli;
pub mod docker;
pub mod error;
pub mod expect;
pub mod fixture;
pub mod forensics;
pub mod kernel;
pub mod leaks;
pub mod net;
pub mod proc;
pub mod record;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod signal;
pub mod target;
pub mod units;
pub mod verdict;

/// This host's name, for labels that tell which harness created an object.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".into())
}
