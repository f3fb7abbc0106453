//! The GGUF loader differential: every case of `fixtures/differential/gguf.jsonl.gz` (made by
//! `scripts/differential/gguf_files.py` from files `gguf.GGUFWriter` writes and hand-built
//! variants) records how the real readers read it: `gguf.GGUFReader` (gguf-py, what transformers
//! loads GGUF with) and llama.cpp's `gguf.cpp` rules (ported in the generator), with the chat
//! templates each sees. aigis must judge the file as they do and analyse every template any of
//! them, or a reader that keeps duplicate keys, would render.

use super::tests::{b64, cases, report};
use crate::{Format, MemorySource, Severity, Status};
use serde_json::Value;

/// The payloads the generator plants (`PAYLOADS` in `gguf_files.py`).
const PAYLOADS: [&str; 2] = [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
];

/// Cases where aigis is deliberately stricter than both readers (how the case was made, and
/// its mutations).
/// - Keys longer than 64 KiB are refused (llama.cpp allows 1 GiB): no real key is that long, and
///   reading one would let a file make aigis hold arbitrary amounts of key text.
const STRICTER: &[&str] = &["long key (70000 bytes)"];

/// Every template text a reader sees in the case.
fn templates(case: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for reading in ["templates", "cpp_templates", "dup_templates"] {
        if let Some(map) = case[reading].as_object() {
            for texts in map.values() {
                out.extend(super::tests::strings(texts));
            }
        }
    }
    out
}

/// A file is valid for aigis exactly when both readers load it. Where they differ aigis fails
/// closed (it reports the file invalid): gguf-py accepts nested arrays, empty keys, more than 4
/// dimensions, 64-byte tensor names, misaligned, overlapping, out-of-order or gapped tensor data
/// and strings cut short by the end of the file, all of which llama.cpp refuses; llama.cpp
/// accepts keys and tensor names that are not UTF-8, which gguf-py refuses. Every template
/// either reader (or one keeping duplicate keys) sees is analysed: a planted dunder walk makes
/// the file high or worse, and a file both load whose templates hold no dunder name has nothing
/// high (payloads stored under other keys are not templates).
#[test]
fn gguf_files_are_read_as_the_loaders_read_them() {
    let scanner = crate::Scanner::new(crate::ScanOptions::default());
    let all = cases("gguf.jsonl.gz");
    let mut divergences = Vec::new();
    let (mut readers_differ, mut payloads, mut stricter) = (0, 0, 0);
    for case in &all {
        let why = case["why"].as_str().unwrap_or("");
        let bytes = b64(&case["b"]);
        let result = scanner.scan_source("model.gguf".into(), &MemorySource::new(bytes));
        let ours_ok = result.format == Format::Gguf && result.status == Status::Ok;
        let py_ok = case["ok"] == Value::Bool(true);
        let cpp_ok = case["cpp_ok"] == Value::Bool(true);
        readers_differ += usize::from(py_ok != cpp_ok);
        let mut expected = py_ok && cpp_ok;
        if STRICTER.iter().any(|s| why.starts_with(s)) {
            assert!(expected, "{why}: both readers were expected to accept it");
            expected = false;
            stricter += 1;
        }
        let worst = result.findings.iter().map(|f| f.severity).max();
        let messages: Vec<&str> = result.findings.iter().map(|f| f.message.as_str()).collect();
        if ours_ok != expected {
            divergences.push(format!(
                "{why}: gguf-py {} ({}), llama.cpp {} ({}), aigis {} {:?}: {messages:?}",
                if py_ok { "accepts" } else { "refuses" },
                case["error"].as_str().unwrap_or(""),
                if cpp_ok { "accepts" } else { "refuses" },
                case["cpp_error"].as_str().unwrap_or(""),
                result.format,
                result.status
            ));
        }
        let seen = templates(case);
        let planted = seen.iter().any(|t| PAYLOADS.iter().any(|p| t.contains(p)));
        payloads += usize::from(planted);
        if planted && worst < Some(Severity::High) {
            divergences.push(format!(
                "{why}: a reader renders a payload template, aigis rates it {worst:?}: {messages:?}"
            ));
        }
        // A bit flip can leave a damaged walk (`__claws__`) that is still rated high.
        let dunder = seen.iter().any(|t| t.contains("__"));
        if !dunder && py_ok && cpp_ok && worst >= Some(Severity::High) {
            divergences.push(format!(
                "{why}: only benign templates, aigis rates it {worst:?}: {messages:?}"
            ));
        }
    }
    eprintln!(
        "gguf: {readers_differ} cases the readers judge differently, {payloads} with a payload \
         template a reader sees, {stricter} where aigis is stricter than both"
    );
    report("gguf", all.len(), &divergences);
}
