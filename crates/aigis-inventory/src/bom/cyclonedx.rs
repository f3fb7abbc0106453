//! CycloneDX 1.6 JSON: one `machine-learning-model` component per model (purl, hashes, license,
//! `modelCard`, pedigree from `base_model`, properties) with its files as nested `file`
//! components, plain `file` components for scanned files that belong to no model, and every
//! finding as a `vulnerability` that affects both the file and its model.

use super::{BomInput, spdx_license_id, task_io, utc_timestamp};
use crate::{Model, ModelFile};
use aigis_scan::{FileResult, Finding, RuleId};
use serde_json::{Value, json};

fn property(name: &str, value: impl Into<String>) -> Value {
    json!({ "name": name, "value": value.into() })
}

fn sha_hashes(sha: Option<&String>) -> Option<Value> {
    sha.map(|s| json!([{ "alg": "SHA-256", "content": s }]))
}

/// CycloneDX `licenses` for a declared license: an SPDX-listed id as `license.id`, another
/// expression as `expression`, no assertion as the name the model declared.
fn license(tag: &str, expression: Option<&str>) -> Value {
    match expression {
        Some(expr) if expr != crate::license::NOASSERTION => {
            match crate::license::single_spdx_id(expr).or_else(|| spdx_license_id(expr)) {
                Some(id) => json!([{ "license": { "id": id } }]),
                None => json!([{ "expression": expr }]),
            }
        }
        _ => json!([{ "license": { "name": tag } }]),
    }
}

fn file_component(bom_ref: String, file: &ModelFile) -> Value {
    let mut c = json!({
        "type": "file",
        "bom-ref": bom_ref,
        "name": file.path,
        "properties": [
            property("aigis:format", file.format.as_str()),
            property("aigis:role", serde_json::to_value(file.role).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()),
            property("aigis:size", file.size.to_string()),
            property("aigis:max_severity", file.max_severity.map_or("none", |s| s.as_str())),
        ],
    });
    if let Some(h) = sha_hashes(file.sha256.as_ref()) {
        c["hashes"] = h;
    }
    c
}

fn model_card(model: &Model) -> Value {
    let mut params = serde_json::Map::new();
    if let Some(task) = &model.card.pipeline_tag {
        params.insert("task".into(), json!(task));
        if let Some((input, output)) = task_io(task) {
            params.insert("inputs".into(), json!([{ "format": input }]));
            params.insert("outputs".into(), json!([{ "format": output }]));
        }
    }
    if let Some(family) = model.model_type.as_ref().or(model.architecture.as_ref()) {
        params.insert("architectureFamily".into(), json!(family));
    }
    if let Some(arch) = &model.architecture {
        params.insert("modelArchitecture".into(), json!(arch));
    }
    if !model.card.datasets.is_empty() {
        let datasets: Vec<Value> = model
            .card
            .datasets
            .iter()
            .map(|d| json!({ "type": "dataset", "name": d }))
            .collect();
        params.insert("datasets".into(), Value::Array(datasets));
    }
    let mut limitations = Vec::new();
    if let Some(max) = model.max_severity {
        limitations.push(format!(
            "aigis: loading this model is unsafe or needs review (highest finding: {max}); see the vulnerabilities that affect it"
        ));
    }
    if !model.scanned {
        limitations.push("aigis: files were not fully scanned (discovery only)".to_string());
    }
    let mut card = json!({ "modelParameters": params, "quantitativeAnalysis": {} });
    if !limitations.is_empty() {
        card["considerations"] = json!({ "technicalLimitations": limitations });
    }
    card
}

fn model_component(index: usize, model: &Model) -> Value {
    let bom_ref = format!("model-{}", index + 1);
    let mut properties = vec![
        property("aigis:layout", model.layout),
        property("aigis:path", model.path.clone()),
        property(
            "aigis:formats",
            model
                .formats
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
        property("aigis:size", model.size.to_string()),
        property(
            "aigis:max_severity",
            model.max_severity.map_or("none", |s| s.as_str()),
        ),
    ];
    let optional = [
        ("aigis:framework", model.framework.clone()),
        ("aigis:architecture", model.architecture.clone()),
        ("aigis:model_type", model.model_type.clone()),
        ("aigis:parameters", model.parameters.map(|p| p.to_string())),
        ("aigis:quantization", model.quantization.clone()),
        (
            "aigis:source",
            model
                .provenance
                .as_ref()
                .map(|p| p.source.as_str().to_string()),
        ),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            properties.push(property(name, value));
        }
    }
    if !model.dtypes.is_empty() {
        let dtypes: Vec<&str> = model.dtypes.iter().map(String::as_str).collect();
        properties.push(property("aigis:dtypes", dtypes.join(",")));
    }
    for tag in &model.card.tags {
        properties.push(property("aigis:tag", tag.clone()));
    }
    for (k, v) in &model.metadata {
        properties.push(property(&format!("aigis:meta:{k}"), v.clone()));
    }
    // The model's signature check. CycloneDX's own `signature` is a JSF signature over the BOM
    // element, which a Sigstore bundle over the model's files is not: properties say it.
    if let Some(sig) = &model.signature {
        properties.push(property("aigis:signature:status", sig.status.clone()));
        for (name, value) in [
            ("aigis:signature:identity", &sig.identity),
            ("aigis:signature:issuer", &sig.issuer),
            ("aigis:signature:method", &sig.method),
            ("aigis:signature:root_digest", &sig.root_digest),
            ("aigis:signature:reason", &sig.reason),
        ] {
            if let Some(value) = value {
                properties.push(property(name, value.clone()));
            }
        }
        for mismatch in &sig.mismatches {
            properties.push(property("aigis:signature:mismatch", mismatch.clone()));
        }
    }
    let purl = match &model.provenance {
        Some(p) => p.purl(),
        None => {
            let version = model
                .files
                .iter()
                .find(|f| f.format.is_model())
                .and_then(|f| f.sha256.as_deref())
                .map(|s| format!("@sha256%3A{s}"))
                .unwrap_or_default();
            format!(
                "pkg:generic/{}{version}",
                crate::provenance::purl_escape(&model.name)
            )
        }
    };
    let mut c = json!({
        "type": "machine-learning-model",
        "bom-ref": bom_ref,
        "name": model.name,
        "purl": purl,
        "modelCard": model_card(model),
        "properties": properties,
    });
    if let Some(version) = model
        .provenance
        .as_ref()
        .and_then(|p| p.revision.clone())
        .or_else(|| model.version.clone())
    {
        c["version"] = json!(version);
    }
    let weights: Vec<&ModelFile> = model.files.iter().filter(|f| f.format.is_model()).collect();
    if let [only] = weights.as_slice()
        && let Some(h) = sha_hashes(only.sha256.as_ref())
    {
        c["hashes"] = h;
    }
    if let Some(tag) = model.license() {
        c["licenses"] = license(tag, model.license.as_deref());
    }
    if let Some(p) = &model.provenance
        && p.source == crate::SourceKind::HuggingFace
    {
        c["externalReferences"] = json!([{
            "type": "distribution",
            "url": format!("https://huggingface.co/{}", p.name),
        }]);
    }
    if !model.card.base_model.is_empty() {
        let ancestors: Vec<Value> = model
            .card
            .base_model
            .iter()
            .map(|b| {
                json!({
                    "type": "machine-learning-model",
                    "name": b,
                    "purl": format!("pkg:huggingface/{}", b.split('/').map(crate::provenance::purl_escape).collect::<Vec<_>>().join("/")),
                })
            })
            .collect();
        c["pedigree"] = json!({ "ancestors": ancestors });
    }
    let files: Vec<Value> = model
        .files
        .iter()
        .enumerate()
        .map(|(j, f)| file_component(format!("{bom_ref}-file-{}", j + 1), f))
        .collect();
    c["components"] = Value::Array(files);
    c
}

fn cwes(rule: RuleId) -> Vec<u32> {
    rule.rule()
        .references
        .iter()
        .filter_map(|r| r.strip_prefix("CWE-")?.split(':').next()?.parse().ok())
        .collect()
}

fn vulnerability(number: usize, affects: &[String], finding: &Finding) -> Value {
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
        "affects": affects.iter().map(|r| json!({ "ref": r })).collect::<Vec<_>>(),
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

fn loose_component(index: usize, result: &FileResult) -> Value {
    let status = serde_json::to_value(result.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut c = json!({
        "type": "file",
        "bom-ref": format!("file-{}", index + 1),
        "name": result.path,
        "properties": [
            property("aigis:format", result.format.as_str()),
            property("aigis:status", status),
            property("aigis:size", result.size.to_string()),
            property("aigis:max_severity", result.max_severity.map_or("none", |s| s.as_str())),
        ],
    });
    if let Some(h) = sha_hashes(result.sha256.as_ref()) {
        c["hashes"] = h;
    }
    c
}

/// An ML library a dependency file of the pipeline requires.
fn library_component(library: &super::Library) -> Value {
    let mut c = json!({
        "type": "library",
        "bom-ref": library.bom_ref,
        "name": library.name,
        "purl": library.purl(),
        "properties": [property("aigis:declared_in", library.declared_in.join(","))],
    });
    if let Some(version) = &library.version {
        c["version"] = json!(version);
    } else if !library.constraint.is_empty() {
        c["properties"]
            .as_array_mut()
            .into_iter()
            .for_each(|p| p.push(property("aigis:constraint", library.constraint.clone())));
    }
    c
}

/// Renders the BOM as CycloneDX 1.6 JSON.
pub fn render(input: &BomInput<'_>) -> serde_json::Result<String> {
    let mut components = Vec::new();
    let mut vulnerabilities = Vec::new();
    for (i, model) in input.models.iter().enumerate() {
        let model_ref = format!("model-{}", i + 1);
        components.push(model_component(i, model));
        for (j, file) in model.files.iter().enumerate() {
            let affects = [model_ref.clone(), format!("{model_ref}-file-{}", j + 1)];
            for finding in &file.findings {
                let n = vulnerabilities.len() + 1;
                vulnerabilities.push(vulnerability(n, &affects, finding));
            }
        }
    }
    for (i, result) in input.loose.iter().enumerate() {
        components.push(loose_component(i, result));
        for finding in &result.findings {
            let n = vulnerabilities.len() + 1;
            vulnerabilities.push(vulnerability(n, &[format!("file-{}", i + 1)], finding));
        }
    }
    let links = super::links(input);
    for library in &links.libraries {
        components.push(library_component(library));
    }
    let dependencies: Vec<Value> = links
        .depends_on
        .iter()
        .map(|(from, to)| json!({ "ref": from, "dependsOn": to }))
        .collect();
    let bom = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", input.uuid()),
        "version": 1,
        "metadata": {
            "timestamp": utc_timestamp(),
            "tools": { "components": [{
                "type": "application",
                "name": "aigis",
                "version": input.tool_version,
            }]},
        },
        "components": components,
        "vulnerabilities": vulnerabilities,
    });
    let mut bom = bom;
    if !dependencies.is_empty() {
        bom["dependencies"] = Value::Array(dependencies);
    }
    serde_json::to_string_pretty(&bom).map(|s| s + "\n")
}
