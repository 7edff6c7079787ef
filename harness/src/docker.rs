//! The harness's only door to the Docker API. Every call has a deadline (bollard's own timeout bounds
//! only the wait for response headers, and not streams at all), every object it creates carries the
//! run's labels, and the sweep removes only what carries them.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use anyhow::{anyhow, Context};
use bollard::models::{
    ContainerCreateBody, HostConfig, RestartPolicy as BollardRestart, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, EventsOptions, KillContainerOptions, ListContainersOptions,
    RemoveContainerOptions, StopContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;

use crate::record::{Fingerprint, Observation};

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
pub const LABEL_COPY: &str = crate::record::COPY_ATTRIBUTE;
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
#[error("docker: {what}: no answer within {}", crate::units::format_duration(*.deadline))]
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

impl DockerClient {
    /// Connects to `host`: `unix:///path`, a bare socket path, `tcp://h:p` or `http://h:p`.
    /// Nothing is sent yet; use [`DockerClient::ping`] to check the daemon answers.
    pub fn connect(host: &str) -> anyhow::Result<Self> {
        // bollard's timeout is whole seconds and bounds only response headers; ours are per call. It
        // must exceed the longest legitimate wait for headers (a stop with a long grace period).
        let header_timeout = 3600;
        let inner = if let Some(path) = host.strip_prefix("unix://") {
            Docker::connect_with_unix(path, header_timeout, bollard::API_DEFAULT_VERSION)
        } else if host.starts_with('/') {
            Docker::connect_with_unix(host, header_timeout, bollard::API_DEFAULT_VERSION)
        } else if let Some(rest) = host.strip_prefix("tcp://") {
            Docker::connect_with_http(
                &format!("http://{rest}"),
                header_timeout,
                bollard::API_DEFAULT_VERSION,
            )
        } else if host.starts_with("http://") {
            Docker::connect_with_http(host, header_timeout, bollard::API_DEFAULT_VERSION)
        } else {
            return Err(anyhow!(
                "unsupported DOCKER_HOST {host:?}: use unix:///path/docker.sock or tcp://host:port"
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

    /// The daemon address from `DOCKER_HOST`, or the default socket.
    pub fn env_host() -> String {
        std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into())
    }

    /// The address this client talks to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The underlying bollard client, for modules that build images (always bound their calls).
    pub fn raw(&self) -> &Docker {
        &self.inner
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
        })
    }

    /// `docker info` as JSON (the API's field names).
    pub async fn info_json(&self) -> anyhow::Result<serde_json::Value> {
        let info = within("info", CALL_DEADLINE, self.inner.info()).await?;
        Ok(serde_json::to_value(info)?)
    }

    /// Whether the daemon has an image by that name.
    pub async fn image_exists(&self, name: &str) -> anyhow::Result<bool> {
        match tokio::time::timeout(CALL_DEADLINE, self.inner.inspect_image(name)).await {
            Err(_) => Err(no_answer(&format!("inspect image {name}"), CALL_DEADLINE)),
            Ok(Ok(_)) => Ok(true),
            Ok(Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            })) => Ok(false),
            Ok(Err(e)) => Err(anyhow!(e).context(format!("docker: inspect image {name}"))),
        }
    }

    /// Creates a container named `name` from a spec; returns its id.
    pub async fn create(&self, name: &str, spec: ContainerCreateBody) -> anyhow::Result<String> {
        let opts = CreateContainerOptions {
            name: Some(name.to_string()),
            ..Default::default()
        };
        let r = within(
            &format!("create container {name}"),
            CALL_DEADLINE,
            self.inner.create_container(Some(opts), spec),
        )
        .await?;
        Ok(r.id)
    }

    /// Creates a labelled bridge network named `name`; returns its id.
    pub async fn create_network(
        &self,
        name: &str,
        labels: HashMap<String, String>,
        internal: bool,
    ) -> anyhow::Result<String> {
        let body = bollard::models::NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            internal: Some(internal),
            labels: Some(labels),
            ..Default::default()
        };
        let r = within(
            &format!("create network {name}"),
            CALL_DEADLINE,
            self.inner.create_network(body),
        )
        .await?;
        Ok(r.id)
    }

    /// Connects a created container to a network, with DNS aliases there.
    pub async fn connect_network(
        &self,
        network: &str,
        container: &str,
        aliases: Vec<String>,
    ) -> anyhow::Result<()> {
        let body = bollard::models::NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: Some(bollard::models::EndpointSettings {
                aliases: Some(aliases),
                ..Default::default()
            }),
        };
        within(
            &format!("connect {container} to network {network}"),
            CALL_DEADLINE,
            self.inner.connect_network(network, body),
        )
        .await
    }

    /// Creates a labelled local volume named `name`.
    pub async fn create_volume(
        &self,
        name: &str,
        labels: HashMap<String, String>,
    ) -> anyhow::Result<()> {
        let body = bollard::models::VolumeCreateRequest {
            name: Some(name.to_string()),
            driver: Some("local".into()),
            labels: Some(labels),
            ..Default::default()
        };
        within(
            &format!("create volume {name}"),
            CALL_DEADLINE,
            self.inner.create_volume(body),
        )
        .await
        .map(|_| ())
    }

    /// A network's labels, or `None` when there is no such network.
    pub async fn network_labels(
        &self,
        name: &str,
    ) -> anyhow::Result<Option<HashMap<String, String>>> {
        let opts = None::<bollard::query_parameters::InspectNetworkOptions>;
        let n = unless_absent(
            &format!("inspect network {name}"),
            self.inner.inspect_network(name, opts),
        )
        .await?;
        Ok(n.map(|n| n.labels.unwrap_or_default()))
    }

    /// A volume's labels, or `None` when there is no such volume.
    pub async fn volume_labels(
        &self,
        name: &str,
    ) -> anyhow::Result<Option<HashMap<String, String>>> {
        let v = unless_absent(
            &format!("inspect volume {name}"),
            self.inner.inspect_volume(name),
        )
        .await?;
        Ok(v.map(|v| v.labels))
    }

    /// Removes a network; one already gone is not an error.
    pub async fn remove_network(&self, name: &str) -> anyhow::Result<()> {
        let what = format!("remove network {name}");
        unless_absent(&what, self.inner.remove_network(name))
            .await
            .map(drop)
    }

    /// Removes a volume; one already gone is not an error.
    pub async fn remove_volume(&self, name: &str) -> anyhow::Result<()> {
        let opts = bollard::query_parameters::RemoveVolumeOptions { force: true };
        let what = format!("remove volume {name}");
        unless_absent(&what, self.inner.remove_volume(name, Some(opts)))
            .await
            .map(drop)
    }

    /// Starts a container.
    pub async fn start(&self, id: &str) -> anyhow::Result<()> {
        within(
            &format!("start container {id}"),
            CALL_DEADLINE,
            self.inner.start_container(id, None),
        )
        .await
    }

    /// `docker stop` with an optional grace period in whole seconds, bounded by `deadline`.
    pub async fn stop(
        &self,
        id: &str,
        grace: Option<Duration>,
        deadline: Duration,
    ) -> anyhow::Result<()> {
        let opts = StopContainerOptions {
            t: grace.map(|g| g.as_secs().min(i32::MAX as u64) as i32),
            signal: None,
        };
        within(
            &format!("stop container {id}"),
            deadline,
            self.inner.stop_container(id, Some(opts)),
        )
        .await
    }

    /// `docker restart` with an optional grace period in whole seconds, bounded by `deadline`.
    pub async fn restart(
        &self,
        id: &str,
        grace: Option<Duration>,
        deadline: Duration,
    ) -> anyhow::Result<()> {
        let opts = bollard::query_parameters::RestartContainerOptions {
            t: grace.map(|g| g.as_secs().min(i32::MAX as u64) as i32),
            signal: None,
        };
        within(
            &format!("restart container {id}"),
            deadline,
            self.inner.restart_container(id, Some(opts)),
        )
        .await
    }

    /// Freezes a container's processes (`docker pause`).
    pub async fn pause(&self, id: &str) -> anyhow::Result<()> {
        within(
            &format!("pause container {id}"),
            CALL_DEADLINE,
            self.inner.pause_container(id),
        )
        .await
    }

    /// Thaws a paused container (`docker unpause`).
    pub async fn unpause(&self, id: &str) -> anyhow::Result<()> {
        within(
            &format!("unpause container {id}"),
            CALL_DEADLINE,
            self.inner.unpause_container(id),
        )
        .await
    }

    /// The last `tail` lines of a container's output (all of it for `usize::MAX`), as the daemon's
    /// chunks.
    async fn log_chunks(
        &self,
        id: &str,
        tail: usize,
    ) -> anyhow::Result<Vec<bollard::container::LogOutput>> {
        self.log_query(
            id,
            bollard::query_parameters::LogsOptions {
                // `usize::MAX`: the whole log.
                tail: if tail == usize::MAX {
                    "all".to_string()
                } else {
                    tail.to_string()
                },
                ..Default::default()
            },
        )
        .await
    }

    /// A container's stdout and stderr as `opts` selects them, as the daemon's chunks.
    async fn log_query(
        &self,
        id: &str,
        opts: bollard::query_parameters::LogsOptions,
    ) -> anyhow::Result<Vec<bollard::container::LogOutput>> {
        let opts = bollard::query_parameters::LogsOptions {
            stdout: true,
            stderr: true,
            ..opts
        };
        let collect = async {
            let mut out = Vec::new();
            let mut s = Box::pin(self.inner.logs(id, Some(opts)));
            while let Some(chunk) = s.next().await {
                out.push(chunk?);
            }
            Ok::<_, bollard::errors::Error>(out)
        };
        within(&format!("logs of container {id}"), CALL_DEADLINE, collect).await
    }

    /// The lines of a container's stdout and stderr that the daemon received at or after `since`
    /// (Unix time, seconds), told apart by the daemon's own timestamp on each line, never by their
    /// text: a line equal to an older one is new all the same. The daemon and the harness share
    /// the host's clock (the harness runs where the daemon runs).
    pub async fn logs_since(&self, id: &str, since: f64) -> anyhow::Result<Vec<String>> {
        let opts = bollard::query_parameters::LogsOptions {
            timestamps: true,
            // Whole seconds on the wire; the exact cut is made below.
            since: (since.floor() as i64 - 1).clamp(0, i32::MAX as i64) as i32,
            tail: "all".to_string(),
            ..Default::default()
        };
        let chunks = self.log_query(id, opts).await?;
        let text: String = chunks.iter().map(|c| c.to_string()).collect();
        Ok(lines_since(&text, since))
    }

    /// The last `tail` lines of a container's stdout and stderr.
    pub async fn logs(&self, id: &str, tail: usize) -> anyhow::Result<String> {
        Ok(self
            .log_chunks(id, tail)
            .await?
            .iter()
            .map(|c| c.to_string())
            .collect())
    }

    /// The last `tail` lines of a container's output, stdout and stderr apart (the daemon's
    /// interleaving of the two is not the order the process wrote them in).
    pub async fn logs_by_stream(&self, id: &str, tail: usize) -> anyhow::Result<(String, String)> {
        let (mut out, mut err) = (String::new(), String::new());
        for chunk in self.log_chunks(id, tail).await? {
            match chunk {
                bollard::container::LogOutput::StdErr { message } => {
                    err.push_str(&String::from_utf8_lossy(&message))
                }
                other => out.push_str(&other.to_string()),
            }
        }
        Ok((out, err))
    }

    /// Sends a signal (`SIGKILL`, `SIGUSR1`, ...).
    pub async fn kill(&self, id: &str, signal: &str) -> anyhow::Result<()> {
        let opts = KillContainerOptions {
            signal: signal.to_string(),
        };
        within(
            &format!("kill container {id} with {signal}"),
            CALL_DEADLINE,
            self.inner.kill_container(id, Some(opts)),
        )
        .await
    }

    /// Waits until the container is not running; returns its exit code. bollard reports a non-zero
    /// exit code as an error value, which is folded back into the code here.
    pub async fn wait(&self, id: &str, deadline: Duration) -> anyhow::Result<i64> {
        let mut stream = Box::pin(self.inner.wait_container(id, None));
        match tokio::time::timeout(deadline, stream.next()).await {
            Err(_) => Err(no_answer(&format!("wait for container {id}"), deadline)),
            Ok(None) => Err(anyhow!("docker: wait for container {id}: stream ended")),
            Ok(Some(Ok(r))) => Ok(r.status_code),
            Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. }))) => {
                Ok(code)
            }
            Ok(Some(Err(e))) => Err(anyhow!(e).context(format!("docker: wait for container {id}"))),
        }
    }

    /// The container's state, or `removed` when it no longer exists.
    pub async fn observe(&self, id: &str) -> anyhow::Result<Observation> {
        let r = tokio::time::timeout(CALL_DEADLINE, self.inner.inspect_container(id, None)).await;
        let c = match r {
            Err(_) => return Err(no_answer(&format!("inspect container {id}"), CALL_DEADLINE)),
            Ok(Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            })) => {
                return Ok(Observation {
                    state: "removed".into(),
                    ..Default::default()
                })
            }
            Ok(Err(e)) => return Err(anyhow!(e).context(format!("docker: inspect container {id}"))),
            Ok(Ok(c)) => c,
        };
        let s = c.state.unwrap_or_default();
        self.remember(
            format!("GET /containers/{id}/json (State)"),
            format!("{s:?}"),
        );
        Ok(Observation {
            health: s
                .health
                .and_then(|h| h.status)
                .map(|h| h.to_string())
                .filter(|h| !h.is_empty() && h != "none"),
            state: s.status.map(|x| x.to_string()).unwrap_or_default(),
            exit_code: s.exit_code,
            oom_killed: s.oom_killed,
            pid: s.pid,
            started_at: s.started_at,
            finished_at: s.finished_at,
            restart_count: c.restart_count,
            ip: c
                .network_settings
                .and_then(|n| n.networks)
                .and_then(|nets| nets.into_values().find_map(|e| e.ip_address))
                .filter(|ip| !ip.is_empty()),
        })
    }

    /// Runs a command in a running container; returns its exit code and combined output (at most
    /// 64 KiB). The whole exec, output included, is bounded by `deadline`.
    pub async fn exec(
        &self,
        id: &str,
        cmd: Vec<String>,
        deadline: Duration,
    ) -> anyhow::Result<(i64, String)> {
        use bollard::exec::{StartExecOptions, StartExecResults};
        let run = async {
            let created = self
                .inner
                .create_exec(
                    id,
                    bollard::models::ExecConfig {
                        cmd: Some(cmd.clone()),
                        attach_stdout: Some(true),
                        attach_stderr: Some(true),
                        ..Default::default()
                    },
                )
                .await?;
            let mut output = String::new();
            let started = self
                .inner
                .start_exec(
                    &created.id,
                    Some(StartExecOptions {
                        detach: false,
                        tty: false,
                        output_capacity: None,
                    }),
                )
                .await?;
            if let StartExecResults::Attached {
                output: mut out, ..
            } = started
            {
                while let Some(chunk) = out.next().await {
                    if output.len() < 65536 {
                        output.push_str(&chunk?.to_string());
                    }
                }
            }
            // The stream ends when the process does; the exit code may lag a moment behind.
            loop {
                let info = self.inner.inspect_exec(&created.id).await?;
                if info.running != Some(true) {
                    return Ok::<_, bollard::errors::Error>((info.exit_code.unwrap_or(-1), output));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        within(&format!("exec {cmd:?} in {id}"), deadline, run).await
    }

    /// `docker top`: answered only when the daemon reaches the container's runtime through
    /// containerd, so it proves more than `/_ping`.
    pub async fn top(&self, id: &str, deadline: Duration) -> anyhow::Result<()> {
        within(
            &format!("top container {id}"),
            deadline,
            self.inner
                .top_processes(id, None::<bollard::query_parameters::TopOptions>),
        )
        .await
        .map(|_| ())
    }

    /// Force-removes a container and its anonymous volumes; a container already gone is not an error.
    pub async fn remove(&self, id: &str) -> anyhow::Result<()> {
        let opts = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match tokio::time::timeout(CALL_DEADLINE, self.inner.remove_container(id, Some(opts))).await
        {
            Err(_) => Err(no_answer(&format!("remove container {id}"), CALL_DEADLINE)),
            Ok(Ok(())) => Ok(()),
            Ok(Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            })) => Ok(()),
            Ok(Err(e)) => Err(anyhow!(e).context(format!("docker: remove container {id}"))),
        }
    }

    /// Containers (running or not) carrying `label` (`key` or `key=value`): (id, name, labels).
    pub async fn list_labeled(
        &self,
        label: &str,
    ) -> anyhow::Result<Vec<(String, String, HashMap<String, String>)>> {
        let opts = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![label.to_string()],
            )])),
            ..Default::default()
        };
        let list = within(
            "list containers",
            CALL_DEADLINE,
            self.inner.list_containers(Some(opts)),
        )
        .await?;
        self.remember(
            format!("GET /containers/json?label={label}"),
            format!("{} containers", list.len()),
        );
        Ok(list
            .into_iter()
            .map(|c| {
                let name = c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string();
                (c.id.unwrap_or_default(), name, c.labels.unwrap_or_default())
            })
            .collect())
    }

    /// Streams the events of containers labelled `label` (`key=value`) from `since` (Unix
    /// seconds, fractional) into a channel, from a task of its own. The task ends when the
    /// receiver is dropped or the stream ends (an `Err` item says why); a stalled stream stalls
    /// only that task.
    pub fn events(
        &self,
        label: &str,
        since: f64,
    ) -> tokio::sync::mpsc::UnboundedReceiver<anyhow::Result<RawEvent>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut stream = Box::pin(self.inner.events(Some(events_options(label, since, None))));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tx.closed() => break,
                    item = stream.next() => {
                        let msg = match item {
                            None => { let _ = tx.send(Err(anyhow!("the event stream ended"))); break }
                            Some(Err(e)) => { let _ = tx.send(Err(anyhow!(e))); break }
                            Some(Ok(m)) => m,
                        };
                        if tx.send(Ok(RawEvent::from_message(msg))).is_err() { break }
                    }
                }
            }
        });
        rx
    }

    /// The events of containers labelled `label` from `since` to `until` (Unix seconds) that the
    /// daemon has logged: a barrier — every event logged before a call returned is in it, whether
    /// or not the live stream has delivered it yet.
    pub async fn events_between(
        &self,
        label: &str,
        since: f64,
        until: f64,
        deadline: Duration,
    ) -> anyhow::Result<Vec<RawEvent>> {
        let stream = self
            .inner
            .events(Some(events_options(label, since, Some(until))));
        let collect = async {
            let mut out = Vec::new();
            let mut s = Box::pin(stream);
            while let Some(m) = s.next().await {
                out.push(RawEvent::from_message(m?));
            }
            Ok::<_, bollard::errors::Error>(out)
        };
        within("events (catch-up)", deadline, collect).await
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

/// A Unix time as the events API takes it: seconds with nanoseconds.
fn api_time(t: f64) -> String {
    let secs = t.floor();
    format!(
        "{}.{:09}",
        secs as i64,
        ((t - secs) * 1e9).round().min(999_999_999.0) as u64
    )
}

fn events_options(label: &str, since: f64, until: Option<f64>) -> EventsOptions {
    EventsOptions {
        since: Some(api_time(since)),
        until: until.map(api_time),
        filters: Some(HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("label".to_string(), vec![label.to_string()]),
        ])),
    }
}

impl RawEvent {
    fn from_message(msg: bollard::models::EventMessage) -> Self {
        let actor = msg.actor.unwrap_or_default();
        let attributes: BTreeMap<String, String> =
            actor.attributes.unwrap_or_default().into_iter().collect();
        let action = msg.action.unwrap_or_default();
        let action = action
            .split(':')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        RawEvent {
            received: tokio::time::Instant::now(),
            time_nano: msg
                .time_nano
                .unwrap_or(msg.time.unwrap_or(0) * 1_000_000_000),
            action,
            id: actor.id.unwrap_or_default(),
            container: attributes.get(LABEL_CONTAINER).cloned(),
            attributes,
        }
    }
}

/// A container event as received, before the runner places it on its timeline.
#[derive(Clone, Debug)]
pub struct RawEvent {
    /// When the harness received it.
    pub received: tokio::time::Instant,
    /// The daemon's timestamp.
    pub time_nano: i64,
    /// Event action without its detail suffix (`exec_start: sh` → `exec_start`).
    pub action: String,
    /// The container's docker id.
    pub id: String,
    /// The container's scenario name, from its label.
    pub container: Option<String>,
    /// The actor's attributes (labels, `exitCode`, `signal`, ...).
    pub attributes: BTreeMap<String, String>,
}

/// A health check as docker takes it.
#[derive(Clone, Debug, Default)]
pub struct HealthSpec {
    /// `["CMD", args...]` or `["CMD-SHELL", line]`.
    pub test: Vec<String>,
    /// Nanoseconds between checks (0: docker's default).
    pub interval: i64,
    /// Nanoseconds a check may take (0: docker's default).
    pub timeout: i64,
    /// Consecutive failures that make the container unhealthy (0: docker's default).
    pub retries: i64,
    /// Nanoseconds after the start during which failures do not count.
    pub start_period: i64,
}

/// The host config and create body docker needs, kept here so the bollard types stay in this module.
#[derive(Default)]
pub struct CreateSpec<'a> {
    /// Image reference.
    pub image: &'a str,
    /// Command.
    pub cmd: Option<Vec<String>>,
    /// Entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// Environment `K=V`.
    pub env: Vec<String>,
    /// Labels, the harness's included.
    pub labels: HashMap<String, String>,
    /// `--init`.
    pub init: bool,
    /// `-m` bytes.
    pub memory: Option<u64>,
    /// `--memory-swap` bytes.
    pub memory_swap: Option<u64>,
    /// `--stop-signal`.
    pub stop_signal: Option<String>,
    /// `--stop-timeout` seconds.
    pub stop_timeout: Option<i64>,
    /// Restart policy name.
    pub restart: Option<&'a str>,
    /// Maximum restart count of `on-failure`.
    pub restart_max: Option<i64>,
    /// `--rm`.
    pub auto_remove: bool,
    /// TCP ports published on ephemeral host ports.
    pub publish: Vec<u16>,
    /// `-v SRC:DST[:ro]`: host paths and volume names.
    pub binds: Vec<String>,
    /// `--tmpfs PATH:OPTIONS`.
    pub tmpfs: HashMap<String, String>,
    /// Networks to join (docker names) with the DNS aliases in each; the first is the container's
    /// network mode, the others are connected after the create ([`DockerClient::connect_network`]).
    pub networks: Vec<(String, Vec<String>)>,
    /// `--hostname`.
    pub hostname: Option<String>,
    /// `--user`.
    pub user: Option<String>,
    /// `--workdir`.
    pub working_dir: Option<String>,
    /// `--health-*`.
    pub healthcheck: Option<HealthSpec>,
    /// `--cpus`, in billionths of a CPU.
    pub nano_cpus: Option<i64>,
    /// `--pids-limit`.
    pub pids_limit: Option<i64>,
    /// `--ulimit NAME=SOFT:HARD`.
    pub ulimits: Vec<(String, i64, i64)>,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--read-only`.
    pub read_only: bool,
    /// `--shm-size` bytes.
    pub shm_size: Option<i64>,
    /// `--log-driver` and `--log-opt`s.
    pub log: Option<(String, HashMap<String, String>)>,
}

impl<'a> CreateSpec<'a> {
    /// A plain container: an image and a command, nothing else set.
    pub fn plain(image: &'a str, cmd: &[&str]) -> Self {
        CreateSpec {
            image,
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    /// The bollard create body.
    pub fn to_body(&self) -> ContainerCreateBody {
        let restart = self.restart.map(|r| BollardRestart {
            name: Some(match r {
                "always" => RestartPolicyNameEnum::ALWAYS,
                "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
                "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
                _ => RestartPolicyNameEnum::NO,
            }),
            maximum_retry_count: self.restart_max,
        });
        let ports: Vec<String> = self.publish.iter().map(|p| format!("{p}/tcp")).collect();
        let bindings: bollard::models::PortMap = ports
            .iter()
            .map(|p| {
                (
                    p.clone(),
                    Some(vec![bollard::models::PortBinding {
                        host_ip: None,
                        host_port: Some(String::new()),
                    }]),
                )
            })
            .collect();
        let networking =
            self.networks
                .first()
                .map(|(net, aliases)| bollard::models::NetworkingConfig {
                    endpoints_config: Some(HashMap::from([(
                        net.clone(),
                        bollard::models::EndpointSettings {
                            aliases: Some(aliases.clone()),
                            ..Default::default()
                        },
                    )])),
                });
        let nonempty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        ContainerCreateBody {
            image: Some(self.image.to_string()),
            exposed_ports: (!ports.is_empty()).then_some(ports),
            cmd: self.cmd.clone(),
            entrypoint: self.entrypoint.clone(),
            env: Some(self.env.clone()),
            labels: Some(self.labels.clone()),
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            hostname: self.hostname.clone(),
            user: self.user.clone(),
            working_dir: self.working_dir.clone(),
            healthcheck: self
                .healthcheck
                .as_ref()
                .map(|h| bollard::models::HealthConfig {
                    test: Some(h.test.clone()),
                    interval: Some(h.interval),
                    timeout: Some(h.timeout),
                    retries: Some(h.retries),
                    start_period: Some(h.start_period),
                    ..Default::default()
                }),
            networking_config: networking,
            host_config: Some(HostConfig {
                init: self.init.then_some(true),
                memory: self.memory.map(|m| m as i64),
                memory_swap: self.memory_swap.map(|m| m as i64),
                restart_policy: restart,
                auto_remove: self.auto_remove.then_some(true),
                port_bindings: (!bindings.is_empty()).then_some(bindings),
                binds: nonempty(&self.binds),
                tmpfs: (!self.tmpfs.is_empty()).then(|| self.tmpfs.clone()),
                network_mode: self.networks.first().map(|(n, _)| n.clone()),
                nano_cpus: self.nano_cpus,
                pids_limit: self.pids_limit,
                ulimits: (!self.ulimits.is_empty()).then(|| {
                    self.ulimits
                        .iter()
                        .map(|(name, soft, hard)| bollard::models::ResourcesUlimits {
                            name: Some(name.clone()),
                            soft: Some(*soft),
                            hard: Some(*hard),
                        })
                        .collect()
                }),
                cap_add: nonempty(&self.cap_add),
                cap_drop: nonempty(&self.cap_drop),
                privileged: self.privileged.then_some(true),
                readonly_rootfs: self.read_only.then_some(true),
                shm_size: self.shm_size,
                log_config: self.log.as_ref().map(|(driver, opts)| {
                    bollard::models::HostConfigLogConfig {
                        typ: Some(driver.clone()),
                        config: Some(opts.clone()),
                    }
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// The lines of a timestamped log (`<RFC 3339 time> <text>`, as the daemon writes them with
/// `timestamps=true`) stamped at or after `since` (Unix time, seconds), without their stamps. A line
/// whose stamp cannot be read belongs with the line before it (a message containing a newline).
pub fn lines_since(text: &str, since: f64) -> Vec<String> {
    let since_ns = (since * 1e9) as i128;
    let mut out = Vec::new();
    let mut keep = false;
    for line in text.lines() {
        let stamped = line
            .split_once(' ')
            .and_then(|(t, rest)| Some((crate::units::parse_time(t)?, rest)));
        match stamped {
            Some((ns, rest)) => {
                keep = ns >= since_ns;
                if keep {
                    out.push(rest.to_string());
                }
            }
            None if keep => out.push(line.to_string()),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::lines_since;

    #[test]
    fn new_lines_are_told_by_their_stamp_not_their_text() {
        let log = "2026-12-06T12:00:00.100000000Z foobar\n\
                   2026-12-06T12:00:01.500000000Z foobar\n\
                   2026-12-06T12:00:01.600000000Z tick 2\n\
                   and a second line of it\n";
        // 2026-12-06T12:00:01Z
        let t = 1796558401.0;
        assert_eq!(
            lines_since(log, t),
            ["foobar", "tick 2", "and a second line of it"]
        );
        assert_eq!(
            lines_since(log, t + 0.55),
            ["tick 2", "and a second line of it"]
        );
        assert_eq!(lines_since(log, t - 1.0).len(), 4);
        assert!(lines_since(log, t + 1.0).is_empty());
    }
}
