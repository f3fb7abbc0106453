//! Where a model came from, recovered from where it sits: the Hugging Face hub cache, torch hub,
//! Keras, LM Studio, and (from their metadata files, in [`crate::group`]) Ollama, spaCy,
//! sentence-transformers, MLflow, Triton and TorchServe.

use serde::Serialize;
use std::path::{Component, Path, PathBuf};

/// The store or layout a model was recognised in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// Hugging Face hub cache (`models--org--name/snapshots/<revision>/`).
    HuggingFace,
    /// `torch.hub` checkpoint (`hub/checkpoints/`) or repository (`hub/<owner>_<repo>_<ref>/`).
    TorchHub,
    /// `keras.utils.get_file` cache (`~/.keras/models`).
    Keras,
    /// Ollama's store (manifests + `blobs/sha256-<digest>`).
    Ollama,
    /// LM Studio's model folder (`<publisher>/<repo>/<file>`).
    LmStudio,
    /// sentence-transformers folder (`modules.json`).
    SentenceTransformers,
    /// spaCy package (`meta.json` + `config.cfg`).
    Spacy,
    /// MLflow model folder (`MLmodel`).
    Mlflow,
    /// Triton model repository (`<model>/config.pbtxt`).
    Triton,
    /// TorchServe model archive (`.mar`).
    Torchserve,
}

impl SourceKind {
    /// Kebab-case id.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::HuggingFace => "huggingface",
            SourceKind::TorchHub => "torch-hub",
            SourceKind::Keras => "keras",
            SourceKind::Ollama => "ollama",
            SourceKind::LmStudio => "lm-studio",
            SourceKind::SentenceTransformers => "sentence-transformers",
            SourceKind::Spacy => "spacy",
            SourceKind::Mlflow => "mlflow",
            SourceKind::Triton => "triton",
            SourceKind::Torchserve => "torchserve",
        }
    }
}

impl Serialize for SourceKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Where a model came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// The store or layout.
    pub source: SourceKind,
    /// Name in that store (`org/name`, `llama3:8b`, `en_core_web_sm`, …).
    pub name: String,
    /// Exact revision or version (git commit, digest, package version), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Branch or tag names that point at the revision (`main`, `latest`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<String>,
}

impl Provenance {
    /// A provenance without revision.
    pub fn new(source: SourceKind, name: impl Into<String>) -> Provenance {
        Provenance {
            source,
            name: name.into(),
            revision: None,
            refs: Vec::new(),
        }
    }

    /// `name@revision` (or `name`).
    pub fn id(&self) -> String {
        match &self.revision {
            Some(rev) => format!("{}@{rev}", self.name),
            None => self.name.clone(),
        }
    }

    /// A package URL: `pkg:huggingface/org/name@rev` for the hub, `pkg:generic/...` otherwise.
    pub fn purl(&self) -> String {
        let name = self
            .name
            .split('/')
            .map(purl_escape)
            .collect::<Vec<_>>()
            .join("/");
        let (kind, name) = match self.source {
            SourceKind::HuggingFace => ("huggingface", name),
            other => ("generic", format!("{}/{name}", other.as_str())),
        };
        match &self.revision {
            Some(rev) => format!("pkg:{kind}/{name}@{}", purl_escape(rev)),
            None => format!("pkg:{kind}/{name}"),
        }
    }
}

/// Percent-encodes what a purl segment may not hold.
pub fn purl_escape(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn names(path: &Path) -> Vec<String> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

/// A Hugging Face hub cache snapshot a path lies in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfSnapshot {
    /// `…/models--org--name`.
    pub repo_dir: PathBuf,
    /// `…/models--org--name/snapshots/<revision>`.
    pub snapshot_dir: PathBuf,
    /// `org/name`.
    pub repo_id: String,
    /// The snapshot's revision (commit hash).
    pub revision: String,
}

/// The hub-cache snapshot `path` is in (or is), if any.
pub fn hf_snapshot(path: &Path) -> Option<HfSnapshot> {
    let parts: Vec<&std::ffi::OsStr> = path.iter().collect();
    let at = parts.iter().rposition(|p| {
        p.to_str()
            .is_some_and(|s| s.starts_with("models--") && s.len() > 8)
    })?;
    if parts.get(at + 1)?.to_str()? != "snapshots" {
        return None;
    }
    let revision = parts.get(at + 2)?.to_str()?.to_string();
    let repo_id = parts
        .get(at)?
        .to_str()?
        .strip_prefix("models--")?
        .replace("--", "/");
    let repo_dir: PathBuf = parts.iter().take(at + 1).collect();
    let snapshot_dir = repo_dir.join("snapshots").join(&revision);
    Some(HfSnapshot {
        repo_dir,
        snapshot_dir,
        repo_id,
        revision,
    })
}

/// The `refs/<branch>` files of a hub-cache repository that name `revision`.
pub fn hf_refs(repo_dir: &Path, revision: &str) -> Vec<String> {
    let mut refs = Vec::new();
    let walker = ignore::WalkBuilder::new(repo_dir.join("refs"))
        .standard_filters(false)
        .max_depth(Some(4))
        .build();
    for entry in walker.flatten() {
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Ok(text) = read_small(entry.path(), 256) else {
            continue;
        };
        if text.trim() == revision
            && let Ok(name) = entry.path().strip_prefix(repo_dir.join("refs"))
        {
            refs.push(name.to_string_lossy().into_owned());
        }
    }
    refs.sort();
    refs
}

/// Reads at most `max` bytes of a small text file.
pub fn read_small(path: &Path, max: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(max)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// Provenance from the path alone, for the layouts whose path names the model: the hub cache
/// (with `refs/` read for branch names), torch hub, Keras and LM Studio.
pub fn from_path(path: &Path) -> Option<Provenance> {
    if let Some(snap) = hf_snapshot(path) {
        return Some(Provenance {
            source: SourceKind::HuggingFace,
            name: snap.repo_id,
            refs: hf_refs(&snap.repo_dir, &snap.revision),
            revision: Some(snap.revision),
        });
    }
    let parts = names(path);
    let find = |a: &str, b: &str| parts.windows(2).rposition(|w| w[0] == a && w[1] == b);
    if let Some(at) = find("hub", "checkpoints")
        && at > 0
        && parts.get(at - 1).is_some_and(|p| p == "torch")
    {
        let file = parts.get(at + 2)?;
        let stem = file.split('.').next().unwrap_or(file);
        // torch.hub names checkpoints `<name>-<first hex digits of sha256>.pth`.
        return Some(match stem.rsplit_once('-') {
            Some((name, hash))
                if hash.len() >= 6 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                Provenance {
                    revision: Some(hash.to_string()),
                    ..Provenance::new(SourceKind::TorchHub, name)
                }
            }
            _ => Provenance::new(SourceKind::TorchHub, stem),
        });
    }
    if let Some(at) = find("torch", "hub") {
        // `<owner>_<repo>_<ref>`: owner has no `_` on GitHub; the ref is last.
        let dir = parts.get(at + 2)?;
        if dir != "checkpoints" && parts.len() > at + 3 {
            let (owner, rest) = dir.split_once('_')?;
            let (repo, reference) = rest.rsplit_once('_').unwrap_or((rest, ""));
            return Some(Provenance {
                refs: (!reference.is_empty())
                    .then(|| reference.to_string())
                    .into_iter()
                    .collect(),
                ..Provenance::new(SourceKind::TorchHub, format!("{owner}/{repo}"))
            });
        }
    }
    if let Some(at) = find(".keras", "models") {
        let file = parts.get(at + 2)?;
        return Some(Provenance::new(SourceKind::Keras, file.clone()));
    }
    for (a, b) in [("lm-studio", "models"), (".lmstudio", "models")] {
        if let Some(at) = find(a, b)
            && let (Some(publisher), Some(repo)) = (parts.get(at + 2), parts.get(at + 3))
            && parts.len() > at + 4
        {
            return Some(Provenance::new(
                SourceKind::LmStudio,
                format!("{publisher}/{repo}"),
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_cache_snapshot() {
        let p = Path::new(
            "/h/.cache/huggingface/hub/models--org--my-model/snapshots/abc123/sub/model.safetensors",
        );
        let snap = hf_snapshot(p).unwrap_or_else(|| panic!("no snapshot"));
        assert_eq!(snap.repo_id, "org/my-model");
        assert_eq!(snap.revision, "abc123");
        let prov = from_path(p).unwrap_or_else(|| panic!("no provenance"));
        assert_eq!(prov.id(), "org/my-model@abc123");
        assert_eq!(prov.purl(), "pkg:huggingface/org/my-model@abc123");
        assert!(hf_snapshot(Path::new("/x/models--org--m/blobs/abc")).is_none());
    }

    #[test]
    fn torch_keras_lmstudio() {
        let p = from_path(Path::new(
            "/root/.cache/torch/hub/checkpoints/resnet18-f37072fd.pth",
        ));
        assert_eq!(p.map(|p| p.id()), Some("resnet18@f37072fd".into()));
        let p = from_path(Path::new(
            "/root/.cache/torch/hub/pytorch_vision_v0.10.0/hubconf.py",
        ));
        assert_eq!(
            p.map(|p| (p.name, p.refs)),
            Some(("pytorch/vision".into(), vec!["v0.10.0".into()]))
        );
        let p = from_path(Path::new("/home/u/.keras/models/vgg16.h5"));
        assert_eq!(p.map(|p| p.source), Some(SourceKind::Keras));
        let p = from_path(Path::new(
            "/home/u/.cache/lm-studio/models/TheBloke/Foo-GGUF/foo.Q4.gguf",
        ));
        assert_eq!(p.map(|p| p.name), Some("TheBloke/Foo-GGUF".into()));
        assert!(from_path(Path::new("/srv/models/x.pt")).is_none());
    }

    #[test]
    fn purl_escapes() {
        let p = Provenance {
            revision: Some("latest".into()),
            ..Provenance::new(SourceKind::Ollama, "library/llama3:8b")
        };
        assert_eq!(p.purl(), "pkg:generic/ollama/library/llama3%3A8b@latest");
    }
}
