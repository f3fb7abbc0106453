//! Zip archives: PyTorch checkpoints, TorchScript archives, NumPy `.npz`, and plain zips holding
//! models. Members are found by both the central directory and the local headers (see
//! [`crate::archive::zip_index`]), opened the way loaders do — ignoring CRCs and encryption flags —
//! and each is sniffed by content and fed back through the registry.

use crate::analyzer::{Analyzer, Context, Input};
use crate::archive::member;
use crate::archive::walk::{MemberKind, MemberWalk, Visit};
use crate::archive::zip_index::{ZipEntry, ZipIndex, ends_with_eocd};
use crate::{ByteSource, Format, Limits, RuleId};

/// Analyzer for zip-based formats.
pub struct ZipAnalyzer;

impl Analyzer for ZipAnalyzer {
    fn id(&self) -> &'static str {
        "zip"
    }

    fn version(&self) -> u32 {
        4
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let index = input.zip_index(cx.limits());
        Some(analyze_index(input.source, index, cx))
    }

    fn sniff_embedded(&self, input: &Input<'_>, limits: &Limits) -> bool {
        if !ends_with_eocd(input.source) {
            return false;
        }
        let index = input.zip_index(limits);
        // A Keras or skops model is claimed by its own analyzer, wherever the zip starts.
        index.broken.is_none()
            && !index.entries.is_empty()
            && !crate::analyzers::keras::is_keras_zip(input.source, index)
            && !crate::analyzers::skops::is_skops_zip(input.source, index)
    }
}

/// Role of a member inside a PyTorch archive, decided from the directory layout.
fn is_tensor_storage(name: &str, torch: bool) -> bool {
    torch
        && name
            .rsplit_once("/data/")
            .is_some_and(|(_, key)| !key.is_empty() && !key.contains('/'))
}

/// Scans every member of an indexed zip and returns the archive's format.
pub(crate) fn analyze_index(
    source: &dyn ByteSource,
    index: &ZipIndex,
    cx: &mut Context<'_>,
) -> Format {
    if let Some(reason) = &index.broken {
        cx.malformed(RuleId::ArchiveMalformed, format!("zip: {reason}"), None);
        if index.capped {
            cx.not_analysed(reason.clone());
        }
    }
    for anomaly in &index.anomalies {
        cx.report(RuleId::ZipInconsistent, anomaly.clone(), None);
    }
    for overlap in &index.overlaps {
        cx.malformed(RuleId::ZipInconsistent, overlap.clone(), None);
    }
    let names: Vec<&str> = index.entries.iter().map(|e| e.name.as_str()).collect();
    let torch = names
        .iter()
        .any(|n| *n == "data.pkl" || n.ends_with("/data.pkl"));
    // torch.save's layout: `<archive>/version` (or `.data/version`) and flat storages
    // `<archive>/data/<key>`. A PT2 archive (torch.export, AOTInductor) also has a version and
    // data/ folders, but says so in `archive_format` and is read by torch.export.load.
    let top_level = |n: &str, rest: &str| {
        n.split_once('/')
            .is_some_and(|(archive, tail)| !archive.is_empty() && tail == rest)
    };
    let flat_storage = |n: &str| {
        n.split_once('/')
            .and_then(|(_, tail)| tail.strip_prefix("data/"))
            .is_some_and(|key| !key.is_empty() && !key.contains('/'))
    };
    if !torch
        && names
            .iter()
            .any(|n| top_level(n, "version") || top_level(n, ".data/version"))
        && names.iter().any(|n| flat_storage(n))
        && !names.iter().any(|n| top_level(n, "archive_format"))
    {
        // torch.save's layout with no pickle to read: torch.load refuses it, so it is no model
        // aigis could judge.
        cx.malformed(
            RuleId::FormatMalformed,
            "a PyTorch archive (version record and data/ storages) with no data.pkl: torch.load \
             refuses it, and nothing says what the tensors are"
                .to_string(),
            None,
        );
    }
    let torchscript = names
        .iter()
        .any(|n| n.ends_with("/constants.pkl") || n.contains("/code/"));
    let mut walk = MemberWalk::pre_capped();
    let mut member_formats = Vec::new();
    for entry in &index.entries {
        if let Some(local) = entry.local_name.as_deref().filter(|l| *l != entry.name) {
            walk.check_name(local, cx);
        }
        let target;
        let special;
        let kind = if entry.is_dir() {
            MemberKind::Dir
        } else if entry.is_symlink() {
            target = member::read_to_vec(source, entry, 4096)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            MemberKind::Symlink(&target)
        } else if let Some(mode) = entry.unix_mode.filter(|m| {
            let kind = m & 0o170000;
            kind != 0 && kind != 0o100000 && kind != 0o040000
        }) {
            special = format!("mode {mode:o}");
            MemberKind::Special(&special)
        } else {
            MemberKind::File
        };
        match walk.visit(&entry.name, kind, cx) {
            Visit::Scan => {}
            Visit::Skip => continue,
            Visit::Stop => break,
        }
        if let Some(format) = scan_entry(source, entry, is_tensor_storage(&entry.name, torch), cx) {
            member_formats.push(format);
        }
    }
    if torch {
        cx.model().set_framework("pytorch");
        cx.type_storages();
    }
    if torchscript && torch {
        Format::Torchscript
    } else if torch {
        Format::PytorchZip
    } else if !member_formats.is_empty() && member_formats.iter().all(|f| *f == Format::Numpy) {
        Format::NumpyNpz
    } else {
        Format::Zip
    }
}

/// Opens a member and scans it. Tensor storages are only peeked at: they are read further only
/// when they start like a pickle.
fn scan_entry(
    source: &dyn ByteSource,
    entry: &ZipEntry,
    tensor: bool,
    cx: &mut Context<'_>,
) -> Option<Format> {
    if entry.flags & 1 != 0 {
        let msg = format!(
            "`{}` is flagged as encrypted; read as plain data the way lenient loaders do",
            entry.name
        );
        cx.report(RuleId::ZipInconsistent, msg, None);
    }
    if tensor && entry.method == 0 {
        // A stored storage is a byte range of the file: the deep checks read it in their pass
        // (its element type comes from data.pkl, applied once the archive is read).
        cx.declare_tensor(crate::deep::TensorSpan {
            name: entry.name.clone(),
            start: entry.data_offset,
            len: entry.compressed_size,
            kind: crate::deep::TensorKind::Other,
        });
    }
    let bytes = match member::open(source, entry, cx.limits()) {
        Ok(bytes) => bytes,
        Err(err) => {
            let msg = format!("`{}`: {err}; not analysed", entry.name);
            cx.malformed(RuleId::ArchiveMalformed, msg, None);
            return None;
        }
    };
    if tensor && !starts_like_pickle(&bytes) {
        return None;
    }
    let format = cx.scan_member(&entry.name, &bytes);
    bytes.settle(&entry.name, cx);
    format
}

/// A PROTO opcode with a known protocol: the only way a tensor storage would be a pickle.
fn starts_like_pickle(source: &dyn ByteSource) -> bool {
    matches!(source.read_vec(0, 2).as_deref(), Ok([0x80, 2..=5]))
}
