//! The event queue: a radix heap ordered by `(time, insertion sequence)`.
//!
//! Events scheduled for the same instant run first-in first-out: the queue orders by time and,
//! among equal times, by the order of the pushes. This is what makes a run reproducible: the
//! order never depends on the queue's internals. Cancellation is lazy: callers keep a version or
//! a flag in their own state and ignore stale events when they pop them.
//!
//! A discrete-event queue is monotone: nothing is scheduled before the event being handled, so
//! every time pushed is at or above the time last popped. That lets it be a *radix heap* (Ahuja,
//! Mehlhorn, Orlin and Tarjan, "Faster algorithms for the shortest path problem", 1990), here
//! with base-16 digits: bucket `(d, v)` holds the times whose highest hexadecimal digit differing
//! from the last popped time is digit `d`, of value `v` (bucket 0: the last popped time itself).
//! Buckets in `(d, v)` order hold ever later times. A push appends to a bucket; a pop empties the
//! lowest non-empty bucket into lower ones around its smallest time, which then sits in bucket 0.
//! Each entry moves down at most once per digit of its distance from the last popped time, and
//! every move is a sequential append: far fewer cache misses than a binary heap's sift, which
//! dominated large runs (a cascade of 30,000 servers keeps that many arrivals pending). With one
//! bucket per bit instead (the textbook radix heap), an entry drops a bit or two per move: a
//! cascade's arrival, pushed some 2^24 ns ahead, moved about a dozen times, and those moves were
//! a tenth of a run's instructions.
//!
//! Ties need no sequence number in the key: every bucket lists its entries in push order. A
//! bucket only receives pushes (each later than everything queued) or, while it is empty, the
//! entries of a higher bucket in their own order; entries of one time always share a bucket. So
//! bucket 0 (one time) is first-in first-out, and the pop order is exactly a binary heap's over
//! `(time, push sequence)`, with half the key and no spreading of equal times over buckets.

use super::time::SimTime;
use std::collections::VecDeque;

/// Bits per digit of the radix heap.
const DIGIT_BITS: u32 = 4;

/// Values of a digit.
const DIGIT_VALUES: usize = 1 << DIGIT_BITS;

/// Buckets of a radix heap over 64-bit times: bucket 0 plus one per (digit, value).
const BUCKETS: usize = 1 + (64 / DIGIT_BITS as usize) * DIGIT_VALUES;

/// Words of the bitmap of non-empty buckets (bucket `b` is bit `b - 1`).
const OCCUPIED_WORDS: usize = (BUCKETS - 1).div_ceil(64);

/// Entries a bucket keeps room for once emptied (a larger allocation is kept only while the
/// buckets' room stays within twice the queue, see [`EventQueue::pop`]).
const KEPT_BUCKET_CAPACITY: usize = 256;

/// The bucket of `time` relative to the last popped time `last` (`time >= last`): 0 for `last`
/// itself, else `1 + d * 16 + v` for the highest differing digit `d` and `time`'s value `v`
/// there (larger than `last`'s: bucket order is time order).
fn bucket(time: u64, last: u64) -> usize {
    let differ = time ^ last;
    if differ == 0 {
        return 0;
    }
    let digit = (63 - differ.leading_zeros()) / DIGIT_BITS;
    let value = (time >> (digit * DIGIT_BITS)) as usize & (DIGIT_VALUES - 1);
    1 + digit as usize * DIGIT_VALUES + value
}

/// A priority queue of events of type `E`, earliest time first, equal times in push order.
pub struct EventQueue<E> {
    /// Bucket 0: events at the last popped time, in push order.
    current: VecDeque<E>,
    /// Buckets 1..: `(time, event)` in push order; index 0 unused.
    buckets: Vec<Vec<(u64, E)>>,
    /// Bit `b - 1` of word `(b - 1) / 64`: bucket `b` (1..) is not empty.
    occupied: [u64; OCCUPIED_WORDS],
    /// The time of the last event popped (0 before the first).
    last: u64,
    /// The smallest pending time, when known (pushes keep it; a pop forgets it).
    least: Option<u64>,
    /// Where the first-pushed event of time `least` is, `(bucket, index)`, while `least` is
    /// known and bucket 0 is empty (when it is not, its front is next).
    least_slot: (usize, usize),
    len: usize,
    now: SimTime,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        EventQueue {
            current: VecDeque::new(),
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            occupied: [0; OCCUPIED_WORDS],
            last: 0,
            least: None,
            least_slot: (0, 0),
            len: 0,
            now: SimTime::ZERO,
        }
    }

    /// The time of the last event popped (the simulation's "now").
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `time`. Scheduling in the past is a broken invariant and panics.
    pub fn push(&mut self, time: SimTime, event: E) {
        assert!(time >= self.now, "event scheduled in the past: {time} < now {}", self.now);
        let time = time.as_nanos();
        // `time >= now >= last`: the time is never below the last popped one.
        debug_assert!(time >= self.last);
        let slot = self.insert(time, event);
        match self.least {
            Some(least) if time < least => (self.least, self.least_slot) = (Some(time), slot),
            None if self.len == 0 => (self.least, self.least_slot) = (Some(time), slot),
            _ => {}
        }
        self.len += 1;
    }

    /// Files `event` in its bucket; returns where it went, `(bucket, index)`.
    fn insert(&mut self, time: u64, event: E) -> (usize, usize) {
        let b = bucket(time, self.last);
        if b == 0 {
            self.current.push_back(event);
            (0, self.current.len() - 1)
        } else {
            self.buckets[b].push((time, event));
            self.occupied[(b - 1) / 64] |= 1 << ((b - 1) % 64);
            (b, self.buckets[b].len() - 1)
        }
    }

    /// Entries the buckets above 0 have room for, beyond [`KEPT_BUCKET_CAPACITY`] each.
    fn room_kept(&self) -> usize {
        self.buckets.iter().map(|b| b.capacity().saturating_sub(KEPT_BUCKET_CAPACITY)).sum()
    }

    /// The lowest non-empty bucket above 0 (some is not empty).
    fn lowest_bucket(&self) -> usize {
        let word = self.occupied.iter().position(|&w| w != 0).expect("a non-empty queue has a bucket");
        1 + word * 64 + self.occupied[word].trailing_zeros() as usize
    }

    /// The smallest pending time, found (and remembered) if not known.
    ///
    /// Inline: it is asked several times per event (the engine's loop and its look-ahead) and
    /// is nearly always known; the search is a function of its own.
    #[inline]
    fn least_time(&mut self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        if !self.current.is_empty() {
            return Some(self.last);
        }
        if self.least.is_none() {
            self.find_least();
        }
        self.least
    }

    /// Finds and remembers the smallest time and where it is (bucket 0 empty, the queue not).
    #[inline(never)]
    fn find_least(&mut self) {
        let b = self.lowest_bucket();
        // The first entry of the smallest time (a strictly smaller time replaces the one
        // kept, and entries of one time are in push order), kept by selects: whether an
        // entry is smaller is a branch the processor would often mispredict.
        let bucket = &self.buckets[b];
        let mut least = (bucket.first().expect("the lowest bucket is not empty").0, 0);
        for (i, &(t, _)) in bucket.iter().enumerate().skip(1) {
            least = std::hint::select_unpredictable(t < least.0, (t, i), least);
        }
        (self.least, self.least_slot) = (Some(least.0), (b, least.1));
    }

    /// The event [`Self::pop`] would return next (`&mut`: it may have to find it, and
    /// remembers where until the next pop). Used to fetch that event's records early.
    pub fn peek(&mut self) -> Option<&E> {
        if !self.current.is_empty() {
            return self.current.front();
        }
        let least = self.least_time()?;
        let (b, i) = self.least_slot;
        debug_assert_eq!(self.buckets[b][i].0, least, "the remembered slot holds the smallest time");
        Some(&self.buckets[b][i].1)
    }

    /// The time of the earliest pending event (`&mut`: it may have to find it, and remembers it
    /// until the next pop).
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.least_time().map(SimTime)
    }

    /// Removes and returns the earliest event, advancing "now" to its time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let least = self.least_time()?;
        if self.current.is_empty() {
            // Spread the lowest bucket around its smallest time: everything in it lands lower,
            // in order, the events at that time in bucket 0.
            let b = self.lowest_bucket();
            self.last = least;
            let mut spilled = std::mem::take(&mut self.buckets[b]);
            self.occupied[(b - 1) / 64] &= !(1 << ((b - 1) % 64));
            for (t, e) in spilled.drain(..) {
                let _ = self.insert(t, e);
            }
            // Keep the allocation for the next entries (growing it again from nothing costs a
            // copy per doubling), unless the buckets would then hold room for more than twice
            // the queue: every bucket keeping the most it ever held could be many times it.
            if spilled.capacity() <= KEPT_BUCKET_CAPACITY || self.room_kept() + spilled.capacity() <= 2 * self.len {
                self.buckets[b] = spilled;
            }
        }
        let event = self.current.pop_front().expect("the smallest time is in bucket 0");
        debug_assert_eq!(least, self.last);
        self.len -= 1;
        self.least = None;
        let time = SimTime(least);
        self.now = time;
        Some((time, event))
    }

    /// Advances "now" without popping (used when another source, such as the network model's
    /// completion heap, supplies the next event). Going backwards panics.
    pub fn advance_to(&mut self, time: SimTime) {
        assert!(time >= self.now, "time went backwards: {time} < {}", self.now);
        self.now = time;
    }

    /// Number of pending events (including stale ones not yet popped).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_time_then_insertion() {
        let mut q = EventQueue::new();
        q.push(SimTime(20), "c");
        q.push(SimTime(10), "a");
        q.push(SimTime(20), "d");
        q.push(SimTime(10), "b");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
        assert_eq!(q.now(), SimTime(20));
    }

    /// Keys that differ only in the sequence, or in high bits of the time, and pops between
    /// pushes: the order is by time, then push order.
    #[test]
    fn spreads_buckets_in_order() {
        let mut q = EventQueue::new();
        q.push(SimTime(u64::MAX / 2), "late");
        q.push(SimTime(0), "first");
        q.push(SimTime(7), "b");
        q.push(SimTime(7), "c");
        assert_eq!(q.peek_time(), Some(SimTime(0)));
        assert_eq!(q.pop(), Some((SimTime(0), "first")));
        q.push(SimTime(3), "a");
        q.push(SimTime(7), "d");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["a", "b", "c", "d", "late"]);
        assert!(q.is_empty() && q.peek_time().is_none());
    }

    proptest::proptest! {
        /// Against a binary heap of `(time, seq)`: any interleaving of pops and pushes at or
        /// after "now" pops the same events at the same times, and `peek` names the next.
        #[test]
        fn pops_like_a_binary_heap(ops in proptest::collection::vec((0u8..3, 0u64..1_000, 0u32..4), 1..400)) {
            use std::cmp::Reverse;
            let mut q = EventQueue::new();
            let mut reference = std::collections::BinaryHeap::new();
            let mut seq = 0u64;
            for (op, delay, scale) in ops {
                if op == 0 {
                    let got = q.pop();
                    let want = reference.pop().map(|Reverse((t, s))| (SimTime(t), s));
                    proptest::prop_assert_eq!(got, want);
                } else {
                    // Delays of a few nanoseconds up to ~10^12: equal times, near and far keys.
                    let at = q.now().as_nanos() + delay * 1_000u64.pow(scale);
                    q.push(SimTime(at), seq);
                    reference.push(Reverse((at, seq)));
                    seq += 1;
                }
                proptest::prop_assert_eq!(q.len(), reference.len());
                proptest::prop_assert_eq!(q.peek_time(), reference.peek().map(|Reverse((t, _))| SimTime(*t)));
                proptest::prop_assert_eq!(q.peek().copied(), reference.peek().map(|Reverse((_, s))| *s));
            }
        }
    }

    proptest::proptest! {
        /// Bucket order is time order: of two times at or after the last popped one, the later
        /// is never in a lower bucket, and only the last popped time itself is in bucket 0.
        #[test]
        fn buckets_follow_time_order(last in proptest::num::u64::ANY, a in proptest::num::u64::ANY, b in proptest::num::u64::ANY) {
            let (t1, t2) = (last.saturating_add(a.min(b) >> (a % 64)), last.saturating_add(a.max(b) >> (a % 64)));
            let (t1, t2) = (t1.min(t2), t1.max(t2));
            proptest::prop_assert!(bucket(t1, last) <= bucket(t2, last));
            proptest::prop_assert!(bucket(t2, last) < BUCKETS);
            proptest::prop_assert_eq!(bucket(t1, last) == 0, t1 == last);
        }
    }

    /// Emptied buckets keep their allocations only while the room kept stays within twice the
    /// queue: bursts of pending events at ever other distances (each filling another bucket),
    /// every burst popped before the next, leave room for at most four bursts (twice a burst
    /// kept, and live buckets up to twice what they hold, as vectors grow by doubling).
    #[test]
    fn kept_room_is_bounded_by_the_queue() {
        let mut q = EventQueue::new();
        let burst = 2_000u64;
        for phase in 0..48 {
            let base = q.now().as_nanos() + (1u64 << (12 + phase % 40));
            for j in 0..burst {
                q.push(SimTime(base + j * 7), j);
            }
            while q.pop().is_some() {
                assert!(q.room_kept() <= 4 * burst as usize, "room for {} entries in phase {phase}", q.room_kept());
            }
        }
    }

    #[test]
    #[should_panic(expected = "scheduled in the past")]
    fn scheduling_in_the_past_panics() {
        let mut q = EventQueue::new();
        q.push(SimTime(10), ());
        q.pop();
        q.push(SimTime(5), ());
    }
}
