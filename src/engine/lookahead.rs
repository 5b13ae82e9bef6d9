//! Fetching the records of the next events while the current one is handled.
//!
//! A run of 10^5 servers and more waits on memory for most of its time: nearly every record an
//! event reads (the stream, the receiver's or sender's job record, the flow and its class in
//! the bandwidth model) is in no cache, and each event reads a chain of them, one naming the
//! next. The next events are known while the current one is handled: the event queue's head
//! and the flow model's next completion. So before and after every event the engine asks the
//! processor for their records ([`crate::kernel::prefetch`]) in stages: first what the event
//! itself names, then, one event later when those lines have arrived, what they name. Nothing
//! is written and no decision depends on it, so no result can (a test runs scenarios with it
//! forced on and off; the cascade workloads of `bench` give the same trace hashes as before it).
//! It runs from [`LOOK_AHEAD_FROM_HOSTS`] hosts: smaller runs stay in the caches.
//!
//! Not a protocol mechanism: this is how the simulator runs the patent's cascade (\[0041\]-\[0077\])
//! at scale, not part of what it simulates.

use super::{Engine, Event, FlowOwner, Role, NO_FLOW_YET};
use crate::kernel::prefetch::prefetch_item;
use crate::net::{FlowId, HostId, ResourceId, Topology, Upcoming};
use crate::protocol::node_server::NodeServer;

/// Hosts from which the look-ahead runs. Below, a run's records stay in the processor's caches
/// (about 3 KB per server: 3,000 servers fit a 32 MB L3) and asking for them early only costs:
/// on the development VM cascade-3k took 15 % more CPU time with it (medians of 6 interleaved
/// runs), cascade-10k and larger markedly less.
const LOOK_AHEAD_FROM_HOSTS: usize = 5_000;

/// How far the records of the next events have been asked for (see [`Engine::look_ahead`]).
#[derive(Default)]
pub(super) struct Lookahead {
    /// False for runs small enough to stay in the caches ([`LOOK_AHEAD_FROM_HOSTS`]).
    enabled: bool,
    /// Events and completions handled so far: a stage is asked for only once something was
    /// handled since the one before, which gives its records time to arrive.
    handled: u64,
    /// `handled` and the flow model's count of completion-heap changes when the next
    /// completion's stages were last asked for.
    completions_seen: (u64, u64),
    /// The next completion, when its records were asked for: its flow.
    completion: Option<Staged<FlowId>>,
    /// The flow model's next completion, as of the count of completion-heap changes in
    /// `completions_seen` (it changes only with the heap). Only the next one is followed: asking
    /// for the second's records as well made no difference to cascade-100k (0.997x in pairs),
    /// and following it (the heap's second entry, a second slot of stages) cost 5 % of
    /// cascade-10k's instructions.
    upcoming: Option<Upcoming>,
    /// The queue's head, when an item's arrival: (stream, item).
    arrival: Option<Staged<(u32, u32)>>,
    /// The queue's head, when a control message's delivery: the pending message.
    delivery: Option<Staged<u32>>,
    /// Host `h`'s upload is resource `upload_base + 2h` when `Some`, as the topology adds them
    /// (each host's upload and download, in host order): found without reading anything, where
    /// a table by host cost a cache miss of its own at every arrival from 10^5 hosts on (`perf`
    /// at 3 x 10^5: an eighth of the look-ahead's time, waiting on it). `None` for any other
    /// layout: the upload is then not asked for (a hint less, nothing else).
    upload_base: Option<u32>,
}

/// The `first` such that every host `h`'s upload is resource `first + 2h`, if there is one.
fn interleaved_upload_base(topology: &Topology) -> Option<u32> {
    let upload = |h: usize| topology.upload(HostId(h as u32)).0 as u64;
    let first = if topology.host_count() > 0 { upload(0) } else { 0 };
    (0..topology.host_count()).all(|h| upload(h) == first + 2 * h as u64).then_some(first as u32)
}

impl Lookahead {
    /// The look-ahead of a run over `topology`'s hosts (off below [`LOOK_AHEAD_FROM_HOSTS`]).
    pub(super) fn for_topology(topology: &Topology) -> Self {
        Lookahead {
            enabled: topology.host_count() >= LOOK_AHEAD_FROM_HOSTS,
            completions_seen: (u64::MAX, u64::MAX),
            upload_base: interleaved_upload_base(topology),
            ..Lookahead::default()
        }
    }

    /// Turns the look-ahead on or off.
    pub(super) fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
    }

    /// An event or a completion was handled.
    pub(super) fn count_handled(&mut self) {
        self.handled += 1;
    }

    /// `flow` completes now: its next completion is another event, asked for from the start.
    pub(super) fn completing(&mut self, flow: FlowId) {
        if self.completion.is_some_and(|s| s.key == flow) {
            self.completion = None;
        }
    }
}

/// The stage to ask for now of the one event kept in `slot`, named `key`, `handled` events
/// into the run: 0 for a new one, then 1, 2, ... once something was handled since the last;
/// `None` if nothing was.
fn next_stage<K: PartialEq + Copy>(slot: &mut Option<Staged<K>>, key: K, handled: u64) -> Option<u8> {
    let s = match slot {
        Some(s) if s.key == key => s,
        _ => slot.insert(Staged { key, done: 0, at: 0 }),
    };
    advance(s, handled)
}

/// The stage to ask for now of `s`, `handled` events into the run, counted as asked; `None`
/// if it was asked for a stage already and nothing was handled since.
fn advance<K>(s: &mut Staged<K>, handled: u64) -> Option<u8> {
    if s.done > 0 && s.at == handled {
        return None;
    }
    let stage = s.done;
    (s.done, s.at) = (s.done.saturating_add(1), handled);
    Some(stage)
}

/// An event whose records were asked for: `done` stages so far, the last when
/// `Lookahead::handled` stood at `at`.
#[derive(Clone, Copy)]
struct Staged<K> {
    key: K,
    done: u8,
    at: u64,
}

impl Engine {
    /// Gets the records of the next events on their way while the current one is handled (a
    /// run of 10^5 servers waits on memory for most of its time: nearly every record an event
    /// reads is in no cache). The next events are the event queue's head and the flow model's
    /// next completion; each is asked for in stages, one per call, as each stage's records
    /// arrive and name the next stage's. Called before and after every event: a head that stays
    /// the head is fetched deeper. Nothing is changed, so no result can depend on it.
    #[inline(always)]
    pub(super) fn look_ahead(&mut self) {
        if !self.ahead.enabled {
            return;
        }
        let handled = self.ahead.handled;
        // The next completion's stages change only when something was handled or the
        // completion heap changed since they were last asked for (not between an event's pop
        // and its handling, say): then there is nothing new to ask for it.
        let changes = self.flows.completions_changes();
        if (handled, changes) != self.ahead.completions_seen {
            if changes != self.ahead.completions_seen.1 {
                self.ahead.upcoming = self.flows.upcoming_completion();
            }
            self.ahead.completions_seen = (handled, changes);
            self.look_ahead_completion(handled);
        }
        match self.queue.peek() {
            Some(&Event::Deliver { id, .. }) => self.look_ahead_delivery(id, handled),
            Some(&Event::ItemArrives { stream, index, dst, .. }) => {
                self.look_ahead_arrival(stream, index, dst, handled)
            }
            _ => {}
        }
    }

    /// The stages of the flow model's next completion (see [`Self::look_ahead`]).
    fn look_ahead_completion(&mut self, handled: u64) {
        let Some(c) = self.ahead.upcoming else { return };
        match next_stage(&mut self.ahead.completion, c.flow, handled) {
            Some(0) => {
                self.flows.prefetch_completion(&c, false);
                prefetch_item(&self.flow_owner, c.flow.0 as usize);
            }
            Some(1) => {
                self.flows.prefetch_completion(&c, true);
                self.prefetch_sending_stream(c.flow);
            }
            Some(2) => {
                // The class's first flows and their owners: handing the completion out
                // reads those completing with it.
                for flow in self.flows.class_first_flows(&c) {
                    self.flows.prefetch_flow(flow);
                    prefetch_item(&self.flow_owner, flow.0 as usize);
                }
            }
            _ => {}
        }
    }

    /// The stages of the queue's head when it is a control message's delivery: its pending
    /// record, then, for a node's notice to the base server, the server's place in the job's
    /// reports and its report (at 10^5 servers the base server's reads of one report after
    /// another, in no order, miss the caches).
    fn look_ahead_delivery(&mut self, id: u32, handled: u64) {
        match next_stage(&mut self.ahead.delivery, id, handled) {
            Some(0) => self.transport.prefetch_pending(id),
            Some(stage @ (1 | 2)) => {
                let Some(p) = self.transport.pending(id) else { return };
                if self.hosts[p.to.0 as usize].role != Role::Base {
                    return;
                }
                if let (Some(job), Some(bs)) = (p.msg.reported_job(), self.base_server.as_ref()) {
                    bs.prefetch_report(job, p.from, stage == 2);
                }
            }
            _ => {}
        }
    }

    /// The stages of the queue's head when it is an item's arrival at `dst` (see
    /// [`Self::look_ahead`]).
    fn look_ahead_arrival(&mut self, stream: u32, index: u32, dst: HostId, handled: u64) {
        let stage = next_stage(&mut self.ahead.arrival, (stream, index), handled);
        let h = dst.0 as usize;
        match stage {
            Some(0) => {
                prefetch_item(&self.streams, stream as usize);
                prefetch_item(&self.hosts, h);
                NodeServer::prefetch_first_job(&self.nodes, h);
                prefetch_item(&self.out_streams, h);
            }
            Some(1) if self.hosts[h].sending => {
                // The sender's upload, every line: resuming its streams joins it and re-solves.
                if let Some(base) = self.ahead.upload_base {
                    self.flows.prefetch_resource(ResourceId(base.wrapping_add(2 * h as u32)));
                }
                for out in &self.out_streams[h] {
                    prefetch_item(&self.streams, out.stream as usize);
                    if out.flow != NO_FLOW_YET {
                        self.flows.prefetch_flow(FlowId(out.flow));
                    }
                }
            }
            _ => {}
        }
    }

    /// Gets the records of the flows completing at this instant on their way (siblings of a
    /// class often complete together): at the batch's start the owners of the first few, then
    /// the stream and sender of the next one handed out.
    pub(super) fn look_ahead_in_batch(&mut self, batch_start: bool) {
        if !self.ahead.enabled {
            return;
        }
        if batch_start {
            for flow in self.flows.due_flows(8) {
                prefetch_item(&self.flow_owner, flow.0 as usize);
            }
        }
        if let Some(flow) = self.flows.due_flows(1).next() {
            self.prefetch_sending_stream(flow);
        }
    }

    /// A completing stream's flow: the stream's line, the sender's host slot and the lines of
    /// its job record that the completion reads (the owner's line must have arrived: it is read).
    fn prefetch_sending_stream(&self, flow: FlowId) {
        if let FlowOwner::Stream { stream, src, .. } = self.flow_owner[flow.0 as usize] {
            prefetch_item(&self.streams, stream as usize);
            prefetch_item(&self.hosts, src.0 as usize);
            NodeServer::prefetch_first_job(&self.nodes, src.0 as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fetching ahead changes nothing: runs with and without it (a cascade, and one with random
    /// crashes and recoveries) give the same trace and the same results.
    #[test]
    fn a_run_is_the_same_with_and_without_the_look_ahead() {
        for path in ["scenarios/quickstart.json", "scenarios/fault-random.json"] {
            let scenario = crate::scenario::load(std::path::Path::new(path)).expect("bundled");
            let run = |on: bool| {
                crate::simulate_with(&scenario, &crate::RunOptions::default(), |e| e.set_look_ahead(on)).expect("runs")
            };
            let (with, without) = (run(true), run(false));
            assert_eq!(with.engine.trace(), without.engine.trace(), "{path}");
            assert_eq!(
                serde_json::to_string(&with.results).expect("json"),
                serde_json::to_string(&without.results).expect("json"),
                "{path}"
            );
        }
    }

    /// The uploads of a topology built as usual are found by arithmetic, and are the
    /// topology's; resources added before the hosts' only shift them.
    #[test]
    fn uploads_are_found_where_the_topology_put_them() {
        use crate::kernel::SimDuration;
        use crate::net::{FlowModel, HostSpec};
        let spec = |i: usize| HostSpec {
            name: format!("h{i}"),
            upload_bps: 1e6 * (i + 1) as f64,
            download_bps: 2e6,
            latency: SimDuration::from_millis(1),
        };
        for before in [0, 3] {
            let mut flows = FlowModel::new();
            for _ in 0..before {
                flows.add_resource(1.0);
            }
            let topology = Topology::new(&mut flows, (0..5).map(spec).collect(), 0, &[]).expect("topology");
            let base = interleaved_upload_base(&topology);
            assert_eq!(base, Some(before), "{before} resources before the hosts");
            for h in 0..5u32 {
                assert_eq!(ResourceId(before + 2 * h), topology.upload(HostId(h)));
            }
        }
    }

    /// A completion that happens is forgotten: the same flow's next completion (its next
    /// item) starts over at stage 0; another flow's completing changes nothing.
    #[test]
    fn a_completion_that_happens_starts_over() {
        let mut ahead = Lookahead::default();
        assert_eq!(next_stage(&mut ahead.completion, FlowId(4), 0), Some(0));
        assert_eq!(next_stage(&mut ahead.completion, FlowId(4), 1), Some(1));
        ahead.completing(FlowId(5));
        assert_eq!(next_stage(&mut ahead.completion, FlowId(4), 2), Some(2), "another flow completed");
        ahead.completing(FlowId(4));
        assert_eq!(next_stage(&mut ahead.completion, FlowId(4), 2), Some(0), "from the start");
    }

    /// A new key starts at stage 0; the next stage comes only once something was handled
    /// since the last; another key starts over.
    #[test]
    fn one_slot_stages_start_over_for_a_new_key() {
        let mut slot = None;
        assert_eq!(next_stage(&mut slot, (3u32, 1u32), 0), Some(0));
        assert_eq!(next_stage(&mut slot, (3, 1), 0), None, "nothing handled since stage 0");
        assert_eq!(next_stage(&mut slot, (3, 1), 1), Some(1));
        assert_eq!(next_stage(&mut slot, (3, 2), 1), Some(0), "another item: from the start");
        assert_eq!(next_stage(&mut slot, (3, 2), 1), None);
        assert_eq!(next_stage(&mut slot, (3, 2), 2), Some(1));
        assert_eq!(next_stage(&mut slot, (3, 2), 3), Some(2));
    }
}
