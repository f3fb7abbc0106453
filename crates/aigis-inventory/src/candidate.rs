//! Which files an inventory without a full scan counts as models: a sniff of the first bytes
//! accepts them (with the exceptions below), and the side files that describe models
//! (`config.json`, model cards, manifests…). A full scan decides formats from content alone.

use aigis_scan::Registry;
use std::path::Path;

/// Executables smaller than this are not looked at for an embedded model (llamafiles are large).
const MIN_EXECUTABLE_MODEL: u64 = 16 << 20;
/// Extensions under which a protocol 0/1 pickle (no header to sniff) is a candidate.
const PICKLE_EXTENSIONS: &[&str] = &[
    "pkl", "pickle", "pt", "pth", "bin", "ckpt", "joblib", "sav", "dill", "model",
];
/// File names that describe a model without being one.
const SIDE_FILES: &[&str] = &[
    "config.json",
    "README.md",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "modules.json",
    "config_sentence_transformers.json",
    "sentence_bert_config.json",
    "meta.json",
    "config.cfg",
    "MLmodel",
    "config.pbtxt",
    "hubconf.py",
    "model_index.json",
];

/// Whether a file describes a model without being one (`config.json`, a card, a manifest…).
pub fn is_side_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    SIDE_FILES.contains(&name)
        || name.ends_with(".index.json")
        || path
            .parent()
            .is_some_and(|p| p.iter().any(|c| c == "manifests"))
            && !name.starts_with('.')
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Whether the head of a file makes it a model candidate.
pub fn is_candidate(registry: &Registry, path: &Path, head: &[u8], len: u64) -> bool {
    let Some(id) = registry
        .analyzers()
        .find(|a| a.sniff(head, len))
        .map(|a| a.id())
    else {
        return false;
    };
    match id {
        // Archives are `aigis scan`'s business; a NeMo model is a tar.
        "tar" => extension(path) == "nemo",
        "7z" | "compressed" => false,
        "executable" => len >= MIN_EXECUTABLE_MODEL,
        // Protocol 2+ pickles start with PROTO. Older ones have no signature: when the head is
        // the whole file, the content decides (the pickle analyzer parses it); larger files are
        // candidates only under a pickle extension, which a full `aigis scan` then confirms.
        "pickle" => {
            if matches!(head, [0x80, 2..=5, ..]) {
                true
            } else if len <= head.len() as u64 {
                let scanner = aigis_scan::Scanner::new(aigis_scan::ScanOptions {
                    hash: false,
                    ..aigis_scan::ScanOptions::default()
                });
                let source = aigis_scan::MemorySource::new(head.to_vec());
                scanner.scan_source(String::new(), &source).format != aigis_scan::Format::Unknown
            } else {
                PICKLE_EXTENSIONS.contains(&extension(path).as_str())
            }
        }
        _ => true,
    }
}
