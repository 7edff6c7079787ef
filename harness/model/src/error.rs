//! The harness's error type and the one place exit codes are decided.
//!
//! 0: every scenario passed (or was skipped) · 1: a scenario failed or is unknown · 2: bad input
//! (a scenario file, a path, a flag) · 3: the environment or a target could not be used (no
//! engine, an unreachable host, a missing tool, a full state directory) · 130: interrupted by
//! SIGINT · 143: terminated by SIGTERM. [`Error::exit_code`] and [`exit_code`] are the only places
//! that choose one; `shakedown --help` and the README document them.

use std::fmt;

/// Exit code when every scenario passed.
pub const EXIT_OK: i32 = 0;
/// Exit code when at least one scenario failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit code for bad input: a scenario file, a path, an argument.
pub const EXIT_USAGE: i32 = 2;
/// Exit code when the environment or a target could not be used: no engine, an unreachable host,
/// a missing tool, a daemon that does not answer, a full state directory.
pub const EXIT_ENVIRONMENT: i32 = 3;
/// Exit code after Ctrl-C (SIGINT), once the run's changes are undone.
pub const EXIT_INTERRUPTED: i32 = 130;
/// Exit code after SIGTERM (how CI cancels a job), once the run's changes are undone.
pub const EXIT_TERMINATED: i32 = 143;

/// What stopped a run before its end, once its changes were undone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interruption {
    /// Ctrl-C.
    Interrupt,
    /// SIGTERM (how CI cancels a job).
    Terminate,
    /// Standard input ended (`run --stream`: the SSH session that started the run closed), which
    /// stops the run as SIGTERM would.
    EndOfInput,
}

impl Interruption {
    /// How the journal names it (`RunFinished.interrupted`).
    pub fn name(self) -> &'static str {
        match self {
            Interruption::Interrupt => "SIGINT",
            Interruption::Terminate => "SIGTERM",
            Interruption::EndOfInput => "end of input",
        }
    }
}

/// The exit code of a command that ran scenarios: the interruption's, if one stopped it (130
/// for SIGINT, 143 for SIGTERM or the end of input), else the verdicts' `code`.
pub fn exit_code(interrupted: Option<Interruption>, code: i32) -> i32 {
    match interrupted {
        Some(Interruption::Interrupt) => EXIT_INTERRUPTED,
        Some(Interruption::Terminate | Interruption::EndOfInput) => EXIT_TERMINATED,
        None => code,
    }
}

/// Errors that end a command before or outside scenario verdicts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user's input is wrong: a scenario file, a path, an argument. Carries every problem found.
    #[error("{}", Problems(.0))]
    Input(Vec<String>),
    /// The environment cannot do what was asked: daemon down, binary or image missing.
    #[error("{0}")]
    Environment(String),
    /// The run was interrupted (Ctrl-C); cleanup has run.
    #[error("interrupted")]
    Interrupted,
}

struct Problems<'a>(&'a [String]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl Error {
    /// One input problem.
    pub fn input(msg: impl Into<String>) -> Self {
        Error::Input(vec![msg.into()])
    }

    /// An environment problem, with context.
    pub fn env(msg: impl fmt::Display) -> Self {
        Error::Environment(msg.to_string())
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) => EXIT_USAGE,
            Error::Environment(_) => EXIT_ENVIRONMENT,
            Error::Interrupted => EXIT_INTERRUPTED,
        }
    }
}

/// Result with the harness's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interruption_decides_the_exit_code_over_the_verdicts() {
        assert_eq!(exit_code(None, EXIT_FAILED), EXIT_FAILED);
        assert_eq!(exit_code(Some(Interruption::Interrupt), EXIT_OK), 130);
        assert_eq!(exit_code(Some(Interruption::Terminate), EXIT_FAILED), 143);
        assert_eq!(exit_code(Some(Interruption::EndOfInput), EXIT_OK), 143);
        assert_eq!(Interruption::Interrupt.name(), "SIGINT");
    }

    #[test]
    fn bad_input_and_an_unusable_environment_exit_apart() {
        assert_eq!(Error::input("bad flag").exit_code(), 2);
        assert_eq!(Error::env("no engine").exit_code(), 3);
        assert_eq!(Error::Interrupted.exit_code(), 130);
    }
}
