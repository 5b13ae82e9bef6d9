//! The flow model's clocks and completions: each class's virtual clock, the instants its flows
//! complete, and handing completed flows out.
//!
//! A class's clock counts the bytes each of its flows has sent: `clock` at `clock_at`, then
//! `level` bytes per second. A flow's finish point is the clock reading at which it has sent
//! everything, so the class's flows complete in finish-point order and the class needs one entry
//! in the completion heap (its earliest flow's instant). See [`super::flows`] for how instants
//! are computed and rounded.

use super::flows::{FlowId, FlowModel, State, NO_EPOCH};
use super::heap::HeapKey;
use super::ResourceId;
use crate::kernel::{SimDuration, SimTime};
use std::cmp::Ordering;

/// A finish point on a class's virtual clock, totally ordered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Finish(pub f64);
impl Eq for Finish {}
impl PartialOrd for Finish {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Finish {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The bits of `total_cmp`'s order: a negative number's bits all flipped (larger magnitudes
/// first), a positive one's sign bit set (after every negative), so that unsigned order is
/// `f64::total_cmp`'s; every bit is kept, and the packing is undone exactly.
impl HeapKey for Finish {
    fn packed(self) -> u128 {
        let bits = self.0.to_bits();
        let ordered = if bits >> 63 == 1 { !bits } else { bits | 1 << 63 };
        (ordered as u128) << 32
    }

    fn unpacked(bits: u128) -> Self {
        let ordered = (bits >> 32) as u64;
        Finish(f64::from_bits(if ordered >> 63 == 1 { ordered & !(1 << 63) } else { !ordered }))
    }
}

/// Cache lines of a resource's record (it is aligned to a line).
const RESOURCE_LINES: usize = std::mem::size_of::<super::flows::Resource>() / 64;

/// A pending completion under the rates solved so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Upcoming {
    /// The flow that completes.
    pub flow: FlowId,
    /// Its class (the resource whose share sets its rate).
    class: u32,
}

impl FlowModel {
    /// Time of the earliest pending completion (solving pending changes first).
    pub fn next_completion(&mut self) -> Option<SimTime> {
        self.solve_pending();
        self.peek_completion()
    }

    /// Time of the earliest completion under the rates solved so far, without solving pending
    /// changes (they were made at [`Self::pending_since`], and rates held until then).
    pub fn peek_completion(&self) -> Option<SimTime> {
        if !self.due.is_empty() || !self.zero_byte.is_empty() {
            return Some(self.due_at);
        }
        self.completions.peek().map(|((t, _), _)| t)
    }

    /// How many times the completion heap changed so far (wrapping): while it stands still, so
    /// does [`Self::upcoming_completion`].
    pub fn completions_changes(&self) -> u64 {
        self.completions_changes
    }

    /// The next completion under the rates solved so far (the earliest class's earliest flow).
    pub fn upcoming_completion(&self) -> Option<Upcoming> {
        self.completions.peek().map(|((_, flow), class)| Upcoming { flow: FlowId(flow), class })
    }

    /// Asks for the records a completion reads, so that they load while something else is
    /// handled: `deeper` false, the class's record (its first two lines), the flow's and its heap
    /// position; true (once those have arrived), the class's heap of flows, found through the
    /// class's record, and the rest of that record.
    pub fn prefetch_completion(&self, c: &Upcoming, deeper: bool) {
        use crate::kernel::prefetch::{prefetch_item, prefetch_item_lines};
        if deeper {
            self.resources[c.class as usize].members.prefetch_entries();
            // The rest of the class's record: a flow that stalls pauses, and its class is
            // re-solved at the end of the instant.
            let record = (&self.resources[c.class as usize] as *const super::flows::Resource).cast::<u8>();
            crate::kernel::prefetch::prefetch_lines_at(record.wrapping_add(2 * 64), RESOURCE_LINES - 2);
        } else {
            prefetch_item_lines(&self.resources, c.class as usize, 2);
            prefetch_item_lines(&self.flows, c.flow.0 as usize, 2);
            prefetch_item(&self.member_pos, c.flow.0 as usize);
        }
    }

    /// The first flows of the class of completion `c` (its earliest and the next few, which
    /// often complete at the same instant: siblings started together), found through the
    /// class's heap of flows, whose first line must have arrived (see
    /// [`Self::prefetch_completion`]).
    pub fn class_first_flows(&self, c: &Upcoming) -> impl Iterator<Item = FlowId> + '_ {
        self.resources[c.class as usize].members.first_ids(1 + 4).map(FlowId)
    }

    /// The flows due now and not handed out yet, lowest id (the next handed out) first, up to
    /// `n`.
    pub fn due_flows(&self, n: usize) -> impl Iterator<Item = FlowId> + '_ {
        self.due.first_few(n).map(FlowId)
    }

    /// Asks for every line of resource `r`'s record (one about to be joined and re-solved).
    pub fn prefetch_resource(&self, r: ResourceId) {
        crate::kernel::prefetch::prefetch_item_lines(&self.resources, r.0 as usize, RESOURCE_LINES);
    }

    /// Asks for `flow`'s record (a paused flow about to be resumed).
    pub fn prefetch_flow(&self, flow: FlowId) {
        crate::kernel::prefetch::prefetch_item_lines(&self.flows, flow.0 as usize, 2);
    }

    /// Pops one flow whose bytes are all sent by `now`, lowest flow id first. The flow stays
    /// active with nothing left and keeps its share; the caller must [`Self::extend_flow`] or
    /// [`Self::end_flow`] it at the same instant. Call it until it returns `None`: that closes
    /// the batch, and zero-byte flows started meanwhile are due from the next batch on.
    pub fn pop_completed(&mut self, now: SimTime) -> Option<FlowId> {
        if !self.in_batch {
            for i in 0..self.zero_byte.len() {
                let flow = self.zero_byte[i];
                self.mark_due(flow, now);
            }
            self.zero_byte.clear();
        }
        // Pending changes made at `now` do not affect what completes at `now`: the old rates
        // held until this instant.
        while let Some(((t, earliest), class)) = self.completions.peek() {
            if t > now {
                break;
            }
            // The entry names the class's earliest flow, so that flow's record is fetched
            // beside the class's instead of after it (at 10^5 classes both are cache misses).
            debug_assert_eq!(Some(earliest), self.resources[class as usize].members.peek_id(), "entry's flow");
            // Flows of a class often complete together (siblings started together): their
            // records are asked for at once, instead of one miss after the other below.
            for id in self.resources[class as usize].members.first_ids(1 + 4) {
                crate::kernel::prefetch::prefetch_item_lines(&self.flows, id as usize, 2);
            }
            let mut next = Some(earliest);
            while let Some(id) = next {
                if self.member_completion(FlowId(id)).is_none_or(|t| t > now) {
                    break;
                }
                self.resources[class as usize].members.remove(&mut self.member_pos, id);
                self.mark_due(FlowId(id), now);
                next = self.resources[class as usize].members.peek_id();
            }
            self.refresh_entry(class);
        }
        let Some(id) = self.due.pop_first().map(FlowId) else {
            self.in_batch = false;
            return None;
        };
        self.in_batch = true;
        self.flows[id.0 as usize].state = State::Done;
        Some(id)
    }

    /// Takes a `Due` flow out of the flows waiting to be handed out.
    pub(super) fn forget_due(&mut self, flow: FlowId) {
        if !self.due.remove(flow.0) {
            self.zero_byte.retain(|&f| f != flow);
        }
    }

    /// `flow` has sent everything by `now`: hand it out with the next `pop_completed`.
    pub(super) fn mark_due(&mut self, flow: FlowId, now: SimTime) {
        if self.due.is_empty() {
            self.due_at = now;
        }
        self.flows[flow.0 as usize].state = State::Due;
        self.due.insert(flow.0);
    }

    // Class clocks ----------------------------------------------------------------------------

    /// Bytes per flow that `class` has sent by `t`.
    pub(super) fn virtual_time(&self, class: u32, t: SimTime) -> f64 {
        let r = &self.resources[class as usize];
        r.clock + r.level * t.since(r.clock_at).as_secs_f64()
    }

    /// Restarts the clock of `class` from zero at `at` when no flow's finish point refers to it
    /// (no member, nothing due anywhere). A clock that ran on at a high level while the class
    /// was empty (a fast link's class after its last flow left) would otherwise carry a reading
    /// so large that finish points of later, slow flows keep fewer significant bits: a 100 B/s
    /// class whose clock stood at 3.7e6 bytes put a completion 0.01 ns off, enough to round it
    /// to the other nanosecond than the reference's per-flow arithmetic (a property-test case).
    pub(super) fn restart_idle_clock(&mut self, class: u32, at: SimTime) {
        let r = &mut self.resources[class as usize];
        if r.members.is_empty() && self.due.is_empty() {
            r.clock = 0.0;
            r.clock_at = at;
        }
    }

    /// Bytes `flow` has not sent by `now` under the rates solved so far.
    #[inline(always)]
    pub(super) fn unsent(&self, flow: FlowId, now: SimTime) -> f64 {
        let f = &self.flows[flow.0 as usize];
        match f.state {
            State::New => f.finish,
            State::Running | State::Due => (f.finish - self.virtual_time(f.class, now)).max(0.0),
            State::Done | State::Paused | State::Ended => 0.0,
        }
    }

    /// Puts `flow` on its class's clock at `now` with `bytes` left: the completion instant is
    /// `now + round(bytes / level)`, cached until the level changes.
    #[inline(always)]
    pub(super) fn place(&mut self, flow: FlowId, now: SimTime, bytes: f64) {
        let class = self.flows[flow.0 as usize].class;
        self.restart_idle_clock(class, now);
        let finish = self.virtual_time(class, now) + bytes;
        let r = &mut self.resources[class as usize];
        let f = &mut self.flows[flow.0 as usize];
        f.state = State::Running;
        f.finish = finish;
        if r.level > 0.0 {
            f.sched = now + SimDuration::from_secs_f64(bytes / r.level);
            f.sched_epoch = r.level_epoch;
        } else {
            f.sched_epoch = NO_EPOCH;
        }
        r.members.set(&mut self.member_pos, flow.0, Finish(finish));
    }

    /// Completion instant of a flow in its class's heap (`None` while the class is stalled).
    #[inline(always)]
    fn member_completion(&mut self, flow: FlowId) -> Option<SimTime> {
        let f = &mut self.flows[flow.0 as usize];
        let r = &self.resources[f.class as usize];
        if r.level <= 0.0 {
            return None;
        }
        if f.sched_epoch != r.level_epoch {
            let left = (f.finish - r.clock).max(0.0);
            f.sched = r.clock_at + SimDuration::from_secs_f64(left / r.level);
            f.sched_epoch = r.level_epoch;
        }
        Some(f.sched)
    }

    /// Updates the completion heap's entry of `class` from its earliest flow.
    #[inline(always)]
    pub(super) fn refresh_entry(&mut self, class: u32) {
        self.completions_changes = self.completions_changes.wrapping_add(1);
        let next = match self.resources[class as usize].members.peek_id() {
            Some(id) => self.member_completion(FlowId(id)).map(|t| (t, id)),
            None => None,
        };
        match next {
            Some(entry) => self.completions.set(&mut self.completion_pos, class, entry),
            None => {
                self.completions.remove(&mut self.completion_pos, class);
            }
        }
    }
}
