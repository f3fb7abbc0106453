//! Compressed streams — gzip, zlib, bzip2, xz, LZMA-alone, LZ4 frame, Zstandard — as used by
//! compressed joblib files and `.pkl.gz` downloads, and joblib's legacy `ZF` container
//! (joblib < 0.10: `ZF`, the data length in hex padded to 19 bytes, then a zlib stream). Every
//! stream, member and frame is decoded to the end of the data as the Python readers read them
//! (see [`streams`]); the decoded bytes are scanned like a file.

mod streams;

use crate::analyzer::{Analyzer, Context, Input};
use crate::archive::decoded::{DecodeStop, DecodedSource};
use crate::{ByteSource, Finding, Format, RuleId, Severity, SliceSource};
use std::sync::{Arc, Mutex};
use streams::{Codec, MultiStream, Notes};

/// Analyzer for compressed streams.
pub struct CompressedAnalyzer;

/// Length of joblib's legacy `ZF` header: the prefix and `len(hex(2**64))` bytes.
const ZFILE_HEADER: usize = 2 + 19;

fn codec(head: &[u8]) -> Option<(Format, Codec)> {
    match head {
        [0x1f, 0x8b, ..] => Some((Format::Gzip, Codec::Gzip)),
        [b'B', b'Z', b'h', b'1'..=b'9', ..] => Some((Format::Bz2, Codec::Bz2)),
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Some((Format::Xz, Codec::Lzma)),
        [0x04, 0x22, 0x4d, 0x18, ..] => Some((Format::Lz4, Codec::Lz4)),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some((Format::Zstd, Codec::Zstd)),
        // Frames a Zstandard or LZ4 reader skips can come first: the first real frame decides.
        [0x50..=0x5f, 0x2a, 0x4d, 0x18, ..] => Some(after_skippable(head)),
        [b'Z', b'F', ..] if zfile_length(head).is_some() => Some((Format::Joblib, Codec::Zlib)),
        // LZMA-alone, as liblzma's auto decoder accepts it (every properties byte below 225).
        _ if streams::lzma_alone_header(head) => Some((Format::Lzma, Codec::Lzma)),
        // zlib: CM=8, window ≤ 32K, header checksum; joblib's `compress=N` writes raw zlib.
        [cmf, flg, ..]
            if cmf & 0x0f == 8
                && cmf >> 4 <= 7
                && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0 =>
        {
            Some((Format::Zlib, Codec::Zlib))
        }
        _ => None,
    }
}

/// The codec of a file that starts with skippable frames, from the first other frame in `head`
/// (Zstandard when none is in sight).
fn after_skippable(head: &[u8]) -> (Format, Codec) {
    let mut at = 0usize;
    while let Some(word) = head.get(at..at + 8) {
        let magic = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        if magic & 0xFFFF_FFF0 != 0x184D_2A50 {
            if magic == 0x184D_2204 {
                return (Format::Lz4, Codec::Lz4);
            }
            break;
        }
        let len = u32::from_le_bytes([word[4], word[5], word[6], word[7]]) as usize;
        at = at.saturating_add(8).saturating_add(len);
    }
    (Format::Zstd, Codec::Zstd)
}

/// The data length of a joblib `ZF` header, read as `int(field, 16)` reads it (whitespace,
/// sign, `0x` prefix and single underscores allowed).
fn zfile_length(head: &[u8]) -> Option<i128> {
    let field = head.get(2..ZFILE_HEADER)?;
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c));
    let (negative, text) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .map(|d| d.strip_prefix('_').unwrap_or(d))
        .unwrap_or(text);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let value = i128::from_str_radix(&digits.replace('_', ""), 16).ok()?;
    Some(if negative { -value } else { value })
}

/// Whether `source` is one zlib stream that decodes without error to its end (at most `cap`
/// decoded bytes are produced; a stream still going at the cap counts as decoding).
fn zlib_decodes_cleanly(source: &dyn ByteSource, cap: u64) -> bool {
    use std::io::Read;
    let mut decoder = flate2::read::ZlibDecoder::new(crate::SourceReader::new(source));
    let mut chunk = vec![0u8; 64 << 10];
    let mut produced = 0u64;
    loop {
        match decoder.read(&mut chunk) {
            Ok(0) => return true,
            Ok(n) => {
                produced += n as u64;
                if produced > cap {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
}

/// Where the compressed data starts: 0, or after joblib's `ZF` header (and the optional space
/// older joblib wrote).
fn data_start(source: &dyn ByteSource, format: Format) -> u64 {
    if format != Format::Joblib {
        return 0;
    }
    match source.read_vec(ZFILE_HEADER as u64, 1).as_deref() {
        Ok(b" ") => ZFILE_HEADER as u64 + 1,
        _ => ZFILE_HEADER as u64,
    }
}

impl Analyzer for CompressedAnalyzer {
    fn id(&self) -> &'static str {
        "compressed"
    }

    fn version(&self) -> u32 {
        3
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        codec(head).is_some()
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let (format, codec) = codec(input.head)?;
        // A zlib header with a window below 32K (first byte not `x`) is no zlib stream to joblib
        // (it sniffs `x`), while its first byte is a pickle opcode (`(`, `X`, `h`, …) to every
        // pickle loader: the bytes are read as the pickle loaders read them, and the zlib
        // reading counts too when it decodes cleanly (custom code may decompress it).
        let as_pickle = if format == Format::Zlib && input.head.first() != Some(&0x78) {
            crate::analyzers::pickle::PickleAnalyzer.analyze(input, cx)
        } else {
            None
        };
        if as_pickle.is_some() {
            if !zlib_decodes_cleanly(input.source, cx.limits().max_member_bytes) {
                return as_pickle;
            }
            cx.report(
                RuleId::Polyglot,
                "file is both a pickle (as pickle loaders read it) and a zlib stream (as a \
                 zlib reader decompresses it): both readings were analysed",
                None,
            );
        }
        let weak = matches!(format, Format::Zlib | Format::Lzma);
        let start = data_start(input.source, format);
        let window = SliceSource::new(
            input.source,
            start,
            input.source.len().saturating_sub(start),
        );
        let notes = Arc::new(Mutex::new(Notes::default()));
        let reader = MultiStream::new(&window, codec, 0, notes.clone());
        let limits = cx.limits();
        let decoded = DecodedSource::new(
            Box::new(reader),
            input.source.len(),
            None,
            limits.max_member_bytes,
            limits.max_ratio,
        );
        // A weak magic (zlib, LZMA-alone) is only trusted once some data decodes.
        if weak
            && decoded
                .read_vec(0, 16)
                .map(|b| b.is_empty())
                .unwrap_or(true)
        {
            return None;
        }
        let what = if format == Format::Joblib {
            "joblib ZF (zlib)".to_string()
        } else {
            format.to_string()
        };
        let inner_name = format!("<{format}>");
        let inner = cx.scan_member(&inner_name, &decoded);
        if !decoded.finished() && decoded.stop().is_none() {
            // The inner analyzer did not need the whole stream; make sure it is intact.
            decoded.decode_all();
        }
        cx.charge_decompressed(decoded.decoded_len());
        match decoded.stop() {
            Some(DecodeStop::Corrupt(err)) if err.contains("memory") => {
                let finding = Finding::new(
                    RuleId::ResourceLimit,
                    format!(
                        "{what} stream needs more decoder memory than aigis allows ({err}); \
                         a loader decodes what aigis did not"
                    ),
                );
                cx.record(finding.with_severity(Severity::High), None);
                cx.malformed(
                    RuleId::ResourceLimit,
                    format!("{what} stream not fully decoded"),
                    None,
                );
                cx.not_analysed(format!("{what} stream past the decoder memory limit"));
            }
            Some(DecodeStop::Corrupt(err))
                if codec == Codec::Lzma && streams::truncated_lzma(&err) =>
            {
                let finding = Finding::new(
                    RuleId::ArchiveMalformed,
                    format!(
                        "{what} stream ends inside a compressed chunk: Python's lzma hands out the \
                         start of that chunk (a pickle there runs), aigis decodes whole chunks only"
                    ),
                );
                cx.record(finding.with_severity(Severity::High), None);
                cx.malformed(
                    RuleId::ArchiveMalformed,
                    format!("{what} stream truncated: {err}"),
                    None,
                );
            }
            Some(DecodeStop::Corrupt(err)) => cx.malformed(
                RuleId::ArchiveMalformed,
                format!("{what} stream corrupt or truncated: {err}"),
                None,
            ),
            Some(DecodeStop::Cap(cap)) => {
                cx.malformed(
                    RuleId::ResourceLimit,
                    format!(
                        "{what} stream decompresses beyond {cap} bytes; the rest was not analysed"
                    ),
                    None,
                );
                cx.not_analysed(format!("{what} stream past the {cap}-byte member cap"));
            }
            None => {}
        }
        let notes = notes.lock().map(|n| n.clone()).unwrap_or_default();
        if notes.truncated {
            let finding = Finding::new(
                RuleId::ArchiveMalformed,
                format!(
                    "{what} data ends inside a frame: zstandard's reader returns the blocks before \
                     the cut without an error, and aigis may not have decoded the last of them"
                ),
            );
            cx.record(finding.with_severity(Severity::High), None);
        }
        if let Some(at) = notes.ignored_from {
            let msg = format!(
                "{} bytes after the last {what} stream (from byte {}) are not a stream; Python's \
                 reader ignores them",
                input.source.len().saturating_sub(start + at),
                start + at
            );
            cx.report(RuleId::ArchiveMalformed, msg, Some(start + at));
        }
        if format == Format::Joblib
            && let Some(length) = zfile_length(input.head)
            && decoded.finished()
            && i128::from(decoded.decoded_len()) != length
        {
            let msg = format!(
                "joblib ZF header says {length} bytes, the zlib stream holds {}; joblib refuses \
                 the file unless Python runs with -O",
                decoded.decoded_len()
            );
            cx.malformed(RuleId::ArchiveMalformed, msg, None);
        }
        if let Some(r) = decoded.past_ratio() {
            cx.malformed(
                RuleId::ResourceLimit,
                format!(
                    "{what} stream expands more than {r}x (decompression bomb); analysed up to \
                     the member cap"
                ),
                None,
            );
        }
        if as_pickle.is_some() {
            return as_pickle;
        }
        Some(match inner {
            Some(Format::Joblib) | Some(Format::Pickle) if format == Format::Zlib => Format::Joblib,
            Some(Format::Joblib) => Format::Joblib,
            _ => format,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_codecs_by_magic() {
        let f = |head: &[u8]| codec(head).map(|c| c.0);
        assert_eq!(f(b"\x1f\x8b\x08\x00"), Some(Format::Gzip));
        assert_eq!(f(b"BZh91AY"), Some(Format::Bz2));
        assert_eq!(f(b"\xfd7zXZ\x00\x00"), Some(Format::Xz));
        assert_eq!(f(b"\x78\x9c\x01"), Some(Format::Zlib));
        assert_eq!(f(b"\x78\x9d"), None);
        let lzma = |props: u8, dict: u32| {
            let mut h = vec![props];
            h.extend(dict.to_le_bytes());
            h.extend(u64::MAX.to_le_bytes());
            f(&h)
        };
        assert_eq!(lzma(0x5d, 1 << 23), Some(Format::Lzma));
        assert_eq!(lzma(0, 3 << 20), Some(Format::Lzma));
        assert_eq!(lzma(184, u32::MAX), Some(Format::Lzma));
        assert_eq!(lzma(224, 1 << 23), None); // lc + lp > 4
        assert_eq!(lzma(225, 1 << 23), None);
        assert_eq!(lzma(0x5d, (1 << 23) + 1), None);
        assert_eq!(f(b"ZF0x1f               x\x9c"), Some(Format::Joblib));
        assert_eq!(zfile_length(b"ZF 0X1_F             "), Some(31));
        assert_eq!(zfile_length(b"ZF0x1g               "), None);
        assert_eq!(f(b"\x50\x2a\x4d\x18\x00\x00\x00\x00"), Some(Format::Zstd));
        assert_eq!(f(b"hello"), None);
    }

    #[test]
    /// A zlib header with a window below 32K is also a pickle's first two opcodes (`(` MARK
    /// then `S`, `\x91`, …): pickle loaders read such a file as a pickle, so aigis does; a
    /// real small-window zlib stream is still decompressed and scanned.
    fn zlib_looking_pickles_are_read_as_pickle_loaders_read_them() {
        let cases = [
            // `(S'a'\nS'b'\ntp0\n0cos\nsystem\n(S'touch /tmp/x'\ntR.`: 0x2853 % 31 == 0.
            (
                "protocol_0_mark_string",
                "28532761270a532762270a7470300a30636f730a73797374656d0a285327746f756368202f746d702f78270a74522e",
                Severity::Critical,
            ),
            // Found by the 1M-stream pickle campaign: MARK, FROZENSET, then
            // functools.partial(builtins.object, 'id')() — a call of an object computed at load.
            (
                "campaign_mark_frozenset",
                "28916366756e63746f6f6c730a7061727469616c0a28636275696c74696e730a6f626a6563740a5669640a745229522e",
                Severity::High,
            ),
            // zlib.compressobj(9, DEFLATED, 10) of a posix.system pickle: a zlib stream.
            (
                "zlib_window_1k",
                "28cf6b604a2ec82fceace02aae2c2e49cde52a648860626060c84c29646c2d640a2a64d60300be0e09c8",
                Severity::Critical,
            ),
        ];
        let scanner = crate::Scanner::new(crate::ScanOptions::default());
        for (name, hex_bytes, at_least) in cases {
            let bytes = hex::decode(hex_bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            let result = scanner.scan_source(name.into(), &crate::MemorySource::new(bytes));
            assert!(result.max_severity >= Some(at_least), "{name}: {result:?}");
        }
    }

    /// Payloads a Python reader reaches that a first-stream, strict-header reader misses:
    /// `pickle.dumps` of `(os.system, ('id',))` (protocol 2), whole or split across streams,
    /// made with Python's gzip, bz2, lzma, zstandard, lz4.frame and zlib (`write_zfile`'s
    /// layout for joblib's `ZF`).
    #[test]
    fn payloads_behind_the_first_stream_or_odd_headers_are_found() {
        let cases = [
            (
                "gzip_reserved_flags_and_bad_hcrc",
                "1f8b08e20000000000ff99996b604a2ec82fceace02aae2c2e49cde52a648860626060c84c29646c2d640a2a64d6030050c126c922000000",
            ),
            (
                "zstd_skippable_then_payload",
                "502a4d180300000061626328b52ffd2022110100800263706f7369780a73797374656d0a71005802000000696471018571025271032e",
            ),
            (
                "lzma_alone_props_0",
                "0000000300ffffffffffffffff0040008929c980a0ba5cb2f40694e307f0dbe0cd8aa27ec1b33ed20069bd014bd6ae8a7950fffffc800000",
            ),
            (
                "joblib_zf",
                "5a4630783232202020202020202020202020202020789c6b604a2ec82fceace02aae2c2e49cde52a648860626060c84c29646c2d640a2a64d60300be0e09c8",
            ),
            (
                "gzip_payload_across_members",
                "1f8b08000000000002036b604a2ec82fceace00200844dd8510900000000001f8b08000000000002032bae2c2e49cde52a648860626060c84c29646c2d640a2a64d60300176447f819000000",
            ),
            (
                "bz2_payload_across_streams",
                "425a683931415926535906f95e5a00000441c010100820c8404000200031064c414c09feaa1268f8bb9229c2848037caf2d0425a683931415926535995c0fef500000ad3c078100001104006222c20020020002227a468184f50a1a6980051006c24659a2967b268f8a1f8bb9229c28484ae07f7a8",
            ),
            (
                "lz4_payload_across_frames",
                "04224d18684009000000000000006d09000080800263706f7369780a000000005f2a4d18020000007a7a04224d18684019000000000000007a1900008073797374656d0a71005802000000696471018571025271032e00000000",
            ),
            (
                "zstd_payload_across_frames",
                "28b52ffd2009490000800263706f7369780a28b52ffd2019c9000073797374656d0a71005802000000696471018571025271032e",
            ),
            (
                "xz_then_lzma_alone",
                "fd377a585a000004e6d6b4460200210116000000742fe5a3010008800263706f7369780a00000000613a57d4e4bf2fe7000121096c18c5d51fb6f37d010000000004595a5d00008000ffffffffffffffff00399e4aae66f7e4debedeeab05d3ae137e82c63bbb0b641866a2c7d764dffffedf58000",
            ),
        ];
        let scanner = crate::Scanner::new(crate::ScanOptions::default());
        for (name, hex_bytes) in cases {
            let bytes = hex::decode(hex_bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            let result = scanner.scan_source(name.into(), &crate::MemorySource::new(bytes));
            assert_eq!(
                result.max_severity,
                Some(Severity::Critical),
                "{name}: {result:?}"
            );
            assert_eq!(result.status, crate::Status::Ok, "{name}: {result:?}");
        }
    }
}
