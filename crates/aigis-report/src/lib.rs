//! Report writers for aigis scan results. Each format is one module with one `write` function
//! over a [`ScanReport`]; they know nothing of how the scan was made.
//!
//! ```
//! use aigis_report::ScanReport;
//!
//! let report = ScanReport::new(Vec::new());
//! let json = aigis_report::json::to_string(&report).unwrap_or_default();
//! assert!(json.contains("\"schema_version\": 1"));
//! ```

pub mod json;
pub mod terminal;

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
    /// Findings per severity.
    pub by_severity: BTreeMap<Severity, usize>,
    /// Files per status.
    pub by_status: BTreeMap<String, usize>,
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
                *summary.by_severity.entry(finding.severity).or_default() += 1;
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
        }
    }

    /// Highest severity of any finding in any file.
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
