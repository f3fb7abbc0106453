//! Report writers for aigis scan results. Each format is one module with one `render` function
//! over a [`ScanReport`]; they know nothing of how the scan was made. Model content is hostile:
//! every writer escapes what it prints for its own syntax.
//!
//! ```
//! use aigis_report::ScanReport;
//!
//! let report = ScanReport::new(Vec::new());
//! let json = aigis_report::json::to_string(&report).unwrap_or_default();
//! assert!(json.contains("\"schema_version\": 1"));
//! ```

pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;
pub mod terminal;
mod text;

pub use text::terminal_safe;

use aigis_scan::{FileResult, Severity, Status};
use serde::Serialize;
use std::collections::BTreeMap;

/// Name and version of the tool that produced a report.
#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    /// Always `aigis`.
    pub name: &'static str,
    /// Crate version.
    pub version: &'static str,
}

/// Counts over all results.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Number of files (results).
    pub files: usize,
    /// Findings per severity (suppressed findings excluded).
    pub by_severity: BTreeMap<Severity, usize>,
    /// Findings a policy suppressed (still listed in the results).
    pub suppressed: usize,
    /// Files per status.
    pub by_status: BTreeMap<String, usize>,
    /// Results whose analysis did not cover the whole input (read errors, time limits, limits
    /// that stopped analysis): never counted as clean.
    pub incomplete: usize,
    /// Paths skipped by `--exclude` globs.
    #[serde(skip_serializing_if = "is_zero")]
    pub excluded: u64,
    /// Paths skipped by the operator's ignore files.
    #[serde(skip_serializing_if = "is_zero")]
    pub ignored: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Everything one scan run produced: the document every report format is written from.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    /// JSON contract version (1).
    pub schema_version: u32,
    /// The producing tool.
    pub tool: Tool,
    /// One result per file.
    pub results: Vec<FileResult>,
    /// Totals.
    pub summary: Summary,
    /// The run fails (exit code 1) when an unsuppressed finding reaches this severity.
    pub fail_on: Severity,
    /// Report-level notes, e.g. expired policy suppressions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The policy file applied, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Whether a result that did not complete fails the run (the default).
    pub incomplete_fails: bool,
}

impl ScanReport {
    /// Builds a report and its summary from results.
    pub fn new(results: Vec<FileResult>) -> ScanReport {
        let mut summary = Summary {
            files: results.len(),
            ..Summary::default()
        };
        for result in &results {
            for finding in &result.findings {
                if finding.is_active() {
                    *summary.by_severity.entry(finding.severity).or_default() += 1;
                } else {
                    summary.suppressed += 1;
                }
            }
            if result.incomplete.is_some() {
                summary.incomplete += 1;
            }
            let status = serde_json::to_value(result.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            *summary.by_status.entry(status).or_default() += 1;
        }
        ScanReport {
            schema_version: 1,
            tool: Tool {
                name: "aigis",
                version: env!("CARGO_PKG_VERSION"),
            },
            results,
            summary,
            fail_on: Severity::High,
            warnings: Vec::new(),
            policy: None,
            incomplete_fails: true,
        }
    }

    /// Whether an unsuppressed finding reaches the fail threshold (exit code 1).
    pub fn fails(&self) -> bool {
        self.max_severity().is_some_and(|max| max >= self.fail_on)
    }

    /// Whether results that did not complete fail the run (exit code 3 when nothing else does).
    pub fn fails_incomplete(&self) -> bool {
        self.incomplete_fails && self.summary.incomplete > 0
    }

    /// Highest severity of any unsuppressed finding in any file.
    pub fn max_severity(&self) -> Option<Severity> {
        self.results.iter().filter_map(|r| r.max_severity).max()
    }

    /// Files whose status is not `ok`/`unsupported`.
    pub fn problem_files(&self) -> usize {
        self.results
            .iter()
            .filter(|r| matches!(r.status, Status::Invalid | Status::Error))
            .count()
    }
}
