//! The action API: what a running action can use — the daemon, the scenario, the iteration's
//! containers and the processes the harness holds for them, the journal to record measures, facts
//! and samples in as they are taken, and the ledger every change goes through. The runner builds a
//! [`Ctx`] per iteration; actions never see the runner.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::anyhow;
use tokio::time::Instant;

use crate::scenario::PlannedScenario;
use docker::{
    CreateSpec, DockerClient, LABEL_CONTAINER, LABEL_HOST, LABEL_ITERATION, LABEL_PID, LABEL_RUN,
    LABEL_SCENARIO,
};
use engine::DaemonHandle;
use host::forensics::{Bundle, DumpRequest, Forensics, ForensicsPolicy};
use host::{ContainerProcess, NetnsHandle, NetnsId};
use journal::{At, Change, ChangeScope, DaemonRef, Event, Journal, NetnsRef};
use ledger::{ChangeId, Ledger, UndoEnv};
use model::anchor::Anchors;
use model::fact::Fact;
use model::record::{Measure, Observation, Sample, Source, SourceGap};

pub use engine::fixture::FIXTURE_IMAGE;

/// What a running action can use.
pub struct Ctx<'a> {
    /// The daemon client.
    pub docker: &'a DockerClient,
    /// The scenario being run.
    pub plan: &'a PlannedScenario,
    /// The run id (label value).
    pub run_id: &'a str,
    /// The fixture image's tag on this daemon, when the scenario uses it.
    pub fixture_image: Option<&'a str>,
    /// Where in the plan: scenario index, iteration, current step.
    pub at: At,
    /// The value of the iteration's `io.shakedown.iteration` label.
    pub iteration_label: String,
    /// The current step's deadline, for actions that pass it on to a long call.
    pub step_deadline: Duration,
    /// Scenario container name → docker id, for this iteration.
    pub containers: HashMap<String, String>,
    /// Each running container's PID 1 and network namespace, held since it was last observed
    /// running.
    pub processes: HashMap<String, ContainerProcess>,
    /// Every network namespace the iteration's containers had (leak detection's scope).
    pub netns_seen: BTreeSet<NetnsId>,
    /// Ids of every container the iteration created, copies included.
    pub created: Mutex<BTreeSet<String>>,
    /// The daemon process, when the harness controls it (daemon faults need it).
    pub daemon: Option<DaemonHandle>,
    /// Forensics settings.
    pub forensics: Forensics,
    /// A bundle an action already wrote for this step.
    pub bundle: Option<PathBuf>,
    /// Containers a `pause` step paused, with the change that unpauses them.
    pub paused: HashMap<String, ChangeId>,
    /// Each container's anchor, the look later comparisons are made with (e.g. `wait_for
    /// {restarted: true}`): never one taken while a step's effect may still unfold
    /// ([`model::anchor`]).
    pub anchors: Anchors<Observation>,
    /// When the current step started (as journaled), in Unix time: what `log {since: step}`
    /// counts new lines from.
    pub step_started_unix: f64,
    /// Told once a background step took what it compares with, so that the next step starts only
    /// then ([`Ctx::anchor_taken`]).
    pub anchored: Option<tokio::sync::oneshot::Sender<()>>,
    /// What leak detection saw at the iteration's start, by scope (`true`: the whole host).
    pub leak_baselines: std::collections::BTreeMap<bool, host::leaks::Snapshot>,
    /// Probe samples of the current step (also journaled as they are taken).
    pub samples: Vec<Sample>,
    /// A bundle started while the daemon was frozen, waiting for its goroutine dump (written once
    /// the daemon runs again): `daemon_thaw` completes it.
    pub pending_bundle: Option<(Bundle, DumpRequest)>,
    /// The run's journal.
    pub journal: Journal,
    /// The run's ledger.
    pub ledger: Ledger,
    /// How changes are undone in this run.
    pub env: &'a RunEnv,
    /// Where the filesystem the harness made for the scenario (`requires: {data_root: ...}`) is
    /// mounted: what `fill_disk` and `fill_inodes` fill.
    pub data_fs: Option<PathBuf>,
}

impl<'a> Ctx<'a> {
    /// A context of its own for a background step (`step`): what the iteration knows now, its own
    /// step scope, samples and bundle; [`Ctx::merge`] takes back what it learnt.
    pub fn fork(&self, step: usize) -> Ctx<'a> {
        Ctx {
            docker: self.docker,
            plan: self.plan,
            run_id: self.run_id,
            fixture_image: self.fixture_image,
            at: At { step, ..self.at },
            iteration_label: self.iteration_label.clone(),
            step_deadline: self.step_deadline,
            containers: self.containers.clone(),
            processes: self.processes.clone(),
            netns_seen: self.netns_seen.clone(),
            created: Mutex::new(self.created.lock().map(|c| c.clone()).unwrap_or_default()),
            daemon: self.daemon.clone(),
            forensics: self.forensics.clone(),
            bundle: None,
            paused: self.paused.clone(),
            anchors: self.anchors.clone(),
            step_started_unix: self.step_started_unix,
            anchored: None,
            leak_baselines: self.leak_baselines.clone(),
            samples: Vec::new(),
            pending_bundle: None,
            journal: self.journal.clone(),
            ledger: self.ledger.clone(),
            env: self.env,
            data_fs: self.data_fs.clone(),
        }
    }

    /// Says the step took what it compares with (an action that reads its own anchor, such as a
    /// file's content before, calls it after that read; the runner for every other action).
    pub fn anchor_taken(&mut self) {
        if let Some(tx) = self.anchored.take() {
            let _ = tx.send(());
        }
    }

    /// Takes back what a finished background step's context learnt: containers it created,
    /// processes and namespaces it saw, changes it left for the iteration's end. What this context
    /// learnt meanwhile wins (it is as new or newer).
    pub fn merge(&mut self, other: Ctx<'a>) {
        fn absent<V>(into: &mut HashMap<String, V>, from: HashMap<String, V>) {
            for (k, v) in from {
                into.entry(k).or_insert(v);
            }
        }
        absent(&mut self.containers, other.containers);
        absent(&mut self.processes, other.processes);
        absent(&mut self.paused, other.paused);
        self.anchors.merge(other.anchors);
        self.netns_seen.extend(other.netns_seen);
        if let (Ok(mut mine), Ok(theirs)) = (self.created.lock(), other.created.into_inner()) {
            mine.extend(theirs);
        }
        match (&self.pending_bundle, other.pending_bundle) {
            (None, theirs) => self.pending_bundle = theirs,
            // Two frozen daemons' dumps cannot both wait: write the second without its dump.
            (Some(_), Some((b, _))) => {
                let _ = b.finish();
            }
            (Some(_), None) => {}
        }
    }
}

impl Ctx<'_> {
    /// The daemon handle, or an error saying daemon faults need one.
    pub fn daemon(&self) -> anyhow::Result<DaemonHandle> {
        self.daemon.clone().ok_or_else(|| {
            anyhow!(
                "this action acts on the daemon process, which this target does not control \
                 (use --target managed, or --allow-disruptive on a local daemon)"
            )
        })
    }

    /// Deadline for one long call inside an action (stop, wait, exec): a little beyond the step's, so
    /// that a hang is reported as the step missing its deadline.
    pub fn call_deadline(&self) -> Duration {
        self.step_deadline + Duration::from_secs(1)
    }

    /// The scope of changes undone at the end of this step.
    pub fn step_scope(&self) -> ChangeScope {
        ChangeScope::Step {
            scenario: self.at.scenario,
            iteration: self.at.iteration,
            step: self.at.step,
        }
    }

    /// The scope of a change that ends with this step when `with_step`, else lasts until the end
    /// of the iteration (a fault with a `duration`, or one left for a later step to end).
    pub fn scope_until(&self, with_step: bool) -> ChangeScope {
        if with_step {
            self.step_scope()
        } else {
            self.iteration_scope()
        }
    }

    /// The scope of changes undone at the end of this iteration.
    pub fn iteration_scope(&self) -> ChangeScope {
        ChangeScope::Iteration {
            scenario: self.at.scenario,
            iteration: self.at.iteration,
        }
    }

    /// Journals a change before it is made; make it only when this returns `Ok`.
    pub async fn change(
        &self,
        scope: ChangeScope,
        change: Change,
        netns: Option<&NetnsHandle>,
    ) -> anyhow::Result<ChangeId> {
        Ok(self.ledger.record(scope, change, netns.cloned()).await?)
    }

    /// Journals a change, then makes it with `cmd`; a command that fails is undone at once (it
    /// may have half happened).
    pub async fn make(
        &self,
        change: Change,
        netns: Option<&NetnsHandle>,
        cmd: host::Cmd,
    ) -> anyhow::Result<ChangeId> {
        let id = self.change(self.step_scope(), change, netns).await?;
        if let Err(e) = cmd.run().await {
            let _ = self.undo(id).await;
            return Err(e.into());
        }
        Ok(id)
    }

    /// Undoes a change now (healing before the step ends); `Err` carries why it failed.
    pub async fn undo(&self, id: ChangeId) -> anyhow::Result<String> {
        match self.ledger.undo(id, self.env).await {
            Some(Ok(d)) => Ok(d),
            Some(Err(e)) => Err(anyhow!(e)),
            None => Ok("already undone".into()),
        }
    }

    /// Records a measured time.
    pub fn measure(&mut self, name: &str, d: Duration) {
        self.record_measure(Measure::monotonic(name, d));
    }

    /// Records a measure.
    pub fn record_measure(&self, measure: Measure) {
        self.journal.emit(Event::Measure {
            at: self.at,
            measure,
        });
    }

    /// Records a fact.
    pub fn fact(&mut self, fact: Fact) {
        self.journal.emit(Event::Fact {
            at: self.at,
            name: fact.name().to_string(),
            value: fact.value(),
        });
    }

    /// Records a probe sample (kept for the step, and journaled).
    pub fn sample(&mut self, sample: Sample) {
        self.journal.emit(Event::Sample {
            at: self.at,
            sample: sample.clone(),
        });
        self.samples.push(sample);
    }

    /// The run's clock now.
    pub fn now(&self) -> Duration {
        self.journal.now()
    }

    /// A warning of the harness's own: journaled, and logged (shown with `-v`).
    pub fn warn(&self, message: String) {
        tracing::warn!("{message}");
        self.journal.emit(Event::Warning {
            scenario: self.at.scenario,
            iteration: self.at.iteration,
            message,
        });
    }

    /// Journals a time during which a source could not be read.
    pub fn gap(&self, source: Source, from: Duration, until: Duration, reason: String) {
        self.journal.emit(Event::SourceGap {
            scenario: self.at.scenario,
            iteration: self.at.iteration,
            gap: SourceGap {
                source,
                from,
                until: Some(until),
                reason,
            },
        });
    }

    /// Replaces `{{ip:NAME}}` in arguments with the IP address of scenario container NAME (which
    /// must be running), so a client can be pointed at its dependency.
    pub async fn expand(&self, args: Vec<String>) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::with_capacity(args.len());
        for mut a in args {
            while let Some(start) = a.find("{{ip:") {
                let end = a[start..]
                    .find("}}")
                    .map(|e| start + e)
                    .ok_or_else(|| anyhow!("unclosed {{{{ip:...}}}} in {a:?}"))?;
                let name = a[start + 5..end].to_string();
                let ip = self.ip_of(&name).await?;
                a.replace_range(start..end + 2, &ip);
            }
            out.push(a);
        }
        Ok(out)
    }

    /// The IP address of a running scenario container.
    pub async fn ip_of(&self, name: &str) -> anyhow::Result<String> {
        let id = self.id(name)?;
        self.docker
            .observe(&id)
            .await?
            .ip
            .ok_or_else(|| anyhow!("container {name:?} has no IP address (is it running?)"))
    }

    /// Inspects a scenario container; when it runs, (re)captures its process and namespace.
    pub async fn observe(&mut self, name: &str) -> anyhow::Result<Observation> {
        let id = self.id(name)?;
        let o = self.docker.observe(&id).await?;
        match o.pid.filter(|p| *p > 0 && o.state == "running") {
            Some(pid) => {
                let held = self
                    .processes
                    .get(name)
                    .is_some_and(|p| p.pid == pid as u32 && p.is_alive());
                if !held {
                    let cid = id.clone();
                    match host::blocking(
                        "capturing a container's process",
                        Duration::from_secs(10),
                        move || ContainerProcess::capture(&cid, pid as u32),
                    )
                    .await
                    {
                        Ok(Ok(p)) => {
                            self.netns_seen.insert(p.netns.id());
                            self.processes.insert(name.to_string(), p);
                        }
                        Ok(Err(e)) => tracing::debug!("not holding {name}'s process: {e:#}"),
                        Err(e) => self.warn(format!("not holding {name}'s process: {e}")),
                    }
                }
            }
            None => {
                self.processes.remove(name);
            }
        }
        Ok(o)
    }

    /// The running container's process as held by the harness: the one captured at its last
    /// observation if it still runs (no daemon call needed), else observed again.
    pub async fn process(&mut self, name: &str) -> anyhow::Result<ContainerProcess> {
        if let Some(p) = self.processes.get(name).filter(|p| p.is_alive()) {
            return Ok(p.clone());
        }
        self.observe(name).await?;
        self.processes
            .get(name)
            .cloned()
            .ok_or_else(|| anyhow!("container {name:?} is not running"))
    }

    /// A container's namespace as the ledger names it.
    pub fn netns_ref(p: &ContainerProcess) -> NetnsRef {
        NetnsRef {
            id: p.netns.id(),
            container_id: p.container_id.clone(),
        }
    }

    /// The docker id of a scenario container that has been created.
    pub fn id(&self, name: &str) -> anyhow::Result<String> {
        self.containers.get(name).cloned().ok_or_else(|| {
            anyhow!("container {name:?} has not been created yet: `start` it in an earlier step")
        })
    }

    /// The docker name the harness gives a scenario container (a variant's `[` and `]` become
    /// `_`: docker names allow letters, digits, `_`, `.` and `-`).
    pub fn docker_name(&self, name: &str) -> String {
        let short: String = self.run_id.chars().take(8).collect();
        format!(
            "sd-{short}-{}-{name}-{}",
            bundle_name(self.plan.name()),
            self.at.iteration + 1
        )
    }

    /// Creates the container on first use and returns its id.
    pub async fn ensure_created(&mut self, name: &str) -> anyhow::Result<String> {
        if let Some(id) = self.containers.get(name) {
            return Ok(id.clone());
        }
        let docker_name = self.docker_name(name);
        let (id, _) = self
            .create_like(name, &docker_name, self.iteration_scope(), false)
            .await?;
        self.containers.insert(name.to_string(), id.clone());
        self.journal.emit(Event::ContainerCreated {
            scenario: self.at.scenario,
            iteration: self.at.iteration,
            container: name.to_string(),
            id: id.clone(),
        });
        Ok(id)
    }

    /// Creates a container from a scenario container's spec under another docker name (churn makes
    /// many `copy`s), recorded in the ledger (removed when `scope` ends) and carrying the run's and
    /// the iteration's labels. Returns its id and its ledger entry.
    pub async fn create_like(
        &self,
        name: &str,
        docker_name: &str,
        scope: ChangeScope,
        copy: bool,
    ) -> anyhow::Result<(String, ChangeId)> {
        let spec = self
            .plan
            .scenario
            .containers
            .get(name)
            .ok_or_else(|| anyhow!("unknown container {name:?}"))?;
        let image = match spec.image.as_deref() {
            None | Some(FIXTURE_IMAGE) => self
                .fixture_image
                .ok_or_else(|| anyhow!("the fixture image was not prepared"))?,
            Some(other) => other,
        };
        let mut labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
        labels.insert(LABEL_RUN.into(), self.run_id.into());
        labels.insert(LABEL_ITERATION.into(), self.iteration_label.clone());
        labels.insert(LABEL_SCENARIO.into(), self.plan.name().into());
        labels.insert(LABEL_CONTAINER.into(), name.into());
        labels.insert(LABEL_PID.into(), std::process::id().to_string());
        labels.insert(LABEL_HOST.into(), host::hostname());
        if copy {
            labels.insert(docker::LABEL_COPY.into(), "1".into());
        }
        let cmd = match spec.command.as_ref() {
            None => None,
            Some(c) => Some(self.expand(c.to_args()).await?),
        };
        let mut create = CreateSpec {
            image,
            cmd,
            entrypoint: spec.entrypoint.clone(),
            env: spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            labels,
            init: spec.init,
            memory: spec.memory.map(|m| m.bytes()),
            memory_swap: spec.memory_swap.map(|m| m.bytes()),
            stop_signal: spec.stop_signal.clone(),
            stop_timeout: spec.stop_timeout.map(|t| t.get().as_secs() as i64),
            restart: spec.restart.map(|r| r.as_docker()),
            auto_remove: spec.auto_remove,
            publish: spec.publish.clone(),
            ..Default::default()
        };
        self.apply_settings(name, spec, &mut create).await?;
        let daemon = self.docker.host().to_string();
        let change = self
            .change(
                scope,
                Change::Container {
                    daemon: daemon.clone(),
                    name: docker_name.to_string(),
                    id: None,
                },
                None,
            )
            .await?;
        match self.docker.create(docker_name, create.to_body()).await {
            Ok(id) => {
                self.ledger
                    .update(
                        change,
                        Change::Container {
                            daemon,
                            name: docker_name.to_string(),
                            id: Some(id.clone()),
                        },
                    )
                    .await;
                if let Err(e) = self.connect_more_networks(&id, &create).await {
                    let _ = self.ledger.undo(change, self.env).await;
                    return Err(e);
                }
                // Copies are removed by their own step; their cgroups are found by the daemon's
                // containers listing while they exist.
                if !copy {
                    if let Ok(mut c) = self.created.lock() {
                        c.insert(id.clone());
                    }
                }
                Ok((id, change))
            }
            Err(e) => {
                // The create may have happened on the daemon's side after our deadline.
                let _ = self.ledger.undo(change, self.env).await;
                Err(e)
            }
        }
    }

    /// Polls the API with a real call (list containers), each attempt bounded by `attempt`, until
    /// it answers or `deadline` passes; returns how long that took.
    pub async fn wait_api(
        &self,
        attempt: Duration,
        deadline: Duration,
    ) -> anyhow::Result<Duration> {
        let t = Instant::now();
        loop {
            let ok = tokio::time::timeout(attempt, self.docker.list_labeled(LABEL_RUN))
                .await
                .is_ok_and(|r| r.is_ok());
            if ok {
                return Ok(t.elapsed());
            }
            if t.elapsed() >= deadline {
                return Err(anyhow::Error::new(docker::NoAnswer {
                    what: "list containers (waiting for the API)".into(),
                    deadline,
                }));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The managed or local dockerd's pid, or an error when it is not running.
    pub async fn dockerd_pid(&self) -> anyhow::Result<u32> {
        self.daemon()?
            .lock()
            .await
            .pid()
            .ok_or_else(|| anyhow!("dockerd is not running"))
    }

    /// Writes a forensics bundle for the current step, when the policy allows; returns its
    /// directory.
    pub async fn collect_forensics(&self, label: &str, reason: &str) -> Option<PathBuf> {
        if self.forensics.policy == ForensicsPolicy::Never {
            return None;
        }
        let info = self.daemon_info(None).await;
        let name = bundle_name(&format!(
            "{}-{}-{label}",
            self.plan.name(),
            self.at.iteration + 1
        ));
        let run = async {
            let mut b = Bundle::create(&self.forensics.dir, &name, reason)?;
            b.snapshot(&info).await?;
            b.write_api_answers(&self.docker.last_answers())?;
            if let Some(pid) = info.dockerd_pid {
                let req = b.request_goroutine_dumps(&info)?;
                // A stopped daemon writes its dump only once it runs again (`daemon_freeze`
                // collects it after the thaw); a running one within a fraction of a second.
                let wait = if host::forensics::is_stopped(pid) {
                    Duration::from_secs(1)
                } else {
                    Duration::from_secs(5)
                };
                b.collect_goroutine_dumps(&req, wait).await?;
            }
            b.finish()
        };
        match tokio::time::timeout(Duration::from_secs(60), run).await {
            Ok(Ok(dir)) => Some(dir),
            Ok(Err(e)) => {
                self.warn(format!("writing forensics: {e:#}"));
                None
            }
            Err(_) => {
                self.warn("writing forensics took longer than 60s".into());
                None
            }
        }
    }

    /// What forensics collect about the daemon (dockerd's pid, roots, log, containerd).
    pub async fn daemon_info(&self, pid: Option<u32>) -> host::forensics::DaemonInfo {
        let info = match &self.daemon {
            // A fault in progress may hold the daemon's lock: don't wait long.
            Some(d) => match tokio::time::timeout(Duration::from_secs(2), d.lock()).await {
                Ok(d) => host::forensics::DaemonInfo {
                    dockerd_pid: pid.or(d.pid()),
                    exec_root: Some(d.exec_root()),
                    log_path: d.log_path(),
                    containerd_pid: None,
                },
                Err(_) => host::forensics::DaemonInfo {
                    dockerd_pid: pid,
                    ..Default::default()
                },
            },
            None => host::forensics::DaemonInfo::default(),
        };
        info.resolve().await
    }
}

/// A directory name made of safe characters.
pub fn bundle_name(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// How the live run undoes changes: through its own client, daemon handle and held namespaces.
pub struct RunEnv {
    /// The target's client.
    pub docker: DockerClient,
    /// The daemon process, when the harness controls it.
    pub daemon: Option<DaemonHandle>,
}

impl UndoEnv for RunEnv {
    async fn docker(&self, host: &str) -> Option<DockerClient> {
        if host == self.docker.host() {
            Some(self.docker.clone())
        } else {
            DockerClient::connect(host).ok()
        }
    }

    async fn netns(&self, r: &NetnsRef) -> Result<Option<NetnsHandle>, String> {
        host::netns::find_bounded(r.id, r.container_id.clone()).await
    }

    async fn start_daemon(&self, d: &DaemonRef) -> Result<String, String> {
        let Some(handle) = &self.daemon else {
            return Err(format!("this run does not control the daemon ({d:?})"));
        };
        let mut daemon = handle.lock().await;
        if daemon.is_running() {
            return Ok("dockerd is running".into());
        }
        let opts = daemon.options().clone();
        daemon
            .start_again(&opts, engine::READY_DEADLINE)
            .await
            .map(|()| format!("started dockerd again (pid {})", daemon.pid().unwrap_or(0)))
            .map_err(|e| format!("starting dockerd: {e:#}"))
    }

    async fn remove_managed(&self, dir: &Path, _id: &str) -> Result<String, String> {
        Err(format!(
            "{} is removed when the target closes",
            dir.display()
        ))
    }
}
