//! A pull-request comment in GitHub-flavoured Markdown: a verdict line, a severity table, the
//! files that need attention and the top findings. File content never reaches Markdown syntax:
//! paths and messages are shown as code spans (no links, images or HTML can be injected).

use crate::ScanReport;
use crate::text::SEVERITIES_DESC;
use aigis_scan::{FileResult, Finding, Severity, Status};
use std::fmt::Write;

/// Findings listed in the comment; the rest are counted.
const TOP_FINDINGS: usize = 20;

/// A code span holding arbitrary text, safe inside a table cell.
fn code(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.replace('|', "\\|");
    let longest = flat.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if flat.starts_with('`') || flat.ends_with('`') || flat.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{flat}{pad}{fence}")
}

fn badge(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "🟥 critical",
        Severity::High => "🟧 high",
        Severity::Medium => "🟨 medium",
        Severity::Low => "🟦 low",
        Severity::Info => "⬜ info",
    }
}

/// Renders the report as a Markdown PR comment.
pub fn render(report: &ScanReport) -> String {
    let mut out = String::from("## aigis model scan\n\n");
    let verdict = match report.max_severity() {
        Some(max) if report.fails() => format!(
            "❌ **Failed**: findings reach `{}` (threshold `{}`).",
            max, report.fail_on
        ),
        _ => format!(
            "✅ **Passed**: no finding at or above `{}`.",
            report.fail_on
        ),
    };
    let _ = writeln!(out, "{verdict}\n");
    let s = &report.summary;
    out.push_str("| files | critical | high | medium | low | info | suppressed |\n");
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|\n");
    let count = |sev| s.by_severity.get(&sev).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} |\n",
        s.files,
        count(Severity::Critical),
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low),
        count(Severity::Info),
        s.suppressed
    );

    let mut flagged: Vec<&FileResult> = report
        .results
        .iter()
        .filter(|r| {
            r.max_severity.is_some_and(|m| m >= Severity::Medium)
                || matches!(r.status, Status::Invalid | Status::Error)
        })
        .collect();
    flagged.sort_by_key(|r| std::cmp::Reverse(r.max_severity));
    if !flagged.is_empty() {
        out.push_str("### Files\n\n| severity | file | format | status |\n|---|---|---|---|\n");
        for r in &flagged {
            let status = serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                r.max_severity.map_or("none", badge),
                code(&r.path),
                code(r.format.as_str()),
                status
            );
        }
        out.push('\n');
    }

    let mut findings: Vec<(&FileResult, &Finding)> = report
        .results
        .iter()
        .flat_map(|r| r.findings.iter().map(move |f| (r, f)))
        .filter(|(_, f)| f.is_active() && f.severity > Severity::Info)
        .collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.1.severity));
    if !findings.is_empty() {
        out.push_str("### Top findings\n\n| severity | rule | file | what loading does |\n|---|---|---|---|\n");
        for (r, f) in findings.iter().take(TOP_FINDINGS) {
            let place = match &f.location {
                Some(l) => format!("{} @ {}", r.path, l),
                None => r.path.clone(),
            };
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} |",
                badge(f.severity),
                f.rule_id,
                code(&place),
                code(&f.message)
            );
        }
        if findings.len() > TOP_FINDINGS {
            let _ = writeln!(
                out,
                "\n…and {} more; see the full report.",
                findings.len() - TOP_FINDINGS
            );
        }
        out.push('\n');
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "> ⚠️ {}\n", code(warning));
    }
    let _ = writeln!(
        out,
        "<sub>aigis {} · {} · `aigis rules ID` explains each rule</sub>",
        report.tool.version,
        SEVERITIES_DESC
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" > ")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::code;

    #[test]
    fn code_spans_hold_hostile_text() {
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("x`y"), "``x`y``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(
            code("![i](http://e/x.png)\n<b>"),
            "`![i](http://e/x.png) <b>`"
        );
    }
}
