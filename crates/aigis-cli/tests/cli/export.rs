//! `aigis export falco|tetragon`: the documents validated against each tool's own schema (Falco's
//! rules-file JSON schema, Tetragon's TracingPolicy CRD; vendored with their commits in
//! `tests/sensors/` by `scripts/sensors/vendor_schemas.py`, since neither tool installs here),
//! every Falco field one the official rules use, every list and macro defined, the YAML output
//! the same document as the JSON, and the models watched both from a run over folders and from
//! the inventory.

use crate::support::{aigis_command, repo_root, temp_dir};
use aigis_scan::analyzers::yaml::{self, Yaml};
use serde_json::Value;
use std::collections::BTreeSet;

fn sensors_dir() -> std::path::PathBuf {
    repo_root().join("crates/aigis-cli/tests/sensors")
}

fn export(args: &[&str]) -> String {
    let out = aigis_command()
        .arg("export")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("{e}"))
}

/// The vendored schema `schema_file`, compiled.
fn validator(schema_file: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(sensors_dir().join(schema_file))
        .unwrap_or_else(|e| panic!("{schema_file}: {e}"));
    let schema: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    jsonschema::options()
        .build(&schema)
        .unwrap_or_else(|e| panic!("schema {schema_file}: {e}"))
}

fn validate(schema_file: &str, document: &Value) {
    let errors: Vec<String> = validator(schema_file)
        .iter_errors(document)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{schema_file}: {errors:#?}");
}

/// A JSON value with every scalar as the text YAML reads it (plain YAML scalars are untyped).
fn untyped(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(untyped).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), untyped(v))).collect())
        }
        Value::String(s) => Value::String(s.clone()),
        Value::Null => Value::String("null".into()),
        other => Value::String(other.to_string()),
    }
}

fn from_yaml(node: &Yaml) -> Value {
    match node {
        Yaml::Seq(items) => Value::Array(items.iter().map(from_yaml).collect()),
        Yaml::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let Yaml::Scalar(key) = k else {
                        panic!("a key that is not a scalar: {k:?}")
                    };
                    (key.clone(), from_yaml(v))
                })
                .collect(),
        ),
        Yaml::Scalar(s) => Value::String(s.clone()),
        other => panic!("unexpected YAML node {other:?}"),
    }
}

/// The YAML output is the JSON output's document.
fn same_document(yaml_text: &str, json: &Value) {
    let docs = yaml::parse(yaml_text).unwrap_or_else(|e| panic!("{e}\n{yaml_text}"));
    assert_eq!(docs.docs.len(), 1, "{yaml_text}");
    assert_eq!(from_yaml(&docs.docs[0]), untyped(json));
}

pub(crate) fn falco_rules_follow_falcos_schema_and_fields() {
    let inventory = repo_root().join("fixtures/inventory");
    let dir = inventory.to_string_lossy().into_owned();
    let json_text = export(&["falco", "--format", "json", &dir]);
    let doc: Value = serde_json::from_str(&json_text).unwrap_or_else(|e| panic!("{e}"));
    validate("falco_rule_schema.json", &doc);
    same_document(&export(&["falco", &dir]), &doc);
    // The schema can refuse: a priority Falco does not have.
    let validator = validator("falco_rule_schema.json");
    let mut broken = doc.clone();
    if let Some(rule) = broken
        .as_array_mut()
        .and_then(|items| items.iter_mut().find(|i| i["rule"].is_string()))
    {
        rule["priority"] = Value::String("SEVERE".into());
    }
    assert!(!validator.is_valid(&broken));

    let known: BTreeSet<String> = std::fs::read_to_string(sensors_dir().join("falco_fields.txt"))
        .unwrap_or_else(|e| panic!("{e}"))
        .lines()
        .map(str::to_owned)
        .collect();
    let items = doc.as_array().cloned().unwrap_or_default();
    let defined: BTreeSet<&str> = items
        .iter()
        .filter_map(|i| i["list"].as_str().or(i["macro"].as_str()))
        .collect();
    let field = regex_lite_fields();
    let mut rules = 0;
    for item in &items {
        for key in ["condition", "output"] {
            let Some(text) = item[key].as_str() else {
                continue;
            };
            // Quoted operands are values, not fields.
            let unquoted: String = text
                .split('"')
                .enumerate()
                .filter(|(i, _)| i % 2 == 0)
                .map(|(_, s)| s)
                .collect::<Vec<_>>()
                .join(" ");
            for name in field(&unquoted) {
                assert!(
                    known.contains(&name),
                    "{name}: not a field the official rules use"
                );
            }
            for word in unquoted.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                if word.starts_with("aigis_") {
                    assert!(defined.contains(word), "{word} is used but not defined");
                }
            }
        }
        if item["rule"].is_string() {
            rules += 1;
            for key in ["desc", "condition", "output", "priority"] {
                assert!(item[key].is_string(), "{key} missing in {item}");
            }
        }
    }
    assert_eq!(rules, 4, "{doc}");
    // The models of the folder are watched: a single file exactly, a hub snapshot by its
    // folder and by the blobs its links lead to, an image's model at its path in the image.
    let files = items
        .iter()
        .find(|i| i["list"] == "aigis_model_files")
        .map(|i| i["items"].to_string())
        .unwrap_or_default();
    for expected in [
        "torch/hub/checkpoints/tiny_cnn-1a2b3c4d.pth",
        "models--aigis-test--tiny-gpt2/blobs/",
        "\\\"/opt/models/evil.pkl\\\"",
    ] {
        assert!(files.contains(expected), "{expected} not in {files}");
    }
    let folders = items
        .iter()
        .find(|i| i["list"] == "aigis_model_folders")
        .map(|i| i["items"].to_string())
        .unwrap_or_default();
    assert!(
        folders.contains("models--aigis-test--tiny-gpt2/snapshots/"),
        "{folders}"
    );
}

/// `proc.name`, `fd.sip.name`, `proc.aname[2]`, `%fd.name`: the field names in a condition or
/// output.
fn regex_lite_fields() -> impl Fn(&str) -> Vec<String> {
    |text: &str| {
        let mut out = Vec::new();
        let bytes: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], '_' | '.'))
            {
                i += 1;
            }
            if i < bytes.len() && bytes[i] == '[' {
                while i < bytes.len() && bytes[i] != ']' {
                    i += 1;
                }
                i += 1;
            }
            let word: String = bytes[start..i.min(bytes.len())].iter().collect();
            let head = word.split('.').next().unwrap_or("");
            if word.contains('.')
                && [
                    "evt",
                    "proc",
                    "fd",
                    "user",
                    "group",
                    "container",
                    "k8s",
                    "fs",
                    "thread",
                ]
                .contains(&head)
            {
                out.push(word);
            }
            if i == start {
                i += 1;
            }
        }
        out
    }
}

pub(crate) fn tetragon_policy_follows_the_crd_schema() {
    let dir = repo_root().join("fixtures/inventory");
    let dir = dir.to_string_lossy().into_owned();
    for enforce in [false, true] {
        let mut args = vec!["tetragon", "--format", "json"];
        if enforce {
            args.push("--enforce");
        }
        args.push(&dir);
        let doc: Value = serde_json::from_str(&export(&args)).unwrap_or_else(|e| panic!("{e}"));
        validate("tetragon_tracingpolicy_schema.json", &doc);
        let text = doc.to_string();
        assert_eq!(text.contains("Sigkill"), enforce, "{text}");
        assert!(text.contains("tiny_cnn-1a2b3c4d.pth"), "{text}");
        let calls: Vec<&str> = doc["spec"]["kprobes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k["call"].as_str())
            .collect();
        assert_eq!(
            calls,
            [
                "security_file_permission",
                "security_file_open",
                "security_path_truncate",
                "security_bprm_check",
                "tcp_connect"
            ]
        );
        args.retain(|a| *a != "--format" && *a != "json");
        same_document(&export(&args), &doc);
    }
    // A document the schema refuses is refused: the validation can fail.
    let mut broken: Value = serde_json::from_str(&export(&["tetragon", "--format", "json", &dir]))
        .unwrap_or_else(|e| panic!("{e}"));
    broken["spec"]["kprobes"][0]["args"][0]["type"] = Value::String("no-such-type".into());
    assert!(!validator("tetragon_tracingpolicy_schema.json").is_valid(&broken));
}

pub(crate) fn export_watches_the_models_the_inventory_holds() {
    let tmp = temp_dir();
    let db = format!("sqlite:{}", tmp.path().join("inv.db").display());
    let model = repo_root().join("fixtures/inventory/torch");
    let out = aigis_command()
        .args(["scan", "--no-policy", "--no-cache", "--record", "--db", &db])
        .arg(&model)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = export(&["falco", "--format", "json", "--db", &db]);
    assert!(text.contains("tiny_cnn-1a2b3c4d.pth"), "{text}");
    // Another host's models are not this host's.
    let text = export(&[
        "falco",
        "--format",
        "json",
        "--db",
        &db,
        "--host",
        "elsewhere",
    ]);
    assert!(!text.contains("tiny_cnn"), "{text}");
}
