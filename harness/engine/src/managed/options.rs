//! Daemon options a scenario can require, and how they clash with dockerd's flags.

/// Daemon options a scenario can require.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DaemonOptions {
    /// `--live-restore`: containers keep running while dockerd is down.
    pub live_restore: bool,
    /// `--debug`: verbose daemon log.
    pub debug: bool,
    /// Further dockerd arguments, appended last so they can override ours where dockerd lets
    /// a later flag win.
    pub extra_args: Vec<String>,
    /// Settings written into the daemon's `daemon.json` (a scenario's `daemon_options`).
    pub config: std::collections::BTreeMap<String, serde_json::Value>,
}

impl DaemonOptions {
    pub(super) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "live_restore": self.live_restore,
            "debug": self.debug,
            "extra_args": self.extra_args,
            "config": self.config,
        })
    }

    /// Keys of `config` that one of our flags also sets: dockerd refuses to start with a setting
    /// given both as a flag and in its config file.
    pub fn conflicts(&self) -> Vec<String> {
        let mut flags: Vec<String> = self
            .extra_args
            .iter()
            .filter_map(|a| a.strip_prefix("--"))
            .map(|a| a.split('=').next().unwrap_or(a).to_string())
            .collect();
        if self.live_restore {
            flags.push("live-restore".into());
        }
        if self.debug {
            flags.push("debug".into());
        }
        self.config
            .keys()
            .filter(|k| flags.iter().any(|f| f == *k))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keys_also_given_as_flags_conflict() {
        let config = [
            ("shutdown-timeout".to_string(), serde_json::json!(5)),
            ("default-ulimits".to_string(), serde_json::json!({})),
        ]
        .into();
        let opts = DaemonOptions {
            extra_args: vec!["--shutdown-timeout=30".into(), "--debug".into()],
            config,
            ..Default::default()
        };
        assert_eq!(opts.conflicts(), ["shutdown-timeout"]);
        let opts = DaemonOptions {
            live_restore: true,
            config: [("live-restore".to_string(), serde_json::json!(true))].into(),
            ..Default::default()
        };
        assert_eq!(opts.conflicts(), ["live-restore"]);
        assert!(DaemonOptions::default().conflicts().is_empty());
    }
}
