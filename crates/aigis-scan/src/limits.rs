//! Resource limits. A hostile file costs at most these, never the machine.

use std::time::Duration;

/// Per-file resource limits, all configurable.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes read or decompressed from any single non-tensor member or stream.
    pub max_member_bytes: u64,
    /// Bytes decompressed in total while scanning one file (all members, all levels).
    pub max_total_decompressed: u64,
    /// Largest allowed decompressed/compressed ratio once an output exceeds 1 MiB.
    pub max_ratio: u64,
    /// Archive-in-archive nesting depth.
    pub max_depth: usize,
    /// Members examined per archive.
    pub max_members: usize,
    /// Wall-clock time for one file.
    pub time_limit: Duration,
    /// Limits of the pickle machine.
    pub pickle: aigis_pickle::Limits,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_member_bytes: 128 << 20,
            max_total_decompressed: 1 << 30,
            max_ratio: 1000,
            max_depth: 8,
            max_members: 100_000,
            time_limit: Duration::from_secs(60),
            pickle: aigis_pickle::Limits::default(),
        }
    }
}
