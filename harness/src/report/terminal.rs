//! The terminal summary: one row per scenario with its verdict and key timings, then every failure
//! with expected and observed values.

use std::fmt::Write;
use std::time::Duration;

use super::Report;
use crate::units::format_duration;
use crate::verdict::{MeasureStats, Outcome};

fn secs(v: f64) -> String {
    format_duration(Duration::from_secs_f64(v.max(0.0)))
}

/// A measure's value, or its statistics when there are several.
pub fn stat_text(s: &MeasureStats) -> String {
    let f = |v: f64| {
        if s.unit == "s" {
            secs(v)
        } else {
            format!("{v} {}", s.unit)
        }
    };
    if s.count == 1 {
        f(s.min)
    } else {
        format!(
            "min {} p50 {} p95 {} max {} (n={})",
            f(s.min),
            f(s.p50),
            f(s.p95),
            f(s.max),
            s.count
        )
    }
}

/// Renders the summary table and failure details.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let fp = &report.run.fingerprint;
    let _ = writeln!(
        out,
        "engine {} (API {}), containerd {}, runc {}, kernel {}, cgroup v{}, {} — target {}",
        fp.engine_version,
        fp.api_version,
        fp.containerd_version,
        fp.runc_version,
        fp.kernel_version,
        fp.cgroup_version,
        fp.storage_driver,
        report.run.target
    );
    let width = report
        .verdicts
        .iter()
        .map(|v| v.name.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let _ = writeln!(
        out,
        "{:<width$}  {:<7}  {:>8}  timings",
        "scenario", "verdict", "time"
    );
    for v in &report.verdicts {
        let elapsed = report
            .run
            .scenarios
            .iter()
            .find(|s| s.name == v.name)
            .map(|s| format_duration(s.elapsed))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<width$}  {:<7}  {:>8}",
            v.name,
            v.outcome.label(),
            elapsed
        );
        for s in v.stats.iter().filter(|s| s.unit == "s") {
            let _ = writeln!(
                out,
                "{:<width$}  {:<7}  {:>8}  {} · {} = {}{}",
                "",
                "",
                "",
                s.step,
                s.measure,
                stat_text(s),
                if s.source == "daemon" {
                    " (daemon)"
                } else {
                    ""
                }
            );
        }
    }
    for v in report
        .verdicts
        .iter()
        .filter(|v| v.outcome != Outcome::Pass)
    {
        let _ = writeln!(out, "\n{} {}:", v.outcome.label(), v.name);
        let failures = v.failures();
        if failures.is_empty() {
            let _ = writeln!(out, "  interrupted before a verdict");
        }
        for f in failures {
            let _ = writeln!(out, "  {f}");
        }
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "\n{} passed, {} failed{}",
        s.passed,
        s.failed,
        if s.unknown > 0 {
            format!(", {} unknown", s.unknown)
        } else {
            String::new()
        }
    );
    out
}
