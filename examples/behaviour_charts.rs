//! Regenerates the README's behaviour charts (docs/img/*.svg) and prints the figures quoted
//! there: each patent behaviour switched on and off on a bundled scenario, and every strategy on
//! the quickstart and on a 1,000-node homogeneous scenario.
//!
//! `cargo run --release --example behaviour_charts` (about half a minute: the 1,000-node swarm
//! dominates). It asserts the direction of each effect, so a regression fails loudly.

use cascade_sim::report::overlay::{completion_overlay_svg, progress_svg};
use cascade_sim::report::Results;
use serde_json::{json, Value};

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("scenarios/{name}.json")).expect("bundled scenario");
    serde_json::from_str(&text).expect("valid JSON")
}

/// Runs `scenario` with every job's strategy replaced by `strategy` (when given).
fn run(mut scenario: Value, strategy: Option<Value>) -> Results {
    if let Some(strategy) = strategy {
        for client in scenario["clients"].as_array_mut().expect("clients") {
            for job in client["jobs"].as_array_mut().expect("jobs") {
                job["strategy"] = strategy.clone();
            }
        }
    }
    let parsed = cascade_sim::scenario::parse(&scenario.to_string()).expect("scenario parses");
    cascade_sim::run(&parsed, None).expect("scenario runs")
}

fn save(file: &str, svg: String) {
    std::fs::write(format!("docs/img/{file}"), svg).expect("write chart");
    println!("wrote docs/img/{file}");
}

fn row(label: &str, r: &Results) {
    println!(
        "| {label} | {:.2} | {:.2} | {:.2} |",
        r.makespan_s.unwrap_or(f64::NAN),
        r.lower_bound_s.unwrap_or(f64::NAN),
        r.ratio_to_bound.unwrap_or(f64::NAN)
    );
}

fn compare(title: &str, file: &str, runs: Vec<(String, Results)>) -> Vec<(String, Results)> {
    println!("\n{title}\n| variant | makespan (s) | bound (s) | ratio |\n|---|---|---|---|");
    for (label, r) in &runs {
        row(label, r);
    }
    let refs: Vec<(String, &Results)> = runs.iter().map(|(l, r)| (l.clone(), r)).collect();
    save(file, completion_overlay_svg(title, &refs).expect("chart renders"));
    runs
}

fn makespan(runs: &[(String, Results)], i: usize) -> f64 {
    runs[i].1.makespan_s.expect("finished")
}

fn main() {
    std::fs::create_dir_all("docs/img").expect("docs/img");

    let s = load("switching-on");
    let base = s["clients"][0]["jobs"][0]["strategy"].clone();
    let with = |index_lists: bool, switching: bool| {
        let mut st = base.clone();
        st["index_lists"] = json!(index_lists);
        st["dynamic_switching"] = json!(switching);
        st
    };
    let runs = compare(
        "Command propagation and dynamic switching (60 servers, uploads 4-100 Mbit/s)",
        "switching.svg",
        vec![
            ("index lists".into(), run(s.clone(), Some(with(true, false)))),
            ("full lists, no switching".into(), run(s.clone(), Some(with(false, false)))),
            ("full lists + dynamic switching".into(), run(s.clone(), Some(with(false, true)))),
        ],
    );
    assert!(makespan(&runs, 2) < makespan(&runs, 1), "switching helps full-list distribution");

    let runs = compare(
        "Data-rate sort order (4 Mbit/s live stream, 200 servers, 40 on DSL)",
        "rate-sort.svg",
        vec![
            ("rate sort on".into(), run(load("rate-sort-on"), None)),
            ("rate sort off".into(), run(load("rate-sort-off"), None)),
        ],
    );
    assert!(makespan(&runs, 0) < makespan(&runs, 1), "rate sort helps");

    let s = load("adaptive-fanout");
    let fanout = |f: u32, adaptive: bool| json!({ "kind": "cascade", "fanout": f, "first_nodes": 2, "adaptive_fanout": adaptive });
    let runs = compare(
        "Multiple node handling: fanout (300 servers, 48 MB file)",
        "fanout.svg",
        vec![
            ("fanout 1".into(), run(s.clone(), Some(fanout(1, false)))),
            ("fanout 2".into(), run(s.clone(), Some(fanout(2, false)))),
            ("fanout 6".into(), run(s.clone(), Some(fanout(6, false)))),
            ("adaptive, up to 6".into(), run(s.clone(), Some(fanout(6, true)))),
        ],
    );
    assert!(makespan(&runs, 1) < makespan(&runs, 0), "more than one connection helps");

    let strategies = [
        ("star", json!({ "kind": "star" })),
        ("chain", json!({ "kind": "chain" })),
        ("tree (binary)", json!({ "kind": "tree", "arity": 2 })),
        ("cascade (fanout 3)", json!({ "kind": "cascade", "fanout": 3, "first_nodes": 3 })),
        ("swarm", json!({ "kind": "swarm" })),
    ];
    for (name, title, file) in [
        ("quickstart", "Strategies on the quickstart (live stream, 200 mixed servers)", "strategies-quickstart.svg"),
        ("cascade-1000", "Strategies on 1,000 homogeneous servers (64 MB file)", "strategies-1000.svg"),
    ] {
        let s = load(name);
        let runs = compare(
            title,
            file,
            strategies.iter().map(|(l, st)| (l.to_string(), run(s.clone(), Some(st.clone())))).collect(),
        );
        assert!(makespan(&runs, 3) < makespan(&runs, 0), "the cascade beats the star on {name}");
    }

    println!(
        "\nFaults: resume from the offset (the patent) against restart from zero (the prior art, [0005])\n\
         | scenario | closed (s) resume / restart | bytes received resume / restart | bytes re-sent resume / restart | servers repaired / failed |\n|---|---|---|---|---|"
    );
    for name in [
        "fault-relay-crash",
        "fault-first-node",
        "fault-partition",
        "fault-dead-server",
        "fault-flapping-link",
        "fault-random",
    ] {
        let resume = run(load(name), None);
        let mut prior = load(name);
        prior["faults"]["resume"] = json!(false);
        let restart = run(prior, None);
        let received = |r: &Results| r.nodes.iter().map(|n| n.bytes_received).sum::<u64>();
        let resent = |r: &Results| r.nodes.iter().map(|n| n.bytes_resent).sum::<u64>();
        let acc = resume.jobs[0].accountability.as_ref().expect("job created");
        let count = |state: &str| acc.servers.iter().filter(|s| s.state == state).count();
        println!(
            "| {name} | {:.1} / {:.1} | {:.1} MB / {:.1} MB | {:.1} MB / {:.1} MB | {} / {} |",
            resume.jobs[0].closed_s.unwrap_or(f64::NAN),
            restart.jobs[0].closed_s.unwrap_or(f64::NAN),
            received(&resume) as f64 / 1e6,
            received(&restart) as f64 / 1e6,
            resent(&resume) as f64 / 1e6,
            resent(&restart) as f64 / 1e6,
            count("repaired_then_completed"),
            count("failed"),
        );
        assert_eq!(resent(&resume), 0, "{name}: resume never re-sends held data");
        assert!(received(&resume) <= received(&restart), "{name}: resume moves no more bytes than restarting");
        assert!(acc.consistent, "{name}: the base server's account is true");
        save(&format!("{name}.svg"), cascade_sim::report::chart::completion_svg(&resume).expect("chart renders"));
    }

    let commands = run(load("commands"), None);
    save("commands.svg", progress_svg(&commands, "catalogue").expect("chart renders"));
    let multi = run(load("multi-client"), None);
    save("multi-client.svg", cascade_sim::report::chart::completion_svg(&multi).expect("chart renders"));
    println!("\nmulti-client jobs:");
    for j in &multi.jobs {
        println!(
            "  {}: {:?} makespan {:?} closed {:?} denied {:?}",
            j.name, j.strategy, j.makespan_s, j.closed_s, j.denied
        );
    }
}
