//! The engine end to end on real files: every artifact kind yields results through the same
//! run, and nothing an input does to an analyzer loses a result.

use aigis_engine::{EngineOptions, NoProgress, run, run_with_registry};
use aigis_scan::{
    Analyzer, Context, Format, Input, Registry, RuleId, Severity, Status, analyzers::registry,
};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn options() -> EngineOptions {
    let mut options = EngineOptions::default();
    options.scan.hash = false;
    options
}

/// An analyzer with a bug: it panics on content starting with `PANIC`.
struct Buggy;

impl Analyzer for Buggy {
    fn id(&self) -> &'static str {
        "buggy"
    }
    fn version(&self) -> u32 {
        1
    }
    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        head.starts_with(b"PANIC")
    }
    fn analyze(&self, _input: &Input<'_>, _cx: &mut Context<'_>) -> Option<Format> {
        panic!("bug in the buggy analyzer");
    }
}

#[test]
fn a_panicking_analyzer_yields_an_error_result_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("a.bin"), b"PANIC please").unwrap_or_else(|e| panic!("{e}"));
    let evil = repo().join("fixtures/pickle/os_system_p2.pkl");
    std::fs::copy(&evil, dir.path().join("b.pkl")).unwrap_or_else(|e| panic!("{e}"));
    let mut analyzers: Vec<Box<dyn Analyzer>> = vec![Box::new(Buggy)];
    analyzers.extend(registry().into_analyzers());
    let target = dir.path().to_string_lossy().into_owned();
    let run = run_with_registry(&[target], &options(), Registry::new(analyzers), &NoProgress)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.results.len(), 2, "{:?}", run.results);
    let crashed = &run.results[0];
    assert!(crashed.path.ends_with("a.bin"), "{crashed:?}");
    assert_eq!(crashed.status, Status::Error);
    assert_eq!(crashed.findings[0].rule_id, RuleId::AnalysisCrashed);
    assert_eq!(crashed.findings[0].rule_id.to_string(), "ANALYSIS-CRASHED");
    assert!(
        crashed.findings[0]
            .message
            .contains("bug in the buggy analyzer")
    );
    assert_eq!(run.results[1].max_severity, Some(Severity::Critical));
}

#[test]
fn a_failing_image_layer_is_its_own_result_and_the_other_layers_are_scanned() {
    let image = repo().join("fixtures/engine/image_bomb_layer.tar");
    let run = run(
        &[image.to_string_lossy().into_owned()],
        &options(),
        &NoProgress,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let layer = run.results.iter().find(|r| {
        r.path
            .rsplit_once("!/layer:")
            .is_some_and(|(_, l)| !l.contains('/'))
    });
    let layer = layer.unwrap_or_else(|| panic!("no layer result: {:?}", run.results));
    assert_eq!(layer.status, Status::Invalid);
    let evil = run
        .results
        .iter()
        .find(|r| r.path.ends_with("/opt/models/evil.pkl"));
    let evil = evil.unwrap_or_else(|| panic!("payload layer not scanned: {:?}", run.results));
    assert_eq!(evil.max_severity, Some(Severity::Critical));
    assert!(run.fails());
}

#[test]
fn archives_and_compressed_streams_inside_an_image_are_scanned_like_files() {
    let image = repo().join("fixtures/engine/image_compressed_members.tar");
    let run = run(
        &[image.to_string_lossy().into_owned()],
        &options(),
        &NoProgress,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for name in ["payload.pkl.gz", "bundle.zip", "model.joblib"] {
        let found = run.results.iter().find(|r| r.path.ends_with(name));
        let found = found.unwrap_or_else(|| panic!("{name} not scanned: {:?}", run.results));
        assert_eq!(found.max_severity, Some(Severity::Critical), "{name}");
    }
    // The operating system's files are there too, each a result of its own.
    assert!(
        run.results
            .iter()
            .any(|r| r.path.ends_with("etc/os-release"))
    );
}
