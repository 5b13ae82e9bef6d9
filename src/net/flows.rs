//! Flow-level bandwidth model: max-min fair sharing, recomputed incrementally.
//!
//! A *resource* is anything with a capacity in bytes per second that transfers share: a host's
//! upload, a host's download, one direction of a link. A *flow* is a transfer in progress; it
//! crosses a fixed set of resources and has some bytes left to send. Rates follow **max-min
//! fairness** computed by progressive filling: repeatedly take the resource whose remaining
//! capacity divided by its unfrozen flows is smallest, give each of those flows that share, and
//! freeze them.
//!
//! Max-min fairness decomposes over connected components of the flow–resource graph, so when a
//! flow starts or ends or a capacity changes, [`FlowModel`] re-solves only the component that
//! contains the change: cost grows with the transfers coupled to the change, not with the network.
//! [`reference_max_min`] is the naive whole-network solver the incremental one is tested against.
//!
//! Changes are batched: starting or ending a flow or changing a capacity only marks the touched
//! resources; the affected component is re-solved once, when the model is next asked for a rate
//! or for its next completion. All changes made at one instant (say, a relay waking its four
//! stalled down-line streams when a chunk arrives) therefore cost one re-solve, not four. A change
//! at a later instant than pending ones first solves the pending ones at their own instant.
//!
//! Completions are kept in a heap with lazy invalidation (a per-flow version); the engine asks
//! [`FlowModel::next_completion`] and pops with [`FlowModel::pop_completed`]. Progress is settled
//! (bytes subtracted) only when a flow's rate changes. Completion times are turned into integer
//! nanoseconds by [`SimDuration::from_secs_f64`], the one rounding point of the simulator.

use crate::kernel::{SimDuration, SimTime};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fmt;

/// A shared capacity (host upload, host download, one direction of a link).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceId(pub u32);

/// A transfer in progress. Ids of ended flows are reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowId(pub u32);

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flow{}", self.0)
    }
}

struct Resource {
    capacity: f64,
    /// Flows crossing this resource; order is irrelevant to the solution.
    flows: Vec<FlowId>,
    // Solver scratch, valid only while `mark == FlowModel::epoch`.
    mark: u64,
    left: f64,
    unfrozen: u32,
}

struct Flow {
    active: bool,
    resources: Vec<ResourceId>,
    /// `positions[k]` is this flow's index in `resources[k].flows`.
    positions: Vec<u32>,
    rate: f64,
    remaining: f64,
    last_update: SimTime,
    /// Bumped whenever the scheduled completion changes; stale heap entries are skipped.
    version: u64,
    /// True while the heap holds an entry with the current version.
    scheduled: bool,
    /// Rate before the current re-solve (solver scratch).
    old_rate: f64,
    mark: u64,
    frozen: bool,
}

/// `f64` share with a total order and a resource-id tie-break, for the solver's heap.
#[derive(PartialEq)]
struct Share(f64, ResourceId);
impl Eq for Share {}
impl PartialOrd for Share {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Share {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// The bandwidth model: resources, active flows and their max-min fair rates.
#[derive(Default)]
pub struct FlowModel {
    resources: Vec<Resource>,
    flows: Vec<Flow>,
    free_flows: Vec<FlowId>,
    completions: BinaryHeap<Reverse<(SimTime, FlowId, u64)>>,
    epoch: u64,
    active_flows: usize,
    // Reusable scratch buffers for the component search.
    scratch_resources: Vec<ResourceId>,
    scratch_flows: Vec<FlowId>,
    scratch_heap: BinaryHeap<Reverse<Share>>,
    /// Resources touched by changes not yet solved, and the instant of those changes.
    dirty: Vec<ResourceId>,
    dirty_at: Option<SimTime>,
    /// Number of flow-rate assignments made by the solver (a cost counter for benchmarks).
    pub solver_work: u64,
}

impl FlowModel {
    /// An empty model.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a resource with `capacity` bytes per second.
    pub fn add_resource(&mut self, capacity: f64) -> ResourceId {
        assert!(capacity >= 0.0 && capacity.is_finite(), "bad capacity {capacity}");
        let id = ResourceId(self.resources.len() as u32);
        self.resources.push(Resource { capacity, flows: Vec::new(), mark: 0, left: 0.0, unfrozen: 0 });
        id
    }

    /// The capacity of `resource`, bytes per second.
    pub fn capacity(&self, resource: ResourceId) -> f64 {
        self.resources[resource.0 as usize].capacity
    }

    /// Number of flows in progress.
    pub fn active_flows(&self) -> usize {
        self.active_flows
    }

    /// Current rate of `flow`, bytes per second (solving pending changes first).
    pub fn rate(&mut self, flow: FlowId) -> f64 {
        self.solve_pending();
        self.flows[flow.0 as usize].rate
    }

    /// Bytes `flow` still has to send at `now` (solving pending changes first).
    pub fn remaining(&mut self, flow: FlowId, now: SimTime) -> f64 {
        self.solve_pending();
        let f = &self.flows[flow.0 as usize];
        (f.remaining - f.rate * now.since(f.last_update).as_secs_f64()).max(0.0)
    }

    /// Starts a flow of `bytes` across `resources` and re-solves its component.
    pub fn start_flow(&mut self, now: SimTime, resources: &[ResourceId], bytes: f64) -> FlowId {
        assert!(bytes >= 0.0, "negative flow size");
        self.mark_dirty(now, resources);
        let id = match self.free_flows.pop() {
            Some(id) => id,
            None => {
                self.flows.push(Flow {
                    active: false,
                    resources: Vec::new(),
                    positions: Vec::new(),
                    rate: 0.0,
                    remaining: 0.0,
                    last_update: now,
                    version: 0,
                    scheduled: false,
                    old_rate: 0.0,
                    mark: 0,
                    frozen: false,
                });
                FlowId(self.flows.len() as u32 - 1)
            }
        };
        let mut positions = Vec::with_capacity(resources.len());
        for &r in resources {
            let res = &mut self.resources[r.0 as usize];
            positions.push(res.flows.len() as u32);
            res.flows.push(id);
        }
        let flow = &mut self.flows[id.0 as usize];
        flow.active = true;
        flow.resources.clear();
        flow.resources.extend_from_slice(resources);
        flow.positions = positions;
        flow.rate = 0.0;
        flow.remaining = bytes;
        flow.last_update = now;
        flow.scheduled = false;
        self.active_flows += 1;
        id
    }

    /// Adds `bytes` to a flow that has just completed (see [`Self::pop_completed`]) so that it
    /// continues at the same rate: no re-solve is needed because the set of flows is unchanged.
    pub fn extend_flow(&mut self, now: SimTime, flow: FlowId, bytes: f64) {
        if self.dirty_at.is_some_and(|t| t < now) {
            self.solve_pending();
        }
        self.settle(flow, now);
        let f = &mut self.flows[flow.0 as usize];
        assert!(f.active, "extending an ended flow");
        f.remaining += bytes;
        self.schedule(flow, now);
    }

    /// Ends `flow` (finished or aborted), returns the bytes it had not yet sent, and re-solves
    /// the component it leaves.
    pub fn end_flow(&mut self, now: SimTime, flow: FlowId) -> f64 {
        if self.dirty_at.is_some_and(|t| t < now) {
            self.solve_pending();
        }
        self.settle(flow, now);
        let f = &mut self.flows[flow.0 as usize];
        assert!(f.active, "ending an ended flow");
        f.active = false;
        f.version += 1;
        f.scheduled = false;
        let unsent = f.remaining;
        let resources = std::mem::take(&mut f.resources);
        let positions = std::mem::take(&mut f.positions);
        for (&r, &pos) in resources.iter().zip(&positions) {
            let res = &mut self.resources[r.0 as usize];
            res.flows.swap_remove(pos as usize);
            if let Some(&moved) = res.flows.get(pos as usize) {
                let m = &mut self.flows[moved.0 as usize];
                let k = m.resources.iter().position(|&x| x == r).expect("membership");
                m.positions[k] = pos;
            }
        }
        self.active_flows -= 1;
        self.free_flows.push(flow);
        self.mark_dirty(now, &resources);
        // Keep the allocation for reuse.
        let f = &mut self.flows[flow.0 as usize];
        f.resources = resources;
        f.resources.clear();
        f.positions = positions;
        f.positions.clear();
        unsent
    }

    /// Changes a resource's capacity (slowdown, link degradation, cut); its component is
    /// re-solved with the next batch.
    pub fn set_capacity(&mut self, now: SimTime, resource: ResourceId, capacity: f64) {
        assert!(capacity >= 0.0 && capacity.is_finite(), "bad capacity {capacity}");
        self.mark_dirty(now, &[resource]);
        self.resources[resource.0 as usize].capacity = capacity;
    }

    /// Records that `resources` changed at `now`; solves older pending changes first.
    fn mark_dirty(&mut self, now: SimTime, resources: &[ResourceId]) {
        if self.dirty_at.is_some_and(|t| t < now) {
            self.solve_pending();
        }
        self.dirty_at = Some(now);
        self.dirty.extend_from_slice(resources);
    }

    /// Re-solves the components touched since the last solve, at the instant of the changes.
    pub fn solve_pending(&mut self) {
        if let Some(at) = self.dirty_at.take() {
            let seeds = std::mem::take(&mut self.dirty);
            self.resolve(at, &seeds);
            self.dirty = seeds;
            self.dirty.clear();
        }
    }

    /// Time of the earliest pending completion (solving pending changes first).
    pub fn next_completion(&mut self) -> Option<SimTime> {
        self.solve_pending();
        self.peek_valid()
    }

    /// Time of the earliest heap entry that is still valid, dropping stale ones.
    fn peek_valid(&mut self) -> Option<SimTime> {
        while let Some(&Reverse((t, id, version))) = self.completions.peek() {
            let f = &self.flows[id.0 as usize];
            if f.active && f.version == version {
                return Some(t);
            }
            self.completions.pop();
        }
        None
    }

    /// Pops one flow whose bytes are all sent by `now`. The flow stays active with nothing left
    /// and keeps its share; the caller must [`Self::extend_flow`] or [`Self::end_flow`] it at
    /// the same instant.
    pub fn pop_completed(&mut self, now: SimTime) -> Option<FlowId> {
        // Pending changes made at `now` do not affect what completes at `now`: the old rates
        // held until this instant.
        let t = self.peek_valid()?;
        if t > now {
            return None;
        }
        let Reverse((_, id, _)) = self.completions.pop().expect("peeked");
        let f = &mut self.flows[id.0 as usize];
        f.remaining = 0.0;
        f.last_update = now;
        f.version += 1;
        f.scheduled = false;
        Some(id)
    }

    fn settle(&mut self, flow: FlowId, now: SimTime) {
        let f = &mut self.flows[flow.0 as usize];
        let elapsed = now.since(f.last_update).as_secs_f64();
        f.remaining = (f.remaining - f.rate * elapsed).max(0.0);
        f.last_update = now;
    }

    fn schedule(&mut self, flow: FlowId, now: SimTime) {
        let f = &mut self.flows[flow.0 as usize];
        f.version += 1;
        f.scheduled = f.rate > 0.0;
        if f.scheduled {
            let at = now + SimDuration::from_secs_f64(f.remaining / f.rate);
            self.completions.push(Reverse((at, flow, f.version)));
        }
    }

    /// Re-solves max-min rates for the connected component(s) containing `seeds`.
    fn resolve(&mut self, now: SimTime, seeds: &[ResourceId]) {
        self.epoch += 1;
        let epoch = self.epoch;
        let mut comp_resources = std::mem::take(&mut self.scratch_resources);
        let mut comp_flows = std::mem::take(&mut self.scratch_flows);
        comp_resources.clear();
        comp_flows.clear();

        // Component search over the bipartite flow–resource graph.
        for &r in seeds {
            let res = &mut self.resources[r.0 as usize];
            if res.mark != epoch {
                res.mark = epoch;
                comp_resources.push(r);
            }
        }
        let mut next = 0;
        while next < comp_resources.len() {
            let r = comp_resources[next];
            next += 1;
            for i in 0..self.resources[r.0 as usize].flows.len() {
                let fid = self.resources[r.0 as usize].flows[i];
                let flow = &mut self.flows[fid.0 as usize];
                if flow.mark == epoch {
                    continue;
                }
                flow.mark = epoch;
                comp_flows.push(fid);
                for &q in &flow.resources {
                    let qres = &mut self.resources[q.0 as usize];
                    if qres.mark != epoch {
                        qres.mark = epoch;
                        comp_resources.push(q);
                    }
                }
            }
        }

        // Settle progress at the old rates, then unfreeze.
        for &fid in &comp_flows {
            self.settle(fid, now);
            let f = &mut self.flows[fid.0 as usize];
            f.frozen = false;
            f.old_rate = f.rate;
        }

        // Progressive filling with a lazy min-heap of fair shares.
        let mut heap = std::mem::take(&mut self.scratch_heap);
        heap.clear();
        for &r in &comp_resources {
            let res = &mut self.resources[r.0 as usize];
            res.left = res.capacity;
            res.unfrozen = res.flows.len() as u32;
            if res.unfrozen > 0 {
                heap.push(Reverse(Share(res.left / res.unfrozen as f64, r)));
            }
        }
        while let Some(Reverse(Share(key, r))) = heap.pop() {
            let res = &self.resources[r.0 as usize];
            if res.unfrozen == 0 {
                continue;
            }
            let share = (res.left / res.unfrozen as f64).max(0.0);
            if share > key {
                // Shares only grow as other bottlenecks freeze flows: re-queue with the new key.
                heap.push(Reverse(Share(share, r)));
                continue;
            }
            for i in 0..self.resources[r.0 as usize].flows.len() {
                let fid = self.resources[r.0 as usize].flows[i];
                let flow = &mut self.flows[fid.0 as usize];
                if flow.frozen {
                    continue;
                }
                flow.frozen = true;
                flow.rate = share;
                self.solver_work += 1;
                for k in 0..flow.resources.len() {
                    let q = self.flows[fid.0 as usize].resources[k];
                    let qres = &mut self.resources[q.0 as usize];
                    qres.left -= share;
                    qres.unfrozen -= 1;
                }
            }
        }
        self.scratch_heap = heap;

        for &fid in &comp_flows {
            // A flow whose rate did not change keeps its heap entry: its completion time is the
            // same (up to the nanosecond rounding of the original schedule).
            let f = &self.flows[fid.0 as usize];
            if f.rate != f.old_rate || !f.scheduled {
                self.schedule(fid, now);
            }
        }
        self.scratch_resources = comp_resources;
        self.scratch_flows = comp_flows;
    }
}

/// Naive max-min fair rates by progressive filling over every flow at once: the reference the
/// incremental [`FlowModel`] is tested against. `flows[i]` lists the resource indices flow `i`
/// crosses; returns one rate per flow.
pub fn reference_max_min(capacities: &[f64], flows: &[Vec<usize>]) -> Vec<f64> {
    let mut rates = vec![0.0; flows.len()];
    let mut frozen = vec![false; flows.len()];
    let mut left = capacities.to_vec();
    loop {
        let mut best: Option<(f64, usize)> = None;
        for (r, &cap) in left.iter().enumerate() {
            let n = (0..flows.len()).filter(|&i| !frozen[i] && flows[i].contains(&r)).count();
            if n > 0 {
                let share = (cap / n as f64).max(0.0);
                if best.is_none_or(|(b, _)| share < b) {
                    best = Some((share, r));
                }
            }
        }
        let Some((share, r)) = best else { break };
        for i in 0..flows.len() {
            if !frozen[i] && flows[i].contains(&r) {
                frozen[i] = true;
                rates[i] = share;
                for &q in &flows[i] {
                    left[q] -= share;
                }
            }
        }
    }
    rates
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: f64 = 1e6;

    /// Runs flows to completion and returns each flow's finish time in seconds.
    fn run_to_completion(model: &mut FlowModel, ids: &[FlowId]) -> Vec<f64> {
        let mut finish = vec![f64::NAN; ids.len()];
        while let Some(t) = model.next_completion() {
            while let Some(id) = model.pop_completed(t) {
                let i = ids.iter().position(|&x| x == id).unwrap();
                finish[i] = t.as_secs_f64();
                model.end_flow(t, id);
            }
        }
        finish
    }

    #[test]
    fn three_flows_on_one_link_end_at_3_5_6_seconds() {
        let mut m = FlowModel::new();
        let link = m.add_resource(100.0 * MB);
        let ids: Vec<_> = [100.0, 200.0, 300.0].iter().map(|&s| m.start_flow(SimTime::ZERO, &[link], s * MB)).collect();
        assert_eq!(run_to_completion(&mut m, &ids), vec![3.0, 5.0, 6.0]);
    }

    #[test]
    fn receiver_bottleneck_frees_sender_capacity() {
        // Sender upload 100 MB/s; receiver B downloads at most 10 MB/s; C and D are unconstrained.
        let mut m = FlowModel::new();
        let up = m.add_resource(100.0 * MB);
        let b = m.add_resource(10.0 * MB);
        let c = m.add_resource(1000.0 * MB);
        let d = m.add_resource(1000.0 * MB);
        let fb = m.start_flow(SimTime::ZERO, &[up, b], 100.0 * MB);
        let fc = m.start_flow(SimTime::ZERO, &[up, c], 450.0 * MB);
        let fd = m.start_flow(SimTime::ZERO, &[up, d], 450.0 * MB);
        assert_eq!(m.rate(fb), 10.0 * MB);
        assert_eq!(m.rate(fc), 45.0 * MB);
        assert_eq!(m.rate(fd), 45.0 * MB);
        // C and D finish together at 10 s, B at 10 s too (100 MB at 10 MB/s).
        assert_eq!(run_to_completion(&mut m, &[fb, fc, fd]), vec![10.0, 10.0, 10.0]);
    }

    #[test]
    fn ending_a_flow_speeds_up_the_rest_of_its_component_only() {
        let mut m = FlowModel::new();
        let l1 = m.add_resource(100.0);
        let l2 = m.add_resource(100.0);
        let a = m.start_flow(SimTime::ZERO, &[l1], 1000.0);
        let b = m.start_flow(SimTime::ZERO, &[l1], 1000.0);
        let c = m.start_flow(SimTime::ZERO, &[l2], 1000.0);
        assert_eq!((m.rate(a), m.rate(b), m.rate(c)), (50.0, 50.0, 100.0));
        let work = m.solver_work;
        m.end_flow(SimTime::from_secs_f64(1.0), a);
        assert_eq!(m.rate(b), 100.0);
        assert_eq!(m.solver_work - work, 1, "only b's component is re-solved");
        assert!((m.remaining(b, SimTime::from_secs_f64(1.0)) - 950.0).abs() < 1e-9);
    }

    #[test]
    fn changes_at_one_instant_are_solved_once() {
        let mut m = FlowModel::new();
        let l = m.add_resource(100.0);
        let ids: Vec<_> = (0..4).map(|_| m.start_flow(SimTime::ZERO, &[l], 100.0)).collect();
        assert_eq!(m.rate(ids[0]), 25.0);
        assert_eq!(m.solver_work, 4, "one solve of four flows, not 1 + 2 + 3 + 4");
        // A change at a later instant first solves pending changes at their own instant.
        let t1 = SimTime::from_secs_f64(1.0);
        m.end_flow(t1, ids[0]);
        m.end_flow(t1, ids[1]);
        assert_eq!(m.rate(ids[2]), 50.0);
        assert!((m.remaining(ids[2], t1) - 75.0).abs() < 1e-9);
        assert_eq!(m.solver_work, 6);
    }

    #[test]
    fn capacity_change_reschedules_completion() {
        let mut m = FlowModel::new();
        let l = m.add_resource(100.0);
        let f = m.start_flow(SimTime::ZERO, &[l], 1000.0);
        assert_eq!(m.next_completion(), Some(SimTime::from_secs_f64(10.0)));
        m.set_capacity(SimTime::from_secs_f64(5.0), l, 50.0);
        assert_eq!(m.next_completion(), Some(SimTime::from_secs_f64(15.0)));
        m.set_capacity(SimTime::from_secs_f64(6.0), l, 0.0);
        assert_eq!(m.next_completion(), None, "a cut resource stalls its flows");
        assert_eq!(m.rate(f), 0.0);
    }

    #[test]
    fn extend_keeps_rate_and_adds_time() {
        let mut m = FlowModel::new();
        let l = m.add_resource(100.0);
        let f = m.start_flow(SimTime::ZERO, &[l], 100.0);
        let t = m.next_completion().unwrap();
        assert_eq!(m.pop_completed(t), Some(f));
        m.extend_flow(t, f, 200.0);
        assert_eq!(m.next_completion(), Some(SimTime::from_secs_f64(3.0)));
    }

    #[test]
    fn reference_solver_textbook_case() {
        // Flow 0 crosses both links, flows 1 and 2 one each; link 0 has 10, link 1 has 4.
        let rates = reference_max_min(&[10.0, 4.0], &[vec![0, 1], vec![0], vec![1]]);
        assert_eq!(rates, vec![2.0, 8.0, 2.0]);
    }
}
