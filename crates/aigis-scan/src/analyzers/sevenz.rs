//! 7-Zip archives. Members are decoded with `sevenz-rust2` under the per-member cap and scanned.

use crate::analyzer::{Analyzer, Context, Input};
use crate::archive::escapes_root;
use crate::{Format, MemorySource, RuleId, SourceReader};
use std::io::Read;

/// Analyzer for 7z archives.
pub struct SevenZAnalyzer;

const MAGIC: &[u8] = b"7z\xbc\xaf\x27\x1c";

impl Analyzer for SevenZAnalyzer {
    fn id(&self) -> &'static str {
        "7z"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        head.starts_with(MAGIC)
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let mut reader = match sevenz_rust2::ArchiveReader::new(
            SourceReader::new(input.source),
            sevenz_rust2::Password::empty(),
        ) {
            Ok(reader) => reader,
            Err(err) => {
                cx.malformed(RuleId::ArchiveMalformed, format!("7z: {err}"), None);
                return Some(Format::SevenZ);
            }
        };
        let cap = cx.limits().max_member_bytes;
        let max_members = cx.limits().max_members;
        let mut budget = cx.limits().max_total_decompressed;
        let mut members: Vec<(String, Vec<u8>, bool)> = Vec::new();
        let mut errors = Vec::new();
        let result = reader.for_each_entries(|entry, data| {
            if members.len() >= max_members {
                return Ok(false);
            }
            if entry.is_directory() {
                return Ok(true);
            }
            let mut buf = Vec::new();
            let read = data.take(cap + 1).read_to_end(&mut buf);
            if let Err(err) = read {
                errors.push(format!("`{}`: {err}", entry.name()));
                return Ok(false);
            }
            let over = buf.len() as u64 > cap;
            buf.truncate(cap as usize);
            budget = budget.saturating_sub(buf.len() as u64);
            members.push((entry.name().to_string(), buf, over));
            Ok(budget > 0)
        });
        if let Err(err) = result {
            errors.push(err.to_string());
        }
        for (name, data, over) in members {
            if escapes_root(&name) {
                let msg =
                    format!("member `{name}` would be extracted outside the destination folder");
                cx.report(RuleId::ArchivePathTraversal, msg, None);
            }
            if over {
                let msg =
                    format!("`{name}` decompresses beyond {cap} bytes; the rest was not analysed");
                cx.malformed(RuleId::ResourceLimit, msg, None);
            }
            if !cx.charge_decompressed(data.len() as u64) {
                break;
            }
            cx.scan_member(&name, &MemorySource::new(data));
        }
        for err in errors {
            cx.malformed(RuleId::ArchiveMalformed, format!("7z: {err}"), None);
        }
        Some(Format::SevenZ)
    }
}
