//! The local result cache: scan results keyed by content hash and rule-set version, plus a
//! fast path keyed by (path, size, mtime, ctime, inode, device) that skips re-hashing files
//! that did not change.
//!
//! Layout under the cache folder: `key` (a per-user secret, mode 0600),
//! `v1/<ruleset>/results/<sha[..2]>/<sha>[@place].json` holding one [`FileResult`] as the
//! analyzers produced it (before any policy), and `v1/<ruleset>/stat-index.jsonl` mapping file
//! metadata to content hashes. Every write goes to a temporary file first and is renamed into
//! place; unreadable or corrupt entries are ignored and overwritten.
//!
//! **A cache nobody else can write.** The folder must belong to the user running aigis and be
//! writable by nobody else, or it is not used (the run says so and scans uncached). Every entry
//! and index line carries an HMAC-SHA256 under the secret, checked before it is believed, so a
//! verdict planted in a shared or restored cache folder is ignored. A result that looked at other
//! files (an MLflow code file judged by the `MLmodel` above it) records their metadata — present or
//! absent — and is reused only while they are unchanged.
//!
//! **Limit of the metadata path**: a write through a shared memory mapping can change a file's
//! bytes without changing its mtime or ctime, so the stat index would return the verdict of the
//! old bytes. [`CacheMode::Content`] always re-hashes and reuses only analyses (the default under
//! `CI=true`).

use aigis_scan::{FileResult, RuleId, ScanOptions, Scanner, Status};
use hmac::{Hmac, KeyInit, Mac};
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
    hasher.update(format!("|pipeline@{}", aigis_scan::PIPELINE_VERSION).as_bytes());
    for analyzer in scanner.registry().analyzers() {
        hasher.update(format!("|{}@{}", analyzer.id(), analyzer.version()).as_bytes());
    }
    let mut allow = options.analysis.allow_globals.clone();
    allow.sort();
    let mut deny = options.analysis.deny_globals.clone();
    deny.sort();
    hasher.update(format!("|{:?}|{allow:?}|{deny:?}", options.analysis.limits).as_bytes());
    if options.analysis.deep {
        hasher.update(b"|deep");
    }
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

/// A file a result looked at besides its own, and its metadata then (`None`: absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Dependency {
    path: PathBuf,
    stat: Option<Stat>,
}

/// What a result file holds.
#[derive(Serialize, Deserialize)]
struct Entry {
    result: FileResult,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    depends_on: Vec<Dependency>,
}

/// How the cache may answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// By file metadata first (no re-hash of unchanged files), then by content.
    #[default]
    Stat,
    /// By content only: every file is hashed, analyses are reused (writes through a shared
    /// mapping that keep mtime and ctime cannot serve a stale verdict).
    Content,
}

/// Why a cache folder is not used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The folder or its key belongs to someone else, or others can write it.
    #[error("{0}")]
    Untrusted(String),
    /// It could not be created or read.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// An open cache for one rule-set version.
pub struct Cache {
    dir: PathBuf,
    key: Vec<u8>,
    mode: CacheMode,
    index: HashMap<String, (Stat, String)>,
    updates: Mutex<Vec<StatLine>>,
    hits: AtomicUsize,
}

/// The user this process runs as: the owner of a file it creates.
fn current_uid() -> io::Result<u32> {
    use std::os::unix::fs::MetadataExt;
    Ok(tempfile::tempfile()?.metadata()?.uid())
}

/// Refuses a path that is not ours or that others can write (`mode_mask`: bits that must be off).
fn check_owned(path: &Path, uid: u32, mode_mask: u32) -> Result<(), CacheError> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Err(CacheError::Untrusted(format!(
            "{} is a symbolic link",
            path.display()
        )));
    }
    if meta.uid() != uid {
        return Err(CacheError::Untrusted(format!(
            "{} belongs to uid {}, not to this user (uid {uid})",
            path.display(),
            meta.uid()
        )));
    }
    if meta.mode() & mode_mask != 0 {
        return Err(CacheError::Untrusted(format!(
            "{} is writable or readable by others (mode {:o})",
            path.display(),
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

/// The cache's secret: read (checked) or made (32 bytes from the system's random source).
fn secret(root: &Path, uid: u32) -> Result<Vec<u8>, CacheError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let path = root.join("key");
    match fs::read(&path) {
        Ok(key) => {
            check_owned(&path, uid, 0o077)?;
            if key.len() < 32 {
                return Err(CacheError::Untrusted(format!(
                    "{} is too short",
                    path.display()
                )));
            }
            Ok(key)
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            let mut key = vec![0u8; 32];
            fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            file.write_all(&key)?;
            Ok(key)
        }
        Err(err) => Err(err.into()),
    }
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

/// Writes `bytes` to `path` through a temporary file and a rename (folders made 0700).
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
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
    /// Opens (or starts) the cache for `ruleset` under `root`, refusing a folder that is not the
    /// current user's alone.
    pub fn open(root: &Path, ruleset: &str, mode: CacheMode) -> Result<Cache, CacheError> {
        use std::os::unix::fs::DirBuilderExt;
        let uid = current_uid()?;
        if !root.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)?;
        }
        check_owned(root, uid, 0o022)?;
        let key = secret(root, uid)?;
        let dir = root.join("v1").join(ruleset);
        let mut cache = Cache {
            dir,
            key,
            mode,
            index: HashMap::new(),
            updates: Mutex::new(Vec::new()),
            hits: AtomicUsize::new(0),
        };
        if mode == CacheMode::Stat
            && let Ok(text) = fs::read_to_string(cache.dir.join("stat-index.jsonl"))
        {
            for line in text.lines() {
                if let Some(json) = cache.verified(line.as_bytes())
                    && let Ok(entry) = serde_json::from_slice::<StatLine>(json)
                {
                    cache.index.insert(entry.path, (entry.stat, entry.sha256));
                }
            }
        }
        Ok(cache)
    }

    /// HMAC-SHA256 of `data` under the cache's secret.
    fn tag(&self, data: &[u8]) -> Option<Vec<u8>> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).ok()?;
        mac.update(data);
        Some(mac.finalize().into_bytes().to_vec())
    }

    /// `<hex HMAC> <data>`: what is written (a record without a tag never verifies).
    fn sign(&self, data: &[u8]) -> Vec<u8> {
        let mut out = hex::encode(self.tag(data).unwrap_or_default()).into_bytes();
        out.push(b' ');
        out.extend_from_slice(data);
        out
    }

    /// The data of a signed record, if its HMAC is right.
    fn verified<'a>(&self, record: &'a [u8]) -> Option<&'a [u8]> {
        let (tag, data) = (record.get(..64)?, record.get(65..)?);
        let tag = hex::decode(tag).ok()?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).ok()?;
        mac.update(data);
        mac.verify_slice(&tag).ok()?;
        Some(data)
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
        let entry: Entry = serde_json::from_slice(self.verified(&bytes)?).ok()?;
        let result = entry.result;
        let at = matches!(place, Place::At(_));
        let fits = result.sha256.as_deref() == Some(sha) && result.location_dependent == at;
        // Files it looked at must be as they were.
        let unchanged = entry
            .depends_on
            .iter()
            .all(|d| fs::metadata(&d.path).ok().as_ref().and_then(stat_of) == d.stat);
        (fits && unchanged).then_some(result)
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
        let depends_on = result
            .consulted
            .iter()
            .map(|path| Dependency {
                path: path.clone(),
                stat: fs::metadata(path).ok().as_ref().and_then(stat_of),
            })
            .collect();
        let entry = Entry {
            result: result.clone(),
            depends_on,
        };
        // A result that looked at other files is rewritten (they may have changed since).
        if let Some(path) = result
            .sha256
            .as_deref()
            .and_then(|sha| self.result_path(sha, place))
            && (!path.exists() || !result.consulted.is_empty())
            && let Ok(json) = serde_json::to_vec(&entry)
        {
            let _ = write_atomic(&path, &self.sign(&json));
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
        let mut text = Vec::new();
        for (path, (stat, sha256)) in index {
            let line = StatLine { path, stat, sha256 };
            if let Ok(json) = serde_json::to_vec(&line) {
                text.extend(self.sign(&json));
                text.push(b'\n');
            }
        }
        write_atomic(&self.dir.join("stat-index.jsonl"), &text)
    }
}

fn absolute_key(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// The place key of bytes with no place of their own, shown as `name` (an image member, a
/// remote object).
fn detached_key(name: &str) -> String {
    format!("detached:{name}")
}

/// Which analyses of the same bytes a cached result stands for.
enum Place<'a> {
    /// A local file whose analysis did not look at where it was or what it is called: valid
    /// for the same bytes anywhere.
    Anywhere,
    /// Bytes with no place of their own (an image member, a remote object): analyzers that
    /// look around a file had nothing to look at, so the result is not valid for a local file.
    Detached,
    /// A local file whose analysis depended on where it was (an MLflow code file judged by the
    /// `MLmodel` beside it) or on its name (content no analyzer claims, `invalid` under a
    /// model's name and `unsupported` under another): valid for that path only.
    At(&'a str),
}

impl Cache {
    /// A result recorded for this file whose metadata (size, times, inode) still matches, so
    /// the file need not even be read.
    pub fn by_metadata(&self, path: &Path, metadata: &fs::Metadata) -> Option<FileResult> {
        if self.mode == CacheMode::Content {
            return None;
        }
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
    /// `on_disk` if they were, else shown as `name` (a result that depended on its file's place
    /// or name is only reused there).
    pub fn by_content(
        &self,
        sha256: &str,
        on_disk: Option<&Path>,
        name: &str,
    ) -> Option<FileResult> {
        let result = match on_disk {
            Some(path) => {
                let key = absolute_key(path);
                self.load(sha256, &Place::At(&key))
                    .or_else(|| self.load(sha256, &Place::Anywhere))
            }
            None => self
                .load(sha256, &Place::At(&detached_key(name)))
                .or_else(|| self.load(sha256, &Place::Anywhere))
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
        let key = match on_disk {
            Some((path, _)) => Some(absolute_key(path)),
            // Bytes with no place whose result depended on their name (content no analyzer
            // claims, judged by what its name says it is): kept under that name.
            None if result.location_dependent => Some(detached_key(&result.path)),
            None => None,
        };
        let place = match (&key, result.location_dependent) {
            (Some(key), true) => Place::At(key),
            (Some(_), false) => Place::Anywhere,
            (None, _) => Place::Detached,
        };
        self.store(result, &place);
        if let (Some(key), Some((_, metadata)), CacheMode::Stat) = (key, on_disk, self.mode) {
            self.remember(&key, stat_of(metadata), sha);
        }
    }
}
