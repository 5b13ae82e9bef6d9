//! A stable 64-bit fingerprint of the processed event sequence.
//!
//! Every event the engine processes is folded into a [`TraceHash`] as a few 64-bit words (time,
//! kind, ids). Equal fingerprints for the same scenario and seed are the project's determinism
//! contract, so the function is written out here, fixed and versioned, rather than taken from
//! `std`'s `DefaultHasher` or a hashing crate, whose output may change between releases.
//!
//! Two versions exist ([`TraceHashVersion`]); a run computes one of them:
//! - **2** (the default since the version was introduced): each word is folded in with one
//!   rotation, one exclusive-or and one multiplication by an odd constant (FxHash's round),
//!   and the result passes through MurmurHash3's 64-bit finaliser. Every step is a bijection of
//!   the state, so two traces that differ in one word always get different fingerprints.
//! - **1**: FNV-1a over the words' little-endian bytes, eight dependent multiplications a
//!   word. It is kept so that `check` can still compare a run with an expectation written by
//!   a build from before version 2 (an expectation without `trace_hash_version` is version 1).

use serde::{Deserialize, Serialize};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// The odd multiplier of version 2's round (the golden ratio's 64-bit fraction).
const WORD_MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;
/// Version 2's state before the first word (FNV's offset basis: any fixed value would do).
const WORD_SEED: u64 = FNV_OFFSET;

/// Which function folds the events into a [`TraceHash`]; in JSON, its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub enum TraceHashVersion {
    /// FNV-1a over the words' little-endian bytes (builds before version 2 existed).
    Fnv1aBytes,
    /// One multiply-rotate round per word and a final avalanche (the current default).
    WordRounds,
}

/// [`TraceHashVersion::CURRENT`].
impl Default for TraceHashVersion {
    fn default() -> Self {
        TraceHashVersion::CURRENT
    }
}

impl TraceHashVersion {
    /// The version new runs and newly blessed expectations use.
    pub const CURRENT: TraceHashVersion = TraceHashVersion::WordRounds;
    /// Every version this build can compute, oldest first.
    pub const ALL: [TraceHashVersion; 2] = [TraceHashVersion::Fnv1aBytes, TraceHashVersion::WordRounds];

    /// The first version: what a document written before versions existed used.
    pub fn first() -> TraceHashVersion {
        TraceHashVersion::ALL[0]
    }

    /// The version's number (1, 2, ..).
    pub fn number(self) -> u32 {
        match self {
            TraceHashVersion::Fnv1aBytes => 1,
            TraceHashVersion::WordRounds => 2,
        }
    }

    /// The version numbered `n`, if this build knows it.
    pub fn from_number(n: u32) -> Option<TraceHashVersion> {
        TraceHashVersion::ALL.into_iter().find(|v| v.number() == n)
    }

    /// The numbers of [`Self::ALL`], for messages: `1 or 2`.
    pub fn known_numbers() -> String {
        let known: Vec<String> = TraceHashVersion::ALL.iter().map(|v| v.number().to_string()).collect();
        known.join(" or ")
    }
}

impl From<TraceHashVersion> for u32 {
    fn from(v: TraceHashVersion) -> u32 {
        v.number()
    }
}

impl TryFrom<u32> for TraceHashVersion {
    type Error = String;
    fn try_from(n: u32) -> Result<Self, String> {
        TraceHashVersion::from_number(n).ok_or_else(|| {
            format!("trace hash version {n} is not one this build computes ({})", TraceHashVersion::known_numbers())
        })
    }
}

impl std::fmt::Display for TraceHashVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.number())
    }
}

/// Running fingerprint of the event trace, plus the number of events folded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceHash {
    state: u64,
    events: u64,
    version: TraceHashVersion,
}

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash::new(TraceHashVersion::CURRENT)
    }
}

impl TraceHash {
    /// An empty trace fingerprinted with `version`.
    pub fn new(version: TraceHashVersion) -> Self {
        let state = match version {
            TraceHashVersion::Fnv1aBytes => FNV_OFFSET,
            TraceHashVersion::WordRounds => WORD_SEED,
        };
        TraceHash { state, events: 0, version }
    }

    /// Folds one processed event, described by its words, into the hash.
    #[inline(always)]
    pub fn record(&mut self, words: &[u64]) {
        match self.version {
            TraceHashVersion::Fnv1aBytes => {
                for word in words {
                    for byte in word.to_le_bytes() {
                        self.state ^= byte as u64;
                        self.state = self.state.wrapping_mul(FNV_PRIME);
                    }
                }
            }
            TraceHashVersion::WordRounds => {
                for &word in words {
                    self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(WORD_MULTIPLIER);
                }
            }
        }
        self.events += 1;
    }

    /// The hash so far.
    pub fn value(&self) -> u64 {
        match self.version {
            TraceHashVersion::Fnv1aBytes => self.state,
            TraceHashVersion::WordRounds => avalanche(self.state),
        }
    }

    /// The number of events recorded.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The function this fingerprint uses.
    pub fn version(&self) -> TraceHashVersion {
        self.version
    }
}

/// MurmurHash3's 64-bit finaliser (`fmix64`): a bijection in which every input bit moves about
/// half of the output bits.
fn avalanche(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn version_1_is_reference_fnv1a() {
        // FNV-1a 64 of the single byte 'a' is 0xaf63dc4c8601ec8c.
        let mut h = TraceHash::new(TraceHashVersion::Fnv1aBytes);
        h.state ^= b'a' as u64;
        h.state = h.state.wrapping_mul(FNV_PRIME);
        assert_eq!(h.value(), 0xaf63_dc4c_8601_ec8c);
        // FNV-1a 64 of the eight bytes 01 00 00 00 00 00 00 00 (the word 1), from the
        // published algorithm worked independently (Python: h ^= b; h = h * prime % 2**64).
        let mut one = TraceHash::new(TraceHashVersion::Fnv1aBytes);
        one.record(&[1]);
        assert_eq!(one.value(), 0x89cd_3129_1d2a_efa4, "{:016x}", one.value());
    }

    #[test]
    fn version_2_known_answers() {
        // Worked independently (Python, integers mod 2**64):
        //   s = 0xcbf29ce484222325
        //   for w in words: s = ((rotl(s, 5) ^ w) * 0x9e3779b97f4a7c15) % 2**64
        //   fmix64(s)
        let empty = TraceHash::new(TraceHashVersion::WordRounds);
        assert_eq!(empty.value(), 0xefd0_1f60_ba99_2926, "{:016x}", empty.value());
        let mut h = TraceHash::new(TraceHashVersion::WordRounds);
        h.record(&[1_000_000_000, 3 | 1 << 8, 7, 255]);
        assert_eq!(h.value(), 0xc133_17df_9efa_c0ad, "{:016x}", h.value());
        assert_eq!(TraceHash::default().version(), TraceHashVersion::WordRounds);
    }

    #[test]
    fn order_matters() {
        for version in TraceHashVersion::ALL {
            let mut a = TraceHash::new(version);
            a.record(&[1, 2]);
            a.record(&[3]);
            let mut b = TraceHash::new(version);
            b.record(&[3]);
            b.record(&[1, 2]);
            assert_ne!(a.value(), b.value(), "version {version}");
            assert_eq!(a.events(), 2);
        }
    }

    #[test]
    fn versions_number_and_parse() {
        for version in TraceHashVersion::ALL {
            assert_eq!(TraceHashVersion::from_number(version.number()), Some(version));
            let json = serde_json::to_string(&version).unwrap();
            assert_eq!(json, version.number().to_string());
            assert_eq!(serde_json::from_str::<TraceHashVersion>(&json).unwrap(), version);
        }
        let err = serde_json::from_str::<TraceHashVersion>("7").unwrap_err().to_string();
        assert!(err.contains("trace hash version 7 is not one this build computes (1 or 2)"), "{err}");
        assert_eq!(TraceHashVersion::default(), TraceHashVersion::WordRounds);
        assert_eq!(TraceHashVersion::first(), TraceHashVersion::Fnv1aBytes);
    }

    proptest! {
        /// Invariant: changing any one word of any one event changes version 2's fingerprint
        /// (each round and the finaliser are bijections of the state), and the event count
        /// does not depend on the version.
        #[test]
        fn version_2_sees_every_single_word_change(
            events in prop::collection::vec(prop::collection::vec(any::<u64>(), 1..5), 1..20),
            which in any::<prop::sample::Index>(),
            flip in 1u64..,
        ) {
            let mut changed = events.clone();
            let all: Vec<(usize, usize)> =
                events.iter().enumerate().flat_map(|(e, w)| (0..w.len()).map(move |i| (e, i))).collect();
            let (e, i) = all[which.index(all.len())];
            changed[e][i] ^= flip;
            let fingerprint = |evs: &[Vec<u64>], version| {
                let mut h = TraceHash::new(version);
                for ev in evs {
                    h.record(ev);
                }
                (h.value(), h.events())
            };
            let (a, na) = fingerprint(&events, TraceHashVersion::WordRounds);
            let (b, nb) = fingerprint(&changed, TraceHashVersion::WordRounds);
            prop_assert_ne!(a, b);
            prop_assert_eq!(na, nb);
            prop_assert_eq!(fingerprint(&events, TraceHashVersion::Fnv1aBytes).1, na);
        }
    }
}
