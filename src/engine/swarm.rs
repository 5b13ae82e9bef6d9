//! The `swarm` reference strategy: chunk exchange among peers, rarest first, in the manner of
//! BitTorrent. It is not the patent's method; it is the modern baseline the cascade is compared
//! with in the same engine.
//!
//! Every server of the job is a peer; the base server is the seed. Each peer is linked to
//! `peers` others drawn from the seeded strategy stream (links are symmetric). A peer keeps up to
//! `upload_slots` piece uploads going at once; whenever a slot is free it sends one of its
//! neighbours a piece (an item of the job's log: chunk or command) that the neighbour lacks and
//! nobody is sending it yet, choosing the rarest such piece (fewest holders in the whole swarm,
//! ties to the lowest index and then to the neighbour met first in a rotating order).
//! Simplification: peers see their neighbours' piece maps at once (BitTorrent's HAVE messages
//! are not simulated), and rarity is counted over the whole swarm rather than the neighbourhood.

use crate::net::HostId;
use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::BTreeMap;

/// A set of piece indexes that grows as the job's log grows.
#[derive(Debug, Clone, Default)]
struct Bits(Vec<u64>);

impl Bits {
    fn get(&self, i: u32) -> bool {
        self.0.get((i / 64) as usize).is_some_and(|w| w >> (i % 64) & 1 == 1)
    }
    fn set(&mut self, i: u32) {
        let w = (i / 64) as usize;
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        self.0[w] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: u32) {
        if let Some(w) = self.0.get_mut((i / 64) as usize) {
            *w &= !(1 << (i % 64));
        }
    }
}

/// One job's swarm.
#[derive(Debug, Clone)]
pub struct Swarm {
    peers: Vec<HostId>,
    index: BTreeMap<HostId, u32>,
    joined: Vec<bool>,
    have: Vec<Bits>,
    incoming: Vec<Bits>,
    neighbours: Vec<Vec<u32>>,
    rotation: Vec<u32>,
    slots_used: Vec<u32>,
    holders: Vec<u32>,
    upload_slots: u32,
}

/// A piece upload the swarm decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PieceUpload {
    /// Uploading host.
    pub from: HostId,
    /// Receiving host.
    pub to: HostId,
    /// The item of the job's log.
    pub piece: u32,
}

impl Swarm {
    /// A swarm of `seed` (the base server) and `servers`, each linked to `peers` random others.
    pub fn new(seed: HostId, servers: &[HostId], peers: u32, upload_slots: u32, rng: &mut impl Rng) -> Swarm {
        let mut all = vec![seed];
        all.extend_from_slice(servers);
        let n = all.len();
        let mut neighbours: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut order: Vec<u32> = (0..n as u32).collect();
        for p in 0..n as u32 {
            order.shuffle(rng);
            let mut picked = 0;
            for &q in &order {
                if picked == peers {
                    break;
                }
                if q != p {
                    picked += 1;
                    if !neighbours[p as usize].contains(&q) {
                        neighbours[p as usize].push(q);
                        neighbours[q as usize].push(p);
                    }
                }
            }
        }
        for list in &mut neighbours {
            list.sort_unstable();
        }
        let index = all.iter().enumerate().map(|(i, &h)| (h, i as u32)).collect();
        Swarm {
            index,
            joined: (0..n).map(|i| i == 0).collect(),
            have: vec![Bits::default(); n],
            incoming: vec![Bits::default(); n],
            neighbours,
            rotation: vec![0; n],
            slots_used: vec![0; n],
            holders: Vec::new(),
            upload_slots,
            peers: all,
        }
    }

    /// The peer index of `host`, if it is in the swarm.
    fn peer(&self, host: HostId) -> Option<u32> {
        self.index.get(&host).copied()
    }

    /// `host` holds the job object and takes part from now on. Returns hosts that may now have
    /// something to upload (its neighbours).
    pub fn join(&mut self, host: HostId) -> Vec<HostId> {
        let Some(p) = self.peer(host) else {
            return Vec::new();
        };
        self.joined[p as usize] = true;
        self.neighbours[p as usize].iter().map(|&q| self.peers[q as usize]).collect()
    }

    /// `host` crashed: nothing is sent to or from it until it joins again.
    pub fn leave(&mut self, host: HostId) {
        if let Some(p) = self.peer(host) {
            self.joined[p as usize] = false;
        }
    }

    /// A piece on its way to `host` was lost (it crashed): another peer may send it.
    pub fn lost(&mut self, host: HostId, piece: u32) {
        if let Some(p) = self.peer(host) {
            self.incoming[p as usize].clear(piece);
        }
    }

    /// `host` now holds `piece`. Returns hosts that should look for uploads: itself, and the
    /// neighbours whose choice may change.
    pub fn gained(&mut self, host: HostId, piece: u32) -> Vec<HostId> {
        let Some(p) = self.peer(host) else {
            return Vec::new();
        };
        if self.holders.len() <= piece as usize {
            self.holders.resize(piece as usize + 1, 0);
        }
        if !self.have[p as usize].get(piece) {
            self.have[p as usize].set(piece);
            self.holders[piece as usize] += 1;
        }
        self.incoming[p as usize].clear(piece);
        vec![host]
    }

    /// The upload from `from` has left the sender: its slot is free.
    pub fn upload_done(&mut self, from: HostId) {
        if let Some(p) = self.peer(from) {
            self.slots_used[p as usize] -= 1;
        }
    }

    /// Fills `host`'s free upload slots with rarest-first piece choices.
    pub fn schedule(&mut self, host: HostId) -> Vec<PieceUpload> {
        let mut out = Vec::new();
        let Some(u) = self.peer(host) else { return out };
        let u = u as usize;
        if !self.joined[u] {
            return out;
        }
        while self.slots_used[u] < self.upload_slots {
            let Some((v, piece)) = self.best_choice(u) else {
                break;
            };
            self.slots_used[u] += 1;
            self.incoming[v].set(piece);
            self.rotation[u] = self.rotation[u].wrapping_add(1);
            out.push(PieceUpload { from: host, to: self.peers[v], piece });
        }
        out
    }

    fn best_choice(&self, u: usize) -> Option<(usize, u32)> {
        let list = &self.neighbours[u];
        if list.is_empty() {
            return None;
        }
        let start = self.rotation[u] as usize % list.len();
        let mut best: Option<(u32, u32, usize)> = None; // (holders, piece, neighbour)
        for k in 0..list.len() {
            let v = list[(start + k) % list.len()] as usize;
            if !self.joined[v] {
                continue;
            }
            let (mine, theirs, coming) = (&self.have[u].0, &self.have[v].0, &self.incoming[v].0);
            for (w, &word) in mine.iter().enumerate() {
                let mut candidates = word & !theirs.get(w).copied().unwrap_or(0) & !coming.get(w).copied().unwrap_or(0);
                while candidates != 0 {
                    let bit = candidates.trailing_zeros();
                    candidates &= candidates - 1;
                    let piece = w as u32 * 64 + bit;
                    let key = (self.holders[piece as usize], piece);
                    if best.is_none_or(|(h, p, _)| key < (h, p)) {
                        best = Some((key.0, key.1, v));
                    }
                }
            }
        }
        best.map(|(_, piece, v)| (v, piece))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn links_are_symmetric_and_the_rarest_piece_goes_first() {
        let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(1);
        let servers: Vec<HostId> = (1..=2).map(HostId).collect();
        let mut s = Swarm::new(HostId(0), &servers, 2, 1, &mut rng);
        for p in 0..3 {
            assert_eq!(s.neighbours[p].len(), 2, "three peers, all linked");
        }
        s.join(HostId(1));
        s.join(HostId(2));
        // The seed has pieces 0 and 1; peer 1 already has piece 0, so piece 1 is rarer.
        for piece in [0, 1] {
            s.gained(HostId(0), piece);
        }
        s.gained(HostId(1), 0);
        let first = s.schedule(HostId(0));
        assert_eq!(first.len(), 1, "one upload slot");
        assert_eq!(first[0].piece, 1);
        // Nothing is sent twice to the same peer while in flight.
        s.upload_done(HostId(0));
        let second = s.schedule(HostId(0));
        assert_ne!((second[0].to, second[0].piece), (first[0].to, first[0].piece));
    }
}
