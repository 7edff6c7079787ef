//! Booting an image under qemu: on a snapshot of its disk, its sshd forwarded to a free local
//! port, its serial console logged; with KVM when it works, else software emulation (TCG). A
//! booted VM ([`Running`]) is killed when shut down or dropped, and with this process.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

use super::{check_name, Image, Running, Vms};

/// From qemu's start to an answering sshd (software emulation: a minute is usual).
const BOOT_DEADLINE: Duration = Duration::from_secs(180);

/// How long a KVM guest may stay silent on its serial console before KVM is taken not to work
/// here (a kernel under KVM prints within a second; guests hang silently where KVM is broken).
pub const KVM_PROBE: Duration = Duration::from_secs(15);

impl Vms {
    /// Boots an image: returns once its sshd answers, or fails with the end of its serial log.
    /// With KVM when it works (`SHAKEDOWN_VM_ACCEL=kvm|tcg` forces one): the first boot after
    /// the host's own boot tries KVM and, if the guest dies or prints nothing within
    /// [`KVM_PROBE`], falls back to software emulation — a verdict kept until the host reboots.
    pub async fn boot(
        &self,
        name: &str,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> anyhow::Result<Running> {
        check_name(name).map_err(|e| anyhow!(e))?;
        let image = self
            .get(name)
            .ok_or_else(|| anyhow!("no VM image {name} (built: {})", self.names()))?;
        self.tighten(name)?;
        let qemu = ::host::cmd::which("qemu-system-x86_64")
            .filter(|p| p.exists())
            .ok_or_else(|| {
                anyhow!("qemu-system-x86_64 is missing: apt-get install qemu-system-x86")
            })?;
        let forced = match std::env::var("SHAKEDOWN_VM_ACCEL").as_deref() {
            Ok("kvm") => Some(Accel::Kvm),
            Ok("tcg") => Some(Accel::Tcg),
            _ => None,
        };
        if let Some(accel) = forced {
            return self
                .boot_with(name, &image, &qemu, accel, cancel)
                .await
                .map_err(BootError::into_anyhow);
        }
        let verdict = self.dir.join(".kvm");
        let boot_id =
            std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
        let known = std::fs::read_to_string(&verdict)
            .ok()
            .and_then(|t| t.strip_prefix(boot_id.trim()).map(|r| r.trim().to_string()))
            .filter(|_| !boot_id.trim().is_empty());
        let why_not = match known.as_deref() {
            Some("works") => None,
            Some(why) => Some(why.to_string()),
            None => match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/kvm")
            {
                Err(e) => Some(format!("/dev/kvm: {e}")),
                Ok(_) => match self
                    .boot_with(name, &image, &qemu, Accel::KvmProbe, cancel)
                    .await
                {
                    Ok(vm) => {
                        let _ =
                            ::host::private::write(&verdict, format!("{} works\n", boot_id.trim()));
                        return Ok(vm);
                    }
                    Err(BootError::KvmUnusable(why)) => {
                        let _ =
                            ::host::private::write(&verdict, format!("{} {why}\n", boot_id.trim()));
                        Some(why)
                    }
                    Err(BootError::Other(e)) => return Err(e),
                },
            },
        };
        match why_not {
            None => self
                .boot_with(name, &image, &qemu, Accel::Kvm, cancel)
                .await
                .map_err(BootError::into_anyhow),
            Some(why) => {
                let mut vm = self
                    .boot_with(name, &image, &qemu, Accel::Tcg, cancel)
                    .await
                    .map_err(BootError::into_anyhow)?;
                vm.accel = format!("tcg (no KVM: {why})");
                Ok(vm)
            }
        }
    }

    async fn boot_with(
        &self,
        name: &str,
        image: &Image,
        qemu: &Path,
        accel: Accel,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<Running, BootError> {
        let image = image.clone();
        let dir = self.image_dir(name);
        let runs = self.dir.join(".runs");
        ::host::private::create_dir_all(&runs)?;
        let port = free_port()?;
        let log = runs.join(format!("{name}-{}-{port}.console.log", std::process::id()));
        let qemu_log = log.with_extension("qemu");
        let qemu_err = ::host::private::create(&qemu_log)
            .with_context(|| format!("{}", qemu_log.display()))?;
        // qemu truncates the console's file and keeps its mode.
        ::host::private::create(&log).with_context(|| format!("{}", log.display()))?;
        let mut c = tokio::process::Command::new(qemu);
        c.args([
            "-accel",
            accel.qemu(),
            "-cpu",
            "max",
            "-m",
            "2048",
            "-smp",
            "2",
        ])
        .args(["-nodefaults", "-display", "none", "-no-reboot"])
        .arg("-kernel")
        .arg(dir.join("vmlinuz"))
        .arg("-initrd")
        .arg(dir.join("initrd.img"))
        .args([
            "-append",
            "console=ttyS0 panic=-1 rw net.ifnames=0",
            "-serial",
        ])
        .arg(format!("file:{}", log.display()))
        .arg("-drive")
        .arg(format!(
            "file={},format=raw,if=virtio,snapshot=on",
            dir.join("disk.img").display()
        ))
        .args([
            "-netdev",
            &format!("user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:22"),
            "-device",
            "virtio-net-pci,netdev=n0",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(qemu_err)
        .kill_on_drop(true);
        // SAFETY: only prctl(2), async-signal-safe, runs between fork and exec: qemu dies with
        // this process even when it is killed outright.
        unsafe {
            c.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let start = Instant::now();
        let child = c.spawn().context("starting qemu-system-x86_64")?;
        let mut vm = Running {
            name: name.to_string(),
            dir,
            port,
            log,
            child: Some(child),
            image,
            boot_seconds: 0.0,
            accel: accel.qemu().to_string(),
        };
        let probe = vm.ssh(crate::ssh::REMOTE_HOME, None);
        loop {
            let console = std::fs::metadata(&vm.log).map(|m| m.len()).unwrap_or(0);
            if let Some(status) = vm.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                vm.child = None;
                let err = std::fs::read_to_string(&qemu_log).unwrap_or_default();
                let err = err.trim();
                if accel == Accel::KvmProbe && console == 0 {
                    let last = err.lines().next().unwrap_or_default();
                    vm.shutdown().await;
                    return Err(BootError::KvmUnusable(format!(
                        "qemu -accel kvm exited ({status}): {last}"
                    )));
                }
                return Err(BootError::Other(anyhow!(
                    "VM {name}: qemu exited ({status}) before sshd answered: {err}\n{}",
                    vm.console_tail()
                )));
            }
            if accel == Accel::KvmProbe && console == 0 && start.elapsed() > KVM_PROBE {
                vm.shutdown().await;
                return Err(BootError::KvmUnusable(format!(
                    "a KVM guest printed nothing in {KVM_PROBE:?}"
                )));
            }
            if start.elapsed() > BOOT_DEADLINE {
                let tail = vm.console_tail();
                vm.shutdown().await;
                return Err(BootError::Other(anyhow!(
                    "VM {name}: sshd did not answer within {BOOT_DEADLINE:?}\n{tail}"
                )));
            }
            if cancel.is_cancelled() {
                vm.shutdown().await;
                return Err(BootError::Other(anyhow!(
                    "VM {name}: stopped while booting"
                )));
            }
            if probe.probe().await.is_ok() {
                break;
            }
            let pause = if accel == Accel::KvmProbe && console == 0 {
                250
            } else {
                2000
            };
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(pause)) => {}
                _ = cancel.cancelled() => {}
            }
        }
        vm.boot_seconds = start.elapsed().as_secs_f64();
        Ok(vm)
    }
}

/// qemu's accelerator for a boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Accel {
    /// KVM, as asked.
    Kvm,
    /// KVM, given up if the guest dies or stays silent ([`KVM_PROBE`]).
    KvmProbe,
    /// Software emulation.
    Tcg,
}

impl Accel {
    fn qemu(self) -> &'static str {
        match self {
            Accel::Kvm | Accel::KvmProbe => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// Why a boot failed.
enum BootError {
    /// KVM does not work on this host (probing only).
    KvmUnusable(String),
    /// Anything else.
    Other(anyhow::Error),
}

impl From<anyhow::Error> for BootError {
    fn from(e: anyhow::Error) -> Self {
        BootError::Other(e)
    }
}

impl From<std::io::Error> for BootError {
    fn from(e: std::io::Error) -> Self {
        BootError::Other(e.into())
    }
}

impl BootError {
    fn into_anyhow(self) -> anyhow::Error {
        match self {
            BootError::KvmUnusable(why) => anyhow!("KVM does not work here: {why}"),
            BootError::Other(e) => e,
        }
    }
}

impl Running {
    /// `vm:NAME: up in N s (ACCEL; kernel …, docker.io …)`, as runs report a boot.
    pub fn up_line(&self) -> String {
        format!(
            "vm:{}: up in {:.0} s ({}; kernel {}, docker.io {})",
            self.name, self.boot_seconds, self.accel, self.image.kernel, self.image.docker
        )
    }

    /// The last lines of its serial console.
    pub fn console_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(30);
        format!(
            "last lines of its console ({}):\n{}",
            self.log.display(),
            lines[from..].join("\n")
        )
    }

    /// Kills qemu and waits for it (the disk is a snapshot: nothing to save).
    pub async fn shutdown(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(20), c.wait()).await;
        }
        let _ = std::fs::remove_file(&self.log);
        let _ = std::fs::remove_file(self.log.with_extension("qemu"));
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.start_kill();
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}
