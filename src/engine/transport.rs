//! The control plane's transport: reliable, ordered delivery of control messages between two
//! hosts, as a deployment gets it from TCP.
//!
//! Every control message (job request, offer, accept, status query, notification, notice...)
//! goes over a *channel* from its sender to its receiver. An attempt to deliver it is lost when
//! the two hosts are partitioned, a link on the route is cut, the message-loss process drops
//! it, or the receiver is down when it arrives. A lost attempt is retried after a
//! retransmission timeout that starts at `retransmit` and doubles up to `max_backoff`; a message
//! still undelivered `give_up` after it was first sent is dropped and its sender told (the
//! connection failed), so the role can act on it. Messages of one channel are delivered in the
//! order they were sent: while the head of a channel waits for a retransmission, later messages
//! wait behind it (head-of-line blocking, as in TCP). A host that crashes loses what it had not
//! yet sent; what is already on the wire still arrives.
//!
//! This module keeps the bookkeeping (pending messages, channels, back-off); the engine decides
//! whether an attempt is lost (it knows partitions, cuts and hosts) and schedules the events.

use crate::kernel::{SimDuration, SimTime};
use crate::net::HostId;
use crate::protocol::message::{ControlConfig, Message};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, BTreeSet};

/// A control message on its way.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Sender.
    pub from: HostId,
    /// Receiver.
    pub to: HostId,
    /// The message.
    pub msg: Message,
    /// When it was first sent.
    pub first_sent: SimTime,
    /// Attempts lost so far.
    pub losses: u32,
    /// The sender's incarnation when it sent it (a crash loses unsent messages).
    pub incarnation: u32,
    /// Identifies the currently scheduled attempt or retransmission; earlier ones are stale.
    pub token: u32,
    /// An attempt is on the wire (its arrival is scheduled).
    pub on_wire: bool,
    seq: u64,
}

/// A channel's state while it is not simply flowing.
#[derive(Debug, Default)]
struct Channel {
    /// The message waiting for a retransmission (or in flight after one), blocking the rest.
    head: Option<u32>,
    /// Messages waiting behind the head, by send sequence.
    queue: BTreeMap<u64, u32>,
}

/// Pending control messages and blocked channels.
#[derive(Debug)]
pub struct Transport {
    config: ControlConfig,
    pending: Vec<Option<Pending>>,
    free: Vec<u32>,
    /// Only channels with a blocked head or a queue; looked up, never iterated.
    channels: FxHashMap<(HostId, HostId), Channel>,
    /// Blocked heads by receiver, so a receiver that comes back is retried at once.
    blocked_to: BTreeMap<HostId, BTreeSet<u32>>,
    next_seq: u64,
    /// Attempts lost (each retransmission that was needed).
    pub lost_attempts: u64,
    /// Messages dropped after `give_up`.
    pub undeliverable: u64,
}

impl Transport {
    /// An idle transport.
    pub fn new(config: ControlConfig) -> Self {
        Transport {
            config,
            pending: Vec::new(),
            free: Vec::new(),
            channels: FxHashMap::default(),
            blocked_to: BTreeMap::new(),
            next_seq: 0,
            lost_attempts: 0,
            undeliverable: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> ControlConfig {
        self.config
    }

    /// Registers a message sent now; returns its id. The caller then either queues it (if
    /// [`Self::blocked`]) or attempts it.
    pub fn add(&mut self, now: SimTime, from: HostId, to: HostId, msg: Message, incarnation: u32) -> u32 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let p = Pending { from, to, msg, first_sent: now, losses: 0, incarnation, token: 0, on_wire: false, seq };
        match self.free.pop() {
            Some(id) => {
                self.pending[id as usize] = Some(p);
                id
            }
            None => {
                self.pending.push(Some(p));
                self.pending.len() as u32 - 1
            }
        }
    }

    /// The pending message `id`.
    pub fn get(&self, id: u32) -> &Pending {
        self.pending[id as usize].as_ref().expect("pending message")
    }

    /// True when the channel of `id` is blocked by a message sent before it: `id` must wait
    /// behind it. (A head sent after `id` — lost while `id` was already on the wire — does not
    /// hold `id` back: order is by sending.)
    pub fn blocked_by_other(&self, id: u32) -> bool {
        let p = self.get(id);
        self.channels.get(&(p.from, p.to)).and_then(|c| c.head).is_some_and(|h| h != id && self.get(h).seq < p.seq)
    }

    /// True when the channel `from → to` is blocked.
    pub fn blocked(&self, from: HostId, to: HostId) -> bool {
        self.channels.get(&(from, to)).is_some_and(|c| c.head.is_some())
    }

    /// True when the blocked channel `from → to` already holds a message equal to `msg`: asking
    /// again while the first request is still being retried adds nothing (the answer to the
    /// first answers both), so the sender's transport keeps one copy.
    pub fn duplicate_pending(&self, from: HostId, to: HostId, msg: &Message) -> bool {
        let Some(c) = self.channels.get(&(from, to)) else { return false };
        c.head.iter().chain(c.queue.values()).any(|&id| self.get(id).msg == *msg)
    }

    /// Puts `id` in the queue behind its channel's head.
    pub fn wait_behind(&mut self, id: u32) {
        let p = self.get(id);
        let (key, seq) = ((p.from, p.to), p.seq);
        self.channels.entry(key).or_default().queue.insert(seq, id);
    }

    /// An attempt of `id` was lost: it becomes (or stays) its channel's head; returns the delay
    /// until the next attempt (exponential back-off) and the token of that retransmission.
    pub fn lost(&mut self, id: u32) -> (SimDuration, u32) {
        self.lost_attempts += 1;
        let p = self.pending[id as usize].as_mut().expect("pending message");
        let shift = p.losses.min(30);
        p.losses += 1;
        p.token += 1;
        p.on_wire = false;
        let (key, token) = ((p.from, p.to), p.token);
        self.channels.entry(key).or_default().head = Some(id);
        self.blocked_to.entry(key.1).or_default().insert(id);
        let rto = self.config.retransmit.as_nanos().saturating_mul(1 << shift);
        (SimDuration::from_nanos(rto.min(self.config.max_backoff.as_nanos()).max(1)), token)
    }

    /// An attempt of `id` is on the wire; returns the token its arrival carries.
    pub fn sent(&mut self, id: u32) -> u32 {
        let p = self.pending[id as usize].as_mut().expect("pending message");
        p.token += 1;
        p.on_wire = true;
        p.token
    }

    /// The pending message `id`, if it is still pending.
    pub fn pending(&self, id: u32) -> Option<&Pending> {
        self.pending.get(id as usize).and_then(Option::as_ref)
    }

    /// Asks for pending message `id`'s record (its delivery is the next event), if it exists.
    pub fn prefetch_pending(&self, id: u32) {
        if let Some(record) = self.pending.get(id as usize) {
            // The lines the record spans (112 bytes, not aligned to lines: two or three).
            let start = (record as *const Option<Pending>).cast::<u8>();
            let lines = (start as usize % 64 + std::mem::size_of::<Option<Pending>>()).div_ceil(64);
            crate::kernel::prefetch::prefetch_lines_at(start, lines);
        }
    }

    /// True when `token` is the attempt or retransmission currently scheduled for `id`.
    pub fn current(&self, id: u32, token: u32) -> bool {
        self.pending.get(id as usize).and_then(Option::as_ref).is_some_and(|p| p.token == token)
    }

    /// `host` came back: the heads blocked towards it are to be retried now (a new connection
    /// to a rebooted host does not wait for the old back-off). Returns their ids, invalidating
    /// their scheduled retransmissions.
    pub fn retry_towards(&mut self, host: HostId) -> Vec<u32> {
        let ids: Vec<u32> = self
            .blocked_to
            .get(&host)
            .map(|s| s.iter().copied().filter(|&id| !self.get(id).on_wire).collect())
            .unwrap_or_default();
        for &id in &ids {
            if let Some(p) = self.pending[id as usize].as_mut() {
                p.token += 1;
            }
        }
        ids
    }

    /// True when `id` has waited so long that the sender gives up.
    pub fn expired(&self, id: u32, now: SimTime) -> bool {
        now.since(self.get(id).first_sent.min(now)) >= self.config.give_up
    }

    /// Removes `id` (delivered, given up, or lost with its sender) and returns it with the
    /// messages released from behind it, in send order, which the caller attempts in turn
    /// (stopping if one blocks the channel again: see [`Self::requeue`]).
    pub fn finish(&mut self, id: u32) -> (Pending, Vec<u32>) {
        let p = self.pending[id as usize].take().expect("pending message");
        self.free.push(id);
        let key = (p.from, p.to);
        if let Some(set) = self.blocked_to.get_mut(&key.1) {
            set.remove(&id);
            if set.is_empty() {
                self.blocked_to.remove(&key.1);
            }
        }
        let mut released = Vec::new();
        if let Some(c) = self.channels.get_mut(&key) {
            if c.head == Some(id) {
                c.head = None;
                released.extend(std::mem::take(&mut c.queue).into_values());
                self.channels.remove(&key);
            }
        }
        (p, released)
    }

    /// Puts released messages back behind a head that blocked again.
    pub fn requeue(&mut self, ids: &[u32]) {
        for &id in ids {
            self.wait_behind(id);
        }
    }

    /// Drops `id` without delivering it.
    pub fn drop_message(&mut self, id: u32) -> (Pending, Vec<u32>) {
        self.finish(id)
    }

    /// Messages still pending (sent and not yet delivered or dropped).
    pub fn in_flight(&self) -> usize {
        self.pending.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::job::JobId;

    fn msg() -> Message {
        Message::NeedSource { job: JobId(0) }
    }

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        let config = ControlConfig {
            retransmit: SimDuration::from_millis(200),
            max_backoff: SimDuration::from_secs(1),
            give_up: SimDuration::from_secs(10),
            retry: SimDuration::from_secs(5),
        };
        let mut t = Transport::new(config);
        let id = t.add(SimTime::ZERO, HostId(1), HostId(2), msg(), 0);
        let delays: Vec<u64> = (0..5).map(|_| t.lost(id).0.as_nanos() / 1_000_000).collect();
        assert_eq!(delays, vec![200, 400, 800, 1000, 1000]);
        assert!(!t.expired(id, SimTime::from_secs_f64(9.9)));
        assert!(t.expired(id, SimTime::from_secs_f64(10.0)));
    }

    #[test]
    fn later_messages_wait_behind_a_blocked_head_in_send_order() {
        let mut t = Transport::new(ControlConfig::default());
        let (a, b) = (HostId(1), HostId(2));
        // A later message lost while an earlier one is on the wire does not hold it back.
        let early = t.add(SimTime::ZERO, a, b, msg(), 0);
        let late = t.add(SimTime::ZERO, a, b, msg(), 0);
        t.lost(late);
        assert!(!t.blocked_by_other(early), "order is by sending");
        t.finish(early);
        t.finish(late);
        // An earlier head holds back what was sent after it, released in send order.
        let first = t.add(SimTime::ZERO, a, b, msg(), 0);
        let second = t.add(SimTime::ZERO, a, b, msg(), 0);
        t.lost(first);
        assert!(t.blocked(a, b) && t.blocked_by_other(second));
        let third = t.add(SimTime::ZERO, a, b, msg(), 0);
        t.wait_behind(third);
        t.wait_behind(second); // arrived late, but was sent before `third`
        let (_, released) = t.finish(first);
        assert_eq!(released, vec![second, third]);
        assert!(!t.blocked(a, b));
        assert_eq!(t.in_flight(), 2);
    }
}
