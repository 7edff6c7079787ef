use super::*;
use crate::compare::sample::side;
use crate::compare::{compare, compare_at, Kind};

fn stop(rounds: usize, reason: Reason) -> Next {
    Next::Stop(Stopped { rounds, reason })
}

fn next(b: &[(i64, f64)], c: &[(i64, f64)], policy: &Policy, clock: Clock) -> Next {
    let t = Thresholds::default();
    let there = look(&side(b), &side(c), [true, true], &t, policy, clock)[0].1;
    // The sides swapped decide the same.
    let back = look(&side(c), &side(b), [true, true], &t, policy, clock)[0].1;
    assert_eq!(there, back, "{b:?} {c:?}");
    there
}

fn kind_at_95(b: &[(i64, f64)], c: &[(i64, f64)]) -> Kind {
    compare(&side(b), &side(c), &Thresholds::default(), "t").scenarios[0].kind
}

fn auto() -> Policy {
    Policy::new(DEFAULT_MAX_ROUNDS, None)
}

const BASE: [(i64, f64); 3] = [(143, 1.00), (143, 1.03), (143, 0.98)];
/// Around 1.1 × the baseline, with a spread that keeps its interval across ×1.25.
const STRADDLE: [(i64, f64); 3] = [(143, 0.95), (143, 1.10), (143, 1.40)];

#[test]
fn the_level_splits_alpha_over_the_looks() {
    let p = auto();
    assert_eq!((p.min_rounds, p.max_rounds, p.looks()), (3, 10, 8));
    assert!((p.level() - (1.0 - 0.05 / 8.0)).abs() < 1e-12);
    // A fixed count is one look at 95%; fewer rounds than the minimum lower the minimum.
    assert_eq!(Policy::new(3, None).level(), 0.95);
    assert_eq!(Policy::new(2, None).min_rounds, 2);
}

#[test]
fn a_scenario_runs_the_minimum_then_stops_when_decided() {
    let same = [(143, 1.01), (143, 0.99), (143, 1.02)];
    assert_eq!(
        next(&BASE[..2], &same[..2], &auto(), Clock::default()),
        Next::Again
    );
    assert_eq!(
        next(&BASE, &same, &auto(), Clock::default()),
        stop(3, Reason::Decided)
    );
    // Clearly slower, measured once a round: 3 values per side cannot attain the stricter level
    // (noise alone orders 3 against 3 apart one time in 20), so it runs again; from 6 rounds it is
    // decided, and the final report calls it a regression at that level.
    let base6 = [BASE, BASE].concat();
    let slow = [
        (143, 4.9),
        (143, 5.0),
        (143, 4.95),
        (143, 4.92),
        (143, 5.1),
        (143, 4.97),
    ];
    assert_eq!(
        next(&BASE, &slow[..3], &auto(), Clock::default()),
        Next::Again
    );
    assert_eq!(
        next(&base6[..5], &slow[..5], &auto(), Clock::default()),
        Next::Again
    );
    assert_eq!(
        next(&base6, &slow, &auto(), Clock::default()),
        stop(6, Reason::Decided)
    );
    let at = |b: &[(i64, f64)], c: &[(i64, f64)]| {
        compare_at(
            &side(b),
            &side(c),
            &Thresholds::default(),
            "t",
            auto().level(),
        )
        .scenarios[0]
            .clone()
    };
    let r = at(&base6, &slow);
    assert_eq!(r.kind, Kind::Regression);
    assert_eq!(r.measures[0].level, auto().level());
    // The report agrees with the look at 3 rounds: not a change yet at that level (with 95%, as
    // `--repeat 3` compares, it is).
    assert_eq!(at(&BASE, &slow[..3]).kind, Kind::Same);
    assert_eq!(kind_at_95(&BASE, &slow[..3]), Kind::Regression);
    // Measured several times a round, the values suffice after 3 rounds.
    let many = |v: [f64; 3]| -> Vec<f64> {
        v.iter()
            .flat_map(|x| [*x, x * 1.01, x * 0.99, x * 1.02, x * 0.98])
            .collect()
    };
    let (b15, c15) = (many([1.0, 1.03, 0.98]), many([4.9, 5.0, 4.95]));
    assert_eq!(
        timing(&b15, &c15, (0.25, 0.02), auto().level()),
        Timing::Slower
    );
    assert_eq!(
        timing(&c15, &b15, (0.25, 0.02), auto().level()),
        Timing::Faster
    );
    // A change under the floor is decided, whatever its ratio.
    let tiny = [(143, 0.010), (143, 0.011), (143, 0.010)];
    let tiny_slow = [(143, 0.020), (143, 0.012), (143, 0.025)];
    assert_eq!(
        next(&tiny, &tiny_slow, &auto(), Clock::default()),
        stop(3, Reason::Decided)
    );
}

#[test]
fn a_straddling_timing_or_a_changing_verdict_runs_again_up_to_the_maximum() {
    assert_eq!(
        next(&BASE, &STRADDLE, &auto(), Clock::default()),
        Next::Again
    );
    let mut flaky = BASE;
    flaky[1].0 = 137;
    assert_eq!(next(&BASE, &flaky, &auto(), Clock::default()), Next::Again);
    assert_eq!(next(&flaky, &BASE, &auto(), Clock::default()), Next::Again);
    // Failing in every round on both sides: decided, timings do not matter.
    let failing = [(137, 1.0), (137, 2.0), (137, 5.0)];
    assert_eq!(
        next(&failing, &failing, &auto(), Clock::default()),
        stop(3, Reason::Decided)
    );
    // At the maximum it stops undecided.
    let p = Policy::new(3, None);
    assert_eq!(
        next(&BASE, &STRADDLE, &p, Clock::default()),
        stop(3, Reason::MaxRounds)
    );
    assert_eq!(
        next(&BASE, &flaky, &p, Clock::default()),
        stop(3, Reason::MaxRounds)
    );
}

#[test]
fn the_budget_stops_undecided_scenarios_only_after_the_minimum() {
    let secs = Duration::from_secs;
    let p = Policy::new(DEFAULT_MAX_ROUNDS, Some(secs(60)));
    let clock = |spent, last| Clock {
        spent: secs(spent),
        last_round: secs(last),
    };
    // Another round of 20 s would end at 70 s: past the budget.
    assert_eq!(
        next(&BASE, &STRADDLE, &p, clock(50, 20)),
        stop(3, Reason::Budget)
    );
    assert_eq!(next(&BASE, &STRADDLE, &p, clock(30, 20)), Next::Again);
    // Before the minimum the budget does not stop anything; a decided scenario says decided.
    assert_eq!(
        next(&BASE[..2], &STRADDLE[..2], &p, clock(500, 20)),
        Next::Again
    );
    assert_eq!(
        next(&BASE, &BASE, &p, clock(500, 20)),
        stop(3, Reason::Decided)
    );
}

#[test]
fn only_the_sides_that_run_count_rounds() {
    let t = Thresholds::default();
    let saved = side(&[(143, 1.0); 5]);
    let one = side(&BASE[..1]);
    let n = |counted| look(&saved, &one, counted, &t, &auto(), Clock::default())[0].1;
    assert_eq!(n([false, true]), Next::Again);
    assert_eq!(
        look(
            &saved,
            &side(&BASE),
            [false, true],
            &t,
            &auto(),
            Clock::default()
        )[0]
        .1,
        stop(3, Reason::Decided)
    );
}

/// A deterministic noise source: timings around 1 s, mostly within ± the spread (the third field),
/// and with probability `tail` (the second) up to ×2.5.
struct Noise(u64, f64, f64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (self.0 >> 11) as f64 / (1u64 << 53) as f64;
        let body = 1.0 - self.1;
        if u > body {
            1.0 + 1.5 * (u - body) / self.1
        } else {
            1.0 - self.2 + 2.0 * self.2 * u / body
        }
    }
}

/// The same engine against itself (both sides from one distribution), `trials` times: false
/// alarms with 5 fixed rounds at 95%, false alarms with `--repeat auto`, and its rounds in all.
fn against_itself(noise: &mut Noise, trials: usize) -> (usize, usize, usize) {
    let t = Thresholds::default();
    let (mut fixed_alarms, mut auto_alarms, mut rounds) = (0, 0, 0);
    for _ in 0..trials {
        let draws: Vec<(i64, f64)> = (0..2 * DEFAULT_MAX_ROUNDS)
            .map(|_| (143, noise.next()))
            .collect();
        let (b, c) = draws.split_at(DEFAULT_MAX_ROUNDS);
        if compare(&side(&b[..5]), &side(&c[..5]), &t, "t").scenarios[0].kind != Kind::Same {
            fixed_alarms += 1;
        }
        let p = auto();
        let mut n = p.min_rounds;
        while look(
            &side(&b[..n]),
            &side(&c[..n]),
            [true, true],
            &t,
            &p,
            Clock::default(),
        )[0]
        .1 == Next::Again
        {
            n += 1;
        }
        rounds += n;
        let r = compare_at(&side(&b[..n]), &side(&c[..n]), &t, "t", p.level());
        if r.scenarios[0].kind != Kind::Same {
            auto_alarms += 1;
        }
    }
    (fixed_alarms, auto_alarms, rounds)
}

/// The sequential rule calls no more of them changed than 5 fixed rounds at 95% do — also with
/// heavy-tailed noise, where stopping at the first 3 rounds that look apart would (one in 300
/// here, before the rule required enough values to attain its level) — and with the usual
/// noise (±8%, now and then more) it takes fewer rounds than 5.
#[test]
fn an_engine_against_itself_stays_same_as_often_as_with_five_fixed_rounds() {
    let (fixed, auto, _) = against_itself(&mut Noise(7, 0.25, 0.15), 300);
    assert!(auto <= fixed, "heavy tail: {auto} false alarms > {fixed}");
    let trials = 100;
    let (fixed, auto, rounds) = against_itself(&mut Noise(11, 0.05, 0.08), trials);
    assert!(auto <= fixed, "usual noise: {auto} false alarms > {fixed}");
    assert!(rounds < 5 * trials, "{rounds} rounds for {trials}");
}

#[test]
fn exclusive_scenarios_first_then_the_longest() {
    let yaml = |name: &str, exclusive: bool| {
        let req = if exclusive {
            "requires: {exclusive: true}\n"
        } else {
            ""
        };
        format!("name: {name}\n{req}containers:\n  c: {{}}\nsteps:\n  - action: {{stop: {{container: c}}}}\n")
    };
    let plan = |name: &str, exclusive: bool| PlannedScenario {
        file: format!("{name}.yaml").into(),
        scenario: crate::scenario::load_str(&yaml(name, exclusive), std::path::Path::new("x.yaml"))
            .unwrap(),
        repeat: 1,
    };
    let plans = vec![
        plan("a", false),
        plan("b", false),
        plan("x", true),
        plan("c", false),
    ];
    // Not timed yet: the exclusive first, then plan order.
    assert_eq!(schedule(&plans, &[]), vec![2, 0, 1, 3]);
    let timed = |secs: &[(&str, u64)]| SideRuns {
        spec: "x".into(),
        plans: plans.clone(),
        records: vec![crate::record::RunRecord {
            scenarios: secs
                .iter()
                .map(|(n, s)| ScenarioRecord {
                    name: n.to_string(),
                    elapsed: Duration::from_secs(*s),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        journals: vec![],
    };
    let (one, other) = (timed(&[("a", 1), ("b", 10), ("c", 4)]), timed(&[("c", 30)]));
    assert_eq!(schedule(&plans, &[&one]), vec![2, 1, 3, 0]);
    // The mean over both sides: c at 17 s is now the longest.
    assert_eq!(schedule(&plans, &[&one, &other]), vec![2, 3, 1, 0]);
}
