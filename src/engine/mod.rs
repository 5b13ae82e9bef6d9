//! The engine: runs the sans-IO protocol roles on the kernel's virtual clock over the network
//! model.
//!
//! It owns the event queue, the flow model and topology, and one state machine per role. It
//! carries out the roles' outputs: a [`Message`] is delivered after its route's latency; a
//! stream ([`Output::OpenStream`]) is carried chunk by chunk as one flow of the bandwidth model.
//! A stream sends chunk *k* only once its source holds chunk *k* (pipelining, [0044]); when the
//! flow has sent a chunk it either continues with the next at the same rate (no re-solve), or,
//! when the source does not hold the next chunk yet, stalls until it does. Each chunk arrives
//! at the receiver one route latency after its last byte left the sender.
//!
//! Ordering: the next event is the earlier of the queue's head and the flow model's next
//! completion; at equal times flow completions go first, then queued events in insertion order.
//! Every processed event is folded into the run's [`TraceHash`].

use crate::kernel::{EventQueue, SimTime, TraceHash};
use crate::net::{FlowId, FlowModel, HostId, Route, Topology};
use crate::protocol::base_server::BaseServer;
use crate::protocol::client::Client;
use crate::protocol::job::JobId;
use crate::protocol::message::{Message, Outbox, Output};
use crate::protocol::node_server::NodeServer;
use crate::scenario::Built;
use std::rc::Rc;

/// Something scheduled on the virtual clock.
#[derive(Debug)]
enum Event {
    /// A client requests its `ticket`-th job.
    ClientRequest { client: u32, ticket: u32 },
    /// A control message arrives.
    Deliver {
        from: HostId,
        to: HostId,
        msg: Message,
    },
    /// A chunk of a stream arrives at the receiver.
    ChunkArrives { stream: u32, chunk: u32 },
    /// The base server has produced the next chunk of a live job.
    ChunkProduced { job: JobId },
    /// A raw transfer starts.
    TransferStarts { transfer: u32 },
    /// The last byte of a raw transfer arrives.
    TransferArrives { transfer: u32 },
}

impl Event {
    fn trace_words(&self, time: SimTime) -> [u64; 4] {
        let t = time.as_nanos();
        match self {
            Event::ClientRequest { client, ticket } => [t, 1, *client as u64, *ticket as u64],
            Event::Deliver { from, to, msg } => {
                [t, 2 | msg.kind_code() << 8, from.0 as u64, to.0 as u64]
            }
            Event::ChunkArrives { stream, chunk } => [t, 3, *stream as u64, *chunk as u64],
            Event::ChunkProduced { job } => [t, 4, job.0 as u64, 0],
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
}

/// A stream of one job's content from a source to a receiver.
#[derive(Debug, Clone)]
pub struct Stream {
    /// The job.
    pub job: JobId,
    /// Sending host.
    pub src: HostId,
    /// Receiving host.
    pub dst: HostId,
    /// Next chunk to send.
    pub next_chunk: u32,
    /// The flow carrying the current chunk; `None` while stalled or after the last chunk.
    flow: Option<FlowId>,
    route: Rc<Route>,
    /// Content bytes this stream has sent.
    pub bytes_sent: u64,
    /// Index of this stream's [`StreamRecord`].
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
    /// When the first chunk arrived.
    pub first_arrival: Option<SimTime>,
    /// When the latest chunk arrived.
    pub last_arrival: Option<SimTime>,
    /// Chunks delivered.
    pub chunks: u32,
    /// Content bytes delivered.
    pub bytes: u64,
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

/// A simulation in progress or finished: the world plus the clock.
pub struct Engine {
    queue: EventQueue<Event>,
    flows: FlowModel,
    topology: Topology,
    flow_owner: Vec<FlowOwner>,
    streams: Vec<Stream>,
    free_streams: Vec<u32>,
    /// Outgoing streams per host (open or stalled), to wake them when a chunk arrives.
    out_streams: Vec<Vec<u32>>,
    base_server: Option<BaseServer>,
    nodes: Vec<Option<NodeServer>>,
    clients: Vec<Client>,
    client_of_host: Vec<Option<u32>>,
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
        let mut nodes: Vec<Option<NodeServer>> = vec![None; host_count];
        for &h in &built.node_servers {
            nodes[h.0 as usize] = Some(NodeServer::new(h, built.hosts[h.0 as usize].upload_bps));
        }
        let base_server = built
            .base_server
            .map(|h| BaseServer::new(h, built.hosts[h.0 as usize].upload_bps));
        let mut queue = EventQueue::new();
        let mut clients = Vec::new();
        let mut client_of_host = vec![None; host_count];
        for (ci, c) in built.clients.iter().enumerate() {
            client_of_host[c.host.0 as usize] = Some(ci as u32);
            let bs = built
                .base_server
                .expect("validated: jobs need a base server");
            clients.push(Client::new(
                c.name.clone(),
                bs,
                c.jobs.iter().map(|(_, r)| r.clone()).collect(),
            ));
            for (ticket, (at, _)) in c.jobs.iter().enumerate() {
                queue.push(
                    *at,
                    Event::ClientRequest {
                        client: ci as u32,
                        ticket: ticket as u32,
                    },
                );
            }
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
            base_server,
            nodes,
            clients,
            client_of_host,
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
            let next_flow = self.flows.next_completion();
            let next_event = self.queue.peek_time();
            let flow_first = match (next_flow, next_event) {
                (None, None) => break,
                (Some(f), Some(e)) => f <= e,
                (f, _) => f.is_some(),
            };
            let now = if flow_first {
                next_flow.unwrap()
            } else {
                next_event.unwrap()
            };
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
            Event::ClientRequest { client, ticket } => {
                let host = self.built.clients[client as usize].host;
                self.clients[client as usize].request_job(now, ticket, &mut self.outbox);
                self.flush(now, host);
            }
            Event::Deliver { from, to, msg } => self.deliver(now, from, to, msg),
            Event::ChunkArrives { stream, chunk } => self.on_chunk_arrives(now, stream, chunk),
            Event::ChunkProduced { job } => {
                let bs = self
                    .base_server
                    .as_mut()
                    .expect("live job without base server");
                bs.on_chunk_produced(job);
                let (host, held, content) = (bs.host(), bs.held(job), bs.content(job).clone());
                if held < content.chunks {
                    let created = bs.job(job).created_at;
                    self.queue.push(
                        content.produced_at(created, held),
                        Event::ChunkProduced { job },
                    );
                }
                self.wake_streams(now, host, job);
            }
            Event::TransferStarts { transfer } => {
                let t = &self.transfers[transfer as usize];
                let route = self.topology.route(t.from, t.to);
                let flow = self.flows.start_flow(now, &route.resources, t.bytes as f64);
                self.set_owner(flow, FlowOwner::Transfer(transfer));
            }
            Event::TransferArrives { transfer } => {
                self.transfers[transfer as usize].finished_at = Some(now)
            }
        }
    }

    fn deliver(&mut self, now: SimTime, from: HostId, to: HostId, msg: Message) {
        if let Some(client) = self.client_of_host[to.0 as usize] {
            self.clients[client as usize].handle_message(now, msg);
            return;
        }
        if let Some(bs) = self.base_server.as_mut().filter(|bs| bs.host() == to) {
            if let Some(job) = bs.handle_message(now, from, msg, &mut self.outbox) {
                let content = bs.content(job);
                if content.is_live() {
                    let at = content.produced_at(now, 0);
                    self.queue.push(at, Event::ChunkProduced { job });
                }
            }
        } else {
            let node = self.nodes[to.0 as usize]
                .as_mut()
                .expect("message to a host without a role");
            node.handle_message(now, from, msg, &mut self.outbox);
        }
        self.flush(now, to);
    }

    /// Carries out the outputs `host`'s role just produced.
    fn flush(&mut self, now: SimTime, host: HostId) {
        let mut outbox = std::mem::take(&mut self.outbox);
        for output in outbox.drain(..) {
            match output {
                Output::Send { to, msg } => {
                    let latency = self.topology.route(host, to).latency;
                    self.queue.push(
                        now + latency,
                        Event::Deliver {
                            from: host,
                            to,
                            msg,
                        },
                    );
                }
                Output::OpenStream {
                    to,
                    job,
                    from_chunk,
                } => self.open_stream(now, host, to, job, from_chunk),
            }
        }
        self.outbox = outbox;
    }

    // Data plane -------------------------------------------------------------------------------

    fn held(&self, host: HostId, job: JobId) -> u32 {
        match &self.base_server {
            Some(bs) if bs.host() == host => bs.held(job),
            _ => self.nodes[host.0 as usize]
                .as_ref()
                .map_or(0, |n| n.held(job)),
        }
    }

    fn chunk_bytes(&self, job: JobId, chunk: u32) -> u64 {
        let bs = self.base_server.as_ref().expect("jobs need a base server");
        bs.content(job).chunk_bytes(chunk)
    }

    fn chunk_count(&self, job: JobId) -> u32 {
        self.base_server
            .as_ref()
            .expect("jobs need a base server")
            .content(job)
            .chunks
    }

    fn set_owner(&mut self, flow: FlowId, owner: FlowOwner) {
        let i = flow.0 as usize;
        if self.flow_owner.len() <= i {
            self.flow_owner.resize(i + 1, FlowOwner::None);
        }
        self.flow_owner[i] = owner;
    }

    fn open_stream(&mut self, now: SimTime, src: HostId, dst: HostId, job: JobId, from_chunk: u32) {
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
        });
        let stream = Stream {
            job,
            src,
            dst,
            next_chunk: from_chunk,
            flow: None,
            route,
            bytes_sent: 0,
            record,
        };
        let id = match self.free_streams.pop() {
            Some(id) => {
                self.streams[id as usize] = stream;
                id
            }
            None => {
                self.streams.push(stream);
                self.streams.len() as u32 - 1
            }
        };
        self.out_streams[src.0 as usize].push(id);
        self.try_send(now, id);
    }

    /// Starts the flow of a stalled stream if its source holds the next chunk.
    fn try_send(&mut self, now: SimTime, id: u32) {
        let s = &self.streams[id as usize];
        if s.flow.is_some()
            || s.next_chunk >= self.chunk_count(s.job)
            || self.held(s.src, s.job) <= s.next_chunk
        {
            return;
        }
        let bytes = self.chunk_bytes(s.job, s.next_chunk) as f64;
        let flow = self.flows.start_flow(now, &s.route.resources, bytes);
        self.streams[id as usize].flow = Some(flow);
        self.set_owner(flow, FlowOwner::Stream(id));
    }

    fn wake_streams(&mut self, now: SimTime, host: HostId, job: JobId) {
        for i in 0..self.out_streams[host.0 as usize].len() {
            let id = self.out_streams[host.0 as usize][i];
            if self.streams[id as usize].job == job {
                self.try_send(now, id);
            }
        }
    }

    fn on_flow_completed(&mut self, now: SimTime, flow: FlowId) {
        match self.flow_owner[flow.0 as usize] {
            FlowOwner::Transfer(transfer) => {
                self.trace.record(&[now.as_nanos(), 7, transfer as u64, 0]);
                self.flows.end_flow(now, flow);
                let t = &self.transfers[transfer as usize];
                let latency = self.topology.route(t.from, t.to).latency;
                self.queue
                    .push(now + latency, Event::TransferArrives { transfer });
            }
            FlowOwner::Stream(id) => {
                self.trace.record(&[
                    now.as_nanos(),
                    8,
                    id as u64,
                    self.streams[id as usize].next_chunk as u64,
                ]);
                let (job, src, chunk) = {
                    let s = &self.streams[id as usize];
                    (s.job, s.src, s.next_chunk)
                };
                let bytes = self.chunk_bytes(job, chunk);
                let s = &mut self.streams[id as usize];
                s.bytes_sent += bytes;
                s.next_chunk += 1;
                let (next, latency, dst) = (s.next_chunk, s.route.latency, s.dst);
                self.queue
                    .push(now + latency, Event::ChunkArrives { stream: id, chunk });
                if next < self.chunk_count(job) && self.held(src, job) > next {
                    let bytes = self.chunk_bytes(job, next) as f64;
                    self.flows.extend_flow(now, flow, bytes);
                    return;
                }
                self.flows.end_flow(now, flow);
                self.streams[id as usize].flow = None;
                if next == self.chunk_count(job) {
                    self.out_streams[src.0 as usize].retain(|&s| s != id);
                    match &mut self.base_server {
                        Some(bs) if bs.host() == src => {
                            bs.on_stream_sent(job, dst, &mut self.outbox)
                        }
                        _ => self.nodes[src.0 as usize]
                            .as_mut()
                            .expect("node")
                            .on_stream_sent(job, dst, &mut self.outbox),
                    }
                    self.flush(now, src);
                }
            }
            FlowOwner::None => unreachable!("completed flow without owner"),
        }
    }

    fn on_chunk_arrives(&mut self, now: SimTime, id: u32, chunk: u32) {
        let (job, src, dst, record) = {
            let s = &self.streams[id as usize];
            (s.job, s.src, s.dst, s.record)
        };
        let bytes = self.chunk_bytes(job, chunk);
        let r = &mut self.stream_records[record as usize];
        r.first_arrival.get_or_insert(now);
        r.last_arrival = Some(now);
        r.chunks += 1;
        r.bytes += bytes;
        let node = self.nodes[dst.0 as usize]
            .as_mut()
            .expect("streams go to node servers");
        node.on_chunk(now, job, chunk, src, &mut self.outbox);
        self.flush(now, dst);
        if chunk + 1 == self.chunk_count(job) {
            self.free_streams.push(id);
        }
        self.wake_streams(now, dst, job);
    }
}
