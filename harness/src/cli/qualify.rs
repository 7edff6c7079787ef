//! `qualify`: the same scenarios on a baseline and a candidate (see [`crate::qualify`]), compared
//! and reported.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{planned, SshArgs, DEFAULT_JOBS};
use ::run::session::{self, Signals};
use model::error::{exit_code, Error, Result, EXIT_FAILED, EXIT_OK};

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
    /// Rounds per side: a fixed count N (default 5), or `auto` (at least 3, then only the
    /// scenarios still undecided run again, up to --max-repeat or --budget).
    #[arg(long, value_name = "N|auto", default_value = "5", value_parser = parse_repeat)]
    pub repeat: Repeat,
    /// With --repeat auto: rounds per side at most.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_repeat: Option<u32>,
    /// With --repeat auto: start no round that would end past this much time (e.g. 30m); every
    /// scenario still runs 3 rounds.
    #[arg(long, value_name = "DURATION")]
    pub budget: Option<model::units::HumanDuration>,
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
    pub forensics: super::ForensicsArg,
    /// Load the images of this `docker save` archive into every side's daemons (repeatable).
    #[arg(long, value_name = "FILE.tar")]
    pub load: Vec<PathBuf>,
    /// Progress on stderr: `lines`, `tty`, `none`, or `auto` (`tty` on a terminal, else `lines`).
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: super::ProgressArg,
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// `--repeat`: `auto` or a count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Until each scenario is decided.
    Auto,
    /// N rounds.
    Fixed(u32),
}

fn parse_repeat(s: &str) -> std::result::Result<Repeat, String> {
    match s {
        "auto" => Ok(Repeat::Auto),
        n => match n.parse::<u32>() {
            Ok(n) if (1..=10000).contains(&n) => Ok(Repeat::Fixed(n)),
            _ => Err(format!("{n:?} is not auto or a count from 1 to 10000")),
        },
    }
}

/// `shakedown qualify`; returns the exit code.
pub(super) async fn qualify(args: QualifyArgs) -> Result<i32> {
    use crate::qualify::{self, side::Side};
    let (baseline, candidate) = (Side::parse(&args.baseline)?, Side::parse(&args.candidate)?);
    // A side's daemon.json is read now, so that a bad file stops the command before any round.
    for side in [&baseline, &candidate] {
        for line in side.config()?.left_out {
            eprintln!("side {}: {line}", side.spec);
        }
    }
    let plans = if baseline.runs() || candidate.runs() {
        planned(&args.paths, Some(1), args.filter.as_deref())?
    } else {
        vec![]
    };
    let thresholds = match &args.thresholds {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::input(format!("{}: cannot read: {e}", path.display())))?;
            model::config::thresholds(&text, path)?
        }
        None => qualify::Thresholds::default(),
    };
    let remote = |s: &Side| matches!(s.kind, qualify::side::SideKind::Remote { .. });
    if !args.load.is_empty() && (remote(&baseline) || remote(&candidate)) {
        return Err(Error::input(
            "--load with a side on a host: name the archive in the scenario (`images: {REF: {tar: FILE}}`); it is copied to the host with the scenario",
        ));
    }
    let rounds = match args.repeat {
        Repeat::Fixed(_) if args.max_repeat.is_some() || args.budget.is_some() => {
            return Err(Error::input(
                "--max-repeat and --budget go with --repeat auto, not a fixed count",
            ))
        }
        Repeat::Fixed(n) => qualify::run::Rounds::Fixed(n),
        Repeat::Auto => qualify::run::Rounds::Auto(judge::sequential::Policy::new(
            args.max_repeat
                .map_or(judge::sequential::DEFAULT_MAX_ROUNDS, |n| n as usize),
            args.budget.map(|b| b.get()),
        )),
    };
    let images = engine::images::resolve(&plans, &args.load, true).await?;
    let progress = std::sync::Arc::new(report::progress::Progress::new(args.progress.mode()));
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
        rounds,
        thresholds,
        out: args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("shakedown-qualify").join(session::new_run_id())),
        forensics: args.forensics.into(),
        listener: progress.listener(),
    };
    let signals = Signals::install()?;
    let report = qualify::run::qualify(&q, &signals).await;
    progress.clear();
    let report = report?;
    let text = report::qualify::render(&report);
    if args.json.as_deref() == Some(Path::new("-")) {
        // `--json -`: standard output carries the report alone.
        eprint!("{text}");
    } else {
        print!("{text}");
        let _ = std::io::stdout().flush();
    }
    let write = |path: &Path, text: String| {
        std::fs::write(path, text)
            .map_err(|e| Error::env(format!("cannot write {}: {e}", path.display())))
    };
    let fails = report.fails();
    let html = args
        .html
        .as_ref()
        .map(|_| report::html::qualify_page(&report));
    let junit = match &args.junit {
        Some(_) => Some(report::qualify::junit(&report).map_err(|e| Error::env(format!("{e:#}")))?),
        None => None,
    };
    if let Some(p) = &args.json {
        report::document::Document::of_qualification(report)
            .write(p)
            .map_err(|e| Error::env(format!("{e:#}")))?;
    }
    if let (Some(p), Some(text)) = (&args.junit, junit) {
        write(p, text)?;
    }
    if let (Some(p), Some(page)) = (&args.html, html) {
        write(p, page)?;
    }
    let code = if fails { EXIT_FAILED } else { EXIT_OK };
    Ok(exit_code(signals.which(), code))
}
