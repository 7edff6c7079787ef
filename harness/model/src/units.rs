//! Human-friendly units used in scenarios: durations ("500ms", "5s", "2m") and byte sizes ("64MiB").
//!
//! Both parse from YAML strings (and plain integers: seconds for durations, bytes for sizes), print back in
//! the same notation, and publish a JSON Schema string pattern so editors can check them.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::limits::MAX_DURATION;

/// A duration written as a number followed by a unit: `ns`, `us`, `ms`, `s`, `m`, `h` (e.g. `1.5s`, `500ms`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The wrapped duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl FromStr for HumanDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration {s:?}: expected e.g. 500ms, 5s, 1.5m"))?;
        let scale = match unit.trim() {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(format!(
                    "invalid duration {s:?}: missing unit (ms, s, m, h)"
                ))
            }
            other => return Err(format!("invalid duration {s:?}: unknown unit {other:?}")),
        };
        let secs = value * scale;
        if !secs.is_finite() || secs < 0.0 {
            return Err(format!("invalid duration {s:?}: out of range"));
        }
        if secs > MAX_DURATION.as_secs_f64() {
            return Err(too_long(s));
        }
        // Whole numbers are converted exactly (the journal writes durations back that way).
        if let Ok(n) = num.parse::<u64>() {
            let unit_ns = (scale * 1e9).round() as u64;
            if let Some(ns) = n.checked_mul(unit_ns) {
                return Ok(HumanDuration(Duration::from_nanos(ns)));
            }
        }
        Ok(HumanDuration(Duration::from_secs_f64(secs)))
    }
}

/// The error of a duration over [`MAX_DURATION`].
fn too_long(written: &str) -> String {
    format!(
        "invalid duration {written:?}: longer than the limit of {} (MAX_DURATION)",
        format_exact(MAX_DURATION)
    )
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// A name made safe as one path component (letters, digits, `-`, `_`, `.`; others become `_`).
pub fn file_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_matches('.').to_string()
}

/// An RFC 3339 time as Docker writes it (`2024-05-01T10:00:00.123456789Z`, or with an offset), as
/// nanoseconds since the Unix epoch.
pub fn parse_time(s: &str) -> Option<i128> {
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    Some(t.timestamp() as i128 * 1_000_000_000 + t.timestamp_subsec_nanos() as i128)
}

/// Formats a duration compactly, choosing a unit that keeps 3 significant digits (`4.98s`, `215ms`).
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs == 0.0 {
        "0s".into()
    } else if secs < 1e-3 {
        format!("{}us", trim_float(secs * 1e6))
    } else if secs < 1.0 {
        format!("{}ms", trim_float(secs * 1e3))
    } else if secs < 999.5 {
        // Seconds up to 999 keep three significant digits (300.21 s is `300s`, never `5m`).
        format!("{}s", trim_float(secs))
    } else if secs < 59_970.0 {
        format!("{}m", trim_float(secs / 60.0))
    } else {
        format!("{}h", trim_float(secs / 3600.0))
    }
}

/// [`format_duration`] of seconds as a float (negative values show as `0s`).
pub fn format_secs(v: f64) -> String {
    format_duration(Duration::from_secs_f64(v.max(0.0)))
}

fn trim_float(v: f64) -> String {
    let s = if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrStr {
    Int(u64),
    Float(f64),
    Str(String),
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumOrStr::deserialize(d)? {
            NumOrStr::Int(n) if n > MAX_DURATION.as_secs() => {
                Err(serde::de::Error::custom(too_long(&n.to_string())))
            }
            NumOrStr::Int(n) => Ok(HumanDuration(Duration::from_secs(n))),
            NumOrStr::Float(f) if f > MAX_DURATION.as_secs_f64() => {
                Err(serde::de::Error::custom(too_long(&f.to_string())))
            }
            NumOrStr::Float(f) if f >= 0.0 && f.is_finite() => {
                Ok(HumanDuration(Duration::from_secs_f64(f)))
            }
            NumOrStr::Float(f) => Err(serde::de::Error::custom(format!(
                "invalid duration {f}: must be a non-negative number of seconds"
            ))),
            NumOrStr::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A duration in the largest unit that writes it exactly (`5s`, `1500ms`, `250us`, `7ns`): what
/// serialization writes, so a plan read back from a journal is the plan that ran.
pub fn format_exact(d: Duration) -> String {
    let ns = d.as_nanos();
    for (unit, size) in [("s", 1_000_000_000u128), ("ms", 1_000_000), ("us", 1_000)] {
        if ns.is_multiple_of(size) {
            return format!("{}{unit}", ns / size);
        }
    }
    format!("{ns}ns")
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_exact(self.0))
    }
}

impl JsonSchema for HumanDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "A duration: a number and a unit (ns, us, ms, s, m, h), e.g. \"500ms\", \"5s\"; a bare number is seconds.",
            "anyOf": [
                {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?\\s*(ns|us|µs|ms|s|sec|m|min|h)$"},
                {"type": "number", "minimum": 0}
            ]
        })
    }
}

/// A byte size: a number with an optional unit: `B`, `KiB`, `MiB`, `GiB`, `KB`, `MB`, `GB`, or docker's `k`, `m`, `g`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("invalid size {s:?}: expected e.g. 64MiB, 1GiB, 512k"))?;
        let mult: f64 = match unit.trim() {
            "" | "B" | "b" => 1.0,
            "KiB" | "k" | "K" | "kib" => 1024.0,
            "MiB" | "m" | "M" | "mib" => 1024.0 * 1024.0,
            "GiB" | "g" | "G" | "gib" => 1024.0 * 1024.0 * 1024.0,
            "KB" | "kB" | "kb" => 1e3,
            "MB" | "mb" => 1e6,
            "GB" | "gb" => 1e9,
            other => return Err(format!("invalid size {s:?}: unknown unit {other:?}")),
        };
        let bytes = value * mult;
        if !bytes.is_finite() || !(0.0..=1e18).contains(&bytes) {
            return Err(format!("invalid size {s:?}: out of range"));
        }
        // Whole numbers are converted exactly (a float holds only 53 bits).
        if let Ok(n) = num.parse::<u64>() {
            if let Some(b) = n.checked_mul(mult as u64) {
                return Ok(ByteSize(b));
            }
        }
        Ok(ByteSize(bytes.round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
        for (name, size) in UNITS {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{name}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumOrStr::deserialize(d)? {
            NumOrStr::Int(n) => Ok(ByteSize(n)),
            NumOrStr::Float(f) => Err(serde::de::Error::custom(format!(
                "invalid size {f}: use whole bytes or a unit such as 64MiB"
            ))),
            NumOrStr::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "A size in bytes, or a number with a unit (B, KiB, MiB, GiB, KB, MB, GB, k, m, g), e.g. \"64MiB\".",
            "anyOf": [
                {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?\\s*(B|b|KiB|MiB|GiB|kib|mib|gib|KB|kB|kb|MB|mb|GB|gb|k|K|m|M|g|G)?$"},
                {"type": "integer", "minimum": 0}
            ]
        })
    }
}

/// A share written as a percentage: `25%` (a bare number is a percentage too).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Default)]
pub struct Percent(pub f64);

impl Percent {
    /// The share as a fraction (`25%` → 0.25).
    pub fn fraction(self) -> f64 {
        self.0 / 100.0
    }
}

impl FromStr for Percent {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let n = t.strip_suffix('%').unwrap_or(t).trim();
        match n.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(Percent(v)),
            _ => Err(format!("invalid percentage {s:?}: expected e.g. 25%")),
        }
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", trim_float(self.0))
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumOrStr::deserialize(d)? {
            NumOrStr::Int(n) => Ok(Percent(n as f64)),
            NumOrStr::Float(f) if f >= 0.0 && f.is_finite() => Ok(Percent(f)),
            NumOrStr::Float(f) => Err(serde::de::Error::custom(format!(
                "invalid percentage {f}: must not be negative"
            ))),
            NumOrStr::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Percent {
    /// Exactly (`78.40782650046272%`), unlike [`Display`](fmt::Display)'s rounding: a plan read
    /// back from its journal has the thresholds that ran.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}%", self.0))
    }
}

impl JsonSchema for Percent {
    fn schema_name() -> Cow<'static, str> {
        "Percent".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "A percentage, e.g. \"25%\"; a bare number is a percentage.",
            "anyOf": [
                {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?\\s*%$"},
                {"type": "number", "minimum": 0}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("500ms", 0.5)]
    #[case("5s", 5.0)]
    #[case("1.5s", 1.5)]
    #[case("2m", 120.0)]
    #[case("1h", 3600.0)]
    #[case("250us", 0.00025)]
    fn durations_parse(#[case] text: &str, #[case] secs: f64) {
        let d: HumanDuration = text.parse().unwrap();
        assert!(
            (d.0.as_secs_f64() - secs).abs() < 1e-9,
            "{text} -> {:?}",
            d.0
        );
    }

    #[rstest]
    #[case("5")]
    #[case("5 parsecs")]
    #[case("fast")]
    #[case("-1s")]
    fn bad_durations_fail(#[case] text: &str) {
        assert!(text.parse::<HumanDuration>().is_err(), "{text} parsed");
    }

    #[rstest]
    #[case("64MiB", 64 << 20)]
    #[case("64m", 64 << 20)]
    #[case("1GiB", 1 << 30)]
    #[case("512KiB", 512 << 10)]
    #[case("1MB", 1_000_000)]
    #[case("4096", 4096)]
    fn sizes_parse(#[case] text: &str, #[case] bytes: u64) {
        assert_eq!(text.parse::<ByteSize>().unwrap().0, bytes);
    }

    #[rstest]
    #[case("64 mebibytes")]
    #[case("MiB")]
    fn bad_sizes_fail(#[case] text: &str) {
        assert!(text.parse::<ByteSize>().is_err());
    }

    #[rstest]
    #[case(Duration::from_secs(5), "5s")]
    #[case(Duration::from_millis(1234), "1234ms")]
    #[case(Duration::from_nanos(123_456_789), "123456789ns")]
    #[case(Duration::from_micros(250), "250us")]
    fn serialization_is_exact(#[case] d: Duration, #[case] text: &str) {
        assert_eq!(format_exact(d), text);
        assert_eq!(text.parse::<HumanDuration>().unwrap().0, d);
        let json = serde_json::to_string(&HumanDuration(d)).unwrap();
        assert_eq!(serde_json::from_str::<HumanDuration>(&json).unwrap().0, d);
    }

    #[test]
    fn the_journal_keeps_sizes_and_percentages_exactly() {
        // Found by the property tests: a float kept 53 bits of a size, and the journal wrote a
        // percentage rounded as the terminal shows it.
        let big = "28956547886512533B";
        assert_eq!(big.parse::<ByteSize>().unwrap().0, 28956547886512533);
        let p = Percent(78.40782650046272);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"78.40782650046272%\"");
        assert_eq!(serde_json::from_str::<Percent>(&json).unwrap(), p);
        assert_eq!(p.to_string(), "78.4%");
    }

    #[test]
    fn display_round_trips() {
        for s in ["64MiB", "1GiB", "100B"] {
            assert_eq!(s.parse::<ByteSize>().unwrap().to_string(), s);
        }
        assert_eq!(format_duration(Duration::from_millis(4980)), "4.98s");
        assert_eq!(format_duration(Duration::from_millis(215)), "215ms");
        assert_eq!(format_duration(Duration::from_secs_f64(300.21)), "300s");
        assert_eq!(format_duration(Duration::from_secs_f64(125.4)), "125s");
        assert_eq!(format_duration(Duration::from_secs(1234)), "20.6m");
        assert_eq!(format_duration(Duration::from_secs(7200)), "120m");
        assert_eq!(format_duration(Duration::from_secs(90_000)), "25h");
    }
}
