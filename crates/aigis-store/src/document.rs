//! What the inventory records: the JSON report of `aigis scan --format json` (the contract in
//! `CONTRACT.md`), read leniently so a report of an older or newer aigis still ingests, plus
//! the models a run grouped its files into, and who ran it where.

use serde::Deserialize;
use serde_json::Value;

/// A scan report as the inventory reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct ScanDocument {
    /// The producing tool.
    #[serde(default)]
    pub tool: Option<ToolDoc>,
    /// One result per file.
    pub results: Vec<ResultDoc>,
    /// The targets as given on the command line: locations under them that held content
    /// before and are gone now have disappeared.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Files grouped into models (`aigis discover`, `aigis bom`, `scan --record`); absent from
    /// a plain scan report (which then says nothing about models, not that there are none).
    #[serde(default)]
    pub models: Option<Vec<ModelDoc>>,
}

/// The tool that produced a report.
#[derive(Debug, Clone, Deserialize)]
pub struct ToolDoc {
    /// `aigis`.
    #[serde(default)]
    pub name: String,
    /// Its version.
    #[serde(default)]
    pub version: String,
}

/// One file's result.
#[derive(Debug, Clone, Deserialize)]
pub struct ResultDoc {
    /// The path as found (or the object's display path).
    pub path: String,
    /// Format id.
    #[serde(default = "unknown")]
    pub format: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// SHA-256 of the content.
    #[serde(default)]
    pub sha256: Option<String>,
    /// `ok`, `invalid`, `unsupported`, `error`.
    #[serde(default = "unknown")]
    pub status: String,
    /// The content verdict (severity of the findings about the content).
    #[serde(default)]
    pub content_severity: Option<String>,
    /// Findings, content and location alike.
    #[serde(default)]
    pub findings: Vec<FindingDoc>,
    /// Where a remote object came from (`kind`, `bucket`, `key`, `repo`, `file`, `url`, …).
    #[serde(default)]
    pub source: Option<Value>,
    /// Why the analysis did not cover the whole input.
    #[serde(default)]
    pub incomplete: Option<String>,
}

fn unknown() -> String {
    "unknown".to_owned()
}

/// One finding.
#[derive(Debug, Clone, Deserialize)]
pub struct FindingDoc {
    /// Rule id.
    pub rule_id: String,
    /// Severity.
    pub severity: String,
    /// What it says.
    #[serde(default)]
    pub message: String,
    /// Where in the file.
    #[serde(default)]
    pub location: Option<String>,
    /// Set when a policy suppressed it: suppressed findings are not recorded.
    #[serde(default)]
    pub suppressed: Option<Value>,
}

/// A model: files grouped by the run.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelDoc {
    /// Display name.
    pub name: String,
    /// How the files were grouped.
    #[serde(default = "unknown")]
    pub layout: String,
    /// The model's folder or file.
    pub path: String,
    /// Framework.
    #[serde(default)]
    pub framework: Option<String>,
    /// Architecture.
    #[serde(default)]
    pub architecture: Option<String>,
    /// Where it came from, as collected.
    #[serde(default)]
    pub provenance: Option<Value>,
    /// The model card (its `license` is read).
    #[serde(default)]
    pub card: Option<Value>,
    /// Other facts (a `license` there is read too).
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Its files.
    #[serde(default)]
    pub files: Vec<ModelFileDoc>,
}

impl ModelDoc {
    /// The license: the card's, else one the metadata declares.
    pub fn license(&self) -> Option<String> {
        let text = |v: &Option<Value>| {
            v.as_ref()
                .and_then(|v| v.get("license"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        text(&self.card).or_else(|| text(&self.metadata))
    }
}

/// One file of a model.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelFileDoc {
    /// Path as found (matches a result's `path`).
    pub path: String,
    /// SHA-256, when hashed.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// Who recorded a document, where and when.
#[derive(Debug, Clone)]
pub struct ScanMeta {
    /// Seconds since the Unix epoch.
    pub started_at: i64,
    /// The host whose paths the results name.
    pub host: String,
    /// `scan`, `discover`, `bom` or `ingest`.
    pub collector: String,
    /// The command line.
    pub arguments: Vec<String>,
    /// The folder relative result paths are relative to (the working directory of the run),
    /// when known: locations are recorded as absolute paths.
    pub base_dir: Option<String>,
}
