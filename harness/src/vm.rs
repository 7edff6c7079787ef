//! Virtual machines as targets, offline: a whole Docker host built from Debian's packages
//! (`shakedown vm build`) and booted under qemu's software emulation for a run
//! (`--target vm:NAME`), which then goes exactly the SSH target's way ([`crate::remote`]).
//!
//! An image is a root file system made by debootstrap (minbase, with docker.io, OpenSSH, the
//! network tools, the static busybox/bash/tini the fixture image needs, and Debian's cloud
//! kernel installed by dpkg inside the root), a generated client key authorized for root, a
//! generated host key whose public half is kept so host-key checking stays on, a busybox
//! initramfs that loads the virtio modules and switches to the root, and an init script there
//! that mounts what a Docker host needs, loads the modules the faults use (netem among them),
//! brings up qemu's user network and starts sshd. No dockerd starts: the harness starts its own.
//!
//! Images live under `<state>/vms/NAME/` and are rebuilt only when their inputs (suite, kernel
//! package, engine, [`RECIPE`]) change. A booted VM runs on a snapshot of the disk (the image is
//! never modified) and is killed when the run ends, fails or is interrupted.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};

use crate::host::Cmd;

/// Version of the build recipe: bump it when what an image contains changes.
pub const RECIPE: u32 = 4;
/// The kernel package when none is asked for.
pub const DEFAULT_KERNEL: &str = "linux-image-cloud-amd64";
/// Packages every image has (besides the kernel).
const PACKAGES: [&str; 9] = [
    "docker.io",
    "openssh-server",
    "iproute2",
    "iptables",
    "busybox-static",
    "bash-static",
    "tini",
    "kmod",
    "ca-certificates",
];
/// Modules the initramfs loads (with what they depend on) to reach the root disk.
/// (ext4 asks for crc32c by a soft dependency, which modules.dep does not list; built in in the
/// cloud kernels, a module in `linux-image-amd64`.)
const BOOT_MODULES: [&str; 4] = ["virtio_pci", "virtio_blk", "crc32c_generic", "ext4"];
/// Modules the root's init loads: the network card and what containers and faults use.
const ROOT_MODULES: [&str; 6] = [
    "virtio_net",
    "overlay",
    "bridge",
    "veth",
    "br_netfilter",
    "sch_netem",
];
/// debootstrap of a whole host (downloads a few hundred MB the first time).
const DEBOOTSTRAP_DEADLINE: Duration = Duration::from_secs(30 * 60);
/// Making the disk image.
const MKFS_DEADLINE: Duration = Duration::from_secs(10 * 60);
/// From qemu's start to an answering sshd (software emulation: a minute is usual).
const BOOT_DEADLINE: Duration = Duration::from_secs(180);
/// Scenarios at once in a VM unless `--jobs` says otherwise: under software emulation on two
/// virtual CPUs, three managed daemons starting at once made dockerd give up waiting for its
/// containerd ("timeout waiting for containerd to start").
pub const DEFAULT_JOBS: u32 = 1;
/// Size of the (sparse) disk: the root plus room for images and containers.
const DISK_SIZE: &str = "8G";

/// What an image was built from and what it got.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// Its name.
    pub name: String,
    /// The Debian suite.
    pub suite: String,
    /// The kernel package asked for.
    pub kernel_package: String,
    /// The docker.io version asked for (`None`: the suite's).
    pub engine: Option<String>,
    /// The recipe version it was built with.
    pub recipe: u32,
    /// The kernel release installed (`6.1.0-41-cloud-amd64`).
    pub kernel: String,
    /// The docker.io package version installed.
    pub docker: String,
    /// When it was built (Unix seconds).
    pub built_at: f64,
    /// How long the build took, in seconds.
    pub build_seconds: f64,
}

impl Image {
    fn same_inputs(&self, s: &Spec) -> bool {
        self.suite == s.suite
            && self.kernel_package == s.kernel
            && self.engine == s.engine
            && self.recipe == RECIPE
    }
}

/// What to build.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The image's name.
    pub name: String,
    /// Debian suite: bullseye, bookworm, trixie or sid.
    pub suite: String,
    /// Kernel package.
    pub kernel: String,
    /// docker.io version (must be the suite's).
    pub engine: Option<String>,
}

/// The images under a state directory.
pub struct Vms {
    dir: PathBuf,
    state: PathBuf,
}

/// Checks an image name: letters, digits, `-`, `_`, `.`, not starting with `.`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "bad VM name {name:?}: letters, digits, '-', '_' and '.' (not first)"
        ));
    }
    Ok(())
}

impl Vms {
    /// The images under `state/vms`.
    pub fn new(state: &Path) -> Self {
        Vms {
            dir: state.join("vms"),
            state: state.to_path_buf(),
        }
    }

    fn image_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The image called `name`, if built.
    pub fn get(&self, name: &str) -> Option<Image> {
        let d = self.image_dir(name);
        if !d.join("disk.img").exists() {
            return None;
        }
        serde_json::from_str(&std::fs::read_to_string(d.join("vm.json")).ok()?).ok()
    }

    /// Every built image, by name.
    pub fn list(&self) -> Vec<Image> {
        let mut out: Vec<Image> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| self.get(&e.file_name().to_string_lossy()))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    fn names(&self) -> String {
        let built: Vec<String> = self.list().into_iter().map(|i| i.name).collect();
        match built.is_empty() {
            true => "none; build one with `shakedown vm build NAME --suite bookworm`".into(),
            false => built.join(", "),
        }
    }

    /// Removes an image.
    pub async fn remove(&self, name: &str) -> anyhow::Result<()> {
        check_name(name).map_err(|e| anyhow!(e))?;
        let d = self.image_dir(name);
        if !d.join("vm.json").exists() {
            bail!("no VM image {name} (built: {})", self.names());
        }
        remove_tree(&d).await
    }

    /// Builds an image, or returns the cached one when its inputs are the same.
    /// The second value says whether it was built now.
    pub async fn build(&self, spec: &Spec) -> anyhow::Result<(Image, bool)> {
        check_name(&spec.name).map_err(|e| anyhow!(e))?;
        if !crate::engines::SUITES.contains(&spec.suite.as_str()) {
            bail!(
                "unknown suite {:?}: one of {}",
                spec.suite,
                crate::engines::SUITES.join(", ")
            );
        }
        if let Some(i) = self.get(&spec.name) {
            if i.same_inputs(spec) {
                return Ok((i, false));
            }
        }
        for tool in ["debootstrap", "mkfs.ext4", "ssh-keygen", "chroot"] {
            if crate::host::cmd::which(tool).is_none() {
                bail!("{tool} is missing: apt-get install debootstrap e2fsprogs openssh-client");
            }
        }
        let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
        if !Path::new(keyring).exists() {
            bail!("{keyring} is missing: install the package debian-archive-keyring");
        }
        if let Some(v) = &spec.engine {
            let offered = crate::engines::Engines::new(&self.state)
                .available()
                .await?;
            let in_suite: Vec<&str> = offered
                .iter()
                .filter(|a| a.suite == spec.suite)
                .map(|a| a.version.as_str())
                .collect();
            if !in_suite.contains(&v.as_str()) {
                bail!(
                    "{} has no docker.io {v} (it has {}); pick the suite that does",
                    spec.suite,
                    in_suite.join(", ")
                );
            }
        }
        let start = Instant::now();
        let work = self.dir.join(format!(".{}.partial", spec.name));
        remove_tree(&work).await?;
        let root = work.join("root");
        let debs = self.dir.join(".debs");
        std::fs::create_dir_all(&debs)?;
        std::fs::create_dir_all(&work)?;
        let mut include: Vec<&str> = PACKAGES.to_vec();
        include.push(&spec.kernel);
        let mirror = crate::engines::host_mirror();
        eprintln!(
            "vm {}: debootstrap {} from {mirror} (a few minutes)",
            spec.name, spec.suite
        );
        Cmd::new(
            "debootstrap",
            &[
                "--variant=minbase".to_string(),
                format!("--keyring={keyring}"),
                format!("--cache-dir={}", debs.display()),
                format!("--include={}", include.join(",")),
                spec.suite.clone(),
                root.display().to_string(),
                mirror,
            ][..],
        )
        .deadline(DEBOOTSTRAP_DEADLINE)
        .run()
        .await
        .context("debootstrap")?;
        let kernel = only_kernel(&root)?;
        let docker = chroot_query(&root, "docker.io").await?;
        if let Some(v) = &spec.engine {
            if crate::engines::upstream(&docker) != v {
                bail!("asked for docker.io {v}, debootstrap installed {docker}");
            }
        }
        eprintln!("vm {}: kernel {kernel}, docker.io {docker}", spec.name);
        self.keys(&spec.name, &work, &root).await?;
        write_init(&spec.name, &root)?;
        let initrd = work.join("initrd.img");
        {
            let (root, kernel, initrd) = (root.clone(), kernel.clone(), initrd.clone());
            crate::host::blocking("making the initramfs", MKFS_DEADLINE, move || {
                initramfs(&root, &kernel, &initrd)
            })
            .await??;
        }
        std::fs::copy(
            root.join(format!("boot/vmlinuz-{kernel}")),
            work.join("vmlinuz"),
        )
        .context("copying the kernel")?;
        let _ = std::fs::remove_dir_all(root.join("var/cache/apt/archives"));
        eprintln!("vm {}: making the disk", spec.name);
        Cmd::new(
            "mkfs.ext4",
            &[
                "-q",
                "-F",
                "-L",
                "shakedown",
                "-d",
                &root.display().to_string(),
                &work.join("disk.img").display().to_string(),
                DISK_SIZE,
            ][..],
        )
        .deadline(MKFS_DEADLINE)
        .run()
        .await
        .context("mkfs.ext4")?;
        remove_tree(&root).await?;
        let image = Image {
            name: spec.name.clone(),
            suite: spec.suite.clone(),
            kernel_package: spec.kernel.clone(),
            engine: spec.engine.clone(),
            recipe: RECIPE,
            kernel,
            docker,
            built_at: crate::unix_now(),
            build_seconds: start.elapsed().as_secs_f64(),
        };
        std::fs::write(work.join("vm.json"), serde_json::to_string_pretty(&image)?)?;
        let dest = self.image_dir(&spec.name);
        remove_tree(&dest).await?;
        std::fs::rename(&work, &dest)?;
        Ok((image, true))
    }

    /// The client key (authorized for root) and the host key (its public half kept as the
    /// known host `shakedown-vm-NAME`).
    async fn keys(&self, name: &str, work: &Path, root: &Path) -> anyhow::Result<()> {
        let keygen = |file: &Path| {
            Cmd::new(
                "ssh-keygen",
                &[
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    &format!("shakedown-vm-{name}"),
                    "-f",
                    &file.display().to_string(),
                ][..],
            )
        };
        let client = work.join("id_ed25519");
        keygen(&client).run().await?;
        let host = root.join("etc/ssh/shakedown_host_ed25519_key");
        keygen(&host).run().await?;
        let ssh_dir = root.join("root/.ssh");
        std::fs::create_dir_all(&ssh_dir)?;
        set_mode(&ssh_dir, 0o700)?;
        let auth = ssh_dir.join("authorized_keys");
        std::fs::copy(work.join("id_ed25519.pub"), &auth)?;
        set_mode(&auth, 0o600)?;
        let host_pub = std::fs::read_to_string(host.with_extension("pub"))?;
        let mut words = host_pub.split_whitespace();
        let (kind, key) = (words.next(), words.next());
        let (Some(kind), Some(key)) = (kind, key) else {
            bail!("unexpected host key {host_pub:?}");
        };
        std::fs::write(
            work.join("known_hosts"),
            format!("{} {kind} {key}\n", host_alias(name)),
        )?;
        Ok(())
    }

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
        let qemu = crate::host::cmd::which("qemu-system-x86_64")
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
                        let _ = std::fs::write(&verdict, format!("{} works\n", boot_id.trim()));
                        return Ok(vm);
                    }
                    Err(BootError::KvmUnusable(why)) => {
                        let _ = std::fs::write(&verdict, format!("{} {why}\n", boot_id.trim()));
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
        std::fs::create_dir_all(&runs)?;
        let port = free_port()?;
        let log = runs.join(format!("{name}-{}-{port}.console.log", std::process::id()));
        let qemu_log = log.with_extension("qemu");
        let qemu_err =
            std::fs::File::create(&qemu_log).with_context(|| format!("{}", qemu_log.display()))?;
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

/// A booted VM; killed on [`Running::shutdown`] or when dropped.
pub struct Running {
    name: String,
    dir: PathBuf,
    port: u16,
    log: PathBuf,
    child: Option<tokio::process::Child>,
    /// The image it runs.
    pub image: Image,
    /// Seconds from qemu's start to an answering sshd.
    pub boot_seconds: f64,
    /// How it is emulated: `kvm`, or `tcg` with why KVM is not used.
    pub accel: String,
}

/// How long a KVM guest may stay silent on its serial console before KVM is taken not to work
/// here (a kernel under KVM prints within a second; guests hang silently where KVM is broken).
pub const KVM_PROBE: Duration = Duration::from_secs(15);

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

    /// How to reach it: root on the forwarded port, its own key, its host key checked.
    pub fn ssh(&self, home: &str, binary: Option<PathBuf>) -> crate::ssh::Ssh {
        crate::ssh::Ssh {
            target: crate::ssh::SshTarget {
                user: Some("root".into()),
                host: "127.0.0.1".into(),
                port: Some(self.port),
                existing_daemon: false,
            },
            identity: Some(self.dir.join("id_ed25519")),
            options: vec![
                format!(
                    "UserKnownHostsFile={}",
                    self.dir.join("known_hosts").display()
                ),
                format!("HostKeyAlias={}", host_alias(&self.name)),
                "StrictHostKeyChecking=yes".into(),
                "IdentitiesOnly=yes".into(),
                "GlobalKnownHostsFile=/dev/null".into(),
            ],
            home: home.to_string(),
            config: None,
            name: Some(format!("vm:{}", self.name)),
            binary,
        }
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

fn host_alias(name: &str) -> String {
    format!("shakedown-vm-{name}")
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

fn set_mode(p: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", p.display()))
}

async fn remove_tree(p: &Path) -> anyhow::Result<()> {
    if !p.exists() {
        return Ok(());
    }
    let s = p.display().to_string();
    Cmd::new("rm", &["-rf", "--one-file-system", &s][..])
        .deadline(Duration::from_secs(300))
        .run()
        .await
        .map(|_| ())
        .with_context(|| format!("removing {s}"))
}

/// The one kernel release installed in the root.
fn only_kernel(root: &Path) -> anyhow::Result<String> {
    let mut k: Vec<String> = std::fs::read_dir(root.join("usr/lib/modules"))
        .context("no kernel modules in the root")?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|k| root.join(format!("boot/vmlinuz-{k}")).exists())
        .collect();
    k.sort();
    k.pop()
        .ok_or_else(|| anyhow!("the kernel package installed no /boot/vmlinuz"))
}

async fn chroot_query(root: &Path, package: &str) -> anyhow::Result<String> {
    Ok(Cmd::new(
        "chroot",
        &[
            &root.display().to_string(),
            "dpkg-query",
            "-W",
            "-f",
            "${Version}",
            package,
        ][..],
    )
    .deadline(Duration::from_secs(60))
    .run()
    .await?
    .trim()
    .to_string())
}

/// The init of the root: what a Docker host needs mounted, the modules, the network, sshd.
fn write_init(name: &str, root: &Path) -> anyhow::Result<()> {
    let modules = ROOT_MODULES.join(" ");
    let script = format!(
        r#"#!/bin/sh
# shakedown VM init: mounts, modules, qemu user network, sshd. No dockerd: the harness starts its own.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# What udev sets up: bullseye's runc re-executes itself through /dev/fd (runc#2552).
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# As on a systemd host: every controller available to child cgroups.
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || echo "shakedown-init: cgroup controller $c not enabled"; done
hostname {host}
for m in {modules}; do modprobe "$m" || echo "shakedown-init: modprobe $m failed"; done
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
mkdir -p /run/sshd
/usr/sbin/sshd -h /etc/ssh/shakedown_host_ed25519_key -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no && echo "shakedown-init: sshd started"
exec /usr/bin/tini -- /bin/sh -c 'while :; do sleep 3600; done'
"#,
        host = host_alias(name)
    );
    let init = root.join("sbin/shakedown-init");
    std::fs::write(&init, script)?;
    set_mode(&init, 0o755)?;
    std::fs::write(root.join("etc/resolv.conf"), "nameserver 10.0.2.3\n")?;
    std::fs::write(root.join("etc/hostname"), format!("{}\n", host_alias(name)))?;
    Ok(())
}

/// Modules to load, in order (dependencies first), from `modules.dep`; built-in ones are skipped.
fn module_order(dep: &str, wanted: &[&str]) -> anyhow::Result<Vec<String>> {
    let norm = |s: &str| s.replace('-', "_");
    let mut deps = std::collections::HashMap::new();
    for l in dep.lines() {
        let Some((m, rest)) = l.split_once(':') else {
            continue;
        };
        deps.insert(
            module_name(m),
            (
                m.to_string(),
                rest.split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            ),
        );
    }
    fn visit(
        m: &str,
        deps: &std::collections::HashMap<String, (String, Vec<String>)>,
        out: &mut Vec<String>,
    ) {
        let Some((path, ds)) = deps.get(m) else {
            return;
        };
        if out.contains(path) {
            return;
        }
        for d in ds {
            visit(&module_name(d), deps, out);
        }
        if !out.contains(path) {
            out.push(path.clone());
        }
    }
    let mut out = vec![];
    for w in wanted {
        visit(&norm(w), &deps, &mut out);
    }
    Ok(out)
}

/// `kernel/fs/ext4/ext4.ko.xz` → `ext4`.
fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.split(".ko").next().unwrap_or(file).replace('-', "_")
}

/// The busybox initramfs (a newc cpio): busybox, the boot modules, and an init that mounts
/// /dev/vda and switches to its `/sbin/shakedown-init`.
fn initramfs(root: &Path, kernel: &str, out: &Path) -> anyhow::Result<()> {
    let mdir = root.join("usr/lib/modules").join(kernel);
    let dep = std::fs::read_to_string(mdir.join("modules.dep")).context("modules.dep")?;
    let order = module_order(&dep, &BOOT_MODULES)?;
    let mut files: Vec<(String, u32, Vec<u8>)> = vec![];
    let busybox = std::fs::read(root.join("usr/bin/busybox"))
        .or_else(|_| std::fs::read(root.join("bin/busybox")))
        .context("busybox-static's /bin/busybox")?;
    files.push(("bin/busybox".into(), 0o100755, busybox));
    let mut names = vec![];
    for m in &order {
        let data = std::fs::read(mdir.join(m)).with_context(|| format!("module {m}"))?;
        let data = decompress(m, data)?;
        let name = module_name(m);
        files.push((format!("lib/{name}.ko"), 0o100644, data));
        names.push(name);
    }
    let init = format!(
        r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in {mods}; do insmod /lib/$m.ko || echo "initramfs: insmod $m failed"; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
if ! mount -t ext4 -o rw /dev/vda /newroot; then
  echo "initramfs: cannot mount /dev/vda"
  poweroff -f
fi
umount /proc /sys /dev
exec switch_root /newroot /sbin/shakedown-init
"#,
        mods = names.join(" ")
    );
    files.push(("init".into(), 0o100755, init.into_bytes()));
    let mut cpio = Vec::new();
    let mut ino = 1;
    for d in ["bin", "lib", "proc", "sys", "dev", "newroot"] {
        cpio_entry(&mut cpio, ino, d, 0o040755, &[]);
        ino += 1;
    }
    for (name, mode, data) in &files {
        cpio_entry(&mut cpio, ino, name, *mode, data);
        ino += 1;
    }
    cpio_entry(&mut cpio, 0, "TRAILER!!!", 0, &[]);
    std::fs::write(out, cpio).with_context(|| format!("{}", out.display()))
}

fn decompress(path: &str, data: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    let tool = if path.ends_with(".xz") {
        "xz"
    } else if path.ends_with(".zst") {
        "zstd"
    } else if path.ends_with(".gz") {
        "gzip"
    } else {
        return Ok(data);
    };
    use std::io::Write;
    let mut child = std::process::Command::new(tool)
        .args(["-dc"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("{tool} (to unpack {path})"))?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let feeder = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output()?;
    let _ = feeder.join();
    if !out.status.success() {
        bail!("{tool} -dc {path} failed");
    }
    Ok(out.stdout)
}

/// One entry of a newc cpio archive.
fn cpio_entry(out: &mut Vec<u8>, ino: u32, name: &str, mode: u32, data: &[u8]) {
    let header = format!(
        "070701{ino:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
        0,
        0,
        1,
        0,
        data.len(),
        0,
        0,
        0,
        0,
        name.len() + 1,
        0
    );
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out.extend_from_slice(data);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_load_dependencies_first_and_skip_builtins() {
        let dep = "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\nkernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\nkernel/drivers/virtio/virtio_ring.ko:\nkernel/drivers/virtio/virtio_pci_modern_dev.ko:\nkernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n";
        let o = module_order(dep, &["virtio_pci", "virtio_blk", "ext4"]).unwrap();
        let names: Vec<String> = o.iter().map(|p| module_name(p)).collect();
        assert_eq!(
            names,
            [
                "virtio_pci_modern_dev",
                "virtio_ring",
                "virtio",
                "virtio_pci",
                "virtio_blk"
            ]
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("b12").is_ok());
        for bad in ["", ".x", "a/b", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpio_entries_are_aligned() {
        let mut v = vec![];
        cpio_entry(&mut v, 1, "init", 0o100755, b"abcde");
        assert!(v.len().is_multiple_of(4));
        assert!(v.starts_with(b"070701"));
    }
}
