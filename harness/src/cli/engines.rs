//! `engines`: Debian's docker.io releases listed, fetched into the cache and removed.

use clap::Subcommand;
use model::error::{Error, Result, EXIT_OK};

/// `shakedown engines ...`.
#[derive(Debug, Subcommand)]
pub enum EnginesCommand {
    /// The docker.io versions Debian's suites offer, and those fetched.
    List {
        /// Output: text, or JSON (`{"format": 1, "engines": [{"version", "suite",
        /// "package_version", "fetched"}]}`).
        #[arg(long, value_enum, default_value = "text")]
        format: super::OutputFormat,
    },
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

/// `shakedown engines ...`.
pub(super) async fn engines(action: EnginesCommand) -> Result<i32> {
    let e = engine::cache::Engines::new(&engine::default_state_dir());
    let env = |err: anyhow::Error| Error::env(format!("{err:#}"));
    match action {
        EnginesCommand::List { format } => {
            let fetched = e.fetched();
            let available = e.available().await.map_err(env)?;
            let is_fetched = |v: &str| fetched.iter().any(|f| f.version == v);
            if format == super::OutputFormat::Json {
                let engines: Vec<_> = available
                    .iter()
                    .map(|a| {
                        serde_json::json!({
                            "version": a.version,
                            "suite": a.suite,
                            "package_version": a.package_version,
                            "fetched": is_fetched(&a.version),
                        })
                    })
                    .collect();
                super::print_json(&serde_json::json!({"format": 1, "engines": engines}));
                return Ok(EXIT_OK);
            }
            for a in available {
                let mark = if is_fetched(&a.version) {
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
            let f = e
                .fetch(&engine)
                .await
                .map_err(|err| engine::cache::engine_error("", &err))?;
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
