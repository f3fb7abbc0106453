//! Single compressed streams — gzip, zlib, bzip2, xz, LZMA-alone, LZ4 frame, Zstandard — as used
//! by compressed joblib files and `.pkl.gz` downloads. The decoded stream is scanned like a file.

use crate::analyzer::{Analyzer, Context, Input};
use crate::archive::decoded::{DecodeStop, DecodedSource};
use crate::{ByteSource, Format, RuleId, SourceReader};
use std::io::Read;

/// Analyzer for compressed streams.
pub struct CompressedAnalyzer;

fn codec(head: &[u8]) -> Option<Format> {
    match head {
        [0x1f, 0x8b, ..] => Some(Format::Gzip),
        [b'B', b'Z', b'h', b'1'..=b'9', ..] => Some(Format::Bz2),
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Some(Format::Xz),
        [0x04, 0x22, 0x4d, 0x18, ..] => Some(Format::Lz4),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Format::Zstd),
        // LZMA-alone: properties byte (lc/lp/pb, < 225), then a power-of-two-ish dictionary size.
        [0x5d, 0x00, 0x00, _, _, ..] => Some(Format::Lzma),
        // zlib: CM=8, window ≤ 32K, header checksum; joblib's `compress=N` writes raw zlib.
        [cmf, flg, ..]
            if cmf & 0x0f == 8
                && cmf >> 4 <= 7
                && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0 =>
        {
            Some(Format::Zlib)
        }
        _ => None,
    }
}

fn decoder<'a>(
    format: Format,
    source: &'a dyn ByteSource,
) -> Result<Box<dyn Read + Send + 'a>, String> {
    let reader = SourceReader::new(source);
    Ok(match format {
        Format::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Format::Zlib => Box::new(flate2::read::ZlibDecoder::new(reader)),
        Format::Bz2 => Box::new(bzip2::read::MultiBzDecoder::new(reader)),
        Format::Xz => Box::new(lzma_rust2::XzReader::new(reader, true)),
        Format::Lzma => Box::new(
            lzma_rust2::LzmaReader::new_mem_limit(reader, u32::MAX, None)
                .map_err(|e| e.to_string())?,
        ),
        Format::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(reader)),
        Format::Zstd => {
            Box::new(ruzstd::decoding::StreamingDecoder::new(reader).map_err(|e| e.to_string())?)
        }
        _ => return Err("not a compressed stream".into()),
    })
}

impl Analyzer for CompressedAnalyzer {
    fn id(&self) -> &'static str {
        "compressed"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        codec(head).is_some()
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let format = codec(input.head)?;
        let weak = matches!(format, Format::Zlib | Format::Lzma);
        let reader = match decoder(format, input.source) {
            Ok(reader) => reader,
            Err(_) if weak => return None,
            Err(err) => {
                cx.malformed(
                    RuleId::ArchiveMalformed,
                    format!("{format} stream: {err}"),
                    None,
                );
                return Some(format);
            }
        };
        let limits = cx.limits();
        let decoded = DecodedSource::new(
            reader,
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
        let inner_name = format!("<{format}>");
        let inner = cx.scan_member(&inner_name, &decoded);
        cx.charge_decompressed(decoded.decoded_len());
        match decoded.stop() {
            Some(DecodeStop::Corrupt(err)) => cx.malformed(
                RuleId::ArchiveMalformed,
                format!("{format} stream corrupt or truncated: {err}"),
                None,
            ),
            Some(DecodeStop::Cap(cap)) => cx.malformed(
                RuleId::ResourceLimit,
                format!(
                    "{format} stream decompresses beyond {cap} bytes; the rest was not analysed"
                ),
                None,
            ),
            None if !decoded.finished() => {
                // The inner analyzer did not need the whole stream; make sure it is intact.
                decoded.decode_all();
                if let Some(DecodeStop::Corrupt(err)) = decoded.stop() {
                    cx.malformed(
                        RuleId::ArchiveMalformed,
                        format!("{format} stream corrupt or truncated: {err}"),
                        None,
                    );
                }
            }
            None => {}
        }
        if let Some(r) = decoded.past_ratio() {
            cx.malformed(
                RuleId::ResourceLimit,
                format!(
                    "{format} stream expands more than {r}x (decompression bomb); analysed up to \
                     the member cap"
                ),
                None,
            );
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
        assert_eq!(codec(b"\x1f\x8b\x08\x00"), Some(Format::Gzip));
        assert_eq!(codec(b"BZh91AY"), Some(Format::Bz2));
        assert_eq!(codec(b"\xfd7zXZ\x00\x00"), Some(Format::Xz));
        assert_eq!(codec(b"\x78\x9c\x01"), Some(Format::Zlib));
        assert_eq!(codec(b"\x78\x9d"), None);
        assert_eq!(codec(b"\x5d\x00\x00\x80\x00"), Some(Format::Lzma));
        assert_eq!(codec(b"hello"), None);
    }
}
