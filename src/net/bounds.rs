//! Closed-form lower bounds the simulated completion times are compared against.
//!
//! For a file of `F` bytes sent from a server with upload `u_s` to `N` peers with uploads
//! `u_i` and slowest download `d_min`, no distribution scheme can finish before
//! `max(F / u_s, F / d_min, N·F / (u_s + Σ u_i))` (Kumar & Ross, "Peer-assisted file
//! distribution: the minimum distribution time", 2006): the server must upload the file once,
//! the slowest peer must download it, and all `N·F` bytes must be uploaded by someone. The bound
//! ignores latency and assumes a fluid (infinitely divisible) file.

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

/// The fluid bound on the rate at which a live stream can be delivered to every receiver,
/// `min(u_s, d_min, (u_s + Σ u_i) / N)` in bytes per second (Kumar, Liu & Ross, "Stochastic
/// fluid theory for P2P streaming systems", 2007).
pub fn sustainable_rate(b: &BoundInputs) -> f64 {
    b.source_upload.min(b.min_download).min((b.source_upload + b.sum_peer_upload) / b.receivers as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
