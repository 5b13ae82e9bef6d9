//! The event queue: a radix heap ordered by `(time, insertion sequence)`.
//!
//! Events scheduled for the same instant run first-in first-out: each push gets the next value
//! of a monotonically increasing sequence number, and the queue orders by `(time, seq)`. This is
//! what makes a run reproducible: no two entries ever compare equal, so the order never depends
//! on the queue's internals. Cancellation is lazy: callers keep a version or a flag in their own
//! state and ignore stale events when they pop them.
//!
//! A discrete-event queue is monotone: nothing is scheduled before the event being handled, so
//! every key pushed is above the key last popped. That lets it be a *radix heap* (Ahuja,
//! Mehlhorn, Orlin and Tarjan, "Faster algorithms for the shortest path problem", 1990): bucket
//! `b` holds the keys whose highest bit differing from the last popped key is bit `b - 1`
//! (bucket 0: the last popped key itself). A push appends to a bucket; a pop empties the lowest
//! non-empty bucket into lower ones around its smallest key, which then sits alone in bucket 0.
//! Each entry moves down at most once per bit of the key, and every move is a sequential append:
//! far fewer cache misses than a binary heap's sift, which dominated large runs (a cascade of
//! 30,000 servers keeps that many arrivals pending). The pop order is exactly the binary heap's.

use super::time::SimTime;

/// Buckets of a radix heap over 128-bit keys: bucket 0 plus one per bit.
const BUCKETS: usize = 129;

/// Entries a bucket keeps room for once emptied (a larger allocation is freed).
const KEPT_BUCKET_CAPACITY: usize = 256;

/// The queue's key: time in the high 64 bits, insertion sequence in the low 64.
fn key(time: SimTime, seq: u64) -> u128 {
    (time.as_nanos() as u128) << 64 | seq as u128
}

/// The bucket of `key` relative to the last popped key `last` (`key >= last`).
fn bucket(key: u128, last: u128) -> usize {
    128 - (key ^ last).leading_zeros() as usize
}

/// A priority queue of events of type `E`, earliest `(time, seq)` first.
pub struct EventQueue<E> {
    buckets: Vec<Vec<(u128, E)>>,
    /// Bit `b` of word `b / 64`: bucket `b` is not empty.
    occupied: [u64; 3],
    /// The key of the last event popped (0 before the first).
    last: u128,
    /// The smallest pending key, when known (pushes keep it; a pop forgets it).
    least: Option<u128>,
    len: usize,
    next_seq: u64,
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
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            occupied: [0; 3],
            last: 0,
            least: None,
            len: 0,
            next_seq: 0,
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
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = key(time, seq);
        // `time >= now` and a fresh sequence number keep every key above the last popped one.
        debug_assert!(key > self.last || (self.last == 0 && key == 0));
        self.least = match self.least {
            Some(least) => Some(least.min(key)),
            None if self.len == 0 => Some(key),
            None => None,
        };
        self.insert(key, event);
        self.len += 1;
    }

    fn insert(&mut self, key: u128, event: E) {
        let b = bucket(key, self.last);
        self.buckets[b].push((key, event));
        self.occupied[b / 64] |= 1 << (b % 64);
    }

    /// The lowest non-empty bucket (the queue is not empty).
    fn lowest_bucket(&self) -> usize {
        let word = self.occupied.iter().position(|&w| w != 0).expect("a non-empty queue has a bucket");
        word * 64 + self.occupied[word].trailing_zeros() as usize
    }

    /// The smallest pending key, found (and remembered) if not known.
    fn least_key(&mut self) -> Option<u128> {
        if self.len == 0 {
            return None;
        }
        if self.least.is_none() {
            let b = self.lowest_bucket();
            self.least = self.buckets[b].iter().map(|&(k, _)| k).min();
        }
        self.least
    }

    /// The time of the earliest pending event (`&mut`: it may have to find it, and remembers it
    /// until the next pop).
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.least_key().map(|k| SimTime((k >> 64) as u64))
    }

    /// Removes and returns the earliest event, advancing "now" to its time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let least = self.least_key()?;
        let b = self.lowest_bucket();
        if b > 0 {
            // Spread the bucket around its smallest key: everything in it lands lower, the
            // smallest key alone in bucket 0.
            self.last = least;
            let mut spilled = std::mem::take(&mut self.buckets[b]);
            self.occupied[b / 64] &= !(1 << (b % 64));
            for (k, e) in spilled.drain(..) {
                self.insert(k, e);
            }
            // Keep a small allocation for the next entries; give a large one back, or every
            // bucket would keep the most it ever held (at once, many times the queue).
            if spilled.capacity() <= KEPT_BUCKET_CAPACITY {
                self.buckets[b] = spilled;
            }
        }
        let (k, event) = self.buckets[0].pop().expect("the smallest key is in bucket 0");
        debug_assert_eq!(k, least);
        if self.buckets[0].is_empty() {
            self.occupied[0] &= !1;
        }
        self.len -= 1;
        self.least = None;
        let time = SimTime((k >> 64) as u64);
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
        /// after "now" pops the same events at the same times.
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
