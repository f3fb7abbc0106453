//! The human report: one line per file with verdict and format, findings indented beneath with
//! severity colour, a summary line.

use crate::ScanReport;
use crate::text::terminal_safe as safe;
use aigis_scan::{FileResult, Severity, Status};
use std::fmt::Write;

/// Rendering choices.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// Use ANSI colours.
    pub color: bool,
    /// Also list files without findings above `info`.
    pub verbose: bool,
}

fn paint(style: Style, code: &str, text: &str) -> String {
    if style.color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn severity_code(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Info => "2",
    }
}

/// The verdict word for a file: what its content does (where it is comes on its own line).
fn verdict(result: &FileResult) -> (&'static str, &'static str) {
    match (result.status, result.content_severity) {
        (_, Some(Severity::Critical)) => ("MALICIOUS", "1;31"),
        (_, Some(Severity::High)) => ("SUSPICIOUS", "31"),
        (Status::Error, _) => ("NOT SCANNED", "1;35"),
        _ if result.incomplete.is_some() => ("PARTIAL", "1;35"),
        (Status::Invalid, _) => ("INVALID", "35"),
        (_, Some(Severity::Medium)) => ("REVIEW", "33"),
        (Status::Unsupported, _) => ("SKIPPED", "2"),
        _ => ("CLEAN", "32"),
    }
}

/// Renders the report as text.
pub fn render(report: &ScanReport, style: Style) -> String {
    let mut out = String::new();
    for result in &report.results {
        let interesting = (result.status != Status::Unsupported
            || result.max_severity.is_some_and(|s| s > Severity::Info))
            && (style.verbose
                || result.max_severity.is_some_and(|s| s > Severity::Info)
                || result.status != Status::Ok
                || result.incomplete.is_some());
        if !interesting && !style.verbose {
            continue;
        }
        let (word, code) = verdict(result);
        let _ = writeln!(
            out,
            "{} {} ({})",
            paint(style, code, &format!("{word:<11}")),
            safe(&result.path),
            result.format
        );
        let exposed: Vec<&aigis_scan::Finding> = result
            .findings
            .iter()
            .filter(|f| f.rule_id.is_location() && f.is_active())
            .collect();
        if let Some(worst) = exposed.iter().map(|f| f.severity).max() {
            let _ = writeln!(
                out,
                "    {} {} location finding(s), worst {} (see \"Where the files are\")",
                paint(style, severity_code(worst), "location:"),
                exposed.len(),
                worst
            );
        }
        for finding in &result.findings {
            if finding.rule_id.is_location() && finding.is_active() {
                continue;
            }
            if (finding.severity == Severity::Info || !finding.is_active()) && !style.verbose {
                continue;
            }
            let sev = paint(
                style,
                severity_code(finding.severity),
                &format!("{:<8}", finding.severity),
            );
            let _ = writeln!(
                out,
                "    {sev} {} {}",
                finding.rule_id,
                safe(&finding.message)
            );
            if let Some(location) = &finding.location {
                let _ = writeln!(out, "             at {}", safe(location));
            }
            if let Some(suppressed) = &finding.suppressed {
                let _ = writeln!(out, "             suppressed: {}", safe(&suppressed.reason));
            }
        }
    }
    if !report.locations.is_empty() {
        let _ = writeln!(out, "Where the files are:");
        for place in &report.locations {
            let _ = writeln!(
                out,
                "    {} {} {} — {} file(s)",
                paint(
                    style,
                    severity_code(place.severity),
                    &format!("{:<8}", place.severity)
                ),
                place.rule_id,
                safe(&place.location),
                place.files
            );
            let _ = writeln!(out, "             {}", safe(&place.message));
        }
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "{} {}", paint(style, "33", "warning:"), safe(warning));
    }
    let incomplete: Vec<&FileResult> = report
        .results
        .iter()
        .filter(|r| r.incomplete.is_some())
        .collect();
    if !incomplete.is_empty() {
        let word = if report.incomplete_fails {
            paint(style, "1;35", "NOT FULLY SCANNED")
        } else {
            paint(style, "35", "not fully scanned (allowed)")
        };
        let _ = writeln!(
            out,
            "{word}: {} file(s) were not analysed to the end:",
            incomplete.len()
        );
        for result in incomplete.iter().take(20) {
            let reason = result.incomplete.as_deref().unwrap_or_default();
            let _ = writeln!(out, "    {}: {}", safe(&result.path), safe(reason));
        }
        if incomplete.len() > 20 {
            let _ = writeln!(out, "    … and {} more", incomplete.len() - 20);
        }
    }
    if let Some(policy) = &report.policy {
        let _ = writeln!(out, "policy: {}", safe(policy));
    }
    if report.summary.excluded > 0 || report.summary.ignored > 0 {
        let _ = writeln!(
            out,
            "skipped by the operator: {} path(s) by --exclude, {} by ignore files",
            report.summary.excluded, report.summary.ignored
        );
    }
    let s = &report.summary;
    let count = |sev| s.by_severity.get(&sev).copied().unwrap_or(0);
    let clean = report
        .results
        .iter()
        .filter(|r| r.status == Status::Ok && r.max_severity.is_none_or(|m| m <= Severity::Low))
        .count();
    let _ = writeln!(
        out,
        "{} files scanned: {} clean, {} invalid, {} errors, {} unsupported; findings: {} critical, {} high, {} medium, {} low, {} info{}",
        s.files,
        clean,
        s.by_status.get("invalid").copied().unwrap_or(0),
        s.by_status.get("error").copied().unwrap_or(0),
        s.by_status.get("unsupported").copied().unwrap_or(0),
        count(Severity::Critical),
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low),
        count(Severity::Info),
        if s.suppressed > 0 {
            format!(", {} suppressed", s.suppressed)
        } else {
            String::new()
        },
    );
    out
}
