//! Per-file results, in the shape of the JSON contract (`shared/CONTRACT.md`).

use crate::{Finding, Format, ModelInfo, Severity};
use serde::{Deserialize, Serialize};

/// Outcome of scanning one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Parsed and analyzed.
    Ok,
    /// Claims a model format but is malformed or hit a limit (a finding explains why).
    Invalid,
    /// Not a model format aigis knows.
    Unsupported,
    /// Could not be read, or analysis did not finish.
    Error,
}

/// The result for one file found on disk (or one object in a bucket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileResult {
    /// Path as found under the scanned root, joined with the root as given.
    pub path: String,
    /// Detected format.
    pub format: Format,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the content (absent with `--no-hash`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Why `sha256` is absent although hashing was on (a file too large to hash within the
    /// hashing budget; its analysis is still complete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_skipped: Option<String>,
    /// Outcome.
    pub status: Status,
    /// Highest severity among the findings, or `None`.
    #[serde(serialize_with = "serialize_max", deserialize_with = "deserialize_max")]
    pub max_severity: Option<Severity>,
    /// Highest severity among the findings about the content (the file's verdict), leaving out
    /// those about where it is (who can write its folder or bucket), or `None`.
    #[serde(
        default,
        serialize_with = "serialize_max",
        deserialize_with = "deserialize_max"
    )]
    pub content_severity: Option<Severity>,
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// Bytes read from storage to analyze (hashing excluded).
    pub bytes_read: u64,
    /// True when analyzers looked at the file's location as well as its bytes (e.g. an MLflow
    /// code file judged by the `MLmodel` beside it): the result is not reusable for the same
    /// bytes elsewhere.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub location_dependent: bool,
    /// What the analyzers learned about the model (framework, architecture, ops, …).
    #[serde(default, skip_serializing_if = "ModelInfo::is_empty")]
    pub model: ModelInfo,
    /// Why the analysis did not cover the whole input, when it did not: it could not be read or
    /// finished, or a limit stopped it before the end. Such a result is never "clean": a run
    /// with one fails unless the operator allows incomplete results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// Other files the analysis looked at (present or absent), e.g. the `MLmodel` files above an
    /// MLflow code file: a cached result is reused only while they are unchanged. Not part of
    /// the report.
    #[serde(skip)]
    pub consulted: Vec<std::path::PathBuf>,
    /// Where a remote object came from (`{"kind": "s3" | "gcs" | "azure" | "http" |
    /// "huggingface", …}`: bucket or repo, key or file, revision, ETag); absent for local files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<serde_json::Value>,
    /// What loading would run, step by step (pickle programs, objects configs instantiate):
    /// recorded only when the analysis traces (`aigis inspect`), absent from scans.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub programs: Vec<Program>,
    /// For code: the results of the same run its load sites load (their paths as reported),
    /// linked by the engine from [`ModelInfo::loads`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loads: Vec<String>,
}

/// What a loader runs for one stream or config of a file (see [`FileResult::programs`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    /// The archive member (`model/data.pkl`), absent for the file itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// `pickle` (the unpickler's program) or `config` (objects a config instantiates).
    pub language: String,
    /// The steps, in the order the loader runs them.
    pub steps: Vec<ProgramStep>,
    /// Steps past the recording cap were left out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// One step of a [`Program`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramStep {
    /// Byte offset of the opcode (pickle; 0 for configs).
    pub offset: u64,
    /// 0 for the stream itself, 1 for a pickle handed to a loader inside it, ...
    pub depth: usize,
    /// `import`, `call`, `new`, `build`, `persistent-load`, `result`, `instantiate`.
    pub kind: String,
    /// The step in Python syntax.
    pub text: String,
}

fn serialize_max<S: serde::Serializer>(max: &Option<Severity>, s: S) -> Result<S::Ok, S::Error> {
    match max {
        Some(sev) => s.serialize_str(sev.as_str()),
        None => s.serialize_str("none"),
    }
}

fn deserialize_max<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Severity>, D::Error> {
    let name = String::deserialize(d)?;
    if name == "none" {
        return Ok(None);
    }
    name.parse().map(Some).map_err(serde::de::Error::custom)
}

impl FileResult {
    /// A result with the given findings and nothing else known (no hash, no model facts).
    pub fn new(
        path: String,
        format: Format,
        size: u64,
        status: Status,
        findings: Vec<Finding>,
    ) -> FileResult {
        let mut result = FileResult {
            path,
            format,
            size,
            sha256: None,
            hash_skipped: None,
            status,
            max_severity: None,
            content_severity: None,
            findings,
            bytes_read: 0,
            location_dependent: false,
            model: ModelInfo::default(),
            incomplete: None,
            consulted: Vec::new(),
            source: None,
            programs: Vec::new(),
            loads: Vec::new(),
        };
        result.normalize();
        result
    }

    /// A result with status `error` and the one finding that says why (e.g. `READ-ERROR`).
    pub fn failed(path: String, size: u64, finding: Finding) -> FileResult {
        let reason = finding.message.clone();
        let mut result = FileResult::new(path, Format::Unknown, size, Status::Error, vec![finding]);
        result.incomplete = Some(reason);
        result
    }

    /// Sorts findings (most severe first, then by location and rule) and recomputes
    /// `max_severity` over the findings no policy suppressed.
    pub fn normalize(&mut self) {
        self.findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.location.cmp(&b.location))
                .then_with(|| a.rule_id.cmp(&b.rule_id))
                .then_with(|| a.message.cmp(&b.message))
        });
        self.max_severity = self
            .findings
            .iter()
            .filter(|f| f.is_active())
            .map(|f| f.severity)
            .max();
        self.content_severity = self
            .findings
            .iter()
            .filter(|f| f.is_active() && !f.rule_id.is_location())
            .map(|f| f.severity)
            .max();
    }
}
