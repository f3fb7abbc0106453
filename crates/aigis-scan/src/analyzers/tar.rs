//! Tar archives, including very old PyTorch checkpoints (`sys_info`, `pickle`, `storages`,
//! `tensors` members). Regular members are scanned in place — a window of the tar, no copy.

use crate::analyzer::{Analyzer, Context, Input};
use crate::archive::{MAX_ENTRY_POINTS_PAST_CAP, escapes_root, loader_entry_point};
use crate::{Format, RuleId, SliceSource, SourceReader};
use std::collections::HashSet;

/// Analyzer for tar archives.
pub struct TarAnalyzer;

/// A ustar/GNU magic at offset 257, or an old-style header whose checksum adds up.
fn is_tar_header(head: &[u8]) -> bool {
    // The magic alone identifies a (possibly truncated) ustar/GNU header.
    if head.get(257..262) == Some(b"ustar") {
        return true;
    }
    let Some(block) = head.get(..512) else {
        return false;
    };
    let field = String::from_utf8_lossy(&block[148..156]);
    let Ok(declared) = u32::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
    else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(*b)
            }
        })
        .sum();
    declared == sum && block[0] != 0
}

impl Analyzer for TarAnalyzer {
    fn id(&self) -> &'static str {
        "tar"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        is_tar_header(head)
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let source = input.source;
        let mut archive = tar::Archive::new(SourceReader::new(source));
        let entries = match archive.entries_with_seek() {
            Ok(entries) => entries,
            Err(err) => {
                cx.malformed(RuleId::ArchiveMalformed, format!("tar: {err}"), None);
                return Some(Format::Tar);
            }
        };
        let mut names = HashSet::new();
        let mut torch_members = 0;
        let mut count = 0usize;
        // Members are collected first: the tar reader borrows the source sequentially.
        let mut regular: Vec<(String, u64, u64)> = Vec::new();
        let mut extras = 0usize;
        for entry in entries {
            count += 1;
            let over = count > cx.limits().max_members;
            if count == cx.limits().max_members + 1 {
                let msg = format!(
                    "more than {} members; past that only the members loaders open by name were \
                     examined",
                    cx.limits().max_members
                );
                cx.malformed(RuleId::ResourceLimit, msg, None);
            }
            if over && (extras >= MAX_ENTRY_POINTS_PAST_CAP || cx.out_of_time()) {
                break;
            }
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    cx.malformed(RuleId::ArchiveMalformed, format!("tar: {err}"), None);
                    break;
                }
            };
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if over {
                // Past the cap, padding must not push what a loader reads out of sight.
                if !loader_entry_point(&name) {
                    continue;
                }
                extras += 1;
            }
            let kind = entry.header().entry_type();
            if escapes_root(&name) {
                let msg =
                    format!("member `{name}` would be extracted outside the destination folder");
                cx.report(RuleId::ArchivePathTraversal, msg, None);
            }
            if !names.insert(name.clone()) && !kind.is_dir() {
                cx.report(
                    RuleId::ArchiveDuplicateName,
                    format!("`{name}` appears more than once"),
                    None,
                );
            }
            if kind.is_symlink() || kind.is_hard_link() {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                let escapes = escapes_root(&target)
                    || (kind.is_symlink() && escapes_root(&format!("{}/{target}", parent(&name))));
                if escapes {
                    let what = if kind.is_symlink() {
                        "symbolic"
                    } else {
                        "hard"
                    };
                    let msg = format!("{what} link `{name}` points to `{target}`");
                    cx.report(RuleId::ArchiveLinkEscape, msg, None);
                }
                continue;
            }
            if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
                cx.report(
                    RuleId::ArchiveSpecialMember,
                    format!("member `{name}` is a device or FIFO"),
                    None,
                );
                continue;
            }
            if !(kind.is_file() || kind == tar::EntryType::Continuous || kind.is_gnu_sparse()) {
                continue;
            }
            if matches!(
                name.as_str(),
                "sys_info" | "pickle" | "storages" | "tensors"
            ) {
                torch_members += 1;
            }
            let size = entry.size();
            let offset = entry.raw_file_position();
            if offset.saturating_add(size) > source.len() {
                let msg = format!("member `{name}` is truncated");
                cx.malformed(RuleId::ArchiveMalformed, msg, Some(offset));
            }
            regular.push((name, offset, size));
        }
        if count == 0 {
            cx.malformed(RuleId::ArchiveMalformed, "tar: no members", None);
        }
        let mut nemo = false;
        for (name, offset, size) in regular {
            if cx.out_of_time() {
                break;
            }
            let member = SliceSource::new(source, offset, size);
            nemo |= cx.scan_member(&name, &member) == Some(Format::Nemo);
        }
        Some(if torch_members >= 3 {
            Format::PytorchTar
        } else if nemo {
            // A `.nemo` archive: a tar whose model config was recognised.
            Format::Nemo
        } else {
            Format::Tar
        })
    }
}

fn parent(name: &str) -> &str {
    name.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_detection() {
        let mut block = vec![0u8; 512];
        block[..4].copy_from_slice(b"file");
        block[257..262].copy_from_slice(b"ustar");
        assert!(is_tar_header(&block));
        assert!(!is_tar_header(&[0u8; 512]));
        assert!(!is_tar_header(b"short"));
    }
}
