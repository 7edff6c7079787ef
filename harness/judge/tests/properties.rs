//! Properties of the judgement over the model (proptest, case counts kept small so that the whole
//! file runs in a few seconds):
//!
//! - **A cut journal is the journal up to the cut.** For a journal cut after any line (or inside
//!   the next one, as a killed writer leaves it), each scenario whose end — `scenario_finished`,
//!   `scenario_skipped` or `scenario_undecided` — is before the cut has exactly the verdict it has
//!   in the whole journal; every other scenario is `unknown`. A cut before the plan is no journal.
//! - **The qualify comparison is symmetric.** Swapping baseline and candidate swaps `regression`
//!   and `better`, `broken` and `fixed`, and keeps every other kind.

mod common;

use common::{journal, judged, lines, text, Intent};
use judge::compare::{compare, sample, Kind, SideRuns};
use judge::verdict::{Outcome, ScenarioVerdict};
use proptest::prelude::*;

/// The index (0-based) of the line ending each scenario, if the journal has it.
fn ends(text: &str, scenarios: usize) -> Vec<Option<usize>> {
    let mut out = vec![None; scenarios];
    for (i, l) in lines(text).into_iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let ended = matches!(
            v["event"].as_str(),
            Some("scenario_finished" | "scenario_skipped" | "scenario_undecided")
        );
        if ended {
            out[v["scenario"].as_u64().unwrap() as usize] = Some(i);
        }
    }
    out
}

fn same(a: &ScenarioVerdict, b: &ScenarioVerdict) -> bool {
    serde_json::to_value(a).unwrap() == serde_json::to_value(b).unwrap()
}

/// Checks the cut property of a journal's text at every line boundary (and inside the line after
/// it, when `inside` is given as a byte count into it).
fn check_cut(text: &str, after: usize, inside: Option<usize>) -> Result<(), TestCaseError> {
    let whole = judged(text.as_bytes());
    let n = whole.verdicts.len();
    let ls = lines(text);
    let mut cut: String = ls[..after].concat();
    if let Some(k) = inside {
        let next = ls.get(after).copied().unwrap_or("");
        // Never the whole line with its newline: that would be the next boundary.
        let k = k.min(next.len().saturating_sub(1));
        let k = (0..=k)
            .rev()
            .find(|&k| next.is_char_boundary(k))
            .unwrap_or(0);
        cut.push_str(&next[..k]);
    }
    let plan_line = ls
        .iter()
        .position(|l| l.contains("\"event\":\"plan\""))
        .unwrap();
    if after <= plan_line {
        prop_assert!(judge::judge_reader(cut.as_bytes(), "j.jsonl").is_err());
        return Ok(());
    }
    let part = judged(cut.as_bytes());
    prop_assert_eq!(part.verdicts.len(), n);
    for (i, end) in ends(text, n).into_iter().enumerate() {
        let (w, p) = (&whole.verdicts[i], &part.verdicts[i]);
        match end {
            Some(e) if e < after => prop_assert!(
                same(w, p),
                "{} finished at line {} and was cut after {after}: {:?} became {:?}",
                w.name,
                e + 1,
                w,
                p
            ),
            _ => prop_assert_eq!(
                p.outcome,
                Outcome::Unknown,
                "{} cut after {}",
                p.name,
                after
            ),
        }
    }
    Ok(())
}

#[test]
fn every_cut_of_every_real_journal_keeps_finished_verdicts() {
    for (name, text) in common::real_journals() {
        let n = lines(&text).len();
        let whole = judged(text.as_bytes());
        assert!(
            whole.verdicts.iter().all(|v| v.outcome != Outcome::Unknown),
            "{name}: {:?}",
            whole.verdicts
        );
        for after in 0..=n {
            if let Err(e) = check_cut(&text, after, None) {
                panic!("{name}: {e}");
            }
        }
    }
}

fn intent() -> impl Strategy<Value = Intent> {
    prop_oneof![
        4 => Just(Intent::Pass),
        2 => Just(Intent::Fail),
        1 => Just(Intent::Skipped),
        1 => Just(Intent::Undecided),
        1 => Just(Intent::Error),
    ]
}

/// The verdict each intent is judged as when its scenario finished.
fn expected(i: Intent) -> Outcome {
    match i {
        Intent::Pass => Outcome::Pass,
        Intent::Fail | Intent::Error => Outcome::Fail,
        Intent::Skipped => Outcome::Skipped,
        Intent::Undecided => Outcome::Unknown,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_cut_journal_is_the_journal_up_to_the_cut(
        intents in prop::collection::vec(intent(), 1..6),
        iterations in 1u32..4,
        cut in any::<prop::sample::Index>(),
        inside in prop::option::of(0usize..400),
    ) {
        let text = text(&journal(&intents, iterations));
        // The oracle is the intent: the whole journal is judged as written.
        let whole = judged(text.as_bytes());
        let got: Vec<Outcome> = whole.verdicts.iter().map(|v| v.outcome).collect();
        let want: Vec<Outcome> = intents.iter().map(|i| expected(*i)).collect();
        prop_assert_eq!(got, want);
        let after = cut.index(lines(&text).len() + 1);
        check_cut(&text, after, inside)?;
    }
}

/// The kind seen from the other side.
fn mirrored(k: Kind) -> Kind {
    match k {
        Kind::Regression => Kind::Better,
        Kind::Better => Kind::Regression,
        Kind::Broken => Kind::Fixed,
        Kind::Fixed => Kind::Broken,
        other => other,
    }
}

/// A side's rounds: (exit code, stop seconds).
type Rounds = Vec<(i64, f64)>;

/// A side's rounds, mostly passing, timed around `median` seconds.
fn rounds(median: f64) -> impl Strategy<Value = Rounds> {
    prop::collection::vec(
        (prop_oneof![6 => Just(143i64), 1 => Just(137)], 0.8f64..1.25)
            .prop_map(move |(e, noise)| (e, median * noise)),
        0..8,
    )
}

fn sides() -> impl Strategy<Value = (Rounds, Rounds)> {
    // Candidates from twice as fast to twice as slow, so ratios fall on both sides of the
    // default threshold (25%) and near it; medians from below the floor (20ms) to seconds.
    (0.005f64..3.0, 0.5f64..2.0)
        .prop_flat_map(|(base, factor)| (rounds(base), rounds(base * factor)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn swapping_the_sides_of_a_comparison_swaps_its_kinds((b, c) in sides()) {
        let t = model::scenario::Thresholds::default();
        let (sb, sc): (SideRuns, SideRuns) = (sample::side(&b), sample::side(&c));
        let there = compare(&sb, &sc, &t, "x").scenarios[0].clone();
        let back = compare(&sc, &sb, &t, "x").scenarios[0].clone();
        prop_assert_eq!(
            mirrored(there.kind),
            back.kind,
            "baseline {:?} candidate {:?}: {:?} one way, {:?} the other",
            b, c, there.measures, back.measures
        );
        prop_assert_eq!(there.baseline, back.candidate);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// `--repeat auto`: the look after a round decides the same with the sides swapped, and what it
    /// stops as decided, the final comparison at the same level agrees with: a scenario that stops
    /// with a timing the same beyond doubt is not called changed on it, and one that stops with a
    /// timing slower beyond doubt is a regression.
    #[test]
    fn the_stopping_rule_is_symmetric_and_agrees_with_the_report((b, c) in sides()) {
        use judge::sequential::{look, timing, Clock, Next, Policy, Timing};
        let t = model::scenario::Thresholds::default();
        let p = Policy::new(10, None);
        let (sb, sc) = (sample::side(&b), sample::side(&c));
        let there = look(&sb, &sc, [true, true], &t, &p, Clock::default());
        let back = look(&sc, &sb, [true, true], &t, &p, Clock::default());
        prop_assert_eq!(&there, &back);
        if b.len().min(c.len()) < p.min_rounds {
            prop_assert_eq!(there[0].1, Next::Again);
        }
        let (vb, vc): (Vec<f64>, Vec<f64>) =
            (b.iter().map(|r| r.1).collect(), c.iter().map(|r| r.1).collect());
        let one = timing(&vb, &vc, t.of(None, "duration"), p.level());
        let other = timing(&vc, &vb, t.of(None, "duration"), p.level());
        let swapped = match one {
            Timing::Slower => Timing::Faster,
            Timing::Faster => Timing::Slower,
            x => x,
        };
        prop_assert_eq!(swapped, other);
        let report = judge::compare::compare_at(&sb, &sc, &t, "x", p.level());
        let passing = |r: &Rounds| !r.is_empty() && r.iter().all(|x| x.0 == 143);
        if passing(&b) && passing(&c) {
            let expected = match one {
                Timing::Slower => Some(Kind::Regression),
                Timing::Faster => Some(Kind::Better),
                Timing::Same => Some(Kind::Same),
                Timing::Undecided => None,
            };
            if let Some(k) = expected {
                prop_assert_eq!(report.scenarios[0].kind, k, "{:?} {:?}", b, c);
            }
        }
    }
}
