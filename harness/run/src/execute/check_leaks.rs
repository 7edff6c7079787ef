//! Runs `check_leaks` (its arguments, and what it does: `action/check_leaks.rs`).

use std::time::Duration;

use tokio::time::Instant;

use super::Execute;
use crate::ctx::Ctx;
use journal::Event;
use model::action::{CheckLeaks, LeakScope};
use model::record::{LeakFinding, Measure};

impl Execute for CheckLeaks {
    async fn run(&self, ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
        let host_wide = self.scope == LeakScope::Host;
        let before = ctx
            .leak_baselines
            .get(&host_wide)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no baseline was taken at the iteration's start"))?;
        let settle = self
            .settle
            .map(|d| d.get())
            .unwrap_or(Duration::from_secs(10));
        let t = Instant::now();
        let leaks = loop {
            let scope = ctx.leak_scope(host_wide).await;
            let after = host::leaks::snapshot(&scope).await;
            let d = host::leaks::diff(&before, &after);
            let settled = d
                .values()
                .all(|f| matches!(f, LeakFinding::Found(v) if v.is_empty()));
            if settled || t.elapsed() >= settle {
                break d;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        for (kind, finding) in &leaks {
            if let LeakFinding::Found(names) = finding {
                ctx.record_measure(Measure {
                    name: format!("leaked_{kind}"),
                    value: names.len() as f64,
                    unit: "count".into(),
                    source: "host".into(),
                });
            }
        }
        ctx.journal.emit(Event::Leaks {
            at: ctx.at,
            findings: leaks,
        });
        Ok(())
    }
}
