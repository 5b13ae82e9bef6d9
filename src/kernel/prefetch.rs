//! A hint to the processor to start loading a cache line before it is needed.
//!
//! A run of 10^5 servers and more is bound by memory latency: nearly every event touches
//! records of a server, a stream and a flow that are in no cache. The next events are known
//! while the current one is handled (the head of the event queue, the first entries of the flow
//! model's completion heap), so their records can be on their way meanwhile (see the engine's
//! `lookahead`). A prefetch reads nothing the program sees and never faults, so it cannot
//! change a result; this module is the crate's one exception to `unsafe_code = "deny"`.

/// Asks for the cache line holding the start of `record`.
#[inline(always)]
pub fn prefetch<T>(record: &T) {
    prefetch_address((record as *const T).cast::<u8>());
}

/// Asks for the first `lines` cache lines from the start of `record` (those it spans at most
/// when `lines` covers its size).
#[inline(always)]
pub fn prefetch_lines<T>(record: &T, lines: usize) {
    prefetch_lines_at((record as *const T).cast::<u8>(), lines);
}

/// Asks for the cache line holding the start of `items[index]`, without checking `index`:
/// an index past the end only asks for a line nothing reads (the look-ahead asks several times
/// per event, and the check of each index was a tenth of its instructions).
#[inline(always)]
pub fn prefetch_item<T>(items: &[T], index: usize) {
    prefetch_address(items.as_ptr().wrapping_add(index).cast::<u8>());
}

/// Asks for the first `lines` cache lines from the start of `items[index]`, without checking
/// `index` (see [`prefetch_item`]).
#[inline(always)]
pub fn prefetch_item_lines<T>(items: &[T], index: usize, lines: usize) {
    prefetch_lines_at(items.as_ptr().wrapping_add(index).cast::<u8>(), lines);
}

/// Asks for `lines` cache lines from `address` on (any address: nothing is read).
#[inline(always)]
pub fn prefetch_lines_at(address: *const u8, lines: usize) {
    for line in 0..lines {
        prefetch_address(address.wrapping_add(64 * line));
    }
}

/// The hint itself: `PREFETCHT0` on x86-64, nothing elsewhere.
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch_address(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the intrinsic is `unsafe` only for its target feature, SSE, which every x86-64
    // target has. The instruction is a hint: it loads into the caches only, never into the
    // program, and raises no fault whatever the address (Intel SDM, PREFETCHh).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}
