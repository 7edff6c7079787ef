//! Command-line interface: argument definitions (clap), dispatch, and the exit code of each command.
//! Each command lives in a file of its own: `run.rs` (one target, here or on a host) and
//! `multi.rs` (several at once), `qualify.rs`, `judge.rs` (and the run's reports), `clean.rs`,
//! `engines.rs`, `vm.rs`, and `list.rs` (`validate` and `list`); `inventory.rs` reads `--target`
//! and `--targets`.

use std::io::Write;
use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

use ::run::scenario::{self, PlannedScenario, Scenario};
use model::error::{Error, Result, EXIT_OK};

mod builtin;
mod clean;
mod engines;
mod help;
mod inventory;
mod judge;
mod list;
mod multi;
mod qualify;
mod run;
mod vm;

pub use engines::EnginesCommand;
pub use inventory::TargetArg;
pub use qualify::QualifyArgs;
pub use run::RunArgs;
pub use vm::VmCommand;

/// Chaos and fault-injection harness for Docker hosts.
#[derive(Debug, Parser)]
#[command(
    name = "shakedown",
    version = version::VERSION,
    about,
    propagate_version = true,
    after_help = help::short(),
    after_long_help = help::long()
)]
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
    #[command(after_help = help::with_examples(help::RUN_EXAMPLES))]
    Run(RunArgs),
    /// Check scenario files without running them.
    Validate {
        /// Scenario files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output: text, or JSON (`{"format": 1, "scenarios": [{"file", "name"}]}`).
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
    },
    /// List scenarios: name, tags, steps, description.
    List {
        /// Scenario files or directories (default: the built-in suite).
        paths: Vec<PathBuf>,
        /// Output: text, or JSON (`{"format": 1, "scenarios": [{"name", "file", "tags", "steps",
        /// "disruptive", "description"}]}`).
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
    },
    /// Qualify an upgrade: the same scenarios on a baseline and a candidate, round after round
    /// (interleaved), compared per scenario from the verdicts and every timing's distribution.
    /// Exits 1 on a regression, a broken or an unknown scenario.
    #[command(after_help = help::with_examples(help::QUALIFY_EXAMPLES))]
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
    /// are still alive are left alone. With `--runs`, finished runs' directories go too.
    Clean {
        /// `ssh://[USER@]HOST[:PORT]` or `vagrant:MACHINE`: clean that host (runs `shakedown
        /// clean` there).
        #[arg(long, value_name = "TARGET")]
        target: Option<String>,
        /// Also remove finished runs' directories (journals, evidence) under the state directory:
        /// `keep=N` keeps the newest N, `older-than=DURATION` (e.g. `14d`) removes those last
        /// written longer ago. Live runs and runs with changes not undone always stay. Every run
        /// keeps the newest 50 by itself.
        #[arg(long, value_name = "keep=N|older-than=DURATION")]
        runs: Option<::run::clean::Retention>,
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
    /// The built-in suite this binary carries.
    Scenarios {
        /// What to do.
        #[command(subcommand)]
        action: ScenariosCommand,
    },
    /// Print a JSON Schema (draft-07): of the scenario format (the default), for
    /// yaml-language-server, or of the JSON report every command writes (`--json`).
    Schema {
        /// Which schema.
        #[arg(value_enum, default_value = "scenario")]
        of: SchemaOf,
    },
    /// Print the manual page (roff), generated from the same definitions as `--help`:
    /// `shakedown man | man -l -`.
    Man,
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `shakedown scenarios …`.
#[derive(Debug, Subcommand)]
pub enum ScenariosCommand {
    /// Write the built-in scenarios and their schema (`scenario.schema.json`) into DIR, to edit
    /// and run (`shakedown run DIR`). An existing file with other content is refused.
    Export {
        /// The directory (created if missing).
        dir: PathBuf,
        /// Overwrite files that differ.
        #[arg(long)]
        force: bool,
    },
}

/// How a command that lists things prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Lines for a person.
    Text,
    /// One JSON document on standard output, with a `format` version.
    Json,
}

/// `--forensics`: when to write forensics bundles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ForensicsArg {
    /// For every scenario, at its end, and at every missed deadline or unresponsive API.
    Always,
    /// When a step misses its deadline or the API stops answering (default).
    #[default]
    OnFailure,
    /// Never.
    Never,
}

impl From<ForensicsArg> for host::forensics::ForensicsPolicy {
    fn from(a: ForensicsArg) -> Self {
        use host::forensics::ForensicsPolicy as P;
        match a {
            ForensicsArg::Always => P::Always,
            ForensicsArg::OnFailure => P::OnFailure,
            ForensicsArg::Never => P::Never,
        }
    }
}

/// How `run` and `qualify` show progress on stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressArg {
    /// `tty` when stderr is a terminal, else `lines`.
    #[default]
    Auto,
    /// Live lines redrawn in place: each running scenario and its step.
    Tty,
    /// A line per finished scenario (verdict, time) as it finishes, and a heartbeat naming the
    /// running steps at most every 30 s: for CI logs.
    Lines,
    /// Nothing but the report at the end.
    None,
}

impl ProgressArg {
    /// The display this asks for, on this process's stderr.
    pub fn mode(self) -> report::progress::Mode {
        use report::progress::Mode;
        match self {
            ProgressArg::Auto => Mode::auto(),
            ProgressArg::Tty => Mode::Tty,
            ProgressArg::Lines => Mode::Lines,
            ProgressArg::None => Mode::None,
        }
    }
}

/// The schemas `shakedown schema` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaOf {
    /// The scenario format (YAML files).
    Scenario,
    /// The JSON report (`--json FILE` of `run`, `judge` and `qualify`).
    Report,
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
    #[arg(long, value_name = "DIR", default_value = remote::REMOTE_HOME)]
    pub remote_dir: String,
    /// The shakedown binary to copy to SSH, Vagrant and VM targets (default: this one). It must be
    /// built from the same sources; a static build (`ci/build-static.sh`) runs on hosts with an
    /// older glibc than this machine's.
    #[arg(long, value_name = "FILE", env = "SHAKEDOWN_REMOTE_BINARY")]
    pub remote_binary: Option<PathBuf>,
}

impl SshArgs {
    /// The settings every host of the command is reached with.
    fn access(&self) -> remote::Access {
        remote::Access {
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
            return model::error::EXIT_ENVIRONMENT;
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
        // Without -v the terminal gets the report, not the runner's own warnings: a scenario that
        // restarts the daemon on purpose makes its observers warn ("observing writer: …
        // Connection refused"), and what decides a verdict is in the verdict and the journal.
        0 => "warn,run=error",
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
        Command::Run(args) => run::run(args, verbose).await,
        Command::Qualify(args) => qualify::qualify(args).await,
        Command::Validate { paths, format } => list::validate(&paths, format),
        Command::List { paths, format } => list::list(&paths, format),
        Command::Judge {
            journal,
            json,
            junit,
            html,
        } => judge::judge(
            report::document::Command::Judge,
            &journal,
            &judge::Outputs {
                json: json.as_deref(),
                junit: junit.as_deref(),
                html: html.as_deref(),
            },
            verbose,
        ),
        Command::Clean {
            target: None, runs, ..
        } => clean::clean(runs).await,
        Command::Clean {
            target: Some(t),
            ssh,
            runs,
        } => clean::remote(&t, &ssh, runs).await,
        Command::Engines { action } => engines::engines(action).await,
        Command::Vm { action } => vm::vm(action).await,
        Command::Schema { of } => {
            let text = match of {
                SchemaOf::Scenario => schema(),
                SchemaOf::Report => report::document::schema(),
            };
            // A closed pipe (`shakedown schema | head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{text}");
            Ok(EXIT_OK)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .map_err(|e| Error::env(format!("cannot render the manual page: {e}")))?;
            let _ = std::io::stdout().write_all(&out);
            Ok(EXIT_OK)
        }
        Command::Scenarios {
            action: ScenariosCommand::Export { dir, force },
        } => {
            for f in builtin::export(&dir, &schema(), force)? {
                println!("{}", f.display());
            }
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

fn or_builtin(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    if paths.is_empty() {
        Ok(vec![builtin::suite()?])
    } else {
        Ok(paths.to_vec())
    }
}

/// The scenarios `run` or `qualify` was given (the built-in suite by default), planned; none is an
/// error. Planned once, here, for every target or side: bad input stops the command before
/// anything runs.
fn planned(
    paths: &[PathBuf],
    repeat: Option<u32>,
    filter: Option<&str>,
) -> Result<Vec<PlannedScenario>> {
    let plans = scenario::plan(&or_builtin(paths)?, repeat, filter)?;
    if plans.is_empty() {
        return Err(Error::input(format!(
            "no scenario matches --filter {:?}",
            filter.unwrap_or_default()
        )));
    }
    Ok(plans)
}

/// Prints a JSON document on standard output (a closed pipe is the reader's choice).
fn print_json(v: &serde_json::Value) {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    let _ = writeln!(std::io::stdout(), "{text}");
}

/// The JSON Schema of the scenario format (draft-07, which yaml-language-server supports).
pub fn schema() -> String {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Scenario>();
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}
