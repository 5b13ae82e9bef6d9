//! Bookkeeping of the flow model's classes: which resources may bind, the groups that count
//! each class's flows per resource, and moving a flow from one class to another.
//!
//! **Which resources may bind.** For a resource `r`, let `bound(r)` be the sum, over the flows
//! crossing `r`, of the smallest capacity among the *other* resources of each flow's route: no
//! allocation can give those flows more than that in total. (Paused flows count too, see
//! [`FlowModel::pause_flow`]: they take nothing while paused, so the bound only grows, which can
//! keep a resource in filling that could have been left out, and changes no rate.) If
//! `capacity(r) > bound(r)`, `r` is never saturated, so it is never a bottleneck and the max-min allocation computed without it
//! is the allocation with it (that allocation is feasible for `r`, and max-min fairness over a
//! larger feasible set that contains it picks it). Several such resources can be left out at
//! once: the smallest capacity on a route is never strictly above its own bound, so every flow
//! keeps at least one resource, and the allocation without the others still takes at most the
//! smallest capacity of each route. The test runs on exact integers (capacities in 1/65536 byte
//! per second, capacity rounded down, bound rounded up, and a relative margin of 2^-30 against
//! float noise in the solver), so a resource is left out only when that is provably safe. A
//! resource that may bind again is brought back at once (promotion); a resource is left out again
//! (demotion) only when no flow has it as bottleneck and it has a wider margin (1/8), so that
//! flows starting and ending around the threshold do not flip it back and forth.
//!
//! **Groups.** Group (q, c) lists the flows of class c that cross resource q (q may bind). A
//! resource lists its groups (the other classes crossing it); a class lists its footprint (its
//! groups, one per resource other than its own). Every flow is in one group per resource of its
//! route that may bind, and its class is always one of those resources: so a class's own group
//! (r, r) holds all its flows, and nothing ever needs them one by one (filling moves the flows
//! of groups (r, c) with c not r, and freezing class r needs counts). The own group is
//! therefore a count in its resource's record, `own_count`, on the line every start, end, pause
//! and resume reads anyway: joining or leaving it touches no other record. (As group records in
//! lists, the own groups were made and dropped at nearly every item of a cascade, whose streams
//! mostly stall between items: a group record, its list of flows, the neighbour moved into the
//! freed place and the resource's and the class's lists of groups, each a cache miss at 10^6
//! servers.) The other groups are found through a hash index. A class's own group is never at an
//! idle resource: a resource turns idle only when nobody has it as bottleneck, and a flow
//! joining the class of an idle resource brings it back first.
//!
//! **Idle resources.** A resource that may bind but is nobody's bottleneck and has headroom
//! (its flows' rates sum to less than its capacity) is left out of filling for now: the
//! allocation computed without it is feasible for it, so it is the allocation with it (the same
//! argument as above), and filling skips it and the groups at it (their classes keep those in a
//! separate footprint list). A resource turns idle after a re-solve leaves it with headroom `h`
//! per flow. Every class sums the increases of its level into a *growth*; an idle resource's
//! flows cannot have filled it while no class crossing it grew by `h` since the check. So each
//! class keeps its groups at idle resources in a heap keyed by the growth at which their resource
//! must be checked again; after a re-solve the classes whose level rose pop what is due, those
//! resources are checked with the actual rates, and one short of headroom takes part in filling
//! again, its component re-solved at once. A flow moving into a class at an idle resource makes
//! the resource due at once (its rate rose by more than that class's growth), and a flow starting
//! across an idle resource, or a capacity change of it, brings it back immediately. In a tree of
//! racks, the thousands of client uploads and downloads behind saturated rack links are idle,
//! and a re-solve touches the rack links.

use super::flows::{
    Finish, FlowId, FlowModel, Group, Hop, Resource, State, IN_OWN_GROUP, NO_EPOCH, PAUSED_AT_CANDIDATE,
};
use super::heap::ABSENT;
use super::ResourceId;
use crate::kernel::SimTime;
use std::hash::Hasher;

/// Hashes the keys of the group index, (resource << 32 | class): one folded multiplication.
/// The keys are small integers chosen by the model, not by an adversary, and the index is only
/// looked up (never iterated), so the hash cannot reach the results.
#[derive(Default, Clone, Copy)]
pub struct PairHasher(u64);

impl Hasher for PairHasher {
    fn finish(&self) -> u64 {
        let product = (self.0 as u128) * 0x9e37_79b9_7f4a_7c15;
        (product as u64) ^ ((product >> 64) as u64)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The group index's key of (resource, class).
pub(super) fn pair(resource: u32, class: u32) -> u64 {
    (resource as u64) << 32 | class as u64
}

/// Fixed-point scale of the binding test: 1/65536 byte per second.
const FIXED_SCALE: f64 = 65536.0;
/// A resource is left out when its capacity exceeds its bound by this relative margin (2^-30).
pub(super) const PROMOTE_MARGIN: u32 = 30;
/// ... and left out again only past a margin of 1/8.
const DEMOTE_MARGIN: u32 = 3;
/// Other-capacity minima at or above this count as unbounded (keeps the sums far from overflow).
const UNBOUNDED: f64 = 1.8e19;
/// An idle resource keeps its flows' rates below `capacity * (1 - IDLE_MARGIN)`, far above the
/// float noise of the solver.
const IDLE_MARGIN: f64 = 1e-6;

/// A capacity in fixed point, rounded down.
pub(super) fn fixed_down(capacity: f64) -> u128 {
    (capacity * FIXED_SCALE).floor() as u128
}

/// `(x * FIXED_SCALE).ceil()` as an integer (`x` a capacity, at most [`UNBOUNDED`]). Every start
/// and end of a flow takes one per resource of its route; below 2^64 this avoids the library
/// calls behind `f64::ceil` and `f64 as u128` on baseline x86-64, with the same result.
fn fixed_up(x: f64) -> u128 {
    let scaled = x * FIXED_SCALE;
    if (0.0..18_446_744_073_709_551_616.0).contains(&scaled) {
        // Truncation of a non-negative value is its floor; one more if it was not whole (at and
        // above 2^52 every f64 is whole, and `whole as f64` is then exact).
        let whole = scaled as u64;
        (whole + u64::from((whole as f64) < scaled)) as u128
    } else {
        scaled.ceil() as u128
    }
}

impl Resource {
    /// Capacity above bound by more than `bound >> margin_shift` (and one unit): cannot bind.
    pub(super) fn strictly_slack(&self, margin_shift: u32) -> bool {
        self.unbounded == 0 && self.cap_fixed > self.bound + (self.bound >> margin_shift) + 1
    }

    /// No flow has this resource as its bottleneck.
    pub(super) fn class_empty(&self) -> bool {
        debug_assert!(self.own_count > 0 || (self.footprint.is_empty() && self.footprint_idle.is_empty()));
        self.own_count == 0
    }
}

impl FlowModel {
    /// Adds (or removes) `flow`'s share of the bound of each resource of its route: the smallest
    /// capacity among the route's other resources.
    pub(super) fn update_bounds(&mut self, flow: FlowId, add: bool) {
        let f = flow.0 as usize;
        let n = self.flows[f].hops.len();
        let (mut min1, mut arg1, mut min2) = (f64::INFINITY, usize::MAX, f64::INFINITY);
        for k in 0..n {
            let c = self.resources[self.flows[f].hops[k].resource.0 as usize].capacity;
            if c < min1 {
                (min2, min1, arg1) = (min1, c, k);
            } else if c < min2 {
                min2 = c;
            }
        }
        for k in 0..n {
            let other = if k == arg1 { min2 } else { min1 };
            let r = &mut self.resources[self.flows[f].hops[k].resource.0 as usize];
            if other >= UNBOUNDED {
                if add {
                    r.unbounded += 1;
                } else {
                    r.unbounded -= 1;
                }
            } else {
                let share = fixed_up(other);
                if add {
                    r.bound += share;
                } else {
                    r.bound -= share;
                }
            }
        }
    }

    /// Brings `resource` back into filling if it may bind, or leaves it out if it safely cannot.
    #[inline(always)]
    pub(super) fn refresh_status(&mut self, resource: ResourceId, now: SimTime) {
        let r = &self.resources[resource.0 as usize];
        if !r.candidate {
            if !r.strictly_slack(PROMOTE_MARGIN) {
                self.promote(resource, now);
            }
        } else if r.class_empty() && r.strictly_slack(DEMOTE_MARGIN) {
            if r.idle {
                self.make_active(resource.0);
            }
            self.demote(resource);
        }
    }

    /// `resource` may bind: put it on the effective route of every flow crossing it.
    fn promote(&mut self, resource: ResourceId, now: SimTime) {
        let q = resource.0 as usize;
        self.resources[q].candidate = true;
        for i in 0..self.resources[q].flows.len() {
            let f = self.resources[q].flows[i];
            let class = self.flows[f.0 as usize].class;
            if class == ABSENT {
                // The flow being started joins its groups once its class is chosen; a paused
                // flow joins them when it resumes.
                if self.flows[f.0 as usize].state == State::Paused {
                    let k = self.route_index(f, q as u32);
                    self.flows[f.0 as usize].hops[k].group = PAUSED_AT_CANDIDATE;
                }
                continue;
            }
            let k = self.route_index(f, q as u32);
            self.add_to_group(f, k, class);
        }
        self.dirty.push(resource);
        self.dirty_at = Some(now);
    }

    /// `resource` cannot bind and is nobody's bottleneck: take it off every effective route.
    fn demote(&mut self, resource: ResourceId) {
        let q = resource.0 as usize;
        self.resources[q].candidate = false;
        for i in 0..self.resources[q].flows.len() {
            let f = self.resources[q].flows[i];
            let k = self.route_index(f, q as u32);
            match self.flows[f.0 as usize].hops[k].group {
                ABSENT => {} // the flow being started: not yet in a group
                PAUSED_AT_CANDIDATE => self.flows[f.0 as usize].hops[k].group = ABSENT,
                _ => self.remove_from_group(f, k),
            }
        }
        debug_assert!(self.resources[q].groups.is_empty() && self.resources[q].own_count == 0);
    }

    /// Index of `resource` in `flow`'s route.
    fn route_index(&self, flow: FlowId, resource: u32) -> usize {
        self.flows[flow.0 as usize].hops.iter().position(|h| h.resource.0 == resource).expect("resource on the route")
    }

    /// Puts `flow` into group (its `k`-th resource, `class`).
    #[inline(always)]
    pub(super) fn add_to_group(&mut self, flow: FlowId, k: usize, class: u32) {
        let q = self.flows[flow.0 as usize].hops[k].resource.0;
        if q == class {
            let r = &mut self.resources[q as usize];
            debug_assert!(!r.idle, "a class's own resource is not idle");
            r.own_count += 1;
            r.effective += 1;
            let hop = &mut self.flows[flow.0 as usize].hops[k];
            (hop.group, hop.in_group) = (IN_OWN_GROUP, 0);
            return;
        }
        let g = match self.group_index.get(&pair(q, class)) {
            Some(&g) => g,
            None => self.new_group(q, class),
        };
        if self.resources[q as usize].idle {
            // A flow moving in: its rate rose by more than this class's growth tells. Check now.
            let due = Finish(self.resources[class as usize].growth);
            self.resources[class as usize].watch.set(&mut self.watch_pos, g, due);
        }
        let members = &mut self.groups[g as usize].flows;
        members.push(flow);
        let hop = &mut self.flows[flow.0 as usize].hops[k];
        (hop.group, hop.in_group) = (g, members.len() as u32 - 1);
        self.resources[q as usize].effective += 1;
    }

    /// The footprint list of `class` that holds its group at `resource`.
    fn footprint_of(&mut self, class: u32, resource: u32) -> &mut Vec<u32> {
        if self.resources[resource as usize].idle {
            &mut self.resources[class as usize].footprint_idle
        } else {
            &mut self.resources[class as usize].footprint
        }
    }

    fn new_group(&mut self, resource: u32, class: u32) -> u32 {
        debug_assert!(resource != class, "a class's own group is a count");
        let group = Group {
            resource,
            class,
            flows: Vec::new(),
            at_resource: self.resources[resource as usize].groups.len() as u32,
            at_class: self.footprint_of(class, resource).len() as u32,
        };
        let g = match self.free_groups.pop() {
            Some(g) => {
                let flows = std::mem::take(&mut self.groups[g as usize].flows);
                self.groups[g as usize] = Group { flows, ..group };
                g
            }
            None => {
                self.groups.push(group);
                self.watch_pos.push(ABSENT);
                self.groups.len() as u32 - 1
            }
        };
        self.resources[resource as usize].groups.push(g);
        self.footprint_of(class, resource).push(g);
        self.group_index.insert(pair(resource, class), g);
        g
    }

    /// Takes `flow` out of its group for its `k`-th resource; an emptied group is dropped.
    #[inline(always)]
    pub(super) fn remove_from_group(&mut self, flow: FlowId, k: usize) {
        let f = flow.0 as usize;
        let Hop { resource, group: g, in_group: index, .. } = self.flows[f].hops[k];
        debug_assert!(g != ABSENT && g != PAUSED_AT_CANDIDATE, "not in a group");
        let hop = &mut self.flows[f].hops[k];
        (hop.group, hop.in_group) = (ABSENT, 0);
        if g == IN_OWN_GROUP {
            let r = &mut self.resources[resource.0 as usize];
            r.own_count -= 1;
            r.effective -= 1;
            return;
        }
        let q = self.groups[g as usize].resource;
        let members = &mut self.groups[g as usize].flows;
        members.swap_remove(index as usize);
        if let Some(&moved) = members.get(index as usize) {
            let km = self.route_index(moved, q);
            self.flows[moved.0 as usize].hops[km].in_group = index;
        }
        self.resources[q as usize].effective -= 1;
        if self.groups[g as usize].flows.is_empty() {
            self.drop_group(g);
        }
    }

    fn drop_group(&mut self, g: u32) {
        let Group { resource, class, at_resource, at_class, .. } = self.groups[g as usize];
        let list = &mut self.resources[resource as usize].groups;
        list.swap_remove(at_resource as usize);
        if let Some(&moved) = list.get(at_resource as usize) {
            self.groups[moved as usize].at_resource = at_resource;
        }
        let list = self.footprint_of(class, resource);
        list.swap_remove(at_class as usize);
        if let Some(&moved) = list.get(at_class as usize) {
            self.groups[moved as usize].at_class = at_class;
        }
        self.group_index.remove(&pair(resource, class));
        self.resources[class as usize].watch.remove(&mut self.watch_pos, g);
        if self.solving {
            self.freed_while_solving.push(g); // ids held by the solver stay valid until it ends
        } else {
            self.free_groups.push(g);
        }
    }

    /// Takes `resource` out of filling, with `headroom` per flow.
    fn make_idle(&mut self, resource: u32, headroom: f64) {
        debug_assert_eq!(self.resources[resource as usize].own_count, 0, "an idle resource is nobody's bottleneck");
        self.switch_footprints(resource);
        self.resources[resource as usize].idle = true;
        self.idled += 1;
        self.watch_groups(resource, headroom);
    }

    /// Brings an idle `resource` back into filling.
    #[inline(always)]
    pub(super) fn make_active(&mut self, resource: u32) {
        self.switch_footprints(resource);
        self.resources[resource as usize].idle = false;
        for i in 0..self.resources[resource as usize].groups.len() {
            let g = self.resources[resource as usize].groups[i];
            let class = self.groups[g as usize].class;
            self.resources[class as usize].watch.remove(&mut self.watch_pos, g);
        }
    }

    /// Keys every group at idle `resource` in its class's heap: due when the class has grown by
    /// `headroom` from now.
    #[inline(always)]
    fn watch_groups(&mut self, resource: u32, headroom: f64) {
        for i in 0..self.resources[resource as usize].groups.len() {
            let g = self.resources[resource as usize].groups[i];
            let c = &mut self.resources[self.groups[g as usize].class as usize];
            c.watch.set(&mut self.watch_pos, g, Finish(c.growth + headroom));
        }
    }

    /// Moves every group at `resource` to the other footprint list of its class.
    #[inline(always)]
    fn switch_footprints(&mut self, resource: u32) {
        let idle = self.resources[resource as usize].idle;
        for i in 0..self.resources[resource as usize].groups.len() {
            let g = self.resources[resource as usize].groups[i];
            let Group { class, at_class, .. } = self.groups[g as usize];
            let c = &mut self.resources[class as usize];
            let (from, to) = if idle {
                (&mut c.footprint_idle, &mut c.footprint)
            } else {
                (&mut c.footprint, &mut c.footprint_idle)
            };
            from.swap_remove(at_class as usize);
            if let Some(&moved) = from.get(at_class as usize) {
                self.groups[moved as usize].at_class = at_class;
            }
            to.push(g);
            self.groups[g as usize].at_class = to.len() as u32 - 1;
        }
    }

    /// Capacity `resource` has to spare per flow under the current rates, if clearly some.
    #[inline(always)]
    fn headroom(&self, resource: u32) -> Option<f64> {
        let r = &self.resources[resource as usize];
        // (The own group is empty where this is asked: at idle resources and at resources that
        // are nobody's bottleneck.)
        let load: f64 = r
            .groups
            .iter()
            .map(|&g| {
                let g = &self.groups[g as usize];
                g.flows.len() as f64 * self.resources[g.class as usize].level
            })
            .sum::<f64>()
            + r.own_count as f64 * r.level;
        let limit = r.capacity * (1.0 - IDLE_MARGIN);
        let per_flow = (limit - load) / r.effective.max(1) as f64;
        (load < limit && per_flow > limit * IDLE_MARGIN).then_some(per_flow)
    }

    /// After a re-solve: resources of `component` that are nobody's bottleneck and have headroom
    /// turn idle; idle resources that a class of `component` may have filled since their check
    /// are checked again, and those short of headroom are queued in `reactivated`.
    pub(super) fn update_idle(&mut self, component: &[u32]) {
        for &q in component {
            if self.resources[q as usize].class_empty() {
                if let Some(h) = self.headroom(q) {
                    self.make_idle(q, h);
                }
            }
        }
        let mut due = std::mem::take(&mut self.scratch_groups);
        due.clear();
        let epoch = self.solve_epoch;
        for &c in component {
            let class = c as usize;
            while let Some((Finish(key), g)) = self.resources[class].watch.peek() {
                if key > self.resources[class].growth {
                    break;
                }
                self.resources[class].watch.remove(&mut self.watch_pos, g);
                let q = self.groups[g as usize].resource;
                if std::mem::replace(&mut self.resources[q as usize].check_mark, epoch) != epoch {
                    due.push(q);
                }
            }
        }
        for &q in &due {
            match self.headroom(q) {
                Some(h) => self.watch_groups(q, h),
                None => {
                    self.make_active(q);
                    self.reactivated.push(ResourceId(q));
                    self.reactivated_count += 1;
                }
            }
        }
        self.scratch_groups = due;
    }

    /// Moves `flow` to class `to` at instant `at` (during a re-solve, before either class's
    /// level changes). Returns the bytes it has left if it is sending, so that the caller can
    /// schedule it at the new level.
    pub(super) fn move_flow(&mut self, flow: FlowId, to: u32, at: SimTime) -> Option<f64> {
        let f = flow.0 as usize;
        let from = self.flows[f].class;
        let state = self.flows[f].state;
        let mut left = None;
        if matches!(state, State::Running | State::Due) {
            let remaining = (self.flows[f].finish - self.virtual_time(from, at)).max(0.0);
            self.restart_idle_clock(to, at);
            let finish = self.virtual_time(to, at) + remaining;
            self.flows[f].finish = finish;
            self.flows[f].sched_epoch = NO_EPOCH;
            if state == State::Running {
                self.resources[from as usize].members.remove(&mut self.member_pos, flow.0);
                self.resources[to as usize].members.set(&mut self.member_pos, flow.0, Finish(finish));
                left = Some(remaining);
            }
        }
        for k in 0..self.flows[f].hops.len() {
            if self.flows[f].hops[k].group != ABSENT {
                self.remove_from_group(flow, k);
                self.add_to_group(flow, k, to);
            }
        }
        self.flows[f].class = to;
        self.flows_moved += 1;
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(x: f64) -> u128 {
        (x * FIXED_SCALE).ceil() as u128
    }

    #[test]
    fn fixed_up_rounds_like_ceil_at_the_edges() {
        let below_2_64 = f64::from_bits(18_446_744_073_709_551_616f64.to_bits() - 1) / FIXED_SCALE;
        for x in [
            0.0,
            1e-300,
            1.0 / FIXED_SCALE,
            0.5,
            1.0,
            12_500_000.0,
            1.25e8 + 1e-7,
            2f64.powi(36),
            below_2_64,
            2f64.powi(48),
            UNBOUNDED * 0.99,
        ] {
            assert_eq!(fixed_up(x), reference(x), "{x}");
        }
        assert_eq!(fixed_up(1.0 / FIXED_SCALE + 1e-12), 2);
    }

    proptest::proptest! {
        #[test]
        fn fixed_up_equals_ceil(bits in 0u64..0x7ff0_0000_0000_0000) {
            let x = f64::from_bits(bits);
            proptest::prop_assume!(x < UNBOUNDED);
            proptest::prop_assert_eq!(fixed_up(x), reference(x));
        }

        #[test]
        fn fixed_up_equals_ceil_on_capacities(x in 0.0f64..1e13) {
            proptest::prop_assert_eq!(fixed_up(x), reference(x));
        }
    }
}
