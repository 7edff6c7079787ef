//! Images: inspected, built from a tar context, loaded from an archive, copied out of a daemon and
//! tagged. A build's or a load's output is read through [`Output`], each item before a deadline.

use std::collections::HashMap;
use std::pin::Pin;

use anyhow::anyhow;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, BuilderVersion, ImportImageOptions, TagImageOptions,
};
use futures_util::{Stream, StreamExt, TryStreamExt};
use tokio::time::Instant;

use super::{no_answer, DockerClient, CALL_DEADLINE};

/// What a daemon says of an image reference.
#[derive(Debug)]
pub enum Inspected {
    /// It has it.
    Found {
        /// `sha256:…` of the image.
        id: String,
        /// The labels of its config.
        labels: HashMap<String, String>,
    },
    /// It has no such image (404): the daemon's answer.
    Absent(anyhow::Error),
    /// It refused otherwise, or the call failed.
    Failed(anyhow::Error),
    /// No answer before the deadline.
    NoAnswer,
}

/// The output of a build or a load, each item read before the deadline it was started with
/// (bollard's own timeout does not bound streams).
pub struct Output<'a> {
    stream: Pin<Box<dyn Stream<Item = Result<Option<String>, bollard::errors::Error>> + Send + 'a>>,
    end: Instant,
}

/// Why an [`Output`] stopped short of its end.
#[derive(Debug)]
pub enum Cut {
    /// No item came before the deadline.
    Late,
    /// The daemon reported an error: an `errorDetail` item comes as one, with its message.
    Failed(anyhow::Error),
}

impl<'a> Output<'a> {
    fn new(
        stream: impl Stream<Item = Result<bollard::models::BuildInfo, bollard::errors::Error>>
            + Send
            + 'a,
        end: Instant,
    ) -> Self {
        Output {
            stream: Box::pin(stream.map_ok(|info| info.stream.or(info.status))),
            end,
        }
    }

    /// Reads the output to its end; returns its lines of text (the items' `stream` or `status`), or
    /// why it stopped with the lines read until then.
    pub async fn finish(mut self) -> Result<Vec<String>, (Cut, Vec<String>)> {
        let mut lines = Vec::new();
        loop {
            match tokio::time::timeout_at(self.end, self.stream.next()).await {
                Err(_) => return Err((Cut::Late, lines)),
                Ok(None) => return Ok(lines),
                Ok(Some(Ok(line))) => lines.extend(line),
                Ok(Some(Err(e))) => return Err((Cut::Failed(anyhow!(e)), lines)),
            }
        }
    }
}

impl DockerClient {
    /// The daemon at a `unix://` `DOCKER_HOST`, else at the default socket, found as bollard's
    /// local defaults find it (with their header timeout); nothing is sent yet.
    pub fn connect_local_defaults() -> anyhow::Result<Self> {
        let inner = bollard::Docker::connect_with_local_defaults()?;
        Ok(DockerClient {
            inner,
            host: Self::env_host(),
            answers: Default::default(),
        })
    }

    /// Whether the daemon has an image by that name.
    pub async fn image_exists(&self, name: &str) -> anyhow::Result<bool> {
        match self
            .inspect_image(name, Instant::now() + CALL_DEADLINE)
            .await
        {
            Inspected::NoAnswer => Err(no_answer(&format!("inspect image {name}"), CALL_DEADLINE)),
            Inspected::Found { .. } => Ok(true),
            Inspected::Absent(_) => Ok(false),
            Inspected::Failed(e) => Err(e.context(format!("docker: inspect image {name}"))),
        }
    }

    /// What the daemon says of an image reference, answered before `end`.
    pub async fn inspect_image(&self, reference: &str, end: Instant) -> Inspected {
        match tokio::time::timeout_at(end, self.inner.inspect_image(reference)).await {
            Err(_) => Inspected::NoAnswer,
            Ok(Ok(i)) => Inspected::Found {
                id: i.id.unwrap_or_default(),
                labels: i.config.and_then(|c| c.labels).unwrap_or_default(),
            },
            Ok(Err(
                e @ bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                },
            )) => Inspected::Absent(anyhow!(e)),
            Ok(Err(e)) => Inspected::Failed(anyhow!(e)),
        }
    }

    /// Builds `context` (a tar with a `Dockerfile` at its root) with the classic builder (`rm`,
    /// `forcerm`), tagged `tag` and labelled `labels`; its output comes before `end`.
    pub fn build_image(
        &self,
        context: Vec<u8>,
        tag: &str,
        labels: &HashMap<&str, &str>,
        end: Instant,
    ) -> Output<'_> {
        let options = BuildImageOptionsBuilder::new()
            .dockerfile("Dockerfile")
            .t(tag)
            .rm(true)
            .forcerm(true)
            .labels(labels)
            .version(BuilderVersion::BuilderV1)
            .build();
        let body = bollard::body_full(bytes::Bytes::from(context));
        Output::new(self.inner.build_image(options, None, Some(body)), end)
    }

    /// `docker load` of an archive's bytes; its output comes before `end`.
    pub fn load_image<S>(&self, archive: S, end: Instant) -> Output<'_>
    where
        S: Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    {
        let options = ImportImageOptions {
            quiet: true,
            ..Default::default()
        };
        let body = bollard::body_try_stream(archive);
        Output::new(self.inner.import_image(options, body, None), end)
    }

    /// `docker save` of one image, as the bytes [`DockerClient::load_image`] takes (a failure is an
    /// I/O error of the stream).
    pub fn export_image(
        &self,
        reference: &str,
    ) -> impl Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
        self.inner
            .export_image(reference)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }

    /// Tags image `from` as `repo:tag`, answered before `end`.
    pub async fn tag_image(
        &self,
        from: &str,
        repo: String,
        tag: String,
        end: Instant,
    ) -> anyhow::Result<()> {
        let opts = TagImageOptions {
            repo: Some(repo),
            tag: Some(tag),
        };
        tokio::time::timeout_at(end, self.inner.tag_image(from, Some(opts)))
            .await
            .map_err(|_| anyhow!("tagging {from}: no answer"))??;
        Ok(())
    }
}
