//! shakedown's judgement, pure over the model: a journal read and folded into its record
//! ([`journal`]), each expectation's check ([`check`]), verdicts ([`verdict`]), statistics
//! ([`stats`]) and the comparison of two sides of a qualification ([`compare`]). It touches neither
//! Docker nor the host: the same code judges a live run, a saved journal and a remote run's
//! journal. See ARCHITECTURE.md.

// The model's modules under their usual names, so judging code names them as `crate::record`, …
use model::{anchor, error, expect, fact, kernel, record, scenario, units};

pub mod check;
pub mod compare;
pub mod journal;
pub mod outcome;
pub mod sequential;
pub mod stats;
pub mod stopping;
pub mod verdict;

pub use journal::{judge_journal, judge_reader};
