//! The simulation kernel: virtual time, the event queue and seeded randomness.
//!
//! Nothing here knows about networks or the patent's protocol. The kernel guarantees the
//! determinism contract: integer time ([`time`]), a total order on events ([`queue`]: by time,
//! then insertion sequence), randomness only from seeded ChaCha streams ([`rng`]) and a stable
//! fingerprint of what happened ([`trace`]). [`prefetch`] is the processor's hint to load a
//! cache line early, which changes no value.

pub mod prefetch;
pub mod queue;
pub mod rng;
pub mod time;
pub mod trace;

pub use queue::EventQueue;
pub use rng::{RngStreams, StreamId};
pub use time::{SimDuration, SimTime};
pub use trace::{TraceHash, TraceHashVersion};
