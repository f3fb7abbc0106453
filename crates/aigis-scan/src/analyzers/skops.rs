//! skops `.skops` files: a zip with `schema.json` (a tree of nodes, each naming the loader
//! that rebuilds it and the `__module__`/`__class__` it imports) and `.npy` arrays.
//!
//! `skops.io.load` refuses types outside its trusted set unless the caller trusts them; callers
//! routinely pass the list `get_untrusted_types` returns, so every node that imports something
//! outside scikit-learn, NumPy, SciPy and plain builtin types is reported: a command, code or
//! file primitive as critical, anything else (and any function, method or type reference outside
//! the trusted packages) as high.

use crate::ByteSource;
use crate::analyzer::{Analyzer, Context, Input};
use crate::analyzers::callables::{Trust, alias_note, clip, config_gadget, judge, report_with};
use crate::analyzers::zip::analyze_index;
use crate::archive::member;
use crate::archive::zip_index::{self, ZipIndex};
use crate::{Format, RuleId, Severity};
use serde_json::{Map, Value};

/// Largest `schema.json` read.
const MAX_SCHEMA: u64 = 64 << 20;
/// Deepest schema nesting walked.
const MAX_DEPTH: usize = 128;
/// Packages whose types and functions skops trusts (or that scikit-learn models are made of).
const TRUSTED: &[&str] = &["sklearn", "numpy", "scipy"];
/// Builtin types skops rebuilds as data.
const SAFE_BUILTINS: &[&str] = &[
    "dict",
    "list",
    "tuple",
    "set",
    "frozenset",
    "str",
    "int",
    "float",
    "bool",
    "complex",
    "bytes",
    "bytearray",
    "slice",
    "NoneType",
    "object",
    "type",
];

/// Analyzer for skops archives.
pub struct SkopsAnalyzer;

impl Analyzer for SkopsAnalyzer {
    fn id(&self) -> &'static str {
        "skops"
    }

    fn version(&self) -> u32 {
        3
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")
    }

    fn sniff_embedded(&self, input: &Input<'_>, limits: &crate::Limits) -> bool {
        crate::analyzers::keras::zipfile_finds_archive(input, limits)
            && is_skops_zip(input.source, input.zip_index(limits))
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let index = input.zip_index(cx.limits());
        let entry = *index.entries_named("schema.json").first()?;
        // Read as skops' json.loads reads it (encodings, NaN, deep nesting): a strict parse
        // would decline the file and let its schema go unjudged. A schema too large to read
        // whole is read as a stream that keeps every node (and drops bulk data).
        let mut streamed = false;
        let (schema, rejected) = match member::read_to_vec(input.source, entry, MAX_SCHEMA) {
            Ok(bytes) => match crate::analyzers::keras::parse_python_json(&bytes) {
                Ok((schema, _)) => {
                    let refused = index
                        .zipfile_entry("schema.json")
                        .filter(|z| std::ptr::eq(*z, entry))
                        .and_then(|z| zip_index::zipfile_read_error(z, &bytes));
                    (
                        schema,
                        refused.map(|e| format!("Python's zipfile refuses `schema.json` ({e})")),
                    )
                }
                Err(err) => {
                    // Not JSON to Python either (a truncated schema): skops cannot load it. A
                    // text that names skops loaders is still a skops file, judged from its text.
                    if !looks_like_skops_text(&bytes) {
                        return None;
                    }
                    analyze_index(input.source, index, cx);
                    let msg = format!(
                        "schema.json is not JSON to Python's json.loads ({err}): skops.io.load fails; its names were read from the text"
                    );
                    cx.malformed(RuleId::FormatMalformed, msg, None);
                    cx.with_member("schema.json", |cx| textual_nodes(&bytes, cx));
                    return Some(Format::Skops);
                }
            },
            Err(member::MemberError::TooLarge(_)) => {
                let reader = member::stream(input.source, entry).ok()?;
                streamed = true;
                let schema = crate::analyzers::keras::parse_json_stream(
                    reader,
                    MAX_SCHEMA.saturating_mul(8),
                )?;
                (schema, None)
            }
            Err(_) => return None,
        };
        let top = schema.as_object()?;
        if !top.contains_key("__loader__") && !top.contains_key("_skops_version") {
            return None;
        }
        analyze_index(input.source, index, cx);
        if let Some(reason) = rejected {
            cx.malformed(
                RuleId::FormatMalformed,
                format!("{reason}: skops.io.load fails on this file"),
                None,
            );
        }
        if let Some(problem) = protocol_problem(top.get("protocol")) {
            let msg = format!("{problem}: skops.io.load refuses this file");
            cx.malformed(RuleId::FormatMalformed, msg, None);
        }
        if streamed {
            cx.report(
                RuleId::FormatMalformed,
                format!("schema.json is larger than {MAX_SCHEMA} bytes (no skops dump is); read as a stream"),
                None,
            );
        }
        let model = cx.model();
        model.set_framework("scikit-learn");
        if let Some(class) = top.get("__class__").and_then(Value::as_str) {
            model.architecture.get_or_insert_with(|| clip(class, 100));
        }
        if let Some(version) = top.get("_skops_version").and_then(Value::as_str) {
            model
                .metadata
                .insert("skops_version".into(), clip(version, 40));
        }
        cx.with_member("schema.json", |cx| walk(&schema, cx, 0));
        Some(Format::Skops)
    }
}

/// Highest protocol skops reads (`skops.io._protocol.PROTOCOL` in skops 0.16).
const MAX_PROTOCOL: u64 = 2;

/// What `skops.io._utils.read_schema` refuses in the schema's `protocol`: it must be an
/// integer (not a bool, not a float) from 0 to [`MAX_PROTOCOL`].
fn protocol_problem(protocol: Option<&Value>) -> Option<String> {
    match protocol {
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => match n.as_u64() {
            Some(p) if p <= MAX_PROTOCOL => None,
            _ => Some(format!(
                "schema protocol {n} is not one skops reads (0 to {MAX_PROTOCOL})"
            )),
        },
        Some(other) => Some(format!(
            "schema protocol `{}` is not an integer",
            clip(&other.to_string(), 40)
        )),
        None => Some("schema has no protocol".into()),
    }
}

/// Whether a zip holds a skops schema: `schema.json` with a skops root node, or (not JSON) a
/// text naming skops loaders.
pub(crate) fn is_skops_zip(source: &dyn ByteSource, index: &ZipIndex) -> bool {
    let Some(entry) = index.entries_named("schema.json").into_iter().next() else {
        return false;
    };
    match member::read_to_vec(source, entry, MAX_SCHEMA) {
        Ok(bytes) => match crate::analyzers::keras::parse_python_json(&bytes) {
            Ok((v, _)) => v.get("__loader__").is_some() || v.get("_skops_version").is_some(),
            Err(_) => looks_like_skops_text(&bytes),
        },
        Err(member::MemberError::TooLarge(_)) => true,
        Err(_) => false,
    }
}

fn looks_like_skops_text(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"\"__loader__\"").is_some()
        || memchr::memmem::find(bytes, b"\"_skops_version\"").is_some()
}

/// The string value after each `"key":` in `text` (a schema that is not JSON).
fn text_values<'t>(text: &'t str, key: &str) -> Vec<(usize, &'t str)> {
    let needle = format!("\"{key}\"");
    let mut out = Vec::new();
    for (at, _) in text.match_indices(&needle) {
        let rest = text[at + needle.len()..].trim_start();
        let Some(rest) = rest.strip_prefix(':') else {
            continue;
        };
        let rest = rest.trim_start();
        let Some(rest) = rest.strip_prefix('"') else {
            continue;
        };
        if let Some(end) = rest.find('"') {
            out.push((at, &rest[..end]));
        }
        if out.len() >= 4096 {
            break;
        }
    }
    out
}

/// Judges the nodes of a schema that is not JSON, from its text: every `__module__` with the
/// `__class__` (or `function`) that follows it.
fn textual_nodes(bytes: &[u8], cx: &mut Context<'_>) {
    let text = String::from_utf8_lossy(bytes);
    let classes = text_values(&text, "__class__");
    let functions = text_values(&text, "function");
    let module_paths = text_values(&text, "module_path");
    for (at, module) in text_values(&text, "__module__")
        .into_iter()
        .chain(module_paths)
    {
        let next = |list: &[(usize, &str)]| {
            list.iter()
                .find(|(p, _)| *p > at)
                .map(|(_, v)| v.to_string())
        };
        for name in [next(&classes), next(&functions)].into_iter().flatten() {
            let mut node = Map::new();
            node.insert("__loader__".into(), Value::from("FunctionNode"));
            let mut content = Map::new();
            content.insert("module_path".into(), Value::from(module));
            content.insert("function".into(), Value::from(name));
            node.insert("content".into(), Value::Object(content));
            check_node(&node, cx);
        }
    }
}

fn walk(value: &Value, cx: &mut Context<'_>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            if map.contains_key("__loader__") {
                check_node(map, cx);
            }
            for child in map.values() {
                walk(child, cx, depth + 1);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, cx, depth + 1);
            }
        }
        _ => {}
    }
}

fn str_of<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

fn check_node(node: &Map<String, Value>, cx: &mut Context<'_>) {
    let loader = str_of(node, "__loader__").unwrap_or("?");
    let module = str_of(node, "__module__").unwrap_or("");
    let class = str_of(node, "__class__").unwrap_or("");
    let content = node.get("content").and_then(Value::as_object);
    // What the node imports: a function for FunctionNode, the type itself for TypeNode,
    // otherwise the node's class.
    let (target_module, target_name, what) = match loader {
        "FunctionNode" | "OperatorFuncNode" => {
            let m = content
                .and_then(|c| str_of(c, "module_path"))
                .unwrap_or(module);
            let f = content.and_then(|c| str_of(c, "function")).unwrap_or(class);
            (m, f, "calls the function")
        }
        "TypeNode" => {
            let m = content
                .and_then(|c| str_of(c, "__module__"))
                .unwrap_or(module);
            let t = content
                .and_then(|c| str_of(c, "__class__"))
                .unwrap_or(class);
            (m, t, "imports the type")
        }
        "MethodNode" => {
            let f = content.and_then(|c| str_of(c, "func")).unwrap_or(class);
            (module, f, "calls the method")
        }
        _ => (module, class, "constructs"),
    };
    if target_module.is_empty() && target_name.is_empty() {
        return;
    }
    let full = format!("{target_module}.{target_name}");
    cx.record_instantiation(|| format!("{loader} {what} {}", clip(&full, 200)));
    let callable = matches!(loader, "FunctionNode" | "OperatorFuncNode" | "MethodNode");
    if let Some(effect) = config_gadget(target_module, target_name) {
        let msg = format!(
            "{loader} {what} `{}`, which {effect}, when the file is loaded",
            clip(&full, 200)
        );
        return report_with(cx, RuleId::SkopsUntrusted, Severity::Critical, msg);
    }
    let trust = match judge(target_module, target_name, TRUSTED) {
        Trust::Unknown
            if target_module == "builtins" && !callable && SAFE_BUILTINS.contains(&target_name) =>
        {
            Trust::Trusted
        }
        other => other,
    };
    match trust {
        Trust::Trusted => {}
        Trust::Effect(label) => {
            let msg = format!(
                "{loader} {what} `{}`, which {label} (generated effect table), when the file is \
                 loaded",
                clip(&full, 200)
            );
            report_with(cx, RuleId::SkopsUntrusted, Severity::High, msg);
        }
        Trust::Dangerous(label) => {
            let msg = format!(
                "{loader} {what} `{}`{} ({label}) when the file is loaded",
                clip(&full, 200),
                alias_note(target_module, target_name)
            );
            report_with(cx, RuleId::SkopsUntrusted, Severity::Critical, msg);
        }
        Trust::Unknown => {
            let msg = format!(
                "{loader} {what} `{}`, outside skops' trusted types",
                clip(&full, 200)
            );
            cx.report(RuleId::SkopsUntrusted, msg, None);
        }
    }
}
