//! The reference strategies against their targets (issue 9), on instances small enough for a
//! debug build. The targets are on simulated time, so they are deterministic. Where an instance
//! is smaller than the bundled reference (`scenarios/references/`), the test says so; the
//! bundled ones are checked by `cascade-sim check`.

use super::util::{ns, run_json};
use cascade_sim::report::Results;

/// A homogeneous case: `n` peers and the base server at `u` Mbit/s up = down, zero latency, a
/// file of `mb` MB in `m` chunks; the client uploads at 100·u.
fn homogeneous(n: u32, m: u32, mb: f64, strategy: &str) -> String {
    format!(
        r#"{{ "name": "h", "seed": 1, "network": {{
            "base_server": {{ "name": "bs", "upload_mbps": 100, "download_mbps": 10000 }},
            "groups": [ {{ "name": "peer", "count": {n}, "upload_mbps": 100, "download_mbps": 100 }} ] }},
          "clients": [ {{ "name": "c", "upload_mbps": 10000, "download_mbps": 10000,
            "jobs": [ {{ "name": "f", "content": {{ "kind": "file", "size_mb": {mb}, "chunks": {m} }},
                        "strategy": {strategy} }} ] }} ] }}"#
    )
}

/// Mundinger–Weber–Weiss optimum, seconds: M + ⌈log2(N+1)⌉ − 1 rounds of F/(M·u), u = 100
/// Mbit/s = 12.5 MB/s.
fn optimum_s(n: u32, m: u32, mb: f64) -> f64 {
    let rounds = m + (32 - n.leading_zeros()) - 1; // ⌈log2(N+1)⌉ = bit length of N
    rounds as f64 * mb / m as f64 / 12.5
}

fn makespan(r: &Results) -> f64 {
    assert_eq!(r.unfinished, 0);
    r.makespan_s.expect("finished")
}

#[test]
fn the_binomial_pipeline_meets_the_optimum_when_n_plus_one_is_a_power_of_two() {
    // 127 peers + the base server = 2^7: M + 7 − 1 = 70 rounds of 0.08 s = 5.6 s; the client's
    // leg to the base server adds a hundredth of a round.
    let r = run_json(&homogeneous(127, 64, 64.0, r#"{ "kind": "optimal" }"#));
    let opt = optimum_s(127, 64, 64.0);
    assert!((opt - 5.6).abs() < 1e-9);
    let m = makespan(&r);
    assert!(m >= opt && m <= opt * 1.002, "makespan {m} vs optimum {opt}");
}

#[test]
fn the_optimal_reference_is_within_five_percent_of_the_optimum_for_other_n() {
    // The bundled N=1,000, M=256 case measures 21.44 s against 21.2 s (1.011×); here N=100,
    // M=100 (the bundled case itself) and N=300, M=100 (smaller than N=1,000 for debug speed).
    for (n, m) in [(100, 100), (300, 100)] {
        let mb = m as f64;
        let r = run_json(&homogeneous(n, m, mb, r#"{ "kind": "optimal" }"#));
        let (got, opt) = (makespan(&r), optimum_s(n, m, mb));
        assert!(got <= 1.05 * opt, "N={n} M={m}: {got} s vs optimum {opt} s");
        // Never below the optimum: the schedule obeys the model.
        assert!(got >= opt, "N={n} M={m}: {got} s below the optimum {opt} s");
    }
}

/// The flash crowd's class mix at a tenth of the size: 100 peers (25 per class), 10 MB in 256 KB
/// pieces, seed 6 Mbit/s. Bound F/d_min = 80 Mbit / 0.784 Mbit/s = 102.04 s.
fn small_flash_crowd(strategy: &str) -> String {
    format!(
        r#"{{ "name": "flash", "seed": 1, "horizon_s": 5000, "network": {{
            "base_server": {{ "name": "seed", "upload_mbps": 6, "download_mbps": 600 }},
            "groups": [
              {{ "name": "dsl", "count": 25, "upload_mbps": 0.128, "download_mbps": 0.784 }},
              {{ "name": "adsl", "count": 25, "upload_mbps": 0.384, "download_mbps": 1.5 }},
              {{ "name": "cable", "count": 25, "upload_mbps": 1.0, "download_mbps": 3.0 }},
              {{ "name": "fibre", "count": 25, "upload_mbps": 5.0, "download_mbps": 10.0 }} ] }},
          "clients": [ {{ "name": "c", "upload_mbps": 600, "download_mbps": 600,
            "jobs": [ {{ "name": "f", "content": {{ "kind": "file", "size_mb": 10, "chunks": 40 }},
                        "strategy": {strategy} }} ] }} ] }}"#
    )
}

#[test]
fn the_striped_multi_tree_is_within_fifteen_percent_of_the_bound_on_the_flash_crowd_mix() {
    let r = run_json(&small_flash_crowd(r#"{ "kind": "optimal" }"#));
    let bound = r.lower_bound_s.unwrap();
    assert!((bound - 80.0 / 0.784).abs() < 1e-6);
    let ratio = makespan(&r) / bound;
    // Target 1.15×. Measured 1.003 here and 1.004 on the bundled 1,000-peer case with the
    // default packets (1.070 and 1.011 forwarding whole pieces); this guards the level reached.
    assert!(ratio <= 1.05, "ratio {ratio}");
}

#[test]
fn the_multi_tree_is_within_fifteen_percent_of_the_bound_on_the_quickstart_file_job() {
    // Issue 9's target on the quickstart's network with its job as a 30 MB file in 60 chunks.
    // Bound 4.8 s (the client's 50 Mbit/s upload and the DSL servers' 50 Mbit/s download).
    // Measured 1.110× with the default packets (17 per chunk, 1,020 in the file); forwarding
    // whole 500 KB chunks 1.290× (each of the trees' ~3.6 levels then costs a chunk's time at
    // the stripe's rate, about 0.29 s).
    let run = |packets: &str| {
        let mut doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string("scenarios/quickstart.json").unwrap()).unwrap();
        doc["clients"][0]["jobs"][0]["content"] = serde_json::json!({ "kind": "file", "size_mb": 30, "chunks": 60 });
        doc["clients"][0]["jobs"][0]["strategy"] =
            serde_json::from_str(&format!(r#"{{ "kind": "optimal", "packets_per_chunk": {packets} }}"#)).unwrap();
        doc.as_object_mut().unwrap().remove("$schema");
        let r = run_json(&doc.to_string());
        assert!((r.lower_bound_s.unwrap() - 4.8).abs() < 1e-9);
        makespan(&r) / r.lower_bound_s.unwrap()
    };
    let ratio = run(r#""auto""#);
    assert!(ratio <= 1.15, "ratio {ratio}");
    let whole = run("1");
    assert!(whole > 1.2 && whole <= 1.30, "whole chunks: ratio {whole}");
}

#[test]
fn the_swarm_is_within_fifteen_percent_of_the_bound_on_the_homogeneous_reference() {
    // Issue 9's target, 1.15× the bound, on N=100, M=100 over three seeds (measured 1.140,
    // 1.130, 1.130; the bundled N=1,000, M=256 case 1.086×). Before: 1.266× (four upload slots
    // by the mainline rule, a choked piece's slot reused at once), 1.49× before the
    // download-saturation rule and the super-seeding origin, 8.04× before the BitTorrent
    // mechanisms.
    for seed in 1..=3 {
        let json = homogeneous(100, 100, 100.0, r#"{ "kind": "swarm" }"#).replacen(
            r#""seed": 1"#,
            &format!(r#""seed": {seed}"#),
            1,
        );
        let r = run_json(&json);
        let ratio = makespan(&r) / r.lower_bound_s.unwrap();
        assert!(ratio <= 1.15, "seed {seed}: ratio {ratio}");
        let u = r.jobs[0].utilisation.as_ref().expect("swarm jobs report utilisation");
        assert!(u.upload_utilisation > 0.9 && u.upload_utilisation <= 1.0, "seed {seed}: {u:?}");
        // The super-seeding origin sends each piece once before any twice: its injection ends
        // near F/u, and the copies it sends after that feed the tail (1.14 files in all).
        assert!(u.origin_bytes < 125_000_000, "seed {seed}: {u:?}");
    }
}

#[test]
fn the_swarm_uses_the_flash_crowds_upload_while_peers_still_need_pieces() {
    // Issue 9's target, capacity-weighted upload utilisation ≥ 0.85 while peers still need
    // pieces, here on the flash-crowd mix at a tenth (100 peers, 10 MB in 40 pieces): 0.877
    // (0.51 before, 0.33 before the BitTorrent rework); the bundled 1,000-peer case measures
    // 0.910 (0.771 before). Makespan 1.243× the bound (1.31× before).
    let r = run_json(&small_flash_crowd(r#"{ "kind": "swarm" }"#));
    let ratio = makespan(&r) / r.lower_bound_s.unwrap();
    assert!(ratio <= 1.30, "ratio {ratio}");
    let u = r.jobs[0].utilisation.as_ref().expect("swarm jobs report utilisation");
    assert!(u.upload_utilisation >= 0.85, "{u:?}");
}

#[test]
fn the_swarm_sends_nothing_across_a_partition_and_a_crashed_peer_continues() {
    let others: Vec<String> = (4..=30).map(|i| format!("\"peer-{i}\"")).collect();
    let faults = format!(
        r#""faults": {{ "events": [
            {{ "kind": "partition", "at_s": 0.5, "until_s": 2.0,
               "sides": [ ["bs", "peer-1", "peer-2", "peer-3"], [{}] ] }},
            {{ "kind": "crash", "at_s": 1.0, "host": "peer-9", "recover_at_s": 2.5 }} ] }},
          "clients""#,
        others.join(", ")
    );
    let json = homogeneous(30, 40, 40.0, r#"{ "kind": "swarm", "peers": 8 }"#).replacen(r#""clients""#, &faults, 1);
    let scenario = cascade_sim::scenario::parse(&json).unwrap();
    let run = cascade_sim::simulate(&scenario, &Default::default()).unwrap();
    assert_eq!(run.results.unfinished, 0, "everyone finishes once the partition heals");
    let names: Vec<String> = (0..run.engine.topology().host_count())
        .map(|h| run.engine.topology().host(cascade_sim::net::HostId(h as u32)).name.clone())
        .collect();
    let inside =
        |h: cascade_sim::net::HostId| ["bs", "peer-1", "peer-2", "peer-3"].contains(&names[h.0 as usize].as_str());
    let (t0, t1) = (0.5, 2.0);
    for p in run.engine.piece_records() {
        let (a, b) = (p.started_at.as_secs_f64(), p.sent_at.as_secs_f64());
        if inside(p.from) != inside(p.to) {
            assert!(b <= t0 || a >= t1, "piece {} crossed the partition {a}..{b}", p.piece);
        }
        if names[p.from.0 as usize] == "peer-9" || names[p.to.0 as usize] == "peer-9" {
            assert!(b <= 1.0 || a >= 2.5, "peer-9 traded while down: {a}..{b}");
        }
    }
    // peer-9 kept what it held: it received the file about once (endgame may add a copy).
    let node = run.results.nodes.iter().find(|n| n.node == "peer-9").unwrap();
    assert!(node.bytes_received >= 40_000_000 && node.bytes_received <= 42_000_000, "{}", node.bytes_received);
    assert!(node.completion_s.unwrap() > 2.5);
}

#[test]
fn the_swarm_runs_a_live_stream_whose_log_is_empty_when_peers_join() {
    // Regression: the swarm's rechoke period reads the first piece's size, which a live
    // stream has not sent yet when the peers join (it panicked on the quickstart).
    let json = homogeneous(20, 10, 10.0, r#"{ "kind": "swarm", "peers": 8 }"#).replace(
        r#"{ "kind": "file", "size_mb": 10, "chunks": 10 }"#,
        r#"{ "kind": "live", "rate_mbps": 8, "duration_s": 5, "chunk_s": 1 }"#,
    );
    assert!(json.contains("live"));
    let r = run_json(&json);
    assert_eq!(r.unfinished, 0);
}

fn bundled(path: &str) -> Results {
    run_json(&std::fs::read_to_string(path).unwrap())
}

#[test]
fn the_default_cascade_on_the_registry_case_is_within_the_leads_target_of_the_bound() {
    // 1 GB pre-seeded at three 10 Gbit/s origins, 1,000 hosts at 1-10 Gbit/s: the bound is
    // F/d_min = 8,000 Mbit / 1,000 Mbit/s = 8 s (one copy out of the origins' 30 Gbit/s takes
    // 0.27 s). The lead's target for the default cascade is 1.3x; it measures 8.545 s (1.07x).
    let r = bundled("scenarios/references/registry.json");
    assert_eq!(ns(r.lower_bound_s.unwrap()), ns(8.0));
    assert_eq!(r.workload_lower_bound_s, r.lower_bound_s);
    let m = makespan(&r);
    assert!(m <= 1.3 * 8.0, "makespan {m} s");
    // Every origin streams to first nodes of its own.
    for origin in ["registry", "origin-us", "origin-ap"] {
        let fed: u64 =
            r.nodes.iter().flat_map(|n| n.bytes_from.iter()).filter(|b| b.source == origin).map(|b| b.bytes).sum();
        assert!(fed >= 1_000_000_000, "{origin} sent {fed} bytes");
    }
    // Pre-seeded: nothing waits for the client's 100 Mbit/s upload (1 GB would take 80 s).
    assert!(r.jobs[0].closed_s.unwrap() < 10.0);
}

#[test]
fn the_churn_case_counts_who_left_and_bounds_the_late_joiners() {
    let r = bundled("scenarios/references/churn.json");
    let job = &r.jobs[0];
    let acc = job.accountability.as_ref().unwrap();
    // The 20 flaky servers leave at 3 s, before they can hold 500 MB at 1 Gbit/s (4 s at the
    // very least): left unfinished, not failed; the job closes without them.
    assert_eq!((r.left_unfinished, job.left_unfinished, r.unfinished), (20, 20, 0));
    for s in &acc.servers {
        let flaky = s.server.starts_with("flaky");
        assert_eq!(s.state == "left_unfinished", flaky, "{} {}", s.server, s.state);
        assert_ne!(s.state, "failed");
    }
    assert_eq!(job.outcome, "closed");
    assert_eq!(job.completed, 280);
    // The bound: the last late joiner's join plus 500 MB over its download; at least F/d_min.
    let joins: Vec<f64> =
        r.nodes.iter().filter(|n| n.node.starts_with("late")).filter_map(|n| n.job_object_s).collect();
    assert_eq!(joins.len(), 50);
    let bound = r.lower_bound_s.unwrap();
    assert!(bound > 40.0 && bound >= joins.iter().cloned().fold(0.0, f64::max), "bound {bound}");
    // Joiners are fed by servers already in the cascade and servers whose source left by
    // holders, not all by the base server's 1 Gbit/s (which took 258 s): 69.7 s, 1.38x.
    let m = makespan(&r);
    assert!(m >= bound && m <= 1.5 * bound, "makespan {m} s, bound {bound} s");
}

#[test]
fn the_engine_driven_references_handle_the_churn_case_and_the_multi_tree_re_forms_its_trees() {
    // The churn case under the striped multi-tree: servers leave 5 s after they are done, in
    // a wave, while the late joiners still need 40 s of download. Re-parenting a leaver's
    // children to the nearest live ancestor ended at the base server (392.9 s, 7.80x); the
    // trees are now rebuilt over the servers still in the job: 57.4 s, 1.14x.
    let text = std::fs::read_to_string("scenarios/references/churn.json").unwrap();
    for (strategy, limit) in [("optimal", 1.2), ("swarm", 1.1)] {
        let json =
            text.replace(r#""strategy": { "kind": "cascade" }"#, &format!(r#""strategy": {{ "kind": "{strategy}" }}"#));
        assert_ne!(json, text);
        let r = run_json(&json);
        assert_eq!((r.left_unfinished, r.unfinished), (20, 0), "{strategy}");
        let ratio = makespan(&r) / r.lower_bound_s.unwrap();
        assert!(ratio <= limit, "{strategy}: ratio {ratio}");
    }
}

#[test]
fn results_report_the_closed_form_optimum_of_a_homogeneous_job_only() {
    // N=100, M=100, F/u = 8 s: 106 rounds of 0.08 s = 8.48 s, in the job and in the run.
    let r = run_json(&homogeneous(100, 100, 100.0, r#"{ "kind": "chain" }"#));
    let job = r.jobs[0].optimum_s.expect("homogeneous");
    assert!((job - 8.48).abs() < 1e-9, "{job}");
    assert_eq!(r.optimum_s, Some(job));
    assert!(makespan(&r) >= job);
    // N=7, M=1, 1 MB: one chunk doubles to 8 holders in 3 rounds of 0.08 s.
    let r = run_json(&homogeneous(7, 1, 1.0, r#"{ "kind": "chain" }"#));
    assert!((r.optimum_s.unwrap() - 0.24).abs() < 1e-12);
    // One server uploading half as fast: no closed form.
    let uneven = homogeneous(7, 4, 4.0, r#"{ "kind": "chain" }"#)
        .replace(r#""count": 7, "upload_mbps": 100"#, r#""count": 6, "upload_mbps": 100"#)
        .replace(
            r#""groups": ["#,
            r#""groups": [ { "name": "slow", "count": 1, "upload_mbps": 50, "download_mbps": 100 },"#,
        );
    let r = run_json(&uneven);
    assert_eq!(r.jobs[0].servers, 7);
    assert_eq!((r.jobs[0].optimum_s, r.optimum_s), (None, None));
    // Latency on the servers: no closed form either.
    let late = homogeneous(7, 4, 4.0, r#"{ "kind": "chain" }"#)
        .replace(r#""download_mbps": 100 }"#, r#""download_mbps": 100, "latency_ms": 5 }"#);
    assert_eq!(run_json(&late).optimum_s, None);
}

/// A base server (100 Mbit/s up) with a 10 MB file in one chunk at t=0, server `a` (100 Mbit/s
/// up) and server `b` (50 Mbit/s up), both 100 Mbit/s down, no latency; the multi-tree in one
/// stripe, `packets` packets per chunk.
fn two_servers_one_stripe(packets: u32) -> Results {
    run_json(&format!(
        r#"{{ "name": "p", "seed": 1, "network": {{
            "base_server": {{ "name": "bs", "upload_mbps": 100, "download_mbps": 10000 }},
            "hosts": [ {{ "name": "a", "upload_mbps": 100, "download_mbps": 100 }},
                       {{ "name": "b", "upload_mbps": 50, "download_mbps": 100 }} ] }},
          "clients": [ {{ "name": "c", "upload_mbps": 10000, "download_mbps": 10000,
            "jobs": [ {{ "name": "f", "content": {{ "kind": "file", "size_mb": 10, "chunks": 1, "at_origins": true }},
                        "strategy": {{ "kind": "optimal", "stripes": 1, "packets_per_chunk": {packets} }} }} ] }} ] }}"#
    ))
}

#[test]
fn the_multi_tree_forwards_a_packet_as_soon_as_it_holds_it() {
    // Worked by hand: `a` (the larger upload) is the stripe's root and `b` its child. Whole:
    // the base server sends the 80 Mbit chunk to `a` in 0.8 s, `a` to `b` in 0.8 s more: 1.6 s.
    // In 4 packets of 20 Mbit: `a` holds packet k at 0.2·k s and sends it on at once at its
    // 100 Mbit/s (0.2 s each), so `b` holds the last one at 0.8 + 0.2 = 1.0 s.
    let whole = two_servers_one_stripe(1);
    assert!((makespan(&whole) - 1.6).abs() < 1e-6, "{:?}", whole.makespan_s);
    let packets = two_servers_one_stripe(4);
    assert!((makespan(&packets) - 1.0).abs() < 1e-6, "{:?}", packets.makespan_s);
    // The servers' roles get the whole chunk: the bytes of the file each, once.
    assert_eq!(packets.nodes.len(), 2);
    for node in &packets.nodes {
        assert_eq!(node.bytes_received, 10_000_000, "{node:?}");
        assert_eq!(node.bytes_resent, 0, "{node:?}");
    }
}
