//! 7-Zip archives. Members are decoded one at a time (by [`crate::archive::sevenz_members`], block
//! by block) under the per-member cap, scanned, and dropped before the next is decoded, so memory
//! stays at one member (plus the decoder, whose dictionary is capped too). A member in a block
//! aigis cannot decode (a coder it lacks, encryption, a dictionary past the cap) is reported as
//! unscannable at high and the result is incomplete: never clean. Archive hygiene as for tar and
//! zip: paths escaping the destination, links (Unix mode in the high attribute bits, or a Windows
//! reparse point), duplicate names.

use crate::analyzer::{Analyzer, Context, Input};
use crate::archive::sevenz_members::{self, Step, Visitor, is_link};
use crate::archive::walk::{MemberKind, MemberWalk, Visit};
use crate::{Format, MemorySource, RuleId};
use sevenz_rust2::ArchiveEntry;
use std::io::Read;

/// Analyzer for 7z archives.
pub struct SevenZAnalyzer;

const MAGIC: &[u8] = b"7z\xbc\xaf\x27\x1c";

impl Analyzer for SevenZAnalyzer {
    fn id(&self) -> &'static str {
        "7z"
    }

    fn version(&self) -> u32 {
        3
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        head.starts_with(MAGIC)
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let cap = cx.limits().max_member_bytes;
        let mut judge = Judge {
            cx,
            walk: MemberWalk::new(),
            cap,
        };
        sevenz_members::read(input.source, &mut judge);
        Some(Format::SevenZ)
    }
}

/// Judges the members the reader hands over: the member walk, the per-member cap, the scan.
struct Judge<'c, 'a> {
    cx: &'c mut Context<'a>,
    walk: MemberWalk,
    cap: u64,
}

impl Visitor for Judge<'_, '_> {
    fn member(&mut self, entry: &ArchiveEntry, name: &str, data: &mut dyn Read) -> Step {
        let cx = &mut *self.cx;
        let cap = self.cap;
        let link = is_link(entry);
        // A link's target is its data: read it (bounded) before judging the member.
        let mut target = String::new();
        if link && entry.has_stream {
            let mut bytes = Vec::new();
            if let Err(err) = data.take(4096).read_to_end(&mut bytes) {
                let msg = format!("7z: `{name}`: {err}");
                cx.malformed(RuleId::ArchiveMalformed, msg, None);
                return Step::SkipBlock;
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
        match self.walk.visit(name, kind, cx) {
            Visit::Scan => {}
            Visit::Skip => return Step::Continue,
            Visit::Stop => return Step::Stop,
        }
        // Read one byte past the cap (to know it was exceeded). The buffer is reserved from the
        // declared size (bounded by the cap) so it does not double while growing; pages a
        // lying size reserves but nothing fills are never touched.
        let reserve = entry.size.min(cap).saturating_add(1);
        let mut buf = Vec::with_capacity(usize::try_from(reserve).unwrap_or(0));
        if let Err(err) = data.take(cap.saturating_add(1)).read_to_end(&mut buf) {
            let msg = format!("7z: `{name}`: {err}");
            cx.malformed(RuleId::ArchiveMalformed, msg, None);
            // What was decoded before the error is what an extractor wrote: scan it too.
            if !buf.is_empty() && cx.charge_decompressed(buf.len() as u64) {
                cx.scan_member(name, &MemorySource::new(buf));
            }
            return Step::SkipBlock;
        }
        let over = buf.len() as u64 > cap;
        if over {
            buf.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
            let msg = format!(
                "`{name}` decompresses beyond {cap} bytes; the rest of its solid block was not \
                 analysed"
            );
            cx.malformed(RuleId::ResourceLimit, msg, None);
            cx.not_analysed(format!("`{name}` past the {cap}-byte member cap"));
        }
        if !cx.charge_decompressed(buf.len() as u64) {
            return Step::Stop;
        }
        cx.scan_member(name, &MemorySource::new(buf));
        // Past the cap, the rest of the member would still have to be decoded to reach the
        // next one in the same solid block: skip the block instead.
        if over {
            Step::SkipBlock
        } else {
            Step::Continue
        }
    }

    fn undecodable(&mut self, names: &[String], why: &str) {
        let cx = &mut *self.cx;
        if names.is_empty() {
            let msg = format!(
                "7z: {why}; no member could be listed or scanned, while 7-Zip or py7zr can \
                 extract it"
            );
            cx.report(RuleId::ArchiveUnscannableMember, msg, None);
            cx.not_analysed(why.to_string());
            return;
        }
        for name in names {
            cx.with_member(name, |cx| {
                let msg = format!(
                    "`{name}` was not scanned: {why}. 7-Zip or py7zr extracts it, so what it \
                     holds is unknown"
                );
                cx.report(RuleId::ArchiveUnscannableMember, msg, None);
            });
        }
        cx.not_analysed(format!(
            "{} 7z member(s) that aigis cannot decode: {why}",
            names.len()
        ));
    }

    fn malformed(&mut self, message: String) {
        self.cx.malformed(RuleId::ArchiveMalformed, message, None);
    }
}
