//! Qualify an upgrade: the same scenarios on a baseline and a candidate (an engine, a daemon
//! configuration, or saved journals), round after round, then a comparison per scenario — from the
//! verdicts, and from each timing's distribution on both sides — that does not call noise a
//! regression: a timing changes only when the bootstrap interval of its ratio of medians lies
//! entirely beyond the threshold, and the change is larger than an absolute floor.
//!
//! [`side`] parses the sides, [`compare`] is the pure comparison of journals, [`run`] runs the
//! rounds (interleaved, so that drift on the machine hits both sides alike).

pub use judge::compare;
pub mod run;
pub mod side;

pub use ::run::scenario::Thresholds;
pub use compare::{compare, Kind, QualifyReport, SideRuns};
pub use side::Side;
