//! The kernel log's vocabulary: a /dev/kmsg record as parsed, and classifiers that name the lines
//! that explain failures — OOM kills (with the killed PID and cgroup), `unregister_netdevice:
//! waiting for`, hung tasks, and warnings/oopses. Pure: the watcher that reads /dev/kmsg is
//! `host::kmsg` in the main crate.

use serde::{Deserialize, Serialize};

/// What a kernel line is about.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KernelClass {
    /// The OOM killer killed a process (`oom-kill:` / `Memory cgroup out of memory: Killed process`).
    OomKill,
    /// A network device is held: `unregister_netdevice: waiting for <dev> to become free`.
    UnregisterNetdevice,
    /// `task ... blocked for more than N seconds`.
    HungTask,
    /// `WARNING:`, `BUG:`, `Oops`, `general protection fault`, a call trace.
    Warning,
}

impl KernelClass {
    /// Name as written in scenarios.
    pub fn as_str(self) -> &'static str {
        match self {
            KernelClass::OomKill => "oom_kill",
            KernelClass::UnregisterNetdevice => "unregister_netdevice",
            KernelClass::HungTask => "hung_task",
            KernelClass::Warning => "warning",
        }
    }
}

/// Classifies one kernel message.
pub fn classify(text: &str) -> Option<KernelClass> {
    if text.starts_with("oom-kill:")
        || text.contains("Memory cgroup out of memory: Killed process")
        || text.contains("Out of memory: Killed process")
    {
        Some(KernelClass::OomKill)
    } else if text.contains("unregister_netdevice: waiting for") {
        Some(KernelClass::UnregisterNetdevice)
    } else if text.contains("blocked for more than") {
        Some(KernelClass::HungTask)
    } else if text.starts_with("WARNING:")
        || text.starts_with("BUG:")
        || text.contains("Oops")
        || text.contains("general protection fault")
        || text.starts_with("Call Trace")
    {
        Some(KernelClass::Warning)
    } else {
        None
    }
}

/// A raw record from /dev/kmsg: `priority,sequence,microseconds,flags;message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Syslog priority (level in the low 3 bits).
    pub priority: u32,
    /// Kernel timestamp, microseconds since boot.
    pub usec: u64,
    /// The message's first line.
    pub text: String,
}

/// Parses one /dev/kmsg record.
pub fn parse_record(raw: &str) -> Option<Record> {
    let (head, msg) = raw.split_once(';')?;
    let mut f = head.split(',');
    let priority = f.next()?.parse().ok()?;
    let _seq = f.next()?;
    let usec = f.next()?.parse().ok()?;
    let text = msg.lines().next().unwrap_or("").to_string();
    Some(Record {
        priority,
        usec,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_field_lines() {
        for (line, class) in [
            ("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=abc,mems_allowed=0,oom_memcg=/docker/abc,task_memcg=/docker/abc,task=shakedown-fixt,pid=4242,uid=0", KernelClass::OomKill),
            ("Memory cgroup out of memory: Killed process 4242 (shakedown-fixt) total-vm:1kB", KernelClass::OomKill),
            ("unregister_netdevice: waiting for veth1 to become free. Usage count = 1", KernelClass::UnregisterNetdevice),
            ("INFO: task exe:1234 blocked for more than 120 seconds.", KernelClass::HungTask),
            ("WARNING: CPU: 1 PID: 1 at net/core/dev.c:1 foo", KernelClass::Warning),
        ] {
            assert_eq!(classify(line), Some(class), "{line}");
        }
        assert_eq!(
            classify("sd-1234: port 1(veth0) entered disabled state"),
            None
        );
    }

    #[test]
    fn parses_kmsg_records() {
        let r = parse_record(
            "6,1435,5891233274,-;sd-8d83fcb9: port 1(vethb) entered disabled state\n SUBSYSTEM=net",
        )
        .unwrap();
        assert_eq!((r.priority, r.usec), (6, 5891233274));
        assert_eq!(r.text, "sd-8d83fcb9: port 1(vethb) entered disabled state");
        assert!(parse_record("garbage").is_none());
    }
}
