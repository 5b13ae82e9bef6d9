//! `cascade-sim check`: every scenario in a directory (and its subdirectories) has an
//! expectation in the `expected/` beside it
//! (makespan, per-job close times, trace hash and key counters). `check` runs them all and
//! reports every drift field by field; `--bless` rewrites the expectations on purpose.

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
pub fn check_one(scenario: &Path, bless: bool) -> anyhow::Result<Outcome> {
    let parsed = crate::scenario::load(scenario)?;
    let results = crate::run(&parsed, None)?;
    let actual = Expectation::of(&results);
    let path = expectation_path(scenario);
    if bless {
        std::fs::create_dir_all(path.parent().expect("expected/"))?;
        let mut text = serde_json::to_string_pretty(&actual)?;
        text.push('\n');
        crate::report::output::write_file_atomically(&path, text.as_bytes())?;
        return Ok(Outcome::Blessed);
    }
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(Outcome::Missing) };
    let expected: Expectation = serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let diff = expected.diff(&actual);
    Ok(if diff.is_empty() { Outcome::Same } else { Outcome::Drift(diff) })
}
