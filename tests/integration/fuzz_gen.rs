//! Hostile inputs for the scenario reader and for short runs, shared by the fast property
//! tests (`fuzz.rs`, in `cargo test`) and the long fuzz driver (`examples/fuzz.rs`, which
//! includes this file).
//!
//! Three generators: arbitrary JSON documents; structure-aware mutants of the bundled scenarios
//! (a few nodes of the document replaced by extreme or ill-typed values, removed or
//! duplicated); and text-level mutants (bytes cut, inserted or repeated). [`exercise`] runs one
//! input through the reader and validation and, when it is valid and small, a short
//! simulation, and checks the invariant: every input ends in a result or in one
//! `ScenarioError` of one line, never a panic.

#![allow(dead_code)]

use cascade_sim::scenario::{self, Scenario};
use proptest::prelude::*;
use serde_json::{json, Value};

/// The bundled scenarios (the seed corpus), as JSON values, in file order.
pub fn corpus() -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"))
        .expect("scenarios/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && !p.ends_with("schema.json"))
        .collect();
    files.sort();
    files.iter().map(|p| serde_json::from_str(&std::fs::read_to_string(p).expect("readable")).expect("JSON")).collect()
}

/// Values that break naive code: extremes of every numeric type, resolution edge cases, names
/// that are paths or hold control characters, and every JSON type.
pub fn extreme() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(1e-12)),
        Just(json!(1e-300)),
        Just(json!(1e302)),
        Just(json!(f64::MAX)),
        Just(json!(-f64::MAX)),
        Just(json!(u32::MAX)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(2e10)),
        Just(json!(1e9)),
        Just(json!(0.5)),
        Just(json!("")),
        Just(json!("a\nb")),
        Just(json!("..")),
        Just(json!("/tmp/x")),
        Just(json!("edge")),
        Just(json!("edge-1")),
        Just(json!("bs")),
        Just(json!(null)),
        Just(json!(true)),
        Just(json!([])),
        Just(json!({})),
        Just(json!([["a", 100, 100, 0]])),
        Just(json!({ "uniform": [1, f64::MAX] })),
        Just(json!({ "list": [] })),
        Just(json!({ "kind": "swarm" })),
        Just(json!({ "kind": "live", "rate_mbps": 4, "duration_s": 1e8 })),
        (-1e6f64..1e6).prop_map(|x| json!(x)),
        (0u32..5000).prop_map(|x| json!(x)),
        "[a-z\\-]{0,8}".prop_map(|s| json!(s)),
    ]
}

/// Arbitrary JSON documents, a few levels deep.
pub fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|x| json!(x)),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| json!(x)),
        "\\PC{0,12}".prop_map(Value::String),
        extreme(),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("name".to_string()),
                        Just("network".to_string()),
                        Just("kind".to_string()),
                        Just("count".to_string()),
                        "[a-z_]{1,10}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// One structural edit at node `at` (counted in pre-order, modulo the node count).
#[derive(Debug, Clone)]
pub enum Edit {
    /// Replace the node with a value.
    Replace(usize, Value),
    /// Remove the node from its object or array.
    Remove(usize),
    /// Append a copy of the node to its array (or repeat it under a new key).
    Duplicate(usize),
    /// Multiply the node by a factor when it is a number (a plausible value elsewhere).
    Scale(usize, f64),
}

fn scale(v: &mut Value, factor: f64) {
    if let Some(x) = v.as_f64() {
        let scaled = x * factor;
        // Integers stay integers, so counts remain counts.
        *v = if v.is_u64() { json!(scaled.round() as u64) } else { json!(scaled) };
    }
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(fields) => fields.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Applies `edit` to the node numbered `target` below `v` (which is node `*seen`).
fn apply_at(v: &mut Value, target: usize, seen: &mut usize, edit: &Edit) -> bool {
    let children: Vec<String> = match v {
        Value::Array(items) => (0..items.len()).map(|i| i.to_string()).collect(),
        Value::Object(fields) => fields.keys().cloned().collect(),
        _ => return false,
    };
    for key in children {
        *seen += 1;
        if *seen == target {
            match (v, edit) {
                (Value::Array(items), Edit::Replace(_, x)) => items[key.parse::<usize>().unwrap()] = x.clone(),
                (Value::Object(fields), Edit::Replace(_, x)) => {
                    fields.insert(key, x.clone());
                }
                (Value::Array(items), Edit::Remove(_)) => {
                    items.remove(key.parse::<usize>().unwrap());
                }
                (Value::Object(fields), Edit::Remove(_)) => {
                    fields.remove(&key);
                }
                (Value::Array(items), Edit::Duplicate(_)) => {
                    let copy = items[key.parse::<usize>().unwrap()].clone();
                    items.push(copy);
                }
                (Value::Object(fields), Edit::Duplicate(_)) => {
                    let copy = fields[&key].clone();
                    fields.insert(format!("{key}_"), copy);
                }
                (Value::Array(items), Edit::Scale(_, f)) => scale(&mut items[key.parse::<usize>().unwrap()], *f),
                (Value::Object(fields), Edit::Scale(_, f)) => scale(fields.get_mut(&key).unwrap(), *f),
                _ => {}
            }
            return true;
        }
        let child = match v {
            Value::Array(items) => &mut items[key.parse::<usize>().unwrap()],
            Value::Object(fields) => fields.get_mut(&key).unwrap(),
            _ => unreachable!(),
        };
        if apply_at(child, target, seen, edit) {
            return true;
        }
    }
    false
}

/// `doc` with `edits` applied in turn.
pub fn mutate(mut doc: Value, edits: &[Edit]) -> Value {
    for edit in edits {
        let n = count_nodes(&doc);
        let at = match edit {
            Edit::Replace(at, _) | Edit::Remove(at) | Edit::Duplicate(at) | Edit::Scale(at, _) => *at,
        };
        // Node 0 is the root; edits address the others.
        let target = 1 + at % n.saturating_sub(1).max(1);
        apply_at(&mut doc, target, &mut 0, edit);
    }
    doc
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        6 => (any::<usize>(), extreme()).prop_map(|(at, v)| Edit::Replace(at, v)),
        4 => (any::<usize>(), prop_oneof![0.0..3.0, Just(0.0), Just(1e-9), Just(1e9)]).prop_map(|(at, f)| Edit::Scale(at, f)),
        2 => any::<usize>().prop_map(Edit::Remove),
        1 => any::<usize>().prop_map(Edit::Duplicate),
    ]
}

/// A mutant of corpus scenario `index % corpus.len()`: (index, edits).
pub fn mutant() -> impl Strategy<Value = (usize, Vec<Edit>)> {
    (any::<usize>(), proptest::collection::vec(edit(), 1..4))
}

/// A text-level edit of a serialized scenario: (position, cut length, inserted text).
pub fn text_edit() -> impl Strategy<Value = (usize, usize, String)> {
    (any::<usize>(), 0usize..8, prop_oneof![Just(String::new()), "[\\[\\]{}:,\"0-9a-z/*\\n .-]{1,6}".boxed()])
}

/// `text` with one text-level edit (at a char boundary).
pub fn edit_text(text: &str, (at, cut, insert): &(usize, usize, String)) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    let end = (at + cut).min(chars.len());
    let mut out: String = chars[..at].iter().collect();
    out.push_str(insert);
    out.extend(&chars[end..]);
    out
}

/// Bounds for the runs of valid inputs, so that each stays short.
#[derive(Debug, Clone, Copy)]
pub struct RunLimits {
    /// Largest world run (hosts).
    pub max_hosts: usize,
    /// Most (server × item) deliveries run.
    pub max_item_deliveries: u64,
    /// The horizon is cut to this (seconds of virtual time).
    pub horizon_s: f64,
    /// Also render every output file (charts, PNG, HTML).
    pub render: bool,
}

/// What happened to one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not JSON, or not a scenario (exit 2 at the command line).
    Rejected,
    /// Valid, but too big for a short run: only validated.
    Validated,
    /// Valid and run (and rendered when asked).
    Ran,
}

/// Runs one input through the reader, validation and (when valid and small) a short run.
/// Returns an error message when an invariant breaks; panics propagate to the caller.
pub fn exercise(text: &str, limits: RunLimits) -> Result<Outcome, String> {
    let one_line = |e: &scenario::ScenarioError| {
        let m = e.to_string();
        if m.contains('\n') || m.contains('\r') {
            Err(format!("a multi-line error: {m:?}"))
        } else {
            Ok(Outcome::Rejected)
        }
    };
    let mut scenario: Scenario = match scenario::parse(text) {
        Ok(s) => s,
        Err(e) => return one_line(&e),
    };
    let built = match scenario.build(None) {
        Ok(b) => b,
        Err(e) => return one_line(&e),
    };
    let items: u64 = built
        .clients
        .iter()
        .flat_map(|c| &c.jobs)
        .map(|j| j.request.servers.len() as u64 * (j.request.content.chunks as u64 + 2))
        .sum();
    if built.hosts.len() > limits.max_hosts || items > limits.max_item_deliveries {
        return Ok(Outcome::Validated);
    }
    if scenario.horizon_s > limits.horizon_s {
        scenario.horizon_s = limits.horizon_s;
        if scenario.build(None).is_err() {
            return Ok(Outcome::Validated);
        }
    }
    let run = cascade_sim::simulate(
        &scenario,
        &cascade_sim::RunOptions { record_messages: limits.render, ..cascade_sim::RunOptions::default() },
    )
    .map_err(|e| format!("validated scenario failed to run: {e}"))?;
    if limits.render {
        cascade_sim::report::RunOutputs::render(&run, true, false).map_err(|e| format!("rendering failed: {e}"))?;
    }
    Ok(Outcome::Ran)
}
