//! `exec`: run a command in a running container (e.g. to prove the daemon still reaches it after a
//! restart). Its exit code and output are the step's facts; `exit_code` and `output` check them.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use super::{Command, Deadlines};

/// Arguments of `exec`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exec {
    /// The container's name in the scenario.
    #[schemars(with = "String")]
    pub container: Spanned<String>,
    /// The command: a list of arguments, or a string run by `/bin/sh -c`.
    pub command: Command,
}

impl ActionKind for Exec {
    const NAME: &'static str = "exec";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        vec![&self.container]
    }

    fn default_deadline(&self, _: &dyn Deadlines) -> Duration {
        Duration::from_secs(30)
    }
}
