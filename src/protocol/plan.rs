//! How the base server sizes a cascade from declared capacities (\[0069\]: "the number of
//! down-line servers it negotiates with may be governed by ... optimum use of available
//! bandwidth"), when the job leaves `fanout` and `first_nodes` to it (`"auto"`).
//!
//! The cascade is a tree of pipelined streams: a server forwards each chunk as soon as it holds
//! it, so a server `h` hops below the base server starts `h` chunk times (plus latency) after the
//! first one and then receives at its stream's rate. With every server opening `f` connections
//! at a *stream rate* `r = min(d, u / f)` (`u`, `d`: the servers' median declared upload and
//! download), and the base server as many as its upload `u_s` feeds at that rate
//! (`k = u_s / r`), the job takes about
//!
//! ```text
//! T(f) = max(F / r, live duration) + depth(f) · (chunk / r + latency)
//! ```
//!
//! where `depth(f)` is the number of levels below the `k` first nodes a tree of arity `f` needs
//! to hold all `N` servers (a chain per first node when `f = 1`). With several origins
//! ([`super::origin`]) each origin `o` streams to `k_o = u_o / r` first nodes (at least one) and
//! `k = Σ k_o`: the origins' combined upload sets how wide the top of the tree is, and the
//! slowest origin's share `u_o / k_o` caps the stream rate. The plan picks the `f` from 1
//! to [`MAX_AUTO_FANOUT`] that minimises `T`. A chain (`f = 1`) keeps every server at its full
//! rate and pays one hop per server of the chain; a wider tree halves the rate at every `f = 2`
//! but is only logarithmically deep. Each server then opens as many connections as its own
//! declared upload feeds at `r` (at least one, at most [`MAX_AUTO_FANOUT`]), so a fast server
//! relays to more servers than a slow one.

use super::job::ContentSpec;

/// The largest fanout the plan considers, and the most connections a server opens by itself.
pub const MAX_AUTO_FANOUT: u32 = 8;

/// What the base server chose for a cascade.
#[derive(Debug, Clone, PartialEq)]
pub struct CascadePlan {
    /// Servers the origins stream to directly, over all origins.
    pub first_nodes: u32,
    /// First nodes of each origin (the base server first).
    pub origin_first_nodes: Vec<u32>,
    /// The uniform fanout of the model.
    pub fanout: u32,
    /// The rate every stream is meant to carry, bytes per second: a server opens
    /// `upload / stream_rate` connections.
    pub stream_rate_bps: f64,
    /// The model's estimate of the job's duration, seconds.
    pub estimate_s: f64,
}

/// The declared capacities the plan uses, bytes per second and seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanInputs {
    /// Upload of each origin holding the content, the base server first.
    pub origin_uploads: Vec<f64>,
    /// Median upload of the job's servers.
    pub median_upload: f64,
    /// Median download of the job's servers.
    pub median_download: f64,
    /// Median one-way latency of a hop.
    pub hop_latency_s: f64,
    /// Number of servers.
    pub servers: u32,
}

/// Levels of an `f`-ary tree below `k` roots needed to hold `n` servers in all.
fn depth(n: u32, k: u32, f: u32) -> u32 {
    if n <= k {
        return 0;
    }
    if f == 1 {
        return (n - k).div_ceil(k);
    }
    let (mut held, mut level_size, mut levels) = (k as u64, k as u64, 0);
    while held < n as u64 {
        level_size *= f as u64;
        held += level_size;
        levels += 1;
    }
    levels
}

/// The plan for `content` over servers with the declared `inputs`.
pub fn plan_cascade(content: &ContentSpec, inputs: &PlanInputs) -> CascadePlan {
    let bytes = content.total_bytes as f64;
    let chunk = bytes / content.chunks.max(1) as f64;
    let live_s = content.live_chunk_interval.map_or(0.0, |i| i.as_secs_f64() * content.chunks as f64);
    let n = inputs.servers.max(1);
    let mut best: Option<CascadePlan> = None;
    for f in 1..=MAX_AUTO_FANOUT {
        let interior = inputs.median_download.min(inputs.median_upload / f as f64);
        let mut per_origin: Vec<u32> =
            inputs.origin_uploads.iter().map(|&u| ((u / interior).floor() as u64).clamp(1, n as u64) as u32).collect();
        // At most one first node per server: trim the largest counts first.
        while per_origin.iter().sum::<u32>() > n {
            let (i, _) = per_origin.iter().enumerate().max_by_key(|&(i, &k)| (k, i)).expect("an origin");
            per_origin[i] -= 1;
        }
        let first_nodes: u32 = per_origin.iter().sum();
        let rate = inputs
            .origin_uploads
            .iter()
            .zip(&per_origin)
            .filter(|(_, &k)| k > 0)
            .fold(interior, |r, (&u, &k)| r.min(u / k as f64));
        let hop = chunk / rate + inputs.hop_latency_s;
        let estimate_s = (bytes / rate).max(live_s) + depth(n, first_nodes, f) as f64 * hop;
        if best.as_ref().is_none_or(|b| estimate_s < b.estimate_s * (1.0 - 1e-9)) {
            best = Some(CascadePlan {
                first_nodes,
                origin_first_nodes: per_origin,
                fanout: f,
                stream_rate_bps: interior,
                estimate_s,
            });
        }
    }
    best.expect("at least one fanout considered")
}

/// Connections a server with declared upload `upload_bps` opens at `stream_rate_bps`.
pub fn auto_fanout(upload_bps: f64, stream_rate_bps: f64) -> u32 {
    if stream_rate_bps <= 0.0 || !stream_rate_bps.is_finite() {
        return 1;
    }
    ((upload_bps / stream_rate_bps).floor() as u64).clamp(1, MAX_AUTO_FANOUT as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: f64 = 1e6;

    fn file(mb: f64, chunks: u32) -> ContentSpec {
        ContentSpec { total_bytes: (mb * MB) as u64, chunks, live_chunk_interval: None }
    }

    #[test]
    fn depth_counts_levels_below_the_first_nodes() {
        assert_eq!(depth(20, 20, 1), 0);
        assert_eq!(depth(1000, 20, 1), 49);
        // 3 roots, binary: 3 + 6 + 12 = 21 hold 21 servers in two more levels.
        assert_eq!(depth(21, 3, 2), 2);
        assert_eq!(depth(22, 3, 2), 3);
    }

    #[test]
    fn homogeneous_servers_with_a_fast_origin_get_chains_fed_at_full_rate() {
        // A Dragonfly-like case: 1,000 servers of 25 MB/s up and down, origin 500 MB/s, 200 MB
        // in 1 MB chunks. Chains: 20 first nodes, every stream at 25 MB/s, 49 hops of 40 ms:
        // 8 s + 1.96 s. A binary tree would halve every rate (16 s at least).
        let inputs = PlanInputs {
            origin_uploads: vec![500.0 * MB],
            median_upload: 25.0 * MB,
            median_download: 25.0 * MB,
            hop_latency_s: 0.0,
            servers: 1000,
        };
        let plan = plan_cascade(&file(200.0, 200), &inputs);
        assert_eq!((plan.first_nodes, plan.fanout, plan.stream_rate_bps), (20, 1, 25.0 * MB));
        assert!((plan.estimate_s - 9.96).abs() < 1e-9);
    }

    #[test]
    fn fast_uploaders_and_a_slow_stream_get_a_wide_shallow_tree() {
        // A 4 Mbit/s live stream of 60 s to 200 servers uploading 8 MB/s: a stream needs only
        // 0.5 MB/s, so wide trees keep up with the stream and are shallow.
        let live = ContentSpec {
            total_bytes: 30_000_000,
            chunks: 60,
            live_chunk_interval: Some(crate::kernel::SimDuration::from_secs(1)),
        };
        let inputs = PlanInputs {
            origin_uploads: vec![12.5 * MB],
            median_upload: 8.0 * MB,
            median_download: 12.5 * MB,
            hop_latency_s: 0.02,
            servers: 200,
        };
        let plan = plan_cascade(&live, &inputs);
        assert!(plan.fanout >= 4, "{plan:?}");
        assert!(plan.estimate_s < 61.0, "{plan:?}");
        assert_eq!(auto_fanout(8.0 * MB, plan.stream_rate_bps), plan.fanout);
        assert_eq!(auto_fanout(0.1 * MB, plan.stream_rate_bps), 1);
    }

    #[test]
    fn several_origins_each_feed_as_many_first_nodes_as_their_upload_allows() {
        // The Dragonfly-like case with the 500 MB/s split over three origins of 250, 150 and
        // 100 MB/s: chains at 25 MB/s as before, 10 + 6 + 4 = 20 first nodes.
        let inputs = PlanInputs {
            origin_uploads: vec![250.0 * MB, 150.0 * MB, 100.0 * MB],
            median_upload: 25.0 * MB,
            median_download: 25.0 * MB,
            hop_latency_s: 0.0,
            servers: 1000,
        };
        let plan = plan_cascade(&file(200.0, 200), &inputs);
        assert_eq!(plan.origin_first_nodes, vec![10, 6, 4]);
        assert_eq!((plan.first_nodes, plan.fanout, plan.stream_rate_bps), (20, 1, 25.0 * MB));
        assert!((plan.estimate_s - 9.96).abs() < 1e-9);
        // Fewer servers than the origins could feed: one first node per server at most.
        let few = plan_cascade(&file(200.0, 200), &PlanInputs { servers: 5, ..inputs });
        assert_eq!(few.origin_first_nodes.iter().sum::<u32>(), 5);
    }
}
