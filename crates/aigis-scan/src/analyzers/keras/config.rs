//! The checks on a Keras model config (JSON), shared by `.keras` zips and legacy HDF5 files.
//!
//! Loading a Keras model imports and calls what the config names: every serialized object is
//! `{"module", "class_name", "config", "registered_name"}` (Keras 3) or `{"class_name",
//! "config"}` (Keras 2), and functions are `{"class_name": "function", "config": NAME,
//! "module": M}`. The walk visits every object at every depth (nested functional and sequential
//! submodels, optimizers, initializers, activations) and judges:
//! - `Lambda` layers: their marshalled bytecode runs on load (when `safe_mode` is off, and with
//!   any safe-mode bypass); the bytecode's names and strings are listed.
//! - objects and functions from outside Keras: arbitrary code on load.
//! - file and network gadgets and `enable_unsafe_deserialization`, even inside Keras.
//! - `TorchModuleWrapper`, whose config carries a pickled torch module (`torch.load` on load).

use super::marshal::{CodeSummary, summarize_code};
use crate::analyzer::Context;
use crate::analyzers::callables::{Trust, alias_note, clip, config_gadget, judge, report_with};
use crate::analyzers::pickle;
use crate::{MemorySource, RuleId, Severity};
use base64::Engine;
use serde_json::{Map, Value};

/// Deepest JSON nesting walked (serde_json already refuses more than 128 when parsing).
const MAX_DEPTH: usize = 128;
/// Largest base64 payload (Lambda bytecode, TorchModuleWrapper pickle) decoded.
const MAX_PAYLOAD: usize = 16 << 20;

/// Top-level packages whose registered objects Keras loads as its own: Keras itself, the
/// Keras-team libraries built on it, TensorFlow (Keras 2), and the builtins/NumPy types Keras
/// serializes (dtypes, tuples).
const KERAS_PACKAGES: &[&str] = &[
    "keras",
    "tf_keras",
    "tensorflow",
    "keras_hub",
    "keras_nlp",
    "keras_cv",
    "builtins",
    "numpy",
];

/// Names that are file or network gadgets (or turn safety off) wherever they live, Keras
/// included: a config never needs to call them.
const GADGETS: &[(&str, &str)] = &[
    ("get_file", "downloads a file"),
    (
        "enable_unsafe_deserialization",
        "turns off safe_mode for everything loaded after it (CVE-2025-9906)",
    ),
    ("load_model", "loads another model file"),
    ("load_weights", "reads a weights file"),
    ("save_model", "writes a model file"),
    ("write_file", "writes a file"),
    ("read_file", "reads a file"),
    ("load_img", "reads a file"),
    ("save_img", "writes a file"),
    ("GFile", "opens a file"),
    ("TFSMLayer", "loads a TensorFlow SavedModel from a path"),
];

/// Python names in Lambda bytecode that reach the shell, code evaluation, files or the network.
const DANGEROUS_NAMES: &[&str] = &[
    "os",
    "posix",
    "nt",
    "subprocess",
    "system",
    "popen",
    "spawnl",
    "spawnv",
    "execl",
    "execv",
    "execve",
    "eval",
    "exec",
    "compile",
    "open",
    "__import__",
    "import_module",
    "importlib",
    "__builtins__",
    "builtins",
    "__globals__",
    "__subclasses__",
    "getattr",
    "globals",
    "socket",
    "urllib",
    "urlopen",
    "requests",
    "http",
    "shutil",
    "pty",
    "ctypes",
    "marshal",
    "pickle",
    "loads",
    "sys",
    "remove",
    "unlink",
    "rmtree",
    "get_file",
];

/// Which Keras wrote the config: it decides what a file path in a layer config means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Keras 3 `.keras`: vocabularies and tokenizer data are saved inline or as archive assets
    /// (the config says `null`), so a path there was put by hand.
    Keras3,
    /// Keras 2 / tf_keras HDF5 and SavedModel metadata: the config keeps the path the model was
    /// built from, and loading reads it again.
    Keras2,
}

/// What the walk learned about the model.
#[derive(Debug, Default)]
pub(crate) struct ConfigFacts {
    /// Top-level class (`Sequential`, `Functional`, a custom model class).
    pub architecture: Option<String>,
    /// Model name from the top-level config.
    pub name: Option<String>,
    /// Layer class names.
    pub layers: Vec<String>,
}

/// Parses `text` as a Keras config and reports everything loading it would run. Returns `None`
/// (after reporting the problem) when the JSON does not parse.
pub(crate) fn check_config_text(
    text: &[u8],
    dialect: Dialect,
    cx: &mut Context<'_>,
) -> Option<ConfigFacts> {
    if text.len() > PRUNE_ABOVE {
        return check_config_stream(text, u64::MAX, dialect, cx);
    }
    match parse_python_json(text) {
        Ok((value, pruned)) => {
            if pruned {
                let msg = format!(
                    "Keras model config nests deeper than {PRUNE_DEPTH} levels (no Keras save does); the deeper parts were not checked"
                );
                report_with(cx, RuleId::FormatMalformed, Severity::High, msg);
            }
            Some(check_config(&value, dialect, cx))
        }
        Err(err) => {
            cx.malformed(
                RuleId::FormatMalformed,
                format!("Keras model config is not valid JSON: {err}"),
                None,
            );
            None
        }
    }
}

/// Containers nested deeper than this are replaced by `null` when a config is re-read leniently
/// (serde_json stops at 128 levels; Python's `json` goes far deeper).
const PRUNE_DEPTH: usize = 100;
/// Configs larger than this are read through the bounded streaming reader ([`super::prune`]).
pub(crate) const PRUNE_ABOVE: usize = 4 << 20;

/// Judges a large config read as a stream (at most `max_input` bytes): every object is walked,
/// bulk data in arrays is dropped (see [`super::prune`]); what the reading could not cover makes
/// the result incomplete.
pub(crate) fn check_config_stream(
    reader: impl std::io::Read,
    max_input: u64,
    dialect: Dialect,
    cx: &mut Context<'_>,
) -> Option<ConfigFacts> {
    let pruned = super::prune::prune(reader, PRUNE_DEPTH, max_input);
    if pruned.too_deep {
        let msg = format!(
            "Keras model config nests deeper than {PRUNE_DEPTH} levels (no Keras save does); the deeper parts were not checked"
        );
        report_with(cx, RuleId::FormatMalformed, Severity::High, msg);
    }
    if pruned.capped || pruned.read >= max_input {
        let msg = format!(
            "Keras model config too large to walk whole ({} bytes read); the rest was not checked",
            pruned.read
        );
        cx.malformed(RuleId::ResourceLimit, msg, None);
        cx.not_analysed("Keras config past the size the walk covers");
    }
    match parse_python_json(&pruned.text) {
        Ok((value, _)) => Some(check_config(&value, dialect, cx)),
        Err(err) => {
            cx.malformed(
                RuleId::FormatMalformed,
                format!("Keras model config is not valid JSON: {err}"),
                None,
            );
            None
        }
    }
}

/// Parses JSON as Python's `json.loads(bytes)` (which Keras and skops use) reads it
/// ([`crate::loaders::json`]): every encoding `json.detect_encoding` finds, `NaN`/`Infinity`,
/// lone surrogates, nesting to any depth (containers deeper than [`PRUNE_DEPTH`] become `null`).
/// Returns the value and whether anything was pruned for depth.
pub(crate) fn parse_python_json(
    text: &[u8],
) -> Result<(Value, bool), crate::loaders::json::JsonError> {
    crate::loaders::json::loads_bytes(text, PRUNE_DEPTH).map(|d| (d.value, d.pruned))
}

/// Walks a parsed config.
pub(crate) fn check_config(config: &Value, dialect: Dialect, cx: &mut Context<'_>) -> ConfigFacts {
    let mut facts = ConfigFacts::default();
    crate::secrets::check_json(cx, "Keras config", config);
    if let Some(top) = config.as_object() {
        facts.architecture = str_of(top, "class_name").map(str::to_string);
        facts.name = top
            .get("config")
            .and_then(Value::as_object)
            .and_then(|c| str_of(c, "name"))
            .map(str::to_string);
    }
    walk(config, cx, &mut facts, Walk::top(true, dialect));
    facts
}

/// Walks the layer configs of a Keras 2 SavedModel (`keras_metadata.pb` nodes) for everything
/// but `Lambda` layers, which the TensorFlow analyzer reports itself.
pub(crate) fn check_keras2_objects(config: &Value, cx: &mut Context<'_>) {
    walk(
        config,
        cx,
        &mut ConfigFacts::default(),
        Walk::top(false, Dialect::Keras2),
    );
}

fn str_of<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// The innermost serialized object around a value, for messages (`Dense` `dense_1`).
#[derive(Clone, Copy)]
struct Owner<'a> {
    class: &'a str,
    name: &'a str,
}

impl Owner<'_> {
    fn describe(&self) -> String {
        match self.class {
            "" => "the config".to_string(),
            "Lambda" => format!("Lambda layer `{}`", clip(self.name, 100)),
            class => format!("{} `{}`", clip(class, 60), clip(self.name, 100)),
        }
    }
}

fn walk(value: &Value, cx: &mut Context<'_>, facts: &mut ConfigFacts, at: Walk<'_>) {
    if at.depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Array(items) => {
            for item in items {
                walk(
                    item,
                    cx,
                    facts,
                    Walk {
                        depth: at.depth + 1,
                        ..at
                    },
                );
            }
        }
        Value::Object(map) => {
            let mut owner = at.owner;
            if let Some(class_name) = str_of(map, "class_name") {
                check_object(map, cx, facts, &at);
                let name = map
                    .get("config")
                    .and_then(Value::as_object)
                    .and_then(|c| str_of(c, "name"))
                    .or_else(|| str_of(map, "name"));
                if let Some(name) = name {
                    owner = Owner {
                        class: class_name,
                        name,
                    };
                }
            }
            for (key, child) in map {
                let next = Walk {
                    depth: at.depth + 1,
                    layer: key == "layers",
                    owner,
                    key,
                    lambdas: at.lambdas,
                    dialect: at.dialect,
                };
                walk(child, cx, facts, next);
            }
        }
        _ => {}
    }
}

/// Where the walk is: depth, whether the value is in a `layers` list, the enclosing object and
/// the key that holds the value; `lambdas` says whether `Lambda` layers are judged here.
#[derive(Clone, Copy)]
struct Walk<'a> {
    depth: usize,
    layer: bool,
    owner: Owner<'a>,
    key: &'a str,
    lambdas: bool,
    dialect: Dialect,
}

impl Walk<'_> {
    fn top(lambdas: bool, dialect: Dialect) -> Walk<'static> {
        Walk {
            depth: 0,
            layer: false,
            owner: Owner {
                class: "",
                name: "",
            },
            key: "",
            lambdas,
            dialect,
        }
    }
}

fn layer_name(map: &Map<String, Value>) -> String {
    map.get("config")
        .and_then(Value::as_object)
        .and_then(|c| str_of(c, "name"))
        .or_else(|| str_of(map, "name"))
        .unwrap_or("?")
        .to_string()
}

fn gadget(name: &str) -> Option<&'static str> {
    let last = name.rsplit(['.', '>']).next().unwrap_or(name);
    GADGETS
        .iter()
        .find(|(g, _)| *g == last)
        .map(|(_, what)| *what)
}

/// The string arguments a config passes to a callable, for the message (`origin='http://…'`).
fn string_args(args: Option<&Value>) -> String {
    let Some(args) = args.and_then(Value::as_object) else {
        return String::new();
    };
    let shown: Vec<String> = args
        .iter()
        .filter_map(|(k, v)| Some(format!("{}='{}'", clip(k, 40), clip(v.as_str()?, 200))))
        .take(6)
        .collect();
    if shown.is_empty() {
        String::new()
    } else {
        format!(" with {}", shown.join(", "))
    }
}

/// Judges one named callable or class (`module.name`) called with the config `args`.
fn check_callable(
    module: Option<&str>,
    name: &str,
    args: Option<&Value>,
    what: &str,
    cx: &mut Context<'_>,
) {
    let full = match module {
        Some(m) if !m.is_empty() => format!("{m}.{name}"),
        _ => name.to_string(),
    };
    cx.record_instantiation(|| format!("{what}: {}{}", clip(&full, 200), string_args(args)));
    if let Some(effect) = gadget(name) {
        let msg = format!(
            "{what} references `{}`{}, which {effect} when the model loads",
            clip(&full, 200),
            string_args(args)
        );
        report_with(cx, RuleId::KerasDangerousReference, Severity::Critical, msg);
        return;
    }
    let Some(module) = module.filter(|m| !m.is_empty()) else {
        return;
    };
    if let Some(effect) = config_gadget(module, name) {
        let msg = format!(
            "{what} references `{}`{}, which {effect} when the model loads",
            clip(&full, 200),
            string_args(args)
        );
        report_with(cx, RuleId::KerasDangerousReference, Severity::Critical, msg);
        return;
    }
    match judge(module, name, KERAS_PACKAGES) {
        Trust::Dangerous(label) => {
            let msg = format!(
                "{what} references `{}`{} ({label}){}: loading the model calls it",
                clip(&full, 200),
                alias_note(module, name),
                string_args(args)
            );
            report_with(cx, RuleId::KerasDangerousReference, Severity::Critical, msg);
        }
        Trust::Effect(label) => {
            let msg = format!(
                "{what} references `{}`{}, which {label} (generated effect table): loading the \
                 model calls it",
                clip(&full, 200),
                string_args(args)
            );
            report_with(cx, RuleId::KerasDangerousReference, Severity::High, msg);
        }
        Trust::Unknown => {
            let msg = format!(
                "{what} is the custom object `{}` from outside Keras; its code must be trusted",
                clip(&full, 200)
            );
            cx.report(RuleId::KerasCustomObject, msg, None);
        }
        Trust::Trusted => {}
    }
}

fn check_object(
    map: &Map<String, Value>,
    cx: &mut Context<'_>,
    facts: &mut ConfigFacts,
    at: &Walk<'_>,
) {
    let Some(class_name) = str_of(map, "class_name") else {
        return;
    };
    let module = str_of(map, "module");
    let registered = str_of(map, "registered_name");
    if at.layer && facts.layers.len() < 4096 && !facts.layers.iter().any(|l| l == class_name) {
        facts.layers.push(class_name.to_string());
    }
    match class_name {
        // Keras' own classes that carry code; the class itself is not the finding.
        "Lambda" if at.lambdas => return check_lambda(map, cx),
        "Lambda" => return,
        "TorchModuleWrapper" => return check_torch_wrapper(map, cx),
        // Keras 3 serializes any Python lambda (a Lambda layer's function, output_shape or mask,
        // an activation, a loss) as {"class_name": "__lambda__", "config": {"code": B64}}, and
        // `deserialize_keras_object` rebuilds it wherever it sits.
        "__lambda__" => {
            // Lambda layers write {"code": B64}; `serialize_keras_object` writes
            // {"value": [B64, defaults, closure]} (`python_utils.func_dump`).
            let code = map.get("config").and_then(Value::as_object).and_then(|c| {
                str_of(c, "code").or_else(|| match c.get("value") {
                    Some(Value::String(code)) => Some(code.as_str()),
                    Some(Value::Array(dump)) => dump.first().and_then(Value::as_str),
                    _ => None,
                })
            });
            let place = match (at.owner.class, at.key) {
                ("Lambda", "function") => at.owner.describe(),
                (_, "") => at.owner.describe(),
                (_, key) => format!("`{}` of {}", clip(key, 60), at.owner.describe()),
            };
            return check_bytecode(code, &place, cx);
        }
        "function" => {
            // A serialized function: {"class_name": "function", "config": NAME, "module": M}.
            if let Some(name) = map.get("config").and_then(Value::as_str) {
                check_callable(module, name, None, "a serialized function", cx);
            }
            return;
        }
        _ => {}
    }
    let what = format!("object `{}`", clip(class_name, 100));
    check_callable(module, class_name, map.get("config"), &what, cx);
    if let Some(config) = map.get("config").and_then(Value::as_object) {
        check_file_arguments(class_name, config, at.dialect, cx);
    }
    // Keras 3 writes `registered_name: null` for its own objects; a `package>Name` or a name
    // without a module is a custom object registered by the code that saved it.
    if let Some(registered) = registered
        && module.is_none_or(str::is_empty)
        && registered != class_name
        && registered != "function"
    {
        let msg = format!(
            "object `{}` is the custom object `{}` registered outside Keras; its code must be trusted",
            clip(class_name, 100),
            clip(registered, 100)
        );
        cx.report(RuleId::KerasCustomObject, msg, None);
    }
}

/// Config keys that Keras layers and Keras-team tokenizers accept either as inline data or as a
/// path they read when the layer is built (`StringLookup`/`IntegerLookup`/`TextVectorization`
/// `vocabulary`, keras_hub BPE `vocabulary`/`merges`, SentencePiece `proto`): CVE-2025-12058.
const FILE_KEYS: &[&str] = &["vocabulary", "merges", "proto", "vocabulary_file"];
/// Longest string taken for a path (PATH_MAX on Linux).
const MAX_PATH_LEN: usize = 4096;

fn check_file_arguments(
    class_name: &str,
    config: &Map<String, Value>,
    dialect: Dialect,
    cx: &mut Context<'_>,
) {
    for key in FILE_KEYS {
        // A path is one short line; long or multi-line text is inline data (older keras_nlp
        // wrote a SentencePiece proto inline as base64).
        let Some(path) = str_of(config, key)
            .filter(|p| !p.trim().is_empty() && p.len() <= MAX_PATH_LEN && !p.contains('\n'))
        else {
            continue;
        };
        let reference = file_reference(path);
        let effect = match reference {
            FileReference::Remote => "fetches it over the network",
            FileReference::Outside => "reads that file of the host",
            FileReference::Relative => "reads that file relative to the working directory",
        };
        // Keras 3 never writes a path here; Keras 2 keeps the one the model was built from, so
        // there it is a portability and disclosure concern rather than proof of tampering.
        let severity = match (dialect, reference) {
            (Dialect::Keras2, _) => Severity::Low,
            (Dialect::Keras3, FileReference::Remote) => Severity::Critical,
            (Dialect::Keras3, _) => Severity::High,
        };
        let layer = config.get("name").and_then(Value::as_str).unwrap_or("?");
        let msg = format!(
            "{} `{}` takes its `{key}` from `{}`: loading the model {effect}",
            clip(class_name, 60),
            clip(layer, 100),
            clip(path, 200)
        );
        report_with(cx, RuleId::KerasFileReference, severity, msg);
    }
}

/// Where a path named in a config points.
enum FileReference {
    /// A URL (`gs://`, `s3://`, `hdfs://`, `http://`): TensorFlow's file system fetches it.
    Remote,
    /// Absolute, home-relative, drive or UNC path, or one that climbs with `..`.
    Outside,
    /// A plain relative path.
    Relative,
}

fn file_reference(path: &str) -> FileReference {
    let path = path.trim();
    if path.contains("://") {
        return FileReference::Remote;
    }
    let drive = matches!(path.as_bytes(), [letter, b':', ..] if letter.is_ascii_alphabetic());
    let climbs = path.split(['/', '\\']).any(|part| part == "..");
    if path.starts_with(['/', '\\', '~']) || drive || climbs {
        FileReference::Outside
    } else {
        FileReference::Relative
    }
}

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    if text.len() > MAX_PAYLOAD.saturating_mul(2) {
        return None;
    }
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .ok()
}

/// One function slot of a Lambda layer (`function`, `output_shape`, `mask`), Keras 3 or Keras 2.
enum LambdaFunction<'a> {
    /// Keras 2 marshalled bytecode (base64).
    Bytecode(&'a str),
    /// A function named by module path (Keras 2).
    Named(&'a str, Option<&'a str>),
    /// A Keras 3 serialized function object, named: the walk judges its module.
    NamedObject(&'a str),
    /// Keras 3 `__lambda__` object: judged where the walk meets it.
    Serialized,
    /// Data (an output shape) or nothing.
    Absent,
}

/// The Lambda slots that hold functions, and the Keras 2 `*_type` / `*_module` keys beside them.
const LAMBDA_SLOTS: &[(&str, &str, &str)] = &[
    ("function", "function_type", "module"),
    ("output_shape", "output_shape_type", "output_shape_module"),
    ("mask", "mask_type", "mask_module"),
];

fn lambda_slot<'a>(
    config: &'a Map<String, Value>,
    (key, type_key, module_key): (&str, &str, &str),
) -> LambdaFunction<'a> {
    let kind = str_of(config, type_key);
    match config.get(key) {
        // Keras 3: {"class_name": "__lambda__", "config": {"code": B64, ...}} or a function
        // {"class_name": "function", "config": NAME, "module": M}.
        Some(Value::Object(f)) => match f.get("config") {
            Some(Value::String(name)) => LambdaFunction::NamedObject(name),
            Some(Value::Object(_)) => LambdaFunction::Serialized,
            _ => LambdaFunction::Absent,
        },
        // Keras 2: [B64, defaults, closure] with `*_type` "lambda"; a raw output shape is a list
        // of numbers.
        Some(Value::Array(items)) => match items.first().and_then(Value::as_str) {
            Some(code) if kind != Some("raw") => LambdaFunction::Bytecode(code),
            _ => LambdaFunction::Absent,
        },
        Some(Value::String(s)) => {
            if kind == Some("lambda") {
                LambdaFunction::Bytecode(s)
            } else if key == "function" || kind == Some("function") {
                LambdaFunction::Named(s, str_of(config, module_key))
            } else {
                LambdaFunction::Absent
            }
        }
        _ => LambdaFunction::Absent,
    }
}

fn describe(summary: &CodeSummary) -> (String, bool) {
    let dangerous = summary
        .names
        .iter()
        .any(|n| DANGEROUS_NAMES.contains(&n.as_str()));
    let mut parts: Vec<String> = summary.names.iter().take(12).map(|n| clip(n, 40)).collect();
    parts.extend(
        summary
            .strings
            .iter()
            .filter(|s| !s.is_empty())
            .take(8)
            .map(|s| format!("'{}'", clip(s, 120))),
    );
    let uses = match parts.len() {
        0 => "no names or strings".to_string(),
        1 => parts.remove(0),
        _ => {
            let last = parts.pop().unwrap_or_default();
            format!("{} and {last}", parts.join(", "))
        }
    };
    (uses, dangerous)
}

/// Reports marshalled bytecode (base64) that `place` (a Lambda layer, an activation) runs.
fn check_bytecode(code: Option<&str>, place: &str, cx: &mut Context<'_>) {
    let Some(code) = code else {
        let msg = format!("{place} runs a Python function on load");
        cx.report(RuleId::KerasLambda, msg, None);
        return;
    };
    let summary = decode_b64(code)
        .ok_or_else(|| "its payload is not base64".to_string())
        .and_then(|bytes| summarize_code(&bytes).map_err(|e| e.to_string()));
    match summary {
        Ok(summary) => {
            let (uses, dangerous) = describe(&summary);
            let msg = format!("{place} runs Python bytecode that uses {uses}");
            let severity = if dangerous {
                Severity::Critical
            } else {
                Severity::High
            };
            report_with(cx, RuleId::KerasLambda, severity, msg);
        }
        Err(reason) => {
            let msg = format!("{place} runs Python bytecode that could not be read ({reason})");
            cx.report(RuleId::KerasLambda, msg, None);
        }
    }
}

fn report_named(place: &str, function: &str, cx: &mut Context<'_>) {
    let msg = format!(
        "{place} calls the Python function `{}`",
        clip(function, 100)
    );
    cx.report(RuleId::KerasLambda, msg, None);
}

fn check_lambda(map: &Map<String, Value>, cx: &mut Context<'_>) {
    let name = layer_name(map);
    let layer = format!("Lambda layer `{}`", clip(&name, 100));
    let Some(config) = map.get("config").and_then(Value::as_object) else {
        return;
    };
    let mut functions = 0;
    for slot in LAMBDA_SLOTS {
        let place = if slot.0 == "function" {
            layer.clone()
        } else {
            format!("`{}` of {layer}", slot.0)
        };
        match lambda_slot(config, *slot) {
            LambdaFunction::Bytecode(code) => check_bytecode(Some(code), &place, cx),
            LambdaFunction::Named(function, module) => {
                report_named(&place, function, cx);
                check_callable(module, function, None, "a Lambda layer", cx);
            }
            LambdaFunction::NamedObject(function) => report_named(&place, function, cx),
            LambdaFunction::Serialized => {}
            LambdaFunction::Absent => continue,
        }
        functions += 1;
    }
    if functions == 0 {
        check_bytecode(None, &layer, cx);
    }
}

fn check_torch_wrapper(map: &Map<String, Value>, cx: &mut Context<'_>) {
    let name = layer_name(map);
    let msg = format!(
        "TorchModuleWrapper `{}` unpickles a torch module with torch.load on load, even in safe mode (CVE-2025-49655)",
        clip(&name, 100)
    );
    cx.report(RuleId::KerasTorchModule, msg, None);
    let payload = map
        .get("config")
        .and_then(Value::as_object)
        .and_then(|c| str_of(c, "module"));
    let Some(bytes) = payload.and_then(decode_b64) else {
        return;
    };
    let source = MemorySource::new(bytes);
    cx.with_member(&format!("{}.module (pickle)", clip(&name, 100)), |cx| {
        let scan = pickle::run(&source, 0, cx);
        pickle::report(&scan, cx);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzer::AnalysisOptions;
    use crate::analyzers::registry;

    fn findings(json: &str) -> Vec<(RuleId, Severity, String)> {
        findings_in(json, Dialect::Keras3)
    }

    fn findings_in(json: &str, dialect: Dialect) -> Vec<(RuleId, Severity, String)> {
        let reg = registry();
        let options = AnalysisOptions::default();
        let mut cx = Context::new(&reg, &options);
        check_config_text(json.as_bytes(), dialect, &mut cx);
        cx.findings()
            .iter()
            .map(|f| (f.rule_id, f.severity, f.message.clone()))
            .collect()
    }

    #[test]
    fn keras_objects_are_clean() {
        let json = r#"{"module": "keras", "class_name": "Sequential", "config": {"name": "m",
            "layers": [{"module": "keras.layers", "class_name": "Dense", "config": {"name": "d",
            "activation": "relu", "kernel_initializer": {"module": "keras.initializers",
            "class_name": "GlorotUniform", "config": {}, "registered_name": null}},
            "registered_name": null}]}, "registered_name": null}"#;
        assert!(findings(json).is_empty());
    }

    #[test]
    fn gadgets_and_dangerous_modules_are_critical_at_any_depth() {
        let json = r#"{"class_name": "Functional", "config": {"layers": [{"class_name": "Model",
            "config": {"layers": [{"module": "keras.layers", "class_name": "Dense", "config":
            {"activation": {"module": "keras.utils", "class_name": "function",
            "config": "get_file", "registered_name": "function"}}}]}}]}}"#;
        let found = findings(json);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].1, Severity::Critical);
        assert!(found[0].2.contains("keras.utils.get_file"));

        let json = r#"{"module": "subprocess", "class_name": "Popen", "config": {}}"#;
        assert_eq!(findings(json)[0].1, Severity::Critical);
        let json = r#"{"module": "acme.layers", "class_name": "Fancy", "config": {}}"#;
        assert_eq!(findings(json)[0].1, Severity::Medium);
        let json = r#"{"module": null, "class_name": "Fancy", "registered_name": "acme>Fancy"}"#;
        assert_eq!(findings(json)[0].1, Severity::Medium);
    }

    #[test]
    fn keras2_named_lambda_and_bad_payloads() {
        let json = r#"{"class_name": "Lambda", "config": {"name": "l", "function": "system",
            "function_type": "function", "module": "os"}}"#;
        let found = findings(json);
        assert!(found.iter().any(|f| f.1 == Severity::Critical), "{found:?}");
        let json = r#"{"class_name": "Lambda", "config": {"name": "l",
            "function": ["!!notbase64", null, null], "function_type": "lambda"}}"#;
        let found = findings(json);
        assert_eq!(found[0].1, Severity::High);
        assert!(found[0].2.contains("could not be read"));
    }

    /// Marshalled `lambda x: x` (CPython 3.11), base64: bytecode without names or strings.
    const IDENTITY_CODE: &str = "4wEAAAAAAAAAAAAAAAEAAAADAAAA8wYAAACXAHwAUwApAU6pACkB2gF4cwEAAAAg+gg8c3RyaW5nPvoIPGxhbWJkYT5yBQAAAAIAAABzBgAAAIAAoDGAAPMAAAAA";

    #[test]
    fn lambdas_outside_lambda_layers_and_in_every_slot() {
        // A `__lambda__` object as a Dense activation (serialize_keras_object's shape).
        let json = format!(
            r#"{{"class_name": "Dense", "config": {{"name": "d", "activation":
            {{"class_name": "__lambda__", "config": {{"value": ["{IDENTITY_CODE}", null, null]}}}}}}}}"#
        );
        let found = findings(&json);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, RuleId::KerasLambda);
        assert!(
            found[0].2.contains("`activation` of Dense `d`"),
            "{found:?}"
        );
        // Keras 2: a benign function and marshalled bytecode as output_shape.
        let json = format!(
            r#"{{"class_name": "Lambda", "config": {{"name": "l", "function": ["{IDENTITY_CODE}", null, null],
            "function_type": "lambda", "output_shape": ["{IDENTITY_CODE}", null, null],
            "output_shape_type": "lambda"}}}}"#
        );
        let found = findings(&json);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found
                .iter()
                .any(|f| f.2.contains("`output_shape` of Lambda layer `l`"))
        );
        // A raw output shape is data.
        let json = format!(
            r#"{{"class_name": "Lambda", "config": {{"name": "l", "function": ["{IDENTITY_CODE}", null, null],
            "function_type": "lambda", "output_shape": [null, 4], "output_shape_type": "raw"}}}}"#
        );
        assert_eq!(findings(&json).len(), 1);
    }

    #[test]
    fn vocabulary_paths_by_dialect() {
        let layer = |vocabulary: &str| {
            format!(
                r#"{{"module": "keras.layers", "class_name": "StringLookup", "config":
                {{"name": "lk", "vocabulary": {vocabulary}}}}}"#
            )
        };
        assert!(findings(&layer("null")).is_empty());
        assert!(findings(&layer(r#"["a", "b"]"#)).is_empty());
        let found = findings(&layer(r#""/etc/passwd""#));
        assert_eq!(found[0].0, RuleId::KerasFileReference);
        assert_eq!(found[0].1, Severity::High);
        assert!(found[0].2.contains("/etc/passwd"));
        assert_eq!(
            findings(&layer(r#""gs://b/v.txt""#))[0].1,
            Severity::Critical
        );
        assert_eq!(findings(&layer(r#""v.txt""#))[0].1, Severity::High);
        let inline = format!(r#""{}""#, "QUJD".repeat(2000));
        assert!(findings(&layer(&inline)).is_empty());
        let keras2 = findings_in(&layer(r#""/data/vocab.txt""#), Dialect::Keras2);
        assert_eq!(keras2[0].1, Severity::Low);
    }

    #[test]
    fn framework_gadgets_in_trusted_namespaces() {
        for (module, name) in [
            ("tensorflow", "py_function"),
            ("tensorflow.io.gfile", "rmtree"),
            ("keras.src.utils.python_utils", "func_load"),
            ("keras.models", "model_from_json"),
        ] {
            let json = format!(
                r#"{{"module": "{module}", "class_name": "function", "config": "{name}"}}"#
            );
            let found = findings(&json);
            assert_eq!(found.len(), 1, "{module}.{name}: {found:?}");
            assert_eq!(found[0].1, Severity::Critical);
            assert!(found[0].2.contains(name));
        }
    }

    #[test]
    fn python_json_literals_and_deep_nesting_do_not_hide_payloads() {
        let lambda = r#"{"class_name": "Lambda", "config": {"name": "l", "function": "system",
            "function_type": "function", "module": "os"}, "x": NaN, "y": [-Infinity, "NaN"]}"#;
        let found = findings(lambda);
        assert!(found.iter().any(|f| f.1 == Severity::Critical), "{found:?}");
        let deep = format!(
            r#"{{"junk": {}{}, "class_name": "Lambda", "config": {{"name": "l", "function": "system",
            "function_type": "function", "module": "os"}}}}"#,
            "[".repeat(300),
            "]".repeat(300)
        );
        let found = findings(&deep);
        assert!(found.iter().any(|f| f.1 == Severity::Critical), "{found:?}");
        assert!(
            found.iter().any(|f| f.0 == RuleId::FormatMalformed),
            "{found:?}"
        );
        let (value, pruned) = parse_python_json(br#"{"a": "x\"[", "b": 1}"#).expect("parses");
        assert!(!pruned);
        assert_eq!(value["a"], "x\"[");
    }
}
