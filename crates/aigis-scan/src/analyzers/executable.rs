//! Native executables that carry a model: llamafile (an Actually Portable Executable with the GGUF
//! stored in an embedded zip) and any ELF / PE / Mach-O / APE with a GGUF inside. Running such a
//! file runs native code, so it is reported as an executable and its embedded GGUF is analysed.
//! Executables without a model are not claimed (they stay `unsupported`).
//!
//! A GGUF is looked for in the embedded zip (whose members the zip analyzer also scans, as the
//! registry's embedded pass sees the zip) and, for a GGUF appended without a zip, by its magic and
//! version in the first [`SEARCH_LIMIT`] bytes.

use super::gguf;
use crate::analyzer::{Analyzer, Context, Input};
use crate::archive::zip_index::ends_with_eocd;
use crate::{ByteSource, Format, Limits, RuleId, SliceSource};

/// Bytes searched for an appended GGUF magic (executable code of a llamafile is tens of MiB).
const SEARCH_LIMIT: u64 = 64 << 20;
/// Bytes read per search step.
const CHUNK: usize = 1 << 20;

/// Analyzer for executables carrying a model.
pub struct ExecutableAnalyzer;

/// The executable kind from its magic, if any.
fn kind(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"MZqFpD") || head.starts_with(b"jartsr=") {
        return Some("Actually Portable Executable");
    }
    if head.starts_with(b"\x7fELF") {
        return Some("ELF");
    }
    if head.starts_with(b"MZ") {
        return Some("PE");
    }
    let magic = head.get(..4)?;
    if [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
        [0xca, 0xfe, 0xba, 0xbe],
    ]
    .iter()
    .any(|m| m == magic)
    {
        return Some("Mach-O");
    }
    None
}

impl Analyzer for ExecutableAnalyzer {
    fn id(&self) -> &'static str {
        "executable"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        kind(head).is_some()
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let kind = kind(input.head)?;
        let source = input.source;
        if let Some(member) = gguf_in_zip(input, cx.limits()) {
            let msg = format!(
                "{kind} executable carrying the GGUF model `{member}` in an embedded zip (llamafile): running this file runs native code; it is not a data file"
            );
            cx.report(RuleId::ExecutableModel, msg, None);
            cx.model().metadata.insert("executable".into(), kind.into());
            // The registry's embedded-zip pass scans the zip members, the GGUF included.
            return Some(Format::Executable);
        }
        let at = match find_gguf(source) {
            Ok(Some(at)) => at,
            Ok(None) => return None,
            Err(err) => {
                cx.read_error(&err);
                return None;
            }
        };
        let msg = format!(
            "{kind} executable carrying a GGUF model at byte {at}: running this file runs native code; it is not a data file"
        );
        cx.report(RuleId::ExecutableModel, msg, Some(at));
        cx.model().metadata.insert("executable".into(), kind.into());
        let embedded = SliceSource::new(source, at, source.len() - at);
        gguf::analyze_source(&embedded, at, cx);
        Some(Format::Executable)
    }
}

/// Name of a zip member that is a GGUF file, if the file ends with a zip holding one.
fn gguf_in_zip(input: &Input<'_>, limits: &Limits) -> Option<String> {
    let source = input.source;
    if !ends_with_eocd(source) {
        return None;
    }
    let index = input.zip_index(limits);
    index.entries.iter().find_map(|entry| {
        let stored_gguf = entry.method == 0
            && source
                .read_vec(entry.data_offset, 4)
                .is_ok_and(|m| m == gguf::MAGIC);
        (stored_gguf || entry.name.to_ascii_lowercase().ends_with(".gguf"))
            .then(|| entry.name.clone())
    })
}

/// Offset of the first `GGUF` magic followed by a known version, in the first bytes of the file.
fn find_gguf(source: &dyn ByteSource) -> std::io::Result<Option<u64>> {
    let limit = source.len().min(SEARCH_LIMIT);
    let mut offset = 0u64;
    while offset < limit {
        // Overlap chunks by 7 bytes so a magic + version across a boundary is seen.
        let chunk = source.read_vec(offset, CHUNK + 7)?;
        if chunk.len() < 8 {
            break;
        }
        for (i, window) in chunk.windows(8).enumerate() {
            if &window[..4] == gguf::MAGIC && matches!(window[4..], [1..=3, 0, 0, 0]) {
                let at = offset + i as u64;
                if at > 0 {
                    return Ok(Some(at));
                }
            }
        }
        offset += CHUNK as u64;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemorySource;

    #[test]
    fn finds_appended_gguf_and_ignores_plain_binaries() {
        let mut exe = b"\x7fELF\x02\x01\x01".to_vec();
        exe.extend(vec![0x90; 5000]);
        let plain = MemorySource::new(exe.clone());
        assert_eq!(find_gguf(&plain).ok().flatten(), None);
        exe.extend(b"GGUF\x03\x00\x00\x00");
        let with_model = MemorySource::new(exe);
        assert_eq!(find_gguf(&with_model).ok().flatten(), Some(5007));
        assert_eq!(kind(b"MZqFpD='"), Some("Actually Portable Executable"));
        assert_eq!(kind(b"\x7fELF"), Some("ELF"));
        assert_eq!(kind(b"GGUF"), None);
    }
}
