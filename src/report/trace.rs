//! `trace.json`: the run in Chrome's trace event format, to open in Perfetto or
//! chrome://tracing. One track (thread) per host; every stream is a span on its receiver's
//! track; every control message is an instant on its receiver's track at its arrival.
//!
//! A big run sends millions of control messages, so `cascade-sim run --trace` does not keep
//! them: a [`TraceSpool`] writes each message's event, as it is sent, to an unnamed temporary
//! file (see [`super::output::spool_file`]), and [`write_chrome_trace`] copies them into
//! `trace.json` after the stream spans, straight into the output's staging directory. A run
//! that recorded its messages in memory ([`Engine::record_messages`]) gives the same bytes.

use crate::engine::{Engine, MessageRecord, MessageSink};
use crate::kernel::SimTime;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::rc::Rc;

fn us(t: SimTime) -> f64 {
    t.as_nanos() as f64 / 1e3
}

/// The event of one control message (`names`: host names by host id).
fn message_event(m: &MessageRecord, names: &[String]) -> Value {
    json!({
        "ph": "i", "s": "t", "pid": 1, "tid": m.to.0, "ts": us(m.arrives_at), "name": m.kind, "cat": "message",
        "args": { "from": names[m.from.0 as usize], "sent_us": us(m.sent_at) }
    })
}

/// Hands `emit` the events of a finished run other than its messages, one at a time: the
/// track names, then one span per stream.
fn track_and_stream_events(engine: &Engine, mut emit: impl FnMut(&Value) -> io::Result<()>) -> io::Result<()> {
    let topo = engine.topology();
    emit(&json!({ "ph": "M", "pid": 1, "tid": 0, "name": "process_name", "args": { "name": engine.built.name } }))?;
    for h in 0..topo.host_count() {
        let name = &topo.host(crate::net::HostId(h as u32)).name;
        emit(&json!({ "ph": "M", "pid": 1, "tid": h, "name": "thread_name", "args": { "name": name } }))?;
    }
    for s in engine.stream_records() {
        let Some(end) = s.last_arrival.or(s.broken_at) else { continue };
        let start = s.opened_at;
        emit(&json!({
            "ph": "X", "pid": 1, "tid": s.dst.0, "ts": us(start), "dur": (us(end) - us(start)).max(0.0),
            "name": format!("from {}", topo.host(s.src).name), "cat": "stream",
            "args": { "job": s.job.0, "bytes": s.bytes, "items": s.chunks, "broken": s.broken_at.is_some() }
        }))?;
    }
    Ok(())
}

fn host_names(engine: &Engine) -> Vec<String> {
    let topo = engine.topology();
    (0..topo.host_count()).map(|h| topo.host(crate::net::HostId(h as u32)).name.clone()).collect()
}

/// Message events written to a file as the run sends them, each preceded by a comma (they
/// follow the track events in `trace.json`). Shared between the engine (as its
/// [`MessageSink`]) and whoever writes `trace.json` afterwards.
#[derive(Clone)]
pub struct TraceSpool(Rc<RefCell<SpoolState>>);

struct SpoolState {
    out: BufWriter<File>,
    names: Vec<String>,
    /// The first write that failed: reported when `trace.json` is written.
    error: Option<io::Error>,
}

impl TraceSpool {
    /// A spool writing into `file` (normally [`super::output::spool_file`]) the messages of
    /// the run of `engine`, which it is attached to.
    pub fn attach(engine: &mut Engine, file: File) -> TraceSpool {
        let state = SpoolState { out: BufWriter::new(file), names: host_names(engine), error: None };
        let spool = TraceSpool(Rc::new(RefCell::new(state)));
        engine.send_messages_to(Box::new(spool.clone()));
        spool
    }

    /// Copies the spooled events to `out`.
    fn copy_to(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut state = self.0.borrow_mut();
        if let Some(e) = state.error.take() {
            return Err(e);
        }
        state.out.flush()?;
        let file = state.out.get_mut();
        file.rewind()?;
        io::copy(file, out)?;
        // Back to the end, should anything be appended later.
        file.seek(io::SeekFrom::End(0))?;
        Ok(())
    }
}

impl MessageSink for TraceSpool {
    fn message(&mut self, record: &MessageRecord) {
        let state = &mut *self.0.borrow_mut();
        if state.error.is_some() {
            return;
        }
        let event = message_event(record, &state.names);
        let written = state
            .out
            .write_all(b",")
            .and_then(|()| serde_json::to_writer(&mut state.out, &event).map_err(io::Error::from));
        if let Err(e) = written {
            state.error = Some(e);
        }
    }
}

/// Writes `trace.json` of a finished run to `out`: the track and stream events, then the
/// messages from `spool`, or else those the engine recorded in memory (none if it recorded
/// none). Events are written one by one: the document is never held in memory.
pub fn write_chrome_trace(engine: &Engine, spool: Option<&TraceSpool>, out: &mut dyn Write) -> io::Result<()> {
    // The wrapper as serde_json writes it (whatever its key order), split where the events go.
    let empty = serde_json::to_string(&json!({ "traceEvents": [], "displayTimeUnit": "ms" }))?;
    let (head, tail) = empty.split_once("[]").expect("an empty array");
    out.write_all(head.as_bytes())?;
    out.write_all(b"[")?;
    let mut first = true;
    track_and_stream_events(engine, |event| {
        if !std::mem::take(&mut first) {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, event).map_err(io::Error::from)
    })?;
    match spool {
        Some(spool) => spool.copy_to(out)?,
        None => {
            let names = host_names(engine);
            for m in engine.messages().unwrap_or_default() {
                out.write_all(b",")?;
                serde_json::to_writer(&mut *out, &message_event(m, &names))?;
            }
        }
    }
    out.write_all(b"]")?;
    out.write_all(tail.as_bytes())?;
    Ok(())
}

/// `trace.json` of a finished run as bytes (see [`write_chrome_trace`]; the messages are those
/// the engine recorded in memory).
pub fn chrome_trace_bytes(engine: &Engine) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    write_chrome_trace(engine, None, &mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> crate::scenario::Scenario {
        crate::scenario::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.json")))
            .expect("bundled scenario")
    }

    #[test]
    fn spooled_trace_is_the_trace_kept_in_memory() {
        let scenario = scenario();
        let options = crate::RunOptions { record_messages: true, ..crate::RunOptions::default() };
        let in_memory = crate::simulate(&scenario, &options).unwrap();
        let kept = chrome_trace_bytes(&in_memory.engine).unwrap();

        let mut spool = None;
        let streamed = crate::simulate_with(&scenario, &crate::RunOptions::default(), |engine| {
            spool = Some(TraceSpool::attach(engine, tempfile::tempfile().unwrap()));
        })
        .unwrap();
        assert!(streamed.engine.messages().is_none(), "streaming keeps no messages");
        let mut written = Vec::new();
        write_chrome_trace(&streamed.engine, spool.as_ref(), &mut written).unwrap();
        assert_eq!(String::from_utf8(written).unwrap(), String::from_utf8(kept.clone()).unwrap());

        let doc: Value = serde_json::from_slice(&kept).unwrap();
        let events = doc["traceEvents"].as_array().unwrap();
        let messages = events.iter().filter(|e| e["cat"] == "message").count();
        assert_eq!(messages, in_memory.engine.messages().unwrap().len());
        assert!(messages > 0, "the quickstart sends control messages");
        assert_eq!(doc["displayTimeUnit"], "ms");
    }
}
