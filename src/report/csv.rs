//! `nodes.csv`: one row per (server, job), for spreadsheets and pandas.

use super::results::Results;

/// The column names of `nodes.csv`, in order.
pub const NODE_COLUMNS: [&str; 16] = [
    "node",
    "job",
    "job_object_s",
    "completion_s",
    "done_s",
    "bytes_received",
    "bytes_resent",
    "switches",
    "commands_completed",
    "sources",
    "first_source",
    "lag_p50_s",
    "lag_p99_s",
    "lag_max_s",
    "sustained",
    "account",
];

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// Renders `nodes.csv` (empty cells for values that do not apply).
pub fn nodes_csv(results: &Results) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(NODE_COLUMNS)?;
    for n in &results.nodes {
        let account = results
            .jobs
            .iter()
            .find(|j| j.name == n.job)
            .and_then(|j| j.accountability.as_ref())
            .and_then(|a| a.servers.iter().find(|s| s.server == n.node))
            .map_or_else(String::new, |s| s.state.clone());
        let lag = n.lag_s.as_ref();
        w.write_record([
            n.node.clone(),
            n.job.clone(),
            opt(n.job_object_s),
            opt(n.completion_s),
            opt(n.done_s),
            n.bytes_received.to_string(),
            n.bytes_resent.to_string(),
            n.switches.to_string(),
            n.commands_completed.to_string(),
            n.received_from.len().to_string(),
            n.received_from.first().cloned().unwrap_or_default(),
            opt(lag.map(|l| l.p50)),
            opt(lag.map(|l| l.p99)),
            opt(lag.map(|l| l.max)),
            lag.map_or_else(String::new, |l| l.sustained.to_string()),
            account,
        ])?;
    }
    Ok(w.into_inner()?)
}
