//! Engines on demand: Debian's `docker.io` releases, with a containerd, runc and docker-init that
//! work with them, fetched with apt into a cache and never installed system-wide. apt runs with a
//! sources list and state of its own under `<state>/engines/apt/` (the machine's own Debian
//! mirror, every suite, signed by the Debian archive keyring), so its signature checks apply and
//! the host's package state is untouched. A fetched engine is an unpacked tree that the managed
//! target runs with (`--engine VERSION`, like `--engine-dir`).
//!
//! Not every package of a newer suite runs on an older host's C library: the fetch tries each
//! binary, falls back to the host suite's runc when the engine's own needs a newer glibc, and
//! refuses an engine whose dockerd or containerd cannot run here, saying why, before anything runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};

use host::Cmd;

/// Debian suites searched for engines, oldest first.
pub const SUITES: [&str; 4] = ["bullseye", "bookworm", "trixie", "sid"];
/// The packages an engine is made of.
const PACKAGES: [&str; 4] = ["docker.io", "containerd", "runc", "tini"];
/// How old apt's package lists may be before `fetch` and `list` refresh them.
const LISTS_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Deadline of one apt call (an update downloads ~60 MB).
const APT_DEADLINE: Duration = Duration::from_secs(600);

/// A docker.io release the archive offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Available {
    /// Upstream version, as users write it (`28.5.2`).
    pub version: String,
    /// The Debian package version (`28.5.2+dfsg4-5`).
    pub package_version: String,
    /// The suite it comes from.
    pub suite: String,
}

/// What a fetched engine is made of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetched {
    /// Upstream version of docker.io.
    pub version: String,
    /// The suite docker.io came from.
    pub suite: String,
    /// Each package and the version unpacked: `(name, version, suite)`.
    pub packages: Vec<(String, String, String)>,
    /// Notes (a runc taken from another suite, a docker-init provided by tini).
    pub notes: Vec<String>,
    /// The unpacked tree (give it to `--engine-dir`).
    #[serde(skip)]
    pub root: PathBuf,
}

/// The engine cache under a state directory.
pub struct Engines {
    dir: PathBuf,
}

/// Upstream version of a Debian package version: `28.5.2+dfsg4-5` → `28.5.2`,
/// `1.0.0~rc93+ds1-5` → `1.0.0~rc93`.
pub fn upstream(package_version: &str) -> &str {
    let v = package_version
        .split_once(':')
        .map_or(package_version, |(_, v)| v);
    let v = v.rsplit_once('-').map_or(v, |(u, _)| u);
    v.split('+').next().unwrap_or(v)
}

/// Parses `apt-cache madison` lines: `(package version, suite)`.
fn parse_madison(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('|').map(str::trim).collect();
            let suite = f.get(2)?.split_whitespace().nth(1)?.split('/').next()?;
            Some((f.get(1)?.to_string(), suite.to_string()))
        })
        .collect()
}

/// The Debian mirror the machine's own sources use (deb822 `.sources` or one-line lists),
/// `deb.debian.org` when none is found.
pub fn host_mirror() -> String {
    let mut texts: Vec<String> =
        vec![std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default()];
    for e in std::fs::read_dir("/etc/apt/sources.list.d")
        .into_iter()
        .flatten()
        .flatten()
    {
        texts.push(std::fs::read_to_string(e.path()).unwrap_or_default());
    }
    for t in texts {
        for l in t.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
            let uri = l
                .strip_prefix("URIs:")
                .map(|u| u.split_whitespace().next().unwrap_or("").to_string())
                .or_else(|| {
                    l.strip_prefix("deb ").and_then(|rest| {
                        rest.split_whitespace()
                            .find(|w| w.starts_with("http"))
                            .map(str::to_string)
                    })
                });
            if let Some(u) = uri.filter(|u| u.ends_with("/debian") || u.ends_with("/debian/")) {
                return u.trim_end_matches('/').to_string();
            }
        }
    }
    "http://deb.debian.org/debian".into()
}

/// The host's Debian suite (`VERSION_CODENAME` of /etc/os-release).
fn host_suite() -> Option<String> {
    std::fs::read_to_string("/etc/os-release")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|s| s.trim_matches('"').to_string())
        .filter(|s| SUITES.contains(&s.as_str()))
}

impl Engines {
    /// The cache under `state/engines`.
    pub fn new(state: &Path) -> Self {
        Engines {
            dir: state.join("engines"),
        }
    }

    /// The cache's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn apt_dir(&self) -> PathBuf {
        self.dir.join("apt")
    }

    fn apt_options(&self) -> Vec<String> {
        let a = self.apt_dir();
        vec![
            format!(
                "-oDir::Etc::SourceList={}",
                a.join("sources.list").display()
            ),
            "-oDir::Etc::SourceParts=/dev/null".into(),
            format!("-oDir::State::Lists={}", a.join("lists").display()),
            format!("-oDir::Cache={}", a.join("cache").display()),
            format!("-oDir::State::status={}", a.join("status").display()),
            "-oDebug::NoLocking=1".into(),
            // The cache is root-only (0700): apt's unprivileged `_apt` could not reach it.
            "-oAPT::Sandbox::User=root".into(),
            "-qq".into(),
        ]
    }

    async fn apt(&self, tool: &str, args: &[&str], cwd_note: &str) -> anyhow::Result<String> {
        let mut all = self.apt_options();
        all.extend(args.iter().map(|s| s.to_string()));
        Cmd::new(tool, &all)
            .deadline(APT_DEADLINE)
            .run()
            .await
            .with_context(|| format!("{tool} {}{cwd_note}", args.join(" ")))
    }

    /// Writes the private sources list (every suite, the machine's mirror, the archive keyring)
    /// and refreshes the package lists when they are missing or older than a day.
    pub async fn update(&self, force: bool) -> anyhow::Result<()> {
        let a = self.apt_dir();
        for d in ["lists/partial", "cache/archives/partial"] {
            host::private::create_dir_all(&a.join(d))?;
        }
        let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
        if !Path::new(keyring).exists() {
            bail!("{keyring} is missing: install the package debian-archive-keyring");
        }
        let mirror = host_mirror();
        let list: String = SUITES
            .iter()
            .map(|s| format!("deb [signed-by={keyring}] {mirror} {s} main\n"))
            .collect();
        host::private::write(&a.join("sources.list"), list)?;
        if !a.join("status").exists() {
            host::private::write(&a.join("status"), "")?;
        }
        let fresh = std::fs::read_dir(a.join("lists"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with("_Packages"))
            .filter_map(|e| e.metadata().ok()?.modified().ok())
            .min()
            .is_some_and(|t| t.elapsed().is_ok_and(|age| age < LISTS_MAX_AGE));
        if force || !fresh {
            self.apt("apt-get", &["update"], "")
                .await
                .context("refreshing Debian's package lists (is the mirror reachable?)")?;
        }
        Ok(())
    }

    /// Every docker.io release of the searched suites, oldest suite first.
    pub async fn available(&self) -> anyhow::Result<Vec<Available>> {
        self.update(false).await?;
        let text = self.apt("apt-cache", &["madison", "docker.io"], "").await?;
        let mut out: Vec<Available> = parse_madison(&text)
            .into_iter()
            .map(|(v, suite)| Available {
                version: upstream(&v).to_string(),
                package_version: v,
                suite,
            })
            .collect();
        out.sort_by_key(|a| SUITES.iter().position(|s| *s == a.suite));
        out.dedup_by(|a, b| a.version == b.version);
        Ok(out)
    }

    /// The unpacked tree of a fetched engine.
    pub fn root(&self, version: &str) -> PathBuf {
        self.dir.join(version).join("root")
    }

    /// The engines fetched so far.
    pub fn fetched(&self) -> Vec<Fetched> {
        let mut out: Vec<Fetched> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let text = std::fs::read_to_string(e.path().join("engine.json")).ok()?;
                let mut f: Fetched = serde_json::from_str(&text).ok()?;
                f.root = e.path().join("root");
                Some(f)
            })
            .collect();
        out.sort_by(|a, b| a.version.cmp(&b.version));
        out
    }

    /// Removes a fetched engine.
    pub fn remove(&self, version: &str) -> anyhow::Result<()> {
        let d = self.dir.join(version);
        if !d.join("engine.json").exists() {
            bail!(
                "engine {version} is not fetched (fetched: {})",
                self.fetched_names()
            );
        }
        std::fs::remove_dir_all(&d).with_context(|| format!("removing {}", d.display()))
    }

    fn fetched_names(&self) -> String {
        let names: Vec<String> = self.fetched().into_iter().map(|f| f.version).collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }

    /// The engine's tree, fetching it first when it is not in the cache.
    pub async fn ensure(&self, version: &str) -> anyhow::Result<PathBuf> {
        if self.dir.join(version).join("engine.json").exists() {
            return Ok(self.root(version));
        }
        eprintln!(
            "fetching engine {version} (Debian's docker.io) into {}",
            self.dir.display()
        );
        Ok(self.fetch(version).await?.root)
    }

    /// Fetches docker.io `version` and its companions from the suite that has it, unpacks them,
    /// and checks that they run on this host.
    pub async fn fetch(&self, version: &str) -> anyhow::Result<Fetched> {
        let offered = self.available().await?;
        let Some(pick) = offered.iter().find(|a| a.version == version) else {
            return Err(UnknownVersion(format!(
                "Debian has no docker.io {version}; available: {}",
                offered
                    .iter()
                    .map(|a| format!("{} ({})", a.version, a.suite))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into());
        };
        let work = self.dir.join(format!(".{version}.partial"));
        let _ = std::fs::remove_dir_all(&work);
        let debs = work.join("debs");
        host::private::create_dir_all(&debs)?;
        let mut packages = Vec::new();
        for name in PACKAGES {
            let v = if name == "docker.io" {
                pick.package_version.clone()
            } else {
                self.version_in(name, &pick.suite).await?
            };
            self.download(name, &v, &debs).await?;
            packages.push((name.to_string(), v, pick.suite.clone()));
        }
        let root = work.join("root");
        host::private::create_dir_all(&root)?;
        for deb in std::fs::read_dir(&debs)?.flatten() {
            unpack(&deb.path(), &root).await?;
        }
        let mut notes = Vec::new();
        for (bin, what) in [("dockerd", "dockerd"), ("containerd", "containerd")] {
            if let Err(why) = runs(&root, bin).await {
                let _ = std::fs::remove_dir_all(&work);
                bail!(
                    "{what} of docker.io {version} ({}) cannot run on this host: {why}",
                    pick.suite
                );
            }
        }
        if let Err(why) = runs(&root, "runc").await {
            // A newer suite's runc can need a newer glibc: the host suite's runc does the job.
            let host = host_suite().unwrap_or_else(|| "bookworm".into());
            let v = self.version_in("runc", &host).await?;
            let single = work.join("runc-host");
            host::private::create_dir_all(&single)?;
            self.download("runc", &v, &single).await?;
            for deb in std::fs::read_dir(&single)?.flatten() {
                unpack(&deb.path(), &root).await?;
            }
            runs(&root, "runc").await.map_err(|e| {
                anyhow!("neither {}'s nor {host}'s runc runs here: {e}", pick.suite)
            })?;
            notes.push(format!(
                "runc from {host} ({v}): {}'s does not run here ({why})",
                pick.suite
            ));
            if let Some(p) = packages.iter_mut().find(|p| p.0 == "runc") {
                *p = ("runc".into(), v, host);
            }
        }
        if find_bin(&root, "docker-init").is_none() {
            if let Some(tini) = find_bin(&root, "tini-static") {
                let link = root.join("usr/bin/docker-init");
                std::fs::create_dir_all(link.parent().unwrap_or(&root))?;
                std::os::unix::fs::symlink(&tini, &link)?;
                notes.push("docker-init is tini-static (docker.io ships none)".into());
            }
        }
        let fetched = Fetched {
            version: version.to_string(),
            suite: pick.suite.clone(),
            packages,
            notes,
            root: PathBuf::new(),
        };
        host::private::write(
            &work.join("engine.json"),
            serde_json::to_string_pretty(&fetched)?,
        )?;
        let _ = std::fs::remove_dir_all(&debs);
        let dest = self.dir.join(version);
        let _ = std::fs::remove_dir_all(&dest);
        std::fs::rename(&work, &dest)?;
        Ok(Fetched {
            root: dest.join("root"),
            ..fetched
        })
    }

    async fn version_in(&self, package: &str, suite: &str) -> anyhow::Result<String> {
        let text = self.apt("apt-cache", &["madison", package], "").await?;
        parse_madison(&text)
            .into_iter()
            .find(|(_, s)| s == suite)
            .map(|(v, _)| v)
            .ok_or_else(|| anyhow!("{suite} has no package {package}"))
    }

    async fn download(&self, package: &str, version: &str, into: &Path) -> anyhow::Result<()> {
        let spec = format!("{package}={version}");
        let mut all = self.apt_options();
        all.extend(["download".to_string(), spec.clone()]);
        // apt-get download writes into the working directory.
        let out = tokio::time::timeout(
            APT_DEADLINE,
            tokio::process::Command::new("apt-get")
                .args(&all)
                .current_dir(into)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .map_err(|_| anyhow!("apt-get download {spec}: no result within {APT_DEADLINE:?}"))?
        .with_context(|| format!("running apt-get download {spec}"))?;
        if !out.status.success() {
            bail!(
                "apt-get download {spec}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}

/// Unpacks a .deb into a tree (`dpkg -x`).
async fn unpack(deb: &Path, root: &Path) -> anyhow::Result<()> {
    Cmd::new(
        "dpkg",
        &[
            "-x",
            deb.to_string_lossy().as_ref(),
            root.to_string_lossy().as_ref(),
        ][..],
    )
    .deadline(Duration::from_secs(120))
    .run()
    .await
    .map(|_| ())
    .with_context(|| format!("unpacking {}", deb.display()))
}

/// A binary of the unpacked tree.
fn find_bin(root: &Path, name: &str) -> Option<PathBuf> {
    ["usr/sbin", "usr/bin", "sbin", "bin"]
        .iter()
        .map(|d| root.join(d).join(name))
        .find(|p| p.exists())
}

/// Whether a binary of the tree runs here (`--version`); `Err` carries why not (a missing glibc
/// version, say).
async fn runs(root: &Path, name: &str) -> Result<(), String> {
    let bin = find_bin(root, name).ok_or_else(|| format!("{name} is not in the packages"))?;
    let f = Cmd::new(&bin.to_string_lossy(), &["--version"])
        .deadline(Duration::from_secs(20))
        .output()
        .await
        .map_err(|e| e.to_string())?;
    if f.success {
        Ok(())
    } else {
        // The loader names the binary by its path in the scratch directory: say which one it is.
        let why = f.stderr.lines().next().unwrap_or("it failed");
        Err(why.replace(&format!("{}: ", bin.display()), &format!("{name}: ")))
    }
}

/// A version Debian's suites do not offer: the user's input is wrong (exit 2), unlike a fetch
/// that fails (exit 3). Find it in an `anyhow::Error` with `downcast_ref`.
#[derive(Debug)]
pub struct UnknownVersion(pub String);

impl std::fmt::Display for UnknownVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnknownVersion {}

/// The harness's error for an engine that could not be had: bad input when Debian does not
/// offer the version ([`UnknownVersion`]), else the environment's (apt, the network, the disk).
pub fn engine_error(prefix: &str, e: &anyhow::Error) -> model::error::Error {
    if e.downcast_ref::<UnknownVersion>().is_some() {
        model::error::Error::input(format!("{prefix}{e:#}"))
    } else {
        model::error::Error::env(format!("{prefix}{e:#}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_madison() {
        assert_eq!(upstream("28.5.2+dfsg4-5"), "28.5.2");
        assert_eq!(upstream("20.10.24+dfsg1-1+deb12u1+b6"), "20.10.24");
        assert_eq!(upstream("1:1.0.0~rc93+ds1-5+deb11u5"), "1.0.0~rc93");
        let m = parse_madison(
            " docker.io | 28.5.2+dfsg4-5 | http://deb.debian.org/debian sid/main amd64 Packages\n docker.io | 20.10.5+dfsg1-1+deb11u2 | http://deb.debian.org/debian bullseye/main amd64 Packages\n",
        );
        assert_eq!(
            m,
            vec![
                ("28.5.2+dfsg4-5".to_string(), "sid".to_string()),
                (
                    "20.10.5+dfsg1-1+deb11u2".to_string(),
                    "bullseye".to_string()
                )
            ]
        );
    }
}
