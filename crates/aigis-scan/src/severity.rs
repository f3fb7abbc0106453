//! How bad a finding is, in the words of the JSON contract.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Severity of a finding, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Metadata and hygiene notes (e.g. "pickle runs code on load").
    Info,
    /// Minor hygiene issue.
    Low,
    /// Needs trust in code outside the known-safe set, or a structural anomaly.
    Medium,
    /// Calls a function no legitimate model needs; treat as malicious until reviewed.
    High,
    /// Loading attacks the host: command execution, code evaluation, file writes, network, imports.
    Critical,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lower-case name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a severity name that is not one of the five.
#[derive(Debug, thiserror::Error)]
#[error("unknown severity `{0}` (expected info, low, medium, high or critical)")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownSeverity(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_names_round_trip() {
        assert!(Severity::Critical > Severity::High && Severity::Medium > Severity::Info);
        for sev in Severity::ALL {
            assert_eq!(sev.as_str().parse::<Severity>().ok(), Some(sev));
        }
        assert!("severe".parse::<Severity>().is_err());
    }
}
