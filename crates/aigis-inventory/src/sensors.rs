//! Rules for runtime sensors from the inventory: Falco rules and a Tetragon `TracingPolicy`
//! that watch the model files aigis knows about. What a sensor sees is one event at a time, so
//! the rules say what each event means for a model (a model file written or replaced, a model
//! file opened — the process that loads it —, a shell started by a model-loading process, a
//! model-loading process connecting to a mining pool); joining "opened this model, then spawned a
//! shell" is left to whoever reads the events (both carry the process id).
//!
//! Documents are built as JSON values (what the tests validate against each tool's own schema)
//! and written as YAML by [`to_yaml`].

use serde_json::{Value, json};

/// One place a sensor watches.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Watched {
    /// An absolute path on the host.
    pub path: String,
    /// Whether `path` is a model's folder (every file under it is the model's).
    pub folder: bool,
}

/// Shells a model-loading process has no reason to start (Falco's `shell_binaries`, and the
/// shells that list leaves out).
const SHELLS: &[&str] = &[
    "ash", "bash", "csh", "ksh", "sh", "tcsh", "zsh", "dash", "fish", "busybox",
];

/// Process names (the kernel's 15-character `comm`) of programs that load models.
const LOADERS: &[&str] = &[
    "python",
    "python3",
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "ipython",
    "jupyter",
    "jupyter-lab",
    "jupyter-noteboo",
    "uvicorn",
    "gunicorn",
    "celery",
    "torchserve",
    "tritonserver",
    "ollama",
    "llama-server",
    "llama-cli",
    "vllm",
    "ray",
];

/// Ports of mining pools (Falco's `miner_ports` without the web and mail ports a model server
/// or a hub download uses: 25, 80, 443, 8000, 8001, 8008, 8080, 8118, 8888).
const MINER_PORTS: &[u16] = &[
    3333, 3334, 3335, 3336, 3357, 4444, 5555, 5556, 5588, 5730, 6099, 6666, 7777, 7778, 8333, 8899,
    9332, 9999, 14433, 14444, 45560, 45700,
];

/// Mining pools' host names (from Falco's `miner_domains`).
const MINER_DOMAINS: &[&str] = &[
    "pool.minexmr.com",
    "ca.minexmr.com",
    "de.minexmr.com",
    "fr.minexmr.com",
    "sg.minexmr.com",
    "mine.moneropool.com",
    "mine.xmrpool.net",
    "xmr.crypto-pool.fr",
    "pool.supportxmr.com",
    "xmr-eu1.nanopool.org",
    "xmr-us-east1.nanopool.org",
    "eth-eu1.nanopool.org",
    "eth-us-east1.nanopool.org",
    "asia1.ethpool.org",
    "us1.ethpool.org",
    "eu1.ethpool.org",
    "stratum.slushpool.com",
    "cn.stratum.slushpool.com",
];

/// A string as a Falco condition operand: double-quoted, `"` and `\` escaped, so a path with
/// spaces, commas or parentheses stays one operand.
fn falco_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Paths a sensor cannot be given: control characters (a newline would end a Falco list
/// item; Tetragon compares raw bytes, but an alert line would be forged).
fn usable(path: &str) -> bool {
    path.starts_with('/') && !path.chars().any(char::is_control)
}

/// The watched places split into exact files and folder prefixes (`dir/`), sorted, unusable
/// paths dropped.
fn split(watched: &[Watched]) -> (Vec<String>, Vec<String>) {
    let mut files = Vec::new();
    let mut folders = Vec::new();
    for w in watched.iter().filter(|w| usable(&w.path)) {
        if w.folder {
            let mut dir = w.path.trim_end_matches('/').to_owned();
            dir.push('/');
            folders.push(dir);
        } else {
            files.push(w.path.clone());
        }
    }
    files.sort();
    files.dedup();
    folders.sort();
    folders.dedup();
    (files, folders)
}

/// Falco rules (a rules file: a YAML sequence of lists, macros and rules).
pub fn falco_rules(watched: &[Watched]) -> Value {
    let (files, folders) = split(watched);
    // An empty list would make `in ()`, which Falco refuses: a path no file has stands in.
    let none = || vec![falco_quoted("/nonexistent/aigis-no-model")];
    let quoted = |items: &[String]| -> Vec<String> {
        if items.is_empty() {
            none()
        } else {
            items.iter().map(|p| falco_quoted(p)).collect()
        }
    };
    let output_process = "process=%proc.name pid=%proc.vpid exe=%proc.exepath command=%proc.cmdline parent=%proc.pname user=%user.name container=%container.id";
    json!([
        {"required_engine_version": "0.31.0"},
        {"list": "aigis_model_files", "items": quoted(&files)},
        {"list": "aigis_model_folders", "items": quoted(&folders)},
        {"list": "aigis_shell_binaries", "items": SHELLS},
        {"list": "aigis_model_loader_binaries", "items": LOADERS},
        {"list": "aigis_miner_ports", "items": MINER_PORTS},
        {"list": "aigis_miner_domains", "items": MINER_DOMAINS.iter().map(|d| falco_quoted(d)).collect::<Vec<_>>()},
        {"list": "aigis_private_networks", "items": ["\"10.0.0.0/8\"", "\"172.16.0.0/12\"", "\"192.168.0.0/16\"", "\"127.0.0.0/8\""]},
        {
            "macro": "aigis_model_path",
            "condition": "(fd.name in (aigis_model_files) or fd.name pmatch (aigis_model_folders))"
        },
        {
            "macro": "aigis_model_open",
            "condition": "(evt.type in (open, openat, openat2) and fd.typechar='f' and fd.num>=0 and aigis_model_path)"
        },
        {
            "rule": "aigis model file written",
            "desc": "A model file aigis inventoried was opened for writing: the model may be replaced by other content (scan it again; aigis records MODEL_REPLACED).",
            "condition": "aigis_model_open and evt.is_open_write=true",
            "output": format!("Model file opened for writing (file=%fd.name {output_process})"),
            "priority": "WARNING",
            "tags": ["aigis", "ai_model", "integrity", "mitre_persistence"]
        },
        {
            "rule": "aigis model file loaded",
            "desc": "A process opened a model file aigis inventoried for reading: who loads which model (join with the rules below by pid).",
            "condition": "aigis_model_open and evt.is_open_read=true and not evt.is_open_write=true",
            "output": format!("Model file opened (file=%fd.name {output_process})"),
            "priority": "INFORMATIONAL",
            "tags": ["aigis", "ai_model", "inventory"]
        },
        {
            "rule": "aigis shell spawned by a model-loading process",
            "desc": "A shell was started by a process of a program that loads models: what a model whose loading runs code does first.",
            "condition": "evt.type in (execve, execveat) and proc.name in (aigis_shell_binaries) and proc.pname in (aigis_model_loader_binaries)",
            "output": format!("Shell started by a model-loading process (shell=%proc.name {output_process} grandparent=%proc.aname[2])"),
            "priority": "CRITICAL",
            "tags": ["aigis", "ai_model", "mitre_execution"]
        },
        {
            "rule": "aigis model-loading process connected to a mining pool",
            "desc": "A process of a program that loads models connected to a mining pool's port or host outside the private networks.",
            "condition": "evt.type in (connect, sendto, sendmsg) and fd.l4proto in (tcp, udp) and not fd.snet in (aigis_private_networks) and proc.name in (aigis_model_loader_binaries) and (fd.sport in (aigis_miner_ports) or fd.sip.name in (aigis_miner_domains))",
            "output": format!("Model-loading process connected to a mining pool (connection=%fd.name {output_process})"),
            "priority": "CRITICAL",
            "tags": ["aigis", "ai_model", "mitre_impact", "network"]
        }
    ])
}

/// A Tetragon `TracingPolicy` (kprobes on the LSM hooks and `tcp_connect`); with `enforce`,
/// the shell and the mining-pool connection are killed (`Sigkill`), not only reported.
pub fn tetragon_policy(watched: &[Watched], name: &str, enforce: bool) -> Value {
    let (files, folders) = split(watched);
    let loaders: Vec<String> = LOADERS.iter().map(|l| format!("/{l}")).collect();
    let shells: Vec<String> = SHELLS.iter().map(|s| format!("/{s}")).collect();
    // One selector per kind of match (selectors are alternatives).
    let path_selectors = |extra: Option<Value>| -> Vec<Value> {
        let mut out = Vec::new();
        for (operator, values) in [("Equal", &files), ("Prefix", &folders)] {
            if values.is_empty() {
                continue;
            }
            let mut args = vec![json!({"index": 0, "operator": operator, "values": values})];
            if let Some(extra) = &extra {
                args.push(extra.clone());
            }
            out.push(json!({"matchArgs": args}));
        }
        out
    };
    let kill = |mut selector: Value| {
        if enforce && let Some(map) = selector.as_object_mut() {
            map.insert("matchActions".into(), json!([{"action": "Sigkill"}]));
        }
        selector
    };
    let mut kprobes = Vec::new();
    let writes = path_selectors(Some(
        json!({"index": 1, "operator": "Mask", "values": ["2"]}),
    ));
    if !writes.is_empty() {
        kprobes.push(json!({
            "call": "security_file_permission",
            "syscall": false,
            "message": "aigis: model file opened for writing",
            "tags": ["aigis", "ai_model", "integrity"],
            "args": [
                {"index": 0, "type": "file"},
                {"index": 1, "type": "int"}
            ],
            "selectors": writes
        }));
        kprobes.push(json!({
            "call": "security_file_open",
            "syscall": false,
            "message": "aigis: model file opened",
            "tags": ["aigis", "ai_model", "inventory"],
            "args": [{"index": 0, "type": "file"}],
            "selectors": path_selectors(None)
        }));
        kprobes.push(json!({
            "call": "security_path_truncate",
            "syscall": false,
            "message": "aigis: model file truncated",
            "tags": ["aigis", "ai_model", "integrity"],
            "args": [{"index": 0, "type": "path"}],
            "selectors": path_selectors(None)
        }));
    }
    kprobes.push(json!({
        "call": "security_bprm_check",
        "syscall": false,
        "message": "aigis: shell started by a model-loading process",
        "tags": ["aigis", "ai_model", "execution"],
        "args": [{"index": 0, "type": "linux_binprm"}],
        "selectors": [kill(json!({
            "matchBinaries": [{"operator": "Postfix", "values": loaders}],
            "matchArgs": [{"index": 0, "operator": "Postfix", "values": shells}]
        }))]
    }));
    let ports: Vec<String> = MINER_PORTS.iter().map(u16::to_string).collect();
    kprobes.push(json!({
        "call": "tcp_connect",
        "syscall": false,
        "message": "aigis: model-loading process connecting to a mining pool port",
        "tags": ["aigis", "ai_model", "network"],
        "args": [{"index": 0, "type": "sock"}],
        "selectors": [kill(json!({
            "matchBinaries": [{"operator": "Postfix", "values": loaders}],
            "matchArgs": [
                {"index": 0, "operator": "DPort", "values": ports},
                {"index": 0, "operator": "NotDAddr", "values": ["127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}
            ]
        }))]
    }));
    json!({
        "apiVersion": "cilium.io/v1alpha1",
        "kind": "TracingPolicy",
        "metadata": {
            "name": name,
            "annotations": {"aigis.dev/generated-by": "aigis export tetragon"}
        },
        "spec": {"kprobes": kprobes}
    })
}

/// `value` as block-style YAML. Strings are always double-quoted with JSON's escapes (valid in
/// YAML), so no path or name can change the document's structure.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    emit(value, 0, &mut out);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn emit(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&pad);
                out.push_str("- ");
                match item {
                    Value::Object(map) if !map.is_empty() => {
                        // The first entry on the dash's line, the rest under it.
                        let mut inner = String::new();
                        emit(item, indent + 2, &mut inner);
                        out.push_str(inner.trim_start());
                    }
                    Value::Array(list) if !list.is_empty() => {
                        out.push('\n');
                        emit(item, indent + 2, out);
                    }
                    _ => {
                        out.push_str(&scalar(item));
                        out.push('\n');
                    }
                }
            }
        }
        Value::Object(map) if !map.is_empty() => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by_key(|(key, _)| (key_rank(key), key.as_str()));
            for (key, item) in entries {
                out.push_str(&pad);
                out.push_str(&yaml_key(key));
                out.push(':');
                match item {
                    Value::Object(inner) if !inner.is_empty() => {
                        out.push('\n');
                        emit(item, indent + 2, out);
                    }
                    Value::Array(list) if !list.is_empty() => {
                        out.push('\n');
                        emit(item, indent + 2, out);
                    }
                    _ => {
                        out.push(' ');
                        out.push_str(&flow(item));
                        out.push('\n');
                    }
                }
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&flow(other));
            out.push('\n');
        }
    }
}

/// Where a key goes among its siblings: the keys each tool's documentation puts first, first
/// (JSON objects here have no order of their own).
fn key_rank(key: &str) -> usize {
    const ORDER: &[&str] = &[
        "apiVersion",
        "kind",
        "metadata",
        "spec",
        "required_engine_version",
        "list",
        "macro",
        "rule",
        "desc",
        "condition",
        "items",
        "output",
        "priority",
        "call",
        "syscall",
        "message",
        "index",
        "type",
        "operator",
        "args",
        "selectors",
    ];
    ORDER.iter().position(|k| *k == key).unwrap_or(ORDER.len())
}

/// A key: plain when it is a simple name (every key these documents have), quoted otherwise.
fn yaml_key(key: &str) -> String {
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    if plain {
        key.to_owned()
    } else {
        scalar(&Value::String(key.to_owned()))
    }
}

/// Scalars and empty collections.
fn flow(value: &Value) -> String {
    match value {
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
        other => scalar(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falco_operands_are_quoted_and_unusable_paths_dropped() {
        assert_eq!(falco_quoted(r#"/m/a "b"\c.pt"#), r#""/m/a \"b\"\\c.pt""#);
        let watched = [
            Watched {
                path: "/srv/models/bert".into(),
                folder: true,
            },
            Watched {
                path: "/srv/m.pt".into(),
                folder: false,
            },
            Watched {
                path: "/srv/evil\nrule.pt".into(),
                folder: false,
            },
            Watched {
                path: "relative.pt".into(),
                folder: false,
            },
        ];
        let (files, folders) = split(&watched);
        assert_eq!(files, ["/srv/m.pt"]);
        assert_eq!(folders, ["/srv/models/bert/"]);
    }

    #[test]
    fn yaml_is_block_style_with_quoted_strings() {
        let doc = json!([{"list": "a", "items": ["x: y", 3]}, {"k": {"n": [], "m": {}}}]);
        let text = to_yaml(&doc);
        assert_eq!(
            text,
            "- list: \"a\"\n  items:\n    - \"x: y\"\n    - 3\n- k:\n    m: {}\n    n: []\n"
        );
    }
}
