//! The source role: how a server holding a job approaches the servers it is responsible for.
//!
//! Every server holding a job becomes a source ([0045], [0057], claims 5 and 17). A
//! [`Forwarder`] keeps the index list of servers not yet approached ([0067]) and keeps up to
//! `max_streams` down-line connections open at once ([0069]). With `split` (the cascade), the
//! source hands the rest of its list to the targets it opens, in equal contiguous shares, so each
//! target continues the distribution below it; without `split` (the star baseline) it keeps the
//! list and approaches the next server whenever a connection finishes.

use super::job::{IndexList, JobObject};
use super::message::{Message, Outbox, Output};
use crate::net::HostId;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A source's distribution state for one job.
#[derive(Debug, Clone)]
pub struct Forwarder {
    pending: IndexList,
    max_streams: u32,
    split: bool,
    /// Index lists handed to servers that declined: approached again, head first.
    returned: Vec<IndexList>,
    /// Servers offered to or streaming from us, with the index list each was handed.
    outstanding: BTreeMap<HostId, IndexList>,
}

impl Forwarder {
    /// A source responsible for the servers in `list`.
    pub fn new(list: IndexList, max_streams: u32, split: bool) -> Self {
        assert!(max_streams > 0, "a source needs at least one connection");
        Forwarder {
            pending: list,
            max_streams,
            split,
            returned: Vec::new(),
            outstanding: BTreeMap::new(),
        }
    }

    /// Servers not yet approached.
    pub fn pending(&self) -> IndexList {
        self.pending
    }

    /// Connections offered or open.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// True when nothing is left to approach and no connection is open.
    pub fn is_done(&self) -> bool {
        self.pending.is_empty() && self.returned.is_empty() && self.outstanding.is_empty()
    }

    /// Opens as many connections as free slots allow: one [`Message::Offer`] per target.
    pub fn fill(&mut self, job: &Rc<JobObject>, rate_bps: f64, out: &mut Outbox) {
        // Shares given back by servers that declined go first: their head server takes the rest.
        while (self.outstanding.len() as u32) < self.max_streams {
            let Some(mut share) = self.returned.pop() else {
                break;
            };
            if let Some(index) = share.pop_front() {
                self.offer(job, index, share, rate_bps, out);
            }
        }
        let free = self
            .max_streams
            .saturating_sub(self.outstanding.len() as u32);
        let targets = self.pending.take_front(free);
        if targets.is_empty() {
            return;
        }
        let n = targets.len();
        // With split, share the remaining list: the first `rest % n` targets get one more.
        let rest = if self.split { self.pending.len() } else { 0 };
        for (i, index) in (targets.start..targets.end).enumerate() {
            let share = rest / n + u32::from((i as u32) < rest % n);
            let index_list = self.pending.take_front(share);
            self.offer(job, index, index_list, rate_bps, out);
        }
    }

    fn offer(
        &mut self,
        job: &Rc<JobObject>,
        index: u32,
        index_list: IndexList,
        rate_bps: f64,
        out: &mut Outbox,
    ) {
        let to = job.servers[index as usize];
        self.outstanding.insert(to, index_list);
        out.push(Output::Send {
            to,
            msg: Message::Offer {
                job: job.clone(),
                index_list,
                rate_bps,
            },
        });
    }

    /// The stream to `to` has sent everything: free the slot and approach the next server.
    pub fn on_stream_sent(
        &mut self,
        to: HostId,
        job: &Rc<JobObject>,
        rate_bps: f64,
        out: &mut Outbox,
    ) {
        self.outstanding.remove(&to);
        self.fill(job, rate_bps, out);
    }

    /// `to` declined the offer: its share of the list goes to another server, and the slot is
    /// reused.
    pub fn on_declined(
        &mut self,
        to: HostId,
        job: &Rc<JobObject>,
        rate_bps: f64,
        out: &mut Outbox,
    ) {
        if let Some(share) = self.outstanding.remove(&to) {
            if !share.is_empty() {
                self.returned.push(share);
            }
        }
        self.fill(job, rate_bps, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::job::{ContentSpec, JobId, StrategyConfig};

    fn job(n: u32) -> Rc<JobObject> {
        Rc::new(JobObject {
            id: JobId(0),
            servers: (1..=n).map(HostId).collect(),
            base_server: HostId(0),
            content: ContentSpec {
                total_bytes: 1,
                chunks: 1,
                live_chunk_interval: None,
            },
            strategy: StrategyConfig::Cascade {
                fanout: 2,
                first_nodes: 1,
            },
        })
    }

    fn offers(out: &Outbox) -> Vec<(u32, IndexList)> {
        out.iter()
            .map(|o| match o {
                Output::Send {
                    to,
                    msg: Message::Offer { index_list, .. },
                } => (to.0, *index_list),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn cascade_splits_the_rest_of_the_list_among_targets() {
        // 10 servers, fanout 3: targets are servers 1, 2, 3 (indexes 0..3); the other 7
        // indexes are shared 3/2/2 in order.
        let j = job(10);
        let mut f = Forwarder::new(IndexList::all(10), 3, true);
        let mut out = Outbox::new();
        f.fill(&j, 1.0, &mut out);
        let l = |start, end| IndexList { start, end };
        assert_eq!(
            offers(&out),
            vec![(1, l(3, 6)), (2, l(6, 8)), (3, l(8, 10))]
        );
        assert!(f.pending().is_empty());
    }

    #[test]
    fn star_keeps_the_list_and_moves_on() {
        let j = job(3);
        let mut f = Forwarder::new(IndexList::all(3), 2, false);
        let mut out = Outbox::new();
        f.fill(&j, 1.0, &mut out);
        assert_eq!(
            offers(&out).iter().map(|o| o.0).collect::<Vec<_>>(),
            vec![1, 2]
        );
        out.clear();
        f.on_stream_sent(HostId(2), &j, 1.0, &mut out);
        let offered = offers(&out);
        assert_eq!(offered.len(), 1);
        assert_eq!(offered[0].0, 3);
        assert!(offered[0].1.is_empty(), "the star hands out no list");
        out.clear();
        f.on_stream_sent(HostId(1), &j, 1.0, &mut out);
        f.on_stream_sent(HostId(3), &j, 1.0, &mut out);
        assert!(out.is_empty() && f.is_done());
    }

    #[test]
    fn a_declined_share_goes_to_its_head_server() {
        let j = job(6);
        let mut f = Forwarder::new(IndexList::all(6), 2, true);
        let mut out = Outbox::new();
        f.fill(&j, 1.0, &mut out);
        // Server 1 got indexes 2..4 (servers 3, 4). It declines: server 3 is offered 3..4.
        out.clear();
        f.on_declined(HostId(1), &j, 1.0, &mut out);
        assert_eq!(offers(&out), vec![(3, IndexList { start: 3, end: 4 })]);
    }
}
