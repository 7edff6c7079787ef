//! The journal: its types are the model's ([`model::journal`], re-exported here); this module
//! writes it ([`Journal`]), reads it and folds it into the record ([`fold`]).

mod fold;
mod read;
mod writer;

pub use fold::{fold, fold_path, outstanding, outstanding_path, Folded};
pub use model::journal::*;
pub use read::{for_each, read, Journaled};
pub use writer::{Journal, JournalError, Listener};
