//! Runs `churn` (its arguments, and what it does: `action/churn.rs`).

use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;

use super::Execute;
use crate::ctx::Ctx;
use model::action::Churn;
use model::record::Measure;

impl Execute for Churn {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let name = self.container.value.as_str();
        let c: &Ctx<'_> = ctx;
        let scope = c.step_scope();
        let t = Instant::now();
        let results: Vec<anyhow::Result<[Duration; 4]>> =
            futures_util::stream::iter(0..self.cycles)
                .map(|i| async move {
                    let docker_name = format!("{}-churn{i}", c.docker_name(name));
                    let t0 = Instant::now();
                    let (id, change) = c.create_like(name, &docker_name, scope, true).await?;
                    let created = t0.elapsed();
                    let cycle = async {
                        let t1 = Instant::now();
                        c.docker.start(&id).await?;
                        let started = t1.elapsed();
                        let t2 = Instant::now();
                        c.docker
                            .stop(&id, Some(Duration::from_secs(1)), Duration::from_secs(30))
                            .await?;
                        anyhow::Ok((started, t2.elapsed()))
                    }
                    .await;
                    // Remove even after a failed start or stop: churn must not leave containers
                    // (and what it cannot remove, the ledger removes when the step ends).
                    let t3 = Instant::now();
                    let removed = c.docker.remove(&id).await;
                    if removed.is_ok() {
                        c.ledger.resolved(change, "removed by churn");
                    }
                    let (started, stopped) = cycle?;
                    removed?;
                    Ok([created, started, stopped, t3.elapsed()])
                })
                .buffer_unordered(self.concurrency.unwrap_or(1) as usize)
                .collect()
                .await;
        let elapsed = t.elapsed();
        let mut failures = vec![];
        for r in results {
            match r {
                Ok(phases) => {
                    for (phase, d) in ["create", "start", "stop", "remove"].iter().zip(phases) {
                        ctx.measure(phase, d);
                    }
                }
                Err(e) => failures.push(format!("{e:#}")),
            }
        }
        ctx.record_measure(Measure {
            name: "cycles_per_second".into(),
            value: f64::from(self.cycles) / elapsed.as_secs_f64().max(1e-9),
            unit: "1/s".into(),
            source: "monotonic".into(),
        });
        if let Some(first) = failures.first() {
            anyhow::bail!(
                "{} of {} cycles failed; first: {first}",
                failures.len(),
                self.cycles
            );
        }
        Ok(())
    }
}
