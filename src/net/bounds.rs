//! Closed-form lower bounds the simulated completion times are compared against.
//!
//! For a file of `F` bytes sent from a server with upload `u_s` to `N` peers with uploads
//! `u_i` and slowest download `d_min`, no distribution scheme can finish before
//! `max(F / u_s, F / d_min, N·F / (u_s + Σ u_i))` (Kumar & Ross, "Peer-assisted file
//! distribution: the minimum distribution time", 2006): the server must upload the file once,
//! the slowest peer must download it, and all `N·F` bytes must be uploaded by someone. The bound
//! ignores latency and assumes a fluid (infinitely divisible) file.
//!
//! Where the optimum itself is known it is given too: for a homogeneous network (one source and
//! every server uploading `u`, downloads at least `u`, zero latency, `M` equal chunks) it takes
//! `M + ceil(log2(N + 1)) − 1` rounds of `F / (M·u)` (Mundinger, Weber & Weiss), see
//! [`homogeneous_optimum`].

/// The inputs of the bound, in bytes and bytes per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundInputs {
    /// Content size `F`, bytes.
    pub content_bytes: f64,
    /// Source (base server) upload `u_s`, bytes per second.
    pub source_upload: f64,
    /// Slowest receiver download `d_min`, bytes per second.
    pub min_download: f64,
    /// Sum of receivers' uploads `Σ u_i`, bytes per second.
    pub sum_peer_upload: f64,
    /// Number of receivers `N`.
    pub receivers: usize,
}

/// The Kumar–Ross minimum distribution time, in seconds.
pub fn kumar_ross_seconds(b: &BoundInputs) -> f64 {
    let f = b.content_bytes;
    let server = f / b.source_upload;
    let slowest = f / b.min_download;
    let aggregate = b.receivers as f64 * f / (b.source_upload + b.sum_peer_upload);
    server.max(slowest).max(aggregate)
}

/// What one job's lower bound depends on, bytes, bytes per second and seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobBoundInputs {
    /// Content size `F`, bytes.
    pub content_bytes: f64,
    /// The upload every byte must leave at least once: for an uploaded job the slower of the
    /// client and the base server (every byte passes both), for a pre-seeded job the origins'
    /// combined upload (the base server's included).
    pub first_copy_upload: f64,
    /// Combined upload of the hosts holding the content besides the receivers: the base server
    /// and the origins (`u_s` of Kumar & Ross).
    pub origin_upload: f64,
    /// Slowest download among the servers that must complete.
    pub min_download: f64,
    /// Sum of the uploads of the job's servers.
    pub sum_peer_upload: f64,
    /// Servers that must complete.
    pub receivers: usize,
    /// A live stream's duration (0 for a file): nothing ends before the stream does.
    pub live_duration_s: f64,
}

/// One job's lower bound, seconds after its request: the Kumar–Ross bound with the origins'
/// combined upload as the server's, the first copy leaving its source (the client and the base
/// server, or the origins), and a live stream's duration.
pub fn job_lower_bound(b: &JobBoundInputs) -> f64 {
    let f = b.content_bytes;
    let aggregate = b.receivers as f64 * f / (b.origin_upload + b.sum_peer_upload);
    (f / b.first_copy_upload).max(f / b.min_download).max(aggregate).max(b.live_duration_s)
}

/// One job of a workload, for [`workload_lower_bound`].
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadJob {
    /// When it was requested, seconds.
    pub start_s: f64,
    /// Its own lower bound, seconds after the request.
    pub bound_s: f64,
    /// Content size, bytes.
    pub content_bytes: f64,
    /// The servers that must receive it: (id, download in bytes per second, join time in
    /// seconds or 0); a host keeps its id and join time across jobs.
    pub receivers: Vec<(u32, f64, f64)>,
    /// The client it must leave (id, upload), when it is uploaded rather than pre-seeded.
    pub client: Option<(u32, f64)>,
}

/// The shared resources of a workload, bytes per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkloadCapacity {
    /// The base server's upload: every uploaded job's bytes leave it once.
    pub base_upload: f64,
    /// The origins' combined upload (the base server's included): every job's bytes leave one
    /// of them once.
    pub origin_upload: f64,
    /// Every upload that can carry content: the origins' and that of every server of a job.
    pub total_upload: f64,
}

/// The workload's lower bound: when, at the earliest, every job can be complete (seconds, the
/// same clock as the jobs' `start_s`), and what binds it. It is the largest of
///
/// - every job's own bound after its request;
/// - for every receiver and every request time `τ`: `max(τ, join) + (bytes of the jobs
///   requested at or after τ that it must receive) / its download`;
/// - the same sum over a client's uploaded jobs over its upload, over the base server's upload
///   (uploaded jobs), over the origins' combined upload (every job), and of every job's
///   `servers × bytes` over the total upload.
///
/// No schedule does better: a job's bytes cannot move before its request, and each term counts
/// bytes that must cross one shared capacity after `τ`. It ignores latency and explicit links
/// (a backbone shared by regions can make it loose). Work: linear in the (server, job) pairs.
pub fn workload_lower_bound(jobs: &[WorkloadJob], cap: &WorkloadCapacity) -> Option<(f64, String)> {
    let mut best: Option<(f64, String)> = None;
    let mut consider = |end: f64, why: &dyn Fn() -> String| {
        if end.is_finite() && best.as_ref().is_none_or(|(b, _)| end > *b * (1.0 + 1e-12)) {
            best = Some((end, why()));
        }
    };
    for j in jobs {
        consider(j.start_s + j.bound_s, &|| "a job's own bound".to_string());
    }
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by(|&a, &b| jobs[b].start_s.total_cmp(&jobs[a].start_s));
    let mut received: std::collections::BTreeMap<u32, f64> = std::collections::BTreeMap::new();
    let mut uploaded: std::collections::BTreeMap<u32, f64> = std::collections::BTreeMap::new();
    let (mut through_base, mut first_copies, mut all_copies) = (0.0, 0.0, 0.0);
    for &i in &order {
        let j = &jobs[i];
        let tau = j.start_s;
        for &(id, download, earliest) in &j.receivers {
            let acc = received.entry(id).or_insert(0.0);
            *acc += j.content_bytes;
            let acc = *acc;
            consider(tau.max(earliest) + acc / download, &|| {
                format!("a server receives {:.0} MB at {:.1} MB/s", acc / 1e6, download / 1e6)
            });
        }
        if let Some((id, upload)) = j.client {
            let acc = uploaded.entry(id).or_insert(0.0);
            *acc += j.content_bytes;
            let acc = *acc;
            consider(tau + acc / upload, &|| format!("a client uploads {:.0} MB", acc / 1e6));
            through_base += j.content_bytes;
            let tb = through_base;
            consider(tau + tb / cap.base_upload, &|| format!("{:.0} MB leave the base server", tb / 1e6));
        }
        first_copies += j.content_bytes;
        all_copies += j.receivers.len() as f64 * j.content_bytes;
        let (fc, ac) = (first_copies, all_copies);
        consider(tau + fc / cap.origin_upload, &|| format!("{:.0} MB leave the origins", fc / 1e6));
        consider(tau + ac / cap.total_upload, &|| format!("{:.0} MB cross the total upload", ac / 1e6));
    }
    best
}

/// What the closed-form optimum of one job depends on ([`homogeneous_optimum`]).
#[derive(Debug, Clone, PartialEq)]
pub struct OptimumInputs {
    /// Content size `F`, bytes.
    pub content_bytes: u64,
    /// Number of chunks `M`.
    pub chunks: u32,
    /// True for a live stream (no closed form: chunks are produced over time).
    pub live: bool,
    /// Uploads of the hosts the content first leaves, bytes per second: the base server, then
    /// the origins (only the base server's counts for an uploaded job).
    pub source_uploads: Vec<f64>,
    /// For an uploaded job, the rate of the client's leg to the base server (the slower of the
    /// client's upload and the base server's download); `None` for pre-seeded content.
    pub client_leg: Option<f64>,
    /// Upload and download of every server of the job, bytes per second.
    pub servers: Vec<(f64, f64)>,
    /// No latency on any host of the job (client, base server, origins, servers) and no
    /// explicit links.
    pub zero_latency: bool,
    /// The job runs alone: the only job and no raw transfers, no churn, no faults.
    pub alone: bool,
}

/// `ceil(log2(n + 1))`: the doublings that take one chunk from its source to `n` receivers.
pub fn doublings(n: usize) -> u32 {
    usize::BITS - n.leading_zeros()
}

/// Rounds of the Mundinger–Weber–Weiss optimum: `M + ceil(log2(N + 1)) − 1`, a round being
/// the time one upload takes to send one chunk.
pub fn mundinger_rounds(receivers: usize, chunks: u32) -> u64 {
    u64::from(chunks) + u64::from(doublings(receivers)) - 1
}

/// The optimum makespan, seconds, of a file of `content_bytes` in `chunks` equal chunks sent
/// from one source to `receivers` peers, every upload (the source's too) `upload` bytes per
/// second and every download at least that (Mundinger, Weber & Weiss, "Optimal scheduling of
/// peer-to-peer file dissemination", J. Scheduling 2008): `mundinger_rounds · F / (M · u)`.
pub fn mundinger_optimum_seconds(receivers: usize, chunks: u32, content_bytes: f64, upload: f64) -> f64 {
    mundinger_rounds(receivers, chunks) as f64 * content_bytes / (f64::from(chunks) * upload)
}

/// Equal within a relative `1e-9` (capacities are converted from Mbit/s).
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// The optimum makespan of a job, seconds after its request, when the case is the homogeneous
/// one of Mundinger et al. ([`mundinger_optimum_seconds`]); `None` otherwise. Homogeneous means:
/// a file (not live) of `F` bytes in `M` equal chunks; one source (the base server; several
/// origins are not covered: the theorem is for one source) uploading at `u`; every server of
/// the job uploading exactly `u` and downloading at least `u`; zero latency and no explicit
/// links; the job alone (no other job or transfer, no churn, no faults).
///
/// **The client's leg is excluded**: for an uploaded job the content must first reach the base
/// server, which the closed form does not count. It stays a lower bound (nothing leaves the base
/// server before its first chunk has arrived, and the base server needs chunk `k` no earlier
/// than in the optimum as long as the leg runs at `u` or faster, so the exact optimum of the
/// uploaded job is this plus one chunk over the leg, `F / (M · leg)`), so it is given when the
/// leg runs at `u` or faster; the reference files set the client at `100 u`, which makes the
/// leg 1 % of a round.
pub fn homogeneous_optimum(o: &OptimumInputs) -> Option<f64> {
    let [u] = o.source_uploads[..] else { return None };
    let equal_chunks = o.chunks > 0 && o.content_bytes.is_multiple_of(u64::from(o.chunks));
    let servers_match =
        !o.servers.is_empty() && o.servers.iter().all(|&(up, down)| same(up, u) && (down >= u || same(down, u)));
    let leg_fast_enough = o.client_leg.is_none_or(|leg| leg >= u || same(leg, u));
    (!o.live && o.alone && o.zero_latency && u > 0.0 && equal_chunks && servers_match && leg_fast_enough)
        .then(|| mundinger_optimum_seconds(o.servers.len(), o.chunks, o.content_bytes as f64, u))
}

/// The fluid bound on the rate at which a live stream can be delivered to every receiver,
/// `min(u_s, d_min, (u_s + Σ u_i) / N)` in bytes per second (Kumar, Liu & Ross, "Stochastic
/// fluid theory for P2P streaming systems", 2007).
pub fn sustainable_rate(b: &BoundInputs) -> f64 {
    b.source_upload.min(b.min_download).min((b.source_upload + b.sum_peer_upload) / b.receivers as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 Mbit/s in bytes per second.
    const U: f64 = 12.5e6;

    fn homogeneous(servers: usize, chunks: u32, content_bytes: u64) -> OptimumInputs {
        OptimumInputs {
            content_bytes,
            chunks,
            live: false,
            source_uploads: vec![U],
            client_leg: Some(100.0 * U),
            servers: vec![(U, U); servers],
            zero_latency: true,
            alone: true,
        }
    }

    #[test]
    fn the_optimum_of_the_homogeneous_references_by_hand() {
        // N = 100, M = 100, F/u = 8 s (100 MB at 12.5 MB/s): 100 + ceil(log2 101) − 1 = 106
        // rounds of 0.08 s = 8.48 s.
        assert_eq!(doublings(100), 7);
        assert_eq!(mundinger_rounds(100, 100), 106);
        let opt = homogeneous_optimum(&homogeneous(100, 100, 100_000_000)).unwrap();
        assert!((opt - 8.48).abs() < 1e-9, "{opt}");
        // N = 1,000, M = 256, F/u = 20.48 s: 256 + 10 − 1 = 265 rounds of 0.08 s = 21.2 s.
        assert_eq!(mundinger_rounds(1000, 256), 265);
        let opt = homogeneous_optimum(&homogeneous(1000, 256, 256_000_000)).unwrap();
        assert!((opt - 265.0 / 256.0 * 20.48).abs() < 1e-9 && (opt - 21.2).abs() < 1e-9, "{opt}");
        // N = 7, M = 1: one chunk doubles 1 → 2 → 4 → 8 holders, 3 rounds of F/u.
        assert_eq!(mundinger_rounds(7, 1), 3);
        let opt = homogeneous_optimum(&homogeneous(7, 1, 1_000_000)).unwrap();
        assert!((opt - 3.0 * 0.08).abs() < 1e-12, "{opt}");
        // N = 8 needs a fourth round; N = 1 one round of F/u per chunk.
        assert_eq!(mundinger_rounds(8, 1), 4);
        assert_eq!(mundinger_rounds(1, 5), 5);
    }

    #[test]
    fn no_optimum_outside_the_homogeneous_case() {
        let base = homogeneous(7, 4, 4_000_000);
        assert!(homogeneous_optimum(&base).is_some());
        let mut slow_peer = base.clone();
        slow_peer.servers[3] = (U / 2.0, U);
        let mut fast_download_is_fine = base.clone();
        fast_download_is_fine.servers[3] = (U, 10.0 * U);
        assert!(homogeneous_optimum(&fast_download_is_fine).is_some());
        let mut slow_download = base.clone();
        slow_download.servers[3] = (U, U / 2.0);
        let cases = [
            ("a heterogeneous upload", slow_peer),
            ("a download below u", slow_download),
            ("a live stream", OptimumInputs { live: true, ..base.clone() }),
            ("a faster source", OptimumInputs { source_uploads: vec![2.0 * U], ..base.clone() }),
            ("several origins", OptimumInputs { source_uploads: vec![U / 2.0, U / 2.0], ..base.clone() }),
            ("a client slower than u", OptimumInputs { client_leg: Some(U / 2.0), ..base.clone() }),
            ("latency", OptimumInputs { zero_latency: false, ..base.clone() }),
            ("another job", OptimumInputs { alone: false, ..base.clone() }),
            ("unequal chunks", OptimumInputs { content_bytes: 4_000_001, ..base.clone() }),
            ("no servers", OptimumInputs { servers: Vec::new(), ..base.clone() }),
        ];
        for (what, case) in cases {
            assert_eq!(homogeneous_optimum(&case), None, "{what}");
        }
        // Pre-seeded at the base server: no client leg at all.
        assert!(homogeneous_optimum(&OptimumInputs { client_leg: None, ..base }).is_some());
    }

    #[test]
    fn each_term_can_dominate() {
        let base = BoundInputs {
            content_bytes: 100.0,
            source_upload: 10.0,
            min_download: 50.0,
            sum_peer_upload: 1000.0,
            receivers: 10,
        };
        assert_eq!(kumar_ross_seconds(&base), 10.0, "server upload term");
        let slow = BoundInputs { min_download: 1.0, ..base };
        assert_eq!(kumar_ross_seconds(&slow), 100.0, "slowest download term");
        let weak = BoundInputs { sum_peer_upload: 0.0, receivers: 3, source_upload: 10.0, ..base };
        assert_eq!(kumar_ross_seconds(&weak), 30.0, "aggregate upload term: 3·100/10");
    }

    #[test]
    fn a_preseeded_job_needs_one_copy_out_of_the_origins_combined_upload() {
        // 1,000 MB from three origins of 100 MB/s each (300 MB/s): 3.33 s, where one origin alone
        // would need 10 s; two servers of 1,000 MB/s down and up.
        let b = JobBoundInputs {
            content_bytes: 1000.0,
            first_copy_upload: 300.0,
            origin_upload: 300.0,
            min_download: 1000.0,
            sum_peer_upload: 2000.0,
            receivers: 2,
            live_duration_s: 0.0,
        };
        assert!((job_lower_bound(&b) - 1000.0 / 300.0).abs() < 1e-12);
        // 64 servers uploading 20 MB/s in all: the aggregate term 64·1000/320 = 200 s binds.
        let many = JobBoundInputs { receivers: 64, sum_peer_upload: 20.0, ..b };
        assert!((job_lower_bound(&many) - 200.0).abs() < 1e-9);
    }

    #[test]
    fn two_jobs_to_the_same_receivers_add_up_on_their_downloads() {
        // Issue 9: two 1,500 MB layers to the same 2,600 hosts at 300 MB/s. Each alone: 5 s;
        // together every host must download 3,000 MB: 10 s.
        let hosts: Vec<(u32, f64, f64)> = (0..2600).map(|h| (h, 300e6, 0.0)).collect();
        let layer = |start_s: f64| WorkloadJob {
            start_s,
            bound_s: 5.0,
            content_bytes: 1500e6,
            receivers: hosts.clone(),
            client: None,
        };
        let cap = WorkloadCapacity { base_upload: 3e9, origin_upload: 3e9, total_upload: 3e9 + 2600.0 * 300e6 };
        let (end, why) = workload_lower_bound(&[layer(0.0), layer(0.0)], &cap).unwrap();
        assert!((end - 10.0).abs() < 1e-9, "{end}: {why}");
        // The second layer requested 4 s later: 4 + 5 = 9 s for it alone, but from 0 every
        // host still has 3,000 MB to take: 10 s.
        let (end, _) = workload_lower_bound(&[layer(0.0), layer(4.0)], &cap).unwrap();
        assert!((end - 10.0).abs() < 1e-9);
        // Requested 6 s later: the layers no longer overlap; 6 + 5 = 11 s.
        let (end, _) = workload_lower_bound(&[layer(0.0), layer(6.0)], &cap).unwrap();
        assert!((end - 11.0).abs() < 1e-9);
        // A receiver that joins at 8 s takes both layers after it joins: 8 + 10 = 18 s.
        let (mut first, mut second) = (layer(0.0), layer(6.0));
        first.receivers[0].2 = 8.0;
        second.receivers[0].2 = 8.0;
        let (end, why) = workload_lower_bound(&[first, second], &cap).unwrap();
        assert!((end - 18.0).abs() < 1e-9, "{why}");
    }
}
