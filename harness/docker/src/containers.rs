//! Containers: create, start, stop, signal, wait for, look at, exec in, list and remove them.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::anyhow;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, ListContainersOptions, RemoveContainerOptions,
    StopContainerOptions,
};
use futures_util::StreamExt;

use super::{no_answer, within, DockerClient, CALL_DEADLINE};
use model::record::Observation;

impl DockerClient {
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

    /// Sends a create call whose body carries a label of `bytes` bytes, under a name the daemon
    /// refuses, so that nothing is created: the daemon reads and decodes the whole body first,
    /// which makes it allocate that much (and more). The daemon's answer, or its silence (a daemon
    /// killed meanwhile), is the result.
    pub async fn flood_create(&self, bytes: usize, deadline: Duration) -> anyhow::Result<()> {
        let labels = HashMap::from([("io.shakedown.flood".to_string(), "x".repeat(bytes))]);
        let spec = ContainerCreateBody {
            image: Some("shakedown-flood-no-such-image".into()),
            labels: Some(labels),
            ..Default::default()
        };
        let opts = CreateContainerOptions {
            name: Some("shakedown flood, an invalid name".into()),
            ..Default::default()
        };
        within(
            "a create call of a large body",
            deadline,
            self.inner.create_container(Some(opts), spec),
        )
        .await
        .map(|_| ())
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
    /// containerd, so it proves more than `/_ping`. dockerd asks containerd for the container's
    /// processes first and then runs the host's `ps` to describe them: a host without `ps`
    /// (Debian's minimal install has no procps) answers `ps: exec: "ps": … not found`, which says
    /// containerd was reached all the same.
    pub async fn top(&self, id: &str, deadline: Duration) -> anyhow::Result<()> {
        let r = within(
            &format!("top container {id}"),
            deadline,
            self.inner
                .top_processes(id, None::<bollard::query_parameters::TopOptions>),
        )
        .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if format!("{e:#}").contains("ps: exec: \"ps\"") => Ok(()),
            Err(e) => Err(e),
        }
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
}
