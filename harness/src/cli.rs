//! Command-line interface: argument definitions (clap), dispatch, and the exit code of each command.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser, Subcommand};

use crate::clean;
use crate::error::{exit_code, Error, Result, EXIT_FAILED, EXIT_OK};
use crate::forensics::{Forensics, ForensicsPolicy};
use crate::journal;
use crate::report::{self, Report};
use crate::scenario::{self, Scenario};
use crate::session::{self, Session, Signals};
use crate::target::{self, TargetKind, TargetOptions};

/// Chaos and fault-injection harness for Docker hosts.
#[derive(Debug, Parser)]
#[command(name = "shakedown", version = crate::VERSION, about, propagate_version = true)]
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
    /// Qualify an upgrade: the same scenarios on a baseline and a candidate, round after round
    /// (interleaved), compared per scenario from the verdicts and every timing's distribution.
    /// Exits 1 on a regression, a broken or an unknown scenario.
    Qualify(QualifyArgs),
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
        /// Write a self-contained HTML page here: verdicts and each scenario's timeline.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Undo what dead runs left: exactly the changes their journals record and they did not undo
    /// (containers, faults, injected leaks, a frozen or stopped daemon, managed daemons). Runs that
    /// are still alive are left alone.
    Clean {
        /// `ssh://[USER@]HOST[:PORT]` or `vagrant:MACHINE`: clean that host (runs `shakedown
        /// clean` there).
        #[arg(long, value_name = "TARGET")]
        target: Option<String>,
        #[command(flatten)]
        ssh: SshArgs,
    },
    /// Engines on demand: Debian's docker.io releases (with a containerd, runc and docker-init that
    /// work with them), fetched with apt into a cache under the state directory.
    Engines {
        /// What to do.
        #[command(subcommand)]
        action: EnginesCommand,
    },
    /// Virtual machines as targets, offline: Docker hosts built from Debian's packages under the
    /// state directory, booted with qemu for `run --target vm:NAME`.
    Vm {
        /// What to do.
        #[command(subcommand)]
        action: VmCommand,
    },
    /// Print the scenario format as JSON Schema (draft-07), for yaml-language-server.
    Schema,
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `shakedown engines ...`.
#[derive(Debug, Subcommand)]
pub enum EnginesCommand {
    /// The docker.io versions Debian's suites offer, and those fetched.
    List,
    /// Fetch an engine into the cache (and check that it runs here).
    Fetch {
        /// docker.io version, e.g. 28.5.2.
        #[arg(value_name = "VERSION")]
        engine: String,
    },
    /// Remove a fetched engine.
    Rm {
        /// docker.io version.
        #[arg(value_name = "VERSION")]
        engine: String,
    },
}

/// `shakedown vm ...`.
#[derive(Debug, Subcommand)]
pub enum VmCommand {
    /// Build a VM image (debootstrap, docker.io, sshd, the suite's kernel); kept and reused while
    /// its inputs stay the same.
    Build {
        /// The image's name (`--target vm:NAME`).
        name: String,
        /// Debian suite.
        #[arg(long, default_value = "bookworm", value_parser = ["bullseye", "bookworm", "trixie", "sid"])]
        suite: String,
        /// Kernel package of that suite.
        #[arg(long, value_name = "PACKAGE", default_value = crate::vm::DEFAULT_KERNEL)]
        kernel: String,
        /// docker.io version (must be the one the suite has; default: the suite's).
        #[arg(long, value_name = "VERSION")]
        engine: Option<String>,
    },
    /// Boot an image and open a shell in it as root (or run COMMAND there), then shut it down:
    /// to look around a VM as the harness sees it.
    Ssh {
        /// The image's name.
        name: String,
        /// A command to run instead of a shell.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// The images built.
    List,
    /// Remove an image.
    Rm {
        /// The image's name.
        name: String,
    },
}

/// Arguments of `qualify`.
#[derive(Debug, clap::Args)]
pub struct QualifyArgs {
    /// The baseline: engine=VERSION, engine-dir=DIR, system, or journal=FILE (repeatable), with
    /// daemon.FLAG=VALUE settings (e.g. engine=20.10.24,daemon.init=true); or a host —
    /// ssh://…, vagrant:MACHINE, vm:NAME — optionally with engine=VERSION and daemon. settings
    /// (e.g. vm:b12,engine=20.10.24).
    #[arg(long, value_name = "SIDE")]
    pub baseline: String,
    /// The candidate, written like the baseline.
    #[arg(long, value_name = "SIDE")]
    pub candidate: String,
    /// Scenario files or directories (default: the built-in suite).
    pub paths: Vec<PathBuf>,
    /// Rounds per side (default 5).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: Option<u32>,
    /// Only scenarios whose name contains this, or with this tag.
    #[arg(long)]
    pub filter: Option<String>,
    /// Scenarios at once within a round, each on a daemon of its own (default 3).
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u32).range(1..=16))]
    pub jobs: Option<u32>,
    /// A YAML file of thresholds: `threshold: 25%`, `floor: 20ms`, `measures: {NAME: {threshold, floor}}`.
    #[arg(long, value_name = "FILE")]
    pub thresholds: Option<PathBuf>,
    /// Where the rounds' journals go (default ./shakedown-qualify/<id>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write the comparison as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write JUnit XML here (a testcase per scenario and side).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a self-contained HTML page here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// When to write forensics bundles.
    #[arg(long, value_enum, default_value = "on-failure")]
    pub forensics: ForensicsPolicy,
    /// Load the images of this `docker save` archive into every side's daemons (repeatable).
    #[arg(long, value_name = "FILE.tar")]
    pub load: Vec<PathBuf>,
    #[command(flatten)]
    pub ssh: SshArgs,
}

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
    pub forensics: ForensicsPolicy,
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
    /// Run this many scenarios at once, each on a managed daemon of its own (default 3). A scenario
    /// that needs the host to itself runs alone.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16))]
    pub jobs: Option<u32>,
}

/// Where a run goes.
#[derive(Clone, Debug)]
pub enum TargetArg {
    /// On this machine.
    Local(TargetKind),
    /// On another host, a Vagrant machine or a VM, over SSH.
    Remote(crate::remote::HostSpec),
}

fn parse_target(s: &str) -> std::result::Result<TargetArg, String> {
    match s {
        "managed" => Ok(TargetArg::Local(TargetKind::Managed)),
        "docker" => Ok(TargetArg::Local(TargetKind::Docker)),
        s => match crate::remote::HostSpec::parse(s) {
            Some(r) => r.map(TargetArg::Remote),
            None => Err(format!(
                "unknown target {s:?}: managed, docker, ssh://[USER@]HOST[:PORT], vagrant:MACHINE or vm:NAME"
            )),
        },
    }
}

/// How to reach an SSH target (besides `~/.ssh/config` and the agent, which apply).
#[derive(Clone, Debug, clap::Args)]
pub struct SshArgs {
    /// Private key for SSH targets (`ssh -i`).
    #[arg(long, short = 'i', value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// An OpenSSH option for SSH targets (`ssh -o`, repeatable), e.g. UserKnownHostsFile=FILE.
    #[arg(long, value_name = "OPTION")]
    pub ssh_option: Vec<String>,
    /// The harness's directory on SSH targets: its binaries, each run's files, and the state
    /// directory of the runs there.
    #[arg(long, value_name = "DIR", default_value = crate::remote::REMOTE_HOME)]
    pub remote_dir: String,
    /// The shakedown binary to copy to SSH, Vagrant and VM targets (default: this one). It must be
    /// built from the same sources; a static build (`ci/build-static.sh`) runs on hosts with an
    /// older glibc than this machine's.
    #[arg(long, value_name = "FILE", env = "SHAKEDOWN_REMOTE_BINARY")]
    pub remote_binary: Option<PathBuf>,
}

impl SshArgs {
    /// The settings every host of the command is reached with.
    fn access(&self) -> crate::remote::Access {
        crate::remote::Access {
            identity: self.identity.clone(),
            options: self.ssh_option.clone(),
            home: self.remote_dir.clone(),
            binary: self.remote_binary.clone(),
        }
    }
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
    // Colours only for a terminal: a run on an SSH host writes to a pipe, read line by line here.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

async fn dispatch(cmd: Command, verbose: bool) -> Result<i32> {
    match cmd {
        Command::Run(args) => run(args, verbose).await,
        Command::Qualify(args) => qualify(args).await,
        Command::Validate { paths } => validate(&paths),
        Command::List { paths } => list(&paths),
        Command::Judge {
            journal,
            json,
            junit,
            html,
        } => judge(
            &journal,
            &Outputs {
                json: json.as_deref(),
                junit: junit.as_deref(),
                html: html.as_deref(),
            },
            verbose,
        ),
        Command::Clean { target: None, .. } => clean().await,
        Command::Clean {
            target: Some(t),
            ssh,
        } => {
            let access = ssh.access();
            let remote = match parse_target(&t).map_err(Error::input)? {
                TargetArg::Remote(crate::remote::HostSpec::Ssh(target)) => access.to(target),
                TargetArg::Remote(crate::remote::HostSpec::Vagrant(m)) => access
                    .vagrant(&m)
                    .await
                    .map_err(|e| Error::env(format!("{e:#}")))?,
                TargetArg::Remote(crate::remote::HostSpec::Vm(_)) => {
                    return Err(Error::input(
                        "a VM runs on a snapshot of its disk: nothing of a run outlives it, there is nothing to clean",
                    ))
                }
                TargetArg::Local(_) => {
                    return Err(Error::input(
                        "clean --target takes ssh://… or vagrant:MACHINE; without it, this machine is cleaned",
                    ))
                }
            };
            let (text, code) = crate::remote::clean(&remote)
                .await
                .map_err(|e| Error::env(format!("{e:#}")))?;
            print!("{text}");
            Ok(code)
        }
        Command::Engines { action } => engines(action).await,
        Command::Vm { action } => vm(action).await,
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
        let summary = first_sentence(&s.description);
        if !summary.is_empty() {
            println!("    {summary}");
        }
    }
    Ok(EXIT_OK)
}

/// The first sentence of a description, its lines joined (a wrapped YAML block is cut at the
/// sentence's end, never mid-sentence), up to 200 characters at a word boundary.
fn first_sentence(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let end = joined
        .match_indices(". ")
        .map(|(i, _)| i + 1)
        .next()
        .unwrap_or(joined.len());
    let sentence = &joined[..end];
    if sentence.chars().count() <= 200 {
        return sentence.to_string();
    }
    let head: String = sentence.chars().take(200).collect();
    match head.rfind(' ') {
        Some(i) => format!("{}…", &head[..i]),
        None => format!("{head}…"),
    }
}

async fn run(args: RunArgs, verbose: bool) -> Result<i32> {
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
    // Planned once for every target: bad input stops the command before anything runs.
    let plans = planned(&args)?;
    let signals = Signals::install()?;
    if args.stream {
        signals.stop_at_end_of_input();
    }
    if targets.len() > 1 {
        return run_many(&args, &plans, &targets, &signals, verbose).await;
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

/// A target of a run with the name reports give it.
struct NamedTarget {
    name: String,
    target: TargetArg,
    labels: std::collections::BTreeMap<String, String>,
}

/// `--targets FILE`: the inventory.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Inventory {
    targets: Vec<InventoryEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryEntry {
    name: String,
    address: String,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
}

fn run_targets(args: &RunArgs) -> Result<Vec<NamedTarget>> {
    let Some(file) = &args.targets else {
        return Ok(args
            .target
            .iter()
            .map(|t| NamedTarget {
                name: t.label(),
                target: t.clone(),
                labels: Default::default(),
            })
            .collect());
    };
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::input(format!("{}: {e}", file.display())))?;
    let inv: Inventory = serde_saphyr::from_str(&text)
        .map_err(|e| Error::input(format!("{}: {e}", file.display())))?;
    if inv.targets.is_empty() {
        return Err(Error::input(format!("{}: no targets", file.display())));
    }
    let mut out: Vec<NamedTarget> = vec![];
    for t in inv.targets {
        if out.iter().any(|o| o.name == t.name) {
            return Err(Error::input(format!(
                "{}: target name {:?} is used twice",
                file.display(),
                t.name
            )));
        }
        let target = parse_target(&t.address)
            .map_err(|e| Error::input(format!("{}: target {:?}: {e}", file.display(), t.name)))?;
        out.push(NamedTarget {
            name: t.name,
            target,
            labels: t.labels,
        });
    }
    Ok(out)
}

impl TargetArg {
    /// The target as written on the command line.
    fn label(&self) -> String {
        match self {
            TargetArg::Local(k) => k.as_str().into(),
            TargetArg::Remote(h) => h.label(),
        }
    }
}

/// Runs the scenarios on one target; returns its journal and, for a remote target, what went
/// wrong with the connection if something did.
async fn run_target(
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

/// Several targets at once (bounded): one report, a section per target.
async fn run_many(
    args: &RunArgs,
    plans: &[scenario::PlannedScenario],
    targets: &[NamedTarget],
    signals: &Signals,
    verbose: bool,
) -> Result<i32> {
    let slots = tokio::sync::Semaphore::new(args.parallel_targets as usize);
    let results = futures_util::future::join_all(targets.iter().map(|t| {
        let slots = &slots;
        async move {
            let _slot = slots.acquire().await;
            let artifacts = args
                .artifacts
                .as_ref()
                .map(|a| a.join(crate::units::file_name(&t.name)));
            let r = run_target(args, plans, &t.target, artifacts, signals).await;
            if let Err(e) = &r {
                eprintln!("{}: {e}", t.name);
            }
            r
        }
    }))
    .await;
    let mut sections = vec![];
    let mut code = EXIT_OK;
    for (t, r) in targets.iter().zip(results) {
        let section = match r {
            Ok((journal, problem)) => {
                if let Some(p) = &problem {
                    eprintln!("{}: {p}", t.name);
                    code = code.max(EXIT_FAILED);
                }
                match report_of(&journal) {
                    Ok(report) => {
                        if !report.succeeded() {
                            code = code.max(EXIT_FAILED);
                        }
                        report::multi::Section::ran(&t.name, &t.labels, &journal, report)
                    }
                    Err(e) => {
                        code = crate::error::EXIT_USAGE;
                        report::multi::Section::failed(&t.name, &t.labels, e.to_string())
                    }
                }
            }
            Err(e) => {
                code = crate::error::EXIT_USAGE;
                report::multi::Section::failed(&t.name, &t.labels, e.to_string())
            }
        };
        sections.push(section);
    }
    let multi = report::multi::MultiReport::new(sections);
    print!("{}", report::multi::terminal(&multi, verbose));
    let _ = std::io::stdout().flush();
    if let Some(path) = &args.json {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&multi).unwrap_or_default() + "\n",
        )
        .map_err(|e| Error::env(format!("cannot write {}: {e}", path.display())))?;
    }
    if let Some(path) = &args.junit {
        std::fs::write(
            path,
            report::multi::junit(&multi).map_err(|e| Error::env(format!("{e:#}")))?,
        )
        .map_err(|e| Error::env(format!("cannot write {}: {e}", path.display())))?;
    }
    if let Some(path) = &args.html {
        for (name, page) in report::multi::html_pages(&multi, path) {
            std::fs::write(&name, page)
                .map_err(|e| Error::env(format!("cannot write {}: {e}", name.display())))?;
        }
    }
    Ok(exit_code(signals.which(), code))
}

/// The scenarios `run` was given (the built-in suite by default), planned; none is an error.
fn planned(args: &RunArgs) -> Result<Vec<scenario::PlannedScenario>> {
    let plans = scenario::plan(
        &or_builtin(&args.paths),
        args.repeat,
        args.filter.as_deref(),
    )?;
    if plans.is_empty() {
        return Err(Error::input(format!(
            "no scenario matches --filter {:?}",
            args.filter.clone().unwrap_or_default()
        )));
    }
    Ok(plans)
}

/// Runs the scenarios on this machine; returns the journal.
async fn run_local(
    args: &RunArgs,
    plans: Vec<scenario::PlannedScenario>,
    kind: TargetKind,
    artifacts: Option<PathBuf>,
    signals: &Signals,
) -> Result<PathBuf> {
    let state = target::default_state_dir();
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
            crate::engines::Engines::new(&state)
                .ensure(v)
                .await
                .map_err(|e| Error::env(format!("engine {v}: {e:#}")))?,
        ),
        (None, dir) => dir.clone(),
    };
    if !args.load.is_empty() && kind != TargetKind::Managed {
        return Err(Error::input(
            "--load loads images into the daemons the harness starts (the managed target); load \
             them into your daemon yourself: docker load -i FILE",
        ));
    }
    let images = crate::images::resolve(&plans, &args.load, kind == TargetKind::Managed).await?;
    let progress = std::sync::Arc::new(report::progress::Progress::new());
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
        },
        jobs,
        journal: args
            .journal
            .clone()
            .unwrap_or_else(|| clean::journal_of(&clean::runs_dir(&state).join(&run_id))),
        forensics: Forensics {
            policy: args.forensics,
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

/// `run --target ssh://…|vagrant:…|vm:…`: the scenarios run on the host (see [`crate::remote`]);
/// the journal arrives here line by line and is judged here, as `shakedown judge` would.
async fn run_remote(
    args: &RunArgs,
    plans: &[scenario::PlannedScenario],
    host: &crate::remote::Opened,
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
        target::default_state_dir()
            .join("remote-runs")
            .join(&run_id)
            .join("journal.jsonl")
    });
    let progress = std::sync::Arc::new(report::progress::Progress::new());
    let problem = crate::remote::host::run(
        host,
        crate::remote::host::Request {
            plans,
            repeat: args.repeat,
            filter: args.filter.as_deref(),
            jobs: args.jobs,
            engine: args.engine.as_deref(),
            daemon_args: &args.daemon_arg,
            allow_disruptive: args.allow_disruptive,
            forensics: args.forensics,
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

/// Report files to write.
struct Outputs<'a> {
    json: Option<&'a Path>,
    junit: Option<&'a Path>,
    html: Option<&'a Path>,
}

/// The report of a journal: its record folded and judged.
fn report_of(path: &Path) -> Result<Report> {
    let judged = journal::judge_journal(path)?;
    Ok(Report::new(judged.record, judged.verdicts))
}

/// Reads a journal, judges it and writes its reports; the exit code says whether all passed.
fn judge(path: &Path, out: &Outputs<'_>, verbose: bool) -> Result<i32> {
    let report = report_of(path)?;
    print!("{}", report::terminal::render(&report, verbose));
    let _ = std::io::stdout().flush();
    if let Some(path) = out.json {
        report::json::write(&report, path).map_err(|e| Error::env(format!("{e:#}")))?;
    }
    if let Some(path) = out.junit {
        report::junit::write(&report, path).map_err(|e| Error::env(format!("{e:#}")))?;
    }
    if let Some(path) = out.html {
        std::fs::write(path, report::html::run_page(&report))
            .map_err(|e| Error::env(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(if report.succeeded() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

async fn qualify(args: QualifyArgs) -> Result<i32> {
    use crate::qualify::{self, side::Side};
    let (baseline, candidate) = (Side::parse(&args.baseline)?, Side::parse(&args.candidate)?);
    let plans = if baseline.runs() || candidate.runs() {
        let plans = scenario::plan(&or_builtin(&args.paths), Some(1), args.filter.as_deref())?;
        if plans.is_empty() {
            return Err(Error::input(format!(
                "no scenario matches --filter {:?}",
                args.filter.unwrap_or_default()
            )));
        }
        plans
    } else {
        vec![]
    };
    let thresholds = match &args.thresholds {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::input(format!("{}: cannot read: {e}", path.display())))?;
            serde_saphyr::from_str::<qualify::Thresholds>(&text).map_err(|e| {
                let (line, col) = e
                    .location()
                    .map(|l| (l.line(), l.column()))
                    .unwrap_or((0, 0));
                Error::input(format!(
                    "{}:{line}:{col}: {}",
                    path.display(),
                    e.to_string().lines().next().unwrap_or("")
                ))
            })?
        }
        None => qualify::Thresholds::default(),
    };
    let remote = |s: &Side| matches!(s.kind, qualify::side::SideKind::Remote { .. });
    if !args.load.is_empty() && (remote(&baseline) || remote(&candidate)) {
        return Err(Error::input(
            "--load with a side on a host: name the archive in the scenario (`images: {REF: {tar: FILE}}`); it is copied to the host with the scenario",
        ));
    }
    let images = crate::images::resolve(&plans, &args.load, true).await?;
    let progress = std::sync::Arc::new(report::progress::Progress::new());
    let q = qualify::run::Qualification {
        images,
        filter: args.filter.clone(),
        jobs_given: args.jobs,
        access: args.ssh.access(),
        baseline,
        candidate,
        jobs: args
            .jobs
            .map(|j| j as usize)
            .unwrap_or(DEFAULT_JOBS)
            .min(plans.len().max(1)),
        plans,
        rounds: args.repeat.unwrap_or(qualify::run::DEFAULT_ROUNDS),
        thresholds,
        out: args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("shakedown-qualify").join(session::new_run_id())),
        forensics: args.forensics,
        listener: progress.listener(),
    };
    let signals = Signals::install()?;
    let report = qualify::run::qualify(&q, &signals).await;
    progress.clear();
    let report = report?;
    print!("{}", report::qualify::render(&report));
    let _ = std::io::stdout().flush();
    let write = |path: &Path, text: String| {
        std::fs::write(path, text)
            .map_err(|e| Error::env(format!("cannot write {}: {e}", path.display())))
    };
    if let Some(p) = &args.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| Error::env(e.to_string()))?;
        write(p, text + "\n")?;
    }
    if let Some(p) = &args.junit {
        write(
            p,
            report::qualify::junit(&report).map_err(|e| Error::env(format!("{e:#}")))?,
        )?;
    }
    if let Some(p) = &args.html {
        write(p, report::html::qualify_page(&report))?;
    }
    let code = if report.fails() { EXIT_FAILED } else { EXIT_OK };
    Ok(exit_code(signals.which(), code))
}

async fn engines(action: EnginesCommand) -> Result<i32> {
    let e = crate::engines::Engines::new(&target::default_state_dir());
    let env = |err: anyhow::Error| Error::env(format!("{err:#}"));
    match action {
        EnginesCommand::List => {
            let fetched = e.fetched();
            for a in e.available().await.map_err(env)? {
                let mark = if fetched.iter().any(|f| f.version == a.version) {
                    "fetched"
                } else {
                    ""
                };
                println!(
                    "{:<10} {:<9} {:<32} {mark}",
                    a.version, a.suite, a.package_version
                );
            }
        }
        EnginesCommand::Fetch { engine } => {
            let f = e.fetch(&engine).await.map_err(env)?;
            println!(
                "fetched engine {} from {} into {}",
                f.version,
                f.suite,
                f.root.display()
            );
            for (name, v, suite) in &f.packages {
                println!("  {name} {v} ({suite})");
            }
            for n in &f.notes {
                println!("  note: {n}");
            }
        }
        EnginesCommand::Rm { engine } => {
            e.remove(&engine).map_err(env)?;
            println!("removed engine {engine}");
        }
    }
    Ok(EXIT_OK)
}

async fn vm(action: VmCommand) -> Result<i32> {
    let vms = crate::vm::Vms::new(&target::default_state_dir());
    let env = |err: anyhow::Error| Error::env(format!("{err:#}"));
    match action {
        VmCommand::Build {
            name,
            suite,
            kernel,
            engine,
        } => {
            crate::vm::check_name(&name).map_err(Error::input)?;
            let spec = crate::vm::Spec {
                name,
                suite,
                kernel,
                engine,
            };
            let (i, built) = vms.build(&spec).await.map_err(env)?;
            let how = if built {
                format!("built in {:.0} s", i.build_seconds)
            } else {
                "up to date".into()
            };
            println!(
                "vm {}: {how} ({}, kernel {}, docker.io {})",
                i.name, i.suite, i.kernel, i.docker
            );
        }
        VmCommand::List => {
            for i in vms.list() {
                println!(
                    "{:<16} {:<9} {:<24} docker.io {}",
                    i.name, i.suite, i.kernel, i.docker
                );
            }
        }
        VmCommand::Rm { name } => {
            vms.remove(&name).await.map_err(env)?;
            println!("removed vm {name}");
        }
        VmCommand::Ssh { name, command } => {
            let signals = Signals::install()?;
            let mut vm = vms.boot(&name, &signals.cancel).await.map_err(env)?;
            eprintln!("{}", vm.up_line());
            let code = vm
                .ssh(crate::remote::REMOTE_HOME, None)
                .interactive(&command)
                .await;
            vm.shutdown().await;
            return code.map_err(env);
        }
    }
    Ok(EXIT_OK)
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

#[cfg(test)]
mod tests {
    use super::first_sentence;

    #[test]
    fn list_shows_whole_first_sentences() {
        assert_eq!(
            first_sentence("The control run: a graceful restart\nstops the containers. More here."),
            "The control run: a graceful restart stops the containers."
        );
        assert_eq!(first_sentence("No full stop"), "No full stop");
        assert_eq!(first_sentence(""), "");
        let long = "word ".repeat(60);
        let s = first_sentence(&long);
        assert!(s.ends_with("word…") && s.chars().count() <= 201, "{s}");
    }
}
