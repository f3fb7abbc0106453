//! Files grouped into logical models, and what each model is.
//!
//! Grouping rules (folder markers, checked on the files the walk kept):
//! - a hub-cache snapshot (`models--org--name/snapshots/<rev>/`) is one model, subfolders included;
//!   blobs count only through a snapshot link;
//! - composite folders claim everything up to four levels below them, the outermost winning:
//!   MLflow (`MLmodel`), Triton (`config.pbtxt`), sentence-transformers (`modules.json`), spaCy
//!   (`meta.json` + `config.cfg`), SavedModel (`saved_model.pb`), torch hub repos (`hubconf.py`);
//! - a Hugging Face style folder (`config.json`, a `*.index.json`, a model card) claims its files
//!   and two levels of subfolders, the nearest winning;
//! - Ollama manifests claim the blobs they list;
//! - other model files: shards `name-00001-of-00004.ext` of one folder are one model; anything
//!   else (a `.keras`, a `.gguf`, a `.mar`, a `.pt`) is one model per file.
//!
//! A group needs at least one file in a model format; side files alone are not a model.

use crate::card::{MAX_CARD_BYTES, ModelCard};
use crate::facts::{self, HfConfig};
use crate::provenance::{self, Provenance, SourceKind, read_small};
use aigis_scan::{FileResult, Finding, Format, Severity, Status};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// One file the inventory knows, with its analysis.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path as found.
    pub path: PathBuf,
    /// Path read (a link's target inside the tree, else `path`).
    pub real: PathBuf,
    /// The analysis (for side files: format `unknown`, nothing found).
    pub result: FileResult,
    /// True when `result` comes from a full scan (hash and findings), not just header facts.
    pub scanned: bool,
}

/// What a file is to its model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Weights or a serialized model.
    Model,
    /// Configuration or metadata (`config.json`, `MLmodel`, a manifest…).
    Config,
    /// Tokenizer files.
    Tokenizer,
    /// The model card (`README.md`).
    Card,
}

/// One file of a model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelFile {
    /// Path as found.
    pub path: String,
    /// Role in the model.
    pub role: Role,
    /// Format from content.
    pub format: Format,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, when hashed (`--scan`, `aigis bom`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Scan status, when scanned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Highest active finding severity.
    #[serde(serialize_with = "severity_or_none")]
    pub max_severity: Option<Severity>,
    /// Findings (the scan's when scanned, plus host context).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
}

fn severity_or_none<S: serde::Serializer>(s: &Option<Severity>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.map_or("none", |s| s.as_str()))
}

/// A logical model.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    /// Display name (the provenance name when known).
    pub name: String,
    /// How its files were grouped (`hf-snapshot`, `hf-folder`, `sharded`, `single-file`, …).
    pub layout: &'static str,
    /// The model's folder, or its file.
    pub path: String,
    /// Where it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// Version (package version, tag) when the layout says one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Formats of its model files.
    pub formats: Vec<Format>,
    /// Framework (`transformers`, `pytorch`, `gguf`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    /// Architecture (`GPT2LMHeadModel`, `llama`, a Keras class…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// Model family (`config.json` `model_type`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    /// Parameter count, when headers tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<u64>,
    /// Tensor dtypes.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub dtypes: BTreeSet<String>,
    /// Quantisation (GGUF file type).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantization: Option<String>,
    /// The model card's front-matter.
    #[serde(skip_serializing_if = "ModelCard::is_empty")]
    pub card: ModelCard,
    /// The declared license as an SPDX expression (see [`crate::license`]): from the card, else
    /// `config.json`, else a weight header (GGUF `general.license`, safetensors metadata).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Other facts (ONNX opset, GGUF name, MLflow flavors, Triton platform…).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Total size of its files.
    pub size: u64,
    /// True when its files were fully scanned.
    pub scanned: bool,
    /// Highest active finding severity over its files.
    #[serde(serialize_with = "severity_or_none")]
    pub max_severity: Option<Severity>,
    /// Its files.
    pub files: Vec<ModelFile>,
    /// Its signature check (OpenSSF Model Signing, `aigis-sign`), when signatures were looked
    /// for: a `model.sig` is there, the operator passed a key or identity, or the policy
    /// requires one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<ModelSignature>,
}

/// The outcome of checking a model's signature.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModelSignature {
    /// `unsigned`, `invalid` or `verified`.
    pub status: String,
    /// The signer: the certificate's identity (email or URI), or `key:sha256:<hex>` of the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The keyless signer's OIDC issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Why it is not verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `key`, `certificate` or `keyless`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The signed manifest's root digest (`sha256:<hex>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_digest: Option<String>,
    /// The signature file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Files that differ from what was signed (`changed|missing|extra: path`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<String>,
}

impl Model {
    /// The license: the card's, else one a weight header declares (GGUF `general.license`).
    pub fn license(&self) -> Option<&str> {
        self.card
            .license
            .as_deref()
            .or_else(|| self.metadata.get("license").map(String::as_str))
    }

    /// Findings of all files with the file path each belongs to.
    pub fn findings(&self) -> impl Iterator<Item = (&ModelFile, &Finding)> {
        self.files
            .iter()
            .flat_map(|f| f.findings.iter().map(move |x| (f, x)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RootKind {
    HfSnapshot,
    HfFolder,
    Mlflow,
    Triton,
    SentenceTransformers,
    Spacy,
    SavedModel,
    TorchHubRepo,
}

impl RootKind {
    fn layout(self) -> &'static str {
        match self {
            RootKind::HfSnapshot => "hf-snapshot",
            RootKind::HfFolder => "hf-folder",
            RootKind::Mlflow => "mlflow",
            RootKind::Triton => "triton",
            RootKind::SentenceTransformers => "sentence-transformers",
            RootKind::Spacy => "spacy",
            RootKind::SavedModel => "saved-model",
            RootKind::TorchHubRepo => "torch-hub-repo",
        }
    }

    /// How many levels below the folder it claims.
    fn reach(self) -> usize {
        match self {
            RootKind::HfFolder => 2,
            RootKind::HfSnapshot => 16,
            _ => 4,
        }
    }

    fn composite(self) -> bool {
        !matches!(self, RootKind::HfFolder)
    }
}

fn name_of(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

fn root_kind(dir: &Path, names: &HashSet<String>) -> Option<RootKind> {
    let has = |n: &str| names.contains(n);
    if provenance::hf_snapshot(dir).is_some_and(|s| s.snapshot_dir == dir) {
        return Some(RootKind::HfSnapshot);
    }
    if has("MLmodel") {
        Some(RootKind::Mlflow)
    } else if has("config.pbtxt") {
        Some(RootKind::Triton)
    } else if has("modules.json") || has("config_sentence_transformers.json") {
        Some(RootKind::SentenceTransformers)
    } else if has("meta.json") && has("config.cfg") {
        Some(RootKind::Spacy)
    } else if has("saved_model.pb") || has("saved_model.pbtxt") {
        Some(RootKind::SavedModel)
    } else if has("hubconf.py") {
        Some(RootKind::TorchHubRepo)
    } else if has("config.json")
        || has("model_index.json")
        || names.iter().any(|n| n.ends_with(".index.json"))
    {
        // A model card alone does not make a folder one model: unrelated files that share a
        // folder with a README are models of their own.
        Some(RootKind::HfFolder)
    } else {
        None
    }
}

fn role(path: &Path, format: Format) -> Role {
    let name = name_of(path);
    if format.is_model() {
        Role::Model
    } else if name == "README.md" {
        Role::Card
    } else if name.starts_with("tokenizer") || name == "special_tokens_map.json" {
        Role::Tokenizer
    } else {
        Role::Config
    }
}

/// Whether a model file belongs to the Hugging Face model of its folder: the weight files
/// `save_pretrained` and the Trainer write (and their shards), or anything in a subfolder (a
/// diffusers component, an `onnx/` export). Other model files beside them (a `.joblib`, a
/// `.gguf`, an unrelated `.pt`) are models of their own.
fn belongs_to_hf_folder(path: &Path, root: &Path) -> bool {
    if path.parent() != Some(root) {
        return true;
    }
    let name = name_of(path);
    const PREFIXES: &[&str] = &[
        "model",
        "pytorch_model",
        "tf_model",
        "flax_model",
        "diffusion_pytorch_model",
        "adapter_model",
        "consolidated",
        "optimizer",
        "scheduler",
        "rng_state",
        "training_args",
        "scaler",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p))
}

/// `name-00001-of-00004.ext` → (`name`, `ext`).
fn shard_key(name: &str) -> Option<(String, String)> {
    let (stem, ext) = name.split_once('.').unwrap_or((name, ""));
    let (front, total) = stem.rsplit_once("-of-")?;
    let (base, index) = front.rsplit_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(total) && digits(index)).then(|| (base.to_string(), ext.to_string()))
}

/// The Ollama store folder and `name:tag` of a manifest path
/// (`<store>/manifests/<host>/<namespace>/<name>/<tag>`).
fn ollama_manifest(path: &Path) -> Option<(PathBuf, String, String)> {
    let parts: Vec<&std::ffi::OsStr> = path.iter().collect();
    let at = parts.iter().rposition(|p| *p == "manifests")?;
    if parts.len() != at + 5 {
        return None;
    }
    let store: PathBuf = parts.iter().take(at).collect();
    let host = parts.get(at + 1)?.to_str()?;
    let namespace = parts.get(at + 2)?.to_str()?;
    let model = parts.get(at + 3)?.to_str()?;
    let tag = parts.get(at + 4)?.to_str()?;
    let name = if host == "registry.ollama.ai" && namespace == "library" {
        model.to_string()
    } else if host == "registry.ollama.ai" {
        format!("{namespace}/{model}")
    } else {
        format!("{host}/{namespace}/{model}")
    };
    Some((store, name, tag.to_string()))
}

/// Groups entries into models, sorted by path.
pub fn group(entries: Vec<Entry>) -> Vec<Model> {
    // Hub-cache blobs count only through a snapshot link.
    let entries: Vec<Entry> = entries
        .into_iter()
        .filter(|e| {
            let in_blobs = e.path.parent().is_some_and(|p| {
                name_of(p) == "blobs"
                    && p.parent()
                        .is_some_and(|r| name_of(r).starts_with("models--"))
            });
            !in_blobs
        })
        .collect();
    let mut claimed = vec![false; entries.len()];
    let mut groups: Vec<(Kind, PathBuf, Vec<usize>)> = Vec::new();
    let by_path: HashMap<&Path, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.path.as_path(), i))
        .collect();

    // Ollama manifests claim their blobs.
    for (i, entry) in entries.iter().enumerate() {
        let Some((store, name, tag)) = ollama_manifest(&entry.path) else {
            continue;
        };
        let blobs: Vec<usize> = facts::ollama_layers(&entry.real)
            .into_iter()
            .filter_map(|(_, blob)| {
                by_path
                    .get(store.join("blobs").join(blob).as_path())
                    .copied()
            })
            .collect();
        if blobs.is_empty() {
            continue;
        }
        claimed[i] = true;
        for &b in &blobs {
            claimed[b] = true;
        }
        let mut members = vec![i];
        members.extend(blobs);
        groups.push((Kind::Ollama { name, tag }, entry.path.clone(), members));
    }

    let mut dir_names: HashMap<&Path, HashSet<String>> = HashMap::new();
    for entry in &entries {
        if let Some(dir) = entry.path.parent() {
            dir_names
                .entry(dir)
                .or_default()
                .insert(name_of(&entry.path).to_string());
        }
    }
    let roots: HashMap<&Path, RootKind> = dir_names
        .iter()
        .filter_map(|(dir, names)| root_kind(dir, names).map(|k| (*dir, k)))
        .collect();
    let mut rooted: BTreeMap<PathBuf, (RootKind, Vec<usize>)> = BTreeMap::new();
    let mut loose: BTreeMap<(PathBuf, String, String), Vec<usize>> = BTreeMap::new();
    for (i, entry) in entries.iter().enumerate() {
        if claimed[i] {
            continue;
        }
        let mut nearest = None;
        let mut outer_composite = None;
        for (depth, dir) in entry.path.ancestors().skip(1).enumerate() {
            if let Some(&kind) = roots.get(dir)
                && depth <= kind.reach()
            {
                if nearest.is_none() {
                    nearest = Some((dir, kind));
                }
                if kind.composite() {
                    outer_composite = Some((dir, kind));
                }
            }
        }
        let chosen = outer_composite.or(nearest).filter(|(dir, kind)| {
            *kind != RootKind::HfFolder
                || !entry.result.format.is_model()
                || belongs_to_hf_folder(&entry.path, dir)
        });
        if let Some((dir, kind)) = chosen {
            rooted
                .entry(dir.to_path_buf())
                .or_insert_with(|| (kind, Vec::new()))
                .1
                .push(i);
        } else if entry.result.format.is_model() {
            let dir = entry.path.parent().unwrap_or(Path::new("")).to_path_buf();
            let key = match shard_key(name_of(&entry.path)) {
                Some((base, ext)) => (dir, base, ext),
                None => (entry.path.clone(), String::new(), String::new()),
            };
            loose.entry(key).or_default().push(i);
        }
    }
    for (dir, (kind, members)) in rooted {
        groups.push((Kind::Root(kind), dir, members));
    }
    for ((path, base, _), members) in loose {
        if base.is_empty() {
            groups.push((Kind::Single, path, members));
        } else {
            groups.push((Kind::Sharded(base), path, members));
        }
    }
    let mut models: Vec<Model> = groups
        .into_iter()
        .filter(|(_, _, members)| members.iter().any(|&i| entries[i].result.format.is_model()))
        .map(|(kind, path, members)| describe(kind, &path, &members, &entries))
        .collect();
    models.sort_by(|a, b| a.path.cmp(&b.path));
    models
}

enum Kind {
    Root(RootKind),
    Ollama { name: String, tag: String },
    Sharded(String),
    Single,
}

fn describe(kind: Kind, path: &Path, members: &[usize], entries: &[Entry]) -> Model {
    let files: Vec<&Entry> = members.iter().filter_map(|&i| entries.get(i)).collect();
    let find = |name: &str| {
        files
            .iter()
            .filter(|e| e.path.parent() == Some(path) || path == e.path)
            .find(|e| name_of(&e.path) == name)
            .copied()
    };
    let mut model = Model {
        name: String::new(),
        layout: match &kind {
            Kind::Root(k) => k.layout(),
            Kind::Ollama { .. } => "ollama",
            Kind::Sharded(_) => "sharded",
            Kind::Single => "single-file",
        },
        path: path.to_string_lossy().into_owned(),
        provenance: provenance::from_path(path),
        version: None,
        formats: Vec::new(),
        framework: None,
        architecture: None,
        model_type: None,
        parameters: None,
        dtypes: BTreeSet::new(),
        quantization: None,
        card: ModelCard::default(),
        license: None,
        metadata: BTreeMap::new(),
        size: 0,
        scanned: files
            .iter()
            .all(|e| e.scanned || !e.result.format.is_model()),
        max_severity: None,
        files: Vec::new(),
        signature: None,
    };
    // Facts from the model files' headers.
    let mut params_by_format: BTreeMap<Format, u64> = BTreeMap::new();
    for e in &files {
        let info = &e.result.model;
        if e.result.format.is_model() && !model.formats.contains(&e.result.format) {
            model.formats.push(e.result.format);
        }
        if model.framework.is_none() {
            model.framework.clone_from(&info.framework);
        }
        if model.architecture.is_none() {
            model.architecture.clone_from(&info.architecture);
        }
        if let Some(p) = info.parameters {
            let sum = params_by_format.entry(e.result.format).or_default();
            *sum = sum.saturating_add(p);
        }
        model.dtypes.extend(info.dtypes.iter().cloned());
        if model.quantization.is_none() {
            model.quantization.clone_from(&info.quantization);
        }
        for (k, v) in &info.metadata {
            model.metadata.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    model.formats.sort();
    model.parameters = params_by_format.values().copied().max();
    if let Some(config) = find("config.json").and_then(|e| HfConfig::read(&e.real)) {
        if config.architecture.is_some() {
            model.architecture = config.architecture;
        }
        model.model_type = config.model_type;
        if let Some(version) = config.transformers_version {
            model.framework = Some("transformers".into());
            model
                .metadata
                .insert("transformers_version".into(), version);
        }
        if let Some(dtype) = config.dtype {
            model.metadata.insert("config_dtype".into(), dtype);
        }
        if let Some(license) = config.license {
            model.metadata.insert("license".into(), license);
        }
    }
    if let Some(card) = find("README.md") {
        let text = read_small(&card.real, MAX_CARD_BYTES as u64).unwrap_or_default();
        model.card = ModelCard::parse(&text);
    }
    model.license = model.license().and_then(crate::license::normalise);
    let dir_name = name_of(path).to_string();
    match &kind {
        Kind::Ollama { name, tag } => {
            model.name = format!("{name}:{tag}");
            model.version = Some(tag.clone());
            model.provenance = Some(Provenance {
                revision: Some(tag.clone()),
                ..Provenance::new(SourceKind::Ollama, name.clone())
            });
            if let Some(e) = files.first() {
                model.path = e.path.to_string_lossy().into_owned();
            }
        }
        Kind::Root(RootKind::Spacy) => {
            if let Some((name, version)) =
                find("meta.json").and_then(|e| facts::spacy_meta(&e.real))
            {
                model.provenance = Some(Provenance {
                    revision: version.clone(),
                    ..Provenance::new(SourceKind::Spacy, name)
                });
                model.version = version;
                model.framework = Some("spacy".into());
            }
        }
        Kind::Root(RootKind::SentenceTransformers) => {
            model.framework = Some("sentence-transformers".into());
            if model.provenance.is_none() {
                model.provenance = Some(Provenance::new(
                    SourceKind::SentenceTransformers,
                    dir_name.clone(),
                ));
            }
        }
        Kind::Root(RootKind::Mlflow) => {
            if let Some((run, uuid, flavors)) =
                find("MLmodel").and_then(|e| facts::mlmodel(&e.real))
            {
                model.provenance = Some(Provenance {
                    revision: run.clone(),
                    ..Provenance::new(SourceKind::Mlflow, uuid.unwrap_or_else(|| dir_name.clone()))
                });
                if !flavors.is_empty() {
                    model.metadata.insert("flavors".into(), flavors.join(","));
                }
            }
        }
        Kind::Root(RootKind::Triton) => {
            let (name, platform) = find("config.pbtxt")
                .map(|e| facts::triton_config(&e.real))
                .unwrap_or_default();
            let name = name.unwrap_or_else(|| dir_name.clone());
            let versions: BTreeSet<String> = files
                .iter()
                .filter_map(|e| e.path.strip_prefix(path).ok()?.iter().next())
                .filter_map(|c| c.to_str())
                .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
                .map(str::to_string)
                .collect();
            model.version = versions.iter().next_back().cloned();
            if let Some(platform) = platform {
                model.metadata.insert("triton_platform".into(), platform);
            }
            model.provenance = Some(Provenance {
                revision: model.version.clone(),
                ..Provenance::new(SourceKind::Triton, name)
            });
        }
        Kind::Single
            if files
                .first()
                .is_some_and(|e| e.result.format == Format::Zip) =>
        {
            if let Some(manifest) = files.first().and_then(|e| facts::mar_manifest(&e.real)) {
                let m = &manifest["model"];
                let name = m["modelName"].as_str().unwrap_or(&dir_name).to_string();
                let version = m["modelVersion"].as_str().map(str::to_string);
                model.layout = "torchserve";
                model.framework = Some("torchserve".into());
                if let Some(handler) = m["handler"].as_str() {
                    model
                        .metadata
                        .insert("torchserve_handler".into(), handler.into());
                }
                model.version.clone_from(&version);
                model.provenance = Some(Provenance {
                    revision: version,
                    ..Provenance::new(SourceKind::Torchserve, name)
                });
            }
        }
        _ => {}
    }
    if model.provenance.is_none()
        && let Some(e) = files.first()
    {
        model.provenance = provenance::from_path(&e.path);
    }
    model.name = match (&model.provenance, &kind) {
        (Some(p), _) if !matches!(kind, Kind::Ollama { .. }) => p.name.clone(),
        (_, Kind::Ollama { .. }) => model.name.clone(),
        (_, Kind::Sharded(base)) => base.clone(),
        _ => model
            .metadata
            .get("name")
            .cloned()
            .unwrap_or_else(|| match kind {
                Kind::Single => name_of(path).to_string(),
                _ => dir_name.clone(),
            }),
    };
    for e in files {
        let r = &e.result;
        let active = r
            .findings
            .iter()
            .filter(|f| f.is_active())
            .map(|f| f.severity)
            .max();
        model.size = model.size.saturating_add(r.size);
        model.max_severity = model.max_severity.max(active);
        model.files.push(ModelFile {
            path: e.path.to_string_lossy().into_owned(),
            role: role(&e.path, r.format),
            format: r.format,
            size: r.size,
            sha256: r.sha256.clone(),
            status: e.scanned.then_some(r.status),
            max_severity: active,
            findings: r.findings.clone(),
        });
    }
    model.files.sort_by(|a, b| a.path.cmp(&b.path));
    model
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names() {
        assert_eq!(
            shard_key("model-00001-of-00004.safetensors"),
            Some(("model".into(), "safetensors".into()))
        );
        assert_eq!(shard_key("model.safetensors"), None);
        assert_eq!(shard_key("a-of-b.bin"), None);
    }

    #[test]
    fn ollama_manifest_paths() {
        let p = Path::new("/u/.ollama/models/manifests/registry.ollama.ai/library/llama3/8b");
        let (store, name, tag) = ollama_manifest(p).unwrap_or_else(|| panic!("none"));
        assert_eq!(store, Path::new("/u/.ollama/models"));
        assert_eq!((name.as_str(), tag.as_str()), ("llama3", "8b"));
    }
}
