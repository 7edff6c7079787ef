//! TEMPORARY STUB (replaced by the managed helper's module).
#![allow(missing_docs, dead_code, unused)]
use std::path::{Path, PathBuf};
use std::time::Duration;
pub struct EngineBinaries {
    pub dir: Option<PathBuf>,
}
impl EngineBinaries {
    pub fn resolve(&self) -> anyhow::Result<ResolvedEngine> {
        anyhow::bail!("stub")
    }
}
pub struct ResolvedEngine {
    pub dockerd: PathBuf,
}
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DaemonOptions {
    pub live_restore: bool,
    pub debug: bool,
    pub extra_args: Vec<String>,
}
pub struct ManagedDaemon {
    o: DaemonOptions,
    d: PathBuf,
}
impl ManagedDaemon {
    pub async fn start(
        state_root: &Path,
        engine: &ResolvedEngine,
        opts: &DaemonOptions,
        ready_deadline: Duration,
    ) -> anyhow::Result<Self> {
        anyhow::bail!("stub")
    }
    pub fn docker_host(&self) -> String {
        String::new()
    }
    pub fn dir(&self) -> &Path {
        &self.d
    }
    pub fn options(&self) -> &DaemonOptions {
        &self.o
    }
    pub async fn stop(&mut self, deadline: Duration) -> anyhow::Result<()> {
        Ok(())
    }
    pub async fn start_again(
        &mut self,
        opts: &DaemonOptions,
        ready_deadline: Duration,
    ) -> anyhow::Result<()> {
        Ok(())
    }
    pub async fn shutdown(self, deadline: Duration) -> anyhow::Result<()> {
        Ok(())
    }
}
pub async fn sweep_stale(state_root: &Path) -> anyhow::Result<Vec<String>> {
    Ok(vec![])
}
