//! Shared entry points for the fuzz targets: each runs a parser on arbitrary bytes with limits
//! small enough that a fuzzer explores instead of waiting.

use aigis_scan::analyzer::HEAD_LEN;
use aigis_scan::{AnalysisOptions, Context, Input, MemorySource, ScanOptions, Scanner};
use std::sync::OnceLock;
use std::time::Duration;

fn options() -> AnalysisOptions {
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

/// The whole pipeline: sniff, dispatch, every analyzer reachable from the content.
pub fn scan(data: &[u8]) {
    let source = MemorySource::new(data.to_vec());
    let _ = scanner().scan_source("fuzz".into(), &source);
}

/// One analyzer, called directly (no sniffing), so its parser sees every input.
pub fn analyzer(id: &str, data: &[u8]) {
    let scanner = scanner();
    let options = options();
    let source = MemorySource::new(data.to_vec());
    let head = &data[..data.len().min(HEAD_LEN)];
    for analyzer in scanner.registry().analyzers().filter(|a| a.id() == id) {
        let mut cx = Context::new(scanner.registry(), &options);
        let input = Input { source: &source, head, name: None };
        let _ = analyzer.analyze(&input, &mut cx);
    }
}

/// One analyzer of archive members, called directly with a member name that puts the input in
/// its scope (TorchScript `code/` members).
pub fn member_analyzer(id: &str, name: &str, data: &[u8]) {
    let scanner = scanner();
    let options = options();
    let source = MemorySource::new(data.to_vec());
    let head = &data[..data.len().min(HEAD_LEN)];
    for analyzer in scanner.registry().analyzers().filter(|a| a.id() == id) {
        let mut cx = Context::new(scanner.registry(), &options);
        let input = Input { source: &source, head, name: Some(name) };
        let _ = analyzer.analyze(&input, &mut cx);
    }
}

/// A container image tarball (`docker save`, either layout): the outer tar, `manifest.json`,
/// the config, then every layer's tar (gzip/zstd or plain) and whiteouts. The image reader works
/// on paths, so the input is written to a scratch file first.
pub fn image(data: &[u8]) {
    static PATH: OnceLock<std::path::PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| {
        let dir = std::path::Path::new("/dev/shm");
        let dir = if dir.is_dir() {
            dir.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("aigis-fuzz-image-{}.tar", std::process::id()))
    });
    if std::fs::write(path, data).is_ok() {
        let _ = aigis_inventory::image::scan_image(path, scanner());
    }
}
