//! Facts read from the small metadata files around a model: Hugging Face `config.json`, spaCy
//! `meta.json`, sentence-transformers configs, MLflow `MLmodel`, Triton `config.pbtxt`, Ollama
//! manifests and TorchServe `MAR-INF/MANIFEST.json`. Every read is capped; every field optional.

use crate::provenance::read_small;
use aigis_scan::analyzers::yaml;
use aigis_scan::archive::zip_index;
use aigis_scan::{ByteSource, FileSource};
use serde_json::Value;
use std::io::Read;
use std::path::Path;

/// Most bytes of a metadata file read.
const MAX_META: u64 = 1 << 20;

/// Reads a small JSON file.
pub fn json_file(path: &Path) -> Option<Value> {
    serde_json::from_str(&read_small(path, MAX_META).ok()?).ok()
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.as_str().filter(|s| !s.is_empty())
}

/// What a Hugging Face `config.json` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HfConfig {
    /// `architectures[0]`.
    pub architecture: Option<String>,
    /// `model_type`.
    pub model_type: Option<String>,
    /// `torch_dtype` / `dtype`.
    pub dtype: Option<String>,
    /// `transformers_version`: the folder was written by transformers.
    pub transformers_version: Option<String>,
    /// `license`, when the config declares one.
    pub license: Option<String>,
}

impl HfConfig {
    /// Reads `config.json`; `None` unless it is a JSON object.
    pub fn read(path: &Path) -> Option<HfConfig> {
        let v = json_file(path)?;
        v.as_object()?;
        Some(HfConfig {
            architecture: v
                .get("architectures")
                .and_then(|a| a.get(0))
                .and_then(Value::as_str)
                .map(str::to_string),
            model_type: str_at(&v, "model_type").map(str::to_string),
            dtype: str_at(&v, "torch_dtype")
                .or_else(|| str_at(&v, "dtype"))
                .map(str::to_string),
            transformers_version: str_at(&v, "transformers_version").map(str::to_string),
            license: str_at(&v, "license").map(str::to_string),
        })
    }
}

/// spaCy `meta.json`: (`<lang>_<name>`, version).
pub fn spacy_meta(path: &Path) -> Option<(String, Option<String>)> {
    let v = json_file(path)?;
    let lang = str_at(&v, "lang")?;
    let name = str_at(&v, "name")?;
    Some((
        format!("{lang}_{name}"),
        str_at(&v, "version").map(str::to_string),
    ))
}

/// MLflow `MLmodel`: (run id, model uuid, flavors).
pub fn mlmodel(path: &Path) -> Option<(Option<String>, Option<String>, Vec<String>)> {
    let text = read_small(path, MAX_META).ok()?;
    let docs = yaml::parse(&text).ok()?;
    let doc = docs.docs.first()?;
    let get = |k: &str| doc.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let flavors = match doc.get("flavors") {
        Some(yaml::Yaml::Map(entries)) => entries
            .iter()
            .filter_map(|(k, _)| k.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    Some((get("run_id"), get("model_uuid"), flavors))
}

/// Triton `config.pbtxt`: (name, platform or backend). Text format, read line by line.
pub fn triton_config(path: &Path) -> (Option<String>, Option<String>) {
    let text = read_small(path, MAX_META).unwrap_or_default();
    let mut name = None;
    let mut platform = None;
    for line in text.lines().map(str::trim) {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_string();
        match key.trim() {
            "name" if name.is_none() => name = Some(value),
            "platform" | "backend" if platform.is_none() => platform = Some(value),
            _ => {}
        }
    }
    (name, platform)
}

/// An Ollama manifest's layers: (media type, `sha256-<hex>` blob name).
pub fn ollama_layers(path: &Path) -> Vec<(String, String)> {
    let Some(v) = json_file(path) else {
        return Vec::new();
    };
    let mut layers = Vec::new();
    let config = v.get("config").into_iter();
    let listed = v
        .get("layers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for layer in config.chain(listed).take(1024) {
        let media = str_at(layer, "mediaType").unwrap_or("").to_string();
        if let Some(hex) = str_at(layer, "digest").and_then(|d| d.strip_prefix("sha256:"))
            && hex.len() == 64
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            layers.push((media, format!("sha256-{hex}")));
        }
    }
    layers
}

/// TorchServe `.mar`: the `MAR-INF/MANIFEST.json` member, when the zip has one.
pub fn mar_manifest(path: &Path) -> Option<Value> {
    let source = FileSource::new(std::fs::File::open(path).ok()?).ok()?;
    let index = zip_index::read_index(&source, 100_000);
    let entry = index
        .entries
        .iter()
        .find(|e| e.name == "MAR-INF/MANIFEST.json")?;
    let raw = source
        .read_vec(
            entry.data_offset,
            usize::try_from(entry.compressed_size.min(MAX_META)).ok()?,
        )
        .ok()?;
    let bytes = match entry.method {
        0 => raw,
        8 => {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(raw.as_slice())
                .take(MAX_META)
                .read_to_end(&mut out)
                .ok()?;
            out
        }
        _ => return None,
    };
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triton_config_text() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("config.pbtxt");
        std::fs::write(
            &p,
            "name: \"resnet\"\nplatform: \"onnxruntime_onnx\"\nmax_batch_size: 8\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            triton_config(&p),
            (Some("resnet".into()), Some("onnxruntime_onnx".into()))
        );
    }
}
