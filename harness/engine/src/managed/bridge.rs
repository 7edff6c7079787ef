//! The managed daemon's bridge: a name and subnet of its own, so it can never clash with
//! `docker0` or another daemon's networks on the same host, and so cleanup can delete exactly the
//! link it made (`sd-<id>`) whatever else `D/bridge` might say.

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::process::Command;

/// The first two octets of the subnets given to managed bridges. Docker's default address
/// pools are 172.17-31.x and 192.168.x, so 10.213.x stays out of the way of every daemon's
/// own networks.
const SUBNET_PREFIX: &str = "10.213";
/// The second octet of the address pool of the managed daemon's user-defined networks.
const POOL_OCTET: u32 = 214;

/// The `--default-address-pool` of the daemon whose bridge has `subnet` (`10.213.N.0/24`):
/// `10.214.N.0/24` in /28 networks, so the networks a scenario creates never take docker's
/// default pools (172.17-31.x, 192.168.x), where another daemon's networks live.
pub(super) fn address_pool(subnet: &str) -> Option<String> {
    let n = subnet
        .strip_prefix(&format!("{SUBNET_PREFIX}."))?
        .split('.')
        .next()?;
    Some(format!("base=10.{POOL_OCTET}.{n}.0/24,size=28"))
}

/// `D/bridge`: the name of the bridge allocated for `D`.
const BRIDGE_FILE: &str = "bridge";
/// Upper bound for one `ip` invocation.
const IP_DEADLINE: Duration = Duration::from_secs(10);

/// Picks a free `10.213.N.0/24`, creates the bridge with `.1` and brings it up. Runs under the
/// state-root lock, so the address of a bridge just created is visible to the next allocator.
pub(super) async fn allocate_bridge(dir: &Path, id: &str) -> Result<(String, String)> {
    let name = bridge_name(id);
    let used = used_ipv4_prefixes().await?;
    // The daemon's user-defined networks come from 10.214.N.0/24 (see `address_pool`): both
    // must be free.
    let n = (0u32..=255)
        .find(|n| {
            [213u32, POOL_OCTET].iter().all(|second| {
                let net = (10u32 << 24) | (second << 16) | (n << 8);
                !used.iter().any(|&(addr, len)| overlaps(net, 24, addr, len))
            })
        })
        .ok_or_else(|| anyhow!("no free {SUBNET_PREFIX}.N.0/24 subnet left for a bridge"))?;
    // Recorded before the link exists, so a crash in between still leaves a trace for the
    // sweeper.
    host::private::write(&dir.join(BRIDGE_FILE), format!("{name}\n"))?;
    let cidr = format!("{SUBNET_PREFIX}.{n}.1/24");
    let result = async {
        ip(&["link", "add", &name, "type", "bridge"]).await?;
        ip(&["addr", "add", &cidr, "dev", &name]).await?;
        ip(&["link", "set", &name, "up"]).await
    }
    .await;
    if let Err(e) = result {
        let _ = ip(&["link", "del", &name]).await;
        return Err(e).context(format!("creating bridge {name}"));
    }
    tracing::debug!(bridge = %name, %cidr, "created bridge");
    Ok((name, format!("{SUBNET_PREFIX}.{n}.0/24")))
}

fn overlaps(a: u32, alen: u32, b: u32, blen: u32) -> bool {
    let len = alen.min(blen);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    a & mask == b & mask
}

/// Every IPv4 prefix in use on the host: interface addresses and routes of all tables
/// (default routes aside, which overlap everything by definition).
async fn used_ipv4_prefixes() -> Result<Vec<(u32, u32)>> {
    let mut out = Vec::new();
    let addrs: serde_json::Value = serde_json::from_str(&ip(&["-4", "-j", "addr", "show"]).await?)
        .context("parsing `ip -j addr`")?;
    for link in addrs.as_array().into_iter().flatten() {
        for a in link["addr_info"].as_array().into_iter().flatten() {
            if let (Some(local), Some(len)) = (a["local"].as_str(), a["prefixlen"].as_u64()) {
                if let Ok(addr) = local.parse::<std::net::Ipv4Addr>() {
                    out.push((u32::from(addr), len.min(32) as u32));
                }
            }
        }
    }
    let routes: serde_json::Value =
        serde_json::from_str(&ip(&["-4", "-j", "route", "show", "table", "all"]).await?)
            .context("parsing `ip -j route`")?;
    for r in routes.as_array().into_iter().flatten() {
        let Some(dst) = r["dst"].as_str() else {
            continue;
        };
        if dst == "default" {
            continue;
        }
        let (addr, len) = match dst.split_once('/') {
            Some((a, l)) => (a, l.parse::<u32>().unwrap_or(32)),
            None => (dst, 32),
        };
        if let Ok(addr) = addr.parse::<std::net::Ipv4Addr>() {
            out.push((u32::from(addr), len.min(32)));
        }
    }
    Ok(out)
}

/// Runs `ip ARGS` with a deadline; the error carries ip's stderr.
async fn ip(args: &[&str]) -> Result<String> {
    let bin = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("ip");
    let out = tokio::time::timeout(
        IP_DEADLINE,
        Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| anyhow!("`ip {}` took longer than {IP_DEADLINE:?}", args.join(" ")))?
    .with_context(|| format!("running `ip {}`", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn link_exists(name: &str) -> bool {
    ip(&["link", "show", "dev", name]).await.is_ok()
}

/// The only bridge name daemon `id` can have; within IFNAMSIZ (15) for the ids we make.
fn bridge_name(id: &str) -> String {
    format!("sd-{id}")
}

/// The bridge to delete for daemon `id`, given what `D/bridge` says: only `sd-<id>`, never
/// `docker0` or another daemon's bridge, whatever the file says.
fn bridge_to_delete(recorded: &str, id: &str) -> Option<String> {
    let name = recorded.trim();
    (name == bridge_name(id) && name.len() <= 15 && !id.is_empty()).then(|| name.to_string())
}

/// The address pool the daemon in `dir` was last started with, from `D/options.json`:
/// (network, prefix length), e.g. 10.214.3.0/24.
fn recorded_pool(dir: &Path) -> Option<(u32, u32)> {
    let options: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("options.json")).ok()?).ok()?;
    let args: Vec<&str> = options["args"]
        .as_array()?
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let i = args.iter().position(|a| *a == "--default-address-pool")?;
    let base = args.get(i + 1)?.strip_prefix("base=")?.split(',').next()?;
    let (addr, len) = base.split_once('/')?;
    let addr: std::net::Ipv4Addr = addr.parse().ok()?;
    // Only a pool of ours: 10.214.N.0/24.
    (addr.octets()[..2] == [10, POOL_OCTET as u8] && len == "24").then(|| (u32::from(addr), 24))
}

/// The bridges of the user-defined networks a daemon's scenarios created, should the networks
/// outlive it (a killed run): links named `br-<12 hex>` with an address in the daemon's own pool,
/// which no other daemon can be given while they exist (see `allocate_bridge`).
fn network_bridges(addrs: &serde_json::Value, pool: (u32, u32)) -> Vec<String> {
    addrs
        .as_array()
        .into_iter()
        .flatten()
        .filter(|link| {
            link["ifname"].as_str().is_some_and(|n| {
                n.strip_prefix("br-")
                    .is_some_and(|h| h.len() == 12 && h.chars().all(|c| c.is_ascii_hexdigit()))
            })
        })
        .filter(|link| {
            link["addr_info"].as_array().into_iter().flatten().any(|a| {
                a["local"]
                    .as_str()
                    .and_then(|l| l.parse::<std::net::Ipv4Addr>().ok())
                    .is_some_and(|l| overlaps(u32::from(l), 32, pool.0, pool.1))
            })
        })
        .filter_map(|link| link["ifname"].as_str().map(str::to_string))
        .collect()
}

/// Deletes the bridges of the daemon's own networks that are still there.
async fn delete_network_bridges(dir: &Path, report: &mut Vec<String>) {
    let Some(pool) = recorded_pool(dir) else {
        return;
    };
    let addrs = match ip(&["-4", "-j", "addr", "show"]).await {
        Ok(text) => serde_json::from_str(&text).unwrap_or_default(),
        Err(e) => {
            report.push(format!("could not list addresses: {e:#}"));
            return;
        }
    };
    for link in network_bridges(&addrs, pool) {
        match ip(&["link", "del", &link]).await {
            Ok(_) => report.push(format!("deleted network bridge {link}")),
            Err(e) => report.push(format!("could not delete network bridge {link}: {e:#}")),
        }
    }
}

/// Deletes the bridge recorded in `D/bridge` if it is this daemon's own, and its networks'.
pub(super) async fn delete_bridge(dir: &Path, id: &str, report: &mut Vec<String>) {
    delete_network_bridges(dir, report).await;
    let Ok(recorded) = fs::read_to_string(dir.join(BRIDGE_FILE)) else {
        return;
    };
    let Some(bridge) = bridge_to_delete(&recorded, id) else {
        report.push(format!(
            "left bridge {:?} named in {}: not this daemon's (sd-{id})",
            recorded.trim(),
            dir.join(BRIDGE_FILE).display()
        ));
        return;
    };
    if link_exists(&bridge).await {
        match ip(&["link", "del", &bridge]).await {
            Ok(_) => report.push(format!("deleted bridge {bridge}")),
            Err(e) => report.push(format!("could not delete bridge {bridge}: {e:#}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_daemons_own_bridge_is_deleted() {
        assert_eq!(
            bridge_to_delete("sd-0badc0de\n", "0badc0de").as_deref(),
            Some("sd-0badc0de")
        );
        for (recorded, id) in [
            ("docker0", "0badc0de"),
            ("sd-feedf00d", "0badc0de"),
            ("sd-0badc0de0", "0badc0de"),
            ("sd-0badc0", "0badc0de"),
            ("sd-", ""),
            ("sd-averyveryverylongid", "averyveryverylongid"),
        ] {
            assert_eq!(bridge_to_delete(recorded, id), None, "{recorded} for {id}");
        }
    }

    #[test]
    fn only_bridges_in_the_daemons_pool_are_its_networks() {
        let addrs = serde_json::json!([
            {"ifname": "br-0123456789ab", "addr_info": [{"local": "10.214.3.1", "prefixlen": 28}]},
            {"ifname": "br-ba9876543210", "addr_info": [{"local": "10.214.4.1", "prefixlen": 28}]},
            {"ifname": "docker0", "addr_info": [{"local": "10.214.3.17", "prefixlen": 28}]},
            {"ifname": "br-0123", "addr_info": [{"local": "10.214.3.33", "prefixlen": 28}]},
            {"ifname": "br-aaaaaaaaaaaa", "addr_info": [{"local": "172.18.0.1", "prefixlen": 16}]}
        ]);
        let pool = ((10 << 24) | (214 << 16) | (3 << 8), 24);
        assert_eq!(network_bridges(&addrs, pool), ["br-0123456789ab"]);
    }

    #[test]
    fn overlapping_prefixes() {
        let net = |a: u32, b: u32, c: u32| (10 << 24) | (a << 16) | (b << 8) | c;
        assert!(overlaps(net(213, 3, 0), 24, net(213, 3, 7), 32));
        assert!(overlaps(net(213, 3, 0), 24, net(0, 0, 0), 8));
        assert!(!overlaps(net(213, 3, 0), 24, net(213, 4, 0), 24));
        assert!(overlaps(1, 0, 2, 0));
    }
}
