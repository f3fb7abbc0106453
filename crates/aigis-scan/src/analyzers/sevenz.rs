//! 7-Zip archives. Members are decoded one at a time with `sevenz-rust2` under the per-member cap,
//! scanned, and dropped before the next is decoded, so memory stays at one member (plus the
//! decoder, whose dictionary is capped too). Archive hygiene as for tar and zip: paths escaping
//! the destination, links (Unix mode in the high attribute bits, or a Windows reparse point),
//! duplicate names.

use crate::analyzer::{Analyzer, Context, Input};
use crate::archive::walk::{MemberKind, MemberWalk, Visit};
use crate::{Format, MemorySource, RuleId, SourceReader};
use sevenz_rust2::{ArchiveEntry, EntryDecision};
use std::io::Read;

/// Analyzer for 7z archives.
pub struct SevenZAnalyzer;

const MAGIC: &[u8] = b"7z\xbc\xaf\x27\x1c";

/// Most memory (KiB) a decoder may ask for: the header buffers and the LZMA/PPMd dictionary an
/// archive declares. 64 MiB covers `7z -mx9` (LZMA2, 64 MiB dictionary).
const DECODER_MEMORY_KIB: usize = 96 << 10;

/// `FILE_ATTRIBUTE_UNIX_EXTENSION`: the high 16 bits of the attributes hold a Unix mode.
const UNIX_EXTENSION: u32 = 0x8000;
/// `FILE_ATTRIBUTE_REPARSE_POINT` (a Windows symbolic link or junction).
const REPARSE_POINT: u32 = 0x400;

/// Whether an entry is a link: a Unix symlink mode, or a Windows reparse point.
fn is_link(entry: &ArchiveEntry) -> bool {
    if !entry.has_windows_attributes {
        return false;
    }
    let attributes = entry.windows_attributes;
    let unix_link = attributes & UNIX_EXTENSION != 0 && (attributes >> 16) & 0o170_000 == 0o120_000;
    unix_link || attributes & REPARSE_POINT != 0
}

impl Analyzer for SevenZAnalyzer {
    fn id(&self) -> &'static str {
        "7z"
    }

    fn version(&self) -> u32 {
        2
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        head.starts_with(MAGIC)
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let mut reader = match sevenz_rust2::ArchiveReader::new_with_memory_limit(
            SourceReader::new(input.source),
            sevenz_rust2::Password::empty(),
            DECODER_MEMORY_KIB,
        ) {
            Ok(reader) => reader,
            Err(err) => {
                cx.malformed(RuleId::ArchiveMalformed, format!("7z: {err}"), None);
                return Some(Format::SevenZ);
            }
        };
        // One decoding thread: files are already scanned in parallel, and the multi-threaded
        // LZMA2 decoder buffers whole chunks per thread.
        reader.set_thread_count(1);
        let cap = cx.limits().max_member_bytes;
        let mut walk = MemberWalk::new();
        let result = reader.for_each_entries_with_decision(|entry, data| {
            let name = entry.name().replace('\\', "/");
            let link = is_link(entry);
            // A link's target is its data: read it (bounded) before judging the member.
            let mut target = String::new();
            if link && entry.has_stream {
                let mut bytes = Vec::new();
                if let Err(err) = data.take(4096).read_to_end(&mut bytes) {
                    let msg = format!("7z: `{name}`: {err}");
                    cx.malformed(RuleId::ArchiveMalformed, msg, None);
                    return Ok(EntryDecision::Stop);
                }
                target = String::from_utf8_lossy(&bytes).into_owned();
            }
            let kind = if entry.is_directory() || (!entry.has_stream && !link) {
                MemberKind::Dir
            } else if link {
                MemberKind::Symlink(&target)
            } else {
                MemberKind::File
            };
            match walk.visit(&name, kind, cx) {
                Visit::Scan => {}
                Visit::Skip => return Ok(EntryDecision::Continue),
                Visit::Stop => return Ok(EntryDecision::Stop),
            }
            // Read one byte past the cap (to know it was exceeded). The buffer is reserved from the
            // declared size (bounded by the cap) so it does not double while growing; pages a
            // lying size reserves but nothing fills are never touched.
            let reserve = entry.size.min(cap).saturating_add(1);
            let mut buf = Vec::with_capacity(usize::try_from(reserve).unwrap_or(0));
            if let Err(err) = data.take(cap.saturating_add(1)).read_to_end(&mut buf) {
                let msg = format!("7z: `{name}`: {err}");
                cx.malformed(RuleId::ArchiveMalformed, msg, None);
                return Ok(EntryDecision::Stop);
            }
            let over = buf.len() as u64 > cap;
            if over {
                buf.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
                let msg = format!(
                    "`{name}` decompresses beyond {cap} bytes; the rest of its solid block was \
                     not analysed"
                );
                cx.malformed(RuleId::ResourceLimit, msg, None);
                cx.not_analysed(format!("`{name}` past the {cap}-byte member cap"));
            }
            if !cx.charge_decompressed(buf.len() as u64) {
                return Ok(EntryDecision::Stop);
            }
            cx.scan_member(&name, &MemorySource::new(buf));
            // Past the cap, the rest of the member would still have to be decoded to reach the
            // next one in the same solid block: skip the block instead.
            Ok(if over {
                EntryDecision::SkipBlock
            } else {
                EntryDecision::Continue
            })
        });
        if let Err(err) = result {
            cx.malformed(RuleId::ArchiveMalformed, format!("7z: {err}"), None);
        }
        Some(Format::SevenZ)
    }
}
