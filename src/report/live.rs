//! Live streams: the delivery lag of every chunk at every server (`live.csv`) and one lag chart
//! per live job (`lag.svg`, a panel per job). A live job's completion CDF is one vertical step
//! at the end of the stream and says nothing; what matters is how far behind the client each
//! server plays, and whether it kept up.

use super::chart::{axis_top, colour, draw_panel, short_number, split, within, Entry, Swatch};
use super::results::{Percentiles, Results};
use crate::engine::Engine;
use plotters::prelude::*;

/// Most live jobs drawn in `lag.svg` (one panel each).
pub const MAX_PANELS: usize = 6;

/// One chunk's lag at one server.
#[derive(Debug, Clone, PartialEq)]
pub struct LagRow {
    /// The job.
    pub job: String,
    /// The server.
    pub server: String,
    /// Chunk index, from 0.
    pub chunk: u32,
    /// Position of the chunk's end in the stream, seconds of stream (`(chunk + 1) × chunk_s`).
    pub stream_s: f64,
    /// Receipt at the server minus production at the client, seconds.
    pub lag_s: f64,
}

/// Every chunk's lag at every server of every live job, in job, server (host) and chunk order.
pub fn lag_rows(engine: &Engine, results: &Results) -> Vec<LagRow> {
    let topo = engine.topology();
    let mut rows = Vec::new();
    for client in engine.clients() {
        for cj in client.jobs() {
            let (Some(interval), Some((id, _))) = (cj.request.content.live_chunk_interval, cj.accepted) else {
                continue;
            };
            if !results.jobs.iter().any(|j| j.name == cj.request.name) {
                continue;
            }
            for &h in cj.request.servers.iter() {
                let Some(state) = engine.nodes()[h.0 as usize].as_ref().and_then(|n| n.job(id)) else { continue };
                for (k, &us) in state.chunk_lags_us.iter().enumerate() {
                    rows.push(LagRow {
                        job: cj.request.name.clone(),
                        server: topo.host(h).name.clone(),
                        chunk: k as u32,
                        stream_s: interval.as_secs_f64() * (k + 1) as f64,
                        lag_s: us as f64 / 1e6,
                    });
                }
            }
        }
    }
    rows
}

/// Per chunk of one job: (stream position, percentiles of the lag over the servers).
fn per_chunk(rows: &[LagRow], job: &str) -> Vec<(f64, Percentiles)> {
    let mut by_chunk: std::collections::BTreeMap<u32, (f64, Vec<f64>)> = Default::default();
    for r in rows.iter().filter(|r| r.job == job) {
        let e = by_chunk.entry(r.chunk).or_insert((r.stream_s, Vec::new()));
        e.1.push(r.lag_s);
    }
    by_chunk.into_values().map(|(s, lags)| (s, Percentiles::of(&lags))).collect()
}

/// Renders `lag.svg`: for each live job (up to [`MAX_PANELS`]), the median, 99th percentile
/// and largest lag over its servers for every chunk, against the chunk's position in the
/// stream; the title says how many servers kept up. `None` without live jobs.
pub fn lag_svg(results: &Results, rows: &[LagRow]) -> Option<Result<String, String>> {
    let live: Vec<_> = results.jobs.iter().filter(|j| j.live && j.id.is_some()).take(MAX_PANELS).collect();
    if live.is_empty() {
        return None;
    }
    let panel_h = 380u32;
    Some(super::chart::render_svg((1000, panel_h * live.len() as u32), |root| {
        root.fill(&WHITE)?;
        let panels = root.split_evenly((live.len(), 1));
        for (job, area) in live.iter().zip(panels.iter()) {
            let data = per_chunk(rows, &job.name);
            let stream = job.live_stream.as_ref();
            let x_hi = axis_top(data.last().map_or(1.0, |d| d.0), 1.02, 1e-3);
            let y_hi = axis_top(data.iter().filter_map(|d| d.1.max).fold(0.0, f64::max), 1.1, 1e-3);
            let (plot, side) = split(area);
            let kept = stream
                .map_or(String::new(), |l| format!(": {} of {} servers kept up", l.servers_sustained, job.servers));
            let mut chart = ChartBuilder::on(&plot)
                .caption(format!("{} / {}{kept}", results.scenario, job.name), ("sans-serif", 18))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(0.0..x_hi, 0.0..y_hi)?;
            chart
                .configure_mesh()
                .x_desc("position in the stream (s): end of the chunk")
                .y_desc("lag behind the client (s)")
                .draw()?;
            type Pick = fn(&Percentiles) -> Option<f64>;
            let lines: [(&str, Pick); 3] =
                [("median over servers", |p| p.p50), ("99th percentile", |p| p.p99), ("largest", |p| p.max)];
            let mut entries = Vec::new();
            for (i, (label, pick)) in lines.iter().enumerate() {
                let c = colour(i);
                chart.draw_series(LineSeries::new(
                    data.iter().filter_map(|(s, p)| pick(p).map(|v| (*s, within(v, y_hi)))),
                    c.stroke_width(2),
                ))?;
                entries.push(Entry::new(Swatch::Line(c, 2), format!("lag: {label}")));
            }
            if let Some(l) = stream {
                entries.push(Entry::text(format!("{} Mbit/s stream", short_number(l.rate_mbps))));
                entries.push(Entry::text(format!("playout buffer {} s", short_number(l.playout_buffer_s))));
                entries.push(Entry::text(format!(
                    "lag p50 {} s, p99 {} s",
                    l.lag_s.p50.map_or("-".into(), short_number),
                    l.lag_s.p99.map_or("-".into(), short_number)
                )));
                entries.push(Entry::text("kept up: every chunk, none later"));
                entries.push(Entry::text("than its first chunk's lag + buffer"));
            }
            draw_panel(&side, &entries)?;
        }
        Ok(())
    }))
}
