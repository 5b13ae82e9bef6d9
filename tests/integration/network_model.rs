//! The bandwidth model checked through raw transfers, against numbers worked out by hand.
//! 800 Mbit/s is 100 MB/s; sizes are in MB of 10^6 bytes.

use crate::util::{ns, run_json, transfer_finish_ns};

#[test]
fn three_transfers_on_one_100_mb_per_s_link_end_at_3_5_6_s() {
    // Hosts have plenty of capacity; the only shared resource is the a–b link.
    let r = run_json(
        r#"{ "name": "link", "network": {
            "hosts": [ { "name": "a", "upload_mbps": 1e6, "download_mbps": 1e6 },
                       { "name": "b", "upload_mbps": 1e6, "download_mbps": 1e6 } ],
            "links": [ { "a": "a", "b": "b", "capacity_mbps": 800 } ] },
          "transfers": [ { "at_s": 0, "from": "a", "to": "b", "size_mb": 100 },
                         { "at_s": 0, "from": "a", "to": "b", "size_mb": 200 },
                         { "at_s": 0, "from": "a", "to": "b", "size_mb": 300 } ] }"#,
    );
    assert_eq!(transfer_finish_ns(&r), vec![ns(3.0), ns(5.0), ns(6.0)]);
    assert_eq!(r.makespan_s, Some(6.0));
}

#[test]
fn three_transfers_sharing_a_sender_upload_end_at_3_5_6_s() {
    let r = run_json(
        r#"{ "name": "upload", "network": { "hosts": [
            { "name": "a", "upload_mbps": 800, "download_mbps": 800 },
            { "name": "b", "upload_mbps": 800, "download_mbps": 800 },
            { "name": "c", "upload_mbps": 800, "download_mbps": 800 },
            { "name": "d", "upload_mbps": 800, "download_mbps": 800 } ] },
          "transfers": [ { "at_s": 0, "from": "a", "to": "b", "size_mb": 100 },
                         { "at_s": 0, "from": "a", "to": "c", "size_mb": 200 },
                         { "at_s": 0, "from": "a", "to": "d", "size_mb": 300 } ] }"#,
    );
    assert_eq!(transfer_finish_ns(&r), vec![ns(3.0), ns(5.0), ns(6.0)]);
}

#[test]
fn a_receiver_bottleneck_frees_sender_capacity_for_the_others() {
    // a uploads 100 MB/s. b downloads only 10 MB/s, so b gets 10 and c, d get 45 each
    // (not 33.3). b's 50 MB end at 5 s; by then c and d have 225 MB each, and share 100 MB/s
    // for the remaining 225 MB: 4.5 s more, ending at 9.5 s.
    let r = run_json(
        r#"{ "name": "bottleneck", "network": { "hosts": [
            { "name": "a", "upload_mbps": 800, "download_mbps": 800 },
            { "name": "b", "upload_mbps": 800, "download_mbps": 80 },
            { "name": "c", "upload_mbps": 800, "download_mbps": 8000 },
            { "name": "d", "upload_mbps": 800, "download_mbps": 8000 } ] },
          "transfers": [ { "at_s": 0, "from": "a", "to": "b", "size_mb": 50 },
                         { "at_s": 0, "from": "a", "to": "c", "size_mb": 450 },
                         { "at_s": 0, "from": "a", "to": "d", "size_mb": 450 } ] }"#,
    );
    assert_eq!(transfer_finish_ns(&r), vec![ns(5.0), ns(9.5), ns(9.5)]);
}

#[test]
fn a_later_transfer_slows_an_earlier_one_from_its_start() {
    // 100 MB alone at 100 MB/s for 0.5 s (50 MB left); then a second 100 MB transfer shares
    // the upload: 50 MB/s each. The first ends at 1.5 s; the second has 50 MB left and ends at
    // 2.0 s at full rate.
    let r = run_json(
        r#"{ "name": "late", "network": { "hosts": [
            { "name": "a", "upload_mbps": 800, "download_mbps": 800 },
            { "name": "b", "upload_mbps": 800, "download_mbps": 800 },
            { "name": "c", "upload_mbps": 800, "download_mbps": 800 } ] },
          "transfers": [ { "at_s": 0, "from": "a", "to": "b", "size_mb": 100 },
                         { "at_s": 0.5, "from": "a", "to": "c", "size_mb": 100 } ] }"#,
    );
    assert_eq!(transfer_finish_ns(&r), vec![ns(1.5), ns(2.0)]);
}

#[test]
fn latency_adds_exactly_once_per_transfer() {
    // 100 MB at 100 MB/s is 1 s; access latencies 10 ms + 20 ms are added once.
    let r = run_json(
        r#"{ "name": "latency", "network": { "hosts": [
            { "name": "a", "upload_mbps": 800, "download_mbps": 800, "latency_ms": 10 },
            { "name": "b", "upload_mbps": 800, "download_mbps": 800, "latency_ms": 20 } ] },
          "transfers": [ { "at_s": 0, "from": "a", "to": "b", "size_mb": 100 } ] }"#,
    );
    assert_eq!(transfer_finish_ns(&r), vec![ns(1.03)]);
}

#[test]
fn routes_follow_the_lowest_latency_path_and_add_its_latency_once() {
    // a–r1–b costs 5 + 5 ms; a–r2–r3–b costs 1 + 1 + 1 ms but its middle link is slow
    // (80 Mbit/s = 10 MB/s). The route takes the low-latency path: 10 MB at 10 MB/s = 1 s,
    // plus 3 ms.
    let r = run_json(
        r#"{ "name": "routes", "network": {
            "hosts": [ { "name": "a", "upload_mbps": 800, "download_mbps": 800 },
                       { "name": "b", "upload_mbps": 800, "download_mbps": 800 } ],
            "routers": [ "r1", "r2", "r3" ],
            "links": [ { "a": "a", "b": "r1", "capacity_mbps": 800, "latency_ms": 5 },
                       { "a": "r1", "b": "b", "capacity_mbps": 800, "latency_ms": 5 },
                       { "a": "a", "b": "r2", "capacity_mbps": 800, "latency_ms": 1 },
                       { "a": "r2", "b": "r3", "capacity_mbps": 80, "latency_ms": 1 },
                       { "a": "r3", "b": "b", "capacity_mbps": 800, "latency_ms": 1 } ] },
          "transfers": [ { "at_s": 0, "from": "a", "to": "b", "size_mb": 10 } ] }"#,
    );
    assert_eq!(transfer_finish_ns(&r), vec![ns(1.003)]);
}

#[test]
fn thousands_of_transfers_sharing_one_upload_end_at_the_closed_form_to_the_nanosecond() {
    // Transfer k of 1, 2, .., n MB behind one 100 MB/s upload: when transfer k ends, every
    // transfer still running has sent k MB, so it ends sum_{j<=k} (n - j + 1) MB / (100 MB/s)
    // after the start, a multiple of 10 ms.
    let n = 3000u64;
    let r = cascade_sim::run(&cascade_sim::bench::shared_upload_scenario(n as u32), None).unwrap();
    let mut elapsed_10ms = 0;
    for (k, finish) in (1..=n).zip(transfer_finish_ns(&r)) {
        elapsed_10ms += n - k + 1;
        assert_eq!(finish, elapsed_10ms * 10_000_000, "transfer {k}");
    }
}
