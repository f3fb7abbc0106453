//! `--changed-since REF`: the files git says changed, for pull-request scans.
//!
//! The set is the union of `git diff --name-only REF...HEAD` (committed on this branch since it
//! left REF), `git diff --name-only HEAD` (uncommitted edits) and
//! `git ls-files --others --exclude-standard` (new untracked files). Deleted files drop out;
//! every remaining file is content-sniffed like any other, so non-model files end up
//! `unsupported`.

use crate::EngineError;
use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Result<String, EngineError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| EngineError::Git(format!("running git (is it installed?): {e}")))?;
    if !out.status.success() {
        return Err(EngineError::Git(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Files changed since `reference` in the repository containing `dir`, as paths under the
/// repository root, existing regular files only, sorted.
pub fn changed_files(dir: &Path, reference: &str) -> Result<Vec<PathBuf>, EngineError> {
    if reference.starts_with('-') {
        return Err(EngineError::Git(format!(
            "--changed-since: `{reference}` is not a git revision"
        )));
    }
    let root = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])?.trim());
    let range = format!("{reference}...HEAD");
    let mut names = Vec::new();
    for args in [
        &[
            "diff",
            "--name-only",
            "--no-renames",
            "-z",
            range.as_str(),
            "--",
        ][..],
        &["diff", "--name-only", "--no-renames", "-z", "HEAD", "--"][..],
        &["ls-files", "-z", "--others", "--exclude-standard"][..],
    ] {
        names.extend(
            git(&root, args)?
                .split('\0')
                .filter(|n| !n.is_empty())
                .map(|n| root.join(n)),
        );
    }
    names.sort();
    names.dedup();
    names.retain(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file()));
    Ok(names)
}
