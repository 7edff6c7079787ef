//! An engine with one component swapped (`runc=…`, `containerd=…` on a qualify side), so a runc or
//! containerd upgrade is qualified on its own: a directory of links to the base engine's binaries,
//! the swapped one from a file or from another cached engine, given to the managed target as its
//! engine directory. The directory is named by what it links to and made once.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use sha2::{Digest, Sha256};

use crate::cache::Engines;
use crate::managed::{EngineBinaries, ResolvedEngine};

/// The components a side can swap.
pub const SWAPPABLE: [&str; 2] = ["runc", "containerd"];

/// Where a swapped component comes from: an executable file, or a cached engine's.
fn source(state: &Path, component: &str, from: &str) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let p = Path::new(from);
    if p.is_file() {
        let p = std::path::absolute(p)?;
        return Ok(vec![(component.to_string(), p)]);
    }
    let root = Engines::new(state).root(from);
    if !root.is_dir() {
        bail!("{component}={from}: neither a file nor an engine in the cache (`shakedown engines list`)");
    }
    let other = EngineBinaries { dir: Some(root) }.resolve()?;
    Ok(match component {
        "runc" => vec![("runc".into(), other.runc)],
        // containerd and its runc shim travel together.
        _ => std::iter::once(("containerd".to_string(), other.containerd))
            .chain(
                other
                    .containerd_shim_runc_v2
                    .map(|s| ("containerd-shim-runc-v2".to_string(), s)),
            )
            .collect(),
    })
}

/// The engine directory of `base` (None: PATH) with `swaps` (`(component, FILE or ENGINE)`)
/// applied, under `state/engines/.composed/`.
pub fn compose(
    state: &Path,
    base: Option<PathBuf>,
    swaps: &[(String, String)],
) -> anyhow::Result<PathBuf> {
    let engine: ResolvedEngine = EngineBinaries { dir: base }.resolve()?;
    let mut links: Vec<(String, PathBuf)> = vec![
        ("dockerd".into(), engine.dockerd),
        ("containerd".into(), engine.containerd),
        ("runc".into(), engine.runc),
    ];
    links.extend(
        engine
            .containerd_shim_runc_v2
            .map(|p| ("containerd-shim-runc-v2".to_string(), p)),
    );
    links.extend(engine.docker_init.map(|p| ("docker-init".to_string(), p)));
    links.extend(engine.docker_proxy.map(|p| ("docker-proxy".to_string(), p)));
    for s in engine.other_shims {
        let name = s
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        links.push((name, s));
    }
    for (component, from) in swaps {
        if !SWAPPABLE.contains(&component.as_str()) {
            bail!(
                "{component}= cannot be swapped (only {})",
                SWAPPABLE.join(", ")
            );
        }
        for (name, path) in source(state, component, from)? {
            match links.iter_mut().find(|(n, _)| *n == name) {
                Some(l) => l.1 = path,
                None => links.push((name, path)),
            }
        }
    }
    links.sort();
    let mut h = Sha256::new();
    for (n, p) in &links {
        h.update(n.as_bytes());
        h.update([0]);
        h.update(p.as_os_str().as_encoded_bytes());
        h.update([0]);
    }
    let id = format!("{:x}", h.finalize());
    let dir = Engines::new(state).dir().join(".composed").join(&id[..16]);
    if !dir.join(".complete").exists() {
        let tmp = dir.with_extension(format!("partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        host::private::create_dir_all(&tmp)?;
        for (n, p) in &links {
            std::os::unix::fs::symlink(p, tmp.join(n))
                .with_context(|| format!("linking {} to {}", n, p.display()))?;
        }
        host::private::write(&tmp.join(".complete"), "")?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&tmp, &dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
    }
    Ok(dir)
}
