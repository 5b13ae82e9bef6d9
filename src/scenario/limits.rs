//! Documented limits of the scenario format, all in one place.
//!
//! A scenario is checked against these bounds before anything is allocated in proportion to
//! it, so that every input either runs with bounded memory and work or is rejected with one
//! line naming the JSON path and the limit (exit status 2). The README lists them. They are
//! generous for real studies (a million hosts, ten million server deliveries) and exist to
//! turn typos and hostile files into errors instead of hangs, panics or an exhausted machine.
//!
//! The helpers below are the range checks every numeric field goes through; each error says
//! the accepted range.

use super::ScenarioError;

// Sizes of the world -------------------------------------------------------------------------

/// Largest scenario file read, bytes.
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Most hosts in a scenario: base server, clients, named hosts and every group member (a
/// million servers and up to 100,000 others: the largest cascade `bench` runs has 1,000,000
/// servers, its base server and its client).
pub const MAX_HOSTS: u64 = 1_100_000;
/// Most routers.
pub const MAX_ROUTERS: u64 = 100_000;
/// Most links once link ends naming a group are expanded (one link per member).
pub const MAX_LINKS: u64 = 1_000_000;
/// Most jobs, over all clients.
pub const MAX_JOBS: u64 = 10_000;
/// Most (server, job) deliveries: the sum over jobs of the servers each job lists.
pub const MAX_DELIVERIES: u64 = 10_000_000;
/// Most chunks of one job's content.
pub const MAX_CHUNKS: u64 = 1_000_000;
/// Most chunks over all jobs.
pub const MAX_TOTAL_CHUNKS: u64 = 4_000_000;
/// Most items (chunks and commands) delivered in a run: the sum over jobs of servers × items.
/// Every delivered item costs at least one event, so this bounds the work of a run.
pub const MAX_ITEM_DELIVERIES: u64 = 1_000_000_000;
/// Most servers of one swarm job (the swarm's set-up is quadratic in its size).
pub const MAX_SWARM_SERVERS: u64 = 20_000;
/// Most neighbours per swarm peer.
pub const MAX_SWARM_PEERS: u32 = 200;
/// Most scripted fault events.
pub const MAX_FAULT_EVENTS: u64 = 100_000;
/// Most hosts and links touched by all scripted fault events together (partition sides and
/// link ends naming groups are expanded).
pub const MAX_FAULT_TARGETS: u64 = 10_000_000;
/// Most crashes the random fault process is expected to produce over the horizon
/// (`servers × horizon_s / (mtbf_s + mean_down_s)`).
pub const MAX_RANDOM_CRASHES: f64 = 10_000_000.0;
/// Most repair attempts per server (`duty.max_repairs`).
pub const MAX_REPAIRS: u32 = 1_000;
/// Most wait periods of the base server's duty over the horizon (`horizon_s / wait_period_s`).
pub const MAX_WAIT_PERIODS: f64 = 10_000_000.0;
/// Longest name (hosts, groups, routers, clients, jobs, commands, the scenario), bytes.
pub const MAX_NAME_BYTES: usize = 200;
/// Most runs of a sweep (grid points × seeds).
pub const MAX_SWEEP_RUNS: u64 = 100_000;

// Numbers -------------------------------------------------------------------------------------

/// Latest instant and longest duration, seconds (about 31 years; virtual time is u64
/// nanoseconds and saturates at about 584 years, so sums of times never reach it).
pub const MAX_TIME_S: f64 = 1e9;
/// Shortest duration where zero is meaningless (horizon, wait periods, query timeouts, the
/// random process's means, a live chunk), seconds: anything shorter would round to nothing on
/// the nanosecond clock or fire without end.
pub const MIN_PERIOD_S: f64 = 1e-6;
/// Lowest capacity, Mbit/s (1 kbit/s).
pub const MIN_CAPACITY_MBPS: f64 = 1e-3;
/// Highest capacity, Mbit/s (10 Tbit/s).
pub const MAX_CAPACITY_MBPS: f64 = 1e7;
/// Lowest capacity multiplier of a slowdown or link degradation.
pub const MIN_FACTOR: f64 = 1e-4;
/// Highest capacity multiplier, and highest `switch_margin`.
pub const MAX_FACTOR: f64 = 1e4;
/// Longest latency, milliseconds (one hour).
pub const MAX_LATENCY_MS: f64 = 3_600_000.0;
/// Largest content, command data or transfer, megabytes (1 PB; bytes stay exact in f64).
pub const MAX_SIZE_MB: f64 = 1e9;

// Checks --------------------------------------------------------------------------------------

/// A number as messages show it: plain when moderate, in scientific notation when huge or tiny.
pub fn num(v: f64) -> String {
    if v != 0.0 && !(1e-4..1e6).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

fn range_error(path: &str, v: f64, range: &str) -> ScenarioError {
    ScenarioError::invalid(path, format!("must be {range}, got {}", num(v)))
}

/// A number in `[lo, hi]`.
pub fn check_range(path: &str, v: f64, lo: f64, hi: f64, unit: &str) -> Result<(), ScenarioError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(range_error(path, v, &format!("between {} and {}{unit}", num(lo), num(hi))))
    }
}

/// A capacity, Mbit/s.
pub fn check_capacity(path: &str, v: f64) -> Result<(), ScenarioError> {
    check_range(path, v, MIN_CAPACITY_MBPS, MAX_CAPACITY_MBPS, " Mbit/s")
}

/// A latency, milliseconds.
pub fn check_latency(path: &str, v: f64) -> Result<(), ScenarioError> {
    check_range(path, v, 0.0, MAX_LATENCY_MS, " ms")
}

/// An instant or a duration that may be zero, seconds.
pub fn check_time(path: &str, v: f64) -> Result<(), ScenarioError> {
    check_range(path, v, 0.0, MAX_TIME_S, " s")
}

/// A duration that must not be zero, seconds.
pub fn check_period(path: &str, v: f64) -> Result<(), ScenarioError> {
    check_range(path, v, MIN_PERIOD_S, MAX_TIME_S, " s")
}

/// A capacity multiplier.
pub fn check_factor(path: &str, v: f64) -> Result<(), ScenarioError> {
    check_range(path, v, MIN_FACTOR, MAX_FACTOR, "")
}

/// A probability.
pub fn check_probability(path: &str, v: f64) -> Result<(), ScenarioError> {
    check_range(path, v, 0.0, 1.0, "")
}

/// A size that must not be zero, megabytes (at least one byte).
pub fn check_size(path: &str, v: f64) -> Result<(), ScenarioError> {
    check_range(path, v, 1e-6, MAX_SIZE_MB, " MB")
}

/// A size that may be zero, megabytes.
pub fn check_optional_size(path: &str, v: f64) -> Result<(), ScenarioError> {
    check_range(path, v, 0.0, MAX_SIZE_MB, " MB")
}

/// A count that must be at least 1 and at most `max`.
pub fn check_count(path: &str, v: u64, max: u64) -> Result<(), ScenarioError> {
    if (1..=max).contains(&v) {
        Ok(())
    } else {
        Err(ScenarioError::invalid(path, format!("must be between 1 and {max}, got {v}")))
    }
}

/// A total that must not exceed `max`; `what` says what is counted.
pub fn check_total(path: &str, total: u64, max: u64, what: &str) -> Result<(), ScenarioError> {
    if total <= max {
        Ok(())
    } else {
        Err(ScenarioError::invalid(path, format!("{what} would be {total}, more than the limit of {max}")))
    }
}

/// A name: not empty, at most [`MAX_NAME_BYTES`], no control characters (names appear in
/// one-line messages, CSV cells and file names).
pub fn check_name(path: &str, name: &str) -> Result<(), ScenarioError> {
    if name.trim().is_empty() {
        return Err(ScenarioError::invalid(path, "name must not be empty"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(ScenarioError::invalid(
            path,
            format!("name is {} bytes long, more than the limit of {MAX_NAME_BYTES}", name.len()),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ScenarioError::invalid(
            path,
            format!("name {} contains control characters (newline, tab...)", shown(name)),
        ));
    }
    Ok(())
}

/// A name from the input as it is quoted in messages: control characters escaped, long names
/// cut, so that a message stays on one line.
pub fn shown(name: &str) -> String {
    let mut s: String = name.chars().take(80).flat_map(char::escape_debug).collect();
    if name.chars().count() > 80 {
        s.push('…');
    }
    format!("`{s}`")
}

/// `text` on one line: control characters escaped (for messages built from input).
pub fn one_line(text: &str) -> String {
    text.chars().flat_map(|c| if c.is_control() { c.escape_debug().collect::<Vec<_>>() } else { vec![c] }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_inclusive_and_name_the_limit() {
        assert!(check_capacity("x", MIN_CAPACITY_MBPS).is_ok());
        assert!(check_capacity("x", MAX_CAPACITY_MBPS).is_ok());
        let e = check_capacity("x", 1e302).unwrap_err().to_string();
        assert_eq!(e, "x: must be between 0.001 and 1e7 Mbit/s, got 1e302");
        assert!(check_period("x", 1e-12).is_err());
        assert!(check_time("x", 0.0).is_ok());
        assert!(check_time("x", 2e10).is_err());
    }

    #[test]
    fn names_with_control_characters_are_rejected_on_one_line() {
        let e = check_name("hosts[0].name", "a\nb").unwrap_err().to_string();
        assert_eq!(e, "hosts[0].name: name `a\\nb` contains control characters (newline, tab...)");
        assert!(check_name("n", " ").is_err());
        assert!(check_name("n", &"x".repeat(MAX_NAME_BYTES + 1)).is_err());
        assert_eq!(one_line("a\r\nb"), "a\\r\\nb");
    }
}
