//! `vm`: VM images built, listed, removed, and booted for a shell.

use ::run::session::Signals;
use clap::Subcommand;
use model::error::{Error, Result, EXIT_OK};

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
        #[arg(long, value_name = "PACKAGE", default_value = remote::vm::DEFAULT_KERNEL)]
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

/// `shakedown vm ...`; `vm ssh` exits with the command's code.
pub(super) async fn vm(action: VmCommand) -> Result<i32> {
    let vms = remote::vm::Vms::new(&engine::default_state_dir());
    let env = |err: anyhow::Error| Error::env(format!("{err:#}"));
    match action {
        VmCommand::Build {
            name,
            suite,
            kernel,
            engine,
        } => {
            remote::vm::check_name(&name).map_err(Error::input)?;
            if !engine::cache::SUITES.contains(&suite.as_str()) {
                return Err(Error::input(format!(
                    "unknown suite {suite:?}: one of {}",
                    engine::cache::SUITES.join(", ")
                )));
            }
            let spec = remote::vm::Spec {
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
            // A name that names no image is bad input; a removal that fails, the environment's.
            if !vms.list().iter().any(|i| i.name == name) {
                return Err(Error::input(format!("no VM image {name}")));
            }
            vms.remove(&name).await.map_err(env)?;
            println!("removed vm {name}");
        }
        VmCommand::Ssh { name, command } => {
            let signals = Signals::install()?;
            let mut vm = vms.boot(&name, &signals.cancel).await.map_err(env)?;
            eprintln!("{}", vm.up_line());
            let code = vm
                .ssh(remote::REMOTE_HOME, None)
                .interactive(&command)
                .await;
            vm.shutdown().await;
            return code.map_err(env);
        }
    }
    Ok(EXIT_OK)
}
