//! AI-BOM writers over an inventory: CycloneDX 1.6 ([`cyclonedx`]) and SPDX 3.0.1 JSON-LD with
//! the AI profile ([`spdx`]). Both describe each [`Model`] with its files, hashes, provenance,
//! license and card, and say which models are unsafe (CycloneDX `vulnerabilities`, SPDX
//! `ai_safetyRiskAssessment`). Scan results that belong to no model are listed as plain files.

pub mod cyclonedx;
pub mod spdx;

use crate::Model;
use aigis_scan::FileResult;
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

/// Everything a BOM is written from.
#[derive(Debug, Clone, Copy)]
pub struct BomInput<'a> {
    /// Models.
    pub models: &'a [Model],
    /// Scan results of files that belong to no model.
    pub loose: &'a [FileResult],
    /// Version of aigis.
    pub tool_version: &'a str,
}

impl BomInput<'_> {
    /// A version-4 style UUID from the content and the current time.
    pub fn uuid(&self) -> String {
        let mut hasher = Sha256::new();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        hasher.update(nanos.to_le_bytes());
        for model in self.models {
            hasher.update(model.path.as_bytes());
        }
        for result in self.loose {
            hasher.update(result.path.as_bytes());
        }
        let digest = hasher.finalize();
        let mut b = [0u8; 16];
        b.copy_from_slice(&digest[..16]);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

/// An ML library the pipeline's dependency files require (one per name and version).
#[derive(Debug, Clone)]
pub struct Library {
    /// The BOM reference (`library-N`).
    pub bom_ref: String,
    /// Normalised PyPI name.
    pub name: String,
    /// The exact version, when pinned or locked.
    pub version: Option<String>,
    /// The constraint as written, when not pinned.
    pub constraint: String,
    /// Paths of the dependency files that require it.
    pub declared_in: Vec<String>,
}

impl Library {
    /// `pkg:pypi/name@version` (the version when pinned).
    pub fn purl(&self) -> String {
        let name = crate::provenance::purl_escape(&self.name);
        match &self.version {
            Some(v) => format!("pkg:pypi/{name}@{}", crate::provenance::purl_escape(v)),
            None => format!("pkg:pypi/{name}"),
        }
    }
}

/// How the BOM's components relate: code → the models it loads, a dependency file → the
/// libraries it requires.
#[derive(Debug, Default)]
pub struct Links {
    /// The libraries, in order of first mention.
    pub libraries: Vec<Library>,
    /// `(bom-ref, [bom-refs it depends on])`.
    pub depends_on: Vec<(String, Vec<String>)>,
}

/// The BOM reference of every path: a model's file is its model (`model-N`), a loose result is
/// `file-N` — the numbering both writers use.
fn refs_by_path<'a>(input: &BomInput<'a>) -> std::collections::HashMap<&'a str, String> {
    let mut refs = std::collections::HashMap::new();
    for (i, model) in input.models.iter().enumerate() {
        for file in &model.files {
            refs.insert(file.path.as_str(), format!("model-{}", i + 1));
        }
    }
    for (i, result) in input.loose.iter().enumerate() {
        refs.insert(result.path.as_str(), format!("file-{}", i + 1));
    }
    refs
}

/// The links of a BOM, drawn from the run: code results' `loads` (resolved by the engine) and
/// dependency files' declared ML libraries.
pub fn links(input: &BomInput<'_>) -> Links {
    let refs = refs_by_path(input);
    let mut out = Links::default();
    for (i, result) in input.loose.iter().enumerate() {
        let from = format!("file-{}", i + 1);
        let mut to: Vec<String> = Vec::new();
        for path in &result.loads {
            if let Some(r) = refs.get(path.as_str())
                && *r != from
                && !to.contains(r)
            {
                to.push(r.clone());
            }
        }
        for dependency in &result.model.dependencies {
            let existing = out.libraries.iter_mut().find(|l| {
                l.name == dependency.name
                    && l.version == dependency.version
                    && (l.version.is_some() || l.constraint == dependency.constraint)
            });
            let library = match existing {
                Some(l) => l,
                None => {
                    let n = out.libraries.len() + 1;
                    out.libraries.push(Library {
                        bom_ref: format!("library-{n}"),
                        name: dependency.name.clone(),
                        version: dependency.version.clone(),
                        constraint: dependency.constraint.clone(),
                        declared_in: Vec::new(),
                    });
                    let last = out.libraries.len() - 1;
                    &mut out.libraries[last]
                }
            };
            if !library.declared_in.contains(&result.path) {
                library.declared_in.push(result.path.clone());
            }
            if !to.contains(&library.bom_ref) {
                to.push(library.bom_ref.clone());
            }
        }
        if !to.is_empty() {
            out.depends_on.push((from, to));
        }
    }
    out
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_timestamp() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// The SPDX license id for a Hugging Face license tag, when it is one (`apache-2.0` →
/// `Apache-2.0`); tags that are not SPDX ids (`llama3.1`, `openrail`, `other`) give `None`.
pub fn spdx_license_id(tag: &str) -> Option<&'static str> {
    const IDS: &[&str] = &[
        "Apache-2.0",
        "MIT",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "BSL-1.0",
        "CC0-1.0",
        "CC-BY-4.0",
        "CC-BY-SA-4.0",
        "CC-BY-NC-4.0",
        "CC-BY-NC-SA-4.0",
        "CC-BY-NC-ND-4.0",
        "CC-BY-3.0",
        "CC-BY-SA-3.0",
        "CC-BY-NC-2.0",
        "CC-BY-NC-3.0",
        "CC-BY-ND-4.0",
        "GPL-2.0-only",
        "GPL-3.0-only",
        "LGPL-2.1-only",
        "LGPL-3.0-only",
        "AGPL-3.0-only",
        "MPL-2.0",
        "EPL-2.0",
        "Unlicense",
        "WTFPL",
        "Artistic-2.0",
        "ISC",
        "Zlib",
        "ODbL-1.0",
        "PDDL-1.0",
        "ODC-By-1.0",
        "AFL-3.0",
        "ECL-2.0",
        "EUPL-1.1",
        "EUPL-1.2",
        "OSL-3.0",
        "PostgreSQL",
        "NCSA",
        "LPPL-1.3c",
        "C-UDA-1.0",
        "CDLA-Permissive-1.0",
        "CDLA-Permissive-2.0",
        "CDLA-Sharing-1.0",
    ];
    let tag = match tag.to_ascii_lowercase().as_str() {
        "gpl-2.0" => "gpl-2.0-only",
        "gpl-3.0" => "gpl-3.0-only",
        "lgpl-2.1" => "lgpl-2.1-only",
        "lgpl-3.0" | "lgpl-lr" => "lgpl-3.0-only",
        "agpl-3.0" => "agpl-3.0-only",
        "bsl-1.0" => "bsl-1.0",
        other => {
            return IDS
                .iter()
                .copied()
                .find(|id| id.eq_ignore_ascii_case(other));
        }
    };
    IDS.iter().copied().find(|id| id.eq_ignore_ascii_case(tag))
}

/// Inputs and outputs of common Hugging Face tasks.
pub fn task_io(task: &str) -> Option<(&'static str, &'static str)> {
    Some(match task {
        "text-generation"
        | "text2text-generation"
        | "summarization"
        | "translation"
        | "question-answering"
        | "fill-mask"
        | "conversational" => ("string", "string"),
        "text-classification"
        | "token-classification"
        | "zero-shot-classification"
        | "sentiment-analysis" => ("string", "label"),
        "feature-extraction" | "sentence-similarity" => ("string", "embedding"),
        "image-classification" => ("image", "label"),
        "object-detection" | "image-segmentation" => ("image", "image"),
        "text-to-image" => ("string", "image"),
        "image-to-text" => ("image", "string"),
        "automatic-speech-recognition" => ("audio", "string"),
        "text-to-speech" | "text-to-audio" => ("string", "audio"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licenses_map_to_spdx_ids() {
        assert_eq!(spdx_license_id("apache-2.0"), Some("Apache-2.0"));
        assert_eq!(spdx_license_id("mit"), Some("MIT"));
        assert_eq!(spdx_license_id("gpl-3.0"), Some("GPL-3.0-only"));
        assert_eq!(spdx_license_id("llama3.1"), None);
    }

    #[test]
    fn timestamp_is_rfc3339_utc() {
        let t = utc_timestamp();
        assert_eq!(t.len(), 20);
        assert!(t.ends_with('Z') && t.as_bytes().get(10) == Some(&b'T'));
    }
}
