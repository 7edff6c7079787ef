//! Engines beyond Debian's: `engines add` keeps a docker-ce static bundle (the
//! `docker-X.Y.Z.tgz` download.docker.com serves: `docker/` holding dockerd, containerd,
//! containerd-shim-runc-v2, runc, docker-init, docker-proxy, ctr and docker) or a directory of those
//! binaries in the engine cache, under the version its dockerd reports (`ce-27.3.1`), for
//! `--engine` and qualify's `engine=`. A bundle is checked before anything is kept: its sha256 when
//! given, a tar that unpacks, every binary present and executable, and dockerd, containerd and
//! runc running here; anything else is refused and nothing is left in the cache.

use std::path::{Path, PathBuf};
use std::time::Duration;

use model::error::{Error, Result};
use sha2::{Digest, Sha256};

use crate::cache::{Engines, Fetched};
use host::cmd::is_executable;
use host::Cmd;

/// The binaries of a docker-ce static bundle, each required.
pub const BUNDLE_BINARIES: [&str; 8] = [
    "dockerd",
    "containerd",
    "containerd-shim-runc-v2",
    "runc",
    "docker-init",
    "docker-proxy",
    "ctr",
    "docker",
];
/// Downloading a bundle (~70 MB).
const DOWNLOAD: Duration = Duration::from_secs(600);

/// Removes the scratch directory unless the engine was kept.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The version in a `--version` line: `Docker version 27.3.1, build ce12230` → `27.3.1`,
/// `containerd github.com/containerd/containerd v1.7.22 7f7fdf5…` → `1.7.22`, `runc version
/// 1.1.14` → `1.1.14`; Debian's `+dfsg1` suffixes are cut.
pub fn version_in(line: &str) -> Option<String> {
    line.split_whitespace()
        .map(|w| w.trim_end_matches(',').trim_start_matches('v'))
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))
        .map(|w| w.split(['+', '~']).next().unwrap_or(w).to_string())
}

impl Engines {
    /// Adds the bundle at `source` (a `.tgz` file, an `http(s)://` URL, or a directory of the
    /// binaries) as the engine `name` (default `ce-<dockerd's version>`). Bad input (a checksum
    /// that differs, a file that is not a bundle, a missing binary, a name already kept) is an
    /// input error; a download or a binary that cannot run here, the environment's.
    pub async fn add(
        &self,
        source: &str,
        sha256: Option<&str>,
        name: Option<&str>,
    ) -> Result<Fetched> {
        let env = |e: String| Error::env(e);
        let dir = self.dir();
        host::private::create_dir_all(dir).map_err(|e| env(format!("{}: {e}", dir.display())))?;
        let work = dir.join(format!(".add-{}.partial", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        let scratch = Scratch(work.clone());
        host::private::create_dir_all(&work.join("x"))
            .map_err(|e| env(format!("{}: {e}", work.display())))?;
        let local = Path::new(source);
        let remote = source.starts_with("http://") || source.starts_with("https://");
        let binaries = if !remote && local.is_dir() {
            if sha256.is_some() {
                return Err(Error::input(
                    "--sha256 checks a bundle file; a directory has none",
                ));
            }
            local.to_path_buf()
        } else {
            let file = if remote {
                let file = work.join("bundle.tgz");
                let file_arg = file.display().to_string();
                Cmd::new(
                    "curl",
                    &[
                        "-fsSL",
                        "--retry",
                        "2",
                        "--max-time",
                        "600",
                        "-o",
                        &file_arg,
                        source,
                    ],
                )
                .deadline(DOWNLOAD + Duration::from_secs(30))
                .run()
                .await
                .map_err(|e| env(format!("downloading {source}: {e}")))?;
                file
            } else if local.is_file() {
                local.to_path_buf()
            } else {
                return Err(Error::input(format!(
                    "{source}: no such file, directory or http(s) URL"
                )));
            };
            if let Some(want) = sha256 {
                let got = file_sha256(&file).await.map_err(env)?;
                if !got.eq_ignore_ascii_case(want.trim()) {
                    return Err(Error::input(format!(
                        "{source} has sha256 {got}, not {want}: nothing kept"
                    )));
                }
            }
            let (f, x) = (
                file.display().to_string(),
                work.join("x").display().to_string(),
            );
            Cmd::new("tar", &["-xzf", &f, "-C", &x])
                .deadline(Duration::from_secs(120))
                .run()
                .await
                .map_err(|e| {
                    Error::input(format!("{source} is not a .tgz bundle: {e}: nothing kept"))
                })?;
            // download.docker.com's layout is `docker/`; a tarball of the binaries alone works too.
            let nested = work.join("x/docker");
            if nested.is_dir() {
                nested
            } else {
                work.join("x")
            }
        };
        let missing: Vec<&str> = BUNDLE_BINARIES
            .iter()
            .copied()
            .filter(|b| !is_executable(&binaries.join(b)))
            .collect();
        if !missing.is_empty() {
            return Err(Error::input(format!(
                "{source} lacks {} (a docker-ce static bundle has {}): nothing kept",
                missing.join(", "),
                BUNDLE_BINARIES.join(", ")
            )));
        }
        let mut packages = Vec::new();
        for b in ["dockerd", "containerd", "runc"] {
            let v = version_of(&binaries.join(b)).await.map_err(env)?;
            packages.push((b.to_string(), v, source.to_string()));
        }
        let name = match name {
            Some(n) => n.to_string(),
            None => format!("ce-{}", packages[0].1),
        };
        if name.is_empty()
            || name.starts_with('.')
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-+~".contains(c))
        {
            return Err(Error::input(format!(
                "{name:?} cannot name an engine (letters, digits, . _ - + ~)"
            )));
        }
        let dest = dir.join(&name);
        if dest.exists() {
            return Err(Error::input(format!(
                "an engine {name} is kept already: `shakedown engines rm {name}` first"
            )));
        }
        let root = work.join("root");
        host::private::create_dir_all(&root).map_err(|e| env(e.to_string()))?;
        for b in BUNDLE_BINARIES {
            std::fs::copy(binaries.join(b), root.join(b))
                .map_err(|e| env(format!("copying {b}: {e}")))?;
        }
        let mut notes = vec![format!("from {source}")];
        if let Some(s) = sha256 {
            notes.push(format!("sha256 {s} checked"));
        }
        let fetched = Fetched {
            version: name.clone(),
            suite: "bundle".into(),
            packages,
            notes,
            root: PathBuf::new(),
        };
        let text = serde_json::to_string_pretty(&fetched).map_err(|e| env(e.to_string()))?;
        host::private::write(&work.join("engine.json"), text).map_err(|e| env(e.to_string()))?;
        let _ = std::fs::remove_dir_all(work.join("x"));
        let _ = std::fs::remove_file(work.join("bundle.tgz"));
        std::fs::rename(&work, &dest).map_err(|e| env(format!("{}: {e}", dest.display())))?;
        drop(scratch);
        Ok(Fetched {
            root: dest.join("root"),
            ..fetched
        })
    }
}

/// The sha256 of a file, read off the async workers.
async fn file_sha256(path: &Path) -> std::result::Result<String, String> {
    let p = path.to_path_buf();
    host::blocking("hashing the bundle", Duration::from_secs(120), move || {
        let mut f = std::fs::File::open(&p)?;
        let mut h = Sha256::new();
        std::io::copy(&mut f, &mut h)?;
        Ok::<_, std::io::Error>(format!("{:x}", h.finalize()))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("{}: {e}", path.display()))
}

/// What `BINARY --version` says its version is; an error when it does not run here.
async fn version_of(bin: &Path) -> std::result::Result<String, String> {
    let name = bin
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let f = Cmd::new(&bin.to_string_lossy(), &["--version"])
        .deadline(Duration::from_secs(20))
        .output()
        .await
        .map_err(|e| format!("{name} --version: {e}"))?;
    if !f.success {
        let why = f.stderr.lines().next().unwrap_or("it failed").to_string();
        return Err(format!("{name} of the bundle cannot run here: {why}"));
    }
    version_in(f.stdout.lines().next().unwrap_or(""))
        .ok_or_else(|| format!("{name} --version names no version: {:?}", f.stdout.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_the_binaries_words() {
        assert_eq!(
            version_in("Docker version 27.3.1, build ce12230").as_deref(),
            Some("27.3.1")
        );
        assert_eq!(
            version_in("Docker version 20.10.24+dfsg1, build 5d6db84").as_deref(),
            Some("20.10.24")
        );
        assert_eq!(
            version_in("containerd github.com/containerd/containerd v1.7.22 7f7fdf5fed6")
                .as_deref(),
            Some("1.7.22")
        );
        assert_eq!(
            version_in("containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1")
                .as_deref(),
            Some("1.6.20")
        );
        assert_eq!(version_in("runc version 1.1.14").as_deref(), Some("1.1.14"));
        assert_eq!(version_in("no version here"), None);
    }
}
