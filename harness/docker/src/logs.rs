//! A container's output: its last lines, or the lines stamped since a moment.

use futures_util::StreamExt;

use super::{within, DockerClient, CALL_DEADLINE};

impl DockerClient {
    /// The last `tail` lines of a container's output (all of it for `usize::MAX`), as the daemon's
    /// chunks.
    async fn log_chunks(
        &self,
        id: &str,
        tail: usize,
    ) -> anyhow::Result<Vec<bollard::container::LogOutput>> {
        self.log_query(
            id,
            bollard::query_parameters::LogsOptions {
                // `usize::MAX`: the whole log.
                tail: if tail == usize::MAX {
                    "all".to_string()
                } else {
                    tail.to_string()
                },
                ..Default::default()
            },
        )
        .await
    }

    /// A container's stdout and stderr as `opts` selects them, as the daemon's chunks.
    async fn log_query(
        &self,
        id: &str,
        opts: bollard::query_parameters::LogsOptions,
    ) -> anyhow::Result<Vec<bollard::container::LogOutput>> {
        let opts = bollard::query_parameters::LogsOptions {
            stdout: true,
            stderr: true,
            ..opts
        };
        let collect = async {
            let mut out = Vec::new();
            let mut s = Box::pin(self.inner.logs(id, Some(opts)));
            while let Some(chunk) = s.next().await {
                out.push(chunk?);
            }
            Ok::<_, bollard::errors::Error>(out)
        };
        within(&format!("logs of container {id}"), CALL_DEADLINE, collect).await
    }

    /// The lines of a container's stdout and stderr that the daemon received at or after `since`
    /// (Unix time, seconds), told apart by the daemon's own timestamp on each line, never by their
    /// text: a line equal to an older one is new all the same. The daemon and the harness share
    /// the host's clock (the harness runs where the daemon runs).
    pub async fn logs_since(&self, id: &str, since: f64) -> anyhow::Result<Vec<String>> {
        let opts = bollard::query_parameters::LogsOptions {
            timestamps: true,
            // Whole seconds on the wire; the exact cut is made below.
            since: (since.floor() as i64 - 1).clamp(0, i32::MAX as i64) as i32,
            tail: "all".to_string(),
            ..Default::default()
        };
        let chunks = self.log_query(id, opts).await?;
        let text: String = chunks.iter().map(|c| c.to_string()).collect();
        Ok(lines_since(&text, since))
    }

    /// The last `tail` lines of a container's stdout and stderr.
    pub async fn logs(&self, id: &str, tail: usize) -> anyhow::Result<String> {
        Ok(self
            .log_chunks(id, tail)
            .await?
            .iter()
            .map(|c| c.to_string())
            .collect())
    }

    /// The last `tail` lines of a container's output, stdout and stderr apart (the daemon's
    /// interleaving of the two is not the order the process wrote them in).
    pub async fn logs_by_stream(&self, id: &str, tail: usize) -> anyhow::Result<(String, String)> {
        let (mut out, mut err) = (String::new(), String::new());
        for chunk in self.log_chunks(id, tail).await? {
            match chunk {
                bollard::container::LogOutput::StdErr { message } => {
                    err.push_str(&String::from_utf8_lossy(&message))
                }
                other => out.push_str(&other.to_string()),
            }
        }
        Ok((out, err))
    }
}

/// The lines of a timestamped log (`<RFC 3339 time> <text>`, as the daemon writes them with
/// `timestamps=true`) stamped at or after `since` (Unix time, seconds), without their stamps. A line
/// whose stamp cannot be read belongs with the line before it (a message containing a newline).
pub fn lines_since(text: &str, since: f64) -> Vec<String> {
    let since_ns = (since * 1e9) as i128;
    let mut out = Vec::new();
    let mut keep = false;
    for line in text.lines() {
        let stamped = line
            .split_once(' ')
            .and_then(|(t, rest)| Some((model::units::parse_time(t)?, rest)));
        match stamped {
            Some((ns, rest)) => {
                keep = ns >= since_ns;
                if keep {
                    out.push(rest.to_string());
                }
            }
            None if keep => out.push(line.to_string()),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::lines_since;

    #[test]
    fn new_lines_are_told_by_their_stamp_not_their_text() {
        let log = "2026-12-06T12:00:00.100000000Z foobar\n\
                   2026-12-06T12:00:01.500000000Z foobar\n\
                   2026-12-06T12:00:01.600000000Z tick 2\n\
                   and a second line of it\n";
        // 2026-12-06T12:00:01Z
        let t = 1796558401.0;
        assert_eq!(
            lines_since(log, t),
            ["foobar", "tick 2", "and a second line of it"]
        );
        assert_eq!(
            lines_since(log, t + 0.55),
            ["tick 2", "and a second line of it"]
        );
        assert_eq!(lines_since(log, t - 1.0).len(), 4);
        assert!(lines_since(log, t + 1.0).is_empty());
    }
}
