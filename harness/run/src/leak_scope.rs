//! What a `check_leaks` step may compare: the objects of the daemon under test, told apart from
//! everyone else's on the host — or nothing, with the reason, when they cannot be.

use crate::ctx::Ctx;

impl Ctx<'_> {
    /// What leak detection compares: the daemon's own objects (the whole host only when asked).
    pub async fn leak_scope(&self, host_wide: bool) -> host::leaks::Scope {
        let host = self.docker.host();
        // A daemon reached over TCP at another address runs on another machine: nothing read here
        // says anything of its leaks, not even the whole host's.
        let here = self.daemon.is_some()
            || host.starts_with("unix://")
            || host.starts_with('/')
            || ["tcp://127.", "tcp://localhost:", "tcp://[::1]:"]
                .iter()
                .any(|p| host.starts_with(p));
        let mut scope = match &self.daemon {
            Some(h) => h.lock().await.scope(),
            None if !here => host::leaks::Scope {
                unknown: Some(format!(
                    "the daemon at {host} runs on another machine, whose objects this one cannot \
                     see (run there: --target ssh://HOST?daemon=docker)"
                )),
                ..Default::default()
            },
            None => host::leaks::Scope {
                unknown: Some(format!(
                    "the daemon at {host} is not one the harness knows on this host, so its objects \
                     cannot be told apart from others' (compare the whole host with `scope: host`)"
                )),
                ..Default::default()
            },
        };
        scope.host_wide = host_wide && here;
        scope.containers = self.created.lock().map(|c| c.clone()).unwrap_or_default();
        scope.netns = self.netns_seen.clone();
        scope
    }
}
