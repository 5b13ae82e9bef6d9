//! Fast fuzzing in `cargo test`: arbitrary JSON, mutants of the bundled scenarios and
//! text-level mutants go through the reader, validation and short runs (fixed proptest seeds,
//! so every run of the suite checks the same inputs). The invariant is [`exercise`]'s: a
//! result or one one-line `ScenarioError`, never a panic. `examples/fuzz.rs` runs the same
//! generators for as long as asked.

use crate::fuzz_gen::{arbitrary_json, corpus, edit_text, exercise, mutant, mutate, text_edit, Outcome, RunLimits};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

/// Small runs only: debug builds are slow.
const LIMITS: RunLimits = RunLimits { max_hosts: 64, max_item_deliveries: 20_000, horizon_s: 60.0, render: false };

fn runner(cases: u32, seed: u64) -> TestRunner {
    TestRunner::new(Config { cases, rng_seed: RngSeed::Fixed(seed), failure_persistence: None, ..Config::default() })
}

#[test]
fn arbitrary_json_is_read_without_panic() {
    runner(400, 12)
        .run(&arbitrary_json(), |doc| {
            exercise(&doc.to_string(), LIMITS).map_err(TestCaseError::fail)?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn mutants_of_the_bundled_scenarios_end_in_a_result_or_one_error() {
    let corpus = corpus();
    let outcomes = std::cell::RefCell::new([0usize; 3]);
    runner(300, 13)
        .run(&mutant(), |(index, edits)| {
            let doc = mutate(corpus[index % corpus.len()].clone(), &edits);
            let outcome = exercise(&doc.to_string(), LIMITS).map_err(TestCaseError::fail)?;
            outcomes.borrow_mut()[outcome as usize] += 1;
            Ok(())
        })
        .unwrap();
    // The mutants reach every stage, not only the parser.
    let outcomes = outcomes.into_inner();
    assert!(outcomes.iter().all(|&n| n > 0), "rejected, validated, ran: {outcomes:?}");
}

#[test]
fn text_mutants_are_read_without_panic() {
    let texts: Vec<String> = corpus().iter().map(|d| serde_json::to_string_pretty(d).unwrap()).collect();
    runner(300, 14)
        .run(&(any::<usize>(), text_edit()), |(index, edit)| {
            exercise(&edit_text(&texts[index % texts.len()], &edit), LIMITS).map_err(TestCaseError::fail)?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_bundled_scenarios_themselves_are_valid() {
    for doc in corpus() {
        assert_ne!(exercise(&doc.to_string(), LIMITS).unwrap(), Outcome::Rejected, "{}", doc["name"]);
    }
}
