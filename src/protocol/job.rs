//! The job object (\[0047\]–\[0049\], FIG. 2), the job's item log (content chunks and commands),
//! and the per-job distribution strategy.

use crate::kernel::{SimDuration, SimTime};
use crate::net::HostId;
use std::fmt;
use std::rc::Rc;

/// Identifies a job; unique within a run and assigned by the base server in creation order
/// (\[0049\], field 33).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub u32);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job{}", self.0)
    }
}

/// Identifies a command within its job (\[0049\], command identification field 35), in the
/// order the client added them; the end-job command has the last id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommandId(pub u32);

/// The content of a job: a sequence of chunks, all available at once (a file) or produced over
/// time (a live stream).
#[derive(Debug, Clone, PartialEq)]
pub struct ContentSpec {
    /// Total size in bytes.
    pub total_bytes: u64,
    /// Number of chunks (at least one).
    pub chunks: u32,
    /// For a live stream, the production time of one chunk; `None` for a file.
    pub live_chunk_interval: Option<SimDuration>,
}

impl ContentSpec {
    /// Size of chunk `index`: equal chunks, the last one takes the remainder.
    pub fn chunk_bytes(&self, index: u32) -> u64 {
        let base = self.total_bytes / self.chunks as u64;
        if index + 1 == self.chunks {
            self.total_bytes - base * (self.chunks as u64 - 1)
        } else {
            base
        }
    }

    /// When chunk `index` is fully produced, for a stream started at `start`.
    pub fn produced_at(&self, start: SimTime, index: u32) -> SimTime {
        match self.live_chunk_interval {
            None => start,
            Some(interval) => start + SimDuration::from_nanos(interval.as_nanos() * (index as u64 + 1)),
        }
    }

    /// When the whole content exists, for a stream started at `start`.
    pub fn complete_at(&self, start: SimTime) -> SimTime {
        self.produced_at(start, self.chunks - 1)
    }

    /// True for a live stream.
    pub fn is_live(&self) -> bool {
        self.live_chunk_interval.is_some()
    }
}

/// A command of the job's command queue (\[0048\], \[0051\]–\[0052\]).
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// Its id.
    pub id: CommandId,
    /// The client's name for it.
    pub name: String,
    /// Data that travels with the command, bytes (may be zero: \[0051\]).
    pub data_bytes: u64,
    /// How long a node server takes to execute it.
    pub exec: SimDuration,
    /// True for the end-job command (\[0064\]).
    pub end_job: bool,
}

/// One entry of a job's log. Every source streams the log in order: content chunks and
/// commands interleaved as the client produced them, the end-job command last.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Content chunk number `index`.
    Chunk(u32),
    /// A command, with its data.
    Command(Rc<Command>),
}

/// Which scheme distributes a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategyKind {
    /// The patent's cascade with its optimizations.
    Cascade,
    /// Prior art: the base server unicasts to every server.
    Star,
    /// A pipeline: each server forwards to exactly one next server.
    Chain,
    /// A random fixed k-ary tree.
    Tree,
    /// BitTorrent at the piece level (a reference, scheduled by the engine).
    Swarm,
    /// The optimal schedule (a reference, scheduled by the engine).
    Optimal,
}

/// How a job is distributed: the strategy and the patent's per-job switches (\[0066\]–\[0073\]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StrategyConfig {
    /// The scheme.
    pub kind: StrategyKind,
    /// Concurrent down-line connections per node server (\[0069\]).
    pub fanout: u32,
    /// Concurrent connections of the base server (servers it streams to directly).
    pub first_nodes: u32,
    /// Send index lists of servers not yet approached with each forward (\[0067\]); when off,
    /// every source tries every server of the full list.
    pub index_lists: bool,
    /// Open another down-line connection only while the node's upload is not saturated.
    pub adaptive_fanout: bool,
    /// Address servers in descending order of declared upload rate (\[0070\]–\[0071\]).
    pub rate_sort: bool,
    /// A receiver switches to a faster offering source (\[0072\]–\[0073\]).
    pub dynamic_switching: bool,
    /// How much faster (as a fraction) a newcomer must be for a switch.
    pub switch_margin: f64,
    /// Shuffle the server list with the seeded strategy stream (random trees).
    pub shuffle: bool,
    /// Forward to other servers at all (false for the star and the swarm, whose exchange is
    /// scheduled by the engine).
    pub relay: bool,
    /// Swarm: neighbours a peer asks the tracker for.
    pub peers: u32,
    /// The base server chooses `first_nodes` from the declared capacities (`"auto"`).
    pub auto_first_nodes: bool,
    /// Every server opens as many connections as its declared upload feeds at the job's
    /// stream rate (`"auto"`), up to `fanout`.
    pub auto_fanout: bool,
    /// Dynamic switches one server makes at most.
    pub max_switches: u32,
    /// Sources keep half of their list at every hand-off and move on once a server they serve
    /// holds the whole content (FIGs. 5–7).
    pub move_on: bool,
    /// Swarm: upload slots per peer, 0 to derive them from the peer's upload; optimal: stripes,
    /// 0 to choose.
    pub slots: u32,
    /// Swarm: cap on derived upload slots.
    pub max_slots: u32,
    /// Optimal: packets each item is forwarded in, 0 to choose.
    pub packets_per_item: u32,
}

/// The defaults of the cascade's switches: the one source of truth for the JSON format
/// (`{"kind": "cascade"}` takes them) and for [`StrategyConfig::cascade`] and
/// [`StrategyConfig::cascade_auto`]. (`fanout` and `first_nodes` default to `"auto"`.)
pub mod cascade_defaults {
    /// Index lists (\[0067\]).
    pub const INDEX_LISTS: bool = true;
    /// Adaptive fanout.
    pub const ADAPTIVE_FANOUT: bool = false;
    /// Data-rate sort order (\[0071\]).
    pub const RATE_SORT: bool = true;
    /// Dynamic switching (\[0073\]).
    pub const DYNAMIC_SWITCHING: bool = true;
    /// How much more rate a newcomer must offer to win a switch.
    pub const SWITCH_MARGIN: f64 = 0.2;
    /// Dynamic switches one server makes at most.
    pub const MAX_SWITCHES: u32 = 3;
    /// Sources move on as in FIGs. 5–7.
    pub const MOVE_ON: bool = false;
}

impl StrategyConfig {
    /// The patent's cascade with `fanout` and `first_nodes`, and every switch at the default
    /// of the scenario format ([`cascade_defaults`]): what `{"kind": "cascade", "fanout": F,
    /// "first_nodes": N}` gives. Set the public fields to change a switch.
    pub fn cascade(fanout: u32, first_nodes: u32) -> Self {
        use cascade_defaults as d;
        StrategyConfig {
            index_lists: d::INDEX_LISTS,
            adaptive_fanout: d::ADAPTIVE_FANOUT,
            rate_sort: d::RATE_SORT,
            dynamic_switching: d::DYNAMIC_SWITCHING,
            switch_margin: d::SWITCH_MARGIN,
            max_switches: d::MAX_SWITCHES,
            move_on: d::MOVE_ON,
            ..Self::plain(StrategyKind::Cascade, fanout, first_nodes)
        }
    }

    /// What `{"kind": "cascade"}` gives: the cascade with `fanout` and `first_nodes` chosen by
    /// the base server from the declared capacities (`"auto"`) and every switch at its default.
    pub fn cascade_auto() -> Self {
        StrategyConfig {
            auto_fanout: true,
            auto_first_nodes: true,
            ..Self::cascade(crate::protocol::plan::MAX_AUTO_FANOUT, 1)
        }
    }

    /// A source-driven distribution with every optional optimization off: the base of the
    /// star, chain, tree and the engine-driven references.
    fn plain(kind: StrategyKind, fanout: u32, first_nodes: u32) -> Self {
        StrategyConfig {
            kind,
            fanout,
            first_nodes,
            index_lists: true,
            adaptive_fanout: false,
            rate_sort: false,
            dynamic_switching: false,
            switch_margin: 0.0,
            shuffle: false,
            relay: true,
            peers: 0,
            auto_first_nodes: false,
            auto_fanout: false,
            max_switches: 3,
            move_on: false,
            slots: 0,
            max_slots: 0,
            packets_per_item: 0,
        }
    }

    /// The star baseline, `max_concurrent` streams from the base server at once.
    pub fn star(max_concurrent: u32) -> Self {
        StrategyConfig { relay: false, ..Self::plain(StrategyKind::Star, 1, max_concurrent) }
    }

    /// A chain (pipeline) in list order.
    pub fn chain() -> Self {
        Self::plain(StrategyKind::Chain, 1, 1)
    }

    /// A random fixed tree of the given arity, rooted at the base server.
    pub fn tree(arity: u32) -> Self {
        StrategyConfig { shuffle: true, ..Self::plain(StrategyKind::Tree, arity, arity) }
    }

    /// A swarm: every server joins at once; each peer asks the tracker for `peers` neighbours
    /// and keeps `slots` uploads going (0: derived from its upload, at most `max_slots`).
    pub fn swarm(peers: u32, slots: u32, max_slots: u32, servers: u32) -> Self {
        StrategyConfig { relay: false, peers, slots, max_slots, ..Self::plain(StrategyKind::Swarm, 1, servers) }
    }

    /// The optimal reference schedule: every server joins at once (`stripes` 0: chosen;
    /// `packets_per_item` 0: chosen).
    pub fn optimal(stripes: u32, packets_per_item: u32, servers: u32) -> Self {
        StrategyConfig {
            relay: false,
            slots: stripes,
            packets_per_item,
            ..Self::plain(StrategyKind::Optimal, 1, servers)
        }
    }

    /// Short name used in results.
    pub fn name(&self) -> &'static str {
        crate::strategy::by_kind(self.kind).name()
    }
}

/// What a client asks for when it requests a job session (\[0043\], \[0050\]: "dimensions of the
/// job").
#[derive(Debug, Clone, PartialEq)]
pub struct JobRequest {
    /// The client's own name for the job.
    pub name: String,
    /// The content to distribute.
    pub content: ContentSpec,
    /// Destination node servers.
    pub servers: Vec<HostId>,
    /// Distribution strategy.
    pub strategy: StrategyConfig,
    /// Live jobs: a server sustains the stream when no chunk arrives later than the first
    /// chunk's delay plus this buffer.
    pub playout_buffer: Option<SimDuration>,
    /// The content is at the base server and every origin from the start (a file only): the
    /// client uploads only its commands and the end-job command.
    pub preseeded: bool,
}

/// The job object created by the base server (FIG. 2): server address list 29, job id 33 and
/// base server address 37. The command queue 31 and command ids 35 travel as items of the
/// job's log, in order, behind the job object (\[0054\]–\[0055\]). Shared read-only by every
/// server holding a copy.
#[derive(Debug, Clone, PartialEq)]
pub struct JobObject {
    /// Job identification field 33.
    pub id: JobId,
    /// Server address list 29, in the order sources approach them (sorted by declared upload
    /// rate when the job asks for it).
    pub servers: Rc<[HostId]>,
    /// Base server address field 37, where notifications go.
    pub base_server: HostId,
    /// The content being streamed.
    pub content: ContentSpec,
    /// The distribution strategy.
    pub strategy: StrategyConfig,
    /// When the client started producing the content (live chunk `k` exists from
    /// `content.produced_at(content_started_at, k)`).
    pub content_started_at: SimTime,
    /// The rate each stream of the cascade is meant to carry, bytes per second; servers with an
    /// automatic fanout open `upload / stream_rate_bps` connections ([`super::plan`]).
    pub stream_rate_bps: f64,
    /// The hosts holding the content that stream it to the first nodes: the base server first,
    /// then the origins, each with its part of the server list (see [`super::origin`]).
    pub origins: Rc<[OriginPart]>,
    /// The content was at the origins from the start (no client upload).
    pub preseeded: bool,
}

/// One origin's part of a job: how many first nodes it streams to at once and which positions
/// of the server list are its share. For a cascade with index lists (not moving on), the share
/// is the origin's first nodes among the first `Σ first_nodes` positions, every other position
/// being handed down below them as with one origin; otherwise it is a contiguous range of the
/// list in proportion to the origin's upload, which the origin distributes alone (a star, a
/// cascade moving on) or starts from (full lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginPart {
    /// The origin (the base server for part 0).
    pub host: HostId,
    /// Servers it streams to at once (0: it only serves reactivations).
    pub first_nodes: u32,
    /// Its positions of the server list.
    pub share: IndexList,
}

/// An index list (\[0067\]): positions in the job's server list of servers not yet approached,
/// handed to a server together with the job. The lists a cascade hands out are always
/// arithmetic progressions of positions (`start`, `start + step`, ...), so one is stored as
/// three numbers rather than as explicit indexes, which keeps a million-server job's lists in
/// constant memory per server.
///
/// Splitting a list among `t` targets hands target `i` every `t`-th remaining position from
/// the `i`-th on (see [`IndexList::every`]). On a list sorted by upload rate this is the
/// breadth-first layout of a `t`-ary tree: the first `t` servers are the base server's
/// targets, the next `t²` their targets, and so on, so the fastest servers relay and the
/// slowest are leaves (\[0071\]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexList {
    /// First position.
    pub start: u32,
    /// Distance between consecutive positions.
    pub step: u32,
    /// Number of positions.
    pub len: u32,
}

impl Default for IndexList {
    fn default() -> Self {
        IndexList { start: 0, step: 1, len: 0 }
    }
}

impl IndexList {
    /// The whole server list of `len` servers.
    pub fn all(len: usize) -> IndexList {
        IndexList { start: 0, step: 1, len: len as u32 }
    }

    /// Number of servers in the list.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True when no server is left to approach.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `k`-th position.
    pub fn get(&self, k: u32) -> u32 {
        assert!(k < self.len, "index list position out of range");
        self.start + k * self.step
    }

    /// Removes and returns the first position.
    pub fn pop_front(&mut self) -> Option<u32> {
        (!self.is_empty()).then(|| {
            let first = self.start;
            self.start += self.step;
            self.len -= 1;
            first
        })
    }

    /// Removes and returns the first `n` positions as their own list.
    pub fn take_front(&mut self, n: u32) -> IndexList {
        let n = n.min(self.len);
        let taken = IndexList { start: self.start, step: self.step, len: n };
        self.start += n * self.step;
        self.len -= n;
        taken
    }

    /// Every `t`-th position starting with the `i`-th (`i < t`): share `i` of `t`
    /// interleaved shares.
    pub fn every(&self, i: u32, t: u32) -> IndexList {
        assert!(i < t, "share {i} of {t}");
        let len = if self.len > i { (self.len - i).div_ceil(t) } else { 0 };
        IndexList { start: self.start + i * self.step, step: self.step * t, len }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_chunk_takes_the_remainder() {
        let c = ContentSpec { total_bytes: 10, chunks: 3, live_chunk_interval: None };
        assert_eq!((0..3).map(|i| c.chunk_bytes(i)).collect::<Vec<_>>(), vec![3, 3, 4]);
    }

    #[test]
    fn live_chunks_are_produced_one_interval_apart() {
        let c = ContentSpec { total_bytes: 10, chunks: 3, live_chunk_interval: Some(SimDuration::from_secs(2)) };
        assert_eq!(c.produced_at(SimTime::from_secs_f64(1.0), 0), SimTime::from_secs_f64(3.0));
        assert_eq!(c.complete_at(SimTime::from_secs_f64(1.0)), SimTime::from_secs_f64(7.0));
    }

    #[test]
    fn index_lists_split_from_the_front() {
        let mut l = IndexList::all(10);
        assert_eq!(l.pop_front(), Some(0));
        assert_eq!(l.take_front(4), IndexList { start: 1, step: 1, len: 4 });
        assert_eq!(l.len(), 5);
        assert_eq!(l.take_front(99).len(), 5);
        assert!(l.is_empty() && l.pop_front().is_none());
    }

    #[test]
    fn interleaved_shares_cover_the_list_once() {
        // Positions 3..10 shared three ways: 3 6 9 / 4 7 / 5 8.
        let rest = IndexList { start: 3, step: 1, len: 7 };
        let shares: Vec<Vec<u32>> = (0..3)
            .map(|i| {
                let s = rest.every(i, 3);
                (0..s.len()).map(|k| s.get(k)).collect()
            })
            .collect();
        assert_eq!(shares, vec![vec![3, 6, 9], vec![4, 7], vec![5, 8]]);
        // Sharing a share again keeps interleaving: 3 6 9 two ways is 3 9 / 6.
        let again = shares_of(rest.every(0, 3), 2);
        assert_eq!(again, vec![vec![3, 9], vec![6]]);
        assert!(IndexList { start: 0, step: 1, len: 1 }.every(2, 3).is_empty());
    }

    fn shares_of(l: IndexList, t: u32) -> Vec<Vec<u32>> {
        (0..t)
            .map(|i| {
                let s = l.every(i, t);
                (0..s.len()).map(|k| s.get(k)).collect()
            })
            .collect()
    }
}
