//! A binary min-heap whose entries can be updated or removed in place.
//!
//! Entries are `(key, id)` pairs ordered by key, then id (a total order, so the pop order never
//! depends on the heap's internals). Every id knows its position through a caller-owned table
//! (`positions[id]`, [`ABSENT`] when the id is not in the heap): the flow model keeps one table
//! for all per-class heaps of flows (a flow is in at most one of them) and one for the heap of
//! classes. Nothing stale is ever left behind, so a heap holds exactly its live entries.

/// Position of an id that is in no heap.
pub const ABSENT: u32 = u32::MAX;

/// A min-heap of `(key, id)` with positions kept in a caller-owned table.
#[derive(Debug, Clone)]
pub struct IndexedHeap<K> {
    entries: Vec<(K, u32)>,
}

impl<K> Default for IndexedHeap<K> {
    fn default() -> Self {
        IndexedHeap { entries: Vec::new() }
    }
}

impl<K: Ord + Copy> IndexedHeap<K> {
    /// Number of entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The smallest entry.
    pub fn peek(&self) -> Option<(K, u32)> {
        self.entries.first().copied()
    }

    /// Inserts `id` with `key`, or moves it to `key` if it is already in.
    pub fn set(&mut self, positions: &mut [u32], id: u32, key: K) {
        let p = positions[id as usize];
        if p == ABSENT {
            self.entries.push((key, id));
            let i = self.entries.len() - 1;
            positions[id as usize] = i as u32;
            self.sift_up(positions, i);
        } else {
            let i = p as usize;
            let old = self.entries[i].0;
            self.entries[i].0 = key;
            if key < old {
                self.sift_up(positions, i);
            } else {
                self.sift_down(positions, i);
            }
        }
    }

    /// Removes `id` if it is in the heap; returns its key.
    pub fn remove(&mut self, positions: &mut [u32], id: u32) -> Option<K> {
        let p = positions[id as usize];
        if p == ABSENT {
            return None;
        }
        positions[id as usize] = ABSENT;
        let i = p as usize;
        let (key, _) = self.entries.swap_remove(i);
        if i < self.entries.len() {
            positions[self.entries[i].1 as usize] = i as u32;
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
    pub fn entries(&self) -> &[(K, u32)] {
        &self.entries
    }

    fn less(&self, a: usize, b: usize) -> bool {
        self.entries[a] < self.entries[b]
    }

    fn swap(&mut self, positions: &mut [u32], a: usize, b: usize) {
        self.entries.swap(a, b);
        positions[self.entries[a].1 as usize] = a as u32;
        positions[self.entries[b].1 as usize] = b as u32;
    }

    fn sift_up(&mut self, positions: &mut [u32], mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if !self.less(i, parent) {
                break;
            }
            self.swap(positions, i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, positions: &mut [u32], mut i: usize) {
        let n = self.entries.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut smallest = i;
            if l < n && self.less(l, smallest) {
                smallest = l;
            }
            if r < n && self.less(r, smallest) {
                smallest = r;
            }
            if smallest == i {
                break;
            }
            self.swap(positions, i, smallest);
            i = smallest;
        }
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
        fn matches_a_sorted_list(ops in proptest::collection::vec((0u32..16, 0u32..100, 0u8..4), 0..200)) {
            let mut heap = IndexedHeap::default();
            let mut positions = vec![ABSENT; 16];
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
                prop_assert_eq!(heap.len(), model.len());
                prop_assert_eq!(heap.is_empty(), model.is_empty());
            }
        }
    }
}
