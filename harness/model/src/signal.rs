//! Signal names as scenarios write them (`SIGTERM`, `TERM`, `15`).

/// Signals by name and number (Linux x86_64/aarch64 numbering).
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
    ("STKFLT", 16),
];

/// The first and last real-time signals as programs (glibc) and Docker number them.
const RTMIN: i32 = 34;
const RTMAX: i32 = 64;

/// Parses `SIGTERM`, `TERM`, `sigterm`, `15`, or a real-time signal (`RTMIN`, `SIGRTMIN+3`,
/// `RTMAX-1`) into a signal number (1–64).
pub fn parse(s: &str) -> Option<i32> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i32>() {
        return (1..=RTMAX).contains(&n).then_some(n);
    }
    let upper = s.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    let rt = |base: i32, rest: &str| -> Option<i32> {
        let n = match rest.chars().next() {
            None => base,
            Some('+') => base + rest[1..].parse::<i32>().ok()?,
            Some('-') => base - rest[1..].parse::<i32>().ok()?,
            Some(_) => return None,
        };
        (RTMIN..=RTMAX).contains(&n).then_some(n)
    };
    if let Some(rest) = bare.strip_prefix("RTMIN") {
        return rt(RTMIN, rest);
    }
    if let Some(rest) = bare.strip_prefix("RTMAX") {
        return rt(RTMAX, rest);
    }
    SIGNALS.iter().find(|(n, _)| *n == bare).map(|(_, v)| *v)
}

/// Like [`parse`], and also `0`: no signal, only the check that the process exists (`kill -0`),
/// for signals the harness sends itself.
pub fn parse_or_zero(s: &str) -> Option<i32> {
    if s.trim() == "0" {
        Some(0)
    } else {
        parse(s)
    }
}

/// A validation problem for an optional signal argument of an action, if it does not parse.
pub fn problem(action: &str, signal: &Option<String>) -> Vec<String> {
    problem_with(action, signal, parse)
}

/// [`problem`] for an action that also takes `0` (no signal, an existence check).
pub fn problem_or_zero(action: &str, signal: &Option<String>) -> Vec<String> {
    problem_with(action, signal, parse_or_zero)
}

fn problem_with(
    action: &str,
    signal: &Option<String>,
    parse: fn(&str) -> Option<i32>,
) -> Vec<String> {
    match signal {
        Some(s) if parse(s).is_none() => vec![format!(
            "{action}: unknown signal {s:?} (e.g. SIGTERM, SIGUSR1, RTMIN+3, 9)"
        )],
        _ => vec![],
    }
}

/// The canonical `SIGNAME` for a signal number, or the number itself.
pub fn name(n: i32) -> String {
    SIGNALS
        .iter()
        .find(|(_, v)| *v == n)
        .map(|(s, _)| format!("SIG{s}"))
        .unwrap_or_else(|| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("SIGTERM"), Some(15));
        assert_eq!(parse("term"), Some(15));
        assert_eq!(parse("9"), Some(9));
        assert_eq!(parse("SIGNOPE"), None);
        assert_eq!(parse("0"), None);
        assert_eq!(parse_or_zero("0"), Some(0));
        assert_eq!(name(10), "SIGUSR1");
        assert_eq!(parse("SIGRTMIN"), Some(34));
        assert_eq!(parse("RTMIN+3"), Some(37));
        assert_eq!(parse("rtmax-2"), Some(62));
        assert_eq!(parse("RTMIN+31"), None);
        assert_eq!(parse("RTMIN3"), None);
        assert_eq!(parse("SIGXCPU"), Some(24));
        assert_eq!(parse("64"), Some(64));
        assert_eq!(parse("65"), None);
    }
}
