//! `cascade-sim compare`: the same scenario and seed under several strategies; a table, a CSV,
//! an overlay of the completion CDFs and a bar chart of makespans with the lower bound.

use super::{scenario_from_value, with_strategy};
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

/// One strategy's run.
pub struct Row {
    /// Strategy name.
    pub strategy: String,
    /// Its results.
    pub results: Results,
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

/// Runs `doc` under each strategy. Every variant is validated before the first runs; an
/// unknown strategy name is an input error naming it.
pub fn run_all(doc: &Value, strategies: &[String], seed: Option<u64>) -> Result<Vec<Row>, ScenarioError> {
    check_strategies(strategies)?;
    let expanded = expand(strategies);
    let mut variants = Vec::new();
    for kind in &expanded {
        let scenario = scenario_from_value(&with_strategy(doc, kind))?;
        scenario.build(seed)?;
        variants.push((kind, scenario));
    }
    let mut rows = Vec::new();
    for (kind, scenario) in variants {
        rows.push(Row { strategy: kind.clone(), results: crate::run(&scenario, seed)? });
    }
    Ok(rows)
}

fn cell(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// `compare.csv`: one row per strategy.
pub fn csv(rows: &[Row]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "strategy",
        "makespan_s",
        "lower_bound_s",
        "ratio_to_bound",
        "p50_s",
        "p90_s",
        "p99_s",
        "unfinished",
        "events",
        "trace_hash",
    ])?;
    for r in rows {
        let x = &r.results;
        w.write_record([
            r.strategy.clone(),
            cell(x.makespan_s),
            cell(x.lower_bound_s),
            cell(x.ratio_to_bound),
            cell(x.completion_s.p50),
            cell(x.completion_s.p90),
            cell(x.completion_s.p99),
            x.unfinished.to_string(),
            x.events.to_string(),
            x.trace_hash.clone(),
        ])?;
    }
    Ok(w.into_inner()?)
}

/// The table printed on stdout.
pub fn table(rows: &[Row]) -> String {
    let f = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.3}"));
    let mut t = format!(
        "{:<10} {:>12} {:>12} {:>8} {:>10} {:>10} {:>10}\n",
        "strategy", "makespan_s", "bound_s", "ratio", "p50_s", "p99_s", "events"
    );
    for r in rows {
        let x = &r.results;
        t.push_str(&format!(
            "{:<10} {:>12} {:>12} {:>8} {:>10} {:>10} {:>10}\n",
            r.strategy,
            f(x.makespan_s),
            f(x.lower_bound_s),
            x.ratio_to_bound.map_or_else(|| "-".into(), |v| format!("{v:.2}")),
            f(x.completion_s.p50),
            f(x.completion_s.p99),
            x.events
        ));
    }
    t
}

/// The overlay of completion CDFs.
pub fn cdf_svg(rows: &[Row]) -> Result<String, String> {
    let title = format!("{}: completion by strategy", rows.first().map_or("", |r| r.results.scenario.as_str()));
    let runs: Vec<(String, &Results)> = rows.iter().map(|r| (r.strategy.clone(), &r.results)).collect();
    completion_overlay_svg(&title, &runs)
}

/// A bar chart of makespan per strategy with the lower bound drawn across.
pub fn makespan_svg(rows: &[Row]) -> Result<String, String> {
    crate::report::chart::render_svg((800, 480), |root| {
        root.fill(&WHITE)?;
        let bound = rows.iter().filter_map(|r| r.results.lower_bound_s).fold(0.0, f64::max);
        let top = crate::report::chart::axis_top(
            rows.iter().filter_map(|r| r.results.makespan_s).fold(bound, f64::max),
            1.1,
            1e-3,
        );
        let n = rows.len().max(1);
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{}: makespan by strategy", rows.first().map_or("", |r| r.results.scenario.as_str())),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..n as f64, 0.0..top)?;
        let names: Vec<String> = rows.iter().map(|r| r.strategy.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| names.get(x.floor() as usize).cloned().unwrap_or_default())
            .x_desc("strategy")
            .y_desc("makespan (s)")
            .draw()?;
        for (i, r) in rows.iter().enumerate() {
            let m = crate::report::chart::within(r.results.makespan_s.unwrap_or(0.0), top);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(i as f64 + 0.15, 0.0), (i as f64 + 0.85, m)],
                Palette99::pick(i).mix(0.8).filled(),
            )))?;
        }
        chart
            .draw_series(LineSeries::new(
                vec![
                    (0.0, crate::report::chart::within(bound, top)),
                    (n as f64, crate::report::chart::within(bound, top)),
                ],
                BLACK.stroke_width(2),
            ))?
            .label(format!("lower bound {bound:.2} s"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        Ok(())
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
