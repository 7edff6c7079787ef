//! Copying to a host what a remote run needs: the shakedown binary and the fixture image's build
//! context, each kept there under its sha256 (an unchanged one is copied once), and the run's
//! files, unpacked into its directory. The SSH client itself is [`crate::ssh`].

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};

use super::{COPY, SHORT};
use crate::ssh::{quote, Input, Ssh};

impl Ssh {
    /// The shakedown binary copied to the host: [`Ssh::binary`] if given, else this one.
    fn binary(&self) -> anyhow::Result<PathBuf> {
        match &self.binary {
            Some(b) => Ok(b.clone()),
            None => std::env::current_exe().context("finding this binary"),
        }
    }

    /// Makes sure the host can run the binary to copy ([`Ssh::binary`]) and has it; returns its path
    /// there. A binary other than this one must come from the same sources (its `--version` names
    /// them), since the journal it streams back is judged here.
    pub async fn install(&self) -> anyhow::Result<String> {
        let host = self.label();
        let arch = self
            .exec("uname -m", "uname -m", Input::None, SHORT)
            .await?;
        let arch = arch.trim();
        if arch != std::env::consts::ARCH {
            bail!(
                "{host} is {arch}, this shakedown is built for {}: build one for {arch} and run it from there",
                std::env::consts::ARCH
            );
        }
        let exe = self.binary()?;
        if self.binary.is_some() {
            let theirs = ::host::cmd::Cmd::new(&exe.to_string_lossy(), &["--version"])
                .deadline(SHORT)
                .run()
                .await?;
            let theirs = theirs.trim();
            let ours = format!("shakedown {}", version::VERSION);
            if theirs != ours {
                bail!(
                    "{} is {theirs:?}, this is {ours:?}: the binary copied to the host must be built \
                     from the same sources (ci/build-static.sh builds a static one)",
                    exe.display()
                );
            }
        }
        let (hash, is_static) = {
            let exe = exe.clone();
            ::host::blocking("hashing the binary to copy", COPY, move || {
                let is_static = engine::fixture::is_static_elf(&exe)?;
                anyhow::Ok((file_sha256(&exe)?, is_static))
            })
            .await??
        };
        let path = self
            .put(
                "shakedown",
                &format!("bin/shakedown-{}", &hash[..16]),
                0o700,
                Input::File(exe),
            )
            .await?;
        let q = quote(&path);
        let version = self
            .exec("running shakedown", &format!("{q} --version"), Input::None, SHORT)
            .await
            .map_err(|e| {
                if is_static {
                    e
                } else {
                    anyhow!("{e:#}\n(the binary is dynamically linked against this machine's glibc: copy a static one with --remote-binary FILE, built by ci/build-static.sh)")
                }
            })?;
        tracing::debug!("{host}: {}", version.trim());
        Ok(path)
    }

    /// Makes sure the host has the fixture image's build context carried from here (kept by its
    /// hash, like the binary); returns its path there.
    pub async fn install_fixture(&self, context: Vec<u8>) -> anyhow::Result<String> {
        let hex = engine::fixture::image_tag(&context);
        let hash = hex.rsplit(':').next().unwrap_or("context").to_string();
        self.put(
            "the fixture's build context",
            &format!("bin/fixture-{hash}.tar"),
            0o600,
            Input::Bytes(context),
        )
        .await
    }

    /// Copies a file to `home/name` unless it is there already (names carry a content hash), through
    /// a temporary name so a cut-off copy is never taken for a whole one; returns its path.
    async fn put(&self, what: &str, name: &str, mode: u32, input: Input) -> anyhow::Result<String> {
        let path = format!("{}/{name}", self.home);
        let q = quote(&path);
        let present = self
            .exec(
                &format!("looking for {what}"),
                &format!("test -f {q} && echo present || echo missing"),
                Input::None,
                SHORT,
            )
            .await?;
        if present.trim() != "present" {
            let dir = Path::new(&path)
                .parent()
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_else(|| self.home.clone());
            self.exec(
                &format!("copying {what}"),
                &format!(
                    "umask 077 && mkdir -p {dir} && cat > {q}.part && chmod {mode:o} {q}.part && mv -f {q}.part {q}",
                    dir = quote(&dir)
                ),
                input,
                COPY,
            )
            .await?;
        }
        Ok(path)
    }

    /// Copies a bundle (a tar of the scenario files) into a new directory for this run.
    pub(super) async fn unpack(&self, dir: &str, tar: Vec<u8>) -> anyhow::Result<()> {
        let q = quote(dir);
        self.exec(
            "copying the scenarios",
            // Root-only, as the harness's directory is on this machine.
            &format!(
                "umask 077 && rm -rf {q} && mkdir -p {q} && tar -x --no-same-permissions -C {q}"
            ),
            Input::Bytes(tar),
            COPY,
        )
        .await
        .map(|_| ())
    }
}

fn file_sha256(path: &Path) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(format!("{:x}", h.finalize()))
}
