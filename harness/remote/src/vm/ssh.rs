//! Reaching a VM over SSH: its own client key authorized for root and its host key checked (both
//! made when the image is built), on the port qemu forwards to its sshd.

use std::path::{Path, PathBuf};

use anyhow::bail;

use super::{set_mode, Running, Vms};
use ::host::Cmd;

impl Vms {
    /// The client key (authorized for root) and the host key (its public half kept as the
    /// known host `shakedown-vm-NAME`).
    pub(super) async fn keys(&self, name: &str, work: &Path, root: &Path) -> anyhow::Result<()> {
        let keygen = |file: &Path| {
            Cmd::new(
                "ssh-keygen",
                &[
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    &format!("shakedown-vm-{name}"),
                    "-f",
                    &file.display().to_string(),
                ][..],
            )
        };
        let client = work.join("id_ed25519");
        keygen(&client).run().await?;
        ::host::private::restrict(&client.with_extension("pub"))?;
        let host = root.join("etc/ssh/shakedown_host_ed25519_key");
        keygen(&host).run().await?;
        let ssh_dir = root.join("root/.ssh");
        std::fs::create_dir_all(&ssh_dir)?;
        set_mode(&ssh_dir, 0o700)?;
        let auth = ssh_dir.join("authorized_keys");
        std::fs::copy(work.join("id_ed25519.pub"), &auth)?;
        set_mode(&auth, 0o600)?;
        let host_pub = std::fs::read_to_string(host.with_extension("pub"))?;
        let mut words = host_pub.split_whitespace();
        let (kind, key) = (words.next(), words.next());
        let (Some(kind), Some(key)) = (kind, key) else {
            bail!("unexpected host key {host_pub:?}");
        };
        ::host::private::write(
            &work.join("known_hosts"),
            format!("{} {kind} {key}\n", host_alias(name)),
        )?;
        Ok(())
    }
}

impl Running {
    /// How to reach it: root on the forwarded port, its own key, its host key checked.
    pub fn ssh(&self, home: &str, binary: Option<PathBuf>) -> crate::ssh::Ssh {
        crate::ssh::Ssh {
            target: crate::ssh::SshTarget {
                user: Some("root".into()),
                host: "127.0.0.1".into(),
                port: Some(self.port),
                existing_daemon: false,
            },
            identity: Some(self.dir.join("id_ed25519")),
            options: vec![
                format!(
                    "UserKnownHostsFile={}",
                    self.dir.join("known_hosts").display()
                ),
                format!("HostKeyAlias={}", host_alias(&self.name)),
                "StrictHostKeyChecking=yes".into(),
                "IdentitiesOnly=yes".into(),
                "GlobalKnownHostsFile=/dev/null".into(),
            ],
            home: home.to_string(),
            config: None,
            name: Some(format!("vm:{}", self.name)),
            binary,
        }
    }
}

/// The name the VM knows itself by and its host key is known by.
pub(super) fn host_alias(name: &str) -> String {
    format!("shakedown-vm-{name}")
}
