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

/// Keeps only findings of `severities` in the report (recomputing each file's and the summary's
/// counts); what the run fails on is decided from the run, not from this view.
pub fn keep_severities(report: &mut ScanReport, severities: &[aigis_scan::Severity]) {
    let mut results = std::mem::take(&mut report.results);
    for result in &mut results {
        result.findings.retain(|f| severities.contains(&f.severity));
        result.normalize();
    }
    let kept = ScanReport::new(results);
    report.results = kept.results;
    let (excluded, ignored) = (report.summary.excluded, report.summary.ignored);
    report.summary = kept.summary;
    report.summary.excluded = excluded;
    report.summary.ignored = ignored;
}

/// What `--quiet` prints when a run fails: one verdict line and the files that failed it.
pub fn failure_summary(run: &Run, code: u8) -> String {
    let mut out = String::new();
    if code == 1 {
        let failing: Vec<&FileResult> = run
            .results
            .iter()
            .filter(|r| r.max_severity.is_some_and(|s| s >= run.fail_on))
            .collect();
        out += &format!(
            "aigis: FAILED: {} file(s) with findings at or above {}\n",
            failing.len(),
            run.fail_on
        );
        for result in failing {
            out += &format!(
                "  {} {}\n",
                result.max_severity.map_or("none", |s| s.as_str()),
                aigis_report::terminal_safe(&result.path)
            );
        }
    } else if run.incomplete().next().is_none() {
        out += &format!(
            "aigis: NOTHING SCANNED in {}\n",
            aigis_report::terminal_safe(&run.empty_targets.join(", "))
        );
    } else {
        let incomplete: Vec<&FileResult> = run.incomplete().collect();
        out += &format!(
            "aigis: NOT FULLY SCANNED: {} file(s) could not be analysed to the end\n",
            incomplete.len()
        );
        for result in incomplete {
            out += &format!(
                "  {}: {}\n",
                aigis_report::terminal_safe(&result.path),
                aigis_report::terminal_safe(result.incomplete.as_deref().unwrap_or(""))
            );
        }
    }
    out
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
