//! Command-line interface: argument definitions (clap), dispatch, and the exit code of each command.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::docker::{DockerClient, LABEL_HOST, LABEL_PID, LABEL_RUN};
use crate::error::{Error, Result, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK};
use crate::record::RunRecord;
use crate::report::{self, Report};
use crate::runner::{self, Forensics, ForensicsPolicy, RunOptions};
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
    /// Remove what earlier (killed) runs left: managed daemons, and labelled containers on the daemon
    /// at DOCKER_HOST. Touches nothing without the harness's labels.
    Clean {
        /// Also remove objects of runs whose harness process still seems to be alive.
        #[arg(long)]
        all: bool,
    },
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
}

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
    match rt.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
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

async fn dispatch(cmd: Command) -> Result<i32> {
    match cmd {
        Command::Run(args) => run(args).await,
        Command::Validate { paths } => validate(&paths),
        Command::List { paths } => list(&paths),
        Command::Clean { all } => clean(all).await,
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

async fn run(args: RunArgs) -> Result<i32> {
    let paths = or_builtin(&args.paths);
    let plans = scenario::plan(&paths, args.repeat, args.filter.as_deref())?;
    if plans.is_empty() {
        return Err(Error::input(format!(
            "no scenario matches --filter {:?}",
            args.filter.unwrap_or_default()
        )));
    }
    let cancel = CancellationToken::new();
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted: cleaning up (press Ctrl-C again to abandon cleanup)");
                cancel.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(EXIT_INTERRUPTED);
                }
            }
        });
    }
    let topts = TargetOptions {
        kind: args.target,
        engine_dir: args.engine_dir.clone(),
        allow_disruptive: args.allow_disruptive,
        state_dir: target::default_state_dir(),
    };
    let mut target = Target::open(&topts, plans.first()).await?;
    let run_id = new_run_id();
    let forensics = Forensics {
        policy: args.forensics,
        dir: args
            .artifacts
            .clone()
            .unwrap_or_else(|| PathBuf::from("shakedown-artifacts").join(&run_id)),
    };
    let outcome = run_on(&mut target, &plans, &run_id, &cancel, &forensics).await;
    for line in target.close().await {
        tracing::info!("{line}");
    }
    let record = outcome?;
    let verdicts: Vec<_> = plans
        .iter()
        .zip(&record.scenarios)
        .map(|(p, r)| verdict::judge(p, r))
        .collect();
    let report = Report::new(record, verdicts);
    print!("{}", report::terminal::render(&report));
    let _ = std::io::stdout().flush();
    if let Some(path) = &args.json {
        report::json::write(&report, path).map_err(|e| Error::env(format!("{e:#}")))?;
    }
    if let Some(path) = &args.junit {
        report::junit::write(&report, path).map_err(|e| Error::env(format!("{e:#}")))?;
    }
    Ok(if cancel.is_cancelled() {
        EXIT_INTERRUPTED
    } else if report.verdicts.iter().all(|v| v.outcome == Outcome::Pass) {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

/// Everything between opening and closing the target, so that closing happens on every path.
async fn run_on(
    target: &mut Target,
    plans: &[scenario::PlannedScenario],
    run_id: &str,
    cancel: &CancellationToken,
    forensics: &Forensics,
) -> Result<RunRecord> {
    target.refusals(plans).await?;
    let client = target.client().clone();
    runner::preflight(&client, plans).await?;
    let fixture = if plans.iter().any(runner::uses_fixture) {
        Some(
            crate::fixture::ensure_image(client.raw(), Duration::from_secs(300))
                .await
                .map_err(|e| Error::env(format!("preparing the fixture image: {e:#}")))?,
        )
    } else {
        None
    };
    let fingerprint = client
        .fingerprint()
        .await
        .map_err(|e| Error::env(format!("{e:#}")))?;
    let mut record = RunRecord {
        run_id: run_id.to_string(),
        started_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64(),
        target: target.kind().as_str().into(),
        fingerprint,
        scenarios: Vec::new(),
    };
    let progress = report::progress::Progress::new();
    for plan in plans {
        if cancel.is_cancelled() {
            break;
        }
        if let Err(e) = target.prepare(plan).await {
            record.scenarios.push(crate::record::ScenarioRecord {
                name: plan.name().into(),
                file: plan.file.clone(),
                error: Some(format!("preparing the daemon: {e:#}")),
                ..Default::default()
            });
            continue;
        }
        let opts = RunOptions {
            run_id,
            fixture_image: fixture.as_deref(),
            cancel: cancel.clone(),
            observer: &progress,
            daemon: target.daemon(),
            forensics: forensics.clone(),
        };
        let rec = runner::run_scenario(target.client(), plan, &opts).await;
        record.scenarios.push(rec);
    }
    // Scenarios never reached (interrupted) still get a record, so every verdict has one.
    for plan in plans.iter().skip(record.scenarios.len()) {
        record.scenarios.push(crate::record::ScenarioRecord {
            name: plan.name().into(),
            file: plan.file.clone(),
            interrupted: true,
            ..Default::default()
        });
    }
    Ok(record)
}

fn pid_alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

async fn clean(all: bool) -> Result<i32> {
    let root = target::default_state_dir().join("managed");
    if root.is_dir() {
        let lines = target::managed::sweep_stale(&root)
            .await
            .map_err(|e| Error::env(format!("{e:#}")))?;
        for l in &lines {
            println!("{l}");
        }
    }
    // Namespaces `pin_netns` pinned, should a killed run have left them.
    for entry in std::fs::read_dir(crate::action::PINNED_DIR)
        .into_iter()
        .flatten()
        .flatten()
    {
        println!(
            "{}",
            runner::Undo::Unmount(entry.path())
                .apply()
                .trim_start_matches("undo: ")
        );
    }
    // Interfaces `leak_veth` made (named by the harness), should a killed run have left them.
    for name in std::fs::read_dir("/sys/class/net")
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.starts_with("sdleak"))
    {
        println!(
            "{}",
            runner::delete_link(&name).trim_start_matches("undo: ")
        );
    }
    let host = DockerClient::env_host();
    let client = match DockerClient::connect(&host) {
        Ok(c) if c.ping(Duration::from_secs(5)).await.is_ok() => c,
        _ => {
            println!("no Docker daemon answers at {host}: nothing to sweep there");
            return Ok(EXIT_OK);
        }
    };
    let me = crate::hostname();
    let mut removed = 0;
    for (id, name, labels) in client
        .list_labeled(LABEL_RUN)
        .await
        .map_err(|e| Error::env(format!("{e:#}")))?
    {
        let pid: Option<i32> = labels.get(LABEL_PID).and_then(|p| p.parse().ok());
        let same_host = labels.get(LABEL_HOST) == Some(&me);
        if !all && same_host && pid.is_some_and(pid_alive) {
            println!(
                "kept {name}: its run (pid {}) is still alive",
                pid.unwrap_or(0)
            );
            continue;
        }
        client
            .remove(&id)
            .await
            .map_err(|e| Error::env(format!("{e:#}")))?;
        println!("removed container {name}");
        removed += 1;
    }
    println!("removed {removed} container(s) from {host}");
    Ok(EXIT_OK)
}
