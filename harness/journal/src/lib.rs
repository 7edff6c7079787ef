//! The journal: its types are the model's ([`model::journal`]), reading and folding it the judge's
//! ([`judge::journal`]), both re-exported here; this module writes it ([`Journal`]).

mod writer;

pub use judge::journal::*;
pub use writer::{Journal, JournalError, Listener};
