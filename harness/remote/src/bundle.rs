//! The files a run needs on the host, packed as one tar.

use std::path::{Path, PathBuf};

use anyhow::Context;
use model::journal::PlannedEntry;
use model::scenario::{ImageSource, PlannedScenario};

/// The name of the resolved plan in a bundle: the journal's plan entries as JSON, each scenario's
/// file named by its path in the bundle. The host runs exactly this plan (`run --plan`), never
/// planning the files again.
pub const PLAN: &str = "plan.json";

/// The files a run needs on the host: the resolved plan ([`PLAN`]), and each scenario file and
/// the image archives and build contexts it names, as a tar whose paths keep their layout below
/// their common directory (images are found beside their scenario file there, as here).
pub fn bundle(plans: &[PlannedScenario]) -> anyhow::Result<Vec<u8>> {
    // Each scenario file once, with the archives and build contexts its images name.
    let mut scenarios: Vec<(PathBuf, Vec<PathBuf>)> = vec![];
    for p in plans {
        if scenarios.iter().any(|(f, _)| f == &p.file) {
            continue;
        }
        let dir = p.file.parent().unwrap_or(Path::new("."));
        let refs = p
            .scenario
            .images
            .values()
            .filter_map(|i| match i {
                ImageSource::Tar(x) | ImageSource::Build(x) => Some(dir.join(x)),
                ImageSource::Host(_) => None,
            })
            .collect();
        scenarios.push((p.file.clone(), refs));
    }
    let (mut tar, files) = pack(&scenarios)?;
    let entries: Vec<PlannedEntry> = plans
        .iter()
        .map(|p| {
            let i = scenarios
                .iter()
                .position(|(f, _)| f == &p.file)
                .unwrap_or(0);
            PlannedEntry {
                file: PathBuf::from(&files[i]),
                repeat: p.repeat,
                scenario: p.scenario.clone(),
            }
        })
        .collect();
    let json = serde_json::to_vec(&entries).context("writing the plan")?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    tar.append_data(&mut header, PLAN, json.as_slice())
        .context("packing the plan")?;
    Ok(tar.into_inner()?)
}

/// Packs the scenario files and what they name; returns the tar so far and each scenario file's
/// path inside it, in the order given.
fn pack(
    scenarios: &[(PathBuf, Vec<PathBuf>)],
) -> anyhow::Result<(tar::Builder<Vec<u8>>, Vec<String>)> {
    let abs = |p: &Path| {
        std::path::absolute(p)
            .map(|p| lexical(&p))
            .with_context(|| format!("{}", p.display()))
    };
    let mut all = vec![];
    for (file, refs) in scenarios {
        all.push(abs(file)?);
        for r in refs {
            all.push(abs(r)?);
        }
    }
    let root = common_dir(&all);
    let rel = |p: &Path| -> anyhow::Result<String> {
        Ok(p.strip_prefix(&root)?.to_string_lossy().into_owned())
    };
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(true);
    let mut done = std::collections::BTreeSet::new();
    for p in &all {
        if !done.insert(p.clone()) {
            continue;
        }
        let name = rel(p)?;
        if p.is_dir() {
            tar.append_dir_all(&name, p)
        } else {
            tar.append_path_with_name(p, &name)
        }
        .with_context(|| format!("packing {}", p.display()))?;
    }
    let files = scenarios
        .iter()
        .map(|(f, _)| rel(&abs(f)?))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((tar, files))
}

/// An absolute path without `.` and `..` components (`/a/b/../c` → `/a/c`), so that paths given
/// as `dir/../file` pack below their real common directory.
fn lexical(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// The deepest directory containing every path.
fn common_dir(paths: &[PathBuf]) -> PathBuf {
    let mut root = paths
        .first()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    for p in paths {
        while !p.starts_with(&root) || p == &root {
            match root.parent() {
                Some(up) => root = up.to_path_buf(),
                None => break,
            }
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_keep_layout_below_the_common_directory() {
        let d = tempfile::tempdir().unwrap();
        let s = d.path().join("suite");
        std::fs::create_dir_all(s.join("ctx")).unwrap();
        std::fs::write(s.join("a.yaml"), "a").unwrap();
        std::fs::write(d.path().join("app.tar"), "t").unwrap();
        std::fs::write(s.join("ctx/Dockerfile"), "FROM x").unwrap();
        let (tar, files) = pack(&[
            (
                s.join("a.yaml"),
                vec![d.path().join("app.tar"), s.join("ctx")],
            ),
            (s.join("a.yaml"), vec![]),
        ])
        .unwrap();
        let tar = tar.into_inner().unwrap();
        assert_eq!(files, ["suite/a.yaml", "suite/a.yaml"]);
        // `..` in a path given is resolved, not packed.
        let (_, files) = pack(&[
            (s.join("ctx/../a.yaml"), vec![]),
            (d.path().join("app.tar"), vec![]),
        ])
        .unwrap();
        assert_eq!(files, ["suite/a.yaml", "app.tar"]);
        let mut names: Vec<String> = tar::Archive::new(&tar[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "app.tar",
                "suite/a.yaml",
                "suite/ctx/",
                "suite/ctx/Dockerfile"
            ]
        );
    }
}
