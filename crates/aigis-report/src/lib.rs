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

use aigis_scan::{FileResult, RuleId, Severity, Status};
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

/// One exposure of a location (a folder others can write, a public bucket, a link out of the
/// tree), with how many files under it it concerns: reported once, not on every file.
#[derive(Debug, Clone, Serialize)]
pub struct LocationExposure {
    /// The rule (`HOST-WRITABLE-PATH`, `STORAGE-PUBLIC-WRITE`, …).
    pub rule_id: RuleId,
    /// Its severity (counted in the run's severities and exit code like any finding).
    pub severity: Severity,
    /// The location: a folder, a bucket and its policy, a link.
    pub location: String,
    /// What is wrong with it (the first finding's words).
    pub message: String,
    /// Files it concerns.
    pub files: usize,
    /// Some of them (the first 20 by path).
    pub paths: Vec<String>,
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
    /// Exposure of the files' locations, each once with the files it concerns (the same
    /// findings stay on each file's result, marked by their rule's scope).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<LocationExposure>,
    /// What was scanned: the paths and URLs as given on the command line (set by the CLI).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// The results grouped into models as `aigis discover` groups them (name, layout, path,
    /// files, provenance), so a report pushed to an inventory carries its models (set by the
    /// CLI).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<serde_json::Value>,
    /// The name of the host that ran the scan (set by the CLI when it can tell). Shown by the
    /// HTML report only: JSON reports are uploaded as artifacts and compared between hosts.
    #[serde(skip)]
    pub host: Option<String>,
    /// When the report was made, RFC 3339 UTC (set by the CLI). Shown by the HTML report but
    /// not written to the JSON, which stays identical for identical scans (runs are compared
    /// by their documents).
    #[serde(skip)]
    pub generated_at: Option<String>,
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
            locations: Vec::new(),
            targets: Vec::new(),
            models: Vec::new(),
            host: None,
            generated_at: None,
        }
        .with_locations()
    }

    /// Aggregates the location findings of every result by (rule, location, severity).
    fn with_locations(mut self) -> ScanReport {
        let mut by_place: BTreeMap<(RuleId, String, Severity), LocationExposure> = BTreeMap::new();
        for result in &self.results {
            for finding in &result.findings {
                if !finding.rule_id.is_location() || !finding.is_active() {
                    continue;
                }
                let location = finding
                    .location
                    .clone()
                    .unwrap_or_else(|| result.path.clone());
                let entry = by_place
                    .entry((finding.rule_id, location.clone(), finding.severity))
                    .or_insert_with(|| LocationExposure {
                        rule_id: finding.rule_id,
                        severity: finding.severity,
                        location,
                        message: finding.message.clone(),
                        files: 0,
                        paths: Vec::new(),
                    });
                entry.files += 1;
                if entry.paths.len() < 20 {
                    entry.paths.push(result.path.clone());
                }
            }
        }
        let mut locations: Vec<LocationExposure> = by_place.into_values().collect();
        locations.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.files.cmp(&a.files)));
        self.locations = locations;
        self
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
