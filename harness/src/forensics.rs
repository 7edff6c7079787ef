//! TEMPORARY STUB (replaced by the forensics module).
#![allow(missing_docs, dead_code, unused)]
use std::path::{Path, PathBuf};
use std::time::Duration;
#[derive(Clone, Debug, Default)]
pub struct DaemonInfo {
    pub dockerd_pid: Option<u32>,
    pub exec_root: Option<PathBuf>,
    pub log_path: Option<PathBuf>,
    pub containerd_pid: Option<u32>,
}
pub struct Bundle {
    dir: PathBuf,
}
pub struct DumpRequest;
impl Bundle {
    pub fn create(root: &Path, name: &str, reason: &str) -> anyhow::Result<Bundle> {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("reason.txt"), reason)?;
        Ok(Bundle { dir })
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub async fn snapshot(&mut self, info: &DaemonInfo) -> anyhow::Result<()> {
        Ok(())
    }
    pub fn write_api_answers(&mut self, answers: &[(String, String)]) -> anyhow::Result<()> {
        Ok(())
    }
    pub fn request_goroutine_dumps(&mut self, info: &DaemonInfo) -> anyhow::Result<DumpRequest> {
        Ok(DumpRequest)
    }
    pub async fn collect_goroutine_dumps(
        &mut self,
        req: &DumpRequest,
        deadline: Duration,
    ) -> anyhow::Result<Vec<PathBuf>> {
        Ok(vec![])
    }
    pub fn finish(self) -> anyhow::Result<PathBuf> {
        Ok(self.dir)
    }
}
pub fn is_stopped(pid: u32) -> bool {
    false
}
