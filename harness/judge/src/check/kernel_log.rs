//! The `kernel_log` check: the classes of kernel lines seen from the iteration's start until the
//! step's end.

use super::CheckResult;
use crate::expect::KernelLog;
use crate::kernel::KernelClass;
use crate::record::{IterationRecord, Source, StepOutcome, StepRecord};

fn names(c: &[KernelClass]) -> String {
    c.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
}

/// Checks the kernel lines of the iteration up to this step.
pub fn check(e: &KernelLog, step: &StepRecord, it: &IterationRecord) -> CheckResult {
    let name = "kernel_log";
    let mut want = vec![];
    if !e.present.is_empty() {
        want.push(format!("present: {}", names(&e.present)));
    }
    if !e.absent.is_empty() {
        want.push(format!("absent: {}", names(&e.absent)));
    }
    if let Some(c) = &e.container {
        want.push(format!("for container {c}"));
    }
    if let Some(t) = &e.task {
        want.push(format!("naming task {t}"));
    }
    let want = want.join("; ");
    if step.outcome != StepOutcome::Ok {
        return CheckResult::unknown(name, want, "not observed: the step did not complete");
    }
    // Lines from the iteration's start to the step's end count: a gap anywhere in there leaves
    // the check undecided — whatever was read.
    if let Some(gap) = it.gap(Source::KernelLog, it.started, step.observed_until) {
        return CheckResult::unknown(
            name,
            want,
            &format!("the kernel log was not read: {}", gap.reason),
        );
    }
    let id = e.container.as_ref().and_then(|c| it.containers.get(c));
    if e.container.is_some() && id.is_none() {
        return CheckResult::new(name, want, "the container was never created".into(), false);
    }
    let lines: Vec<_> = it
        .kernel
        .iter()
        .filter(|l| l.time() <= step.observed_until)
        .filter(|l| id.is_none_or(|id| l.text.contains(id.as_str())))
        .filter(|l| {
            e.task.as_ref().is_none_or(|t| {
                l.text.contains(&format!("task={t},")) || l.text.contains(&format!("({t})"))
            })
        })
        .filter(|l| l.class.is_some())
        .collect();
    let seen = |k: KernelClass| lines.iter().find(|l| l.class == Some(k));
    let missing: Vec<_> = e.present.iter().filter(|k| seen(**k).is_none()).collect();
    let forbidden: Vec<_> = e.absent.iter().filter_map(|k| seen(*k)).collect();
    let mut observed: Vec<String> = e
        .present
        .iter()
        .filter_map(|k| seen(*k))
        .map(|l| shown(&l.text))
        .collect();
    observed.extend(
        forbidden
            .iter()
            .map(|l| format!("forbidden: {}", shown(&l.text))),
    );
    if !missing.is_empty() {
        observed.push(format!(
            "missing: {}",
            missing
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if observed.is_empty() {
        observed.push(format!("{} classified lines, none forbidden", lines.len()));
    }
    CheckResult::new(
        name,
        want,
        observed.join(" | "),
        missing.is_empty() && forbidden.is_empty(),
    )
}

/// A kernel line as a failure shows it: container ids (64 hex digits) shortened to 12, as docker
/// prints them, and a line still longer than 240 characters cut after a comma or space, never
/// inside an id.
fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() == 64 {
            out.push_str(&run[..12]);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_hexdigit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    if out.chars().count() <= 240 {
        return out;
    }
    let head: String = out.chars().take(240).collect();
    let cut = head.rfind([',', ' ']).map(|i| i + 1).unwrap_or(head.len());
    format!("{}…", &head[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testutil::*;
    use crate::record::KernelLine;
    use crate::verdict::Outcome;
    use std::time::Duration;

    fn line(text: &str) -> KernelLine {
        KernelLine {
            t: Duration::from_secs(2),
            usec: 1,
            at: None,
            priority: 3,
            text: text.into(),
            class: crate::kernel::classify(text),
        }
    }

    #[test]
    fn present_absent_and_attribution() {
        let s = step(exited(137, true), 1.0);
        let mut it = IterationRecord::default();
        it.containers.insert("hog".into(), "abc123".into());
        it.containers.insert("other".into(), "def456".into());
        it.kernel.push(line(
            "oom-kill:constraint=CONSTRAINT_MEMCG,task_memcg=/docker/abc123,pid=7",
        ));
        let e = KernelLog {
            present: vec![KernelClass::OomKill],
            container: Some("hog".into()),
            ..Default::default()
        };
        assert_eq!(check(&e, &s, &it).outcome, Outcome::Pass);
        let other = KernelLog {
            container: Some("other".into()),
            ..e.clone()
        };
        assert_eq!(check(&other, &s, &it).outcome, Outcome::Fail);
        // `task`: only lines naming that process.
        it.kernel.push(line(
            "Memory cgroup out of memory: Killed process 42 (dockerd) total-vm:1459356kB",
        ));
        let task = |t: &str| KernelLog {
            present: vec![KernelClass::OomKill],
            task: Some(t.into()),
            ..Default::default()
        };
        assert_eq!(check(&task("dockerd"), &s, &it).outcome, Outcome::Pass);
        assert_eq!(check(&task("containerd"), &s, &it).outcome, Outcome::Fail);
        let absent = KernelLog {
            absent: vec![KernelClass::OomKill],
            ..Default::default()
        };
        let r = check(&absent, &s, &it);
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.observed.contains("forbidden"), "{}", r.observed);
        // A gap in reading the kernel log makes every kernel_log check unknown, also one
        // that would pass on the lines read.
        it.gaps.push(crate::record::SourceGap {
            source: Source::KernelLog,
            from: Duration::from_secs(1),
            until: None,
            reason: "the kernel log watcher stopped".into(),
        });
        assert_eq!(check(&e, &s, &it).outcome, Outcome::Unknown);
        let r = check(&absent, &s, &it);
        assert_eq!(r.outcome, Outcome::Unknown);
        assert!(r.observed.contains("watcher stopped"), "{}", r.observed);
    }

    #[test]
    fn failure_text_keeps_ids_whole() {
        let id = "a".repeat(64);
        let line = format!("oom-kill:constraint=CONSTRAINT_MEMCG,oom_memcg=/docker/{id},task_memcg=/docker/{id},task=hog,pid=42");
        let s = shown(&line);
        assert_eq!(s, format!("oom-kill:constraint=CONSTRAINT_MEMCG,oom_memcg=/docker/{0},task_memcg=/docker/{0},task=hog,pid=42", "a".repeat(12)));
        let long = format!("x, {}", "word ".repeat(80));
        let s = shown(&long);
        assert!(s.ends_with('…') && s.chars().count() <= 241, "{s}");
        assert!(s.trim_end_matches('…').ends_with(' '), "{s}");
    }
}
