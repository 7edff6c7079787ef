//! Networks and volumes: created labelled, inspected for their labels, removed.

use std::collections::HashMap;

use super::{unless_absent, within, DockerClient, CALL_DEADLINE};

impl DockerClient {
    /// Creates a labelled bridge network named `name`; returns its id.
    pub async fn create_network(
        &self,
        name: &str,
        labels: HashMap<String, String>,
        internal: bool,
    ) -> anyhow::Result<String> {
        let body = bollard::models::NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            internal: Some(internal),
            labels: Some(labels),
            ..Default::default()
        };
        let r = within(
            &format!("create network {name}"),
            CALL_DEADLINE,
            self.inner.create_network(body),
        )
        .await?;
        Ok(r.id)
    }

    /// Connects a created container to a network, with DNS aliases there.
    pub async fn connect_network(
        &self,
        network: &str,
        container: &str,
        aliases: Vec<String>,
    ) -> anyhow::Result<()> {
        let body = bollard::models::NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: Some(bollard::models::EndpointSettings {
                aliases: Some(aliases),
                ..Default::default()
            }),
        };
        within(
            &format!("connect {container} to network {network}"),
            CALL_DEADLINE,
            self.inner.connect_network(network, body),
        )
        .await
    }

    /// Creates a labelled local volume named `name`.
    pub async fn create_volume(
        &self,
        name: &str,
        labels: HashMap<String, String>,
    ) -> anyhow::Result<()> {
        let body = bollard::models::VolumeCreateRequest {
            name: Some(name.to_string()),
            driver: Some("local".into()),
            labels: Some(labels),
            ..Default::default()
        };
        within(
            &format!("create volume {name}"),
            CALL_DEADLINE,
            self.inner.create_volume(body),
        )
        .await
        .map(|_| ())
    }

    /// A network's labels, or `None` when there is no such network.
    pub async fn network_labels(
        &self,
        name: &str,
    ) -> anyhow::Result<Option<HashMap<String, String>>> {
        let opts = None::<bollard::query_parameters::InspectNetworkOptions>;
        let n = unless_absent(
            &format!("inspect network {name}"),
            self.inner.inspect_network(name, opts),
        )
        .await?;
        Ok(n.map(|n| n.labels.unwrap_or_default()))
    }

    /// A volume's labels, or `None` when there is no such volume.
    pub async fn volume_labels(
        &self,
        name: &str,
    ) -> anyhow::Result<Option<HashMap<String, String>>> {
        let v = unless_absent(
            &format!("inspect volume {name}"),
            self.inner.inspect_volume(name),
        )
        .await?;
        Ok(v.map(|v| v.labels))
    }

    /// Removes a network; one already gone is not an error.
    pub async fn remove_network(&self, name: &str) -> anyhow::Result<()> {
        let what = format!("remove network {name}");
        unless_absent(&what, self.inner.remove_network(name))
            .await
            .map(drop)
    }

    /// Removes a volume; one already gone is not an error.
    pub async fn remove_volume(&self, name: &str) -> anyhow::Result<()> {
        let opts = bollard::query_parameters::RemoveVolumeOptions { force: true };
        let what = format!("remove volume {name}");
        unless_absent(&what, self.inner.remove_volume(name, Some(opts)))
            .await
            .map(drop)
    }
}
