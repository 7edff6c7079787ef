//! Building an image: a root file system by debootstrap (the packages, Debian's kernel installed
//! by dpkg inside it), its init, the kernel and initramfs beside it, and the ext4 disk made of it.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

use super::initramfs::initramfs;
use super::ssh::host_alias;
use super::{check_name, remove_tree, set_mode, Image, Spec, Vms, RECIPE};
use ::host::Cmd;

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
/// Size of the (sparse) disk: the root plus room for images and containers.
const DISK_SIZE: &str = "8G";

impl Image {
    fn same_inputs(&self, s: &Spec) -> bool {
        self.suite == s.suite
            && self.kernel_package == s.kernel
            && self.engine == s.engine
            && self.recipe == RECIPE
    }
}

impl Vms {
    /// Builds an image, or returns the cached one when its inputs are the same.
    /// The second value says whether it was built now.
    pub async fn build(&self, spec: &Spec) -> anyhow::Result<(Image, bool)> {
        check_name(&spec.name).map_err(|e| anyhow!(e))?;
        if !engine::cache::SUITES.contains(&spec.suite.as_str()) {
            bail!(
                "unknown suite {:?}: one of {}",
                spec.suite,
                engine::cache::SUITES.join(", ")
            );
        }
        self.tighten(&spec.name)?;
        if let Some(i) = self.get(&spec.name) {
            if i.same_inputs(spec) {
                return Ok((i, false));
            }
        }
        for tool in ["debootstrap", "mkfs.ext4", "ssh-keygen", "chroot"] {
            if ::host::cmd::which(tool).is_none() {
                bail!("{tool} is missing: apt-get install debootstrap e2fsprogs openssh-client");
            }
        }
        let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
        if !Path::new(keyring).exists() {
            bail!("{keyring} is missing: install the package debian-archive-keyring");
        }
        if let Some(v) = &spec.engine {
            let offered = engine::cache::Engines::new(&self.state).available().await?;
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
        // The images are root-only (the keys that reach them are in them); what goes into the
        // guest's root keeps the guest's modes.
        ::host::private::create_dir_all(&debs)?;
        ::host::private::create_dir_all(&work)?;
        let mut include: Vec<&str> = PACKAGES.to_vec();
        include.push(&spec.kernel);
        let mirror = engine::cache::host_mirror();
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
            if engine::cache::upstream(&docker) != v {
                bail!("asked for docker.io {v}, debootstrap installed {docker}");
            }
        }
        eprintln!("vm {}: kernel {kernel}, docker.io {docker}", spec.name);
        self.keys(&spec.name, &work, &root).await?;
        write_init(&spec.name, &root)?;
        let initrd = work.join("initrd.img");
        {
            let (root, kernel, initrd) = (root.clone(), kernel.clone(), initrd.clone());
            ::host::blocking("making the initramfs", MKFS_DEADLINE, move || {
                initramfs(&root, &kernel, &initrd)
            })
            .await??;
        }
        std::fs::copy(
            root.join(format!("boot/vmlinuz-{kernel}")),
            work.join("vmlinuz"),
        )
        .and_then(|_| ::host::private::restrict(&work.join("vmlinuz")))
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
        ::host::private::restrict(&work.join("disk.img"))?;
        remove_tree(&root).await?;
        let image = Image {
            name: spec.name.clone(),
            suite: spec.suite.clone(),
            kernel_package: spec.kernel.clone(),
            engine: spec.engine.clone(),
            recipe: RECIPE,
            kernel,
            docker,
            built_at: ::host::unix_now(),
            build_seconds: start.elapsed().as_secs_f64(),
        };
        ::host::private::write(&work.join("vm.json"), serde_json::to_string_pretty(&image)?)?;
        let dest = self.image_dir(&spec.name);
        remove_tree(&dest).await?;
        std::fs::rename(&work, &dest)?;
        Ok((image, true))
    }
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
