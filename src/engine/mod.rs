//! The engine: runs the sans-IO protocol roles on the kernel's virtual clock over the network
//! model.
//!
//! It owns the event queue, the flow model and topology, and one state machine per role, and
//! carries out the roles' outputs: a [`Message`] is delivered after its route's latency; a
//! timer fires after its delay; a stream ([`Output::OpenStream`]) carries a job's log (content
//! chunks and commands) item by item as one flow of the bandwidth model.
//!
//! A stream sends item *k* only once its source holds item *k* (pipelining, [0044]). When the
//! flow has sent an item it continues with the next at the same rate (no re-solve) if the
//! source holds it; otherwise the flow ends and the stream *stalls* until the source has more,
//! or — when the source holds all content and has nothing more to send — the stream *drains*:
//! it closes and the source's role is told (it reopens it when commands arrive, [0055]). After
//! the end-job item a stream is done. Each item arrives one route latency after its last byte
//! left the sender. A receiver may break an incoming stream (a dynamic switch, [0073]); the
//! engine then tells it the exact item and byte where the stream stopped, so the new source
//! continues from there ([0005], [0061]).
//!
//! Ordering: the next event is the earlier of the queue's head and the flow model's next
//! completion; at equal times flow completions go first, then queued events in insertion order.
//! The flow model re-solves once per instant, after every queued event of the instant has made
//! its changes; completions that re-solve brings to the same instant (a zero-byte flow, say)
//! then go first again, before events queued meanwhile.
//! Every processed event is folded into the run's [`TraceHash`].

pub mod swarm;

use crate::kernel::{EventQueue, RngStreams, SimDuration, SimTime, StreamId, TraceHash};
use crate::net::{FlowId, FlowModel, HostId, Route, Topology};
use crate::protocol::base_server::BaseServer;
use crate::protocol::client::Client;
use crate::protocol::job::{Item, JobId, StrategyKind};
use crate::protocol::message::{Message, Outbox, Output, Timer};
use crate::protocol::node_server::{Arrival, NodeServer, ResumePoint};
use crate::scenario::{Built, FaultAction, ScriptAction};
use rand::Rng;
use rand_chacha::ChaCha12Rng;
use std::collections::BTreeMap;
use std::rc::Rc;
use swarm::{PieceUpload, Swarm};

/// Something scheduled on the virtual clock.
#[derive(Debug)]
enum Event {
    /// Step `step` of a client's script for job `ticket`.
    Script { client: u32, ticket: u32, step: u32 },
    /// A control message arrives.
    Deliver { from: HostId, to: HostId, msg: Message },
    /// An item of a stream arrives at the receiver, `bytes` of it over this stream.
    ItemArrives { stream: u32, index: u32, bytes: u64 },
    /// A swarm piece arrives at its receiver.
    PieceArrives { piece: u32 },
    /// A role's timer fires (unless the host crashed since it was set).
    Timer { host: HostId, timer: Timer, incarnation: u32 },
    /// Scripted or random fault number `index` of the built scenario.
    Fault { index: u32 },
    /// A raw transfer starts.
    TransferStarts { transfer: u32 },
    /// The last byte of a raw transfer arrives.
    TransferArrives { transfer: u32 },
}

impl Event {
    fn trace_words(&self, time: SimTime) -> [u64; 4] {
        let t = time.as_nanos();
        match self {
            Event::Script { client, ticket, step } => [t, 1 | (*step as u64) << 8, *client as u64, *ticket as u64],
            Event::Deliver { from, to, msg } => [t, 2 | msg.kind_code() << 8, from.0 as u64, to.0 as u64],
            Event::ItemArrives { stream, index, bytes } => [t, 3 | bytes << 8, *stream as u64, *index as u64],
            Event::Timer { host, timer, .. } => {
                let [code, a, b] = timer.code();
                [t, 4 | code << 8, host.0 as u64, a << 32 | b]
            }
            Event::Fault { index } => [t, 11, *index as u64, 0],
            Event::PieceArrives { piece } => [t, 9, *piece as u64, 0],
            Event::TransferStarts { transfer } => [t, 5, *transfer as u64, 0],
            Event::TransferArrives { transfer } => [t, 6, *transfer as u64, 0],
        }
    }
}

/// What a flow of the bandwidth model carries.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FlowOwner {
    None,
    Stream(u32),
    Transfer(u32),
    Piece(u32),
}

/// A swarm piece in transit.
#[derive(Debug, Clone)]
struct Piece {
    job: JobId,
    upload: PieceUpload,
    latency: SimDuration,
    record: u32,
}

/// A stream of one job's log from a source to a receiver.
#[derive(Debug, Clone)]
struct Stream {
    job: JobId,
    src: HostId,
    dst: HostId,
    /// Next item to send.
    next: u32,
    /// Bytes of item `next` already delivered before this stream (a resumed transfer).
    skip: u64,
    /// The flow carrying the current item; `None` while stalled or once closed.
    flow: Option<FlowId>,
    route: Rc<Route>,
    /// Closed: no more sending; the slot is freed when nothing is in flight.
    closed: bool,
    in_flight: u32,
    record: u32,
}

/// The life of one stream, for timelines, throughput charts and traces.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecord {
    /// The job.
    pub job: JobId,
    /// Sending host.
    pub src: HostId,
    /// Receiving host.
    pub dst: HostId,
    /// When the source opened the stream.
    pub opened_at: SimTime,
    /// When the first item arrived.
    pub first_arrival: Option<SimTime>,
    /// When the latest item arrived.
    pub last_arrival: Option<SimTime>,
    /// Items delivered.
    pub chunks: u32,
    /// Bytes delivered.
    pub bytes: u64,
    /// When the receiver broke the stream to switch to another source.
    pub broken_at: Option<SimTime>,
}

/// A control message as sent, recorded only when [`Engine::record_messages`] is on.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRecord {
    /// When it was sent.
    pub sent_at: SimTime,
    /// When it arrives.
    pub arrives_at: SimTime,
    /// Sender.
    pub from: HostId,
    /// Receiver.
    pub to: HostId,
    /// The message's variant name.
    pub kind: &'static str,
}

/// A raw transfer's outcome.
#[derive(Debug, Clone)]
pub struct TransferRecord {
    /// Sender.
    pub from: HostId,
    /// Receiver.
    pub to: HostId,
    /// Size in bytes.
    pub bytes: u64,
    /// Start time.
    pub started_at: SimTime,
    /// When the last byte arrived.
    pub finished_at: Option<SimTime>,
}

/// The role a host plays.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    None,
    Base,
    Client(u32),
    Node,
}

/// Stores `item` in a free slot of `items` (listed in `free`) or at the end; returns its index.
fn slab_insert<T>(items: &mut Vec<T>, free: &mut Vec<u32>, item: T) -> u32 {
    match free.pop() {
        Some(id) => {
            items[id as usize] = item;
            id
        }
        None => {
            items.push(item);
            items.len() as u32 - 1
        }
    }
}

/// Saturation threshold for adaptive fanout: another connection opens while the host's
/// upload carries less than this fraction of its capacity.
const ADAPTIVE_UTILISATION: f64 = 0.9;

/// A simulation in progress or finished: the world plus the clock.
pub struct Engine {
    queue: EventQueue<Event>,
    flows: FlowModel,
    topology: Topology,
    flow_owner: Vec<FlowOwner>,
    streams: Vec<Stream>,
    free_streams: Vec<u32>,
    /// Outgoing streams per host (open or stalled), to wake them when an item arrives.
    out_streams: Vec<Vec<u32>>,
    roles: Vec<Role>,
    base_server: Option<BaseServer>,
    nodes: Vec<Option<NodeServer>>,
    clients: Vec<Client>,
    /// For each job id: the client that owns its log.
    job_client: Vec<(u32, u32)>,
    swarms: BTreeMap<JobId, Swarm>,
    pieces: Vec<Piece>,
    free_pieces: Vec<u32>,
    /// Stream record of each (job, sender, receiver) swarm link, so piece bytes add up per link.
    piece_records: BTreeMap<(JobId, HostId, HostId), u32>,
    /// Fault state: hosts up, hosts a repair can bring back, crash counters (stale timers are
    /// dropped), partition sides (0: none), and the message-loss process.
    host_up: Vec<bool>,
    repairable: Vec<bool>,
    incarnation: Vec<u32>,
    side: Vec<u32>,
    loss: (f64, Option<HostId>),
    loss_rng: ChaCha12Rng,
    /// Control messages lost to faults (crashed receivers, partitions, cuts, losses).
    pub messages_lost: u64,
    transfers: Vec<TransferRecord>,
    stream_records: Vec<StreamRecord>,
    messages: Option<Vec<MessageRecord>>,
    outbox: Outbox,
    trace: TraceHash,
    horizon: SimTime,
    /// The scenario as built.
    pub built: Built,
}

impl Engine {
    /// Sets up the world of a built scenario with every scripted event scheduled.
    pub fn new(built: Built) -> Result<Engine, crate::net::TopologyError> {
        let mut flows = FlowModel::new();
        let topology = Topology::new(&mut flows, built.hosts.clone(), built.routers, &built.links)?;
        let host_count = built.hosts.len();
        let mut roles = vec![Role::None; host_count];
        let mut nodes: Vec<Option<NodeServer>> = vec![None; host_count];
        for &h in &built.node_servers {
            nodes[h.0 as usize] = Some(NodeServer::new(h, built.hosts[h.0 as usize].upload_bps, built.resume));
            roles[h.0 as usize] = Role::Node;
        }
        let declared: Rc<[f64]> = built.hosts.iter().map(|h| h.upload_bps).collect();
        let base_server = built.base_server.map(|h| {
            roles[h.0 as usize] = Role::Base;
            let streams = RngStreams::new(built.seed);
            let (shuffles, repairs) = (streams.stream(StreamId::Strategy), streams.stream(StreamId::Entity(2, 0)));
            BaseServer::new(h, declared.clone(), built.max_open_jobs, built.duty, shuffles, repairs)
        });
        let mut queue = EventQueue::new();
        let mut clients = Vec::new();
        for (ci, c) in built.clients.iter().enumerate() {
            roles[c.host.0 as usize] = Role::Client(ci as u32);
            let bs = built.base_server.expect("validated: jobs need a base server");
            clients.push(Client::new(c.name.clone(), bs, c.jobs.iter().map(|j| j.request.clone()).collect()));
            for (ticket, job) in c.jobs.iter().enumerate() {
                for (step, (at, _)) in job.script.iter().enumerate() {
                    queue.push(*at, Event::Script { client: ci as u32, ticket: ticket as u32, step: step as u32 });
                }
            }
        }
        for (i, fault) in built.faults.iter().enumerate() {
            queue.push(fault.at, Event::Fault { index: i as u32 });
        }
        let mut transfers = Vec::new();
        for (i, t) in built.transfers.iter().enumerate() {
            queue.push(t.at, Event::TransferStarts { transfer: i as u32 });
            transfers.push(TransferRecord {
                from: t.from,
                to: t.to,
                bytes: t.bytes,
                started_at: t.at,
                finished_at: None,
            });
        }
        Ok(Engine {
            queue,
            flows,
            topology,
            flow_owner: Vec::new(),
            streams: Vec::new(),
            free_streams: Vec::new(),
            out_streams: vec![Vec::new(); host_count],
            roles,
            base_server,
            nodes,
            clients,
            job_client: Vec::new(),
            swarms: BTreeMap::new(),
            pieces: Vec::new(),
            free_pieces: Vec::new(),
            piece_records: BTreeMap::new(),
            host_up: vec![true; host_count],
            repairable: vec![true; host_count],
            incarnation: vec![0; host_count],
            side: vec![0; host_count],
            loss: (0.0, None),
            loss_rng: RngStreams::new(built.seed).stream(StreamId::Entity(3, 0)),
            messages_lost: 0,
            transfers,
            stream_records: Vec::new(),
            messages: None,
            outbox: Outbox::new(),
            trace: TraceHash::default(),
            horizon: built.horizon,
            built,
        })
    }

    /// Records every control message from now on (see [`Engine::messages`]); off by default
    /// because large runs send millions.
    pub fn record_messages(&mut self) {
        self.messages.get_or_insert_with(Vec::new);
    }

    /// Messages sent, if recording was switched on.
    pub fn messages(&self) -> Option<&[MessageRecord]> {
        self.messages.as_deref()
    }

    /// Every stream opened, in order.
    pub fn stream_records(&self) -> &[StreamRecord] {
        &self.stream_records
    }

    /// Runs until nothing is left to do or the horizon is reached.
    pub fn run(&mut self) {
        loop {
            let next_event = self.queue.peek_time();
            // One re-solve per instant: changes made at an instant wait until every queued event
            // of that instant has made its own (what completes at an instant is decided by the
            // rates that held until it, see `FlowModel::pop_completed`).
            if self.flows.pending_since().is_some_and(|t| next_event != Some(t)) {
                self.flows.solve_pending();
            }
            let next_flow = self.flows.peek_completion();
            let flow_first = match (next_flow, next_event) {
                (None, None) => break,
                (Some(f), Some(e)) => f <= e,
                (f, _) => f.is_some(),
            };
            let now = if flow_first { next_flow.unwrap() } else { next_event.unwrap() };
            if now > self.horizon {
                break;
            }
            if flow_first {
                self.queue.advance_to(now);
                while let Some(flow) = self.flows.pop_completed(now) {
                    self.on_flow_completed(now, flow);
                }
            } else {
                let (now, event) = self.queue.pop().expect("peeked");
                self.trace.record(&event.trace_words(now));
                self.handle(now, event);
            }
        }
    }

    /// The virtual time of the last processed event.
    pub fn now(&self) -> SimTime {
        self.queue.now()
    }

    /// The trace fingerprint so far.
    pub fn trace(&self) -> TraceHash {
        self.trace
    }

    /// The topology (host names and capacities).
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The base server's state.
    pub fn base_server(&self) -> Option<&BaseServer> {
        self.base_server.as_ref()
    }

    /// Node server state, per host (`None` for hosts that are not node servers).
    pub fn nodes(&self) -> &[Option<NodeServer>] {
        &self.nodes
    }

    /// Client state, in scenario order.
    pub fn clients(&self) -> &[Client] {
        &self.clients
    }

    /// Raw transfers and their outcomes.
    pub fn transfers(&self) -> &[TransferRecord] {
        &self.transfers
    }

    // Event handling ---------------------------------------------------------------------------

    fn handle(&mut self, now: SimTime, event: Event) {
        match event {
            Event::Script { client, ticket, step } => self.script(now, client, ticket, step),
            Event::Deliver { from, to, msg } => self.deliver(now, from, to, msg),
            Event::ItemArrives { stream, index, bytes } => self.on_item_arrives(now, stream, index, bytes),
            Event::PieceArrives { piece } => self.on_piece_arrives(now, piece),
            Event::Timer { host, timer, incarnation } => {
                if !self.host_up[host.0 as usize] || self.incarnation[host.0 as usize] != incarnation {
                    return; // set before a crash
                }
                match self.roles[host.0 as usize] {
                    Role::Base => self.base_server.as_mut().expect("bs").on_timer(timer, &mut self.outbox),
                    Role::Node => {
                        self.nodes[host.0 as usize].as_mut().expect("node").on_timer(now, timer, &mut self.outbox)
                    }
                    _ => unreachable!("clients set no timers"),
                }
                self.flush(now, host);
            }
            Event::Fault { index } => self.apply_fault(now, index),
            Event::TransferStarts { transfer } => {
                let t = &self.transfers[transfer as usize];
                let route = self.topology.route(t.from, t.to);
                let flow = self.flows.start_flow(now, &route.resources, t.bytes as f64);
                self.set_owner(flow, FlowOwner::Transfer(transfer));
            }
            Event::TransferArrives { transfer } => self.transfers[transfer as usize].finished_at = Some(now),
        }
    }

    fn script(&mut self, now: SimTime, ci: u32, ticket: u32, step: u32) {
        let host = self.built.clients[ci as usize].host;
        let job = &self.built.clients[ci as usize].jobs[ticket as usize];
        let action = job.script[step as usize].1.clone();
        let chunks = job.request.content.chunks;
        let client = &mut self.clients[ci as usize];
        match action {
            ScriptAction::Request => client.request_job(now, ticket, &mut self.outbox),
            ScriptAction::Append(item) => client.append(now, ticket, item, &mut self.outbox),
            ScriptAction::AppendAllChunks => {
                for k in 0..chunks {
                    client.append(now, ticket, Item::Chunk(k), &mut self.outbox);
                }
            }
            ScriptAction::EndSession => client.end_session(now, ticket, &mut self.outbox),
            ScriptAction::Query(server) => client.query(now, ticket, server, &mut self.outbox),
        }
        self.flush(now, host);
        if let Some((id, _)) = self.clients[ci as usize].jobs()[ticket as usize].accepted {
            self.wake_streams(now, host, id);
        }
    }

    fn deliver(&mut self, now: SimTime, from: HostId, to: HostId, msg: Message) {
        if !self.host_up[to.0 as usize] {
            self.messages_lost += 1;
            return;
        }
        match self.roles[to.0 as usize] {
            Role::Client(ci) => self.clients[ci as usize].handle_message(now, msg, &mut self.outbox),
            Role::Base => {
                if let Message::RequestJob { ticket, .. } = msg {
                    let Role::Client(ci) = self.roles[from.0 as usize] else { panic!("job request from a non-client") };
                    let bs = self.base_server.as_mut().expect("base server");
                    let before = bs.jobs().len();
                    bs.handle_message(now, from, msg, &mut self.outbox);
                    if bs.jobs().len() > before {
                        self.job_client.push((ci, ticket));
                    }
                } else {
                    self.base_server.as_mut().expect("base server").handle_message(now, from, msg, &mut self.outbox);
                }
            }
            Role::Node => {
                self.nodes[to.0 as usize].as_mut().expect("node").handle_message(now, from, msg, &mut self.outbox)
            }
            Role::None => panic!("message to {to}, which has no role"),
        }
        self.flush(now, to);
    }

    /// Carries out the outputs `host`'s role just produced.
    fn flush(&mut self, now: SimTime, host: HostId) {
        let mut outbox = std::mem::take(&mut self.outbox);
        for output in outbox.drain(..) {
            match output {
                Output::Send { to, msg } => {
                    let route = self.topology.route(host, to);
                    let latency = route.latency;
                    if self.message_lost(host, to, &route) {
                        self.messages_lost += 1;
                        continue;
                    }
                    if let Some(log) = &mut self.messages {
                        log.push(MessageRecord {
                            sent_at: now,
                            arrives_at: now + latency,
                            from: host,
                            to,
                            kind: msg.kind_name(),
                        });
                    }
                    self.queue.push(now + latency, Event::Deliver { from: host, to, msg });
                }
                Output::OpenStream { to, job, from_item, from_byte } => {
                    if self.roles[host.0 as usize] == Role::Base && self.is_swarm(job) {
                        self.join_swarm(now, job, to);
                    } else {
                        self.open_stream(now, host, to, job, from_item, from_byte);
                    }
                }
                Output::CloseIncoming { job, from } => self.break_stream(now, from, host, job),
                Output::Repair { job, host: target, worked } => self.repair(now, job, target, worked),
                Output::SetTimer { after, timer } => {
                    let incarnation = self.incarnation[host.0 as usize];
                    self.queue.push(now + after, Event::Timer { host, timer, incarnation })
                }
            }
        }
        // Outputs of nested calls (e.g. a switch) may have been queued meanwhile.
        if !self.outbox.is_empty() {
            let nested = std::mem::replace(&mut self.outbox, outbox);
            self.outbox.extend(nested);
            self.flush(now, host);
        } else {
            self.outbox = outbox;
        }
    }

    // Data plane -------------------------------------------------------------------------------

    /// The client's record of `job` (known from the request, before the client itself hears
    /// that the job was accepted).
    fn client_job(&self, job: JobId) -> &crate::protocol::client::ClientJob {
        let (client, ticket) = self.job_client[job.0 as usize];
        &self.clients[client as usize].jobs()[ticket as usize]
    }

    /// Item `index` of `job`'s log.
    fn item(&self, job: JobId, index: u32) -> &Item {
        &self.client_job(job).log[index as usize]
    }

    /// (items held, content complete, log complete) of `job` at `host`.
    fn holdings(&self, host: HostId, job: JobId) -> (u32, bool, bool) {
        match self.roles[host.0 as usize] {
            Role::Base => {
                let bs = self.base_server.as_ref().expect("base server");
                (bs.held(job), bs.content_complete(job), bs.log_complete(job))
            }
            Role::Client(ci) => {
                let c = &self.clients[ci as usize];
                (c.held(job), c.content_complete(job), c.log_complete(job))
            }
            Role::Node => {
                let n = self.nodes[host.0 as usize].as_ref().expect("node");
                (n.held(job), n.content_complete(job), n.log_complete(job))
            }
            Role::None => (0, false, false),
        }
    }

    fn item_bytes(&self, job: JobId, index: u32) -> u64 {
        match self.item(job, index) {
            Item::Chunk(k) => self.client_job(job).request.content.chunk_bytes(*k),
            Item::Command(c) => c.data_bytes,
        }
    }

    fn set_owner(&mut self, flow: FlowId, owner: FlowOwner) {
        let i = flow.0 as usize;
        if self.flow_owner.len() <= i {
            self.flow_owner.resize(i + 1, FlowOwner::None);
        }
        self.flow_owner[i] = owner;
    }

    fn open_stream(&mut self, now: SimTime, src: HostId, dst: HostId, job: JobId, from_item: u32, from_byte: u64) {
        let route = self.topology.route(src, dst);
        let record = self.stream_records.len() as u32;
        self.stream_records.push(StreamRecord {
            job,
            src,
            dst,
            opened_at: now,
            first_arrival: None,
            last_arrival: None,
            chunks: 0,
            bytes: 0,
            broken_at: None,
        });
        let stream = Stream {
            job,
            src,
            dst,
            next: from_item,
            skip: from_byte,
            flow: None,
            route,
            closed: false,
            in_flight: 0,
            record,
        };
        let id = slab_insert(&mut self.streams, &mut self.free_streams, stream);
        self.out_streams[src.0 as usize].push(id);
        self.advance(now, id);
    }

    /// Decides what a stream without a flow does next: send the next item, stay stalled, or
    /// drain (pause or finish) and tell the source's role.
    fn advance(&mut self, now: SimTime, id: u32) {
        let s = &self.streams[id as usize];
        if s.flow.is_some() || s.closed {
            return;
        }
        let (job, src, dst, next) = (s.job, s.src, s.dst, s.next);
        let (held, content_complete, log_complete) = self.holdings(src, job);
        if next < held {
            let bytes = self.item_bytes(job, next) - self.streams[id as usize].skip;
            let flow = self.flows.start_flow(now, &self.streams[id as usize].route.resources, bytes as f64);
            self.streams[id as usize].flow = Some(flow);
            self.set_owner(flow, FlowOwner::Stream(id));
        } else if content_complete {
            // Everything the source holds is sent and no more content is coming: drain.
            self.close_stream(id);
            let done = log_complete;
            match self.roles[src.0 as usize] {
                Role::Base => {
                    self.base_server.as_mut().expect("bs").on_stream_drained(job, dst, next, done, &mut self.outbox)
                }
                Role::Client(ci) => self.clients[ci as usize].on_stream_drained(job, next, done),
                Role::Node => self.nodes[src.0 as usize].as_mut().expect("node").on_stream_drained(
                    job,
                    dst,
                    next,
                    done,
                    &mut self.outbox,
                ),
                Role::None => unreachable!("streams come from roles"),
            }
            self.flush(now, src);
        }
    }

    fn close_stream(&mut self, id: u32) {
        let s = &mut self.streams[id as usize];
        s.closed = true;
        let src = s.src;
        let free = s.in_flight == 0;
        self.out_streams[src.0 as usize].retain(|&x| x != id);
        if free {
            self.free_streams.push(id);
        }
    }

    fn wake_streams(&mut self, now: SimTime, host: HostId, job: JobId) {
        let mut i = 0;
        while i < self.out_streams[host.0 as usize].len() {
            let id = self.out_streams[host.0 as usize][i];
            if self.streams[id as usize].job == job {
                self.advance(now, id);
            }
            // `advance` may drain (remove) this stream; only move on if it is still here.
            if self.out_streams[host.0 as usize].get(i) == Some(&id) {
                i += 1;
            }
        }
    }

    /// Stops stream `id` now: its flow ends and it closes. Returns where the receiver can
    /// resume and how many bytes of the interrupted item it received.
    fn abort_stream(&mut self, now: SimTime, id: u32) -> (ResumePoint, u64) {
        let (job, next, skip, flow, record) = {
            let s = &self.streams[id as usize];
            (s.job, s.next, s.skip, s.flow, s.record)
        };
        let sent = match flow {
            Some(flow) => {
                let unsent = self.flows.end_flow(now, flow);
                self.streams[id as usize].flow = None;
                let total = (self.item_bytes(job, next) - skip) as f64;
                (total - unsent).round().clamp(0.0, total) as u64
            }
            None => 0,
        };
        self.stream_records[record as usize].bytes += sent;
        self.stream_records[record as usize].broken_at = Some(now);
        self.close_stream(id);
        (ResumePoint { item: next, byte: skip + sent }, sent)
    }

    fn find_stream(&self, src: HostId, dst: HostId, job: JobId) -> Option<u32> {
        self.out_streams[src.0 as usize]
            .iter()
            .copied()
            .find(|&id| self.streams[id as usize].dst == dst && self.streams[id as usize].job == job)
    }

    /// The receiver `dst` breaks the stream of `job` from `src` now (a dynamic switch): the
    /// flow stops, and the receiver learns where to resume.
    fn break_stream(&mut self, now: SimTime, src: HostId, dst: HostId, job: JobId) {
        let (at, partial) = match self.find_stream(src, dst, job) {
            Some(id) => self.abort_stream(now, id),
            // The stream already drained or was never opened: resume after what it held.
            None => {
                let held = self.nodes[dst.0 as usize].as_ref().map_or(0, |n| n.held(job));
                (ResumePoint { item: held, byte: 0 }, 0)
            }
        };
        let node = self.nodes[dst.0 as usize].as_mut().expect("switches happen at node servers");
        node.on_incoming_closed(job, src, at, partial, &mut self.outbox);
    }

    // Faults -----------------------------------------------------------------------------------

    /// Whether a message from `from` to `to` over `route` is lost: a partition between them, a
    /// cut link on the way, or the message-loss process.
    fn message_lost(&mut self, from: HostId, to: HostId, route: &Route) -> bool {
        let (a, b) = (self.side[from.0 as usize], self.side[to.0 as usize]);
        if a != 0 && b != 0 && a != b {
            return true;
        }
        if route.resources.iter().any(|&r| self.flows.capacity(r) == 0.0) {
            return true;
        }
        let (p, only) = self.loss;
        p > 0.0 && only.is_none_or(|h| h == from || h == to) && self.loss_rng.gen_bool(p)
    }

    fn apply_fault(&mut self, now: SimTime, index: u32) {
        let action = self.built.faults[index as usize].action.clone();
        match action {
            FaultAction::Crash { host, repairable } => {
                self.repairable[host.0 as usize] = repairable;
                self.crash(now, host);
            }
            FaultAction::Recover { host } => self.recover(now, host),
            FaultAction::HostCapacity { host, factor } => {
                let spec = &self.built.hosts[host.0 as usize];
                let (up, down) = (spec.upload_bps * factor, spec.download_bps * factor);
                self.flows.set_capacity(now, self.topology.upload(host), up);
                self.flows.set_capacity(now, self.topology.download(host), down);
            }
            FaultAction::LinkCapacity { links, factor } => {
                for link in links {
                    let capacity = self.built.links[link].capacity_bps * factor;
                    for r in self.topology.link_resources(link) {
                        self.flows.set_capacity(now, r, capacity);
                    }
                }
            }
            FaultAction::Partition { sides } => {
                for (h, side) in sides {
                    self.side[h.0 as usize] = side;
                }
                // Streams across the partition break, as a crash would break them.
                let crossing: Vec<u32> = (0..self.streams.len() as u32)
                    .filter(|&id| {
                        let s = &self.streams[id as usize];
                        let (a, b) = (self.side[s.src.0 as usize], self.side[s.dst.0 as usize]);
                        !s.closed && a != 0 && b != 0 && a != b
                    })
                    .collect();
                for id in crossing {
                    self.cut_stream(now, id);
                }
            }
            FaultAction::MessageLoss { probability, host } => self.loss = (probability, host),
        }
    }

    /// Stream `id` is gone without anyone choosing it (a crash or a partition): its receiver
    /// looks for another source from where it stopped, its sender moves on.
    fn cut_stream(&mut self, now: SimTime, id: u32) {
        let (job, src, dst) = {
            let s = &self.streams[id as usize];
            (s.job, s.src, s.dst)
        };
        let (at, partial) = self.abort_stream(now, id);
        if let Some(node) = self.nodes[dst.0 as usize].as_mut() {
            if self.host_up[dst.0 as usize] {
                node.on_source_lost(job, src, at, partial, &mut self.outbox);
                self.flush(now, dst);
            } else {
                node.note_interrupted(job, at, partial);
            }
        }
        if self.host_up[src.0 as usize] {
            match self.roles[src.0 as usize] {
                Role::Node => {
                    self.nodes[src.0 as usize].as_mut().expect("node").on_receiver_lost(job, dst, &mut self.outbox)
                }
                Role::Base => self.base_server.as_mut().expect("bs").on_receiver_lost(job, dst, &mut self.outbox),
                _ => {}
            }
            self.flush(now, src);
        }
    }

    /// A node server crashes: every stream from or to it stops at once, freeing capacity; its
    /// receivers look for another source; its state on disk stays.
    fn crash(&mut self, now: SimTime, host: HostId) {
        let h = host.0 as usize;
        if !self.host_up[h] || self.roles[h] != Role::Node {
            return;
        }
        self.host_up[h] = false;
        self.incarnation[h] += 1;
        let affected: Vec<u32> = (0..self.streams.len() as u32)
            .filter(|&id| {
                let s = &self.streams[id as usize];
                !s.closed && (s.src == host || s.dst == host)
            })
            .collect();
        for id in affected {
            self.cut_stream(now, id);
        }
        for swarm in self.swarms.values_mut() {
            swarm.leave(host);
        }
        self.nodes[h].as_mut().expect("node").on_crash();
    }

    /// A crashed node server is back (by itself or repaired).
    fn recover(&mut self, now: SimTime, host: HostId) {
        let h = host.0 as usize;
        if self.host_up[h] {
            return;
        }
        self.host_up[h] = true;
        self.nodes[h].as_mut().expect("node").on_recover(now, &mut self.outbox);
        self.flush(now, host);
    }

    /// The base server's repair attempt on `host` ended; it works if the attempt succeeded and
    /// the host can be brought back at all.
    fn repair(&mut self, now: SimTime, job: JobId, host: HostId, worked: bool) {
        let h = host.0 as usize;
        let ok = worked && (self.host_up[h] || self.repairable[h]);
        if ok && !self.host_up[h] {
            self.recover(now, host);
        }
        let bs = self.base_server.as_mut().expect("repairs come from the base server");
        bs.on_repair_result(now, job, host, ok, &mut self.outbox);
    }

    fn on_flow_completed(&mut self, now: SimTime, flow: FlowId) {
        match self.flow_owner[flow.0 as usize] {
            FlowOwner::Transfer(transfer) => {
                self.trace.record(&[now.as_nanos(), 7, transfer as u64, 0]);
                self.flows.end_flow(now, flow);
                let t = &self.transfers[transfer as usize];
                let latency = self.topology.route(t.from, t.to).latency;
                self.queue.push(now + latency, Event::TransferArrives { transfer });
            }
            FlowOwner::Stream(id) => {
                let (job, src, index, skip, latency) = {
                    let s = &self.streams[id as usize];
                    (s.job, s.src, s.next, s.skip, s.route.latency)
                };
                self.trace.record(&[now.as_nanos(), 8, id as u64, index as u64]);
                let bytes = self.item_bytes(job, index) - skip;
                let s = &mut self.streams[id as usize];
                s.next += 1;
                s.skip = 0;
                s.in_flight += 1;
                let next = s.next;
                self.queue.push(now + latency, Event::ItemArrives { stream: id, index, bytes });
                let (held, _, _) = self.holdings(src, job);
                if next < held {
                    let bytes = self.item_bytes(job, next) as f64;
                    self.flows.extend_flow(now, flow, bytes);
                } else {
                    self.flows.end_flow(now, flow);
                    self.streams[id as usize].flow = None;
                    self.advance(now, id);
                }
                self.maybe_grow_fanout(now, src, job);
            }
            FlowOwner::Piece(id) => self.on_piece_sent(now, flow, id),
            FlowOwner::None => unreachable!("completed flow without owner"),
        }
    }

    /// Adaptive fanout: while `host`'s upload is below [`ADAPTIVE_UTILISATION`], its job may
    /// open another down-line connection.
    fn maybe_grow_fanout(&mut self, now: SimTime, host: HostId, job: JobId) {
        let Some(node) = self.nodes[host.0 as usize].as_ref() else {
            return;
        };
        if !node.can_grow(job) {
            return;
        }
        let capacity = self.topology.host(host).upload_bps;
        let mut used = 0.0;
        for i in 0..self.out_streams[host.0 as usize].len() {
            if let Some(flow) = self.streams[self.out_streams[host.0 as usize][i] as usize].flow {
                used += self.flows.rate(flow);
            }
        }
        if used < ADAPTIVE_UTILISATION * capacity {
            self.nodes[host.0 as usize].as_mut().expect("node").grow_fanout(job, &mut self.outbox);
            self.flush(now, host);
        }
    }

    // Swarm ----------------------------------------------------------------------------------

    fn is_swarm(&self, job: JobId) -> bool {
        self.client_job(job).request.strategy.kind == StrategyKind::Swarm
    }

    /// `peer` accepted the base server's offer of a swarm job: it joins the swarm (created with
    /// the first peer, the base server seeding what it holds).
    fn join_swarm(&mut self, now: SimTime, job: JobId, peer: HostId) {
        let bs = self.base_server.as_ref().expect("swarms need a base server");
        let bs_host = bs.host();
        if !self.swarms.contains_key(&job) {
            let object = &bs.job(job).object;
            let s = object.strategy;
            let mut rng = RngStreams::new(self.built.seed).stream(StreamId::Entity(1, job.0));
            let mut swarm = Swarm::new(bs_host, &object.servers, s.peers, s.fanout, &mut rng);
            for piece in 0..bs.held(job) {
                swarm.gained(bs_host, piece);
            }
            self.swarms.insert(job, swarm);
        }
        let mut wake = self.swarms.get_mut(&job).expect("created").join(peer);
        wake.push(peer);
        for host in wake {
            self.swarm_schedule(now, job, host);
        }
    }

    /// `host` gained `piece` of a swarm job: it may upload it on.
    fn swarm_gained(&mut self, now: SimTime, job: JobId, host: HostId, piece: u32) {
        let Some(swarm) = self.swarms.get_mut(&job) else {
            return;
        };
        for h in swarm.gained(host, piece) {
            self.swarm_schedule(now, job, h);
        }
    }

    fn swarm_schedule(&mut self, now: SimTime, job: JobId, host: HostId) {
        let uploads = self.swarms.get_mut(&job).expect("swarm").schedule(host);
        for upload in uploads {
            let route = self.topology.route(upload.from, upload.to);
            let bytes = self.item_bytes(job, upload.piece);
            let flow = self.flows.start_flow(now, &route.resources, bytes as f64);
            let key = (job, upload.from, upload.to);
            let record = match self.piece_records.get(&key) {
                Some(&r) => r,
                None => {
                    self.stream_records.push(StreamRecord {
                        job,
                        src: upload.from,
                        dst: upload.to,
                        opened_at: now,
                        first_arrival: None,
                        last_arrival: None,
                        chunks: 0,
                        bytes: 0,
                        broken_at: None,
                    });
                    let r = self.stream_records.len() as u32 - 1;
                    self.piece_records.insert(key, r);
                    r
                }
            };
            let piece = Piece { job, upload, latency: route.latency, record };
            let id = slab_insert(&mut self.pieces, &mut self.free_pieces, piece);
            self.set_owner(flow, FlowOwner::Piece(id));
        }
    }

    fn on_piece_sent(&mut self, now: SimTime, flow: FlowId, id: u32) {
        self.trace.record(&[now.as_nanos(), 10, id as u64, 0]);
        self.flows.end_flow(now, flow);
        let p = self.pieces[id as usize].clone();
        self.queue.push(now + p.latency, Event::PieceArrives { piece: id });
        self.swarms.get_mut(&p.job).expect("swarm").upload_done(p.upload.from);
        self.swarm_schedule(now, p.job, p.upload.from);
    }

    fn on_piece_arrives(&mut self, now: SimTime, id: u32) {
        let Piece { job, upload, record, .. } = self.pieces[id as usize].clone();
        self.free_pieces.push(id);
        if !self.host_up[upload.to.0 as usize] {
            self.swarms.get_mut(&job).expect("swarm").lost(upload.to, upload.piece);
            return;
        }
        let bytes = self.item_bytes(job, upload.piece);
        let r = &mut self.stream_records[record as usize];
        r.first_arrival.get_or_insert(now);
        r.last_arrival = Some(now);
        r.chunks += 1;
        r.bytes += bytes;
        let item = self.item(job, upload.piece).clone();
        let arrival = Arrival { job, index: upload.piece, item, from: upload.from, bytes };
        self.nodes[upload.to.0 as usize].as_mut().expect("peers are node servers").on_item(
            now,
            arrival,
            &mut self.outbox,
        );
        self.flush(now, upload.to);
        self.swarm_gained(now, job, upload.to, upload.piece);
    }

    fn on_item_arrives(&mut self, now: SimTime, id: u32, index: u32, bytes: u64) {
        let (job, src, dst, record) = {
            let s = &mut self.streams[id as usize];
            s.in_flight -= 1;
            if s.closed && s.in_flight == 0 {
                self.free_streams.push(id);
            }
            (s.job, s.src, s.dst, s.record)
        };
        if !self.host_up[dst.0 as usize] {
            return; // the receiver crashed while the item was on its way
        }
        let r = &mut self.stream_records[record as usize];
        r.first_arrival.get_or_insert(now);
        r.last_arrival = Some(now);
        r.chunks += 1;
        r.bytes += bytes;
        let item = self.item(job, index).clone();
        match self.roles[dst.0 as usize] {
            Role::Base => self.base_server.as_mut().expect("bs").on_item(now, job, index, &item, &mut self.outbox),
            Role::Node => {
                let arrival = Arrival { job, index, item, from: src, bytes };
                let node = self.nodes[dst.0 as usize].as_mut().expect("node");
                node.on_item(now, arrival, &mut self.outbox);
            }
            _ => unreachable!("streams go to the base server or node servers"),
        }
        self.flush(now, dst);
        self.wake_streams(now, dst, job);
        if self.roles[dst.0 as usize] == Role::Base {
            self.swarm_gained(now, job, dst, index);
        }
    }
}
