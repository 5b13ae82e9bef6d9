//! The analyst's and CI's commands on top of single runs: [`compare`] (one scenario under
//! several strategies), [`sweep`] (a grid of parameter values times seeds, in parallel and in
//! shards) and [`check`] (regression expectations of the bundled scenarios).
//!
//! They all work on the scenario as JSON: a parameter is addressed by the same path syntax the
//! scenario errors print (`network.groups[0].count`, `clients[0].jobs[0].strategy.fanout`), set
//! in the JSON value, and the result parsed and validated as any scenario.

pub mod check;
pub mod compare;
pub mod report;
pub mod stats;
pub mod sweep;

use crate::report::schema::Step;
use crate::scenario::ScenarioError;
use serde_json::Value;

/// Sets the value at `path` in `doc` (the last field may be new; indexes must exist).
pub fn set_path(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let steps = crate::report::schema::steps(path)?;
    let mut here = doc;
    for (i, step) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        here = match step {
            Step::Field(name) => {
                let object = here.as_object_mut().ok_or_else(|| format!("`{path}`: not an object before `{name}`"))?;
                if last {
                    object.insert(name.clone(), value);
                    return Ok(());
                }
                object.get_mut(name).ok_or_else(|| format!("`{path}`: no field `{name}`"))?
            }
            Step::Index(index) => {
                let array = here.as_array_mut().ok_or_else(|| format!("`{path}`: not an array before `[{index}]`"))?;
                let len = array.len();
                let slot =
                    array.get_mut(*index).ok_or_else(|| format!("`{path}`: index {index} out of range ({len})"))?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
        };
    }
    Err(format!("`{path}`: empty path"))
}

/// Parses a scenario JSON value (as edited by a command) into a scenario.
pub fn scenario_from_value(value: &Value) -> Result<crate::scenario::Scenario, ScenarioError> {
    crate::scenario::parse(&value.to_string())
}

/// Replaces every job's strategy with `{"kind": kind}`, keeping the job's own strategy fields
/// when it already is of that kind.
pub fn with_strategy(doc: &Value, kind: &str) -> Value {
    let mut doc = doc.clone();
    if let Some(clients) = doc.get_mut("clients").and_then(Value::as_array_mut) {
        for client in clients {
            if let Some(jobs) = client.get_mut("jobs").and_then(Value::as_array_mut) {
                for job in jobs {
                    let same = job.pointer("/strategy/kind").and_then(Value::as_str) == Some(kind);
                    if !same {
                        job["strategy"] = serde_json::json!({ "kind": kind });
                    }
                }
            }
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_set_nested_fields_and_array_items() {
        let mut doc = json!({ "network": { "groups": [ { "count": 1 }, { "count": 2 } ] } });
        set_path(&mut doc, "network.groups[1].count", json!(50)).unwrap();
        assert_eq!(doc["network"]["groups"][1]["count"], 50);
        set_path(&mut doc, "network.groups[0].latency_ms", json!(3)).unwrap();
        assert_eq!(doc["network"]["groups"][0]["latency_ms"], 3);
        assert!(set_path(&mut doc, "network.groups[7].count", json!(1)).unwrap_err().contains("out of range"));
        assert!(set_path(&mut doc, "network.hosts[0].x", json!(1)).unwrap_err().contains("no field `hosts`"));
        assert!(set_path(&mut doc, "network.groups[x]", json!(1)).is_err());
    }

    #[test]
    fn strategy_override_keeps_fields_of_the_same_kind() {
        let doc = json!({ "clients": [ { "jobs": [ { "strategy": { "kind": "cascade", "fanout": 2 } } ] } ] });
        assert_eq!(with_strategy(&doc, "cascade")["clients"][0]["jobs"][0]["strategy"]["fanout"], 2);
        assert_eq!(with_strategy(&doc, "star")["clients"][0]["jobs"][0]["strategy"], json!({ "kind": "star" }));
    }
}
