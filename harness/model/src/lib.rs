//! shakedown's vocabulary, shared by every crate above it and doing no I/O: scenarios as written
//! and planned ([`scenario`]), what each action takes ([`action`]) and each expectation asks
//! ([`expect`]), the journal's events and the ledger's changes ([`journal`]), the record a journal
//! folds into ([`record`]), units, signals, kernel-line classes, comparison anchors, and the exit
//! codes with the typed interruption ([`error`]). See ARCHITECTURE.md.

pub mod action;
pub mod anchor;
pub mod config;
pub mod error;
pub mod expect;
pub mod fact;
pub mod journal;
pub mod kernel;
pub mod limits;
pub mod record;
pub mod scenario;
pub mod signal;
pub mod units;
