//! Criterion benchmarks of the kernel's event queue: raw push/pop throughput and the classic
//! hold model (pop the earliest event, push one a random delay later) at a steady queue size.

use cascade_sim::kernel::{EventQueue, SimDuration, SimTime};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn push_pop(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_queue");
    group.sample_size(20);
    let n = 1_000_000u64;
    group.throughput(Throughput::Elements(n));
    group.bench_function("push_pop_1M_random_times", |b| {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let times: Vec<u64> = (0..n).map(|_| rng.gen_range(0..1_000_000_000)).collect();
        b.iter(|| {
            let mut q = EventQueue::new();
            for (i, &t) in times.iter().enumerate() {
                q.push(SimTime(t), i as u64);
            }
            let mut last = 0;
            while let Some((_, e)) = q.pop() {
                last = e;
            }
            last
        })
    });
    group.finish();
}

fn hold_model(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_queue");
    group.sample_size(20);
    let operations = 1_000_000u64;
    group.throughput(Throughput::Elements(operations));
    for pending in [1_000usize, 100_000] {
        group.bench_with_input(BenchmarkId::new("hold_model", pending), &pending, |b, &pending| {
            let mut rng = ChaCha8Rng::seed_from_u64(2);
            let delays: Vec<u64> = (0..operations).map(|_| rng.gen_range(1..1_000_000)).collect();
            b.iter(|| {
                let mut q = EventQueue::new();
                for i in 0..pending {
                    q.push(SimTime(delays[i % delays.len()]), i as u64);
                }
                for &d in &delays {
                    let (t, e) = q.pop().expect("non-empty");
                    q.push(t + SimDuration::from_nanos(d), e);
                }
                q.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, push_pop, hold_model);
criterion_main!(benches);
