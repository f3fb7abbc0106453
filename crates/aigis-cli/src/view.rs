//! Views of a run shared by the commands: the scan report document and the BOMs.

use aigis_engine::Run;
use aigis_inventory::bom::{self, BomInput};
use aigis_report::ScanReport;
use aigis_scan::{FileResult, Finding};

/// The report document every report writer renders.
pub fn report(run: &Run) -> ScanReport {
    let mut report = ScanReport::new(run.results.clone());
    report.fail_on = run.fail_on;
    report.warnings = run.warnings.clone();
    report.policy = run
        .policy_file
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    report.summary.excluded = run.excluded;
    report.summary.ignored = run.ignored;
    report
}

/// Which BOM format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BomFormat {
    /// CycloneDX 1.6 JSON.
    Cyclonedx,
    /// SPDX 3.0.1 JSON-LD.
    Spdx,
}

/// The run's models (and `loose` results, files in no model) as a BOM.
pub fn bom(run: &Run, loose: &[FileResult], format: BomFormat) -> serde_json::Result<String> {
    let input = BomInput {
        models: &run.models,
        loose,
        tool_version: env!("CARGO_PKG_VERSION"),
    };
    match format {
        BomFormat::Cyclonedx => bom::cyclonedx::render(&input),
        BomFormat::Spdx => bom::spdx::render(&input),
    }
}

/// A finding's text for one-line terminal output (content escaped).
pub fn finding_line(finding: &Finding) -> String {
    format!(
        "{} {} {}",
        finding.severity.as_str(),
        finding.rule_id,
        aigis_report::terminal_safe(&finding.message)
    )
}

/// Whether to colour terminal output: stdout is a terminal and `NO_COLOR` is not set.
pub fn use_color() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Prints a run-level warning on stderr, content escaped.
pub fn warn(warning: &str) {
    eprintln!("aigis: warning: {}", aigis_report::terminal_safe(warning));
}
