//! `clean`: what dead runs left undone, on this machine or (`--target`) on a host.

use super::inventory::{parse_target, TargetArg};
use super::SshArgs;
use ::run::clean::Retention;
use model::error::{Error, Result, EXIT_FAILED, EXIT_OK};

/// `clean`: this machine (and with `runs`, finished runs' directories).
pub(super) async fn clean(runs: Option<Retention>) -> Result<i32> {
    let state = engine::default_state_dir();
    let cleaned = ::run::clean::clean(&state).await;
    for l in &cleaned.lines {
        println!("{l}");
    }
    // Managed daemons whose owner died before its journal named them.
    let root = state.join("managed");
    if root.is_dir() {
        let lines = engine::managed::sweep_stale(&root)
            .await
            .map_err(|e| Error::env(format!("{e:#}")))?;
        for l in &lines {
            println!("{l}");
        }
    }
    if let Some(keep) = runs {
        let removed = host::blocking(
            "removing finished runs' directories",
            std::time::Duration::from_secs(600),
            move || ::run::clean::prune(&state, keep),
        )
        .await
        .map_err(|e| Error::env(e.to_string()))?;
        for dir in &removed {
            println!("removed {dir}");
        }
    }
    if cleaned.failed > 0 {
        println!("{} change(s) could not be undone", cleaned.failed);
        return Ok(EXIT_FAILED);
    }
    Ok(EXIT_OK)
}

/// `clean --target`: the host cleans itself (`shakedown clean` there).
pub(super) async fn remote(t: &str, ssh: &SshArgs, runs: Option<Retention>) -> Result<i32> {
    let access = ssh.access();
    let remote = match parse_target(t).map_err(Error::input)? {
        TargetArg::Remote(remote::HostSpec::Ssh(target)) => access.to(target),
        TargetArg::Remote(remote::HostSpec::Vagrant(m)) => access
            .vagrant(&m)
            .await
            .map_err(|e| Error::env(format!("{e:#}")))?,
        TargetArg::Remote(remote::HostSpec::Vm(_)) => {
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
    let runs = runs.map(|r| match r {
        Retention::Keep(n) => format!("keep={n}"),
        Retention::OlderThan(d) => format!("older-than={}s", d.as_secs()),
    });
    let (text, code) = remote::clean(&remote, runs.as_deref())
        .await
        .map_err(|e| Error::env(format!("{e:#}")))?;
    print!("{text}");
    Ok(code)
}
