//! The offline fixture image: busybox, bash and tini from Debian's static packages plus our own static
//! helper (`shakedown-fixture`), built `FROM scratch` on the target daemon when missing and tagged by
//! content hash — so no registry is ever needed and a changed helper gives a new tag.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use bollard::query_parameters::BuildImageOptions;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

/// The static helper binary, compiled by `build.rs` from `fixture/fixture.rs` and embedded.
pub const HELPER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/shakedown-fixture"));

/// Repository part of the fixture image's tag.
pub const IMAGE_REPO: &str = "shakedown-fixture";

const DOCKERFILE: &str =
    "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin:/usr/bin:/sbin:/usr/sbin\nCMD [\"sh\"]\n";

/// Host paths of the static binaries the image is made of.
#[derive(Clone, Debug)]
pub struct Sources {
    /// Static busybox (Debian package `busybox-static`).
    pub busybox: PathBuf,
    /// Static bash (Debian package `bash-static`).
    pub bash: PathBuf,
    /// Static tini (Debian package `tini`).
    pub tini: PathBuf,
}

fn first_existing(candidates: &[&str], package: &str) -> anyhow::Result<PathBuf> {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow!(
                "{} not found: install it with `apt-get install {package}` (or run ci/install-deps.sh)",
                candidates.join(" or ")
            )
        })
}

/// Whether an ELF file has no program interpreter, i.e. runs without a dynamic loader.
pub fn is_static_elf(path: &Path) -> anyhow::Result<bool> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if data.len() < 64 || &data[..4] != b"\x7fELF" || data[4] != 2 {
        bail!("{} is not a 64-bit ELF executable", path.display());
    }
    let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(data[0x20..0x28].try_into()?) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let off = phoff + i * phentsize;
        let Some(bytes) = data.get(off..off + 4) else {
            break;
        };
        if u32::from_le_bytes(bytes.try_into()?) == 3 {
            return Ok(false); // PT_INTERP
        }
    }
    Ok(true)
}

impl Sources {
    /// Finds the static binaries on this host; the error names the missing file and its package.
    pub fn find() -> anyhow::Result<Self> {
        let s = Sources {
            busybox: first_existing(&["/bin/busybox", "/usr/bin/busybox"], "busybox-static")?,
            bash: first_existing(&["/bin/bash-static", "/usr/bin/bash-static"], "bash-static")?,
            tini: first_existing(&["/usr/bin/tini-static", "/bin/tini-static"], "tini")?,
        };
        for (p, package) in [
            (&s.busybox, "busybox-static"),
            (&s.bash, "bash-static"),
            (&s.tini, "tini"),
        ] {
            if !is_static_elf(p)? {
                bail!(
                    "{} is dynamically linked and cannot run in a FROM scratch image: install `{package}`",
                    p.display()
                );
            }
        }
        Ok(s)
    }
}

fn applets(busybox: &Path) -> anyhow::Result<Vec<String>> {
    let out = std::process::Command::new(busybox)
        .arg("--list")
        .output()
        .with_context(|| format!("running {} --list", busybox.display()))?;
    let mut list: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && !a.contains('/') && *a != "busybox")
        .map(str::to_string)
        .collect();
    list.sort();
    list.dedup();
    if list.is_empty() {
        bail!("{} --list printed no applets", busybox.display());
    }
    Ok(list)
}

/// The image's build context: a Dockerfile and `rootfs/` (busybox and a symlink per applet, bash,
/// tini, the helper, /tmp, /etc/passwd). Deterministic — sorted, mtime 0, owner root — so the same
/// inputs give the same bytes and therefore the same tag.
pub fn build_context(sources: &Sources) -> anyhow::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(size);
        h
    };
    let file = |b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]| {
        let mut h = header(tar::EntryType::Regular, mode, data.len() as u64);
        b.append_data(&mut h, path, data)
    };
    file(&mut b, "Dockerfile", 0o644, DOCKERFILE.as_bytes())?;
    for dir in ["rootfs/", "rootfs/bin/", "rootfs/etc/", "rootfs/root/"] {
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        b.append_data(&mut h, dir, std::io::empty())?;
    }
    let mut h = header(tar::EntryType::Directory, 0o1777, 0);
    b.append_data(&mut h, "rootfs/tmp/", std::io::empty())?;
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    file(
        &mut b,
        "rootfs/bin/busybox",
        0o755,
        &read(&sources.busybox)?,
    )?;
    file(&mut b, "rootfs/bin/bash", 0o755, &read(&sources.bash)?)?;
    file(&mut b, "rootfs/bin/tini", 0o755, &read(&sources.tini)?)?;
    file(&mut b, "rootfs/bin/shakedown-fixture", 0o755, HELPER)?;
    file(
        &mut b,
        "rootfs/etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    file(
        &mut b,
        "rootfs/etc/group",
        0o644,
        b"root:x:0:\nnogroup:x:65534:\n",
    )?;
    for applet in applets(&sources.busybox)? {
        if matches!(applet.as_str(), "bash") {
            continue;
        }
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        b.append_link(&mut h, format!("rootfs/bin/{applet}"), "busybox")?;
    }
    Ok(b.into_inner()?)
}

/// The tag for a context: `shakedown-fixture:<first 16 hex digits of its sha256>`.
pub fn image_tag(context: &[u8]) -> String {
    let digest = Sha256::digest(context);
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{IMAGE_REPO}:{hex}")
}

/// Makes sure the daemon has the fixture image, building it when missing; returns its tag. The whole
/// build and every item of its output stream are bounded by `deadline`.
pub async fn ensure_image(docker: &bollard::Docker, deadline: Duration) -> anyhow::Result<String> {
    let context = build_context(&Sources::find()?)?;
    let tag = image_tag(&context);
    match tokio::time::timeout(Duration::from_secs(20), docker.inspect_image(&tag)).await {
        Err(_) => bail!("docker: inspect image {tag}: no answer within 20s"),
        Ok(Ok(_)) => return Ok(tag),
        Ok(Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        })) => {}
        Ok(Err(e)) => return Err(anyhow!(e).context(format!("docker: inspect image {tag}"))),
    }
    tracing::info!("building the fixture image {tag}");
    let opts = BuildImageOptions {
        dockerfile: "Dockerfile".into(),
        t: Some(tag.clone()),
        rm: true,
        forcerm: true,
        labels: Some([("io.shakedown.fixture".to_string(), "1".to_string())].into()),
        ..Default::default()
    };
    let build = async {
        let mut stream =
            Box::pin(docker.build_image(opts, None, Some(bollard::body_full(context.into()))));
        let mut log = String::new();
        while let Some(item) = stream.next().await {
            let info = item.context("docker: build the fixture image")?;
            if let Some(s) = info.stream {
                log.push_str(&s);
            }
            if let Some(e) = info.error_detail {
                bail!(
                    "docker: build the fixture image: {}\n{log}",
                    e.message.unwrap_or_default()
                );
            }
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(deadline, build)
        .await
        .map_err(|_| anyhow!("building the fixture image took longer than {deadline:?}"))??;
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_is_static_and_context_is_deterministic() {
        let dir = std::env::temp_dir().join(format!("sd-fixture-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let helper = dir.join("helper");
        std::fs::write(&helper, HELPER).unwrap();
        assert!(
            is_static_elf(&helper).unwrap(),
            "the embedded helper must be static"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        if let Ok(s) = Sources::find() {
            let (a, b) = (build_context(&s).unwrap(), build_context(&s).unwrap());
            assert_eq!(image_tag(&a), image_tag(&b));
            assert!(image_tag(&a).starts_with("shakedown-fixture:"));
        }
    }

    #[test]
    fn dynamic_binaries_are_recognised() {
        // /bin/ls is dynamically linked on every Debian/Ubuntu host.
        assert!(!is_static_elf(Path::new("/bin/ls")).unwrap());
    }
}
