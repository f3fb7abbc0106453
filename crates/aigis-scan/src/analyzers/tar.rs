//! Tar archives, including very old PyTorch checkpoints (`sys_info`, `pickle`, `storages`,
//! `tensors` members). Regular members are scanned in place — a window of the tar, no copy.

use crate::analyzer::{Analyzer, Context, Input};
use crate::archive::tar_members;
use crate::archive::walk::{MemberWalk, Visit};
use crate::{Format, RuleId};

/// Analyzer for tar archives.
pub struct TarAnalyzer;

/// A ustar/GNU magic at offset 257, or a first header `tarfile` accepts.
fn is_tar_header(head: &[u8]) -> bool {
    tar_members::is_tar_header(head)
}

impl Analyzer for TarAnalyzer {
    fn id(&self) -> &'static str {
        "tar"
    }

    fn version(&self) -> u32 {
        3
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        is_tar_header(head)
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let source = input.source;
        // Members as Python's tarfile lists them (names cut at NUL, every type it extracts as
        // a file), collected first: the tar reader borrows the source sequentially.
        let (members, stop) = tar_members::members(source);
        let count = members.len();
        let mut walk = MemberWalk::new();
        let mut torch_members = 0;
        let mut regular: Vec<(String, &tar_members::TarMember)> = Vec::new();
        for member in &members {
            let name = member.name.clone();
            let kind = member.kind();
            match walk.visit(&name, kind, cx) {
                Visit::Scan => {}
                Visit::Skip => continue,
                Visit::Stop => break,
            }
            if matches!(
                tar_members::normalized(&name).as_str(),
                "sys_info" | "pickle" | "storages" | "tensors"
            ) {
                torch_members += 1;
            }
            let offset = member.offset;
            if offset.saturating_add(member.stored_len()) > source.len() {
                let msg = format!("member `{name}` is truncated");
                cx.malformed(RuleId::ArchiveMalformed, msg, Some(offset));
            }
            regular.push((name, member));
        }
        if let Some(stop) = stop {
            cx.malformed(RuleId::ArchiveMalformed, format!("tar: {}", stop.0), None);
        }
        if count == 0 {
            cx.malformed(RuleId::ArchiveMalformed, "tar: no members", None);
        }
        let mut nemo = false;
        for (name, member) in regular {
            if cx.out_of_time() {
                break;
            }
            let bytes = member.source(source);
            nemo |= cx.scan_member(&name, &bytes) == Some(Format::Nemo);
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
