//! Criterion benchmarks of the max-min bandwidth solver: flows starting and ending in a
//! cascade-shaped (sparsely coupled) network, a star where every flow shares one upload, the
//! per-chunk fast path that extends a flow without re-solving, and the raw-transfer workloads of
//! `cascade-sim bench` at small sizes: many flows behind one shared upload, and flows between
//! random pairs of a two-level tree (racks joined to a core), each run to completion.

use cascade_sim::kernel::SimTime;
use cascade_sim::net::{FlowId, FlowModel, ResourceId};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};

/// A 4-ary tree of `n` hosts: each parent uploads to four children.
fn tree(n: usize) -> (FlowModel, Vec<[ResourceId; 2]>) {
    let mut m = FlowModel::new();
    let hosts: Vec<(ResourceId, ResourceId)> =
        (0..n).map(|i| (m.add_resource(1e7 + (i % 7) as f64 * 1e6), m.add_resource(2e7))).collect();
    let paths = (1..n).map(|child| [hosts[(child - 1) / 4].0, hosts[child].1]).collect();
    (m, paths)
}

fn cascade_like(c: &mut Criterion) {
    let mut group = c.benchmark_group("flow_model");
    group.sample_size(10);
    let n = 10_000;
    group.throughput(Throughput::Elements(2 * (n as u64 - 1)));
    group.bench_function("cascade_like_start_end_10k", |b| {
        b.iter(|| {
            let (mut m, paths) = tree(n);
            let mut t = 0;
            let ids: Vec<FlowId> = paths
                .iter()
                .map(|p| {
                    t += 1;
                    let id = m.start_flow(SimTime(t), p, 1e6);
                    m.solve_pending();
                    id
                })
                .collect();
            for id in ids {
                t += 1;
                m.end_flow(SimTime(t), id);
                m.solve_pending();
            }
            m.solver_work
        })
    });
    group.finish();
}

fn star(c: &mut Criterion) {
    let mut group = c.benchmark_group("flow_model");
    group.sample_size(10);
    let n = 1_000;
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("star_1000_run_to_completion", |b| {
        b.iter(|| {
            let mut m = FlowModel::new();
            let up = m.add_resource(1e8);
            for i in 0..n {
                let down = m.add_resource(1e5 * (1 + i % 50) as f64);
                m.start_flow(SimTime::ZERO, &[up, down], 1e6);
            }
            let mut done = 0;
            while let Some(t) = m.next_completion() {
                while let Some(id) = m.pop_completed(t) {
                    m.end_flow(t, id);
                    done += 1;
                }
            }
            done
        })
    });
    group.finish();
}

fn extend_chunk(c: &mut Criterion) {
    let mut group = c.benchmark_group("flow_model");
    group.sample_size(20);
    let chunks = 100_000u64;
    group.throughput(Throughput::Elements(chunks));
    group.bench_function("extend_per_chunk_100k", |b| {
        b.iter(|| {
            let mut m = FlowModel::new();
            let (up, down) = (m.add_resource(1e7), m.add_resource(1e7));
            let id = m.start_flow(SimTime::ZERO, &[up, down], 1e5);
            for _ in 0..chunks {
                let t = m.next_completion().expect("running");
                m.pop_completed(t).expect("due");
                m.extend_flow(t, id, 1e5);
            }
            m.next_completion()
        })
    });
    group.finish();
}

/// Runs every flow to completion, ending each as it completes; returns the last instant.
fn run_to_completion(m: &mut FlowModel) -> SimTime {
    let mut last = SimTime::ZERO;
    while let Some(t) = m.next_completion() {
        while let Some(id) = m.pop_completed(t) {
            m.end_flow(t, id);
        }
        last = t;
    }
    last
}

/// `n` flows of 1..n MB from one 100 MB/s upload to receivers with 100 GB/s downloads.
fn shared_upload(c: &mut Criterion) {
    let mut group = c.benchmark_group("flow_model");
    group.sample_size(10);
    for n in [1_000u64, 10_000] {
        group.throughput(Throughput::Elements(n));
        group.bench_with_input(BenchmarkId::new("shared_upload_run_to_completion", n), &n, |b, &n| {
            b.iter(|| {
                let mut m = FlowModel::new();
                let up = m.add_resource(1e8);
                for k in 1..=n {
                    let down = m.add_resource(1e11);
                    m.start_flow(SimTime::ZERO, &[up, down], k as f64 * 1e6);
                }
                run_to_completion(&mut m)
            })
        });
    }
    group.finish();
}

/// `n` flows of 1..n MB between random pairs of 1,000 clients (100 MB/s up and down) in 10
/// racks joined to a core by 1 GB/s links, all started at once.
fn tree_racks(c: &mut Criterion) {
    let mut group = c.benchmark_group("flow_model");
    group.sample_size(10);
    for n in [1_000u64, 3_000] {
        group.throughput(Throughput::Elements(n));
        group.bench_with_input(BenchmarkId::new("tree_racks_run_to_completion", n), &n, |b, &n| {
            b.iter(|| {
                let mut m = FlowModel::new();
                let clients: Vec<(ResourceId, ResourceId)> =
                    (0..1000).map(|_| (m.add_resource(1e8), m.add_resource(1e8))).collect();
                let racks: Vec<(ResourceId, ResourceId)> =
                    (0..10).map(|_| (m.add_resource(1e9), m.add_resource(1e9))).collect();
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
                for k in 1..=n {
                    let from = rng.gen_range(0..1000usize);
                    let to = (from + rng.gen_range(1..1000usize)) % 1000;
                    let (ra, rb) = (from / 100, to / 100);
                    let route: Vec<ResourceId> = if ra == rb {
                        vec![clients[from].0, clients[to].1]
                    } else {
                        vec![clients[from].0, racks[ra].0, racks[rb].1, clients[to].1]
                    };
                    m.start_flow(SimTime::ZERO, &route, k as f64 * 1e6);
                }
                run_to_completion(&mut m)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, cascade_like, star, extend_chunk, shared_upload, tree_racks);
criterion_main!(benches);
