//! The loader differentials: every case of `fixtures/differential/{json,zipfile,tarfile,yaml}.jsonl.gz`
//! (made by `scripts/differential/config_loaders.py`, which records how Python's `json.loads`,
//! `zipfile`, `tarfile` and PyYAML read generated variants) must be read by aigis as Python reads
//! it. An environment variable (`AIGIS_CONFIG_DIFFERENTIAL_DIR`) points the tests at a larger
//! campaign (`config_loaders.py --scale N --out DIR`).

use crate::MemorySource;
use base64::Engine;
use serde_json::Value;
use std::io::Read;

pub(super) fn cases(file: &str) -> Vec<Value> {
    let dir = std::env::var("AIGIS_CONFIG_DIFFERENTIAL_DIR").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/differential").to_string()
    });
    let path = format!("{dir}/{file}");
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

pub(super) fn b64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// The value as the generator canonicalises it (floats as the hex of their bits).
pub(super) fn canonical(v: &Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => {
            let bits = n.as_f64().unwrap_or(0.0).to_le_bytes();
            serde_json::json!({ "$f": hex::encode(bits) })
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        other => other.clone(),
    }
}

pub(super) fn report(what: &str, total: usize, divergences: &[String]) {
    eprintln!("{what}: {total} cases, {} divergences", divergences.len());
    assert!(
        divergences.is_empty(),
        "{} of {total} {what} cases read differently from Python:\n{}",
        divergences.len(),
        divergences.join("\n")
    );
}

/// `json.loads(bytes)`: accepted or refused alike, and the same value when accepted.
#[test]
fn json_is_read_as_json_loads_reads_it() {
    let all = cases("json.jsonl.gz");
    let mut divergences = Vec::new();
    for case in &all {
        let bytes = b64(&case["b"]);
        let python_ok = case["ok"].as_bool().unwrap_or(false);
        let ours = super::json::loads_bytes(&bytes, usize::MAX);
        match (&ours, python_ok) {
            (Ok(decoded), true) => {
                // Read with the decoder under test (serde_json stops at 128 levels); the text is
                // Python's own `json.dumps` output.
                let want = super::json::loads_bytes(
                    case["v"].as_str().unwrap_or("null").as_bytes(),
                    usize::MAX,
                )
                .map(|d| d.value)
                .unwrap_or(Value::Null);
                if canonical(&decoded.value) != want {
                    divergences.push(format!(
                        "{:?}: value {} vs Python {want}",
                        String::from_utf8_lossy(&bytes),
                        canonical(&decoded.value)
                    ));
                }
            }
            (Err(_), false) => {}
            _ => divergences.push(format!(
                "{:?}: aigis {:?}, Python ok={python_ok} {}",
                String::from_utf8_lossy(&bytes),
                ours.as_ref().map(|_| "ok"),
                case["why"]
            )),
        }
    }
    report("json.loads", all.len(), &divergences);
}

/// `zipfile.ZipFile(...).namelist()` and `.read(name)`: the same names in the same order, and
/// for each name the bytes of the member `zipfile` reads, or a refusal where it refuses.
#[test]
fn zips_are_read_as_zipfile_reads_them() {
    use crate::archive::{member, zip_index};
    let all = cases("zipfile.jsonl.gz");
    let mut divergences = Vec::new();
    for case in &all {
        let bytes = b64(&case["b"]);
        let source = MemorySource::new(bytes.clone());
        let index = zip_index::read_index(&source, 10_000);
        let mut listed: Vec<&zip_index::ZipEntry> = index
            .entries
            .iter()
            .filter(|e| e.zipfile_order.is_some())
            .collect();
        listed.sort_by_key(|e| e.zipfile_order);
        let names: Vec<&str> = listed.iter().map(|e| e.loader_name.as_str()).collect();
        let python_ok = case["ok"].as_bool().unwrap_or(false);
        let want: Vec<&str> = case["names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let shown = format!(
            "{:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(120)])
        );
        if !python_ok {
            if !names.is_empty() && listed.iter().all(|e| e.zipfile_error.is_none()) {
                divergences.push(format!(
                    "{shown}: Python refuses ({}), aigis lists {names:?}",
                    case["why"]
                ));
            }
            continue;
        }
        if names != want {
            divergences.push(format!("{shown}: names {names:?} vs Python {want:?}"));
            continue;
        }
        for (name, read) in case["reads"].as_object().into_iter().flatten() {
            let Some(entry) = index.zipfile_entry(name) else {
                divergences.push(format!("{shown}: no member `{name}`"));
                continue;
            };
            let data = member::read_to_vec(&source, entry, 1 << 20);
            let refused = match &data {
                Ok(data) => zip_index::zipfile_read_error(entry, data),
                Err(e) => Some(e.to_string()),
            };
            match (read.as_str().unwrap_or(""), refused, data) {
                (r, Some(_), _) if r.starts_with('!') => {}
                (r, None, Ok(data)) if !r.starts_with('!') => {
                    if data != b64(read) {
                        divergences.push(format!("{shown}: `{name}` bytes differ"));
                    }
                }
                (r, refused, _) => divergences.push(format!(
                    "{shown}: `{name}`: Python {r:.60}, aigis refusal {refused:?}"
                )),
            }
        }
    }
    report("zipfile", all.len(), &divergences);
}

/// `tarfile`: the members it extracts as files (names and bytes), in order.
#[test]
fn tars_are_read_as_tarfile_reads_them() {
    use crate::ByteSource;
    use crate::archive::tar_members;
    use crate::archive::walk::MemberKind;
    let all = cases("tarfile.jsonl.gz");
    let mut divergences = Vec::new();
    for case in &all {
        let bytes = b64(&case["b"]);
        let source = MemorySource::new(bytes.clone());
        let (members, stop) = tar_members::members(&source);
        let ours: Vec<(String, Vec<u8>)> = members
            .iter()
            .filter(|m| m.kind() == MemberKind::File)
            .map(|m| {
                let data = m
                    .source(&source)
                    .read_vec(0, usize::try_from(m.size).unwrap_or(0))
                    .unwrap_or_default();
                (m.name.clone(), data)
            })
            .collect();
        // Python's bytes of each file; `None` where `extractfile().read()` raised (its stored
        // data runs past the end): aigis reads what there is.
        let want: Vec<(String, Option<Vec<u8>>)> = case["files"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                let data = (!f[1].is_null()).then(|| b64(&f[1]));
                (f[0].as_str().unwrap_or("").to_string(), data)
            })
            .collect();
        let same = ours.len() == want.len()
            && ours
                .iter()
                .zip(&want)
                .all(|((name, data), (want_name, want_data))| {
                    name == want_name && want_data.as_ref().is_none_or(|w| w == data)
                });
        // Where the listing raised in Python (the loader fails there), aigis reports the archive
        // malformed.
        let raised = case["ok"] == Value::Bool(false);
        if !same || (raised && stop.is_none()) {
            let names = |v: &mut dyn Iterator<Item = (&String, Option<usize>)>| {
                v.map(|(n, d)| format!("{n:?}({d:?})")).collect::<Vec<_>>()
            };
            divergences.push(format!(
                "files {:?} (stop {stop:?}) vs Python {:?} (Python ok={}, {})",
                names(&mut ours.iter().map(|(n, d)| (n, Some(d.len())))),
                names(&mut want.iter().map(|(n, d)| (n, d.as_ref().map(Vec::len)))),
                case["ok"],
                case["why"]
            ));
        }
    }
    report("tarfile", all.len(), &divergences);
}

/// PyYAML's `safe_load`: every `_target_` value Python sees, aigis judges (the YAML tree, or the
/// text when the YAML reader refuses the document).
#[test]
fn yaml_targets_are_seen_as_pyyaml_sees_them() {
    use crate::analyzers::yaml::{self, Yaml};
    fn targets(node: &Yaml, out: &mut Vec<String>) {
        match node {
            Yaml::Map(entries) => {
                for (k, v) in entries {
                    if k.as_str() == Some("_target_")
                        && let Some(s) = v.as_str()
                    {
                        out.push(s.to_string());
                    }
                    targets(v, out);
                }
            }
            Yaml::Seq(items) => items.iter().for_each(|i| targets(i, out)),
            _ => {}
        }
    }
    let all = cases("yaml.jsonl.gz");
    let mut divergences = Vec::new();
    for case in &all {
        let text = case["t"].as_str().unwrap_or("");
        let mut ours = Vec::new();
        match yaml::parse(text) {
            Ok(docs) => docs.docs.iter().for_each(|d| targets(d, &mut ours)),
            Err(_) => ours.extend(
                crate::analyzers::nemo::textual_targets(text)
                    .into_iter()
                    .map(|(_, t)| t),
            ),
        }
        for pair in case["targets"].as_array().into_iter().flatten() {
            let value = pair[1].as_str().unwrap_or("");
            if !ours.iter().any(|o| o == value) {
                divergences.push(format!(
                    "{text:?}: Python's `_target_` {value:?} not seen (aigis: {ours:?})"
                ));
            }
        }
    }
    report("yaml", all.len(), &divergences);
}

/// `py7zr` (`fixtures/differential/py7zr.jsonl.gz`, made by `scripts/differential/sevenz.py`):
/// every file py7zr extracts, aigis reads with the same name and bytes or reports as a member it
/// cannot decode, and an archive py7zr extracts without error is not corrupt for aigis; an
/// archive py7zr refuses, aigis reports as corrupt or undecodable — never clean.
#[test]
fn sevenz_archives_are_read_as_py7zr_reads_them() {
    use crate::archive::sevenz_members::{self, Step, Visitor, is_link};
    use sevenz_rust2::ArchiveEntry;

    #[derive(Default)]
    struct Reading {
        files: Vec<(String, Vec<u8>)>,
        undecodable: Vec<String>,
        whole_archive_undecodable: bool,
        malformed: Vec<String>,
    }
    impl Visitor for Reading {
        fn member(&mut self, entry: &ArchiveEntry, name: &str, data: &mut dyn Read) -> Step {
            let mut bytes = Vec::new();
            if let Err(err) = data.read_to_end(&mut bytes) {
                self.malformed.push(format!("`{name}`: {err}"));
                return Step::SkipBlock;
            }
            if !entry.is_directory() && !is_link(entry) {
                self.files.push((name.to_string(), bytes));
            }
            Step::Continue
        }
        fn undecodable(&mut self, names: &[String], _why: &str) {
            self.whole_archive_undecodable |= names.is_empty();
            self.undecodable.extend(names.iter().cloned());
        }
        fn malformed(&mut self, message: String) {
            self.malformed.push(message);
        }
    }

    let all = cases("py7zr.jsonl.gz");
    let mut divergences = Vec::new();
    let (mut py_ok, mut undecodable) = (0, 0);
    for case in &all {
        let source = MemorySource::new(b64(&case["b"]));
        let mut ours = Reading::default();
        sevenz_members::read(&source, &mut ours);
        let flagged = !ours.malformed.is_empty()
            || !ours.undecodable.is_empty()
            || ours.whole_archive_undecodable;
        undecodable += usize::from(!ours.undecodable.is_empty() || ours.whole_archive_undecodable);
        let why = case["why"].as_str().unwrap_or("");
        if case["ok"] != Value::Bool(true) {
            if !flagged {
                divergences.push(format!(
                    "{why}: py7zr refuses it ({}), aigis reads it clean: {:?}",
                    case["error"],
                    ours.files.iter().map(|f| &f.0).collect::<Vec<_>>()
                ));
            }
            continue;
        }
        py_ok += 1;
        if !ours.malformed.is_empty() {
            divergences.push(format!(
                "{why}: py7zr extracts it without error, aigis reports it corrupt: {:?}",
                ours.malformed
            ));
        }
        for file in case["files"].as_array().into_iter().flatten() {
            let name = file[0].as_str().unwrap_or("");
            let data = b64(&file[1]);
            let read = ours.files.iter().any(|(n, d)| n == name && *d == data);
            let reported = ours.undecodable.iter().any(|n| n == name);
            if !read && !reported {
                let got = ours
                    .files
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|f| f.1.len());
                divergences.push(format!(
                    "{why}: py7zr extracts `{name}` ({} bytes); aigis read {got:?} bytes and \
                     reported {:?} (malformed: {:?})",
                    data.len(),
                    ours.undecodable,
                    ours.malformed
                ));
            }
        }
    }
    eprintln!("py7zr: {py_ok} archives py7zr extracts, {undecodable} with undecodable members");
    report("py7zr", all.len(), &divergences);
}

/// jinja2 (`fixtures/differential/jinja.jsonl.gz`, made by
/// `scripts/differential/jinja_templates.py` with transformers' chat-template environment):
/// every template jinja2 parses, aigis parses too, and one whose parsed tree reaches a dunder
/// name is rated high or worse.
#[test]
fn chat_templates_are_parsed_as_jinja2_parses_them() {
    use crate::analyzers::chat_template;
    use crate::{RuleId, Severity};
    let all = cases("jinja.jsonl.gz");
    let mut divergences = Vec::new();
    for case in &all {
        let text = case["t"].as_str().unwrap_or("");
        let issues = chat_template::analyze(text);
        if case["ok"] == Value::Bool(true)
            && let Some(issue) = issues
                .iter()
                .find(|i| i.rule == RuleId::ChatTemplateUnparsable)
        {
            divergences.push(format!(
                "{text:?}: jinja2 parses it, aigis: {}",
                issue.message
            ));
        }
        let dunder = strings(&case["names"])
            .into_iter()
            .find(|n| n.starts_with("__") && n.ends_with("__"));
        if let Some(name) = dunder
            && !issues.iter().any(|i| i.severity >= Severity::High)
        {
            divergences.push(format!(
                "{text:?}: jinja2's tree reaches `{name}`, aigis rates it below high: {:?}",
                issues.iter().map(|i| &i.message).collect::<Vec<_>>()
            ));
        }
    }
    report("jinja", all.len(), &divergences);
}

pub(super) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// The `safetensors` library (`fixtures/differential/safetensors.jsonl.gz`, made by
/// `scripts/differential/safetensors_headers.py`: `deserialize` and `safe_open`): a file it
/// accepts is a valid safetensors file for aigis, and one it refuses is invalid (or not taken
/// for safetensors at all).
#[test]
fn safetensors_headers_are_judged_as_the_library_judges_them() {
    let scanner = crate::Scanner::new(crate::ScanOptions::default());
    let all = cases("safetensors.jsonl.gz");
    let mut divergences = Vec::new();
    for case in &all {
        let bytes = b64(&case["b"]);
        let result = scanner.scan_source("model.safetensors".into(), &MemorySource::new(bytes));
        let ours_ok =
            result.format == crate::Format::Safetensors && result.status == crate::Status::Ok;
        let theirs_ok = case["ok"] == Value::Bool(true);
        if ours_ok != theirs_ok {
            let why: Vec<&str> = result.findings.iter().map(|f| f.message.as_str()).collect();
            divergences.push(format!(
                "{}: library {} ({}), aigis {} {:?}: {why:?}",
                case["why"].as_str().unwrap_or(""),
                if theirs_ok { "accepts" } else { "refuses" },
                case["error"].as_str().unwrap_or(""),
                result.format,
                result.status
            ));
        }
    }
    report("safetensors", all.len(), &divergences);
}
