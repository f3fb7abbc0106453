//! What analyzers learn about the model itself while scanning — framework, architecture, op
//! inventory, parameter count, dtypes, quantisation — so the AI-BOM can describe it without
//! parsing the file a second time.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Facts about the model in a file. Every field is optional: analyzers fill what headers tell.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelInfo {
    /// Framework that wrote the file (`pytorch`, `scikit-learn`, `keras`, `onnx`, `gguf`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    /// Model architecture (`LlamaForCausalLM`, `llama`, a Keras class name, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// Total number of parameters, when tensor shapes are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<u64>,
    /// Tensor dtypes seen.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub dtypes: BTreeSet<String>,
    /// Quantisation scheme (GGUF file type, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantization: Option<String>,
    /// Operators / layer types used by the graph.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub operators: BTreeSet<String>,
    /// Other format-specific facts (opset, license, model name, …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// For code: the model files and hub repositories its load sites name (constants as
    /// written), whether or not the load is safe.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub loads: BTreeSet<String>,
    /// For a dependency file: the ML libraries it requires.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
}

/// An ML library a dependency file requires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// Normalised PyPI name (`torch`, `sentence-transformers`).
    pub name: String,
    /// The exact version, when pinned or locked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The version constraint as written (empty: none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub constraint: String,
    /// Line in the file (1-based).
    pub line: usize,
}

impl ModelInfo {
    /// True when nothing was learned.
    pub fn is_empty(&self) -> bool {
        *self == ModelInfo::default()
    }

    /// Sets the framework unless one is already known (the outermost analyzer wins).
    pub fn set_framework(&mut self, framework: &str) {
        self.framework.get_or_insert_with(|| framework.to_string());
    }

    /// Adds to the parameter count.
    pub fn add_parameters(&mut self, count: u64) {
        let total = self.parameters.unwrap_or(0).saturating_add(count);
        self.parameters = Some(total);
    }
}
