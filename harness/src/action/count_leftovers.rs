//! `count_leftovers`: what the managed daemon's containers left on the host — shim processes in its
//! containerd namespace, overlay/shm mounts under its directories, network namespaces still mounted
//! under its exec-root — as count measures (`shims`, `mounts`, `netns`) with the names as facts. After
//! the containers are removed every count must be zero; restart storms are where leaks show.
//! (Unmounted netns *files* are not counted: libnetwork unmounts a namespace at once and deletes its
//! file in a periodic garbage collection a minute later.)

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::ActionKind;
use crate::record::Measure;
use crate::runner::Ctx;
use crate::scenario::Scenario;

/// Arguments of `count_leftovers` (none: `count_leftovers: {}`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CountLeftovers {}

fn count(name: &str, n: usize) -> Measure {
    Measure {
        name: name.into(),
        value: n as f64,
        unit: "count".into(),
        source: "host".into(),
    }
}

impl ActionKind for CountLeftovers {
    const NAME: &'static str = "count_leftovers";

    fn container_refs(&self) -> Vec<&Spanned<String>> {
        Vec::new()
    }

    fn default_deadline(&self, _: &Scenario) -> Duration {
        Duration::from_secs(30)
    }

    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let (ns, dir, exec_root, data_root) = {
            let handle = ctx.daemon()?;
            let d = handle.lock().await;
            (
                d.containerd_namespace(),
                d.dir().to_path_buf(),
                d.exec_root(),
                d.data_root(),
            )
        };
        let shims = crate::proc::shims_in_namespace(&ns);
        let data_root = data_root.to_string_lossy().to_string();
        let dir_s = dir.to_string_lossy().to_string();
        let netns_dir = exec_root.join("netns").to_string_lossy().to_string();
        let all: Vec<(String, String)> = tokio::task::spawn_blocking(|| {
            std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default()
        })
        .await?
        .lines()
        .filter_map(|l| {
            let point = l.split(' ').nth(4)?.to_string();
            let fstype = l.split(" - ").nth(1)?.split(' ').next()?.to_string();
            Some((point, fstype))
        })
        .filter(|(p, _)| p.starts_with(&dir_s) && *p != data_root)
        .collect();
        // The data-root's bind mount on itself is the daemon's, not a container's.
        let mounts: Vec<String> = all
            .iter()
            .filter(|(_, fs)| matches!(fs.as_str(), "overlay" | "tmpfs" | "shm"))
            .map(|(p, fs)| format!("{fs} {p}"))
            .collect();
        let netns: Vec<String> = all
            .iter()
            .filter(|(p, fs)| fs == "nsfs" || p.starts_with(&netns_dir))
            .map(|(p, _)| p.clone())
            .collect();
        ctx.measures.push(count("shims", shims.len()));
        ctx.measures.push(count("mounts", mounts.len()));
        ctx.measures.push(count("netns", netns.len()));
        ctx.fact(
            "shims",
            shims
                .iter()
                .map(|p| p.pid.to_string())
                .collect::<Vec<_>>()
                .join(" "),
        );
        ctx.fact("mounts", mounts.join("\n"));
        ctx.fact("netns", netns.join(" "));
        Ok(())
    }
}
