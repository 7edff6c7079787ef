//! The harness's only door to the Docker API. Every call has a deadline (bollard's own timeout bounds
//! only the wait for response headers, and not streams at all), every object it creates carries the
//! run's labels, and the sweep removes only what carries them. Nothing outside this module names
//! bollard, nor pings a daemon's socket by hand ([`ping_socket`]): `tests/architecture.rs` checks it.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use bollard::Docker;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use model::record::Fingerprint;

mod containers;
mod endpoint;
mod events;
mod images;
mod logs;
mod objects;
mod spec;

pub use endpoint::{Endpoint, Tls, DEFAULT_HOST};
pub use events::RawEvent;
pub use images::{Cut, Inspected, Output};
pub use logs::lines_since;
pub use spec::{CreateSpec, HealthSpec};

/// Label carrying the run id on every object the harness creates.
pub const LABEL_RUN: &str = "io.shakedown.run";
/// Label carrying the scenario name.
pub const LABEL_SCENARIO: &str = "io.shakedown.scenario";
/// Label carrying the container's name within its scenario.
pub const LABEL_CONTAINER: &str = "io.shakedown.container";
/// Label carrying the pid of the harness process that created the object.
pub const LABEL_PID: &str = "io.shakedown.pid";
/// Label carrying the host name of the harness that created the object.
pub const LABEL_HOST: &str = "io.shakedown.host";
/// Label marking a copy of a scenario container (made by `churn`).
pub const LABEL_COPY: &str = model::record::COPY_ATTRIBUTE;
/// Label carrying the iteration (`<run id>.<scenario index>.<iteration>`): the event stream of an
/// iteration is filtered by it, so no other scenario's or iteration's events can reach it.
pub const LABEL_ITERATION: &str = "io.shakedown.iteration";

/// Default deadline for one API call that should answer at once.
pub const CALL_DEADLINE: Duration = Duration::from_secs(20);

/// A Docker API client bound to one daemon, with deadlines on every call.
#[derive(Clone, Debug)]
pub struct DockerClient {
    inner: Docker,
    host: String,
    answers: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<(String, String)>>>,
}

/// How many successful answers the client remembers for forensics.
const KEPT_ANSWERS: usize = 20;

/// The daemon did not answer a call within its deadline: the typed error the runner recognises
/// (it calls for forensics), whatever the message around it.
#[derive(Debug, thiserror::Error)]
#[error("docker: {what}: no answer within {}", model::units::format_duration(*.deadline))]
pub struct NoAnswer {
    /// The call.
    pub what: String,
    /// Its deadline.
    pub deadline: Duration,
}

fn no_answer(what: &str, deadline: Duration) -> anyhow::Error {
    anyhow::Error::new(NoAnswer {
        what: what.to_string(),
        deadline,
    })
}

/// The HTTP status of the Docker API's refusal among an error's causes, if the daemon refused.
pub fn api_status(e: &anyhow::Error) -> Option<u16> {
    e.chain()
        .find_map(|c| match c.downcast_ref::<bollard::errors::Error>() {
            Some(bollard::errors::Error::DockerResponseServerError { status_code, .. }) => {
                Some(*status_code)
            }
            _ => None,
        })
}

/// Runs one API call under a deadline, naming it in the error.
pub async fn within<T, E, F>(what: &str, deadline: Duration, fut: F) -> anyhow::Result<T>
where
    F: Future<Output = Result<T, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(deadline, fut).await {
        Ok(r) => r.with_context(|| format!("docker: {what}")),
        Err(_) => Err(no_answer(what, deadline)),
    }
}

/// One `GET /_ping` over the unix socket at `socket`, answered within `deadline`; Ok only for a
/// 200 answer. Spoken by hand, not through a client, for a daemon still starting: a bollard client
/// cannot be built while its socket is absent, and bollard's timeout is whole seconds.
pub async fn ping_socket(socket: &Path, deadline: Duration) -> anyhow::Result<()> {
    let ping = async {
        let mut stream = tokio::net::UnixStream::connect(socket)
            .await
            .with_context(|| format!("connecting to {}", socket.display()))?;
        stream
            .write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            .await?;
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await?;
        let head = String::from_utf8_lossy(&buf);
        let status_line = head.lines().next().unwrap_or("");
        if status_line.split_whitespace().nth(1) == Some("200") {
            Ok(())
        } else {
            bail!("/_ping answered {status_line:?}")
        }
    };
    match tokio::time::timeout(deadline, ping).await {
        Ok(r) => r,
        Err(_) => bail!("no answer within {deadline:?}"),
    }
}

impl DockerClient {
    /// Connects to `host`: `unix:///path`, a bare socket path, `tcp://h:p` or `http://h:p` —
    /// with TLS when `host` is the environment's endpoint and that asks for it (`DOCKER_TLS_VERIFY`,
    /// a context's TLS files; see [`Endpoint`]). Nothing is sent yet; use [`DockerClient::ping`] to
    /// check the daemon answers.
    pub fn connect(host: &str) -> anyhow::Result<Self> {
        let tls = Endpoint::from_env()
            .ok()
            .filter(|e| e.host == host)
            .and_then(|e| e.tls);
        Self::connect_with(host, tls.as_ref())
    }

    /// Connects to the environment's endpoint ([`Endpoint::from_env`]).
    pub fn connect_endpoint(e: &Endpoint) -> anyhow::Result<Self> {
        Self::connect_with(&e.host, e.tls.as_ref())
    }

    fn connect_with(host: &str, tls: Option<&Tls>) -> anyhow::Result<Self> {
        // bollard's timeout is whole seconds and bounds only response headers; ours are per call. It
        // must exceed the longest legitimate wait for headers (a stop with a long grace period).
        let header_timeout = 3600;
        let version = bollard::API_DEFAULT_VERSION;
        let inner = if let Some(path) = host.strip_prefix("unix://") {
            Docker::connect_with_unix(path, header_timeout, version)
        } else if host.starts_with('/') {
            Docker::connect_with_unix(host, header_timeout, version)
        } else if let (Some(t), true) = (
            tls,
            host.starts_with("tcp://") || host.starts_with("https://"),
        ) {
            Docker::connect_with_ssl(host, &t.key, &t.cert, &t.ca, header_timeout, version)
        } else if let Some(rest) = host.strip_prefix("tcp://") {
            Docker::connect_with_http(&format!("http://{rest}"), header_timeout, version)
        } else if host.starts_with("http://") {
            Docker::connect_with_http(host, header_timeout, version)
        } else if host.starts_with("ssh://") {
            return Err(anyhow!(
                "the daemon at {host} is reached by running there: --target {host}?daemon=docker"
            ));
        } else {
            return Err(anyhow!(
                "unsupported DOCKER_HOST {host:?}: use unix:///path/docker.sock, tcp://host:port (TLS with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH) or ssh://[USER@]HOST"
            ));
        };
        let inner = inner.with_context(|| format!("cannot connect to docker at {host}"))?;
        Ok(DockerClient {
            inner,
            host: host.to_string(),
            answers: Default::default(),
        })
    }

    /// Remembers a successful answer (what was asked, and a summary of the answer).
    fn remember(&self, what: String, answer: String) {
        if let Ok(mut a) = self.answers.lock() {
            if a.len() == KEPT_ANSWERS {
                a.pop_front();
            }
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default();
            a.push_back((format!("{what} (answered at unix time {secs:.3})"), answer));
        }
    }

    /// The last successful answers, oldest first: what the daemon said before it stopped answering.
    pub fn last_answers(&self) -> Vec<(String, String)> {
        self.answers
            .lock()
            .map(|a| a.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The daemon address of the environment ([`Endpoint::from_env`]), or the default socket
    /// when that cannot be read.
    pub fn env_host() -> String {
        Endpoint::from_env()
            .map(|e| e.host)
            .unwrap_or_else(|_| DEFAULT_HOST.into())
    }

    /// The address this client talks to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `GET /_ping` within `deadline`.
    pub async fn ping(&self, deadline: Duration) -> anyhow::Result<()> {
        let r = within("ping", deadline, self.inner.ping()).await?;
        self.remember("GET /_ping".into(), r);
        Ok(())
    }

    /// Versions and settings of the engine, for reports.
    pub async fn fingerprint(&self) -> anyhow::Result<Fingerprint> {
        let v = within("version", CALL_DEADLINE, self.inner.version()).await?;
        let info = within("info", CALL_DEADLINE, self.inner.info()).await?;
        let component = |name: &str| {
            v.components
                .as_ref()
                .and_then(|cs| cs.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
                .map(|c| c.version.clone())
                .unwrap_or_default()
        };
        Ok(Fingerprint {
            engine_version: v.version.clone().unwrap_or_default(),
            api_version: v.api_version.clone().unwrap_or_default(),
            containerd_version: component("containerd"),
            runc_version: component("runc"),
            kernel_version: v.kernel_version.clone().unwrap_or_default(),
            operating_system: info.operating_system.clone().unwrap_or_default(),
            cgroup_version: info
                .cgroup_version
                .map(|c| c.to_string())
                .unwrap_or_default(),
            cgroup_driver: info
                .cgroup_driver
                .map(|c| c.to_string())
                .unwrap_or_default(),
            storage_driver: info.driver.clone().unwrap_or_default(),
            live_restore: info.live_restore_enabled.unwrap_or(false),
            logging_driver: info.logging_driver.clone().unwrap_or_default(),
            default_runtime: info.default_runtime.clone().unwrap_or_default(),
            security_options: info.security_options.clone().unwrap_or_default(),
            ..Default::default()
        })
    }

    /// The cgroup version the daemon reports (`docker info`'s `CgroupVersion`): 1, 2, or `None`
    /// when it does not say.
    pub async fn cgroup_version(&self) -> anyhow::Result<Option<u8>> {
        use bollard::models::SystemInfoCgroupVersionEnum as V;
        let info = within("info", CALL_DEADLINE, self.inner.info()).await?;
        Ok(match info.cgroup_version {
            Some(V::_1) => Some(1),
            Some(V::_2) => Some(2),
            _ => None,
        })
    }

    /// `docker info` as JSON (the API's field names).
    pub async fn info_json(&self) -> anyhow::Result<serde_json::Value> {
        let info = within("info", CALL_DEADLINE, self.inner.info()).await?;
        Ok(serde_json::to_value(info)?)
    }
}

/// Runs one API call under [`CALL_DEADLINE`]; `None` when the daemon answers 404 (no such object).
async fn unless_absent<T>(
    what: &str,
    fut: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> anyhow::Result<Option<T>> {
    match tokio::time::timeout(CALL_DEADLINE, fut).await {
        Err(_) => Err(no_answer(what, CALL_DEADLINE)),
        Ok(Ok(v)) => Ok(Some(v)),
        Ok(Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        })) => Ok(None),
        Ok(Err(e)) => Err(anyhow!(e).context(format!("docker: {what}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::{api_status, ping_socket};
    use anyhow::Context;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_socket_is_pinged_by_hand_within_its_deadline() {
        let dir = std::env::temp_dir().join(format!("sd-ping-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("docker.sock");
        let e = ping_socket(&sock, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(format!("{e:#}").starts_with("connecting to "), "{e:#}");

        // Answers 200 to the first connection, then accepts and says nothing.
        let listener = tokio::net::UnixListener::bind(&sock).unwrap();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut head = [0; 64];
            let n = conn.read(&mut head).await.unwrap();
            assert!(head[..n].starts_with(b"GET /_ping HTTP/1.1\r\n"));
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
                .await
                .unwrap();
            drop(conn);
            let _silent = listener.accept().await.unwrap();
            std::future::pending::<()>().await;
        });
        ping_socket(&sock, Duration::from_secs(5)).await.unwrap();
        let e = ping_socket(&sock, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert_eq!(format!("{e:#}"), "no answer within 200ms");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_api_status_is_found_among_the_causes() {
        let refused = bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            message: "conflict".into(),
        };
        let e = Err::<(), _>(refused)
            .context("docker: start container x")
            .context("start")
            .unwrap_err();
        assert_eq!(api_status(&e), Some(409));
        assert_eq!(api_status(&anyhow::anyhow!("no daemon")), None);
    }
}
