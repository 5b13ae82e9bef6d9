//! Faults, the base server's duty and resume, on small scenarios worked out by hand.
//! Every host moves 1 MB/s (8 Mbit/s) and latency is zero unless said otherwise. The job's
//! expected completion (its lower bound) is 4 s, so the wait period is 1 s (a quarter of it, at
//! least 1 s) and T0 is 4 s: the base server checks at 5, 6, 7 s...; a query gets 2 s and a
//! repair takes 15 s (the defaults). A lost control message is retransmitted after 0.2 s,
//! 0.4 s, 0.8 s... (at most 5 s apart) for up to 30 s.

use crate::util::{completion_ns, ns, run_json};
use cascade_sim::report::Results;

/// client → bs → n1 → n2 (fanout 1), a 4 MB file in 1 MB chunks, with `faults`.
fn chain(faults: &str, resume: bool) -> String {
    format!(
        r#"{{ "name": "chain-faults", "network": {{
            "base_server": {{ "name": "bs", "upload_mbps": 8, "download_mbps": 8 }},
            "hosts": [ {{ "name": "n1", "upload_mbps": 8, "download_mbps": 8 }},
                       {{ "name": "n2", "upload_mbps": 8, "download_mbps": 8 }} ] }},
          "clients": [ {{ "name": "c", "upload_mbps": 8, "download_mbps": 8,
            "jobs": [ {{ "name": "j", "content": {{ "kind": "file", "size_mb": 4, "chunks": 4 }},
                        "strategy": {{ "kind": "cascade", "fanout": 1, "rate_sort": false }} }} ] }} ],
          "faults": {{ "resume": {resume}, "events": [ {faults} ] }} }}"#
    )
}

fn node<'a>(r: &'a Results, name: &str) -> &'a cascade_sim::report::results::NodeResult {
    r.nodes.iter().find(|n| n.node == name).unwrap()
}

fn account<'a>(r: &'a Results, name: &str) -> &'a cascade_sim::report::results::ServerAccount {
    let a = r.jobs[0].accountability.as_ref().unwrap();
    a.servers.iter().find(|s| s.server == name).unwrap()
}

const RELAY_CRASH: &str = r#"{ "kind": "crash", "at_s": 3.5, "host": "n1" }"#;

#[test]
fn a_relay_crash_is_repaired_and_everyone_resumes_from_its_offset() {
    // Without faults: bs holds chunk k at k+1 s, n1 at k+2, n2 at k+3.
    // At 3.5 s n1 crashes: it holds chunks 0-1 and half of chunk 2; n2 holds chunk 0 and half
    // of chunk 1. n2 asks the base server, which streams from byte 500,000 of chunk 1: the
    // half chunk by 4 s, chunk 2 by 5 s, chunk 3 (at bs since 4 s) by 6 s — as early as without
    // the crash. The base server checks on the source n2 lost at once ([0062]: a server is
    // recovered before or after the job's end): no answer by 5.5 s, a repair until 20.5 s,
    // then it reactivates n1: n1 resumes at byte 500,000 of chunk 2 and is done at 22 s, when
    // the job closes.
    let r = run_json(&chain(RELAY_CRASH, true));
    assert_eq!(completion_ns(&r, "n2"), ns(6.0));
    assert_eq!(completion_ns(&r, "n1"), ns(22.0));
    for n in ["n1", "n2"] {
        assert_eq!((node(&r, n).bytes_received, node(&r, n).bytes_resent), (4_000_000, 0), "{n}");
    }
    let from: Vec<_> = node(&r, "n2").bytes_from.iter().map(|b| (b.source.as_str(), b.bytes)).collect();
    assert_eq!(from, vec![("bs", 2_500_000), ("n1", 1_500_000)]);
    let job = &r.jobs[0];
    assert_eq!((job.closed_s, job.client_notified_s), (Some(22.0), Some(22.0)));
    let (a1, a2) = (account(&r, "n1"), account(&r, "n2"));
    // Queried at 3.5 s (answered only after the repair, at 20.5 s), then at the wait periods
    // of 21 and 22 s, which had seen no progress of it (its notices come every tenth of the
    // content: 21 s and 22 s).
    assert_eq!((a1.state.as_str(), a1.queries, a1.repairs), ("repaired_then_completed", 3, 1));
    // n2 lost its source: a fault, and no repair.
    assert_eq!((a2.state.as_str(), a2.repairs), ("completed_after_fault", 0));
    let duty = job.duty.as_ref().unwrap();
    assert_eq!((duty.expected_s, duty.t0_s, duty.wait_period_s), (4.0, Some(4.0), 1.0));
    let acc = job.accountability.as_ref().unwrap();
    assert!(acc.consistent && acc.reported_done == 2 && acc.truly_done == 2);
    assert_eq!(r.faults.len(), 1);
}

#[test]
fn without_resume_the_same_crash_costs_bytes_and_time() {
    // The prior art ([0005]): n2 starts over at 3.5 s (chunk 0 again: 1 MB re-sent, done at
    // 7.5 s); n1 starts over after its repair at 20.5 s (chunks 0-1 again, done at 24.5 s).
    let r = run_json(&chain(RELAY_CRASH, false));
    assert_eq!((completion_ns(&r, "n2"), completion_ns(&r, "n1")), (ns(7.5), ns(24.5)));
    assert_eq!((node(&r, "n2").bytes_resent, node(&r, "n1").bytes_resent), (1_000_000, 2_000_000));
    assert!(r.jobs[0].accountability.as_ref().unwrap().consistent);
}

#[test]
fn a_server_that_never_comes_back_is_given_up_on_and_the_client_is_told() {
    // n1 dies for good at 3.5 s; n2 is served by the base server (done at 6 s), which queries
    // n1 at once: no answer by 5.5 s; three repairs fail at 20.5, 35.5 and 50.5 s: the client
    // hears of the expected wait twice, then of the failure and the closing.
    let r = run_json(&chain(r#"{ "kind": "crash", "at_s": 3.5, "host": "n1", "permanent": true }"#, true));
    assert_eq!(completion_ns(&r, "n2"), ns(6.0));
    let job = &r.jobs[0];
    let acc = job.accountability.as_ref().unwrap();
    let notices: Vec<_> = acc.client_notices.iter().map(|n| (n.t_s, n.notice.as_str())).collect();
    assert_eq!(
        notices,
        vec![
            (20.5, "n1 under repair: expect 15.0 s more"),
            (35.5, "n1 under repair: expect 15.0 s more"),
            (50.5, "n1 failed: not repaired after 3 attempt(s)"),
            (50.5, "job closed, 1 server(s) failed"),
        ]
    );
    let a1 = account(&r, "n1");
    assert_eq!((a1.state.as_str(), a1.repairs, a1.truly_done), ("failed", 3, false));
    assert_eq!(job.closed_s, Some(50.5));
    assert!(acc.consistent);
}

#[test]
fn a_partition_cuts_a_stream_and_the_base_server_reconnects_after_it_heals() {
    // bs is cut off from n1 and n2 from 2.5 s to 20 s. The stream bs → n1 breaks: n1 holds
    // chunk 0 (since 2 s) and half of chunk 1; its request for a new source is retransmitted
    // at 2.5, 2.7, 3.1, 3.9, 5.5, 8.7, 13.7, 18.7 and gets through at 23.7 s, the first attempt
    // after the heal. n1 → n2 is on one side and stays: n2 gets chunk 0 at 3 s, then the
    // stream stalls; n2's progress notice of 3 s gets through at 24.2 s, and everything n2
    // sends waits behind it. The base server's queries of 5 s go unanswered (7 s): both hosts
    // are found running when the repairs end at 22 s (no repair needed) and are asked again.
    // n1's request for a source reaches the base server at 23.7 s, which streams the 2.5 MB
    // n1 lacks: done at 26.2 s. n2's answer (24.2 s) shows it waits behind n1, which is being
    // fed, so it keeps its source: n1 relays every chunk on as it arrives, n2 is done at 27.2 s.
    let r = run_json(&chain(
        r#"{ "kind": "partition", "at_s": 2.5, "sides": [["bs"], ["n1", "n2"]], "until_s": 20 }"#,
        true,
    ));
    assert_eq!((completion_ns(&r, "n1"), completion_ns(&r, "n2")), (ns(26.2), ns(27.2)));
    for n in ["n1", "n2"] {
        assert_eq!((node(&r, n).bytes_received, node(&r, n).bytes_resent), (4_000_000, 0), "{n}");
        assert_eq!((account(&r, n).state.as_str(), account(&r, n).repairs), ("completed_after_fault", 1), "{n}");
    }
    assert_eq!(node(&r, "n2").received_from, vec!["n1".to_string()]);
    assert!(r.messages_lost >= 2);
    assert!(r.jobs[0].accountability.as_ref().unwrap().consistent);
}

#[test]
fn a_cut_link_stalls_transfers_and_a_restored_one_resumes_them() {
    // 4 MB over a 1 MB/s link, cut from 1 s to 3 s and again from 4 s to 5 s: 3 s late.
    let r = run_json(
        r#"{ "name": "flap", "network": {
            "hosts": [ { "name": "a", "upload_mbps": 800, "download_mbps": 800 },
                       { "name": "b", "upload_mbps": 800, "download_mbps": 800 } ],
            "links": [ { "a": "a", "b": "b", "capacity_mbps": 8 } ] },
          "transfers": [ { "at_s": 0, "from": "a", "to": "b", "size_mb": 4 } ],
          "faults": { "events": [
            { "kind": "link_cut", "at_s": 1, "a": "a", "b": "b", "until_s": 3 },
            { "kind": "link_cut", "at_s": 4, "a": "a", "b": "b", "until_s": 5 } ] } }"#,
    );
    assert_eq!(r.transfers[0].finish_s, Some(7.0));
    assert_eq!(r.faults.len(), 4);
}

#[test]
fn a_slowdown_halves_capacity_for_its_duration() {
    // 4 MB at 1 MB/s; the sender runs at half speed from 1 s to 3 s (1 MB instead of 2):
    // done at 5 s.
    let r = run_json(
        r#"{ "name": "slow", "network": { "hosts": [
            { "name": "a", "upload_mbps": 8, "download_mbps": 8 },
            { "name": "b", "upload_mbps": 8, "download_mbps": 8 } ] },
          "transfers": [ { "at_s": 0, "from": "a", "to": "b", "size_mb": 4 } ],
          "faults": { "events": [ { "kind": "slowdown", "at_s": 1, "host": "a", "factor": 0.5, "until_s": 3 } ] } }"#,
    );
    assert_eq!(r.transfers[0].finish_s, Some(5.0));
}

#[test]
fn lost_notifications_are_recovered_by_status_queries() {
    // Every message to or from n2 is lost from 5.5 s to 40 s, so its completion notices (6 s)
    // are retransmitted until the transport gives up at 36 s. The base server's queries go
    // unanswered; the technicians find n2 running (no repair needed, so no delay notice for a
    // server that is in fact done). A query retransmitted at 40 s, as the losses stop, gets
    // through: n2 is done, and the job closes.
    let r = run_json(&chain(
        r#"{ "kind": "message_loss", "at_s": 5.5, "probability": 1.0, "host": "n2", "until_s": 40 }"#,
        true,
    ));
    assert_eq!(completion_ns(&r, "n2"), ns(6.0));
    let a2 = account(&r, "n2");
    assert_eq!(a2.state, "completed_after_fault");
    assert!(a2.repairs <= 3);
    let job = &r.jobs[0];
    assert_eq!(job.closed_s, Some(40.0));
    let acc = job.accountability.as_ref().unwrap();
    assert!(acc.consistent);
    let notices: Vec<_> = acc.client_notices.iter().map(|n| n.notice.as_str()).collect();
    assert_eq!(notices, vec!["job closed, 0 server(s) failed"], "no delay notice for a finished server");
    assert!(r.messages_undeliverable >= 1, "n2's completion notice was given up on");
}

#[test]
fn every_bundled_fault_scenario_gives_a_true_account() {
    let mut checked = 0;
    for entry in std::fs::read_dir("scenarios").unwrap() {
        let path = entry.unwrap().path();
        let Ok(scenario) = cascade_sim::scenario::load(&path) else { continue };
        if scenario.faults.is_none() {
            continue;
        }
        let r = cascade_sim::run(&scenario, None).unwrap();
        assert!(!r.faults.is_empty(), "{}: faults happened", path.display());
        for job in &r.jobs {
            let acc = job.accountability.as_ref().unwrap();
            assert!(acc.consistent, "{}: the base server reports a server complete that is not", path.display());
            assert!(job.closed_s.is_some(), "{}: the job closes", path.display());
            for s in &acc.servers {
                assert_eq!(
                    s.state != "failed",
                    s.truly_done,
                    "{}: {} is {} but truly_done={}",
                    path.display(),
                    s.server,
                    s.state,
                    s.truly_done
                );
            }
        }
        assert!(r.nodes.iter().all(|n| n.bytes_resent == 0), "{}: resume never re-sends", path.display());
        checked += 1;
    }
    assert!(checked >= 5, "the five fault scenarios at least");
}

mod random_schedules {
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Fault {
        Crash { host: u8, at: f64, down: Option<f64>, permanent: bool },
        Partition { split: u8, at: f64, length: f64 },
        Loss { host: u8, at: f64, length: f64, probability: f64 },
    }

    fn fault() -> impl Strategy<Value = Fault> {
        prop_oneof![
            (0u8..8, 0.0f64..12.0, proptest::option::of(0.5f64..40.0), proptest::bool::weighted(0.15)).prop_map(
                |(host, at, down, permanent)| Fault::Crash {
                    host,
                    at,
                    down: if permanent { None } else { down },
                    permanent
                }
            ),
            (1u8..8, 0.0f64..12.0, 1.0f64..40.0).prop_map(|(split, at, length)| Fault::Partition { split, at, length }),
            (0u8..8, 0.0f64..12.0, 1.0f64..40.0, 0.1f64..1.0).prop_map(|(host, at, length, probability)| Fault::Loss {
                host,
                at,
                length,
                probability
            }),
        ]
    }

    fn json(faults: &[Fault], seed: u64) -> String {
        let events: Vec<String> = faults
            .iter()
            .map(|f| match f {
                Fault::Crash { host, at, down, permanent } => {
                    let recover = down.map_or(String::new(), |d| format!(r#", "recover_at_s": {}"#, at + d));
                    format!(r#"{{ "kind": "crash", "at_s": {at}, "host": "n-{}"{recover}, "permanent": {permanent} }}"#, host + 1)
                }
                Fault::Partition { split, at, length } => {
                    let side = |r: std::ops::Range<u8>| r.map(|i| format!(r#""n-{}""#, i + 1)).collect::<Vec<_>>().join(",");
                    format!(
                        r#"{{ "kind": "partition", "at_s": {at}, "sides": [[{}], ["bs", {}]], "until_s": {} }}"#,
                        side(0..*split),
                        side(*split..8),
                        at + length
                    )
                }
                Fault::Loss { host, at, length, probability } => format!(
                    r#"{{ "kind": "message_loss", "at_s": {at}, "probability": {probability}, "host": "n-{}", "until_s": {} }}"#,
                    host + 1,
                    at + length
                ),
            })
            .collect();
        format!(
            r#"{{ "name": "random-faults", "seed": {seed}, "horizon_s": 5000, "network": {{
                "base_server": {{ "name": "bs", "upload_mbps": 16, "download_mbps": 80,
                                  "duty": {{ "repair_s": 10, "repair_success": 0.7, "max_repairs": 4 }} }},
                "groups": [ {{ "name": "n", "count": 8, "upload_mbps": {{ "uniform": [4, 16] }}, "download_mbps": 16,
                               "latency_ms": {{ "uniform": [1, 20] }} }} ] }},
              "clients": [ {{ "name": "c", "upload_mbps": 80, "download_mbps": 80,
                "jobs": [ {{ "name": "j", "content": {{ "kind": "file", "size_mb": 4, "chunks": 8 }},
                            "strategy": {{ "kind": "cascade", "fanout": 2 }},
                            "commands": [ {{ "name": "run", "at_s": 2, "data_mb": 0.5, "exec_s": 3 }} ] }} ] }} ],
              "faults": {{ "events": [ {} ] }} }}"#,
            events.join(",")
        )
    }

    proptest! {
        // A fixed seed: the same 64 schedules on every run, so the suite stays deterministic.
        #![proptest_config(ProptestConfig {
            cases: 64,
            rng_seed: proptest::test_runner::RngSeed::Fixed(20021130),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]
        #[test]
        fn the_base_servers_account_is_true_under_random_fault_schedules(
            faults in proptest::collection::vec(fault(), 0..5),
            seed in 0u64..1000,
        ) {
            let r = crate::util::run_json(&json(&faults, seed));
            let job = &r.jobs[0];
            let acc = job.accountability.as_ref().unwrap();
            prop_assert!(acc.consistent, "a server reported complete is not: {:?}", acc.servers);
            let permanent = faults.iter().any(|f| matches!(f, Fault::Crash { permanent: true, .. }));
            if !permanent {
                prop_assert!(job.closed_s.is_some(), "without a dead server the job closes");
            }
            prop_assert!(job.closed_s.is_some() || r.end_s >= 4999.0, "the job closes or the horizon ends the run");
            for n in &r.nodes {
                prop_assert_eq!(n.bytes_resent, 0, "resume never sends a byte twice");
                // Content and command data arrive at least once; more only where a crash lost
                // whole items on their way (never data the server held: `bytes_resent`).
                if n.done_s.is_some() {
                    prop_assert!(n.bytes_received >= 4_500_000, "{} received {}", n.node, n.bytes_received);
                }
            }
        }
    }
}
