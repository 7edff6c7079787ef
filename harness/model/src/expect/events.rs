//! `events`: Docker events that must arrive for the step's container while the step runs
//! (e.g. `[kill, die, oom]`), and events that must not (`{absent: [restart]}`). Their timestamps
//! are the daemon's own, which cross-check our clock.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Container event actions the daemon emits (`exec_*` ones are matched by prefix).
const KNOWN: &[&str] = &[
    "attach",
    "commit",
    "copy",
    "create",
    "destroy",
    "detach",
    "die",
    "exec_create",
    "exec_start",
    "exec_die",
    "export",
    "health_status",
    "kill",
    "oom",
    "pause",
    "rename",
    "resize",
    "restart",
    "start",
    "stop",
    "top",
    "unpause",
    "update",
];

/// `events:` as written: a list that must be seen, or both sets.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum EventsExpect {
    /// Events that must be seen.
    Present(Vec<String>),
    /// Events that must be seen and events that must not be.
    Sets(EventSets),
}

/// `{present: [...], absent: [...]}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EventSets {
    /// Events that must be seen.
    #[serde(default)]
    pub present: Vec<String>,
    /// Events that must not be seen during the step.
    #[serde(default)]
    pub absent: Vec<String>,
}

impl EventsExpect {
    /// Events that must be seen.
    pub fn present(&self) -> &[String] {
        match self {
            EventsExpect::Present(v) => v,
            EventsExpect::Sets(s) => &s.present,
        }
    }

    /// Events that must not be seen.
    pub fn absent(&self) -> &[String] {
        match self {
            EventsExpect::Present(_) => &[],
            EventsExpect::Sets(s) => &s.absent,
        }
    }
}

/// Unknown event names, for validation.
pub fn problems(e: &EventsExpect) -> Vec<String> {
    e.present()
        .iter()
        .chain(e.absent())
        .filter(|e| !KNOWN.contains(&e.as_str()))
        .map(|e| {
            format!(
                "events: unknown docker event {e:?} (known: {})",
                KNOWN.join(", ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_problems() {
        assert_eq!(
            problems(&EventsExpect::Present(vec!["oom".into(), "boom".into()])).len(),
            1
        );
        let sets = EventsExpect::Sets(EventSets {
            present: vec!["die".into()],
            absent: vec!["restrat".into()],
        });
        assert_eq!(problems(&sets).len(), 1);
    }
}
