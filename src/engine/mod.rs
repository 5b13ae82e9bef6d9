//! The engine: runs the sans-IO protocol roles on the kernel's virtual clock over the network
//! model.
//!
//! It owns the event queue, the flow model and topology, and one state machine per role, and
//! carries out the roles' outputs: a [`Message`] is delivered after its route's latency; a
//! timer fires after its delay; a stream ([`Output::OpenStream`]) carries a job's log (content
//! chunks and commands) item by item as one flow of the bandwidth model.
//!
//! A stream sends item *k* only once its source holds item *k* (pipelining, \[0044\]). When the
//! flow has sent an item it continues with the next at the same rate (no re-solve) if the
//! source holds it; otherwise the flow ends and the stream *stalls* until the source has more,
//! or — when the source holds all content and has nothing more to send — the stream *drains*:
//! it closes and the source's role is told (it reopens it when commands arrive, \[0055\]). After
//! the end-job item a stream is done. Each item arrives one route latency after its last byte
//! left the sender. A receiver may break an incoming stream (a dynamic switch, \[0073\]); the
//! engine then tells it the exact item and byte where the stream stopped, so the new source
//! continues from there (\[0005\], \[0061\]).
//!
//! Ordering: the next event is the earlier of the queue's head and the flow model's next
//! completion; at equal times flow completions go first, then queued events in insertion order.
//! The flow model re-solves once per instant, after every queued event of the instant has made
//! its changes; completions that re-solve brings to the same instant (a zero-byte flow, say)
//! then go first again, before events queued meanwhile.
//! Every processed event is folded into the run's [`TraceHash`].
//!
//! Speed: the functions an item's completion and arrival run through (here, in the look-ahead,
//! in the flow model and its heaps, the node server's `on_item` and the trace hash) are
//! `#[inline(always)]`, so that the compiler lays the whole path out inside [`Engine::run`] as a
//! profile-guided build does (README, *Hot paths inlined*). It changes no arithmetic: the
//! traces are the same.

pub mod faults;
mod lookahead;
pub mod transport;

use crate::kernel::{EventQueue, RngStreams, SimDuration, SimTime, StreamId, TraceHash, TraceHashVersion};
use crate::net::{FlowId, FlowModel, HostId, Route, Topology};
use crate::protocol::base_server::{BaseServer, Declared};
use crate::protocol::client::Client;
use crate::protocol::job::{Item, JobId};
use crate::protocol::message::{Message, Outbox, Output, RepairOutcome, Timer};
use crate::protocol::node_server::{Arrival, NodeServer, ResumePoint};
use crate::protocol::origin::OriginServer;
use crate::scenario::{Built, FaultAction, ScriptAction};
use crate::strategy::{Action, Ctx, PieceScheduler, SchedulerSetup, World};
use faults::{FaultLog, RandomFaults};
use rand::Rng;
use rand_chacha::ChaCha12Rng;
use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::rc::Rc;
use transport::Transport;

/// Something scheduled on the virtual clock.
#[derive(Debug)]
enum Event {
    /// Step `step` of a client's script for job `ticket`.
    Script { client: u32, ticket: u32, step: u32 },
    /// An attempt to deliver pending control message `id` (of kind `kind`) arrives (unless the
    /// attempt `token` was superseded).
    Deliver { id: u32, kind: u64, token: u32 },
    /// The sender of pending control message `id` retransmits it (or gives up), unless the
    /// retransmission `token` was superseded.
    Retransmit { id: u32, kind: u64, token: u32 },
    /// An item of a stream arrives at the receiver, `bytes` of it over this stream. The
    /// receiver and the job are copies of the stream's: with them at hand, the receiver's
    /// records are fetched while the stream's own line is still on its way (at 10^5 servers
    /// each is a cache miss, and one after the other they cost twice).
    ItemArrives { stream: u32, index: u32, bytes: u64, dst: HostId, job: JobId },
    /// A piece of an engine-driven strategy arrives at the receiver of connection `conn`.
    PieceArrives { conn: u32, piece: u32 },
    /// A timer an engine-driven strategy's scheduler of `job` asked for.
    SchedulerTimer { job: u32, token: u64 },
    /// A role's timer fires (unless the host crashed since it was set, or the role set it again
    /// or cancelled it: only the latest `serial` of a (host, timer) pair fires).
    Timer { host: HostId, timer: Timer, incarnation: u32, serial: u64 },
    /// Scripted fault number `index` of the built scenario.
    Fault { index: u32 },
    /// The pending crash or recovery of subject `subject` of the random fault process.
    RandomFault { subject: u32 },
    /// A raw transfer starts.
    TransferStarts { transfer: u32 },
    /// The last byte of a raw transfer arrives.
    TransferArrives { transfer: u32 },
    /// A node server joins the network (churn).
    Join { host: HostId },
    /// A node server leaves the network (churn).
    Leave { host: HostId },
}

impl Event {
    fn trace_words(&self, time: SimTime) -> [u64; 4] {
        let t = time.as_nanos();
        match self {
            Event::Script { client, ticket, step } => [t, 1 | (*step as u64) << 8, *client as u64, *ticket as u64],
            Event::Deliver { id, kind, token } => [t, 2 | kind << 8, *id as u64, *token as u64],
            Event::Retransmit { id, kind, token } => [t, 13 | kind << 8, *id as u64, *token as u64],
            Event::ItemArrives { stream, index, bytes, .. } => [t, 3 | bytes << 8, *stream as u64, *index as u64],
            Event::Timer { host, timer, .. } => {
                let [code, a, b] = timer.code();
                [t, 4 | code << 8, host.0 as u64, a << 32 | b]
            }
            Event::Fault { index } => [t, 11, *index as u64, 0],
            Event::RandomFault { subject } => [t, 12, *subject as u64, 0],
            Event::PieceArrives { conn, piece } => [t, 9, *conn as u64, *piece as u64],
            Event::SchedulerTimer { job, token } => [t, 14, *job as u64, *token],
            Event::TransferStarts { transfer } => [t, 5, *transfer as u64, 0],
            Event::TransferArrives { transfer } => [t, 6, *transfer as u64, 0],
            Event::Join { host } => [t, 15, host.0 as u64, 0],
            Event::Leave { host } => [t, 16, host.0 as u64, 0],
        }
    }
}

/// What a flow of the bandwidth model carries.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FlowOwner {
    None,
    /// A stream's flow, with copies of the stream's source and job (neither ever changes): on
    /// a completion the source's record is fetched while the stream's line is on its way.
    Stream {
        stream: u32,
        src: HostId,
        job: JobId,
    },
    Transfer(u32),
    Conn(u32),
}

/// A connection of an engine-driven strategy: one flow carrying pieces back to back from `from`
/// to `to` while the scheduler keeps asking for uploads on it.
#[derive(Debug, Clone)]
struct Conn {
    job: JobId,
    from: HostId,
    to: HostId,
    /// The flow; `Some` exactly while a piece is in progress (and during the scheduler's answer
    /// to a finished piece).
    flow: Option<FlowId>,
    piece: Option<u32>,
    piece_bytes: u64,
    started_at: SimTime,
    /// Bytes of pieces that left the sender, finished or cut.
    sent: u64,
    route: Rc<Route>,
    record: u32,
}

/// One piece sent by an engine-driven strategy: when its first and last bytes left the sender.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PieceRecord {
    /// The job.
    pub job: JobId,
    /// Sender.
    pub from: HostId,
    /// Receiver.
    pub to: HostId,
    /// Item of the job's log.
    pub piece: u32,
    /// Bytes.
    pub bytes: u64,
    /// When the connection started sending it.
    pub started_at: SimTime,
    /// When its last byte left the sender.
    pub sent_at: SimTime,
}

/// What a stream's flow is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sending {
    /// No flow: not started, or its flow was ended by an abort.
    Idle,
    /// The flow carrying item `next`.
    Item(FlowId),
    /// Stalled until the source receives item `next`: the stream's last flow, paused, to be
    /// resumed for it (see [`FlowModel::pause_flow`]); ended when the stream closes.
    Parked(FlowId),
    /// Closed: no more sending; the slot is freed when nothing is in flight.
    Closed,
}

/// A stream of one job's log from a source to a receiver: what its sender and its receiver
/// read on every item, in one cache line (at 10^5 servers every item misses on it, three times:
/// the sender's completion, the receiver's arrival, the wake-up of the receiver's own streams).
/// The rest is in [`StreamCold`].
#[derive(Debug, Clone)]
#[repr(C, align(64))]
struct Stream {
    job: JobId,
    src: HostId,
    dst: HostId,
    /// Next item to send.
    next: u32,
    in_flight: u32,
    /// Items that arrived over this stream since its record was last brought up to date, their
    /// bytes and the latest arrival: counted here (the line is read anyway when an item
    /// arrives) and moved into the [`StreamRecord`] when the stream's slot is freed or the run
    /// stops, instead of another random access per item.
    arrived_items: u32,
    sending: Sending,
    /// Bytes of item `next` already delivered before this stream (a resumed transfer).
    skip: u64,
    /// The route's latency, kept here: read on every item, it then costs no trip to the route.
    latency: SimDuration,
    arrived_bytes: u64,
    last_arrival: SimTime,
}

/// The parts of a stream read when it opens, starts its first flow, gets its first arrival
/// since its record was brought up to date, or ends.
#[derive(Debug, Clone)]
struct StreamCold {
    route: Rc<Route>,
    record: u32,
    /// Meaningful while the stream's `arrived_items > 0`.
    first_arrival: SimTime,
}

impl Stream {
    /// The flow carrying the current item, if one is.
    fn flow(&self) -> Option<FlowId> {
        match self.sending {
            Sending::Item(flow) => Some(flow),
            _ => None,
        }
    }

    fn closed(&self) -> bool {
        self.sending == Sending::Closed
    }
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

/// Where control messages go as they are sent, when a run streams them out (e.g. to a file)
/// instead of keeping them: see [`Engine::send_messages_to`].
pub trait MessageSink {
    /// One message, at the moment it is sent.
    fn message(&mut self, record: &MessageRecord);
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
    Origin(u32),
}

/// What the engine reads of a host on every item that arrives there (is it up, which role
/// handles the item, has it streams to wake), kept together in 12 bytes: at 10^5 hosts and
/// more these reads miss the caches, and one small record costs one miss where separate arrays
/// (and the list of streams of each of the many hosts that send nothing) cost several.
#[derive(Debug, Clone, Copy)]
struct HostSlot {
    role: Role,
    up: bool,
    /// `out_streams` of the host is not empty.
    sending: bool,
}

/// A stream in its source's list of outgoing streams, with its flow once it has one (a stream
/// keeps its flow, paused between items, until it closes): the look-ahead of an arrival finds
/// the flows that the arrival may resume in the list, without the streams' records first.
#[derive(Debug, Clone, Copy, PartialEq)]
struct OutStream {
    stream: u32,
    /// [`NO_FLOW_YET`] until the stream's first item starts.
    flow: u32,
}

/// `OutStream::flow` of a stream that has not started a flow.
const NO_FLOW_YET: u32 = u32::MAX;

/// Whether a node server is in the network (churn): not yet joined, in, or left for good. A
/// host that is not in is down and an offer to it is refused at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    NotYet,
    In,
    Gone,
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

/// Most packets an item of an engine-driven job is cut into (a host's packets of an item in
/// progress are one 64-bit mask).
pub const MAX_PACKETS_PER_ITEM: u32 = 64;

/// Bytes of packet `part` of an item of `bytes` cut into `split` packets: equal shares, the
/// first `bytes % split` packets one byte more.
fn packet_bytes(bytes: u64, split: u32, part: u32) -> u64 {
    let split = split as u64;
    bytes / split + u64::from((part as u64) < bytes % split)
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
    /// How far the records of the next events have been asked for.
    ahead: lookahead::Lookahead,
    streams: Vec<Stream>,
    /// Per stream slot, beside `streams`.
    streams_cold: Vec<StreamCold>,
    free_streams: Vec<u32>,
    /// Per host: its role, whether it is up, whether it has outgoing streams (see [`HostSlot`]).
    hosts: Vec<HostSlot>,
    /// Outgoing streams per host (open or stalled), to wake them when an item arrives.
    /// Up to four kept inline (a cascade's fanout): waking them on each arrival then follows
    /// no pointer to a separate list (one dependent cache miss fewer at 10^5 servers).
    out_streams: Vec<SmallVec<[OutStream; 4]>>,
    /// The open stream of each (source, receiver, job), the same streams as `out_streams`:
    /// looked up, never iterated. A source feeding thousands (the base server of a star, or
    /// serving many reactivated servers) finds one without a pass over all of them.
    open_streams: FxHashMap<(HostId, HostId, JobId), u32>,
    /// The latest stream opened to each (receiver, job): looked up, never iterated.
    last_incoming: FxHashMap<(HostId, JobId), u32>,
    /// (source, receiver, job) whose stream the receiver released before it opened.
    refused: FxHashSet<(HostId, HostId, JobId)>,
    base_server: Option<BaseServer>,
    nodes: Vec<Option<NodeServer>>,
    origins: Vec<OriginServer>,
    clients: Vec<Client>,
    /// For each job id: the client that owns its log.
    job_client: Vec<(u32, u32)>,
    /// For each job id: its chunks' sizes, `(all but the last, the last, the last's index)`:
    /// [`ContentSpec::chunk_bytes`](crate::protocol::job::ContentSpec::chunk_bytes) without its
    /// 64-bit division, which every item sent asked for twice.
    chunk_sizes: Vec<(u64, u64, u32)>,
    /// Piece schedulers of engine-driven jobs, by job id (taken out while being called).
    schedulers: Vec<Option<Box<dyn PieceScheduler>>>,
    /// Packets per item of each engine-driven job, by job id (see
    /// [`PieceScheduler::packets_per_item`]); 1 when its scheduler forwards whole items.
    packets_per_item: Vec<u32>,
    /// Packets of an item that a host holds before the whole item (bit `i`: packet `i`), for
    /// jobs forwarded in packets; looked up, never iterated; removed once the item is whole.
    partial_items: FxHashMap<(JobId, HostId, u32), u64>,
    conns: Vec<Conn>,
    /// Connections of engine-driven jobs by (job, sender, receiver), ordered (a job's are cut
    /// together, in this order).
    conn_index: BTreeMap<(JobId, HostId, HostId), u32>,
    /// The same, for point lookups only (never iterated): a swarm's rechoke looks up every
    /// neighbour's connection once per piece transfer, which the B-tree made the hottest code.
    conn_lookup: FxHashMap<(JobId, HostId, HostId), u32>,
    piece_log: Vec<PieceRecord>,
    actions: Vec<Action>,
    /// Fault state (besides each host's `up`): hosts a repair can bring back, crash counters
    /// (stale timers are dropped), partition sides (0: none), and the message-loss process.
    presence: Vec<Presence>,
    /// Hosts whose departure once done is scheduled.
    leaving: std::collections::BTreeSet<HostId>,
    repairable: Vec<bool>,
    incarnation: Vec<u32>,
    side: Vec<u32>,
    loss: (f64, Option<HostId>),
    loss_rng: ChaCha12Rng,
    random_faults: RandomFaults,
    fault_log: FaultLog,
    /// Control message attempts lost to faults (crashed receivers, partitions, cuts, losses);
    /// each was retransmitted or, after the give-up time, dropped.
    pub messages_lost: u64,
    transport: Transport,
    /// The serial of the latest setting of each pending role timer.
    timers: FxHashMap<(HostId, Timer), u64>,
    timer_serial: u64,
    /// Time of the last event that did anything (stale timers do not count).
    last_event: SimTime,
    /// Time of the last flow completion processed.
    flow_time: SimTime,
    transfers: Vec<TransferRecord>,
    stream_records: Vec<StreamRecord>,
    messages: Option<Vec<MessageRecord>>,
    message_sink: Option<Box<dyn MessageSink>>,
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
            let upload = built.hosts[h.0 as usize].upload_bps;
            let spec = &built.hosts[h.0 as usize];
            let max_uploads = built.max_uploads.get(&h).copied();
            nodes[h.0 as usize] = Some(
                NodeServer::new(h, upload, built.resume, built.control).with_limits(spec.download_bps, max_uploads),
            );
            roles[h.0 as usize] = Role::Node;
        }
        let declared: Rc<[Declared]> = built
            .hosts
            .iter()
            .map(|h| Declared { upload: h.upload_bps, download: h.download_bps, latency_s: h.latency.as_secs_f64() })
            .collect();
        let base_server = built.base_server.map(|h| {
            roles[h.0 as usize] = Role::Base;
            let streams = RngStreams::new(built.seed);
            let (shuffles, repairs) = (streams.stream(StreamId::Strategy), streams.stream(StreamId::Entity(2, 0)));
            BaseServer::new(h, declared.clone(), built.max_open_jobs, built.duty, built.control, shuffles, repairs)
                .with_origins(built.origins.clone())
        });
        let mut origins = Vec::new();
        for (i, &h) in built.origins.iter().enumerate() {
            roles[h.0 as usize] = Role::Origin(i as u32);
            origins.push(OriginServer::new(h, built.hosts[h.0 as usize].upload_bps, built.control));
        }
        let mut queue = EventQueue::new();
        let mut clients = Vec::new();
        for (ci, c) in built.clients.iter().enumerate() {
            roles[c.host.0 as usize] = Role::Client(ci as u32);
            let bs = built.base_server.expect("validated: jobs need a base server");
            let requests = c.jobs.iter().map(|j| j.request.clone()).collect();
            clients.push(Client::new(c.name.clone(), bs, requests, built.control));
            for (ticket, job) in c.jobs.iter().enumerate() {
                for (step, (at, _)) in job.script.iter().enumerate() {
                    queue.push(*at, Event::Script { client: ci as u32, ticket: ticket as u32, step: step as u32 });
                }
            }
        }
        for (i, fault) in built.faults.iter().enumerate() {
            queue.push(fault.at, Event::Fault { index: i as u32 });
        }
        let mut random_faults = RandomFaults::new(built.random_faults.as_ref(), built.seed, built.horizon);
        for (at, subject) in random_faults.first_events() {
            queue.push(at, Event::RandomFault { subject });
        }
        let mut hosts: Vec<HostSlot> =
            roles.into_iter().map(|role| HostSlot { role, up: true, sending: false }).collect();
        let mut presence = vec![Presence::In; host_count];
        for &(at, host) in &built.churn.joins {
            hosts[host.0 as usize].up = false;
            presence[host.0 as usize] = Presence::NotYet;
            queue.push(at, Event::Join { host });
        }
        for &(at, host) in &built.churn.leaves {
            queue.push(at, Event::Leave { host });
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
        let ahead = lookahead::Lookahead::for_topology(&topology);
        Ok(Engine {
            queue,
            flows,
            topology,
            flow_owner: Vec::new(),
            ahead,
            streams: Vec::new(),
            streams_cold: Vec::new(),
            free_streams: Vec::new(),
            hosts,
            out_streams: vec![SmallVec::new(); host_count],
            open_streams: FxHashMap::default(),
            last_incoming: FxHashMap::default(),
            refused: FxHashSet::default(),
            base_server,
            nodes,
            origins,
            clients,
            job_client: Vec::new(),
            chunk_sizes: Vec::new(),
            schedulers: Vec::new(),
            packets_per_item: Vec::new(),
            partial_items: FxHashMap::default(),
            conns: Vec::new(),
            conn_index: BTreeMap::new(),
            conn_lookup: FxHashMap::default(),
            piece_log: Vec::new(),
            actions: Vec::new(),
            presence,
            leaving: std::collections::BTreeSet::new(),
            repairable: vec![true; host_count],
            incarnation: vec![0; host_count],
            side: vec![0; host_count],
            loss: (0.0, None),
            loss_rng: RngStreams::new(built.seed).stream(StreamId::Entity(3, 0)),
            random_faults,
            fault_log: FaultLog::default(),
            messages_lost: 0,
            transport: Transport::new(built.control),
            timers: FxHashMap::default(),
            timer_serial: 0,
            last_event: SimTime::ZERO,
            flow_time: SimTime::ZERO,
            transfers,
            stream_records: Vec::new(),
            messages: None,
            message_sink: None,
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

    /// Hands every control message from now on to `sink` as it is sent, so that a trace of a
    /// large run need not hold them in memory (unlike [`Engine::record_messages`]).
    pub fn send_messages_to(&mut self, sink: Box<dyn MessageSink>) {
        self.message_sink = Some(sink);
    }

    /// Messages sent, if recording was switched on.
    pub fn messages(&self) -> Option<&[MessageRecord]> {
        self.messages.as_deref()
    }

    /// Every stream opened, in order (an engine-driven strategy's connection counts as one
    /// stream per sender and receiver). Arrivals are counted in the stream while it runs and
    /// moved into its record when its slot is freed or [`Self::run`] returns: read the records
    /// after a run.
    pub fn stream_records(&self) -> &[StreamRecord] {
        &self.stream_records
    }

    /// Every piece sent by engine-driven strategies, in the order their last bytes left.
    pub fn piece_records(&self) -> &[PieceRecord] {
        &self.piece_log
    }

    /// Whether the engine fetches the records of the next events while it handles one (see
    /// `src/engine/lookahead.rs`; on by default from 5,000 hosts, where a run's records outgrow
    /// the processor's caches). Results and trace hashes are the same either way.
    pub fn set_look_ahead(&mut self, on: bool) {
        self.ahead.set_enabled(on);
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
            // Before and after every event, the records of the next ones are asked for from
            // memory (`lookahead`): nothing changes, they only load while this one is handled.
            if flow_first {
                self.queue.advance_to(now);
                self.flow_time = now;
                let mut batch_start = true;
                while let Some(flow) = self.flows.pop_completed(now) {
                    self.look_ahead_in_batch(std::mem::take(&mut batch_start));
                    self.ahead.completing(flow);
                    self.look_ahead();
                    self.on_flow_completed(now, flow);
                    self.ahead.count_handled();
                }
            } else {
                let (now, event) = self.queue.pop().expect("peeked");
                self.look_ahead();
                if let Event::Timer { host, timer, incarnation, serial } = event {
                    let h = host.0 as usize;
                    if self.timers.get(&(host, timer)) != Some(&serial) {
                        continue; // set again or cancelled since
                    }
                    self.timers.remove(&(host, timer));
                    if !self.hosts[h].up || self.incarnation[h] != incarnation {
                        continue; // set before a crash
                    }
                }
                self.trace.record(&event.trace_words(now));
                self.last_event = now;
                self.handle(now, event);
                self.ahead.count_handled();
            }
            self.look_ahead();
        }
        for id in 0..self.streams.len() as u32 {
            self.settle_arrivals(id);
        }
    }

    /// The virtual time of the last processed event (timers that were cancelled, set again or
    /// set before a crash do not count: they do nothing).
    pub fn now(&self) -> SimTime {
        self.last_event.max(self.flow_time)
    }

    /// Control messages retransmitted after a lost attempt, and dropped after the give-up time.
    pub fn transport_counts(&self) -> (u64, u64) {
        (self.transport.lost_attempts, self.transport.undeliverable)
    }

    /// The trace fingerprint so far.
    pub fn trace(&self) -> TraceHash {
        self.trace
    }

    /// Fingerprints the run with `version` instead of [`TraceHashVersion::CURRENT`] (e.g. to
    /// compare it with an expectation written by an older build). Call it before [`Self::run`].
    ///
    /// # Panics
    /// If events have been processed already.
    pub fn fingerprint_with(&mut self, version: TraceHashVersion) {
        assert_eq!(self.trace.events(), 0, "the fingerprint's version is chosen before the run");
        self.trace = TraceHash::new(version);
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

    /// True when `host` has left the network (churn).
    pub fn has_left(&self, host: HostId) -> bool {
        self.presence[host.0 as usize] == Presence::Gone
    }

    /// The origin servers besides the base server, in scenario order.
    pub fn origins(&self) -> &[OriginServer] {
        &self.origins
    }

    /// The faults that happened (scripted and random).
    pub fn fault_log(&self) -> &FaultLog {
        &self.fault_log
    }

    // Event handling ---------------------------------------------------------------------------

    #[inline(always)]
    fn handle(&mut self, now: SimTime, event: Event) {
        match event {
            Event::Script { client, ticket, step } => self.script(now, client, ticket, step),
            Event::Deliver { id, token, .. } => {
                if self.transport.current(id, token) {
                    self.on_deliver(now, id)
                }
            }
            Event::Retransmit { id, token, .. } => {
                if self.transport.current(id, token) {
                    self.on_retransmit(now, id)
                }
            }
            Event::ItemArrives { stream, index, bytes, dst, job } => {
                self.on_item_arrives(now, stream, index, bytes, dst, job)
            }
            Event::PieceArrives { conn, piece } => self.on_piece_arrives(now, conn, piece),
            Event::SchedulerTimer { job, token } => self.drive(now, JobId(job), |s, ctx| s.timer(ctx, token)),
            Event::Timer { host, timer, .. } => {
                match self.hosts[host.0 as usize].role {
                    Role::Base => self.base_server.as_mut().expect("bs").on_timer(now, timer, &mut self.outbox),
                    Role::Node => {
                        self.nodes[host.0 as usize].as_mut().expect("node").on_timer(now, timer, &mut self.outbox)
                    }
                    Role::Client(ci) => self.clients[ci as usize].on_timer(timer, &mut self.outbox),
                    Role::Origin(o) => self.origins[o as usize].on_timer(timer, &mut self.outbox),
                    Role::None => unreachable!("hosts without a role set no timers"),
                }
                self.flush(now, host);
                if matches!(timer, Timer::CommandDone { .. }) {
                    self.maybe_leave_when_done(now, host);
                }
            }
            Event::Join { host } => self.join(now, host),
            Event::Leave { host } => self.leave(now, host),
            Event::Fault { index } => {
                let fault = &self.built.faults[index as usize];
                let action = fault.action.clone();
                self.fault_log.record(now, action.ends_a_fault(), || fault.label.clone());
                self.apply_fault(now, action);
            }
            Event::RandomFault { subject } => {
                let (action, next) = self.random_faults.fire(subject, now);
                if let Some(at) = next {
                    self.queue.push(at, Event::RandomFault { subject });
                }
                let (what, host) = match action {
                    FaultAction::Crash { host, .. } => ("crash", host),
                    FaultAction::Recover { host } => ("recover", host),
                    _ => unreachable!("the random process crashes and recovers hosts"),
                };
                let name = &self.built.hosts[host.0 as usize].name;
                self.fault_log.record(now, what == "recover", || format!("{what} {name}"));
                self.apply_fault(now, action);
            }
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
        if !self.hosts[to.0 as usize].up {
            self.messages_lost += 1;
            return;
        }
        match self.hosts[to.0 as usize].role {
            Role::Client(ci) => self.clients[ci as usize].handle_message(now, msg, &mut self.outbox),
            Role::Base => {
                if let Message::RequestJob { ticket, .. } = msg {
                    let Role::Client(ci) = self.hosts[from.0 as usize].role else {
                        panic!("job request from a non-client")
                    };
                    let bs = self.base_server.as_mut().expect("base server");
                    let before = bs.jobs().len();
                    bs.handle_message(now, from, msg, &mut self.outbox);
                    if bs.jobs().len() > before {
                        self.job_client.push((ci, ticket));
                        let content = &self.built.clients[ci as usize].jobs[ticket as usize].request.content;
                        let last = content.chunks - 1;
                        self.chunk_sizes.push((content.chunk_bytes(0), content.chunk_bytes(last), last));
                    }
                } else {
                    self.base_server.as_mut().expect("base server").handle_message(now, from, msg, &mut self.outbox);
                }
            }
            Role::Node => {
                if let Message::StatusQuery { job, origin, .. } = msg {
                    let partial = self.incoming_partial_bytes(now, to, job);
                    let node = self.nodes[to.0 as usize].as_mut().expect("node");
                    node.answer_status(from, job, origin, partial, &mut self.outbox);
                } else {
                    self.nodes[to.0 as usize].as_mut().expect("node").handle_message(now, from, msg, &mut self.outbox)
                }
            }
            Role::Origin(o) => self.origins[o as usize].handle_message(from, msg, &mut self.outbox),
            Role::None => panic!("message to {to}, which has no role"),
        }
        self.flush(now, to);
    }

    /// Bytes of the next item of `job` that `host` has received so far over its incoming
    /// stream (what a server sees on its disk while an item is in progress).
    fn incoming_partial_bytes(&mut self, now: SimTime, host: HostId, job: JobId) -> u64 {
        let Some(state) = self.nodes[host.0 as usize].as_ref().and_then(|n| n.job(job)) else { return 0 };
        let Some(src) = state.source.map(|(h, _)| h) else { return 0 };
        let Some(id) = self.find_stream(src, host, job) else { return 0 };
        let (next, skip, flow) = {
            let s = &self.streams[id as usize];
            (s.next, s.skip, s.flow())
        };
        match flow {
            Some(flow) => {
                let total = (self.item_bytes(job, next) - skip) as f64;
                let sent = (total - self.flows.remaining(flow, now)).round().clamp(0.0, total) as u64;
                skip + sent
            }
            None => skip,
        }
    }

    // Control-plane transport -----------------------------------------------------------------

    /// Sends `msg` from `from` to `to` over the reliable control channel (see [`transport`]).
    fn send_message(&mut self, now: SimTime, from: HostId, to: HostId, msg: Message) {
        if self.transport.duplicate_pending(from, to, &msg) {
            return;
        }
        let incarnation = self.incarnation[from.0 as usize];
        let id = self.transport.add(now, from, to, msg, incarnation);
        if self.transport.blocked(from, to) {
            self.transport.wait_behind(id);
        } else {
            self.attempt(now, id);
        }
    }

    /// One attempt to deliver pending message `id`: lost (partition, cut link, loss process) —
    /// then it blocks its channel until a retransmission — or on the wire for the route's latency.
    /// Returns false when the attempt was lost.
    fn attempt(&mut self, now: SimTime, id: u32) -> bool {
        let (from, to, kind) = {
            let p = self.transport.get(id);
            (p.from, p.to, p.msg.kind_code())
        };
        let latency = self.topology.latency(from, to);
        if self.message_lost(from, to) {
            self.messages_lost += 1;
            let (rto, token) = self.transport.lost(id);
            self.queue.push(now + rto, Event::Retransmit { id, kind, token });
            return false;
        }
        if self.messages.is_some() || self.message_sink.is_some() {
            let record = MessageRecord {
                sent_at: now,
                arrives_at: now + latency,
                from,
                to,
                kind: self.transport.get(id).msg.kind_name(),
            };
            if let Some(sink) = &mut self.message_sink {
                sink.message(&record);
            }
            if let Some(log) = &mut self.messages {
                log.push(record);
            }
        }
        let token = self.transport.sent(id);
        self.queue.push(now + latency, Event::Deliver { id, kind, token });
        true
    }

    /// Attempts messages released from behind a channel's head, in order, until one blocks.
    fn release(&mut self, now: SimTime, released: Vec<u32>) {
        for (k, &id) in released.iter().enumerate() {
            if !self.attempt(now, id) {
                self.transport.requeue(&released[k + 1..]);
                return;
            }
        }
    }

    fn on_deliver(&mut self, now: SimTime, id: u32) {
        if self.transport.blocked_by_other(id) {
            self.transport.wait_behind(id); // an earlier message of the channel is being retried
            return;
        }
        let (from, to) = (self.transport.get(id).from, self.transport.get(id).to);
        if self.presence[to.0 as usize] != Presence::In {
            // The receiver is not in the network (it has not joined yet, or it left): the
            // connection is refused and the sender knows at once.
            let (p, released) = self.transport.finish(id);
            if self.hosts[from.0 as usize].up {
                self.on_undeliverable(now, from, to, p.msg);
            }
            self.release(now, released);
            return;
        }
        if !self.hosts[to.0 as usize].up {
            // The receiver is down: the sender hears nothing back and retransmits.
            self.messages_lost += 1;
            let kind = self.transport.get(id).msg.kind_code();
            let (rto, token) = self.transport.lost(id);
            self.queue.push(now + rto, Event::Retransmit { id, kind, token });
            return;
        }
        let (p, released) = self.transport.finish(id);
        self.deliver(now, p.from, p.to, p.msg);
        self.release(now, released);
    }

    fn on_retransmit(&mut self, now: SimTime, id: u32) {
        let (from, to, incarnation) = {
            let p = self.transport.get(id);
            (p.from, p.to, p.incarnation)
        };
        if !self.hosts[from.0 as usize].up || self.incarnation[from.0 as usize] != incarnation {
            // The sender crashed: what it had not delivered is gone, the channel's queue too.
            let (_, released) = self.transport.drop_message(id);
            for q in released {
                self.transport.drop_message(q);
            }
            return;
        }
        if self.transport.expired(id, now) {
            self.transport.undeliverable += 1;
            let (p, released) = self.transport.drop_message(id);
            self.on_undeliverable(now, from, to, p.msg);
            self.release(now, released);
            return;
        }
        self.attempt(now, id);
    }

    /// The transport gave up on `msg` from `from` to `to`: its sender's role is told.
    fn on_undeliverable(&mut self, now: SimTime, from: HostId, to: HostId, msg: Message) {
        match self.hosts[from.0 as usize].role {
            Role::Node => {
                self.nodes[from.0 as usize].as_mut().expect("node").on_undeliverable(now, to, msg, &mut self.outbox)
            }
            Role::Base => self.base_server.as_mut().expect("bs").on_undeliverable(to, msg, &mut self.outbox),
            Role::Client(ci) => self.clients[ci as usize].on_undeliverable(&msg),
            Role::Origin(o) => self.origins[o as usize].on_undeliverable(to, msg, &mut self.outbox),
            Role::None => {}
        }
        self.flush(now, from);
    }

    /// Carries out the outputs `host`'s role just produced.
    #[inline]
    fn flush(&mut self, now: SimTime, host: HostId) {
        if !self.outbox.is_empty() {
            self.flush_outputs(now, host); // most calls have nothing: an item arrived, no news
        }
    }

    /// Carries out the outputs `flush` found.
    #[inline(never)]
    fn flush_outputs(&mut self, now: SimTime, host: HostId) {
        let mut outbox = std::mem::take(&mut self.outbox);
        for output in outbox.drain(..) {
            match output {
                Output::Send { to, msg } => self.send_message(now, host, to, msg),
                Output::OpenStream { to, job, from_item, from_byte } => {
                    if self.hosts[host.0 as usize].role == Role::Base && self.is_engine_driven(job) {
                        self.join_scheduled(now, job, to);
                    } else {
                        self.open_stream(now, host, to, job, from_item, from_byte);
                    }
                }
                Output::CloseIncoming { job, from } => self.break_stream(now, from, host, job),
                Output::CloseOutgoing { to, job } => {
                    self.refused.remove(&(host, to, job));
                    if let Some(id) = self.find_stream(host, to, job) {
                        self.abort_stream(now, id);
                    }
                }
                Output::Repair { job, host: target, worked } => self.repair(now, job, target, worked),
                Output::SetTimer { after, timer } => {
                    let incarnation = self.incarnation[host.0 as usize];
                    self.timer_serial += 1;
                    let serial = self.timer_serial;
                    self.timers.insert((host, timer), serial);
                    self.queue.push(now + after, Event::Timer { host, timer, incarnation, serial })
                }
                Output::CancelTimer { timer } => {
                    self.timers.remove(&(host, timer));
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

    /// Items of `job` held at `host`: all a stream needs to know while it is behind its source
    /// (every item sent). Completeness ([`Self::drained`]) is only asked once it has caught up:
    /// at 10^5 servers each field is another cache miss on the source's job record.
    #[inline(always)]
    fn held(&self, host: HostId, job: JobId) -> u32 {
        match self.hosts[host.0 as usize].role {
            Role::Base => self.base_server.as_ref().expect("base server").held(job),
            Role::Client(ci) => self.clients[ci as usize].held(job),
            Role::Node => self.nodes[host.0 as usize].as_ref().expect("node").held(job),
            Role::Origin(o) => self.origins[o as usize].held(job),
            Role::None => 0,
        }
    }

    /// For a stream that has sent everything `host` holds of `job`: `Some(log complete)` when
    /// no more content is coming (the stream drains), `None` while it is (the stream stalls).
    #[inline(always)]
    fn drained(&self, host: HostId, job: JobId) -> Option<bool> {
        match self.hosts[host.0 as usize].role {
            Role::Base => {
                let bs = self.base_server.as_ref().expect("base server");
                bs.content_complete(job).then(|| bs.log_complete(job))
            }
            Role::Client(ci) => {
                let c = &self.clients[ci as usize];
                c.content_complete(job).then(|| c.log_complete(job))
            }
            // (A stalled stream's source is mostly a node without all content: one line read.)
            Role::Node => self.nodes[host.0 as usize].as_ref().expect("node").drained_state(job),
            Role::Origin(o) => {
                let origin = &self.origins[o as usize];
                origin.content_complete(job).then(|| origin.log_complete(job))
            }
            Role::None => None,
        }
    }

    #[inline(always)]
    fn item_bytes(&self, job: JobId, index: u32) -> u64 {
        match self.item(job, index) {
            Item::Chunk(k) => {
                let (most, last, last_index) = self.chunk_sizes[job.0 as usize];
                let bytes = if *k == last_index { last } else { most };
                debug_assert_eq!(bytes, self.client_job(job).request.content.chunk_bytes(*k), "chunk size table");
                bytes
            }
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
        if self.refused.contains(&(src, dst, job)) {
            return; // the receiver released this source before its stream opened
        }
        if let Some(old) = self.find_stream(src, dst, job) {
            // A receiver asking again (after a reactivation) replaces its stream from here.
            self.abort_stream(now, old);
        }
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
            in_flight: 0,
            arrived_items: 0,
            sending: Sending::Idle,
            skip: from_byte,
            latency: route.latency,
            arrived_bytes: 0,
            last_arrival: SimTime::ZERO,
        };
        let id = slab_insert(&mut self.streams, &mut self.free_streams, stream);
        let cold = StreamCold { route, record, first_arrival: SimTime::ZERO };
        match self.streams_cold.get_mut(id as usize) {
            Some(slot) => *slot = cold,
            None => self.streams_cold.push(cold),
        }
        self.out_streams[src.0 as usize].push(OutStream { stream: id, flow: NO_FLOW_YET });
        self.open_streams.insert((src, dst, job), id);
        self.hosts[src.0 as usize].sending = true;
        self.last_incoming.insert((dst, job), id);
        if !self.hosts[dst.0 as usize].up || !self.hosts[src.0 as usize].up || self.partitioned(src, dst) {
            // The connection cannot be made: both ends learn it at once.
            self.cut_stream(now, id);
            return;
        }
        self.advance(now, id);
    }

    /// True when `a` and `b` are on different sides of a partition.
    fn partitioned(&self, a: HostId, b: HostId) -> bool {
        let (x, y) = (self.side[a.0 as usize], self.side[b.0 as usize]);
        x != 0 && y != 0 && x != y
    }

    /// Decides what a stream without a flow does next: send the next item, stay stalled, or
    /// drain (pause or finish) and tell the source's role.
    #[inline(always)]
    fn advance(&mut self, now: SimTime, id: u32) {
        let s = &self.streams[id as usize];
        if matches!(s.sending, Sending::Item(_) | Sending::Closed) {
            return;
        }
        let (job, src, dst, next) = (s.job, s.src, s.dst, s.next);
        if next < self.held(src, job) {
            let bytes = self.item_bytes(job, next) - self.streams[id as usize].skip;
            let flow = match self.streams[id as usize].sending {
                Sending::Parked(flow) => {
                    self.flows.resume_flow(now, flow, bytes as f64);
                    flow
                }
                _ => {
                    let flow =
                        self.flows.start_flow(now, &self.streams_cold[id as usize].route.resources, bytes as f64);
                    self.set_owner(flow, FlowOwner::Stream { stream: id, src, job });
                    if let Some(out) = self.out_streams[src.0 as usize].iter_mut().find(|o| o.stream == id) {
                        out.flow = flow.0;
                    }
                    flow
                }
            };
            self.streams[id as usize].sending = Sending::Item(flow);
            return;
        }
        if let Some(done) = self.drained(src, job) {
            // Everything the source holds is sent and no more content is coming: drain.
            self.close_stream(now, id);
            match self.hosts[src.0 as usize].role {
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
                Role::Origin(o) => self.origins[o as usize].on_stream_drained(job, dst, next, done, &mut self.outbox),
                Role::None => unreachable!("streams come from roles"),
            }
            self.flush(now, src);
        }
    }

    fn close_stream(&mut self, now: SimTime, id: u32) {
        if let Sending::Parked(flow) = self.streams[id as usize].sending {
            self.flows.end_flow(now, flow);
        }
        let s = &mut self.streams[id as usize];
        debug_assert!(s.flow().is_none(), "a stream closes without a flow in progress");
        s.sending = Sending::Closed;
        let (src, dst, job) = (s.src, s.dst, s.job);
        let free = s.in_flight == 0;
        self.out_streams[src.0 as usize].retain(|o| o.stream != id);
        if self.open_streams.get(&(src, dst, job)) == Some(&id) {
            self.open_streams.remove(&(src, dst, job));
        }
        self.hosts[src.0 as usize].sending = !self.out_streams[src.0 as usize].is_empty();
        if free {
            self.settle_arrivals(id);
            self.free_streams.push(id);
        }
    }

    /// Moves stream `id`'s arrival tally into its record (before its slot is freed, and when
    /// the run stops).
    #[inline(always)]
    fn settle_arrivals(&mut self, id: u32) {
        let s = &mut self.streams[id as usize];
        let (items, bytes, last) = (s.arrived_items, s.arrived_bytes, s.last_arrival);
        if items == 0 {
            return;
        }
        (s.arrived_items, s.arrived_bytes) = (0, 0);
        let cold = &self.streams_cold[id as usize];
        let r = &mut self.stream_records[cold.record as usize];
        r.first_arrival.get_or_insert(cold.first_arrival);
        r.last_arrival = Some(last);
        r.chunks += items;
        r.bytes += bytes;
    }

    #[inline(always)]
    fn wake_streams(&mut self, now: SimTime, host: HostId, job: JobId) {
        debug_assert_eq!(self.hosts[host.0 as usize].sending, !self.out_streams[host.0 as usize].is_empty());
        if !self.hosts[host.0 as usize].sending {
            return; // most receivers (a tree's leaves) forward nothing: no list to look at
        }
        let mut i = 0;
        while i < self.out_streams[host.0 as usize].len() {
            let OutStream { stream: id, flow } = self.out_streams[host.0 as usize][i];
            debug_assert!(
                self.streams[id as usize].flow().is_none_or(|f| f.0 == flow),
                "the list names the stream's flow"
            );
            if self.streams[id as usize].job == job {
                self.advance(now, id);
            }
            // `advance` may drain (remove) this stream; only move on if it is still here.
            if self.out_streams[host.0 as usize].get(i).map(|o| o.stream) == Some(id) {
                i += 1;
            }
        }
    }

    /// Stops stream `id` now: its flow ends and it closes. Returns where the receiver can
    /// resume and how many bytes of the interrupted item it received.
    fn abort_stream(&mut self, now: SimTime, id: u32) -> (ResumePoint, u64) {
        let (job, next, skip, flow, record) = {
            let s = &self.streams[id as usize];
            (s.job, s.next, s.skip, s.flow(), self.streams_cold[id as usize].record)
        };
        let sent = match flow {
            Some(flow) => {
                let unsent = self.flows.end_flow(now, flow);
                self.streams[id as usize].sending = Sending::Idle;
                let total = (self.item_bytes(job, next) - skip) as f64;
                (total - unsent).round().clamp(0.0, total) as u64
            }
            None => 0,
        };
        self.stream_records[record as usize].bytes += sent;
        self.stream_records[record as usize].broken_at = Some(now);
        self.close_stream(now, id);
        (ResumePoint { item: next, byte: skip + sent }, sent)
    }

    fn find_stream(&self, src: HostId, dst: HostId, job: JobId) -> Option<u32> {
        let found = self.open_streams.get(&(src, dst, job)).copied();
        debug_assert_eq!(
            found,
            self.out_streams[src.0 as usize]
                .iter()
                .map(|o| o.stream)
                .find(|&id| self.streams[id as usize].dst == dst && self.streams[id as usize].job == job),
            "the index of open streams agrees with the lists"
        );
        found
    }

    /// The receiver `dst` breaks the stream of `job` from `src` now (a dynamic switch): the
    /// flow stops, and the receiver learns where to resume.
    fn break_stream(&mut self, now: SimTime, src: HostId, dst: HostId, job: JobId) {
        let (at, partial) = match self.find_stream(src, dst, job) {
            Some(id) => self.abort_stream(now, id),
            // The stream already sent everything it will send (items may still be on the wire:
            // resume after them), or was never opened (resume after what the receiver holds).
            None => {
                // A stream from `src` not yet opened (its acceptance is on its way) will be
                // refused when it comes, until `src` has heard of the release.
                self.refused.insert((src, dst, job));
                let held = self.nodes[dst.0 as usize].as_ref().map_or(0, |n| n.held(job));
                let on_wire = self
                    .last_incoming
                    .get(&(dst, job))
                    .map(|&id| &self.streams[id as usize])
                    .filter(|s| s.src == src && s.dst == dst && s.job == job && s.in_flight > 0)
                    .map_or(0, |s| s.next);
                (ResumePoint { item: held.max(on_wire), byte: 0 }, 0)
            }
        };
        let node = self.nodes[dst.0 as usize].as_mut().expect("switches happen at node servers");
        node.on_incoming_closed(now, job, src, at, partial, &mut self.outbox);
    }

    // Faults -----------------------------------------------------------------------------------

    /// Whether a message from `from` to `to` is lost: a partition between them, a cut link on
    /// their route, or the message-loss process.
    fn message_lost(&mut self, from: HostId, to: HostId) -> bool {
        if self.partitioned(from, to) {
            return true;
        }
        // The route is looked at only when some capacity is zero (at 10^5 servers its records
        // are cache misses, and every control message asks).
        if self.flows.any_zero_capacity() {
            let route = self.topology.route(from, to);
            if route.resources.iter().any(|&r| self.flows.capacity(r) == 0.0) {
                return true;
            }
        }
        let (p, only) = self.loss;
        p > 0.0 && only.is_none_or(|h| h == from || h == to) && self.loss_rng.gen_bool(p)
    }

    fn apply_fault(&mut self, now: SimTime, action: FaultAction) {
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
                        !s.closed() && a != 0 && b != 0 && a != b
                    })
                    .collect();
                for id in crossing {
                    self.cut_stream(now, id);
                }
                for job in self.scheduled_jobs() {
                    let side = self.side.clone();
                    self.abort_conns(now, job, |c| {
                        let (a, b) = (side[c.from.0 as usize], side[c.to.0 as usize]);
                        a != 0 && b != 0 && a != b
                    });
                    self.drive(now, job, |s, ctx| s.reachability_changed(ctx));
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
        match self.hosts[dst.0 as usize].role {
            Role::Node => {
                let node = self.nodes[dst.0 as usize].as_mut().expect("node");
                if self.hosts[dst.0 as usize].up {
                    node.on_source_lost(now, job, src, at, partial, &mut self.outbox);
                    self.flush(now, dst);
                } else {
                    node.note_interrupted(job, at, partial);
                }
            }
            Role::Base => {
                // The client's upload broke: the base server asks it to resume from here.
                self.base_server.as_mut().expect("bs").on_upload_lost(job, at, &mut self.outbox);
                self.flush(now, dst);
            }
            Role::Origin(o) => {
                // The origin's copy of the log broke: it asks for it again from here.
                self.origins[o as usize].on_source_lost(job, at, &mut self.outbox);
                self.flush(now, dst);
            }
            _ => {}
        }
        if self.hosts[src.0 as usize].up {
            match self.hosts[src.0 as usize].role {
                Role::Node => {
                    self.nodes[src.0 as usize].as_mut().expect("node").on_receiver_lost(job, dst, &mut self.outbox)
                }
                Role::Base => self.base_server.as_mut().expect("bs").on_receiver_lost(job, dst, &mut self.outbox),
                Role::Client(ci) => self.clients[ci as usize].on_upload_cut(job),
                Role::Origin(o) => self.origins[o as usize].on_receiver_lost(job, dst, &mut self.outbox),
                Role::None => {}
            }
            self.flush(now, src);
        }
    }

    /// A node server crashes: every stream from or to it stops at once, freeing capacity; its
    /// receivers look for another source; its state on disk stays.
    fn crash(&mut self, now: SimTime, host: HostId) {
        let h = host.0 as usize;
        if !self.hosts[h].up || self.hosts[h].role != Role::Node {
            return;
        }
        self.take_down(now, host);
    }

    /// `host` stops (a crash, or leaving the network): its transfers and connections end.
    fn take_down(&mut self, now: SimTime, host: HostId) {
        let h = host.0 as usize;
        self.hosts[h].up = false;
        self.incarnation[h] += 1;
        // Its pending releases will never be heard: forget them (the result does not depend on
        // the order of removal).
        self.refused.retain(|&(src, _, _)| src != host);
        let affected: Vec<u32> = (0..self.streams.len() as u32)
            .filter(|&id| {
                let s = &self.streams[id as usize];
                !s.closed() && (s.src == host || s.dst == host)
            })
            .collect();
        for id in affected {
            self.cut_stream(now, id);
        }
        for job in self.scheduled_jobs() {
            self.abort_conns(now, job, |c| c.from == host || c.to == host);
            self.drive(now, job, |s, ctx| s.left(ctx, host));
        }
        self.nodes[h].as_mut().expect("node").on_crash();
    }

    /// A crashed node server is back (by itself or repaired). A server not in the network
    /// (churn) does not come back.
    fn recover(&mut self, now: SimTime, host: HostId) {
        let h = host.0 as usize;
        if self.hosts[h].up || self.presence[h] != Presence::In {
            return;
        }
        self.hosts[h].up = true;
        self.nodes[h].as_mut().expect("node").on_recover(now, &mut self.outbox);
        self.flush(now, host);
        // Senders that were retrying towards it connect again at once.
        for id in self.transport.retry_towards(host) {
            self.on_retransmit(now, id);
        }
    }

    // Churn -------------------------------------------------------------------------------------

    /// A node server joins the network: it is up from now on and asks the base server for its
    /// jobs; senders that were retrying towards it connect at once.
    fn join(&mut self, now: SimTime, host: HostId) {
        let h = host.0 as usize;
        if self.presence[h] != Presence::NotYet {
            return;
        }
        self.presence[h] = Presence::In;
        self.hosts[h].up = true;
        if let Some(bs) = self.built.base_server {
            self.nodes[h].as_mut().expect("churn names node servers").on_join(bs, &mut self.outbox);
            self.flush(now, host);
        }
        for id in self.transport.retry_towards(host) {
            self.on_retransmit(now, id);
        }
    }

    /// A node server leaves the network for good (churn, not a fault): if it is up it tells the
    /// base server and hands back what it had not approached, then it stops like a crashed
    /// host that never comes back.
    fn leave(&mut self, now: SimTime, host: HostId) {
        let h = host.0 as usize;
        if self.presence[h] == Presence::Gone {
            return;
        }
        let was_up = self.hosts[h].up;
        if was_up {
            self.nodes[h].as_mut().expect("churn names node servers").on_leave(&mut self.outbox);
            self.flush(now, host);
        }
        self.presence[h] = Presence::Gone;
        if was_up {
            self.take_down(now, host);
        }
    }

    /// A server that leaves once done: when every job it holds is done, its departure is
    /// scheduled after its seeding time.
    fn maybe_leave_when_done(&mut self, now: SimTime, host: HostId) {
        let Some(&seed) = self.built.churn.leave_when_done.get(&host) else { return };
        let done = self.nodes[host.0 as usize].as_ref().is_some_and(|n| n.all_done());
        if done && self.presence[host.0 as usize] == Presence::In && self.leaving.insert(host) {
            self.queue.push(now + seed, Event::Leave { host });
        }
    }

    /// The base server's repair attempt on `host` ended (\[0076\]). A host found running needed no
    /// repair (it came back by itself, or only its answers were lost on the way); a crashed host
    /// comes back if the attempt worked and it can be repaired at all.
    fn repair(&mut self, now: SimTime, job: JobId, host: HostId, worked: bool) {
        let h = host.0 as usize;
        let outcome = if self.presence[h] == Presence::Gone {
            RepairOutcome::Departed
        } else if self.presence[h] == Presence::NotYet {
            RepairOutcome::Absent
        } else if self.hosts[h].up {
            RepairOutcome::NotNeeded
        } else if worked && self.repairable[h] {
            self.recover(now, host);
            RepairOutcome::Fixed
        } else {
            RepairOutcome::Failed
        };
        let bs = self.base_server.as_mut().expect("repairs come from the base server");
        bs.on_repair_result(now, job, host, outcome, &mut self.outbox);
    }

    #[inline(always)]
    fn on_flow_completed(&mut self, now: SimTime, flow: FlowId) {
        match self.flow_owner[flow.0 as usize] {
            FlowOwner::Transfer(transfer) => {
                self.trace.record(&[now.as_nanos(), 7, transfer as u64, 0]);
                self.flows.end_flow(now, flow);
                let t = &self.transfers[transfer as usize];
                let latency = self.topology.route(t.from, t.to).latency;
                self.queue.push(now + latency, Event::TransferArrives { transfer });
            }
            FlowOwner::Stream { stream: id, src, job } => {
                // Asked first, so that at 10^5 servers the two cache misses overlap.
                let held = self.held(src, job);
                let (dst, index, skip, latency) = {
                    let s = &self.streams[id as usize];
                    debug_assert_eq!((s.src, s.job), (src, job), "a flow names its stream's source and job");
                    (s.dst, s.next, s.skip, s.latency)
                };
                self.trace.record(&[now.as_nanos(), 8, id as u64, index as u64]);
                let bytes = self.item_bytes(job, index) - skip;
                let s = &mut self.streams[id as usize];
                s.next += 1;
                s.skip = 0;
                s.in_flight += 1;
                let next = s.next;
                self.queue.push(now + latency, Event::ItemArrives { stream: id, index, bytes, dst, job });
                if next < held {
                    let bytes = self.item_bytes(job, next) as f64;
                    self.flows.extend_flow(now, flow, bytes);
                } else {
                    // Stalled until the source receives item `next`: the flow waits, paused.
                    self.flows.pause_flow(now, flow);
                    self.streams[id as usize].sending = Sending::Parked(flow);
                    self.advance(now, id);
                }
                self.maybe_grow_fanout(now, src, job);
            }
            FlowOwner::Conn(id) => self.on_piece_sent(now, id),
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
            if let Some(flow) = self.streams[self.out_streams[host.0 as usize][i].stream as usize].flow() {
                used += self.flows.rate(flow);
            }
        }
        if used < ADAPTIVE_UTILISATION * capacity {
            self.nodes[host.0 as usize].as_mut().expect("node").grow_fanout(job, &mut self.outbox);
            self.flush(now, host);
        }
    }

    // Engine-driven strategies ----------------------------------------------------------------

    fn is_engine_driven(&self, job: JobId) -> bool {
        crate::strategy::by_kind(self.client_job(job).request.strategy.kind).engine_driven()
    }

    /// Jobs with a piece scheduler, in id order.
    fn scheduled_jobs(&self) -> Vec<JobId> {
        (0..self.schedulers.len() as u32).filter(|&j| self.schedulers[j as usize].is_some()).map(JobId).collect()
    }

    /// Calls `job`'s scheduler (if it has one) and carries out its answers.
    fn drive(&mut self, now: SimTime, job: JobId, f: impl FnOnce(&mut dyn PieceScheduler, &mut Ctx)) {
        let Some(mut scheduler) = self.schedulers.get_mut(job.0 as usize).and_then(Option::take) else {
            return;
        };
        let mut actions = std::mem::take(&mut self.actions);
        {
            let bs = self.base_server.as_ref().expect("engine-driven jobs need a base server");
            let split = self.packets_of(job);
            let final_pieces = bs.log_complete(job).then(|| bs.held(job) * split);
            let (client, ticket) = self.job_client[job.0 as usize];
            let client_job = &self.clients[client as usize].jobs()[ticket as usize];
            let mut world = EngineWorld {
                job,
                now,
                flows: &mut self.flows,
                hosts: &self.hosts,
                side: &self.side,
                conns: &self.conns,
                conn_lookup: &self.conn_lookup,
                log: &client_job.log,
                content: &client_job.request.content,
                final_pieces,
                split,
            };
            let mut ctx = Ctx { now, world: &mut world, actions: &mut actions };
            f(scheduler.as_mut(), &mut ctx);
        }
        self.schedulers[job.0 as usize] = Some(scheduler);
        for action in actions.drain(..) {
            self.apply_action(now, job, action);
        }
        self.actions = actions;
    }

    fn apply_action(&mut self, now: SimTime, job: JobId, action: Action) {
        match action {
            Action::Upload { from, to, piece } => {
                let id = self.conn(now, job, from, to);
                let bytes = self.piece_bytes(job, piece);
                let c = &mut self.conns[id as usize];
                assert!(c.piece.is_none(), "{job}: a second upload on the busy connection {from} -> {to}");
                c.piece = Some(piece);
                c.piece_bytes = bytes;
                c.started_at = now;
                match c.flow {
                    Some(flow) => self.flows.extend_flow(now, flow, bytes as f64),
                    None => {
                        let flow = self.flows.start_flow(now, &c.route.resources, bytes as f64);
                        self.conns[id as usize].flow = Some(flow);
                        self.set_owner(flow, FlowOwner::Conn(id));
                    }
                }
            }
            Action::Cancel { from, to } => {
                if let Some(&id) = self.conn_lookup.get(&(job, from, to)) {
                    self.cut_conn(now, id);
                }
            }
            Action::Timer { after, token } => {
                self.queue.push(now + after, Event::SchedulerTimer { job: job.0, token });
            }
        }
    }

    /// The connection of `job` from `from` to `to`, opened (with its stream record) on first use.
    fn conn(&mut self, now: SimTime, job: JobId, from: HostId, to: HostId) -> u32 {
        if let Some(&id) = self.conn_lookup.get(&(job, from, to)) {
            return id;
        }
        self.stream_records.push(StreamRecord {
            job,
            src: from,
            dst: to,
            opened_at: now,
            first_arrival: None,
            last_arrival: None,
            chunks: 0,
            bytes: 0,
            broken_at: None,
        });
        let route = self.topology.route(from, to);
        let record = self.stream_records.len() as u32 - 1;
        self.conns.push(Conn {
            job,
            from,
            to,
            flow: None,
            piece: None,
            piece_bytes: 0,
            started_at: now,
            sent: 0,
            route,
            record,
        });
        let id = self.conns.len() as u32 - 1;
        self.conn_index.insert((job, from, to), id);
        self.conn_lookup.insert((job, from, to), id);
        id
    }

    /// Stops the piece in progress on connection `id` (its bytes are lost); returns the piece.
    fn cut_conn(&mut self, now: SimTime, id: u32) -> Option<u32> {
        let c = &mut self.conns[id as usize];
        let piece = c.piece.take()?;
        let flow = c.flow.take().expect("a piece in progress has a flow");
        let unsent = self.flows.end_flow(now, flow);
        let c = &mut self.conns[id as usize];
        c.sent += (c.piece_bytes as f64 - unsent).round().clamp(0.0, c.piece_bytes as f64) as u64;
        Some(piece)
    }

    /// Cuts every connection of `job` that `cut` selects and tells the scheduler.
    fn abort_conns(&mut self, now: SimTime, job: JobId, cut: impl Fn(&Conn) -> bool) {
        let ids: Vec<u32> = self
            .conn_index
            .range((job, HostId(0), HostId(0))..=(job, HostId(u32::MAX), HostId(u32::MAX)))
            .map(|(_, &id)| id)
            .filter(|&id| cut(&self.conns[id as usize]))
            .collect();
        for id in ids {
            if let Some(piece) = self.cut_conn(now, id) {
                let (from, to) = (self.conns[id as usize].from, self.conns[id as usize].to);
                self.drive(now, job, |s, ctx| s.upload_aborted(ctx, from, to, piece));
            }
        }
    }

    /// `peer` accepted the base server's offer of an engine-driven job (or came back): it
    /// joins the job's scheduler, created with the first peer, the base server holding what it
    /// holds.
    fn join_scheduled(&mut self, now: SimTime, job: JobId, peer: HostId) {
        let bs = self.base_server.as_ref().expect("engine-driven jobs need a base server");
        let origin = bs.host();
        if self.schedulers.get(job.0 as usize).is_none_or(Option::is_none) {
            let object = &bs.job(job).object;
            let module = crate::strategy::by_kind(object.strategy.kind);
            // The other origins take part as peers holding what they hold (see
            // `protocol::origin`).
            let servers: Vec<HostId> = object.servers.iter().copied().chain(bs.origins().iter().copied()).collect();
            let setup = SchedulerSetup {
                origin,
                servers: &servers,
                hosts: &self.built.hosts,
                config: object.strategy,
                chunks: object.content.chunks,
                rng: RngStreams::new(self.built.seed).stream(StreamId::Entity(1, job.0)),
            };
            let scheduler = module.scheduler(setup).expect("engine-driven strategies have a scheduler");
            if self.schedulers.len() <= job.0 as usize {
                self.schedulers.resize_with(job.0 as usize + 1, || None);
                self.packets_per_item.resize(job.0 as usize + 1, 1);
            }
            self.packets_per_item[job.0 as usize] = scheduler.packets_per_item().clamp(1, MAX_PACKETS_PER_ITEM);
            self.schedulers[job.0 as usize] = Some(scheduler);
            for item in 0..bs.held(job) {
                self.gained_item(now, job, origin, item);
            }
        }
        self.drive(now, job, |s, ctx| s.joined(ctx, peer));
        if let Role::Origin(o) = self.hosts[peer.0 as usize].role {
            for item in 0..self.origins[o as usize].held(job) {
                self.gained_item(now, job, peer, item);
            }
        }
    }

    /// Packets per item of engine-driven `job` (1: whole items).
    fn packets_of(&self, job: JobId) -> u32 {
        self.packets_per_item.get(job.0 as usize).copied().unwrap_or(1)
    }

    /// Bytes of piece `piece` of engine-driven `job`: an item, or one of its packets.
    fn piece_bytes(&self, job: JobId, piece: u32) -> u64 {
        let split = self.packets_of(job);
        packet_bytes(self.item_bytes(job, piece / split), split, piece % split)
    }

    /// Tells `job`'s scheduler that `host` holds every piece of item `item`.
    fn gained_item(&mut self, now: SimTime, job: JobId, host: HostId, item: u32) {
        let split = self.packets_of(job);
        for piece in item * split..(item + 1) * split {
            self.drive(now, job, |s, ctx| s.gained(ctx, host, piece));
        }
    }

    fn on_piece_sent(&mut self, now: SimTime, id: u32) {
        self.trace.record(&[now.as_nanos(), 10, id as u64, 0]);
        let c = &mut self.conns[id as usize];
        let piece = c.piece.take().expect("a finished flow carried a piece");
        c.sent += c.piece_bytes;
        let (job, from, to) = (c.job, c.from, c.to);
        self.piece_log.push(PieceRecord {
            job,
            from,
            to,
            piece,
            bytes: c.piece_bytes,
            started_at: c.started_at,
            sent_at: now,
        });
        self.queue.push(now + c.route.latency, Event::PieceArrives { conn: id, piece });
        self.drive(now, job, |s, ctx| s.upload_finished(ctx, from, to, piece));
        let c = &mut self.conns[id as usize];
        if c.piece.is_none() {
            if let Some(flow) = c.flow.take() {
                self.flows.end_flow(now, flow);
            }
        }
    }

    fn on_piece_arrives(&mut self, now: SimTime, id: u32, piece: u32) {
        let Conn { job, from, to, record, .. } = self.conns[id as usize].clone();
        if !self.hosts[to.0 as usize].up {
            self.drive(now, job, |s, ctx| s.lost(ctx, to, piece));
            return;
        }
        let split = self.packets_of(job);
        let index = piece / split;
        let r = &mut self.stream_records[record as usize];
        r.first_arrival.get_or_insert(now);
        r.last_arrival = Some(now);
        // A packet: the item reaches the server's role with its last packet (in any order).
        let whole = split == 1 || {
            let full = u64::MAX >> (64 - split);
            let mask = self.partial_items.entry((job, to, index)).or_insert(0);
            *mask |= 1 << (piece % split);
            let whole = *mask == full;
            if whole {
                self.partial_items.remove(&(job, to, index));
            }
            whole
        };
        let item_bytes = self.item_bytes(job, index);
        let r = &mut self.stream_records[record as usize];
        r.bytes += packet_bytes(item_bytes, split, piece % split);
        if whole {
            r.chunks += 1;
            let item = self.item(job, index).clone();
            if let Role::Origin(o) = self.hosts[to.0 as usize].role {
                self.origins[o as usize].on_item(job, index, item, &mut self.outbox);
            } else {
                let arrival = Arrival { job, index, item, from, bytes: item_bytes };
                let node = self.nodes[to.0 as usize].as_mut().expect("peers are node servers or origins");
                node.on_item(now, arrival, &mut self.outbox);
            }
            self.flush(now, to);
        }
        self.drive(now, job, |s, ctx| s.gained(ctx, to, piece));
    }

    #[inline(always)]
    fn on_item_arrives(&mut self, now: SimTime, id: u32, index: u32, bytes: u64, dst: HostId, job: JobId) {
        let up = self.hosts[dst.0 as usize].up;
        let s = &mut self.streams[id as usize];
        debug_assert_eq!((s.dst, s.job), (dst, job), "an arrival names its stream's receiver and job");
        let src = s.src;
        s.in_flight -= 1;
        if up {
            if s.arrived_items == 0 {
                self.streams_cold[id as usize].first_arrival = now;
            }
            s.last_arrival = now;
            s.arrived_items += 1;
            s.arrived_bytes += bytes;
        }
        if s.closed() && s.in_flight == 0 {
            self.settle_arrivals(id);
            self.free_streams.push(id);
        }
        if !up {
            return; // the receiver crashed while the item was on its way
        }
        let item = self.item(job, index).clone();
        match self.hosts[dst.0 as usize].role {
            Role::Base => self.base_server.as_mut().expect("bs").on_item(now, job, index, &item, &mut self.outbox),
            Role::Node => {
                let arrival = Arrival { job, index, item, from: src, bytes };
                let node = self.nodes[dst.0 as usize].as_mut().expect("node");
                node.on_item(now, arrival, &mut self.outbox);
            }
            Role::Origin(o) => self.origins[o as usize].on_item(job, index, item, &mut self.outbox),
            _ => unreachable!("streams go to the base server, origins or node servers"),
        }
        self.flush(now, dst);
        self.wake_streams(now, dst, job);
        if self.hosts[dst.0 as usize].role == Role::Base {
            self.gained_item(now, job, dst, index);
        }
    }
}

/// What a piece scheduler sees of the engine during one call.
struct EngineWorld<'a> {
    job: JobId,
    now: SimTime,
    flows: &'a mut FlowModel,
    hosts: &'a [HostSlot],
    side: &'a [u32],
    conns: &'a [Conn],
    conn_lookup: &'a FxHashMap<(JobId, HostId, HostId), u32>,
    log: &'a [Item],
    content: &'a crate::protocol::job::ContentSpec,
    final_pieces: Option<u32>,
    /// Packets per item.
    split: u32,
}

impl World for EngineWorld<'_> {
    fn reachable(&self, a: HostId, b: HostId) -> bool {
        let (sa, sb) = (self.side[a.0 as usize], self.side[b.0 as usize]);
        self.hosts[a.0 as usize].up && self.hosts[b.0 as usize].up && (sa == 0 || sb == 0 || sa == sb)
    }

    fn bytes_sent(&mut self, from: HostId, to: HostId) -> u64 {
        let Some(&id) = self.conn_lookup.get(&(self.job, from, to)) else { return 0 };
        let c = &self.conns[id as usize];
        let in_progress = match c.flow {
            Some(flow) if c.piece.is_some() => {
                let left = self.flows.remaining(flow, self.now);
                (c.piece_bytes as f64 - left).round().clamp(0.0, c.piece_bytes as f64) as u64
            }
            _ => 0,
        };
        c.sent + in_progress
    }

    fn piece_bytes(&self, piece: u32) -> u64 {
        let item = match self.log.get((piece / self.split) as usize) {
            Some(Item::Chunk(k)) => self.content.chunk_bytes(*k),
            Some(Item::Command(c)) => c.data_bytes,
            None => 0,
        };
        packet_bytes(item, self.split, piece % self.split)
    }

    fn final_pieces(&self) -> Option<u32> {
        self.final_pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_stream_reads_on_every_item_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Stream>(), 64);
        assert_eq!(std::mem::align_of::<Stream>(), 64);
    }

    #[test]
    fn an_arrival_carries_its_receiver_without_growing_the_events() {
        // The receiver and job copied into `ItemArrives` fit beside the timer's fields: every
        // queued event is still 32 bytes.
        assert_eq!(std::mem::size_of::<Event>(), 32);
    }
}
