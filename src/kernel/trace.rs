//! A stable 64-bit fingerprint of the processed event sequence.
//!
//! Every event the engine processes is folded into a [`TraceHash`] as a few integers (time,
//! kind, ids). The hash is FNV-1a over little-endian bytes: stable across platforms, Rust
//! versions and runs, unlike `std`'s `DefaultHasher`. Equal hashes for the same scenario and
//! seed are the project's determinism contract.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Running FNV-1a hash of the event trace, plus the number of events folded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceHash {
    state: u64,
    events: u64,
}

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash { state: FNV_OFFSET, events: 0 }
    }
}

impl TraceHash {
    /// Folds one processed event, described by its words, into the hash.
    pub fn record(&mut self, words: &[u64]) {
        for word in words {
            for byte in word.to_le_bytes() {
                self.state ^= byte as u64;
                self.state = self.state.wrapping_mul(FNV_PRIME);
            }
        }
        self.events += 1;
    }

    /// The hash so far.
    pub fn value(&self) -> u64 {
        self.state
    }

    /// The number of events recorded.
    pub fn events(&self) -> u64 {
        self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_reference_fnv1a() {
        // FNV-1a 64 of the single byte 'a' is 0xaf63dc4c8601ec8c.
        let mut h = TraceHash::default();
        h.state ^= b'a' as u64;
        h.state = h.state.wrapping_mul(FNV_PRIME);
        assert_eq!(h.value(), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn order_matters() {
        let mut a = TraceHash::default();
        a.record(&[1, 2]);
        a.record(&[3]);
        let mut b = TraceHash::default();
        b.record(&[3]);
        b.record(&[1, 2]);
        assert_ne!(a.value(), b.value());
        assert_eq!(a.events(), 2);
    }
}
