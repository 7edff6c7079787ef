//! Reading the host's process table from /proc: the daemon's children (containerd), the shim of a
//! container, a process's state. Used by daemon faults; bounded by nature (no blocking reads of
//! another process's memory).

use std::path::Path;

/// One process as /proc shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proc {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// State letter (`R`, `S`, `D`, `T`, `Z`, ...).
    pub state: char,
    /// Short command name.
    pub comm: String,
    /// Arguments, NUL-separated in /proc, joined with spaces here.
    pub cmdline: String,
}

/// Reads /proc/<pid>/stat and cmdline; None when the process is gone.
pub fn read(pid: u32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses: it ends at the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    let mut rest = stat[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split('\0')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    Some(Proc {
        pid,
        ppid,
        state,
        comm,
        cmdline,
    })
}

/// Every process on the host.
pub fn all() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir(Path::new("/proc")) else {
        return vec![];
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(read)
        .collect()
}

/// The containerd process a dockerd started (its child named `containerd`).
pub fn containerd_of(dockerd: u32) -> Option<Proc> {
    all()
        .into_iter()
        .find(|p| p.ppid == dockerd && p.comm == "containerd" && p.state != 'Z')
}

/// The containerd shim serving a container (by its full docker id on the shim's command line).
pub fn shim_of(container_id: &str) -> Option<Proc> {
    all().into_iter().find(|p| {
        p.comm.starts_with("containerd-shim")
            && p.state != 'Z'
            && p.cmdline.split(' ').any(|a| a == container_id)
    })
}

/// Shim processes whose command line names a containerd namespace.
pub fn shims_in_namespace(namespace: &str) -> Vec<Proc> {
    all()
        .into_iter()
        .filter(|p| {
            p.comm.starts_with("containerd-shim")
                && p.state != 'Z'
                && p.cmdline.split(' ').any(|a| a == namespace)
        })
        .collect()
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    read(pid).is_some_and(|p| p.state != 'Z')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_itself() {
        let me = read(std::process::id()).unwrap();
        assert_eq!(me.pid, std::process::id());
        assert!(me.state == 'R' || me.state == 'S');
        assert!(alive(me.pid));
        assert!(!alive(u32::MAX - 1));
        assert!(all().iter().any(|p| p.pid == me.pid));
    }
}
