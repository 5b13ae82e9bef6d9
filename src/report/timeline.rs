//! Charts of what happened over time: `timeline.svg` (per server, when it received from
//! whom, switches and faults) and `throughput.svg` (aggregate delivered bandwidth against the
//! sum of upload capacities).

use super::chart::{axis_top, within};
use super::results::Results;
use crate::engine::Engine;
use plotters::prelude::*;
use std::collections::BTreeMap;

/// Most server rows drawn in a timeline; larger runs show an evenly spaced sample.
pub const MAX_ROWS: usize = 150;

/// Renders `timeline.svg`: one row per server (sampled past [`MAX_ROWS`]), a bar per stream it
/// received, coloured by source, a cross where it broke a stream to switch or lost its source,
/// and the fault moments as red lines.
pub fn timeline_svg(engine: &Engine, results: &Results) -> Result<String, String> {
    let topo = engine.topology();
    // Rows: node servers that received something, in host order.
    let mut rows: Vec<crate::net::HostId> = engine.stream_records().iter().map(|s| s.dst).collect();
    rows.sort();
    rows.dedup();
    rows.retain(|h| engine.nodes()[h.0 as usize].is_some());
    let total = rows.len();
    if total > MAX_ROWS {
        rows = (0..MAX_ROWS).map(|i| rows[i * total / MAX_ROWS]).collect();
    }
    let row_of: BTreeMap<crate::net::HostId, usize> = rows.iter().enumerate().map(|(i, &h)| (h, i)).collect();
    let end = axis_top(results.end_s, 1.0, 1e-3);
    let height = (120 + 6 * rows.len()).clamp(360, 1100) as u32;
    super::chart::render_svg((1000, height), |root| {
        root.fill(&WHITE)?;
        let subtitle = if total > MAX_ROWS {
            format!(" ({} of {} servers shown, evenly sampled)", rows.len(), total)
        } else {
            String::new()
        };
        let mut chart = ChartBuilder::on(root)
            .caption(format!("{}: who received from whom{subtitle}", results.scenario), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..axis_top(end, 1.02, 1e-3), 0.0..rows.len().max(1) as f64)?;
        let names: Vec<String> = rows.iter().map(|&h| topo.host(h).name.clone()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("time (s)")
            .y_desc("server")
            .y_labels(rows.len().min(30))
            .y_label_formatter(&|y| names.get(*y as usize).cloned().unwrap_or_default())
            .draw()?;
        let mut sources: BTreeMap<crate::net::HostId, usize> = BTreeMap::new();
        for s in engine.stream_records() {
            let Some(&row) = row_of.get(&s.dst) else { continue };
            let start = within(s.first_arrival.unwrap_or(s.opened_at).as_secs_f64(), end);
            let Some(stop) = s.last_arrival.or(s.broken_at) else { continue };
            let stop = within(stop.as_secs_f64(), end);
            let next = sources.len();
            let color = Palette99::pick(*sources.entry(s.src).or_insert(next)).mix(0.8);
            let y = row as f64;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(start, y + 0.15), (stop.max(start), y + 0.85)],
                color.filled(),
            )))?;
            if let Some(b) = s.broken_at {
                chart.draw_series(std::iter::once(Cross::new((within(b.as_secs_f64(), end), y + 0.5), 4, BLACK)))?;
            }
        }
        for f in &results.faults {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(within(f.t_s, end), 0.0), (within(f.t_s, end), rows.len() as f64)],
                RED.mix(0.4),
            )))?;
        }
        chart
            .draw_series(std::iter::once(Rectangle::new([(0.0, 0.0), (0.0, 0.0)], BLACK.mix(0.5).filled())))?
            .label("a stream (colour: its source)")
            .legend(|(x, y)| Rectangle::new([(x, y - 4), (x + 14, y + 4)], BLACK.mix(0.5).filled()));
        chart
            .draw_series(std::iter::once(Cross::new((-1.0, -1.0), 4, BLACK)))?
            .label("stream broken (switch or fault)")
            .legend(|(x, y)| Cross::new((x + 7, y), 4, BLACK));
        chart
            .draw_series(std::iter::once(PathElement::new(vec![(-1.0, -1.0), (-1.0, -1.0)], RED)))?
            .label("fault")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], RED));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })
}

/// Number of time bins of the throughput chart.
const BINS: usize = 200;

/// Renders `throughput.svg`: delivered content per second over time (each stream's bytes
/// spread evenly over its active span), against the sum of all upload capacities.
pub fn throughput_svg(engine: &Engine, results: &Results) -> Result<String, String> {
    let end = axis_top(results.end_s, 1.0, 1e-3);
    let width = end / BINS as f64;
    let mut bins = vec![0.0f64; BINS];
    for s in engine.stream_records() {
        let (Some(first), Some(last)) = (s.first_arrival, s.last_arrival) else { continue };
        let (a, b) = (s.opened_at.as_secs_f64().max(first.as_secs_f64() - width), last.as_secs_f64());
        let span = (b - a).max(1e-9);
        let rate = s.bytes as f64 / span;
        for (i, bin) in bins.iter_mut().enumerate() {
            let (lo, hi) = (i as f64 * width, (i + 1) as f64 * width);
            let overlap = (hi.min(b) - lo.max(a)).max(0.0);
            *bin += rate * overlap / width;
        }
    }
    let topo = engine.topology();
    let capacity: f64 = (0..topo.host_count()).map(|h| topo.host(crate::net::HostId(h as u32)).upload_bps).sum();
    let mbps = |bytes_per_s: f64| bytes_per_s * 8.0 / 1e6;
    let y_max = bins.iter().copied().fold(capacity, f64::max);
    let top = axis_top(mbps(y_max), 1.08, 1e-6);
    super::chart::render_svg((900, 480), |root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .caption(format!("{}: delivered throughput", results.scenario), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..end, 0.0..top)?;
        chart.configure_mesh().x_desc("time (s)").y_desc("throughput (Mbit/s)").draw()?;
        chart
            .draw_series(LineSeries::new(
                bins.iter().enumerate().map(|(i, &v)| ((i as f64 + 0.5) * width, within(mbps(v), top))),
                BLUE.stroke_width(2),
            ))?
            .label("content delivered (all streams)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, within(mbps(capacity), top)), (end, within(mbps(capacity), top))],
                BLACK.mix(0.6),
            ))?
            .label("sum of upload capacities")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.6)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    })
}
