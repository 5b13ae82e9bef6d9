//! The flow model's re-solve: progressive filling over classes and groups.
//!
//! Progressive filling repeatedly takes the resource with the smallest fair share (capacity left
//! divided by unfrozen flows crossing it), gives that share to every unfrozen flow crossing it
//! and freezes them. Run over classes: when resource `r` comes up, the unfrozen flows crossing
//! it are the flows of group (r, r) (a count, `own_count`) plus those of groups (r, c) of classes
//! `c` not frozen yet; the latter have found a tighter bottleneck and move to class `r` (the only
//! per-flow work). Freezing class `r` at share `s` then subtracts `count × s` from every resource
//! of its footprint, its own included. Ties between resources of equal share go to the lower
//! resource id, as in the reference. A class whose level changes settles its virtual clock at the
//! old level first.
//! Idle resources (see [`super::classes`]) take no part: neither the component search nor
//! freezing visits them.

use super::flows::{FlowModel, State, NO_EPOCH};
use super::ResourceId;
use crate::kernel::{SimDuration, SimTime};
use std::cmp::{Ordering, Reverse};

/// `f64` share with a total order and a resource-id tie-break, for the filling heap.
#[derive(PartialEq)]
pub(super) struct Share(f64, u32);
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

impl FlowModel {
    /// Re-solves max-min rates at `at` for the connected component(s) containing `seeds`.
    pub(super) fn resolve(&mut self, at: SimTime, seeds: &[ResourceId]) {
        self.solve_epoch += 1;
        self.solving = true;
        let mut component = std::mem::take(&mut self.scratch_resources);
        self.component(seeds, &mut component);
        if let [q] = component[..] {
            self.fill_alone(q, at);
        } else {
            self.fill(&component, at);
        }

        // Flows started since the last solve join their class's clock now.
        let mut new_flows = std::mem::take(&mut self.new_flows);
        for &flow in &new_flows {
            let f = &self.flows[flow.0 as usize];
            if f.state == State::New {
                let bytes = f.finish;
                self.place(flow, at, bytes);
            }
        }
        new_flows.clear();
        self.new_flows = new_flows;
        for &q in &component {
            self.refresh_entry(q);
        }
        self.update_idle(&component);
        self.solving = false;
        self.free_groups.append(&mut self.freed_while_solving);
        self.scratch_resources = component;
    }

    /// Progressive filling of a component of one resource `q` (most re-solves of a cascade: a
    /// sender's upload, its flows' other resources idle). Its flows are all of its own class:
    /// another class's group at `q` would have brought that class's resource into the
    /// component, a group of its own class elsewhere that resource. So the filling is one
    /// step, `q` frozen at its capacity over its flows, computed as [`Self::fill`] computes it.
    fn fill_alone(&mut self, q: u32, at: SimTime) {
        let r = &mut self.resources[q as usize];
        debug_assert!(r.groups.is_empty() && r.footprint.is_empty(), "a component of one resource");
        r.left = r.capacity;
        r.unfrozen = r.effective;
        r.frozen = false;
        if r.unfrozen > 0 {
            let share = (r.left / r.unfrozen as f64).max(0.0);
            self.freeze(q, share, at);
        }
    }

    /// Progressive filling over the resources of `component` (see the module doc).
    fn fill(&mut self, component: &[u32], at: SimTime) {
        let mut heap = std::mem::take(&mut self.scratch_shares);
        debug_assert!(heap.is_empty(), "the filling empties its heap");
        for &q in component {
            let r = &mut self.resources[q as usize];
            r.left = r.capacity;
            r.unfrozen = r.effective;
            r.frozen = false;
            if r.unfrozen > 0 {
                heap.push(Reverse(Share(r.left / r.unfrozen as f64, q)));
            }
        }
        let mut stolen = std::mem::take(&mut self.scratch_groups);
        let mut moved = std::mem::take(&mut self.scratch_moved);
        while let Some(Reverse(Share(key, r))) = heap.pop() {
            let res = &self.resources[r as usize];
            if res.frozen || res.unfrozen == 0 {
                continue;
            }
            let share = (res.left / res.unfrozen as f64).max(0.0);
            if share > key {
                // Shares only grow as other bottlenecks freeze flows: re-queue with the new key.
                heap.push(Reverse(Share(share, r)));
                continue;
            }
            // Unfrozen flows of other classes crossing `r` have `r` as their bottleneck now.
            stolen.clear();
            stolen.extend(res.groups.iter().copied().filter(|&g| {
                let c = self.groups[g as usize].class;
                c != r && !self.resources[c as usize].frozen
            }));
            moved.clear();
            for &g in &stolen {
                while let Some(&flow) = self.groups[g as usize].flows.last() {
                    if let Some(left) = self.move_flow(flow, r, at) {
                        moved.push((flow, left));
                    }
                }
            }
            self.freeze(r, share, at);
            let res = &self.resources[r as usize];
            for &(flow, left) in &moved {
                let f = &mut self.flows[flow.0 as usize];
                if res.level > 0.0 {
                    f.sched = at + SimDuration::from_secs_f64(left / res.level);
                    f.sched_epoch = res.level_epoch;
                } else {
                    f.sched_epoch = NO_EPOCH;
                }
            }
        }
        self.scratch_groups = stolen;
        self.scratch_moved = moved;
        self.scratch_shares = heap;
    }

    /// The resources connected to `seeds` through flows (resources that take part in filling:
    /// they may bind and are not idle).
    fn component(&mut self, seeds: &[ResourceId], component: &mut Vec<u32>) {
        let epoch = self.solve_epoch;
        component.clear();
        for &s in seeds {
            let r = &mut self.resources[s.0 as usize];
            if r.candidate && !r.idle && r.mark != epoch {
                r.mark = epoch;
                component.push(s.0);
            }
        }
        let mut next = 0;
        while next < component.len() {
            let q = component[next] as usize;
            next += 1;
            // The classes crossing `q`: its own (if it has flows) and those of its groups.
            if self.resources[q].own_count > 0 {
                self.reach_class(q, component);
            }
            for i in 0..self.resources[q].groups.len() {
                let class = self.groups[self.resources[q].groups[i] as usize].class as usize;
                self.reach_class(class, component);
            }
        }
    }

    /// Adds the resources of class `class`'s footprint, its own included, to `component`
    /// (once per re-solve).
    fn reach_class(&mut self, class: usize, component: &mut Vec<u32>) {
        let epoch = self.solve_epoch;
        if self.resources[class].class_mark == epoch {
            return;
        }
        self.resources[class].class_mark = epoch;
        // A class with a group elsewhere has flows, all crossing its own resource.
        let own = &mut self.resources[class];
        if own.mark != epoch {
            own.mark = epoch;
            component.push(class as u32);
        }
        for j in 0..self.resources[class].footprint.len() {
            let r = self.groups[self.resources[class].footprint[j] as usize].resource;
            let res = &mut self.resources[r as usize];
            if res.mark != epoch {
                res.mark = epoch;
                component.push(r);
            }
        }
    }

    /// Freezes class `r` at `share`: every resource of its footprint, its own included, loses
    /// `count × share`.
    #[inline(always)]
    fn freeze(&mut self, r: u32, share: f64, at: SimTime) {
        let class = r as usize;
        self.solver_work += self.resources[class].unfrozen as u64;
        let own = &mut self.resources[class];
        own.left -= own.own_count as f64 * share;
        own.unfrozen -= own.own_count;
        for j in 0..self.resources[class].footprint.len() {
            let g = &self.groups[self.resources[class].footprint[j] as usize];
            let count = g.flows.len();
            let q = &mut self.resources[g.resource as usize];
            q.left -= count as f64 * share;
            q.unfrozen -= count as u32;
        }
        let res = &mut self.resources[class];
        debug_assert_eq!(res.unfrozen, 0, "every flow crossing a frozen resource is frozen");
        res.frozen = true;
        if share != res.level {
            res.growth += (share - res.level).max(0.0);
            res.clock += res.level * at.since(res.clock_at).as_secs_f64();
            res.clock_at = at;
            res.level = share;
            res.level_epoch += 1;
        }
    }
}
