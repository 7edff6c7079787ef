//! Which earlier look a comparison is anchored to. `wait_for {restarted: true}` and the
//! `changed`/`unchanged` expectations compare a container with "its previous observation"; that
//! look must be one the journal fixed before the effect being measured, never a look that can land
//! after it. A `kill` returns as soon as the signal is sent: the runner's look at the container
//! right after it can already show the restart policy's restart, so comparing with that look would
//! miss the restart (a wrong failure seen in CI and in moby's
//! TestKillWithStopSignalAndRestartPolicies).
//!
//! The rule, one place for the runner (at run time) and the judge (from the journal):
//! - a step whose action **settles** (`start`, `stop`, `wait_for`, …: it returns once the state it
//!   made or waited for is reached) makes its own look the anchor;
//! - a step whose action's effect **continues** after it returns (`kill`, `kill_process`, `exec`,
//!   the daemon faults, …) keeps the anchor where it was — the look before it — and marks the
//!   container *unsettled* (every container, for a fault without one);
//! - a step that only **observes** (`inspect`, `log`, `probe`, …) makes its look the anchor only
//!   while the container is settled: right after a `kill`, an `inspect` may land before or after
//!   the restart, so it does not move the anchor; after a `wait_for` it does.

use std::collections::{HashMap, HashSet};

/// How an action's effect relates to the moment it returns (see the module's rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// It only looks.
    Observes,
    /// It returns once the state it made or waited for is reached.
    Settles,
    /// What it set off may still unfold after it returns.
    Continues,
}

/// Each action's effect by its name as written in scenarios and journals (the judge knows steps
/// by name only); `None` for a name no action has. Every action is listed on purpose: a new one
/// is classified here (a test in `action` checks that none is missing).
pub fn effect_of(action: &str) -> Option<Effect> {
    Some(match action {
        "inspect" | "log" | "probe" | "probe_api" | "sleep" | "file_progress" | "check_leaks"
        | "join" => Effect::Observes,
        "start" | "create" | "restart" | "pause" | "unpause" | "stop" | "wait" | "wait_for"
        | "remove" => Effect::Settles,
        // `exec` runs whatever it is given, which may end the container.
        "kill" | "kill_process" | "exec" | "daemon_restart" | "daemon_kill" | "daemon_freeze"
        | "daemon_thaw" | "daemon_reload" | "containerd_kill" | "shim_kill" | "churn"
        | "leak_veth" | "pin_netns" | "partition" | "net_delay" | "net_loss" | "net_rate"
        | "net_corrupt" | "net_duplicate" | "dependency_outage" | "container_freeze"
        | "daemon_limits" | "daemon_oom" | "fill_disk" | "fill_inodes" => Effect::Continues,
        _ => return None,
    })
}

/// Each container's anchor: the look later comparisons are made with.
#[derive(Clone, Debug)]
pub struct Anchors<T> {
    settled: HashMap<String, T>,
    unsettled: HashSet<String>,
}

impl<T> Default for Anchors<T> {
    fn default() -> Self {
        Anchors {
            settled: HashMap::new(),
            unsettled: HashSet::new(),
        }
    }
}

impl<T> Anchors<T> {
    /// The look a step on `container` compares with: the latest one fixed before any effect still
    /// unfolding.
    pub fn before(&self, container: &str) -> Option<&T> {
        self.settled.get(container)
    }

    /// Takes in a finished step: its action's effect, the container it acted on (none: the daemon
    /// or the host, so every container) and the runner's look at that container after it.
    pub fn after(&mut self, effect: Effect, container: Option<&str>, look: Option<T>) {
        match (effect, container) {
            (Effect::Continues, Some(c)) => {
                self.unsettled.insert(c.to_string());
            }
            (Effect::Continues, None) => {
                self.unsettled.extend(self.settled.keys().cloned());
            }
            (Effect::Settles, Some(c)) => {
                if let Some(l) = look {
                    self.settled.insert(c.to_string(), l);
                    self.unsettled.remove(c);
                }
            }
            (Effect::Observes, Some(c)) => {
                if let Some(l) = look.filter(|_| !self.unsettled.contains(c)) {
                    self.settled.insert(c.to_string(), l);
                }
            }
            (Effect::Settles | Effect::Observes, None) => {}
        }
    }

    /// Keeps `other`'s anchors for containers this one has none for (a background step's context
    /// merged back: what this one learnt meanwhile is as new or newer).
    pub fn merge(&mut self, other: Anchors<T>) {
        for (k, v) in other.settled {
            if !self.settled.contains_key(&k) {
                if other.unsettled.contains(&k) {
                    self.unsettled.insert(k.clone());
                }
                self.settled.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(steps: &[(Effect, Option<&str>, Option<u32>)]) -> Anchors<u32> {
        let mut a = Anchors::default();
        for (e, c, l) in steps {
            a.after(*e, *c, *l);
        }
        a
    }

    #[test]
    fn effects_by_name() {
        assert_eq!(effect_of("kill"), Some(Effect::Continues));
        assert_eq!(effect_of("wait_for"), Some(Effect::Settles));
        assert_eq!(effect_of("inspect"), Some(Effect::Observes));
        assert_eq!(effect_of("no_such_action"), None);
    }

    #[test]
    fn a_kill_keeps_the_look_before_it_until_a_step_settles() {
        use Effect::*;
        // start (look 1) → kill (its look 2 may be after the restart) → inspect (look 3)
        let a = fold(&[
            (Settles, Some("w"), Some(1)),
            (Continues, Some("w"), Some(2)),
            (Observes, Some("w"), Some(3)),
        ]);
        assert_eq!(a.before("w"), Some(&1));
        // … → wait_for (look 4) → inspect (look 5)
        let mut a = a;
        a.after(Settles, Some("w"), Some(4));
        assert_eq!(a.before("w"), Some(&4));
        a.after(Observes, Some("w"), Some(5));
        assert_eq!(a.before("w"), Some(&5));
    }

    #[test]
    fn a_daemon_fault_unsettles_every_container_and_observers_move_settled_ones() {
        use Effect::*;
        let a = fold(&[
            (Settles, Some("a"), Some(1)),
            (Observes, Some("a"), Some(2)),
            (Settles, Some("b"), Some(10)),
            (Continues, None, None),
            (Observes, Some("a"), Some(3)),
            (Observes, Some("b"), Some(11)),
        ]);
        assert_eq!(a.before("a"), Some(&2));
        assert_eq!(a.before("b"), Some(&10));
        // A failed step (no look) moves nothing.
        let a = fold(&[(Settles, Some("a"), Some(1)), (Settles, Some("a"), None)]);
        assert_eq!(a.before("a"), Some(&1));
    }
}
