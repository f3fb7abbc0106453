//! Host context: who besides the model's owner can replace it.
//!
//! A model is only as safe as the path to it. The file and every folder above it, up to the
//! file-system root, are checked:
//! - **world-writable** (`o+w`; a folder with the sticky bit, like `/tmp`, is fine because others
//!   cannot replace entries they do not own): `HOST-WRITABLE-PATH`, high;
//! - **group-writable by a broad group**: any group except the owner's user-private group (gid
//!   equal to the owner's uid, the `useradd` convention) and root's group (gid 0). System groups
//!   such as `users` (100) or `staff` (50) and shared project groups count as broad: medium;
//! - a folder **owned by another user** than the file's owner and root: that user can swap the
//!   model: medium.
//!
//! Results are cached per (folder, owner), so ten thousand files in one folder cost one check.
//! Symbolic links that lead out of the scanned tree are `HOST-SYMLINK-ESCAPE` (medium).

use aigis_scan::{FileResult, Finding, RuleId, Severity};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What makes one path open to others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenPath {
    /// The path (the file or one of its folders).
    pub path: PathBuf,
    /// Why others can write it.
    pub reason: String,
    /// `High` for world-writable, `Medium` otherwise.
    pub severity: Severity,
}

impl OpenPath {
    /// The finding for a model at `model`.
    pub fn finding(&self, model: &str) -> Finding {
        Finding::new(
            RuleId::HostWritablePath,
            format!(
                "{} {}: other users of this host can replace {model}",
                self.path.display(),
                self.reason
            ),
        )
        .with_severity(self.severity)
        .at(self.path.display().to_string())
    }
}

/// Checks paths for write access by others, caching per folder.
#[derive(Debug, Default)]
pub struct HostChecker {
    /// (canonical folder, owner uid) → open paths from that folder up to the root.
    chains: Mutex<HashMap<(PathBuf, u32), Vec<OpenPath>>>,
    /// folder as given → canonical folder.
    canonical: Mutex<HashMap<PathBuf, Option<PathBuf>>>,
}

/// Why `meta` (of a file or folder) is writable by others than `owner`, if it is.
fn openness(meta: &std::fs::Metadata, owner: u32, is_dir: bool) -> Option<(String, Severity)> {
    let mode = meta.mode();
    if mode & 0o002 != 0 && !(is_dir && mode & 0o1000 != 0) {
        return Some((
            format!("is world-writable (mode {:04o})", mode & 0o7777),
            Severity::High,
        ));
    }
    let gid = meta.gid();
    let private_group = gid == 0 || (gid == meta.uid() && gid >= 1000);
    if mode & 0o020 != 0 && !private_group && !(is_dir && mode & 0o1000 != 0) {
        return Some((
            format!(
                "is writable by group {gid} (mode {:04o}), not a private group",
                mode & 0o7777
            ),
            Severity::Medium,
        ));
    }
    if is_dir && meta.uid() != owner && meta.uid() != 0 {
        return Some((
            format!(
                "is owned by uid {}, not by the model's owner (uid {owner}) or root",
                meta.uid()
            ),
            Severity::Medium,
        ));
    }
    None
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl HostChecker {
    /// A checker with an empty cache.
    pub fn new() -> HostChecker {
        HostChecker::default()
    }

    fn canonical_dir(&self, dir: &Path) -> Option<PathBuf> {
        if let Some(known) = lock(&self.canonical).get(dir) {
            return known.clone();
        }
        let canonical = std::fs::canonicalize(dir).ok();
        lock(&self.canonical).insert(dir.to_path_buf(), canonical.clone());
        canonical
    }

    /// Open folders from `dir` (canonical) up to the root, for a file owned by `owner`.
    fn chain(&self, dir: &Path, owner: u32) -> Vec<OpenPath> {
        let key = (dir.to_path_buf(), owner);
        if let Some(known) = lock(&self.chains).get(&key) {
            return known.clone();
        }
        let mut open = match dir.parent() {
            Some(parent) if parent != dir => self.chain(parent, owner),
            _ => Vec::new(),
        };
        if let Ok(meta) = std::fs::metadata(dir)
            && let Some((reason, severity)) = openness(&meta, owner, true)
        {
            open.push(OpenPath {
                path: dir.to_path_buf(),
                reason,
                severity,
            });
        }
        lock(&self.chains).insert(key, open.clone());
        open
    }

    /// Everything that lets other users replace the file at `path` (the file itself and its
    /// folders up to the root), outermost folder first.
    pub fn open_paths(&self, path: &Path) -> Vec<OpenPath> {
        let Ok(meta) = std::fs::metadata(path) else {
            return Vec::new();
        };
        let owner = meta.uid();
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut open = match self.canonical_dir(parent) {
            Some(dir) => self.chain(&dir, owner),
            None => Vec::new(),
        };
        if let Some((reason, severity)) = openness(&meta, owner, false) {
            open.push(OpenPath {
                path: path.to_path_buf(),
                reason,
                severity,
            });
        }
        open
    }

    /// Adds `HOST-WRITABLE-PATH` findings for the file at `on_disk` to its result.
    pub fn annotate(&self, result: &mut FileResult, on_disk: &Path) {
        let open = self.open_paths(on_disk);
        if open.is_empty() {
            return;
        }
        for path in open {
            result.findings.push(path.finding(&result.path));
        }
        result.normalize();
    }
}

/// A symbolic link under a scanned root whose target lies outside every root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymlinkEscape {
    /// The link, as found.
    pub link: PathBuf,
    /// Where it leads (resolved; the link text when it does not resolve).
    pub target: PathBuf,
}

impl SymlinkEscape {
    /// The `HOST-SYMLINK-ESCAPE` finding.
    pub fn finding(&self) -> Finding {
        Finding::new(
            RuleId::HostSymlinkEscape,
            format!(
                "symbolic link {} leads out of the scanned tree to {}: what is loaded here is decided elsewhere (read there)",
                self.link.display(),
                self.target.display()
            ),
        )
        .at(self.link.display().to_string())
    }
}

/// Where the link at `link` leads: `Ok(target)` inside one of `roots` (canonical), else an
/// escape. A dangling link is an escape too (its text is reported).
pub fn resolve_link(link: &Path, roots: &[PathBuf]) -> Result<PathBuf, SymlinkEscape> {
    match std::fs::canonicalize(link) {
        Ok(target) if roots.iter().any(|r| target.starts_with(r)) => Ok(target),
        Ok(target) => Err(SymlinkEscape {
            link: link.to_path_buf(),
            target,
        }),
        Err(_) => Err(SymlinkEscape {
            link: link.to_path_buf(),
            target: std::fs::read_link(link).unwrap_or_default(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn world_writable_folder_is_high_sticky_is_fine() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path().join("models");
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        let file = dir.join("m.safetensors");
        std::fs::write(&file, b"x").unwrap_or_else(|e| panic!("{e}"));
        chmod(tmp.path(), 0o755);
        chmod(&dir, 0o755);
        chmod(&file, 0o644);
        let base = HostChecker::new().open_paths(&file).len();
        chmod(&dir, 0o777);
        let open = HostChecker::new().open_paths(&file);
        assert_eq!(open.len(), base + 1, "{open:?}");
        let last = open.last().unwrap_or_else(|| panic!("none"));
        assert_eq!(last.severity, Severity::High);
        chmod(&dir, 0o1777);
        assert_eq!(HostChecker::new().open_paths(&file).len(), base);
        chmod(&dir, 0o755);
        chmod(&file, 0o666);
        assert_eq!(HostChecker::new().open_paths(&file).len(), base + 1);
    }
}
