//! Where the Docker CLI would connect, read the way it reads it: `DOCKER_HOST` (with
//! `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`), else the context named by `DOCKER_CONTEXT`, else the
//! `currentContext` of `$DOCKER_CONFIG/config.json` (default `~/.docker`), else the default socket.
//! A context's endpoint and TLS files are in `$DOCKER_CONFIG/contexts/{meta,tls}/<sha256 of its
//! name>/`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use sha2::{Digest, Sha256};

/// The socket the CLI uses when nothing else is set.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The client certificate and the CA that verifies the daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tls {
    /// The CA certificate (`ca.pem`).
    pub ca: PathBuf,
    /// The client certificate (`cert.pem`).
    pub cert: PathBuf,
    /// The client key (`key.pem`).
    pub key: PathBuf,
}

/// A daemon address and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `unix://…`, `tcp://…` or `ssh://…`.
    pub host: String,
    /// TLS with verification of the daemon, when asked for.
    pub tls: Option<Tls>,
    /// Where it came from: `DOCKER_HOST`, `context NAME`, or `the default socket`.
    pub source: String,
}

impl Endpoint {
    /// The endpoint from this process's environment and Docker configuration.
    pub fn from_env() -> anyhow::Result<Endpoint> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let config = var("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
        if let Some(host) = var("DOCKER_HOST") {
            let tls = match (var("DOCKER_TLS_VERIFY"), var("DOCKER_TLS")) {
                (Some(_), _) => {
                    let dir = var("DOCKER_CERT_PATH")
                        .map(PathBuf::from)
                        .or(config.clone())
                        .ok_or_else(|| anyhow!("DOCKER_TLS_VERIFY is set but neither DOCKER_CERT_PATH nor HOME is"))?;
                    Some(tls_in(&dir).context("DOCKER_TLS_VERIFY")?)
                }
                (None, Some(_)) => bail!(
                    "DOCKER_TLS without DOCKER_TLS_VERIFY asks for TLS without verifying the daemon, which shakedown does not do: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH"
                ),
                (None, None) => None,
            };
            return Ok(Endpoint {
                host,
                tls,
                source: "DOCKER_HOST".into(),
            });
        }
        let Some(config) = config else {
            return Ok(Endpoint::default_socket());
        };
        let name = match var("DOCKER_CONTEXT") {
            Some(n) => Some(n),
            None => current_context(&config)?,
        };
        match name.as_deref() {
            None | Some("default") => Ok(Endpoint::default_socket()),
            Some(name) => context(&config, name),
        }
    }

    fn default_socket() -> Endpoint {
        Endpoint {
            host: DEFAULT_HOST.into(),
            tls: None,
            source: "the default socket".into(),
        }
    }
}

/// `ca.pem`, `cert.pem` and `key.pem` in `dir`, each present.
fn tls_in(dir: &Path) -> anyhow::Result<Tls> {
    let file = |n: &str| {
        let p = dir.join(n);
        if p.is_file() {
            Ok(p)
        } else {
            Err(anyhow!("{} is missing", p.display()))
        }
    };
    Ok(Tls {
        ca: file("ca.pem")?,
        cert: file("cert.pem")?,
        key: file("key.pem")?,
    })
}

/// `currentContext` of `config/config.json`, if the file exists and names one.
fn current_context(config: &Path) -> anyhow::Result<Option<String>> {
    let path = config.join("config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow!("{}: {e}", path.display())),
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
    Ok(v["currentContext"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(String::from))
}

/// The context `name` under `config/contexts/`.
fn context(config: &Path, name: &str) -> anyhow::Result<Endpoint> {
    let id = format!("{:x}", Sha256::digest(name.as_bytes()));
    let meta = config.join("contexts/meta").join(&id).join("meta.json");
    let text = std::fs::read_to_string(&meta).map_err(|e| {
        anyhow!(
            "Docker context {name:?}: {} ({e}; `docker context ls` lists the contexts)",
            meta.display()
        )
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}", meta.display()))?;
    let docker = &v["Endpoints"]["docker"];
    let host = docker["Host"]
        .as_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| anyhow!("{}: no Endpoints.docker.Host", meta.display()))?
        .to_string();
    if docker["SkipTLSVerify"].as_bool() == Some(true) {
        bail!(
            "Docker context {name:?} skips verifying the daemon's certificate (SkipTLSVerify), which shakedown does not do"
        );
    }
    let dir = config.join("contexts/tls").join(&id).join("docker");
    let tls = if dir.join("ca.pem").is_file() || dir.join("cert.pem").is_file() {
        Some(tls_in(&dir).with_context(|| format!("Docker context {name:?}"))?)
    } else {
        None
    };
    Ok(Endpoint {
        host,
        tls,
        source: format!("context {name}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_is_found_under_the_sha256_of_its_name() {
        // As `docker context create prod` lays it out (`printf prod | sha256sum`).
        let d = tempfile::tempdir().unwrap();
        let real = "6754af9632a2745e85c293e5aac0863370d9bd3330b9938c00cadfd215227d77";
        let meta = d.path().join("contexts/meta").join(real);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"prod","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.0.0.5:2376","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        let tls = d.path().join("contexts/tls").join(real).join("docker");
        std::fs::create_dir_all(&tls).unwrap();
        for f in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::write(tls.join(f), "x").unwrap();
        }
        let e = context(d.path(), "prod").unwrap();
        assert_eq!(e.host, "tcp://10.0.0.5:2376");
        assert_eq!(e.tls.unwrap().ca, tls.join("ca.pem"));
        assert!(context(d.path(), "other").is_err());
    }
}
