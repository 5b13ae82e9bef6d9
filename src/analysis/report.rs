//! `cascade-sim report DIR... --out DIR`: one self-contained HTML page (`report.html`, charts
//! inlined, no network) putting the outputs of several commands side by side, and a Markdown
//! table of chosen `results.json` fields on stdout.
//!
//! Each DIR is the output of `run` (it holds `results.json`), of `compare` (`compare.csv`) or
//! of `sweep` (`summary.csv`). Runs are compared in one table (a column per metric path, the
//! same paths as sweep metrics) and one completion overlay, and their own charts are shown side
//! by side; a compare or sweep output is shown as its summary table and its charts.

use crate::report::html::{esc, head, headline, inline_svg, live_table};
use crate::report::results::{Results, RESULTS_SCHEMA_VERSION};
use crate::scenario::ScenarioError;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The metrics of the runs' table when none are given.
pub const DEFAULT_METRICS: [&str; 7] = [
    "makespan_s",
    "lower_bound_s",
    "ratio_to_bound",
    "completion_s.p50",
    "completion_s.p99",
    "unfinished",
    "faults_total",
];

/// What one input directory holds.
pub enum Input {
    /// A run: its results (typed and as JSON) and its charts.
    Run {
        /// Label.
        label: String,
        /// The directory.
        dir: PathBuf,
        /// Its results.
        results: Box<Results>,
        /// The same, as JSON, for metric paths.
        json: Value,
    },
    /// A compare or a sweep: a summary CSV and its charts.
    Table {
        /// Label.
        label: String,
        /// The directory.
        dir: PathBuf,
        /// `compare.csv` or `summary.csv`.
        csv: String,
        /// Which command wrote it.
        kind: &'static str,
    },
}

fn bad(path: &Path, message: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid { path: path.display().to_string(), message: message.into() }
}

/// Reads one input directory (`label` names it in the page).
pub fn read(dir: &Path, label: String) -> Result<Input, ScenarioError> {
    let results = dir.join("results.json");
    if results.is_file() {
        let text = crate::scenario::parse::read_text(&results)?;
        let json: Value = serde_json::from_str(&text).map_err(|e| bad(&results, format!("invalid JSON: {e}")))?;
        let version = json.get("schema_version").and_then(Value::as_u64);
        if version != Some(u64::from(RESULTS_SCHEMA_VERSION)) {
            return Err(bad(
                &results,
                format!(
                    "schema_version {} is not {RESULTS_SCHEMA_VERSION}, the version this cascade-sim reads: run the scenario again",
                    version.map_or("missing".into(), |v| v.to_string())
                ),
            ));
        }
        let typed: Results = serde_json::from_value(json.clone()).map_err(|e| bad(&results, e.to_string()))?;
        return Ok(Input::Run { label, dir: dir.to_path_buf(), results: Box::new(typed), json });
    }
    for (file, kind) in [("compare.csv", "compare"), ("summary.csv", "sweep")] {
        let path = dir.join(file);
        if path.is_file() {
            let csv = crate::scenario::parse::read_text(&path)?;
            return Ok(Input::Table { label, dir: dir.to_path_buf(), csv, kind });
        }
    }
    Err(bad(dir, "holds no results.json (run), compare.csv (compare) or summary.csv (sweep)"))
}

/// The label of `dir` by default: its last component.
pub fn default_label(dir: &Path) -> String {
    dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Checks metric paths against the results schema (as sweep metrics are checked).
pub fn check_metrics(metrics: &[String]) -> Result<(), ScenarioError> {
    let schema = crate::report::results::results_schema();
    for (i, m) in metrics.iter().enumerate() {
        let path = super::sweep::metric_path(m);
        crate::report::schema::types_at(&schema, path)
            .map_err(|e| ScenarioError::Invalid { path: format!("--metrics[{i}]"), message: e })?;
    }
    Ok(())
}

fn cell(json: &Value, metric: &str) -> String {
    match crate::report::schema::value_at(json, super::sweep::metric_path(metric)) {
        None | Some(Value::Null) => "-".into(),
        Some(Value::Number(n)) => n.as_f64().map_or_else(
            || n.to_string(),
            |x| {
                if x.fract() == 0.0 && x.abs() < 1e15 {
                    format!("{x:.0}")
                } else {
                    format!("{x:.3}")
                }
            },
        ),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The Markdown table of the runs among `inputs`: a row per run, a column per metric.
pub fn markdown(inputs: &[Input], metrics: &[String]) -> String {
    let mut t = format!("| run | {} |\n|---|{}\n", metrics.join(" | "), "---|".repeat(metrics.len()));
    for input in inputs {
        if let Input::Run { label, json, .. } = input {
            let cells: Vec<String> = metrics.iter().map(|m| cell(json, m)).collect();
            t.push_str(&format!("| {label} | {} |\n", cells.join(" | ")));
        }
    }
    t
}

fn csv_table(text: &str) -> String {
    let mut h = String::from("<div class=scroll><table>");
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
    for (i, record) in reader.records().enumerate() {
        let Ok(record) = record else { break };
        h.push_str("<tr>");
        for c in record.iter() {
            let tag = if i == 0 { "th" } else { "td" };
            let shown = match c.parse::<f64>() {
                Ok(x) if i > 0 && x.fract() != 0.0 => format!("{x:.4}"),
                _ => esc(c),
            };
            h.push_str(&format!("<{tag}>{shown}</{tag}>"));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></div>\n");
    h
}

/// The SVG files of `dir`, sorted by name, `skip`ped names left out.
fn svgs(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".svg") || !e.file_type().is_ok_and(|t| t.is_file()) {
                return None;
            }
            std::fs::read_to_string(e.path()).ok().map(|text| (name, text))
        })
        .collect();
    out.sort();
    out
}

/// The completion overlay of the runs among `inputs` (`report_cdf.svg`), `None` without runs.
pub fn overlay(inputs: &[Input], force_log: bool) -> Option<Result<String, String>> {
    let pairs: Vec<(String, &Results)> = inputs
        .iter()
        .filter_map(|i| match i {
            Input::Run { label, results, .. } => Some((label.clone(), results.as_ref())),
            Input::Table { .. } => None,
        })
        .collect();
    let scenarios: std::collections::BTreeSet<&str> = pairs.iter().map(|p| p.1.scenario.as_str()).collect();
    let title = format!("{}: completion, run by run", scenarios.into_iter().collect::<Vec<_>>().join(", "));
    (!pairs.is_empty()).then(|| crate::report::overlay::completion_overlay_svg(&title, &pairs, force_log))
}

/// Renders `report.html`; `overlay` is the runs' completion overlay, if any.
pub fn html(inputs: &[Input], metrics: &[String], overlay: Option<&str>) -> Result<String, String> {
    let mut h = head("cascade-sim report");
    h.push_str("<h1>cascade-sim report</h1>\n");
    let runs: Vec<(&String, &Results, &Value, &PathBuf)> = inputs
        .iter()
        .filter_map(|i| match i {
            Input::Run { label, results, json, dir } => Some((label, results.as_ref(), json, dir)),
            Input::Table { .. } => None,
        })
        .collect();
    if !runs.is_empty() {
        h.push_str("<h2>Runs</h2>\n<div class=scroll><table><tr><th class=l>run</th><th class=l>scenario</th>");
        let figures: Vec<Vec<(&str, String)>> = runs.iter().map(|r| headline(r.1)).collect();
        for (name, _) in &figures[0] {
            h.push_str(&format!("<th>{name}</th>"));
        }
        h.push_str("</tr>\n");
        for (r, f) in runs.iter().zip(&figures) {
            h.push_str(&format!("<tr><td class=l>{}</td><td class=l>{}</td>", esc(r.0), esc(&r.1.scenario)));
            for (_, v) in f {
                h.push_str(&format!("<td>{v}</td>"));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table></div>\n<h3>Chosen fields</h3>\n<div class=scroll><table><tr><th class=l>run</th>");
        for m in metrics {
            h.push_str(&format!("<th>{}</th>", esc(m)));
        }
        h.push_str("</tr>\n");
        for r in &runs {
            h.push_str(&format!("<tr><td class=l>{}</td>", esc(r.0)));
            for m in metrics {
                h.push_str(&format!("<td>{}</td>", esc(&cell(r.2, m))));
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table></div>\n");
        if let Some(svg) = overlay {
            h.push_str(&format!("<figure>{}</figure>\n", inline_svg(svg)));
        }
        for r in &runs {
            if let Some(live) = live_table(r.1) {
                h.push_str(&format!("<h3>Live streams of {}</h3>\n{live}", esc(r.0)));
            }
        }
        for chart in ["completion.svg", "lag.svg", "timeline.svg", "throughput.svg", "progress.svg"] {
            let present: Vec<(&String, String)> =
                runs.iter().filter_map(|r| std::fs::read_to_string(r.3.join(chart)).ok().map(|s| (r.0, s))).collect();
            if present.is_empty() {
                continue;
            }
            h.push_str(&format!("<h2>{chart}, side by side</h2>\n<div class=side>\n"));
            for (label, svg) in &present {
                h.push_str(&format!("<figure><figcaption>{}</figcaption>{}</figure>\n", esc(label), inline_svg(svg)));
            }
            h.push_str("</div>\n");
        }
    }
    for input in inputs {
        if let Input::Table { label, dir, csv, kind } = input {
            h.push_str(&format!("<h2>{} ({kind})</h2>\n", esc(label)));
            h.push_str(&csv_table(csv));
            h.push_str("<div class=side>\n");
            for (name, svg) in svgs(dir) {
                h.push_str(&format!("<figure><figcaption>{}</figcaption>{}</figure>\n", esc(&name), inline_svg(&svg)));
            }
            h.push_str("</div>\n");
        }
    }
    h.push_str("</body></html>\n");
    Ok(h)
}
