//! Charts of what happened on the run clock: `timeline.svg` (per server, when it received from
//! whom, broken streams and faults) and `throughput.svg` (content delivered to node servers per
//! second against the sum of the node servers' upload capacities), with the data behind the
//! throughput chart ([`throughput_bins`], written as `throughput.csv`).

use super::chart::{axis_top, colour, draw_fault_lines, draw_panel, split, within, Entry, Swatch};
use super::results::Results;
use crate::engine::Engine;
use crate::net::HostId;
use plotters::prelude::*;
use std::collections::BTreeMap;

/// Most server rows drawn in a timeline; larger runs show an evenly spaced sample.
pub const MAX_ROWS: usize = 150;

/// Sources that get a colour of their own in the timeline; the others share one.
pub const KEYED_SOURCES: usize = 9;

/// Where the x axis of run-clock charts ends: when the last job that ran closed (or the client
/// was told), or the last raw transfer finished; the end of the run when a job was still open
/// or a transfer unfinished, or when nothing ran.
pub fn activity_end_at_s(results: &Results) -> f64 {
    let mut end: f64 = 0.0;
    for j in &results.jobs {
        let Some(req) = j.requested_at_s else { continue };
        match j.outcome.as_str() {
            "closed" => end = end.max(req + j.closed_s.unwrap_or(0.0).max(j.client_notified_s.unwrap_or(0.0))),
            "open_at_horizon" => return results.end_at_s,
            _ => {}
        }
    }
    for t in &results.transfers {
        match t.finish_at_s {
            Some(f) => end = end.max(f),
            None => return results.end_at_s,
        }
    }
    if end > 0.0 {
        end
    } else {
        results.end_at_s
    }
}

/// Colour of the base server's streams, and of the sources without a colour of their own.
const BASE_COLOUR: RGBColor = RGBColor(60, 60, 60);
const OTHER_COLOUR: RGBColor = RGBColor(190, 190, 190);

/// Renders `timeline.svg`: one row per server (sampled past [`MAX_ROWS`]), a bar per stream it
/// received, coloured by source (the base server, the [`KEYED_SOURCES`] node servers that sent
/// the most, then one colour for the rest; the side panel is the key), a cross where the
/// receiver broke a stream to switch or lost its source, and the fault moments as red lines.
pub fn timeline_svg(engine: &Engine, results: &Results) -> Result<String, String> {
    let topo = engine.topology();
    let is_node = |h: HostId| engine.nodes()[h.0 as usize].is_some();
    // Rows: node servers that received something, in host order.
    let mut rows: Vec<HostId> = engine.stream_records().iter().map(|s| s.dst).filter(|&h| is_node(h)).collect();
    rows.sort();
    rows.dedup();
    let total = rows.len();
    if total > MAX_ROWS {
        rows = (0..MAX_ROWS).map(|i| rows[i * total / MAX_ROWS]).collect();
    }
    let row_of: BTreeMap<HostId, usize> = rows.iter().enumerate().map(|(i, &h)| (h, i)).collect();
    // Node sources ranked by the bytes they sent (ties by host id).
    let mut sent: BTreeMap<HostId, u64> = BTreeMap::new();
    for s in engine.stream_records().iter().filter(|s| is_node(s.src) && is_node(s.dst)) {
        *sent.entry(s.src).or_default() += s.bytes;
    }
    let mut ranked: Vec<(HostId, u64)> = sent.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let keyed: BTreeMap<HostId, usize> =
        ranked.iter().take(KEYED_SOURCES).enumerate().map(|(i, &(h, _))| (h, i)).collect();
    let source_colour = |h: HostId| -> RGBColor {
        if !is_node(h) {
            BASE_COLOUR
        } else {
            keyed.get(&h).map_or(OTHER_COLOUR, |&i| colour(if i >= 7 { i + 1 } else { i }))
        }
    };
    let end = axis_top(activity_end_at_s(results), 1.02, 1e-3);
    let height = (140 + 6 * rows.len()).clamp(420, 1100) as u32;
    super::chart::render_svg((1100, height), |root| {
        root.fill(&WHITE)?;
        let (plot, side) = split(root);
        let subtitle = if total > MAX_ROWS {
            format!(" ({} of {} servers, evenly sampled)", rows.len(), total)
        } else {
            String::new()
        };
        let mut chart = ChartBuilder::on(&plot)
            .caption(format!("{}: who received from whom{subtitle}", results.scenario), ("sans-serif", 18))
            .margin(10)
            .margin_top(30)
            .x_label_area_size(40)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..end, 0.0..rows.len().max(1) as f64)?;
        let names: Vec<String> = rows.iter().map(|&h| topo.host(h).name.clone()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("run clock (s)")
            .y_desc("server")
            .y_labels(rows.len().min(30))
            .y_label_formatter(&|y| names.get(*y as usize).cloned().unwrap_or_default())
            .draw()?;
        let mut broken = 0;
        for s in engine.stream_records() {
            let Some(&row) = row_of.get(&s.dst) else { continue };
            let start = within(s.first_arrival.unwrap_or(s.opened_at).as_secs_f64(), end);
            let Some(stop) = s.last_arrival.or(s.broken_at) else { continue };
            let stop = within(stop.as_secs_f64(), end);
            let y = row as f64;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(start, y + 0.15), (stop.max(start), y + 0.85)],
                source_colour(s.src).mix(0.85).filled(),
            )))?;
            if let Some(b) = s.broken_at {
                broken += 1;
                chart.draw_series(std::iter::once(Cross::new((within(b.as_secs_f64(), end), y + 0.5), 4, BLACK)))?;
            }
        }
        let mut entries = vec![Entry::text("bar: a stream; colour: its source")];
        if let Some(bs) = engine.built.base_server {
            entries.push(Entry::new(Swatch::Bar(BASE_COLOUR), format!("base server {}", topo.host(bs).name)));
        }
        for (h, bytes) in ranked.iter().take(KEYED_SOURCES) {
            entries.push(Entry::new(
                Swatch::Bar(source_colour(*h)),
                format!("{} ({:.1} MB sent)", topo.host(*h).name, *bytes as f64 / 1e6),
            ));
        }
        if ranked.len() > KEYED_SOURCES {
            entries.push(Entry::new(
                Swatch::Bar(OTHER_COLOUR),
                format!("{} other node servers", ranked.len() - KEYED_SOURCES),
            ));
        }
        if broken > 0 {
            entries.push(Entry::new(Swatch::Cross(BLACK), format!("stream broken ({broken}): switch or fault")));
        }
        entries.extend(draw_fault_lines(
            &plot,
            &mut chart,
            results,
            |t| (0.0..=end).contains(&t).then_some(t),
            (0.0, rows.len() as f64),
        )?);
        draw_panel(&side, &entries)
    })
}

/// Number of time bins of the throughput chart.
pub const BINS: usize = 200;

/// The throughput chart's data: per time bin on the run clock, the content delivered to node
/// servers (each stream's bytes spread evenly over its active span), bytes per second.
pub struct ThroughputBins {
    /// Width of a bin, seconds.
    pub width_s: f64,
    /// Delivered bytes per second in each bin, from 0.
    pub delivered: Vec<f64>,
    /// Sum of the node servers' declared upload capacities, bytes per second.
    pub node_upload: f64,
}

/// Bins the streams received by node servers over `0..activity_end_at_s(results)`.
pub fn throughput_bins(engine: &Engine, results: &Results) -> ThroughputBins {
    let end = axis_top(activity_end_at_s(results), 1.0, 1e-3);
    let width = end / BINS as f64;
    let mut bins = vec![0.0f64; BINS];
    let is_node = |h: HostId| engine.nodes()[h.0 as usize].is_some();
    for s in engine.stream_records().iter().filter(|s| is_node(s.dst)) {
        let (Some(first), Some(last)) = (s.first_arrival, s.last_arrival) else { continue };
        let (a, b) = (s.opened_at.as_secs_f64().max(first.as_secs_f64() - width), last.as_secs_f64());
        let span = (b - a).max(1e-9);
        let rate = s.bytes as f64 / span;
        let first_bin = ((a / width).floor().max(0.0) as usize).min(BINS);
        for (i, bin) in bins.iter_mut().enumerate().skip(first_bin) {
            let (lo, hi) = (i as f64 * width, (i + 1) as f64 * width);
            if lo > b {
                break;
            }
            let overlap = (hi.min(b) - lo.max(a)).max(0.0);
            *bin += rate * overlap / width;
        }
    }
    let topo = engine.topology();
    let node_upload: f64 = engine.built.node_servers.iter().map(|&h| topo.host(h).upload_bps).sum();
    ThroughputBins { width_s: width, delivered: bins, node_upload }
}

/// Renders `throughput.svg` from [`throughput_bins`].
pub fn throughput_svg(engine: &Engine, results: &Results) -> Result<String, String> {
    let data = throughput_bins(engine, results);
    let mbps = |bytes_per_s: f64| bytes_per_s * 8.0 / 1e6;
    let end = data.width_s * BINS as f64;
    let y_max = data.delivered.iter().copied().fold(data.node_upload, f64::max);
    let top = axis_top(mbps(y_max), 1.08, 1e-6);
    super::chart::render_svg((1000, 480), |root| {
        root.fill(&WHITE)?;
        let (plot, side) = split(root);
        let mut chart = ChartBuilder::on(&plot)
            .caption(format!("{}: delivered throughput", results.scenario), ("sans-serif", 20))
            .margin(12)
            .margin_top(30)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..end, 0.0..top)?;
        chart.configure_mesh().x_desc("run clock (s)").y_desc("throughput (Mbit/s)").draw()?;
        let w = data.width_s;
        chart.draw_series(LineSeries::new(
            data.delivered.iter().enumerate().map(|(i, &v)| ((i as f64 + 0.5) * w, within(mbps(v), top))),
            colour(0).stroke_width(2),
        ))?;
        let cap = within(mbps(data.node_upload), top);
        chart.draw_series(LineSeries::new(vec![(0.0, cap), (end, cap)], BLACK.mix(0.6)))?;
        let mut entries = vec![
            Entry::new(Swatch::Line(colour(0), 2), "content received by node servers"),
            Entry::new(Swatch::Line(RGBColor(100, 100, 100), 1), "sum of node servers' uploads"),
            Entry::text(format!("  = {} Mbit/s", super::chart::short_number(mbps(data.node_upload)))),
            Entry::text(format!("bins of {} s", super::chart::short_number(w))),
        ];
        entries.extend(draw_fault_lines(
            &plot,
            &mut chart,
            results,
            |t| (0.0..=end).contains(&t).then_some(t),
            (0.0, top),
        )?);
        draw_panel(&side, &entries)
    })
}
