//! Charts that put several series side by side: completion CDFs of several runs (a compare, a
//! report over run directories), and the client's view of its jobs' progress over time.

use super::chart::{axis_top, cdf_steps, colour, draw_panel, short_number, split, within, Entry, Swatch, XAxis};
use super::results::Results;
use plotters::prelude::*;

/// Renders one completion CDF per run (all jobs of a run together, each server's completion
/// counted from its job's request). `runs` pairs a legend label with the run's results; the x
/// axis is logarithmic when `force_log` is set or the runs' makespans differ by 10× or more.
pub fn completion_overlay_svg(title: &str, runs: &[(String, &Results)], force_log: bool) -> Result<String, String> {
    let series: Vec<(String, Vec<f64>, usize)> = runs
        .iter()
        .map(|(label, r)| {
            let mut times: Vec<f64> = if r.per_server_lists_omitted {
                r.jobs.iter().flat_map(|j| j.completion_times_s.iter().copied()).collect()
            } else {
                r.nodes.iter().filter_map(|n| n.completion_s).collect()
            };
            times.sort_by(f64::total_cmp);
            let ratio = r.ratio_to_bound.map_or_else(String::new, |x| format!(", {x:.2}× bound"));
            (format!("{label}{ratio}"), times, r.deliveries.max(1))
        })
        .collect();
    let bound = runs.iter().filter_map(|(_, r)| r.lower_bound_s).fold(0.0_f64, f64::max);
    let hi = axis_top(series.iter().filter_map(|s| s.1.last().copied()).fold(bound, f64::max), 1.05, 1e-3);
    let ends: Vec<f64> = series.iter().filter_map(|s| s.1.last().copied()).collect();
    let x = XAxis::new(&ends, hi, force_log);
    super::chart::render_svg((1000, 520), |root| {
        root.fill(&WHITE)?;
        let (plot, side) = split(root);
        let mut chart = ChartBuilder::on(&plot)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d(x.range(), 0.0..1.0)?;
        chart
            .configure_mesh()
            .x_desc(format!("seconds since the job's request{}", x.note()))
            .y_desc("fraction of servers holding the content")
            .x_label_formatter(&|v| x.label(*v))
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .draw()?;
        let mut entries = Vec::new();
        for (i, (label, times, total)) in series.iter().enumerate() {
            let c = colour(i);
            let mut pts = cdf_steps(times, *total);
            if x.log {
                pts.retain(|p| p.0 > 0.0);
            }
            chart.draw_series(LineSeries::new(pts.into_iter().map(|(t, f)| (x.at(t), f)), c.stroke_width(2)))?;
            entries.push(Entry::new(Swatch::Line(c, 2), label.clone()));
        }
        if bound > 0.0 {
            let b = x.at(bound);
            chart.draw_series(std::iter::once(PathElement::new(vec![(b, 0.0), (b, 1.0)], BLACK.mix(0.5))))?;
            entries.push(Entry::new(
                Swatch::Line(RGBColor(128, 128, 128), 1),
                format!("lower bound {} s", short_number(bound)),
            ));
        }
        draw_panel(&side, &entries)
    })
}

/// Renders the client's view of its jobs (`progress.svg`): per job, the content held over all
/// servers (percent, from the tenths servers report) and the command completions, against
/// seconds since the job's request, with the moments commands were added, the client left and
/// it was told the job closed. `None` when no job reported progress.
pub fn progress_svg(results: &Results) -> Option<Result<String, String>> {
    let jobs: Vec<_> = results.jobs.iter().filter(|j| !j.progress.is_empty()).collect();
    if jobs.is_empty() {
        return None;
    }
    let x_max = axis_top(
        jobs.iter()
            .flat_map(|j| j.progress.last().map(|p| p.t_s).into_iter().chain(j.client_notified_s))
            .fold(0.0, f64::max),
        1.05,
        1e-3,
    );
    Some(super::chart::render_svg((1000, 520), |root| {
        root.fill(&WHITE)?;
        let (plot, side) = split(root);
        let mut chart = ChartBuilder::on(&plot)
            .caption(format!("{}: the jobs as the client sees them", results.scenario), ("sans-serif", 18))
            .margin(12)
            .margin_top(30)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..x_max, 0.0..1.0)?;
        chart
            .configure_mesh()
            .x_desc("seconds since the job's request")
            .y_desc("content held / commands completed")
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .draw()?;
        let mut entries = Vec::new();
        let mut marks = Vec::new();
        for (i, j) in jobs.iter().enumerate() {
            let c = colour(i);
            let servers = j.servers.max(1) as f64;
            let commands = j.commands.len().max(1) as f64;
            let held = j.progress.iter().map(|p| (within(p.t_s, x_max), p.content_percent as f64 / 100.0));
            chart.draw_series(LineSeries::new(held, c.stroke_width(2)))?;
            entries.push(Entry::new(Swatch::Line(c, 2), format!("{}: content held", j.name)));
            let done =
                j.progress.iter().map(|p| (within(p.t_s, x_max), p.commands_completed as f64 / (servers * commands)));
            chart.draw_series(DashedLineSeries::new(done, 6, 4, c.stroke_width(2)))?;
            entries.push(Entry::new(Swatch::Dashed(c), format!("{}: commands completed", j.name)));
            for cmd in &j.commands {
                if let Some(t) = cmd.added_s {
                    marks.push((t, format!("{}: {} added", j.name, cmd.name)));
                }
            }
            marks.extend(j.session_ended_s.map(|t| (t, format!("{}: client leaves", j.name))));
            marks.extend(j.client_notified_s.map(|t| (t, format!("{}: client told: closed", j.name))));
        }
        marks.sort_by(|a, b| a.0.total_cmp(&b.0));
        if !marks.is_empty() {
            entries.push(Entry::text("moments (grey lines, numbered):"));
        }
        for (k, (t, what)) in marks.iter().enumerate() {
            let t = within(*t, x_max);
            chart.draw_series(std::iter::once(PathElement::new(vec![(t, 0.0), (t, 1.0)], BLACK.mix(0.3))))?;
            let (px, py) = chart.backend_coord(&(t, 1.0));
            plot.draw(&Text::new(format!("{}", k + 1), (px - 3, py - 14), ("sans-serif", 11)))?;
            entries.push(Entry::text(format!("{}: {} ({} s)", k + 1, what, short_number(t))));
        }
        draw_panel(&side, &entries)
    }))
}
