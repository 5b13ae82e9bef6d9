//! Property tests: the incremental max-min solver agrees with the naive reference on random
//! flow sets, through every start and end, and its allocations are max-min fair.

use cascade_sim::kernel::SimTime;
use cascade_sim::net::{reference_max_min, FlowId, FlowModel, ResourceId};
use proptest::prelude::*;

fn instance() -> impl Strategy<Value = (Vec<f64>, Vec<Vec<usize>>, Vec<usize>)> {
    (2usize..8).prop_flat_map(|resources| {
        let caps = proptest::collection::vec(1.0f64..1000.0, resources);
        let flows = proptest::collection::vec(
            proptest::sample::subsequence((0..resources).collect::<Vec<_>>(), 1..=3.min(resources)),
            1..12,
        );
        (caps, flows).prop_flat_map(|(caps, flows)| {
            let order = Just((0..flows.len()).collect::<Vec<_>>()).prop_shuffle();
            (Just(caps), Just(flows), order)
        })
    })
}

fn check(
    model: &mut FlowModel,
    caps: &[f64],
    paths: &[Vec<usize>],
    active: &[(usize, FlowId)],
) -> Result<(), TestCaseError> {
    let subset: Vec<Vec<usize>> = active.iter().map(|&(i, _)| paths[i].clone()).collect();
    let expected = reference_max_min(caps, &subset);
    let rates: Vec<f64> = active.iter().map(|&(_, id)| model.rate(id)).collect();
    for (r, e) in rates.iter().zip(&expected) {
        prop_assert!((r - e).abs() <= 1e-9 * e.abs().max(1.0), "rate {r} vs reference {e}");
    }
    // Feasible, and every flow has a saturated bottleneck where it is among the largest.
    for (res, &cap) in caps.iter().enumerate() {
        let load: f64 = subset.iter().zip(&rates).filter(|(p, _)| p.contains(&res)).map(|(_, r)| r).sum();
        prop_assert!(load <= cap * (1.0 + 1e-9), "resource {res} overloaded: {load} > {cap}");
    }
    for (k, path) in subset.iter().enumerate() {
        let bottlenecked = path.iter().any(|&res| {
            let on: Vec<f64> = subset.iter().zip(&rates).filter(|(p, _)| p.contains(&res)).map(|(_, &r)| r).collect();
            let load: f64 = on.iter().sum();
            load >= caps[res] * (1.0 - 1e-9) && on.iter().all(|&r| r <= rates[k] * (1.0 + 1e-9))
        });
        prop_assert!(bottlenecked, "flow {k} has no bottleneck");
    }
    Ok(())
}

proptest! {
    // A fixed seed: the same instances on every run, so the suite stays deterministic.
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_seed: proptest::test_runner::RngSeed::Fixed(65),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]
    #[test]
    fn incremental_solver_matches_the_reference((caps, paths, end_order) in instance()) {
        let mut model = FlowModel::new();
        let resources: Vec<ResourceId> = caps.iter().map(|&c| model.add_resource(c)).collect();
        let mut active = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            let route: Vec<ResourceId> = path.iter().map(|&r| resources[r]).collect();
            let id = model.start_flow(SimTime::ZERO, &route, 1e6);
            active.push((i, id));
            check(&mut model, &caps, &paths, &active)?;
        }
        for (step, &i) in end_order.iter().enumerate() {
            let at = active.iter().position(|&(j, _)| j == i).unwrap();
            let (_, id) = active.remove(at);
            model.end_flow(SimTime(step as u64 + 1), id);
            check(&mut model, &caps, &paths, &active)?;
        }
    }
}
