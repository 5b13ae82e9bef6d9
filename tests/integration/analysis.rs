//! The analyst's and CI's commands: outputs parsed back, compare, sweep with shards and merge,
//! check with a drift, and the shipped schema.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cascade_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cascade-sim")).args(args).output().expect("binary runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cascade-sim-analysis-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

pub const SMALL: &str = r#"{ "name": "small", "seed": 4, "network": {
    "base_server": { "name": "bs", "upload_mbps": 40, "download_mbps": 100 },
    "groups": [ { "name": "g", "count": 12, "upload_mbps": { "uniform": [8, 40] }, "download_mbps": 40, "latency_ms": 5 } ] },
  "clients": [ { "name": "c", "upload_mbps": 100, "download_mbps": 100,
    "jobs": [ { "name": "j", "content": { "kind": "file", "size_mb": 2, "chunks": 8 },
                "strategy": { "kind": "cascade", "fanout": 2 } } ] } ] }"#;

#[test]
fn run_outputs_parse_back() {
    let dir = temp_dir("outputs");
    let out = dir.join("out");
    ok(&cascade_sim(&["run", "scenarios/fault-relay-crash.json", "--out", out.to_str().unwrap(), "--trace"]));
    let results: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let nodes = results["nodes"].as_array().unwrap().len();
    let mut csv = csv::Reader::from_path(out.join("nodes.csv")).unwrap();
    assert_eq!(csv.headers().unwrap().iter().collect::<Vec<_>>(), cascade_sim::report::csv::NODE_COLUMNS);
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), nodes, "one row per (server, job)");
    let account = cascade_sim::report::csv::NODE_COLUMNS.iter().position(|c| *c == "account").unwrap();
    assert!(rows.iter().any(|r| &r[account] == "completed"));
    let trace: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("trace.json")).unwrap()).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    assert!(events.iter().all(|e| e["ph"].is_string() && e["pid"].is_number() && e["tid"].is_number()));
    let spans: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert!(!spans.is_empty() && spans.iter().all(|e| e["dur"].as_f64().unwrap() >= 0.0 && e["ts"].is_number()));
    assert!(events.iter().any(|e| e["ph"] == "i" && e["name"] == "NeedSource"), "messages are instants");
    assert!(events.iter().any(|e| e["ph"] == "M" && e["args"]["name"] == "hub-1"), "one track per host");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("repaired") && html.contains("fault-relay-crash"));
    for external in ["<script", "src=\"http", "href=\"http", "<link"] {
        assert!(!html.contains(external), "self-contained: found {external}");
    }
    let png = std::fs::read(out.join("completion.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    for svg in ["timeline.svg", "throughput.svg", "completion.svg"] {
        assert!(std::fs::read_to_string(out.join(svg)).unwrap().contains("</svg>"), "{svg}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn compare_runs_every_strategy_with_the_same_seed() {
    let dir = temp_dir("compare");
    let file = dir.join("small.json");
    std::fs::write(&file, SMALL).unwrap();
    let out = dir.join("out");
    let o = cascade_sim(&[
        "compare",
        file.to_str().unwrap(),
        "--strategies",
        "star,chain,tree,cascade,swarm",
        "--out",
        out.to_str().unwrap(),
    ]);
    ok(&o);
    let table = String::from_utf8_lossy(&o.stdout);
    for s in ["star", "chain", "tree", "cascade", "swarm"] {
        assert!(table.contains(s), "{table}");
    }
    let mut csv = csv::Reader::from_path(out.join("compare.csv")).unwrap();
    let mean = csv.headers().unwrap().iter().position(|c| c == "makespan_s_mean").unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(
        rows.iter().map(|r| r[0].to_string()).collect::<Vec<_>>(),
        ["star", "chain", "tree", "cascade", "swarm"]
    );
    let makespan = |name: &str| rows.iter().find(|r| &r[0] == name).unwrap()[mean].parse::<f64>().unwrap();
    assert!(makespan("cascade") < makespan("star"));
    assert!(out.join("compare_cdf.svg").exists() && out.join("compare_makespan.svg").exists());
    let bad = cascade_sim(&[
        "compare",
        file.to_str().unwrap(),
        "--strategies",
        "star,flood",
        "--out",
        dir.join("bad").to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown strategy `flood`"));
    assert!(!dir.join("bad").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sharded_sweeps_merge_into_the_files_of_a_single_run() {
    let dir = temp_dir("sweep");
    std::fs::write(dir.join("small.json"), SMALL).unwrap();
    let sweep = dir.join("sweep.json");
    std::fs::write(
        &sweep,
        r#"{ "scenario": "small.json",
             "parameters": [ { "path": "network.groups[0].count", "values": [6, 12] },
                             { "path": "clients[0].jobs[0].strategy.fanout", "values": [1, 3] } ],
             "seeds": [1, 2], "metrics": ["makespan_s", "ratio_to_bound", "events"] }"#,
    )
    .unwrap();
    let (whole, a, b, merged) = (dir.join("whole"), dir.join("a"), dir.join("b"), dir.join("merged"));
    ok(&cascade_sim(&["sweep", sweep.to_str().unwrap(), "--out", whole.to_str().unwrap()]));
    ok(&cascade_sim(&["sweep", sweep.to_str().unwrap(), "--out", a.to_str().unwrap(), "--shard", "0/2"]));
    ok(&cascade_sim(&["sweep", sweep.to_str().unwrap(), "--out", b.to_str().unwrap(), "--shard", "1/2"]));
    ok(&cascade_sim(&["merge", a.to_str().unwrap(), b.to_str().unwrap(), "--out", merged.to_str().unwrap()]));
    let mut csv = csv::Reader::from_path(whole.join("runs.csv")).unwrap();
    assert_eq!(
        csv.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "run",
            "network.groups[0].count",
            "clients[0].jobs[0].strategy.fanout",
            "seed",
            "makespan_s",
            "ratio_to_bound",
            "events"
        ]
    );
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 8, "2 × 2 grid points × 2 seeds");
    assert_eq!((&rows[5][1], &rows[5][2], &rows[5][3]), ("12", "1", "2"), "first parameter slowest, seed fastest");
    let names = |d: &Path| {
        let mut v: Vec<String> =
            std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        v.sort();
        v
    };
    assert_eq!(names(&whole), names(&merged));
    assert!(names(&whole).iter().any(|n| n == "makespan_s_vs_network_groups_0__count.svg"), "{:?}", names(&whole));
    for file in names(&whole) {
        assert_eq!(
            std::fs::read(whole.join(&file)).unwrap(),
            std::fs::read(merged.join(&file)).unwrap(),
            "{file} differs"
        );
    }
    let missing = cascade_sim(&["merge", a.to_str().unwrap(), "--out", dir.join("partial").to_str().unwrap()]);
    assert!(!missing.status.success() && String::from_utf8_lossy(&missing.stderr).contains("missing"));
    std::fs::write(
        &sweep,
        r#"{ "scenario": "small.json", "parameters": [ { "path": "network.nope[0]", "values": [1] } ], "seeds": [1] }"#,
    )
    .unwrap();
    let bad = cascade_sim(&["sweep", sweep.to_str().unwrap(), "--out", dir.join("bad").to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("parameters[0].path"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// `SMALL`'s expectation as written by `check --bless` of the build before trace hash version 2
/// (commit 15c1bfb): no `trace_hash_version`, FNV-1a's hash.
const SMALL_EXPECTATION_V1: &str = r#"{
  "makespan_s": 1.263427048,
  "end_at_s": 1.293427048,
  "events": 540,
  "trace_hash": "c6af610a57edbd52",
  "unfinished": 0,
  "denied_jobs": 0,
  "messages_lost": 0,
  "jobs": [ { "name": "j", "closed_s": 1.268427048, "completed": 12, "switches": 6 } ]
}"#;

#[test]
fn check_still_accepts_an_expectation_of_the_first_trace_hash_version() {
    let dir = temp_dir("check-v1");
    std::fs::write(dir.join("small.json"), SMALL).unwrap();
    std::fs::create_dir(dir.join("expected")).unwrap();
    let path = dir.join("expected").join("small.json");
    std::fs::write(&path, SMALL_EXPECTATION_V1).unwrap();
    let d = dir.to_str().unwrap();
    ok(&cascade_sim(&["check", d])); // the run is fingerprinted with version 1: FNV-1a as before

    // Blessing writes the current version: a new hash, every other field the same.
    ok(&cascade_sim(&["check", d, "--bless"]));
    let blessed: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut old: serde_json::Value = serde_json::from_str(SMALL_EXPECTATION_V1).unwrap();
    assert_eq!(blessed["trace_hash_version"], 2);
    assert_ne!(blessed["trace_hash"], old["trace_hash"]);
    old["trace_hash"] = blessed["trace_hash"].clone();
    old["trace_hash_version"] = serde_json::json!(2);
    assert_eq!(blessed, old, "only the fingerprint changes");
    ok(&cascade_sim(&["check", d]));

    // The version-2 hash under version 1 is a drift of the hash, not of anything else.
    let mut wrong = blessed.clone();
    wrong["trace_hash_version"] = serde_json::json!(1);
    std::fs::write(&path, serde_json::to_vec_pretty(&wrong).unwrap()).unwrap();
    let drift = cascade_sim(&["check", d]);
    assert_eq!(drift.status.code(), Some(1));
    let text = String::from_utf8_lossy(&drift.stdout);
    assert!(text.contains("trace_hash: expected") && text.matches("expected").count() == 1, "{text}");

    // `run` fingerprints with the current version, or with version 1 on request (to compare
    // with an older build's results.json): the same run, the two hashes above.
    let results = |extra: &[&str], out: &str| -> serde_json::Value {
        let (scenario, out) = (dir.join("small.json"), dir.join(out));
        let mut args = vec!["run", scenario.to_str().unwrap(), "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        ok(&cascade_sim(&args));
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap()
    };
    let current = results(&[], "run-current");
    assert_eq!(
        (&current["trace_hash"], &current["trace_hash_version"]),
        (&blessed["trace_hash"], &serde_json::json!(2))
    );
    let first = results(&["--trace-hash-version", "1"], "run-first");
    assert_eq!(
        (&first["trace_hash"], &first["trace_hash_version"]),
        (&serde_json::json!("c6af610a57edbd52"), &serde_json::json!(1))
    );
    // A results.json from before versions (no `trace_hash_version`) still reads, as version 1.
    let mut older = first.clone();
    older.as_object_mut().unwrap().remove("trace_hash_version");
    std::fs::write(dir.join("run-first").join("results.json"), serde_json::to_vec_pretty(&older).unwrap()).unwrap();
    let typed: cascade_sim::report::Results = serde_json::from_value(older).unwrap();
    assert_eq!(typed.trace_hash_version, cascade_sim::kernel::TraceHashVersion::Fnv1aBytes);
    let report_out = dir.join("report");
    ok(&cascade_sim(&["report", dir.join("run-first").to_str().unwrap(), "--out", report_out.to_str().unwrap()]));
    let bad_flag = cascade_sim(&["run", dir.join("small.json").to_str().unwrap(), "--trace-hash-version", "3"]);
    assert_eq!(bad_flag.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_flag.stderr)
        .contains("trace hash version 3 is not one this build computes (1 or 2)"));

    // A version this build does not know is bad input, named with its file and field.
    wrong["trace_hash_version"] = serde_json::json!(7);
    std::fs::write(&path, serde_json::to_vec_pretty(&wrong).unwrap()).unwrap();
    let bad = cascade_sim(&["check", d]);
    assert_eq!(bad.status.code(), Some(2));
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(
        text.contains(
            "expected/small.json: trace_hash_version: trace hash version 7 is not one this build computes (1 or 2)"
        ),
        "{text}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn check_reports_a_drift_field_by_field_and_bless_rewrites() {
    let dir = temp_dir("check");
    std::fs::write(dir.join("small.json"), SMALL).unwrap();
    let d = dir.to_str().unwrap();
    let missing = cascade_sim(&["check", d]);
    assert_eq!(missing.status.code(), Some(1), "no expectation yet");
    ok(&cascade_sim(&["check", d, "--bless"]));
    ok(&cascade_sim(&["check", d]));
    let path = dir.join("expected").join("small.json");
    let mut e: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    e["makespan_s"] = serde_json::json!(1.5);
    e["jobs"][0]["closed_s"] = serde_json::json!(2.5);
    std::fs::write(&path, serde_json::to_vec_pretty(&e).unwrap()).unwrap();
    let drift = cascade_sim(&["check", d]);
    assert_eq!(drift.status.code(), Some(1));
    let text = String::from_utf8_lossy(&drift.stdout);
    assert!(
        text.contains("DRIFT")
            && text.contains("makespan_s: expected 1.5")
            && text.contains("jobs[0].closed_s: expected 2.5"),
        "{text}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_bundled_scenario_has_an_expectation_and_references_the_schema() {
    for file in cascade_sim::analysis::check::scenario_files(Path::new("scenarios")).unwrap() {
        assert!(
            cascade_sim::analysis::check::expectation_path(&file).exists(),
            "{} has no expectation",
            file.display()
        );
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let schema = file.parent().unwrap().join(doc["$schema"].as_str().unwrap_or_default());
        assert_eq!(
            schema.canonicalize().ok(),
            Path::new("scenarios/schema.json").canonicalize().ok(),
            "{}",
            file.display()
        );
    }
}

#[test]
fn the_shipped_schema_is_the_generated_one() {
    let shipped: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("scenarios/schema.json").unwrap()).unwrap();
    assert_eq!(shipped, cascade_sim::scenario::json_schema(), "run `cascade-sim schema > scenarios/schema.json`");
    let o = cascade_sim(&["schema"]);
    ok(&o);
    let printed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(printed, shipped);
}

/// N=7 servers and the base server at 100 Mbit/s up = down, zero latency, 4 MB in 4 chunks
/// already at the base server: the optimum is 4 + ceil(log2 8) − 1 = 6 rounds of 1 MB over
/// 12.5 MB/s, 0.48 s.
const HOMOGENEOUS_7: &str = r#"{ "name": "h7", "seed": 1, "network": {
    "base_server": { "name": "bs", "upload_mbps": 100, "download_mbps": 100 },
    "groups": [ { "name": "peer", "count": 7, "upload_mbps": 100, "download_mbps": 100 } ] },
  "clients": [ { "name": "c", "upload_mbps": 100, "download_mbps": 100,
    "jobs": [ { "name": "f", "content": { "kind": "file", "size_mb": 4, "chunks": 4, "at_origins": true },
                "strategy": { "kind": "optimal" } } ] } ] }"#;

#[test]
fn compare_gives_the_ratios_to_the_optimum_and_to_the_optimal_reference() {
    let dir = temp_dir("compare-optimum");
    let file = dir.join("h7.json");
    std::fs::write(&file, HOMOGENEOUS_7).unwrap();
    let out = dir.join("out");
    let args = ["compare", file.to_str().unwrap(), "--strategies", "chain,optimal", "--out", out.to_str().unwrap()];
    let o = cascade_sim(&args);
    ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("ratio_to_optimum") && stdout.contains("ratio_to_optimal_ref"), "{stdout}");
    // compare_runs.csv: the new columns at the end.
    let mut runs = csv::Reader::from_path(out.join("compare_runs.csv")).unwrap();
    let header: Vec<String> = runs.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header[header.len() - 3..], ["trace_hash", "ratio_to_optimum", "ratio_to_optimal_ref"]);
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let rows: Vec<csv::StringRecord> = runs.records().map(Result::unwrap).collect();
    let value = |strategy: &str, column: &str| -> f64 {
        rows.iter().find(|r| &r[0] == strategy).unwrap()[col(column)].parse().unwrap()
    };
    // The optimal schedule reaches the closed form exactly here: 0.48 s.
    assert!((value("optimal", "makespan_s") - 0.48).abs() < 1e-9);
    assert!((value("optimal", "ratio_to_optimum") - 1.0).abs() < 1e-9);
    assert_eq!(value("optimal", "ratio_to_optimal_ref"), 1.0);
    // The chain: M + N − 1 = 10 rounds, 0.8 s; ratio to the optimum = makespan / 0.48.
    let chain = value("chain", "makespan_s");
    assert!((value("chain", "ratio_to_optimum") - chain / 0.48).abs() < 1e-9);
    assert!((value("chain", "ratio_to_optimal_ref") - chain / value("optimal", "makespan_s")).abs() < 1e-9);
    assert!((chain - 0.8).abs() < 1e-9, "{chain}");
    // compare.csv: the summaries of the two ratios after every earlier column.
    let mut summary = csv::Reader::from_path(out.join("compare.csv")).unwrap();
    let header: Vec<String> = summary.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header[header.len() - 10..][0], "ratio_to_optimum_n");
    assert_eq!(header[header.len() - 5..][1], "ratio_to_optimal_ref_mean");
    assert_eq!(header[2], "makespan_s_n", "the earlier columns keep their order");
    let mean = header.iter().position(|h| h == "ratio_to_optimum_mean").unwrap();
    let chain_row = summary.records().map(Result::unwrap).find(|r| &r[0] == "chain").unwrap();
    assert!((chain_row[mean].parse::<f64>().unwrap() - chain / 0.48).abs() < 1e-9);
    // compare.md: a row per strategy with the ratios (the wall time is not asserted).
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(md.starts_with(
        "| strategy | makespan s | ratio to bound | ratio to optimum | ratio to the optimal reference | wall s |"
    ));
    let optimal_row = md.lines().find(|l| l.starts_with("| optimal |")).unwrap();
    assert!(optimal_row.starts_with("| optimal | 0.480 | ") && optimal_row.contains("| 1.000 | 1.000 |"), "{md}");
    // Without `optimal` compared, no reference: the column is empty, shown as a dash.
    let alone = dir.join("alone");
    let o =
        cascade_sim(&["compare", file.to_str().unwrap(), "--strategies", "chain", "--out", alone.to_str().unwrap()]);
    ok(&o);
    let md = std::fs::read_to_string(alone.join("compare.md")).unwrap();
    let chain_line = md.lines().find(|l| l.starts_with("| chain |")).unwrap();
    assert_eq!(chain_line.split(" | ").nth(4), Some("–"), "{md}");
    std::fs::remove_dir_all(dir).unwrap();
}
