//! Scenario parameters: `vars` (defaults) and `matrix` (named variants), substituted into
//! `"{{ vars.NAME }}"` placeholders before the scenario is parsed.
//!
//! Substitution works on the text, so that serde-saphyr parses the result with its usual strict
//! checks and spans, and every placeholder keeps its place: a scalar that is one placeholder becomes
//! the value with its type (`true`, `5`, `"5s"`), padded with spaces to the placeholder's width, so
//! that lines and columns stay those of the original file; a placeholder inside a longer text is
//! interpolated. Where a value is wider than its placeholder, the [`PosMap`] maps the columns of the
//! substituted text back to the original file.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Span, StructureStyle};

use crate::limits::{MAX_EXPANDED_BYTES, MAX_MATRIX_VARIANTS};

/// A parameter's value: a bool, a number or a text (durations and sizes are texts, e.g. `5s`).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum VarValue {
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// A text.
    Text(String),
}

impl VarValue {
    /// The value as YAML with its type (a text is double-quoted).
    fn yaml(&self) -> String {
        match self {
            VarValue::Text(s) => serde_json::to_string(s).unwrap_or_default(),
            other => other.to_string(),
        }
    }
}

impl std::fmt::Display for VarValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VarValue::Bool(b) => write!(f, "{b}"),
            VarValue::Int(i) => write!(f, "{i}"),
            VarValue::Float(x) => write!(f, "{x}"),
            VarValue::Text(s) => f.write_str(s),
        }
    }
}

/// Maps positions in a substituted text back to the original file.
#[derive(Clone, Debug, Default)]
pub struct PosMap {
    /// Single-line replacements: (line, original column, original width, new width), columns
    /// 1-based in characters, in source order.
    edits: Vec<(u64, u64, u64, u64)>,
}

impl PosMap {
    /// The original (line, column) of a 1-based position in the substituted text.
    pub fn original(&self, line: u64, col: u64) -> (u64, u64) {
        let mut shift: i64 = 0;
        for &(_, c, old, new) in self.edits.iter().filter(|e| e.0 == line) {
            let start = (c as i64 + shift) as u64;
            if col < start {
                break;
            }
            if col < start + new {
                return (line, c);
            }
            shift += new as i64 - old as i64;
        }
        (line, (col as i64 - shift).max(1) as u64)
    }
}

/// One variant of a scenario file: its name (`None` without a matrix), the values of its
/// parameters, and the text to parse.
#[derive(Debug)]
pub struct Variant {
    /// The matrix key, or `None` for a file without `matrix`.
    pub name: Option<String>,
    /// Every parameter's value in this variant.
    pub values: BTreeMap<String, VarValue>,
    /// The scenario text with the values substituted.
    pub text: String,
    /// Positions in `text` back to the original.
    pub map: PosMap,
}

#[derive(Debug)]
enum Kind {
    Scalar(String, ScalarStyle),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>, StructureStyle),
    Other,
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    span: Span,
}

type Events<'a> = std::iter::Peekable<Parser<'a, serde_saphyr::granit_parser::StrInput<'a>>>;

/// The next event that is not a comment (the parser reports comments as events of their own).
fn next_event<'a>(events: &mut Events<'a>) -> Option<(Event<'a>, Span)> {
    loop {
        let e = events.next()?.ok()?;
        if !matches!(e.0, Event::Comment(..)) {
            return Some(e);
        }
    }
}

fn node(first: (Event<'_>, Span), events: &mut Events<'_>) -> Option<Node> {
    let (ev, span) = first;
    let kind = match ev {
        Event::Scalar(v, style, _, _) => Kind::Scalar(v.into_owned(), style),
        Event::SequenceStart(..) => {
            let mut items = Vec::new();
            loop {
                let next = next_event(events)?;
                if matches!(next.0, Event::SequenceEnd) {
                    break;
                }
                items.push(node(next, events)?);
            }
            Kind::Seq(items)
        }
        Event::MappingStart(style, _, _) => {
            let mut entries = Vec::new();
            loop {
                let next = next_event(events)?;
                if matches!(next.0, Event::MappingEnd) {
                    break;
                }
                let k = node(next, events)?;
                let v = node(next_event(events)?, events)?;
                entries.push((k, v));
            }
            Kind::Map(entries, style)
        }
        _ => Kind::Other,
    };
    Some(Node { kind, span })
}

/// The first document's root, or `None` when the text does not parse (serde-saphyr then reports
/// the syntax error with its location).
fn root(text: &str) -> Option<Node> {
    let mut events: Events<'_> = Parser::new_from_str(text).peekable();
    loop {
        let e = next_event(&mut events)?;
        match e.0 {
            Event::StreamStart | Event::DocumentStart(..) => continue,
            Event::StreamEnd | Event::DocumentEnd => return None,
            _ => return node(e, &mut events),
        }
    }
}

/// The 1-based (line, column) where the value of a top-level key of `text` starts, if the text
/// parses as a map that has the key.
pub(super) fn top_level_value_at(text: &str, name: &str) -> Option<(u64, u64)> {
    let Kind::Map(entries, _) = root(text)?.kind else {
        return None;
    };
    let (_, v) = entries.iter().find(|(k, _)| key(k) == Some(name))?;
    Some((v.span.start.line() as u64, v.span.start.col() as u64 + 1))
}

fn key(n: &Node) -> Option<&str> {
    match &n.kind {
        Kind::Scalar(s, _) => Some(s),
        _ => None,
    }
}

/// A placeholder found in a scalar: its byte range in the scalar's value and the variable's name.
struct Placeholder {
    range: std::ops::Range<usize>,
    var: String,
}

/// The placeholders of a scalar's value, or the text of a malformed one.
fn placeholders(value: &str) -> Result<Vec<Placeholder>, String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = value[from..].find("{{") {
        let start = from + i;
        let Some(j) = value[start..].find("}}") else {
            break;
        };
        let end = start + j + 2;
        let inner = value[start + 2..end - 2].trim();
        from = end;
        // Other `{{...}}` belong to the run (`{{ip:NAME}}`): left as they are.
        if !inner.starts_with("var") {
            continue;
        }
        match inner.strip_prefix("vars.") {
            Some(v)
                if !v.is_empty()
                    && v.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
            {
                out.push(Placeholder {
                    range: start..end,
                    var: v.to_string(),
                })
            }
            _ => return Err(value[start..end].to_string()),
        }
    }
    Ok(out)
}

struct Site<'a> {
    node: &'a Node,
    value: &'a str,
    style: ScalarStyle,
    found: Vec<Placeholder>,
}

fn typed(style: ScalarStyle, v: &str) -> VarValue {
    if style != ScalarStyle::Plain {
        return VarValue::Text(v.into());
    }
    match v {
        "true" | "True" | "TRUE" => return VarValue::Bool(true),
        "false" | "False" | "FALSE" => return VarValue::Bool(false),
        _ => {}
    }
    if let Ok(i) = v.parse::<i64>() {
        return VarValue::Int(i);
    }
    if v.chars().any(|c| c.is_ascii_digit()) && !v.chars().any(|c| c.is_ascii_alphabetic()) {
        if let Ok(x) = v.parse::<f64>() {
            return VarValue::Float(x);
        }
    }
    VarValue::Text(v.into())
}

fn loc(file: &Path, s: &Span) -> String {
    format!(
        "{}:{}:{}",
        file.display(),
        s.start.line(),
        s.start.col() + 1
    )
}

/// Reads `vars:`, a map of names to scalar values.
fn read_vars(
    n: &Node,
    what: &str,
    file: &Path,
    problems: &mut Vec<String>,
) -> Vec<(String, VarValue, Span)> {
    let Kind::Map(entries, _) = &n.kind else {
        problems.push(format!(
            "{}: `{what}` must be a map of names to values",
            loc(file, &n.span)
        ));
        return vec![];
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let Some(name) = key(k) else {
            problems.push(format!(
                "{}: `{what}`: a name must be a text",
                loc(file, &k.span)
            ));
            continue;
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            problems.push(format!(
                "{}: `{what}`: variable name {name:?} must be letters, digits, '_' or '-'",
                loc(file, &k.span)
            ));
            continue;
        }
        match &v.kind {
            Kind::Scalar(s, style)
                if !(*style == ScalarStyle::Plain && matches!(s.as_str(), "" | "~" | "null")) =>
            {
                out.push((name.to_string(), typed(*style, s), k.span))
            }
            _ => problems.push(format!(
                "{}: `{what}`: {name} must be a bool, a number or a text",
                loc(file, &v.span)
            )),
        }
    }
    out
}

fn collect<'a>(
    n: &'a Node,
    skip: &[*const Node],
    sites: &mut Vec<Site<'a>>,
    bad: &mut Vec<String>,
    file: &Path,
    text: &str,
) {
    if skip.contains(&(n as *const Node)) {
        return;
    }
    match &n.kind {
        Kind::Scalar(v, style) => {
            if v.contains("{{") {
                match placeholders(v) {
                    Ok(found) if found.is_empty() => {}
                    Ok(found) => sites.push(Site {
                        node: n,
                        value: v,
                        style: *style,
                        found,
                    }),
                    Err(p) => bad.push(format!(
                        "{}: {p:?} is not a placeholder: write \"{{{{ vars.NAME }}}}\"",
                        loc(file, &n.span)
                    )),
                }
            }
        }
        Kind::Seq(items) => items
            .iter()
            .for_each(|i| collect(i, skip, sites, bad, file, text)),
        Kind::Map(entries, style) => {
            let start = n.span.start.byte_offset().unwrap_or(usize::MAX);
            if *style == StructureStyle::Flow
                && text
                    .get(start..)
                    .and_then(|t| t.strip_prefix("{{"))
                    .is_some_and(|t| t.trim_start().starts_with("var"))
            {
                bad.push(format!(
                    "{}: a placeholder must be quoted: \"{{{{ vars.NAME }}}}\" (unquoted, YAML reads a map)",
                    loc(file, &n.span)
                ));
                return;
            }
            for (k, v) in entries {
                collect(k, skip, sites, bad, file, text);
                collect(v, skip, sites, bad, file, text);
            }
        }
        Kind::Other => {}
    }
}

/// Expands a scenario text into its variants: one (named `None`, the text unchanged) for a file
/// without `vars`, `matrix` or placeholders; one per `matrix` key otherwise, or one with the
/// defaults of `vars` when there is no matrix. Every problem starts with `file:line:col:`.
pub fn expand(text: &str, file: &Path) -> Result<Vec<Variant>, Vec<String>> {
    let unchanged = || {
        vec![Variant {
            name: None,
            values: BTreeMap::new(),
            text: text.to_string(),
            map: PosMap::default(),
        }]
    };
    if !text.contains("{{") && !text.contains("vars") && !text.contains("matrix") {
        return Ok(unchanged());
    }
    let Some(root) = root(text) else {
        return Ok(unchanged());
    };
    let Kind::Map(entries, _) = &root.kind else {
        return Ok(unchanged());
    };
    let mut problems = Vec::new();
    let vars_node = entries.iter().find(|(k, _)| key(k) == Some("vars"));
    let matrix_node = entries.iter().find(|(k, _)| key(k) == Some("matrix"));
    let defaults = vars_node
        .map(|(_, v)| read_vars(v, "vars", file, &mut problems))
        .unwrap_or_default();
    let mut variants: Vec<(Option<String>, BTreeMap<String, VarValue>)> = Vec::new();
    let base: BTreeMap<String, VarValue> = defaults
        .iter()
        .map(|(k, v, _)| (k.clone(), v.clone()))
        .collect();
    match matrix_node {
        None => variants.push((None, base.clone())),
        Some((mk, m)) => match &m.kind {
            Kind::Map(rows, _) if rows.len() > MAX_MATRIX_VARIANTS => {
                return Err(vec![format!(
                    "{}: `matrix` has {} variants, more than the limit of {MAX_MATRIX_VARIANTS} (MAX_MATRIX_VARIANTS)",
                    loc(file, &m.span),
                    rows.len()
                )]);
            }
            Kind::Map(rows, _) if rows.len().saturating_mul(text.len()) > MAX_EXPANDED_BYTES => {
                return Err(vec![format!(
                    "{}: `matrix` has {} variants of a {}-byte file: together more than the limit of {} (MAX_EXPANDED_BYTES)",
                    loc(file, &m.span),
                    rows.len(),
                    text.len(),
                    crate::limits::bytes(MAX_EXPANDED_BYTES)
                )]);
            }
            Kind::Map(rows, _) if !rows.is_empty() => {
                for (k, row) in rows {
                    let Some(name) = key(k).filter(|n| super::load::valid_name(n)) else {
                        problems.push(format!(
                            "{}: `matrix`: a variant's name must be letters, digits, '-', '_' or '.'",
                            loc(file, &k.span)
                        ));
                        continue;
                    };
                    let mut values = base.clone();
                    for (var, value, at) in read_vars(row, &format!("matrix.{name}"), file, &mut problems) {
                        if !base.contains_key(&var) {
                            problems.push(format!(
                                "{}: variant {name:?} sets {var:?}, which is not in `vars` (known: {})",
                                loc(file, &at),
                                known(&base)
                            ));
                        }
                        values.insert(var, value);
                    }
                    variants.push((Some(name.to_string()), values));
                }
            }
            _ => problems.push(format!(
                "{}: `matrix` must map each variant's name to the values it sets, e.g. `{{fixed: {{init: true}}}}`",
                loc(file, &mk.span)
            )),
        },
    }
    let skip: Vec<*const Node> = [vars_node, matrix_node]
        .into_iter()
        .flatten()
        .flat_map(|(k, v)| [k as *const Node, v as *const Node])
        .collect();
    let mut sites = Vec::new();
    collect(&root, &skip, &mut sites, &mut problems, file, text);
    for s in &sites {
        for p in &s.found {
            if !base.contains_key(&p.var) {
                problems.push(format!(
                    "{}: undefined variable {:?}: define it in `vars` (known: {})",
                    loc(file, &s.node.span),
                    p.var,
                    known(&base)
                ));
            }
        }
        let single_line = s.node.span.start.line() == s.node.span.end.line();
        let block = matches!(s.style, ScalarStyle::Literal | ScalarStyle::Folded);
        if !block && !single_line {
            problems.push(format!(
                "{}: a placeholder in a text that spans lines: write it on one line, or as a block (`|`)",
                loc(file, &s.node.span)
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut out = Vec::new();
    for (name, values) in variants {
        match substitute(text, &sites, &values, file) {
            Ok((text, map)) => out.push(Variant {
                name,
                values,
                text,
                map,
            }),
            Err(mut p) => problems.append(&mut p),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn known(vars: &BTreeMap<String, VarValue>) -> String {
    if vars.is_empty() {
        "none".into()
    } else {
        vars.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// One replacement: a byte range of the original text and what replaces it.
struct Edit {
    range: std::ops::Range<usize>,
    with: String,
    line: u64,
    col: u64,
}

fn substitute(
    text: &str,
    sites: &[Site<'_>],
    values: &BTreeMap<String, VarValue>,
    file: &Path,
) -> Result<(String, PosMap), Vec<String>> {
    let mut edits = Vec::new();
    let mut problems = Vec::new();
    for s in sites {
        let span = &s.node.span;
        let (Some(start), Some(end)) = (span.start.byte_offset(), span.end.byte_offset()) else {
            problems.push(format!(
                "{}: cannot place this placeholder",
                loc(file, span)
            ));
            continue;
        };
        let value = |p: &Placeholder| {
            values
                .get(&p.var)
                .cloned()
                .unwrap_or(VarValue::Text(String::new()))
        };
        if matches!(s.style, ScalarStyle::Literal | ScalarStyle::Folded) {
            // A block's text is written as is: replace each placeholder where it is written, each
            // after the one before (the same placeholder may be written twice).
            let mut from = start;
            for p in &s.found {
                let written = &s.value[p.range.clone()];
                let Some(i) = text.get(from..end).and_then(|t| t.find(written)) else {
                    problems.push(format!(
                        "{}: cannot place this placeholder",
                        loc(file, span)
                    ));
                    continue;
                };
                let v = value(p).to_string();
                if v.contains('\n') {
                    problems.push(format!(
                        "{}: {:?} has a line break: it cannot go into a block",
                        loc(file, span),
                        p.var
                    ));
                }
                let at = from + i;
                from = at + written.len();
                let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
                edits.push(Edit {
                    range: at..at + written.len(),
                    with: v,
                    line: (text[..at].matches('\n').count() + 1) as u64,
                    col: text[line_start..at].chars().count() as u64 + 1,
                });
            }
            continue;
        }
        let whole = s.found.len() == 1 && s.found[0].range == (0..s.value.len());
        let with = if whole {
            value(&s.found[0]).yaml()
        } else {
            let mut v = String::new();
            let mut last = 0;
            for p in &s.found {
                v.push_str(&s.value[last..p.range.start]);
                v.push_str(&value(p).to_string());
                last = p.range.end;
            }
            v.push_str(&s.value[last..]);
            serde_json::to_string(&v).unwrap_or_default()
        };
        let width = text[start..end].chars().count();
        let pad = width.saturating_sub(with.chars().count());
        edits.push(Edit {
            range: start..end,
            with: format!("{with}{}", " ".repeat(pad)),
            line: span.start.line() as u64,
            col: span.start.col() as u64 + 1,
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    edits.sort_by_key(|e| e.range.start);
    if let Some(w) = edits.windows(2).find(|w| w[1].range.start < w[0].range.end) {
        return Err(vec![format!(
            "{}:{}:{}: placeholders overlap here: write each once, on its own",
            file.display(),
            w[1].line,
            w[1].col
        )]);
    }
    let mut out = String::with_capacity(text.len());
    let mut map = PosMap::default();
    let mut last = 0;
    for e in edits {
        out.push_str(&text[last..e.range.start]);
        let old = text[e.range.clone()].chars().count() as u64;
        let new = e.with.chars().count() as u64;
        out.push_str(&e.with);
        if old != new {
            map.edits.push((e.line, e.col, old, new));
        }
        last = e.range.end;
    }
    out.push_str(&text[last..]);
    Ok((out, map))
}
