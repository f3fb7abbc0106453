//! The fuzz targets' entry points, shared by `fuzz/` (cargo-fuzz) and the regression test that
//! replays every input a fuzzer once found through the same target that found it
//! (`tests/regressions.rs`). Limits are small enough that a fuzzer explores instead of waiting.

use crate::analyzer::{AnalysisOptions, Context, HEAD_LEN, Input};
use crate::{MemorySource, ScanOptions, Scanner};
use std::sync::OnceLock;
use std::time::Duration;

/// The analysis options fuzz targets run with.
pub fn options() -> AnalysisOptions {
    let mut options = AnalysisOptions::default();
    options.limits.time_limit = Duration::from_secs(5);
    options.limits.max_member_bytes = 16 << 20;
    options.limits.max_total_decompressed = 64 << 20;
    options.limits.pickle.max_opcodes = 1_000_000;
    options
}

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(|| {
        Scanner::new(ScanOptions {
            analysis: options(),
            hash: false,
        })
    })
}

/// `scan`: the whole pipeline — sniff, dispatch, every analyzer reachable from the content.
pub fn scan(data: &[u8]) {
    let source = MemorySource::new(data.to_vec());
    let _ = scanner().scan_source("fuzz".into(), &source);
}

/// `analyzer_<id>`: one analyzer, called directly (no sniffing), so its parser sees every input.
pub fn analyzer(id: &str, data: &[u8]) {
    let scanner = scanner();
    let options = options();
    let source = MemorySource::new(data.to_vec());
    let head = &data[..data.len().min(HEAD_LEN)];
    for analyzer in scanner.registry().analyzers().filter(|a| a.id() == id) {
        let mut cx = Context::new(scanner.registry(), &options);
        let input = Input::new(&source, head, None);
        let _ = analyzer.analyze(&input, &mut cx);
    }
}

/// `analyzer_<id>` for analyzers of archive members: one analyzer called directly with a member
/// name that puts the input in its scope (TorchScript `code/` members).
pub fn member_analyzer(id: &str, name: &str, data: &[u8]) {
    let scanner = scanner();
    let options = options();
    let source = MemorySource::new(data.to_vec());
    let head = &data[..data.len().min(HEAD_LEN)];
    for analyzer in scanner.registry().analyzers().filter(|a| a.id() == id) {
        let mut cx = Context::new(scanner.registry(), &options);
        let input = Input::new(&source, head, Some(name));
        let _ = analyzer.analyze(&input, &mut cx);
    }
}

/// `zip_index`: the lenient zip directory reader, and what must hold of what it returns.
pub fn zip_index(data: &[u8]) {
    let index = crate::archive::zip_index::read_index(&MemorySource::new(data.to_vec()), 10_000);
    for entry in &index.entries {
        assert!(entry.data_offset >= entry.header_offset || !entry.in_central);
    }
}

/// `pickle`: the pickle machine alone; the same bytes give the same verdicts.
pub fn pickle(data: &[u8]) {
    let mut options = aigis_pickle::Options::default();
    options.limits.max_opcodes = 1_000_000;
    let first = aigis_pickle::scan(data, 0, &options);
    let second = aigis_pickle::scan(data, 0, &options);
    assert_eq!(first, second);
}

/// `chat_template`: the Jinja template walk; deterministic.
pub fn chat_template(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let first = crate::analyzers::chat_template::analyze(text);
        assert_eq!(first, crate::analyzers::chat_template::analyze(text));
    }
}

/// The analyzer id an `analyzer_<name>` target calls.
fn analyzer_id(target: &str) -> Option<&'static str> {
    Some(match target.strip_prefix("analyzer_")? {
        "7z" => "7z",
        "compressed" => "compressed",
        "coreml" => "coreml",
        "executable" => "executable",
        "flax" => "flax",
        "gguf" => "gguf",
        "inventory" => "inventory",
        "keras_h5" => "keras-h5",
        "keras_v3" => "keras-v3",
        "mlflow" => "mlflow",
        "nemo" => "nemo",
        "numpy" => "numpy",
        "onnx" => "onnx",
        "safetensors" => "safetensors",
        "skops" => "skops",
        "tar" => "tar",
        "tf" => "tf-savedmodel",
        "tflite" => "tflite",
        "zip" => "zip",
        _ => return None,
    })
}

/// Runs the fuzz target named `target` on `data`; `false` when no target of this crate has that
/// name (`image` is `aigis-engine`'s).
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "scan" => scan(data),
        "zip_index" => zip_index(data),
        "pickle" => pickle(data),
        "chat_template" => chat_template(data),
        "analyzer_torchscript" => {
            member_analyzer("torchscript-code", "archive/code/__torch__.py", data)
        }
        "analyzer_python_code" => member_analyzer("python-code", "pipeline/train.py", data),
        "analyzer_notebook" => member_analyzer("python-code", "pipeline/train.ipynb", data),
        "analyzer_deps" => {
            // The first byte picks which dependency file the rest is read as.
            const NAMES: [&str; 6] = [
                "project/requirements.txt",
                "project/pyproject.toml",
                "project/poetry.lock",
                "project/uv.lock",
                "project/Pipfile.lock",
                "project/environment.yml",
            ];
            let (pick, rest) = data.split_first().map_or((0, data), |(p, r)| (*p, r));
            member_analyzer(
                "python-dependencies",
                NAMES[usize::from(pick) % NAMES.len()],
                rest,
            )
        }
        _ => match analyzer_id(target) {
            Some(id) => analyzer(id, data),
            None => return false,
        },
    }
    true
}
