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
    /// Add a docker-ce static bundle (`docker-X.Y.Z.tgz` from download.docker.com, a URL, or a
    /// directory of its binaries) to the cache, checked, under the version its dockerd reports
    /// (`ce-27.3.1`): then `--engine ce-27.3.1`, or `engine=ce-27.3.1` in qualify.
    Add {
        /// A .tgz file, an http(s) URL, or a directory.
        #[arg(value_name = "FILE.tgz|URL|DIR")]
        source: String,
        /// The bundle's expected sha256 (download.docker.com publishes none: take it from where
        /// you trust).
        #[arg(long, value_name = "HEX")]
        sha256: Option<String>,
        /// Keep it under this name instead of `ce-<version>`.
        #[arg(long)]
        name: Option<String>,
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
            // Engines added from bundles (`engines add`), which no suite offers.
            let bundles: Vec<_> = fetched.iter().filter(|f| f.suite == "bundle").collect();
            if format == super::OutputFormat::Json {
                let mut engines: Vec<_> = available
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
                engines.extend(bundles.iter().map(|b| {
                    serde_json::json!({
                        "version": b.version,
                        "suite": "bundle",
                        "package_version": b.packages.first().map(|p| p.1.clone()),
                        "fetched": true,
                    })
                }));
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
            for b in bundles {
                let v = b.packages.first().map(|p| p.1.as_str()).unwrap_or("");
                println!("{:<10} {:<9} {:<32} fetched", b.version, "bundle", v);
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
        EnginesCommand::Add {
            source,
            sha256,
            name,
        } => {
            let f = e.add(&source, sha256.as_deref(), name.as_deref()).await?;
            println!("added engine {} into {}", f.version, f.root.display());
            for (name, v, _) in &f.packages {
                println!("  {name} {v}");
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
