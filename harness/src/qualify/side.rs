//! A side of a qualification, as written on the command line: `engine=VERSION`, `engine-dir=DIR`,
//! `system` (the engine on PATH) or `journal=FILE` (saved runs, repeatable), each optionally with
//! dockerd settings `daemon.FLAG=VALUE` (`engine=20.10.24,daemon.shutdown-timeout=30`); or a host
//! reached over SSH first — `ssh://…`, `vagrant:MACHINE`, `vm:NAME` — optionally followed by
//! `,engine=VERSION` (fetched there) and `daemon.FLAG=VALUE` (`vm:b13,engine=26.1.5`). A side on
//! this machine may start from the user's daemon.json: `config=FILE` (as `run --daemon-config`),
//! and swap one component of its engine: `runc=FILE|ENGINE`, `containerd=FILE|ENGINE`.

use std::path::PathBuf;

use model::error::{Error, Result};
use remote::Place;

/// What a side runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SideKind {
    /// Debian's docker.io of this version, from the engine cache.
    Engine(String),
    /// The engine binaries in a directory.
    EngineDir(PathBuf),
    /// The engine on PATH.
    System,
    /// Saved journals: nothing runs, their runs are compared.
    Journals(Vec<PathBuf>),
    /// A host reached over SSH (a VM is booted for the whole qualification), on its engine or on
    /// the one given, fetched there.
    Remote {
        /// The host.
        host: remote::HostSpec,
        /// `engine=VERSION`.
        engine: Option<String>,
    },
}

/// One side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Side {
    /// As written.
    pub spec: String,
    /// What it runs on.
    pub kind: SideKind,
    /// dockerd arguments (`--FLAG=VALUE`) for the managed daemon.
    pub daemon_args: Vec<String>,
    /// `config=FILE`: the user's daemon.json the managed daemon starts from.
    pub daemon_config: Option<PathBuf>,
    /// `runc=FILE|ENGINE`, `containerd=FILE|ENGINE`: a component of the engine swapped.
    pub swaps: Vec<(String, String)>,
}

impl Side {
    /// Parses a side; errors name the side and what is wrong.
    pub fn parse(spec: &str) -> Result<Side> {
        let bad = |why: String| Error::input(format!("side {spec:?}: {why}"));
        // On a host or here: the words after the host (or all of them) say what runs.
        let head = spec.split(',').next().unwrap_or("");
        let (host, rest) = match Place::parse(head, |_| Ok(())).map_err(bad)? {
            Place::Remote(h) => (Some(h), spec.split_once(',').map_or("", |(_, r)| r)),
            Place::Local(()) => (None, spec),
        };
        let mut kind = None;
        let mut journals = Vec::new();
        let mut daemon_args = Vec::new();
        let mut daemon_config = None;
        let mut swaps: Vec<(String, String)> = Vec::new();
        for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let set = |kind: &mut Option<SideKind>, k: SideKind| -> Result<()> {
                if kind.replace(k).is_some() {
                    return Err(bad(
                        "give one engine (engine=, engine-dir= or system)".into()
                    ));
                }
                Ok(())
            };
            match part.split_once('=') {
                Some(("engine", v)) if !v.is_empty() => set(&mut kind, SideKind::Engine(v.into()))?,
                Some(("engine-dir", v)) if !v.is_empty() => {
                    set(&mut kind, SideKind::EngineDir(v.into()))?
                }
                Some(("journal", v)) if !v.is_empty() => journals.push(PathBuf::from(v)),
                Some(("config", v)) if !v.is_empty() && daemon_config.is_none() => {
                    daemon_config = Some(PathBuf::from(v))
                }
                Some((k @ ("runc" | "containerd"), v))
                    if !v.is_empty() && !swaps.iter().any(|(c, _)| c == k) =>
                {
                    swaps.push((k.to_string(), v.to_string()))
                }
                Some((k, v)) if k.starts_with("daemon.") && k.len() > 7 => {
                    daemon_args.push(format!("--{}={v}", &k[7..]))
                }
                None if part == "system" => set(&mut kind, SideKind::System)?,
                _ => {
                    return Err(bad(format!(
                        "{part:?} is not engine=VERSION, engine-dir=DIR, system, journal=FILE, \
                         config=FILE (once), runc=FILE|ENGINE, containerd=FILE|ENGINE (once each) \
                         or daemon.FLAG=VALUE"
                    )))
                }
            }
        }
        if let Some(host) = host {
            let engine = match kind {
                None => None,
                Some(SideKind::Engine(v)) => Some(v),
                Some(_) => {
                    return Err(bad(
                        "a host runs its own engine or engine=VERSION (fetched there)".into(),
                    ))
                }
            };
            if !journals.is_empty() {
                return Err(bad(
                    "a side runs on a host or reads journals, not both".into()
                ));
            }
            if daemon_config.is_some() || !swaps.is_empty() {
                return Err(bad(
                    "config= and runc=/containerd= configure a managed daemon on this machine, \
                     not a host's"
                        .into(),
                ));
            }
            if let remote::HostSpec::Ssh(t) = &host {
                if t.existing_daemon && (engine.is_some() || !daemon_args.is_empty()) {
                    return Err(bad(
                        "?daemon=docker runs on the host's own daemon: engine= and daemon. \
                         settings need the private one the harness starts"
                            .into(),
                    ));
                }
            }
            return Ok(Side {
                spec: spec.to_string(),
                kind: SideKind::Remote { host, engine },
                daemon_args,
                daemon_config,
                swaps,
            });
        }
        let kind = match (kind, journals.is_empty()) {
            (Some(_), false) => {
                return Err(bad(
                    "a side runs an engine or reads journals, not both".into()
                ))
            }
            (None, false)
                if !daemon_args.is_empty() || daemon_config.is_some() || !swaps.is_empty() =>
            {
                return Err(bad("daemon settings do not apply to saved journals".into()))
            }
            (None, false) => SideKind::Journals(journals),
            (Some(k), true) => k,
            (None, true) => {
                return Err(bad(
                    "name an engine (engine=VERSION or system) or journals".into()
                ))
            }
        };
        Ok(Side {
            spec: spec.to_string(),
            kind,
            daemon_args,
            daemon_config,
            swaps,
        })
    }

    /// `config=FILE`: the user's daemon.json, read (none without the option).
    pub fn config(&self) -> Result<engine::managed::UserConfig> {
        match &self.daemon_config {
            None => Ok(Default::default()),
            Some(file) => engine::managed::UserConfig::read(file)
                .map_err(|e| Error::input(format!("side {}: {e}", self.spec))),
        }
    }

    /// Whether the side runs scenarios (rather than reading journals).
    pub fn runs(&self) -> bool {
        !matches!(self.kind, SideKind::Journals(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides() {
        let s = Side::parse("engine=28.5.2,daemon.shutdown-timeout=30").unwrap();
        assert_eq!(s.kind, SideKind::Engine("28.5.2".into()));
        assert_eq!(s.daemon_args, vec!["--shutdown-timeout=30"]);
        assert_eq!(Side::parse("system").unwrap().kind, SideKind::System);
        assert_eq!(
            Side::parse("journal=a.jsonl,journal=b.jsonl").unwrap().kind,
            SideKind::Journals(vec!["a.jsonl".into(), "b.jsonl".into()])
        );
        assert_eq!(
            Side::parse("vm:b13,engine=26.1.5,daemon.init=true").unwrap(),
            Side {
                spec: "vm:b13,engine=26.1.5,daemon.init=true".into(),
                kind: SideKind::Remote {
                    host: remote::HostSpec::Vm("b13".into()),
                    engine: Some("26.1.5".into()),
                },
                daemon_args: vec!["--init=true".into()],
                daemon_config: None,
                swaps: vec![],
            }
        );
        assert_eq!(
            Side::parse("engine=28.5.2,runc=/opt/runc-1.2,containerd=ce-27.3.1")
                .unwrap()
                .swaps,
            vec![
                ("runc".to_string(), "/opt/runc-1.2".to_string()),
                ("containerd".to_string(), "ce-27.3.1".to_string())
            ]
        );
        assert!(Side::parse("system,runc=a,runc=b").is_err());
        assert!(Side::parse("vm:b13,runc=/opt/runc").is_err());
        assert_eq!(
            Side::parse("system,config=/etc/docker/daemon.json")
                .unwrap()
                .daemon_config,
            Some(PathBuf::from("/etc/docker/daemon.json"))
        );
        assert!(matches!(
            Side::parse("ssh://root@h:2222").unwrap().kind,
            SideKind::Remote { engine: None, .. }
        ));
        for bad in [
            "",
            "engine=",
            "engine=1,system",
            "journal=a,engine=1",
            "journal=a,daemon.x=1",
            "vm:",
            "vm:b12,system",
            "vm:b12,journal=a",
            "ssh://h?daemon=docker,engine=1",
            "colour=red",
            "vm:b12,config=d.json",
            "journal=a,config=d.json",
            "system,config=a,config=b",
        ] {
            let e = Side::parse(bad).unwrap_err().to_string();
            assert!(e.contains("side"), "{bad}: {e}");
        }
    }
}
