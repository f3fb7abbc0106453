//! Zip archives: PyTorch checkpoints, TorchScript archives, NumPy `.npz`, and plain zips holding
//! models. Members are found by both the central directory and the local headers (see
//! [`crate::archive::zip_index`]), opened the way loaders do — ignoring CRCs and encryption flags —
//! and each is sniffed by content and fed back through the registry.

use crate::analyzer::{Analyzer, Context, Input};
use crate::archive::decoded::{DecodeStop, DecodedSource};
use crate::archive::escapes_root;
use crate::archive::zip_index::{ZipEntry, ZipIndex, ends_with_eocd, read_index};
use crate::{ByteSource, Format, RuleId, SliceSource, SourceReader};
use std::collections::HashSet;
use std::io::Read;

/// Analyzer for zip-based formats.
pub struct ZipAnalyzer;

impl Analyzer for ZipAnalyzer {
    fn id(&self) -> &'static str {
        "zip"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let index = read_index(input.source, cx.limits().max_members);
        Some(analyze_index(input.source, &index, cx))
    }

    fn sniff_embedded(&self, source: &dyn ByteSource) -> bool {
        if !ends_with_eocd(source) {
            return false;
        }
        let index = read_index(source, 1024);
        index.broken.is_none() && !index.entries.is_empty()
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
    let torchscript = names
        .iter()
        .any(|n| n.ends_with("/constants.pkl") || n.contains("/code/"));
    let mut seen = HashSet::new();
    let mut member_formats = Vec::new();
    for entry in &index.entries {
        if cx.out_of_time() {
            break;
        }
        if !seen.insert(entry.name.as_str()) {
            let msg = format!("`{}` appears more than once", entry.name);
            cx.report(RuleId::ArchiveDuplicateName, msg, None);
        }
        check_hygiene(entry, source, cx);
        if entry.is_dir() || entry.is_symlink() {
            continue;
        }
        if let Some(format) = scan_entry(source, entry, is_tensor_storage(&entry.name, torch), cx) {
            member_formats.push(format);
        }
    }
    if torch {
        cx.model().set_framework("pytorch");
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

fn check_hygiene(entry: &ZipEntry, source: &dyn ByteSource, cx: &mut Context<'_>) {
    for name in std::iter::once(&entry.name).chain(entry.local_name.as_ref()) {
        if escapes_root(name) {
            let msg = format!("member `{name}` would be extracted outside the destination folder");
            cx.report(RuleId::ArchivePathTraversal, msg, None);
            break;
        }
    }
    if entry.is_symlink() {
        let target = source
            .read_vec(entry.data_offset, entry.compressed_size.min(4096) as usize)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        if escapes_root(&target) {
            let msg = format!("symbolic link `{}` points to `{target}`", entry.name);
            cx.report(RuleId::ArchiveLinkEscape, msg, None);
        }
    }
    if let Some(mode) = entry.unix_mode {
        let kind = mode & 0o170000;
        if kind != 0 && kind != 0o100000 && kind != 0o040000 && kind != 0o120000 {
            let msg = format!("member `{}` is a special file (mode {mode:o})", entry.name);
            cx.report(RuleId::ArchiveSpecialMember, msg, None);
        }
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
    let stored = SliceSource::new(source, entry.data_offset, entry.compressed_size);
    let limits = cx.limits();
    let (cap, ratio) = (limits.max_member_bytes, limits.max_ratio);
    let decoder: Box<dyn Read + Send + '_> = match entry.method {
        0 => {
            if tensor && !starts_like_pickle(&stored) {
                return None;
            }
            return cx.scan_member(&entry.name, &stored);
        }
        8 => Box::new(flate2::read::DeflateDecoder::new(SourceReader::new(
            &stored,
        ))),
        12 => Box::new(bzip2::read::BzDecoder::new(SourceReader::new(&stored))),
        93 => match ruzstd::decoding::StreamingDecoder::new(SourceReader::new(&stored)) {
            Ok(dec) => Box::new(dec),
            Err(err) => {
                let msg = format!("`{}`: zstd data corrupt: {err}", entry.name);
                cx.malformed(RuleId::ArchiveMalformed, msg, None);
                return None;
            }
        },
        95 => Box::new(lzma_rust2::XzReader::new(SourceReader::new(&stored), true)),
        // Python's zipfile writes and reads it, so `np.load` of an npz with such members works.
        14 => match zip_lzma_reader(&stored, entry) {
            Ok(dec) => Box::new(dec),
            Err(err) => {
                let msg = format!("`{}`: LZMA data corrupt: {err}", entry.name);
                cx.malformed(RuleId::ArchiveMalformed, msg, None);
                return None;
            }
        },
        other => {
            let msg = format!(
                "`{}` uses compression method {other}, which aigis cannot decode; not analysed",
                entry.name
            );
            cx.malformed(RuleId::ArchiveMalformed, msg, None);
            return None;
        }
    };
    let decoded = DecodedSource::new(
        decoder,
        entry.compressed_size,
        Some(entry.uncompressed_size),
        cap,
        ratio,
    );
    if tensor && !starts_like_pickle(&decoded) {
        return None;
    }
    let format = cx.scan_member(&entry.name, &decoded);
    if !cx.charge_decompressed(decoded.decoded_len()) {
        return format;
    }
    match decoded.stop() {
        Some(DecodeStop::Corrupt(err)) => {
            let msg = format!("`{}`: compressed data corrupt: {err}", entry.name);
            cx.malformed(RuleId::ArchiveMalformed, msg, None);
        }
        Some(DecodeStop::Cap(cap)) => {
            let msg = format!(
                "`{}` decompresses beyond {cap} bytes; the rest was not analysed",
                entry.name
            );
            cx.malformed(RuleId::ResourceLimit, msg, None);
        }
        None => {}
    }
    if let Some(r) = decoded.past_ratio() {
        let msg = format!(
            "`{}` expands more than {r}x (decompression bomb); analysed up to the member cap",
            entry.name
        );
        cx.malformed(RuleId::ResourceLimit, msg, None);
    }
    format
}

/// A PROTO opcode with a known protocol: the only way a tensor storage would be a pickle.
fn starts_like_pickle(source: &dyn ByteSource) -> bool {
    matches!(source.read_vec(0, 2).as_deref(), Ok([0x80, 2..=5]))
}

/// Largest LZMA dictionary allocated for a zip member; members that refer further back are
/// reported corrupt rather than allowed to size an allocation.
const MAX_LZMA_DICT: u32 = 16 << 20;

/// A decoder for a zip member of method 14: version (2 bytes), properties size (2 bytes,
/// 5), properties (lc/lp/pb byte, dictionary size), then raw LZMA. Flag bit 1 says the stream
/// ends with an end marker; otherwise it ends after the declared uncompressed size.
fn zip_lzma_reader<'a>(
    stored: &'a SliceSource<'a>,
    entry: &ZipEntry,
) -> Result<lzma_rust2::LzmaReader<SourceReader<'a>>, String> {
    let head = stored.read_vec(0, 9).map_err(|e| e.to_string())?;
    let (Some(&[v0, v1, p0, p1, props, d0, d1, d2, d3]), true) =
        (head.first_chunk::<9>(), head.len() == 9)
    else {
        return Err("header truncated".into());
    };
    let _version = (v0, v1);
    if u16::from_le_bytes([p0, p1]) != 5 {
        return Err("unexpected properties size".into());
    }
    let dict_size = u32::from_le_bytes([d0, d1, d2, d3]).clamp(4096, MAX_LZMA_DICT);
    let size = if entry.flags & 2 != 0 {
        u64::MAX
    } else {
        entry.uncompressed_size
    };
    let mut reader = SourceReader::new(stored);
    let mut skip = [0u8; 9];
    reader.read_exact(&mut skip).map_err(|e| e.to_string())?;
    lzma_rust2::LzmaReader::new_with_props(reader, size, props, dict_size, None)
        .map_err(|e| e.to_string())
}
