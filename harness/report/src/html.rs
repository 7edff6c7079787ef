//! Self-contained HTML pages: no network is needed to view them (inline CSS, inline SVG plots, a
//! few lines of inline script). [`qualify_page`] shows a qualification — verdicts side by side,
//! every timing's distribution on both sides, each side's fingerprint, links to journals and
//! forensics; [`run_page`] shows a single run with each scenario's timeline (steps, fault
//! windows, probe samples, events, kernel lines, gaps in the sources).
//!
//! Every plot is an `<svg class="plot">` whose data points carry the class `mark`. The inline
//! script counts the plots that laid out with a non-empty box and at least one mark, and writes
//! the count to `<body data-plots-rendered>` beside the total in `data-plots`: a headless browser
//! can tell that the plots rendered.

use std::fmt::Write;
use std::path::Path;

use judge::compare::{Change, MeasureComparison, QualifyReport, SideResult};
use model::record::{Fingerprint, IterationRecord, StepOutcome};
use model::units::{format_duration, format_secs};

use super::Report;

const BASE_COLOR: &str = "#1f77b4";
const CAND_COLOR: &str = "#ff7f0e";

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;color:#fff;font-weight:600}
.pass,.same{background:#2e7d32}.fail,.broken,.regression{background:#c62828}.unknown{background:#6d6d6d}
.fixed,.better{background:#1565c0}.skip,.not-compared{background:#9e9e9e}.one-sided{background:#ef6c00}.banner{padding:10px 14px;border-radius:6px;color:#fff;font-size:16px}
ul.fail{background:none;color:#c62828;margin:4px 0}code{font-size:12px}
svg.plot{display:block;margin:6px 0 14px}svg text{font:11px system-ui,sans-serif;fill:#333}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;opacity:.7}
"#;

const SCRIPT: &str = r#"
(function(){var n=0,all=document.querySelectorAll('svg.plot');
all.forEach(function(s){var b=s.getBBox();if(b.width>0&&b.height>0&&s.querySelector('.mark'))n++;});
document.body.setAttribute('data-plots',all.length);document.body.setAttribute('data-plots-rendered',n);})();
"#;

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A `file://` link to a local path (journals, forensics bundles).
fn file_link(p: &Path) -> String {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let href: String = abs
        .to_string_lossy()
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect();
    format!(
        "<a href=\"file://{href}\"><code>{}</code></a>",
        esc(&p.to_string_lossy())
    )
}

/// An anchor id for a scenario name.
fn anchor(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("s-{s}")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{}</title>\
         <style>{STYLE}</style></head>\n<body>\n{body}\n<script>{SCRIPT}</script>\n</body></html>\n",
        esc(title)
    )
}

/// A coloured label; its text, lowercased, is its style class (`pass`, `regression`, ...).
fn badge(label: &str) -> String {
    let class = label.to_lowercase();
    format!("<span class=\"badge {class}\">{class}</span>")
}

fn fingerprint_rows(out: &mut String, sides: &[(&str, &Fingerprint)]) {
    type Field = (&'static str, fn(&Fingerprint) -> String);
    let fields: [Field; 9] = [
        ("engine", |f| f.engine_version.clone()),
        ("API", |f| f.api_version.clone()),
        ("containerd", |f| f.containerd_version.clone()),
        ("runc", |f| f.runc_version.clone()),
        ("kernel", |f| f.kernel_version.clone()),
        ("OS", |f| f.operating_system.clone()),
        ("cgroup", |f| {
            format!("v{} ({})", f.cgroup_version, f.cgroup_driver)
        }),
        ("storage", |f| f.storage_driver.clone()),
        ("live-restore", |f| f.live_restore.to_string()),
    ];
    for (name, get) in &fields {
        let _ = write!(out, "<tr><th>{name}</th>");
        for (_, f) in sides {
            let _ = write!(out, "<td>{}</td>", esc(&get(f)));
        }
        out.push_str("</tr>\n");
    }
}

/// Ticks for an axis from 0 to `max`: about five round steps.
fn ticks(max: f64) -> Vec<f64> {
    if max <= 0.0 || !max.is_finite() {
        return vec![0.0];
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|t| *t <= max * 1.0001)
        .collect()
}

/// A strip plot of one timing: a row per side, a dot per value, a bar at each median.
fn distribution_plot(m: &MeasureComparison) -> String {
    let (w, left, right) = (640.0, 90.0, 20.0);
    let max = m
        .baseline
        .iter()
        .chain(&m.candidate)
        .fold(0.0f64, |a, b| a.max(*b))
        * 1.1;
    let max = if max > 0.0 { max } else { 1.0 };
    let x = |v: f64| left + (w - left - right) * v / max;
    let mut s = format!(
        "<svg class=\"plot\" width=\"{w}\" height=\"96\" viewBox=\"0 0 {w} 96\" role=\"img\" \
         aria-label=\"{}: {} on both sides\">",
        esc(&m.step),
        esc(&m.measure)
    );
    for (row, (name, values, median, color)) in [
        ("baseline", &m.baseline, m.baseline_median, BASE_COLOR),
        ("candidate", &m.candidate, m.candidate_median, CAND_COLOR),
    ]
    .into_iter()
    .enumerate()
    {
        let y = 22.0 + row as f64 * 30.0;
        let _ = write!(s, "<text x=\"4\" y=\"{}\">{name}</text>", y + 4.0);
        let _ = write!(
            s,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#eee\"/>",
            w - right
        );
        for (i, v) in values.iter().enumerate() {
            // A little vertical jitter, deterministic, so equal values stay visible.
            let jy = y + ((i % 5) as f64 - 2.0) * 2.0;
            let _ = write!(
                s,
                "<circle class=\"mark\" cx=\"{:.1}\" cy=\"{jy:.1}\" r=\"4\" fill=\"{color}\" \
                 fill-opacity=\"0.7\"><title>{name}: {}</title></circle>",
                x(*v),
                format_secs(*v)
            );
        }
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{2}\" stroke=\"{color}\" \
             stroke-width=\"3\"><title>{name} median {3}</title></line>",
            x(median),
            y - 11.0,
            y + 11.0,
            format_secs(median)
        );
    }
    let axis_y = 78.0;
    let _ = write!(
        s,
        "<line x1=\"{left}\" x2=\"{}\" y1=\"{axis_y}\" y2=\"{axis_y}\" stroke=\"#999\"/>",
        w - right
    );
    for t in ticks(max) {
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{axis_y}\" y2=\"{1}\" stroke=\"#999\"/>\
             <text x=\"{0:.1}\" y=\"{2}\" text-anchor=\"middle\">{3}</text>",
            x(t),
            axis_y + 4.0,
            axis_y + 15.0,
            format_secs(t)
        );
    }
    s.push_str("</svg>");
    s
}

fn side_cell(r: &SideResult) -> String {
    format!(
        "{} {}/{} rounds",
        badge(r.outcome.label()),
        r.passed,
        r.rounds
    )
}

fn side_details(out: &mut String, which: &str, r: &SideResult) {
    let _ = write!(out, "<td><b>{which}</b>: {}", side_cell(r));
    if let Some(reason) = &r.skipped {
        let _ = write!(out, "<div>skipped, not run: {}</div>", esc(reason));
    }
    if !r.failures.is_empty() {
        out.push_str("<ul class=\"fail\">");
        for f in &r.failures {
            let _ = write!(out, "<li>{}</li>", esc(f));
        }
        out.push_str("</ul>");
    }
    if !r.forensics.is_empty() {
        out.push_str("<div>forensics: ");
        for f in &r.forensics {
            let _ = write!(out, "{} ", file_link(f));
        }
        out.push_str("</div>");
    }
    out.push_str("</td>");
}

/// The HTML page of a qualification.
pub fn qualify_page(r: &QualifyReport) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<h1>shakedown qualify: {} → {}</h1>",
        esc(&r.baseline.spec),
        esc(&r.candidate.spec)
    );
    let counts: Vec<String> = r.summary.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let (class, text) = if r.fails() {
        ("fail", "the candidate does not qualify")
    } else {
        ("pass", "the candidate qualifies")
    };
    let _ = writeln!(
        b,
        "<p class=\"banner {class}\">{text} — {}</p>",
        esc(&counts.join(", "))
    );
    b.push_str("<h2>Sides</h2>\n<table><tr><th></th><th>baseline</th><th>candidate</th></tr>\n");
    let _ = writeln!(
        b,
        "<tr><th>side</th><td><code>{}</code></td><td><code>{}</code></td></tr>",
        esc(&r.baseline.spec),
        esc(&r.candidate.spec)
    );
    fingerprint_rows(
        &mut b,
        &[
            ("baseline", &r.baseline.fingerprint),
            ("candidate", &r.candidate.fingerprint),
        ],
    );
    let _ = write!(
        b,
        "<tr><th>runs</th><td>{}</td><td>{}</td></tr>\n<tr><th>journals</th>",
        r.baseline.rounds, r.candidate.rounds
    );
    for s in [&r.baseline, &r.candidate] {
        b.push_str("<td>");
        for j in &s.journals {
            let _ = write!(b, "{}<br>", file_link(j));
        }
        b.push_str("</td>");
    }
    b.push_str("</tr></table>\n");
    let _ = writeln!(
        b,
        "<p class=\"legend\">Timings: <span style=\"background:{BASE_COLOR}\"></span>baseline\
         <span style=\"background:{CAND_COLOR}\"></span>candidate — a dot per measured value, a bar \
         at each median. A timing changes only when the bootstrap interval (95%; stricter with --repeat auto) of the ratio of \
         medians lies entirely beyond the threshold and the medians differ by more than the \
         floor.</p>"
    );
    b.push_str(
        "<h2>Scenarios</h2>\n<table><tr><th>scenario</th><th>baseline</th><th>candidate</th>\
         <th>comparison</th><th>rounds</th></tr>\n",
    );
    for s in &r.scenarios {
        let _ = writeln!(
            b,
            "<tr><td><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            anchor(&s.name),
            esc(&s.name),
            side_cell(&s.baseline),
            side_cell(&s.candidate),
            badge(s.kind.label()),
            s.stop
                .map(super::qualify::stopped)
                .unwrap_or_else(|| format!("{}", s.baseline.rounds.max(s.candidate.rounds)))
        );
    }
    b.push_str("</table>\n");
    for s in &r.scenarios {
        let _ = write!(
            b,
            "<h2 id=\"{}\">{} {}</h2>\n<table><tr>",
            anchor(&s.name),
            esc(&s.name),
            badge(s.kind.label())
        );
        side_details(&mut b, "baseline", &s.baseline);
        side_details(&mut b, "candidate", &s.candidate);
        b.push_str("</tr></table>\n");
        if s.measures.is_empty() {
            b.push_str("<p>No timing measured at least 3 times on both sides.</p>\n");
            continue;
        }
        b.push_str(
            "<table><tr><th>step</th><th>measure</th><th>baseline median</th>\
             <th>candidate median</th><th>ratio</th><th>interval</th><th>threshold / floor</th>\
             <th>change</th></tr>\n",
        );
        for m in &s.measures {
            let change = match m.change {
                Change::Same => "same",
                Change::Better => "better",
                Change::Worse => "regression",
            };
            let _ = writeln!(
                b,
                "<tr><td>{}</td><td>{} <small>({})</small></td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">×{:.2}</td>\
                 <td class=\"num\">×{:.2} – ×{:.2} <small>({})</small></td><td class=\"num\">{:.0}% / {}</td>\
                 <td>{}</td></tr>",
                esc(&m.step),
                esc(&m.measure),
                esc(&m.source),
                format_secs(m.baseline_median),
                format_secs(m.candidate_median),
                m.ratio,
                m.interval.0,
                m.interval.1,
                super::qualify::level(m.level),
                m.threshold * 100.0,
                format_secs(m.floor),
                badge(change)
            );
        }
        b.push_str("</table>\n");
        for m in &s.measures {
            let _ = write!(
                b,
                "<h3>{} — {}</h3>\n{}\n",
                esc(&m.step),
                esc(&m.measure),
                distribution_plot(m)
            );
        }
    }
    let _ = write!(
        b,
        "<p><small>shakedown {}</small></p>",
        esc(&r.shakedown_version)
    );
    let title = format!("qualify {} → {}", r.baseline.spec, r.candidate.spec);
    page(&title, &b)
}

/// The timeline of one iteration: steps (fault windows in orange), probe samples, daemon events,
/// kernel lines, and the times a source could not be read.
fn timeline(it: &IterationRecord) -> String {
    let t0 = it.started.as_secs_f64();
    let mut end = t0;
    for s in &it.steps {
        end = end
            .max(s.observed_until.as_secs_f64())
            .max(s.finished.as_secs_f64());
        for p in &s.samples {
            end = end.max(p.t.as_secs_f64());
        }
    }
    for e in &it.events {
        end = end.max(e.t.as_secs_f64());
    }
    for f in &it.faults {
        end = end.max(f.until.unwrap_or(f.from).as_secs_f64());
    }
    for k in &it.kernel {
        end = end.max(k.time().as_secs_f64());
    }
    let span = ((end - t0) * 1.05).max(0.05);
    let (w, left, right) = (1000.0, 70.0, 20.0);
    let x = |t: f64| left + (w - left - right) * ((t - t0) / span).clamp(0.0, 1.0);
    let lanes = ["steps", "faults", "probe", "events", "kernel"];
    let lane_y = |i: usize| 16.0 + i as f64 * 28.0;
    let h = lane_y(lanes.len()) + 22.0;
    let mut s = format!(
        "<svg class=\"plot\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
         aria-label=\"timeline of iteration {}\">",
        it.index + 1
    );
    for (i, name) in lanes.iter().enumerate() {
        let _ = write!(
            s,
            "<text x=\"4\" y=\"{}\">{name}</text><line x1=\"{left}\" x2=\"{}\" y1=\"{2}\" \
             y2=\"{2}\" stroke=\"#eee\"/>",
            lane_y(i) + 4.0,
            w - right,
            lane_y(i)
        );
    }
    for g in &it.gaps {
        let from = g.from.as_secs_f64();
        let until = g.until.map(|u| u.as_secs_f64()).unwrap_or(end);
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"4\" width=\"{:.1}\" height=\"{}\" fill=\"#999\" \
             fill-opacity=\"0.25\"><title>{:?} unreadable: {}</title></rect>",
            x(from),
            (x(until) - x(from)).max(1.0),
            lane_y(lanes.len()) - 8.0,
            g.source,
            esc(&g.reason)
        );
    }
    for f in &it.faults {
        let from = f.from.as_secs_f64();
        let until = f.until.map(|u| u.as_secs_f64()).unwrap_or(end);
        let _ = write!(
            s,
            "<rect class=\"mark\" x=\"{:.1}\" y=\"{}\" width=\"{:.1}\" height=\"16\" \
             fill=\"#ff9800\"><title>{} ({}{})</title></rect>",
            x(from),
            lane_y(1) - 8.0,
            (x(until) - x(from)).max(2.0),
            esc(&f.description),
            format_secs(until - from),
            if f.until.is_none() {
                ", never undone"
            } else {
                ""
            }
        );
    }
    for st in &it.steps {
        if st.outcome == StepOutcome::Skipped {
            continue;
        }
        let (a, z) = (st.started.as_secs_f64(), st.finished.as_secs_f64());
        let fill = "#64b5f6";
        // Steps that ended badly are outlined in red; a thin white edge separates the others.
        let (stroke, width) = match st.outcome {
            StepOutcome::Ok => ("#fff", 0.5),
            _ => ("#c62828", 2.0),
        };
        let _ = write!(
            s,
            "<rect class=\"mark\" x=\"{:.1}\" y=\"{}\" width=\"{:.1}\" height=\"16\" fill=\"{fill}\" \
             stroke=\"{stroke}\" stroke-width=\"{width}\"><title>{} ({}, {})</title></rect>",
            x(a),
            lane_y(0) - 8.0,
            (x(z) - x(a)).max(2.0),
            esc(&st.label),
            esc(&st.action),
            format_secs(z - a)
        );
        for p in &st.samples {
            let color = if p.unreadable {
                "#9e9e9e"
            } else if p.ok {
                "#2e7d32"
            } else {
                "#c62828"
            };
            let what = match (&p.latency, &p.error) {
                (Some(l), _) => format!("ok in {}", format_secs(*l)),
                (None, Some(e)) => e.clone(),
                (None, None) => String::new(),
            };
            let _ = write!(
                s,
                "<circle class=\"mark\" cx=\"{:.1}\" cy=\"{}\" r=\"3\" fill=\"{color}\">\
                 <title>{} {}: {}</title></circle>",
                x(p.t.as_secs_f64()),
                lane_y(2),
                format_secs(p.t.as_secs_f64() - t0),
                esc(&p.phase),
                esc(&what)
            );
        }
    }
    for e in &it.events {
        let _ = write!(
            s,
            "<line class=\"mark\" x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#6a1b9a\" \
             stroke-width=\"2\"><title>{3} {4} {5}</title></line>",
            x(e.t.as_secs_f64()),
            lane_y(3) - 8.0,
            lane_y(3) + 8.0,
            format_secs(e.t.as_secs_f64() - t0),
            esc(&e.action),
            esc(e.container.as_deref().unwrap_or(""))
        );
    }
    for k in &it.kernel {
        let _ = write!(
            s,
            "<line class=\"mark\" x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#b71c1c\" \
             stroke-width=\"2\"><title>{3} {4}</title></line>",
            x(k.time().as_secs_f64()),
            lane_y(4) - 8.0,
            lane_y(4) + 8.0,
            format_secs(k.time().as_secs_f64() - t0),
            esc(&k.text)
        );
    }
    let axis_y = lane_y(lanes.len()) - 6.0;
    for t in ticks(span) {
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{axis_y}\" y2=\"{1}\" stroke=\"#999\"/>\
             <text x=\"{0:.1}\" y=\"{2}\" text-anchor=\"middle\">{3}</text>",
            x(t0 + t),
            axis_y + 4.0,
            axis_y + 16.0,
            format_secs(t)
        );
    }
    s.push_str("</svg>");
    s
}

/// The HTML page of a single run: verdicts, then each scenario's iterations as timelines.
pub fn run_page(r: &Report) -> String {
    let mut b = String::new();
    let run = &r.run;
    let _ = write!(
        b,
        "<h1>shakedown run {}</h1>\n<p>target: {}</p>\n",
        esc(&run.run_id),
        esc(&run.target)
    );
    let failed = r.summary.failed + r.summary.unknown > 0;
    let _ = writeln!(
        b,
        "<p class=\"banner {}\">{}{}</p>",
        if failed { "fail" } else { "pass" },
        esc(&r.summary.text()),
        run.interrupted
            .as_deref()
            .map(|s| format!(" — interrupted by {}", esc(s)))
            .unwrap_or_default()
    );
    b.push_str("<table><tr><th></th><th>this run</th></tr>\n");
    fingerprint_rows(&mut b, &[("run", &run.fingerprint)]);
    b.push_str("</table>\n");
    let _ = writeln!(
        b,
        "<p class=\"legend\">Timelines: <span style=\"background:#64b5f6\"></span>step\
         <span style=\"background:#ff9800\"></span>fault window\
         <span style=\"background:#2e7d32\"></span>probe ok\
         <span style=\"background:#c62828\"></span>probe failed\
         <span style=\"background:#6a1b9a\"></span>daemon event\
         <span style=\"background:#b71c1c\"></span>kernel line\
         <span style=\"background:#ccc\"></span>source unreadable. Hover for details.</p>"
    );
    b.push_str("<table><tr><th>scenario</th><th>verdict</th><th>time</th></tr>\n");
    for (v, s) in r.verdicts.iter().zip(&run.scenarios) {
        let _ = writeln!(
            b,
            "<tr><td><a href=\"#{}\">{}</a></td><td>{}</td><td class=\"num\">{}</td></tr>",
            anchor(&v.name),
            esc(&v.name),
            badge(v.outcome.label()),
            format_duration(s.elapsed)
        );
    }
    b.push_str("</table>\n");
    for (v, s) in r.verdicts.iter().zip(&run.scenarios) {
        let _ = writeln!(
            b,
            "<h2 id=\"{}\">{} {}</h2>",
            anchor(&v.name),
            esc(&v.name),
            badge(v.outcome.label())
        );
        if let Some(reason) = &v.skipped {
            let _ = writeln!(b, "<p>Skipped, not run: {}.</p>", esc(reason));
        }
        let failures = v.failures();
        if !failures.is_empty() {
            b.push_str("<ul class=\"fail\">");
            for f in &failures {
                let _ = write!(b, "<li>{}</li>", esc(f));
            }
            b.push_str("</ul>\n");
        }
        for it in &s.iterations {
            let _ = write!(b, "<h3>iteration {}</h3>\n{}\n", it.index + 1, timeline(it));
            let forensics: Vec<_> = it
                .steps
                .iter()
                .filter_map(|s| s.forensics.as_ref())
                .collect();
            if !forensics.is_empty() {
                b.push_str("<p>forensics: ");
                for f in forensics {
                    let _ = write!(b, "{} ", file_link(f));
                }
                b.push_str("</p>\n");
            }
        }
        if !v.outcome.is_ok() && s.iterations.is_empty() {
            b.push_str("<p>Not run.</p>\n");
        }
    }
    let _ = write!(
        b,
        "<p><small>shakedown {}</small></p>",
        esc(&r.shakedown_version)
    );
    page(&format!("shakedown run {}", run.run_id), &b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use judge::compare::Kind;
    use judge::verdict::Outcome;

    #[test]
    fn escapes_and_ticks() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(
            ticks(1.0),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(ticks(7.3), vec![0.0, 2.0, 4.0, 6.0]);
        assert_eq!(ticks(0.0), vec![0.0]);
    }

    #[test]
    fn kinds_and_outcomes_have_badge_styles() {
        for o in [
            Outcome::Pass,
            Outcome::Fail,
            Outcome::Unknown,
            Outcome::Skipped,
        ] {
            assert!(badge(o.label()).contains("class=\"badge pass") || o != Outcome::Pass);
            let class = o.label().to_lowercase();
            assert!(STYLE.contains(&format!(".{class}")), "{o:?}");
        }
        for k in Kind::ALL {
            assert!(STYLE.contains(&format!(".{}", k.label())), "{k:?}");
        }
    }
}
