//! What an analyzer reports.

use crate::{RuleId, Severity};
use serde::Serialize;

/// One thing an analyzer found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule id (see [`RuleId`]).
    pub rule_id: RuleId,
    /// Severity after analysis (policy may change it later).
    pub severity: Severity,
    /// What loading the file would do, in words a reviewer can act on.
    pub message: String,
    /// Where: archive member path and byte offset, e.g. `archive/data.pkl @ byte 1234`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Indicators extracted from constant arguments: URLs, IP addresses, shell commands.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub indicators: Vec<String>,
}

impl Finding {
    /// A finding with the rule's default severity.
    pub fn new(rule_id: RuleId, message: impl Into<String>) -> Finding {
        Finding {
            rule_id,
            severity: rule_id.rule().default_severity,
            message: message.into(),
            location: None,
            indicators: Vec::new(),
        }
    }
}
