//! `run` on several targets at once (bounded): one report, a section per target.

use std::io::Write;

use super::inventory::NamedTarget;
use super::judge::report_of;
use super::run::{run_target, RunArgs};
use ::run::scenario;
use ::run::session::Signals;
use model::error::{exit_code, Error, Result, EXIT_FAILED, EXIT_OK};

/// Several targets at once (bounded): one report, a section per target.
pub(super) async fn run_many(
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
                .map(|a| a.join(model::units::file_name(&t.name)));
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
                        code = code.max(e.exit_code());
                        report::multi::Section::failed(&t.name, &t.labels, e.to_string())
                    }
                }
            }
            Err(e) => {
                code = code.max(e.exit_code());
                report::multi::Section::failed(&t.name, &t.labels, e.to_string())
            }
        };
        sections.push(section);
    }
    let multi = report::multi::MultiReport::new(sections);
    let text = report::multi::terminal(&multi, verbose);
    if args.json.as_deref() == Some(std::path::Path::new("-")) {
        // `--json -`: standard output carries the report alone.
        eprint!("{text}");
    } else {
        print!("{text}");
        let _ = std::io::stdout().flush();
    }
    if let Some(path) = &args.json {
        report::multi::document(&multi)
            .write(path)
            .map_err(|e| Error::env(format!("{e:#}")))?;
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
