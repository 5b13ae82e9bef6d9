//! The direction of each behaviour the README shows (these assertions lived in the retired
//! `examples/behaviour_charts.rs`; the README's charts now come from `run`, `compare` and
//! `report`, see `scripts/regenerate-docs.sh`).

use cascade_sim::report::Results;
use serde_json::{json, Value};

fn load(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("scenarios/{name}.json")).unwrap()).unwrap()
}

/// Runs `doc` with every job's strategy replaced by `strategy` (when given).
fn run(mut doc: Value, strategy: Option<Value>) -> Results {
    if let Some(strategy) = strategy {
        for client in doc["clients"].as_array_mut().unwrap() {
            for job in client["jobs"].as_array_mut().unwrap() {
                job["strategy"] = strategy.clone();
            }
        }
    }
    cascade_sim::run(&cascade_sim::scenario::parse(&doc.to_string()).unwrap(), None).unwrap()
}

fn makespan(r: &Results) -> f64 {
    r.makespan_s.expect("every server completes")
}

#[test]
fn dynamic_switching_rescues_full_lists() {
    let doc = load("switching-on");
    let base = doc["clients"][0]["jobs"][0]["strategy"].clone();
    let with = |index_lists: bool, switching: bool| {
        let mut s = base.clone();
        s["index_lists"] = json!(index_lists);
        s["dynamic_switching"] = json!(switching);
        run(doc.clone(), Some(s))
    };
    let (full, switching) = (with(false, false), with(false, true));
    assert!(makespan(&switching) < makespan(&full), "{} !< {}", makespan(&switching), makespan(&full));
}

#[test]
fn dynamic_switching_works_for_a_file_of_few_large_chunks() {
    // switching-on.json (32 MB) as one chunk, then two: a server that is halfway through a chunk
    // from a slow source takes a faster one that holds it (and continues at the byte offset).
    // When a newcomer had to hold four items more, no offer was ever taken below four chunks:
    // the makespan with switching was the one without it (419.4 s and 244.4 s).
    let doc = load("switching-on");
    for chunks in [1, 2] {
        let with = |switching: bool| {
            let mut doc = doc.clone();
            doc["clients"][0]["jobs"][0]["content"]["chunks"] = json!(chunks);
            doc["clients"][0]["jobs"][0]["strategy"]["dynamic_switching"] = json!(switching);
            run(doc, None)
        };
        let (on, off) = (with(true), with(false));
        assert!(on.jobs[0].switches > 0, "{chunks} chunk(s): nobody switched");
        assert!(
            makespan(&on) < 0.5 * makespan(&off),
            "{chunks} chunk(s): {} with switching, {} without",
            makespan(&on),
            makespan(&off)
        );
    }
}

#[test]
fn the_rate_sort_order_keeps_slow_servers_at_the_leaves() {
    let (on, off) = (run(load("rate-sort-on"), None), run(load("rate-sort-off"), None));
    assert!(makespan(&on) < makespan(&off));
    let kept = |r: &Results| r.jobs[0].live_stream.as_ref().unwrap().servers_sustained;
    assert!(kept(&on) > kept(&off), "more servers keep up with the live stream");
}

#[test]
fn more_than_one_connection_beats_a_chain() {
    let doc = load("adaptive-fanout");
    let fanout = |f: u32| run(doc.clone(), Some(json!({ "kind": "cascade", "fanout": f, "first_nodes": 2 })));
    assert!(makespan(&fanout(2)) < makespan(&fanout(1)));
}

#[test]
fn the_cascade_beats_the_star() {
    let doc = load("quickstart");
    let star = run(doc.clone(), Some(json!({ "kind": "star" })));
    assert!(makespan(&run(doc, None)) < makespan(&star));
    // On 1,000 servers, as blessed for `check` (running both here would double the suite).
    let expected = |name: &str| {
        let e: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("scenarios/expected/{name}.json")).unwrap()).unwrap();
        e["makespan_s"].as_f64().unwrap()
    };
    assert!(expected("cascade-1000") < expected("star-1000"));
}

#[test]
fn resuming_never_resends_and_moves_no_more_than_restarting() {
    for name in ["fault-relay-crash", "fault-first-node", "fault-partition"] {
        let resume = run(load(name), None);
        let mut prior = load(name);
        prior["faults"]["resume"] = json!(false);
        let restart = run(prior, None);
        assert_eq!(resume.bytes.resent, 0, "{name}: resume never re-sends held data");
        assert!(restart.bytes.resent > 0, "{name}: restarting from zero re-sends");
        assert!(resume.bytes.received <= restart.bytes.received, "{name}");
        assert!(resume.jobs[0].accountability.as_ref().unwrap().consistent, "{name}: the account is true");
    }
}
