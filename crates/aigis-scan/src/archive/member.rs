//! The one place that decides what a zip member's bytes are. Every analyzer of a zip-based format
//! (PyTorch, TorchScript, NumPy `.npz`, Keras v3, skops, plain zips) opens members here, so a
//! member a loader can read is never unreadable to one analyzer and readable to another.
//!
//! Methods decoded: stored (0), deflate (8), bzip2 (12), LZMA (14, as Python's `zipfile` writes
//! it), Zstandard (93, Python ≥ 3.14 `zipfile`), xz (95). CRCs and the encryption flag are not
//! enforced, as lenient loaders (PyTorch's miniz reader) do not enforce them; both are reported by
//! the zip analyzer.

use crate::analyzer::Context;
use crate::archive::decoded::{DecodeStop, DecodedSource};
use crate::archive::zip_index::ZipEntry;
use crate::{ByteSource, Limits, RuleId, SliceSource, SourceReader};
use std::io::{self, Read};

/// Largest LZMA dictionary allocated for a zip member; members that refer further back are
/// reported corrupt rather than allowed to size an allocation.
const MAX_LZMA_DICT: u32 = 16 << 20;

/// Why a member could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    /// A compression method no decoder here implements.
    #[error("compression method {0}, which aigis cannot decode")]
    Unsupported(u16),
    /// The stream header of a known method is broken.
    #[error("{method} data corrupt: {reason}")]
    Corrupt {
        /// Method name.
        method: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The member is larger than the caller's cap (see [`read_to_vec`]).
    #[error("larger than {0} bytes")]
    TooLarge(u64),
    /// The data ended or failed to decode before the member did.
    #[error("{0}")]
    Read(String),
}

/// The bytes of one member: a window of the archive when stored, a lazily decoded stream when
/// compressed.
pub enum MemberBytes<'a> {
    /// Stored: read in place.
    Stored(SliceSource<'a>),
    /// Compressed: decoded as far as analyzers read, up to the member cap.
    Decoded(DecodedSource<'a>),
}

impl ByteSource for MemberBytes<'_> {
    fn len(&self) -> u64 {
        match self {
            MemberBytes::Stored(s) => s.len(),
            MemberBytes::Decoded(d) => d.len(),
        }
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            MemberBytes::Stored(s) => s.read_at(offset, buf),
            MemberBytes::Decoded(d) => d.read_at(offset, buf),
        }
    }

    fn as_slice(&self) -> Option<&[u8]> {
        match self {
            MemberBytes::Stored(s) => s.as_slice(),
            MemberBytes::Decoded(_) => None,
        }
    }

    fn probe(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        match self {
            MemberBytes::Stored(s) => s.probe(offset, len),
            MemberBytes::Decoded(d) => d.read_vec(offset, len),
        }
    }
}

impl MemberBytes<'_> {
    /// After the member was analysed: charges what was decompressed against the file's budget
    /// and reports corrupt data, the member cap and a bomb-like ratio, all as `invalid`.
    pub fn settle(&self, name: &str, cx: &mut Context<'_>) {
        let MemberBytes::Decoded(decoded) = self else {
            return;
        };
        if !cx.charge_decompressed(decoded.decoded_len()) {
            return;
        }
        decoded.report_stop(&format!("`{name}`"), cx);
    }
}

/// Opens a member for reading, with `limits.max_member_bytes` as the decoded cap.
pub fn open<'a>(
    source: &'a dyn ByteSource,
    entry: &ZipEntry,
    limits: &Limits,
) -> Result<MemberBytes<'a>, MemberError> {
    if entry.method == 0 {
        return Ok(MemberBytes::Stored(SliceSource::new(
            source,
            entry.data_offset,
            entry.compressed_size,
        )));
    }
    let reader = decoder(source, entry)?;
    Ok(MemberBytes::Decoded(DecodedSource::new(
        reader,
        entry.compressed_size,
        Some(entry.uncompressed_size),
        limits.max_member_bytes,
        limits.max_ratio,
    )))
}

/// Reads a whole member (a config inside a zip-based format) through the same decoders, failing
/// when it decodes to more than `cap` bytes or its data is corrupt.
pub fn read_to_vec(
    source: &dyn ByteSource,
    entry: &ZipEntry,
    cap: u64,
) -> Result<Vec<u8>, MemberError> {
    let reader = stream(source, entry)?;
    let mut out = Vec::new();
    reader
        .take(cap.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| MemberError::Read(e.to_string()))?;
    if out.len() as u64 > cap {
        return Err(MemberError::TooLarge(cap));
    }
    Ok(out)
}

/// The member's bytes as a stream, decoded as they are read and never kept: for readers that
/// go through a member once, whatever its size (a config far larger than memory should hold).
pub fn stream<'a>(
    source: &'a dyn ByteSource,
    entry: &ZipEntry,
) -> Result<Box<dyn Read + Send + 'a>, MemberError> {
    if entry.method == 0 {
        return Ok(Box::new(SourceReader::window(
            source,
            entry.data_offset,
            entry.compressed_size,
        )));
    }
    decoder(source, entry)
}

/// A decoder over a compressed member's stored bytes.
fn decoder<'a>(
    source: &'a dyn ByteSource,
    entry: &ZipEntry,
) -> Result<Box<dyn Read + Send + 'a>, MemberError> {
    let stored = SourceReader::window(source, entry.data_offset, entry.compressed_size);
    Ok(match entry.method {
        8 => Box::new(flate2::read::DeflateDecoder::new(stored)),
        12 => Box::new(bzip2::read::BzDecoder::new(stored)),
        14 => Box::new(zip_lzma_reader(stored, entry)?),
        93 => Box::new(
            ruzstd::decoding::StreamingDecoder::new(stored).map_err(|e| MemberError::Corrupt {
                method: "zstd",
                reason: e.to_string(),
            })?,
        ),
        95 => Box::new(lzma_rust2::XzReader::new(stored, true)),
        other => return Err(MemberError::Unsupported(other)),
    })
}

/// A decoder for a zip member of method 14: version (2 bytes), properties size (2 bytes,
/// 5), properties (lc/lp/pb byte, dictionary size), then raw LZMA. Flag bit 1 says the stream
/// ends with an end marker; otherwise it ends after the declared uncompressed size.
fn zip_lzma_reader<'a>(
    mut stored: SourceReader<'a>,
    entry: &ZipEntry,
) -> Result<lzma_rust2::LzmaReader<SourceReader<'a>>, MemberError> {
    let corrupt = |reason: String| MemberError::Corrupt {
        method: "LZMA",
        reason,
    };
    let mut head = [0u8; 9];
    stored
        .read_exact(&mut head)
        .map_err(|_| corrupt("header truncated".into()))?;
    let [_, _, p0, p1, props, d0, d1, d2, d3] = head;
    if u16::from_le_bytes([p0, p1]) != 5 {
        return Err(corrupt("unexpected properties size".into()));
    }
    let dict_size = u32::from_le_bytes([d0, d1, d2, d3]).clamp(4096, MAX_LZMA_DICT);
    let size = if entry.flags & 2 != 0 {
        u64::MAX
    } else {
        entry.uncompressed_size
    };
    lzma_rust2::LzmaReader::new_with_props(stored, size, props, dict_size, None)
        .map_err(|e| corrupt(e.to_string()))
}

impl DecodedSource<'_> {
    /// Reports why decoding stopped early (corrupt data, the member cap) and an expansion past
    /// the ratio limit, naming the stream `what` (e.g. "`data.pkl`", "gzip stream").
    pub fn report_stop(&self, what: &str, cx: &mut Context<'_>) {
        match self.stop() {
            Some(DecodeStop::Corrupt(err)) => {
                let msg = format!("{what}: compressed data corrupt or truncated: {err}");
                cx.malformed(RuleId::ArchiveMalformed, msg, None);
            }
            Some(DecodeStop::Cap(cap)) => {
                let msg =
                    format!("{what} decompresses beyond {cap} bytes; the rest was not analysed");
                cx.malformed(RuleId::ResourceLimit, msg, None);
                cx.not_analysed(format!("{what} past the {cap}-byte member cap"));
            }
            None => {}
        }
        if let Some(r) = self.past_ratio() {
            let msg = format!(
                "{what} expands more than {r}x (decompression bomb); analysed up to the member cap"
            );
            cx.malformed(RuleId::ResourceLimit, msg, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::archive::zip_index::index_builds;
    use crate::{MemorySource, ScanOptions, Scanner, Severity};

    fn fixture(rel: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures")
            .join(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Keras v3, skops and the plain zip analyzer all look at a zip-based file; its directory is
    /// read once, whichever of them claims it.
    #[test]
    fn each_zip_directory_is_read_once_per_input() {
        let scanner = Scanner::new(ScanOptions::default());
        for rel in [
            "keras/sequential.keras",
            "skops/logreg.skops",
            "torch/state_dict.pt",
            "numpy/savez.npz",
            "zip/corrupt_earlier_member.pt",
        ] {
            let before = index_builds();
            scanner.scan_source(rel.into(), &MemorySource::new(fixture(rel)));
            assert_eq!(index_builds() - before, 1, "{rel}");
        }
    }

    /// The same payload is found whatever compression method Python's zipfile stored it with.
    #[test]
    fn every_method_zipfile_writes_is_decoded_for_every_zip_format() {
        let scanner = Scanner::new(ScanOptions::default());
        for rel in [
            "engine/keras_config_bzip2.keras",
            "engine/keras_config_lzma.keras",
            "engine/skops_schema_bzip2.skops",
            "engine/skops_schema_lzma.skops",
            "numpy/npz_lzma_object_payload.npz",
        ] {
            let result = scanner.scan_source(rel.into(), &MemorySource::new(fixture(rel)));
            assert_eq!(
                result.max_severity,
                Some(Severity::Critical),
                "{rel}: {result:?}"
            );
        }
    }
}
