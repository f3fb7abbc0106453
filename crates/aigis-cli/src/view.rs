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
    report.models = run
        .models
        .iter()
        .filter_map(|m| serde_json::to_value(m).ok())
        .collect();
    report.host = host_name();
    report.generated_at = Some(utc_now());
    report
}

/// This machine's host name, from the environment or the kernel (`None` when neither says).
pub(crate) fn host_name() -> Option<String> {
    let from_env = ["HOSTNAME", "COMPUTERNAME"]
        .iter()
        .filter_map(|name| std::env::var(name).ok());
    let from_files = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok());
    from_env
        .chain(from_files)
        .map(|name| name.trim().to_string())
        .find(|name| !name.is_empty() && name.len() <= 255)
}

/// The current time as RFC 3339 UTC (`2026-12-03T11:22:39Z`); `SOURCE_DATE_EPOCH` (seconds)
/// replaces the clock for reproducible reports.
fn utc_now() -> String {
    let seconds = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    rfc3339(seconds)
}

/// Seconds since the Unix epoch as RFC 3339 UTC (the proleptic Gregorian calendar, from the
/// days-from-civil algorithm).
pub(crate) fn rfc3339(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
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

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_dates() {
        for (seconds, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (68_169_600, "1972-02-29T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_796_300_559, "2026-12-03T12:22:39Z"),
            (4_107_542_399, "2100-02-28T23:59:59Z"),
        ] {
            assert_eq!(super::rfc3339(seconds), text);
        }
    }
}
