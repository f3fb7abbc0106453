//! The local result cache: scan results keyed by content hash and rule-set version, plus a
//! fast path keyed by (path, size, mtime, ctime, inode, device) that skips re-hashing files
//! that did not change.
//!
//! Layout under the cache folder: `v1/<ruleset>/results/<sha[..2]>/<sha>.json` holds one
//! [`FileResult`] as the analyzers produced it (before any policy), and
//! `v1/<ruleset>/stat-index.jsonl` maps file metadata to content hashes. Every write goes to a
//! temporary file first and is renamed into place; unreadable or corrupt entries are ignored
//! and overwritten.

use aigis_scan::{FileResult, RuleId, ScanOptions, Scanner, Status};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A file modified this recently may change again within the same timestamp tick: its stat
/// entry is not recorded (the content hash still is), like git's "racily clean" rule.
const RACY_NANOS: i64 = 2_000_000_000;

/// The folder the cache lives in by default: `$XDG_CACHE_HOME/aigis` or `~/.cache/aigis`.
pub fn default_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("aigis"))
}

/// A short hex id of everything that decides analysis output for given bytes: the crate
/// version, every analyzer's id and version, the limits and the allow/deny lists, and the
/// identity (size, mtime) of the running binary, so a rebuilt development binary whose
/// analyzer changed without a version bump never reads stale results.
pub fn ruleset_version(scanner: &Scanner, options: &ScanOptions) -> String {
    let mut hasher = Sha256::new();
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    if let Some(stat) = std::env::current_exe()
        .and_then(fs::metadata)
        .ok()
        .as_ref()
        .and_then(stat_of)
    {
        hasher.update(format!("|exe:{}:{}", stat.size, stat.mtime).as_bytes());
    }
    for analyzer in scanner.registry().analyzers() {
        hasher.update(format!("|{}@{}", analyzer.id(), analyzer.version()).as_bytes());
    }
    let mut allow = options.analysis.allow_globals.clone();
    allow.sort();
    let mut deny = options.analysis.deny_globals.clone();
    deny.sort();
    hasher.update(format!("|{:?}|{allow:?}|{deny:?}", options.analysis.limits).as_bytes());
    hex::encode(&hasher.finalize()[..12])
}

/// File metadata that must match for the fast path to trust a recorded hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stat {
    size: u64,
    mtime: i64,
    ctime: i64,
    ino: u64,
    dev: u64,
}

#[derive(Serialize, Deserialize)]
struct StatLine {
    path: String,
    stat: Stat,
    sha256: String,
}

/// An open cache for one rule-set version.
pub struct Cache {
    dir: PathBuf,
    index: HashMap<String, (Stat, String)>,
    updates: Mutex<Vec<StatLine>>,
    hits: AtomicUsize,
}

#[cfg(unix)]
fn stat_of(meta: &fs::Metadata) -> Option<Stat> {
    use std::os::unix::fs::MetadataExt;
    Some(Stat {
        size: meta.len(),
        mtime: meta
            .mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(meta.mtime_nsec()),
        ctime: meta
            .ctime()
            .saturating_mul(1_000_000_000)
            .saturating_add(meta.ctime_nsec()),
        ino: meta.ino(),
        dev: meta.dev(),
    })
}

#[cfg(not(unix))]
fn stat_of(_meta: &fs::Metadata) -> Option<Stat> {
    None
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        now_nanos().rem_euclid(1_000_000_000_000)
    ));
    let written = fs::File::create(&tmp).and_then(|mut f| f.write_all(bytes));
    match written.and_then(|()| fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(err) => {
            let _ = fs::remove_file(&tmp);
            Err(err)
        }
    }
}

impl Cache {
    /// Opens (or starts) the cache for `ruleset` under `root`.
    pub fn open(root: &Path, ruleset: &str) -> Cache {
        let dir = root.join("v1").join(ruleset);
        let mut index = HashMap::new();
        if let Ok(text) = fs::read_to_string(dir.join("stat-index.jsonl")) {
            for line in text.lines() {
                if let Ok(entry) = serde_json::from_str::<StatLine>(line) {
                    index.insert(entry.path, (entry.stat, entry.sha256));
                }
            }
        }
        Cache {
            dir,
            index,
            updates: Mutex::new(Vec::new()),
            hits: AtomicUsize::new(0),
        }
    }

    /// Where the result for `sha` analysed at `place` lives.
    fn result_path(&self, sha: &str, place: &Place<'_>) -> Option<PathBuf> {
        let valid = sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit());
        let name = match place {
            Place::Anywhere => format!("{sha}.json"),
            Place::Detached => format!("{sha}~detached.json"),
            Place::At(key) => {
                let at = hex::encode(&Sha256::digest(key.as_bytes())[..12]);
                format!("{sha}@{at}.json")
            }
        };
        valid.then(|| self.dir.join("results").join(&sha[..2]).join(name))
    }

    fn load(&self, sha: &str, place: &Place<'_>) -> Option<FileResult> {
        let bytes = fs::read(self.result_path(sha, place)?).ok()?;
        let result: FileResult = serde_json::from_slice(&bytes).ok()?;
        let at = matches!(place, Place::At(_));
        let fits = result.sha256.as_deref() == Some(sha) && result.location_dependent == at;
        fits.then_some(result)
    }

    fn store(&self, result: &FileResult, place: &Place<'_>) {
        // Read errors, time-outs and crashes depend on the moment, not the bytes.
        let timed_out = result
            .findings
            .iter()
            .any(|f| matches!(f.rule_id, RuleId::TimeLimit | RuleId::AnalysisCrashed));
        if result.status == Status::Error || timed_out {
            return;
        }
        if let Some(path) = result
            .sha256
            .as_deref()
            .and_then(|sha| self.result_path(sha, place))
            && !path.exists()
            && let Ok(json) = serde_json::to_vec(result)
        {
            let _ = write_atomic(&path, &json);
        }
    }

    fn remember(&self, key: &str, stat: Option<Stat>, sha: &str) {
        let Some(stat) = stat else { return };
        if now_nanos() - stat.mtime < RACY_NANOS {
            return;
        }
        if self
            .index
            .get(key)
            .is_some_and(|(s, h)| *s == stat && h == sha)
        {
            return;
        }
        if let Ok(mut updates) = self.updates.lock() {
            updates.push(StatLine {
                path: key.to_string(),
                stat,
                sha256: sha.to_string(),
            });
        }
    }

    /// Files answered from the cache so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    /// Writes the stat index back when it changed.
    pub fn save(&self) -> io::Result<()> {
        let updates = std::mem::take(&mut *self.updates.lock().unwrap_or_else(|p| p.into_inner()));
        if updates.is_empty() {
            return Ok(());
        }
        let mut index = self.index.clone();
        for line in updates {
            index.insert(line.path, (line.stat, line.sha256));
        }
        let mut text = String::new();
        for (path, (stat, sha256)) in index {
            let line = StatLine { path, stat, sha256 };
            if let Ok(json) = serde_json::to_string(&line) {
                text.push_str(&json);
                text.push('\n');
            }
        }
        write_atomic(&self.dir.join("stat-index.jsonl"), text.as_bytes())
    }
}

fn absolute_key(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// Which analyses of the same bytes a cached result stands for.
enum Place<'a> {
    /// A local file whose analysis did not look at where it was: valid for the same bytes
    /// anywhere.
    Anywhere,
    /// Bytes with no place of their own (an image member, a remote object): analyzers that
    /// look around a file had nothing to look at, so the result is not valid for a local file.
    Detached,
    /// A local file whose analysis depended on where it was (an MLflow code file judged by the
    /// `MLmodel` beside it): valid for that path only.
    At(&'a str),
}

impl Cache {
    /// A result recorded for this file whose metadata (size, times, inode) still matches, so
    /// the file need not even be read.
    pub fn by_metadata(&self, path: &Path, metadata: &fs::Metadata) -> Option<FileResult> {
        let stat = stat_of(metadata)?;
        let key = absolute_key(path);
        let (known, sha) = self.index.get(&key)?;
        if *known != stat {
            return None;
        }
        let result = self
            .load(sha, &Place::At(&key))
            .or_else(|| self.load(sha, &Place::Anywhere))?;
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(result)
    }

    /// A result recorded for these bytes (lower-case hex SHA-256), read from the local file
    /// `on_disk` if they were (a result that depended on its file's place is only reused there).
    pub fn by_content(&self, sha256: &str, on_disk: Option<&Path>) -> Option<FileResult> {
        let result = match on_disk {
            Some(path) => {
                let key = absolute_key(path);
                self.load(sha256, &Place::At(&key))
                    .or_else(|| self.load(sha256, &Place::Anywhere))
            }
            None => self
                .load(sha256, &Place::Anywhere)
                .or_else(|| self.load(sha256, &Place::Detached)),
        }?;
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(result)
    }

    /// Records a fresh result (`result.sha256` set), and the file's metadata when it is a
    /// local file (`on_disk`).
    pub fn record(&self, on_disk: Option<(&Path, &fs::Metadata)>, result: &FileResult) {
        let Some(sha) = result.sha256.as_deref() else {
            return;
        };
        let key = on_disk.map(|(path, _)| absolute_key(path));
        let place = match (&key, result.location_dependent) {
            (Some(key), true) => Place::At(key),
            (Some(_), false) => Place::Anywhere,
            (None, _) => Place::Detached,
        };
        self.store(result, &place);
        if let (Some(key), Some((_, metadata))) = (key, on_disk) {
            self.remember(&key, stat_of(metadata), sha);
        }
    }
}
