//! Checks of container and daemon settings that the YAML grammar cannot express: references to
//! the scenario's volumes and networks resolve, paths are absolute, names and values are ones
//! docker accepts, and daemon options do not clash with the flags the harness gives the managed
//! daemon. Every problem names file:line:col where the value has a location.

use super::load::{at, valid_name, Src};
use super::{Command, Scenario};
use std::collections::BTreeSet;

/// `source` of a bind mount naming the target daemon's API socket file.
pub const DAEMON_SOCKET: &str = "{{daemon_socket}}";
/// `source` of a bind mount naming the directory the target daemon's API socket is in.
pub const DAEMON_SOCKET_DIR: &str = "{{daemon_socket_dir}}";

/// daemon.json keys the harness sets on the managed daemon's command line itself (dockerd refuses
/// to start with a key both as a flag and in the file), with why they cannot be given.
pub const RESERVED_DAEMON_OPTIONS: &[(&str, &str)] = &[
    ("live-restore", "use `requires: {live_restore: ...}`"),
    ("userland-proxy", "use `requires: {userland_proxy: ...}`"),
    ("debug", "the harness sets it itself"),
    ("data-root", "each managed daemon has its own"),
    ("exec-root", "each managed daemon has its own"),
    ("hosts", "each managed daemon has its own socket"),
    ("pidfile", "each managed daemon has its own"),
    ("containerd-namespace", "each managed daemon has its own"),
    (
        "containerd-plugins-namespace",
        "each managed daemon has its own",
    ),
    ("bridge", "each managed daemon has its own bridge"),
    ("bip", "each managed daemon has its own bridge"),
    (
        "default-address-pools",
        "each managed daemon has its own address pool, apart from other daemons' networks",
    ),
    (
        "iptables",
        "the managed daemon never touches the host's iptables",
    ),
    (
        "ip-masq",
        "the managed daemon never touches the host's iptables",
    ),
    (
        "ip6tables",
        "the managed daemon never touches the host's iptables",
    ),
    ("config-file", "the harness writes the daemon's config file"),
];

/// An absolute path docker can take in a `-v SRC:DST` (no `:` or `,`, no `..`).
fn usable_path(p: &str) -> bool {
    p.starts_with('/') && !p.contains([':', ',', '\n', '\0']) && !p.split('/').any(|c| c == "..")
}

fn valid_hostname(h: &str) -> bool {
    h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

fn valid_user(u: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    match u.split_once(':') {
        Some((a, b)) => part(a) && part(b),
        None => part(u),
    }
}

fn valid_capability(c: &str) -> bool {
    let c = c.strip_prefix("CAP_").unwrap_or(c);
    !c.is_empty() && c.chars().all(|x| x.is_ascii_uppercase() || x == '_')
}

/// Problems with the scenario's container and daemon settings.
pub(super) fn problems(s: &Scenario, file: &Src<'_>) -> Vec<String> {
    let f = file.file.display();
    let mut out = Vec::new();
    for name in s.volumes.keys() {
        if !valid_name(name) {
            out.push(format!(
                "{f}: volume name {name:?} must be 1-64 letters, digits, '-', '_' or '.'"
            ));
        }
    }
    for name in s.networks.keys() {
        if !valid_name(name) {
            out.push(format!(
                "{f}: network name {name:?} must be 1-64 letters, digits, '-', '_' or '.'"
            ));
        }
    }
    for (key, value) in &s.requires.daemon_options {
        let here = at(file, value);
        if let Some((_, why)) = RESERVED_DAEMON_OPTIONS.iter().find(|(k, _)| k == key) {
            out.push(format!(
                "{here}: daemon option {key:?} cannot be set in daemon_options: {why}"
            ));
        } else if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            out.push(format!(
                "{here}: daemon option {key:?} is not a daemon.json key (lower-case words joined \
                 by '-', e.g. shutdown-timeout)"
            ));
        }
    }
    for step in &s.steps {
        if let crate::action::Action::WaitFor(w) = &step.action {
            let has_check = s
                .containers
                .get(&w.container.value)
                .is_some_and(|c| c.healthcheck.is_some());
            if w.health.is_some() && !has_check {
                out.push(format!(
                    "{}: wait_for health of container {:?}, which has no `healthcheck`",
                    at(file, &w.container),
                    w.container.value
                ));
            }
        }
    }
    for (name, c) in &s.containers {
        let who = format!("container {name:?}");
        let mut targets = BTreeSet::new();
        for m in &c.volumes {
            let here = at(file, &m.target);
            match (&m.volume, &m.source) {
                (Some(_), Some(_)) | (None, None) => out.push(format!(
                    "{here}: {who}: a mount names either a `volume` of the scenario or a host path \
                     as `source`, not both or neither"
                )),
                (Some(v), None) => {
                    if !s.volumes.contains_key(&v.value) {
                        out.push(format!(
                            "{}: {who} mounts volume {:?}, which is not in the top-level `volumes` \
                             (known: {})",
                            at(file, v),
                            v.value,
                            known(s.volumes.keys())
                        ));
                    }
                }
                (None, Some(src)) => {
                    let v = src.value.as_str();
                    if v.contains("{{") && v != DAEMON_SOCKET && v != DAEMON_SOCKET_DIR {
                        out.push(format!(
                            "{}: {who}: source {v:?}: the only templates are {DAEMON_SOCKET} and \
                             {DAEMON_SOCKET_DIR}, each as the whole source",
                            at(file, src)
                        ));
                    } else if !v.contains("{{") && !usable_path(v) {
                        out.push(format!(
                            "{}: {who}: source {v:?} must be an absolute host path without ':', \
                             ',' or '..'",
                            at(file, src)
                        ));
                    }
                }
            }
            let t = m.target.value.as_str();
            if !usable_path(t) || t == "/" {
                out.push(format!(
                    "{here}: {who}: target {t:?} must be an absolute path (not /) without ':', ',' \
                     or '..'"
                ));
            } else if !targets.insert(t.trim_end_matches('/').to_string()) {
                out.push(format!("{here}: {who}: two mounts at {t:?}"));
            }
        }
        for (path, opts) in &c.tmpfs {
            let here = at(file, opts);
            if !usable_path(path) || path == "/" {
                out.push(format!(
                    "{here}: {who}: tmpfs path {path:?} must be an absolute path (not /) without \
                     ':', ',' or '..'"
                ));
            } else if !targets.insert(path.trim_end_matches('/').to_string()) {
                out.push(format!("{here}: {who}: two mounts at {path:?}"));
            }
            if opts.value.contains(char::is_whitespace) {
                out.push(format!(
                    "{here}: {who}: tmpfs options {:?} must be comma-separated without spaces, \
                     e.g. size=16m,mode=1777",
                    opts.value
                ));
            }
        }
        let mut joined = BTreeSet::new();
        for n in &c.networks {
            if !s.networks.contains_key(&n.value) {
                out.push(format!(
                    "{}: {who} joins network {:?}, which is not in the top-level `networks` \
                     (known: {})",
                    at(file, n),
                    n.value,
                    known(s.networks.keys())
                ));
            } else if !joined.insert(n.value.as_str()) {
                out.push(format!(
                    "{}: {who} joins network {:?} twice",
                    at(file, n),
                    n.value
                ));
            }
        }
        if let Some(h) = &c.hostname {
            if !valid_hostname(&h.value) {
                out.push(format!(
                    "{}: {who}: hostname {:?} must be letters, digits and '-' in dot-separated \
                     labels of at most 63 characters",
                    at(file, h),
                    h.value
                ));
            }
        }
        if let Some(u) = &c.user {
            if !valid_user(&u.value) {
                out.push(format!(
                    "{}: {who}: user {:?} must be NAME, UID, NAME:GROUP or UID:GID",
                    at(file, u),
                    u.value
                ));
            }
        }
        if let Some(w) = &c.working_dir {
            if !w.value.starts_with('/') || w.value.contains('\0') {
                out.push(format!(
                    "{}: {who}: working_dir {:?} must be an absolute path",
                    at(file, w),
                    w.value
                ));
            }
        }
        if let Some(h) = &c.healthcheck {
            let empty = match &h.test {
                Command::Args(a) => a.is_empty() || a[0].is_empty(),
                Command::Shell(l) => l.trim().is_empty(),
            };
            if empty {
                out.push(format!("{f}: {who}: healthcheck `test` is empty"));
            }
            for (what, d) in [
                ("interval", h.interval),
                ("timeout", h.timeout),
                ("start_period", h.start_period),
            ] {
                if d.is_some_and(|d| d.get() < std::time::Duration::from_millis(1)) {
                    out.push(format!(
                        "{f}: {who}: healthcheck {what} must be at least 1ms (docker's minimum)"
                    ));
                }
            }
        }
        if let Some(cpus) = &c.cpus {
            if !(cpus.value.is_finite() && cpus.value >= 0.01 && cpus.value <= 1024.0) {
                out.push(format!(
                    "{}: {who}: cpus {} must be between 0.01 and 1024",
                    at(file, cpus),
                    cpus.value
                ));
            }
        }
        if let Some(p) = &c.pids_limit {
            if p.value < 1 {
                out.push(format!(
                    "{}: {who}: pids_limit {} must be at least 1",
                    at(file, p),
                    p.value
                ));
            }
        }
        for cap in c.cap_add.iter().chain(&c.cap_drop) {
            if cap.value != "ALL" && !valid_capability(&cap.value) {
                out.push(format!(
                    "{}: {who}: {:?} is not a capability name (e.g. NET_ADMIN, CAP_SYS_PTRACE, ALL)",
                    at(file, cap),
                    cap.value
                ));
            }
        }
        if let Some(l) = &c.log {
            let d = &l.driver.value;
            if d.is_empty()
                || !d
                    .chars()
                    .all(|x| x.is_ascii_alphanumeric() || matches!(x, '-' | '_' | '.' | '/' | ':'))
            {
                out.push(format!(
                    "{}: {who}: log driver {d:?} is not a driver name (e.g. json-file, local, none)",
                    at(file, &l.driver)
                ));
            }
            if d == "none" && !l.options.is_empty() {
                out.push(format!(
                    "{}: {who}: log driver `none` takes no options",
                    at(file, &l.driver)
                ));
            }
        }
        if c.shm_size.is_some_and(|s| s.bytes() == 0) {
            out.push(format!("{f}: {who}: shm_size must be more than 0"));
        }
    }
    out
}

fn known<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = names.map(String::as_str).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}
