//! The offline fixture image.
//!
//! No registry is reachable from the hosts shakedown runs on, so the containers of its scenarios run a
//! small image built locally `FROM scratch` out of static binaries: Debian's `busybox-static` (with a
//! symlink per applet, so `sh`, `sleep`, `cat`… exist), `bash-static` as `/bin/bash`, `tini` as
//! `/bin/tini`, and our own static helper `/bin/shakedown-fixture` (compiled by `build.rs` from
//! `fixture/fixture.rs` and embedded in this crate as [`HELPER`]), which has controlled behaviours:
//! allocate memory at a rate, ignore or trap signals, size a heap from the host's memory.
//!
//! The build context is deterministic, so the image is tagged by the context's content hash
//! ([`image_tag`]): [`ensure_image`] builds it on a daemon only when that tag is missing, and a changed
//! helper or a different busybox gives a new tag.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use docker::{Cut, DockerClient, Inspected};

/// The name scenarios use for the harness's own offline image.
pub const FIXTURE_IMAGE: &str = "fixture";

/// The static helper binary, embedded at build time.
pub const HELPER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/shakedown-fixture"));

/// The repository part of the fixture image's tag (`shakedown-fixture:<hash>`).
pub const IMAGE_REPO: &str = "shakedown-fixture";

/// The label every fixture image carries (value `1`), e.g. to find and remove old ones with
/// `docker image ls --filter label=io.shakedown.fixture`.
pub const IMAGE_LABEL: &str = "io.shakedown.fixture";

/// Where the helper lives inside the image (also on its `PATH`).
pub const HELPER_PATH: &str = "/bin/shakedown-fixture";

const DOCKERFILE: &str =
    "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin:/usr/bin:/sbin\nCMD [\"sh\"]\n";

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// Host paths of the static binaries the image is made of, with the Debian package that provides each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sources {
    /// Static busybox: `/bin/busybox` or `/usr/bin/busybox` from the Debian package `busybox-static`
    /// (the plain `busybox` package installs a dynamically linked one, which cannot run in the image).
    pub busybox: PathBuf,
    /// Static bash: `/bin/bash-static` from the Debian package `bash-static`.
    pub bash: PathBuf,
    /// Static tini: `/usr/bin/tini-static` from the Debian package `tini`.
    pub tini: PathBuf,
}

impl Sources {
    /// Finds the static binaries on this host. The error names the missing file and the
    /// `apt-get install <package>` that provides it, or says which one is dynamically linked.
    pub fn find() -> anyhow::Result<Self> {
        let s = Sources {
            busybox: first_existing(&["/bin/busybox", "/usr/bin/busybox"], "busybox-static")?,
            bash: first_existing(&["/bin/bash-static", "/usr/bin/bash-static"], "bash-static")?,
            tini: first_existing(&["/usr/bin/tini-static", "/bin/tini-static"], "tini")?,
        };
        for (path, package) in [
            (&s.busybox, "busybox-static"),
            (&s.bash, "bash-static"),
            (&s.tini, "tini"),
        ] {
            if !is_static_elf(path)? {
                bail!(
                    "{} is dynamically linked and cannot run in a FROM scratch image \
                     (is it from the `busybox` package?): install the static one with \
                     `apt-get install {package}`",
                    path.display()
                );
            }
        }
        Ok(s)
    }
}

fn first_existing(candidates: &[&str], package: &str) -> anyhow::Result<PathBuf> {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow!(
                "{} not found: install it with `apt-get install {package}`",
                candidates.join(" or ")
            )
        })
}

/// Whether the file is a 64-bit little-endian ELF without a program interpreter (`PT_INTERP`), i.e.
/// one that runs without a dynamic loader (static or static-pie). Errors if it is no such ELF file.
pub fn is_static_elf(path: &Path) -> anyhow::Result<bool> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    elf_is_static(&data)
        .with_context(|| format!("{} is not a 64-bit ELF executable", path.display()))
}

fn elf_is_static(data: &[u8]) -> anyhow::Result<bool> {
    const PT_INTERP: u32 = 3;
    if data.len() < 64 || &data[..4] != b"\x7fELF" || data[4] != 2 || data[5] != 1 {
        bail!("no 64-bit little-endian ELF header");
    }
    let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
    let phoff = usize::try_from(u64::from_le_bytes(data[0x20..0x28].try_into()?))?;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let entry = i
            .checked_mul(phentsize)
            .and_then(|o| o.checked_add(phoff))
            .and_then(|o| data.get(o..o.checked_add(4)?))
            .ok_or_else(|| anyhow!("program header {i} lies outside the file"))?;
        if u32::from_le_bytes(entry.try_into()?) == PT_INTERP {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The applets of a busybox binary, from running `busybox --list` on this host; sorted, without
/// names the image provides otherwise (`bash`, `busybox`).
fn applets(busybox: &Path) -> anyhow::Result<Vec<String>> {
    let out = std::process::Command::new(busybox)
        .arg("--list")
        .output()
        .with_context(|| format!("running {} --list", busybox.display()))?;
    if !out.status.success() {
        bail!(
            "{} --list failed ({}): {}",
            busybox.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut list: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && !a.contains('/') && *a != "." && *a != "..")
        .filter(|a| !matches!(*a, "busybox" | "bash" | "tini" | "shakedown-fixture"))
        .map(str::to_string)
        .collect();
    list.sort();
    list.dedup();
    if !list.iter().any(|a| a == "sh") {
        bail!("{} --list has no `sh` applet", busybox.display());
    }
    Ok(list)
}

enum Entry {
    Dir(u32),
    File(u32, Vec<u8>),
    Symlink(String),
}

/// The image's build context: a tar with a `Dockerfile` (`FROM scratch`, `COPY rootfs/ /`,
/// `ENV PATH=/bin:/usr/bin:/sbin`, `CMD ["sh"]`) and `rootfs/` holding `bin/busybox` with a symlink
/// per applet (as `busybox --list` names them; `/usr/bin/env` too), `bin/bash` (bash-static),
/// `bin/tini`, `bin/shakedown-fixture` ([`HELPER`]), `tmp/` (mode 1777), `root/`, and
/// `etc/passwd` + `etc/group` with root. Deterministic — entries sorted by path, mtime 0, uid/gid 0 —
/// so the same inputs give the same bytes, hence the same [`image_tag`].
pub fn build_context(sources: &Sources) -> anyhow::Result<Vec<u8>> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let mut entries: Vec<(String, Entry)> = vec![
        ("Dockerfile".into(), Entry::File(0o644, DOCKERFILE.into())),
        ("rootfs".into(), Entry::Dir(0o755)),
        ("rootfs/bin".into(), Entry::Dir(0o755)),
        ("rootfs/etc".into(), Entry::Dir(0o755)),
        ("rootfs/root".into(), Entry::Dir(0o700)),
        ("rootfs/tmp".into(), Entry::Dir(0o1777)),
        ("rootfs/usr".into(), Entry::Dir(0o755)),
        ("rootfs/usr/bin".into(), Entry::Dir(0o755)),
        (
            "rootfs/usr/bin/env".into(),
            Entry::Symlink("/bin/busybox".into()),
        ),
        (
            "rootfs/bin/busybox".into(),
            Entry::File(0o755, read(&sources.busybox)?),
        ),
        (
            "rootfs/bin/bash".into(),
            Entry::File(0o755, read(&sources.bash)?),
        ),
        (
            "rootfs/bin/tini".into(),
            Entry::File(0o755, read(&sources.tini)?),
        ),
        (
            "rootfs/bin/shakedown-fixture".into(),
            Entry::File(0o755, HELPER.to_vec()),
        ),
        (
            "rootfs/etc/passwd".into(),
            Entry::File(0o644, PASSWD.into()),
        ),
        ("rootfs/etc/group".into(), Entry::File(0o644, GROUP.into())),
    ];
    for applet in applets(&sources.busybox)? {
        entries.push((
            format!("rootfs/bin/{applet}"),
            Entry::Symlink("busybox".into()),
        ));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|a, b| a.0 == b.0);

    let mut tar = tar::Builder::new(Vec::new());
    for (path, entry) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        match entry {
            Entry::Dir(mode) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(mode);
                h.set_size(0);
                tar.append_data(&mut h, format!("{path}/"), std::io::empty())
            }
            Entry::File(mode, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(mode);
                h.set_size(data.len() as u64);
                tar.append_data(&mut h, &path, data.as_slice())
            }
            Entry::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                tar.append_link(&mut h, &path, &target)
            }
        }
        .with_context(|| format!("adding {path} to the fixture image's build context"))?;
    }
    Ok(tar.into_inner()?)
}

/// Tag from the content hash: `shakedown-fixture:<first 16 hex digits of the context's sha256>`.
pub fn image_tag(context: &[u8]) -> String {
    let digest = Sha256::digest(context);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{IMAGE_REPO}:{hex}")
}

/// This host's build context for the image: [`build_context`] of the static binaries
/// [`Sources::find`] finds here. An SSH run makes it on the machine it starts from and carries it to
/// the host, so the host needs none of them.
pub fn host_context() -> anyhow::Result<Vec<u8>> {
    build_context(&Sources::find()?)
}

/// Reads a build context made by [`host_context`] elsewhere and carried here (`run
/// --fixture-context FILE`); the error names the file.
pub fn read_context(path: &Path) -> anyhow::Result<Vec<u8>> {
    let data = std::fs::read(path).with_context(|| {
        format!(
            "reading the fixture image's build context {}",
            path.display()
        )
    })?;
    let mut names = tar::Archive::new(data.as_slice())
        .entries()
        .and_then(|es| {
            es.map(|e| Ok(e?.path()?.to_string_lossy().into_owned()))
                .collect::<std::io::Result<Vec<_>>>()
        })
        .with_context(|| format!("{} is not a tar archive", path.display()))?
        .into_iter();
    if !names.any(|n| n == "Dockerfile") {
        bail!(
            "{} has no Dockerfile: it is not a fixture build context",
            path.display()
        );
    }
    Ok(data)
}

/// The fixture image for a daemon: inspects the tag made from the build context — the one in
/// `carried` if given (see [`read_context`]), else this host's ([`host_context`]) — and, if
/// the daemon does not have it, builds it with the classic builder (tar body, `rm`, label
/// [`IMAGE_LABEL`]`=1`). The whole call and every item of the build's output stream are bounded by
/// `deadline` (bollard's own timeout does not bound streams). Returns the tag. Errors say what
/// failed: a missing package, an unanswered or failed inspect, or the build output's error message
/// with the output's last lines.
pub async fn ensure_image(
    docker: &DockerClient,
    carried: Option<&Path>,
    deadline: Duration,
) -> anyhow::Result<String> {
    let started = Instant::now();
    let end = started + deadline;
    let carried = carried.map(Path::to_path_buf);
    let context = host::blocking(
        "preparing the fixture image's build context",
        deadline,
        move || match carried {
            Some(p) => read_context(&p),
            None => host_context(),
        },
    )
    .await??;
    let tag = image_tag(&context);

    match docker.inspect_image(&tag, end).await {
        Inspected::NoAnswer => bail!("docker: inspect image {tag}: no answer within {deadline:?}"),
        Inspected::Found { .. } => {
            tracing::debug!(%tag, "fixture image present");
            return Ok(tag);
        }
        Inspected::Absent(_) => {}
        Inspected::Failed(e) => return Err(e.context(format!("docker: inspect image {tag}"))),
    }

    tracing::info!(%tag, bytes = context.len(), "building the fixture image");
    let labels = HashMap::from([(IMAGE_LABEL, "1")]);
    let build = async {
        // The build output's last lines, as context for an error.
        let tail = |output: &[String]| {
            let from = output.len().saturating_sub(10);
            match output[from..].concat().trim_end() {
                "" => String::new(),
                lines => format!("; last build output:\n{lines}"),
            }
        };
        match docker
            .build_image(context, &tag, &labels, end)
            .finish()
            .await
        {
            Ok(_) => Ok(()),
            Err((Cut::Late, output)) => bail!(
                "no further build output before the {deadline:?} deadline{}",
                tail(&output)
            ),
            Err((Cut::Failed(e), output)) => bail!("{e}{}", tail(&output)),
        }
    };
    tokio::time::timeout(end.saturating_duration_since(Instant::now()), build)
        .await
        .map_err(|_| anyhow!("did not finish within {deadline:?}"))
        .and_then(|r| r)
        .with_context(|| format!("docker: build the fixture image {tag}"))?;

    // The build's output said nothing went wrong; make sure the tag is really there.
    match docker.inspect_image(&tag, end).await {
        Inspected::NoAnswer => {
            bail!("docker: inspect image {tag} after building it: no answer within {deadline:?}")
        }
        Inspected::Absent(e) | Inspected::Failed(e) => {
            return Err(e.context(format!("docker: inspect image {tag} after building it")))
        }
        Inspected::Found { .. } => {}
    }
    tracing::info!(%tag, elapsed = ?started.elapsed(), "built the fixture image");
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(context: &[u8]) -> Vec<(String, tar::EntryType, u32, Option<String>)> {
        let mut archive = tar::Archive::new(context);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    h.entry_type(),
                    h.mode().unwrap(),
                    e.link_name()
                        .unwrap()
                        .map(|l| l.to_string_lossy().into_owned()),
                )
            })
            .collect()
    }

    #[test]
    fn helper_is_static() {
        assert!(
            elf_is_static(HELPER).unwrap(),
            "the embedded helper must be static"
        );
    }

    #[test]
    fn dynamic_and_non_elf_files_are_recognised() {
        // /bin/ls is dynamically linked on every Debian/Ubuntu host.
        assert!(!is_static_elf(Path::new("/bin/ls")).unwrap());
        assert!(elf_is_static(
            b"#!/bin/sh\necho hello world, this is no ELF file at all, not one bit\n"
        )
        .is_err());
        let mut truncated = HELPER[..64].to_vec();
        truncated[0x38] = 0xff; // many program headers, none in the file
        assert!(elf_is_static(&truncated).is_err());
    }

    /// A fake daemon on a unix socket: answers every image inspect with 404 and `/build` with the
    /// given stream lines, then either ends the response or keeps it open without a word.
    async fn fake_daemon(
        build_lines: &'static [&'static str],
        stall: bool,
    ) -> (PathBuf, DockerClient) {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let dir =
            std::env::temp_dir().join(format!("sd-fixture-fake-{}-{stall}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("docker.sock");
        let listener = tokio::net::UnixListener::bind(&sock).unwrap();
        tokio::spawn(async move {
            loop {
                let (conn, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut conn = BufReader::new(conn);
                    loop {
                        let (mut head, mut line) = (String::new(), String::new());
                        while line != "\r\n" {
                            line.clear();
                            if conn.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            head.push_str(&line);
                        }
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        let mut body = vec![0; length];
                        conn.read_exact(&mut body).await.unwrap();
                        if head.starts_with("POST /build") {
                            let mut out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_string();
                            for l in build_lines {
                                out.push_str(&format!("{:x}\r\n{l}\r\n", l.len()));
                            }
                            if !stall {
                                out.push_str("0\r\n\r\n");
                            }
                            conn.write_all(out.as_bytes()).await.unwrap();
                            std::future::pending::<()>().await;
                        }
                        let msg = r#"{"message":"No such image"}"#;
                        let out = format!("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{msg}", msg.len());
                        conn.write_all(out.as_bytes()).await.unwrap();
                    }
                });
            }
        });
        let docker = DockerClient::connect(sock.to_str().unwrap()).unwrap();
        (dir, docker)
    }

    fn need_sources() -> Sources {
        Sources::find().unwrap_or_else(|e| {
            panic!("{e:#} — the fixture's static binaries are required (ci/install-deps.sh installs them)")
        })
    }

    #[tokio::test]
    async fn build_errors_carry_the_daemon_message() {
        // A missing dependency fails the test (`ci/install-deps.sh` installs them).
        need_sources();
        let (dir, docker) = fake_daemon(
            &[
                "{\"stream\":\"Step 1/4 : FROM scratch\\n\"}\n",
                "{\"errorDetail\":{\"message\":\"COPY failed: no space left on device\"},\"error\":\"COPY failed: no space left on device\"}\n",
            ],
            false,
        )
        .await;
        let err = ensure_image(&docker, None, Duration::from_secs(10))
            .await
            .unwrap_err();
        let text = format!("{err:#}");
        eprintln!("{text}");
        assert!(
            text.contains("build the fixture image shakedown-fixture:"),
            "{text}"
        );
        assert!(
            text.contains("COPY failed: no space left on device"),
            "{text}"
        );
        assert!(text.contains("Step 1/4"), "{text}");

        // Built without an error, but the daemon still has no such tag.
        let (dir2, docker) =
            fake_daemon(&["{\"stream\":\"Successfully built 0123\\n\"}\n"], false).await;
        let err = ensure_image(&docker, None, Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("after building it"), "{err:#}");
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::remove_dir_all(dir2);
    }

    #[tokio::test]
    async fn a_silent_build_stream_is_bounded() {
        // A missing dependency fails the test (`ci/install-deps.sh` installs them).
        need_sources();
        let (dir, docker) =
            fake_daemon(&["{\"stream\":\"Step 1/4 : FROM scratch\\n\"}\n"], true).await;
        let started = std::time::Instant::now();
        let err = ensure_image(&docker, None, Duration::from_secs(2))
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "{took:?}");
        let text = format!("{err:#}");
        eprintln!("{text}");
        assert!(
            text.contains("no further build output before the 2s deadline")
                || text.contains("did not finish within 2s"),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn context_is_deterministic_and_complete() {
        let sources = need_sources();
        let (a, b) = (
            build_context(&sources).unwrap(),
            build_context(&sources).unwrap(),
        );
        assert_eq!(a, b);
        assert_eq!(image_tag(&a), image_tag(&b));
        let tag = image_tag(&a);
        assert_eq!(tag.len(), IMAGE_REPO.len() + 1 + 16);
        assert!(tag.starts_with("shakedown-fixture:"));

        let entries = listing(&a);
        let paths: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        let mut sorted = paths.clone();
        sorted.sort_by_key(|p| p.trim_end_matches('/'));
        assert_eq!(paths, sorted, "entries are sorted");
        let find = |p: &str| {
            entries
                .iter()
                .find(|e| e.0 == p)
                .unwrap_or_else(|| panic!("{p}"))
        };
        assert_eq!(find("rootfs/tmp/").2, 0o1777);
        assert_eq!(find("rootfs/bin/sh").3.as_deref(), Some("busybox"));
        assert_eq!(find("rootfs/bin/sleep").3.as_deref(), Some("busybox"));
        assert_eq!(find("rootfs/bin/bash").1, tar::EntryType::Regular);
        assert_eq!(find("rootfs/bin/shakedown-fixture").2, 0o755);
        for p in [
            "Dockerfile",
            "rootfs/bin/tini",
            "rootfs/etc/passwd",
            "rootfs/etc/group",
        ] {
            find(p);
        }
        let mut archive = tar::Archive::new(a.as_slice());
        for e in archive.entries().unwrap() {
            let h = e.unwrap().header().clone();
            assert_eq!(
                (h.mtime().unwrap(), h.uid().unwrap(), h.gid().unwrap()),
                (0, 0, 0)
            );
        }
    }
}
