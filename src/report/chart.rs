//! Completion-time charts rendered with plotters.
//!
//! The completion chart is an empirical CDF: for each job, the fraction of its servers holding
//! the whole content against seconds since the job was requested, with the job's lower bound as
//! a dashed vertical line. Raw transfers get the same plot of their finish times. Series with
//! more than [`MAX_POINTS`] points are thinned to that many evenly spaced ranks so that charts of
//! 100,000-node runs stay small and readable.

use super::results::Results;
use plotters::prelude::*;

/// Most points drawn per series.
pub const MAX_POINTS: usize = 2000;

/// Fault moments labelled on a chart; later ones are drawn as lines only.
pub const MAX_FAULT_LABELS: usize = 24;

/// Largest value an axis shows. Charts must render in bounded time whatever the data: plotters
/// computes its key points by stepping through the range, which never ends for an infinite or
/// astronomically wide range, so every axis goes through [`axis_top`].
pub const MAX_AXIS: f64 = 1e15;

/// The top of an axis that starts at zero and must show `max` (with `margin`, e.g. 1.05):
/// finite, at least `floor`, at most [`MAX_AXIS`]. NaN gives `floor`.
pub fn axis_top(max: f64, margin: f64, floor: f64) -> f64 {
    let top = max * margin;
    if top.is_nan() {
        floor
    } else {
        top.clamp(floor, MAX_AXIS)
    }
}

/// `v` kept within `±top` (NaN as 0): plotters turns coordinates into pixels with integer
/// arithmetic that overflows for values millions of times beyond the axis, so data that the
/// axis was clamped below is drawn at its edge.
pub fn within(v: f64, top: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        v.clamp(-top, top)
    }
}

/// One CDF series: label, sorted times (s), optional bound (s).
struct Series {
    label: String,
    times: Vec<f64>,
    total: usize,
    bound: Option<f64>,
}

fn series(results: &Results) -> Vec<Series> {
    let mut out = Vec::new();
    // Denied jobs never ran: they are left out (results.json lists them with the reason).
    for job in results.jobs.iter().filter(|j| j.denied.is_none()) {
        let req = job.requested_s.unwrap_or(0.0);
        let mut times: Vec<f64> = results
            .nodes
            .iter()
            .filter(|n| n.job == job.name)
            .filter_map(|n| n.completion_s.map(|c| c - req))
            .collect();
        times.sort_by(f64::total_cmp);
        out.push(Series {
            label: format!("{} ({}, {} servers)", job.name, job.strategy, job.servers),
            times,
            total: job.servers,
            bound: Some(job.lower_bound_s),
        });
    }
    if !results.transfers.is_empty() {
        let mut times: Vec<f64> = results.transfers.iter().filter_map(|t| t.finish_s.map(|f| f - t.start_s)).collect();
        times.sort_by(f64::total_cmp);
        out.push(Series { label: "raw transfers".into(), times, total: results.transfers.len(), bound: None });
    }
    out
}

/// Thins a sorted series to at most [`MAX_POINTS`] (time, fraction) steps, keeping the last.
/// The staircase of an empirical CDF: `sorted` times out of `total`, starting at (0, 0) and
/// thinned to at most [`MAX_POINTS`] steps (the last one always kept).
pub fn cdf_steps(sorted: &[f64], total: usize) -> Vec<(f64, f64)> {
    let n = sorted.len();
    let step = n.div_ceil(MAX_POINTS).max(1);
    let mut pts = Vec::with_capacity(2 * (n / step) + 3);
    pts.push((0.0, 0.0));
    for (i, &t) in sorted.iter().enumerate() {
        if i % step == step - 1 || i + 1 == n {
            let prev = pts.last().map_or(0.0, |p: &(f64, f64)| p.1);
            pts.push((t, prev));
            pts.push((t, (i + 1) as f64 / total.max(1) as f64));
        }
    }
    pts
}

/// The error of drawing into an in-memory SVG document.
pub type SvgError = DrawingAreaErrorKind<std::io::Error>;

/// Renders an SVG document of `size` pixels: `draw` paints the drawing area, which is then
/// presented. The one place the charts turn plotters' errors into text.
pub fn render_svg(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<(), SvgError>,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(&root).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Renders the completion CDF of `results` as a PNG image, entirely in memory (no temporary
/// file).
pub fn completion_png(results: &Results) -> Result<Vec<u8>, String> {
    use image::ImageEncoder;
    const SIZE: (u32, u32) = (900, 560);
    let mut rgb = vec![0u8; SIZE.0 as usize * SIZE.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        draw_completion(&root, results).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&rgb, SIZE.0, SIZE.1, image::ColorType::Rgb8)
        .map_err(|e| e.to_string())?;
    Ok(png)
}

/// Renders the completion CDF of `results` as an SVG document.
pub fn completion_svg(results: &Results) -> Result<String, String> {
    render_svg((900, 560), |root| draw_completion(root, results))
}

fn draw_completion<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    results: &Results,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let all = series(results);
    let x_max = axis_top(
        all.iter().flat_map(|s| s.times.last().copied().into_iter().chain(s.bound)).fold(0.0, f64::max),
        1.05,
        1e-3,
    );
    let title = format!("{}: completion of servers over time", results.scenario);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("time since the job was requested (s)")
        .y_desc("fraction of servers complete")
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .draw()?;
    for (i, s) in all.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts = cdf_steps(&s.times, s.total).into_iter().map(|(t, f)| (within(t, x_max), f));
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        if let Some(b) = s.bound {
            let b = within(b, x_max);
            let dashes = (0..40).map(|k| k as f64 / 40.0).collect::<Vec<_>>();
            chart
                .draw_series(
                    dashes
                        .chunks(2)
                        .map(|d| PathElement::new(vec![(b, d[0]), (b, d[0] + 0.0125)], color.stroke_width(1))),
                )?
                .label(format!("lower bound {b:.2} s"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 8, y)], color.stroke_width(1)));
        }
    }
    // Fault moments, on the same axis (relative to the first job request), labelled in turn at
    // staggered heights; past a few dozen only the lines are drawn.
    let origin = results.jobs.iter().filter_map(|j| j.requested_s).fold(f64::INFINITY, f64::min);
    let origin = if origin.is_finite() { origin } else { 0.0 };
    for (k, f) in results.faults.iter().enumerate() {
        let t = f.t_s - origin;
        if !(0.0..=x_max).contains(&t) {
            continue;
        }
        chart.draw_series(std::iter::once(PathElement::new(vec![(t, 0.0), (t, 1.0)], RED.mix(0.35))))?;
        if k < MAX_FAULT_LABELS {
            let y = 0.96 - 0.045 * (k % 6) as f64;
            chart.draw_series(std::iter::once(Text::new(
                format!(" {}", f.fault),
                (t, y),
                ("sans-serif", 12).into_font().color(&RED),
            )))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
