//! `trace.json`: the run in Chrome's trace event format, to open in Perfetto or
//! chrome://tracing. One track (thread) per host; every stream is a span on its receiver's
//! track; every control message is an instant on its receiver's track at its arrival.

use crate::engine::Engine;
use serde_json::{json, Value};

/// Renders the trace of a finished run (messages appear only if the run recorded them).
pub fn chrome_trace(engine: &Engine) -> Value {
    let topo = engine.topology();
    let us = |t: crate::kernel::SimTime| t.as_nanos() as f64 / 1e3;
    let mut events =
        vec![json!({ "ph": "M", "pid": 1, "tid": 0, "name": "process_name", "args": { "name": engine.built.name } })];
    for h in 0..topo.host_count() {
        let name = &topo.host(crate::net::HostId(h as u32)).name;
        events.push(json!({ "ph": "M", "pid": 1, "tid": h, "name": "thread_name", "args": { "name": name } }));
    }
    for s in engine.stream_records() {
        let Some(end) = s.last_arrival.or(s.broken_at) else { continue };
        let start = s.opened_at;
        events.push(json!({
            "ph": "X", "pid": 1, "tid": s.dst.0, "ts": us(start), "dur": (us(end) - us(start)).max(0.0),
            "name": format!("from {}", topo.host(s.src).name), "cat": "stream",
            "args": { "job": s.job.0, "bytes": s.bytes, "items": s.chunks, "broken": s.broken_at.is_some() }
        }));
    }
    for m in engine.messages().unwrap_or_default() {
        events.push(json!({
            "ph": "i", "s": "t", "pid": 1, "tid": m.to.0, "ts": us(m.arrives_at), "name": m.kind, "cat": "message",
            "args": { "from": topo.host(m.from).name, "sent_us": us(m.sent_at) }
        }));
    }
    json!({ "traceEvents": events, "displayTimeUnit": "ms" })
}
