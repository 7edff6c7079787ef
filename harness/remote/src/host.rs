//! The hosts a run or a side of a qualification reaches over SSH — `ssh://…`, `vagrant:MACHINE`,
//! `vm:NAME` — opened once (a VM is booted, a Vagrant machine's ssh-config read) and then given
//! runs: each run's scenario files, images and options travel to the host, its journal comes back.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};

use super::{Ssh, SshTarget};
use ::host::forensics::ForensicsPolicy;
use model::error::{Error, Result};
use run::scenario::PlannedScenario;

/// A host as written on the command line or in an inventory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostSpec {
    /// `ssh://[USER@]HOST[:PORT][?daemon=docker]`.
    Ssh(SshTarget),
    /// `vagrant:MACHINE`: reached as `vagrant ssh-config MACHINE` says.
    Vagrant(String),
    /// `vm:NAME`: an image of `shakedown vm build`, booted while it is open.
    Vm(String),
}

impl HostSpec {
    /// Parses `s` if it names a host reached over SSH; `None` if it names none (`managed`, …).
    pub fn parse(s: &str) -> Option<std::result::Result<HostSpec, String>> {
        if s.starts_with("ssh://") {
            return Some(SshTarget::parse(s).map(HostSpec::Ssh));
        }
        if let Some(m) = s.strip_prefix("vagrant:") {
            let ok = !m.is_empty()
                && m.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            return Some(if ok {
                Ok(HostSpec::Vagrant(m.to_string()))
            } else {
                Err(format!(
                    "{s:?}: write vagrant:MACHINE (a machine of the Vagrantfile)"
                ))
            });
        }
        if let Some(name) = s.strip_prefix("vm:") {
            return Some(crate::vm::check_name(name).map(|()| HostSpec::Vm(name.to_string())));
        }
        None
    }

    /// As written.
    pub fn label(&self) -> String {
        match self {
            HostSpec::Ssh(t) => t.label(),
            HostSpec::Vagrant(m) => format!("vagrant:{m}"),
            HostSpec::Vm(n) => format!("vm:{n}"),
        }
    }
}

/// Where scenarios run: on this machine, or on a host reached over SSH. [`Place::parse`] is the
/// one place that tells them apart, for `run --target` (and a `--targets` inventory's addresses),
/// `clean --target` and each side of `qualify`; a remote place is then opened with
/// [`Access::open`] and given runs with [`run`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place<L> {
    /// On this machine, as the command's own words say (`managed`, `engine=VERSION`, …).
    Local(L),
    /// On another host, a Vagrant machine or a VM, over SSH.
    Remote(HostSpec),
}

impl<L> Place<L> {
    /// Parses where `s` runs: a host when it names one (`ssh://…`, `vagrant:…`, `vm:…`, checked
    /// here), else this machine, as `local` reads `s`.
    pub fn parse(
        s: &str,
        local: impl FnOnce(&str) -> std::result::Result<L, String>,
    ) -> std::result::Result<Place<L>, String> {
        match HostSpec::parse(s) {
            Some(host) => host.map(Place::Remote),
            None => local(s).map(Place::Local),
        }
    }
}

/// The command line's SSH settings, the same for every host of a command.
#[derive(Clone, Debug)]
pub struct Access {
    /// `-i FILE`.
    pub identity: Option<PathBuf>,
    /// `--ssh-option`s.
    pub options: Vec<String>,
    /// `--remote-dir`: the harness's directory on hosts.
    pub home: String,
    /// `--remote-binary`: the shakedown copied to hosts (default: this one).
    pub binary: Option<PathBuf>,
}

impl Access {
    /// How to reach an `ssh://` host.
    pub fn to(&self, target: SshTarget) -> Ssh {
        Ssh {
            target,
            identity: self.identity.clone(),
            options: self.options.clone(),
            home: self.home.clone(),
            config: None,
            name: None,
            binary: self.binary.clone(),
        }
    }

    /// How to reach a Vagrant machine: `vagrant ssh-config MACHINE` (run in the current
    /// directory, or `VAGRANT_CWD`) is kept under the state directory and given to ssh with `-F`,
    /// so every option Vagrant sets applies; commands run as root through sudo.
    pub async fn vagrant(&self, machine: &str) -> anyhow::Result<Ssh> {
        let out = ::host::cmd::Cmd::new("vagrant", &["ssh-config", machine])
            .deadline(std::time::Duration::from_secs(120))
            .run()
            .await
            .map_err(|e| {
                anyhow!("{e} (is vagrant installed, and is this the Vagrantfile's directory?)")
            })?;
        let dir = engine::default_state_dir().join("vagrant");
        let file = dir.join(format!("{}.ssh_config", model::units::file_name(machine)));
        ::host::private::write(&file, out)
            .with_context(|| format!("cannot write {}", file.display()))?;
        let mut ssh = self.to(SshTarget {
            user: None,
            host: machine.to_string(),
            port: None,
            existing_daemon: false,
        });
        ssh.config = Some(file);
        ssh.name = Some(format!("vagrant:{machine}"));
        Ok(ssh)
    }

    /// Opens a host for runs: for a VM, boots it (closed by [`Opened::close`], or killed with this
    /// process).
    pub async fn open(
        &self,
        spec: &HostSpec,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> anyhow::Result<Opened> {
        Ok(match spec {
            HostSpec::Ssh(t) => Opened {
                ssh: self.to(t.clone()),
                label: t.label(),
                default_jobs: None,
                vm: None,
            },
            HostSpec::Vagrant(m) => {
                let ssh = self.vagrant(m).await?;
                Opened {
                    label: ssh.label(),
                    ssh,
                    default_jobs: None,
                    vm: None,
                }
            }
            HostSpec::Vm(name) => {
                let vms = crate::vm::Vms::new(&engine::default_state_dir());
                let vm = vms.boot(name, cancel).await?;
                eprintln!("{}", vm.up_line());
                Opened {
                    ssh: vm.ssh(&self.home, self.binary.clone()),
                    label: format!("vm:{name} ({})", vm.image.suite),
                    default_jobs: Some(crate::vm::DEFAULT_JOBS),
                    vm: Some(vm),
                }
            }
        })
    }
}

/// An open host.
pub struct Opened {
    /// How to reach it.
    pub ssh: Ssh,
    /// How the journal and messages name it.
    pub label: String,
    /// Scenarios at once when not given (a VM runs one at a time).
    pub default_jobs: Option<u32>,
    vm: Option<crate::vm::Running>,
}

impl Opened {
    /// Shuts a VM down (nothing to do for other hosts).
    pub async fn close(mut self) {
        if let Some(vm) = self.vm.as_mut() {
            vm.shutdown().await;
        }
    }
}

/// The `run` options a run on a host is started with.
pub struct Request<'a> {
    /// The scenarios, planned here: the host runs exactly this plan (serialized in the bundle,
    /// with the files it needs), never planning them again.
    pub plans: &'a [PlannedScenario],
    /// `--jobs` (default: the host's [`Opened::default_jobs`], else the host's own default).
    pub jobs: Option<u32>,
    /// `--engine VERSION`, fetched on the host.
    pub engine: Option<&'a str>,
    /// Further arguments for the managed dockerd there (a side of `qualify`).
    pub daemon_args: &'a [String],
    /// `--allow-disruptive`.
    pub allow_disruptive: bool,
    /// `--forensics`.
    pub forensics: ForensicsPolicy,
    /// Where the journal is written here.
    pub journal: &'a Path,
    /// The run's id (names its directory on the host).
    pub run_id: &'a str,
    /// Cancelled when the run here is asked to stop.
    pub cancel: tokio_util::sync::CancellationToken,
    /// Told every journal entry as it arrives (the reporters the binary subscribed).
    pub listener: journal::Listener,
}

/// Runs the scenarios on the host; the journal arrives at [`Request::journal`]. Returns what went
/// wrong with the connection, if something did (the journal then says how far the run got).
pub async fn run(host: &Opened, r: Request<'_>) -> Result<Option<String>> {
    let bundle = super::bundle(r.plans).map_err(|e| Error::input(format!("{e:#}")))?;
    // The fixture image's context goes along, so the host needs no static binaries of its own;
    // without them here, the host's are used.
    let fixture = if r.plans.iter().any(run::runner::uses_fixture) {
        match engine::fixture::host_context() {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!(
                    "{}: the fixture image is built from the host's static binaries ({e:#})",
                    host.label
                );
                None
            }
        }
    } else {
        None
    };
    let mut pass: Vec<String> = vec![];
    let mut opt = |k: &str, v: String| pass.extend([k.to_string(), v]);
    if let Some(n) = r.jobs.or(host.default_jobs) {
        opt("--jobs", n.to_string());
    }
    if let Some(v) = r.engine {
        opt("--engine", v.to_string());
    }
    // One word: the value itself starts with `--`.
    pass.extend(r.daemon_args.iter().map(|a| format!("--daemon-arg={a}")));
    let mut opt = |k: &str, v: String| pass.extend([k.to_string(), v]);
    opt("--target-label", host.label.clone());
    if host.ssh.target.existing_daemon {
        opt("--target", "docker".into());
    }
    opt("--forensics", r.forensics.as_str().into());
    if r.allow_disruptive {
        pass.push("--allow-disruptive".into());
    }
    let end = super::run(super::RemoteRun {
        ssh: &host.ssh,
        run_id: r.run_id,
        bundle,
        fixture,
        args: pass,
        journal: r.journal,
        cancel: r.cancel,
        listener: r.listener,
    })
    .await
    .map_err(|e| Error::env(format!("{e:#}")))?;
    if matches!(
        end.code,
        Some(model::error::EXIT_USAGE | model::error::EXIT_ENVIRONMENT)
    ) && journal::fold_path(r.journal).is_err()
    {
        return Err(Error::env(format!(
            "shakedown could not start on {}: {}",
            host.label,
            end.stderr.trim()
        )));
    }
    Ok(end.problem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_is_a_host_when_it_names_one() {
        let here = |s: &str| match s {
            "managed" => Ok(1),
            s => Err(format!("unknown {s}")),
        };
        assert_eq!(Place::parse("managed", here), Ok(Place::Local(1)));
        assert_eq!(
            Place::parse("vm:b12", here),
            Ok(Place::Remote(HostSpec::Vm("b12".into())))
        );
        assert_eq!(
            Place::parse("vagrant:m", here),
            Ok(Place::Remote(HostSpec::Vagrant("m".into())))
        );
        assert!(matches!(
            Place::parse("ssh://root@h:2222", here),
            Ok(Place::Remote(HostSpec::Ssh(_)))
        ));
        // A host's own errors, never this machine's reading of the words.
        for bad in ["vm:../x", "vagrant:", "ssh://"] {
            let e = Place::parse(bad, here).unwrap_err();
            assert!(!e.starts_with("unknown"), "{bad}: {e}");
        }
        assert_eq!(Place::parse("bogus", here), Err("unknown bogus".into()));
    }
}
