//! The `swarm` reference strategy: BitTorrent's mechanisms at the piece level. It is not the
//! patent's method; it is the modern baseline the cascade is compared with, in the same engine.
//!
//! Every server of the job is a peer; the base server is the initial seed. What is modelled:
//!
//! - **Tracker and neighbour set.** A peer that joins asks the tracker for `peers` random
//!   peers (default 40, as a tracker's `numwant`) and connects to those that accept (a peer
//!   accepts up to `2 · peers` connections). Links are symmetric. A peer whose neighbour set
//!   fell below `peers` re-announces every 30 s (at once when it fell below half); crashed
//!   neighbours and neighbours across a partition are dropped at once (their TCP connections
//!   die), and two seeds drop their connection (nothing to exchange), as real clients do.
//! - **HAVE state and local rarest first.** A peer knows exactly the pieces its neighbours
//!   announced (the bitfield on connect, a HAVE per new piece). The *downloader* chooses what
//!   an unchoked connection carries next: among the pieces the uploader announced that it
//!   lacks and is not already receiving, the one fewest of *its* neighbours hold, ties broken
//!   by a random rotation.
//! - **Choking.** A peer uploads on `upload_slots` connections at once. Without an explicit
//!   value a peer opens as many as it takes to fill its upload at the rate a typical receiver
//!   gives one uploader (a server's download split among the median uploaders that fill it;
//!   the median over the servers): ⌈upload / share⌉, at least 1 and at most
//!   `max_upload_slots` (see `upload_slots` in this module for why not the mainline client's
//!   ⌊√(0.6 · kB/s)⌋). Every 10 s a
//!   peer rechokes (sooner when a piece moves much faster than in real swarms: see below): a
//!   leecher unchokes the `slots − 1` interested neighbours (all `slots` when it has one) it
//!   *measured* the highest download rates from (bytes received over the last two periods,
//!   tit-for-tat), a seed those it uploads to fastest, longest-waiting first among equals (round
//!   robin); every third rechoke one more interested neighbour is unchoked optimistically, at
//!   random. A choke takes effect once the piece in progress has been sent, and that piece keeps
//!   its slot until then: a newly unchoked neighbour starts when a slot is free, so a peer never
//!   sends on more connections than it has slots. An unchoked neighbour that loses interest
//!   frees its slot at once and the best interested neighbour takes it; a peer whose incoming
//!   uploads no longer fill its download tells its neighbours it is interested, and one with a
//!   free slot unchokes it at once (as libtorrent does while it has unchoke slots to spare).
//! - **Pipelining.** An unchoked connection carries piece after piece back to back: the
//!   engine keeps its flow and extends it with the next piece's bytes.
//! - **A downloader asks for no more than its download takes.** A peer requests a piece from an
//!   unchoking neighbour only while the uploads already coming to it cannot fill its download
//!   (each counted at its sender's nominal slot rate, upload / slots); otherwise it stays
//!   uninterested in that neighbour, whose slot goes to a peer that can use it. Real clients
//!   reach a similar state through TCP: a download shared by more connections than it needs
//!   slows every one of them, and rate-based unchoking moves uploaders to faster receivers.
//!   Without it, pieces crawl over connections that share an oversubscribed download while
//!   other peers' downloads idle.
//! - **Super-seeding origin.** The base server chooses the piece itself: the one it has sent
//!   fewest times (each piece to one peer before any goes twice), as a client in super-seed
//!   mode does, and it moves its slot on after every piece to the interested neighbour it served
//!   longest ago (never served first), so that its pieces spread over many peers instead of
//!   feeding the same few. The origin's upload is the swarm's injection rate: duplicate pieces
//!   from it delay the end of everyone.
//! - **Rechoke period.** The mainline 10 s, or one piece transfer on one upload slot when
//!   that is shorter (`piece / (upload / slots)`). Real swarms move a 256 KB piece per slot in
//!   10 s to a minute, so the mainline client rechokes about once per piece transfer; a simulated
//!   swarm of fast peers (a 1 MB piece in 0.08 s per slot) keeps that ratio rather than the
//!   wall-clock constant. The optimistic unchoke moves every third rechoke.
//! - **Endgame.** When every piece a peer lacks is already on its way, an idle unchoked
//!   connection sends it a second copy of one of them; the first copy to arrive cancels the
//!   other. (Real clients request every missing block from everyone; with whole pieces as
//!   fluid flows, many parallel copies would only share the receiver's download.)
//! - **Seeds keep uploading**: the base server, and every peer once it holds everything.
//! - **Faults**: nothing flows to or from a crashed host or across a partition; pieces on
//!   their way to a crashed host are lost; a peer that comes back re-announces and continues
//!   from the pieces it holds.
//!
//! Simplifications: the download-saturation rule, the slot rule and the scaled rechoke period
//! above are ours;
//! pieces are not split into 16 KB blocks (a piece is requested from one
//! uploader at a time, outside endgame); HAVE messages and requests take no time and no
//! bandwidth; a choke takes effect once the piece in progress has been sent; the tracker only
//! hands out peers the announcing peer can reach; TCP dynamics are the flow model's max-min
//! sharing; a peer leaves only when the scenario's churn says so (a set time, or some time after
//! it is done): its connections close and its neighbours look for others.

use super::{at_least_one, Bits, Ctx, PieceScheduler, SchedulerSetup, StrategyModule};
use crate::kernel::{SimDuration, SimTime};
use crate::net::HostId;
use crate::protocol::job::{StrategyConfig, StrategyKind};
use crate::scenario::{ScenarioError, Strategy};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha12Rng;
use smallvec::SmallVec;

/// The swarm strategy.
pub struct Swarm;

impl StrategyModule for Swarm {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Swarm
    }
    fn name(&self) -> &'static str {
        "swarm"
    }
    fn summary(&self) -> &'static str {
        "BitTorrent at the piece level: tracker, local rarest first, tit-for-tat choking, endgame"
    }
    fn config(&self, path: &str, spec: &Strategy, servers: usize) -> Result<StrategyConfig, ScenarioError> {
        let Strategy::Swarm(crate::scenario::SwarmStrategy { peers, upload_slots, max_upload_slots }) = *spec else {
            unreachable!("dispatched by kind")
        };
        use crate::scenario::limits::{check_count, check_total, MAX_SWARM_PEERS, MAX_SWARM_SERVERS};
        check_total(path, servers as u64, MAX_SWARM_SERVERS, "the number of servers of a swarm job")?;
        check_count(&format!("{path}.peers"), peers as u64, MAX_SWARM_PEERS as u64)?;
        let slots = match upload_slots {
            Some(s) => at_least_one(path, "upload_slots", s)?,
            None => 0,
        };
        Ok(StrategyConfig::swarm(
            at_least_one(path, "peers", peers)?,
            slots,
            at_least_one(path, "max_upload_slots", max_upload_slots)?,
            servers as u32,
        ))
    }
    fn params(&self, s: &StrategyConfig) -> serde_json::Value {
        serde_json::json!({
            "peers": s.peers,
            "upload_slots": if s.slots == 0 { serde_json::Value::Null } else { s.slots.into() },
            "max_upload_slots": s.max_slots,
        })
    }
    fn engine_driven(&self) -> bool {
        true
    }
    fn scheduler(&self, setup: SchedulerSetup<'_>) -> Option<Box<dyn PieceScheduler>> {
        Some(Box::new(BitTorrent::new(setup)))
    }
}

/// Time between two rechokes of a peer (the mainline client's 10 s), unless a piece takes much
/// less time on one upload slot (see [`rechoke_period`]).
const RECHOKE: SimDuration = SimDuration::from_secs(10);
/// Rechoke periods shorter than 10 s last this many piece transfers on one upload slot (one:
/// 2.1 % faster than three on the homogeneous reference, seeds 1-6, and about the ratio of
/// real swarms, where a 256 KB piece takes 10 s to a minute per slot).
const RECHOKE_PIECES: u64 = 1;
/// Every this many rechokes the optimistic unchoke moves on (30 s).
const OPTIMISTIC_EVERY: u32 = 3;
/// Time between two announces of a peer short of neighbours.
const ANNOUNCE: SimDuration = SimDuration::from_secs(30);

/// Copies of one piece on their way to a peer at once in endgame.
const ENDGAME_COPIES: usize = 2;

/// [`BitTorrent::index`] entry of a host that is not a peer of the job.
const NOT_A_PEER: u32 = u32::MAX;

const TIMER_RECHOKE: u64 = 0;
const TIMER_ANNOUNCE: u64 = 1;

/// One side's view of a connection.
#[derive(Debug, Clone)]
struct Neighbour {
    peer: u32,
    /// Bytes received from it / sent to it at the last rechoke.
    down_seen: u64,
    up_seen: u64,
    /// Rates of the last two rechoke periods, bytes per second (the 20 s average is their mean).
    down_rates: [f64; 2],
    up_rates: [f64; 2],
    /// When this peer last unchoked it.
    unchoked_at: Option<SimTime>,
    /// Whether a piece may have moved from it / to it since the last rechoke: only then does
    /// the rechoke ask the engine for the bytes (a lookup per neighbour and rechoke was most of
    /// a large swarm's run time). True for a new connection, whose pair may have traded before.
    down_moved: bool,
    up_moved: bool,
}

impl Neighbour {
    fn new(peer: u32) -> Neighbour {
        Neighbour {
            peer,
            down_seen: 0,
            up_seen: 0,
            down_rates: [0.0; 2],
            up_rates: [0.0; 2],
            unchoked_at: None,
            down_moved: true,
            up_moved: true,
        }
    }
    fn down_rate(&self) -> f64 {
        (self.down_rates[0] + self.down_rates[1]) / 2.0
    }
    fn up_rate(&self) -> f64 {
        (self.up_rates[0] + self.up_rates[1]) / 2.0
    }
}

/// Small lists kept inside the peer's record (a peer rarely has more than a few upload slots).
const INLINE_SLOTS: usize = 4;

// Laid out in declaration order (`repr(C)`): what the per-neighbour loops read of *another*
// peer (asking whether it is interested, whether it has a free slot, counting a HAVE) comes
// first, so that a visit touches a few adjacent lines of one record rather than the record and
// several separate allocations; a large swarm is bound by these misses.
#[derive(Debug, Clone)]
#[repr(C)]
struct Peer {
    /// Joined and up.
    active: bool,
    held: u32,
    slots: u32,
    /// Download, bytes per second.
    download: u64,
    /// Sum of the nominal slot rates of the uploads now coming to this peer.
    inflow: u64,
    /// Nominal rate of one of its upload slots (upload / slots), bytes per second.
    slot_rate: u64,
    /// Peers this one uploads to (regular unchokes, then the optimistic one).
    unchoked: SmallVec<[u32; INLINE_SLOTS]>,
    /// Uploads in progress: (receiver, piece).
    sending: SmallVec<[(u32, u32); INLINE_SLOTS]>,
    have: Bits,
    /// Pieces on their way to this peer.
    incoming: Bits,
    /// Uploads in progress to this peer: (sender, piece), the mirror of the senders' `sending`.
    receiving: SmallVec<[(u32, u32); INLINE_SLOTS]>,
    host: HostId,
    /// Bumped on every join and crash; timers of an older epoch are stale.
    epoch: u32,
    /// Pieces whose last byte left a sender for this peer and that have not arrived yet (one
    /// latency): no endgame copy is sent for them.
    arriving: Bits,
    neighbours: Vec<Neighbour>,
    optimistic: Option<u32>,
    rechokes: u32,
    last_rechoke: SimTime,
    /// Its rechoke period.
    rechoke_every: SimDuration,
}

/// The BitTorrent piece scheduler of one job.
pub struct BitTorrent {
    peers: Vec<Peer>,
    /// Per host id, its peer number ([`NOT_A_PEER`] for hosts outside the job).
    index: Vec<u32>,
    want: u32,
    max_peers: u32,
    /// Pieces seen so far (one past the highest index).
    pieces: u32,
    /// Per peer and piece, how many of the peer's neighbours announced the piece: peer `p`'s
    /// counts are `avail[p * avail_stride..][..pieces]`. One array rather than a vector per
    /// peer: a HAVE adds one to a counter of each neighbour and reads nothing else of it.
    avail: Vec<u16>,
    avail_stride: usize,
    origin_timers: bool,
    /// Joined, up peers that still lack pieces; timers stop when none is left.
    leechers: u32,
    /// Per piece, the copies the origin started sending (super-seeding).
    origin_sent: Vec<u32>,
    rng: ChaCha12Rng,
    /// Scratch of [`Self::ranked_candidates`] (rate, last unchoke, neighbour position) and its
    /// callers' ranked list, kept between calls: these run several times per piece, and
    /// allocating them each time was a tenth of a large swarm's run time.
    candidates: Vec<(f64, Option<SimTime>, usize)>,
    ranked: Vec<u32>,
}

impl Peer {
    /// Upload slots in use: the unchoked neighbours, and the choked ones whose piece in progress
    /// is still being sent (a choke takes effect once that piece has left).
    fn slots_in_use(&self) -> u32 {
        let finishing = self
            .sending
            .iter()
            .enumerate()
            .filter(|&(i, s)| !self.unchoked.contains(&s.0) && !self.sending[..i].iter().any(|x| x.0 == s.0))
            .count();
        (self.unchoked.len() + finishing) as u32
    }

    fn has_free_slot(&self) -> bool {
        // Most calls find the slots taken by unchoked neighbours alone.
        self.unchoked.len() < self.slots as usize && self.slots_in_use() < self.slots
    }
}

impl BitTorrent {
    /// The swarm of a job: the origin (peer 0) and the servers, none joined yet.
    pub fn new(setup: SchedulerSetup<'_>) -> BitTorrent {
        let c = setup.config;
        let mut hosts = vec![setup.origin];
        hosts.extend_from_slice(setup.servers);
        let receiver_share = receiver_share(setup.servers.iter().map(|h| {
            let spec = &setup.hosts[h.0 as usize];
            (spec.upload_bps, spec.download_bps)
        }));
        let peers: Vec<Peer> = hosts
            .iter()
            .enumerate()
            .map(|(i, &h)| {
                let up = setup.hosts[h.0 as usize].upload_bps;
                let slots = if c.slots > 0 { c.slots } else { upload_slots(up, receiver_share, c.max_slots) };
                Peer {
                    host: h,
                    active: i == 0,
                    epoch: 0,
                    have: Bits::default(),
                    held: 0,
                    incoming: Bits::default(),
                    arriving: Bits::default(),
                    receiving: SmallVec::new(),
                    neighbours: Vec::new(),
                    unchoked: SmallVec::new(),
                    optimistic: None,
                    sending: SmallVec::new(),
                    slots,
                    slot_rate: (up / slots as f64) as u64,
                    download: setup.hosts[h.0 as usize].download_bps as u64,
                    inflow: 0,
                    rechokes: 0,
                    last_rechoke: SimTime::ZERO,
                    rechoke_every: RECHOKE,
                }
            })
            .collect();
        BitTorrent {
            index: {
                let mut index = vec![NOT_A_PEER; setup.hosts.len()];
                for (i, &h) in hosts.iter().enumerate() {
                    index[h.0 as usize] = i as u32;
                }
                index
            },
            peers,
            want: c.peers.max(1),
            max_peers: 2 * c.peers.max(1),
            pieces: 0,
            avail: Vec::new(),
            avail_stride: 0,
            origin_timers: false,
            leechers: 0,
            origin_sent: Vec::new(),
            rng: setup.rng,
            candidates: Vec::new(),
            ranked: Vec::new(),
        }
    }

    /// The peer number of `host`, if it takes part in the job.
    fn peer_of(&self, host: HostId) -> Option<u32> {
        self.index.get(host.0 as usize).copied().filter(|&p| p != NOT_A_PEER)
    }

    fn is_seed(&self, p: u32, ctx: &Ctx) -> bool {
        p == 0 || ctx.world.final_pieces().is_some_and(|n| self.peers[p as usize].held >= n)
    }

    fn neighbour_pos(&self, p: u32, q: u32) -> Option<usize> {
        self.peers[p as usize].neighbours.iter().position(|n| n.peer == q)
    }

    /// Makes room in [`Self::avail`] for every piece seen so far (new counts are zero).
    fn grow_avail(&mut self) {
        let (old, pieces) = (self.avail_stride, self.pieces as usize);
        if pieces <= old {
            return;
        }
        let stride = pieces.max(2 * old);
        let mut avail = vec![0u16; self.peers.len() * stride];
        if old > 0 {
            for (row, counts) in avail.chunks_exact_mut(stride).zip(self.avail.chunks_exact(old)) {
                row[..old].copy_from_slice(counts);
            }
        }
        self.avail = avail;
        self.avail_stride = stride;
    }

    /// Where peer `p`'s count of `piece` is in [`Self::avail`].
    fn avail_at(&self, p: u32, piece: u32) -> usize {
        debug_assert!(piece < self.pieces);
        p as usize * self.avail_stride + piece as usize
    }

    fn connect(&mut self, p: u32, q: u32) {
        self.peers[p as usize].neighbours.push(Neighbour::new(q));
        self.peers[q as usize].neighbours.push(Neighbour::new(p));
        for (a, b) in [(p, q), (q, p)] {
            for k in self.peers[b as usize].have.iter() {
                let at = self.avail_at(a, k);
                self.avail[at] += 1;
            }
        }
    }

    /// Drops the connection between `p` and `q` (uploads still running on it are cancelled).
    fn disconnect(&mut self, ctx: &mut Ctx, p: u32, q: u32) {
        for (a, b) in [(p, q), (q, p)] {
            if let Some(i) = self.neighbour_pos(a, b) {
                self.peers[a as usize].neighbours.swap_remove(i);
            }
            for k in self.peers[b as usize].have.iter() {
                let at = self.avail_at(a, k);
                self.avail[at] = self.avail[at].saturating_sub(1);
            }
            let peer = &mut self.peers[a as usize];
            peer.unchoked.retain(|x| *x != b);
            if peer.optimistic == Some(b) {
                peer.optimistic = None;
            }
            let cancelled: Vec<u32> = peer.sending.iter().filter(|s| s.0 == b).map(|s| s.1).collect();
            for piece in cancelled {
                self.end_send(a, b, piece);
                ctx.cancel(self.peers[a as usize].host, self.peers[b as usize].host);
                self.release_incoming(b, piece);
            }
        }
    }

    /// `q` no longer receives `piece` from `p` (the other half of removing `(q, piece)` from
    /// `p`'s `sending`).
    fn forget_receiving(&mut self, q: u32, p: u32, piece: u32) {
        let receiving = &mut self.peers[q as usize].receiving;
        if let Some(j) = receiving.iter().position(|&r| r == (p, piece)) {
            receiving.swap_remove(j);
        }
    }

    /// `p` starts sending `piece` to `q`.
    fn begin_send(&mut self, p: u32, q: u32, piece: u32) {
        if let Some(i) = self.neighbour_pos(p, q) {
            self.peers[p as usize].neighbours[i].up_moved = true;
        }
        if let Some(i) = self.neighbour_pos(q, p) {
            self.peers[q as usize].neighbours[i].down_moved = true;
        }
        self.peers[p as usize].sending.push((q, piece));
        self.peers[q as usize].receiving.push((p, piece));
        self.peers[q as usize].inflow += self.peers[p as usize].slot_rate;
    }

    /// `p` no longer sends `piece` to `q` (if it did).
    fn end_send(&mut self, p: u32, q: u32, piece: u32) {
        let sending = &mut self.peers[p as usize].sending;
        if let Some(i) = sending.iter().position(|&s| s == (q, piece)) {
            sending.swap_remove(i);
            self.forget_receiving(q, p, piece);
            let rate = self.peers[p as usize].slot_rate;
            let inflow = &mut self.peers[q as usize].inflow;
            *inflow = inflow.saturating_sub(rate);
        }
    }

    /// `piece` is no longer on its way to `q` over some connection: unless another copy is
    /// (endgame), `q` may ask for it again.
    fn release_incoming(&mut self, q: u32, piece: u32) {
        let elsewhere =
            self.peers[q as usize].neighbours.iter().any(|n| self.peers[n.peer as usize].sending.contains(&(q, piece)));
        if !elsewhere {
            self.peers[q as usize].incoming.clear(piece);
        }
    }

    /// Asks the tracker for neighbours until `p` has `want` (or the tracker has no more).
    fn announce(&mut self, ctx: &mut Ctx, p: u32) {
        let n = self.peers.len() as u32;
        let seed = self.is_seed(p, ctx);
        let mut tries = 4 * self.want;
        while (self.peers[p as usize].neighbours.len() as u32) < self.want && tries > 0 {
            tries -= 1;
            let q = self.rng.gen_range(0..n);
            let peer = &self.peers[q as usize];
            if q == p
                || !peer.active
                || peer.neighbours.len() as u32 >= self.max_peers
                || (seed && self.is_seed(q, ctx))
                || self.neighbour_pos(p, q).is_some()
                || !ctx.world.reachable(self.peers[p as usize].host, peer.host)
            {
                continue;
            }
            self.connect(p, q);
            self.fill(ctx, q);
        }
    }

    /// Whether `q` wants something `p` holds (a piece it lacks and is not receiving, or in
    /// endgame any piece it lacks that `p` is not already sending it).
    fn interested(&self, q: u32, p: u32, ctx: &Ctx) -> bool {
        if self.saturated(q, p) {
            return false;
        }
        let (a, b) = (&self.peers[p as usize], &self.peers[q as usize]);
        let words = a.have.0.len();
        if (0..words).any(|w| a.have.word(w) & !b.have.word(w) & !b.incoming.word(w) != 0) {
            return true;
        }
        self.endgame(q, ctx) && (0..words).any(|w| a.have.word(w) & !b.have.word(w) != 0)
    }

    /// Whether the uploads already coming to `q` from peers other than `p` fill its download
    /// (counting each at its sender's nominal slot rate): `q` then asks `p` for nothing more.
    fn saturated(&self, q: u32, p: u32) -> bool {
        let (a, b) = (&self.peers[p as usize], &self.peers[q as usize]);
        let own = if a.sending.iter().any(|s| s.0 == q) { a.slot_rate } else { 0 };
        b.inflow.saturating_sub(own) >= b.download
    }

    /// Every piece `q` lacks is already on its way.
    fn endgame(&self, q: u32, ctx: &Ctx) -> bool {
        let Some(n) = ctx.world.final_pieces() else { return false };
        let b = &self.peers[q as usize];
        let words = n.div_ceil(64) as usize;
        (0..words).all(|w| {
            let mask = if (w as u32 + 1) * 64 <= n { u64::MAX } else { (1u64 << (n % 64)) - 1 };
            (b.have.word(w) | b.incoming.word(w)) & mask == mask
        })
    }

    /// The piece `q` asks `p` for next: local rarest first, ties by a random rotation; in
    /// endgame a piece already on its way from elsewhere.
    fn pick(&mut self, q: u32, p: u32, ctx: &Ctx) -> Option<u32> {
        if self.saturated(q, p) {
            return None;
        }
        let n = self.pieces.max(1);
        let start = self.rng.gen_range(0..n);
        let (a, b) = (&self.peers[p as usize], &self.peers[q as usize]);
        let words = a.have.0.len();
        let mut best: Option<(u16, u32, u32)> = None;
        for w in 0..words {
            let mut bits = a.have.word(w) & !b.have.word(w) & !b.incoming.word(w);
            while bits != 0 {
                let k = w as u32 * 64 + bits.trailing_zeros();
                bits &= bits - 1;
                // The origin super-seeds: each piece to one peer before any goes twice.
                let rarity = if p == 0 {
                    self.origin_sent.get(k as usize).map_or(0, |&c| c.min(u16::MAX as u32) as u16)
                } else {
                    self.avail[self.avail_at(q, k)]
                };
                let key = (rarity, (k + n - start) % n, k);
                if best.is_none_or(|x| key < x) {
                    best = Some(key);
                }
            }
        }
        if best.is_none() && self.endgame(q, ctx) {
            for w in 0..words {
                let mut bits = a.have.word(w) & !b.have.word(w);
                while bits != 0 {
                    let k = w as u32 * 64 + bits.trailing_zeros();
                    bits &= bits - 1;
                    // One extra copy at most: parallel copies share the receiver's download.
                    let copies =
                        b.neighbours.iter().filter(|x| self.peers[x.peer as usize].sending.contains(&(q, k))).count();
                    // None in progress, or one sent whole and on its way: no copy needed (a
                    // piece of no bytes, e.g. a command without data, is sent in no time, and
                    // copying it again at once would never end).
                    if copies == 0 || copies >= ENDGAME_COPIES || b.arriving.get(k) {
                        continue;
                    }
                    let key = (copies as u16, (k + n - start) % n, k);
                    if best.is_none_or(|x| key < x) {
                        best = Some(key);
                    }
                }
            }
        }
        best.map(|(_, _, k)| k)
    }

    /// `p` sends `q` the next piece it asks for; false when it asks for none.
    fn start(&mut self, ctx: &mut Ctx, p: u32, q: u32) -> bool {
        if self.peers[p as usize].sending.iter().any(|s| s.0 == q) {
            return true;
        }
        let Some(piece) = self.pick(q, p, ctx) else { return false };
        self.peers[q as usize].incoming.set(piece);
        if p == 0 {
            if self.origin_sent.len() <= piece as usize {
                self.origin_sent.resize(piece as usize + 1, 0);
            }
            self.origin_sent[piece as usize] += 1;
        }
        self.begin_send(p, q, piece);
        ctx.upload(self.peers[p as usize].host, self.peers[q as usize].host, piece);
        true
    }

    fn unchoke(&mut self, ctx: &mut Ctx, p: u32, q: u32) {
        let now = ctx.now;
        if let Some(i) = self.neighbour_pos(p, q) {
            self.peers[p as usize].neighbours[i].unchoked_at = Some(now);
        }
        self.peers[p as usize].unchoked.push(q);
        if !self.start(ctx, p, q) {
            self.peers[p as usize].unchoked.retain(|x| *x != q);
        }
    }

    /// Interested neighbours of `p` it does not upload to, best first: a leecher ranks by the
    /// rate it downloads from them, a seed by the rate it uploads to them and then by how long
    /// they have waited.
    /// Without `skip_unchoked`, the neighbours `p` unchokes now are candidates too. Writes them
    /// to `ranked` (cleared first).
    fn ranked_candidates(&mut self, p: u32, ctx: &Ctx, skip_unchoked: bool, ranked: &mut Vec<u32>) {
        let seed = self.is_seed(p, ctx);
        let mut c = std::mem::take(&mut self.candidates);
        c.clear();
        let peer = &self.peers[p as usize];
        c.extend(
            peer.neighbours
                .iter()
                .enumerate()
                .filter(|(_, n)| {
                    self.peers[n.peer as usize].active
                        && !(skip_unchoked && peer.unchoked.contains(&n.peer))
                        && self.interested(n.peer, p, ctx)
                })
                .map(|(i, n)| (if seed { n.up_rate() } else { n.down_rate() }, n.unchoked_at, i)),
        );
        // Equal rates (every rate is zero before the first rechoke) are broken at random.
        c.shuffle(&mut self.rng);
        c.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
        ranked.clear();
        ranked.extend(c.iter().map(|&(_, _, i)| self.peers[p as usize].neighbours[i].peer));
        self.candidates = c;
    }

    /// Fills `p`'s free upload slots with its best interested neighbours.
    fn fill(&mut self, ctx: &mut Ctx, p: u32) {
        let peer = &self.peers[p as usize];
        if !peer.active || !peer.has_free_slot() || peer.held == 0 {
            return;
        }
        let mut ranked = std::mem::take(&mut self.ranked);
        self.ranked_candidates(p, ctx, true, &mut ranked);
        for &q in &ranked {
            if !self.peers[p as usize].has_free_slot() {
                break;
            }
            self.unchoke(ctx, p, q);
        }
        self.ranked = ranked;
    }

    /// `q` can take more than it receives (an upload to it ended): it tells its neighbours it is
    /// interested, and a neighbour with a free upload slot unchokes it at once, as libtorrent
    /// does for an interested peer when it has unchoke slots to spare (rather than leaving the
    /// slot idle until its next rechoke).
    fn offer_to(&mut self, ctx: &mut Ctx, q: u32) {
        if !self.peers[q as usize].active {
            return;
        }
        for i in 0..self.peers[q as usize].neighbours.len() {
            let Some(n) = self.peers[q as usize].neighbours.get(i) else { break };
            let r = n.peer;
            let sender = &self.peers[r as usize];
            if !sender.active
                || sender.held == 0
                || !sender.has_free_slot()
                || sender.unchoked.contains(&q)
                || !self.interested(q, r, ctx)
            {
                continue;
            }
            self.unchoke(ctx, r, q);
            if self.peers[q as usize].inflow >= self.peers[q as usize].download {
                break;
            }
        }
    }

    fn rechoke(&mut self, ctx: &mut Ctx, p: u32) {
        let now = ctx.now;
        let period = now.since(self.peers[p as usize].last_rechoke).as_secs_f64().max(1e-9);
        let host = self.peers[p as usize].host;
        for i in 0..self.peers[p as usize].neighbours.len() {
            let n = &self.peers[p as usize].neighbours[i];
            let q = n.peer;
            // Bytes move only while a piece is on its way: a pair idle since the last rechoke
            // has the same counts as then (and no piece on its way now, since starting one sets
            // the flag), so neither the engine nor the neighbour's record is read for it.
            let (down_moved, up_moved) = (n.down_moved, n.up_moved);
            if !down_moved && !up_moved && n.down_rates == [0.0; 2] && n.up_rates == [0.0; 2] {
                continue; // idle for two periods: its rates stay zero (most of a peer's neighbours)
            }
            let (mut down, mut up) = (n.down_seen, n.up_seen);
            let (mut receiving, mut giving) = (false, false);
            if down_moved || up_moved {
                let qh = self.peers[q as usize].host;
                if down_moved {
                    down = ctx.world.bytes_sent(qh, host);
                    receiving = self.peers[q as usize].sending.iter().any(|x| x.0 == p);
                }
                if up_moved {
                    up = ctx.world.bytes_sent(host, qh);
                    giving = self.peers[p as usize].sending.iter().any(|x| x.0 == q);
                }
            }
            let n = &mut self.peers[p as usize].neighbours[i];
            n.down_moved = receiving;
            n.up_moved = giving;
            n.down_rates = [n.down_rates[1], down.saturating_sub(n.down_seen) as f64 / period];
            n.up_rates = [n.up_rates[1], up.saturating_sub(n.up_seen) as f64 / period];
            n.down_seen = down;
            n.up_seen = up;
        }
        let peer = &mut self.peers[p as usize];
        peer.last_rechoke = now;
        peer.rechokes += 1;
        let slots = peer.slots as usize;
        let regular_slots = if slots >= 2 { slots - 1 } else { slots };
        let rotate_optimistic = peer.rechokes % OPTIMISTIC_EVERY == 1;
        let mut ranked = std::mem::take(&mut self.ranked);
        self.ranked_candidates(p, ctx, false, &mut ranked);
        let mut chosen: Vec<u32> = ranked.iter().copied().take(regular_slots).collect();
        let current_optimistic =
            self.peers[p as usize].optimistic.filter(|o| ranked.contains(o) && !chosen.contains(o));
        let optimistic = if slots >= 2 {
            if rotate_optimistic || current_optimistic.is_none() {
                let rest: Vec<u32> = ranked.iter().copied().filter(|q| !chosen.contains(q)).collect();
                (!rest.is_empty()).then(|| rest[self.rng.gen_range(0..rest.len())])
            } else {
                current_optimistic
            }
        } else {
            None
        };
        chosen.extend(optimistic);
        let old = std::mem::take(&mut self.peers[p as usize].unchoked);
        self.peers[p as usize].optimistic = optimistic;
        // Kept ones first; a newly unchoked neighbour takes a slot only once it is free (a
        // choked neighbour's piece in progress still holds its slot).
        for &q in chosen.iter().filter(|q| old.contains(q)) {
            self.peers[p as usize].unchoked.push(q);
        }
        for q in chosen.into_iter().filter(|q| !old.contains(q)) {
            if !self.peers[p as usize].has_free_slot() {
                break;
            }
            self.unchoke(ctx, p, q);
        }
        self.ranked = ranked;
        self.fill(ctx, p);
    }

    fn arm(&mut self, ctx: &mut Ctx, p: u32) {
        let epoch = self.peers[p as usize].epoch as u64;
        let peer = &self.peers[p as usize];
        let every = rechoke_period(ctx.world.piece_bytes(0), peer.slot_rate);
        self.peers[p as usize].rechoke_every = every;
        let phase = SimDuration::from_nanos(self.rng.gen_range(1..=every.as_nanos()));
        self.peers[p as usize].last_rechoke = ctx.now;
        ctx.timer(phase, token(p, epoch, TIMER_RECHOKE));
        ctx.timer(ANNOUNCE, token(p, epoch, TIMER_ANNOUNCE));
    }

    /// The origin finished a piece to `q`: its slot goes to the interested neighbour it served
    /// longest ago (never served first), `q` keeping it only when nobody else wants a piece. With
    /// super-seeding this spreads the origin's pieces one per peer, as a super-seeding client does.
    fn origin_next(&mut self, ctx: &mut Ctx, q: u32) {
        self.peers[0].unchoked.retain(|x| *x != q);
        let busy = self.peers[0].unchoked.clone();
        let mut waiting: Vec<(Option<SimTime>, u32)> = self.peers[0]
            .neighbours
            .iter()
            .filter(|n| {
                n.peer != q
                    && self.peers[n.peer as usize].active
                    && !busy.contains(&n.peer)
                    && self.interested(n.peer, 0, ctx)
            })
            .map(|n| (n.unchoked_at, n.peer))
            .collect();
        waiting.shuffle(&mut self.rng);
        waiting.sort_by_key(|w| w.0);
        for (_, r) in waiting {
            if !self.peers[0].has_free_slot() {
                break;
            }
            self.unchoke(ctx, 0, r);
        }
        if self.peers[0].has_free_slot() {
            self.unchoke(ctx, 0, q);
        }
    }

    /// `p`'s HAVE of `piece` when another copy of it may be on its way to `p` (endgame): each
    /// neighbour counts it, and a neighbour still sending it stops and sends the next piece `p`
    /// asks for (or frees its slot).
    fn have_with_copies_on_their_way(&mut self, ctx: &mut Ctx, p: u32, piece: u32) {
        let peer = self.peers[p as usize].host;
        for i in 0..self.peers[p as usize].neighbours.len() {
            let r = self.peers[p as usize].neighbours[i].peer;
            let at = self.avail_at(r, piece);
            self.avail[at] += 1;
            if self.peers[r as usize].sending.contains(&(p, piece)) {
                self.end_send(r, p, piece);
                ctx.cancel(self.peers[r as usize].host, peer);
                if self.peers[r as usize].unchoked.contains(&p) && !self.start(ctx, r, p) {
                    self.peers[r as usize].unchoked.retain(|x| *x != p);
                }
                self.fill(ctx, r);
            }
        }
    }

    /// Whether `p`'s `receiving` holds exactly the uploads its neighbours list as going to `p`
    /// (the invariant the HAVE's fast path rests on; checked in debug builds).
    fn receiving_mirrors_senders(&self, p: u32) -> bool {
        let mut mirrored: Vec<(u32, u32)> = self.peers[p as usize].receiving.to_vec();
        let mut sent: Vec<(u32, u32)> = self.peers[p as usize]
            .neighbours
            .iter()
            .flat_map(|n| self.peers[n.peer as usize].sending.iter().filter(|s| s.0 == p).map(move |s| (n.peer, s.1)))
            .collect();
        mirrored.sort_unstable();
        sent.sort_unstable();
        mirrored == sent
    }

    /// `p` became a seed: connections to other seeds are useless.
    fn drop_seed_links(&mut self, ctx: &mut Ctx, p: u32) {
        let seeds: Vec<u32> =
            self.peers[p as usize].neighbours.iter().map(|n| n.peer).filter(|&q| self.is_seed(q, ctx)).collect();
        for q in seeds {
            self.disconnect(ctx, p, q);
            if (self.peers[q as usize].neighbours.len() as u32) < self.want / 2 {
                self.announce(ctx, q);
            }
        }
    }
}

/// The median of `values` (1 when there is none).
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(1.0).max(1.0)
}

/// The rate a typical receiver gives one uploader, from the servers' (upload, download): a
/// server's download is filled by ⌈download / median upload⌉ typical uploaders, each getting
/// download / that many; the median of that over the servers. Equal to the upload when every
/// upload equals every download.
fn receiver_share(servers: impl Iterator<Item = (f64, f64)> + Clone) -> f64 {
    let median_upload = median(servers.clone().map(|(up, _)| up));
    median(servers.map(|(_, down)| down / (down / median_upload).ceil().max(1.0)))
}

/// Upload slots of a peer whose upload is `upload` when a typical receiver gives one uploader
/// `share` (see [`receiver_share`]): as many receivers as it takes to fill the upload,
/// ⌈upload / share⌉, at least 1 and at most `cap`.
///
/// Not the mainline client's rule (⌊√(0.6 · kB/s)⌋, 4 for anything above 42 kB/s), which
/// exists because one TCP connection over a long path cannot fill a fast upload: in the flow
/// model one flow can, and every extra slot only divides the rate at which each piece moves on,
/// so a new piece needs `slots` times longer per hop to spread. Measured on the homogeneous
/// reference (N=100, M=100, seed 1): 1.14× the bound with 1 slot (this rule), 1.18× with 2,
/// 1.30× with 4 (the mainline rule with the cap of 4).
fn upload_slots(upload: f64, share: f64, cap: u32) -> u32 {
    let slots = (upload / share.max(1.0)).ceil();
    if slots.is_finite() {
        (slots.min(u32::MAX as f64) as u32).clamp(1, cap.max(1))
    } else {
        cap.max(1)
    }
}

/// A peer's rechoke period: the mainline client's 10 s, or [`RECHOKE_PIECES`] transfers of a
/// piece of `piece_bytes` at its nominal slot rate when that is shorter. Real swarms move a
/// piece per slot in 10 s to a minute, so the mainline 10 s is about one piece transfer; a
/// simulated swarm of fast peers (a 1 MB piece in 0.08 s) keeps that ratio rather than the
/// wall-clock constant.
fn rechoke_period(piece_bytes: u64, slot_rate: u64) -> SimDuration {
    if piece_bytes == 0 {
        // No piece yet (a live stream that has not started): the mainline period.
        return RECHOKE;
    }
    let per_piece = piece_bytes as u128 * 1_000_000_000 / slot_rate.max(1) as u128;
    let nanos = (per_piece * RECHOKE_PIECES as u128).clamp(1_000_000, RECHOKE.as_nanos() as u128);
    SimDuration::from_nanos(nanos as u64)
}

fn token(p: u32, epoch: u64, kind: u64) -> u64 {
    (p as u64) << 32 | (epoch & 0xFF_FFFF) << 8 | kind
}

impl PieceScheduler for BitTorrent {
    fn joined(&mut self, ctx: &mut Ctx, peer: HostId) {
        if !self.origin_timers {
            self.origin_timers = true;
            self.arm(ctx, 0);
        }
        let Some(p) = self.peer_of(peer) else { return };
        if self.peers[p as usize].active && p != 0 {
            return;
        }
        if !self.is_seed(p, ctx) {
            self.leechers += 1;
        }
        let state = &mut self.peers[p as usize];
        state.active = true;
        state.epoch += 1;
        state.incoming = Bits::default();
        state.arriving = Bits::default();
        self.arm(ctx, p);
        self.announce(ctx, p);
        self.fill(ctx, p);
    }

    fn left(&mut self, ctx: &mut Ctx, peer: HostId) {
        let Some(p) = self.peer_of(peer) else { return };
        if !self.peers[p as usize].active {
            return;
        }
        if !self.is_seed(p, ctx) {
            self.leechers -= 1;
        }
        self.peers[p as usize].active = false;
        self.peers[p as usize].epoch += 1;
        let former: Vec<u32> = self.peers[p as usize].neighbours.iter().map(|n| n.peer).collect();
        for &q in &former {
            self.disconnect(ctx, p, q);
        }
        let state = &mut self.peers[p as usize];
        state.incoming = Bits::default();
        state.arriving = Bits::default();
        state.inflow = 0;
        let sending = std::mem::take(&mut state.sending);
        for (q, piece) in sending {
            self.forget_receiving(q, p, piece);
            let rate = self.peers[p as usize].slot_rate;
            self.peers[q as usize].inflow = self.peers[q as usize].inflow.saturating_sub(rate);
        }
        let state = &mut self.peers[p as usize];
        state.unchoked.clear();
        state.optimistic = None;
        for q in former {
            if (self.peers[q as usize].neighbours.len() as u32) < self.want / 2 {
                self.announce(ctx, q);
            }
            self.fill(ctx, q);
        }
    }

    fn reachability_changed(&mut self, ctx: &mut Ctx) {
        for p in 0..self.peers.len() as u32 {
            if !self.peers[p as usize].active {
                continue;
            }
            let cut: Vec<u32> = self.peers[p as usize]
                .neighbours
                .iter()
                .map(|n| n.peer)
                .filter(|&q| !ctx.world.reachable(self.peers[p as usize].host, self.peers[q as usize].host))
                .collect();
            for q in cut {
                self.disconnect(ctx, p, q);
            }
        }
        for p in 0..self.peers.len() as u32 {
            if self.peers[p as usize].active {
                self.announce(ctx, p);
                self.fill(ctx, p);
            }
        }
    }

    fn gained(&mut self, ctx: &mut Ctx, peer: HostId, piece: u32) {
        let Some(p) = self.peer_of(peer) else { return };
        if self.peers[p as usize].have.get(piece) {
            return;
        }
        self.pieces = self.pieces.max(piece + 1);
        self.grow_avail();
        let state = &mut self.peers[p as usize];
        state.have.set(piece);
        state.held += 1;
        state.incoming.clear(piece);
        state.arriving.clear(piece);
        // HAVE to every neighbour; endgame copies still on their way are cancelled. Most pieces
        // have no other copy on its way: then the HAVE only counts, and touches nothing else of
        // the neighbours (the same counts, in the same order, as `have_with_copies_on_their_way`).
        debug_assert!(
            self.receiving_mirrors_senders(p),
            "peer {p}'s incoming uploads are not its senders' outgoing ones"
        );
        if !self.peers[p as usize].receiving.iter().any(|&(_, k)| k == piece) {
            let stride = self.avail_stride;
            for n in &self.peers[p as usize].neighbours {
                self.avail[n.peer as usize * stride + piece as usize] += 1;
            }
        } else {
            self.have_with_copies_on_their_way(ctx, p, piece);
        }
        if p != 0 && self.is_seed(p, ctx) {
            self.leechers -= 1;
            self.drop_seed_links(ctx, p);
            self.announce(ctx, p);
        }
        self.fill(ctx, p);
    }

    fn upload_finished(&mut self, ctx: &mut Ctx, from: HostId, to: HostId, piece: u32) {
        let (Some(p), Some(q)) = (self.peer_of(from), self.peer_of(to)) else { return };
        self.end_send(p, q, piece);
        self.peers[q as usize].arriving.set(piece);
        if p == 0 && self.peers[0].unchoked.contains(&q) {
            self.origin_next(ctx, q);
            return;
        }
        if self.peers[p as usize].unchoked.contains(&q) && !self.start(ctx, p, q) {
            // Not interested any more: the slot goes to the best interested neighbour.
            self.peers[p as usize].unchoked.retain(|x| *x != q);
        }
        self.fill(ctx, p);
        self.offer_to(ctx, q);
    }

    fn upload_aborted(&mut self, ctx: &mut Ctx, from: HostId, to: HostId, piece: u32) {
        let (Some(p), Some(q)) = (self.peer_of(from), self.peer_of(to)) else { return };
        self.end_send(p, q, piece);
        self.release_incoming(q, piece);
        let _ = ctx;
    }

    fn lost(&mut self, _ctx: &mut Ctx, to: HostId, piece: u32) {
        if let Some(q) = self.peer_of(to) {
            self.peers[q as usize].arriving.clear(piece);
            self.release_incoming(q, piece);
        }
    }

    fn timer(&mut self, ctx: &mut Ctx, token: u64) {
        let (p, epoch, kind) = ((token >> 32) as u32, (token >> 8) & 0xFF_FFFF, token & 0xFF);
        let state = &self.peers[p as usize];
        if !state.active || state.epoch as u64 & 0xFF_FFFF != epoch || self.leechers == 0 {
            return;
        }
        match kind {
            TIMER_RECHOKE => {
                self.rechoke(ctx, p);
                // A live stream's first piece may have come after the peer joined.
                let every = rechoke_period(ctx.world.piece_bytes(0), self.peers[p as usize].slot_rate);
                self.peers[p as usize].rechoke_every = every;
                ctx.timer(every, token);
            }
            _ => {
                if (self.peers[p as usize].neighbours.len() as u32) < self.want {
                    self.announce(ctx, p);
                    self.fill(ctx, p);
                }
                ctx.timer(ANNOUNCE, token);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rechoke_period_is_ten_seconds_or_one_piece_transfer() {
        // 1 MB pieces, 100 Mbit/s over 4 slots = 3.125 MB/s per slot: 0.32 s a piece.
        assert_eq!(rechoke_period(1_000_000, 3_125_000), SimDuration::from_millis(320));
        // 256 KB at 128 kbit/s over 4 slots (4 kB/s): 65.5 s a piece, so the mainline 10 s.
        assert_eq!(rechoke_period(262_144, 4_000), RECHOKE);
        // Never below a millisecond, even for a huge slot rate; a zero rate is the 10 s.
        assert_eq!(rechoke_period(1, u64::MAX), SimDuration::from_millis(1));
        assert_eq!(rechoke_period(1_000, 0), RECHOKE);
        // No piece in the log yet (a live stream before its first chunk).
        assert_eq!(rechoke_period(0, 3_125_000), RECHOKE);
    }

    #[test]
    fn a_peer_opens_the_slots_its_upload_fills_at_a_typical_receivers_share() {
        // Homogeneous: upload = download = u, a receiver takes one uploader at u: one slot.
        let homogeneous = receiver_share(std::iter::repeat_n((12.5e6, 12.5e6), 100));
        assert_eq!(homogeneous, 12.5e6);
        assert_eq!(upload_slots(12.5e6, homogeneous, 4), 1);
        // The flash crowd's four classes (kbit/s up/down: 128/784, 384/1500, 1000/3000,
        // 5000/10000; here in kB/s): median upload 48 kB/s (the lower median, 384 kbit/s);
        // 784 kbit/s = 98 kB/s takes 3 such uploaders (32.7 kB/s each), 1500 takes 4 (46.9),
        // 3000 takes 8 (46.9), 10000 takes 27 (46.3): the share is the lower median, 46.3 kB/s.
        let classes = [(16.0, 98.0), (48.0, 187.5), (125.0, 375.0), (625.0, 1250.0)];
        let share =
            receiver_share(classes.iter().flat_map(|&c| std::iter::repeat_n(c, 25)).map(|(u, d)| (u * 1e3, d * 1e3)));
        assert!((share - 1_250_000.0 / 27.0).abs() < 1e-6, "share {share}");
        // The 5,000 kbit/s class and the 6 Mbit/s seed hit the cap; cable 3, ADSL 2, DSL 1.
        assert_eq!(upload_slots(625e3, share, 4), 4);
        assert_eq!(upload_slots(750e3, share, 4), 4);
        assert_eq!(upload_slots(125e3, share, 4), 3);
        assert_eq!(upload_slots(48e3, share, 4), 2);
        assert_eq!(upload_slots(16e3, share, 4), 1);
        // Degenerate inputs stay within [1, cap].
        assert_eq!(upload_slots(f64::INFINITY, 1.0, 4), 4);
        assert_eq!(upload_slots(0.0, 1.0, 4), 1);
        assert_eq!(median([3.0, 1.0, 2.0, 10.0].into_iter()), 2.0);
        assert_eq!(median(std::iter::empty()), 1.0);
    }
}
