//! TEMPORARY STUB (replaced by the fixture helper's module).
/// Stub.
pub async fn ensure_image(_d: &bollard::Docker, _t: std::time::Duration) -> anyhow::Result<String> {
    anyhow::bail!("stub")
}
