//! A 4-ary min-heap whose entries can be updated or removed in place.
//!
//! Entries are `(key, id)` pairs ordered by key, then id (a total order, so the pop order never
//! depends on the heap's internals, its arity included). Each entry is stored packed into one
//! `u128` whose unsigned order is that order ([`HeapKey`]): the smallest of four children is then
//! found with plain integer comparisons and selects instead of a lexicographic comparison whose
//! branches the processor mispredicts about half the time (which child is smallest is a coin
//! toss), and a completion entry takes 16 bytes instead of a padded 24 (four children in 64
//! bytes instead of 96). Four children per node halve the
//! depth of a binary heap: the heap of classes holds one entry per busy upload (10^5 in a big
//! cascade) and is updated on every completion, so each level saved is a likely cache miss
//! saved; the four children of a node sit side by side. Sifting moves a hole, not the entry: one
//! position written per level instead of two.
//!
//! Every id knows its position through a caller-owned table
//! (`positions[id]`, [`ABSENT`] when the id is not in the heap): the flow model keeps one table
//! for all per-class heaps of flows (a flow is in at most one of them) and one for the heap of
//! classes. Nothing stale is ever left behind, so a heap holds exactly its live entries.
//!
//! Also [`SmallIdSet`], the set of flows due at one instant, handed out smallest id first.

/// Position of an id that is in no heap.
pub const ABSENT: u32 = u32::MAX;

/// Children per node.
const ARITY: usize = 4;

/// Entries from which a sift down asks for the next level's lines early: a smaller heap (at
/// most 200 KB) stays in the processor's caches, where asking only costs.
const PREFETCH_FROM_ENTRIES: usize = 8_192;

/// A heap key that packs into the high 96 bits of a `u128` whose unsigned order is the key's
/// order (the low 32 bits hold the entry's id).
pub trait HeapKey: Copy + Ord {
    /// The key's bits, shifted into the high 96 bits (the low 32 are zero), such that
    /// `a < b` exactly when `a.packed() < b.packed()`.
    fn packed(self) -> u128;
    /// The key whose [`Self::packed`] is `bits` with its low 32 bits cleared.
    fn unpacked(bits: u128) -> Self;
}

/// Instants first, then the second field (in the flow model: the flow completing then).
impl HeapKey for (crate::kernel::SimTime, u32) {
    fn packed(self) -> u128 {
        (self.0.as_nanos() as u128) << 64 | (self.1 as u128) << 32
    }

    fn unpacked(bits: u128) -> Self {
        (crate::kernel::SimTime((bits >> 64) as u64), (bits >> 32) as u32)
    }
}

/// Plain integer keys, for the tests.
#[cfg(test)]
impl HeapKey for u32 {
    fn packed(self) -> u128 {
        (self as u128) << 32
    }

    fn unpacked(bits: u128) -> Self {
        (bits >> 32) as u32
    }
}

/// Id bits of a packed entry.
const ID_BITS: u128 = u32::MAX as u128;

/// A min-heap of `(key, id)` with positions kept in a caller-owned table.
#[derive(Debug, Clone)]
pub struct IndexedHeap<K> {
    /// `(key, id)` packed ([`HeapKey`]), in heap order.
    entries: Vec<u128>,
    key: std::marker::PhantomData<K>,
    /// The id of the smallest entry ([`ABSENT`] when empty), kept beside the vector's header:
    /// asking which id comes first ([`Self::peek_id`]) does not load the entries, which for a
    /// heap kept in a larger record (a class's flows) is one dependent cache miss less.
    top: u32,
}

impl<K> Default for IndexedHeap<K> {
    fn default() -> Self {
        IndexedHeap { entries: Vec::new(), key: std::marker::PhantomData, top: ABSENT }
    }
}

/// The packed entry of `id` with `key`.
fn pack<K: HeapKey>(key: K, id: u32) -> u128 {
    key.packed() | id as u128
}

/// The key and id of a packed entry.
fn unpack<K: HeapKey>(entry: u128) -> (K, u32) {
    (K::unpacked(entry & !ID_BITS), entry as u32)
}

impl<K: HeapKey> IndexedHeap<K> {
    /// Number of entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The smallest entry.
    pub fn peek(&self) -> Option<(K, u32)> {
        self.entries.first().map(|&e| unpack(e))
    }

    /// The id of the smallest entry, read without the entries.
    pub fn peek_id(&self) -> Option<u32> {
        debug_assert_eq!(self.top, self.entries.first().map_or(ABSENT, |&e| e as u32), "cached top");
        (self.top != ABSENT).then_some(self.top)
    }

    /// The ids of the first entries (the smallest and its first children), up to `n`.
    pub fn first_ids(&self, n: usize) -> impl Iterator<Item = u32> + '_ {
        self.entries.iter().take(n).map(|&e| e as u32)
    }

    /// Asks for the first line of the entries (the smallest and its first children).
    pub fn prefetch_entries(&self) {
        if let Some(first) = self.entries.first() {
            crate::kernel::prefetch::prefetch(first);
        }
    }

    /// Inserts `id` with `key`, or moves it to `key` if it is already in.
    #[inline(always)]
    pub fn set(&mut self, positions: &mut [u32], id: u32, key: K) {
        let p = positions[id as usize];
        let entry = pack(key, id);
        if p == ABSENT {
            self.entries.push(entry);
            let i = self.entries.len() - 1;
            positions[id as usize] = i as u32;
            self.sift_up(positions, i);
        } else {
            let i = p as usize;
            let old = self.entries[i];
            if entry == old {
                // Unchanged (a class's entry refreshed after a flow of its went on with its
                // next item behind an earlier sibling): nothing moves.
                return;
            }
            self.entries[i] = entry;
            if entry < old {
                self.sift_up(positions, i);
            } else {
                self.sift_down(positions, i);
            }
        }
    }

    /// Removes `id` if it is in the heap; returns its key.
    #[inline(always)]
    pub fn remove(&mut self, positions: &mut [u32], id: u32) -> Option<K> {
        let p = positions[id as usize];
        if p == ABSENT {
            return None;
        }
        positions[id as usize] = ABSENT;
        let i = p as usize;
        let (key, _) = unpack(self.entries.swap_remove(i));
        if self.entries.is_empty() {
            self.top = ABSENT;
        } else if i < self.entries.len() {
            positions[self.entries[i] as u32 as usize] = i as u32;
            self.sift_down(positions, i);
            self.sift_up(positions, i);
        }
        Some(key)
    }

    /// Removes and returns the smallest entry.
    #[cfg(test)]
    pub fn pop(&mut self, positions: &mut [u32]) -> Option<(K, u32)> {
        let (key, id) = self.peek()?;
        self.remove(positions, id);
        Some((key, id))
    }

    /// Every entry, in no particular order.
    #[cfg(test)]
    pub fn entries(&self) -> Vec<(K, u32)> {
        self.entries.iter().map(|&e| unpack(e)).collect()
    }

    /// Moves the entry at `i` up to its place.
    #[inline(always)]
    fn sift_up(&mut self, positions: &mut [u32], mut i: usize) {
        let entry = self.entries[i];
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if entry >= self.entries[parent] {
                break;
            }
            self.entries[i] = self.entries[parent];
            positions[self.entries[i] as u32 as usize] = i as u32;
            i = parent;
        }
        self.entries[i] = entry;
        positions[entry as u32 as usize] = i as u32;
        self.top = self.entries[0] as u32;
    }

    /// The position and entry of the smallest of the children that start at `first`, found
    /// with selects rather than branches (which child it is is a coin toss the processor
    /// would mispredict half the time): a full set of four in a tournament of two rounds.
    fn smallest_child(&self, first: usize) -> (usize, u128) {
        use std::hint::select_unpredictable as select;
        if let Some(&[a, b, c, d]) = self.entries.get(first..first + ARITY) {
            let (ab, cd) = (b < a, d < c);
            let (i_ab, m_ab) = (select(ab, 1, 0), select(ab, b, a));
            let (i_cd, m_cd) = (select(cd, 3, 2), select(cd, d, c));
            let right = m_cd < m_ab;
            return (first + select(right, i_cd, i_ab), select(right, m_cd, m_ab));
        }
        let (mut smallest, mut least) = (first, self.entries[first]);
        for c in first + 1..(first + ARITY).min(self.entries.len()) {
            let candidate = self.entries[c];
            let less = candidate < least;
            smallest = select(less, c, smallest);
            least = select(less, candidate, least);
        }
        (smallest, least)
    }

    /// Moves the entry at `i` down to its place.
    #[inline(always)]
    fn sift_down(&mut self, positions: &mut [u32], mut i: usize) {
        let n = self.entries.len();
        let entry = self.entries[i];
        loop {
            let first = ARITY * i + 1;
            if first >= n {
                break;
            }
            // The next level's candidates are the children of one of these four: asking for
            // all their lines now overlaps the next level's misses with this one's.
            let grandchildren = ARITY * first + 1;
            if n >= PREFETCH_FROM_ENTRIES && grandchildren < n {
                let lines = (ARITY * ARITY * std::mem::size_of::<u128>()).div_ceil(64) + 1;
                crate::kernel::prefetch::prefetch_lines(&self.entries[grandchildren], lines);
            }
            let (smallest, least) = self.smallest_child(first);
            if least >= entry {
                break;
            }
            self.entries[i] = least;
            positions[least as u32 as usize] = i as u32;
            i = smallest;
        }
        self.entries[i] = entry;
        positions[entry as u32 as usize] = i as u32;
        // Whether the root moved is a branch mispredicted often: set the cached top anyway.
        self.top = self.entries[0] as u32;
    }
}

/// Ids kept in a [`SmallIdSet`]'s vector before it moves them to a B-tree.
const SMALL_SET: usize = 32;

/// A set of ids handed out smallest first. Flows completing at one instant are usually one or
/// two: a sorted vector (largest first, so the smallest pops from the end) serves those without
/// the B-tree's node allocations; past [`SMALL_SET`] ids (many equal transfers ending together)
/// they move to a B-tree, so a large batch costs O(log n) per id, not O(n).
#[derive(Debug, Clone, Default)]
pub struct SmallIdSet {
    /// Sorted, largest first; empty while `large` is in use.
    small: Vec<u32>,
    large: std::collections::BTreeSet<u32>,
}

impl SmallIdSet {
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.small.is_empty() && self.large.is_empty()
    }

    /// Adds `id` (no effect if present).
    pub fn insert(&mut self, id: u32) {
        if !self.large.is_empty() {
            self.large.insert(id);
            return;
        }
        match self.small.binary_search_by(|x| id.cmp(x)) {
            Ok(_) => {}
            Err(at) if self.small.len() < SMALL_SET => self.small.insert(at, id),
            Err(_) => {
                self.large.extend(self.small.drain(..));
                self.large.insert(id);
            }
        }
    }

    /// Removes `id`; true if it was present.
    pub fn remove(&mut self, id: u32) -> bool {
        if !self.large.is_empty() {
            return self.large.remove(&id);
        }
        match self.small.binary_search_by(|x| id.cmp(x)) {
            Ok(at) => {
                self.small.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// The smallest ids, up to `n`, smallest first.
    pub fn first_few(&self, n: usize) -> impl Iterator<Item = u32> + '_ {
        self.small.iter().rev().chain(self.large.iter()).take(n).copied()
    }

    /// Removes and returns the smallest id.
    pub fn pop_first(&mut self) -> Option<u32> {
        self.small.pop().or_else(|| self.large.pop_first())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 128,
            rng_seed: proptest::test_runner::RngSeed::Fixed(11),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]
        /// Random sets, updates and removals agree with a sorted list, and positions stay exact.
        #[test]
        fn matches_a_sorted_list(ops in proptest::collection::vec((0u32..64, 0u32..100, 0u8..4), 0..400)) {
            let mut heap = IndexedHeap::default();
            let mut positions = vec![ABSENT; 64]; // up to 64 entries: three levels of four
            let mut model: Vec<(u32, u32)> = Vec::new();
            for (id, key, op) in ops {
                match op {
                    0 | 1 => {
                        heap.set(&mut positions, id, key);
                        model.retain(|&(_, i)| i != id);
                        model.push((key, id));
                    }
                    2 => {
                        let removed = heap.remove(&mut positions, id);
                        let before = model.iter().find(|&&(_, i)| i == id).map(|&(k, _)| k);
                        prop_assert_eq!(removed, before);
                        model.retain(|&(_, i)| i != id);
                    }
                    _ => {
                        model.sort();
                        let expected = if model.is_empty() { None } else { Some(model.remove(0)) };
                        prop_assert_eq!(heap.pop(&mut positions), expected);
                    }
                }
                for (p, e) in heap.entries().iter().enumerate() {
                    prop_assert_eq!(positions[e.1 as usize], p as u32);
                }
                let smallest = model.iter().min().map(|&(_, id)| id);
                prop_assert_eq!(heap.peek_id(), smallest);
                prop_assert_eq!(heap.len(), model.len());
                prop_assert_eq!(heap.is_empty(), model.is_empty());
            }
        }
    }

    /// Floats at the edges of `total_cmp`'s order: both zeros, both infinities, NaNs of both
    /// signs, subnormals, extremes.
    fn special_floats() -> Vec<f64> {
        let nan = f64::NAN;
        vec![
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            nan,
            -nan,
            f64::MIN_POSITIVE / 3.0,
            -f64::MIN_POSITIVE / 3.0,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            1.0,
            -1.0,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 512,
            rng_seed: proptest::test_runner::RngSeed::Fixed(12),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]
        /// Packed entries compare as the `(key, id)` pairs they pack, and unpack to the very same
        /// key bits: finish points (any bit pattern, so every float class) and completion keys
        /// (instant, flow).
        #[test]
        fn packed_entries_keep_the_order_and_every_bit(
            a in any::<u64>(), b in any::<u64>(), special in proptest::sample::select(special_floats()),
            ids in (any::<u32>(), any::<u32>()),
            times in (any::<u64>(), any::<u64>()), flows in (0u32..4, 0u32..4),
        ) {
            use crate::net::clocks::Finish;
            for (x, y) in [(f64::from_bits(a), f64::from_bits(b)), (special, f64::from_bits(b)), (special, special), (f64::from_bits(a), -special)] {
                let (x, y) = (Finish(x), Finish(y));
                for (i, j) in [ids, (ids.0, ids.0)] {
                    prop_assert_eq!(pack(x, i).cmp(&pack(y, j)), (x, i).cmp(&(y, j)));
                }
                let (back, id) = unpack::<Finish>(pack(x, ids.0));
                prop_assert_eq!((back.0.to_bits(), id), (x.0.to_bits(), ids.0));
            }
            use crate::kernel::SimTime;
            // Few distinct flows and instants near each other, so that ties on the first fields occur.
            for (t, u) in [times, (times.0, times.0), (times.0, times.0.wrapping_add(1))] {
                let (x, y) = ((SimTime(t), flows.0), (SimTime(u), flows.1));
                for (i, j) in [ids, (ids.0, ids.0)] {
                    prop_assert_eq!(pack(x, i).cmp(&pack(y, j)), (x, i).cmp(&(y, j)));
                }
                prop_assert_eq!(unpack::<(SimTime, u32)>(pack(x, ids.1)), (x, ids.1));
            }
        }
    }

    proptest::proptest! {
        /// Against a B-tree set: inserts, removals and pops of the smallest in any order, across
        /// the move from the vector to the B-tree and back.
        #[test]
        fn small_id_set_acts_as_a_btree_set(ops in proptest::collection::vec((0u8..3, 0u32..80), 0..400)) {
            let (mut set, mut reference) = (SmallIdSet::default(), std::collections::BTreeSet::new());
            for (op, id) in ops {
                match op {
                    0 => { set.insert(id); reference.insert(id); }
                    1 => proptest::prop_assert_eq!(set.remove(id), reference.remove(&id)),
                    _ => proptest::prop_assert_eq!(set.pop_first(), reference.pop_first()),
                }
                proptest::prop_assert_eq!(set.is_empty(), reference.is_empty());
                let first: Vec<u32> = set.first_few(3).collect();
                proptest::prop_assert_eq!(first, reference.iter().take(3).copied().collect::<Vec<_>>());
            }
            while let Some(id) = reference.pop_first() {
                proptest::prop_assert_eq!(set.pop_first(), Some(id));
            }
            proptest::prop_assert!(set.is_empty() && set.pop_first().is_none());
        }
    }
}
