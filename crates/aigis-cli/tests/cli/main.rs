//! End-to-end tests of the `aigis` binary: one test binary (one link step), modules per area.

mod cache;
mod contract;
mod fixtures;
mod inventory;
mod policy;
#[cfg(feature = "remote")]
mod remote;
mod reports;
mod rules;
mod support;
