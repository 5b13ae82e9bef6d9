//! # cascade-sim
//!
//! A deterministic discrete-event simulator of the streaming-media distribution system of
//! patent US 2002/0065918 A1: a client asks a base server for a job, and the job's content
//! cascades from server to server, every server that holds it becoming a source.
//!
//! The crate is layered; each layer only uses the ones above it in this list.
//!
//! - [`kernel`]: virtual time in integer nanoseconds, an event queue ordered by (time,
//!   insertion sequence), seeded ChaCha random streams, and the trace hash. Knows nothing of
//!   networks.
//! - [`net`]: hosts, links and routes (petgraph), and the flow-level bandwidth model that shares
//!   every upload, download and link among concurrent transfers by max-min fairness, re-solved
//!   incrementally.
//! - [`protocol`]: the patent's client, base server and node server as sans-IO state machines,
//!   and the job object. They own no clock and do no I/O.
//! - [`scenario`]: the JSON scenario format, its validation (errors name the JSON path), and the
//!   step that makes a scenario concrete for a seed.
//! - [`strategy`]: one module per distribution strategy behind one trait; the cascade family
//!   maps scenario parameters to the protocol's configuration, the engine-driven references
//!   (swarm, optimal) are piece schedulers the engine calls. (The scenario's validation asks
//!   it for a strategy's configuration; it uses only the scenario's serde types.)
//! - [`engine`]: runs the protocol roles on the kernel over the network model.
//! - [`report`]: results (a versioned, documented schema; one time frame per field), lower
//!   bounds, the CSV data behind every chart, the charts, the HTML page, safe output writes.
//! - [`analysis`]: what analysts and CI run over many runs: compare (replications with
//!   confidence intervals), sweep, report (several runs side by side), check.
//!
//! ```
//! let scenario = cascade_sim::scenario::parse(r#"{
//!     "name": "doc", "seed": 1,
//!     "network": { "hosts": [
//!         { "name": "a", "upload_mbps": 800, "download_mbps": 800 },
//!         { "name": "b", "upload_mbps": 800, "download_mbps": 800 } ] },
//!     "transfers": [ { "at_s": 0, "from": "a", "to": "b", "size_mb": 100 } ]
//! }"#).unwrap();
//! let results = cascade_sim::run(&scenario, None).unwrap();
//! // 100 MB at 800 Mbit/s (100 MB/s) takes one second.
//! assert_eq!(results.transfers[0].finish_at_s, Some(1.0));
//! ```

#![warn(missing_docs)]

pub mod analysis;
pub mod bench;
pub mod engine;
pub mod kernel;
pub mod net;
pub mod protocol;
pub mod report;
pub mod scenario;
pub mod strategy;

/// How to run a scenario.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Seed overriding the scenario's own.
    pub seed: Option<u64>,
    /// Record every control message (for traces); costs memory on large runs.
    pub record_messages: bool,
    /// Most (server, job) pairs whose entries `results.json` lists (`None`:
    /// [`report::results::PER_SERVER_LIST_LIMIT`]); past it `nodes[]` and the jobs'
    /// `accountability.servers[]` are left out and `nodes.csv` is streamed.
    pub per_server_list_limit: Option<usize>,
    /// The function the trace fingerprint uses (default: the current one; an older one to
    /// compare with results or expectations from an older build).
    pub trace_hash_version: kernel::TraceHashVersion,
}

/// A finished run: the results and the engine with everything it recorded (stream records,
/// messages, role states) for charts and exports.
pub struct Run {
    /// What `results.json` holds.
    pub results: report::Results,
    /// The finished simulation.
    pub engine: engine::Engine,
}

/// Builds `scenario` for the options' seed, runs it to the end and collects the results.
pub fn simulate(scenario: &scenario::Scenario, options: &RunOptions) -> Result<Run, scenario::ScenarioError> {
    simulate_with(scenario, options, |_| {})
}

/// [`simulate`], with `prepare` called on the engine before it runs (e.g. to stream its
/// messages to a file with [`engine::Engine::send_messages_to`]).
pub fn simulate_with(
    scenario: &scenario::Scenario,
    options: &RunOptions,
    prepare: impl FnOnce(&mut engine::Engine),
) -> Result<Run, scenario::ScenarioError> {
    let built = scenario.build(options.seed)?;
    let mut engine = engine::Engine::new(built)
        .map_err(|e| scenario::ScenarioError::Invalid { path: "network.links".into(), message: e.to_string() })?;
    if options.record_messages {
        engine.record_messages();
    }
    engine.fingerprint_with(options.trace_hash_version);
    prepare(&mut engine);
    engine.run();
    let limit = options.per_server_list_limit.unwrap_or(report::results::PER_SERVER_LIST_LIMIT);
    Ok(Run { results: report::Results::collect_with_limit(&engine, limit), engine })
}

/// Builds `scenario` for `seed` (its own seed when `None`), runs it to the end and collects the
/// results.
pub fn run(scenario: &scenario::Scenario, seed: Option<u64>) -> Result<report::Results, scenario::ScenarioError> {
    Ok(simulate(scenario, &RunOptions { seed, ..RunOptions::default() })?.results)
}

/// The README's Rust examples, compiled and run as doctests (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
