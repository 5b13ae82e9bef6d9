//! The patent's protocol behaviours, each on a small scenario worked out by hand.
//! Rates: 8 Mbit/s = 1 MB/s, 80 Mbit/s = 10 MB/s. Latency is zero unless said otherwise.

use crate::util::{completion_ns, ns, run_json};
use cascade_sim::report::Results;

fn node<'a>(r: &'a Results, name: &str) -> &'a cascade_sim::report::results::NodeResult {
    r.nodes.iter().find(|n| n.node == name).expect("node in results")
}

#[test]
fn the_base_server_denies_a_job_beyond_its_limit_and_the_client_is_told() {
    // Limit one open job. "first" (a 1 MB file to one server at 1 MB/s, plus the client's
    // upload) is open until 2 s; "second" asks at 1 s and is denied; "third" asks at 3 s and
    // runs.
    let job = |name: &str, at: f64| {
        format!(
            r#"{{ "name": "{name}", "at_s": {at}, "content": {{ "kind": "file", "size_mb": 1, "chunks": 1 }},
                 "strategy": {{ "kind": "star" }} }}"#
        )
    };
    let r = run_json(&format!(
        r#"{{ "name": "deny", "network": {{
            "base_server": {{ "name": "bs", "upload_mbps": 8, "download_mbps": 8, "max_open_jobs": 1 }},
            "hosts": [ {{ "name": "n1", "upload_mbps": 8, "download_mbps": 8 }} ] }},
          "clients": [ {{ "name": "c", "upload_mbps": 8, "download_mbps": 8,
            "jobs": [ {}, {}, {} ] }} ] }}"#,
        job("first", 0.0),
        job("second", 1.0),
        job("third", 3.0)
    ));
    let by_name = |n: &str| r.jobs.iter().find(|j| j.name == n).unwrap();
    assert_eq!(by_name("first").closed_s, Some(2.0));
    let second = by_name("second");
    assert_eq!(second.outcome, "denied");
    assert!(second.outcome_reason.as_deref().unwrap().contains("limit 1"), "{:?}", second.outcome_reason);
    assert_eq!((second.id, second.created_s), (None, None));
    // Requested at 3 s, closed at 5 s on the run clock: 2 s after its request.
    assert_eq!((by_name("third").requested_at_s, by_name("third").closed_s), (Some(3.0), Some(2.0)));
    assert_eq!(r.job_outcomes.denied, 1);
    assert_eq!(r.deliveries, 2, "the denied job's server is no delivery");
    assert!(r.nodes.iter().any(|n| n.job == "second" && n.delivery == "denied"), "and is labelled");
    assert_eq!(r.unfinished, 0, "a denied job leaves no unfinished servers");
    assert_eq!(r.makespan_s, Some(5.0));
}

fn live(client_mbps: f64) -> String {
    // A 4 s live stream at 8 Mbit/s in 1 s chunks of 1 MB, star to one server.
    format!(
        r#"{{ "name": "live", "network": {{
            "base_server": {{ "name": "bs", "upload_mbps": 8, "download_mbps": 80 }},
            "hosts": [ {{ "name": "n1", "upload_mbps": 8, "download_mbps": 8 }} ] }},
          "clients": [ {{ "name": "c", "upload_mbps": {client_mbps}, "download_mbps": 8,
            "jobs": [ {{ "name": "j", "content": {{ "kind": "live", "rate_mbps": 8, "duration_s": 4, "chunk_s": 1 }},
                        "strategy": {{ "kind": "star" }} }} ] }} ] }}"#
    )
}

#[test]
fn live_content_is_limited_by_the_clients_upload_and_lag_is_reported() {
    // The client uploads 0.5 MB/s: chunk k (produced at k+1 s) reaches the base server at
    // 3, 5, 7, 9 s (2 s each, back to back), and n1 one second later: 4, 6, 8, 10 s. Lags are
    // 3, 4, 5, 6 s: the lag grows by 3 s > the 2 s playout buffer, so the stream is not
    // sustained, although 8 Mbit/s is within the fluid bound min(8, 8, 16/1) = 8 Mbit/s.
    let r = run_json(&live(4.0));
    assert_eq!(completion_ns(&r, "n1"), ns(10.0));
    let lag = node(&r, "n1").lag_s.clone().unwrap();
    assert_eq!((lag.p50, lag.p99, lag.max, node(&r, "n1").sustained), (Some(4.0), Some(6.0), Some(6.0), Some(false)));
    let stream = r.jobs[0].live_stream.clone().unwrap();
    assert_eq!((stream.rate_mbps, stream.sustainable_rate_bound_mbps, stream.servers_sustained), (8.0, 8.0, 0));

    // With a client uploading 10 MB/s every chunk reaches n1 1.1 s after production.
    let r = run_json(&live(80.0));
    let lag = node(&r, "n1").lag_s.clone().unwrap();
    assert_eq!(
        (lag.p50.map(ns), lag.max.map(ns), node(&r, "n1").sustained),
        (Some(ns(1.1)), Some(ns(1.1)), Some(true))
    );
    assert_eq!(r.jobs[0].live_stream.as_ref().unwrap().servers_sustained, 1);
}

const COMMANDS: &str = r#"{ "name": "commands", "network": {
    "base_server": { "name": "bs", "upload_mbps": 8, "download_mbps": 8 },
    "hosts": [ { "name": "n1", "upload_mbps": 8, "download_mbps": 8 },
               { "name": "n2", "upload_mbps": 8, "download_mbps": 8 } ] },
  "clients": [ { "name": "c", "upload_mbps": 8, "download_mbps": 8,
    "jobs": [ { "name": "j", "content": { "kind": "file", "size_mb": 1, "chunks": 1 },
                "strategy": { "kind": "cascade", "fanout": 1, "first_nodes": 1 },
                "commands": [ { "name": "index", "at_s": 0.5, "data_mb": 0.5, "exec_s": 2 } ],
                "leave_at_s": 4.5,
                "queries": [ { "at_s": 3.2, "server": "n2" }, { "at_s": 4.0, "server": "n2" } ] } ] } ] }"#;

#[test]
fn commands_cascade_behind_the_content_execute_and_close_the_job() {
    // Log: chunk (1 MB), "index" (0.5 MB, added at 0.5 s), end-job (added at 0.5 s).
    // client → bs: chunk [0, 1], index [1, 1.5], end-job at 1.5.
    // bs → n1:     chunk [1, 2], index [2, 2.5], end-job at 2.5.
    // n1 → n2:     chunk [2, 3], index [3, 3.5], end-job at 3.5.
    // n1 runs index 2.5 → 4.5, then end-job (no execution time) at 4.5; n2: 3.5 → 5.5.
    let r = run_json(COMMANDS);
    assert_eq!((completion_ns(&r, "n1"), completion_ns(&r, "n2")), (ns(2.0), ns(3.0)));
    assert_eq!(node(&r, "n1").done_s, Some(4.5));
    assert_eq!(node(&r, "n2").done_s, Some(5.5));
    assert_eq!(node(&r, "n2").bytes_received, 1_500_000);
    let job = &r.jobs[0];
    let names: Vec<_> = job.commands.iter().map(|c| (c.name.as_str(), c.end_job, c.all_completed_s)).collect();
    assert_eq!(names, vec![("index", false, Some(5.5)), ("end-job", true, Some(5.5))]);
    // The base server closes when n2 completes end-job, and calls the client back although
    // it left at 4.5 s.
    assert_eq!((job.closed_s, job.session_ended_s, job.client_notified_s), (Some(5.5), Some(4.5), Some(5.5)));
    // The client's view, in order: both servers reached at once (the cascade approaches n2
    // before n1 holds anything), the content at 2 and 3 s (each server's one chunk is all its
    // content: 50 % then 100 % over both), then command completions.
    let progress: Vec<_> =
        job.progress.iter().map(|p| (p.t_s, p.reached, p.holders, p.content_percent, p.commands_completed)).collect();
    assert_eq!(
        progress,
        vec![
            (0.0, 1, 0, 0, 0),
            (0.0, 2, 0, 0, 0),
            (2.0, 2, 1, 50, 0),
            (3.0, 2, 2, 100, 0),
            (4.5, 2, 2, 100, 1),
            (4.5, 2, 2, 100, 2),
            (5.5, 2, 2, 100, 3),
            (5.5, 2, 2, 100, 4)
        ]
    );
}

#[test]
fn a_client_that_left_adds_no_commands_and_asks_no_queries() {
    // [0048]: commands are added by virtue of an open session. The client leaves at 0.3 s:
    // the "index" command (0.5 s) and both queries are refused; the end-job command, which
    // completes the log, still goes out (at 0.5 s, as scripted), so the job closes.
    let r = run_json(&COMMANDS.replace(r#""leave_at_s": 4.5"#, r#""leave_at_s": 0.3"#));
    let job = &r.jobs[0];
    let refused: Vec<_> = job.refused.iter().map(|n| (n.t_s, n.notice.as_str())).collect();
    assert_eq!(
        refused,
        vec![
            (0.5, "command `index`: the session had ended"),
            (3.2, "status query: the session had ended"),
            (4.0, "status query: the session had ended")
        ]
    );
    assert!(job.queries.is_empty());
    let names: Vec<_> = job.commands.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["end-job"]);
    assert_eq!(job.outcome, "closed");
    assert_eq!(node(&r, "n2").bytes_received, 1_000_000);
}

#[test]
fn queries_show_receipt_and_in_progress_states() {
    let r = run_json(COMMANDS);
    let q = &r.jobs[0].queries;
    // At 3.2 s n2 holds the content only; at 4.0 s the command runs and end-job waits.
    assert_eq!((q[0].answered_s, q[0].items_held, q[0].content_complete), (Some(3.2), Some(1), Some(true)));
    assert!(q[0].commands.is_empty());
    let states: Vec<_> = q[1].commands.iter().map(|c| (c.id, c.state.as_str())).collect();
    assert_eq!(states, vec![(0, "in_progress"), (1, "new")]);
    assert_eq!(q[1].items_held, Some(3));
}

fn three_servers(strategy: &str, uploads: [f64; 3]) -> String {
    format!(
        r#"{{ "name": "small", "network": {{
            "base_server": {{ "name": "bs", "upload_mbps": 80, "download_mbps": 80 }},
            "hosts": [ {{ "name": "a", "upload_mbps": {}, "download_mbps": 80 }},
                       {{ "name": "b", "upload_mbps": {}, "download_mbps": 80 }},
                       {{ "name": "c", "upload_mbps": {}, "download_mbps": 80 }} ] }},
          "clients": [ {{ "name": "client", "upload_mbps": 80, "download_mbps": 80,
            "jobs": [ {{ "name": "j", "content": {{ "kind": "file", "size_mb": 1, "chunks": 1 }},
                        "strategy": {strategy} }} ] }} ] }}"#,
        uploads[0], uploads[1], uploads[2]
    )
}

#[test]
fn rate_sort_puts_fast_uploaders_first_in_the_cascade() {
    // Uploads a = 1, b = 2, c = 10 MB/s; one 1 MB chunk; fanout 1 (a chain).
    // In list order: client→bs 0.1 s, bs→a 0.1 s, a→b 1 s, b→c 0.5 s: done at 1.7 s.
    // Sorted: bs→c 0.1 s, c→b 0.1 s, b→a 0.5 s: done at 0.8 s.
    let unsorted = run_json(&three_servers(
        r#"{ "kind": "cascade", "fanout": 1, "first_nodes": 1, "rate_sort": false, "dynamic_switching": false }"#,
        [8.0, 16.0, 80.0],
    ));
    let sorted = run_json(&three_servers(
        r#"{ "kind": "cascade", "fanout": 1, "first_nodes": 1, "rate_sort": true, "dynamic_switching": false }"#,
        [8.0, 16.0, 80.0],
    ));
    assert_eq!(unsorted.makespan_s.map(ns), Some(ns(1.7)));
    assert_eq!(sorted.makespan_s.map(ns), Some(ns(0.8)));
    assert_eq!(node(&sorted, "b").received_from, vec!["c".to_string()]);
}

#[test]
fn without_index_lists_every_source_tries_every_server() {
    // Fanout 1, one 1 MB chunk at 10 MB/s everywhere. Every source offers the job to every
    // other server: the base server to a, b, c; each server to the two others: 9 offers, and
    // only three accepts. Receipts: a 0.2 s, b 0.3 s, c 0.4 s (a chain).
    let json = three_servers(
        r#"{ "kind": "cascade", "fanout": 1, "first_nodes": 1, "index_lists": false, "dynamic_switching": false }"#,
        [80.0, 80.0, 80.0],
    );
    let scenario = cascade_sim::scenario::parse(&json).unwrap();
    let run = cascade_sim::simulate(
        &scenario,
        &cascade_sim::RunOptions { record_messages: true, ..cascade_sim::RunOptions::default() },
    )
    .unwrap();
    let count = |kind: &str| run.engine.messages().unwrap().iter().filter(|m| m.kind == kind).count();
    assert_eq!((count("Offer"), count("Accept"), count("Decline")), (9, 3, 6));
    let done: Vec<u64> = ["a", "b", "c"].iter().map(|n| completion_ns(&run.results, n)).collect();
    assert_eq!(done, vec![ns(0.2), ns(0.3), ns(0.4)]);
}

fn switching(on: bool) -> String {
    // Servers in list order s, f, r; s uploads 1 MB/s, f 10 MB/s, r 1 MB/s; 4 chunks of 1 MB;
    // full server lists, fanout 1.
    format!(
        r#"{{ "name": "switch", "network": {{
            "base_server": {{ "name": "bs", "upload_mbps": 80, "download_mbps": 80 }},
            "hosts": [ {{ "name": "s", "upload_mbps": 8, "download_mbps": 80 }},
                       {{ "name": "f", "upload_mbps": 80, "download_mbps": 80 }},
                       {{ "name": "r", "upload_mbps": 8, "download_mbps": 80 }} ] }},
          "clients": [ {{ "name": "client", "upload_mbps": 80, "download_mbps": 80,
            "jobs": [ {{ "name": "j", "content": {{ "kind": "file", "size_mb": 4, "chunks": 4 }},
                        "strategy": {{ "kind": "cascade", "fanout": 1, "first_nodes": 1, "index_lists": false,
                                      "rate_sort": false, "dynamic_switching": {on} }} }} ] }} ] }}"#
    )
}

#[test]
fn dynamic_switching_moves_a_receiver_to_a_faster_source_at_the_same_offset() {
    // At 0 s: bs offers s; s offers f (f accepts: s declared 1 MB/s); f offers r (accepts,
    // f declared 10 MB/s). s holds chunk k at 0.1(k+2) s and streams to f at 1 MB/s from 0.2 s.
    // At 0.5 s bs has streamed everything to s and offers f: bs declares 10 MB/s and holds
    // more than f, so f breaks s's stream after 0.3 MB of chunk 0 and bs continues at byte
    // 300,000: f holds chunk 0 at 0.57 s and the last at 0.87 s; r (from f) at 0.97 s.
    let r = run_json(&switching(true));
    let f = node(&r, "f");
    assert_eq!((f.switches, f.completion_s.map(ns)), (1, Some(ns(0.87))));
    let from: Vec<_> = f.bytes_from.iter().map(|b| (b.source.as_str(), b.bytes)).collect();
    assert_eq!(from, vec![("bs", 3_700_000), ("s", 300_000)]);
    assert_eq!(f.bytes_received, 4_000_000, "no byte is sent twice");
    assert_eq!(completion_ns(&r, "r"), ns(0.97));
    assert_eq!(r.jobs[0].switches, 1);

    // Without switching f stays on s: chunk k leaves s during [0.2 + k, 1.2 + k]; f done at
    // 4.2 s, r (0.1 s behind) at 4.3 s.
    let r = run_json(&switching(false));
    assert_eq!((completion_ns(&r, "f"), completion_ns(&r, "r")), (ns(4.2), ns(4.3)));
    assert_eq!(node(&r, "f").switches, 0);
}

fn adaptive(adaptive: bool, child_mbps: f64) -> String {
    // bs → a (first node); a has fanout 3 towards b, c, d, whose downloads are `child_mbps`.
    format!(
        r#"{{ "name": "adaptive", "network": {{
            "base_server": {{ "name": "bs", "upload_mbps": 800, "download_mbps": 800 }},
            "hosts": [ {{ "name": "a", "upload_mbps": 80, "download_mbps": 800 }},
                       {{ "name": "b", "upload_mbps": 80, "download_mbps": {child_mbps} }},
                       {{ "name": "c", "upload_mbps": 80, "download_mbps": {child_mbps} }},
                       {{ "name": "d", "upload_mbps": 80, "download_mbps": {child_mbps} }} ] }},
          "clients": [ {{ "name": "client", "upload_mbps": 800, "download_mbps": 800,
            "jobs": [ {{ "name": "j", "content": {{ "kind": "file", "size_mb": 1, "chunks": 10 }},
                        "strategy": {{ "kind": "cascade", "fanout": 3, "first_nodes": 1, "rate_sort": false,
                                      "dynamic_switching": false, "adaptive_fanout": {adaptive} }} }} ] }} ] }}"#
    )
}

/// How many of a's streams overlap in time at most.
fn max_concurrent_from(r: &cascade_sim::Run, src: &str) -> usize {
    let topo = r.engine.topology();
    let spans: Vec<(f64, f64)> = r
        .engine
        .stream_records()
        .iter()
        .filter(|s| topo.host(s.src).name == src)
        .map(|s| (s.opened_at.as_secs_f64(), s.last_arrival.unwrap().as_secs_f64()))
        .collect();
    spans.iter().map(|&(start, _)| spans.iter().filter(|&&(s, e)| s <= start && start < e).count()).max().unwrap()
}

#[test]
fn adaptive_fanout_opens_connections_only_while_the_upload_has_room() {
    let run = |json: String| {
        let scenario = cascade_sim::scenario::parse(&json).unwrap();
        cascade_sim::simulate(&scenario, &cascade_sim::RunOptions::default()).unwrap()
    };
    // Children download 5 MB/s, a uploads 10 MB/s: two streams saturate a.
    assert_eq!(max_concurrent_from(&run(adaptive(false, 40.0)), "a"), 3);
    assert_eq!(max_concurrent_from(&run(adaptive(true, 40.0)), "a"), 2);
    // Children download 2 MB/s: three streams use 60 % of a's upload, so all three open.
    assert_eq!(max_concurrent_from(&run(adaptive(true, 16.0)), "a"), 3);
}

#[test]
fn chain_and_tree_strategies_run_in_the_same_engine() {
    let many = |strategy: &str, seed: u64| {
        run_json(&format!(
            r#"{{ "name": "shapes", "seed": {seed}, "network": {{
                "base_server": {{ "name": "bs", "upload_mbps": 100, "download_mbps": 100 }},
                "groups": [ {{ "name": "g", "count": 15, "upload_mbps": 100, "download_mbps": 100 }} ] }},
              "clients": [ {{ "name": "c", "upload_mbps": 100, "download_mbps": 100,
                "jobs": [ {{ "name": "j", "content": {{ "kind": "file", "size_mb": 1, "chunks": 4 }},
                            "strategy": {strategy} }} ] }} ] }}"#
        ))
    };
    let chain = many(r#"{ "kind": "chain" }"#, 1);
    for (i, n) in chain.nodes.iter().enumerate() {
        let expected = if i == 0 { "bs".to_string() } else { format!("g-{i}") };
        assert_eq!(n.received_from, vec![expected], "a chain in list order");
    }
    let children = |r: &Results| {
        let mut count = std::collections::BTreeMap::new();
        for n in &r.nodes {
            *count.entry(n.received_from[0].clone()).or_insert(0) += 1;
        }
        count
    };
    let tree = many(r#"{ "kind": "tree", "arity": 2 }"#, 1);
    assert_eq!(tree.unfinished, 0);
    assert!(children(&tree).values().all(|&c| c <= 2), "a binary tree: {:?}", children(&tree));
    let again = many(r#"{ "kind": "tree", "arity": 2 }"#, 1);
    let other = many(r#"{ "kind": "tree", "arity": 2 }"#, 2);
    assert_eq!(children(&tree), children(&again), "the same seed gives the same tree");
    assert_ne!(tree.nodes, other.nodes, "another seed shuffles the tree");
}

#[test]
fn two_clients_with_three_concurrent_jobs_share_the_network() {
    // Two clients; three 1 MB files to the same two servers, requested together, share the
    // base server's upload and the servers' uploads: every job ends later than job a1 run
    // alone (b1 moved to 100 s), all close, and each has its own job id.
    let jobs = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!(r#"{{ "name": "{n}", "content": {{ "kind": "file", "size_mb": 1, "chunks": 4 }}, "strategy": {{ "kind": "cascade", "fanout": 1 }} }}"#))
            .collect::<Vec<_>>()
            .join(",")
    };
    let scenario = |a: &[&str], b: &[&str]| {
        format!(
            r#"{{ "name": "multi", "network": {{
                "base_server": {{ "name": "bs", "upload_mbps": 8, "download_mbps": 80 }},
                "hosts": [ {{ "name": "n1", "upload_mbps": 8, "download_mbps": 80 }},
                           {{ "name": "n2", "upload_mbps": 8, "download_mbps": 80 }} ] }},
              "clients": [ {{ "name": "alpha", "upload_mbps": 8, "download_mbps": 8, "jobs": [ {} ] }},
                           {{ "name": "beta", "upload_mbps": 8, "download_mbps": 8, "jobs": [ {} ] }} ] }}"#,
            jobs(a),
            jobs(b)
        )
    };
    let alone = run_json(&scenario(&["a1"], &["b1"]).replace(r#"{ "name": "b1""#, r#"{ "name": "b1", "at_s": 100"#));
    let together = run_json(&scenario(&["a1", "a2"], &["b1"]));
    assert_eq!(together.jobs.len(), 3);
    assert!(together.jobs.iter().all(|j| j.closed_s.is_some() && j.client_notified_s.is_some()));
    let alone_a1 = alone.jobs[0].makespan_s.unwrap();
    assert!(together.jobs.iter().all(|j| j.makespan_s.unwrap() > alone_a1), "sharing slows every job down");
    let ids: std::collections::BTreeSet<_> = together.jobs.iter().map(|j| j.id.unwrap()).collect();
    assert_eq!(ids.len(), 3, "unique job ids");
}

#[test]
fn the_swarm_exchanges_pieces_among_peers_rarest_first() {
    let json = |seed: u64| {
        format!(
            r#"{{ "name": "swarm", "seed": {seed}, "network": {{
                "base_server": {{ "name": "bs", "upload_mbps": 80, "download_mbps": 80 }},
                "groups": [ {{ "name": "g", "count": 30, "upload_mbps": 80, "download_mbps": 80, "latency_ms": 5 }} ] }},
              "clients": [ {{ "name": "c", "upload_mbps": 800, "download_mbps": 800,
                "jobs": [ {{ "name": "j", "content": {{ "kind": "file", "size_mb": 8, "chunks": 16 }},
                            "strategy": {{ "kind": "swarm", "peers": 4, "upload_slots": 2 }} }} ] }} ] }}"#
        )
    };
    let r = run_json(&json(1));
    assert_eq!((r.unfinished, r.jobs[0].completed), (0, 30));
    assert!(r.jobs[0].closed_s.is_some(), "every peer executes end-job");
    // Every peer gets every byte about once (an endgame copy may arrive too), from several peers.
    let about_once = |b: u64| (8_000_000..=9_000_000).contains(&b);
    assert!(r.nodes.iter().all(|n| about_once(n.bytes_received)));
    assert!(r.nodes.iter().all(|n| about_once(n.bytes_from.iter().map(|b| b.bytes).sum::<u64>())));
    let multi = r.nodes.iter().filter(|n| n.bytes_from.len() > 1).count();
    assert!(multi >= 25, "pieces come from several peers: {multi}/30");
    // The seed uploads each piece roughly once, not once per peer as a star would.
    let from_seed: u64 = r.nodes.iter().flat_map(|n| &n.bytes_from).filter(|b| b.source == "bs").map(|b| b.bytes).sum();
    assert!(from_seed < 8 * 8_000_000, "the seed uploaded {from_seed} bytes");
    assert_eq!(run_json(&json(1)), r, "deterministic");
    assert_ne!(run_json(&json(2)).trace_hash, r.trace_hash, "the seed draws the links");
}
