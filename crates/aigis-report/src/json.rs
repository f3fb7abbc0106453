//! The JSON document of `shared/CONTRACT.md`.

use crate::ScanReport;

/// Pretty-printed JSON of the report.
pub fn to_string(report: &ScanReport) -> serde_json::Result<String> {
    serde_json::to_string_pretty(report)
}
