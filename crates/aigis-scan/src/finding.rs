//! What an analyzer reports.

use crate::{RuleId, Severity};
use serde::{Deserialize, Serialize};

/// One thing an analyzer found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id (see [`RuleId`]).
    pub rule_id: RuleId,
    /// Severity after analysis (policy may change it later).
    pub severity: Severity,
    /// What loading the file would do, in words a reviewer can act on.
    pub message: String,
    /// Where: archive member path and byte offset, e.g. `archive/data.pkl @ byte 1234`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Indicators extracted from constant arguments: URLs, IP addresses, shell commands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indicators: Vec<String>,
    /// Set when a policy suppression covers this finding: it stays in reports but no longer
    /// counts toward the exit code or `max_severity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppressed>,
    /// For a load site in code: the model path it names as a constant (as written), which the
    /// run links to that file's verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loads: Option<String>,
}

/// Why a finding is suppressed: the policy entry that covers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppressed {
    /// The reviewer's reason, from the policy file.
    pub reason: String,
    /// Last day (`YYYY-MM-DD`) the suppression applies, if it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
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
            suppressed: None,
            loads: None,
        }
    }

    /// For a load site in code: naming the model path it loads.
    pub fn with_loads(mut self, path: impl Into<String>) -> Finding {
        self.loads = Some(path.into());
        self
    }

    /// With a severity other than the rule's default, for rules whose severity depends on what
    /// was found (a world-writable folder is high, a group-writable one medium).
    pub fn with_severity(mut self, severity: Severity) -> Finding {
        self.severity = severity;
        self
    }

    /// Located at `location` (an archive member path and offset, a folder, a bucket key).
    pub fn at(mut self, location: impl Into<String>) -> Finding {
        self.location = Some(location.into());
        self
    }

    /// With indicators (URLs, IP addresses, commands) taken from constant arguments.
    pub fn with_indicators(mut self, indicators: Vec<String>) -> Finding {
        self.indicators = indicators;
        self
    }

    /// Whether the finding counts: not suppressed by a policy.
    pub fn is_active(&self) -> bool {
        self.suppressed.is_none()
    }
}
