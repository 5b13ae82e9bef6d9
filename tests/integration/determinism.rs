//! Same scenario and seed give bit-identical results; another seed gives another run.

use std::path::Path;

fn run_file(path: &str, seed: Option<u64>) -> String {
    let scenario = cascade_sim::scenario::load(Path::new(path)).expect("bundled scenario loads");
    let results = cascade_sim::run(&scenario, seed).expect("bundled scenario runs");
    serde_json::to_string_pretty(&results).unwrap()
}

#[test]
fn same_scenario_and_seed_give_identical_results_json() {
    let a = run_file("scenarios/quickstart.json", None);
    let b = run_file("scenarios/quickstart.json", None);
    assert_eq!(a, b);
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(v["trace_hash"].as_str().unwrap().len(), 16);
    assert!(v["events"].as_u64().unwrap() > 1000);
}

#[test]
fn the_seed_changes_drawn_hosts_and_so_the_trace() {
    let a: serde_json::Value = serde_json::from_str(&run_file("scenarios/quickstart.json", Some(1))).unwrap();
    let b: serde_json::Value = serde_json::from_str(&run_file("scenarios/quickstart.json", Some(2))).unwrap();
    assert_eq!(a["seed"], 1);
    assert_ne!(a["trace_hash"], b["trace_hash"]);
}

#[test]
fn the_json_schema_describes_the_scenario_format() {
    let schema = cascade_sim::scenario::json_schema();
    let text = schema.to_string();
    for field in ["upload_mbps", "horizon_s", "fanout", "first_nodes", "uniform", "transfers"] {
        assert!(text.contains(field), "schema lacks {field}");
    }
}
