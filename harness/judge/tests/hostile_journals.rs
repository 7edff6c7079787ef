//! A journal that breaks its format — what a remote host streams back, or a saved file given to
//! `judge` — never panics and never passes: the reading stops at the broken line and the run ends
//! `unknown`, each scenario naming the file, the line and what is wrong with it.

mod common;

use common::{journal, judged, lines, text, Intent};
use judge::journal::End;
use judge::verdict::Outcome;
use model::limits::MAX_JOURNAL_LINE_BYTES;

/// A run of a passing, a failing and a skipped scenario, with `bad` put in before line `at`
/// (1-based).
fn broken_at(at: usize, bad: &[u8]) -> Vec<u8> {
    let t = text(&journal(&[Intent::Pass, Intent::Fail, Intent::Skipped], 1));
    let mut out = Vec::new();
    for (i, l) in lines(&t).into_iter().enumerate() {
        if i + 1 == at {
            out.extend_from_slice(bad);
        }
        out.extend_from_slice(l.as_bytes());
    }
    out
}

/// Checks a journal broken at line `line` ends as unknown everywhere, saying `why`.
fn unknown_everywhere(bytes: &[u8], line: usize, why: &str) {
    let j = judged(bytes);
    let reason = j
        .record
        .interrupted
        .clone()
        .expect("the run says why it ended");
    assert!(
        reason.starts_with(&format!("j.jsonl:{line}:"))
            && reason.contains(why)
            && reason.contains("breaks its format"),
        "{reason}"
    );
    assert_eq!(j.verdicts.len(), 3);
    for v in &j.verdicts {
        assert_eq!(v.outcome, Outcome::Unknown, "{}: {:?}", v.name, v.errors);
        assert!(
            v.errors
                .iter()
                .any(|e| e.contains(&format!("j.jsonl:{line}:"))),
            "{}: {:?}",
            v.name,
            v.errors
        );
    }
}

#[test]
fn the_unbroken_journal_passes_fails_and_skips() {
    // The journal the other tests break: without the break its verdicts are these.
    let j = judged(&broken_at(usize::MAX, b""));
    let outcomes: Vec<Outcome> = j.verdicts.iter().map(|v| v.outcome).collect();
    assert_eq!(outcomes, [Outcome::Pass, Outcome::Fail, Outcome::Skipped]);
    assert_eq!(j.record.interrupted, None);
}

#[test]
fn a_line_that_is_not_an_entry_ends_the_run_unknown() {
    // After every scenario finished, before run_finished: still nothing is trusted.
    let total = lines(&text(&journal(
        &[Intent::Pass, Intent::Fail, Intent::Skipped],
        1,
    )))
    .len();
    for (at, bad) in [
        (total, &b"{\"seq\": 99, \"event\": \"no_such_event\"}\n"[..]),
        (5, b"{not json\n"),
        (3, b"[1, 2, 3]\n"),
        (
            total,
            b"{\"seq\":9,\"t\":1e300,\"event\":\"run_finished\",\"interrupted\":null}\n",
        ),
    ] {
        unknown_everywhere(&broken_at(at, bad), at, "not a journal entry");
    }
}

#[test]
fn a_line_that_is_not_utf8_ends_the_run_unknown() {
    unknown_everywhere(
        &broken_at(
            4,
            b"{\"seq\": 3, \"event\": \"setup\", \"name\": \"\xff\xfe\"}\n",
        ),
        4,
        "not a journal entry",
    );
}

#[test]
fn a_line_over_the_length_limit_ends_the_run_unknown() {
    let mut long = vec![b' '; MAX_JOURNAL_LINE_BYTES + 1];
    long.push(b'\n');
    unknown_everywhere(
        &broken_at(4, &long),
        4,
        "a line longer than 64 MiB (MAX_JOURNAL_LINE_BYTES)",
    );
    // Without its newline, at the end: too long all the same, never a cut line to drop.
    let mut cut = broken_at(usize::MAX, b"");
    cut.extend(std::iter::repeat_n(b'{', MAX_JOURNAL_LINE_BYTES + 1));
    let end = judge::journal::scan(&cut[..], "j.jsonl", |_| {}).unwrap();
    assert!(
        matches!(&end, End::Broken(r) if r.contains("MAX_JOURNAL_LINE_BYTES")),
        "{end:?}"
    );
}

#[test]
fn a_line_at_the_length_limit_is_read() {
    // A real entry padded inside its JSON to exactly the limit.
    let t = text(&journal(&[Intent::Pass], 1));
    let mut out = String::new();
    for (i, l) in lines(&t).into_iter().enumerate() {
        if i == 3 {
            let body = l.trim_end_matches('\n').strip_suffix('}').unwrap();
            let pad = MAX_JOURNAL_LINE_BYTES - body.len() - 1;
            out.push_str(body);
            out.push_str(&" ".repeat(pad));
            out.push_str("}\n");
            assert_eq!(
                out.len() - out[..out.len() - 1].rfind('\n').unwrap() - 2,
                MAX_JOURNAL_LINE_BYTES
            );
        } else {
            out.push_str(l);
        }
    }
    let j = judged(out.as_bytes());
    assert_eq!(
        j.verdicts[0].outcome,
        Outcome::Pass,
        "{:?}",
        j.verdicts[0].errors
    );
}

#[test]
fn a_broken_line_is_refused_by_read_and_judged_unknown_from_a_file() {
    let dir = std::env::temp_dir().join(format!("shakedown-judge-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("j.jsonl");
    std::fs::write(&path, broken_at(5, b"garbage\n")).unwrap();
    let e = judge::journal::read(&path).unwrap_err().to_string();
    assert!(
        e.contains("j.jsonl:5:") && e.contains("not a journal entry"),
        "{e}"
    );
    let j = judge::judge_journal(&path).unwrap();
    assert!(j.verdicts.iter().all(|v| v.outcome == Outcome::Unknown));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_cut_last_line_is_dropped_and_finished_scenarios_keep_their_verdicts() {
    let t = text(&journal(&[Intent::Pass, Intent::Fail], 1));
    // Cut inside the last line (run_finished): it has no newline, so the run was killed there.
    let cut = &t.as_bytes()[..t.len() - 5];
    let end = judge::journal::scan(cut, "j.jsonl", |_| {}).unwrap();
    assert_eq!(end, End::Cut);
    let j = judged(cut);
    let outcomes: Vec<Outcome> = j.verdicts.iter().map(|v| v.outcome).collect();
    assert_eq!(outcomes, [Outcome::Pass, Outcome::Fail]);
    assert_eq!(
        j.record.interrupted.as_deref(),
        Some("the journal ends mid-line: the run was killed")
    );
}

#[test]
fn what_is_not_a_journal_is_an_input_error() {
    for (bytes, why) in [
        (&b""[..], "j.jsonl:1: not a shakedown journal (it is empty)"),
        (
            b"\xff\n",
            "j.jsonl:1: not a shakedown journal (its first line",
        ),
        (
            b"{\"seq\":0,\"t\":0,\"event\":\"plan\",\"scenarios\":[]}\n",
            "it must start with a run_started entry",
        ),
        (
            b"{\"seq\":0,\"t\":1e300,\"event\":\"run_started\",\"format\":1}\n",
            "not a shakedown journal",
        ),
    ] {
        let e = judge::judge_reader(bytes, "j.jsonl")
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains(why), "{e}");
    }
}
