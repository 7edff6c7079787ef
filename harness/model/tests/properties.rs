//! Properties of the units a scenario writes (proptest, a few hundred cases each): what is parsed
//! prints back in the notation the journal keeps, which parses to exactly the same value — so a
//! plan read back from its journal is the plan that ran — and the terminal's rounded notation
//! stays within its three significant digits.

use std::time::Duration;

use model::limits::MAX_DURATION;
use model::units::{format_duration, format_exact, ByteSize, HumanDuration, Percent};
use proptest::prelude::*;

const UNITS: [(&str, u64); 6] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// A duration as a user writes it, `N` or `N.F` and a unit, with what it is in nanoseconds (for
/// the ones without a fraction, whose value is exact).
fn written_duration() -> impl Strategy<Value = (String, Option<u128>)> {
    (
        0usize..UNITS.len(),
        0u64..200_000,
        prop::option::of(0u32..1000),
    )
        .prop_map(|(u, n, frac)| {
            let (unit, ns) = UNITS[u];
            match frac {
                None => (format!("{n}{unit}"), Some(n as u128 * ns as u128)),
                Some(f) => (format!("{n}.{f:03}{unit}"), None),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_written_duration_prints_back_exactly(
        (written, ns) in written_duration()
    ) {
        match written.parse::<HumanDuration>() {
            Ok(d) => {
                prop_assert!(d.get() <= MAX_DURATION);
                if let Some(ns) = ns {
                    prop_assert_eq!(d.get().as_nanos(), ns, "{}", written);
                }
                // What the journal keeps reads back as the same duration, in text and in JSON.
                let printed = format_exact(d.get());
                prop_assert_eq!(printed.parse::<HumanDuration>().unwrap(), d, "{} → {}", written, printed);
                let json = serde_json::to_string(&d).unwrap();
                prop_assert_eq!(serde_json::from_str::<HumanDuration>(&json).unwrap(), d);
            }
            Err(e) => {
                // Only a duration over the limit is refused, and it says so.
                let ns = ns.unwrap_or(u128::MAX);
                prop_assert!(ns > MAX_DURATION.as_nanos() || written.contains('.'), "{}: {}", written, e);
                prop_assert!(e.contains("MAX_DURATION"), "{}: {}", written, e);
            }
        }
    }

    #[test]
    fn any_duration_within_the_limit_round_trips(ns in 0..=MAX_DURATION.as_nanos() as u64) {
        let d = Duration::from_nanos(ns);
        let printed = format_exact(d);
        prop_assert_eq!(printed.parse::<HumanDuration>().unwrap().get(), d, "{}", printed);
        // The terminal's notation keeps three significant digits (from a microsecond up).
        if ns >= 1_000 {
            let shown = format_duration(d);
            let back = shown.parse::<HumanDuration>().unwrap().get().as_secs_f64();
            let error = (back - d.as_secs_f64()).abs() / d.as_secs_f64();
            prop_assert!(error <= 0.005, "{:?} shown as {} ({})", d, shown, error);
        }
    }

    #[test]
    fn any_byte_size_round_trips(bytes in prop_oneof![
        0u64..1 << 20,
        (0u64..1 << 24).prop_map(|n| n << 20),
        (1u64 << 53)..1_000_000_000_000_000_000,
    ]) {
        let s = ByteSize(bytes);
        let printed = s.to_string();
        prop_assert_eq!(printed.parse::<ByteSize>().unwrap(), s, "{}", printed);
        let json = serde_json::to_string(&s).unwrap();
        prop_assert_eq!(serde_json::from_str::<ByteSize>(&json).unwrap(), s, "{}", json);
    }

    #[test]
    fn any_percentage_round_trips_through_the_journal(v in prop_oneof![
        0.0f64..1000.0,
        (0u32..100_000).prop_map(|n| f64::from(n) / 100.0),
    ]) {
        let p = Percent(v);
        let json = serde_json::to_string(&p).unwrap();
        let back: Percent = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, p, "{}", json);
        prop_assert_eq!(p.to_string().parse::<Percent>().is_ok(), true);
    }
}
