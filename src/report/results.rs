//! `results.json`: what a run produced, with stable, documented field names.
//!
//! **Time frames.** Every time field names its frame (converted from integer nanoseconds only
//! here, for display):
//!
//! - `..._at_s`: a moment on the run clock, seconds since the start of the run
//!   (`requested_at_s`, `end_at_s`, `faults[].at_s`, `transfers[].start_at_s`);
//! - `..._s` inside a job (`jobs[]`, and `nodes[]`, which belong to a job): seconds since that
//!   job's request (`closed_s`, `progress[].t_s`, `nodes[].completion_s`), so the moments of
//!   one job compare with its `makespan_s` directly;
//! - any other `..._s` is a length of time (`makespan_s`, `lower_bound_s`, `exec_s`,
//!   `wait_period_s`, lag).
//!
//! `null` means "did not happen before the horizon". Results keep both the ground truth (what
//! each server really holds, from the node servers' own state) and the client's view (what the
//! base server told it, [0054]). The document's JSON Schema ([`results_schema`]) is versioned
//! by [`RESULTS_SCHEMA_VERSION`].

// The doc comments of this module are also the JSON Schema's descriptions, which show them
// as written, so patent paragraphs stay `[0055]` rather than rustdoc's escaped `\[0055\]`;
// rustdoc would take them for links to items named 0055.
#![allow(rustdoc::broken_intra_doc_links)]

use super::bounds::{
    homogeneous_optimum, job_lower_bound, sustainable_rate, workload_lower_bound, BoundInputs, OptimumInputs,
    WorkloadCapacity, WorkloadJob,
};
use super::utilisation::{utilisation, HostCapacity, Utilisation};
use crate::engine::Engine;
use crate::kernel::SimTime;
use crate::net::HostId;
use crate::protocol::base_server::Verdict;
use crate::protocol::base_server::{request_bound_inputs, Declared};
use crate::protocol::client::ClientNotice;
use crate::protocol::job::{Item, StrategyConfig};
use crate::protocol::node_server::NodeJob;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the `results.json` format, in its `schema_version` field. Raised whenever a
/// field is renamed, removed or changes meaning (2: one time frame per field, named in it;
/// 3: `lower_bound_s` is the whole workload's bound, per-job bounds count the origins and joins).
pub const RESULTS_SCHEMA_VERSION: u32 = 3;

/// The JSON Schema of `results.json` (what `cascade-sim schema --results` prints).
pub fn results_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Results)).expect("schema serialises")
}

/// Summary statistics of a set of values, nearest-rank percentiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Percentiles {
    /// How many values.
    pub count: usize,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values` (need not be sorted).
    pub fn of(values: &[f64]) -> Percentiles {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| -> Option<f64> {
            if v.is_empty() {
                return None;
            }
            let k = ((p / 100.0) * v.len() as f64).ceil() as usize;
            Some(v[k.clamp(1, v.len()) - 1])
        };
        Percentiles { count: v.len(), p50: rank(50.0), p90: rank(90.0), p99: rank(99.0), max: v.last().copied() }
    }
}

/// A command of a job and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandResult {
    /// Command id (the end-job command has the last one).
    pub id: u32,
    /// Name.
    pub name: String,
    /// True for the end-job command.
    pub end_job: bool,
    /// When the client added it, seconds since the job's request.
    pub added_s: Option<f64>,
    /// Data travelling with it, bytes.
    pub data_bytes: u64,
    /// Execution time at each server, seconds.
    pub exec_s: f64,
    /// Servers that completed it.
    pub completed_servers: usize,
    /// When the last server completed it, seconds since the job's request (`null` unless all
    /// did).
    pub all_completed_s: Option<f64>,
}

/// One progress report as the client received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressPoint {
    /// When it reached the client, seconds since the job's request.
    pub t_s: f64,
    /// Servers known to hold the job object.
    pub reached: u32,
    /// Servers holding the whole content.
    pub holders: u32,
    /// Content held over all servers, percent (from tenths each server reported).
    pub content_percent: u32,
    /// Command completions over all servers.
    pub commands_completed: u32,
}

/// A command's state in a status answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandStatus {
    /// Command id.
    pub id: u32,
    /// `new`, `in_progress` or `completed`.
    pub state: String,
}

/// A scripted status query and its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryResult {
    /// When the client asked, seconds since the job's request.
    pub asked_s: f64,
    /// The server asked about.
    pub server: String,
    /// When the answer reached the client, seconds since the job's request.
    pub answered_s: Option<f64>,
    /// Items of the job's log the server held.
    pub items_held: Option<u32>,
    /// Whether it held all content.
    pub content_complete: Option<bool>,
    /// Commands it had received, with their states.
    pub commands: Vec<CommandStatus>,
}

/// Live-stream figures of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveResult {
    /// The stream's rate, megabits per second.
    pub rate_mbps: f64,
    /// Fluid bound on the sustainable rate, `min(u_s, d_min, (u_s + Σu_i)/N)` (Kumar, Liu &
    /// Ross 2007), megabits per second.
    pub sustainable_rate_bound_mbps: f64,
    /// Servers that kept up: every chunk arrived, none later than the first chunk's delay plus
    /// the playout buffer.
    pub servers_sustained: usize,
    /// The playout buffer, seconds.
    pub playout_buffer_s: f64,
    /// Delivery lag (receipt minus production at the client), seconds, over every chunk at
    /// every server.
    pub lag_s: Percentiles,
}

/// What the base server knows of one server at the end, next to the truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerAccount {
    /// The server.
    pub server: String,
    /// The base server's verdict: `completed`; `completed_after_fault` (it lost its source,
    /// crashed or was reactivated, and needed no repair); `repaired_then_completed`; `failed`
    /// (given up on, see `reason`); `left_unfinished` (it left the network before completing:
    /// churn, not a fault); or `unfinished` (the run ended first).
    pub state: String,
    /// When the base server learned that the server left the network (churn; a server that
    /// completed first keeps its verdict).
    #[serde(default)]
    pub left_s: Option<f64>,
    /// Why it failed.
    pub reason: Option<String>,
    /// When it was given up on, seconds since the job's request.
    pub failed_s: Option<f64>,
    /// A server given up on that completed all the same, afterwards: when, seconds since the
    /// job's request.
    pub late_done_s: Option<f64>,
    /// Reactivations (activation offers) the base server sent it.
    pub activations: u32,
    /// When the base server learned it held the content, seconds since the job's request.
    pub received_s: Option<f64>,
    /// When the base server learned it completed the job, seconds since the job's request.
    pub done_s: Option<f64>,
    /// Status queries the base server sent it.
    pub queries: u32,
    /// Repair attempts on it.
    pub repairs: u32,
    /// Ground truth: it holds all content and completed every command.
    pub truly_done: bool,
}

/// Something the base server told the client about the job's end ([0077]), or an action the
/// client refused once its session had ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    /// When, seconds since the job's request.
    pub t_s: f64,
    /// What it said.
    pub notice: String,
}

/// The job's accountability report: the base server's final account of every server, what the
/// client was told, and whether the account is true.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Accountability {
    /// Every listed server.
    pub servers: Vec<ServerAccount>,
    /// Delays, failures and the closing, as the client received them.
    pub client_notices: Vec<Notice>,
    /// Servers the base server reports complete.
    pub reported_done: usize,
    /// Servers that really are complete.
    pub truly_done: usize,
    /// Every server reported complete really is complete. (A server given up on may have
    /// completed all the same, e.g. just before it died with its notice unsent: `truly_done`
    /// says so next to the verdict.)
    pub consistent: bool,
    /// How many servers have each verdict.
    pub verdicts: VerdictCounts,
}

/// How many servers of a job have each verdict of the base server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerdictCounts {
    /// Completed, no fault seen.
    pub completed: usize,
    /// Completed after a fault, without a repair.
    pub completed_after_fault: usize,
    /// Completed after a repair.
    pub repaired_then_completed: usize,
    /// Given up on.
    pub failed: usize,
    /// Left the network before completing (churn, not a fault).
    pub left_unfinished: usize,
    /// The run ended first.
    pub unfinished: usize,
}

/// How many jobs ended each way (`jobs[].outcome`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobOutcomes {
    /// Closed by the base server.
    pub closed: usize,
    /// Accepted and still open when the run ended.
    pub open_at_horizon: usize,
    /// Denied by the base server: never ran.
    pub denied: usize,
    /// Requested, no answer before the horizon: never ran.
    pub unanswered: usize,
    /// Due after the horizon: never requested.
    pub not_requested: usize,
}

/// Byte totals over every (server, job) of `nodes[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ByteTotals {
    /// Content and command bytes node servers sent to other node servers (as sources).
    pub sent: u64,
    /// Content and command bytes node servers received.
    pub received: u64,
    /// Bytes received again for data already held (zero when transfers resume).
    pub resent: u64,
}

/// The base server's waiting after end-job ([0074]), for one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DutyResult {
    /// The job's expected completion time (its lower bound from declared capacities), seconds.
    pub expected_s: f64,
    /// T0: when the waiting started, seconds since the job's request (`null` if end-job never
    /// reached the base server).
    pub t0_s: Option<f64>,
    /// The wait period, seconds.
    pub wait_period_s: f64,
    /// Wait periods that ended while the job was open.
    pub wait_periods: u32,
    /// Status queries, reactivations and repair attempts over all servers.
    pub queries: u32,
    /// Reactivations over all servers.
    pub activations: u32,
    /// Repair attempts over all servers.
    pub repairs: u32,
}

/// A fault (or the end of one) that happened during the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultResult {
    /// When, on the run clock (seconds since the start of the run).
    pub at_s: f64,
    /// What, e.g. `crash edge-3`, `recover edge-3`, `partition heals`.
    pub fault: String,
}

/// The outcome of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobResult {
    /// The job's name in the scenario.
    pub name: String,
    /// The client that requested it.
    pub client: String,
    /// Job id assigned by the base server (`null` if never created).
    pub id: Option<u32>,
    /// `cascade`, `star`, `chain` or `tree`.
    pub strategy: String,
    /// Strategy parameters and switches.
    pub strategy_params: serde_json::Value,
    /// How the job ended: `closed`, `open_at_horizon`, `denied`, `unanswered` (the request
    /// never got an answer before the horizon) or `not_requested` (due after the horizon).
    pub outcome: String,
    /// Why a job is not closed (`null` when it is); for a denied job, the base server's reason.
    pub outcome_reason: Option<String>,
    /// Number of destination servers.
    pub servers: usize,
    /// Servers that received the whole content.
    pub completed: usize,
    /// Servers that left the network before completing (churn).
    #[serde(default)]
    pub left_unfinished: usize,
    /// Content size, bytes.
    pub content_bytes: u64,
    /// Number of chunks.
    pub chunks: u32,
    /// True for a live stream.
    pub live: bool,
    /// When the client requested the job, on the run clock (`null`: due after the horizon).
    /// Every other moment of the job is counted from here.
    pub requested_at_s: Option<f64>,
    /// When the base server created the job object, seconds since the request.
    pub created_s: Option<f64>,
    /// When the base server closed the job (every server completed every command), seconds
    /// since the request.
    pub closed_s: Option<f64>,
    /// When the client ended its session, seconds since the request (`null`: it stayed).
    pub session_ended_s: Option<f64>,
    /// When the client received the closing notification, seconds since the request.
    pub client_notified_s: Option<f64>,
    /// Last server receipt of the whole content, seconds since the request (`null` unless
    /// every server received it).
    pub makespan_s: Option<f64>,
    /// Lower bound for this job alone, seconds after its request: Kumar–Ross over the origins'
    /// combined upload, the first copy leaving the client and the base server (or, pre-seeded,
    /// the origins), a live stream's duration, and a late joiner's join plus its download.
    pub lower_bound_s: f64,
    /// `makespan_s / lower_bound_s`.
    pub ratio_to_bound: Option<f64>,
    /// The optimum makespan, seconds after the request, where it is known in closed form: the
    /// homogeneous case of Mundinger, Weber & Weiss, `(M + ceil(log2(N+1)) − 1) · F/(M·u)`,
    /// the client's leg to the base server excluded (`net::bounds::homogeneous_optimum`);
    /// `null` for any other case.
    #[serde(default)]
    pub optimum_s: Option<f64>,
    /// Server content-receipt times, seconds since the request.
    pub completion_s: Percentiles,
    /// Dynamic switches over all servers.
    pub switches: u32,
    /// Times the client's upload to the base server broke and was resumed.
    pub upload_resumes: u32,
    /// Job requests the client sent (more than one when an answer was slow or lost).
    pub requests_sent: u32,
    /// Actions the client did not take because its session had ended.
    pub refused: Vec<Notice>,
    /// The base server's duty timing (`null` for a job never created).
    pub duty: Option<DutyResult>,
    /// The command queue, end-job last.
    pub commands: Vec<CommandResult>,
    /// The client's view: progress reports in arrival order (past [`PER_SERVER_LIST_LIMIT`]
    /// (server, job) pairs only those where a count reaches a new whole percent, and the last).
    pub progress: Vec<ProgressPoint>,
    /// Its servers' content-receipt times, seconds since its request, in server order: kept
    /// for charts when `nodes[]` is left out (not in results.json; see
    /// [`Results::completion_times`]).
    #[serde(skip)]
    pub completion_times_s: Vec<f64>,
    /// Scripted status queries and their answers.
    pub queries: Vec<QueryResult>,
    /// Live-stream figures (`null` for a file).
    pub live_stream: Option<LiveResult>,
    /// The base server's account of every server (`null` for a job never created).
    pub accountability: Option<Accountability>,
    /// Engine-driven strategies (swarm, optimal): upload utilisation while servers still need
    /// pieces (see `report::utilisation`); `null` for the cascade family.
    pub utilisation: Option<Utilisation>,
}

/// Bytes a server received from one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceBytes {
    /// The source host.
    pub source: String,
    /// Bytes it delivered.
    pub bytes: u64,
}

/// One (server, job) pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeResult {
    /// Server host name.
    pub node: String,
    /// Job name.
    pub job: String,
    /// `complete` (holds the whole content), `incomplete` (the job ran, the server does not
    /// hold it all), or, for a job that never ran, its outcome: `denied`, `unanswered`,
    /// `not_requested`. Only `complete` and `incomplete` count in the run's totals.
    pub delivery: String,
    /// When the job object arrived, seconds since the job's request.
    pub job_object_s: Option<f64>,
    /// When the last content chunk arrived, seconds since the job's request.
    pub completion_s: Option<f64>,
    /// When the server completed the end-job command, seconds since the job's request.
    pub done_s: Option<f64>,
    /// Hosts that streamed to this server, in order.
    pub received_from: Vec<String>,
    /// Bytes received from each source.
    pub bytes_from: Vec<SourceBytes>,
    /// Content and command bytes received.
    pub bytes_received: u64,
    /// Bytes received again for data this server had already held (zero when transfers
    /// resume from their offset).
    pub bytes_resent: u64,
    /// Bytes of this job this server sent to others as a source.
    pub bytes_sent: u64,
    /// Dynamic switches this server made.
    pub switches: u32,
    /// Faults it went through: lost sources, crashes, reactivations.
    pub faults: u32,
    /// Reactivation offers it took.
    pub reactivations: u32,
    /// Commands it completed (the end-job command included).
    pub commands_completed: usize,
    /// Live jobs: delivery lag of its chunks (receipt minus production), seconds.
    pub lag_s: Option<Percentiles>,
    /// Live jobs: the server kept up (every chunk arrived, none later than the first chunk's
    /// lag plus the playout buffer).
    pub sustained: Option<bool>,
}

/// One raw transfer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferResult {
    /// Sending host.
    pub from: String,
    /// Receiving host.
    pub to: String,
    /// Size, bytes.
    pub bytes: u64,
    /// Start, on the run clock.
    pub start_at_s: f64,
    /// When the last byte arrived, on the run clock.
    pub finish_at_s: Option<f64>,
    /// How long it took, seconds.
    pub duration_s: Option<f64>,
}

/// The whole `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Results {
    /// Version of this format ([`RESULTS_SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// Strategies of the jobs, `+`-joined in job order (`none` without jobs).
    pub strategy: String,
    /// From the first job request (or transfer start) to the last server's content receipt
    /// (or transfer arrival); `null` if something did not finish.
    pub makespan_s: Option<f64>,
    /// The workload's lower bound, from the first request (`null` without jobs): the same as
    /// `workload_lower_bound_s`.
    pub lower_bound_s: Option<f64>,
    /// `makespan_s / lower_bound_s`.
    pub ratio_to_bound: Option<f64>,
    /// The optimum makespan where it is known in closed form: the only job's `optimum_s`
    /// (`null` with several jobs, raw transfers, or a case without a closed form).
    #[serde(default)]
    pub optimum_s: Option<f64>,
    /// The bound of the whole workload, from the first request: the largest of every job's
    /// bound (offset by its request) and of the bounds of resources jobs share — every
    /// receiver's download, a client's and the base server's upload, the origins' combined
    /// upload, the total upload — with request and join times (`net::bounds::workload_lower_bound`).
    #[serde(default)]
    pub workload_lower_bound_s: Option<f64>,
    /// What binds the workload bound.
    #[serde(default)]
    pub workload_bound_by: Option<String>,
    /// Largest per-job bound offset by its request, from the first request (what
    /// `lower_bound_s` was before concurrent jobs were accounted for).
    #[serde(default)]
    pub largest_job_bound_s: Option<f64>,
    /// Server content-receipt times, seconds since their job's request, over the jobs that ran.
    pub completion_s: Percentiles,
    /// (server, job) pairs of the jobs that ran (were accepted): what `completion_s` and
    /// `unfinished` count. Deliveries of jobs that never ran are in `nodes[]`, labelled.
    pub deliveries: usize,
    /// Deliveries without the whole content at the end, servers that left the network
    /// excepted.
    pub unfinished: usize,
    /// Deliveries whose server left the network before completing (churn).
    pub left_unfinished: usize,
    /// How many jobs ended each way.
    pub job_outcomes: JobOutcomes,
    /// Faults that began, in time order: the first
    /// [`MAX_LISTED_FAULTS`](crate::engine::faults::MAX_LISTED_FAULTS) of them.
    pub faults: Vec<FaultResult>,
    /// How many faults began (scripted and random), listed or not.
    pub faults_total: u64,
    /// Ends of faults (recoveries, heals, restored links and speeds, losses stopping), in time
    /// order: the first [`MAX_LISTED_FAULTS`](crate::engine::faults::MAX_LISTED_FAULTS).
    pub recoveries: Vec<FaultResult>,
    /// How many fault ends happened.
    pub recoveries_total: u64,
    /// Control-message attempts lost to faults (each was retransmitted, or dropped once the
    /// give-up time passed).
    pub messages_lost: u64,
    /// Control messages dropped after the give-up time (their senders were told).
    pub messages_undeliverable: u64,
    /// Events processed.
    pub events: u64,
    /// Fingerprint of the processed event sequence, hexadecimal (same scenario and seed, same
    /// fingerprint).
    pub trace_hash: String,
    /// Which function computed `trace_hash` (1: FNV-1a over bytes, builds before 2026-11-29,
    /// whose results.json lacks this field; 2: one round a word, the default since).
    #[serde(default = "crate::kernel::TraceHashVersion::first")]
    #[schemars(with = "u32")]
    pub trace_hash_version: crate::kernel::TraceHashVersion,
    /// Byte totals over `nodes[]`.
    pub bytes: ByteTotals,
    /// Virtual time of the last processed event, on the run clock.
    pub end_at_s: f64,
    /// Per job.
    pub jobs: Vec<JobResult>,
    /// Per (server, job); empty, like every job's `accountability.servers`, when the run has
    /// more than [`PER_SERVER_LIST_LIMIT`] (server, job) pairs (`nodes.csv` has them all).
    pub nodes: Vec<NodeResult>,
    /// True when `nodes` and the jobs' `accountability.servers` were left out because the run
    /// has more than [`PER_SERVER_LIST_LIMIT`] (server, job) pairs.
    #[serde(default)]
    pub per_server_lists_omitted: bool,
    /// Raw transfers.
    pub transfers: Vec<TransferResult>,
}

fn secs(t: SimTime) -> f64 {
    t.as_secs_f64()
}

fn strategy_params(s: &StrategyConfig) -> serde_json::Value {
    crate::strategy::by_kind(s.kind).params(s)
}

/// A live job's lag at one server: the percentiles of its chunks' lags and whether it kept up.
fn lag_result(node: &NodeJob, buffer_s: f64) -> Option<(Percentiles, bool)> {
    if node.chunk_lags_us.is_empty() {
        return None;
    }
    let lags: Vec<f64> = node.chunk_lags_us.iter().map(|&us| us as f64 / 1e6).collect();
    let p = Percentiles::of(&lags);
    let first = lags[0];
    let complete = node.chunks_held == node.job.content.chunks;
    let sustained = complete && p.max.expect("non-empty") <= first + buffer_s + 1e-9;
    Some((p, sustained))
}

/// `results.json` lists per-server entries (`nodes[]` and every job's
/// `accountability.servers[]`) only while the run has at most this many (server, job) pairs;
/// past it they are left out (`per_server_lists_omitted` says so) and `nodes.csv`, written row
/// by row from the finished run without holding the rows, is the per-server record, and every
/// job's `progress[]` (a few reports per server) keeps only the reports where a count reaches a
/// new whole percent of its total, and the last. At this limit results.json is about 15 MB.
pub const PER_SERVER_LIST_LIMIT: usize = 10_000;

/// A job's progress reports past [`PER_SERVER_LIST_LIMIT`]: the first, the last, and each one
/// where a count reaches a new whole percent of its total (servers reached, servers holding the
/// content, the content percentage, command completions over servers × commands), so the curves
/// keep 1 % resolution in at most about 400 points instead of a few per server.
fn thin_progress(points: impl Iterator<Item = ProgressPoint>, servers: usize, commands: usize) -> Vec<ProgressPoint> {
    let percent = |count: u32, total: usize| count as u64 * 100 / total.max(1) as u64;
    let step = |p: &ProgressPoint| {
        (
            percent(p.reached, servers),
            percent(p.holders, servers),
            p.content_percent,
            percent(p.commands_completed, servers * commands),
        )
    };
    let mut kept: Vec<ProgressPoint> = Vec::new();
    let mut last_step = None;
    let mut pending_last = None;
    for p in points {
        let s = step(&p);
        if last_step != Some(s) {
            last_step = Some(s);
            kept.push(p);
            pending_last = None;
        } else {
            pending_last = Some(p);
        }
    }
    kept.extend(pending_last);
    kept
}

/// (server, job) pairs of a run: every job's servers, whether the job ran or not.
pub fn server_job_pairs(engine: &Engine) -> usize {
    engine.clients().iter().flat_map(|c| c.jobs()).map(|cj| cj.request.servers.len()).sum()
}

/// Bytes per (job, receiver, source) and per (job, sender) from the engine's stream records,
/// sorted for binary search (one small map per server was a large share of the memory of a
/// million-server run).
struct StreamBytes {
    /// (job, receiver, source, bytes), one entry per triple, sorted.
    received: Vec<(u32, HostId, HostId, u64)>,
    /// (job, sender, bytes), one entry per pair, sorted.
    sent: Vec<(u32, HostId, u64)>,
}

impl StreamBytes {
    fn of(engine: &Engine) -> StreamBytes {
        let records = engine.stream_records();
        let mut received: Vec<_> = records.iter().map(|r| (r.job.0, r.dst, r.src, r.bytes)).collect();
        received.sort_unstable_by_key(|e| (e.0, e.1, e.2));
        received.dedup_by(|later, kept| {
            let same = (later.0, later.1, later.2) == (kept.0, kept.1, kept.2);
            if same {
                kept.3 += later.3;
            }
            same
        });
        let mut sent: Vec<_> = records.iter().map(|r| (r.job.0, r.src, r.bytes)).collect();
        sent.sort_unstable_by_key(|e| (e.0, e.1));
        sent.dedup_by(|later, kept| {
            let same = (later.0, later.1) == (kept.0, kept.1);
            if same {
                kept.2 += later.2;
            }
            same
        });
        StreamBytes { received, sent }
    }

    /// (source, bytes) of `job` to `receiver`, by source.
    fn sources(&self, job: u32, receiver: HostId) -> impl Iterator<Item = (HostId, u64)> + '_ {
        let start = self.received.partition_point(|e| (e.0, e.1) < (job, receiver));
        self.received[start..].iter().take_while(move |e| (e.0, e.1) == (job, receiver)).map(|e| (e.2, e.3))
    }

    /// Bytes `sender` sent of `job`.
    fn sent(&self, job: u32, sender: HostId) -> u64 {
        let i = self.sent.partition_point(|e| (e.0, e.1) < (job, sender));
        self.sent.get(i).filter(|e| (e.0, e.1) == (job, sender)).map_or(0, |e| e.2)
    }
}

/// What the per-server rows of one job need to know of it.
struct JobRows<'a> {
    name: &'a str,
    id: Option<crate::protocol::job::JobId>,
    requested: Option<SimTime>,
    buffer_s: f64,
    outcome: &'a str,
}

/// The `nodes[]` entry of server `h` in `job`.
fn node_result(engine: &Engine, bytes: &StreamBytes, job: &JobRows, h: HostId) -> NodeResult {
    let topo = engine.topology();
    let name = |h: HostId| topo.host(h).name.clone();
    let rel = |t: SimTime| {
        job.requested.map_or(f64::NAN, |r| if t >= r { t.since(r).as_secs_f64() } else { -r.since(t).as_secs_f64() })
    };
    let state = job.id.and_then(|id| engine.nodes()[h.0 as usize].as_ref().and_then(|n| n.job(id)));
    let done = state.and_then(|s| s.received_at);
    let lag = state.and_then(|s| lag_result(s, job.buffer_s));
    let delivery = match (job.id, done) {
        (Some(_), Some(_)) => "complete",
        (Some(_), None) => "incomplete",
        (None, _) => job.outcome,
    };
    NodeResult {
        node: name(h),
        job: job.name.to_string(),
        delivery: delivery.to_string(),
        job_object_s: state.map(|s| rel(s.job_object_at)),
        completion_s: done.map(rel),
        done_s: state.and_then(|s| s.done_at).map(rel),
        received_from: state.map_or_else(Vec::new, |s| s.sources.iter().map(|&h| name(h)).collect()),
        bytes_from: job.id.map_or_else(Vec::new, |id| {
            bytes.sources(id.0, h).map(|(src, bytes)| SourceBytes { source: name(src), bytes }).collect()
        }),
        bytes_received: state.map_or(0, |s| s.bytes_received),
        bytes_resent: state.map_or(0, |s| s.bytes_resent),
        bytes_sent: job.id.map_or(0, |id| bytes.sent(id.0, h)),
        switches: state.map_or(0, |s| s.switches),
        faults: state.map_or(0, |s| s.faults),
        reactivations: state.map_or(0, |s| s.reactivations),
        commands_completed: state.map_or(0, |s| s.commands.iter().filter(|c| c.completed_at.is_some()).count()),
        lag_s: lag.as_ref().map(|l| l.0.clone()),
        sustained: lag.map(|l| l.1),
    }
}

/// The base server's verdict on a server, as `accountability.servers[].state` names it, and
/// the reason of a failure.
fn account_state(report: &crate::protocol::base_server::ServerReport) -> (&'static str, Option<String>) {
    match &report.verdict {
        Verdict::Failed(reason) => ("failed", Some(reason.clone())),
        Verdict::Done if report.repaired => ("repaired_then_completed", None),
        Verdict::Done if report.faulted => ("completed_after_fault", None),
        Verdict::Done => ("completed", None),
        Verdict::Left => ("left_unfinished", None),
        Verdict::Pending => ("unfinished", None),
    }
}

/// Calls `row` with every (server, job) pair's `nodes[]` entry and its account state (empty
/// for a job the base server never created), in the order of `nodes[]`, building one entry at a
/// time: how `nodes.csv` is written without holding a million rows.
pub fn for_each_node_result(engine: &Engine, mut row: impl FnMut(&NodeResult, &str)) {
    let bytes = StreamBytes::of(engine);
    let bs = engine.base_server();
    for client in engine.clients() {
        for cj in client.jobs() {
            let id = cj.accepted.map(|(id, _)| id);
            let base_job = id.and_then(|id| bs.map(|b| b.job(id)));
            let (outcome, _) = job_outcome(cj, base_job);
            let job = JobRows {
                name: &cj.request.name,
                id,
                requested: cj.requested_at,
                buffer_s: cj.request.playout_buffer.map_or(0.0, |b| b.as_secs_f64()),
                outcome: &outcome,
            };
            for &h in &cj.request.servers {
                let account = base_job.map_or("", |b| account_state(&b.reports.get(&h).cloned().unwrap_or_default()).0);
                row(&node_result(engine, &bytes, &job, h), account);
            }
        }
    }
}

impl Results {
    /// Content-receipt times of `job`'s servers, seconds since its request: from `nodes[]`, or
    /// from the run itself when `nodes[]` was left out (results read back from a results.json
    /// without `nodes[]` have none).
    pub fn completion_times(&self, job: &JobResult) -> Vec<f64> {
        if self.per_server_lists_omitted {
            job.completion_times_s.clone()
        } else {
            self.nodes.iter().filter(|n| n.job == job.name).filter_map(|n| n.completion_s).collect()
        }
    }
}

/// How a job ended, and why it is not closed.
fn job_outcome(
    cj: &crate::protocol::client::ClientJob,
    base_job: Option<&crate::protocol::base_server::BaseJob>,
) -> (String, Option<String>) {
    if let Some((_, reason)) = &cj.denied {
        return ("denied".into(), Some(reason.clone()));
    }
    let Some(b) = base_job else {
        return match cj.requested_at {
            None => ("not_requested".into(), Some("the request was due after the horizon".into())),
            Some(_) => (
                "unanswered".into(),
                Some(format!("{} request(s) sent, none answered before the horizon", cj.requests_sent)),
            ),
        };
    };
    if b.closed_at.is_some() {
        return ("closed".into(), None);
    }
    let pending: Vec<_> = b.reports.iter().filter(|(_, r)| r.verdict == Verdict::Pending).collect();
    let unreached = pending.iter().filter(|(_, r)| r.reached_at.is_none()).count();
    let repairing = pending.iter().filter(|(_, r)| r.repairs > 0).count();
    let mut reason = format!("{} of {} server(s) pending at the horizon", pending.len(), b.reports.len());
    let mut parts = Vec::new();
    if !b.log_complete {
        parts.push("end-job not yet at the base server".to_string());
    }
    if unreached > 0 {
        parts.push(format!("{unreached} not reached"));
    }
    if repairing > 0 {
        parts.push(format!("{repairing} under repair"));
    }
    if !parts.is_empty() {
        reason = format!("{reason}: {}", parts.join(", "));
    }
    ("open_at_horizon".into(), Some(reason))
}

/// A job's optimum where it has a closed form ([`homogeneous_optimum`]), from its hosts'
/// declared capacities and latencies and what else runs in the scenario.
fn job_optimum(engine: &Engine, client: HostId, request: &crate::protocol::job::JobRequest) -> Option<f64> {
    let topo = engine.topology();
    let built = &engine.built;
    let base = built.base_server?;
    let sources: Vec<HostId> = std::iter::once(base).chain(built.origins.iter().copied()).collect();
    let hosts = || sources.iter().chain(&request.servers).chain(std::iter::once(&client));
    let churn = &built.churn;
    let jobs: usize = built.clients.iter().map(|c| c.jobs.len()).sum();
    homogeneous_optimum(&OptimumInputs {
        content_bytes: request.content.total_bytes,
        chunks: request.content.chunks,
        live: request.content.is_live(),
        source_uploads: sources.iter().map(|&h| topo.host(h).upload_bps).collect(),
        client_leg: (!request.preseeded).then(|| topo.host(client).upload_bps.min(topo.host(base).download_bps)),
        servers: request.servers.iter().map(|&h| (topo.host(h).upload_bps, topo.host(h).download_bps)).collect(),
        zero_latency: built.links.is_empty()
            && built.routers == 0
            && hosts().all(|&h| topo.host(h).latency == crate::kernel::SimDuration::ZERO),
        alone: jobs == 1
            && built.transfers.is_empty()
            && churn.joins.is_empty()
            && churn.leaves.is_empty()
            && churn.leave_when_done.is_empty()
            && built.faults.is_empty()
            && built.random_faults.is_none(),
    })
}

/// Mbit/s from bytes per second.
fn mbps(bytes_per_sec: f64) -> f64 {
    bytes_per_sec * 8.0 / 1e6
}

impl Results {
    /// Collects the results of a finished run.
    pub fn collect(engine: &Engine) -> Results {
        Results::collect_with_limit(engine, PER_SERVER_LIST_LIMIT)
    }

    /// [`Results::collect`], listing per-server entries only while the run has at most `limit`
    /// (server, job) pairs.
    pub fn collect_with_limit(engine: &Engine, limit: usize) -> Results {
        let topo = engine.topology();
        let name = |h: HostId| topo.host(h).name.clone();
        let stream_bytes = StreamBytes::of(engine);
        let list_servers = server_job_pairs(engine) <= limit;
        let mut byte_totals = ByteTotals::default();
        let mut jobs = Vec::new();
        let mut nodes = Vec::new();
        let mut all_completions = Vec::new();
        let (mut unfinished, mut deliveries, mut left_unfinished) = (0, 0, 0);
        let mut outcomes = JobOutcomes::default();
        let mut first_start: Option<SimTime> = None;
        let mut last_completion: Option<SimTime> = None;
        let mut bound_end: Option<f64> = None;
        let mut all_done = true;
        let bs = engine.base_server();
        let mut workload = Vec::new();
        let mut job_servers = std::collections::BTreeSet::new();
        for client in engine.clients() {
            let client_host = engine.built.clients.iter().find(|c| c.name == client.name()).expect("client").host;
            let client_up = topo.host(client_host).upload_bps;
            for cj in client.jobs() {
                let request = &cj.request;
                let servers = &request.servers;
                let churn = &engine.built.churn;
                let declared = |h: HostId| {
                    let spec = topo.host(h);
                    Declared { upload: spec.upload_bps, download: spec.download_bps, latency_s: 0.0 }
                };
                let origin_caps: Vec<Declared> = bs
                    .map(|b| std::iter::once(b.host()).chain(b.origins().iter().copied()).map(declared).collect())
                    .unwrap_or_else(|| vec![Declared { upload: f64::INFINITY, download: 0.0, latency_s: 0.0 }]);
                // Servers that leave at a set time need not complete; every server's upload counts.
                let required: Vec<Declared> =
                    servers.iter().filter(|h| !churn.leave_at.contains_key(h)).map(|&h| declared(h)).collect();
                let mut job_inputs = request_bound_inputs(request, &required, &origin_caps, client_up);
                job_inputs.sum_peer_upload = servers.iter().map(|&h| topo.host(h).upload_bps).sum();
                let requested = cj.requested_at.map_or(0.0, secs);
                let bytes = request.content.total_bytes as f64;
                // A late joiner cannot finish before it joins and downloads the content.
                let joins = servers
                    .iter()
                    .filter(|h| !churn.leave_at.contains_key(h))
                    .filter_map(|&h| {
                        churn.join_at.get(&h).map(|&t| secs(t) - requested + bytes / topo.host(h).download_bps)
                    })
                    .fold(0.0, f64::max);
                let bound = job_lower_bound(&job_inputs).max(joins);
                let inputs = BoundInputs {
                    content_bytes: bytes,
                    source_upload: job_inputs.origin_upload,
                    min_download: job_inputs.min_download,
                    sum_peer_upload: job_inputs.sum_peer_upload,
                    receivers: job_inputs.receivers,
                };
                if cj.denied.is_none() {
                    if let Some(r) = cj.requested_at {
                        let join_s = |h: HostId| churn.join_at.get(&h).map_or(0.0, |&t| secs(t));
                        workload.push(WorkloadJob {
                            start_s: secs(r),
                            bound_s: bound,
                            content_bytes: bytes,
                            receivers: servers
                                .iter()
                                .filter(|h| !churn.leave_at.contains_key(h))
                                .map(|&h| (h.0, topo.host(h).download_bps, join_s(h)))
                                .collect(),
                            client: (!request.preseeded).then_some((client_host.0, client_up)),
                        });
                        job_servers.extend(servers.iter().copied());
                    }
                }
                let id = cj.accepted.map(|(id, _)| id);
                let base_job = id.and_then(|id| bs.map(|b| b.job(id)));
                let buffer_s = request.playout_buffer.map_or(0.0, |b| b.as_secs_f64());
                let mut completions = Vec::new();
                let mut last = None;
                let mut switches = 0;
                let mut sustained = 0;
                let mut all_lags = Vec::new();
                let mut completed_by: BTreeMap<u32, (usize, Option<SimTime>)> = BTreeMap::new();
                let left_before = left_unfinished;
                // Moments of the job: seconds since its request, exact (integer nanoseconds).
                let requested = cj.requested_at;
                let rel = |t: SimTime| {
                    requested.map_or(f64::NAN, |r| {
                        if t >= r {
                            t.since(r).as_secs_f64()
                        } else {
                            -r.since(t).as_secs_f64()
                        }
                    })
                };
                let (outcome, outcome_reason) = job_outcome(cj, base_job);
                if id.is_some() {
                    deliveries += servers.len();
                }
                let rows = JobRows { name: &request.name, id, requested, buffer_s, outcome: &outcome };
                for &h in servers.iter() {
                    let state = id.and_then(|id| engine.nodes()[h.0 as usize].as_ref().and_then(|n| n.job(id)));
                    let done = state.and_then(|s| s.received_at);
                    match (done, cj.requested_at) {
                        (Some(t), Some(req)) => {
                            completions.push(t.since(req.min(t)).as_secs_f64());
                            last = last.max(Some(t));
                        }
                        _ if id.is_some() && engine.has_left(h) => left_unfinished += 1,
                        _ if id.is_some() => unfinished += 1,
                        _ => {}
                    }
                    let node = node_result(engine, &stream_bytes, &rows, h);
                    if node.sustained == Some(true) {
                        sustained += 1;
                    }
                    byte_totals.sent += node.bytes_sent;
                    byte_totals.received += node.bytes_received;
                    byte_totals.resent += node.bytes_resent;
                    if list_servers {
                        nodes.push(node);
                    }
                    if let Some(s) = state {
                        switches += s.switches;
                        all_lags.extend(s.chunk_lags_us.iter().map(|&us| us as f64 / 1e6));
                        for c in s.commands.iter().filter(|c| c.completed_at.is_some()) {
                            let e = completed_by.entry(c.command.id.0).or_insert((0, None));
                            e.0 += 1;
                            e.1 = e.1.max(c.completed_at);
                        }
                    }
                }
                let job_left_unfinished = left_unfinished - left_before;
                // Complete: every server received the content, or left the network first.
                let complete = completions.len() + job_left_unfinished == servers.len();
                let makespan = match (complete, last, cj.requested_at) {
                    (true, Some(l), Some(r)) => Some(secs(l) - secs(r)),
                    _ => None,
                };
                match outcome.as_str() {
                    "closed" => outcomes.closed += 1,
                    "open_at_horizon" => outcomes.open_at_horizon += 1,
                    "denied" => outcomes.denied += 1,
                    "unanswered" => outcomes.unanswered += 1,
                    _ => outcomes.not_requested += 1,
                }
                if cj.denied.is_none() {
                    all_done &= complete;
                    if let Some(r) = cj.requested_at {
                        first_start = Some(first_start.map_or(r, |f| f.min(r)));
                        bound_end = Some(bound_end.map_or(secs(r) + bound, |b: f64| b.max(secs(r) + bound)));
                    }
                }
                last_completion = last_completion.max(last);
                all_completions.extend_from_slice(&completions);
                let commands: Vec<CommandResult> = cj
                    .log
                    .iter()
                    .filter_map(|item| match item {
                        Item::Command(c) => Some(c),
                        Item::Chunk(_) => None,
                    })
                    .zip(&cj.commands_added)
                    .map(|(c, &(_, added))| {
                        let (n, last) = completed_by.get(&c.id.0).copied().unwrap_or((0, None));
                        CommandResult {
                            id: c.id.0,
                            name: c.name.clone(),
                            end_job: c.end_job,
                            added_s: Some(rel(added)),
                            data_bytes: c.data_bytes,
                            exec_s: c.exec.as_secs_f64(),
                            completed_servers: n,
                            all_completed_s: if n == servers.len() { last.map(rel) } else { None },
                        }
                    })
                    .collect();
                let total_commands = cj.commands_added.len();
                let accountability = base_job.map(|b| {
                    let mut servers_out = Vec::new();
                    let (mut reported_done, mut truly_done_count, mut consistent) = (0, 0, true);
                    let mut verdicts = VerdictCounts::default();
                    for &h in servers.iter() {
                        let report = b.reports.get(&h).cloned().unwrap_or_default();
                        let node_state = engine.nodes()[h.0 as usize].as_ref().and_then(|n| n.job(b.object.id));
                        let truth = node_state.is_some_and(|s| {
                            s.chunks_held == s.job.content.chunks
                                && s.commands.len() == total_commands
                                && s.commands.iter().all(|c| c.completed_at.is_some())
                        });
                        let (state, reason) = account_state(&report);
                        if report.done_at.is_some() {
                            reported_done += 1;
                            consistent &= truth;
                        }
                        truly_done_count += usize::from(truth);
                        match state {
                            "completed" => verdicts.completed += 1,
                            "completed_after_fault" => verdicts.completed_after_fault += 1,
                            "repaired_then_completed" => verdicts.repaired_then_completed += 1,
                            "failed" => verdicts.failed += 1,
                            "left_unfinished" => verdicts.left_unfinished += 1,
                            _ => verdicts.unfinished += 1,
                        }
                        if !list_servers {
                            continue;
                        }
                        servers_out.push(ServerAccount {
                            server: name(h),
                            state: state.to_string(),
                            reason,
                            failed_s: report.failed_at.map(rel),
                            late_done_s: report.late_done_at.map(rel),
                            activations: report.activations,
                            received_s: report.received_at.map(rel),
                            done_s: report.done_at.map(rel),
                            queries: report.queries,
                            repairs: report.repairs,
                            truly_done: truth,
                            left_s: report.left_at.map(secs),
                        });
                    }
                    Accountability {
                        servers: servers_out,
                        client_notices: cj
                            .notices
                            .iter()
                            .map(|(t, n)| Notice {
                                t_s: rel(*t),
                                notice: match n {
                                    ClientNotice::Delay { server, expected_wait } => format!(
                                        "{} under repair: expect {:.1} s more",
                                        name(*server),
                                        expected_wait.as_secs_f64()
                                    ),
                                    ClientNotice::Failed { server, reason } => {
                                        format!("{} failed: {reason}", name(*server))
                                    }
                                    ClientNotice::Closed { failed } => {
                                        format!("job closed, {failed} server(s) failed")
                                    }
                                },
                            })
                            .collect(),
                        reported_done,
                        truly_done: truly_done_count,
                        consistent,
                        verdicts,
                    }
                });
                let duty = base_job.and_then(|b| b.duty).map(|d| {
                    let reports = base_job.expect("has duty").reports.values();
                    let (mut queries, mut activations, mut repairs) = (0, 0, 0);
                    for r in reports {
                        queries += r.queries;
                        activations += r.activations;
                        repairs += r.repairs;
                    }
                    DutyResult {
                        expected_s: d.expected.as_secs_f64(),
                        t0_s: (d.t0 != SimTime::MAX).then(|| rel(d.t0)),
                        wait_period_s: d.wait_period.as_secs_f64(),
                        wait_periods: d.periods,
                        queries,
                        activations,
                        repairs,
                    }
                });
                let engine_driven = crate::strategy::by_kind(request.strategy.kind).engine_driven();
                let utilisation = match (id, bs, cj.requested_at) {
                    (Some(id), Some(b), Some(start)) if engine_driven => {
                        let capacity = |h: HostId, completed| HostCapacity {
                            host: h,
                            upload: topo.host(h).upload_bps,
                            download: topo.host(h).download_bps,
                            completed,
                        };
                        let peers: Vec<HostCapacity> = servers
                            .iter()
                            .map(|&h| {
                                let state = engine.nodes()[h.0 as usize].as_ref().and_then(|n| n.job(id));
                                capacity(h, state.and_then(|s| s.received_at))
                            })
                            .collect();
                        let pieces: Vec<_> = engine.piece_records().iter().filter(|p| p.job == id).copied().collect();
                        let end = if complete { last.unwrap_or(start) } else { engine.now() };
                        // The origins seed together: their combined upload is the origin's.
                        let mut origin = capacity(b.host(), None);
                        origin.upload += b.origins().iter().map(|&h| topo.host(h).upload_bps).sum::<f64>();
                        Some(utilisation(&pieces, &origin, &peers, start, end))
                    }
                    _ => None,
                };
                let live_stream = request.content.live_chunk_interval.map(|interval| LiveResult {
                    rate_mbps: mbps(
                        request.content.total_bytes as f64 / (interval.as_secs_f64() * request.content.chunks as f64),
                    ),
                    sustainable_rate_bound_mbps: mbps(sustainable_rate(&inputs)),
                    servers_sustained: sustained,
                    playout_buffer_s: buffer_s,
                    lag_s: Percentiles::of(&all_lags),
                });
                let command_count = commands.len();
                jobs.push(JobResult {
                    name: request.name.clone(),
                    client: client.name().to_string(),
                    id: id.map(|j| j.0),
                    strategy: request.strategy.name().to_string(),
                    strategy_params: {
                        let mut params = strategy_params(&request.strategy);
                        if let Some(p) = base_job.and_then(|b| b.plan.as_ref()) {
                            params["plan"] = serde_json::json!({
                                "first_nodes": p.first_nodes,
                                "fanout": p.fanout,
                                "stream_rate_mbps": mbps(p.stream_rate_bps),
                                "estimate_s": p.estimate_s,
                            });
                        }
                        params
                    },
                    outcome,
                    outcome_reason,
                    servers: servers.len(),
                    completed: completions.len(),
                    left_unfinished: job_left_unfinished,
                    content_bytes: request.content.total_bytes,
                    chunks: request.content.chunks,
                    live: request.content.is_live(),
                    requested_at_s: cj.requested_at.map(secs),
                    created_s: base_job.map(|b| rel(b.created_at)),
                    closed_s: base_job.and_then(|b| b.closed_at).map(rel),
                    session_ended_s: cj.session_ended_at.map(rel),
                    client_notified_s: cj.closed_at.map(rel),
                    makespan_s: makespan,
                    lower_bound_s: bound,
                    ratio_to_bound: makespan.map(|m| m / bound),
                    optimum_s: job_optimum(engine, client_host, request),
                    completion_s: Percentiles::of(&completions),
                    completion_times_s: if list_servers { Vec::new() } else { completions.clone() },
                    switches,
                    upload_resumes: cj.upload_resumes,
                    requests_sent: cj.requests_sent,
                    refused: cj.refused.iter().map(|(t, what)| Notice { t_s: rel(*t), notice: what.clone() }).collect(),
                    duty,
                    commands,
                    progress: {
                        let points = cj.progress.iter().map(|p| ProgressPoint {
                            t_s: rel(p.at),
                            reached: p.reached,
                            holders: p.holders,
                            content_percent: p.content_percent,
                            commands_completed: p.commands_completed,
                        });
                        if list_servers {
                            points.collect()
                        } else {
                            thin_progress(points, servers.len(), command_count)
                        }
                    },
                    queries: cj
                        .queries
                        .iter()
                        .map(|q| QueryResult {
                            asked_s: rel(q.asked_at),
                            server: name(q.server),
                            answered_s: q.answer.as_ref().map(|(t, _)| rel(*t)),
                            items_held: q.answer.as_ref().map(|(_, s)| s.items_held),
                            content_complete: q.answer.as_ref().map(|(_, s)| s.content_complete),
                            commands: q.answer.as_ref().map_or_else(Vec::new, |(_, s)| {
                                s.commands
                                    .iter()
                                    .map(|(id, st)| CommandStatus { id: id.0, state: st.name().into() })
                                    .collect()
                            }),
                        })
                        .collect(),
                    live_stream,
                    accountability,
                    utilisation,
                });
            }
        }
        let transfers: Vec<TransferResult> = engine
            .transfers()
            .iter()
            .map(|t| TransferResult {
                from: name(t.from),
                to: name(t.to),
                bytes: t.bytes,
                start_at_s: secs(t.started_at),
                finish_at_s: t.finished_at.map(secs),
                duration_s: t.finished_at.map(|f| f.since(t.started_at).as_secs_f64()),
            })
            .collect();
        for t in engine.transfers() {
            first_start = Some(first_start.map_or(t.started_at, |f| f.min(t.started_at)));
            all_done &= t.finished_at.is_some();
            last_completion = last_completion.max(t.finished_at);
        }
        let makespan_s = match (all_done, first_start, last_completion) {
            (true, Some(f), Some(l)) => Some(secs(l) - secs(f)),
            _ => None,
        };
        let origin = |b: &crate::protocol::base_server::BaseServer| {
            let base_upload = topo.host(b.host()).upload_bps;
            let origin_upload = base_upload + b.origins().iter().map(|&h| topo.host(h).upload_bps).sum::<f64>();
            let total_upload = origin_upload + job_servers.iter().map(|&h| topo.host(h).upload_bps).sum::<f64>();
            WorkloadCapacity { base_upload, origin_upload, total_upload }
        };
        let workload_bound = bs.and_then(|b| workload_lower_bound(&workload, &origin(b)));
        let from_first = |end: f64| end - first_start.map_or(0.0, secs);
        let largest_job_bound_s = bound_end.map(from_first);
        let workload_lower_bound_s = workload_bound.as_ref().map(|(end, _)| from_first(*end)).or(largest_job_bound_s);
        let lower_bound_s = workload_lower_bound_s;
        let strategy = if jobs.is_empty() {
            "none".to_string()
        } else {
            jobs.iter().map(|j| j.strategy.as_str()).collect::<Vec<_>>().join("+")
        };
        let trace = engine.trace();
        let bytes = byte_totals;
        let listed = |l: &[(SimTime, String)]| -> Vec<FaultResult> {
            l.iter().map(|(at, label)| FaultResult { at_s: secs(*at), fault: label.clone() }).collect()
        };
        Results {
            schema_version: RESULTS_SCHEMA_VERSION,
            scenario: engine.built.name.clone(),
            seed: engine.built.seed,
            strategy,
            makespan_s,
            lower_bound_s,
            ratio_to_bound: makespan_s.zip(lower_bound_s).map(|(m, b)| m / b),
            optimum_s: match &jobs[..] {
                [only] if transfers.is_empty() => only.optimum_s,
                _ => None,
            },
            workload_lower_bound_s,
            workload_bound_by: workload_bound.map(|(_, why)| why),
            largest_job_bound_s,
            completion_s: Percentiles::of(&all_completions),
            deliveries,
            unfinished,
            left_unfinished,
            job_outcomes: outcomes,
            faults: listed(engine.fault_log().listed()),
            faults_total: engine.fault_log().total(),
            recoveries: listed(engine.fault_log().ends_listed()),
            recoveries_total: engine.fault_log().ends_total(),
            messages_lost: engine.messages_lost,
            messages_undeliverable: engine.transport_counts().1,
            events: trace.events(),
            trace_hash: format!("{:016x}", trace.value()),
            trace_hash_version: trace.version(),
            bytes,
            end_at_s: secs(engine.now()),
            jobs,
            nodes,
            per_server_lists_omitted: !list_servers,
            transfers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let p = Percentiles::of(&[5.0, 1.0, 4.0, 2.0, 3.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
        assert_eq!((p.p50, p.p90, p.p99, p.max), (Some(5.0), Some(9.0), Some(10.0), Some(10.0)));
        assert_eq!(Percentiles::of(&[]).p50, None);
    }

    /// 10,000 servers reached one by one, then holding the content one by one (content percent
    /// following), then completing end-job: 30,000 reports become the first, one per whole
    /// percent of each count, and the last.
    #[test]
    fn thinned_progress_keeps_each_whole_percent_and_the_last() {
        let servers = 10_000u32;
        let point = |t: u32, reached, holders, commands_completed| ProgressPoint {
            t_s: t as f64,
            reached,
            holders,
            content_percent: (holders as u64 * 100 / servers as u64) as u32,
            commands_completed,
        };
        let mut full = Vec::new();
        for k in 1..=servers {
            full.push(point(k, k, 0, 0));
        }
        for k in 1..=servers {
            full.push(point(servers + k, servers, k, 0));
        }
        for k in 1..=servers {
            full.push(point(2 * servers + k, servers, servers, k));
        }
        let thinned = thin_progress(full.iter().cloned(), servers as usize, 1);
        assert_eq!(thinned.first(), full.first());
        assert_eq!(thinned.last(), full.last());
        // Reached: the first report (0 %) and the first of each percent 1..=100; holders and
        // commands: the first of each percent 1..=100 (the last report is the 100 % one).
        assert_eq!(thinned.len(), 101 + 100 + 100);
        let whole = |p: &ProgressPoint| (p.reached * 100).is_multiple_of(servers);
        assert!(thinned.iter().skip(1).take(99).all(whole), "each kept report is a percent's first");
        // A last report at no new percent is kept too.
        full.push(point(4 * servers, servers, servers, servers));
        let thinned = thin_progress(full.iter().cloned(), servers as usize, 1);
        assert_eq!((thinned.len(), thinned.last()), (302, full.last()));
        assert_eq!(thin_progress(full[..1].iter().cloned(), servers as usize, 1), full[..1]);
        assert!(thin_progress(std::iter::empty(), 0, 0).is_empty());
    }
}
