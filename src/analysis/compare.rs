//! `cascade-sim compare`: the same scenario under several strategies, each over the same seeds
//! (`--seeds N`: the scenario's seed, or `--seed`, and the N − 1 after it). Per strategy and
//! metric, the mean, standard deviation and Student-t 95 % confidence interval over the seeds
//! ([`super::stats`]); a table, `compare.csv` (the summaries), `compare_runs.csv` (one row per
//! strategy and seed), `compare.md` (a Markdown table of the ratios and wall times), an overlay
//! of the completion CDFs (first seed) and a makespan bar chart with the intervals and the lower
//! bound.
//!
//! Besides the ratio to the lower bound, each run gets its ratio to the optimum where that is
//! known in closed form (`ratio_to_optimum`: makespan / `optimum_s`, the homogeneous case of
//! [`crate::net::bounds::homogeneous_optimum`]) and, when the `optimal` strategy is among those
//! compared, its ratio to the optimal reference's makespan of the same seed
//! (`ratio_to_optimal_ref`: the best schedule known where no closed form exists). The wall time
//! of each strategy's runs is not simulation output: it is printed in `compare.md` only, never
//! in the CSVs.

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
    /// Wall-clock seconds its runs took together (not simulation output: shown in
    /// `compare.md` only).
    pub wall_s: f64,
}

/// The strategy whose makespans `ratio_to_optimal_ref` divides by.
pub const OPTIMAL_REFERENCE: &str = "optimal";

/// The per-run ratios added after [`METRICS`] in `compare.csv` and after `trace_hash` in
/// `compare_runs.csv`.
pub const RATIOS: [&str; 2] = ["ratio_to_optimum", "ratio_to_optimal_ref"];

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

    /// Per seed, [`RATIOS`]: makespan / closed-form optimum, and makespan / the makespan of
    /// the optimal reference (`reference`) with the same seed.
    pub fn ratios(&self, reference: Option<&Row>) -> Vec<[Option<f64>; 2]> {
        self.runs
            .iter()
            .map(|(seed, r)| {
                let to_optimum = r.makespan_s.zip(r.optimum_s).map(|(m, o)| m / o);
                let reference_makespan =
                    reference.and_then(|x| x.runs.iter().find(|(s, _)| s == seed)).and_then(|(_, x)| x.makespan_s);
                [to_optimum, r.makespan_s.zip(reference_makespan).map(|(m, o)| m / o)]
            })
            .collect()
    }

    /// The summaries of [`RATIOS`] over this strategy's seeds.
    pub fn ratio_summaries(&self, reference: Option<&Row>) -> [Summary; 2] {
        let ratios = self.ratios(reference);
        [0, 1].map(|k| Summary::of(&ratios.iter().map(|r| r[k].unwrap_or(f64::NAN)).collect::<Vec<_>>()))
    }
}

/// The optimal reference among `rows`, if it was compared.
pub fn optimal_reference(rows: &[Row]) -> Option<&Row> {
    rows.iter().find(|r| r.strategy == OPTIMAL_REFERENCE)
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
        let started = std::time::Instant::now();
        let runs =
            seeds.iter().map(|&s| Ok((s, crate::run(&scenario, Some(s))?))).collect::<Result<_, ScenarioError>>()?;
        rows.push(Row { strategy: kind.clone(), runs, wall_s: started.elapsed().as_secs_f64() });
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
    for name in METRICS.iter().map(|m| m.0).chain(RATIOS) {
        header.extend(columns(name));
    }
    w.write_record(&header)?;
    let reference = optimal_reference(rows);
    for r in rows {
        let mut cells = vec![r.strategy.clone(), r.runs.len().to_string()];
        for (_, m) in METRICS {
            cells.extend(r.summary(m).cells());
        }
        for s in r.ratio_summaries(reference) {
            cells.extend(s.cells());
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
    header.extend(RATIOS);
    w.write_record(&header)?;
    let reference = optimal_reference(rows);
    for r in rows {
        for ((seed, x), ratios) in r.runs.iter().zip(r.ratios(reference)) {
            let mut cells = vec![r.strategy.clone(), seed.to_string()];
            cells.extend(METRICS.iter().map(|(_, m)| cell(m(x))));
            cells.push(x.trace_hash.clone());
            cells.extend(ratios.map(cell));
            w.write_record(&cells)?;
        }
    }
    Ok(w.into_inner()?)
}

/// The line that says what the cells of a table over several seeds are (empty for one seed).
fn seeds_note(rows: &[Row]) -> String {
    match rows.first().map_or(0, |r| r.runs.len()) {
        seeds @ 2.. => {
            format!("{seeds} seeds per strategy; mean ± half-width of the 95 % confidence interval (Student t)\n")
        }
        _ => String::new(),
    }
}

/// The table printed on stdout: means with the half-width of their 95 % interval.
pub fn table(rows: &[Row]) -> String {
    let mut t = seeds_note(rows);
    t.push_str(&format!(
        "{:<10} {:>18} {:>14} {:>16} {:>16} {:>12} {:>16} {:>20}\n",
        "strategy", "makespan_s", "ratio", "p50_s", "p99_s", "events", "ratio_to_optimum", "ratio_to_optimal_ref"
    ));
    let reference = optimal_reference(rows);
    for r in rows {
        let [to_optimum, to_reference] = r.ratio_summaries(reference);
        t.push_str(&format!(
            "{:<10} {:>18} {:>14} {:>16} {:>16} {:>12} {:>16} {:>20}\n",
            r.strategy,
            r.summary(METRICS[0].1).text(3),
            r.summary(METRICS[2].1).text(2),
            r.summary(METRICS[3].1).text(3),
            r.summary(METRICS[4].1).text(3),
            r.summary(METRICS[6].1).text(0),
            to_optimum.text(3),
            to_reference.text(3),
        ));
    }
    t
}

/// `compare.md`: a Markdown table, a row per strategy — mean makespan, ratio to the lower
/// bound, to the closed-form optimum (`–` where none is known) and to the optimal reference
/// (`–` when `optimal` was not compared), and the wall time of that strategy's runs (not
/// simulation output: it varies from machine to machine and run to run).
pub fn markdown(rows: &[Row]) -> String {
    let mut t = seeds_note(rows);
    if !t.is_empty() {
        t.push('\n');
    }
    t.push_str(
        "| strategy | makespan s | ratio to bound | ratio to optimum | ratio to the optimal reference | wall s |\n",
    );
    t.push_str("|---|---|---|---|---|---|\n");
    let reference = optimal_reference(rows);
    let dash = |s: String| if s == "-" { "–".to_string() } else { s };
    for r in rows {
        let [to_optimum, to_reference] = r.ratio_summaries(reference);
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.2} |\n",
            r.strategy,
            dash(r.summary(METRICS[0].1).text(3)),
            dash(r.summary(METRICS[2].1).text(3)),
            dash(to_optimum.text(3)),
            dash(to_reference.text(3)),
            r.wall_s,
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
