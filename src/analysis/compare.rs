//! `cascade-sim compare`: the same scenario under several strategies, each over the same seeds
//! (`--seeds N`: the scenario's seed, or `--seed`, and the N − 1 after it). Per strategy and
//! metric, the mean, standard deviation and Student-t 95 % confidence interval over the seeds
//! ([`super::stats`]); a table, `compare.csv` (the summaries), `compare_runs.csv` (one row per
//! strategy and seed), an overlay of the completion CDFs (first seed) and a makespan bar chart
//! with the intervals and the lower bound.

use super::stats::{columns, Summary};
use super::{scenario_from_value, with_strategy};
use crate::report::chart::{axis_top, colour, draw_panel, short_number, split, within, Entry, Swatch};
use crate::report::overlay::completion_overlay_svg;
use crate::report::Results;
use crate::scenario::limits::shown;
use crate::scenario::ScenarioError;
use plotters::prelude::*;
use serde_json::Value;

/// The strategies `compare` runs by default (every registered one is available, and `all`
/// stands for all of them: [`crate::strategy::REGISTRY`]).
pub const DEFAULT_STRATEGIES: [&str; 5] = ["star", "chain", "tree", "cascade", "swarm"];

/// `strategies` with `all` expanded to every registered strategy, in registry order.
pub fn expand(strategies: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for s in strategies {
        if s == "all" {
            out.extend(crate::strategy::names().into_iter().map(String::from));
        } else {
            out.push(s.clone());
        }
    }
    out
}

/// One strategy's runs, one per seed.
pub struct Row {
    /// Strategy name.
    pub strategy: String,
    /// (seed, results) in seed order.
    pub runs: Vec<(u64, Results)>,
}

/// A metric of a run: its value, if it has one.
pub type Metric = fn(&Results) -> Option<f64>;

/// The metrics summarised per strategy: (column name, value of a run).
pub const METRICS: [(&str, Metric); 7] = [
    ("makespan_s", |r| r.makespan_s),
    ("lower_bound_s", |r| r.lower_bound_s),
    ("ratio_to_bound", |r| r.ratio_to_bound),
    ("p50_s", |r| r.completion_s.p50),
    ("p99_s", |r| r.completion_s.p99),
    ("unfinished", |r| Some(r.unfinished as f64)),
    ("events", |r| Some(r.events as f64)),
];

impl Row {
    /// The summary of metric `m` (a function of [`METRICS`]) over this strategy's seeds.
    pub fn summary(&self, m: Metric) -> Summary {
        Summary::of(&self.runs.iter().map(|(_, r)| m(r).unwrap_or(f64::NAN)).collect::<Vec<_>>())
    }
}

/// Checks the strategy names of `--strategies` (`all` stands for every registered one).
pub fn check_strategies(strategies: &[String]) -> Result<(), ScenarioError> {
    for kind in expand(strategies) {
        if crate::strategy::by_name(&kind).is_none() {
            return Err(ScenarioError::Invalid {
                path: "--strategies".into(),
                message: format!(
                    "unknown strategy {}; expected `all` or some of {}",
                    shown(&kind),
                    crate::strategy::names().join(", ")
                ),
            });
        }
    }
    Ok(())
}

/// The seeds of `--seeds n` from `first`: `first`, `first + 1`, … (wrapping).
pub fn seeds(first: u64, n: u32) -> Vec<u64> {
    (0..u64::from(n.max(1))).map(|k| first.wrapping_add(k)).collect()
}

/// Runs `doc` under each strategy for each seed. Every variant is validated before the first
/// runs; an unknown strategy name is an input error naming it.
pub fn run_all(doc: &Value, strategies: &[String], seeds: &[u64]) -> Result<Vec<Row>, ScenarioError> {
    check_strategies(strategies)?;
    let expanded = expand(strategies);
    let mut variants = Vec::new();
    for kind in &expanded {
        let scenario = scenario_from_value(&with_strategy(doc, kind))?;
        for &seed in seeds {
            scenario.build(Some(seed))?;
        }
        variants.push((kind, scenario));
    }
    let mut rows = Vec::new();
    for (kind, scenario) in variants {
        let runs =
            seeds.iter().map(|&s| Ok((s, crate::run(&scenario, Some(s))?))).collect::<Result<_, ScenarioError>>()?;
        rows.push(Row { strategy: kind.clone(), runs });
    }
    Ok(rows)
}

fn cell(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// `compare.csv`: one row per strategy, `runs` and for every metric of [`METRICS`] its `_n`,
/// `_mean`, `_sd`, `_ci95_low` and `_ci95_high` over the seeds.
pub fn csv(rows: &[Row]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["strategy".to_string(), "runs".to_string()];
    for (name, _) in METRICS {
        header.extend(columns(name));
    }
    w.write_record(&header)?;
    for r in rows {
        let mut cells = vec![r.strategy.clone(), r.runs.len().to_string()];
        for (_, m) in METRICS {
            cells.extend(r.summary(m).cells());
        }
        w.write_record(&cells)?;
    }
    Ok(w.into_inner()?)
}

/// `compare_runs.csv`: one row per strategy and seed.
pub fn runs_csv(rows: &[Row]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["strategy", "seed"];
    header.extend(METRICS.iter().map(|m| m.0));
    header.push("trace_hash");
    w.write_record(&header)?;
    for r in rows {
        for (seed, x) in &r.runs {
            let mut cells = vec![r.strategy.clone(), seed.to_string()];
            cells.extend(METRICS.iter().map(|(_, m)| cell(m(x))));
            cells.push(x.trace_hash.clone());
            w.write_record(&cells)?;
        }
    }
    Ok(w.into_inner()?)
}

/// The table printed on stdout: means with the half-width of their 95 % interval.
pub fn table(rows: &[Row]) -> String {
    let seeds = rows.first().map_or(0, |r| r.runs.len());
    let mut t = if seeds > 1 {
        format!("{seeds} seeds per strategy; mean ± half-width of the 95 % confidence interval (Student t)\n")
    } else {
        String::new()
    };
    t.push_str(&format!(
        "{:<10} {:>18} {:>14} {:>16} {:>16} {:>12}\n",
        "strategy", "makespan_s", "ratio", "p50_s", "p99_s", "events"
    ));
    for r in rows {
        t.push_str(&format!(
            "{:<10} {:>18} {:>14} {:>16} {:>16} {:>12}\n",
            r.strategy,
            r.summary(METRICS[0].1).text(3),
            r.summary(METRICS[2].1).text(2),
            r.summary(METRICS[3].1).text(3),
            r.summary(METRICS[4].1).text(3),
            r.summary(METRICS[6].1).text(0),
        ));
    }
    t
}

/// The overlay of completion CDFs (the first seed of each strategy).
pub fn cdf_svg(rows: &[Row], force_log: bool) -> Result<String, String> {
    let first = rows.first().and_then(|r| r.runs.first());
    let title = format!(
        "{}: completion by strategy (seed {})",
        first.map_or("", |(_, r)| r.scenario.as_str()),
        first.map_or(0, |(s, _)| *s)
    );
    let runs: Vec<(String, &Results)> =
        rows.iter().filter_map(|r| r.runs.first().map(|(_, x)| (r.strategy.clone(), x))).collect();
    completion_overlay_svg(&title, &runs, force_log)
}

/// A bar chart of the mean makespan per strategy, every bar labelled, the 95 % interval as an
/// error bar (two seeds or more), and the mean lower bound drawn across.
pub fn makespan_svg(rows: &[Row]) -> Result<String, String> {
    let scenario = rows.first().and_then(|r| r.runs.first()).map_or("", |(_, r)| r.scenario.as_str()).to_string();
    let seeds = rows.first().map_or(0, |r| r.runs.len());
    crate::report::chart::render_svg((1000, 500), |root| {
        root.fill(&WHITE)?;
        let (plot, side) = split(root);
        let summaries: Vec<Summary> = rows.iter().map(|r| r.summary(METRICS[0].1)).collect();
        let bound = Summary::of(
            &rows.iter().flat_map(|r| r.runs.iter().filter_map(|(_, x)| x.lower_bound_s)).collect::<Vec<_>>(),
        );
        let top = axis_top(
            summaries.iter().filter_map(|s| s.high().or(s.mean)).fold(bound.mean.unwrap_or(0.0), f64::max),
            1.12,
            1e-3,
        );
        let n = rows.len().max(1);
        let mut chart = ChartBuilder::on(&plot)
            .caption(format!("{scenario}: makespan by strategy"), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..top)?;
        let names: Vec<String> = rows.iter().map(|r| r.strategy.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n + 1)
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc("strategy")
            .y_desc("makespan (s)")
            .draw()?;
        for (i, s) in summaries.iter().enumerate() {
            let m = within(s.mean.unwrap_or(0.0), top);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), m)],
                colour(i).mix(0.8).filled(),
            )))?;
            if let (Some(lo), Some(hi)) = (s.low(), s.high()) {
                chart.draw_series(std::iter::once(ErrorBar::new_vertical(
                    SegmentValue::CenterOf(i),
                    within(lo, top),
                    m,
                    within(hi, top),
                    BLACK.stroke_width(1),
                    10,
                )))?;
            }
            let label = s.mean.map_or_else(|| "unfinished".into(), short_number);
            let y = within(s.high().unwrap_or(m), top);
            let (px, py) = chart.backend_coord(&(SegmentValue::CenterOf(i), y));
            plot.draw(&Text::new(label, (px - 14, py - 16), ("sans-serif", 13)))?;
        }
        let b = within(bound.mean.unwrap_or(0.0), top);
        chart.draw_series(LineSeries::new(
            vec![(SegmentValue::Exact(0), b), (SegmentValue::Exact(n), b)],
            BLACK.stroke_width(2),
        ))?;
        let mut entries: Vec<Entry> = rows
            .iter()
            .zip(&summaries)
            .enumerate()
            .map(|(i, (r, s))| Entry::new(Swatch::Bar(colour(i)), format!("{}: {} s", r.strategy, s.text(2))))
            .collect();
        entries.push(Entry::new(
            Swatch::Line(BLACK, 2),
            format!("lower bound {} s", short_number(bound.mean.unwrap_or(0.0))),
        ));
        if seeds > 1 {
            entries.push(Entry::text(format!("bars: mean over {seeds} seeds;")));
            entries.push(Entry::text("whiskers: 95 % confidence interval"));
        } else {
            entries.push(Entry::text("one seed: use --seeds N for intervals"));
        }
        draw_panel(&side, &entries)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn all_expands_to_every_registered_strategy() {
        let got = super::expand(&["all".to_string()]);
        assert_eq!(got, crate::strategy::names());
        assert!(got.contains(&"optimal".to_string()) && got.contains(&"swarm".to_string()));
        assert_eq!(super::expand(&["star".to_string()]), ["star"]);
    }
}
