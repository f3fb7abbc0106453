//! JUnit XML for CI dashboards: one test case per scanned file, failing when an unsuppressed
//! finding reaches the fail threshold; files that could not be read are errors.

use crate::ScanReport;
use crate::text::xml_escape;
use aigis_scan::{FileResult, Finding, Status};
use std::fmt::Write;

fn finding_line(finding: &Finding) -> String {
    let mut line = format!(
        "[{}] {}: {}",
        finding.severity, finding.rule_id, finding.message
    );
    if let Some(place) = &finding.location {
        let _ = write!(line, " (at {place})");
    }
    if let Some(s) = &finding.suppressed {
        let _ = write!(line, " [suppressed: {}]", s.reason);
    }
    line
}

fn testcase(out: &mut String, report: &ScanReport, result: &FileResult) {
    let _ = writeln!(
        out,
        "    <testcase classname=\"aigis.{}\" name=\"{}\" time=\"0\">",
        xml_escape(result.format.as_str()),
        xml_escape(&result.path)
    );
    let failing: Vec<&Finding> = result
        .findings
        .iter()
        .filter(|f| f.is_active() && f.severity >= report.fail_on)
        .collect();
    if result.status == Status::Error {
        let message = result
            .findings
            .first()
            .map_or("file could not be read".to_string(), |f| f.message.clone());
        let _ = writeln!(
            out,
            "      <error message=\"{}\" type=\"READ-ERROR\"/>",
            xml_escape(&message)
        );
    } else if let Some(worst) = failing.first() {
        let body: Vec<String> = failing.iter().map(|f| finding_line(f)).collect();
        let _ = writeln!(
            out,
            "      <failure message=\"{}\" type=\"{}\">{}</failure>",
            xml_escape(&format!(
                "{} finding(s) at or above {}: {}",
                failing.len(),
                report.fail_on,
                worst.message
            )),
            xml_escape(worst.rule_id.as_str()),
            xml_escape(&body.join("\n"))
        );
    }
    let below: Vec<String> = result
        .findings
        .iter()
        .filter(|f| !failing.contains(f))
        .map(finding_line)
        .collect();
    if !below.is_empty() {
        let _ = writeln!(
            out,
            "      <system-out>{}</system-out>",
            xml_escape(&below.join("\n"))
        );
    }
    out.push_str("    </testcase>\n");
}

/// Renders the report as JUnit XML.
pub fn render(report: &ScanReport) -> String {
    let failures = report
        .results
        .iter()
        .filter(|r| {
            r.status != Status::Error
                && r.findings
                    .iter()
                    .any(|f| f.is_active() && f.severity >= report.fail_on)
        })
        .count();
    let errors = report
        .results
        .iter()
        .filter(|r| r.status == Status::Error)
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"aigis\" tests=\"{0}\" failures=\"{1}\" errors=\"{2}\">\n  <testsuite name=\"aigis model scan (fail on {3})\" tests=\"{0}\" failures=\"{1}\" errors=\"{2}\" skipped=\"0\">",
        report.results.len(),
        failures,
        errors,
        report.fail_on
    );
    for result in &report.results {
        testcase(&mut out, report, result);
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
