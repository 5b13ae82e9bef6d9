//! `cascade-sim check`: every scenario in a directory (and its subdirectories) has an
//! expectation in the `expected/` beside it
//! (makespan, per-job close times, trace hash and key counters). `check` runs them all and
//! reports every drift field by field; `--bless` rewrites the expectations on purpose.

use crate::kernel::TraceHashVersion;
use crate::report::Results;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a scenario is expected to produce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    /// Makespan, seconds.
    pub makespan_s: Option<f64>,
    /// Virtual time of the last event, on the run clock.
    pub end_at_s: f64,
    /// Events processed.
    pub events: u64,
    /// Trace fingerprint.
    pub trace_hash: String,
    /// Which function computed `trace_hash`; absent in expectations written before version 2
    /// existed, which are version 1 (`check` then fingerprints the run with version 1).
    #[serde(default = "TraceHashVersion::first")]
    pub trace_hash_version: TraceHashVersion,
    /// (server, job) pairs left unfinished.
    pub unfinished: usize,
    /// Denied jobs.
    pub denied_jobs: usize,
    /// Control messages lost to faults.
    pub messages_lost: u64,
    /// Per job: name, close time, servers completed, switches.
    pub jobs: Vec<JobExpectation>,
}

/// What one job is expected to produce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobExpectation {
    /// Job name.
    pub name: String,
    /// When the base server closed it, seconds since the job's request.
    pub closed_s: Option<f64>,
    /// Servers that received the content.
    pub completed: usize,
    /// Dynamic switches.
    pub switches: u32,
}

impl Expectation {
    /// The expectation a run's results meet.
    pub fn of(r: &Results) -> Expectation {
        Expectation {
            makespan_s: r.makespan_s,
            end_at_s: r.end_at_s,
            events: r.events,
            trace_hash: r.trace_hash.clone(),
            trace_hash_version: r.trace_hash_version,
            unfinished: r.unfinished,
            denied_jobs: r.job_outcomes.denied,
            messages_lost: r.messages_lost,
            jobs: r
                .jobs
                .iter()
                .map(|j| JobExpectation {
                    name: j.name.clone(),
                    closed_s: j.closed_s,
                    completed: j.completed,
                    switches: j.switches,
                })
                .collect(),
        }
    }

    /// Field-by-field differences, `expected → actual`, empty when none.
    pub fn diff(&self, actual: &Expectation) -> Vec<String> {
        let (e, a) = (serde_json::to_value(self).expect("json"), serde_json::to_value(actual).expect("json"));
        let mut out = Vec::new();
        diff_values("", &e, &a, &mut out);
        out
    }
}

fn diff_values(path: &str, e: &serde_json::Value, a: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value::{Array, Object};
    match (e, a) {
        (Object(eo), Object(ao)) => {
            for (k, ev) in eo {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                diff_values(&p, ev, ao.get(k).unwrap_or(&serde_json::Value::Null), out);
            }
        }
        (Array(ea), Array(aa)) if ea.len() == aa.len() => {
            for (i, (ev, av)) in ea.iter().zip(aa).enumerate() {
                diff_values(&format!("{path}[{i}]"), ev, av, out);
            }
        }
        _ if e != a => out.push(format!("{path}: expected {e}, got {a}")),
        _ => {}
    }
}

/// The scenarios checked in `dir`: its `*.json` files except `schema.json`, then those of its
/// subdirectories (each with its own `expected/`), skipping `expected/` and `sweeps/` (not
/// scenarios) and `large/` (runs too long for CI; check it by naming it), sorted.
pub fn scenario_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    let mut files: Vec<PathBuf> = entries
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.file_name().is_some_and(|n| n != "schema.json"))
        .cloned()
        .collect();
    for sub in entries.iter().filter(|p| p.is_dir()) {
        if sub.file_name().is_some_and(|n| n != "expected" && n != "sweeps" && n != "large") {
            files.extend(scenario_files(sub)?);
        }
    }
    Ok(files)
}

/// Where the expectation of `scenario` lives.
pub fn expectation_path(scenario: &Path) -> PathBuf {
    let dir = scenario.parent().unwrap_or(Path::new("."));
    dir.join("expected").join(scenario.file_name().expect("a file"))
}

/// The outcome of checking one scenario.
pub enum Outcome {
    /// As expected.
    Same,
    /// Differences, field by field.
    Drift(Vec<String>),
    /// No expectation file yet.
    Missing,
    /// Rewritten (with `--bless`).
    Blessed,
}

/// Checks (or, with `bless`, rewrites) the expectation of one scenario. An invalid scenario
/// is an error holding its [`crate::scenario::ScenarioError`] (callers tell it from I/O
/// failures with `downcast_ref`).
///
/// The run is fingerprinted with the expectation's `trace_hash_version`, so an expectation
/// written by an older build still checks; `--bless` writes the current version.
pub fn check_one(scenario: &Path, bless: bool) -> anyhow::Result<Outcome> {
    let parsed = crate::scenario::load(scenario)?;
    let path = expectation_path(scenario);
    let expected = match (bless, std::fs::read_to_string(&path)) {
        (false, Ok(text)) => Some(parse_expectation(&path, &text)?),
        _ => None,
    };
    let options = crate::RunOptions {
        trace_hash_version: expected.as_ref().map_or(TraceHashVersion::CURRENT, |e| e.trace_hash_version),
        ..crate::RunOptions::default()
    };
    let actual = Expectation::of(&crate::simulate(&parsed, &options)?.results);
    if bless {
        std::fs::create_dir_all(path.parent().expect("expected/"))?;
        let mut text = serde_json::to_string_pretty(&actual)?;
        text.push('\n');
        crate::report::output::write_file_atomically(&path, text.as_bytes())?;
        return Ok(Outcome::Blessed);
    }
    let Some(expected) = expected else { return Ok(Outcome::Missing) };
    let diff = expected.diff(&actual);
    Ok(if diff.is_empty() { Outcome::Same } else { Outcome::Drift(diff) })
}

/// An expectation file's contents, or a [`crate::scenario::ScenarioError::Parse`] naming the
/// file and the JSON path at fault (bad input, like an invalid scenario).
fn parse_expectation(path: &Path, text: &str) -> Result<Expectation, crate::scenario::ScenarioError> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| crate::scenario::ScenarioError::Parse {
        file: path.display().to_string(),
        path: e.path().to_string(),
        message: e.into_inner().to_string(),
    })
}
