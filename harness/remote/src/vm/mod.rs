//! Virtual machines as targets, offline: a whole Docker host built from Debian's packages
//! (`shakedown vm build`) and booted under qemu's software emulation for a run
//! (`--target vm:NAME`), which then goes exactly the SSH target's way ([`crate`]).
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
//!
//! By concern: `image` builds an image (debootstrap, the kernel, the init, the disk), `initramfs`
//! writes its busybox initramfs (a cpio), `qemu` boots it (the accelerator, the KVM fallback, the
//! serial console) and `ssh` makes the keys that reach it and reaches it through [`crate::ssh`];
//! this file holds what they share (the images on disk, [`Vms`], [`Running`]). The module uses
//! nothing of [`crate`]: remote uses it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};

use ::host::Cmd;

mod image;
mod initramfs;
mod qemu;
mod ssh;

pub use qemu::KVM_PROBE;

/// Version of the build recipe: bump it when what an image contains changes.
pub const RECIPE: u32 = 4;
/// The kernel package when none is asked for.
pub const DEFAULT_KERNEL: &str = "linux-image-cloud-amd64";
/// Scenarios at once in a VM unless `--jobs` says otherwise: under software emulation on two
/// virtual CPUs, three managed daemons starting at once made dockerd give up waiting for its
/// containerd ("timeout waiting for containerd to start").
pub const DEFAULT_JOBS: u32 = 1;

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

    /// Makes the state directory and `vms/` root-only, and the files of the image `name` (an
    /// image built by an older version was left readable by everyone, its keys with it): when
    /// an image is built or booted.
    fn tighten(&self, name: &str) -> anyhow::Result<()> {
        ::host::private::ensure_dir(&self.state)?;
        ::host::private::ensure_dir(&self.dir)?;
        for e in std::fs::read_dir(self.image_dir(name))
            .into_iter()
            .flatten()
        {
            let e = e?;
            if e.file_type()?.is_file() {
                ::host::private::restrict(&e.path())?;
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_image_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let state = tempfile::tempdir().unwrap();
        let vms = Vms::new(state.path());
        let image = vms.image_dir("old");
        std::fs::create_dir_all(&image).unwrap();
        std::fs::write(image.join("id_ed25519.pub"), "k").unwrap();
        set_mode(&image.join("id_ed25519.pub"), 0o644).unwrap();
        set_mode(&vms.dir, 0o755).unwrap();
        vms.tighten("old").unwrap();
        assert_eq!(mode(&vms.dir), 0o700);
        assert_eq!(mode(&image.join("id_ed25519.pub")), 0o600);
        // Nothing built yet: nothing to do but the directories.
        vms.tighten("none").unwrap();
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("b12").is_ok());
        for bad in ["", ".x", "a/b", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
