//! `run`: the scenarios planned once, then run on one target — this machine, or a host over SSH
//! (see [`remote`]) — or on several (see [`super::multi`]); the verdicts come from the
//! journal, as `shakedown judge` computes them.

use std::path::{Path, PathBuf};

use super::inventory::{parse_target, run_targets, TargetArg};
use super::judge::{judge, Outputs};
use super::{planned, SshArgs, DEFAULT_JOBS};
use ::run::clean;
use ::run::scenario;
use ::run::session::{self, Session, Signals};
use engine::{self, TargetKind, TargetOptions};
use host::forensics::Forensics;
use model::error::{exit_code, Error, Result, EXIT_FAILED, EXIT_OK};

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files or directories (default: the built-in suite).
    pub paths: Vec<PathBuf>,
    /// Where to run: `managed` (a private daemon the harness starts), `docker` (the existing one
    /// at DOCKER_HOST), `ssh://[USER@]HOST[:PORT]` (the harness runs on that host, on a private
    /// daemon there; `?daemon=docker` for the host's own), or `vm:NAME` (a VM image of
    /// `shakedown vm build`, booted for the run and reached over SSH).
    /// Repeat it to run on several targets at once: one report, a section (and a JUnit
    /// testsuite) per target.
    #[arg(long, default_value = "managed", value_parser = parse_target, value_name = "TARGET")]
    pub target: Vec<TargetArg>,
    /// A YAML inventory of targets (`targets: [{name, address, labels}]`), instead of `--target`.
    #[arg(long, value_name = "FILE", conflicts_with = "target")]
    pub targets: Option<PathBuf>,
    /// Targets run at once (default 4).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub parallel_targets: u32,
    #[command(flatten)]
    pub ssh: SshArgs,
    /// Copy the journal to standard output as it is written, print no report, and stop (undoing
    /// everything) when standard input ends: how the SSH target runs the harness on a host.
    #[arg(long, hide = true)]
    pub stream: bool,
    /// How the journal names the target when it is not this machine (`--stream`).
    #[arg(long, hide = true, value_name = "LABEL")]
    pub target_label: Option<String>,
    /// The resolved plan made by the machine that started this run (`--stream`): the journal's
    /// plan entries as JSON, run exactly as they are instead of planning scenario files here.
    #[arg(long, hide = true, value_name = "FILE", conflicts_with_all = ["paths", "filter", "repeat"])]
    pub plan: Option<PathBuf>,
    /// The fixture image's build context carried by the machine that started this run
    /// (`--stream`), instead of one made from this host's static binaries.
    #[arg(long, hide = true, value_name = "FILE")]
    pub fixture_context: Option<PathBuf>,
    /// A further argument for the managed dockerd (`--FLAG=VALUE`, repeatable): a `qualify` side's
    /// daemon settings, passed on to a run on a host.
    #[arg(long, hide = true, value_name = "ARG")]
    pub daemon_arg: Vec<String>,
    /// Directory with the engine binaries (dockerd, containerd, runc, ...) for the managed target.
    #[arg(long, value_name = "DIR")]
    pub engine_dir: Option<PathBuf>,
    /// Your daemon.json for the managed daemon: its settings (log driver, default ulimits, address
    /// pools, storage options, …) start every managed daemon of the run; the keys the harness
    /// owns (data-root, exec-root, hosts, pidfile, bridge, containerd namespaces, …) are left
    /// out and named, and a scenario's `requires` and `daemon_options` win over the file.
    #[arg(long, value_name = "FILE")]
    pub daemon_config: Option<PathBuf>,
    /// `--daemon-config` as read (once, before anything runs).
    #[arg(skip)]
    pub daemon_config_read: Box<engine::managed::UserConfig>,
    /// Debian's docker.io VERSION (e.g. 28.5.2) for the managed target, fetched into the engine
    /// cache first if needed (see `shakedown engines`).
    #[arg(long, value_name = "VERSION")]
    pub engine: Option<String>,
    /// Allow scenarios that disturb the daemon on a daemon the harness did not start.
    #[arg(long)]
    pub allow_disruptive: bool,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a self-contained HTML page here: verdicts and each scenario's timeline (steps,
    /// fault windows, probe samples, daemon events, kernel lines).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Only scenarios whose name contains this, or with this tag.
    #[arg(long)]
    pub filter: Option<String>,
    /// Run every scenario's steps this many times (overrides `repeat` in the files).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: Option<u32>,
    /// When to write forensics bundles (daemon log, goroutine dumps, thread stacks, process tree,
    /// kernel log): at missed deadlines and unresponsive APIs, always, or never.
    #[arg(long, value_enum, default_value = "on-failure")]
    pub forensics: super::ForensicsArg,
    /// Where forensics bundles go (default: ./shakedown-artifacts/<run id>).
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// Load the images of this `docker save` archive into the managed daemons (repeatable); a
    /// scenario's containers may then use them.
    #[arg(long, value_name = "FILE.tar")]
    pub load: Vec<PathBuf>,
    /// Where the journal goes (default: <state>/runs/<run id>/journal.jsonl); it is always written.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Progress on stderr: `lines` (a line per finished scenario and a heartbeat, for CI logs),
    /// `tty` (live lines), `none`; `auto` picks `tty` on a terminal, else `lines`.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: super::ProgressArg,
    /// Run this many scenarios at once, each on a managed daemon of its own (default 3). A scenario
    /// that needs the host to itself runs alone.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16))]
    pub jobs: Option<u32>,
}

/// `shakedown run`; returns the exit code.
pub(super) async fn run(mut args: RunArgs, verbose: bool) -> Result<i32> {
    let targets = run_targets(&args)?;
    if targets.len() > 1 {
        if args.journal.is_some() {
            return Err(Error::input(
                "--journal names one file: with several targets each target's journal is kept apart (the report says where)",
            ));
        }
        if args.stream {
            return Err(Error::input("--stream runs one target"));
        }
    }
    // The user's daemon configuration: read once here, so that a bad file stops the command
    // before anything runs, and what the harness leaves out of it is said first.
    if let Some(file) = &args.daemon_config {
        if targets
            .iter()
            .any(|t| !matches!(t.target, TargetArg::Local(TargetKind::Managed)))
        {
            return Err(Error::input(
                "--daemon-config configures the managed daemon on this machine: a daemon at \
                 DOCKER_HOST runs with its own configuration, and a host's with the host's",
            ));
        }
        let config = engine::managed::UserConfig::read(file).map_err(Error::input)?;
        for line in &config.left_out {
            eprintln!("{}: {line}", file.display());
        }
        *args.daemon_config_read = config;
    }
    // Planned once for every target: bad input stops the command before anything runs. A run
    // started by another machine runs the plan it was given.
    let plans = match &args.plan {
        Some(file) => read_plan(file)?,
        None => planned(&args.paths, args.repeat, args.filter.as_deref())?,
    };
    let signals = Signals::install()?;
    if args.stream {
        signals.stop_at_end_of_input();
    }
    if targets.len() > 1 {
        return super::multi::run_many(&args, &plans, &targets, &signals, verbose).await;
    }
    let (journal, problem) = run_target(
        &args,
        &plans,
        &targets[0].target,
        args.artifacts.clone(),
        &signals,
    )
    .await?;
    if args.stream {
        // The other side judges the journal it received.
        return Ok(exit_code(signals.which(), EXIT_OK));
    }
    if let Some(p) = &problem {
        eprintln!("{p}");
    }
    // Verdicts and reports come from the journal, as `shakedown judge` computes them.
    let code = judge(
        report::document::Command::Run,
        &journal,
        &Outputs {
            json: args.json.as_deref(),
            junit: args.junit.as_deref(),
            html: args.html.as_deref(),
        },
        verbose,
    )?;
    let code = if problem.is_some() {
        code.max(EXIT_FAILED)
    } else {
        code
    };
    Ok(exit_code(signals.which(), code))
}

/// Runs the scenarios on one target; returns its journal and, for a remote target, what went
/// wrong with the connection if something did.
pub(super) async fn run_target(
    args: &RunArgs,
    plans: &[scenario::PlannedScenario],
    target: &TargetArg,
    artifacts: Option<PathBuf>,
    signals: &Signals,
) -> Result<(PathBuf, Option<String>)> {
    match target {
        TargetArg::Local(k) => run_local(args, plans.to_vec(), *k, artifacts, signals)
            .await
            .map(|j| (j, None)),
        TargetArg::Remote(spec) => {
            let host = args
                .ssh
                .access()
                .open(spec, &signals.cancel)
                .await
                .map_err(|e| Error::env(format!("{e:#}")))?;
            let r = run_remote(args, plans, &host, signals).await;
            host.close().await;
            r
        }
    }
}

/// Runs the scenarios on this machine; returns the journal.
async fn run_local(
    args: &RunArgs,
    plans: Vec<scenario::PlannedScenario>,
    kind: TargetKind,
    artifacts: Option<PathBuf>,
    signals: &Signals,
) -> Result<PathBuf> {
    let state = engine::default_state_dir();
    let run_id = session::new_run_id();
    let jobs = match (args.jobs, kind) {
        (Some(n), TargetKind::Managed) => n as usize,
        (None, TargetKind::Managed) => DEFAULT_JOBS.min(plans.len()),
        (Some(n), _) if n > 1 => {
            return Err(Error::input(
                "--jobs needs the managed target: each job runs on a daemon of its own",
            ))
        }
        _ => 1,
    };
    let engine_dir = match (&args.engine, &args.engine_dir) {
        (Some(_), Some(_)) => {
            return Err(Error::input("give --engine or --engine-dir, not both"));
        }
        (Some(v), None) => Some(
            engine::cache::Engines::new(&state)
                .ensure(v)
                .await
                .map_err(|e| engine::cache::engine_error(&format!("engine {v}: "), &e))?,
        ),
        (None, dir) => dir.clone(),
    };
    if !args.load.is_empty() && kind != TargetKind::Managed {
        return Err(Error::input(
            "--load loads images into the daemons the harness starts (the managed target); load \
             them into your daemon yourself: docker load -i FILE",
        ));
    }
    let images = engine::images::resolve(&plans, &args.load, kind == TargetKind::Managed).await?;
    // On a host (`--stream`) the journal is the progress: the other side shows it.
    let mode = match args.stream {
        true => report::progress::Mode::None,
        false => args.progress.mode(),
    };
    let progress = std::sync::Arc::new(report::progress::Progress::new(mode));
    let session = Session {
        target_label: {
            let local = match &args.engine {
                Some(v) => format!("{} engine={v}", kind.as_str()),
                None => kind.as_str().into(),
            };
            match &args.target_label {
                Some(l) => format!("{l} {local}"),
                None => local,
            }
        },
        target: TargetOptions {
            kind,
            engine_dir,
            allow_disruptive: args.allow_disruptive,
            state_dir: state.clone(),
            daemon_args: args.daemon_arg.clone(),
            daemon_config: (*args.daemon_config_read).clone(),
        },
        jobs,
        journal: args
            .journal
            .clone()
            .unwrap_or_else(|| clean::journal_of(&clean::runs_dir(&state).join(&run_id))),
        forensics: Forensics {
            policy: args.forensics.into(),
            dir: artifacts.unwrap_or_else(|| PathBuf::from("shakedown-artifacts").join(&run_id)),
        },
        run_id,
        plans,
        images,
        stream: args.stream,
        fixture_context: args.fixture_context.clone(),
        listener: progress.listener(),
    };
    let done = session::execute(&session, signals).await;
    progress.clear();
    done?;
    Ok(session.journal)
}

/// `run --target ssh://…|vagrant:…|vm:…`: the scenarios run on the host (see [`remote`]);
/// the journal arrives here line by line and is judged here, as `shakedown judge` would.
async fn run_remote(
    args: &RunArgs,
    plans: &[scenario::PlannedScenario],
    host: &remote::Opened,
    signals: &Signals,
) -> Result<(PathBuf, Option<String>)> {
    if !args.load.is_empty() {
        return Err(Error::input(
            "--load with an SSH target: name the archive in the scenario (`images: {REF: {tar: FILE}}`); it is copied to the host with the scenario",
        ));
    }
    if args.engine_dir.is_some() {
        return Err(Error::input(
            "--engine-dir names a directory on this machine: with an SSH target use --engine VERSION (fetched on the host)",
        ));
    }
    if args.stream {
        return Err(Error::input("--stream runs on the host, not towards it"));
    }
    let run_id = session::new_run_id();
    let journal = args.journal.clone().unwrap_or_else(|| {
        engine::default_state_dir()
            .join("remote-runs")
            .join(&run_id)
            .join("journal.jsonl")
    });
    let progress = std::sync::Arc::new(report::progress::Progress::new(args.progress.mode()));
    let problem = remote::host::run(
        host,
        remote::host::Request {
            plans,
            jobs: args.jobs,
            engine: args.engine.as_deref(),
            daemon_args: &args.daemon_arg,
            allow_disruptive: args.allow_disruptive,
            forensics: args.forensics.into(),
            journal: &journal,
            run_id: &run_id,
            cancel: signals.cancel.clone(),
            listener: progress.listener(),
        },
    )
    .await;
    progress.clear();
    Ok((journal, problem?))
}

/// A resolved plan as another machine serialized it ([`remote::PLAN`]): the journal's plan
/// entries, each scenario's file named by its path beside this one.
fn read_plan(file: &Path) -> Result<Vec<scenario::PlannedScenario>> {
    let bad =
        |e: &dyn std::fmt::Display| Error::input(format!("{}: not a plan: {e}", file.display()));
    let text = std::fs::read(file).map_err(|e| bad(&e))?;
    let entries: Vec<journal::PlannedEntry> = serde_json::from_slice(&text).map_err(|e| bad(&e))?;
    if entries.is_empty() {
        return Err(bad(&"no scenarios"));
    }
    Ok(entries
        .into_iter()
        .map(|e| scenario::PlannedScenario {
            file: e.file,
            scenario: e.scenario,
            repeat: e.repeat,
        })
        .collect())
}
