//! The source role: how a host holding a job approaches the servers it is responsible for and
//! keeps its down-line servers supplied.
//!
//! Every server holding a job becomes a source (\[0045\], \[0057\], claims 5 and 17). A
//! [`Forwarder`] keeps the servers not yet approached and opens up to `slots` down-line
//! connections at once (\[0069\]; with adaptive fanout the engine raises `slots` while the host's
//! upload is not saturated, up to the fanout).
//!
//! - With index lists and `split` (the cascade, \[0067\]), the source decides its targets once —
//!   the first `fanout` servers of its list — and hands each an interleaved share of the rest of
//!   its list, which the target continues below itself.
//! - With `move_on` (FIGs. 5–7, \[0060\]), the source instead keeps half of what is left at every
//!   hand-off: it approaches the first server of its list with the other half, and once a server
//!   it serves holds the whole content (its stream drains) it moves on to the next server of the
//!   half it kept, so the number of sources doubles with every round.
//! - Without `split` (the star, or a cascade without index lists), the source keeps its list
//!   and approaches the next server whenever a connection is free; targets get no list. Without
//!   index lists that list is the whole server list, rotated to start after the source itself,
//!   so every source tries every server (\[0060\]).
//!
//! A connection's content stream *pauses* when it has sent all content and every item the
//! source holds; the target then stays a *child* of the source, and later items (commands, the
//! end-job command) are streamed to it again as they arrive (\[0055\], \[0064\]).
//!
//! *Helping* (\[0061\], \[0073\]): a source with dynamic switching that holds the whole content and
//! has nothing left to approach offers itself to the servers of the list it was handed that may
//! still be receiving, deepest first; a receiver switches when the offer beats the rate it
//! measures from its current source (see the node server). A source stops helping after two
//! refusals in a row, so an idle source costs a few messages, not one per server.

use super::job::{IndexList, JobId, JobObject};
use super::message::{Message, Outbox, Output, Timer};
use crate::kernel::SimDuration;
use crate::net::HostId;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

/// What a source knows of itself when it approaches servers: the job, its declared upload
/// rate and the items it holds.
#[derive(Debug, Clone, Copy)]
pub struct SourceContext<'a> {
    /// The job object.
    pub job: &'a Rc<JobObject>,
    /// The source's declared upload rate, bytes per second.
    pub upload_bps: f64,
    /// Items of the job's log the source holds.
    pub held: u32,
    /// The source holds the whole content (it can help servers still receiving).
    pub content_complete: bool,
    /// How long to wait for the answer to an offer before moving on.
    pub offer_timeout: SimDuration,
    /// New connections the host may still open over all its jobs (`u32::MAX`: no limit).
    pub budget: u32,
}

/// A host that plays the source role for its jobs: the base server, an origin, a node server.
/// A receiver's answer to an offer and its release of a stream are handled alike by all of
/// them (\[0061\], \[0073\]); each host says how to reach a job's forwarder and with what context.
pub trait SourceHost {
    /// The forwarder of `job`, if this host serves it.
    fn forwarder_mut(&mut self, job: JobId) -> Option<&mut Forwarder>;

    /// Runs `f` on `job`'s forwarder with this host's source context (and whatever the host
    /// does after a change of its forwarder).
    fn run_forwarder(
        &mut self,
        job: JobId,
        out: &mut Outbox,
        f: impl FnOnce(&mut Forwarder, SourceContext, &mut Outbox),
    );

    /// Handles a receiver's `Accept`, `Decline` or `Release` from `from` (the accepted stream
    /// opens at the receiver's resume point; a release stops the stream and the source moves
    /// on); gives any other message back to the host.
    fn on_receiver_answer(&mut self, from: HostId, msg: Message, out: &mut Outbox) -> Option<Message> {
        match msg {
            Message::Accept { job, from_item, from_byte, takes_list } => {
                if let Some(forwarder) = self.forwarder_mut(job) {
                    forwarder.on_accepted(from, takes_list);
                }
                out.push(Output::CancelTimer { timer: Timer::OfferTimeout { job, to: from } });
                out.push(Output::OpenStream { to: from, job, from_item, from_byte });
            }
            Message::Decline { job } => {
                out.push(Output::CancelTimer { timer: Timer::OfferTimeout { job, to: from } });
                self.run_forwarder(job, out, |f, ctx, out| f.on_declined(from, ctx, out));
            }
            Message::Release { job } => {
                out.push(Output::CloseOutgoing { to: from, job });
                self.run_forwarder(job, out, |f, ctx, out| f.on_released(from, ctx, out));
            }
            other => return Some(other),
        }
        None
    }
}

/// A server this source approached: the share of the list it was handed, and whether it has
/// accepted (until then the offer may time out).
#[derive(Debug, Clone, Copy)]
struct Outstanding {
    list: IndexList,
    accepted: bool,
}

/// A source's distribution state for one job.
#[derive(Debug, Clone)]
pub struct Forwarder {
    /// Children whose stream is paused: the next item each needs.
    paused: BTreeMap<HostId, u32>,
    /// Servers not yet approached, as positions in the (possibly rotated) server list.
    pending: IndexList,
    /// Full-list mode: position `v` of `pending` is server `(v + rotate) % len`.
    rotate: u32,
    split: bool,
    split_done: bool,
    slots: u32,
    max_slots: u32,
    /// Targets decided but not yet offered (split), or shares given back: (server index, list).
    queued: VecDeque<(u32, IndexList)>,
    /// Servers offered to, or receiving content from us, with the list each was handed.
    outstanding: BTreeMap<HostId, Outstanding>,
    /// Children with a reopened (command) stream.
    reopened: BTreeSet<HostId>,
    /// Keep half of the list at every hand-off and move on (FIGs. 5–7).
    move_on: bool,
    /// Servers this source may offer help to: the list it was handed (deepest last).
    help: IndexList,
    /// Positions of `help` offered so far, counted from its end.
    help_offered: u32,
    /// Help offers out, and refusals in a row.
    help_out: BTreeSet<HostId>,
    help_refusals: u32,
    help_enabled: bool,
}

impl Forwarder {
    /// A source responsible for `list`, at most `max_slots` connections at once, starting with
    /// `slots` of them.
    pub fn new(list: IndexList, slots: u32, max_slots: u32, split: bool) -> Self {
        assert!(slots > 0 && slots <= max_slots, "bad connection slots {slots}/{max_slots}");
        Forwarder {
            help: list,
            help_offered: 0,
            help_out: BTreeSet::new(),
            help_refusals: 0,
            help_enabled: false,
            move_on: false,
            pending: list,
            rotate: 0,
            split,
            split_done: false,
            slots,
            max_slots,
            queued: VecDeque::new(),
            outstanding: BTreeMap::new(),
            paused: BTreeMap::new(),
            reopened: BTreeSet::new(),
        }
    }

    /// A source that tries every server of a `len`-server list, starting after position
    /// `own` (its own place in the list, skipped), keeping the list (\[0060\]).
    pub fn full_list(len: usize, own: Option<u32>, slots: u32, max_slots: u32) -> Self {
        let mut f = Forwarder::new(IndexList::all(len), slots, max_slots, false);
        if let Some(own) = own {
            f.rotate = own + 1;
            f.pending.len -= 1; // the last rotated position is the source itself
        }
        f
    }

    /// A source whose targets are already decided, each with the share of the list it takes on
    /// (one origin's part of a cascade split among several origins). `help` is the list it may
    /// offer help to once it has nothing left to approach.
    pub fn presplit(targets: Vec<(u32, IndexList)>, slots: u32, max_slots: u32, help: IndexList) -> Self {
        let mut f = Forwarder::new(IndexList::default(), slots, max_slots, true);
        f.split_done = true;
        f.queued = targets.into();
        f.help = help;
        f
    }

    /// A source that tries every server of a `len`-server list, starting at position `start`
    /// (an origin's place among several), keeping the list (\[0060\]).
    pub fn full_list_from(len: usize, start: u32, slots: u32, max_slots: u32) -> Self {
        let mut f = Forwarder::new(IndexList::all(len), slots, max_slots, false);
        f.rotate = start;
        f
    }

    /// Takes on shares another source handed back (a leaving server's): each server is
    /// approached with its list as slots free up.
    pub fn adopt(&mut self, shares: &[(u32, IndexList)], ctx: SourceContext, out: &mut Outbox) {
        self.queued.extend(shares.iter().copied());
        self.fill(ctx, out);
    }

    /// The servers this source has not approached yet, as shares (server index, index list),
    /// removed from it: what a leaving server hands back. A source trying the full list hands
    /// back nothing (every other source tries every server anyway).
    pub fn take_unapproached(&mut self) -> Vec<(u32, IndexList)> {
        let mut shares: Vec<(u32, IndexList)> = self.queued.drain(..).collect();
        if self.rotate == 0 && self.split {
            let mut rest = std::mem::take(&mut self.pending);
            if let Some(head) = rest.pop_front() {
                shares.push((head, rest));
            }
        }
        shares
    }

    /// Keep half of the list at every hand-off and move on once a server is served (FIGs. 5–7).
    pub fn with_move_on(mut self, move_on: bool) -> Self {
        self.move_on = move_on;
        self
    }

    /// Offer help to the servers of the list once nothing is left to approach.
    pub fn with_help(mut self, help: bool) -> Self {
        self.help_enabled = help;
        self
    }

    /// Servers not yet approached.
    pub fn pending(&self) -> IndexList {
        self.pending
    }

    /// Connections offered or streaming content.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// Free connection slots once nothing is left to approach (0 while servers wait their turn).
    pub fn idle_slots(&self) -> u32 {
        if self.pending.is_empty() && self.queued.is_empty() {
            self.slots.saturating_sub(self.outstanding.len() as u32)
        } else {
            0
        }
    }

    /// True when `to` is approached or served by this source (offered, streaming or paused).
    pub fn serves(&self, to: HostId) -> bool {
        self.outstanding.contains_key(&to) || self.paused.contains_key(&to) || self.reopened.contains(&to)
    }

    /// Offers help to `to` (position `index` of the job's list), chosen by the owner (the base
    /// server picks the servers it knows to lag behind).
    pub fn offer_help(&mut self, to: HostId, ctx: SourceContext, out: &mut Outbox) {
        let SourceContext { job, upload_bps, held, offer_timeout, .. } = ctx;
        let rate_bps = self.offer_rate(upload_bps);
        self.help_out.insert(to);
        self.outstanding.insert(to, Outstanding { list: IndexList::default(), accepted: false });
        out.push(Output::SetTimer { after: offer_timeout, timer: Timer::OfferTimeout { job: job.id, to } });
        out.push(Output::Send {
            to,
            msg: Message::Offer {
                job: job.clone(),
                index_list: IndexList::default(),
                rate_bps,
                items_held: held,
                activation: false,
            },
        });
    }

    /// An activation offer of `job` (\[0076\]) to a server that lost its source or just joined:
    /// the rate a new connection from here would get and the `held` items it can resume from.
    pub fn activation_offer(&self, job: &Rc<JobObject>, upload_bps: f64, held: u32) -> Message {
        Message::Offer {
            job: job.clone(),
            index_list: IndexList::default(),
            rate_bps: self.offer_rate(upload_bps),
            items_held: held,
            activation: true,
        }
    }

    /// The rate a new connection could get: the host's upload shared with the open ones.
    pub fn offer_rate(&self, upload_bps: f64) -> f64 {
        upload_bps / (self.outstanding.len() + self.reopened.len() + 1) as f64
    }

    /// True if another connection could be opened by raising the slot count.
    pub fn can_grow(&self) -> bool {
        self.slots < self.max_slots && (!self.pending.is_empty() || !self.queued.is_empty())
    }

    /// One more connection slot (adaptive fanout), used at once if there is a server to approach.
    pub fn grow(&mut self, ctx: SourceContext, out: &mut Outbox) {
        if self.slots < self.max_slots {
            self.slots += 1;
            self.fill(ctx, out);
        }
    }

    fn server(&self, job: &JobObject, position: u32) -> u32 {
        (position + self.rotate) % job.servers.len() as u32
    }

    /// Opens as many connections as free slots (and the host's budget) allow: one
    /// [`Message::Offer`] per target, declaring the rate a new connection would get and the
    /// `held` items; with nothing left to approach, offers help (see the module docs).
    pub fn fill(&mut self, ctx: SourceContext, out: &mut Outbox) {
        let SourceContext { job, upload_bps, held, offer_timeout, .. } = ctx;
        let mut budget = ctx.budget;
        if self.split && !self.split_done && !self.move_on {
            self.split_done = true;
            // Targets: the first `max_slots` servers; the rest is shared among them in
            // interleaved shares (see `IndexList::every`).
            let targets = self.pending.take_front(self.max_slots);
            let rest = self.pending.take_front(self.pending.len());
            for i in 0..targets.len() {
                self.queued.push_back((targets.get(i), rest.every(i, targets.len())));
            }
        }
        while (self.outstanding.len() as u32) < self.slots && budget > 0 {
            let (index, list) = if let Some(next) = self.queued.pop_front() {
                next
            } else if let Some(position) = self.pending.pop_front() {
                if self.split && self.move_on {
                    // Hand the target half of what is left; keep the other half.
                    let rest = self.pending;
                    self.pending = rest.every(0, 2);
                    (self.server(job, position), rest.every(1, 2))
                } else {
                    (self.server(job, position), IndexList::default())
                }
            } else if let Some((index, to)) = self.next_to_help(ctx) {
                self.help_out.insert(to);
                (index, IndexList::default())
            } else {
                break;
            };
            budget -= 1;
            let to = job.servers[index as usize];
            let rate_bps = self.offer_rate(upload_bps);
            self.outstanding.insert(to, Outstanding { list, accepted: false });
            out.push(Output::SetTimer { after: offer_timeout, timer: Timer::OfferTimeout { job: job.id, to } });
            out.push(Output::Send {
                to,
                msg: Message::Offer {
                    job: job.clone(),
                    index_list: list,
                    rate_bps,
                    items_held: held,
                    activation: false,
                },
            });
        }
    }

    fn give_back(&mut self, share: IndexList) {
        let mut share = share;
        if let Some(head) = share.pop_front() {
            self.queued.push_front((head, share));
        }
    }

    /// `to` accepted the offer (or asked this source to stream again). If it did not take the
    /// offered list (it switched to us and has its own), the list goes to another server. An
    /// answer after the offer timed out is honoured all the same: the server is served.
    pub fn on_accepted(&mut self, to: HostId, takes_list: bool) {
        if self.help_out.remove(&to) {
            self.help_refusals = 0;
        }
        let entry = self.outstanding.entry(to).or_insert(Outstanding { list: IndexList::default(), accepted: true });
        entry.accepted = true;
        if !takes_list {
            let share = std::mem::take(&mut entry.list);
            self.give_back(share);
        }
        self.paused.remove(&to);
    }

    /// `to` declined, or the offer could not be delivered: its share of the list goes to another
    /// server and the slot is reused.
    pub fn on_declined(&mut self, to: HostId, ctx: SourceContext, out: &mut Outbox) {
        if let Some(o) = self.outstanding.remove(&to) {
            self.give_back(o.list);
        }
        if self.help_out.remove(&to) {
            self.help_refusals += 1;
        }
        self.fill(ctx, out);
    }

    /// The next server to offer help to, if this source helps and can: it holds the whole
    /// content, has nothing else to do, and was not refused twice in a row. Deepest first.
    fn next_to_help(&mut self, ctx: SourceContext) -> Option<(u32, HostId)> {
        if !self.help_enabled || !ctx.content_complete || self.help_refusals >= 2 {
            return None;
        }
        while self.help_offered < self.help.len() {
            let position = self.help.get(self.help.len() - 1 - self.help_offered);
            self.help_offered += 1;
            let index = self.server(ctx.job, position);
            let to = ctx.job.servers[index as usize];
            if !self.outstanding.contains_key(&to) && !self.paused.contains_key(&to) && !self.reopened.contains(&to) {
                return Some((index, to));
            }
        }
        None
    }

    /// The offer to `to` got no answer in time: if it is still unanswered, treat it as declined.
    pub fn on_offer_timeout(&mut self, to: HostId, ctx: SourceContext, out: &mut Outbox) {
        if self.outstanding.get(&to).is_some_and(|o| !o.accepted) {
            self.on_declined(to, ctx, out);
        }
    }

    /// `to` switched to a faster source (\[0061\]): forget it and move on to the next server.
    pub fn on_released(&mut self, to: HostId, ctx: SourceContext, out: &mut Outbox) {
        self.outstanding.remove(&to);
        self.paused.remove(&to);
        self.reopened.remove(&to);
        self.fill(ctx, out);
    }

    /// The stream to `to` has sent everything for now: it is paused at `next_item`, or, when
    /// `done`, finished for good. The slot is freed for the next server.
    pub fn on_stream_drained(&mut self, to: HostId, next_item: u32, done: bool, ctx: SourceContext, out: &mut Outbox) {
        self.outstanding.remove(&to);
        self.reopened.remove(&to);
        if !done {
            self.paused.insert(to, next_item);
        }
        self.fill(ctx, out);
    }

    /// The host crashed: every connection is gone. Servers that were receiving find another
    /// source themselves; servers not yet approached are approached after recovery.
    pub fn drop_connections(&mut self) {
        self.outstanding.clear();
        self.paused.clear();
        self.reopened.clear();
    }

    /// True when some child's stream is paused, waiting for new items.
    pub fn has_paused_children(&self) -> bool {
        !self.paused.is_empty()
    }

    /// The host now holds `held` items of `job`: reopen the paused streams of children that
    /// lack some of them.
    pub fn on_new_items(&mut self, job: JobId, held: u32, out: &mut Outbox) {
        let ready: Vec<(HostId, u32)> =
            self.paused.iter().filter(|(_, &next)| next < held).map(|(&h, &n)| (h, n)).collect();
        for (to, next) in ready {
            self.paused.remove(&to);
            self.reopened.insert(to);
            out.push(Output::OpenStream { to, job, from_item: next, from_byte: 0 });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::job::{ContentSpec, StrategyConfig};

    fn job(n: u32) -> Rc<JobObject> {
        Rc::new(JobObject {
            id: JobId(0),
            servers: (1..=n).map(HostId).collect(),
            base_server: HostId(0),
            content: ContentSpec { total_bytes: 1, chunks: 1, live_chunk_interval: None },
            strategy: StrategyConfig::cascade(2, 1),
            content_started_at: crate::kernel::SimTime::ZERO,
            stream_rate_bps: 1.0,
            origins: Rc::new([]),
            preseeded: false,
        })
    }

    fn offers(out: &Outbox) -> Vec<(u32, IndexList)> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send { to, msg: Message::Offer { index_list, .. } } => Some((to.0, *index_list)),
                Output::SetTimer { timer: Timer::OfferTimeout { .. }, .. } => None,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    fn ctx(job: &Rc<JobObject>) -> SourceContext<'_> {
        SourceContext {
            job,
            upload_bps: 1.0,
            held: 0,
            content_complete: false,
            offer_timeout: SimDuration::from_secs(60),
            budget: u32::MAX,
        }
    }

    fn l(start: u32, step: u32, len: u32) -> IndexList {
        IndexList { start, step, len }
    }

    #[test]
    fn cascade_splits_the_rest_of_the_list_among_targets() {
        // 10 servers, fanout 3: targets are servers 1, 2, 3 (indexes 0..3); the other 7
        // indexes are shared 3 6 9 / 4 7 / 5 8.
        let j = job(10);
        let mut f = Forwarder::new(IndexList::all(10), 3, 3, true);
        let mut out = Outbox::new();
        f.fill(ctx(&j), &mut out);
        assert_eq!(offers(&out), vec![(1, l(3, 3, 3)), (2, l(4, 3, 2)), (3, l(5, 3, 2))]);
        assert!(f.pending().is_empty());
    }

    #[test]
    fn adaptive_cascade_offers_the_same_split_one_slot_at_a_time() {
        let j = job(10);
        let mut f = Forwarder::new(IndexList::all(10), 1, 3, true);
        let mut out = Outbox::new();
        f.fill(ctx(&j), &mut out);
        assert_eq!(offers(&out), vec![(1, l(3, 3, 3))]);
        assert!(f.can_grow());
        out.clear();
        f.grow(ctx(&j), &mut out);
        assert_eq!(offers(&out), vec![(2, l(4, 3, 2))]);
    }

    #[test]
    fn star_keeps_the_list_and_moves_on() {
        let j = job(3);
        let mut f = Forwarder::new(IndexList::all(3), 2, 2, false);
        let mut out = Outbox::new();
        f.fill(ctx(&j), &mut out);
        assert_eq!(offers(&out).iter().map(|o| o.0).collect::<Vec<_>>(), vec![1, 2]);
        out.clear();
        f.on_stream_drained(HostId(2), 5, true, ctx(&j), &mut out);
        let offered = offers(&out);
        assert_eq!(offered.len(), 1);
        assert_eq!(offered[0].0, 3);
        assert!(offered[0].1.is_empty(), "the star hands out no list");
    }

    #[test]
    fn a_declined_share_goes_to_its_head_server() {
        let j = job(6);
        let mut f = Forwarder::new(IndexList::all(6), 2, 2, true);
        let mut out = Outbox::new();
        f.fill(ctx(&j), &mut out);
        // Server 1 got indexes 2 and 4 (servers 3, 5). It declines: server 3 is offered [4].
        out.clear();
        f.on_declined(HostId(1), ctx(&j), &mut out);
        assert_eq!(offers(&out), vec![(3, l(4, 2, 1))]);
    }

    #[test]
    fn full_list_sources_start_after_themselves_and_skip_themselves() {
        // Five servers; the source is the third (index 2): it tries indexes 3, 4, 0, 1.
        let j = job(5);
        let mut f = Forwarder::full_list(5, Some(2), 4, 4);
        let mut out = Outbox::new();
        f.fill(ctx(&j), &mut out);
        assert_eq!(offers(&out).iter().map(|o| o.0).collect::<Vec<_>>(), vec![4, 5, 1, 2]);
    }

    #[test]
    fn paused_children_are_reopened_for_new_items() {
        let j = job(2);
        let mut f = Forwarder::new(IndexList::all(2), 2, 2, true);
        let mut out = Outbox::new();
        f.fill(ctx(&j), &mut out);
        out.clear();
        f.on_stream_drained(HostId(1), 4, false, ctx(&j), &mut out);
        f.on_new_items(JobId(0), 4, &mut out);
        assert!(out.is_empty(), "nothing new for the child");
        f.on_new_items(JobId(0), 5, &mut out);
        assert_eq!(out, vec![Output::OpenStream { to: HostId(1), job: JobId(0), from_item: 4, from_byte: 0 }]);
    }
}
