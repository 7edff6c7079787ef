//! shakedown: a chaos and fault-injection harness for Docker hosts.
//!
//! This package is the binary's own part: the command line ([`cli`], one module per command) and
//! [`qualify`] (rounds of runs on two sides, locally or remotely, compared). Everything else lives
//! in the workspace's crates, re-exported here under the names the integration tests use. Data
//! flows one way: [`model`] (scenarios, plans, journal events — no I/O) → [`run`] (executes on an
//! [`engine`] target through [`docker`] and [`host`], every change through the [`ledger`] first,
//! appending typed events to the [`journal`]) → [`judge`] (fold and verdicts) → [`report`]. See
//! ARCHITECTURE.md.

pub use judge::{check, stats, verdict};
pub use model::{
    action, anchor, dispatch_action, error, expect, fact, kernel, record, signal, units,
};
pub use version::VERSION;

pub use docker;
pub use engine;
pub use engine::{fixture, images};
pub use host;
pub use host::{forensics, hostname, leaks, net, proc, unix_now};
pub use journal;
pub use ledger;
pub use remote;
pub use remote::{ssh, vm};
pub use report;
pub use run::{clean, ctx, execute, resources, runner, scenario, session};

pub mod cli;
pub mod qualify;
