//! Figures about the simulator itself, printed by `cascade-sim bench`: how many kernel events
//! per second the machine processes, and how long a large cascade takes to simulate. These are
//! measurements for notes and tuning, never assertions (tests stay fast and deterministic).

use crate::kernel::{EventQueue, SimDuration, SimTime};
use crate::scenario::{parse, Scenario};
use std::time::Instant;

/// Events per second of the bare event queue under a hold model (pop one, push one).
pub fn kernel_events_per_sec(pending: usize, operations: usize) -> f64 {
    let mut queue = EventQueue::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        // xorshift64*, deterministic and cheap
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d) % 1_000_000
    };
    for i in 0..pending {
        queue.push(SimTime(next()), i as u64);
    }
    let start = Instant::now();
    for _ in 0..operations {
        let (t, e) = queue.pop().expect("non-empty");
        queue.push(t + SimDuration::from_nanos(next()), e);
    }
    operations as f64 / start.elapsed().as_secs_f64()
}

/// A homogeneous cascade scenario: `nodes` servers of 100 Mbit/s, a 1 Gbit/s base server, a
/// 256 MB file in `chunks` chunks.
pub fn cascade_scenario(nodes: u32, chunks: u32, fanout: u32) -> Scenario {
    parse(&format!(
        r#"{{
        "name": "bench-cascade-{nodes}", "seed": 1,
        "network": {{
            "base_server": {{ "name": "bs", "upload_mbps": 1000, "download_mbps": 1000, "latency_ms": 5 }},
            "groups": [ {{ "name": "n", "count": {nodes}, "upload_mbps": {{ "uniform": [50, 150] }},
                          "download_mbps": 200, "latency_ms": {{ "uniform": [5, 40] }} }} ]
        }},
        "clients": [ {{ "name": "c", "upload_mbps": 1000, "download_mbps": 1000, "latency_ms": 5,
            "jobs": [ {{ "name": "file", "content": {{ "kind": "file", "size_mb": 256, "chunks": {chunks} }},
                       "strategy": {{ "kind": "cascade", "fanout": {fanout}, "first_nodes": {fanout} }} }} ] }} ]
    }}"#
    ))
    .expect("bench scenario is valid")
}

/// Prints the figures.
pub fn print_figures(nodes: u32, chunks: u32, fanout: u32) {
    let eps = kernel_events_per_sec(10_000, 5_000_000);
    println!("kernel: {:.1} M events/s (hold model, 10k pending)", eps / 1e6);
    let scenario = cascade_scenario(nodes, chunks, fanout);
    let start = Instant::now();
    let results = crate::run(&scenario, None).expect("bench scenario runs");
    let wall = start.elapsed().as_secs_f64();
    println!(
        "cascade: {nodes} nodes, {chunks}-chunk file, fanout {fanout}: simulated in {wall:.2} s wall \
         ({} events, {:.2} M events/s); makespan {:.2} s virtual, ratio to bound {:.2}",
        results.events,
        results.events as f64 / wall / 1e6,
        results.makespan_s.unwrap_or(f64::NAN),
        results.ratio_to_bound.unwrap_or(f64::NAN)
    );
}
