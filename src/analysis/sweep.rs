//! `cascade-sim sweep` and `merge`: a grid of scenario parameter values times seeds, run in
//! parallel (each run stays deterministic; rows are sorted by run number, so the output does
//! not depend on the number of threads), optionally one shard of it (`--shard I/N` takes runs
//! `k` with `k mod N = I`), and the merge of shards into exactly the files a single run writes.
//!
//! The sweep file:
//!
//! ```json
//! { "scenario": "../cascade-1000.json",
//!   "parameters": [ { "path": "network.groups[0].count", "values": [100, 1000] },
//!                   { "path": "clients[0].jobs[0].strategy.fanout", "values": [2, 4, 8] } ],
//!   "seeds": [1, 2, 3],
//!   "metrics": ["makespan_s", "ratio_to_bound"] }
//! ```
//!
//! `scenario` is relative to the sweep file; paths use the scenario error syntax. The first
//! parameter varies slowest; seeds vary fastest. A metric is the path of any number or boolean
//! field of `results.json` (`makespan_s`, `completion_s.p99`, `jobs[0].closed_s`,
//! `jobs[0].duty.repairs`, `bytes.resent`, `jobs[0].live_stream.lag_s.p99`), checked against
//! the results schema (and job indexes against the scenario) before anything runs; the old
//! short names `p50_s`, `p90_s`, `p99_s` and `end_s` still work.
//!
//! Outputs: `runs.csv` (one row per run), `summary.csv` (per grid point and metric: the mean,
//! standard deviation and Student-t 95 % confidence interval over the seeds) and one chart per
//! metric and parameter drawing the means and their intervals.

use super::stats::Summary;
use super::{scenario_from_value, set_path};
use crate::scenario::limits::{shown, MAX_SWEEP_RUNS};
use crate::scenario::ScenarioError;
use plotters::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A swept parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    /// JSON path of the scenario field, e.g. `network.groups[0].count`.
    pub path: String,
    /// Values it takes (numbers or booleans).
    pub values: Vec<Value>,
}

/// A sweep file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// The base scenario, relative to the sweep file.
    pub scenario: String,
    /// The grid.
    pub parameters: Vec<Parameter>,
    /// Seeds run for every grid point.
    pub seeds: Vec<u64>,
    /// Paths of `results.json` fields recorded per run (default: makespan_s, ratio_to_bound).
    #[serde(default = "default_metrics")]
    pub metrics: Vec<String>,
}

fn default_metrics() -> Vec<String> {
    vec!["makespan_s".into(), "ratio_to_bound".into()]
}

/// Short names of metrics kept from before metrics were paths, and the paths they stand for.
pub const ALIASES: [(&str, &str); 4] = [
    ("p50_s", "completion_s.p50"),
    ("p90_s", "completion_s.p90"),
    ("p99_s", "completion_s.p99"),
    ("end_s", "end_at_s"),
];

/// The results path a metric names.
pub fn metric_path(name: &str) -> &str {
    ALIASES.iter().find(|(a, _)| *a == name).map_or(name, |(_, p)| p)
}

/// Checks that `name` is a number or boolean field of `results.json`; `jobs` is how many jobs
/// the scenario has (a `jobs[i]` index must be one of them).
fn check_metric(name: &str, jobs: usize) -> Result<(), String> {
    static SCHEMA: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let schema = SCHEMA.get_or_init(crate::report::results::results_schema);
    let path = metric_path(name);
    let types = crate::report::schema::types_at(schema, path)?;
    if !types.iter().any(|t| matches!(t.as_str(), "number" | "integer" | "boolean")) {
        return Err(format!("`{path}` is {}, not a number or a boolean", types.join(" or ")));
    }
    if let Some(crate::report::schema::Step::Index(i)) = crate::report::schema::steps(path)?.get(1) {
        if path.starts_with("jobs[") && *i >= jobs {
            return Err(format!("`{path}`: the scenario has {jobs} job(s)"));
        }
    }
    Ok(())
}

/// The value of metric `name` in a run's results (as JSON): numbers as they are, booleans as
/// 1 or 0, anything else (`null`) as `None`.
fn metric(results: &Value, name: &str) -> Option<f64> {
    match crate::report::schema::value_at(results, metric_path(name))? {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        v => v.as_f64(),
    }
}

/// A shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which slice, from 0.
    pub index: usize,
    /// How many slices.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s.split_once('/').ok_or("expected I/N, e.g. 0/4")?;
        let (index, count): (usize, usize) = (i.parse().map_err(|_| "bad I")?, n.parse().map_err(|_| "bad N")?);
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: need 0 <= I < N"));
        }
        Ok(Shard { index, count })
    }
}

/// One run of the grid, as text cells (what runs.csv holds).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Run number in the full grid.
    pub run: usize,
    /// Every cell, run number first.
    pub cells: Vec<String>,
}

/// The JSON Schema of sweep files (`cascade-sim schema --write` saves it as
/// `sweep.schema.json`).
pub fn json_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(SweepSpec)).expect("schema serialises")
}

/// Parses sweep JSON text strictly (one document, no positional arrays, paths in errors).
fn parse_spec(text: &str, file: &str) -> Result<SweepSpec, ScenarioError> {
    static SCHEMA: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let schema = SCHEMA.get_or_init(json_schema);
    crate::scenario::parse::parse_as(text, schema).map_err(|e| e.in_file(file))
}

/// Checks a sweep's own fields: known metrics, at least one seed and one value per
/// parameter, and a grid of at most [`MAX_SWEEP_RUNS`] runs.
fn check_spec(spec: &SweepSpec, file: &str) -> Result<(), ScenarioError> {
    let invalid = |p: String, m: String| ScenarioError::Invalid { path: format!("{file}: {p}"), message: m };
    for (i, m) in spec.metrics.iter().enumerate() {
        check_metric(m, usize::MAX)
            .map_err(|e| invalid(format!("metrics[{i}]"), format!("{} is not a metric: {e}", shown(m))))?;
    }
    if spec.seeds.is_empty() {
        return Err(invalid("seeds".into(), "list at least one seed".into()));
    }
    let mut runs = spec.seeds.len() as u64;
    for (i, p) in spec.parameters.iter().enumerate() {
        if p.values.is_empty() {
            return Err(invalid(format!("parameters[{i}].values"), "list at least one value".into()));
        }
        runs = runs.saturating_mul(p.values.len() as u64);
        if runs > MAX_SWEEP_RUNS {
            return Err(invalid(
                format!("parameters[{i}].values"),
                format!("the grid times the seeds would be more than the limit of {MAX_SWEEP_RUNS} runs"),
            ));
        }
    }
    Ok(())
}

/// Reads and checks a sweep file; returns it with the base scenario as JSON.
pub fn load(path: &Path) -> Result<(SweepSpec, Value), ScenarioError> {
    let file = path.display().to_string();
    let spec = parse_spec(&crate::scenario::parse::read_text(path)?, &file)?;
    check_spec(&spec, &file)?;
    let invalid = |p: String, m: String| ScenarioError::Invalid { path: format!("{file}: {p}"), message: m };
    let base_path = path.parent().unwrap_or(Path::new(".")).join(&spec.scenario);
    let base_file = base_path.display().to_string();
    let base_text = crate::scenario::parse::read_text(&base_path)?;
    crate::scenario::parse(&base_text).map_err(|e| e.in_file(&base_file))?;
    let base: Value = serde_json::from_str(&base_text).expect("parsed above");
    let jobs: usize =
        base["clients"].as_array().into_iter().flatten().map(|c| c["jobs"].as_array().map_or(0, Vec::len)).sum();
    for (i, m) in spec.metrics.iter().enumerate() {
        check_metric(m, jobs)
            .map_err(|e| invalid(format!("metrics[{i}]"), format!("{} is not a metric: {e}", shown(m))))?;
    }
    // Every grid point must be a valid scenario before anything runs.
    for (k, combo) in combos(&spec).iter().enumerate() {
        let doc = apply(&spec, &base, combo).map_err(|(i, m)| invalid(format!("parameters[{i}].path"), m))?;
        let scenario = scenario_from_value(&doc)
            .map_err(|e| invalid(format!("grid point {k}"), format!("the scenario becomes invalid: {e}")))?;
        scenario
            .build(None)
            .map_err(|e| invalid(format!("grid point {k}"), format!("the scenario becomes invalid: {e}")))?;
    }
    Ok((spec, base))
}

/// Every grid point: one value index per parameter, the first parameter slowest.
fn combos(spec: &SweepSpec) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    for p in &spec.parameters {
        out = out.into_iter().flat_map(|c| (0..p.values.len()).map(move |v| [c.clone(), vec![v]].concat())).collect();
    }
    out
}

fn apply(spec: &SweepSpec, base: &Value, combo: &[usize]) -> Result<Value, (usize, String)> {
    let mut doc = base.clone();
    for (i, (p, &v)) in spec.parameters.iter().zip(combo).enumerate() {
        set_path(&mut doc, &p.path, p.values[v].clone()).map_err(|m| (i, m))?;
    }
    Ok(doc)
}

/// The header of runs.csv.
pub fn header(spec: &SweepSpec) -> Vec<String> {
    let mut h = vec!["run".to_string()];
    h.extend(spec.parameters.iter().map(|p| p.path.clone()));
    h.push("seed".into());
    h.extend(spec.metrics.iter().cloned());
    h
}

/// Runs the grid (or one shard of it) in parallel; `progress` is called after each run.
pub fn run(
    spec: &SweepSpec,
    base: &Value,
    shard: Option<Shard>,
    progress: impl Fn() + Sync,
) -> anyhow::Result<Vec<Row>> {
    let mut todo = Vec::new();
    for (g, combo) in combos(spec).into_iter().enumerate() {
        for (s, &seed) in spec.seeds.iter().enumerate() {
            let run = g * spec.seeds.len() + s;
            if shard.is_none_or(|sh| run % sh.count == sh.index) {
                todo.push((run, combo.clone(), seed));
            }
        }
    }
    let mut rows: Vec<Row> = todo
        .par_iter()
        .map(|(run, combo, seed)| {
            let doc = apply(spec, base, combo).map_err(|(_, m)| anyhow::anyhow!(m))?;
            let results = serde_json::to_value(crate::run(&scenario_from_value(&doc)?, Some(*seed))?)?;
            let mut cells = vec![run.to_string()];
            cells.extend(spec.parameters.iter().zip(combo).map(|(p, &v)| p.values[v].to_string()));
            cells.push(seed.to_string());
            cells.extend(spec.metrics.iter().map(|m| metric(&results, m).map_or_else(String::new, |v| v.to_string())));
            progress();
            Ok(Row { run: *run, cells })
        })
        .collect::<anyhow::Result<_>>()?;
    rows.sort_by_key(|r| r.run);
    Ok(rows)
}

/// runs.csv from rows.
pub fn runs_csv(spec: &SweepSpec, rows: &[Row]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header(spec))?;
    for r in rows {
        w.write_record(&r.cells)?;
    }
    Ok(w.into_inner()?)
}

/// Reads the rows of a shard's runs.csv (file `file`) back: the sweep's columns, run numbers
/// of its grid (`total` runs).
pub fn read_rows(spec: &SweepSpec, csv_bytes: &[u8], file: &str, total: usize) -> Result<Vec<Row>, ScenarioError> {
    let invalid = |p: String, m: String| ScenarioError::Invalid { path: format!("{file}: {p}"), message: m };
    let mut r = csv::Reader::from_reader(csv_bytes);
    let found: Vec<String> =
        r.headers().map_err(|e| invalid("header".into(), e.to_string()))?.iter().map(str::to_string).collect();
    if found != header(spec) {
        return Err(invalid("header".into(), "the columns do not match the sweep's sweep.json".into()));
    }
    let mut rows = Vec::new();
    for (i, record) in r.records().enumerate() {
        let line = format!("row {}", i + 1);
        let cells: Vec<String> =
            record.map_err(|e| invalid(line.clone(), e.to_string()))?.iter().map(str::to_string).collect();
        let run = cells[0].parse::<usize>().ok().filter(|&k| k < total).ok_or_else(|| {
            invalid(line.clone(), format!("run number {} is not one of the grid's 0..{total}", shown(&cells[0])))
        })?;
        rows.push(Row { run, cells });
    }
    Ok(rows)
}

/// A file-name part: ASCII letters and digits, `_` for anything else, at most 60 characters.
fn file_stem(s: &str) -> String {
    let stem: String = s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    stem.trim_matches('_').chars().take(60).collect()
}

/// The cell of metric `mi` in a row of runs.csv.
fn metric_cell(spec: &SweepSpec, row: &Row, mi: usize) -> Option<f64> {
    row.cells[1 + spec.parameters.len() + 1 + mi].parse::<f64>().ok()
}

/// `summary.csv`: one row per grid point (the parameters' values, the runs), and per metric its
/// `_n`, `_mean`, `_sd`, `_ci95_low`, `_ci95_high` over the seeds (Student t).
pub fn summary_csv(spec: &SweepSpec, rows: &[Row]) -> anyhow::Result<Vec<u8>> {
    let np = spec.parameters.len();
    let mut points: BTreeMap<usize, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        points.entry(r.run / spec.seeds.len()).or_default().push(r);
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = spec.parameters.iter().map(|p| p.path.clone()).collect();
    header.push("runs".into());
    for m in &spec.metrics {
        header.extend(super::stats::columns(m));
    }
    w.write_record(&header)?;
    for point in points.values() {
        let mut cells: Vec<String> = point[0].cells[1..=np].to_vec();
        cells.push(point.len().to_string());
        for mi in 0..spec.metrics.len() {
            let values: Vec<f64> = point.iter().map(|r| metric_cell(spec, r, mi).unwrap_or(f64::NAN)).collect();
            cells.extend(Summary::of(&values).cells());
        }
        w.write_record(&cells)?;
    }
    Ok(w.into_inner()?)
}

/// One chart per (metric, parameter): the metric against the parameter's values, one series
/// per combination of the other parameters, the mean over seeds with its 95 % confidence
/// interval (two seeds or more).
pub fn charts(spec: &SweepSpec, rows: &[Row]) -> Result<Vec<(String, String)>, String> {
    let np = spec.parameters.len();
    let mut out = Vec::new();
    for (mi, m) in spec.metrics.iter().enumerate() {
        for (pi, p) in spec.parameters.iter().enumerate() {
            // series key: the other parameters' cells; x: this parameter's cell.
            let mut series: BTreeMap<Vec<String>, BTreeMap<usize, Vec<f64>>> = BTreeMap::new();
            for r in rows {
                let Some(v) = metric_cell(spec, r, mi) else { continue };
                let key: Vec<String> = (0..np)
                    .filter(|&j| j != pi)
                    .map(|j| format!("{}={}", short(&spec.parameters[j].path), r.cells[1 + j]))
                    .collect();
                let x = p.values.iter().position(|val| *val.to_string() == r.cells[1 + pi]).unwrap_or(0);
                series.entry(key).or_default().entry(x).or_default().push(v);
            }
            let mut name = format!("{}_vs_{}.svg", file_stem(m), file_stem(&p.path));
            // Two parameters whose paths differ only in punctuation get distinct files.
            let mut n = 2;
            while out.iter().any(|(o, _)| *o == name) {
                name = format!("{}_vs_{}_{n}.svg", file_stem(m), file_stem(&p.path));
                n += 1;
            }
            out.push((name, chart(m, p, &series, spec.seeds.len())?));
        }
    }
    Ok(out)
}

fn short(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

fn chart(
    metric: &str,
    p: &Parameter,
    series: &BTreeMap<Vec<String>, BTreeMap<usize, Vec<f64>>>,
    seeds: usize,
) -> Result<String, String> {
    use crate::report::chart::{axis_top, colour, draw_panel, split, within, Entry, Swatch};
    let summaries: Vec<(String, Vec<(usize, Summary)>)> = series
        .iter()
        .map(|(key, points)| {
            let label = if key.is_empty() { metric.to_string() } else { key.join(", ") };
            (label, points.iter().map(|(&x, v)| (x, Summary::of(v))).collect())
        })
        .collect();
    crate::report::chart::render_svg((1000, 520), |root| {
        root.fill(&WHITE)?;
        let (plot, side) = split(root);
        let top = axis_top(
            summaries.iter().flat_map(|s| s.1.iter().filter_map(|(_, x)| x.high().or(x.mean))).fold(0.0f64, f64::max),
            1.1,
            1e-9,
        );
        let n = p.values.len();
        let labels: Vec<String> = p.values.iter().map(Value::to_string).collect();
        let mut chart = ChartBuilder::on(&plot)
            .caption(format!("{metric} against {}", p.path), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..top)?;
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc(p.path.as_str())
            .y_desc(metric)
            .draw()?;
        let mut entries = Vec::new();
        for (k, (label, points)) in summaries.iter().enumerate() {
            let c = colour(k);
            let w = |v: f64| within(v, top);
            let mean: Vec<(f64, f64)> = points.iter().filter_map(|(x, s)| s.mean.map(|m| (*x as f64, w(m)))).collect();
            chart.draw_series(LineSeries::new(mean, c.stroke_width(2)).point_size(3))?;
            entries.push(Entry::new(Swatch::Line(c, 2), label.clone()));
            for (x, s) in points {
                if let (Some(lo), Some(m), Some(hi)) = (s.low(), s.mean, s.high()) {
                    chart.draw_series(std::iter::once(ErrorBar::new_vertical(
                        *x as f64,
                        w(lo),
                        w(m),
                        w(hi),
                        c.stroke_width(1),
                        8,
                    )))?;
                }
            }
        }
        entries.push(Entry::text(format!("points: mean over {seeds} seed(s)")));
        if seeds > 1 {
            entries.push(Entry::text("whiskers: 95 % confidence interval"));
        }
        draw_panel(&side, &entries)
    })
}

/// The files a complete sweep (or a merge of all its shards) writes: sweep.json, runs.csv,
/// summary.csv and the charts. A shard writes only sweep.json and its runs.csv.
pub fn outputs(spec: &SweepSpec, rows: &[Row], with_charts: bool) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut spec_json = serde_json::to_vec_pretty(spec)?;
    spec_json.push(b'\n');
    let mut files = vec![("sweep.json".to_string(), spec_json), ("runs.csv".to_string(), runs_csv(spec, rows)?)];
    if with_charts {
        files.push(("summary.csv".to_string(), summary_csv(spec, rows)?));
        for (name, svg) in charts(spec, rows).map_err(|e| anyhow::anyhow!("rendering sweep charts: {e}"))? {
            files.push((name, svg.into_bytes()));
        }
    }
    Ok(files)
}

/// Merges shard directories: the union of their rows, which must cover the grid once. Every
/// problem with a shard is an input error naming its file.
pub fn merge(dirs: &[std::path::PathBuf]) -> Result<(SweepSpec, Vec<Row>), ScenarioError> {
    let mut spec: Option<SweepSpec> = None;
    let mut rows: BTreeMap<usize, Row> = BTreeMap::new();
    for dir in dirs {
        let spec_path = dir.join("sweep.json");
        let spec_file = spec_path.display().to_string();
        let s = parse_spec(&crate::scenario::parse::read_text(&spec_path)?, &spec_file)?;
        check_spec(&s, &spec_file)?;
        if spec.as_ref().is_some_and(|first| first != &s) {
            return Err(ScenarioError::Invalid {
                path: spec_file,
                message: "belongs to another sweep than the first shard".into(),
            });
        }
        let total = combos(&s).len() * s.seeds.len();
        let runs_path = dir.join("runs.csv");
        let runs_file = runs_path.display().to_string();
        let text = crate::scenario::parse::read_text(&runs_path)?;
        for r in read_rows(&s, text.as_bytes(), &runs_file, total)? {
            let run = r.run;
            if rows.insert(run, r).is_some() {
                return Err(ScenarioError::Invalid {
                    path: runs_file,
                    message: format!("run {run} appears in two shards"),
                });
            }
        }
        spec = Some(s);
    }
    let spec = spec.ok_or_else(|| ScenarioError::Invalid {
        path: "SHARDS".into(),
        message: "no shard directories given".into(),
    })?;
    let total = combos(&spec).len() * spec.seeds.len();
    let missing: Vec<usize> = (0..total).filter(|k| !rows.contains_key(k)).collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(20).map(usize::to_string).collect();
        let more = if missing.len() > 20 { format!(" and {} more", missing.len() - 20) } else { String::new() };
        return Err(ScenarioError::Invalid {
            path: "SHARDS".into(),
            message: format!("runs {}{more} are missing: merge every shard", shown.join(", ")),
        });
    }
    Ok((spec, rows.into_values().collect()))
}
