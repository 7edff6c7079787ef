//! Your own images, without a registry: `docker save` archives (a scenario's `images: {REF: {tar:
//! FILE}}` or `run --load FILE`), images copied from the host's daemon (`host: REF`), and build
//! contexts (`build: DIR`) — resolved and checked before anything runs, then loaded into each
//! daemon a managed target starts, once per daemon, and skipped when the daemon already has the
//! same content (the same image id, or for builds the same context hash).
//!
//! A daemon the harness did not start (`--target docker`) is never loaded into: it must have the
//! images already, and the error says how to provide them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::fixture::FIXTURE_IMAGE;
use docker::{Cut, DockerClient, Inspected, Output};
use model::error::{Error, Result};
use model::scenario::{ImageSource, PlannedScenario};

/// How long one image may take to load, copy or build.
pub const IMAGE_DEADLINE: Duration = Duration::from_secs(600);
/// Label carrying a built image's context hash.
const CONTEXT_LABEL: &str = "io.shakedown.context";

/// Where one image comes from, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A `docker save` archive holding the reference, with the image id it gives it.
    Tar {
        /// The archive.
        path: PathBuf,
        /// `sha256:…` of the image's config.
        id: String,
    },
    /// The image of that reference on the daemon at `DOCKER_HOST` (or the default socket).
    Host(String),
    /// A build context directory.
    Build(PathBuf),
}

/// An image a run needs, and where it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    /// The reference the containers use.
    pub reference: String,
    /// Where it comes from.
    pub source: Source,
}

/// The references in a `docker save` archive, each with its image id (from `manifest.json`).
pub fn archive_tags(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    for entry in archive
        .entries()
        .with_context(|| format!("{}: not a tar archive", path.display()))?
    {
        let mut entry = entry.with_context(|| format!("{}: not a tar archive", path.display()))?;
        if entry.path().ok().as_deref() != Some(Path::new("manifest.json")) {
            continue;
        }
        let manifest: Vec<serde_json::Value> =
            serde_json::from_reader(&mut entry).with_context(|| {
                format!(
                    "{}: manifest.json is not a docker save manifest",
                    path.display()
                )
            })?;
        let mut out = Vec::new();
        for image in manifest {
            // `<hex>.json` (docker save up to 24) or `blobs/sha256/<hex>` (OCI layout, 25+).
            let config = image["Config"].as_str().unwrap_or_default();
            let hex = Path::new(config)
                .file_name()
                .and_then(|n| n.to_str())
                .map(|n| n.trim_end_matches(".json").to_string())
                .unwrap_or_default();
            for tag in image["RepoTags"].as_array().into_iter().flatten() {
                if let Some(t) = tag.as_str() {
                    out.push((t.to_string(), format!("sha256:{hex}")));
                }
            }
        }
        return Ok(out);
    }
    bail!(
        "{}: no manifest.json: not a `docker save` archive",
        path.display()
    )
}

/// A reference as the daemon stores it: `name` alone means `name:latest`.
fn normalized(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    if last.contains(':') || reference.contains('@') {
        reference.to_string()
    } else {
        format!("{reference}:latest")
    }
}

/// Resolves every image the plans' containers use (other than the fixture) to its source, before
/// anything runs: from the scenario's `images`, else from a `--load` archive holding it. With
/// `loads_into_daemon` false (a daemon the harness did not start) nothing is resolved: the daemon
/// must have the images. Every problem is reported at once, naming the scenario, the container
/// and the ways to provide the image.
pub async fn resolve(
    plans: &[PlannedScenario],
    loads: &[PathBuf],
    loads_into_daemon: bool,
) -> Result<Vec<Wanted>> {
    let mut problems = Vec::new();
    // The archives' contents (a manifest can sit at the end of a large file: read off the workers).
    let mut archives: HashMap<PathBuf, Vec<(String, String)>> = HashMap::new();
    let read = |path: PathBuf| {
        let path2 = path.clone();
        async move {
            let tags = host::blocking("reading an image archive", IMAGE_DEADLINE, move || {
                archive_tags(&path2)
            })
            .await
            .map_err(|e| anyhow!("{e}"))
            .and_then(|r| r);
            (path, tags)
        }
    };
    let mut from_loads: BTreeMap<String, Wanted> = BTreeMap::new();
    for l in loads {
        let (path, tags) = read(l.clone()).await;
        match tags {
            Ok(tags) if tags.is_empty() => problems.push(format!(
                "--load {}: the archive names no image (save it with a name: docker save NAME:TAG)",
                path.display()
            )),
            Ok(tags) => {
                for (t, id) in &tags {
                    from_loads.insert(
                        normalized(t),
                        Wanted {
                            reference: t.clone(),
                            source: Source::Tar {
                                path: path.clone(),
                                id: id.clone(),
                            },
                        },
                    );
                }
                archives.insert(path, tags);
            }
            Err(e) => problems.push(format!("--load {}: {e:#}", path.display())),
        }
    }
    let mut wanted: BTreeMap<String, Wanted> = BTreeMap::new();
    for p in plans {
        let f = p.file.display();
        let dir = p.file.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut declared: BTreeMap<String, Source> = BTreeMap::new();
        for (reference, source) in &p.scenario.images {
            let resolved = match source {
                ImageSource::Tar(rel) => {
                    let path = dir.join(rel);
                    let tags = match archives.get(&path) {
                        Some(t) => Ok(t.clone()),
                        None => {
                            let (path, tags) = read(path.clone()).await;
                            if let Ok(t) = &tags {
                                archives.insert(path, t.clone());
                            }
                            tags
                        }
                    };
                    match tags {
                        Err(e) => {
                            problems.push(format!("{f}: image {reference:?}: tar: {e:#}"));
                            continue;
                        }
                        Ok(tags) => {
                            match tags
                                .iter()
                                .find(|(t, _)| normalized(t) == normalized(reference))
                            {
                                Some((_, id)) => Source::Tar {
                                    path: path.clone(),
                                    id: id.clone(),
                                },
                                None => {
                                    problems.push(format!(
                                    "{f}: image {reference:?}: {} does not contain it (it has: {})",
                                    path.display(),
                                    tags.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(", ")
                                ));
                                    continue;
                                }
                            }
                        }
                    }
                }
                ImageSource::Host(r) => Source::Host(r.clone()),
                ImageSource::Build(rel) => {
                    let path = dir.join(rel);
                    if !path.join("Dockerfile").is_file() {
                        problems.push(format!(
                            "{f}: image {reference:?}: build: {} has no Dockerfile",
                            path.display()
                        ));
                        continue;
                    }
                    Source::Build(path)
                }
            };
            declared.insert(normalized(reference), resolved);
        }
        for (name, c) in &p.scenario.containers {
            let Some(image) = c.image.as_deref().filter(|i| *i != FIXTURE_IMAGE) else {
                continue;
            };
            if !loads_into_daemon {
                continue;
            }
            let key = normalized(image);
            let source = declared
                .get(&key)
                .cloned()
                .or_else(|| from_loads.get(&key).map(|w| w.source.clone()));
            match source {
                Some(source) => {
                    if let Some(prev) = wanted.get(&key) {
                        if prev.source != source {
                            problems.push(format!(
                                "{f}: image {image:?} comes from two places in one run: {:?} and {:?}",
                                prev.source, source
                            ));
                        }
                        continue;
                    }
                    wanted.insert(
                        key,
                        Wanted {
                            reference: image.to_string(),
                            source,
                        },
                    );
                }
                None => problems.push(format!(
                    "{f}: container {name:?} uses image {image:?}, which nothing provides: the \
                     managed daemon starts empty and no registry is used. Add to the scenario \
                     `images: {{\"{image}\": {{tar: FILE}}}}` (a `docker save` archive), \
                     `{{host: REF}}` (copied from the daemon at DOCKER_HOST) or `{{build: DIR}}`; \
                     or give `run --load FILE.tar`; or run on your daemon with `--target docker`"
                )),
            }
        }
    }
    if problems.is_empty() {
        Ok(wanted.into_values().collect())
    } else {
        Err(Error::Input(problems))
    }
}

/// The image id a daemon has for a reference (`None`: it does not have it).
async fn id_of(
    docker: &DockerClient,
    reference: &str,
) -> anyhow::Result<Option<(String, HashMap<String, String>)>> {
    let deadline = Duration::from_secs(30);
    let end = Instant::now() + deadline;
    match docker.inspect_image(reference, end).await {
        Inspected::NoAnswer => {
            bail!("docker: inspect image {reference}: no answer within {deadline:?}")
        }
        Inspected::Found { id, labels } => Ok(Some((id, labels))),
        Inspected::Absent(_) => Ok(None),
        Inspected::Failed(e) => Err(e.context(format!("docker: inspect image {reference}"))),
    }
}

/// Drains a load's or a build's output, every item within the deadline; returns its errors.
async fn drain(what: &str, output: Output<'_>) -> anyhow::Result<()> {
    match output.finish().await {
        Ok(_) => Ok(()),
        Err((Cut::Late, _)) => bail!("{what}: not done within {IMAGE_DEADLINE:?}"),
        Err((Cut::Failed(e), _)) => Err(e.context(what.to_string())),
    }
}

/// The sha256 of a build context's tar.
fn context_tar(dir: &Path) -> anyhow::Result<(Vec<u8>, String)> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", dir)
        .with_context(|| format!("packing the build context {}", dir.display()))?;
    let bytes = b.into_inner()?;
    let hash = format!("{:x}", Sha256::digest(&bytes));
    Ok((bytes, hash))
}

/// Makes one image present on a daemon the harness started; returns whether it had to load it.
pub async fn ensure(docker: &DockerClient, w: &Wanted) -> anyhow::Result<bool> {
    let end = Instant::now() + IMAGE_DEADLINE;
    let have = id_of(docker, &w.reference).await?;
    match &w.source {
        Source::Tar { path, id } => {
            if have.as_ref().is_some_and(|(h, _)| h == id) {
                return Ok(false);
            }
            let file = tokio::fs::File::open(path)
                .await
                .with_context(|| format!("{}", path.display()))?;
            let body = tokio_util::io::ReaderStream::new(file);
            let what = format!("loading {}", path.display());
            drain(&what, docker.load_image(body, end)).await?;
        }
        Source::Host(from) => {
            let host = DockerClient::connect_local_defaults()
                .context("connecting to the daemon at DOCKER_HOST")?;
            let theirs = id_of(&host, from).await?.ok_or_else(|| {
                anyhow!(
                    "the daemon at {} has no image {from:?}",
                    DockerClient::env_host()
                )
            })?;
            if have.as_ref().is_some_and(|(h, _)| *h == theirs.0) && from == &w.reference {
                return Ok(false);
            }
            let what = format!("copying {from} from {}", DockerClient::env_host());
            drain(&what, docker.load_image(host.export_image(from), end)).await?;
            if from != &w.reference {
                let (repo, tag) = match normalized(&w.reference).rsplit_once(':') {
                    Some((r, t)) => (r.to_string(), t.to_string()),
                    None => (w.reference.clone(), "latest".into()),
                };
                docker.tag_image(from, repo, tag, end).await?;
            }
        }
        Source::Build(dir) => {
            let d = dir.clone();
            let (bytes, hash) =
                host::blocking("packing a build context", IMAGE_DEADLINE, move || {
                    context_tar(&d)
                })
                .await
                .map_err(|e| anyhow!("{e}"))??;
            if have
                .as_ref()
                .is_some_and(|(_, labels)| labels.get(CONTEXT_LABEL) == Some(&hash))
            {
                return Ok(false);
            }
            let labels = HashMap::from([(CONTEXT_LABEL, hash.as_str())]);
            let what = format!("building {} from {}", w.reference, dir.display());
            drain(&what, docker.build_image(bytes, &w.reference, &labels, end)).await?;
        }
    }
    if id_of(docker, &w.reference).await?.is_none() {
        bail!("{} is not on the daemon after loading it", w.reference);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_normalize_like_the_daemon() {
        assert_eq!(normalized("myapp"), "myapp:latest");
        assert_eq!(normalized("myapp:1"), "myapp:1");
        assert_eq!(
            normalized("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(normalized("a/b@sha256:00"), "a/b@sha256:00");
    }
}
