//! Sequential rounds (`qualify --repeat auto`): after each round, which scenarios run again. A pure
//! function of the journals so far (folded into each side's runs), the thresholds, the policy, and
//! the time spent (measured by the orchestrator and passed in as data); and the order a round
//! runs its scenarios in.
//!
//! A scenario runs at least [`MIN_ROUNDS`] rounds per side; after that it stops as soon as it is
//! decided: its verdict is the same in every round on each side, and every timing both sides
//! measured is either the same beyond doubt (its 95% interval lies within the threshold, or the
//! whole interval within the floor) or changed beyond doubt (its interval at the stricter
//! [`Policy::level`] lies entirely beyond the threshold and the floor) — or one timing is slower
//! beyond doubt, which makes it a regression whatever the others become. Otherwise it runs again,
//! up to the maximum of rounds or while the budget allows another round.
//!
//! Looking after every round and stopping on a change would inflate false alarms; the correction
//! is a Bonferroni split of alpha over the planned looks: with looks after rounds `min..=max`,
//! every interval that can declare a change — at an interim look and in the final report — is at
//! `1 - 0.05 / looks` (99.375% with the defaults 3 and 10), so the chance that any look calls a
//! timing that did not change slower (or faster) stays at most 5%, as with a fixed count at 95%.
//! Stopping because a timing is the *same* cannot raise a false alarm, so that decision uses the
//! 95% interval. With few values a percentile bootstrap's interval spans no more than the data's
//! range at any level, so a change is declared only when the values are enough for a rank test to
//! attain the level ([`crate::stats::attainable`]: with the defaults, 5 against 6 values; a timing
//! measured several times a round gets there in the first rounds).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::compare::{merged, timings, SideRuns, MIN_VALUES, RESAMPLES};
use crate::record::ScenarioRecord;
use crate::scenario::{PlannedScenario, Thresholds};
pub use crate::stopping::{Reason, Stopped};
use crate::verdict::{self, Outcome};

/// Rounds every scenario runs on each side before it may stop.
pub const MIN_ROUNDS: usize = 3;
/// `--max-repeat` when not given.
pub const DEFAULT_MAX_ROUNDS: usize = 10;
/// The false-alarm rate per timing the whole qualification allows.
pub const ALPHA: f64 = 0.05;

/// When scenarios stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Rounds before any may stop.
    pub min_rounds: usize,
    /// Rounds at most.
    pub max_rounds: usize,
    /// No round starts that the last round's duration says would end past this.
    pub budget: Option<Duration>,
}

impl Policy {
    /// At least [`MIN_ROUNDS`] (fewer only when `max_rounds` is smaller), at most `max_rounds`.
    pub fn new(max_rounds: usize, budget: Option<Duration>) -> Policy {
        let max_rounds = max_rounds.max(1);
        Policy {
            min_rounds: MIN_ROUNDS.min(max_rounds),
            max_rounds,
            budget,
        }
    }

    /// Looks that may stop a scenario: after every round from the minimum to the maximum.
    pub fn looks(&self) -> usize {
        self.max_rounds.saturating_sub(self.min_rounds) + 1
    }

    /// The confidence level of every interval that may declare a change: [`ALPHA`] split evenly
    /// over the looks.
    pub fn level(&self) -> f64 {
        1.0 - ALPHA / self.looks() as f64
    }
}

/// Time, as the orchestrator measured it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    /// Since the first round started.
    pub spent: Duration,
    /// The last round's wall time (both sides).
    pub last_round: Duration,
}

/// One look's answer for a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// It runs in the next round.
    Again,
    /// It stopped.
    Stop(Stopped),
}

fn records_of<'a>(side: &'a SideRuns, name: &str) -> Vec<&'a ScenarioRecord> {
    side.records
        .iter()
        .filter_map(|r| r.scenarios.iter().find(|s| s.name == name))
        .collect()
}

/// The look after a round, per scenario of the baseline's plan (in its order). `counted` says
/// which sides' rounds count (the sides that run; a side of saved journals does not).
pub fn look(
    base: &SideRuns,
    cand: &SideRuns,
    counted: [bool; 2],
    thresholds: &Thresholds,
    policy: &Policy,
    clock: Clock,
) -> Vec<(String, Next)> {
    base.plans
        .iter()
        .map(|plan| {
            let name = plan.name();
            let cand_plan = cand.plans.iter().find(|p| p.name() == name).unwrap_or(plan);
            let (b, c) = (records_of(base, name), records_of(cand, name));
            let counts = [b.len(), c.len()];
            let rounds = (0..2)
                .filter(|&i| counted[i] || counted == [false, false])
                .map(|i| counts[i])
                .min()
                .unwrap_or(0);
            let next = if rounds < policy.min_rounds {
                Next::Again
            } else if decided(plan, cand_plan, &b, &c, thresholds, policy.level()) {
                Next::Stop(Stopped {
                    rounds,
                    reason: Reason::Decided,
                })
            } else if rounds >= policy.max_rounds {
                Next::Stop(Stopped {
                    rounds,
                    reason: Reason::MaxRounds,
                })
            } else if policy
                .budget
                .is_some_and(|b| clock.spent.saturating_add(clock.last_round) > b)
            {
                Next::Stop(Stopped {
                    rounds,
                    reason: Reason::Budget,
                })
            } else {
                Next::Again
            };
            (name.to_string(), next)
        })
        .collect()
}

/// Whether a scenario's answer is known: the same verdict in every round on each side, and every
/// timing decided when both sides pass.
fn decided(
    base_plan: &PlannedScenario,
    cand_plan: &PlannedScenario,
    b: &[&ScenarioRecord],
    c: &[&ScenarioRecord],
    thresholds: &Thresholds,
    level: f64,
) -> bool {
    let outcomes = |plan: &PlannedScenario, rs: &[&ScenarioRecord]| -> Option<Outcome> {
        let mut all = rs.iter().map(|r| verdict::judge(plan, r).outcome);
        let first = all.next()?;
        all.all(|o| o == first).then_some(first)
    };
    match (outcomes(base_plan, b), outcomes(cand_plan, c)) {
        (Some(Outcome::Pass), Some(Outcome::Pass)) => {}
        (Some(_), Some(_)) => return true,
        _ => return false,
    }
    let (tb, tc) = (timings(&merged(b)), timings(&merged(c)));
    let looks: Vec<Timing> = tb
        .iter()
        .filter_map(|((step, measure), (_, vb))| {
            let (_, vc) = tc.get(&(step.clone(), measure.clone()))?;
            let limits = thresholds.of(base_plan.scenario.thresholds.as_ref(), measure);
            Some(timing(vb, vc, limits, level))
        })
        .collect();
    // One timing slower beyond doubt makes it a regression whatever the others become.
    looks.contains(&Timing::Slower) || !looks.contains(&Timing::Undecided)
}

/// What a look says of one timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    /// Its interval still straddles the threshold or the floor (or too few values to tell a
    /// change at the level).
    Undecided,
    /// The same beyond doubt, or not comparable (too few values, a median not positive).
    Same,
    /// Slower beyond doubt.
    Slower,
    /// Faster beyond doubt.
    Faster,
}

/// A timing at a look: the same beyond doubt (95%), or changed beyond doubt (at `level`, with
/// enough values to attain it: [`crate::stats::attainable`]). Symmetric: the sides swapped swap
/// slower and faster.
pub fn timing(base: &[f64], cand: &[f64], (threshold, floor): (f64, f64), level: f64) -> Timing {
    if base.len() < MIN_VALUES || cand.len() < MIN_VALUES {
        return Timing::Same;
    }
    let (Some(mb), Some(mc)) = (crate::stats::median(base), crate::stats::median(cand)) else {
        return Timing::Same;
    };
    let Some((_, lo, hi)) = crate::stats::log_ratio(base, cand, crate::compare::LEVEL, RESAMPLES)
    else {
        return Timing::Same;
    };
    let band = threshold.ln_1p();
    let within = lo >= -band && hi <= band;
    // The difference of medians the interval allows, from the smaller median (so that |mc - mb|
    // is within it whichever side is larger).
    let small = mb.min(mc);
    let under_floor = small * (lo.abs().max(hi.abs()).exp() - 1.0) <= floor;
    if within || under_floor {
        return Timing::Same;
    }
    if !crate::stats::attainable(base.len(), cand.len(), level) {
        return Timing::Undecided;
    }
    let Some((_, lo, hi)) = crate::stats::log_ratio(base, cand, level, RESAMPLES) else {
        return Timing::Same;
    };
    if lo > band && small * (lo.exp() - 1.0) > floor {
        Timing::Slower
    } else if hi < -band && small * ((-hi).exp() - 1.0) > floor {
        Timing::Faster
    } else {
        Timing::Undecided
    }
}

/// The order a round runs `plans` in (indices): the exclusive scenarios first, so that the `--jobs`
/// slots never drain behind one in the middle, then the others, longest first (by their mean time
/// in the rounds so far on either side; plan order for those not yet timed), so that the last to
/// finish is a short one.
pub fn schedule(plans: &[PlannedScenario], sides: &[&SideRuns]) -> Vec<usize> {
    let mut means: BTreeMap<&str, Duration> = BTreeMap::new();
    for p in plans {
        let rs: Vec<&ScenarioRecord> = sides.iter().flat_map(|s| records_of(s, p.name())).collect();
        if !rs.is_empty() {
            let total: Duration = rs
                .iter()
                .map(|r| r.elapsed)
                .fold(Duration::ZERO, |a, b| a.saturating_add(b));
            means.insert(p.name(), total / rs.len() as u32);
        }
    }
    let mut order: Vec<usize> = (0..plans.len()).collect();
    order.sort_by_key(|&i| {
        let p = &plans[i];
        (
            p.exclusive().is_none(),
            std::cmp::Reverse(means.get(p.name()).copied().unwrap_or_default()),
        )
    });
    order
}

#[cfg(test)]
mod tests;
