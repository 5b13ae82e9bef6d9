//! Upload utilisation of engine-driven jobs (swarm, optimal), computed from the piece records.
//!
//! At time `t` the swarm can use at most `C(t) = min(Σ u_h, Σ d_v)` bytes per second: the
//! uploads `u_h` of the hosts that hold at least one piece (the base server from the job's
//! start, a server from the moment its first piece has been sent to it), and the downloads
//! `d_v` of the servers that still need pieces (until they hold the whole content). The
//! **capacity-weighted upload utilisation while peers still need pieces** is the bytes
//! actually sent divided by `∫ C(t) dt` from the job's request to the last server's completion:
//! 1.0 means no upload capacity that some peer could have taken stood idle. Both capacity sums
//! weigh every host by its capacity, so a fast uploader left idle costs more than a slow one.
//! Crashed hosts still count as capacity (a fault lowers the figure), and pieces count when
//! their last byte left the sender, spread evenly over the time they took.
//!
//! The plain utilisation, bytes sent over `Σ u_h · (t1 − t0)`, is reported next to it; it
//! cannot be high when slow downloaders finish last (the flash crowd's 784 kbit/s class needs
//! 1,020 s while the uploads could have delivered the whole demand in 490 s).

use crate::engine::PieceRecord;
use crate::kernel::SimTime;
use crate::net::HostId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Utilisation figures of one engine-driven job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Utilisation {
    /// Bytes sent / ∫ min(upload of holders, download of servers still needing pieces) dt.
    pub upload_utilisation: f64,
    /// Bytes sent / (total upload capacity × duration).
    pub plain_upload_utilisation: f64,
    /// Bytes sent by every sender, including copies cancelled in endgame.
    pub bytes_sent: u64,
    /// Bytes the base server sent.
    pub origin_bytes: u64,
    /// Per upload capacity of the servers (Mbit/s): the share of that class's upload used over
    /// the same window.
    pub by_upload_class: Vec<ClassUtilisation>,
}

/// The plain utilisation of one class of servers with the same upload capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassUtilisation {
    /// Upload capacity, Mbit/s.
    pub upload_mbps: f64,
    /// Servers in the class.
    pub servers: usize,
    /// Bytes the class sent over its capacity × the window.
    pub utilisation: f64,
}

/// What the computation needs to know about one host.
pub struct HostCapacity {
    /// The host.
    pub host: HostId,
    /// Upload, bytes per second.
    pub upload: f64,
    /// Download, bytes per second.
    pub download: f64,
    /// When it held the whole content (`None`: never); the base server holds it from the start.
    pub completed: Option<SimTime>,
}

/// Utilisation of a job from `start` to `end`, `origin` being the base server and `servers` the
/// receivers; `pieces` are the job's piece records.
pub fn utilisation(
    pieces: &[PieceRecord],
    origin: &HostCapacity,
    servers: &[HostCapacity],
    start: SimTime,
    end: SimTime,
) -> Utilisation {
    let (t0, t1) = (start.as_secs_f64(), end.as_secs_f64().max(start.as_secs_f64()));
    let mut first_piece: BTreeMap<HostId, f64> = BTreeMap::new();
    let mut sent_by: BTreeMap<HostId, f64> = BTreeMap::new();
    let (mut bytes_sent, mut origin_bytes) = (0u64, 0u64);
    for p in pieces {
        let (a, b) = (p.started_at.as_secs_f64(), p.sent_at.as_secs_f64());
        let first = first_piece.entry(p.to).or_insert(b);
        *first = first.min(b);
        bytes_sent += p.bytes;
        if p.from == origin.host {
            origin_bytes += p.bytes;
        }
        // The part of the piece sent inside the window.
        let inside = if b > a { ((b.min(t1) - a.max(t0)).max(0.0)) / (b - a) } else { f64::from(u8::from(b <= t1)) };
        *sent_by.entry(p.from).or_default() += p.bytes as f64 * inside;
    }
    // Capacity steps: (time, Δ upload of holders, Δ download of needers).
    let mut steps: Vec<(f64, f64, f64)> = vec![(t0, origin.upload, 0.0)];
    for s in servers {
        if let Some(&t) = first_piece.get(&s.host) {
            steps.push((t, s.upload, 0.0));
        }
        steps.push((t0, 0.0, s.download));
        if let Some(done) = s.completed {
            steps.push((done.as_secs_f64(), 0.0, -s.download));
        }
    }
    steps.sort_by(|x, y| x.0.total_cmp(&y.0));
    let (mut up, mut down, mut last, mut integral) = (0.0f64, 0.0f64, t0, 0.0f64);
    for (t, du, dd) in steps {
        let t = t.clamp(t0, t1);
        integral += up.min(down) * (t - last);
        last = t;
        up += du;
        down += dd;
    }
    integral += f64::max(0.0, up.min(down)) * (t1 - last);
    let in_window: f64 = sent_by.values().sum();
    let total_upload: f64 = origin.upload + servers.iter().map(|s| s.upload).sum::<f64>();
    let span = (t1 - t0).max(1e-12);
    let mut classes: BTreeMap<u64, (f64, usize, f64)> = BTreeMap::new();
    for s in servers {
        let c = classes.entry(s.upload.to_bits()).or_insert((s.upload, 0, 0.0));
        c.1 += 1;
        c.2 += sent_by.get(&s.host).copied().unwrap_or(0.0);
    }
    let mut by_upload_class: Vec<ClassUtilisation> = classes
        .into_values()
        .map(|(upload, n, bytes)| ClassUtilisation {
            upload_mbps: upload * 8.0 / 1e6,
            servers: n,
            utilisation: bytes / (upload * n as f64 * span).max(1e-12),
        })
        .collect();
    by_upload_class.sort_by(|a, b| a.upload_mbps.total_cmp(&b.upload_mbps));
    Utilisation {
        upload_utilisation: in_window / integral.max(1e-12),
        plain_upload_utilisation: in_window / (total_upload * span),
        bytes_sent,
        origin_bytes,
        by_upload_class,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::job::JobId;

    fn record(from: u32, to: u32, bytes: u64, a: f64, b: f64) -> PieceRecord {
        PieceRecord {
            job: JobId(0),
            from: HostId(from),
            to: HostId(to),
            piece: 0,
            bytes,
            started_at: SimTime::from_secs_f64(a),
            sent_at: SimTime::from_secs_f64(b),
        }
    }

    #[test]
    fn a_relay_that_idles_while_its_peer_needs_data_halves_the_utilisation() {
        // Origin (up 10 B/s) sends 10 B to server 1 in [0, 1]; then server 1 (up 10) could send
        // to server 2, which needs data until 3 s, but the origin sends the 10 B to 2 in
        // [2, 3]. Capacity: [0,1] min(10, 20) = 10; [1,2] min(20, 10) = 10; [2,3] = 10 → 30 B.
        // Sent: 20 B → 2/3.
        let origin = HostCapacity { host: HostId(0), upload: 10.0, download: 0.0, completed: None };
        let s1 = HostCapacity {
            host: HostId(1),
            upload: 10.0,
            download: 10.0,
            completed: Some(SimTime::from_secs_f64(1.0)),
        };
        let s2 = HostCapacity {
            host: HostId(2),
            upload: 10.0,
            download: 10.0,
            completed: Some(SimTime::from_secs_f64(3.0)),
        };
        let pieces = [record(0, 1, 10, 0.0, 1.0), record(0, 2, 10, 2.0, 3.0)];
        let u = utilisation(&pieces, &origin, &[s1, s2], SimTime::ZERO, SimTime::from_secs_f64(3.0));
        assert!((u.upload_utilisation - 2.0 / 3.0).abs() < 1e-9, "{}", u.upload_utilisation);
        // Plain: 20 B over 30 B/s × 3 s.
        assert!((u.plain_upload_utilisation - 20.0 / 90.0).abs() < 1e-9);
        assert_eq!(u.origin_bytes, 20);
    }
}
