//! Helpers shared by the integration tests.

use cascade_sim::report::Results;

/// Parses scenario JSON and runs it with its own seed.
pub fn run_json(json: &str) -> Results {
    let scenario = cascade_sim::scenario::parse(json).expect("test scenario parses");
    cascade_sim::run(&scenario, None).expect("test scenario runs")
}

/// Parses scenario JSON and runs it with its own seed, keeping the finished engine (streams,
/// topology) beside the results.
pub fn simulate_json(json: &str) -> cascade_sim::Run {
    let scenario = cascade_sim::scenario::parse(json).expect("test scenario parses");
    cascade_sim::simulate(&scenario, &cascade_sim::RunOptions::default()).expect("test scenario runs")
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

/// The configuration of a property test: `cases` cases from the fixed seed `seed`, so that
/// `cargo test` runs the same cases every time, unless the environment asks for more or for
/// others: `{NAME}_CASES=N` runs N cases, `{NAME}_SEED=S` shifts the fixed seed by S (a new set
/// of cases, as reproducible as the default, which is S = 0). A failure prints the shrunk
/// case; the same variables run it again. A value that is not a number stops the test with a
/// message naming the variable (a typo must not quietly run the default set).
pub fn property_config(name: &str, cases: u32, seed: u64) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases: env_number(&format!("{name}_CASES")).unwrap_or(cases),
        rng_seed: proptest::test_runner::RngSeed::Fixed(
            seed.wrapping_add(env_number(&format!("{name}_SEED")).unwrap_or(0)),
        ),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}

/// The environment variable `var` as a number, `None` when unset.
fn env_number<T: std::str::FromStr>(var: &str) -> Option<T> {
    let value = std::env::var(var).ok()?;
    match value.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{var}={value:?}: not a non-negative whole number"),
    }
}
