//! The scaling chart drawn by `cascade-sim bench --chart` (and `scripts/scaling.sh`): the time of
//! bench workloads against their size, log-log, in two panels: strategies against servers
//! (cascade, swarm) and raw transfers against flows (shared upload, tree). The time is the wall
//! time of each run's simulation ([`ChartTime::Wall`], the default: what issue 11 asks for) or
//! the CPU time of its process ([`ChartTime::Cpu`]). Each series is one workload family at one
//! piece count; its legend gives the least-squares slope of log time against log size, i.e. the
//! measured exponent. Runs that hit the time limit are drawn as open triangles at the limit (a
//! lower bound on their cost), not joined to the line.

use super::chart::{colour, render_svg, short_number, SvgError};
use crate::bench::ScalingRow;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Size of the chart, pixels.
const SIZE: (u32, u32) = (1280, 640);

/// CPU times below this are drawn at it: `/proc` counts CPU time in 10 ms ticks.
pub const CPU_FLOOR_S: f64 = 0.01;

/// Wall times below this are drawn at it (the axis needs a positive bottom; no bench run is
/// that fast).
pub const WALL_FLOOR_S: f64 = 1e-4;

/// With CPU time, the slopes in the legends use only the points of at least this many seconds,
/// where the 10 ms ticks make an error of at most 10 %.
pub const SLOPE_MIN_S: f64 = 0.1;

/// With wall time (measured to the nanosecond), the slopes use the points of at least this many
/// seconds: below, a run is mostly setting up (the raw-transfer runs of 1,000 and 3,000 flows take
/// 3-12 ms for a few thousand events), and the point measures that, not the cost of events.
pub const WALL_SLOPE_MIN_S: f64 = 0.01;

/// Which time the chart plots (`bench --chart ... --time wall|cpu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ChartTime {
    /// Wall-clock time of each run's simulation (`wall_s`: building the engine, the run,
    /// collecting the results; not the process's start). What issue 11 asks the chart for.
    #[default]
    Wall,
    /// CPU time (user + system) of each run's own process (`cpu_s`, wall time where unknown):
    /// disturbed less than wall time by other work on a shared machine, but counted in 10 ms
    /// ticks and including the process's start.
    Cpu,
}

impl ChartTime {
    /// The time plotted for a row, floored at what the axis can show.
    fn of(self, row: &ScalingRow) -> f64 {
        match self {
            ChartTime::Wall => row.wall_s.max(WALL_FLOOR_S),
            ChartTime::Cpu => row.cpu_s.unwrap_or(row.wall_s).max(CPU_FLOOR_S),
        }
    }

    /// Points of at least this many seconds enter the slopes.
    fn slope_min_s(self) -> f64 {
        match self {
            ChartTime::Wall => WALL_SLOPE_MIN_S,
            ChartTime::Cpu => SLOPE_MIN_S,
        }
    }

    /// The lowest time drawn.
    fn floor_s(self) -> f64 {
        match self {
            ChartTime::Wall => WALL_FLOOR_S,
            ChartTime::Cpu => CPU_FLOOR_S,
        }
    }

    /// "wall time" or "CPU time", as the chart's title and axis say it.
    fn name(self) -> &'static str {
        match self {
            ChartTime::Wall => "wall time",
            ChartTime::Cpu => "CPU time",
        }
    }

    /// What the chart says under its caption about how slopes and small times are drawn.
    fn footnote(self) -> &'static str {
        match self {
            ChartTime::Wall => {
                "wall time of each run's simulation (engine built, run, results collected; not the process's start); \
                 slope: least-squares exponent of wall time against size over the points of at least 0.01 s"
            }
            ChartTime::Cpu => {
                "slope: least-squares exponent of CPU time against size over the points of at least 0.1 s; \
                 CPU time is counted in 10 ms ticks, less than 10 ms is drawn at 0.01 s"
            }
        }
    }
}

/// An axis label: 1k, 30k, 1M, or the number itself.
fn count_label(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", short_number(v / 1e6))
    } else if v >= 1e3 {
        format!("{}k", short_number(v / 1e3))
    } else {
        short_number(v)
    }
}

/// Least-squares slope of `ln y` against `ln x` (`None` with fewer than two distinct `x`).
pub fn log_log_slope(points: &[(f64, f64)]) -> Option<f64> {
    let logs: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x.ln(), y.ln())).collect();
    let n = logs.len() as f64;
    let mx = logs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = logs.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = logs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = logs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// One line of a panel: a workload family at one piece count.
struct Series {
    label: String,
    finished: Vec<(f64, f64)>,
    unfinished: Vec<(f64, f64)>,
}

/// The series of `rows` whose family is one of `families`, in the order first met.
fn series(rows: &[ScalingRow], families: &[&str], time: ChartTime) -> Vec<Series> {
    let mut out: Vec<(String, u32, Series)> = Vec::new();
    for row in rows.iter().filter(|r| families.contains(&r.family.as_str())) {
        let key = (row.family.clone(), row.pieces);
        let index = match out.iter().position(|(f, p, _)| (f, *p) == (&key.0, key.1)) {
            Some(i) => i,
            None => {
                let label = match row.family.as_str() {
                    "cascade" => format!("cascade, {} chunks, fanout 4", row.pieces),
                    "swarm" => format!("swarm, {} pieces of 4 MB", row.pieces),
                    "shared-upload" => "shared upload (one 100 MB/s link)".to_string(),
                    "tree" => "two-level tree (1,000 clients)".to_string(),
                    other => other.to_string(),
                };
                out.push((key.0, key.1, Series { label, finished: Vec::new(), unfinished: Vec::new() }));
                out.len() - 1
            }
        };
        let point = (row.size as f64, time.of(row));
        let s = &mut out[index].2;
        if row.finished {
            s.finished.push(point);
        } else {
            s.unfinished.push(point);
        }
    }
    out.into_iter().map(|(_, _, s)| s).collect()
}

/// Draws one log-log panel.
fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    x_desc: &str,
    series: &[Series],
    colour_offset: usize,
    time: ChartTime,
) -> Result<(), SvgError> {
    let all: Vec<(f64, f64)> = series.iter().flat_map(|s| s.finished.iter().chain(&s.unfinished)).copied().collect();
    let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (f64::INFINITY, 0f64, f64::INFINITY, 0f64);
    for &(x, y) in &all {
        (x_lo, x_hi, y_lo, y_hi) = (x_lo.min(x), x_hi.max(x), y_lo.min(y), y_hi.max(y));
    }
    if all.is_empty() {
        (x_lo, x_hi, y_lo, y_hi) = (1.0, 10.0, 1.0, 10.0);
    }
    // Whole decades, so that every axis shows at least two labelled powers of ten.
    let decade_below = |v: f64| 10f64.powf(v.log10().floor());
    let decade_above = |v: f64| 10f64.powf((v.log10() + 1e-9).ceil()).max(decade_below(v) * 10.0);
    let (x_lo, x_hi) = (decade_below(x_lo * 0.8), decade_above(x_hi * 1.25));
    // A decade more at the bottom, kept empty for the legend.
    let (y_lo, y_hi) = (decade_below(y_lo * 0.8).max(time.floor_s() / 10.0) / 10.0, decade_above(y_hi * 1.25));
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .margin_right(40)
        .x_label_area_size(48)
        .y_label_area_size(70)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(format!("{}, s (log scale)", capitalised(time.name())))
        .x_label_formatter(&|v| count_label(*v))
        .y_label_formatter(&|v| short_number(*v))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let c = colour(colour_offset + i);
        let timed: Vec<(f64, f64)> = s.finished.iter().copied().filter(|p| p.1 >= time.slope_min_s()).collect();
        let label = match log_log_slope(&timed) {
            Some(slope) => format!("{}: slope {slope:.2}", s.label),
            None => s.label.clone(),
        };
        chart
            .draw_series(LineSeries::new(s.finished.iter().copied(), c.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2)));
        chart.draw_series(s.finished.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
        chart.draw_series(s.unfinished.iter().map(|&p| TriangleMarker::new(p, 7, c.stroke_width(2))))?;
    }
    if series.iter().any(|s| !s.unfinished.is_empty()) {
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label("open triangle: stopped at the time limit")
            .legend(|(x, y)| TriangleMarker::new((x + 10, y), 6, BLACK.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 14))
        .draw()?;
    Ok(())
}

/// `name` with its first letter in upper case ("wall time" -> "Wall time").
fn capitalised(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The scaling chart of `rows` as an SVG document, plotting `time`; `caption` (the machine and
/// the date) is written under the title.
pub fn scaling_svg(rows: &[ScalingRow], caption: &str, time: ChartTime) -> Result<String, String> {
    let strategies = series(rows, &["cascade", "swarm"], time);
    let raw = series(rows, &["shared-upload", "tree"], time);
    render_svg(SIZE, |root| {
        root.fill(&WHITE)?;
        let (head, body) = root.split_vertically(82);
        head.draw(&Text::new(
            format!("cascade-sim bench: {} against size (log-log)", time.name()),
            (14, 8),
            ("sans-serif", 24).into_font(),
        ))?;
        let small = |size| ("sans-serif", size).into_font().color(&BLACK.mix(0.7));
        head.draw(&Text::new(caption.to_string(), (14, 38), small(15)))?;
        head.draw(&Text::new(time.footnote(), (14, 58), small(13)))?;
        let (left, right) = body.split_horizontally(SIZE.0 / 2);
        draw_panel(&left, "Strategies", "servers (swarm: peers), log scale", &strategies, 0, time)?;
        draw_panel(&right, "Raw transfers, all at t=0", "concurrent flows, log scale", &raw, strategies.len(), time)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_power_law_is_its_exponent() {
        // y = 3 x^1.5 at x = 1, 10, 100: ln y = ln 3 + 1.5 ln x exactly.
        let pts: Vec<(f64, f64)> = [1.0f64, 10.0, 100.0].iter().map(|&x| (x, 3.0 * x.powf(1.5))).collect();
        assert!((log_log_slope(&pts).unwrap() - 1.5).abs() < 1e-12);
        // (1, 1), (10, 10), (100, 1000): logs (0,0), (1,1), (2,3) in base 10: slope 1.5 by hand
        // (sxy = 3, sxx = 2).
        assert!((log_log_slope(&[(1.0, 1.0), (10.0, 10.0), (100.0, 1000.0)]).unwrap() - 1.5).abs() < 1e-12);
        assert_eq!(log_log_slope(&[(5.0, 1.0)]), None);
        assert_eq!(log_log_slope(&[(5.0, 1.0), (5.0, 2.0)]), None);
    }

    #[test]
    fn axis_counts_read_as_thousands_and_millions() {
        let labels: Vec<String> = [100.0, 1e3, 3e4, 1e6].iter().map(|&v| count_label(v)).collect();
        assert_eq!(labels, ["100", "1k", "30k", "1M"]);
    }

    #[test]
    fn wall_and_cpu_charts_plot_and_fit_their_own_time() {
        // Wall time grows tenfold from 1k to 10k servers (slope 1 by hand: log10 of 0.02 ->
        // 0.2 over log10 of 1k -> 10k), CPU time not at all (slope 0): each chart's legend must
        // give its own time's exponent and its axis and title must name that time.
        let row = |workload: &str, size: u64, wall: f64| ScalingRow {
            workload: workload.into(),
            family: "cascade".into(),
            size,
            pieces: 256,
            finished: true,
            wall_s: wall,
            cpu_s: Some(0.5),
            events: 1,
            max_rss_mb: Some(10.0),
        };
        let rows = [row("cascade-1k", 1000, 0.02), row("cascade-10k", 10_000, 0.2)];
        let wall = scaling_svg(&rows, "", ChartTime::Wall).unwrap();
        assert!(wall.contains("fanout 4: slope 1.00"), "wall slope");
        assert!(wall.contains("wall time against size") && wall.contains("Wall time, s"));
        assert!(!wall.contains("CPU time"));
        let cpu = scaling_svg(&rows, "", ChartTime::Cpu).unwrap();
        assert!(cpu.contains("fanout 4: slope 0.00"), "CPU slope");
        assert!(cpu.contains("CPU time against size") && cpu.contains("CPU time, s"));
        // The wall chart's slope takes points from 0.01 s, the CPU chart's from 0.1 s: at
        // 0.05 s of both, only the wall chart fits the two points.
        let small = [
            ScalingRow { cpu_s: Some(0.05), ..row("cascade-1k", 1000, 0.05) },
            ScalingRow { cpu_s: Some(0.5), ..row("cascade-10k", 10_000, 0.5) },
        ];
        assert!(scaling_svg(&small, "", ChartTime::Wall).unwrap().contains("fanout 4: slope 1.00"));
        assert!(!scaling_svg(&small, "", ChartTime::Cpu).unwrap().contains("fanout 4: slope"));
    }

    #[test]
    fn chart_has_both_panels_and_the_caption() {
        let row = |workload: &str, family: &str, size: u64, cpu: f64, finished: bool| ScalingRow {
            workload: workload.into(),
            family: family.into(),
            size,
            pieces: 256,
            finished,
            wall_s: cpu,
            cpu_s: Some(cpu),
            events: 1,
            max_rss_mb: Some(10.0),
        };
        let rows = [
            row("cascade-1k", "cascade", 1000, 0.3, true),
            row("cascade-10k", "cascade", 10_000, 3.0, true),
            row("swarm-1kx256", "swarm", 1000, 400.0, false),
            row("tree-1k", "tree", 1000, 0.0, true),
        ];
        let svg = scaling_svg(&rows, "2 cores, test machine, 2026-01-01", ChartTime::Cpu).unwrap();
        // The tree's one point is below the slope threshold: no slope; 10k is labelled 10k.
        assert!(!svg.contains("1,000 clients): slope"));
        assert!(svg.lines().any(|l| l.trim() == "10k"));
        for text in ["Strategies", "Raw transfers", "test machine", "slope 1.00", "stopped at the time limit"] {
            assert!(svg.contains(text), "{text} missing");
        }
    }
}
