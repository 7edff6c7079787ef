//! Which engine a managed daemon runs: the binaries are resolved once, up front, so a missing
//! `runc` is an error that names where we looked rather than a dockerd that dies at start.

use host::cmd::is_executable;
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

/// Where the engine's binaries come from: a directory (e.g. an unpacked docker .deb's usr/bin
/// or a static tarball) or PATH.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineBinaries {
    /// Directory searched before PATH. For an unpacked .deb the root of the unpacked tree also
    /// works: its `usr/sbin`, `usr/bin`, `sbin` and `bin` are searched too.
    pub dir: Option<PathBuf>,
}

/// Absolute paths of the engine binaries a managed daemon runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedEngine {
    /// The daemon itself.
    pub dockerd: PathBuf,
    /// containerd, which dockerd starts itself (from PATH, hence the `D/bin` symlinks).
    pub containerd: PathBuf,
    /// The OCI runtime.
    pub runc: PathBuf,
    /// The runc v2 shim; containerd finds it on PATH or beside its own binary.
    pub containerd_shim_runc_v2: Option<PathBuf>,
    /// Other `containerd-shim*` binaries found beside containerd or the v2 shim (older engines
    /// use `containerd-shim` or `containerd-shim-runc-v1`).
    pub other_shims: Vec<PathBuf>,
    /// tini, used for `docker run --init`.
    pub docker_init: Option<PathBuf>,
    /// The userland proxy for published ports (the only port path with `--iptables=false`).
    pub docker_proxy: Option<PathBuf>,
}

impl EngineBinaries {
    /// Resolve dockerd, containerd, containerd-shim-runc-v2, runc, docker-init, docker-proxy:
    /// from `dir` first, then PATH (also /usr/sbin, /sbin). dockerd, containerd, runc are
    /// required: the error names the missing binary and where it looked.
    pub fn resolve(&self) -> Result<ResolvedEngine> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Some(dir) = &self.dir {
            let dir = std::path::absolute(dir)
                .with_context(|| format!("engine directory {}", dir.display()))?;
            if !dir.is_dir() {
                bail!("engine directory {} does not exist", dir.display());
            }
            for sub in ["", "usr/sbin", "usr/bin", "usr/local/bin", "sbin", "bin"] {
                dirs.push(if sub.is_empty() {
                    dir.clone()
                } else {
                    dir.join(sub)
                });
            }
        }
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path).filter(|p| p.is_absolute()));
        }
        // A root shell started without a login PATH may lack the sbin directories, where
        // Debian puts dockerd and runc.
        for extra in ["/usr/local/sbin", "/usr/sbin", "/sbin"] {
            dirs.push(PathBuf::from(extra));
        }
        let mut seen = HashSet::new();
        dirs.retain(|d| seen.insert(d.clone()));

        let find = |name: &str| dirs.iter().map(|d| d.join(name)).find(|p| is_executable(p));
        let need = |name: &str| {
            find(name).ok_or_else(|| {
                let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
                anyhow!(
                    "engine binary `{name}` not found; looked in: {}",
                    looked.join(", ")
                )
            })
        };
        let dockerd = need("dockerd")?;
        let containerd = need("containerd")?;
        let runc = need("runc")?;
        let containerd_shim_runc_v2 = find("containerd-shim-runc-v2");
        let docker_init = find("docker-init");
        let docker_proxy = find("docker-proxy");

        let mut other_shims = Vec::new();
        let mut shim_dirs: Vec<&Path> = containerd.parent().into_iter().collect();
        if let Some(v2) = containerd_shim_runc_v2.as_deref().and_then(Path::parent) {
            shim_dirs.push(v2);
        }
        for dir in shim_dirs {
            let Ok(entries) = fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("containerd-shim")
                    && name != "containerd-shim-runc-v2"
                    && is_executable(&entry.path())
                    && !other_shims
                        .iter()
                        .any(|p: &PathBuf| p.file_name() == Some(entry.file_name().as_os_str()))
                {
                    other_shims.push(entry.path());
                }
            }
        }
        other_shims.sort();

        let engine = ResolvedEngine {
            dockerd,
            containerd,
            runc,
            containerd_shim_runc_v2,
            other_shims,
            docker_init,
            docker_proxy,
        };
        tracing::debug!(?engine, "resolved engine binaries");
        Ok(engine)
    }
}

impl ResolvedEngine {
    /// The helper binaries dockerd and containerd look up on PATH, as (name, path).
    pub(super) fn helpers(&self) -> Vec<(String, PathBuf)> {
        let mut out = vec![
            ("containerd".to_string(), self.containerd.clone()),
            ("runc".to_string(), self.runc.clone()),
        ];
        let optional = [
            ("containerd-shim-runc-v2", &self.containerd_shim_runc_v2),
            ("docker-init", &self.docker_init),
            ("docker-proxy", &self.docker_proxy),
        ];
        for (name, path) in optional {
            if let Some(path) = path {
                out.push((name.to_string(), path.clone()));
            }
        }
        for shim in &self.other_shims {
            if let Some(name) = shim.file_name() {
                out.push((name.to_string_lossy().into_owned(), shim.clone()));
            }
        }
        out
    }
}
