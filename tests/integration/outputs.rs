//! Outputs an analyst can trust: every bundled scenario's results validate against the
//! versioned results schema, every CSV parses with one type per column, every chart renders
//! with the labels it should have; the format reference and schemas are the generated ones;
//! the library's strategy defaults are the JSON defaults.

use cascade_sim::report::schema::validate;
use std::collections::BTreeMap;
use std::path::Path;

/// What a CSV column holds, inferred from its non-empty cells.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Integer,
    Float,
    Bool,
    Text,
}

fn kind_of(cell: &str) -> Kind {
    if cell.parse::<i64>().is_ok() || cell.parse::<u64>().is_ok() {
        Kind::Integer
    } else if cell.parse::<f64>().is_ok() {
        Kind::Float
    } else if cell == "true" || cell == "false" {
        Kind::Bool
    } else {
        Kind::Text
    }
}

/// Parses `bytes` as a CSV file with the `csv` crate and no cleaning: the header is `header`,
/// every row has every column, and each column holds one type (integers may sit in a float
/// column, as pandas reads them; empty cells are missing values). Returns the rows.
pub fn parse_csv(name: &str, bytes: &[u8], header: &[&str]) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_reader(bytes);
    assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), header, "{name}: header");
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap_or_else(|e| panic!("{name}: {e}"))).collect();
    for (c, column) in header.iter().enumerate() {
        let mut kinds: Vec<Kind> = rows.iter().map(|row| &row[c]).filter(|x| !x.is_empty()).map(kind_of).collect();
        kinds.sort_by_key(|k| *k as u8);
        kinds.dedup();
        let one_type = kinds.len() <= 1 || kinds == [Kind::Integer, Kind::Float];
        assert!(one_type, "{name}: column {column} mixes {kinds:?}");
        if column.ends_with("_s") || column.ends_with("_mbps") {
            assert!(!kinds.contains(&Kind::Text) && !kinds.contains(&Kind::Bool), "{name}: {column} is numeric");
        }
    }
    rows
}

fn file<'a>(files: &'a [(&'static str, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    files.iter().find(|(n, _)| *n == name).map(|(_, b)| b.as_slice())
}

fn text<'a>(files: &'a [(&'static str, Vec<u8>)], name: &str) -> &'a str {
    std::str::from_utf8(file(files, name).unwrap_or_else(|| panic!("{name} written"))).unwrap()
}

/// Every stream's record agrees with itself and with what its receiver counted: something
/// arrived exactly when arrival times are set, the first no later than the last and no earlier
/// than the opening; and the bytes over the streams into a node server are at least the bytes
/// it received (more by what broken streams and a swarm's packets of unfinished items carried).
fn stream_records_add_up(name: &str, run: &cascade_sim::Run) {
    let topology = run.engine.topology();
    let mut over_streams: BTreeMap<String, u64> = BTreeMap::new();
    for s in run.engine.stream_records() {
        // (A swarm's connection can carry packets of items another connection completes: it
        // has arrivals without whole items.)
        assert!(s.chunks == 0 || s.first_arrival.is_some(), "{name}: {s:?}");
        assert_eq!(s.first_arrival.is_some(), s.last_arrival.is_some(), "{name}: {s:?}");
        if s.broken_at.is_none() {
            // (A broken one also counts the part of the item in progress that left the source.)
            assert_eq!(s.first_arrival.is_some(), s.bytes > 0 || s.chunks > 0, "{name}: {s:?}");
        }
        if let (Some(first), Some(last)) = (s.first_arrival, s.last_arrival) {
            assert!(s.opened_at <= first && first <= last, "{name}: {s:?}");
        }
        *over_streams.entry(topology.host(s.dst).name.clone()).or_default() += s.bytes;
    }
    let mut received: BTreeMap<&str, u64> = BTreeMap::new();
    for n in &run.results.nodes {
        *received.entry(n.node.as_str()).or_default() += n.bytes_received;
    }
    for (node, bytes) in received {
        let streamed = over_streams.get(node).copied().unwrap_or_default();
        assert!(streamed >= bytes, "{name}: {node} received {bytes} bytes, its streams carried {streamed}");
    }
}

/// Runs one bundled scenario and checks every output it writes. The reference scenarios
/// (`scenarios/references/`, minutes in a debug build) run with their horizon cut to 5 s: their
/// outputs then show jobs open at the horizon, which must validate all the same.
fn check_outputs(path: &Path) {
    let name = path.display().to_string();
    let mut scenario = cascade_sim::scenario::load(path).unwrap();
    if path.components().any(|c| c.as_os_str() == "references") {
        scenario.horizon_s = scenario.horizon_s.min(5.0);
    }
    let run = cascade_sim::simulate(&scenario, &cascade_sim::RunOptions::default()).unwrap();
    let files = cascade_sim::report::RunOutputs::render(&run, false, false).unwrap().files;
    let results = &run.results;

    // results.json: the documented, versioned schema.
    let json: serde_json::Value = serde_json::from_slice(file(&files, "results.json").unwrap()).unwrap();
    let errors = validate(&json, &cascade_sim::report::results::results_schema());
    assert!(errors.is_empty(), "{name}: results.json departs from its schema: {errors:#?}");
    assert_eq!(json["schema_version"], cascade_sim::report::results::RESULTS_SCHEMA_VERSION);

    // Denied, unanswered and never-requested jobs are labelled and count in no total.
    let ran: usize = results.jobs.iter().filter(|j| j.id.is_some()).map(|j| j.servers).sum();
    assert_eq!(results.deliveries, ran, "{name}");
    // A server that left the network unfinished (churn) counts apart from `unfinished`.
    assert_eq!(results.completion_s.count + results.unfinished + results.left_unfinished, ran, "{name}");
    for n in &results.nodes {
        let job = results.jobs.iter().find(|j| j.name == n.job).unwrap();
        let expected = match (job.id, n.completion_s) {
            (None, _) => job.outcome.as_str(),
            (Some(_), Some(_)) => "complete",
            (Some(_), None) => "incomplete",
        };
        assert_eq!(n.delivery, expected, "{name}: {} of {}", n.node, n.job);
        // One time frame: a job's moments count from its request, so none is after the
        // makespan's content receipt and before the request.
        if let (Some(c), Some(m)) = (n.completion_s, job.makespan_s) {
            assert!(c >= 0.0 && c <= m + 1e-9, "{name}: {} completes at {c} after the makespan {m}", n.node);
        }
    }
    for j in results.jobs.iter().filter(|j| j.makespan_s.is_some()) {
        if let Some(p) = j.progress.iter().find(|p| p.holders as usize == j.servers) {
            assert!(
                p.t_s >= j.makespan_s.unwrap() - 1e-9,
                "{name}: the client hears of the last holder after it holds"
            );
        }
    }
    assert!(results.faults.iter().all(|f| !f.fault.starts_with("recover") && !f.fault.ends_with("heals")), "{name}");

    // The CSV files beside the charts.
    let nodes = parse_csv(
        &format!("{name} nodes.csv"),
        file(&files, "nodes.csv").unwrap(),
        &cascade_sim::report::csv::NODE_COLUMNS,
    );
    assert_eq!(nodes.len(), results.nodes.len());
    let sent: u64 = nodes.iter().map(|r| r[7].parse::<u64>().unwrap()).sum();
    assert_eq!(sent, results.bytes.sent, "{name}: bytes_sent column");
    let streams = parse_csv(
        &format!("{name} streams.csv"),
        file(&files, "streams.csv").unwrap(),
        &cascade_sim::report::csv::STREAM_COLUMNS,
    );
    assert_eq!(streams.len(), run.engine.stream_records().len());
    stream_records_add_up(&name, &run);
    parse_csv(
        &format!("{name} throughput.csv"),
        file(&files, "throughput.csv").unwrap(),
        &cascade_sim::report::csv::THROUGHPUT_COLUMNS,
    );
    let progress = parse_csv(
        &format!("{name} progress.csv"),
        file(&files, "progress.csv").unwrap(),
        &cascade_sim::report::csv::PROGRESS_COLUMNS,
    );
    assert_eq!(progress.len(), results.jobs.iter().map(|j| j.progress.len()).sum::<usize>());
    let live = parse_csv(
        &format!("{name} live.csv"),
        file(&files, "live.csv").unwrap(),
        &cascade_sim::report::csv::LIVE_COLUMNS,
    );
    assert_eq!(live.is_empty(), !results.jobs.iter().any(|j| j.live && j.id.is_some()), "{name}: live.csv");

    // Every chart renders with the labels it should have.
    let completion = text(&files, "completion.svg");
    assert!(completion.contains("seconds since the job&apos;s request"), "{name}");
    for j in results.jobs.iter().filter(|j| j.id.is_some()) {
        assert!(completion.contains(&j.name), "{name}: completion.svg names {}", j.name);
    }
    for j in results.jobs.iter().filter(|j| j.id.is_none()) {
        assert!(completion.contains("(not run)"), "{name}: completion.svg says {} did not run", j.name);
    }
    if results.faults_total > 0 {
        assert!(
            completion.contains("faults (red lines, run clock)") || completion.contains("outside the axis"),
            "{name}"
        );
    }
    let timeline = text(&files, "timeline.svg");
    assert!(timeline.contains("run clock (s)") && timeline.contains("colour: its source"), "{name}");
    let broken = run.engine.stream_records().iter().any(|s| s.broken_at.is_some());
    assert_eq!(timeline.contains("stream broken"), broken, "{name}: the broken-stream key only when one broke");
    let throughput = text(&files, "throughput.svg");
    assert!(throughput.contains("sum of node servers&apos; uploads"), "{name}");
    let live_jobs = results.jobs.iter().filter(|j| j.live && j.id.is_some()).count();
    match file(&files, "lag.svg") {
        Some(lag) => {
            let lag = std::str::from_utf8(lag).unwrap();
            assert!(
                live_jobs > 0 && lag.contains("servers kept up") && lag.contains("lag behind the client (s)"),
                "{name}"
            );
        }
        None => assert_eq!(live_jobs, 0, "{name}: a live job gets a lag chart"),
    }
    if results.jobs.iter().any(|j| !j.progress.is_empty()) {
        assert!(text(&files, "progress.svg").contains("content held"), "{name}");
    }
    let html = text(&files, "index.html");
    assert!(html.contains("deliveries") && html.contains("<svg"), "{name}");
    if live_jobs > 0 {
        assert!(
            html.contains("servers that kept up") && html.contains("lag p99 (s)"),
            "{name}: live figures in index.html"
        );
    }
    assert_eq!(html.matches("<svg").count(), files.iter().filter(|(n, _)| n.ends_with(".svg")).count(), "{name}");
    // The PNG twin of the completion chart.
    assert_eq!(&file(&files, "completion.png").unwrap()[..4], b"\x89PNG");
}

#[test]
fn every_output_of_every_bundled_scenario_is_what_it_says() {
    let files = cascade_sim::analysis::check::scenario_files(Path::new("scenarios")).unwrap();
    assert!(files.len() >= 10);
    // Two threads: the bundled scenarios take a few seconds each in a debug build.
    let (a, b): (Vec<_>, Vec<_>) = files.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    std::thread::scope(|s| {
        s.spawn(|| a.iter().for_each(|(_, p)| check_outputs(p)));
        b.iter().for_each(|(_, p)| check_outputs(p));
    });
}

#[test]
fn time_frames_by_hand() {
    // One server, 1 MB at 8 Mbit/s, the job requested at 2 s: the content leaves the client in
    // 1 s and reaches the server 1 s later (every host 8 Mbit/s, no latency), so it holds the
    // content at 4 s on the run clock, 2 s after the request.
    let r = crate::util::run_json(
        r#"{ "name": "frames", "network": {
            "base_server": { "name": "bs", "upload_mbps": 8, "download_mbps": 8 },
            "hosts": [ { "name": "n1", "upload_mbps": 8, "download_mbps": 8 } ] },
          "clients": [ { "name": "c", "upload_mbps": 8, "download_mbps": 8,
            "jobs": [ { "name": "j", "at_s": 2, "content": { "kind": "file", "size_mb": 1, "chunks": 1 },
                        "strategy": { "kind": "star" } } ] } ] }"#,
    );
    let j = &r.jobs[0];
    assert_eq!((j.requested_at_s, j.makespan_s, j.completion_s.max), (Some(2.0), Some(2.0), Some(2.0)));
    assert_eq!(r.nodes[0].completion_s, Some(2.0), "nodes[] count from the job's request too");
    assert_eq!(r.makespan_s, Some(2.0));
    assert!(r.end_at_s >= 4.0, "the run clock");
    assert!(j.closed_s.unwrap() >= 2.0 && j.closed_s.unwrap() < r.end_at_s - 2.0 + 1e-9);
    assert_eq!((r.bytes.received, r.bytes.sent), (1_000_000, 0), "the base server is no node: it sent, no node did");
}

#[test]
fn the_library_strategy_defaults_are_the_json_defaults() {
    use cascade_sim::protocol::job::StrategyConfig;
    let doc = |strategy: &str| {
        format!(
            r#"{{ "name": "d", "network": {{ "base_server": {{ "name": "bs", "upload_mbps": 8, "download_mbps": 8 }},
                "hosts": [ {{ "name": "n1", "upload_mbps": 8, "download_mbps": 8 }} ] }},
              "clients": [ {{ "name": "c", "upload_mbps": 8, "download_mbps": 8,
                "jobs": [ {{ "name": "j", "content": {{ "kind": "file", "size_mb": 1, "chunks": 1 }}, "strategy": {strategy} }} ] }} ] }}"#
        )
    };
    let built = |strategy: &str| {
        let s = cascade_sim::scenario::parse(&doc(strategy)).unwrap();
        s.build(None).unwrap().clients[0].jobs[0].request.strategy
    };
    assert_eq!(built(r#"{ "kind": "cascade" }"#), StrategyConfig::cascade_auto());
    assert_eq!(built(r#"{ "kind": "cascade", "fanout": 3, "first_nodes": 2 }"#), StrategyConfig::cascade(3, 2));
    let c = StrategyConfig::cascade(3, 2);
    assert!(c.index_lists && c.rate_sort && c.dynamic_switching && !c.adaptive_fanout && c.switch_margin == 0.2);
    assert!(c.max_switches == 3 && !c.move_on && !c.auto_fanout && !c.auto_first_nodes);
    assert_eq!(built(r#"{ "kind": "chain" }"#), StrategyConfig::chain());
    assert_eq!(built(r#"{ "kind": "tree", "arity": 3 }"#), StrategyConfig::tree(3));
}

#[test]
fn the_format_reference_and_the_schemas_are_the_generated_ones() {
    let shipped = std::fs::read_to_string("docs/scenario-format.md").unwrap();
    assert!(
        shipped == cascade_sim::scenario::reference::markdown(),
        "run `cargo run -- schema --markdown > docs/scenario-format.md`"
    );
    for field in [
        "`leave_at_s`",
        "`end_job_at_s`",
        "`playout_buffer_s`",
        "`rate_sort`",
        "`control_plane`",
        "`duty`",
        "`queries`",
    ] {
        assert!(shipped.contains(field), "the reference documents {field}");
    }
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("docs/results.schema.json").unwrap()).unwrap();
    assert_eq!(
        results,
        cascade_sim::report::results::results_schema(),
        "run `cargo run -- schema --results > docs/results.schema.json`"
    );
}

#[test]
fn schema_write_saves_every_schema_for_editors() {
    let dir = std::env::temp_dir().join(format!("cascade-sim-schemas-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o = crate::cli::cascade_sim(&["schema", "--write", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let read =
        |n: &str| serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(dir.join(n)).unwrap()).unwrap();
    assert_eq!(read("schema.json"), cascade_sim::scenario::json_schema());
    assert_eq!(read("results.schema.json"), cascade_sim::report::results::results_schema());
    assert_eq!(read("sweep.schema.json"), cascade_sim::analysis::sweep::json_schema());
    // A scenario outside scenarios/ names the written schema by its path.
    let scenario = std::fs::read_to_string("scenarios/quickstart.json")
        .unwrap()
        .replace("\"schema.json\"", &format!("\"{}\"", dir.join("schema.json").display()));
    std::fs::write(dir.join("mine.json"), scenario).unwrap();
    assert!(crate::cli::cascade_sim(&["validate", dir.join("mine.json").to_str().unwrap()]).status.success());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_help_text_has_an_example_and_sweep_describes_its_file() {
    for command in ["run", "validate", "compare", "sweep", "merge", "check", "schema", "report", "bench"] {
        let o = crate::cli::cascade_sim(&[command, "--help"]);
        let help = String::from_utf8_lossy(&o.stdout);
        assert!(help.contains("Example"), "`{command} --help` has no example:\n{help}");
        assert!(help.contains(&format!("cascade-sim {command}")), "`{command} --help`");
    }
    let help = String::from_utf8_lossy(&crate::cli::cascade_sim(&["sweep", "--help"]).stdout).into_owned();
    for words in ["\"parameters\"", "\"seeds\"", "\"metrics\"", "jobs[0].closed_s", "summary.csv", "confidence"] {
        assert!(help.contains(words), "sweep --help describes {words}");
    }
}

/// Extracts the fenced blocks of `lang` from Markdown text.
fn fenced(markdown: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        match &mut current {
            None if trimmed == format!("```{lang}") => current = Some(String::new()),
            Some(block) if trimmed == "```" => {
                out.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    out
}

#[test]
fn every_json_block_of_the_readme_is_valid_and_whole_scenarios_run() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    assert!(!readme.contains("```jsonc"), "README examples are JSON, not JSONC");
    let blocks = fenced(&readme, "json");
    assert!(blocks.len() >= 3);
    let mut scenarios = 0;
    for block in &blocks {
        // A whole document, or a `"key": value` fragment.
        let doc: serde_json::Value = serde_json::from_str(block)
            .or_else(|_| serde_json::from_str(&format!("{{{block}}}")))
            .unwrap_or_else(|e| panic!("README block is not JSON ({e}):\n{block}"));
        let object = doc.as_object().expect("an object");
        if object.contains_key("network") {
            let mut scenario = cascade_sim::scenario::parse(block).unwrap_or_else(|e| panic!("{e}\n{block}"));
            scenario.horizon_s = scenario.horizon_s.min(600.0);
            let r = cascade_sim::run(&scenario, None).unwrap();
            assert!(r.jobs.iter().all(|j| j.outcome != "unanswered"), "{}", scenario.name);
            scenarios += 1;
        } else if object.contains_key("parameters") {
            cascade_sim::scenario::parse::parse_as::<cascade_sim::analysis::sweep::SweepSpec>(
                block,
                &cascade_sim::analysis::sweep::json_schema(),
            )
            .unwrap_or_else(|e| panic!("{e}\n{block}"));
        } else {
            // A fragment: placed where it belongs in a small scenario, which must stay valid.
            let mut base: serde_json::Value = serde_json::from_str(crate::cli::GOOD).unwrap();
            for (key, value) in object {
                match key.as_str() {
                    "control_plane" => base["control_plane"] = value.clone(),
                    "duty" => base["network"]["base_server"]["duty"] = value.clone(),
                    "strategy" => base["clients"][0]["jobs"][0]["strategy"] = value.clone(),
                    "content" => base["clients"][0]["jobs"][0]["content"] = value.clone(),
                    "faults" => base["faults"] = value.clone(),
                    other => panic!("README fragment with `{other}`: place it in this test"),
                }
            }
            let scenario = cascade_sim::scenario::parse(&base.to_string()).unwrap_or_else(|e| panic!("{e}\n{block}"));
            scenario.build(None).unwrap_or_else(|e| panic!("{e}\n{block}"));
        }
    }
    assert!(scenarios >= 1, "the README has a whole scenario");
}

#[test]
fn compare_with_seeds_reports_intervals() {
    let dir = std::env::temp_dir().join(format!("cascade-sim-seeds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("small.json"), crate::analysis::SMALL).unwrap();
    let out = dir.join("out");
    let o = crate::cli::cascade_sim(&[
        "compare",
        dir.join("small.json").to_str().unwrap(),
        "--strategies",
        "tree,cascade",
        "--seeds",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("4 seeds per strategy"));
    let summary = std::fs::read(out.join("compare.csv")).unwrap();
    let mut r = csv::Reader::from_reader(summary.as_slice());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let runs = std::fs::read(out.join("compare_runs.csv")).unwrap();
    let runs = parse_csv(
        "compare_runs.csv",
        &runs,
        &[
            "strategy",
            "seed",
            "makespan_s",
            "lower_bound_s",
            "ratio_to_bound",
            "p50_s",
            "p99_s",
            "unfinished",
            "events",
            "trace_hash",
            "ratio_to_optimum",
            "ratio_to_optimal_ref",
        ],
    );
    assert_eq!(runs.len(), 8);
    for row in r.records().map(Result::unwrap) {
        let values: Vec<f64> = runs.iter().filter(|x| x[0] == row[0]).map(|x| x[2].parse().unwrap()).collect();
        assert_eq!(values.len(), 4);
        let s = cascade_sim::analysis::stats::Summary::of(&values);
        let mean: f64 = row[col("makespan_s_mean")].parse().unwrap();
        assert!((mean - values.iter().sum::<f64>() / 4.0).abs() < 1e-9);
        assert_eq!(row[col("makespan_s_n")].parse::<usize>().unwrap(), 4);
        let (lo, hi): (f64, f64) =
            (row[col("makespan_s_ci95_low")].parse().unwrap(), row[col("makespan_s_ci95_high")].parse().unwrap());
        assert!((hi - lo - 2.0 * s.half_width.unwrap()).abs() < 1e-9 && lo <= mean && mean <= hi);
    }
    let bars = std::fs::read_to_string(out.join("compare_makespan.svg")).unwrap();
    for strategy in ["tree", "cascade"] {
        // Its axis label, and its line in the side panel.
        assert!(bars.matches(strategy).count() >= 2, "every bar labelled: {strategy}");
    }
    assert!(bars.contains("95 % confidence interval"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sweep_metrics_name_any_results_field_and_are_checked_first() {
    let dir = std::env::temp_dir().join(format!("cascade-sim-metrics-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("small.json"), crate::analysis::SMALL).unwrap();
    let sweep = dir.join("sweep.json");
    let write = |metrics: &str| {
        std::fs::write(
            &sweep,
            format!(
                r#"{{ "scenario": "small.json", "parameters": [ {{ "path": "clients[0].jobs[0].strategy.fanout", "values": [1, 3] }} ],
                     "seeds": [1, 2, 3], "metrics": {metrics} }}"#
            ),
        )
        .unwrap()
    };
    write(r#"["jobs[0].closed_s", "jobs[0].duty.queries", "bytes.resent", "p99_s"]"#);
    let out = dir.join("out");
    let o = crate::cli::cascade_sim(&["sweep", sweep.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let runs = std::fs::read(out.join("runs.csv")).unwrap();
    let rows = parse_csv(
        "runs.csv",
        &runs,
        &[
            "run",
            "clients[0].jobs[0].strategy.fanout",
            "seed",
            "jobs[0].closed_s",
            "jobs[0].duty.queries",
            "bytes.resent",
            "p99_s",
        ],
    );
    assert!(rows.iter().all(|r| r[3].parse::<f64>().unwrap() > 0.0 && &r[5] == "0"));
    let summary = std::fs::read(out.join("summary.csv")).unwrap();
    let mut header = vec!["clients[0].jobs[0].strategy.fanout".to_string(), "runs".to_string()];
    for m in ["jobs[0].closed_s", "jobs[0].duty.queries", "bytes.resent", "p99_s"] {
        header.extend(cascade_sim::analysis::stats::columns(m));
    }
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    assert_eq!(parse_csv("summary.csv", &summary, &header).len(), 2);
    for (metrics, expected) in [
        (r#"["jobs[0].nope"]"#, "no `jobs[0].nope`"),
        (r#"["jobs[3].closed_s"]"#, "the scenario has 1 job(s)"),
        (r#"["jobs[0].name"]"#, "not a number or a boolean"),
    ] {
        write(metrics);
        let bad =
            crate::cli::cascade_sim(&["sweep", sweep.to_str().unwrap(), "--out", dir.join("bad").to_str().unwrap()]);
        assert_eq!(bad.status.code(), Some(2));
        let err = String::from_utf8_lossy(&bad.stderr);
        assert!(err.contains("metrics[0]") && err.contains(expected), "{err}");
        assert!(!dir.join("bad").exists());
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn report_puts_runs_and_a_compare_side_by_side_in_one_page() {
    let dir = std::env::temp_dir().join(format!("cascade-sim-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b, c, out) = (dir.join("a"), dir.join("b"), dir.join("c"), dir.join("report"));
    let ok = |args: &[&str]| {
        let o = crate::cli::cascade_sim(args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o
    };
    ok(&["run", "scenarios/fault-first-node.json", "--out", a.to_str().unwrap()]);
    ok(&["run", "scenarios/fault-first-node.json", "--set", "faults.resume=false", "--out", b.to_str().unwrap()]);
    std::fs::write(dir.join("small.json"), crate::analysis::SMALL).unwrap();
    ok(&[
        "compare",
        dir.join("small.json").to_str().unwrap(),
        "--strategies",
        "star,cascade",
        "--out",
        c.to_str().unwrap(),
    ]);
    let o = ok(&[
        "report",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        c.to_str().unwrap(),
        "--labels",
        "resume,restart,strategies",
        "--metrics",
        "jobs[0].closed_s,bytes.resent",
        "--out",
        out.to_str().unwrap(),
    ]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("| run | jobs[0].closed_s | bytes.resent |") && table.contains("| resume |"), "{table}");
    let rows: BTreeMap<&str, Vec<&str>> = table
        .lines()
        .filter(|l| l.starts_with("| re"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (cells[0], cells[1..].to_vec())
        })
        .collect();
    assert_eq!(rows["resume"][1], "0", "resume re-sends nothing");
    assert_ne!(rows["restart"][1], "0", "restarting from zero re-sends");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("resume") && html.contains("restart") && html.contains("strategies (compare)"));
    assert!(html.matches("<svg").count() >= 8, "charts inlined");
    for external in ["<script", "src=\"http", "href=\"http", "<link", "<img"] {
        assert!(!html.contains(external), "self-contained: found {external}");
    }
    let old = crate::cli::cascade_sim(&["report", "scenarios", "--out", dir.join("x").to_str().unwrap()]);
    assert_eq!(old.status.code(), Some(2), "a directory without outputs is bad input");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn past_the_limit_results_json_leaves_out_the_per_server_lists_and_nodes_csv_streams_every_row() {
    // The default limit (`PER_SERVER_LIST_LIMIT`, 10,000) is lowered to keep the test fast.
    let (limit, servers) = (40, 41);
    let json = format!(
        r#"{{ "name": "big", "seed": 1, "network": {{
            "base_server": {{ "name": "bs", "upload_mbps": 1000, "download_mbps": 1000 }},
            "groups": [ {{ "name": "n", "count": {servers}, "upload_mbps": 100, "download_mbps": 100 }} ] }},
          "clients": [ {{ "name": "c", "upload_mbps": 1000, "download_mbps": 1000,
            "jobs": [ {{ "name": "f", "content": {{ "kind": "file", "size_mb": 0.1, "chunks": 1 }},
                        "strategy": {{ "kind": "cascade", "fanout": 8, "first_nodes": 8 }} }} ] }} ] }}"#
    );
    let scenario = cascade_sim::scenario::parse(&json).unwrap();
    let options = cascade_sim::RunOptions { per_server_list_limit: Some(limit), ..cascade_sim::RunOptions::default() };
    let run = cascade_sim::simulate(&scenario, &options).unwrap();
    let listed = cascade_sim::simulate(&scenario, &cascade_sim::RunOptions::default()).unwrap();
    assert!(!listed.results.per_server_lists_omitted && listed.results.nodes.len() == servers);
    let results = &run.results;
    assert!(results.per_server_lists_omitted);
    assert!(results.nodes.is_empty());
    let job = &results.jobs[0];
    let account = job.accountability.as_ref().unwrap();
    assert!(account.servers.is_empty());
    assert_eq!(account.verdicts.completed, servers, "the summaries still count every server");
    assert_eq!(results.completion_s.count, servers);
    assert_eq!(results.bytes.received, servers as u64 * 100_000);

    let outputs = cascade_sim::report::RunOutputs::render(&run, false, false).unwrap();
    assert!(outputs.streams_nodes_csv && file(&outputs.files, "nodes.csv").is_none());
    let json: serde_json::Value = serde_json::from_slice(file(&outputs.files, "results.json").unwrap()).unwrap();
    let errors = validate(&json, &cascade_sim::report::results::results_schema());
    assert!(errors.is_empty(), "results.json departs from its schema: {errors:#?}");
    assert_eq!(json["per_server_lists_omitted"], true);
    let svg = std::str::from_utf8(file(&outputs.files, "completion.svg").unwrap()).unwrap();
    assert!(svg.contains(&format!("{servers} servers")), "the chart still has every server");
    // Progress past the limit: some of the listed run's reports, in order, the first and the
    // last among them (41 servers: each one reached is a new whole percent, so here all).
    let (thinned, full) = (&job.progress, &listed.results.jobs[0].progress);
    assert!(!thinned.is_empty() && thinned.first() == full.first() && thinned.last() == full.last());
    let mut rest = full.iter();
    assert!(thinned.iter().all(|p| rest.any(|q| q == p)), "a subsequence of the reports");

    let dir = std::env::temp_dir().join(format!("cascade-sim-big-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    outputs.write(&dir, &run).unwrap();
    let csv = std::fs::read_to_string(dir.join("nodes.csv")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = rows.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, cascade_sim::report::csv::NODE_COLUMNS);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut names = std::collections::BTreeSet::new();
    let mut times = Vec::new();
    for row in rows.records() {
        let row = row.unwrap();
        names.insert(row[col("node")].to_string());
        assert_eq!(&row[col("delivery")], "complete");
        assert_eq!(&row[col("account")], "completed");
        times.push(row[col("completion_s")].parse::<f64>().unwrap());
    }
    assert_eq!(names.len(), servers, "one row per server, each once");
    assert_eq!(times, job.completion_times_s, "the rows' completion times are the job's, in server order");
    // The same rows as the listed run's nodes.csv, byte for byte.
    let listed_outputs = cascade_sim::report::RunOutputs::render(&listed, false, false).unwrap();
    assert_eq!(csv.as_bytes(), file(&listed_outputs.files, "nodes.csv").unwrap());
}
