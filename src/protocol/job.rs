//! The job object ([0047]–[0049], FIG. 2) and what a job distributes.

use crate::kernel::{SimDuration, SimTime};
use crate::net::HostId;
use std::fmt;
use std::rc::Rc;

/// Identifies a job; unique within a run and assigned by the base server in creation order
/// ([0049], field 33).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub u32);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job{}", self.0)
    }
}

/// The content of a job: a sequence of chunks, all available at once (a file) or produced over
/// time (a live stream).
#[derive(Debug, Clone, PartialEq)]
pub struct ContentSpec {
    /// Total size in bytes.
    pub total_bytes: u64,
    /// Number of chunks (at least one).
    pub chunks: u32,
    /// For a live stream, the production time of one chunk; `None` for a file.
    pub live_chunk_interval: Option<SimDuration>,
}

impl ContentSpec {
    /// Size of chunk `index`: equal chunks, the last one takes the remainder.
    pub fn chunk_bytes(&self, index: u32) -> u64 {
        let base = self.total_bytes / self.chunks as u64;
        if index + 1 == self.chunks {
            self.total_bytes - base * (self.chunks as u64 - 1)
        } else {
            base
        }
    }

    /// When chunk `index` is fully produced, for a job created at `start`.
    pub fn produced_at(&self, start: SimTime, index: u32) -> SimTime {
        match self.live_chunk_interval {
            None => start,
            Some(interval) => {
                start + SimDuration::from_nanos(interval.as_nanos() * (index as u64 + 1))
            }
        }
    }

    /// True for a live stream.
    pub fn is_live(&self) -> bool {
        self.live_chunk_interval.is_some()
    }
}

/// How a job is distributed (one of the strategies compared in the same engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategyConfig {
    /// The patent's cascade: the base server streams to `first_nodes` servers and every server
    /// holding the job forwards to up to `fanout` others from its index list ([0067], [0069]).
    Cascade {
        /// Concurrent down-line connections per node server.
        fanout: u32,
        /// Servers the base server streams to directly.
        first_nodes: u32,
    },
    /// Prior art: the base server unicasts to every server, at most `max_concurrent` at once.
    Star {
        /// Concurrent streams from the base server.
        max_concurrent: u32,
    },
}

impl StrategyConfig {
    /// Short name used in results.
    pub fn name(&self) -> &'static str {
        match self {
            StrategyConfig::Cascade { .. } => "cascade",
            StrategyConfig::Star { .. } => "star",
        }
    }
}

/// What a client asks for when it requests a job session ([0043], [0050]: "dimensions of the
/// job").
#[derive(Debug, Clone, PartialEq)]
pub struct JobRequest {
    /// The client's own name for the job.
    pub name: String,
    /// The content to distribute.
    pub content: ContentSpec,
    /// Destination node servers.
    pub servers: Vec<HostId>,
    /// Distribution strategy.
    pub strategy: StrategyConfig,
}

/// The job object created by the base server (FIG. 2): server address list 29, command queue
/// 31 (commands arrive with the protocol issue), job id 33, and base server address 37. It is
/// shared read-only between the servers that hold a copy.
#[derive(Debug, Clone, PartialEq)]
pub struct JobObject {
    /// Job identification field 33.
    pub id: JobId,
    /// Server address list 29: every server the job is for, in the order sources approach them.
    pub servers: Rc<[HostId]>,
    /// Base server address field 37, where notifications go.
    pub base_server: HostId,
    /// The content being streamed.
    pub content: ContentSpec,
    /// The distribution strategy.
    pub strategy: StrategyConfig,
}

/// An index list ([0067]): positions in the job's server list of servers not yet approached,
/// handed to a server together with the job. Lists are always contiguous ranges of the server
/// list, so one is stored as `start..end` rather than as explicit indexes, which keeps a
/// million-server job's lists in constant memory per server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexList {
    /// First index (inclusive).
    pub start: u32,
    /// Last index (exclusive).
    pub end: u32,
}

impl IndexList {
    /// The whole server list of `len` servers.
    pub fn all(len: usize) -> IndexList {
        IndexList {
            start: 0,
            end: len as u32,
        }
    }

    /// Number of servers in the list.
    pub fn len(&self) -> u32 {
        self.end - self.start
    }

    /// True when no server is left to approach.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Removes and returns the first index.
    pub fn pop_front(&mut self) -> Option<u32> {
        (!self.is_empty()).then(|| {
            self.start += 1;
            self.start - 1
        })
    }

    /// Removes and returns the first `n` indexes as their own list.
    pub fn take_front(&mut self, n: u32) -> IndexList {
        let n = n.min(self.len());
        let taken = IndexList {
            start: self.start,
            end: self.start + n,
        };
        self.start += n;
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_chunk_takes_the_remainder() {
        let c = ContentSpec {
            total_bytes: 10,
            chunks: 3,
            live_chunk_interval: None,
        };
        assert_eq!(
            (0..3).map(|i| c.chunk_bytes(i)).collect::<Vec<_>>(),
            vec![3, 3, 4]
        );
    }

    #[test]
    fn live_chunks_are_produced_one_interval_apart() {
        let c = ContentSpec {
            total_bytes: 10,
            chunks: 3,
            live_chunk_interval: Some(SimDuration::from_secs(2)),
        };
        assert_eq!(
            c.produced_at(SimTime::from_secs_f64(1.0), 0),
            SimTime::from_secs_f64(3.0)
        );
        assert_eq!(
            c.produced_at(SimTime::from_secs_f64(1.0), 2),
            SimTime::from_secs_f64(7.0)
        );
    }

    #[test]
    fn index_lists_split_from_the_front() {
        let mut l = IndexList::all(10);
        assert_eq!(l.pop_front(), Some(0));
        assert_eq!(l.take_front(4), IndexList { start: 1, end: 5 });
        assert_eq!(l.len(), 5);
        assert_eq!(l.take_front(99).len(), 5);
        assert!(l.is_empty() && l.pop_front().is_none());
    }
}
