//! End-to-end tests of the `aigis` binary: one test binary (one link step), modules per area.

mod contract;
mod fixtures;
#[cfg(feature = "remote")]
mod remote;
mod support;
