//! Virtual time: integer nanoseconds, never floating point.
//!
//! [`SimTime`] is an instant on the simulation clock and [`SimDuration`] a span between two
//! instants. Both wrap a `u64` count of nanoseconds (enough for 584 years). Bandwidth
//! arithmetic in the network model is done in `f64` bytes per second; the result is turned into
//! integer time in exactly one place, [`SimDuration::from_secs_f64`], which rounds to the nearest
//! nanosecond (half-nanosecond ties up, robustly against float noise).

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Nanoseconds per second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Float noise tolerated at a half-nanosecond tie by [`SimDuration::from_secs_f64`], in
/// nanoseconds (far above the noise of durations up to days, far below anything that matters).
pub const TIE_NANOS: f64 = 1e-3;

/// An instant on the virtual clock, in nanoseconds since the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

/// A span of virtual time, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The largest representable instant, used as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Nanoseconds since the start of the run.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the start of the run, for reports only (never fed back into the clock).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// The instant `secs` seconds after the start (rounded to the nearest nanosecond).
    pub fn from_secs_f64(secs: f64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs_f64(secs)
    }

    /// The span from `earlier` to `self`; panics if `earlier` is later (a broken invariant).
    pub fn since(self, earlier: SimTime) -> SimDuration {
        assert!(earlier <= self, "time went backwards: {earlier} > {self}");
        SimDuration(self.0 - earlier.0)
    }
}

/// `x.round() as u64` for `0 <= x < 2^64`, without a call: `f64::round` is a library call on
/// x86-64 processors without SSE4.1 (the default target), made on every completion placed. The
/// whole part `n` is exact, and so is `x - n` (below 1, `x` itself; above, `n <= x < 2n`), so
/// rounding half away from zero is `n + (x - n >= 0.5)`, exactly as `round` does.
#[inline]
fn round_non_negative(x: f64) -> u64 {
    debug_assert!((0.0..u64::MAX as f64).contains(&x));
    let whole = x as u64;
    whole + u64::from(x - whole as f64 >= 0.5)
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A span of whole nanoseconds.
    pub const fn from_nanos(nanos: u64) -> SimDuration {
        SimDuration(nanos)
    }

    /// A span of whole milliseconds.
    pub const fn from_millis(millis: u64) -> SimDuration {
        SimDuration(millis * 1_000_000)
    }

    /// A span of whole seconds.
    pub const fn from_secs(secs: u64) -> SimDuration {
        SimDuration(secs * NANOS_PER_SEC)
    }

    /// The single place where floating-point seconds become integer time: rounds to the nearest
    /// nanosecond, saturating at `u64::MAX`. Half-nanosecond ties round up, and so does anything
    /// within [`TIE_NANOS`] below a tie: an exact tie (common with round sizes and rates) comes
    /// out of float arithmetic a hair above or below, depending on the order of operations, and
    /// must not round one way or the other by accident. Negative or NaN inputs are a broken
    /// invariant and panic.
    pub fn from_secs_f64(secs: f64) -> SimDuration {
        assert!(secs >= 0.0, "negative or NaN duration: {secs}");
        let nanos = Self::shifted_nanos(secs);
        if nanos >= u64::MAX as f64 {
            SimDuration(u64::MAX)
        } else {
            SimDuration(round_non_negative(nanos))
        }
    }

    /// Whether [`Self::from_secs_f64`] decides `secs` by less than [`TIE_NANOS`]: the value it
    /// rounds lies that close to a half, so another correct float computation of the same
    /// duration may come out one nanosecond apart.
    pub fn near_rounding_tie(secs: f64) -> bool {
        let shifted = Self::shifted_nanos(secs);
        (shifted - shifted.floor() - 0.5).abs() < TIE_NANOS
    }

    /// `secs` in nanoseconds, moved up by [`TIE_NANOS`]: what [`Self::from_secs_f64`] rounds.
    fn shifted_nanos(secs: f64) -> f64 {
        secs * NANOS_PER_SEC as f64 + TIE_NANOS
    }

    /// Nanoseconds in the span.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds in the span, for reports and rate arithmetic.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    /// Saturates at [`SimTime::MAX`] ("never").
    fn add(self, rhs: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(rhs.0))
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    fn sub(self, rhs: SimTime) -> SimDuration {
        self.since(rhs)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.9}s", self.as_secs_f64())
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.9}s", self.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_seconds_round_to_nearest_nanosecond() {
        assert_eq!(SimDuration::from_secs_f64(1.5).as_nanos(), 1_500_000_000);
        assert_eq!(SimDuration::from_secs_f64(3.000_000_000_4).as_nanos(), 3_000_000_000);
        assert_eq!(SimDuration::from_secs_f64(3.000_000_000_6).as_nanos(), 3_000_000_001);
        assert_eq!(SimDuration::from_secs_f64(1e30), SimDuration(u64::MAX));
        // A tie rounds up whichever side of it float arithmetic lands on.
        assert_eq!(SimDuration::from_secs_f64(2.5e-9).as_nanos(), 3);
        assert_eq!(SimDuration::from_secs_f64(1.149_276_320_5 - 1e-15).as_nanos(), 1_149_276_321);
        assert_eq!(SimDuration::from_secs_f64(1.149_276_320_5 + 1e-15).as_nanos(), 1_149_276_321);
        assert_eq!(SimDuration::from_secs_f64(1.149_276_320_498).as_nanos(), 1_149_276_320);
    }

    proptest::proptest! {
        /// The call-free rounding equals `f64::round` on every non-negative float below 2^64:
        /// random bit patterns (every magnitude), halves and their neighbours, whole numbers.
        #[test]
        fn rounding_without_a_call_equals_round(bits in 0u64..0x43f0_0000_0000_0000, whole in 0u64..1 << 53) {
            let x = f64::from_bits(bits);
            proptest::prop_assert_eq!(round_non_negative(x), x.round() as u64, "{}", x);
            let half = whole as f64 + 0.5;
            for y in [half, half.next_down(), half.next_up(), whole as f64] {
                if y < u64::MAX as f64 {
                    proptest::prop_assert_eq!(round_non_negative(y), y.round() as u64, "{}", y);
                }
            }
        }
    }

    #[test]
    fn adding_saturates_at_never() {
        assert_eq!(SimTime::MAX + SimDuration::from_secs(1), SimTime::MAX);
        assert_eq!(SimTime(5) + SimDuration(7), SimTime(12));
        assert_eq!(SimTime(12) - SimTime(5), SimDuration(7));
    }

    #[test]
    #[should_panic(expected = "time went backwards")]
    fn negative_span_is_a_broken_invariant() {
        let _ = SimTime(1) - SimTime(2);
    }
}
