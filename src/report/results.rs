//! `results.json`: what a run produced, with stable, documented field names.
//!
//! Times are seconds since the start of the run (converted from integer nanoseconds only
//! here, for display). `null` means "did not happen before the horizon".

use super::bounds::{kumar_ross_seconds, BoundInputs};
use crate::engine::Engine;
use crate::kernel::SimTime;
use crate::protocol::job::StrategyConfig;
use serde::{Deserialize, Serialize};

/// Summary statistics of a set of times, nearest-rank percentiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        Percentiles {
            count: v.len(),
            p50: rank(50.0),
            p90: rank(90.0),
            p99: rank(99.0),
            max: v.last().copied(),
        }
    }
}

/// The outcome of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    /// The job's name in the scenario.
    pub name: String,
    /// The client that requested it.
    pub client: String,
    /// Job id assigned by the base server (`null` if the request never arrived).
    pub id: Option<u32>,
    /// `cascade` or `star`.
    pub strategy: String,
    /// Strategy parameters, as in the scenario.
    pub strategy_params: serde_json::Value,
    /// Number of destination servers.
    pub servers: usize,
    /// Servers that received the whole content.
    pub completed: usize,
    /// Content size, bytes.
    pub content_bytes: u64,
    /// Number of chunks.
    pub chunks: u32,
    /// True for a live stream.
    pub live: bool,
    /// When the client requested the job.
    pub requested_s: Option<f64>,
    /// When the base server created the job object.
    pub created_s: Option<f64>,
    /// When the base server closed the job (every server reported receipt).
    pub closed_s: Option<f64>,
    /// When the client received the closing notification.
    pub client_notified_s: Option<f64>,
    /// Last server completion minus request time.
    pub makespan_s: Option<f64>,
    /// Kumar–Ross bound for this job alone (live: at least the stream's duration).
    pub lower_bound_s: f64,
    /// `makespan_s / lower_bound_s`.
    pub ratio_to_bound: Option<f64>,
    /// Server completion times relative to the request.
    pub completion_s: Percentiles,
}

/// One (server, job) pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeResult {
    /// Server host name.
    pub node: String,
    /// Job name.
    pub job: String,
    /// When the job object arrived.
    pub job_object_s: Option<f64>,
    /// When the last chunk arrived.
    pub completion_s: Option<f64>,
    /// Hosts that streamed content to this server, in order.
    pub received_from: Vec<String>,
    /// Content bytes received.
    pub bytes_received: u64,
}

/// One raw transfer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferResult {
    /// Sending host.
    pub from: String,
    /// Receiving host.
    pub to: String,
    /// Size, bytes.
    pub bytes: u64,
    /// Start time.
    pub start_s: f64,
    /// When the last byte arrived.
    pub finish_s: Option<f64>,
}

/// The whole `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// Strategies of the jobs, `+`-joined in job order (`none` without jobs).
    pub strategy: String,
    /// From the first job request (or transfer start) to the last server completion (or
    /// transfer arrival); `null` if something did not finish.
    pub makespan_s: Option<f64>,
    /// Largest per-job bound, offset by the job's request time (`null` without jobs).
    pub lower_bound_s: Option<f64>,
    /// `makespan_s / lower_bound_s`.
    pub ratio_to_bound: Option<f64>,
    /// Server completion times relative to their job's request, over all jobs.
    pub completion_s: Percentiles,
    /// (server, job) pairs that did not receive everything by the end of the run.
    pub unfinished: usize,
    /// Events processed.
    pub events: u64,
    /// FNV-1a hash of the processed event sequence, hexadecimal.
    pub trace_hash: String,
    /// Virtual time of the last processed event.
    pub end_s: f64,
    /// Per job.
    pub jobs: Vec<JobResult>,
    /// Per (server, job).
    pub nodes: Vec<NodeResult>,
    /// Raw transfers.
    pub transfers: Vec<TransferResult>,
}

fn secs(t: SimTime) -> f64 {
    t.as_secs_f64()
}

fn strategy_params(s: &StrategyConfig) -> serde_json::Value {
    match *s {
        StrategyConfig::Cascade {
            fanout,
            first_nodes,
        } => serde_json::json!({ "fanout": fanout, "first_nodes": first_nodes }),
        StrategyConfig::Star { max_concurrent } => {
            serde_json::json!({ "max_concurrent": max_concurrent })
        }
    }
}

impl Results {
    /// Collects the results of a finished run.
    pub fn collect(engine: &Engine) -> Results {
        let topo = engine.topology();
        let name = |h: crate::net::HostId| topo.host(h).name.clone();
        let mut jobs = Vec::new();
        let mut nodes = Vec::new();
        let mut all_completions = Vec::new();
        let mut unfinished = 0;
        let mut first_request: Option<SimTime> = None;
        let mut last_completion: Option<SimTime> = None;
        let mut bound_end: Option<f64> = None;
        let mut all_done = true;
        let bs = engine.base_server();
        for client in engine.clients() {
            for cj in client.jobs() {
                let request = &cj.request;
                let servers = &request.servers;
                let receivers_up: f64 = servers.iter().map(|&h| topo.host(h).upload_bps).sum();
                let min_down = servers
                    .iter()
                    .map(|&h| topo.host(h).download_bps)
                    .fold(f64::INFINITY, f64::min);
                let bs_host = bs.expect("jobs need a base server").host();
                let mut bound = kumar_ross_seconds(&BoundInputs {
                    content_bytes: request.content.total_bytes as f64,
                    source_upload: topo.host(bs_host).upload_bps,
                    min_download: min_down,
                    sum_peer_upload: receivers_up,
                    receivers: servers.len(),
                });
                if let Some(interval) = request.content.live_chunk_interval {
                    bound = bound.max(interval.as_secs_f64() * request.content.chunks as f64);
                }
                let id = cj.accepted.map(|(id, _)| id);
                let base_job = id.and_then(|id| bs.map(|b| b.job(id)));
                let mut completions = Vec::new();
                let mut last = None;
                for &h in servers.iter() {
                    let state = id.and_then(|id| {
                        engine.nodes()[h.0 as usize]
                            .as_ref()
                            .and_then(|n| n.job(id))
                    });
                    let done = state.and_then(|s| s.received_at);
                    match (done, cj.requested_at) {
                        (Some(t), Some(req)) => {
                            completions.push(secs(t) - secs(req));
                            last = last.max(Some(t));
                        }
                        _ => unfinished += 1,
                    }
                    nodes.push(NodeResult {
                        node: name(h),
                        job: request.name.clone(),
                        job_object_s: state.map(|s| secs(s.job_object_at)),
                        completion_s: done.map(secs),
                        received_from: state.map_or_else(Vec::new, |s| {
                            s.sources.iter().map(|&h| name(h)).collect()
                        }),
                        bytes_received: state.map_or(0, |s| s.bytes_received),
                    });
                }
                let complete = completions.len() == servers.len();
                let makespan = match (complete, last, cj.requested_at) {
                    (true, Some(l), Some(r)) => Some(secs(l) - secs(r)),
                    _ => None,
                };
                all_done &= complete;
                if let Some(r) = cj.requested_at {
                    first_request = first_request.min(Some(r)).or(Some(r));
                    bound_end =
                        Some(bound_end.map_or(secs(r) + bound, |b: f64| b.max(secs(r) + bound)));
                }
                last_completion = last_completion.max(last);
                all_completions.extend_from_slice(&completions);
                jobs.push(JobResult {
                    name: request.name.clone(),
                    client: client.name().to_string(),
                    id: id.map(|j| j.0),
                    strategy: request.strategy.name().to_string(),
                    strategy_params: strategy_params(&request.strategy),
                    servers: servers.len(),
                    completed: completions.len(),
                    content_bytes: request.content.total_bytes,
                    chunks: request.content.chunks,
                    live: request.content.is_live(),
                    requested_s: cj.requested_at.map(secs),
                    created_s: base_job.map(|b| secs(b.created_at)),
                    closed_s: base_job.and_then(|b| b.closed_at).map(secs),
                    client_notified_s: cj.closed_at.map(secs),
                    makespan_s: makespan,
                    lower_bound_s: bound,
                    ratio_to_bound: makespan.map(|m| m / bound),
                    completion_s: Percentiles::of(&completions),
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
                start_s: secs(t.started_at),
                finish_s: t.finished_at.map(secs),
            })
            .collect();
        for t in engine.transfers() {
            first_request = first_request.min(Some(t.started_at)).or(Some(t.started_at));
            all_done &= t.finished_at.is_some();
            last_completion = last_completion.max(t.finished_at);
        }
        let makespan_s = match (all_done, first_request, last_completion) {
            (true, Some(f), Some(l)) => Some(secs(l) - secs(f)),
            _ => None,
        };
        let lower_bound_s = bound_end.map(|b| b - first_request.map_or(0.0, secs));
        let strategy = if jobs.is_empty() {
            "none".to_string()
        } else {
            jobs.iter()
                .map(|j| j.strategy.as_str())
                .collect::<Vec<_>>()
                .join("+")
        };
        let trace = engine.trace();
        Results {
            scenario: engine.built.name.clone(),
            seed: engine.built.seed,
            strategy,
            makespan_s,
            lower_bound_s,
            ratio_to_bound: makespan_s.zip(lower_bound_s).map(|(m, b)| m / b),
            completion_s: Percentiles::of(&all_completions),
            unfinished,
            events: trace.events(),
            trace_hash: format!("{:016x}", trace.value()),
            end_s: secs(engine.now()),
            jobs,
            nodes,
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
        assert_eq!(
            (p.p50, p.p90, p.p99, p.max),
            (Some(5.0), Some(9.0), Some(10.0), Some(10.0))
        );
        assert_eq!(Percentiles::of(&[]).p50, None);
    }
}
