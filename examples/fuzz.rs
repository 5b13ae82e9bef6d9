//! Long fuzzing of the scenario reader and of short runs, with the generators of the fast
//! property tests (`tests/integration/fuzz_gen.rs`): arbitrary JSON, structure-aware mutants of
//! the bundled scenarios (the seed corpus) and text-level mutants, in turn.
//!
//! ```text
//! ulimit -v 4000000   # a 4 GB address-space cap: an over-limit allocation aborts the driver
//! cargo run --release --example fuzz -- [EXECUTIONS (default 100000)] [SEED (default 1)]
//! ```
//!
//! Every input goes through `scenario::parse` and `Scenario::build`; a valid input with at most
//! 300 hosts and 200,000 item deliveries also runs with its horizon cut to 120 s, and every
//! 25th run renders every output file. The invariant: a result or one one-line
//! `ScenarioError`, never a panic. A watchdog aborts the driver (exit 3) when one input takes
//! more than 10 s, after saving it. Failing inputs are saved in `target/fuzz-failures/`. At
//! the end the driver prints executions, outcomes, the time taken, the slowest input and the
//! peak resident memory.

#[path = "../tests/integration/fuzz_gen.rs"]
mod fuzz_gen;

use fuzz_gen::{arbitrary_json, corpus, edit_text, exercise, mutant, mutate, text_edit, Outcome, RunLimits};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WATCHDOG: Duration = Duration::from_secs(10);

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn save_failure(kind: &str, n: u64, text: &str) -> String {
    let dir = std::path::Path::new("target/fuzz-failures");
    std::fs::create_dir_all(dir).expect("target/fuzz-failures");
    let path = dir.join(format!("{kind}-{n}.json"));
    std::fs::write(&path, text).expect("failure saved");
    path.display().to_string()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let executions: u64 = args.next().map_or(100_000, |a| a.parse().expect("EXECUTIONS is a number"));
    let seed: u64 = args.next().map_or(1, |a| a.parse().expect("SEED is a number"));
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));

    let corpus = corpus();
    let texts: Vec<String> = corpus.iter().map(|d| serde_json::to_string_pretty(d).expect("JSON")).collect();
    let json = arbitrary_json();
    let mutants = mutant();
    let text_edits = (proptest::arbitrary::any::<usize>(), text_edit());

    // The watchdog: the start of the current input (ms since `origin`, 0 when idle).
    let origin = Instant::now();
    let started = Arc::new(AtomicU64::new(0));
    let current = Arc::new(Mutex::new(String::new()));
    {
        let (started, current) = (started.clone(), current.clone());
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(500));
            let at = started.load(Ordering::SeqCst);
            if at != 0 && origin.elapsed().as_millis() as u64 - at > WATCHDOG.as_millis() as u64 {
                let text = current.lock().map(|t| t.clone()).unwrap_or_default();
                let path = save_failure("hang", at, &text);
                eprintln!("HANG: one input took more than {WATCHDOG:?}; saved as {path}");
                std::process::exit(3);
            }
        });
    }

    let mut outcomes = [0u64; 3];
    let (mut failures, mut slowest, mut slowest_kind) = (0u64, Duration::ZERO, "");
    let begin = Instant::now();
    for n in 0..executions {
        let (kind, text) = match n % 5 {
            0 | 1 => ("json", json.new_tree(&mut runner).expect("value").current().to_string()),
            2 | 3 => {
                let (index, edits) = mutants.new_tree(&mut runner).expect("value").current();
                ("mutant", mutate(corpus[index % corpus.len()].clone(), &edits).to_string())
            }
            _ => {
                let (index, edit) = text_edits.new_tree(&mut runner).expect("value").current();
                ("text", edit_text(&texts[index % texts.len()], &edit))
            }
        };
        let render = outcomes[Outcome::Ran as usize] % 25 == 0;
        let limits = RunLimits { max_hosts: 300, max_item_deliveries: 200_000, horizon_s: 120.0, render };
        *current.lock().expect("lock") = text.clone();
        let t0 = Instant::now();
        started.store(origin.elapsed().as_millis().max(1) as u64, Ordering::SeqCst);
        let result = std::panic::catch_unwind(|| exercise(&text, limits));
        started.store(0, Ordering::SeqCst);
        let took = t0.elapsed();
        if took > slowest {
            (slowest, slowest_kind) = (took, kind);
        }
        match result {
            Ok(Ok(outcome)) => outcomes[outcome as usize] += 1,
            Ok(Err(broken)) => {
                failures += 1;
                eprintln!("INVARIANT: {broken}; saved as {}", save_failure(kind, n, &text));
            }
            Err(_) => {
                failures += 1;
                eprintln!("PANIC; saved as {}", save_failure(kind, n, &text));
            }
        }
        if (n + 1) % 100_000 == 0 {
            eprintln!("{} executions, {:.0} s", n + 1, begin.elapsed().as_secs_f64());
        }
    }
    println!(
        "{executions} executions (seed {seed}) in {:.1} s: {} rejected, {} validated only, {} validated and run; \
         {failures} failure(s); slowest input {:.3} s ({slowest_kind}); peak resident memory {} MB",
        begin.elapsed().as_secs_f64(),
        outcomes[Outcome::Rejected as usize],
        outcomes[Outcome::Validated as usize],
        outcomes[Outcome::Ran as usize],
        slowest.as_secs_f64(),
        peak_rss_kb() / 1024
    );
    if failures > 0 {
        std::process::exit(1);
    }
}
