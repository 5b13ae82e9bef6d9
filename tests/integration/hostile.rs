//! Regression tests of issue 12: every hostile input and output case found by hand and by
//! fuzzing ends in exit 0 or 2 (1 for a failing system), one line of error naming the file
//! and JSON path, no panic, no hang, bounded allocation, and no file written where it should
//! not be. CLI cases run the built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn cascade_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cascade-sim")).args(args).output().expect("binary runs")
}

fn cascade_sim_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cascade-sim")).args(args).current_dir(dir).output().expect("binary runs")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cascade-sim-hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh directory holding the small scenario as `s.json`.
fn dir_with_small(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::write(dir.join("s.json"), SMALL).unwrap();
    dir
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A small valid scenario: base server, client, 6 servers, a cascade of a 2 MB file.
const SMALL: &str = r#"{ "name": "small", "seed": 3, "horizon_s": 600, "network": {
    "base_server": { "name": "bs", "upload_mbps": 40, "download_mbps": 100 },
    "groups": [ { "name": "g", "count": 6, "upload_mbps": 20, "download_mbps": 40, "latency_ms": 5 } ] },
  "clients": [ { "name": "c", "upload_mbps": 100, "download_mbps": 100,
    "jobs": [ { "name": "j", "content": { "kind": "file", "size_mb": 2, "chunks": 8 },
                "strategy": { "kind": "cascade", "fanout": 2 } } ] } ] }"#;

fn small() -> serde_json::Value {
    serde_json::from_str(SMALL).unwrap()
}

/// Sets `path` (the error path syntax) in the small scenario.
fn small_with(path: &str, value: serde_json::Value) -> String {
    let mut doc = small();
    cascade_sim::analysis::set_path(&mut doc, path, value).unwrap();
    doc.to_string()
}

/// Runs `validate` and `run --out` on `text`: both must exit 2 with one line naming
/// `expected`, no panic, and write nothing.
fn rejected(name: &str, text: &str, expected: &str) {
    let dir = temp_dir(name);
    let file = dir.join("scenario.json");
    std::fs::write(&file, text).unwrap();
    let out = dir.join("out");
    for args in
        [vec!["validate", file.to_str().unwrap()], vec!["run", file.to_str().unwrap(), "--out", out.to_str().unwrap()]]
    {
        let o = cascade_sim(&args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name} ({}): {e}", args[0]);
        assert!(e.contains(expected), "{name} ({}): stderr does not name `{expected}`: {e}", args[0]);
        assert!(e.contains("scenario.json"), "{name}: the file is named: {e}");
        assert_eq!(e.trim_end().lines().count(), 1, "{name}: one line: {e}");
        assert!(!e.contains("panicked"), "{name}: {e}");
    }
    assert!(!out.exists(), "{name}: bad input writes nothing");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "{name}: no temporary left beside the output");
    std::fs::remove_dir_all(dir).unwrap();
}

// Panics ----------------------------------------------------------------------------------------

#[test]
fn capacities_whose_bytes_per_second_overflow_are_rejected() {
    rejected("cap", &small_with("network.base_server.upload_mbps", 1.8e303.into()), "network.base_server.upload_mbps");
    rejected("two-hosts", &small_with("network.groups[0].upload_mbps", 1e302.into()), "must be between 0.001 and 1e7");
}

#[test]
fn packets_per_chunk_outside_one_to_sixty_four_is_rejected() {
    for (name, v) in [("packets-0", 0), ("packets-65", 65)] {
        let strategy = serde_json::json!({ "kind": "optimal", "packets_per_chunk": v });
        rejected(
            name,
            &small_with("clients[0].jobs[0].strategy", strategy),
            &format!("clients[0].jobs[0].strategy.packets_per_chunk: {v} packets per chunk: expected 1 to 64"),
        );
    }
}

/// Packets count against the budget of items delivered: 1,000,000 chunks in 64 packets at every
/// one of 500 servers is refused before anything is allocated (in whole chunks it is within it).
#[test]
fn packets_per_chunk_count_against_the_items_budget() {
    let mut doc = small();
    cascade_sim::analysis::set_path(&mut doc, "network.groups[0].count", 500.into()).unwrap();
    cascade_sim::analysis::set_path(
        &mut doc,
        "clients[0].jobs[0].content",
        serde_json::json!({ "kind": "file", "size_mb": 1000, "chunks": 1_000_000 }),
    )
    .unwrap();
    let fine = doc.to_string();
    cascade_sim::scenario::parse(&fine).unwrap().build(None).expect("without packets it is within the limits");
    cascade_sim::analysis::set_path(
        &mut doc,
        "clients[0].jobs[0].strategy",
        serde_json::json!({ "kind": "optimal", "packets_per_chunk": 64 }),
    )
    .unwrap();
    rejected("packets-budget", &doc.to_string(), "clients[0].jobs[0].strategy.packets_per_chunk: the number of items");
}

#[test]
fn factors_of_slowdowns_and_degradations_are_bounded() {
    let doc = small_with(
        "faults",
        serde_json::json!({ "events": [ { "kind": "slowdown", "at_s": 1, "host": "g-1", "factor": 1e308 } ] }),
    );
    rejected("slowdown", &doc, "faults.events[0].factor: must be between 0.0001 and 10000, got 1e308");
}

#[test]
fn a_uniform_distribution_over_the_whole_float_range_is_rejected_not_sampled() {
    let doc = small_with("network.groups[0].upload_mbps", serde_json::json!({ "uniform": [1, f64::MAX] }));
    rejected("uniform", &doc, "network.groups[0].upload_mbps: must be between");
}

#[test]
fn bench_arguments_of_zero_are_usage_errors() {
    for arg in ["--nodes", "--chunks", "--fanout", "--repeat"] {
        let o = cascade_sim(&["bench", arg, "0"]);
        assert_eq!(o.status.code(), Some(2), "{arg}: {}", stderr(&o));
        assert!(stderr(&o).contains(arg) && !stderr(&o).contains("panicked"), "{arg}: {}", stderr(&o));
    }
}

/// Spawns with stdout closed by the reader before anything is written.
fn with_stdout_closed(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cascade-sim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_pipe_ends_quietly_with_the_sigpipe_status() {
    let dir = temp_dir("pipe");
    let file = dir.join("small.json");
    std::fs::write(&file, SMALL).unwrap();
    let out = dir.join("out");
    for args in [vec!["run", file.to_str().unwrap(), "--out", out.to_str().unwrap()], vec!["schema"]] {
        let o = with_stdout_closed(&args);
        assert_eq!(o.status.code(), Some(141), "{}: {}", args[0], stderr(&o));
        assert_eq!(stderr(&o), "", "{}: quietly", args[0]);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

// Unbounded allocation --------------------------------------------------------------------------

#[test]
fn counts_are_bounded_before_anything_is_allocated() {
    rejected("count", &small_with("network.groups[0].count", 1_000_000_000u64.into()), "network.groups[0].count");
    let live = serde_json::json!({ "kind": "live", "rate_mbps": 4, "duration_s": 1e8 });
    rejected("live", &small_with("clients[0].jobs[0].content", live), "clients[0].jobs[0].content.chunk_s");
    let file = serde_json::json!({ "kind": "file", "size_mb": 1e4, "chunks": 4294967295u64 });
    rejected("chunks", &small_with("clients[0].jobs[0].content", file), "clients[0].jobs[0].content.chunks");
    let many = serde_json::json!({ "mtbf_s": 1e-5, "mean_down_s": 1e-5 });
    rejected("mtbf", &small_with("faults", serde_json::json!({ "random": many })), "faults.random.mtbf_s");
}

#[test]
fn a_dense_random_fault_process_validates_at_once_and_is_drawn_lazily() {
    // MTBF 5 s on the 1,000-server scenario: before, 44 s and 2.1 GB to validate.
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("scenarios/cascade-1000.json").unwrap()).unwrap();
    doc["faults"] = serde_json::json!({ "random": { "mtbf_s": 5, "mean_down_s": 20 } });
    let scenario = cascade_sim::scenario::parse(&doc.to_string()).unwrap();
    let built = scenario.build(None).unwrap();
    assert!(built.faults.is_empty(), "no list of random faults is made up front");
    assert_eq!(built.random_faults.as_ref().unwrap().hosts.len(), 1000);
}

#[test]
fn results_list_the_first_faults_and_count_them_all() {
    let doc = small_with("faults", serde_json::json!({ "random": { "mtbf_s": 0.5, "mean_down_s": 0.5 } }));
    let results = crate::util::run_json(&doc);
    let cap = cascade_sim::engine::faults::MAX_LISTED_FAULTS;
    // 6 servers alternate up and down with means 0.5 s for 600 s: about 3,600 crashes and as
    // many recoveries, counted apart.
    assert!(results.faults_total > 2_500, "{}", results.faults_total);
    assert!(results.recoveries_total.abs_diff(results.faults_total) <= 6, "{}", results.recoveries_total);
    assert_eq!((results.faults.len(), results.recoveries.len()), (cap, cap));
    assert!(results.faults.iter().all(|f| f.fault.starts_with("crash")));
    assert!(results.recoveries.iter().all(|f| f.fault.starts_with("recover")));
    assert!(results.faults.windows(2).all(|w| w[0].at_s <= w[1].at_s), "in time order");
    assert_eq!(crate::util::run_json(&doc).trace_hash, results.trace_hash, "deterministic");
}

#[test]
fn each_hosts_random_faults_come_from_its_own_stream() {
    // Adding a server to the process does not change the faults of the others.
    let faults_of = |servers: serde_json::Value| {
        let doc = small_with(
            "faults",
            serde_json::json!({ "random": { "mtbf_s": 50, "mean_down_s": 5, "servers": servers } }),
        );
        let r = crate::util::run_json(&doc);
        r.faults.into_iter().filter(|f| f.fault.ends_with(" g-1")).map(|f| f.at_s).collect::<Vec<_>>()
    };
    let alone = faults_of(serde_json::json!(["g-1"]));
    assert!(!alone.is_empty());
    assert_eq!(alone, faults_of(serde_json::json!(["g-1", "g-2", "g-3"])));
}

// Hangs -----------------------------------------------------------------------------------------

#[test]
fn durations_that_round_to_nothing_are_rejected() {
    let duty = serde_json::json!({ "wait_period_s": 1e-12 });
    rejected("wait", &small_with("network.base_server.duty", duty), "network.base_server.duty.wait_period_s");
    let duty = serde_json::json!({ "query_timeout_s": 1e-12 });
    rejected("query", &small_with("network.base_server.duty", duty), "network.base_server.duty.query_timeout_s");
}

#[test]
fn huge_latencies_and_endless_repairs_are_rejected() {
    rejected("latency", &small_with("network.base_server.latency_ms", 1e300.into()), "network.base_server.latency_ms");
    let duty = serde_json::json!({ "max_repairs": 4294967295u64, "repair_s": 0 });
    rejected("repairs", &small_with("network.base_server.duty", duty), "network.base_server.duty.max_repairs");
}

#[test]
fn the_most_repairs_at_one_instant_end() {
    // A dead server, repairs that take no time and always fail, the most attempts allowed.
    let mut doc = small();
    doc["network"]["base_server"]["duty"] =
        serde_json::json!({ "max_repairs": 1000, "repair_s": 0, "repair_success": 0 });
    doc["faults"] =
        serde_json::json!({ "events": [ { "kind": "crash", "at_s": 0, "host": "g-6", "permanent": true } ] });
    let r = crate::util::run_json(&doc.to_string());
    let account = r.jobs[0].accountability.as_ref().unwrap();
    let dead = account.servers.iter().find(|s| s.server == "g-6").unwrap();
    assert_eq!((dead.state.as_str(), dead.repairs), ("failed", 1000));
    assert!(r.jobs[0].closed_s.is_some());
}

#[test]
fn charts_render_extreme_values_in_bounded_time() {
    use cascade_sim::report::chart::{axis_top, MAX_AXIS};
    assert_eq!(axis_top(f64::INFINITY, 1.1, 1e-3), MAX_AXIS);
    assert_eq!(axis_top(f64::NAN, 1.1, 1e-3), 1e-3);
    assert_eq!(axis_top(0.0, 1.1, 1e-3), 1e-3);
    assert_eq!(axis_top(10.0, 1.5, 1e-3), 15.0);
    let run = cascade_sim::simulate(&cascade_sim::scenario::parse(SMALL).unwrap(), &Default::default()).unwrap();
    let mut results = run.results.clone();
    results.end_at_s = 1e302;
    results.makespan_s = Some(f64::MAX);
    results.lower_bound_s = Some(1e302);
    results.jobs[0].lower_bound_s = f64::INFINITY;
    for n in &mut results.nodes {
        n.completion_s = Some(1e302);
    }
    assert!(cascade_sim::report::chart::completion_svg(&results, false).unwrap().contains("</svg>"));
    assert!(cascade_sim::report::timeline::timeline_svg(&run.engine, &results).unwrap().contains("</svg>"));
    assert!(cascade_sim::report::timeline::throughput_svg(&run.engine, &results).unwrap().contains("</svg>"));
    assert!(cascade_sim::report::chart::completion_svg(&results, true).unwrap().contains("</svg>"));
    let rows =
        vec![cascade_sim::analysis::compare::Row { strategy: "cascade".into(), runs: vec![(1, results)], wall_s: 0.0 }];
    assert!(cascade_sim::analysis::compare::makespan_svg(&rows).unwrap().contains("</svg>"));
    assert!(cascade_sim::analysis::compare::cdf_svg(&rows, false).unwrap().contains("</svg>"));
}

// Nonsense accepted -----------------------------------------------------------------------------

#[test]
fn text_or_a_second_document_after_the_scenario_is_rejected() {
    rejected("trailing", &format!("{SMALL} and more"), "trailing characters");
    rejected("second", &format!("{SMALL}\n{SMALL}"), "trailing characters");
}

#[test]
fn arrays_in_place_of_objects_are_rejected() {
    rejected("network", &small_with("network", serde_json::json!([])), "network: expected an object");
    rejected("faults", &small_with("faults", serde_json::json!([])), "faults: expected an object");
    let hosts = serde_json::json!([["a", 100, 100, 0]]);
    rejected("hosts", &small_with("network.hosts", hosts), "network.hosts[0]: expected an object, found an array");
}

#[test]
fn a_horizon_that_saturates_the_clock_is_rejected() {
    rejected("horizon", &small_with("horizon_s", 2e10.into()), "horizon_s: must be between");
}

#[test]
fn partition_sides_that_overlap_or_are_empty_are_rejected() {
    let partition = |sides: serde_json::Value| {
        small_with("faults", serde_json::json!({ "events": [ { "kind": "partition", "at_s": 1, "sides": sides } ] }))
    };
    rejected("overlap", &partition(serde_json::json!([["g"], ["g-2"]])), "faults.events[0].sides[1][0]");
    rejected("empty", &partition(serde_json::json!([["g-1"], []])), "faults.events[0].sides[1]: a side must name");
    rejected("one", &partition(serde_json::json!([["g-1"]])), "at least two sides");
}

#[test]
fn random_crashes_of_the_base_server_or_a_client_are_rejected() {
    for (who, name) in [("bs", "base"), ("c", "client")] {
        let doc = small_with(
            "faults",
            serde_json::json!({ "random": { "mtbf_s": 100, "mean_down_s": 10, "servers": [who] } }),
        );
        rejected(name, &doc, "faults.random.servers[0]");
    }
}

#[test]
fn validate_rejects_a_disconnected_topology_as_run_does() {
    let mut doc = small();
    doc["network"]["routers"] = serde_json::json!(["r1", "r2"]);
    doc["network"]["links"] = serde_json::json!([
        { "a": "g", "b": "r1", "capacity_mbps": 100 },
        { "a": "bs", "b": "r1", "capacity_mbps": 100 },
        { "a": "c", "b": "r2", "capacity_mbps": 100 } ]);
    rejected("disconnected", &doc.to_string(), "network.links: no route from host `bs` to host `c`");
}

// Found by fuzzing -----------------------------------------------------------------------------

#[test]
fn a_client_without_a_base_server_is_rejected_even_without_jobs() {
    // Accepted by validation, then a panic building the engine ("jobs need a base server").
    let mut doc = small();
    doc["network"]["base_server"] = serde_json::Value::Null;
    doc["clients"][0]["jobs"] = serde_json::json!([]);
    rejected("no-base", &doc.to_string(), "network.base_server: clients need a base server");
}

// Messages --------------------------------------------------------------------------------------

#[test]
fn names_with_control_characters_give_one_line() {
    rejected(
        "newline",
        &small_with("network.groups[0].name", "g\nx".into()),
        "name `g\\nx` contains control characters",
    );
    rejected("reference", &small_with("clients[0].jobs[0].servers", serde_json::json!(["a\nb"])), "`a\\nb`");
    rejected("key", &small_with("network.x\ny", 1.into()), "unknown field `x\\ny`");
}

#[test]
fn errors_inside_tagged_enums_name_the_field() {
    rejected(
        "fanout",
        &small_with("clients[0].jobs[0].strategy.fanout", (-1).into()),
        "clients[0].jobs[0].strategy.fanout",
    );
    rejected(
        "size",
        &small_with("clients[0].jobs[0].content.size_mb", "big".into()),
        "clients[0].jobs[0].content.size_mb",
    );
    let event = serde_json::json!({ "events": [ { "kind": "crash", "at_s": "soon", "host": "g-1" } ] });
    rejected("event", &small_with("faults", event), "faults.events[0].at_s");
}

#[test]
fn comments_are_named_as_such() {
    rejected("comment", &SMALL.replacen("{", "{ // a scenario\n", 1), "JSON does not allow comments");
}

#[test]
fn compare_and_merge_name_the_bad_file_and_exit_2() {
    let dir = temp_dir("compare-merge");
    let file = dir.join("bad.json");
    std::fs::write(&file, format!("{SMALL} trailing")).unwrap();
    let o = cascade_sim(&["compare", file.to_str().unwrap(), "--out", dir.join("o").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.json: invalid JSON: trailing characters"), "{}", stderr(&o));
    let o = cascade_sim(&["compare", "scenarios/quickstart.json", "--strategies", "spiral", "--out", "x"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--strategies: unknown strategy `spiral`"), "{}", stderr(&o));
    let shard = dir.join("shard");
    std::fs::create_dir(&shard).unwrap();
    let o = cascade_sim(&["merge", shard.to_str().unwrap(), "--out", dir.join("m").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("shard/sweep.json: cannot read"), "{}", stderr(&o));
    std::fs::write(shard.join("sweep.json"), r#"{ "scenario": "x.json", "parameters": [], "seeds": [1] }"#).unwrap();
    std::fs::write(shard.join("runs.csv"), "run,seed,makespan_s,ratio_to_bound\n7,1,1,1\n").unwrap();
    let o = cascade_sim(&["merge", shard.to_str().unwrap(), "--out", dir.join("m").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("shard/runs.csv: row 1: run number `7`"), "{}", stderr(&o));
    std::fs::write(shard.join("sweep.json"), r#"{ "scenario": "x.json", "parameters": [[]], "seeds": [1] }"#).unwrap();
    let o = cascade_sim(&["merge", shard.to_str().unwrap(), "--out", dir.join("m").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("shard/sweep.json: parameters[0]: expected an object"), "{}", stderr(&o));
    assert!(!dir.join("o").exists() && !dir.join("m").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn check_exits_2_for_an_invalid_scenario_and_1_for_a_drift() {
    let dir = temp_dir("check");
    std::fs::write(dir.join("bad.json"), "{").unwrap();
    let o = cascade_sim(&["check", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stdout));
    std::fs::remove_file(dir.join("bad.json")).unwrap();
    std::fs::write(dir.join("small.json"), SMALL).unwrap();
    std::fs::create_dir(dir.join("expected")).unwrap();
    let o = cascade_sim(&["check", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "missing expectation is a drift");
    assert!(cascade_sim(&["check", dir.to_str().unwrap(), "--bless"]).status.success());
    assert!(cascade_sim(&["check", dir.to_str().unwrap()]).status.success());
    std::fs::remove_dir_all(dir).unwrap();
}

// Output safety ---------------------------------------------------------------------------------

/// The entries of `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn the_default_output_directory_is_one_safe_component() {
    let dir = temp_dir("default-out");
    for (name, expected) in [("..", "scenario"), ("/tmp/evil", "_tmp_evil"), ("../../x", "_.._x")] {
        let mut doc = small();
        doc["name"] = name.into();
        std::fs::write(dir.join("s.json"), doc.to_string()).unwrap();
        let o = cascade_sim_in(&dir, &["run", "s.json"]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(dir.join("reports").join(expected).join("results.json").exists(), "{name}");
    }
    assert_eq!(entries(&dir), ["reports", "s.json"], "nothing written beside reports/");
    assert_eq!(entries(&dir.join("reports")), ["_.._x", "_tmp_evil", "scenario"]);
    assert!(!Path::new("/tmp/evil").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(unix)]
#[test]
fn symlinks_are_never_followed_for_outputs() {
    let dir = temp_dir("symlinks");
    let victim = dir.join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    std::fs::write(dir.join("s.json"), SMALL).unwrap();
    // The output directory itself is a link.
    let real = dir.join("real");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, dir.join("link")).unwrap();
    let o = cascade_sim_in(&dir, &["run", "s.json", "--out", "link"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("link: is a symbolic link"), "{}", stderr(&o));
    assert!(entries(&real).is_empty());
    // Links at an output name and at the old temporary name, in a directory of ours.
    let out = dir.join("out");
    assert!(cascade_sim_in(&dir, &["run", "s.json", "--out", "out"]).status.success());
    std::fs::remove_file(out.join("nodes.csv")).unwrap();
    std::os::unix::fs::symlink(&victim, out.join("nodes.csv")).unwrap();
    std::os::unix::fs::symlink(&victim, out.join(".results.json.tmp")).unwrap();
    let o = cascade_sim_in(&dir, &["run", "s.json", "--out", "out"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("`nodes.csv` is there and cascade-sim did not write it"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn stale_files_of_an_earlier_run_go_and_foreign_files_stay() {
    let dir = dir_with_small("stale");
    assert!(cascade_sim_in(&dir, &["run", "s.json", "--out", "out", "--trace"]).status.success());
    assert!(dir.join("out/trace.json").exists());
    std::fs::write(dir.join("out/notes.txt"), "mine").unwrap();
    let o = cascade_sim_in(&dir, &["run", "s.json", "--out", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!dir.join("out/trace.json").exists(), "the earlier run's trace.json is stale");
    assert_eq!(std::fs::read_to_string(dir.join("out/notes.txt")).unwrap(), "mine");
    let manifest = std::fs::read_to_string(dir.join("out").join(cascade_sim::report::output::MANIFEST)).unwrap();
    assert!(manifest.contains("results.json") && !manifest.contains("trace.json") && !manifest.contains("notes"));
    // compare into the same directory keeps the run's files.
    let o = cascade_sim_in(&dir, &["compare", "s.json", "--strategies", "star,cascade", "--out", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.join("out/results.json").exists() && dir.join("out/compare.csv").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_directory_with_foreign_files_and_no_manifest_is_refused() {
    let dir = dir_with_small("foreign");
    std::fs::write(dir.join("index.html"), "my homepage").unwrap();
    for out in [".", "./"] {
        let o = cascade_sim_in(&dir, &["run", "s.json", "--out", out]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("cascade-sim did not write (e.g. `s.json`)"), "{}", stderr(&o));
    }
    assert_eq!(entries(&dir), ["index.html", "s.json"]);
    assert_eq!(std::fs::read_to_string(dir.join("index.html")).unwrap(), "my homepage");
    // A directory holding only our names (an older output) is ours.
    let old = dir.join("old");
    std::fs::create_dir(&old).unwrap();
    std::fs::write(old.join("trace.json"), "{}").unwrap();
    std::fs::write(old.join("results.json"), "{}").unwrap();
    assert!(cascade_sim_in(&dir, &["run", "s.json", "--out", "old"]).status.success());
    assert!(!old.join("trace.json").exists() && old.join("completion.png").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_png_needs_no_temporary_file() {
    let dir = dir_with_small("png");
    let tmp = dir.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_cascade-sim"))
        .args(["run", "s.json", "--out", "out"])
        .current_dir(&dir)
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(&std::fs::read(dir.join("out/completion.png")).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    assert!(entries(&tmp).is_empty(), "nothing in $TMPDIR");
    assert_eq!(entries(&dir), ["out", "s.json", "tmp"], "no temporary left beside the output");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_output_path_that_is_a_file_is_refused_before_the_run() {
    let dir = dir_with_small("file-out");
    std::fs::write(dir.join("taken"), "x").unwrap();
    let o = cascade_sim_in(&dir, &["run", "s.json", "--out", "taken"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("taken: exists and is not a directory"), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "refused before running");
    std::fs::remove_dir_all(dir).unwrap();
}
