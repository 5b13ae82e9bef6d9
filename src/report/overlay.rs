//! Charts that put several runs side by side: completion CDFs of variants of one scenario
//! (what a switch changes), and the client's view of a job's progress over time.

use super::results::Results;
use plotters::prelude::*;

/// Renders one completion CDF per run (all jobs of a run together) into an SVG document.
/// `runs` pairs a legend label with the run's results.
pub fn completion_overlay_svg(title: &str, runs: &[(String, &Results)]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 520)).into_drawing_area();
        draw_overlay(&root, title, runs).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn draw_overlay<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    runs: &[(String, &Results)],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let series: Vec<(String, Vec<f64>, usize)> = runs
        .iter()
        .map(|(label, r)| {
            let start = r.jobs.iter().filter_map(|j| j.requested_s).fold(f64::INFINITY, f64::min);
            let mut times: Vec<f64> = r.nodes.iter().filter_map(|n| n.completion_s.map(|c| c - start.min(c))).collect();
            times.sort_by(f64::total_cmp);
            let ratio = r.ratio_to_bound.map_or_else(String::new, |x| format!(", {x:.2}× bound"));
            (format!("{label}{ratio}"), times, r.nodes.len().max(1))
        })
        .collect();
    let bound = runs.iter().filter_map(|(_, r)| r.lower_bound_s).fold(0.0_f64, f64::max);
    let x_max =
        super::chart::axis_top(series.iter().filter_map(|s| s.1.last().copied()).fold(bound, f64::max), 1.05, 1e-3);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(46)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("time since the first request (s)")
        .y_desc("fraction of servers holding the content")
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .draw()?;
    for (i, (label, times, total)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts = super::chart::cdf_steps(times, *total).into_iter().map(|(t, f)| (super::chart::within(t, x_max), f));
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    if bound > 0.0 {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(super::chart::within(bound, x_max), 0.0), (super::chart::within(bound, x_max), 1.0)],
                BLACK.mix(0.5),
            )))?
            .label(format!("lower bound {bound:.2} s"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.5)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// Renders the client's view of a job (progress reports: servers holding the content and
/// command completions over time) into an SVG document.
pub fn progress_svg(results: &Results, job: &str) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 520)).into_drawing_area();
        draw_progress(&root, results, job).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn draw_progress<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    results: &Results,
    job: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let j = results.jobs.iter().find(|j| j.name == job).expect("job in results");
    let servers = j.servers.max(1) as f64;
    let commands = j.commands.len().max(1) as f64;
    let x_max = j.progress.last().map_or(1.0, |p| p.t_s).max(j.client_notified_s.unwrap_or(0.0)) * 1.05;
    let mut chart = ChartBuilder::on(root)
        .caption(format!("{}: job {} as the client sees it", results.scenario, job), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(46)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("fraction of servers / of command completions")
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .draw()?;
    let holders: Vec<(f64, f64)> = j.progress.iter().map(|p| (p.t_s, p.holders as f64 / servers)).collect();
    let done: Vec<(f64, f64)> =
        j.progress.iter().map(|p| (p.t_s, p.commands_completed as f64 / (servers * commands))).collect();
    for (i, (label, pts)) in [("servers holding the content", holders), ("commands completed (end-job included)", done)]
        .into_iter()
        .enumerate()
    {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    let marks: Vec<(f64, &str)> = j
        .commands
        .iter()
        .filter_map(|c| c.added_s.map(|t| (t, c.name.as_str())))
        .chain(j.session_ended_s.map(|t| (t, "client leaves")))
        .chain(j.client_notified_s.map(|t| (t, "client told: closed")))
        .collect();
    // Staggered labels, so marks at nearby times stay readable.
    for (k, (t, name)) in marks.into_iter().enumerate() {
        let y = 0.97 - 0.05 * (k % 4) as f64;
        chart.draw_series(std::iter::once(PathElement::new(vec![(t, 0.0), (t, 1.0)], BLACK.mix(0.3))))?;
        chart.draw_series(std::iter::once(Text::new(format!(" {name}"), (t, y), ("sans-serif", 12))))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
