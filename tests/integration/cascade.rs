//! The cascade and the star baseline on small cases worked out by hand.
//!
//! Every host below uploads and downloads 8 Mbit/s = 1 MB/s unless said otherwise, so a chunk
//! of 0.25 MB takes exactly 0.25 s on an uncontended connection. The client streams the job's
//! content to the base server first (claim 13(c)), which is one more pipelined hop.

use crate::util::{completion_ns, ns, run_json};

/// A cascade of fanout 1 (a chain through the servers) without dynamic switching, so the shape
/// of the cascade is what the test works out.
const CHAIN: &str = r#"{ "kind": "cascade", "fanout": 1, "first_nodes": 1, "dynamic_switching": false }"#;

fn scenario(strategy: &str, latency_ms: f64, chunks: u32) -> String {
    format!(
        r#"{{ "name": "small", "network": {{
            "base_server": {{ "name": "bs", "upload_mbps": 8, "download_mbps": 8, "latency_ms": {latency_ms} }},
            "hosts": [ {{ "name": "n1", "upload_mbps": 8, "download_mbps": 8, "latency_ms": {latency_ms} }},
                       {{ "name": "n2", "upload_mbps": 8, "download_mbps": 8, "latency_ms": {latency_ms} }},
                       {{ "name": "n3", "upload_mbps": 8, "download_mbps": 8, "latency_ms": {latency_ms} }} ] }},
          "clients": [ {{ "name": "c", "upload_mbps": 8, "download_mbps": 8, "latency_ms": {latency_ms},
            "jobs": [ {{ "name": "j", "content": {{ "kind": "file", "size_mb": 1, "chunks": {chunks} }},
                        "strategy": {strategy} }} ] }} ] }}"#
    )
}

#[test]
fn star_shares_the_base_server_upload_among_all_servers() {
    // The base server holds chunk 0 at 0.25 s; from then three concurrent streams share its
    // 1 MB/s (1/3 MB/s each, always ahead of what the client delivers): 1 MB each takes 3 s.
    let r = run_json(&scenario(r#"{ "kind": "star" }"#, 0.0, 4));
    for n in ["n1", "n2", "n3"] {
        assert_eq!(completion_ns(&r, n), ns(3.25), "{n}");
    }
    // Kumar–Ross: max(F/u_s = 1, F/d_min = 1, N·F/(u_s + Σu_i) = 3/4), and F/u_client = 1.
    assert_eq!(r.jobs[0].lower_bound_s, 1.0);
    assert_eq!(r.ratio_to_bound, Some(3.25));
}

#[test]
fn star_with_one_connection_serves_servers_one_after_another() {
    // n1 gets each chunk one chunk time after the base server does: done at 1.25 s. By then
    // the base server holds everything, so n2 and n3 take 1 s each.
    let r = run_json(&scenario(r#"{ "kind": "star", "max_concurrent": 1 }"#, 0.0, 4));
    let done: Vec<u64> = ["n1", "n2", "n3"].iter().map(|n| completion_ns(&r, n)).collect();
    assert_eq!(done, vec![ns(1.25), ns(2.25), ns(3.25)]);
}

#[test]
fn a_chain_pipelines_chunks_instead_of_waiting_for_the_whole_file() {
    // client → bs → n1 → n2 → n3, four chunks of 0.25 s. The base server holds chunk k at
    // (k+1)/4 s; every hop adds one chunk time: n1 at 1.25 s, n2 at 1.5 s, n3 at 1.75 s
    // (store-and-forward would take 4 s).
    let r = run_json(&scenario(CHAIN, 0.0, 4));
    let done: Vec<u64> = ["n1", "n2", "n3"].iter().map(|n| completion_ns(&r, n)).collect();
    assert_eq!(done, vec![ns(1.25), ns(1.5), ns(1.75)]);
    let from = |n: &str| r.nodes.iter().find(|x| x.node == n).unwrap().received_from.clone();
    assert_eq!(
        (from("n1"), from("n2"), from("n3")),
        (vec!["bs".to_string()], vec!["n1".to_string()], vec!["n2".to_string()])
    );
    assert!(r.nodes.iter().all(|n| n.bytes_received == 1_000_000));
}

#[test]
fn a_single_chunk_chain_is_store_and_forward() {
    let r = run_json(&scenario(CHAIN, 0.0, 1));
    let done: Vec<u64> = ["n1", "n2", "n3"].iter().map(|n| completion_ns(&r, n)).collect();
    assert_eq!(done, vec![ns(2.0), ns(3.0), ns(4.0)]);
}

#[test]
fn latency_is_paid_by_every_message_and_once_per_chunk_hop() {
    // Every host has 10 ms access latency, so any message or chunk takes 20 ms.
    // 0.00 client requests; 0.02 base server creates the job, answers and offers it to n1;
    // 0.04 the client starts uploading; n1 accepts (and offers to n2).
    // The client sends chunk k during [0.04 + k/4, 0.29 + k/4]; the base server holds it at
    // 0.31 + k/4. bs → n1 (open since 0.06) sends it during [0.31 + k/4, 0.56 + k/4]; n1
    // holds it at 0.58 + k/4; n2 likewise at 0.85 + k/4, n3 at 1.12 + k/4.
    let r = run_json(&scenario(CHAIN, 10.0, 4));
    let done: Vec<u64> = ["n1", "n2", "n3"].iter().map(|n| completion_ns(&r, n)).collect();
    assert_eq!(done, vec![ns(1.33), ns(1.60), ns(1.87)]);
    let job = &r.jobs[0];
    assert_eq!(job.created_s, Some(0.02));
    // The end-job command (no data, no execution time) arrives right behind the last chunk;
    // n3's completion reaches the base server 20 ms later, which closes the job and tells the
    // client, 20 ms after that.
    assert_eq!(job.closed_s.map(ns), Some(ns(1.89)));
    assert_eq!(job.client_notified_s.map(ns), Some(ns(1.91)));
    assert_eq!(job.makespan_s.map(ns), Some(ns(1.87)));
}

#[test]
fn fanout_two_splits_the_list_and_shares_the_source_upload() {
    // Base server → n1 only (first_nodes 1). n1's index list is [n2, n3]; with fanout 2 it
    // streams to both at once, 0.5 MB/s each. One chunk of 1 MB: the base server holds it at
    // 1 s, n1 at 2 s, n2 and n3 at 4 s.
    let r = run_json(&scenario(
        r#"{ "kind": "cascade", "fanout": 2, "first_nodes": 1, "dynamic_switching": false }"#,
        0.0,
        1,
    ));
    let done: Vec<u64> = ["n1", "n2", "n3"].iter().map(|n| completion_ns(&r, n)).collect();
    assert_eq!(done, vec![ns(2.0), ns(4.0), ns(4.0)]);
    let from = |n: &str| r.nodes.iter().find(|x| x.node == n).unwrap().received_from.clone();
    assert_eq!(from("n3"), vec!["n1".to_string()]);
}

#[test]
fn live_content_cannot_be_delivered_before_it_is_produced() {
    // A 10 s live stream at 0.8 Mbit/s in 1 s chunks (0.1 MB each): every relay is fast enough,
    // so each server holds the last chunk shortly after it is produced at 10 s. With zero
    // latency, chunk 9 is produced at 10 s and crosses client→bs→n1→n2→n3 at 0.1 s per hop.
    let json = scenario(CHAIN, 0.0, 1).replace(
        r#"{ "kind": "file", "size_mb": 1, "chunks": 1 }"#,
        r#"{ "kind": "live", "rate_mbps": 0.8, "duration_s": 10, "chunk_s": 1 }"#,
    );
    let r = run_json(&json);
    let done: Vec<u64> = ["n1", "n2", "n3"].iter().map(|n| completion_ns(&r, n)).collect();
    assert_eq!(done, vec![ns(10.2), ns(10.3), ns(10.4)]);
    assert_eq!(r.jobs[0].lower_bound_s, 10.0, "a live job cannot end before its stream does");
}

#[test]
fn every_listed_server_receives_a_large_cascade_exactly_once() {
    let r = run_json(
        r#"{ "name": "big", "seed": 3, "network": {
            "base_server": { "name": "bs", "upload_mbps": 100, "download_mbps": 100 },
            "groups": [ { "name": "g", "count": 500, "upload_mbps": { "uniform": [10, 100] },
                          "download_mbps": 100, "latency_ms": { "uniform": [1, 30] } } ] },
          "clients": [ { "name": "c", "upload_mbps": 10, "download_mbps": 10,
            "jobs": [ { "name": "j", "content": { "kind": "file", "size_mb": 8, "chunks": 16 },
                        "strategy": { "kind": "cascade", "fanout": 3, "first_nodes": 2 } } ] } ] }"#,
    );
    assert_eq!(r.unfinished, 0);
    assert_eq!(r.jobs[0].completed, 500);
    // Every byte arrives once; a server that switched sources has one more source per switch.
    assert!(r.nodes.iter().all(|n| n.bytes_received == 8_000_000 && n.received_from.len() as u32 <= 1 + n.switches));
    let closed = r.jobs[0].closed_s.unwrap();
    let last = r.nodes.iter().map(|n| n.completion_s.unwrap()).fold(0.0, f64::max);
    assert!(closed > last, "the base server closes after the last receipt reaches it");
    assert!(r.ratio_to_bound.unwrap() >= 1.0);
}
