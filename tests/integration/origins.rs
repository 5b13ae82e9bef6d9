//! Several origins, pre-seeded content, churn and the workload bound (issue 9), on small cases
//! worked out by hand. Every host uploads and downloads 100 Mbit/s = 12.5 MB/s unless said
//! otherwise, latency is zero, files are 10 MB in 1 MB chunks: a stream carries a chunk in
//! 0.08 s and a whole file in 0.8 s, and a relay forwards one chunk behind its source.

use super::util::{completion_ns, ns, run_json};
use cascade_sim::report::Results;

/// A 10 MB file in 10 chunks to `s-1`..`s-{n}` under `strategy`; `origins` extra origins of
/// 100 Mbit/s; the client uploads at `client_mbps`; `extra` is spliced in at the top level.
fn scenario(n: u32, origins: u32, preseeded: bool, client_mbps: f64, strategy: &str, extra: &str) -> String {
    let origins: Vec<String> =
        (1..=origins).map(|i| format!(r#"{{ "name": "o{i}", "upload_mbps": 100, "download_mbps": 1000 }}"#)).collect();
    format!(
        r#"{{ "name": "t", "seed": 1, "horizon_s": 500, {extra} "network": {{
            "base_server": {{ "name": "bs", "upload_mbps": 100, "download_mbps": 1000 }},
            "origins": [ {} ],
            "groups": [ {{ "name": "s", "count": {n}, "upload_mbps": 100, "download_mbps": 100 }} ] }},
          "clients": [ {{ "name": "c", "upload_mbps": {client_mbps}, "download_mbps": 1000,
            "jobs": [ {{ "name": "f", "content": {{ "kind": "file", "size_mb": 10, "chunks": 10, "at_origins": {preseeded} }},
                        "strategy": {strategy} }} ] }} ] }}"#,
        origins.join(", ")
    )
}

/// One chain per first node, nothing optional: the times are the pipeline's.
const CHAINS: &str = r#"{ "kind": "cascade", "fanout": 1, "first_nodes": 1, "rate_sort": false,
                          "dynamic_switching": false }"#;

fn node<'a>(r: &'a Results, name: &str) -> &'a cascade_sim::report::results::NodeResult {
    r.nodes.iter().find(|n| n.node == name).expect("listed")
}

fn account<'a>(r: &'a Results, name: &str) -> &'a cascade_sim::report::results::ServerAccount {
    let acc = r.jobs[0].accountability.as_ref().expect("created");
    acc.servers.iter().find(|s| s.server == name).expect("listed")
}

#[test]
fn two_origins_share_out_the_first_nodes_of_one_split_and_start_at_once_with_preseeded_content() {
    // The base server and o1 take one first node each (positions 0 and 1); positions 2 and 3
    // are handed down below them: bs → s-1 → s-3 and o1 → s-2 → s-4. The file is at both from
    // the start, so although the client uploads at 0.8 Mbit/s (the file would take 100 s to
    // come up) the first nodes hold it at 0.8 s and their children one chunk later, 0.88 s.
    let r = run_json(&scenario(4, 1, true, 0.8, CHAINS, ""));
    assert_eq!(r.unfinished, 0);
    assert_eq!(completion_ns(&r, "s-1"), ns(0.8));
    assert_eq!(completion_ns(&r, "s-2"), ns(0.8));
    assert_eq!(completion_ns(&r, "s-3"), ns(0.88));
    assert_eq!(completion_ns(&r, "s-4"), ns(0.88));
    assert_eq!(node(&r, "s-2").received_from, vec!["o1"]);
    assert_eq!(node(&r, "s-4").received_from, vec!["s-2"]);
    // The bound: F/d = 0.8 s (one copy out of the origins' 25 MB/s takes 0.4 s; the aggregate
    // 4·10 MB over 75 MB/s, 0.53 s).
    assert_eq!(ns(r.jobs[0].lower_bound_s), ns(0.8));
    // No chunk went up from the client (10 MB would take 100 s): only the end-job command.
    assert!(r.jobs[0].closed_s.unwrap() < 1.0);
}

#[test]
fn an_uploaded_job_reaches_the_origins_through_the_base_server() {
    // Not pre-seeded, client at 1,000 Mbit/s: the base server receives a chunk every 8 ms and
    // streams it on both to s-1 and to o1 (its copy), each at 6.25 MB/s since they share the
    // base server's 12.5 MB/s: 1.6 s after the first chunk reached the base server (8 ms).
    let r = run_json(&scenario(4, 1, false, 1000.0, CHAINS, ""));
    assert_eq!(r.unfinished, 0);
    let o1 = r.nodes.iter().filter(|n| n.received_from.first().is_some_and(|s| s == "o1")).count();
    assert_eq!(o1, 1, "o1 feeds its first node from its copy");
    // Every byte left the base server once for s-1 and once for o1: 1.6 s, as the bound says
    // the first copy cannot leave the base server faster than F/u = 0.8 s.
    assert_eq!(completion_ns(&r, "s-1"), ns(1.608));
    assert_eq!(ns(r.jobs[0].lower_bound_s), ns(0.8));
}

#[test]
fn a_star_with_origins_gives_each_a_share_in_proportion_to_its_upload() {
    // Two origins of equal upload: two servers each, two streams of 6.25 MB/s each: 1.6 s.
    let r = run_json(&scenario(4, 1, true, 1000.0, r#"{ "kind": "star" }"#, ""));
    for s in ["s-1", "s-2", "s-3", "s-4"] {
        assert_eq!(completion_ns(&r, s), ns(1.6), "{s}");
    }
    assert_eq!(node(&r, "s-3").received_from, vec!["o1"]);
    assert_eq!(node(&r, "s-1").received_from, vec!["bs"]);
}

#[test]
fn swarm_and_optimal_take_the_origins_as_seeds() {
    for strategy in [r#"{ "kind": "swarm", "peers": 4 }"#, r#"{ "kind": "optimal" }"#] {
        let r = run_json(&scenario(6, 2, true, 0.8, strategy, ""));
        assert_eq!(r.unfinished, 0, "{strategy}");
        let from_origins: u64 = r
            .nodes
            .iter()
            .flat_map(|n| n.bytes_from.iter())
            .filter(|b| b.source == "o1" || b.source == "o2")
            .map(|b| b.bytes)
            .sum();
        assert!(from_origins > 0, "{strategy}: the origins seed");
    }
}

#[test]
fn a_server_joining_late_is_skipped_then_served_when_it_joins() {
    // A chain bs → s-1 → s-2 → s-3; s-4 joins at 5 s. s-3's offer to s-4 is refused at once
    // (no wait for a time-out). When s-4 joins it asks the base server, which has it served by
    // a server that holds the file (s-1..s-3 all do and were asked to serve no one yet, same
    // upload: the first, s-1) rather than by itself: the whole file at 12.5 MB/s, done at
    // 5.8 s. Joining is no fault: its verdict is `completed`.
    let churn = r#""churn": { "joins": [ { "server": "s-4", "at_s": 5 } ] },"#;
    let r = run_json(&scenario(4, 0, false, 1000.0, CHAINS, churn));
    assert_eq!(r.unfinished, 0);
    // The client's upload takes 8 ms per chunk ahead of the base server's stream: s-1 gets the
    // last chunk at 0.8 + 0.008 s.
    assert_eq!(completion_ns(&r, "s-3"), ns(0.968));
    assert_eq!(completion_ns(&r, "s-4"), ns(5.8));
    assert_eq!(node(&r, "s-4").received_from, vec!["s-1"]);
    assert_eq!(account(&r, "s-4").state, "completed");
    // The bound knows when s-4 joins: 5 s + 0.8 s.
    assert_eq!(ns(r.jobs[0].lower_bound_s), ns(5.8));
    assert_eq!(ns(r.makespan_s.unwrap()), ns(5.8));
}

#[test]
fn a_server_leaving_mid_stream_hands_its_children_to_another_source() {
    // Pre-seeded chain bs → s-1 → s-2 → s-3 (items held at the base server from the start).
    // s-1 leaves at 0.44 s holding chunks 0-4 and half of chunk 5; s-2 holds 0-3 and half of
    // chunk 4, s-3 holds 0-2 and half of chunk 3. s-2 asks the base server for a source and
    // resumes from chunk 4, byte 500,000: 5.5 MB at 12.5 MB/s, done at 0.88 s; s-3 keeps its
    // source s-2 and finishes one chunk behind, 0.96 s. Nothing is sent twice. s-1's verdict
    // is `left_unfinished` (not a failure); the job closes without it.
    let churn = r#""churn": { "leaves": [ { "server": "s-1", "at_s": 0.44 } ] },"#;
    let r = run_json(&scenario(3, 0, true, 1000.0, CHAINS, churn));
    assert_eq!(r.unfinished, 0);
    assert_eq!(r.left_unfinished, 1);
    assert_eq!(r.jobs[0].left_unfinished, 1);
    assert_eq!(completion_ns(&r, "s-2"), ns(0.88));
    assert_eq!(completion_ns(&r, "s-3"), ns(0.96));
    assert_eq!(node(&r, "s-2").received_from, vec!["s-1", "bs"]);
    for s in ["s-2", "s-3"] {
        assert_eq!(node(&r, s).bytes_resent, 0);
        assert_eq!(node(&r, s).bytes_received, 10_000_000);
    }
    let s1 = account(&r, "s-1");
    assert_eq!((s1.state.as_str(), s1.left_s.map(ns)), ("left_unfinished", Some(ns(0.44))));
    assert_eq!(s1.repairs, 0);
    assert_eq!(r.jobs[0].outcome, "closed");
    // Servers that leave at a set time need not complete: the bound is over s-2 and s-3.
    assert_eq!(ns(r.jobs[0].lower_bound_s), ns(0.8));
    assert_eq!(ns(r.makespan_s.unwrap()), ns(0.96));
}

#[test]
fn a_server_that_leaves_once_done_keeps_its_verdict_and_hands_back_what_it_had_not_approached() {
    // Move-on cascade, one connection per source, pre-seeded: the base server hands s-1 half
    // of the list (s-3, s-5, s-7) and keeps the other half. s-1 streams to s-3, handing it
    // s-7, and keeps s-5 for when s-3 is served. s-1 holds the file and completes end-job at
    // 0.8 s and leaves at once (seed 0 s): s-3 is still one chunk short and s-5 was never
    // approached. s-3 asks the base server for a source; s-5 is handed back and the base
    // server approaches it itself. s-1 keeps its verdict `completed`.
    let strategy = r#"{ "kind": "cascade", "fanout": 1, "first_nodes": 1, "move_on": true, "rate_sort": false,
                        "dynamic_switching": false }"#;
    let churn = r#""churn": { "leave_when_done": { "servers": ["s-1"], "seed_s": 0 } },"#;
    let r = run_json(&scenario(8, 0, true, 1000.0, strategy, churn));
    assert_eq!(r.unfinished, 0);
    assert_eq!(r.left_unfinished, 0);
    let s1 = account(&r, "s-1");
    assert_eq!((s1.state.as_str(), s1.left_s.map(ns)), ("completed", Some(ns(0.8))));
    assert_eq!(node(&r, "s-3").received_from, vec!["s-1", "bs"]);
    assert_eq!(node(&r, "s-5").received_from, vec!["bs"], "s-5 was handed back to the base server");
    assert_eq!(r.jobs[0].outcome, "closed");
}

#[test]
fn the_workload_bound_adds_up_two_jobs_to_the_same_receivers() {
    // Two 10 MB jobs requested together to the same four servers: 0.8 s each alone, but each
    // server must download 20 MB at 12.5 MB/s: 1.6 s.
    let json = scenario(4, 0, true, 1000.0, CHAINS, "").replace(
        r#""strategy": {"#,
        r#""strategy": { "kind": "star" } }, { "name": "g", "content": { "kind": "file", "size_mb": 10, "chunks": 10, "at_origins": true },
            "strategy": {"#,
    );
    let r = run_json(&json);
    assert_eq!(r.jobs.len(), 2);
    for j in &r.jobs {
        assert_eq!(ns(j.lower_bound_s), ns(0.8));
    }
    assert_eq!(r.largest_job_bound_s.map(ns), Some(ns(0.8)));
    assert_eq!(r.workload_lower_bound_s.map(ns), Some(ns(1.6)));
    assert_eq!(r.lower_bound_s, r.workload_lower_bound_s);
    assert!(r.workload_bound_by.as_deref().unwrap().contains("receives 20 MB"), "{:?}", r.workload_bound_by);
    assert!(r.makespan_s.unwrap() >= 1.6 - 1e-9);
}

#[test]
fn a_server_whose_source_left_once_done_resumes_from_a_holder_not_the_base_server() {
    // Pre-seeded chain bs → s-1 → s-2 → s-3: s-1 holds the file at 0.8 s, s-2 at 0.88 s. s-2
    // leaves as soon as it is done (seed 0 s), when s-3 holds chunks 0-8 and chunk 9 has not
    // started. s-3 asks the base server for a source; s-2 left, so the base server has a holder
    // still there serve it: s-1 (the base server would do as well here, but with many servers
    // it would carry them all). Chunk 9 from s-1 at 12.5 MB/s: done at 0.96 s, as if s-2 had
    // stayed; nothing is sent twice. s-2 completed before it left: its verdict is `completed`;
    // the base server does not query s-2 (it knows it left).
    let churn = r#""churn": { "leave_when_done": { "servers": ["s-2"], "seed_s": 0 } },"#;
    let r = run_json(&scenario(3, 0, true, 1000.0, CHAINS, churn));
    assert_eq!((r.unfinished, r.left_unfinished), (0, 0));
    assert_eq!(node(&r, "s-3").received_from, vec!["s-2", "s-1"]);
    assert_eq!(completion_ns(&r, "s-3"), ns(0.96));
    assert_eq!(node(&r, "s-3").bytes_resent, 0);
    let s2 = account(&r, "s-2");
    assert_eq!((s2.state.as_str(), s2.left_s.map(ns)), ("completed", Some(ns(0.88))));
    // Losing a source to churn is no fault of s-3's either.
    assert_eq!(account(&r, "s-3").state, "completed");
}
