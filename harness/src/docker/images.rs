//! Images: whether a daemon has one.

use anyhow::anyhow;

use super::{no_answer, DockerClient, CALL_DEADLINE};

impl DockerClient {
    /// Whether the daemon has an image by that name.
    pub async fn image_exists(&self, name: &str) -> anyhow::Result<bool> {
        match tokio::time::timeout(CALL_DEADLINE, self.inner.inspect_image(name)).await {
            Err(_) => Err(no_answer(&format!("inspect image {name}"), CALL_DEADLINE)),
            Ok(Ok(_)) => Ok(true),
            Ok(Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            })) => Ok(false),
            Ok(Err(e)) => Err(anyhow!(e).context(format!("docker: inspect image {name}"))),
        }
    }
}
