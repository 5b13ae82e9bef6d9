//! Helpers shared by the integration tests.

use cascade_sim::report::Results;

/// Parses scenario JSON and runs it with its own seed.
pub fn run_json(json: &str) -> Results {
    let scenario = cascade_sim::scenario::parse(json).expect("test scenario parses");
    cascade_sim::run(&scenario, None).expect("test scenario runs")
}

/// Seconds to nanoseconds, for exact comparisons of reported times.
pub fn ns(seconds: f64) -> u64 {
    (seconds * 1e9).round() as u64
}

/// Finish times of the raw transfers, in nanoseconds.
pub fn transfer_finish_ns(r: &Results) -> Vec<u64> {
    r.transfers.iter().map(|t| ns(t.finish_at_s.expect("transfer finished"))).collect()
}

/// Completion time of `node` for its (only) job, in nanoseconds.
pub fn completion_ns(r: &Results, node: &str) -> u64 {
    let n = r.nodes.iter().find(|n| n.node == node).expect("node in results");
    ns(n.completion_s.expect("node completed"))
}
