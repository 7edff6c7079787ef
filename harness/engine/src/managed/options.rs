//! Daemon options a scenario can require, the user's own configuration, and how they clash with
//! dockerd's flags.

/// `daemon.json` keys the harness owns for a managed daemon: its directories, socket, pidfile,
/// containerd namespaces, bridge and addresses. A user's configuration loses them
/// ([`user_config`]), each named, so the daemon stays the harness's own and the host's untouched.
pub const OWNED_KEYS: &[&str] = &[
    "data-root",
    "exec-root",
    "hosts",
    "pidfile",
    "containerd",
    "containerd-namespace",
    "containerd-plugins-namespace",
    "bridge",
    "bip",
    "fixed-cidr",
    "default-address-pools",
    "iptables",
    "ip-masq",
];

/// A user's daemon configuration (`run --daemon-config`, a qualify side's `config=`), read once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserConfig {
    /// The file it was read from (none: no user configuration).
    pub file: Option<std::path::PathBuf>,
    /// Its settings, without the keys the harness owns: the managed daemon's `daemon.json`
    /// starts from them.
    pub settings: std::collections::BTreeMap<String, serde_json::Value>,
    /// One line per key left out ([`user_config`]).
    pub left_out: Vec<String>,
}

impl UserConfig {
    /// Reads the file at `path`; errors name the file (and the line and column).
    pub fn read(path: &std::path::Path) -> Result<UserConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let (settings, left_out) =
            user_config(&text).map_err(|e| format!("{}:{e}", path.display()))?;
        Ok(UserConfig {
            file: Some(path.to_path_buf()),
            settings,
            left_out,
        })
    }
}

/// A user's `daemon.json` (`run --daemon-config`), without the keys the harness owns: the
/// settings, and one line per key left out.
pub fn user_config(
    text: &str,
) -> Result<
    (
        std::collections::BTreeMap<String, serde_json::Value>,
        Vec<String>,
    ),
    String,
> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("{}:{}: {e}", e.line(), e.column()))?;
    let serde_json::Value::Object(map) = value else {
        return Err("1:1: not a JSON object (daemon.json is `{\"key\": value, …}`)".into());
    };
    let mut overridden = Vec::new();
    let mut config = std::collections::BTreeMap::new();
    for (k, v) in map {
        if OWNED_KEYS.contains(&k.as_str()) {
            overridden.push(format!("{k} ({v} left out: the harness owns it)"));
        } else {
            config.insert(k, v);
        }
    }
    Ok((config, overridden))
}

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
    /// `--data-root` elsewhere than `D/data`: a directory on a filesystem the harness made for a
    /// scenario (`requires: {data_root: ...}`).
    pub data_root: Option<std::path::PathBuf>,
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
    fn a_users_configuration_loses_only_the_keys_the_harness_owns() {
        let (config, overridden) = user_config(
            r#"{"log-driver": "json-file", "data-root": "/var/lib/docker", "hosts": ["unix:///x"],
                "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 10, "Hard": 20}}}"#,
        )
        .unwrap();
        assert_eq!(
            config.keys().collect::<Vec<_>>(),
            ["default-ulimits", "log-driver"]
        );
        assert_eq!(overridden.len(), 2, "{overridden:?}");
        assert!(overridden[0].starts_with("data-root"), "{overridden:?}");
        assert!(user_config("[1]").is_err());
        assert!(user_config("{\"a\": ").unwrap_err().starts_with("1:"));
    }

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
