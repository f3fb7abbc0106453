//! The aigis policy file, `aigis.toml`: what a team trusts, forbids, ignores and accepts.
//!
//! ```
//! use aigis_policy::{Date, Policy};
//!
//! let policy = Policy::parse(
//!     r#"
//! fail_on = "medium"
//! allow_globals = ["mypkg.models.*"]
//!
//! [[suppress]]
//! rule = "PICKLE-FORMAT"
//! reason = "legacy checkpoints, tracked in SEC-42"
//! expires = "2999-12-31"
//! "#,
//!     "aigis.toml",
//! )
//! .unwrap_or_default();
//! assert_eq!(policy.allow_globals, ["mypkg.models.*"]);
//! assert!(!policy.suppressions[0].is_expired(Date::today()));
//! ```
//!
//! A policy is applied in two places. Before the scan, its allow/deny lists become analysis
//! options (they change what the pickle machine reports) and its include/exclude globs pick the
//! files. After the scan, [`Policy::apply`] overrides severities and marks suppressed findings,
//! so results cached before the policy stay valid when a suppression changes.

mod date;
mod parse;

pub use date::Date;

use aigis_scan::{FileResult, RuleId, Severity, Suppressed};
use globset::{GlobBuilder, GlobMatcher};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The policy file name looked for in the scanned root and its parents.
pub const FILE_NAME: &str = "aigis.toml";

/// What a result whose analysis did not complete does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnIncomplete {
    /// The run fails (exit code 3 when nothing else failed it): unscanned is never passed.
    Fail,
    /// The run reports it and does not fail on it.
    Warn,
}

/// A validated policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// The file it was read from, if any.
    pub origin: Option<PathBuf>,
    /// Folder that relative globs are matched from (the policy file's folder).
    pub base_dir: Option<PathBuf>,
    /// Exit with 1 when an unsuppressed finding reaches this severity (`--fail-on` wins).
    pub fail_on: Option<Severity>,
    /// What a result that could not be analysed to its end does to the run (default: fail).
    pub on_incomplete: Option<OnIncomplete>,
    /// Only files matching one of these globs are scanned (all when empty).
    pub include: Vec<PathGlob>,
    /// Files matching one of these globs are not scanned.
    pub exclude: Vec<PathGlob>,
    /// Extra pickle globals to trust (`module.Qualname` or `prefix.*`).
    pub allow_globals: Vec<String>,
    /// Pickle globals to forbid: any use is critical.
    pub deny_globals: Vec<String>,
    /// Severity per rule, replacing what the analyzers said.
    pub severity: BTreeMap<RuleId, Severity>,
    /// Accepted findings.
    pub suppressions: Vec<Suppression>,
    /// Folders `aigis discover` walks instead of the host's standard model locations.
    pub discover_roots: Vec<PathBuf>,
    /// Where to send what a run found (`[[webhook]]`).
    pub webhooks: Vec<Webhook>,
    /// License conditions on models (`deny_licenses`, `allow_licenses`, `require_license`).
    pub licenses: LicensePolicy,
    /// Models under these globs must carry a verified signature (`MODEL-UNSIGNED` is high there).
    pub require_signature: Vec<PathGlob>,
}

/// Events a webhook can receive.
pub const WEBHOOK_EVENTS: &[&str] = &[
    "NEW_UNSAFE_MODEL",
    "MODEL_REPLACED",
    "MODEL_DISAPPEARED",
    "POLICY_VIOLATION",
    "SCAN_FAILED",
];

/// What a webhook receives when it names no events.
pub const DEFAULT_WEBHOOK_EVENTS: &[&str] = &[
    "NEW_UNSAFE_MODEL",
    "MODEL_REPLACED",
    "POLICY_VIOLATION",
    "SCAN_FAILED",
];

/// A `[[webhook]]` from the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Where to POST.
    pub url: String,
    /// The environment variable holding the HMAC secret.
    pub secret_env: Option<String>,
    /// Events it receives (never empty: the defaults when the file names none).
    pub events: Vec<String>,
    /// Body format.
    pub format: WebhookFormat,
    /// Attempts after the first.
    pub retries: u32,
}

/// A webhook's body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// Signed JSON.
    Json,
    /// A Slack incoming-webhook message.
    Slack,
}

/// A path glob from the policy (`globset` syntax; `*` stops at `/`, `**` crosses folders).
/// A pattern without `/` also matches the file name alone, like a `.gitignore` line.
#[derive(Debug, Clone)]
pub struct PathGlob {
    /// The pattern as written.
    pub pattern: String,
    matcher: GlobMatcher,
    name_only: bool,
}

impl PathGlob {
    /// Compiles a pattern.
    pub fn new(pattern: &str) -> Result<PathGlob, globset::Error> {
        let trimmed = pattern.strip_prefix("./").unwrap_or(pattern);
        let matcher = GlobBuilder::new(trimmed)
            .literal_separator(true)
            .build()?
            .compile_matcher();
        Ok(PathGlob {
            pattern: pattern.to_string(),
            matcher,
            name_only: !trimmed.contains('/'),
        })
    }

    /// Whether any of the path spellings matches.
    fn matches(&self, candidates: &[String]) -> bool {
        candidates.iter().any(|path| {
            self.matcher.is_match(path)
                || (self.name_only
                    && path
                        .rsplit('/')
                        .next()
                        .is_some_and(|name| self.matcher.is_match(name)))
        })
    }
}

/// One `[[suppress]]` entry: findings it matches stay in the report, marked suppressed.
#[derive(Debug, Clone)]
pub struct Suppression {
    /// Position among the `[[suppress]]` entries (0-based).
    pub index: usize,
    /// Line of the entry in the policy file.
    pub line: usize,
    /// Only findings of this rule.
    pub rule: Option<RuleId>,
    /// Only files whose path matches.
    pub path: Option<PathGlob>,
    /// Only the file with this content hash (lower-case hex).
    pub sha256: Option<String>,
    /// Why the findings are acceptable.
    pub reason: String,
    /// Last day the suppression applies.
    pub expires: Option<Date>,
}

impl Suppression {
    /// Whether the suppression no longer applies on `today` (it applies through its date).
    pub fn is_expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|last| today > last)
    }

    fn matches(&self, result: &FileResult, paths: &[String], rule: RuleId) -> bool {
        self.rule.is_none_or(|r| r == rule)
            && self
                .sha256
                .as_ref()
                .is_none_or(|sha| result.sha256.as_deref() == Some(sha.as_str()))
            && self.path.as_ref().is_none_or(|glob| glob.matches(paths))
    }
}

/// One problem in a policy file, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Line.
    pub line: usize,
    /// Column, in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid policy.
    #[error("{}", render_diagnostics(origin, diagnostics))]
    Invalid {
        /// File name used in messages.
        origin: String,
        /// Every problem found, in file order.
        diagnostics: Vec<Diagnostic>,
    },
}

fn render_diagnostics(origin: &str, diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| format!("{origin}:{}:{}: {}", d.line, d.column, d.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What applying a policy changed.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Findings now marked suppressed.
    pub suppressed: usize,
    /// Report-level notes: expired suppressions, each named by file, line and reason.
    pub warnings: Vec<String>,
}

/// Looks for [`FILE_NAME`] in `start` (or its folder, for a file) and each parent folder.
pub fn discover(start: &Path) -> Option<PathBuf> {
    let start = std::fs::canonicalize(start).ok()?;
    let dir = if start.is_dir() {
        start.as_path()
    } else {
        start.parent()?
    };
    dir.ancestors()
        .map(|d| d.join(FILE_NAME))
        .find(|candidate| candidate.is_file())
}

impl Policy {
    /// Parses and validates policy text; `origin` names it in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        parse::parse(text, origin)
    }

    /// Reads, parses and validates a policy file. Relative globs match from its folder.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut policy = Policy::parse(&text, &path.display().to_string())?;
        policy.origin = Some(path.to_path_buf());
        policy.base_dir = std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        Ok(policy)
    }

    /// The spellings of a path that globs are matched against: as given (without `./`) and,
    /// when the file lies under the policy's folder, relative to it.
    fn path_candidates(&self, path: &Path) -> Vec<String> {
        let given = path.to_string_lossy().replace('\\', "/");
        let mut out = vec![given.strip_prefix("./").unwrap_or(&given).to_string()];
        if let Some(base) = &self.base_dir
            && let Ok(full) = std::fs::canonicalize(path)
            && let Ok(relative) = full.strip_prefix(base)
        {
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
        out
    }

    /// Whether the policy's `require_signature` globs cover the model at `path`.
    pub fn requires_signature(&self, path: &Path) -> bool {
        if self.require_signature.is_empty() {
            return false;
        }
        let paths = self.path_candidates(path);
        self.require_signature.iter().any(|g| g.matches(&paths))
    }

    /// Whether the include/exclude globs let `path` be scanned.
    pub fn includes(&self, path: &Path) -> bool {
        if self.include.is_empty() && self.exclude.is_empty() {
            return true;
        }
        let paths = self.path_candidates(path);
        (self.include.is_empty() || self.include.iter().any(|g| g.matches(&paths)))
            && !self.exclude.iter().any(|g| g.matches(&paths))
    }

    /// Applies severity overrides and suppressions to scan results (recomputing each
    /// `max_severity`), and reports every expired suppression.
    pub fn apply(&self, results: &mut [FileResult], today: Date) -> Applied {
        let mut applied = Applied::default();
        let mut expired_hits = vec![0usize; self.suppressions.len()];
        for result in results.iter_mut() {
            let paths = if self.suppressions.iter().any(|s| s.path.is_some()) {
                self.path_candidates(Path::new(&result.path))
            } else {
                Vec::new()
            };
            let snapshot = result.clone();
            for finding in &mut result.findings {
                if let Some(sev) = self.severity.get(&finding.rule_id) {
                    finding.severity = *sev;
                }
                for (i, suppression) in self.suppressions.iter().enumerate() {
                    if !suppression.matches(&snapshot, &paths, finding.rule_id) {
                        continue;
                    }
                    if suppression.is_expired(today) {
                        expired_hits[i] += 1;
                        continue;
                    }
                    finding.suppressed = Some(Suppressed {
                        reason: suppression.reason.clone(),
                        expires: suppression.expires.map(|d| d.to_string()),
                    });
                    applied.suppressed += 1;
                    break;
                }
            }
            result.normalize();
        }
        let origin = self
            .origin
            .as_ref()
            .map_or_else(|| FILE_NAME.to_string(), |p| p.display().to_string());
        for (suppression, hits) in self.suppressions.iter().zip(expired_hits) {
            if let Some(last) = suppression
                .expires
                .filter(|_| suppression.is_expired(today))
            {
                applied.warnings.push(format!(
                    "suppression {origin}:{} (\"{}\") expired on {last} and no longer applies; \
                     {hits} finding(s) it matched are reported",
                    suppression.line, suppression.reason
                ));
            }
        }
        applied
    }
}

impl fmt::Display for PathGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

mod license;
pub use license::{LicenseGlob, LicensePolicy, RequireLicense};

#[cfg(test)]
mod tests;
