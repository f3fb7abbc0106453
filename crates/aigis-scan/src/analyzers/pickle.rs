//! Pickle streams: raw pickles of any protocol, PyTorch legacy stacked pickles, joblib files.
//! The symbolic machine lives in `aigis-pickle`; this module turns its verdicts into findings and
//! decides the file format from what the stream references.

use crate::analyzer::{Analyzer, Context, Input};
use crate::{ByteSource, Finding, Format, RuleId, Severity};
use aigis_pickle::{LimitKind, PickleScan, ProblemKind, Risk, VerdictKind};

/// PyTorch's legacy magic number 0x1950a86a20f9469cfc6c as the LONG1 payload `torch.save` writes.
const TORCH_LEGACY_MAGIC: &[u8] = b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";

/// Analyzer for pickle streams.
pub struct PickleAnalyzer;

impl Analyzer for PickleAnalyzer {
    fn id(&self) -> &'static str {
        "pickle"
    }

    fn version(&self) -> u32 {
        9
    }

    /// `pickle.load`, `torch.load`, `joblib.load` and `numpy.load` accept any opcode first
    /// (FRAME, EMPTY_SET, SHORT_BINUNICODE, LONG1, …): the content decides, in `analyze`.
    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        head.first()
            .is_some_and(|&first| aigis_pickle::is_opcode(first))
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        // A PROTO header is a real signature: such a file is a pickle, `invalid` when its
        // protocol is unsupported or an unknown opcode follows. Any other start is weak: random
        // bytes often begin with a tiny complete pickle (`N.`) or run into an opcode that means
        // something before they break. Without the signature the content is a pickle when its
        // streams cover all of it, or when a loader reading it reaches a global (a well-formed
        // name it imports) or runs code aigis rates high — wherever it stops after that.
        let strong = matches!(input.head, [0x80, 0..=15, ..]);
        let scan = run(input.source, 0, cx);
        let reaches_global = scan.globals.iter().any(|g| {
            aigis_pickle::importable_name(&g.module) && aigis_pickle::importable_name(&g.qualname)
        });
        let alarming = scan.verdicts.iter().any(|v| {
            matches!(v.risk, Risk::Critical | Risk::High)
                && !matches!(
                    v.kind,
                    VerdictKind::UnresolvedExtension | VerdictKind::Anomaly
                )
        });
        let whole = !scan.streams.is_empty() && scan.end == input.source.len();
        let accept = strong || whole || reaches_global || alarming;
        if !accept {
            return None;
        }
        let format = pickle_format(&scan, input.head);
        if let Some(framework) = framework(&scan) {
            cx.model().set_framework(framework);
        }
        report(&scan, cx);
        Some(format)
    }
}

/// Scans the pickle stream(s) starting at `start` with the context's limits and allow-list.
pub(crate) fn run(source: &dyn ByteSource, start: u64, cx: &Context<'_>) -> PickleScan {
    let options = aigis_pickle::Options {
        extra_allowed: cx.options().allow_globals.clone(),
        extra_denied: cx.options().deny_globals.clone(),
        limits: cx.limits().pickle.clone(),
        deadline: Some(cx.deadline()),
        trace: cx.options().trace,
        collect_strings: Some(crate::secrets::worth_checking),
        collect_storages: cx.options().deep,
    };
    aigis_pickle::scan(source, start, &options)
}

/// Turns a pickle scan into findings: one per verdict, the format warning, and the structural
/// problem if the stream broke.
pub(crate) fn report(scan: &PickleScan, cx: &mut Context<'_>) {
    cx.record_program(scan);
    cx.note_storages(&scan.storages);
    for verdict in &scan.verdicts {
        let rule = match verdict.kind {
            VerdictKind::DangerousCall => RuleId::PickleCallDangerous,
            VerdictKind::UnknownCall => RuleId::PickleCallUnknown,
            VerdictKind::DangerousReference => RuleId::PickleRefDangerous,
            VerdictKind::UnknownReference => RuleId::PickleRefUnknown,
            VerdictKind::UnknownClass => RuleId::PickleClassUnknown,
            VerdictKind::StateOnGlobal => RuleId::PickleStateOnGlobal,
            VerdictKind::UnresolvedExtension => RuleId::PickleExtensionUnresolved,
            VerdictKind::NestedPickle => RuleId::PickleNested,
            VerdictKind::DynamicImport => RuleId::PickleDynamicImport,
            VerdictKind::Anomaly => RuleId::PickleAnomaly,
            VerdictKind::UnverifiedInput => RuleId::PickleNestedUnverified,
        };
        let finding = Finding::new(rule, verdict.message.clone())
            .with_severity(severity(verdict.risk))
            .with_indicators(verdict.iocs.clone());
        cx.record(finding, Some(verdict.offset));
    }
    for text in &scan.strings {
        // A string a verdict already quotes as an indicator is not repeated.
        let quoted = scan
            .verdicts
            .iter()
            .flat_map(|v| &v.iocs)
            .any(|ioc| text.contains(ioc.as_str()));
        let place = crate::secrets::Place::PickleString;
        let field = "a pickle string constant";
        if quoted {
            crate::secrets::check_secrets(cx, field, text, None);
        } else {
            crate::secrets::check_value(cx, place, field, text, None);
        }
    }
    if let Some(after) = &scan.after_stop {
        // Info: legacy torch formats put raw data after their pickles (a tar's `storages` and
        // `tensors`), and whatever these bytes run when read as pickles is judged above.
        let finding = Finding::new(
            RuleId::PickleAnomaly,
            format!(
                "data after the last complete pickle (byte {}) is no pickle: {}; pickle.load \
                 ignores it, a reader that loads the next pickle from the same file fails there",
                scan.end, after.kind
            ),
        );
        cx.record(finding.with_severity(Severity::Info), Some(after.offset));
    }
    if let Some(problem) = &scan.problem {
        if problem.kind
            == (ProblemKind::LimitExceeded {
                which: LimitKind::Time,
            })
        {
            cx.time_limit_hit();
            return;
        }
        let rule = match problem.kind {
            ProblemKind::LimitExceeded { .. } => RuleId::ResourceLimit,
            _ => RuleId::PickleMalformed,
        };
        cx.malformed(
            rule,
            format!("pickle stream: {}", problem.kind),
            Some(problem.offset),
        );
        if rule == RuleId::ResourceLimit {
            // Past the limit the stream was only swept for dangerous imports.
            cx.not_analysed(format!("pickle stream past a limit: {}", problem.kind));
        }
    }
    cx.report(
        RuleId::PickleFormat,
        "pickle runs code on load; prefer safetensors",
        None,
    );
}

fn severity(risk: Risk) -> Severity {
    match risk {
        Risk::Critical => Severity::Critical,
        Risk::High => Severity::High,
        Risk::Medium => Severity::Medium,
        Risk::Info => Severity::Info,
    }
}

/// The framework whose classes the pickle rebuilds, judged from the globals it imports.
fn framework(scan: &PickleScan) -> Option<&'static str> {
    const FRAMEWORKS: &[(&str, &str)] = &[
        ("torch", "pytorch"),
        ("sklearn", "scikit-learn"),
        ("xgboost", "xgboost"),
        ("lightgbm", "lightgbm"),
        ("catboost", "catboost"),
        ("pandas", "pandas"),
        ("joblib", "joblib"),
        ("numpy", "numpy"),
    ];
    FRAMEWORKS.iter().find_map(|(prefix, name)| {
        scan.globals
            .iter()
            .any(|g| g.module == *prefix || g.module.starts_with(&format!("{prefix}.")))
            .then_some(*name)
    })
}

/// Refines "pickle" into the framework format the stream belongs to.
fn pickle_format(scan: &PickleScan, head: &[u8]) -> Format {
    let references = |prefix: &str| {
        scan.globals.iter().any(|g| {
            g.module.starts_with(prefix)
                || format!("{}.{}", g.module, g.qualname).starts_with(prefix)
        })
    };
    let legacy_magic = head
        .windows(TORCH_LEGACY_MAGIC.len())
        .take(8)
        .any(|w| w == TORCH_LEGACY_MAGIC);
    if legacy_magic || (scan.streams.len() >= 3 && references("torch")) {
        Format::PytorchLegacy
    } else if scan.joblib_arrays > 0
        || references("joblib.numpy_pickle")
        || references("sklearn.externals.joblib")
    {
        Format::Joblib
    } else {
        Format::Pickle
    }
}

#[cfg(test)]
mod tests {
    use crate::{Format, MemorySource, ScanOptions, Scanner, Status};

    fn scan(bytes: &[u8]) -> (Format, Status) {
        let scanner = Scanner::new(ScanOptions::default());
        let result = scanner.scan_source("t".into(), &MemorySource::new(bytes.to_vec()));
        (result.format, result.status)
    }

    #[test]
    fn unsigned_content_is_a_pickle_only_when_streams_cover_it() {
        // A protocol-0 pickle of None, alone: a pickle.
        assert_eq!(scan(b"N."), (Format::Pickle, Status::Ok));
        // The same two bytes at the start of binary data: not a pickle.
        assert_eq!(
            scan(b"N.\x9a\x01\xff\x00\x13garbage"),
            (Format::Unknown, Status::Unsupported)
        );
        // A protocol-2 signature is trusted even with trailing bytes (legacy torch storages).
        assert_eq!(scan(b"\x80\x02N.\x9a\x01\xff").0, Format::Pickle);
        // Random bytes that happen to reach an EXT2 opcode are not a pickle with a finding.
        assert_eq!(
            scan(b"V\xe3<\n\x82\x3d\xbd\xff\xfe"),
            (Format::Unknown, Status::Unsupported)
        );
        // A protocol-0 payload cut short after its REDUCE still is one.
        let (format, status) = scan(b"cos\nsystem\n(S'id'\ntR");
        assert_eq!((format, status), (Format::Pickle, Status::Invalid));
    }

    fn scan_result(bytes: &[u8]) -> crate::FileResult {
        let scanner = Scanner::new(ScanOptions::default());
        scanner.scan_source("t".into(), &MemorySource::new(bytes.to_vec()))
    }

    #[test]
    fn any_first_opcode_makes_a_pickle_when_a_loader_reaches_a_global() {
        // pickle.load, torch.load, joblib.load and numpy.load take any opcode first.
        let payload = b"cos\nsystem\n(S'id'\ntR.";
        for first in [
            &b"\x95\x00\x00\x00\x00\x00\x00\x00\x00"[..],
            b"\x8f0",
            b"\x8c\x02ab0",
            b"\x8a\x01\x050",
            b"\x880",
            b"G?\xf0\x00\x00\x00\x00\x00\x000",
            b"\x8e\x00\x00\x00\x00\x00\x00\x00\x000",
            b"}0",
            b"K\x01Q0",
        ] {
            let mut bytes = first.to_vec();
            bytes.extend_from_slice(payload);
            let r = scan_result(&bytes);
            assert_eq!(r.format, Format::Pickle, "{first:?}");
            assert_eq!(
                r.max_severity,
                Some(crate::Severity::Critical),
                "{first:?}: {:#?}",
                r.findings
            );
        }
    }

    #[test]
    fn unsupported_protocols_and_unknown_opcodes_are_invalid_pickles() {
        for bytes in [
            &b"\x80\x06N."[..],
            b"\x80\x0fcos\nsystem\n.",
            b"\x80\x02\xff",
            b"\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00N\x00",
        ] {
            assert_eq!(scan(bytes), (Format::Pickle, Status::Invalid), "{bytes:?}");
        }
    }

    #[test]
    fn data_after_stop_is_an_anomaly_not_invalid() {
        for tail in [&b"\xff\xfe"[..], b"junk\n", b"\x00\x00\x00\x00", b"("] {
            let mut bytes = b"\x80\x02}q\x00.".to_vec();
            bytes.extend_from_slice(tail);
            let r = scan_result(&bytes);
            assert_eq!(r.status, Status::Ok, "{tail:?}");
            assert!(
                r.findings
                    .iter()
                    .any(|f| f.rule_id == crate::RuleId::PickleAnomaly
                        && f.message.contains("after the last complete pickle")),
                "{tail:?}: {:#?}",
                r.findings
            );
        }
    }
}
