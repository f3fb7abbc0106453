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
use crate::analyzers::callables::{Trust, clip, judge, report_with};
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
pub(crate) fn check_config_text(text: &[u8], cx: &mut Context<'_>) -> Option<ConfigFacts> {
    match serde_json::from_slice::<Value>(text) {
        Ok(value) => Some(check_config(&value, cx)),
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

/// Walks a parsed config.
pub(crate) fn check_config(config: &Value, cx: &mut Context<'_>) -> ConfigFacts {
    let mut facts = ConfigFacts::default();
    if let Some(top) = config.as_object() {
        facts.architecture = str_of(top, "class_name").map(str::to_string);
        facts.name = top
            .get("config")
            .and_then(Value::as_object)
            .and_then(|c| str_of(c, "name"))
            .map(str::to_string);
    }
    walk(config, cx, &mut facts, 0, false);
    facts
}

fn str_of<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

fn walk(value: &Value, cx: &mut Context<'_>, facts: &mut ConfigFacts, depth: usize, layer: bool) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Array(items) => {
            for item in items {
                walk(item, cx, facts, depth + 1, layer);
            }
        }
        Value::Object(map) => {
            if map.contains_key("class_name") {
                check_object(map, cx, facts, layer);
            }
            for (key, child) in map {
                walk(child, cx, facts, depth + 1, key == "layers");
            }
        }
        _ => {}
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
    match judge(module, name, KERAS_PACKAGES) {
        Trust::Dangerous(label) => {
            let msg = format!(
                "{what} references `{}` ({label}){}: loading the model calls it",
                clip(&full, 200),
                string_args(args)
            );
            report_with(cx, RuleId::KerasDangerousReference, Severity::Critical, msg);
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
    layer: bool,
) {
    let Some(class_name) = str_of(map, "class_name") else {
        return;
    };
    let module = str_of(map, "module");
    let registered = str_of(map, "registered_name");
    if layer && facts.layers.len() < 4096 && !facts.layers.iter().any(|l| l == class_name) {
        facts.layers.push(class_name.to_string());
    }
    match class_name {
        // Keras' own classes that carry code; the class itself is not the finding.
        "Lambda" => return check_lambda(map, cx),
        "TorchModuleWrapper" => return check_torch_wrapper(map, cx),
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

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    if text.len() > MAX_PAYLOAD.saturating_mul(2) {
        return None;
    }
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .ok()
}

/// The base64 marshal payload of a Lambda `function` entry, Keras 3 or Keras 2 shape, or the
/// name of a function referenced by name.
enum LambdaFunction<'a> {
    Bytecode(&'a str),
    Named(&'a str),
    Missing,
}

fn lambda_function(config: &Map<String, Value>) -> LambdaFunction<'_> {
    match config.get("function") {
        // Keras 3: {"class_name": "__lambda__", "config": {"code": B64, ...}}
        Some(Value::Object(f)) => {
            if let Some(code) = f
                .get("config")
                .and_then(Value::as_object)
                .and_then(|c| str_of(c, "code"))
            {
                LambdaFunction::Bytecode(code)
            } else if let Some(name) = f.get("config").and_then(Value::as_str) {
                LambdaFunction::Named(name)
            } else {
                LambdaFunction::Missing
            }
        }
        // Keras 2: [B64, defaults, closure] with function_type "lambda".
        Some(Value::Array(items)) => match items.first().and_then(Value::as_str) {
            Some(code) => LambdaFunction::Bytecode(code),
            None => LambdaFunction::Missing,
        },
        Some(Value::String(s)) => {
            if str_of(config, "function_type") == Some("lambda") {
                LambdaFunction::Bytecode(s)
            } else {
                LambdaFunction::Named(s)
            }
        }
        _ => LambdaFunction::Missing,
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

fn check_lambda(map: &Map<String, Value>, cx: &mut Context<'_>) {
    let name = layer_name(map);
    let Some(config) = map.get("config").and_then(Value::as_object) else {
        return;
    };
    match lambda_function(config) {
        LambdaFunction::Bytecode(code) => {
            let summary = decode_b64(code)
                .ok_or_else(|| "its payload is not base64".to_string())
                .and_then(|bytes| summarize_code(&bytes).map_err(|e| e.to_string()));
            match summary {
                Ok(summary) => {
                    let (uses, dangerous) = describe(&summary);
                    let msg = format!(
                        "Lambda layer `{}` runs Python bytecode that uses {uses}",
                        clip(&name, 100)
                    );
                    let severity = if dangerous {
                        Severity::Critical
                    } else {
                        Severity::High
                    };
                    report_with(cx, RuleId::KerasLambda, severity, msg);
                }
                Err(reason) => {
                    let msg = format!(
                        "Lambda layer `{}` runs Python bytecode that could not be read ({reason})",
                        clip(&name, 100)
                    );
                    cx.report(RuleId::KerasLambda, msg, None);
                }
            }
        }
        LambdaFunction::Named(function) => {
            let module = str_of(config, "module");
            let msg = format!(
                "Lambda layer `{}` calls the Python function `{}`",
                clip(&name, 100),
                clip(function, 100)
            );
            cx.report(RuleId::KerasLambda, msg, None);
            check_callable(module, function, None, "a Lambda layer", cx);
        }
        LambdaFunction::Missing => {
            let msg = format!(
                "Lambda layer `{}` runs a Python function on load",
                clip(&name, 100)
            );
            cx.report(RuleId::KerasLambda, msg, None);
        }
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
        let reg = registry();
        let options = AnalysisOptions::default();
        let mut cx = Context::new(&reg, &options);
        check_config_text(json.as_bytes(), &mut cx);
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
}
