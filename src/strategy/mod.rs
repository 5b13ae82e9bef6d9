//! Distribution strategies, one module each, behind [`StrategyModule`].
//!
//! A strategy is what decides who sends which piece of a job to whom. Two families exist:
//!
//! - The **cascade family** ([`cascade`], [`star`], [`chain`], [`tree`]) distributes through
//!   the protocol's own sources (the base server's and node servers' `Forwarder`, \[0044\],
//!   \[0060\]): each job item travels as a stream from a source to a receiver. Their modules
//!   only turn scenario parameters into a [`StrategyConfig`] and describe themselves.
//! - **Engine-driven** strategies ([`swarm`], [`optimal`]) schedule pieces themselves: the
//!   engine drives a [`PieceScheduler`] with what happens (a peer joined, left or came back, a
//!   piece was gained, an upload finished or was aborted, a timer fired) and carries out its
//!   answers ([`Action`]: uploads to start or cancel, timers to set).
//!
//! Adding a strategy: a module file implementing [`StrategyModule`] (and a [`PieceScheduler`]
//! if the engine drives it), a variant of the scenario's `Strategy` enum and of
//! [`StrategyKind`], one line in [`REGISTRY`], and its paragraph in the README.
//!
//! **Connections.** The engine keeps one flow of the bandwidth model per (job, sender,
//! receiver) connection. An upload the scheduler asks for in answer to
//! [`PieceScheduler::upload_finished`] on the *same* connection continues that flow (it is
//! extended with the next piece's bytes, no re-solve); a connection left without a piece ends
//! its flow. A persistent, back-to-back connection is therefore both the faithful model of a
//! pipelined, unchoked BitTorrent connection and the cheap one to simulate.

pub mod cascade;
pub mod chain;
pub mod optimal;
pub mod star;
pub mod swarm;
pub mod tree;

use crate::kernel::{SimDuration, SimTime};
use crate::net::{HostId, HostSpec};
use crate::protocol::job::{StrategyConfig, StrategyKind};
use crate::scenario::{ScenarioError, Strategy};
use smallvec::SmallVec;

/// One distribution strategy.
pub trait StrategyModule: Sync {
    /// The protocol-level kind this module implements.
    fn kind(&self) -> StrategyKind;
    /// Name used in scenarios (`"kind"`), results and `compare`.
    fn name(&self) -> &'static str;
    /// One line for humans.
    fn summary(&self) -> &'static str;
    /// Turns the scenario's strategy (always this module's variant) into a configuration; bad
    /// values are errors naming `path`.
    fn config(&self, path: &str, spec: &Strategy, servers: usize) -> Result<StrategyConfig, ScenarioError>;
    /// The parameters reported in results.
    fn params(&self, config: &StrategyConfig) -> serde_json::Value;
    /// For engine-driven strategies, the piece scheduler of one job.
    fn scheduler(&self, _setup: SchedulerSetup<'_>) -> Option<Box<dyn PieceScheduler>> {
        None
    }
    /// True when the engine drives this strategy through [`StrategyModule::scheduler`].
    fn engine_driven(&self) -> bool {
        false
    }
}

/// Every strategy, in the order `compare --strategies all` shows them.
pub static REGISTRY: &[&dyn StrategyModule] =
    &[&star::Star, &chain::Chain, &tree::Tree, &cascade::Cascade, &swarm::Swarm, &optimal::Optimal];

/// The module of `kind`.
pub fn by_kind(kind: StrategyKind) -> &'static dyn StrategyModule {
    *REGISTRY.iter().find(|m| m.kind() == kind).expect("every kind is registered")
}

/// The module named `name`, if any.
pub fn by_name(name: &str) -> Option<&'static dyn StrategyModule> {
    REGISTRY.iter().copied().find(|m| m.name() == name)
}

/// Names of every registered strategy.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|m| m.name()).collect()
}

/// The configuration of the scenario strategy `spec` at `path` for a job of `servers` servers.
pub fn config(path: &str, spec: &Strategy, servers: usize) -> Result<StrategyConfig, ScenarioError> {
    by_name(spec.kind_name()).expect("every scenario variant is registered").config(path, spec, servers)
}

/// `v` itself when between 1 and the limit on hosts, else an error naming `path.field`.
pub(crate) fn at_least_one(path: &str, field: &str, v: u32) -> Result<u32, ScenarioError> {
    crate::scenario::limits::check_count(&format!("{path}.{field}"), v as u64, crate::scenario::limits::MAX_HOSTS)?;
    Ok(v)
}

/// What an engine-driven strategy is told when a job's distribution starts.
pub struct SchedulerSetup<'a> {
    /// The base server: the origin, holding what the client has sent it.
    pub origin: HostId,
    /// The job's servers, in the job object's order.
    pub servers: &'a [HostId],
    /// Every host of the run, indexed by host id (capacities in bytes per second).
    pub hosts: &'a [HostSpec],
    /// The job's strategy configuration.
    pub config: StrategyConfig,
    /// Chunks of the job's content (the log also carries commands).
    pub chunks: u32,
    /// Seed of the job's strategy stream.
    pub rng: rand_chacha::ChaCha12Rng,
}

/// What the engine is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send `piece` from `from` to `to` over their connection (continuing its flow when it
    /// just finished a piece).
    Upload {
        /// Sender.
        from: HostId,
        /// Receiver.
        to: HostId,
        /// Item of the job's log.
        piece: u32,
    },
    /// Stop the piece in progress on the connection from `from` to `to` (its bytes are lost).
    Cancel {
        /// Sender.
        from: HostId,
        /// Receiver.
        to: HostId,
    },
    /// Call [`PieceScheduler::timer`] with `token` after `after`.
    Timer {
        /// Delay.
        after: SimDuration,
        /// Passed back.
        token: u64,
    },
}

/// What a scheduler may ask the engine about the world.
pub trait World {
    /// Whether `a` and `b` can exchange data now (both up, no partition between them).
    fn reachable(&self, a: HostId, b: HostId) -> bool;
    /// Bytes sent so far over the connection from `from` to `to` (pieces in progress count
    /// what has left the sender).
    fn bytes_sent(&mut self, from: HostId, to: HostId) -> u64;
    /// Size of item `piece` of the job's log, bytes; 0 for an item not in the log yet (a live
    /// stream's log grows as the client sends it).
    fn piece_bytes(&self, piece: u32) -> u64;
    /// Number of items of the job's log once the log is complete (the end-job command held by
    /// the origin); `None` while it may still grow.
    fn final_pieces(&self) -> Option<u32>;
}

/// The context of one scheduler call: the time, the world, and where answers go.
pub struct Ctx<'a> {
    /// Now.
    pub now: SimTime,
    /// The world.
    pub world: &'a mut dyn World,
    /// Answers, carried out in order after the call.
    pub actions: &'a mut Vec<Action>,
}

impl Ctx<'_> {
    /// Asks for an upload.
    pub fn upload(&mut self, from: HostId, to: HostId, piece: u32) {
        self.actions.push(Action::Upload { from, to, piece });
    }
    /// Asks for a cancel.
    pub fn cancel(&mut self, from: HostId, to: HostId) {
        self.actions.push(Action::Cancel { from, to });
    }
    /// Asks for a timer.
    pub fn timer(&mut self, after: SimDuration, token: u64) {
        self.actions.push(Action::Timer { after, token });
    }
}

/// An engine-driven strategy's piece scheduler for one job. Every call may answer with
/// [`Action`]s through the context.
pub trait PieceScheduler {
    /// `peer` takes part from now on: it accepted the job, or it came back after a crash
    /// holding what it held before.
    fn joined(&mut self, ctx: &mut Ctx, peer: HostId);
    /// `peer` crashed: its connections are gone (uploads in progress were reported aborted).
    fn left(&mut self, ctx: &mut Ctx, peer: HostId);
    /// A partition started or healed: connections across it were aborted (and reported).
    fn reachability_changed(&mut self, ctx: &mut Ctx);
    /// `peer` now holds `piece`.
    fn gained(&mut self, ctx: &mut Ctx, peer: HostId, piece: u32);
    /// The last byte of `piece` left `from` for `to` (it arrives one latency later). An
    /// [`Action::Upload`] on the same connection in answer continues its flow.
    fn upload_finished(&mut self, ctx: &mut Ctx, from: HostId, to: HostId, piece: u32);
    /// The upload of `piece` from `from` to `to` stopped before its end (crash, partition).
    fn upload_aborted(&mut self, ctx: &mut Ctx, from: HostId, to: HostId, piece: u32);
    /// `piece` reached `to` after `to` crashed: it is lost.
    fn lost(&mut self, ctx: &mut Ctx, to: HostId, piece: u32);
    /// A timer this scheduler asked for fired.
    fn timer(&mut self, ctx: &mut Ctx, token: u64);
    /// Into how many packets of equal size the engine cuts each item of the job's log (at
    /// most [`crate::engine::MAX_PACKETS_PER_ITEM`]), asked once when the scheduler is made.
    /// With more than one, the scheduler's pieces are packets: piece `p` is packet `p % n` of
    /// item `p / n`; a server can forward a packet as soon as it holds it, and the item reaches
    /// the server's role when its last packet arrives. Default 1: whole items.
    fn packets_per_item(&self) -> u32 {
        1
    }
}

/// A set of piece indexes that grows as the job's log grows. The first 256 indexes live inside
/// the set itself (no allocation to reach: the swarm reads its neighbours' sets in its hottest
/// loops).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bits(pub SmallVec<[u64; 4]>);

impl Bits {
    /// Whether `i` is in the set.
    pub fn get(&self, i: u32) -> bool {
        self.0.get((i / 64) as usize).is_some_and(|w| w >> (i % 64) & 1 == 1)
    }
    /// Adds `i`.
    pub fn set(&mut self, i: u32) {
        let w = (i / 64) as usize;
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        self.0[w] |= 1 << (i % 64);
    }
    /// Removes `i`.
    pub fn clear(&mut self, i: u32) {
        if let Some(w) = self.0.get_mut((i / 64) as usize) {
            *w &= !(1 << (i % 64));
        }
    }
    /// Word `w` (zero past the end).
    pub fn word(&self, w: usize) -> u64 {
        self.0.get(w).copied().unwrap_or(0)
    }
    /// Members in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let b = bits.trailing_zeros();
                    bits &= bits - 1;
                    w as u32 * 64 + b
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_iterate_in_order() {
        let mut b = Bits::default();
        for i in [130, 3, 64] {
            b.set(i);
        }
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![3, 64, 130]);
        b.clear(64);
        assert!(!b.get(64) && b.get(130));
    }

    #[test]
    fn every_kind_and_name_is_registered_once() {
        let names = names();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        for m in REGISTRY {
            assert_eq!(by_kind(m.kind()).name(), m.name());
        }
    }
}
