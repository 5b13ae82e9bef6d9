//! The `optimal` reference strategy: a schedule that reaches (homogeneous peers) or approaches
//! (heterogeneous uploads) the known optimum, so that a comparison can say how far a strategy
//! is from the best possible, not only from the Kumar–Ross lower bound.
//!
//! **Homogeneous peers** (every server's upload equals the base server's, downloads at least
//! that): the optimum is known exactly. Mundinger, Weber & Weiss ("Optimal scheduling of
//! peer-to-peer file dissemination", J. Scheduling 11, 2008) show that with the file in `M`
//! pieces, each node uploading one piece per round of `F/(M·u)` and receiving at most one, no
//! schedule finishes before `M + ⌈log2(N+1)⌉ − 1` rounds, and the *binomial pipeline* on the
//! hypercube reaches it when `N + 1` is a power of two: in round `t` node `v` pairs with
//! `v xor 2^((t−1) mod n)` and sends the newest piece its partner lacks, the base server a new
//! piece each round. Here every round is a *matching pass*: when transfers end the scheduler
//! pairs idle senders with idle receivers (one upload and one download at a time, full rate),
//! first along the hypercube dimension of the pass (when `N + 1` is a power of two), then
//! greedily for whoever is left: receivers with the fewest pieces first, each from the first
//! idle sender (in a seeded random order) holding a piece it lacks, taking the rarest such piece
//! (the base server: a piece never sent yet). For other `N` this greedy extension is ours, not
//! the paper's construction; it measures within 1 % of the optimum on the references (N=100,
//! M=100 and N=1,000, M=256: see `tests/integration/references.rs`).
//!
//! **Heterogeneous uploads**: the fluid optimum is the Kumar–Ross bound itself, reached by
//! splitting the file in proportion to upload (Kumar & Ross 2006). With whole pieces the
//! schedule is a striped multi-tree in the manner of SplitStream (Castro et al., SOSP 2003):
//! the servers are split into `stripes` groups of equal total upload (largest first, each to
//! the lightest group); piece `k` belongs to a stripe chosen by smooth weighted round robin on
//! the groups' uploads, so each stripe carries a share of the file proportional to its upload.
//! In its stripe's tree a server is interior (it forwards the stripe) and in every other stripe
//! a leaf; its children count is proportional to its upload (highest averages, so that no
//! child is fed slower than need be; a server with no child is a leaf everywhere). The base server sends each piece once, in order,
//! to its stripe's root, one piece at a time; interior servers send each piece to their
//! forwarding children before their leaves (the relays are on the critical path), and keep one
//! connection per child,
//! each carrying the stripe's pieces in order back to back.
//!
//! Packets: SplitStream forwards packets, not files' chunks, and a tree level delays a stripe
//! by the time a parent takes to pass one unit to its children, so the multi-tree's pieces are
//! packets (see [`PieceScheduler::packets_per_item`]): by default each chunk is cut into enough
//! packets for the file to have at least `MIN_TREE_PACKETS` (1,024) (`packets_per_chunk` sets the
//! number), and a packet's stripe is chosen like a piece's. On the quickstart network with a
//! 30 MB file in 60 chunks this is 1.11× the bound against 1.29× with whole chunks. The
//! homogeneous pipeline keeps whole pieces: the optimum it reaches is stated for them.
//!
//! Faults and churn: when a server leaves or crashes the stripes' trees are rebuilt over the
//! servers still in the job (and again when one outside the trees joins or comes back), as a
//! SplitStream-like overlay re-forms its trees; a server whose parent is cut off is fed by its
//! nearest reachable ancestor (the base server at the top), and a server that comes back
//! continues from what it holds; in the homogeneous schedule crashed servers simply drop out
//! of the matching.

use super::{Bits, Ctx, PieceScheduler, SchedulerSetup, StrategyModule};
use crate::engine::MAX_PACKETS_PER_ITEM;
use crate::kernel::SimDuration;
use crate::net::HostId;
use crate::protocol::job::{StrategyConfig, StrategyKind};
use crate::scenario::{Count, ScenarioError, Strategy};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha12Rng;
use std::collections::BTreeMap;

/// The optimal reference strategy.
pub struct Optimal;

impl StrategyModule for Optimal {
    fn kind(&self) -> StrategyKind {
        StrategyKind::Optimal
    }
    fn name(&self) -> &'static str {
        "optimal"
    }
    fn summary(&self) -> &'static str {
        "optimal reference: binomial pipeline (homogeneous) or striped multi-tree sized by upload"
    }
    fn config(&self, path: &str, spec: &Strategy, servers: usize) -> Result<StrategyConfig, ScenarioError> {
        let Strategy::Optimal(crate::scenario::OptimalStrategy { stripes, packets_per_chunk }) = *spec else {
            unreachable!("dispatched by kind")
        };
        let stripes = match stripes {
            Some(s) => super::at_least_one(path, "stripes", s)?,
            None => 0,
        };
        let packets = match packets_per_chunk {
            Count::Auto => 0,
            Count::Fixed(n) if (1..=MAX_PACKETS_PER_ITEM).contains(&n) => n,
            Count::Fixed(n) => {
                return Err(ScenarioError::invalid(
                    format!("{path}.packets_per_chunk"),
                    format!("{n} packets per chunk: expected 1 to {MAX_PACKETS_PER_ITEM}, or \"auto\""),
                ))
            }
        };
        Ok(StrategyConfig::optimal(stripes, packets, servers as u32))
    }
    fn params(&self, s: &StrategyConfig) -> serde_json::Value {
        let or_auto = |v: u32| if v == 0 { serde_json::Value::from("auto") } else { v.into() };
        serde_json::json!({
            "stripes": if s.slots == 0 { serde_json::Value::Null } else { s.slots.into() },
            "packets_per_chunk": or_auto(s.packets_per_item),
        })
    }
    fn engine_driven(&self) -> bool {
        true
    }
    fn scheduler(&self, setup: SchedulerSetup<'_>) -> Option<Box<dyn PieceScheduler>> {
        Some(Box::new(OptimalSchedule::new(setup)))
    }
}

/// Fewest packets the multi-tree cuts a file into by default: each tree level delays a stripe
/// by one packet's time at the stripe's rate, about `stripes / packets` of the makespan.
const MIN_TREE_PACKETS: u32 = 1024;

/// Default number of stripes of the multi-tree: few stripes keep the trees shallow (the
/// pipeline fills in about `stripes · depth` piece times), more round children counts better.
const DEFAULT_STRIPES: u32 = 4;

#[derive(Debug, Clone)]
struct Node {
    host: HostId,
    active: bool,
    have: Bits,
    held: u32,
    incoming: Bits,
    up: f64,
    /// Uploads in progress: (receiver, piece).
    sending: Vec<(u32, u32)>,
    receiving: u32,
}

/// The tree of one stripe.
#[derive(Debug, Clone, Default)]
struct Stripe {
    /// Whether each node forwards this stripe.
    interior: Vec<bool>,
    /// Static parent of every node (index 0, the origin, has none).
    parent: Vec<u32>,
    /// Pieces of this stripe.
    mask: Bits,
    upload: f64,
    credit: f64,
}

enum Mode {
    /// Matching passes (homogeneous).
    Rounds { passes: u64, dims: Option<u32>, pass_pending: bool, outstanding: u32, copies: Vec<u32>, sent_ever: Bits },
    /// Striped multi-tree (heterogeneous).
    Stripes { stripes: Vec<Stripe>, stripe_of: Vec<u32>, eff_children: Vec<Vec<Vec<u32>>>, eff_parent: Vec<Vec<u32>> },
}

/// The optimal schedule of one job.
pub struct OptimalSchedule {
    nodes: Vec<Node>,
    index: BTreeMap<HostId, u32>,
    mode: Mode,
    rng: ChaCha12Rng,
    /// Packets per item of the job's log (1: whole items).
    split: u32,
}

const NONE: u32 = u32::MAX;

impl OptimalSchedule {
    /// The schedule of a job: the origin (node 0) and the servers, none joined yet.
    pub fn new(setup: SchedulerSetup<'_>) -> OptimalSchedule {
        let mut hosts = vec![setup.origin];
        hosts.extend_from_slice(setup.servers);
        let nodes: Vec<Node> = hosts
            .iter()
            .enumerate()
            .map(|(i, &h)| Node {
                host: h,
                active: i == 0,
                have: Bits::default(),
                held: 0,
                incoming: Bits::default(),
                up: setup.hosts[h.0 as usize].upload_bps,
                sending: Vec::new(),
                receiving: 0,
            })
            .collect();
        let u0 = nodes[0].up;
        let homogeneous = hosts.iter().all(|&h| {
            let spec = &setup.hosts[h.0 as usize];
            (spec.upload_bps - u0).abs() <= 1e-9 * u0 && (h == setup.origin || spec.download_bps >= u0 * (1.0 - 1e-9))
        });
        let n = nodes.len() as u32;
        let mode = if homogeneous {
            Mode::Rounds {
                passes: 0,
                dims: n.is_power_of_two().then(|| n.trailing_zeros()),
                pass_pending: false,
                outstanding: 0,
                copies: Vec::new(),
                sent_ever: Bits::default(),
            }
        } else {
            let s = if setup.config.slots > 0 { setup.config.slots } else { DEFAULT_STRIPES };
            let s = s.clamp(1, (n - 1).max(1));
            Mode::Stripes {
                stripes: build_stripes(&nodes, s, |_| true),
                stripe_of: Vec::new(),
                eff_children: Vec::new(),
                eff_parent: Vec::new(),
            }
        };
        let split = match setup.config.packets_per_item {
            0 if homogeneous => 1,
            0 => MIN_TREE_PACKETS.div_ceil(setup.chunks.max(1)).min(MAX_PACKETS_PER_ITEM),
            n => n,
        };
        let mut schedule = OptimalSchedule {
            split,
            index: hosts.iter().enumerate().map(|(i, &h)| (h, i as u32)).collect(),
            nodes,
            mode,
            rng: setup.rng,
        };
        schedule.rebuild_none();
        schedule
    }

    fn rebuild_none(&mut self) {
        if let Mode::Stripes { stripes, eff_children, eff_parent, .. } = &mut self.mode {
            *eff_children = vec![vec![Vec::new(); self.nodes.len()]; stripes.len()];
            *eff_parent = vec![vec![NONE; self.nodes.len()]; stripes.len()];
        }
    }

    fn send(&mut self, ctx: &mut Ctx, p: u32, q: u32, piece: u32) {
        self.nodes[p as usize].sending.push((q, piece));
        self.nodes[q as usize].incoming.set(piece);
        self.nodes[q as usize].receiving += 1;
        ctx.upload(self.nodes[p as usize].host, self.nodes[q as usize].host, piece);
    }

    // Homogeneous: matching passes ------------------------------------------------------------

    /// Asks for a matching pass at the end of this instant, once the round's uploads are all
    /// in (`force`: whatever is outstanding, after a join or a fault).
    fn request_pass(&mut self, ctx: &mut Ctx) {
        self.request_pass_if(ctx, true);
    }

    /// One upload of the round is over: when it was the last, the next round starts.
    fn round_upload_over(&mut self, ctx: &mut Ctx) {
        if let Mode::Rounds { outstanding, .. } = &mut self.mode {
            *outstanding = outstanding.saturating_sub(1);
        }
        self.request_pass_if(ctx, false);
    }

    fn request_pass_if(&mut self, ctx: &mut Ctx, force: bool) {
        if let Mode::Rounds { pass_pending, outstanding, .. } = &mut self.mode {
            if !*pass_pending && (force || *outstanding == 0) {
                *pass_pending = true;
                ctx.timer(SimDuration::ZERO, 0);
            }
        }
    }

    fn lacks(&self, p: u32, q: u32) -> bool {
        let (a, b) = (&self.nodes[p as usize], &self.nodes[q as usize]);
        (0..a.have.0.len()).any(|w| a.have.word(w) & !b.have.word(w) & !b.incoming.word(w) != 0)
    }

    /// The piece `p` sends `q` in a pass: the base server a piece never sent (lowest first), or
    /// else the rarest `q` lacks (newest among equals); `newest` picks the newest instead.
    fn choose(&self, p: u32, q: u32, newest: bool) -> Option<u32> {
        let Mode::Rounds { copies, sent_ever, .. } = &self.mode else { unreachable!() };
        let (a, b) = (&self.nodes[p as usize], &self.nodes[q as usize]);
        let mut best: Option<(u32, u32)> = None;
        for w in 0..a.have.0.len() {
            let mut bits = a.have.word(w) & !b.have.word(w) & !b.incoming.word(w);
            if p == 0 {
                let fresh = bits & !sent_ever.word(w);
                if fresh != 0 {
                    return Some(w as u32 * 64 + fresh.trailing_zeros());
                }
            }
            while bits != 0 {
                let k = w as u32 * 64 + bits.trailing_zeros();
                bits &= bits - 1;
                let rank = if newest { 0 } else { copies.get(k as usize).copied().unwrap_or(0) };
                if best.is_none_or(|(r, bk)| rank < r || (rank == r && k > bk)) {
                    best = Some((rank, k));
                }
            }
        }
        best.map(|(_, k)| k)
    }

    fn record_send(&mut self, ctx: &mut Ctx, p: u32, q: u32, piece: u32) {
        if let Mode::Rounds { copies, sent_ever, outstanding, .. } = &mut self.mode {
            *outstanding += 1;
            if copies.len() <= piece as usize {
                copies.resize(piece as usize + 1, 0);
            }
            copies[piece as usize] += 1;
            sent_ever.set(piece);
        }
        self.send(ctx, p, q, piece);
    }

    fn pass(&mut self, ctx: &mut Ctx) {
        let (t, dims) = match &mut self.mode {
            Mode::Rounds { passes, dims, pass_pending, .. } => {
                *pass_pending = false;
                *passes += 1;
                (*passes, *dims)
            }
            Mode::Stripes { .. } => return,
        };
        let n = self.nodes.len() as u32;
        let zero_bytes: Vec<u32> = self.nodes[0].have.iter().filter(|&k| ctx.world.piece_bytes(k) == 0).collect();
        let idle_sender = |s: &Self, p: u32| s.nodes[p as usize].active && s.nodes[p as usize].sending.is_empty();
        let idle_receiver = |s: &Self, q: u32| s.nodes[q as usize].active && s.nodes[q as usize].receiving == 0;
        let reachable = |s: &Self, ctx: &Ctx, p: u32, q: u32| {
            ctx.world.reachable(s.nodes[p as usize].host, s.nodes[q as usize].host)
        };
        if let Some(dims) = dims.filter(|&d| d > 0) {
            let d = ((t - 1) % dims as u64) as u32;
            for p in 0..n {
                let q = p ^ (1 << d);
                if q == 0 || !idle_sender(self, p) || !idle_receiver(self, q) || !reachable(self, ctx, p, q) {
                    continue;
                }
                if let Some(k) = self.choose(p, q, true) {
                    self.record_send(ctx, p, q, k);
                }
            }
        }
        let mut receivers: Vec<u32> = (1..n).filter(|&q| idle_receiver(self, q)).collect();
        receivers.sort_by_key(|&q| (self.nodes[q as usize].held, q));
        let mut senders: Vec<u32> =
            (0..n).filter(|&p| idle_sender(self, p) && self.nodes[p as usize].held > 0).collect();
        senders.shuffle(&mut self.rng);
        for q in receivers {
            let Some(i) = senders.iter().position(|&p| self.lacks(p, q) && reachable(self, ctx, p, q)) else {
                continue;
            };
            let p = senders.remove(i);
            if let Some(k) = self.choose(p, q, false) {
                self.record_send(ctx, p, q, k);
            }
        }
        // Items without bytes (commands without data) go from the base server directly to whoever
        // receives nothing this round.
        for q in 1..n {
            if !idle_receiver(self, q) || !ctx.world.reachable(self.nodes[0].host, self.nodes[q as usize].host) {
                continue;
            }
            if let Some(&k) = zero_bytes.iter().find(|&&k| !self.nodes[q as usize].have.get(k)) {
                if !self.nodes[q as usize].incoming.get(k) && !self.nodes[0].sending.iter().any(|s| s.0 == q) {
                    self.record_send(ctx, 0, q, k);
                }
            }
        }
    }

    // Heterogeneous: striped multi-tree ---------------------------------------------------------

    /// Recomputes who feeds whom: each server's nearest live, reachable ancestor per stripe.
    fn rebuild(&mut self, ctx: &Ctx) {
        let Mode::Stripes { stripes, eff_children, eff_parent, .. } = &mut self.mode else { return };
        let n = self.nodes.len();
        for (s, stripe) in stripes.iter().enumerate() {
            for list in eff_children[s].iter_mut() {
                list.clear();
            }
            #[allow(clippy::needless_range_loop)] // j indexes nodes, parents and the result alike
            for j in 1..n {
                if !self.nodes[j].active {
                    eff_parent[s][j] = NONE;
                    continue;
                }
                // A server outside the trees (it joined or came back while too few servers were
                // in the job to rebuild them: see `restripe`) is fed by the base server.
                let parent = |a: u32| match stripe.parent[a as usize] {
                    NONE => 0,
                    p => p,
                };
                let mut a = parent(j as u32);
                let live = |a: u32| {
                    let node = &self.nodes[a as usize];
                    node.active && ctx.world.reachable(node.host, self.nodes[j].host)
                };
                while a != 0 && !live(a) {
                    a = parent(a);
                }
                let a = if a == 0 && !ctx.world.reachable(self.nodes[0].host, self.nodes[j].host) { NONE } else { a };
                eff_parent[s][j] = a;
                if a != NONE {
                    eff_children[s][a as usize].push(j as u32);
                }
            }
        }
    }

    /// Rebuilds the stripes' trees over the servers now in the job (after a server left, or
    /// when one not in the trees joins), as a SplitStream-like overlay re-forms its trees: a
    /// server that left takes its subtree's parent with it, and re-parenting its children to
    /// the nearest live ancestor would end at the base server once a wave of servers leaves.
    /// The stripes keep their pieces; only who forwards them to whom changes. Kept as they are
    /// while fewer servers than stripes remain.
    fn restripe(&mut self) {
        let nodes = &self.nodes;
        let Mode::Stripes { stripes, .. } = &mut self.mode else { return };
        let count = stripes.len() as u32;
        if (1..nodes.len()).filter(|&j| nodes[j].active).count() < count as usize {
            return;
        }
        let fresh = build_stripes(nodes, count, |j| nodes[j].active);
        for (stripe, tree) in stripes.iter_mut().zip(fresh) {
            stripe.interior = tree.interior;
            stripe.parent = tree.parent;
            stripe.upload = tree.upload;
        }
    }

    /// Whether server `p` has a place in the stripes' trees.
    fn in_trees(&self, p: u32) -> bool {
        matches!(&self.mode, Mode::Stripes { stripes, .. } if stripes.first().is_some_and(|s| s.parent[p as usize] != NONE))
    }

    /// The next piece of stripe `s` that `p` holds and `q` lacks and is not receiving.
    fn next_in_stripe(&self, s: usize, p: u32, q: u32) -> Option<u32> {
        let Mode::Stripes { stripes, eff_children, .. } = &self.mode else { unreachable!() };
        let (a, b, stripe) = (&self.nodes[p as usize], &self.nodes[q as usize], &stripes[s]);
        // A leaf gets a piece once every forwarding child of the same parent has it (or is
        // receiving it): the relays' copies are on the critical path, the leaves' are not.
        let relays: Vec<u32> = if stripe.interior[q as usize] || p == 0 {
            Vec::new()
        } else {
            eff_children[s][p as usize].iter().copied().filter(|&c| stripe.interior[c as usize]).collect()
        };
        (0..a.have.0.len()).find_map(|w| {
            let mut bits = a.have.word(w) & stripe.mask.word(w) & !b.have.word(w) & !b.incoming.word(w);
            for &c in &relays {
                let r = &self.nodes[c as usize];
                bits &= r.have.word(w) | r.incoming.word(w);
            }
            (bits != 0).then(|| w as u32 * 64 + bits.trailing_zeros())
        })
    }

    /// Starts every upload that can run: interior servers to each idle child connection, the
    /// base server one piece at a time to whoever it feeds.
    fn pump(&mut self, ctx: &mut Ctx, p: u32) {
        if !self.nodes[p as usize].active {
            return;
        }
        let Mode::Stripes { stripes, eff_children, .. } = &self.mode else { return };
        if p == 0 {
            if !self.nodes[0].sending.is_empty() {
                return;
            }
            // Lowest piece any fed server lacks.
            let mut best: Option<(u32, u32)> = None;
            for (s, children) in eff_children.iter().enumerate().take(stripes.len()) {
                for &q in &children[0] {
                    if let Some(k) = self.next_in_stripe(s, 0, q) {
                        if best.is_none_or(|(bk, _)| k < bk) {
                            best = Some((k, q));
                        }
                    }
                }
            }
            if let Some((k, q)) = best {
                self.send(ctx, 0, q, k);
            }
            return;
        }
        let mut starts = Vec::new();
        for (s, children) in eff_children.iter().enumerate().take(stripes.len()) {
            for &q in &children[p as usize] {
                if self.nodes[p as usize].sending.iter().any(|x| x.0 == q) {
                    continue;
                }
                if let Some(k) = self.next_in_stripe(s, p, q) {
                    starts.push((q, k));
                }
            }
        }
        for (q, k) in starts {
            self.send(ctx, p, q, k);
        }
    }

    fn pump_all(&mut self, ctx: &mut Ctx) {
        for p in 0..self.nodes.len() as u32 {
            self.pump(ctx, p);
        }
    }

    fn assign_stripe(&mut self, piece: u32) {
        let Mode::Stripes { stripes, stripe_of, .. } = &mut self.mode else { return };
        while stripe_of.len() <= piece as usize {
            // Smooth weighted round robin on the stripes' uploads.
            let total: f64 = stripes.iter().map(|s| s.upload).sum();
            for s in stripes.iter_mut() {
                s.credit += s.upload;
            }
            let best = (0..stripes.len())
                .max_by(|&a, &b| stripes[a].credit.total_cmp(&stripes[b].credit).then(b.cmp(&a)))
                .expect("at least one stripe");
            stripes[best].credit -= total;
            stripes[best].mask.set(stripe_of.len() as u32);
            stripe_of.push(best as u32);
        }
    }

    fn stripe_of(&self, piece: u32) -> usize {
        let Mode::Stripes { stripe_of, .. } = &self.mode else { unreachable!() };
        stripe_of[piece as usize] as usize
    }

    fn finish_upload(&mut self, p: u32, q: u32, piece: u32) {
        self.nodes[p as usize].sending.retain(|&x| x != (q, piece));
        let r = &mut self.nodes[q as usize].receiving;
        *r = r.saturating_sub(1);
    }

    fn is_rounds(&self) -> bool {
        matches!(self.mode, Mode::Rounds { .. })
    }
}

/// An `f64` with a total order, for the apportionment heap.
#[derive(PartialEq)]
struct Share(f64);
impl Eq for Share {}
impl PartialOrd for Share {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Share {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Splits the servers (those `member` accepts) into `count` stripes of equal total upload and
/// builds each stripe's tree; the others have no parent.
fn build_stripes(nodes: &[Node], count: u32, member: impl Fn(usize) -> bool) -> Vec<Stripe> {
    let n = nodes.len();
    let mut order: Vec<u32> = (1..n as u32).filter(|&j| member(j as usize)).collect();
    if order.is_empty() {
        return (0..count)
            .map(|_| Stripe { interior: vec![false; n], parent: vec![NONE; n], ..Stripe::default() })
            .collect();
    }
    order.sort_by(|&a, &b| nodes[b as usize].up.total_cmp(&nodes[a as usize].up).then(a.cmp(&b)));
    let mut groups: Vec<Vec<u32>> = vec![Vec::new(); count as usize];
    let mut loads = vec![0.0f64; count as usize];
    for &j in &order {
        let g = (0..count as usize).min_by(|&a, &b| loads[a].total_cmp(&loads[b]).then(a.cmp(&b))).expect("stripes");
        groups[g].push(j);
        loads[g] += nodes[j as usize].up;
    }
    let receivers = order.len() as u32;
    groups
        .iter()
        .enumerate()
        .map(|(g, members)| {
            let total: f64 = members.iter().map(|&j| nodes[j as usize].up).sum();
            // Children ∝ upload by highest averages (D'Hondt): each receiver in turn goes to the
            // member whose upload per child stays highest, so no child is fed slower than need be.
            let seats = receivers.saturating_sub(1);
            let mut children = vec![0u32; members.len()];
            let mut heap: std::collections::BinaryHeap<(Share, std::cmp::Reverse<usize>)> =
                members.iter().enumerate().map(|(i, &j)| (Share(nodes[j as usize].up), std::cmp::Reverse(i))).collect();
            for _ in 0..seats {
                let (_, std::cmp::Reverse(i)) = heap.pop().expect("members");
                children[i] += 1;
                heap.push((Share(nodes[members[i] as usize].up / (children[i] + 1) as f64), std::cmp::Reverse(i)));
            }
            // Interior: members with children (the root always), in upload order; then leaves.
            let interior: Vec<(u32, u32)> = members
                .iter()
                .zip(&children)
                .enumerate()
                .filter(|(i, (_, &c))| *i == 0 || c > 0)
                .map(|(_, (&j, &c))| (j, c.max(1)))
                .collect();
            let mut receiver_order: Vec<u32> = interior.iter().skip(1).map(|&(j, _)| j).collect();
            let mut leaves: Vec<u32> =
                order.iter().copied().filter(|j| !interior.iter().any(|&(x, _)| x == *j)).collect();
            // Spread leaves differently in each stripe so no server sits deepest everywhere.
            let len = leaves.len().max(1);
            leaves.rotate_left(g * len / count as usize % len);
            receiver_order.extend(leaves);
            let mut parent = vec![NONE; n];
            parent[interior[0].0 as usize] = 0;
            let mut next = 0;
            for &(j, c) in &interior {
                for _ in 0..c {
                    if next < receiver_order.len() {
                        parent[receiver_order[next] as usize] = j;
                        next += 1;
                    }
                }
            }
            // Rounding may leave a few receivers: the root takes them.
            for &j in &receiver_order[next..] {
                parent[j as usize] = interior[0].0;
            }
            let mut is_interior = vec![false; n];
            for &(j, _) in &interior {
                is_interior[j as usize] = true;
            }
            Stripe { interior: is_interior, parent, mask: Bits::default(), upload: total, credit: 0.0 }
        })
        .collect()
}

impl PieceScheduler for OptimalSchedule {
    fn packets_per_item(&self) -> u32 {
        self.split
    }

    fn joined(&mut self, ctx: &mut Ctx, peer: HostId) {
        let Some(&p) = self.index.get(&peer) else { return };
        self.nodes[p as usize].active = true;
        if self.is_rounds() {
            self.request_pass(ctx);
        } else {
            if !self.in_trees(p) {
                self.restripe();
            }
            self.rebuild(ctx);
            self.pump_all(ctx);
        }
    }

    fn left(&mut self, ctx: &mut Ctx, peer: HostId) {
        let Some(&p) = self.index.get(&peer) else { return };
        let node = &mut self.nodes[p as usize];
        node.active = false;
        node.incoming = Bits::default();
        node.receiving = 0;
        node.sending.clear();
        if self.is_rounds() {
            self.request_pass(ctx);
        } else {
            self.restripe();
            self.rebuild(ctx);
            self.pump_all(ctx);
        }
    }

    fn reachability_changed(&mut self, ctx: &mut Ctx) {
        if self.is_rounds() {
            self.request_pass(ctx);
        } else {
            self.rebuild(ctx);
            self.pump_all(ctx);
        }
    }

    fn gained(&mut self, ctx: &mut Ctx, peer: HostId, piece: u32) {
        let Some(&p) = self.index.get(&peer) else { return };
        let node = &mut self.nodes[p as usize];
        let expected = node.incoming.get(piece);
        node.incoming.clear(piece);
        if !node.have.get(piece) {
            node.have.set(piece);
            node.held += 1;
        } else if !self.is_rounds() {
            return;
        }
        if self.is_rounds() {
            if expected {
                self.round_upload_over(ctx);
            } else {
                self.request_pass_if(ctx, false);
            }
            return;
        }
        self.assign_stripe(piece);
        self.pump(ctx, p);
    }

    fn upload_finished(&mut self, ctx: &mut Ctx, from: HostId, to: HostId, piece: u32) {
        let (Some(&p), Some(&q)) = (self.index.get(&from), self.index.get(&to)) else { return };
        self.finish_upload(p, q, piece);
        if self.is_rounds() {
            return; // the round ends when the piece is in
        }
        if p != 0 {
            // Same connection first: its flow continues with the next piece of the stripe.
            let s = self.stripe_of(piece);
            let still_child =
                matches!(&self.mode, Mode::Stripes { eff_children, .. } if eff_children[s][p as usize].contains(&q));
            if still_child {
                if let Some(k) = self.next_in_stripe(s, p, q) {
                    self.send(ctx, p, q, k);
                }
            }
        }
        self.pump(ctx, p);
    }

    fn upload_aborted(&mut self, ctx: &mut Ctx, from: HostId, to: HostId, piece: u32) {
        let (Some(&p), Some(&q)) = (self.index.get(&from), self.index.get(&to)) else { return };
        self.finish_upload(p, q, piece);
        self.nodes[q as usize].incoming.clear(piece);
        if let Mode::Rounds { copies, .. } = &mut self.mode {
            if let Some(c) = copies.get_mut(piece as usize) {
                *c = c.saturating_sub(1);
            }
        }
        if self.is_rounds() {
            self.round_upload_over(ctx);
        }
    }

    fn lost(&mut self, ctx: &mut Ctx, to: HostId, piece: u32) {
        if let Some(&q) = self.index.get(&to) {
            self.nodes[q as usize].incoming.clear(piece);
        }
        if let Mode::Rounds { copies, .. } = &mut self.mode {
            if let Some(c) = copies.get_mut(piece as usize) {
                *c = c.saturating_sub(1);
            }
        }
        if self.is_rounds() {
            self.round_upload_over(ctx);
        }
    }

    fn timer(&mut self, ctx: &mut Ctx, _token: u64) {
        self.pass(ctx);
    }
}
