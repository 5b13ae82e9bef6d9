//! The oracle the flow model is tested against: max-min fairness by naive progressive filling
//! over every flow at once, and a straightforward event-by-event simulation on top of it.
//!
//! [`ReferenceModel`] keeps, per flow, the bytes left, the rate and the instant they were last
//! settled, and re-solves the whole network with [`reference_max_min`] at every instant where
//! something changed (once per instant, like [`FlowModel`](super::FlowModel)). A flow whose rate
//! changes is settled at its old rate and rescheduled at `now + round(left / rate)`; a flow whose
//! rate does not change keeps its completion instant. No classes, no virtual clocks, no pruning:
//! slow and obviously right.
//!
//! Right, that is, up to the last bit of a float: the model computes the same instants by
//! another sequence of operations (a class clock instead of per-flow bytes left), so when the
//! exact instant lies within [`TIE_NANOS`](crate::kernel::time::TIE_NANOS) of the threshold where
//! [`SimDuration::from_secs_f64`] rounds up instead of down, float noise may round the two one
//! nanosecond apart. The reference says when one of its completions was such a case
//! ([`ReferenceModel::completed_near_tie`]), so that a comparison can tell that from a bug.

use crate::kernel::{SimDuration, SimTime};

/// Naive max-min fair rates by progressive filling over every flow at once. `flows[i]` lists
/// the resource indices flow `i` crosses; returns one rate per flow.
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

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Sending,
    /// Handed out by `pop_completed`, to be extended or ended at the same instant.
    Done,
    Ended,
}

#[derive(Debug, Clone)]
struct ReferenceFlow {
    route: Vec<usize>,
    phase: Phase,
    left: f64,
    rate: f64,
    settled_at: SimTime,
    completion: Option<SimTime>,
    /// The last completion instant scheduled came from a value within `TIE_NANOS` of the
    /// rounding threshold.
    near_tie: bool,
}

/// Event-by-event simulation of flows under [`reference_max_min`]; flow ids are indices in
/// start order (never reused).
#[derive(Debug, Clone)]
pub struct ReferenceModel {
    capacities: Vec<f64>,
    flows: Vec<ReferenceFlow>,
    pending: Option<SimTime>,
}

impl ReferenceModel {
    /// Resources with these capacities (bytes per second), no flows.
    pub fn new(capacities: Vec<f64>) -> Self {
        ReferenceModel { capacities, flows: Vec::new(), pending: None }
    }

    fn before_change(&mut self, now: SimTime) {
        if self.pending.is_some_and(|t| t < now) {
            self.solve();
        }
        self.pending = Some(now);
    }

    /// Starts a flow of `bytes` over `route`; returns its id.
    pub fn start(&mut self, now: SimTime, route: Vec<usize>, bytes: f64) -> usize {
        self.before_change(now);
        self.flows.push(ReferenceFlow {
            route,
            phase: Phase::Sending,
            left: bytes,
            rate: 0.0,
            settled_at: now,
            completion: None,
            near_tie: false,
        });
        self.flows.len() - 1
    }

    fn settle(&mut self, id: usize, now: SimTime) {
        let f = &mut self.flows[id];
        f.left = (f.left - f.rate * now.since(f.settled_at).as_secs_f64()).max(0.0);
        f.settled_at = now;
    }

    fn schedule(&mut self, id: usize, now: SimTime) {
        let f = &mut self.flows[id];
        f.completion = (f.rate > 0.0).then(|| now + SimDuration::from_secs_f64(f.left / f.rate));
        f.near_tie = f.rate > 0.0 && SimDuration::near_rounding_tie(f.left / f.rate);
    }

    /// Whether the last completion of flow `id` handed out by [`pop_completed`](Self::pop_completed)
    /// was scheduled from a value within [`TIE_NANOS`](crate::kernel::time::TIE_NANOS) of a rounding threshold: a completion
    /// that another correct float computation may put one nanosecond later or earlier.
    pub fn completed_near_tie(&self, id: usize) -> bool {
        self.flows[id].near_tie
    }

    /// Adds `bytes` to flow `id` (just handed out, or still sending) at the same rate.
    pub fn extend(&mut self, now: SimTime, id: usize, bytes: f64) {
        if self.pending.is_some_and(|t| t < now) {
            self.solve();
        }
        self.settle(id, now);
        let f = &mut self.flows[id];
        assert!(f.phase != Phase::Ended, "extending an ended flow");
        if f.phase == Phase::Done {
            f.left = 0.0;
        }
        f.phase = Phase::Sending;
        f.left += bytes;
        self.schedule(id, now);
    }

    /// Ends flow `id`; returns the bytes it had not sent.
    pub fn end(&mut self, now: SimTime, id: usize) -> f64 {
        self.before_change(now);
        self.settle(id, now);
        let f = &mut self.flows[id];
        let left = if f.phase == Phase::Done { 0.0 } else { f.left };
        f.phase = Phase::Ended;
        f.completion = None;
        left
    }

    /// Changes the capacity of resource `r`.
    pub fn set_capacity(&mut self, now: SimTime, r: usize, capacity: f64) {
        self.before_change(now);
        self.capacities[r] = capacity;
    }

    /// The instant of changes not yet solved, if any.
    pub fn pending_since(&self) -> Option<SimTime> {
        self.pending
    }

    /// Re-solves every rate at the instant of the pending changes.
    pub fn solve(&mut self) {
        let Some(now) = self.pending.take() else { return };
        let active: Vec<usize> = (0..self.flows.len()).filter(|&i| self.flows[i].phase != Phase::Ended).collect();
        let routes: Vec<Vec<usize>> = active.iter().map(|&i| self.flows[i].route.clone()).collect();
        let rates = reference_max_min(&self.capacities, &routes);
        for (&i, &rate) in active.iter().zip(&rates) {
            let f = &self.flows[i];
            let unscheduled = f.phase == Phase::Sending && f.completion.is_none();
            if rate != f.rate || unscheduled {
                self.settle(i, now);
                self.flows[i].rate = rate;
                if self.flows[i].phase == Phase::Sending {
                    self.schedule(i, now);
                }
            }
        }
    }

    /// Current rate of flow `id`.
    pub fn rate(&mut self, id: usize) -> f64 {
        self.solve();
        self.flows[id].rate
    }

    /// The earliest completion instant (solving pending changes first).
    pub fn next_completion(&mut self) -> Option<SimTime> {
        self.solve();
        self.peek_completion()
    }

    /// The earliest completion instant under the rates solved so far.
    pub fn peek_completion(&self) -> Option<SimTime> {
        self.flows.iter().filter(|f| f.phase == Phase::Sending).filter_map(|f| f.completion).min()
    }

    /// Hands out one flow whose bytes are all sent by `now` (lowest id first), without solving
    /// changes made at `now`.
    pub fn pop_completed(&mut self, now: SimTime) -> Option<usize> {
        let id = (0..self.flows.len())
            .find(|&i| self.flows[i].phase == Phase::Sending && self.flows[i].completion.is_some_and(|t| t <= now))?;
        let f = &mut self.flows[id];
        f.phase = Phase::Done;
        f.left = 0.0;
        f.settled_at = now;
        f.completion = None;
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_decided_by_less_than_the_tie_tolerance_are_flagged() {
        // One flow at 1 B/s: `bytes` seconds. 2.4995 ns is 0.0005 ns from where the rounding
        // (ties up, TIE_NANOS = 0.001 ns of slack) switches: flagged, and rounded up. 2.3 ns
        // and 2.7 ns are decided by far more.
        for (bytes, near, nanos) in [(2.4995e-9, true, 3), (2.3e-9, false, 2), (2.7e-9, false, 3)] {
            let mut m = ReferenceModel::new(vec![1.0]);
            let id = m.start(SimTime::ZERO, vec![0], bytes);
            assert_eq!(m.next_completion(), Some(SimTime(nanos)), "{bytes} B at 1 B/s");
            assert_eq!(m.pop_completed(SimTime(nanos)), Some(id));
            assert_eq!(m.completed_near_tie(id), near, "{bytes} B at 1 B/s");
        }
    }
}
