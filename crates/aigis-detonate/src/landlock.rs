//! Landlock, where the kernel has it: the loader confines itself before it starts (through
//! `aigis __confine`, which bubblewrap runs inside the sandbox) so that, whatever the mounts
//! allow, it can read and execute anywhere but change files only under `/tmp` (the sandbox's
//! private scratch) and `/dev` (its own device nodes). It is a second wall behind the read-only
//! mounts: `/proc` files a process may write for itself (its name, its OOM score…) and any path
//! a mount would leave writable are closed too. Best effort, as the `landlock` crate intends:
//! on a kernel without Landlock the loader runs without it, and the detonation says so.

use landlock::{
    ABI, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    path_beneath_rules,
};
use std::ffi::OsString;
use std::process::Command;

/// The line `aigis __confine` writes on stderr before it starts the loader.
pub const STATUS_PREFIX: &str = "aigis-landlock: ";

/// Folders the loader may change files under.
const WRITABLE: &[&str] = &["/tmp", "/dev"];

/// How far the confinement went.
fn confine() -> Result<&'static str, landlock::RulesetError> {
    let abi = ABI::V5;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))?
        .create()?
        .add_rules(path_beneath_rules(["/"], AccessFs::from_read(abi)))?
        .add_rules(path_beneath_rules(WRITABLE, AccessFs::from_all(abi)))?
        .restrict_self()?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => "fully enforced",
        RulesetStatus::PartiallyEnforced => "partially enforced",
        RulesetStatus::NotEnforced => "not enforced (the kernel has no Landlock)",
    })
}

/// Confines this process with Landlock, says how on stderr, and replaces it with `command`.
/// Returns only when the command cannot be started (or Landlock failed outright).
pub fn exec_confined(command: &[OsString]) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let Some((program, args)) = command.split_first() else {
        return std::io::Error::other("nothing to run");
    };
    match confine() {
        Ok(status) => eprintln!("{STATUS_PREFIX}{status}"),
        Err(err) => return std::io::Error::other(format!("Landlock: {err}")),
    }
    Command::new(program).args(args).exec()
}

/// The confinement a loader's stderr reports, and its stderr without that line.
pub fn status_from(stderr: &str) -> (Option<String>, String) {
    let mut status = None;
    let mut rest = Vec::new();
    for line in stderr.lines() {
        match line.strip_prefix(STATUS_PREFIX) {
            Some(s) if status.is_none() => status = Some(s.to_owned()),
            _ => rest.push(line),
        }
    }
    (status, rest.join("\n"))
}
