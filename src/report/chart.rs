//! What every chart shares, and the completion chart.
//!
//! Every chart is drawn in two parts: the plot on the left and, on the right, a side panel
//! holding the legend, the key of colours and the list of faults, so that nothing is drawn over
//! the data. Fault moments are red lines in the plot, numbered just above it; the panel says what
//! each number is. Axes clamp to [`MAX_AXIS`] so rendering ends quickly whatever the values, and
//! an x axis may be logarithmic ([`XAxis`]) when the series' scales differ by 10× or more.
//!
//! The completion chart is an empirical CDF: for each job that ran, the fraction of its servers
//! holding the whole content against seconds since the job's request, with the job's lower
//! bound as a dashed vertical line. Raw transfers get the same plot of their durations. Series
//! with more than [`MAX_POINTS`] points are thinned to that many evenly spaced ranks so that
//! charts of 100,000-node runs stay small and readable.

use super::results::Results;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Most points drawn per series.
pub const MAX_POINTS: usize = 2000;

/// Faults numbered on a chart and listed in its side panel; later ones are drawn as lines only.
pub const MAX_FAULT_LABELS: usize = 12;

/// Width of the side panel (legend, key, faults), pixels.
pub const SIDE_PANEL: u32 = 270;

/// Largest value an axis shows. Charts must render in bounded time whatever the data: plotters
/// computes its key points by stepping through the range, which never ends for an infinite or
/// astronomically wide range, so every axis goes through [`axis_top`].
pub const MAX_AXIS: f64 = 1e15;

/// The ratio of scales from which an x axis becomes logarithmic by itself.
pub const LOG_RATIO: f64 = 10.0;

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

/// Ten colours that are easy to tell apart (Tableau 10), used in turn by every chart.
pub const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The `i`-th colour of [`COLOURS`] (repeating past ten).
pub fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

/// How the x axis maps values: linear from 0, or logarithmic (base 10) from a positive floor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct XAxis {
    /// Logarithmic.
    pub log: bool,
    /// Smallest value shown (0 when linear).
    pub lo: f64,
    /// Largest value shown.
    pub hi: f64,
}

impl XAxis {
    /// An axis showing `0..hi` (linear) or `lo..hi` (logarithmic: `lo` is the smallest scale,
    /// halved). `force_log` makes it logarithmic; otherwise it is when the largest of `scales`
    /// is at least [`LOG_RATIO`] times the smallest positive one.
    pub fn new(scales: &[f64], hi: f64, force_log: bool) -> XAxis {
        let positive: Vec<f64> = scales.iter().copied().filter(|s| s.is_finite() && *s > 0.0).collect();
        let lo = positive.iter().copied().fold(f64::INFINITY, f64::min);
        let top = positive.iter().copied().fold(0.0, f64::max);
        let log = lo.is_finite() && (force_log || top >= LOG_RATIO * lo);
        if log {
            let lo = (lo / 2.0).max(hi / MAX_AXIS).max(1e-9);
            XAxis { log, lo, hi: hi.max(lo * 10.0) }
        } else {
            XAxis { log: false, lo: 0.0, hi }
        }
    }

    /// The plotted coordinate of `x` (its log10 on a log axis).
    pub fn at(&self, x: f64) -> f64 {
        let x = within(x, self.hi).max(self.lo);
        if self.log {
            x.log10()
        } else {
            x
        }
    }

    /// The plotted range.
    pub fn range(&self) -> std::ops::Range<f64> {
        self.at(self.lo)..self.at(self.hi)
    }

    /// The label of plotted coordinate `v`.
    pub fn label(&self, v: f64) -> String {
        let x = if self.log { 10f64.powf(v) } else { v };
        short_number(x)
    }

    /// Appended to the axis description: " (log scale)" on a log axis.
    pub fn note(&self) -> &'static str {
        if self.log {
            " (log scale)"
        } else {
            ""
        }
    }
}

/// A number in at most three significant digits, without trailing zeros.
pub fn short_number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// What a legend entry shows before its label.
#[derive(Debug, Clone, Copy)]
pub enum Swatch {
    /// A line of that colour and width.
    Line(RGBColor, u32),
    /// A dashed line.
    Dashed(RGBColor),
    /// A filled box.
    Bar(RGBColor),
    /// A cross.
    Cross(RGBColor),
    /// No swatch: a heading or a plain line of text.
    Text,
}

/// One line of a side panel.
#[derive(Debug, Clone)]
pub struct Entry {
    /// What is shown before the text.
    pub swatch: Swatch,
    /// The text.
    pub label: String,
}

impl Entry {
    /// An entry with a swatch.
    pub fn new(swatch: Swatch, label: impl Into<String>) -> Entry {
        Entry { swatch, label: label.into() }
    }

    /// A line of text (a heading when it ends with `:`).
    pub fn text(label: impl Into<String>) -> Entry {
        Entry { swatch: Swatch::Text, label: label.into() }
    }
}

/// Draws `entries` top-down in the side panel `area`; what does not fit is summed up in a last
/// line.
pub fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    const LINE: i32 = 17;
    let (_, height) = area.dim_in_pixel();
    let fits = ((height as i32 - 50) / LINE).max(1) as usize;
    let style = ("sans-serif", 13).into_font();
    let shown = if entries.len() > fits { fits - 1 } else { entries.len() };
    for (k, e) in entries.iter().take(shown).enumerate() {
        let y = 44 + k as i32 * LINE;
        let (x, text_x) = (6, 32);
        match e.swatch {
            Swatch::Line(c, w) => area.draw(&PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(w)))?,
            Swatch::Dashed(c) => {
                for d in 0..3 {
                    area.draw(&PathElement::new(vec![(x + d * 8, y), (x + d * 8 + 4, y)], c.stroke_width(1)))?;
                }
            }
            Swatch::Bar(c) => area.draw(&Rectangle::new([(x, y - 5), (x + 20, y + 5)], c.filled()))?,
            Swatch::Cross(c) => area.draw(&Cross::new((x + 10, y), 4, c.stroke_width(1)))?,
            Swatch::Text => {}
        }
        let text_x = if matches!(e.swatch, Swatch::Text) { x } else { text_x };
        let label: String = e.label.chars().take(38).collect();
        area.draw(&Text::new(label, (text_x, y - 7), style.clone()))?;
    }
    if shown < entries.len() {
        let y = 44 + shown as i32 * LINE;
        area.draw(&Text::new(format!("… and {} more", entries.len() - shown), (6, y - 7), style))?;
    }
    Ok(())
}

/// Splits `root` into the plot area and the side panel.
pub fn split<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>) -> (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>) {
    let (width, _) = root.dim_in_pixel();
    root.split_horizontally(width.saturating_sub(SIDE_PANEL))
}

/// Colour of the lines marking the ends of faults.
pub const RECOVERY_COLOUR: RGBColor = RGBColor(44, 160, 44);

/// Draws the faults of `results` as red lines over the whole height of `chart`, each numbered
/// (up to [`MAX_FAULT_LABELS`]) in the margin just above the plot, and the ends of faults
/// (recoveries, restorations, heals) as thin green lines; `to_x` maps a run-clock time to the x
/// coordinate, or `None` when it is off the axis. Returns the side-panel entries listing the
/// numbered faults.
pub fn draw_fault_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    results: &Results,
    to_x: impl Fn(f64) -> Option<f64>,
    y_range: (f64, f64),
) -> Result<Vec<Entry>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut entries = Vec::new();
    let mut numbered = 0;
    let mut off_axis = 0;
    // Numbers of nearby lines alternate between two rows so that they stay readable.
    let (mut last_px, mut row) = (i32::MIN, 0);
    for f in &results.faults {
        let Some(x) = to_x(f.at_s) else {
            off_axis += 1;
            continue;
        };
        chart.draw_series(std::iter::once(PathElement::new(vec![(x, y_range.0), (x, y_range.1)], RED.mix(0.35))))?;
        if numbered < MAX_FAULT_LABELS {
            numbered += 1;
            let (px, py) = chart.backend_coord(&(x, y_range.1));
            row = if px.saturating_sub(last_px) < 16 { 1 - row } else { 0 };
            last_px = px;
            let y = py - 13 - 12 * row;
            root.draw(&Text::new(format!("{numbered}"), (px - 3, y), ("sans-serif", 11).into_font().color(&RED)))?;
            entries.push(Entry::new(
                Swatch::Line(RED, 1),
                format!("{numbered}: {} ({} s)", f.fault, short_number(f.at_s)),
            ));
        }
    }
    let more = results.faults.len() - off_axis - numbered;
    if more > 0 {
        entries.push(Entry::text(format!("+ {more} more on the chart")));
    }
    let elsewhere = off_axis + (results.faults_total as usize).saturating_sub(results.faults.len());
    if elsewhere > 0 {
        entries.push(Entry::text(format!("({elsewhere} more outside the axis)")));
    }
    if !entries.is_empty() {
        entries.insert(0, Entry::text("faults (red lines, run clock):"));
    }
    let mut ends = 0;
    for f in &results.recoveries {
        if let Some(x) = to_x(f.at_s) {
            ends += 1;
            let line = PathElement::new(vec![(x, y_range.0), (x, y_range.1)], RECOVERY_COLOUR.mix(0.45));
            chart.draw_series(std::iter::once(line))?;
        }
    }
    if ends > 0 {
        entries.push(Entry::new(Swatch::Line(RECOVERY_COLOUR, 1), format!("{ends} end(s) of faults")));
    }
    Ok(entries)
}

/// One CDF series: label, sorted times (s), how many servers in all, optional bound (s).
struct Series {
    label: String,
    times: Vec<f64>,
    total: usize,
    bound: Option<f64>,
}

fn series(results: &Results) -> (Vec<Series>, Vec<String>) {
    let mut out = Vec::new();
    let mut not_run = Vec::new();
    for job in &results.jobs {
        if job.id.is_none() {
            // Denied, unanswered or never requested: no data, only a note in the panel.
            not_run.push(format!("{}: {} (not run)", job.name, job.outcome));
            continue;
        }
        let mut times = results.completion_times(job);
        times.sort_by(f64::total_cmp);
        out.push(Series {
            label: format!("{} ({}, {} servers)", job.name, job.strategy, job.servers),
            times,
            total: job.servers,
            bound: Some(job.lower_bound_s),
        });
    }
    if !results.transfers.is_empty() {
        let mut times: Vec<f64> = results.transfers.iter().filter_map(|t| t.duration_s).collect();
        times.sort_by(f64::total_cmp);
        out.push(Series { label: "raw transfers".into(), times, total: results.transfers.len(), bound: None });
    }
    (out, not_run)
}

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

/// Size of the completion chart, pixels.
const COMPLETION_SIZE: (u32, u32) = (1000, 560);

/// Renders the completion CDF of `results` as a PNG image, entirely in memory (no temporary
/// file).
pub fn completion_png(results: &Results, force_log: bool) -> Result<Vec<u8>, String> {
    use image::ImageEncoder;
    let (w, h) = COMPLETION_SIZE;
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, COMPLETION_SIZE).into_drawing_area();
        draw_completion(&root, results, force_log).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&rgb, w, h, image::ColorType::Rgb8)
        .map_err(|e| e.to_string())?;
    Ok(png)
}

/// Renders the completion CDF of `results` as an SVG document (`force_log`: a logarithmic time
/// axis even when the series' scales are close).
pub fn completion_svg(results: &Results, force_log: bool) -> Result<String, String> {
    render_svg(COMPLETION_SIZE, |root| draw_completion(root, results, force_log))
}

fn draw_completion<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    results: &Results,
    force_log: bool,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (all, not_run) = series(results);
    let ends: Vec<f64> = all.iter().filter_map(|s| s.times.last().copied().or(s.bound)).collect();
    let scales: Vec<f64> = all
        .iter()
        .flat_map(|s| s.times.first().copied().into_iter().chain(s.bound))
        .chain(ends.iter().copied())
        .collect();
    let hi = axis_top(
        all.iter().flat_map(|s| s.times.last().copied().into_iter().chain(s.bound)).fold(0.0, f64::max),
        1.05,
        1e-3,
    );
    let x = XAxis::new(if force_log { &scales } else { &ends }, hi, force_log);
    let (plot, side) = split(root);
    let title = format!("{}: completion of servers", results.scenario);
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .margin_top(30)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(x.range(), 0.0..1.0)?;
    let x_desc = format!("seconds since the job's request{}", x.note());
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("fraction of servers holding the content")
        .x_label_formatter(&|v| x.label(*v))
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .draw()?;
    let mut entries = Vec::new();
    for (i, s) in all.iter().enumerate() {
        let c = colour(i);
        let mut pts = cdf_steps(&s.times, s.total);
        if x.log {
            pts.retain(|p| p.0 > 0.0);
        }
        chart.draw_series(LineSeries::new(pts.into_iter().map(|(t, f)| (x.at(t), f)), c.stroke_width(2)))?;
        entries.push(Entry::new(Swatch::Line(c, 2), s.label.clone()));
        if let Some(b) = s.bound {
            let bx = x.at(b);
            for k in 0..20 {
                let y = k as f64 / 20.0;
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(bx, y), (bx, y + 0.025)],
                    c.stroke_width(1),
                )))?;
            }
            entries.push(Entry::new(Swatch::Dashed(c), format!("its lower bound {} s", short_number(b))));
        }
    }
    for n in &not_run {
        entries.push(Entry::text(n.clone()));
    }
    // Fault moments, relative to the first job request, on the same axis.
    let origin = results.jobs.iter().filter_map(|j| j.requested_at_s).fold(f64::INFINITY, f64::min);
    let origin = if origin.is_finite() { origin } else { 0.0 };
    let axis = x;
    let faults = draw_fault_lines(
        &plot,
        &mut chart,
        results,
        |t| {
            let rel = t - origin;
            (rel >= axis.lo && rel <= axis.hi && (!axis.log || rel > 0.0)).then(|| axis.at(rel))
        },
        (0.0, 1.0),
    )?;
    if !faults.is_empty() && origin > 0.0 {
        entries.push(Entry::text(format!("(faults drawn at run clock − {} s)", short_number(origin))));
    }
    entries.extend(faults);
    draw_panel(&side, &entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axes_come_by_themselves_from_a_tenfold_difference() {
        assert!(!XAxis::new(&[1.0, 9.9], 10.0, false).log);
        assert!(XAxis::new(&[1.0, 10.0], 10.0, false).log);
        assert!(XAxis::new(&[1.0, 2.0], 10.0, true).log);
        let x = XAxis::new(&[1.0, 100.0], 100.0, false);
        assert_eq!((x.lo, x.at(100.0)), (0.5, 2.0));
        assert_eq!(x.label(1.0), "10");
        assert!(!XAxis::new(&[], 10.0, true).log, "nothing positive to start a log axis at");
    }

    #[test]
    fn short_numbers_keep_three_digits() {
        assert_eq!(short_number(61.2734), "61.3");
        assert_eq!(short_number(0.0123456), "0.0123");
        assert_eq!(short_number(1500.0), "1500");
        assert_eq!(short_number(2.0), "2");
    }
}
