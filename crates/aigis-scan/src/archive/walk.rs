//! The member walk every archive analyzer (zip, tar, 7z) goes through: the member cap (past which
//! only the members a loader opens by name are still examined, so padding cannot hide the one
//! that runs) and the hygiene checks — names escaping the destination folder, duplicate names,
//! links leading out, device and FIFO members — each reported in one place with one wording.

use crate::RuleId;
use crate::analyzer::Context;
use crate::archive::{MAX_ENTRY_POINTS_PAST_CAP, escapes_root, loader_entry_point};
use std::collections::HashSet;

/// What kind of member a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind<'t> {
    /// Regular file: its bytes are scanned.
    File,
    /// Folder.
    Dir,
    /// Symbolic link with its target.
    Symlink(&'t str),
    /// Hard link with its target.
    HardLink(&'t str),
    /// Device, FIFO or another special file (described).
    Special(&'t str),
}

/// What to do with a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// Scan its bytes.
    Scan,
    /// Nothing to scan (a folder, a link, a special file, padding past the cap).
    Skip,
    /// Stop walking: past the cap and out of entry-point budget, or out of time.
    Stop,
}

/// State of one archive's walk.
#[derive(Debug, Default)]
pub struct MemberWalk {
    names: HashSet<String>,
    count: usize,
    extras: usize,
    /// Whether the member cap is applied here (streamed archives) or was already applied by
    /// the archive's index (zip).
    capped_elsewhere: bool,
}

impl MemberWalk {
    /// A walk that applies the member cap itself (tar, 7z: members arrive as a stream).
    pub fn new() -> MemberWalk {
        MemberWalk::default()
    }

    /// A walk over members an index already selected under the cap (zip): hygiene checks only.
    pub fn pre_capped() -> MemberWalk {
        MemberWalk {
            capped_elsewhere: true,
            ..MemberWalk::default()
        }
    }

    /// Called for each member in archive order, before its data is read.
    pub fn visit(&mut self, name: &str, kind: MemberKind<'_>, cx: &mut Context<'_>) -> Visit {
        if cx.out_of_time() {
            return Visit::Stop;
        }
        self.count += 1;
        let max = cx.limits().max_members;
        if !self.capped_elsewhere && self.count > max {
            if self.count == max + 1 {
                let msg = format!(
                    "more than {max} members; past that only the members loaders open by name \
                     were examined"
                );
                cx.malformed(RuleId::ResourceLimit, msg, None);
                cx.not_analysed(format!("members past the first {max}"));
            }
            if self.extras >= MAX_ENTRY_POINTS_PAST_CAP {
                return Visit::Stop;
            }
            if !loader_entry_point(name) {
                return Visit::Skip;
            }
            self.extras += 1;
        }
        self.check_name(name, cx);
        if !self.names.insert(name.to_string()) && kind != MemberKind::Dir {
            let msg = format!("`{name}` appears more than once");
            cx.report(RuleId::ArchiveDuplicateName, msg, None);
        }
        match kind {
            MemberKind::File => Visit::Scan,
            MemberKind::Dir => Visit::Skip,
            MemberKind::Symlink(target) | MemberKind::HardLink(target) => {
                let symbolic = matches!(kind, MemberKind::Symlink(_));
                // A symbolic link resolves from its own folder, a hard link from the root.
                let escapes = escapes_root(target)
                    || (symbolic && escapes_root(&format!("{}/{target}", parent(name))));
                if escapes {
                    let what = if symbolic { "symbolic" } else { "hard" };
                    let msg = format!("{what} link `{name}` points to `{target}`");
                    cx.report(RuleId::ArchiveLinkEscape, msg, None);
                }
                Visit::Skip
            }
            MemberKind::Special(what) => {
                let msg = format!("member `{name}` is a special file ({what})");
                cx.report(RuleId::ArchiveSpecialMember, msg, None);
                Visit::Skip
            }
        }
    }

    /// Reports a name that would be extracted outside the destination folder.
    pub fn check_name(&self, name: &str, cx: &mut Context<'_>) {
        if escapes_root(name) {
            let msg = format!("member `{name}` would be extracted outside the destination folder");
            cx.report(RuleId::ArchivePathTraversal, msg, None);
        }
    }
}

/// The folder part of a member name (`a/b/c` → `a/b`).
fn parent(name: &str) -> &str {
    name.rsplit_once('/').map_or("", |(dir, _)| dir)
}
