//! A minimal CycloneDX 1.6 BOM: one component per scanned file (`machine-learning-model` for
//! model formats, `file` otherwise) with its SHA-256, and every finding as a `vulnerability`
//! that affects its component. The AI-BOM extends this with model cards later.

use crate::ScanReport;
use crate::text::utc_timestamp;
use aigis_scan::{FileResult, Finding, Format, RuleId};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

/// Whether a result describes a model (as opposed to a plain archive or an unknown file).
fn is_model(result: &FileResult) -> bool {
    result.format.is_pickle_family()
        || result.model.framework.is_some()
        || matches!(
            result.format,
            Format::Safetensors
                | Format::Gguf
                | Format::Onnx
                | Format::TfSavedmodel
                | Format::Tflite
                | Format::KerasV3
                | Format::KerasH5
        )
}

fn property(name: &str, value: impl Into<String>) -> Value {
    json!({ "name": name, "value": value.into() })
}

fn component(index: usize, result: &FileResult) -> Value {
    let status = serde_json::to_value(result.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut properties = vec![
        property("aigis:format", result.format.as_str()),
        property("aigis:status", status),
        property("aigis:size", result.size.to_string()),
        property(
            "aigis:max_severity",
            result.max_severity.map_or("none", |s| s.as_str()),
        ),
    ];
    if let Some(framework) = &result.model.framework {
        properties.push(property("aigis:framework", framework.clone()));
    }
    if let Some(architecture) = &result.model.architecture {
        properties.push(property("aigis:architecture", architecture.clone()));
    }
    let mut component = json!({
        "type": if is_model(result) { "machine-learning-model" } else { "file" },
        "bom-ref": bom_ref(index),
        "name": result.path,
        "properties": properties,
    });
    if let Some(sha) = &result.sha256 {
        component["hashes"] = json!([{ "alg": "SHA-256", "content": sha }]);
    }
    component
}

fn bom_ref(index: usize) -> String {
    format!("file-{}", index + 1)
}

fn cwes(rule: RuleId) -> Vec<u32> {
    rule.rule()
        .references
        .iter()
        .filter_map(|r| r.strip_prefix("CWE-")?.split(':').next()?.parse().ok())
        .collect()
}

fn vulnerability(number: usize, component: usize, finding: &Finding) -> Value {
    let rule = finding.rule_id.rule();
    let description = match &finding.location {
        Some(place) => format!("{} (at {place})", finding.message),
        None => finding.message.clone(),
    };
    let mut vuln = json!({
        "bom-ref": format!("finding-{number}"),
        "id": rule.id,
        "source": { "name": "aigis", "url": "https://github.com/aigis-dev/aigis" },
        "ratings": [{
            "source": { "name": "aigis" },
            "severity": finding.severity.as_str(),
            "method": "other",
        }],
        "description": description,
        "detail": rule.explanation,
        "recommendation": rule.remediation,
        "affects": [{ "ref": bom_ref(component) }],
    });
    let cwes = cwes(finding.rule_id);
    if !cwes.is_empty() {
        vuln["cwes"] = json!(cwes);
    }
    if !finding.indicators.is_empty() {
        vuln["properties"] = Value::Array(
            finding
                .indicators
                .iter()
                .map(|i| property("aigis:indicator", i.clone()))
                .collect(),
        );
    }
    if let Some(suppressed) = &finding.suppressed {
        let detail = match &suppressed.expires {
            Some(date) => format!("suppressed by policy until {date}: {}", suppressed.reason),
            None => format!("suppressed by policy: {}", suppressed.reason),
        };
        vuln["analysis"] = json!({ "state": "not_affected", "detail": detail });
    }
    vuln
}

/// A version-4 style UUID derived from the report content and the current time.
fn serial_number(report: &ScanReport) -> String {
    let mut hasher = Sha256::new();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.update(nanos.to_le_bytes());
    for result in &report.results {
        hasher.update(result.path.as_bytes());
        hasher.update(result.sha256.as_deref().unwrap_or("").as_bytes());
    }
    let digest = hasher.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Renders the report as a CycloneDX 1.6 JSON BOM.
pub fn render(report: &ScanReport) -> serde_json::Result<String> {
    let components: Vec<Value> = report
        .results
        .iter()
        .enumerate()
        .map(|(i, r)| component(i, r))
        .collect();
    let mut vulnerabilities = Vec::new();
    for (i, result) in report.results.iter().enumerate() {
        for finding in &result.findings {
            let number = vulnerabilities.len() + 1;
            vulnerabilities.push(vulnerability(number, i, finding));
        }
    }
    let bom = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial_number(report),
        "version": 1,
        "metadata": {
            "timestamp": utc_timestamp(),
            "tools": { "components": [{
                "type": "application",
                "name": report.tool.name,
                "version": report.tool.version,
            }]},
        },
        "components": components,
        "vulnerabilities": vulnerabilities,
    });
    serde_json::to_string_pretty(&bom).map(|s| s + "\n")
}
