//! CycloneDX ML-BOMs in and out of the inventory.
//!
//! In: a CycloneDX document (the one `aigis bom` writes, or any other tool's) read as a run:
//! each `machine-learning-model` component is a model, each `file` component (nested in a
//! model or not) a result, each vulnerability a finding on the results it affects. What only
//! aigis can say — that a file's content was analysed, and how it came out — is believed only
//! from aigis's own properties: a model or file another tool listed is recorded as content
//! aigis has not analysed (verdict `incomplete`), never as clean.
//!
//! Out: what the inventory holds now as one CycloneDX 1.6 ML-BOM — every model some location
//! holds with its files, every other file some location holds, every finding on that content as
//! a vulnerability with its triage as the CycloneDX analysis, and where each file is as
//! `aigis:location` properties (which reading the BOM back turns into locations again).

use crate::document::{FindingDoc, ModelDoc, ModelFileDoc, ResultDoc, ScanDocument, ToolDoc};
use crate::{Result, Store, StoreError};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

/// Whether a JSON document is a CycloneDX BOM.
pub fn is_cyclonedx(document: &Value) -> bool {
    document.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX")
}

/// Components a BOM may hold before it is refused (each becomes rows).
const MAX_COMPONENTS: usize = 1_000_000;

fn property<'a>(component: &'a Value, name: &str) -> Option<&'a str> {
    component
        .get("properties")?
        .as_array()?
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))?
        .get("value")?
        .as_str()
}

fn properties<'a>(component: &'a Value, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    component
        .get("properties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |p| p.get("name").and_then(Value::as_str) == Some(name))
        .filter_map(|p| p.get("value")?.as_str())
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key)?.as_str().filter(|s| !s.is_empty())
}

fn sha256_of(component: &Value) -> Option<String> {
    component
        .get("hashes")?
        .as_array()?
        .iter()
        .find(|h| {
            text(h, "alg").is_some_and(|a| a.eq_ignore_ascii_case("SHA-256"))
                && text(h, "content")
                    .is_some_and(|c| c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .and_then(|h| text(h, "content"))
        .map(str::to_ascii_lowercase)
}

/// The producing tool, from `metadata.tools` (the 1.5+ object form or the older array).
fn producer(bom: &Value) -> Option<ToolDoc> {
    let tools = bom.get("metadata")?.get("tools")?;
    let list = match tools {
        Value::Array(list) => list,
        Value::Object(o) => o.get("components")?.as_array()?,
        _ => return None,
    };
    let tool = list.first()?;
    Some(ToolDoc {
        name: text(tool, "name").unwrap_or_default().to_owned(),
        version: text(tool, "version").unwrap_or_default().to_owned(),
    })
}

/// A CycloneDX severity as an aigis one; a missing or `unknown` rating is not a low one.
fn severity(vulnerability: &Value) -> String {
    let rank = |s: &str| crate::severity_rank(s);
    let best = vulnerability
        .get("ratings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| text(r, "severity"))
        .map(|s| match s.to_ascii_lowercase().as_str() {
            "critical" => "critical",
            "high" => "high",
            "low" => "low",
            "info" | "none" => "info",
            _ => "medium",
        })
        .max_by_key(|s| rank(s));
    best.unwrap_or("medium").to_owned()
}

/// A location URI as the source of a result (which the ingest turns back into the location).
fn source_of_uri(uri: &str) -> Value {
    json!({ "kind": "uri", "uri": uri })
}

struct Reader<'a> {
    aigis_made: bool,
    tool: String,
    results: Vec<ResultDoc>,
    models: Vec<ModelDoc>,
    /// bom-ref → the results it stands for.
    refs: HashMap<&'a str, Vec<usize>>,
    components: usize,
}

impl<'a> Reader<'a> {
    /// Why a result from this component is not known to be analysed, if it is not.
    fn not_analysed(&self, component: &Value, model_unscanned: bool) -> Option<String> {
        if !self.aigis_made {
            return Some(format!(
                "listed in a CycloneDX BOM by {}; aigis has not analysed this content",
                self.tool
            ));
        }
        if model_unscanned {
            return Some("listed by aigis bom without scanning (discovery only)".to_owned());
        }
        let said = property(component, "aigis:max_severity")
            .or_else(|| property(component, "aigis:verdict"));
        if said.is_none() {
            return Some("the BOM does not say aigis analysed this content".to_owned());
        }
        property(component, "aigis:incomplete").map(str::to_owned)
    }

    /// Results for one file-like component (one per `aigis:location`, else one).
    fn add_results(
        &mut self,
        component: &'a Value,
        fallback_path: &str,
        model_unscanned: bool,
    ) -> Vec<usize> {
        let sha256 = sha256_of(component);
        let incomplete = self.not_analysed(component, model_unscanned);
        let status = property(component, "aigis:status")
            .filter(|_| self.aigis_made)
            .unwrap_or("ok")
            .to_owned();
        let format = property(component, "aigis:format")
            .unwrap_or("unknown")
            .to_owned();
        let size = property(component, "aigis:size")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let path = property(component, "aigis:path")
            .or_else(|| text(component, "name"))
            .unwrap_or(fallback_path)
            .to_owned();
        let mut sources: Vec<Option<Value>> = properties(component, "aigis:location")
            .map(|uri| Some(source_of_uri(uri)))
            .collect();
        if sources.is_empty() {
            let purl = text(component, "purl").filter(|_| !self.aigis_made);
            sources.push(purl.map(source_of_uri));
        }
        let mut indices = Vec::new();
        for source in sources {
            indices.push(self.results.len());
            self.results.push(ResultDoc {
                path: path.clone(),
                format: format.clone(),
                size,
                sha256: sha256.clone(),
                status: status.clone(),
                content_severity: None,
                findings: Vec::new(),
                source,
                incomplete: incomplete.clone(),
            });
        }
        if let Some(r) = text(component, "bom-ref") {
            self.refs
                .entry(r)
                .or_default()
                .extend(indices.iter().copied());
        }
        indices
    }

    fn model(&mut self, component: &'a Value) {
        let name = text(component, "name")
            .unwrap_or("unnamed model")
            .to_owned();
        let unscanned = property(component, "aigis:scanned") == Some("false")
            || component
                .pointer("/modelCard/considerations/technicalLimitations")
                .and_then(Value::as_array)
                .is_some_and(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .any(|s| s.contains("not fully scanned"))
                });
        let children: Vec<&'a Value> = component
            .get("components")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|c| text(c, "type") == Some("file"))
            .collect();
        let mut indices = Vec::new();
        if children.is_empty() {
            indices.extend(self.add_results(component, &name, unscanned));
        } else {
            for child in children {
                self.components += 1;
                indices.extend(self.add_results(child, &name, unscanned));
            }
        }
        if let Some(r) = text(component, "bom-ref") {
            let mine = indices.clone();
            self.refs.entry(r).or_default().extend(mine);
        }
        let mut provenance = Map::new();
        for key in ["purl", "version"] {
            if let Some(v) = text(component, key) {
                provenance.insert(key.to_owned(), json!(v));
            }
        }
        if let Some(source) = property(component, "aigis:source") {
            provenance.insert("source".to_owned(), json!(source));
        }
        let license = component
            .get("licenses")
            .and_then(Value::as_array)
            .and_then(|l| l.first())
            .and_then(|l| {
                l.pointer("/license/id")
                    .or_else(|| l.pointer("/license/name"))
                    .or_else(|| l.get("expression"))
            })
            .and_then(Value::as_str);
        // Where the model is: the places aigis recorded, else its path, else where its first
        // file is (the place the BOM gives it, or its path on the BOM's host).
        let mut places: Vec<String> = properties(component, "aigis:location")
            .map(str::to_owned)
            .collect();
        if places.is_empty() {
            let first_file = indices.first().map(|&i| &self.results[i]);
            let place = property(component, "aigis:path")
                .map(str::to_owned)
                .or_else(|| {
                    first_file.map(|r| {
                        r.source
                            .as_ref()
                            .and_then(|s| s.get("uri"))
                            .and_then(Value::as_str)
                            .map_or_else(|| r.path.clone(), str::to_owned)
                    })
                })
                .unwrap_or_else(|| name.clone());
            places.push(place);
        }
        let provenance = (!provenance.is_empty()).then_some(Value::Object(provenance));
        let files: Vec<ModelFileDoc> = indices
            .iter()
            .map(|&i| ModelFileDoc {
                path: self.results[i].path.clone(),
                sha256: self.results[i].sha256.clone(),
            })
            .collect();
        for place in places {
            self.models.push(ModelDoc {
                path: place,
                name: name.clone(),
                layout: property(component, "aigis:layout")
                    .unwrap_or("cyclonedx")
                    .to_owned(),
                framework: property(component, "aigis:framework").map(str::to_owned),
                architecture: property(component, "aigis:architecture")
                    .or_else(|| {
                        component
                            .pointer("/modelCard/modelParameters/modelArchitecture")
                            .and_then(Value::as_str)
                    })
                    .map(str::to_owned),
                provenance: provenance.clone(),
                card: license.map(|l| json!({ "license": l })),
                metadata: None,
                files: files.clone(),
            });
        }
    }

    fn walk(&mut self, components: &'a [Value]) -> Result<()> {
        for component in components {
            self.components += 1;
            if self.components > MAX_COMPONENTS {
                return Err(StoreError::Invalid(format!(
                    "the BOM has more than {MAX_COMPONENTS} components"
                )));
            }
            match text(component, "type") {
                Some("machine-learning-model") => self.model(component),
                Some("file") => {
                    self.add_results(component, "unnamed file", false);
                }
                _ => {
                    if let Some(children) = component.get("components").and_then(Value::as_array) {
                        self.walk(children)?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl ScanDocument {
    /// Reads a CycloneDX BOM (JSON) as a run: its models, files and vulnerabilities. Content
    /// aigis did not say it analysed is recorded as not analysed.
    pub fn from_cyclonedx(bom: &Value) -> Result<ScanDocument> {
        if !is_cyclonedx(bom) {
            return Err(StoreError::Invalid(
                "not a CycloneDX BOM (no \"bomFormat\": \"CycloneDX\")".to_owned(),
            ));
        }
        let spec = text(bom, "specVersion").unwrap_or_default();
        if !matches!(spec, "1.4" | "1.5" | "1.6" | "1.7") {
            return Err(StoreError::Invalid(format!(
                "CycloneDX specVersion `{spec}` is not one aigis reads (1.4 to 1.7)"
            )));
        }
        let tool = producer(bom);
        let aigis_made = tool.as_ref().is_some_and(|t| t.name == "aigis");
        let components = match bom.get("components") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(list)) => list.as_slice(),
            Some(_) => {
                return Err(StoreError::Invalid(
                    "\"components\" must be an array".to_owned(),
                ));
            }
        };
        let mut reader = Reader {
            aigis_made,
            tool: tool
                .as_ref()
                .map(|t| t.name.clone())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "an unnamed tool".to_owned()),
            results: Vec::new(),
            models: Vec::new(),
            refs: HashMap::new(),
            components: 0,
        };
        reader.walk(components)?;
        let vulnerabilities = bom
            .get("vulnerabilities")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for vulnerability in vulnerabilities {
            let rule_id = text(vulnerability, "id").unwrap_or("CYCLONEDX-VULNERABILITY");
            let message = text(vulnerability, "description")
                .or_else(|| text(vulnerability, "detail"))
                .unwrap_or(rule_id)
                .to_owned();
            let suppressed = (aigis_made
                && vulnerability
                    .pointer("/analysis/detail")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.starts_with("suppressed by policy")))
            .then(|| json!({ "reason": "suppressed by policy in the BOM" }));
            let mut targets: Vec<usize> = vulnerability
                .get("affects")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|a| text(a, "ref"))
                .filter_map(|r| reader.refs.get(r))
                .flatten()
                .copied()
                .collect();
            targets.sort_unstable();
            targets.dedup();
            // aigis names both the model and the file a finding is in: keep it on the file.
            let narrowest = narrowest_targets(vulnerability, &reader.refs, targets);
            for i in narrowest {
                reader.results[i].findings.push(FindingDoc {
                    rule_id: rule_id.to_owned(),
                    severity: severity(vulnerability),
                    message: message.clone(),
                    location: None,
                    suppressed: suppressed.clone(),
                });
            }
        }
        Ok(ScanDocument {
            tool,
            results: reader.results,
            targets: Vec::new(),
            models: Some(reader.models),
        })
    }
}

/// Of the results a vulnerability affects, those named through the smallest reference: a
/// finding aigis reports on a model and on one of its files belongs to that file only.
fn narrowest_targets(
    vulnerability: &Value,
    refs: &HashMap<&str, Vec<usize>>,
    all: Vec<usize>,
) -> Vec<usize> {
    let named: Vec<&Vec<usize>> = vulnerability
        .get("affects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| text(a, "ref"))
        .filter_map(|r| refs.get(r))
        .collect();
    let mut out: Vec<usize> = Vec::new();
    for set in &named {
        let covers_another = named
            .iter()
            .any(|other| other.len() < set.len() && other.iter().all(|i| set.contains(i)));
        if !covers_another {
            out.extend(set.iter().copied());
        }
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() { all } else { out }
}

/// A triage state as a CycloneDX analysis.
fn analysis(state: &str, reason: Option<&str>, expires: Option<i64>) -> Value {
    let until = expires
        .map(|at| format!(" (until {})", crate::query::utc_date(at)))
        .unwrap_or_default();
    let why = reason.unwrap_or("");
    match state {
        "accepted" => json!({
            "state": "exploitable",
            "response": ["will_not_fix"],
            "detail": format!("risk accepted{until}: {why}"),
        }),
        other => json!({ "state": other, "detail": format!("{why}{until}") }),
    }
}

fn prop(name: &str, value: impl Into<String>) -> Value {
    json!({ "name": name, "value": value.into() })
}

struct FileFacts {
    sha256: Option<String>,
    size: i64,
    format: String,
    status: String,
    verdict: String,
    incomplete: Option<String>,
    locations: Vec<String>,
}

fn file_component(bom_ref: &str, facts: &FileFacts) -> Value {
    let name = facts
        .locations
        .first()
        .cloned()
        .or_else(|| facts.sha256.clone())
        .unwrap_or_else(|| bom_ref.to_owned());
    let mut properties = vec![
        prop("aigis:format", facts.format.clone()),
        prop("aigis:status", facts.status.clone()),
        prop("aigis:size", facts.size.to_string()),
        prop("aigis:verdict", facts.verdict.clone()),
    ];
    if let Some(why) = &facts.incomplete {
        properties.push(prop("aigis:incomplete", why.clone()));
    }
    for uri in &facts.locations {
        properties.push(prop("aigis:location", uri.clone()));
    }
    let mut component = json!({
        "type": "file",
        "bom-ref": bom_ref,
        "name": name,
        "properties": properties,
    });
    if let Some(sha) = &facts.sha256 {
        component["hashes"] = json!([{ "alg": "SHA-256", "content": sha }]);
    }
    component
}

impl Store {
    /// What the inventory holds now as one CycloneDX 1.6 ML-BOM (JSON): models some location
    /// holds, with their files; other files some location holds; findings as vulnerabilities.
    /// A handful of queries, whatever the size of the inventory.
    pub async fn export_cyclonedx(&self, tool_version: &str) -> Result<Value> {
        type FileRow = (
            i64,
            Option<String>,
            i64,
            String,
            String,
            String,
            Option<String>,
        );
        let files: Vec<FileRow> = sqlx::query_as(
            "SELECT f.id, f.sha256, f.size, f.format, f.status, f.verdict, f.incomplete FROM files f \
             WHERE EXISTS (SELECT 1 FROM occurrences o WHERE o.file_id = f.id AND o.current = 1) \
             ORDER BY f.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let held: Vec<(i64, String)> = sqlx::query_as(
            "SELECT o.file_id, l.uri FROM occurrences o JOIN locations l ON l.id = o.location_id \
             WHERE o.current = 1 ORDER BY o.file_id, l.uri",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut locations: HashMap<i64, Vec<String>> = HashMap::new();
        for (file, uri) in held {
            locations.entry(file).or_default().push(uri);
        }
        let facts: BTreeMap<i64, FileFacts> = files
            .into_iter()
            .map(|(id, sha256, size, format, status, verdict, incomplete)| {
                (
                    id,
                    FileFacts {
                        sha256,
                        size,
                        format,
                        status,
                        verdict,
                        incomplete,
                        locations: locations.remove(&id).unwrap_or_default(),
                    },
                )
            })
            .collect();
        type ModelHead = (
            i64,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let models: Vec<ModelHead> = sqlx::query_as(
            "SELECT m.id, m.identity, m.name, m.layout, m.verdict, m.license, m.framework, \
             m.architecture, m.provenance FROM models m \
             WHERE EXISTS (SELECT 1 FROM model_locations ml WHERE ml.model_id = m.id AND ml.current = 1) \
             ORDER BY m.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let members: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT mf.model_id, mf.file_id FROM model_files mf \
             WHERE EXISTS (SELECT 1 FROM model_locations ml WHERE ml.model_id = mf.model_id AND ml.current = 1) \
             ORDER BY mf.model_id, mf.file_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let placed: Vec<(i64, String)> = sqlx::query_as(
            "SELECT ml.model_id, l.uri FROM model_locations ml JOIN locations l ON l.id = ml.location_id \
             WHERE ml.current = 1 ORDER BY ml.model_id, l.uri",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut places_of: HashMap<i64, Vec<String>> = HashMap::new();
        for (model, uri) in placed {
            places_of.entry(model).or_default().push(uri);
        }
        let mut files_of: HashMap<i64, Vec<i64>> = HashMap::new();
        for (model, file) in members {
            files_of.entry(model).or_default().push(file);
        }
        // Where each file appears in the BOM.
        let mut refs_of: HashMap<i64, Vec<String>> = HashMap::new();
        let mut components = Vec::new();
        let mut in_a_model = std::collections::HashSet::new();
        for (id, identity, name, layout, verdict, license, framework, architecture, provenance) in
            models
        {
            let bom_ref = format!("model-{id}");
            let mut properties = vec![
                prop("aigis:identity", identity),
                prop("aigis:layout", layout),
                prop("aigis:verdict", verdict),
            ];
            for (key, value) in [
                ("aigis:framework", framework),
                ("aigis:architecture", architecture),
            ] {
                if let Some(value) = value {
                    properties.push(prop(key, value));
                }
            }
            for uri in places_of.remove(&id).unwrap_or_default() {
                properties.push(prop("aigis:location", uri));
            }
            let provenance: Option<Value> = provenance.and_then(|p| serde_json::from_str(&p).ok());
            let mut nested = Vec::new();
            for file in files_of.remove(&id).unwrap_or_default() {
                let Some(f) = facts.get(&file) else { continue };
                let file_ref = format!("{bom_ref}-file-{file}");
                nested.push(file_component(&file_ref, f));
                refs_of.entry(file).or_default().push(file_ref);
                in_a_model.insert(file);
            }
            let mut component = json!({
                "type": "machine-learning-model",
                "bom-ref": bom_ref,
                "name": name,
                "properties": properties,
                "components": nested,
            });
            if let Some(purl) = provenance.as_ref().and_then(|p| text(p, "purl")) {
                component["purl"] = json!(purl);
            }
            if let Some(revision) = provenance
                .as_ref()
                .and_then(|p| text(p, "revision").or_else(|| text(p, "version")))
            {
                component["version"] = json!(revision);
            }
            if let Some(license) = license {
                component["licenses"] = json!([{ "license": { "name": license } }]);
            }
            components.push(component);
        }
        for (id, f) in &facts {
            if !in_a_model.contains(id) {
                let file_ref = format!("file-{id}");
                components.push(file_component(&file_ref, f));
                refs_of.entry(*id).or_default().push(file_ref);
            }
        }
        type FindingTuple = (
            i64,
            i64,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<i64>,
        );
        let findings: Vec<FindingTuple> = sqlx::query_as(
            "SELECT fi.id, fi.file_id, fi.rule_id, fi.severity, fi.message, fi.location_in_file, \
             fi.triage_state, fi.triage_reason, fi.triage_expires FROM findings fi \
             WHERE EXISTS (SELECT 1 FROM occurrences o WHERE o.file_id = fi.file_id AND o.current = 1) \
             ORDER BY fi.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let now = crate::query::now();
        let mut vulnerabilities = Vec::new();
        for (id, file, rule, severity, message, place, state, reason, expires) in findings {
            let Some(affects) = refs_of.get(&file) else {
                continue;
            };
            let description = match place {
                Some(place) => format!("{message} (at {place})"),
                None => message,
            };
            let mut vulnerability = json!({
                "bom-ref": format!("finding-{id}"),
                "id": rule,
                "source": { "name": "aigis" },
                "ratings": [{ "source": { "name": "aigis" }, "severity": severity, "method": "other" }],
                "description": description,
                "affects": affects.iter().map(|r| json!({ "ref": r })).collect::<Vec<_>>(),
            });
            if let Some(state) = state.filter(|_| expires.is_none_or(|at| at > now)) {
                vulnerability["analysis"] = analysis(&state, reason.as_deref(), expires);
            }
            vulnerabilities.push(vulnerability);
        }
        let serial = {
            use sha2::{Digest as _, Sha256};
            let digest = Sha256::digest(format!("aigis-inventory-{now}").as_bytes());
            let mut b = [0u8; 16];
            b.copy_from_slice(&digest[..16]);
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let h = hex::encode(b);
            format!(
                "urn:uuid:{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            )
        };
        Ok(json!({
            "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "serialNumber": serial,
            "version": 1,
            "metadata": {
                "timestamp": crate::query::utc_timestamp(now),
                "tools": { "components": [{ "type": "application", "name": "aigis", "version": tool_version }] },
                "properties": [prop("aigis:kind", "inventory")],
            },
            "components": components,
            "vulnerabilities": vulnerabilities,
        }))
    }
}
