//! The small YAML files beside the scenarios, read from text (the caller reads the file): the
//! inventory of `run --targets FILE` and the thresholds of `qualify --thresholds FILE`. Both are
//! read strictly, within the [`limits`](crate::limits), and every error starts with
//! `file:line:col:` where it has a place.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::limits;
use crate::scenario::Thresholds;

/// The inventory of `run --targets FILE`: the targets of a run.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// The targets, in order; at least one, each name once.
    pub targets: Vec<InventoryEntry>,
}

/// One target of an inventory.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InventoryEntry {
    /// The name reports give it.
    pub name: String,
    /// Where it is, as `--target` takes it (`managed`, `ssh://…`, `vm:…`); the caller parses it.
    pub address: String,
    /// Labels the reports carry.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Reads an inventory's text; `file` names it in errors. Refuses an empty inventory and a name
/// used twice.
pub fn inventory(text: &str, file: &Path) -> Result<Inventory> {
    let inv: Inventory = from_yaml(text, file, "inventory")?;
    if inv.targets.is_empty() {
        return Err(Error::input(format!("{}: no targets", file.display())));
    }
    for (i, t) in inv.targets.iter().enumerate() {
        if inv.targets[..i].iter().any(|o| o.name == t.name) {
            return Err(Error::input(format!(
                "{}: target name {:?} is used twice",
                file.display(),
                t.name
            )));
        }
    }
    Ok(inv)
}

/// Reads a thresholds file's text (`threshold: 25%`, `floor: 20ms`, `measures: {NAME: {threshold,
/// floor}}`); `file` names it in errors.
pub fn thresholds(text: &str, file: &Path) -> Result<Thresholds> {
    from_yaml(text, file, "thresholds file")
}

/// Parses a small YAML file strictly within the limits; errors start with `file:line:col:`.
fn from_yaml<T: DeserializeOwned>(text: &str, file: &Path, what: &str) -> Result<T> {
    if let Some(p) = limits::file_too_big(text, file, what) {
        return Err(Error::input(p));
    }
    let options = serde_saphyr::options! {
        with_snippet: false,
        budget: limits::yaml_budget(),
    };
    serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let (line, col) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        let message = limits::budget_message(&e)
            .unwrap_or_else(|| e.to_string().lines().next().unwrap_or("").to_string());
        Error::input(format!("{}:{line}:{col}: {message}", file.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "targets.yaml";

    fn err(r: Result<impl std::fmt::Debug>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn an_inventory_reads_its_targets_in_order() {
        let inv = inventory(
            "targets:\n  - {name: a, address: managed}\n  - name: b\n    address: ssh://h\n    labels: {os: debian}\n",
            Path::new(FILE),
        )
        .unwrap();
        let names: Vec<&str> = inv.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(inv.targets[1].address, "ssh://h");
        assert_eq!(inv.targets[1].labels["os"], "debian");
    }

    #[test]
    fn a_bad_inventory_is_refused_with_its_place() {
        let e = err(inventory("targets: []\n", Path::new(FILE)));
        assert_eq!(e, "targets.yaml: no targets");
        let e = err(inventory(
            "targets:\n  - {name: a, address: managed}\n  - {name: a, address: docker}\n",
            Path::new(FILE),
        ));
        assert!(e.contains("\"a\" is used twice"), "{e}");
        let e = err(inventory(
            "targets:\n  - {name: a, adress: managed}\n",
            Path::new(FILE),
        ));
        assert!(e.starts_with("targets.yaml:2:"), "{e}");
    }

    #[test]
    fn thresholds_read_and_refuse_unknown_keys() {
        let t = thresholds(
            "threshold: 10%\nfloor: 5ms\nmeasures: {api_back: {threshold: 50%}}\n",
            Path::new("t.yaml"),
        )
        .unwrap();
        assert_eq!(t.threshold.map(|p| p.0), Some(10.0));
        assert_eq!(t.measures["api_back"].threshold.map(|p| p.0), Some(50.0));
        let e = err(thresholds(
            "threshold: 10%\nflor: 5ms\n",
            Path::new("t.yaml"),
        ));
        assert!(e.starts_with("t.yaml:2:1:"), "{e}");
    }
}
