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
    ("WINCH", 28),
];

/// Parses `SIGTERM`, `TERM`, `sigterm` or `15` into a signal number.
pub fn parse(s: &str) -> Option<i32> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let upper = s.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS.iter().find(|(n, _)| *n == bare).map(|(_, v)| *v)
}

/// A validation problem for an optional signal argument of an action, if it does not parse.
pub fn problem(action: &str, signal: &Option<String>) -> Vec<String> {
    match signal {
        Some(s) if parse(s).is_none() => vec![format!(
            "{action}: unknown signal {s:?} (e.g. SIGTERM, SIGUSR1, 9)"
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
        assert_eq!(name(10), "SIGUSR1");
    }
}
