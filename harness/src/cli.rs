//! Command-line interface: argument definitions (clap), dispatch, and the exit code of each command.

use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use futures_util::FutureExt;
use tokio_util::sync::CancellationToken;

use crate::clean;
use crate::ctx::RunEnv;
use crate::error::{Error, Result, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED};
use crate::forensics::{Forensics, ForensicsPolicy};
use crate::journal::{self, Change, ChangeScope, Event, Journal, PlannedEntry, RunStart};
use crate::ledger::Ledger;
use crate::report::{self, Report};
use crate::runner::schedule::{self, Job, Shared};
use crate::runner::{self};
use crate::scenario::{self, Scenario};
use crate::target::{self, Target, TargetKind, TargetOptions};
use crate::verdict::{self, Outcome};

/// Chaos and fault-injection harness for Docker hosts.
#[derive(Debug, Parser)]
#[command(name = "shakedown", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios (default: the built-in suite) and report verdicts.
    Run(RunArgs),
    /// Check scenario files without running them.
    Validate {
        /// Scenario files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List scenarios: name, tags, steps, description.
    List {
        /// Scenario files or directories (default: the built-in suite).
        paths: Vec<PathBuf>,
    },
    /// Judge a saved journal again, offline (a killed run's too: its unfinished scenarios are
    /// `unknown`), and write its reports.
    Judge {
        /// The journal (`shakedown run --journal FILE`, or `<state>/runs/<run id>/journal.jsonl`).
        journal: PathBuf,
        /// Write the JSON report here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Write a JUnit XML report here.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Undo what dead runs left: exactly the changes their journals record and they did not undo
    /// (containers, faults, injected leaks, a frozen or stopped daemon, managed daemons). Runs that
    /// are still alive are left alone.
    Clean,
    /// Print the scenario format as JSON Schema (draft-07), for yaml-language-server.
    Schema,
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files or directories (default: the built-in suite).
    pub paths: Vec<PathBuf>,
    /// Where to run: a private daemon the harness starts, or the existing one at DOCKER_HOST.
    #[arg(long, value_enum, default_value = "managed")]
    pub target: TargetKind,
    /// Directory with the engine binaries (dockerd, containerd, runc, ...) for the managed target.
    #[arg(long, value_name = "DIR")]
    pub engine_dir: Option<PathBuf>,
    /// Allow scenarios that disturb the daemon on a daemon the harness did not start.
    #[arg(long)]
    pub allow_disruptive: bool,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Only scenarios whose name contains this, or with this tag.
    #[arg(long)]
    pub filter: Option<String>,
    /// Run every scenario's steps this many times (overrides `repeat` in the files).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: Option<u32>,
    /// When to write forensics bundles (daemon log, goroutine dumps, thread stacks, process tree,
    /// kernel log): at missed deadlines and unresponsive APIs, always, or never.
    #[arg(long, value_enum, default_value = "on-failure")]
    pub forensics: ForensicsPolicy,
    /// Where forensics bundles go (default: ./shakedown-artifacts/<run id>).
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// Where the journal goes (default: <state>/runs/<run id>/journal.jsonl); it is always written.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Run this many scenarios at once, each on a managed daemon of its own (default 3). A scenario
    /// that needs the host to itself runs alone.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16))]
    pub jobs: Option<u32>,
}

/// Scenarios run at once by default on the managed target. Measured on 2 cores (BENCHMARKS.md): the
/// built-in suite takes 0.64× the wall time of one job with 2 jobs, 0.55× with 3, 0.49× with 4,
/// with the same verdicts and key measures; 3 keeps most of the gain for a third of the daemons 4
/// would start, and leaves CPU for the timing-sensitive scenarios.
pub const DEFAULT_JOBS: usize = 3;

/// Parses the process arguments, runs the command and returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return crate::error::EXIT_USAGE;
        }
    };
    let code = match rt.block_on(dispatch(cli.command, cli.verbose > 0)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    // A host call wedged in the kernel has leaked its thread: never wait for it.
    rt.shutdown_background();
    code
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn dispatch(cmd: Command, verbose: bool) -> Result<i32> {
    match cmd {
        Command::Run(args) => run(args, verbose).await,
        Command::Validate { paths } => validate(&paths),
        Command::List { paths } => list(&paths),
        Command::Judge {
            journal,
            json,
            junit,
        } => judge(&journal, json.as_deref(), junit.as_deref(), verbose),
        Command::Clean => clean().await,
        Command::Schema => {
            // A closed pipe (`shakedown schema | head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{}", schema());
            Ok(EXIT_OK)
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "shakedown",
                &mut std::io::stdout(),
            );
            Ok(EXIT_OK)
        }
    }
}

/// The built-in suite: `./scenarios` when present, else the one beside the binary's source tree.
pub fn builtin_scenarios() -> PathBuf {
    let local = PathBuf::from("scenarios");
    if local.is_dir() {
        return local;
    }
    if let Ok(exe) = std::env::current_exe() {
        // target/{debug,release}/shakedown → <repo>/scenarios
        for up in exe.ancestors().skip(1).take(4) {
            let p = up.join("scenarios");
            if p.is_dir() {
                return p;
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn or_builtin(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![builtin_scenarios()]
    } else {
        paths.to_vec()
    }
}

/// The JSON Schema of the scenario format (draft-07, which yaml-language-server supports).
pub fn schema() -> String {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Scenario>();
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

fn validate(paths: &[PathBuf]) -> Result<i32> {
    let plans = scenario::plan(paths, None, None)?;
    for p in &plans {
        println!("ok  {}  ({})", p.file.display(), p.name());
    }
    Ok(EXIT_OK)
}

fn list(paths: &[PathBuf]) -> Result<i32> {
    let plans = scenario::plan(&or_builtin(paths), None, None)?;
    for p in &plans {
        let s = &p.scenario;
        println!(
            "{}  [{}]  {} steps{}  {}",
            s.name,
            s.tags.join(", "),
            s.steps.len(),
            if s.requires.disruptive {
                ", disruptive"
            } else {
                ""
            },
            p.file.display()
        );
        if let Some(line) = s.description.lines().find(|l| !l.trim().is_empty()) {
            println!("    {}", line.trim());
        }
    }
    Ok(EXIT_OK)
}

fn new_run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{:x}{:04x}",
        now.as_secs(),
        (now.subsec_nanos() ^ std::process::id()) & 0xffff
    )
}

/// SIGINT and SIGTERM: the first cancels the run (which then undoes its changes and reports); a
/// second abandons undoing (`shakedown clean` does it later, from the journal).
struct Signals {
    cancel: CancellationToken,
    which: Arc<Mutex<Option<&'static str>>>,
}

impl Signals {
    fn install() -> Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())
            .map_err(|e| Error::env(format!("cannot handle SIGTERM: {e}")))?;
        let mut int = signal(SignalKind::interrupt())
            .map_err(|e| Error::env(format!("cannot handle SIGINT: {e}")))?;
        let cancel = CancellationToken::new();
        let which: Arc<Mutex<Option<&'static str>>> = Arc::default();
        let (c, w) = (cancel.clone(), which.clone());
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
            if let Ok(mut w) = w.lock() {
                *w = Some(name);
            }
            eprintln!("{name}: undoing this run's changes (send it again to abandon; `shakedown clean` would then undo them)");
            c.cancel();
            let again = tokio::select! {
                _ = int.recv() => EXIT_INTERRUPTED,
                _ = term.recv() => EXIT_TERMINATED,
            };
            std::process::exit(again);
        });
        Ok(Signals { cancel, which })
    }

    fn which(&self) -> Option<&'static str> {
        self.which.lock().ok().and_then(|w| *w)
    }
}

async fn run(args: RunArgs, verbose: bool) -> Result<i32> {
    let paths = or_builtin(&args.paths);
    let plans = scenario::plan(&paths, args.repeat, args.filter.as_deref())?;
    if plans.is_empty() {
        return Err(Error::input(format!(
            "no scenario matches --filter {:?}",
            args.filter.unwrap_or_default()
        )));
    }
    let state = target::default_state_dir();
    let run_id = new_run_id();
    let journal_path = args
        .journal
        .clone()
        .unwrap_or_else(|| clean::journal_of(&clean::runs_dir(&state).join(&run_id)));
    let journal = Journal::create(&journal_path).map_err(|e| {
        Error::env(format!(
            "cannot write the journal {}: {e}",
            journal_path.display()
        ))
    })?;
    let lock = clean::claim_run(&state, &run_id, &journal_path).map_err(|e| {
        Error::env(format!(
            "cannot claim a run directory under {}: {e}",
            clean::runs_dir(&state).display()
        ))
    })?;
    journal.emit(Event::RunStarted(RunStart {
        format: journal::FORMAT,
        run_id: run_id.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
        pid_start_time: crate::proc::stat(std::process::id())
            .map(|s| s.start_time)
            .unwrap_or_default(),
        host: crate::hostname(),
        started_unix: crate::unix_now(),
        target: args.target.as_str().into(),
        argv: std::env::args().collect(),
    }));
    journal.emit(Event::Plan {
        scenarios: plans
            .iter()
            .map(|p| PlannedEntry {
                file: p.file.clone(),
                repeat: p.repeat,
                scenario: p.scenario.clone(),
            })
            .collect(),
    });
    let progress = Arc::new(report::progress::Progress::new());
    {
        let p = progress.clone();
        journal.subscribe(move |e| p.on(e));
    }
    let ledger = Ledger::new(journal.clone(), &run_id);
    let signals = Signals::install()?;
    for dir in clean::prune(&state, clean::KEEP_RUNS) {
        tracing::debug!("removed the directory of an old run: {dir}");
    }
    let dead = clean::dead_runs_with_changes(&state);
    if !dead.is_empty() {
        eprintln!(
            "note: {} earlier run(s) died with changes not undone ({}): `shakedown clean` undoes them",
            dead.len(),
            dead.join(", ")
        );
    }
    let topts = TargetOptions {
        kind: args.target,
        engine_dir: args.engine_dir.clone(),
        allow_disruptive: args.allow_disruptive,
        state_dir: state.clone(),
    };
    let forensics = Forensics {
        policy: args.forensics,
        dir: args
            .artifacts
            .clone()
            .unwrap_or_else(|| PathBuf::from("shakedown-artifacts").join(&run_id)),
    };
    let jobs = match (args.jobs, args.target) {
        (Some(n), TargetKind::Managed) => n as usize,
        (None, TargetKind::Managed) => DEFAULT_JOBS.min(plans.len()),
        (Some(n), _) if n > 1 => {
            return Err(Error::input(
                "--jobs needs the managed target: each job runs on a daemon of its own",
            ))
        }
        _ => 1,
    };
    // One target per job, opened side by side.
    let opened = futures_util::future::join_all((0..jobs.min(plans.len()).max(1)).map(|_| async {
        let t = std::time::Instant::now();
        let target = Target::open(&topts, plans.first(), &ledger).await;
        journal.emit(Event::Setup {
            name: "target ready".into(),
            seconds: t.elapsed().as_secs_f64(),
        });
        target
    }))
    .await;
    let mut targets = Vec::new();
    let mut failure = None;
    for t in opened {
        match t {
            Ok(t) => targets.push(t),
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    let outcome = match failure {
        Some(e) => Err(e),
        None => {
            let envs: Vec<Arc<RunEnv>> = targets
                .iter()
                .map(|t| {
                    Arc::new(RunEnv {
                        docker: t.client().clone(),
                        daemon: t.daemon(),
                    })
                })
                .collect();
            let shared = Shared {
                run_id: &run_id,
                cancel: &signals.cancel,
                forensics: &forensics,
                journal: &journal,
                ledger: &ledger,
            };
            let run = run_on(&mut targets, &plans, &envs, &shared);
            // A panic outside the scenarios' own tasks still undoes everything below.
            match AssertUnwindSafe(run).catch_unwind().await {
                Ok(r) => r,
                Err(_) => Err(Error::env(
                    "the harness panicked (see above); its changes were undone",
                )),
            }
        }
    };
    if let Some(env) = targets.first().map(|t| RunEnv {
        docker: t.client().clone(),
        daemon: t.daemon(),
    }) {
        for line in ledger
            .undo_due(ChangeScope::Run, &env, |c| {
                !matches!(c, Change::ManagedDaemon { .. })
            })
            .await
        {
            tracing::info!("undone: {line}");
        }
    }
    for lines in futures_util::future::join_all(targets.into_iter().map(|t| t.close(&ledger))).await
    {
        for line in lines {
            tracing::info!("{line}");
        }
    }
    journal.emit(Event::RunFinished {
        interrupted: signals.which().map(str::to_string),
    });
    journal.close();
    if ledger.outstanding(|_| true).is_empty() {
        clean::mark_settled(&lock.dir);
    }
    progress.clear();
    outcome?;
    if let Some(why) = journal.failure() {
        return Err(Error::env(format!(
            "the journal {} is incomplete: {why}",
            journal_path.display()
        )));
    }
    // Verdicts and reports come from the journal, as `shakedown judge` computes them.
    let code = judge(
        &journal_path,
        args.json.as_deref(),
        args.junit.as_deref(),
        verbose,
    )?;
    Ok(match signals.which() {
        Some("SIGTERM") => EXIT_TERMINATED,
        Some(_) => EXIT_INTERRUPTED,
        None => code,
    })
}

/// Reads a journal, judges it and writes its reports; the exit code says whether all passed.
fn judge(path: &Path, json: Option<&Path>, junit: Option<&Path>, verbose: bool) -> Result<i32> {
    let folded = journal::fold_path(path)?;
    let verdicts: Vec<_> = folded
        .plans
        .iter()
        .zip(&folded.record.scenarios)
        .map(|(p, r)| verdict::judge(p, r))
        .collect();
    let report = Report::new(folded.record, verdicts);
    print!("{}", report::terminal::render(&report, verbose));
    let _ = std::io::stdout().flush();
    if let Some(path) = json {
        report::json::write(&report, path).map_err(|e| Error::env(format!("{e:#}")))?;
    }
    if let Some(path) = junit {
        report::junit::write(&report, path).map_err(|e| Error::env(format!("{e:#}")))?;
    }
    Ok(
        if report.verdicts.iter().all(|v| v.outcome == Outcome::Pass) {
            EXIT_OK
        } else {
            EXIT_FAILED
        },
    )
}

/// Everything between opening and closing the targets, so that closing happens on every path.
async fn run_on(
    targets: &mut [Target],
    plans: &[scenario::PlannedScenario],
    envs: &[Arc<RunEnv>],
    shared: &Shared<'_>,
) -> Result<()> {
    let first = targets
        .first()
        .ok_or_else(|| Error::env("no target was opened"))?;
    first.refusals(plans).await?;
    let needs_fixture = plans.iter().any(runner::uses_fixture);
    // Every job's daemon gets the images it needs, side by side.
    let prepared = futures_util::future::join_all(targets.iter().map(|t| async move {
        let client = t.client().clone();
        runner::preflight(&client, plans).await?;
        if !needs_fixture {
            return Ok(None);
        }
        let started = std::time::Instant::now();
        let tag = crate::fixture::ensure_image(client.raw(), Duration::from_secs(300))
            .await
            .map_err(|e| Error::env(format!("preparing the fixture image: {e:#}")))?;
        shared.journal.emit(Event::Setup {
            name: "fixture image".into(),
            seconds: started.elapsed().as_secs_f64(),
        });
        Ok(Some(tag))
    }))
    .await;
    let mut fixtures = Vec::new();
    for p in prepared {
        fixtures.push(p?);
    }
    let fingerprint = first
        .client()
        .fingerprint()
        .await
        .map_err(|e| Error::env(format!("{e:#}")))?;
    shared.journal.emit(Event::Fingerprint { fingerprint });
    let jobs: Vec<Job<'_>> = targets
        .iter_mut()
        .zip(fixtures)
        .zip(envs)
        .map(|((target, fixture), env)| Job {
            target,
            fixture,
            env: env.clone(),
        })
        .collect();
    schedule::run_plan(jobs, plans, shared).await;
    Ok(())
}

async fn clean() -> Result<i32> {
    let state = target::default_state_dir();
    let cleaned = clean::clean(&state).await;
    for l in &cleaned.lines {
        println!("{l}");
    }
    // Managed daemons whose owner died before its journal named them.
    let root = state.join("managed");
    if root.is_dir() {
        let lines = target::managed::sweep_stale(&root)
            .await
            .map_err(|e| Error::env(format!("{e:#}")))?;
        for l in &lines {
            println!("{l}");
        }
    }
    if cleaned.failed > 0 {
        println!("{} change(s) could not be undone", cleaned.failed);
        return Ok(EXIT_FAILED);
    }
    Ok(EXIT_OK)
}
