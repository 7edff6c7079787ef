//! Container events: streamed live from a task of their own, or read back between two moments.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::anyhow;
use bollard::query_parameters::EventsOptions;
use futures_util::StreamExt;

use super::{within, DockerClient, LABEL_CONTAINER};

impl DockerClient {
    /// Streams the events of containers labelled `label` (`key=value`) from `since` (Unix
    /// seconds, fractional) into a channel, from a task of its own. The task ends when the
    /// receiver is dropped or the stream ends (an `Err` item says why); a stalled stream stalls
    /// only that task.
    pub fn events(
        &self,
        label: &str,
        since: f64,
    ) -> tokio::sync::mpsc::UnboundedReceiver<anyhow::Result<RawEvent>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut stream = Box::pin(self.inner.events(Some(events_options(label, since, None))));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tx.closed() => break,
                    item = stream.next() => {
                        let msg = match item {
                            None => { let _ = tx.send(Err(anyhow!("the event stream ended"))); break }
                            Some(Err(e)) => { let _ = tx.send(Err(anyhow!(e))); break }
                            Some(Ok(m)) => m,
                        };
                        if tx.send(Ok(RawEvent::from_message(msg))).is_err() { break }
                    }
                }
            }
        });
        rx
    }

    /// The events of containers labelled `label` from `since` to `until` (Unix seconds) that the
    /// daemon has logged: a barrier — every event logged before a call returned is in it, whether
    /// or not the live stream has delivered it yet.
    pub async fn events_between(
        &self,
        label: &str,
        since: f64,
        until: f64,
        deadline: Duration,
    ) -> anyhow::Result<Vec<RawEvent>> {
        let stream = self
            .inner
            .events(Some(events_options(label, since, Some(until))));
        let collect = async {
            let mut out = Vec::new();
            let mut s = Box::pin(stream);
            while let Some(m) = s.next().await {
                out.push(RawEvent::from_message(m?));
            }
            Ok::<_, bollard::errors::Error>(out)
        };
        within("events (catch-up)", deadline, collect).await
    }
}

/// A Unix time as the events API takes it: seconds with nanoseconds.
fn api_time(t: f64) -> String {
    let secs = t.floor();
    format!(
        "{}.{:09}",
        secs as i64,
        ((t - secs) * 1e9).round().min(999_999_999.0) as u64
    )
}

fn events_options(label: &str, since: f64, until: Option<f64>) -> EventsOptions {
    EventsOptions {
        since: Some(api_time(since)),
        until: until.map(api_time),
        filters: Some(HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("label".to_string(), vec![label.to_string()]),
        ])),
    }
}

impl RawEvent {
    fn from_message(msg: bollard::models::EventMessage) -> Self {
        let actor = msg.actor.unwrap_or_default();
        let attributes: BTreeMap<String, String> =
            actor.attributes.unwrap_or_default().into_iter().collect();
        let action = msg.action.unwrap_or_default();
        let action = action
            .split(':')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        RawEvent {
            received: tokio::time::Instant::now(),
            time_nano: msg
                .time_nano
                .unwrap_or(msg.time.unwrap_or(0) * 1_000_000_000),
            action,
            id: actor.id.unwrap_or_default(),
            container: attributes.get(LABEL_CONTAINER).cloned(),
            attributes,
        }
    }
}

/// A container event as received, before the runner places it on its timeline.
#[derive(Clone, Debug)]
pub struct RawEvent {
    /// When the harness received it.
    pub received: tokio::time::Instant,
    /// The daemon's timestamp.
    pub time_nano: i64,
    /// Event action without its detail suffix (`exec_start: sh` → `exec_start`).
    pub action: String,
    /// The container's docker id.
    pub id: String,
    /// The container's scenario name, from its label.
    pub container: Option<String>,
    /// The actor's attributes (labels, `exitCode`, `signal`, ...).
    pub attributes: BTreeMap<String, String>,
}
