//! The data beside every chart, as CSV that pandas, polars or R read with no cleaning: a header
//! row, one type per column, an empty cell where a value does not apply, times named by frame
//! like `results.json` (`_at_s` on the run clock, `_s` since the job's request).
//!
//! - `nodes.csv`: one row per (server, job);
//! - `streams.csv`: one row per stream (source → destination, per job): the timeline's bars;
//! - `throughput.csv`: one row per time bin: the throughput chart;
//! - `progress.csv`: one row per progress report the client received: the progress chart;
//! - `live.csv`: one row per (live job, server, chunk): the lag chart.

use super::live::LagRow;
use super::results::Results;
use super::timeline::ThroughputBins;
use crate::engine::Engine;

/// The column names of `nodes.csv`, in order.
pub const NODE_COLUMNS: [&str; 19] = [
    "node",
    "job",
    "delivery",
    "job_object_s",
    "completion_s",
    "done_s",
    "bytes_received",
    "bytes_sent",
    "bytes_resent",
    "switches",
    "reactivations",
    "commands_completed",
    "sources",
    "first_source",
    "lag_p50_s",
    "lag_p99_s",
    "lag_max_s",
    "sustained",
    "account",
];

/// The column names of `streams.csv`.
pub const STREAM_COLUMNS: [&str; 9] =
    ["job", "source", "destination", "start_at_s", "first_item_at_s", "end_at_s", "bytes", "items", "broken"];

/// The column names of `throughput.csv`.
pub const THROUGHPUT_COLUMNS: [&str; 4] = ["bin_start_at_s", "bin_end_at_s", "delivered_mbps", "node_upload_mbps"];

/// The column names of `progress.csv`.
pub const PROGRESS_COLUMNS: [&str; 6] = ["job", "t_s", "reached", "holders", "content_percent", "commands_completed"];

/// The column names of `live.csv`.
pub const LIVE_COLUMNS: [&str; 5] = ["job", "server", "chunk", "stream_s", "lag_s"];

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

fn write(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(&r)?;
    }
    Ok(w.into_inner()?)
}

/// Renders `nodes.csv` (see [`write_nodes_csv`]).
pub fn nodes_csv(engine: &Engine) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    write_nodes_csv(engine, &mut out)?;
    Ok(out)
}

/// Writes `nodes.csv` into `out` row by row, one row per (server, job) in the order of
/// `results.json`'s `nodes[]`, each built from the finished run and dropped once written (no
/// row is held: the file of a million-server run streams out).
pub fn write_nodes_csv(engine: &Engine, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(NODE_COLUMNS)?;
    let mut failed = None;
    super::results::for_each_node_result(engine, |n, account| {
        if failed.is_some() {
            return;
        }
        let lag = n.lag_s.as_ref();
        let row = [
            n.node.as_str(),
            n.job.as_str(),
            n.delivery.as_str(),
            &opt(n.job_object_s),
            &opt(n.completion_s),
            &opt(n.done_s),
            &n.bytes_received.to_string(),
            &n.bytes_sent.to_string(),
            &n.bytes_resent.to_string(),
            &n.switches.to_string(),
            &n.reactivations.to_string(),
            &n.commands_completed.to_string(),
            &n.received_from.len().to_string(),
            n.received_from.first().map_or("", String::as_str),
            &opt(lag.and_then(|l| l.p50)),
            &opt(lag.and_then(|l| l.p99)),
            &opt(lag.and_then(|l| l.max)),
            &n.sustained.map_or_else(String::new, |s| s.to_string()),
            account,
        ];
        if let Err(e) = w.write_record(row) {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    w.flush()
}

/// Renders `streams.csv` from the engine's stream records (jobs named as in `results`).
pub fn streams_csv(engine: &Engine, results: &Results) -> anyhow::Result<Vec<u8>> {
    let topo = engine.topology();
    let job_name =
        |id: u32| results.jobs.iter().find(|j| j.id == Some(id)).map_or_else(String::new, |j| j.name.clone());
    let at = |t: Option<crate::kernel::SimTime>| opt(t.map(|t| t.as_secs_f64()));
    write(
        &STREAM_COLUMNS,
        engine.stream_records().iter().map(|s| {
            vec![
                job_name(s.job.0),
                topo.host(s.src).name.clone(),
                topo.host(s.dst).name.clone(),
                s.opened_at.as_secs_f64().to_string(),
                at(s.first_arrival),
                at(s.broken_at.max(s.last_arrival)),
                s.bytes.to_string(),
                s.chunks.to_string(),
                s.broken_at.is_some().to_string(),
            ]
        }),
    )
}

/// Renders `throughput.csv` from the chart's bins.
pub fn throughput_csv(bins: &ThroughputBins) -> anyhow::Result<Vec<u8>> {
    let mbps = |b: f64| b * 8.0 / 1e6;
    let w = bins.width_s;
    write(
        &THROUGHPUT_COLUMNS,
        bins.delivered.iter().enumerate().map(|(i, &v)| {
            vec![
                (i as f64 * w).to_string(),
                ((i + 1) as f64 * w).to_string(),
                mbps(v).to_string(),
                mbps(bins.node_upload).to_string(),
            ]
        }),
    )
}

/// Renders `progress.csv`.
pub fn progress_csv(results: &Results) -> anyhow::Result<Vec<u8>> {
    write(
        &PROGRESS_COLUMNS,
        results.jobs.iter().flat_map(|j| {
            j.progress.iter().map(move |p| {
                vec![
                    j.name.clone(),
                    p.t_s.to_string(),
                    p.reached.to_string(),
                    p.holders.to_string(),
                    p.content_percent.to_string(),
                    p.commands_completed.to_string(),
                ]
            })
        }),
    )
}

/// Renders `live.csv`.
pub fn live_csv(rows: &[LagRow]) -> anyhow::Result<Vec<u8>> {
    write(
        &LIVE_COLUMNS,
        rows.iter().map(|r| {
            vec![r.job.clone(), r.server.clone(), r.chunk.to_string(), r.stream_s.to_string(), r.lag_s.to_string()]
        }),
    )
}
