//! SPDX 3.0.1 JSON-LD with the AI profile: one `ai_AIPackage` per model (version, type of
//! model, domain, training information from the card's datasets, `ai_safetyRiskAssessment` from
//! the highest finding), its files as `software_File`s with `verifiedUsing` SHA-256 hashes linked
//! by `contains` relationships, declared licenses as `simplelicensing_LicenseExpression`s linked
//! by `hasDeclaredLicense`, one `CreationInfo` and the `SpdxDocument`.

use super::{BomInput, spdx_license_id, utc_timestamp};
use crate::Model;
use aigis_scan::{FileResult, Severity};
use serde_json::{Value, json};

/// SPDX's four risk levels from an aigis severity (none/info/low → low).
fn risk(severity: Option<Severity>) -> &'static str {
    match severity {
        Some(Severity::Critical) => "serious",
        Some(Severity::High) => "high",
        Some(Severity::Medium) => "medium",
        _ => "low",
    }
}

/// A license expression for a card's license tag: the SPDX id, else a `LicenseRef-`.
fn license_expression(tag: &str) -> String {
    match spdx_license_id(tag) {
        Some(id) => id.to_string(),
        None => crate::license::license_ref(tag),
    }
}

struct Writer {
    base: String,
    graph: Vec<Value>,
    elements: Vec<String>,
    next_relationship: usize,
}

impl Writer {
    fn id(&self, local: &str) -> String {
        format!("{}{local}", self.base)
    }

    fn push(&mut self, element: Value) {
        if let Some(id) = element["spdxId"].as_str() {
            self.elements.push(id.to_string());
        }
        self.graph.push(element);
    }

    fn relate(&mut self, from: &str, kind: &str, to: Vec<String>) {
        self.next_relationship += 1;
        let id = self.id(&format!("relationship-{}", self.next_relationship));
        self.push(json!({
            "type": "Relationship",
            "spdxId": id,
            "creationInfo": "_:creationinfo",
            "from": from,
            "relationshipType": kind,
            "to": to,
        }));
    }

    fn file(
        &mut self,
        local: &str,
        path: &str,
        sha: Option<&String>,
        purpose: Option<&str>,
    ) -> String {
        let id = self.id(local);
        let mut file = json!({
            "type": "software_File",
            "spdxId": id,
            "creationInfo": "_:creationinfo",
            "name": path,
        });
        if let Some(sha) = sha {
            file["verifiedUsing"] =
                json!([{ "type": "Hash", "algorithm": "sha256", "hashValue": sha }]);
        }
        if let Some(purpose) = purpose {
            file["software_primaryPurpose"] = json!(purpose);
        }
        self.push(file);
        id
    }

    fn model(&mut self, index: usize, model: &Model) -> String {
        let local = format!("model-{}", index + 1);
        let id = self.id(&local);
        let mut package = json!({
            "type": "ai_AIPackage",
            "spdxId": id,
            "creationInfo": "_:creationinfo",
            "name": model.name,
            "software_primaryPurpose": "model",
            "ai_safetyRiskAssessment": risk(model.max_severity),
        });
        if let Some(version) = model
            .provenance
            .as_ref()
            .and_then(|p| p.revision.clone())
            .or_else(|| model.version.clone())
        {
            package["software_packageVersion"] = json!(version);
        }
        if let Some(p) = &model.provenance {
            package["software_packageUrl"] = json!(p.purl());
            if p.source == crate::SourceKind::HuggingFace {
                package["software_downloadLocation"] =
                    json!(format!("https://huggingface.co/{}", p.name));
            }
        }
        let types: Vec<&String> = model
            .architecture
            .iter()
            .chain(model.model_type.iter())
            .collect();
        if !types.is_empty() {
            package["ai_typeOfModel"] = json!(types);
        }
        if let Some(task) = &model.card.pipeline_tag {
            package["ai_domain"] = json!([task]);
        }
        // The signed manifest's root digest (OpenSSF Model Signing), with the check's outcome.
        if let Some(sig) = &model.signature
            && let Some(root) = sig
                .root_digest
                .as_deref()
                .and_then(|r| r.strip_prefix("sha256:"))
        {
            let mut comment = format!(
                "OpenSSF Model Signing root digest; signature {}",
                sig.status
            );
            if let Some(identity) = &sig.identity {
                comment += &format!(" by {identity}");
            }
            if let Some(issuer) = &sig.issuer {
                comment += &format!(" ({issuer})");
            }
            if let Some(reason) = &sig.reason {
                comment += &format!(": {reason}");
            }
            package["verifiedUsing"] = json!([{
                "type": "Hash",
                "algorithm": "sha256",
                "hashValue": root,
                "comment": comment,
            }]);
        }
        if !model.card.datasets.is_empty() {
            package["ai_informationAboutTraining"] = json!(format!(
                "datasets named by the model card: {}",
                model.card.datasets.join(", ")
            ));
        }
        let mut comment = format!(
            "aigis: layout {}, formats {}, max severity {}",
            model.layout,
            model
                .formats
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(","),
            model.max_severity.map_or("none", |s| s.as_str())
        );
        if let Some(p) = model.parameters {
            comment += &format!(", {p} parameters");
        }
        if let Some(q) = &model.quantization {
            comment += &format!(", quantization {q}");
        }
        let findings = model.findings().count();
        if findings > 0 {
            comment += &format!(", {findings} findings");
        }
        package["comment"] = json!(comment);
        self.push(package);
        let files: Vec<String> = model
            .files
            .iter()
            .enumerate()
            .map(|(j, f)| {
                let purpose = f.format.is_model().then_some("model");
                self.file(
                    &format!("{local}-file-{}", j + 1),
                    &f.path,
                    f.sha256.as_ref(),
                    purpose,
                )
            })
            .collect();
        if !files.is_empty() {
            self.relate(&id, "contains", files);
        }
        if let Some(tag) = model.license() {
            let license = self.id(&format!("{local}-license"));
            self.push(json!({
                "type": "simplelicensing_LicenseExpression",
                "spdxId": license,
                "creationInfo": "_:creationinfo",
                "simplelicensing_licenseExpression": model
                    .license
                    .clone()
                    .unwrap_or_else(|| license_expression(tag)),
            }));
            self.relate(&id, "hasDeclaredLicense", vec![license]);
        }
        id
    }

    fn loose(&mut self, index: usize, result: &FileResult) -> String {
        self.file(
            &format!("file-{}", index + 1),
            &result.path,
            result.sha256.as_ref(),
            None,
        )
    }
}

/// Renders the BOM as an SPDX 3.0.1 JSON-LD document.
pub fn render(input: &BomInput<'_>) -> serde_json::Result<String> {
    let uuid = input.uuid();
    let mut w = Writer {
        base: format!("urn:aigis:{uuid}:"),
        graph: Vec::new(),
        elements: Vec::new(),
        next_relationship: 0,
    };
    let tool = w.id("tool");
    let org = w.id("organization");
    let creation = json!({
        "type": "CreationInfo",
        "@id": "_:creationinfo",
        "specVersion": "3.0.1",
        "created": utc_timestamp(),
        "createdBy": [org],
        "createdUsing": [tool],
    });
    w.graph.push(creation);
    w.push(json!({
        "type": "Tool",
        "spdxId": tool,
        "creationInfo": "_:creationinfo",
        "name": format!("aigis {}", input.tool_version),
    }));
    w.push(json!({
        "type": "Organization",
        "spdxId": org,
        "creationInfo": "_:creationinfo",
        "name": "aigis",
    }));
    let mut roots = Vec::new();
    for (i, model) in input.models.iter().enumerate() {
        roots.push(w.model(i, model));
    }
    for (i, result) in input.loose.iter().enumerate() {
        roots.push(w.loose(i, result));
    }
    let links = super::links(input);
    for library in &links.libraries {
        let id = w.id(&library.bom_ref);
        let mut package = json!({
            "type": "software_Package",
            "spdxId": id,
            "creationInfo": "_:creationinfo",
            "name": library.name,
            "software_primaryPurpose": "library",
            "software_packageUrl": library.purl(),
        });
        if let Some(version) = &library.version {
            package["software_packageVersion"] = json!(version);
        }
        w.push(package);
    }
    for (from, to) in &links.depends_on {
        let from = w.id(from);
        let to = to.iter().map(|t| w.id(t)).collect();
        w.relate(&from, "dependsOn", to);
    }
    let document = json!({
        "type": "SpdxDocument",
        "spdxId": w.id("document"),
        "creationInfo": "_:creationinfo",
        "name": "aigis AI-BOM",
        "profileConformance": ["core", "software", "ai", "simpleLicensing"],
        "rootElement": roots,
        "element": w.elements,
    });
    w.graph.push(document);
    let doc = json!({
        "@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
        "@graph": w.graph,
    });
    serde_json::to_string_pretty(&doc).map(|s| s + "\n")
}
