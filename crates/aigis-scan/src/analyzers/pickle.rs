//! Pickle streams: raw pickles of any protocol, PyTorch legacy stacked pickles, joblib files.
//! The symbolic machine lives in `aigis-pickle`; this module turns its verdicts into findings and
//! decides the file format from what the stream references.

use crate::analyzer::{Analyzer, Context, Input};
use crate::{ByteSource, Finding, Format, RuleId, Severity};
use aigis_pickle::{LimitKind, PickleScan, ProblemKind, Risk, VerdictKind};

/// Opcodes a pickle can start with when it has no PROTO header (protocols 0 and 1, or a crafted
/// stream). Only a stream that parses makes such a file a pickle.
const PROTO0_START: &[u8] = b"(]}).ciNILFSVUTXKMJGBCpPgQ\x80\x88\x89";

/// PyTorch's legacy magic number 0x1950a86a20f9469cfc6c as the LONG1 payload `torch.save` writes.
const TORCH_LEGACY_MAGIC: &[u8] = b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";

/// Analyzer for pickle streams.
pub struct PickleAnalyzer;

impl Analyzer for PickleAnalyzer {
    fn id(&self) -> &'static str {
        "pickle"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        head.first()
            .is_some_and(|first| PROTO0_START.contains(first))
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        // Pickle writers emit PROTO only for protocols 2 and up: that is a real signature. Any
        // other start is weak: random bytes often begin with a tiny complete pickle (`N.`) or
        // run into an opcode that means something (an EXT code, a frame) before they break.
        // Without the signature, the content is a pickle only when its streams cover all of it,
        // or when it imports a well-formed name and something dangerous is done with it (a
        // protocol-0 payload cut short after its REDUCE).
        let strong = matches!(input.head, [0x80, 2..=5, ..]);
        let scan = run(input.source, 0, cx);
        let imports = !scan.globals.is_empty();
        let alarming = scan
            .verdicts
            .iter()
            .any(|v| matches!(v.risk, Risk::Critical | Risk::High));
        let accept = if strong {
            // A PROTO followed by a byte that is no opcode is not a pickle; one followed by an
            // opcode that runs past the end is a truncated pickle.
            let broke_at_once = scan
                .problem
                .as_ref()
                .is_some_and(|p| p.offset <= 2 && matches!(p.kind, ProblemKind::BadOpcode(_)));
            !scan.streams.is_empty() || !scan.verdicts.is_empty() || imports || !broke_at_once
        } else {
            let whole = !scan.streams.is_empty() && scan.end == input.source.len();
            whole || (imports && alarming)
        };
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
    };
    aigis_pickle::scan(source, start, &options)
}

/// Turns a pickle scan into findings: one per verdict, the format warning, and the structural
/// problem if the stream broke.
pub(crate) fn report(scan: &PickleScan, cx: &mut Context<'_>) {
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
        };
        let finding = Finding::new(rule, verdict.message.clone())
            .with_severity(severity(verdict.risk))
            .with_indicators(verdict.iocs.clone());
        cx.record(finding, Some(verdict.offset));
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
}
