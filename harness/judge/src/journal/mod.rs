//! Reading a journal and folding it into its record; the journal's types are the model's
//! ([`model::journal`], re-exported here).

mod fold;
mod read;

pub use fold::{fold, fold_path, fold_reader, outstanding, outstanding_path, Folded, Folder};
pub use model::journal::*;
pub use read::{for_each, read, scan, scan_path, End, Journaled};

use std::path::Path;

use crate::error::Result;
use crate::record::RunRecord;
use crate::verdict::ScenarioVerdict;

/// A journal read, folded and judged: the one way every command turns a journal into verdicts
/// (`run`, `judge`, a remote run's streamed journal, each round of `qualify`).
pub struct Judged {
    /// The plan the journal carries.
    pub plans: Vec<crate::scenario::PlannedScenario>,
    /// Its record.
    pub record: RunRecord,
    /// A verdict per planned scenario, in plan order.
    pub verdicts: Vec<ScenarioVerdict>,
}

/// Reads the journal at `path`, folds it and judges every scenario of its plan.
pub fn judge_journal(path: &Path) -> Result<Judged> {
    Ok(judged(fold_path(path)?))
}

/// [`judge_journal`] of a journal read from `input` (named `name` in messages).
pub fn judge_reader(input: impl std::io::BufRead, name: &str) -> Result<Judged> {
    Ok(judged(fold_reader(input, name)?))
}

/// Judges every scenario of a folded journal's plan.
fn judged(folded: Folded) -> Judged {
    let verdicts = folded
        .plans
        .iter()
        .zip(&folded.record.scenarios)
        .map(|(p, r)| crate::verdict::judge(p, r))
        .collect();
    Judged {
        plans: folded.plans,
        record: folded.record,
        verdicts,
    }
}
