//! SARIF 2.1.0 for GitHub code scanning and other SARIF viewers: every catalogue rule under
//! `tool.driver.rules` (descriptions, help, level, `security-severity`), one result per
//! finding with a path relative to the base folder, archive members as logical locations,
//! policy suppressions as SARIF `suppressions`, and a stable `partialFingerprints` entry.

use crate::ScanReport;
use crate::text::{file_uri, relative_to, uri_encode};
use aigis_scan::{FileResult, Finding, Rule, RuleId, Severity};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The `uriBaseId` result paths are relative to.
const SRCROOT: &str = "%SRCROOT%";

/// SARIF `level` of a severity.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` score (critical ≥ 9, high ≥ 7, medium ≥ 4, low > 0).
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "7.5",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

/// GitHub tags for a rule: `security` plus `external/cwe/cwe-N` for each CWE reference.
fn tags(rule: &Rule) -> Vec<String> {
    let mut tags = vec!["security".to_string(), "ai-supply-chain".to_string()];
    for reference in rule.references {
        if let Some(number) = reference
            .strip_prefix("CWE-")
            .and_then(|rest| rest.split(':').next())
        {
            tags.push(format!("external/cwe/cwe-{number}"));
        }
    }
    tags
}

fn rule_descriptor(rule: &Rule) -> Value {
    let references: String = rule.references.iter().map(|r| format!("- {r}\n")).collect();
    let markdown = format!(
        "**{}**\n\n{}\n\n**Remediation:** {}\n{}",
        rule.title,
        rule.explanation,
        rule.remediation,
        if references.is_empty() {
            String::new()
        } else {
            format!("\n**References**\n\n{references}")
        }
    );
    json!({
        "id": rule.id,
        "name": rule.id,
        "shortDescription": { "text": rule.title },
        "fullDescription": { "text": rule.explanation },
        "help": {
            "text": format!("{}\n\nRemediation: {}\n\nReferences: {}", rule.explanation, rule.remediation, rule.references.join("; ")),
            "markdown": markdown,
        },
        "defaultConfiguration": { "level": level(rule.default_severity) },
        "properties": {
            "security-severity": security_severity(rule.default_severity),
            "precision": "high",
            "tags": tags(rule),
        },
    })
}

/// Whether a result path is already an absolute URI (`s3://bucket/key`, `hf://org/name@rev/f`,
/// `https://…`): a remote object, never relative to the checkout.
fn remote_uri(path: &str) -> Option<String> {
    let (scheme, rest) = path.split_once("://")?;
    let valid = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let authority_ok = authority
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~:@[]".contains(c));
    (valid && authority_ok).then(|| {
        format!(
            "{}://{authority}/{}",
            scheme.to_ascii_lowercase(),
            uri_encode(path)
        )
    })
}

fn location(result: &FileResult, finding: &Finding, base: &Path) -> Value {
    let artifact = match (remote_uri(&result.path), relative_to(&result.path, base)) {
        (Some(uri), _) => json!({ "uri": uri }),
        (None, Some(relative)) => json!({ "uri": uri_encode(&relative), "uriBaseId": SRCROOT }),
        (None, None) => json!({ "uri": file_uri(&result.path, base) }),
    };
    // Model files are binary: GitHub needs a line, so the region is the file's start, and the
    // exact place (archive member, byte offset) goes in its message and a logical location.
    let mut region = json!({ "startLine": 1 });
    let mut location = json!({ "physicalLocation": { "artifactLocation": artifact } });
    // Source code (Python files) is text: its findings are at `line L, column C` of the file.
    if let Some((line, column)) = finding.location.as_deref().and_then(source_position) {
        region = json!({ "startLine": line, "startColumn": column });
        location["physicalLocation"]["region"] = region;
        return location;
    }
    if let Some(place) = &finding.location {
        region["message"] = json!({ "text": place });
        let member = place.split(" @ ").next().unwrap_or(place);
        location["logicalLocations"] = json!([{
            "name": member,
            "fullyQualifiedName": format!("{}!{place}", result.path),
            "kind": "object",
        }]);
    }
    location["physicalLocation"]["region"] = region;
    location
}

/// `line L, column C` (a finding in a source file itself, not in an archive member or a notebook
/// cell): the 1-based line and column.
fn source_position(place: &str) -> Option<(u64, u64)> {
    let rest = place.strip_prefix("line ")?;
    let (line, column) = rest.split_once(", column ")?;
    Some((line.parse().ok()?, column.parse().ok()?))
}

/// What identifies a finding across runs: its rule, its file (relative to the base, or the
/// remote URI), the archive member it is in and what it says — not byte offsets, which move when
/// anything before them changes.
fn fingerprint(result: &FileResult, finding: &Finding, base: &Path) -> String {
    let path = remote_uri(&result.path)
        .or_else(|| relative_to(&result.path, base))
        .unwrap_or_else(|| result.path.clone());
    let member = finding
        .location
        .as_deref()
        .map(|l| l.split(" @ ").next().unwrap_or(l))
        .filter(|l| !l.starts_with("byte "))
        .unwrap_or("");
    let mut hasher = Sha256::new();
    for part in [finding.rule_id.as_str(), &path, member, &finding.message] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

fn result_object(result: &FileResult, finding: &Finding, base: &Path) -> Value {
    let rule_index = RuleId::ALL
        .iter()
        .position(|r| *r == finding.rule_id)
        .unwrap_or(0);
    let text = match &finding.location {
        Some(place) => format!("{} (at {place})", finding.message),
        None => finding.message.clone(),
    };
    let mut properties = json!({
        "severity": finding.severity.as_str(),
        "format": result.format.as_str(),
        "status": result.status,
    });
    if let Some(sha) = &result.sha256 {
        properties["sha256"] = json!(sha);
    }
    if !finding.indicators.is_empty() {
        properties["indicators"] = json!(finding.indicators);
    }
    let mut object = json!({
        "ruleId": finding.rule_id.as_str(),
        "ruleIndex": rule_index,
        "level": level(finding.severity),
        "message": { "text": text },
        "locations": [location(result, finding, base)],
        "partialFingerprints": { "aigisFindingHash/v2": fingerprint(result, finding, base) },
        "properties": properties,
    });
    if let Some(suppressed) = &finding.suppressed {
        let justification = match &suppressed.expires {
            Some(date) => format!("{} (until {date})", suppressed.reason),
            None => suppressed.reason.clone(),
        };
        object["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": justification,
        }]);
    }
    object
}

/// Renders the report as a SARIF 2.1.0 log; local result paths are made relative to `base`
/// (normally the current directory or the repository root), remote ones stay absolute URIs.
/// Findings below `min_severity` are left out (by default `info`: format notes are no alerts).
pub fn render(
    report: &ScanReport,
    base: &Path,
    min_severity: Severity,
) -> serde_json::Result<String> {
    let rules: Vec<Value> = RuleId::ALL
        .iter()
        .map(|r| rule_descriptor(r.rule()))
        .collect();
    let results: Vec<Value> = report
        .results
        .iter()
        .flat_map(|result| {
            result
                .findings
                .iter()
                .filter(move |finding| finding.severity >= min_severity)
                .map(move |finding| result_object(result, finding, base))
        })
        .collect();
    let base_uri = format!("{}/", file_uri("", base).trim_end_matches('/'));
    let notifications: Vec<Value> = report
        .warnings
        .iter()
        .map(|w| json!({ "level": "warning", "message": { "text": w } }))
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": report.tool.name,
                "version": report.tool.version,
                "semanticVersion": report.tool.version,
                "informationUri": "https://github.com/aigis-dev/aigis",
                "rules": rules,
            }},
            "originalUriBaseIds": { SRCROOT: { "uri": base_uri } },
            "invocations": [{
                "executionSuccessful": report.summary.incomplete == 0,
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
            "properties": {
                "files": report.summary.files,
                "failOn": report.fail_on.as_str(),
                "incomplete": report.summary.incomplete,
                "policy": report.policy,
            },
        }],
    });
    serde_json::to_string_pretty(&log).map(|s| s + "\n")
}
