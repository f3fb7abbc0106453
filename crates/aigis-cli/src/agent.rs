//! `aigis agent`: discovery and scanning on a host, every so often, pushing what changed to an
//! `aigis serve` inventory. The first report (and any after files disappeared) is whole — the
//! roots as its targets, so the inventory sees what is gone —; later ones carry only results
//! whose content or verdict changed. A report the server cannot take now (it is down, it
//! answers 5xx) is kept in a spool folder, bounded in bytes, and delivered in order before the
//! next report; when the spool would overflow, the oldest reports are dropped and the next
//! report is whole again, so the inventory still converges on the host's state.

use crate::inventory::host;
use crate::view;
use aigis_engine::{CacheMode, Depth, EngineOptions};
use aigis_report::terminal_safe as safe;
use aigis_scan::ScanOptions;
use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// `aigis agent`.
#[derive(clap::Args)]
pub struct AgentArgs {
    /// Folders to cover [default: the `discover_roots` of `aigis.toml`, else this host's
    /// standard model locations, as `aigis discover`].
    pub roots: Vec<PathBuf>,
    /// The `aigis serve` to push to.
    #[arg(long, env = "AIGIS_SERVER", value_name = "URL")]
    pub server: String,
    /// A token with the `ingest` scope (`aigis serve token create --scope ingest`).
    #[arg(long, env = "AIGIS_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Time between runs.
    #[arg(long, default_value = "1h", value_parser = crate::fleet::duration)]
    pub every: Duration,
    /// Run once and exit (for a systemd timer or a CronJob).
    #[arg(long)]
    pub once: bool,
    /// Where reports wait while the server cannot take them, and what was last pushed
    /// [default: $XDG_STATE_HOME/aigis/agent, else ~/.local/state/aigis/agent].
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    /// Most the spool may hold, in MiB; beyond it the oldest reports are dropped and the next
    /// report is whole.
    #[arg(long, value_name = "MIB", default_value = "256")]
    pub spool_max_mib: u64,
    /// The host name reports are recorded under [default: this host's name].
    #[arg(long)]
    pub host: Option<String>,
    /// The host's root is mounted here (an agent in a container with the node's `/` at
    /// `/host`): the roots are read under it and reported as the host names them, without it.
    #[arg(long, value_name = "DIR")]
    pub host_root: Option<PathBuf>,
    /// Skip paths matching this glob (gitignore syntax, repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    #[command(flatten)]
    pub policy: crate::PolicyArgs,
}

/// What the agent remembers between runs (in the spool folder).
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// Each pushed (or spooled) result's fingerprint, by path.
    pushed: BTreeMap<String, String>,
    /// The next report must be whole (reports were dropped from a full spool).
    #[serde(default)]
    resync: bool,
}

/// What makes a result worth pushing again: its content, status and verdict.
fn fingerprint(result: &aigis_scan::FileResult) -> String {
    let findings: Vec<String> = result
        .findings
        .iter()
        .map(|f| format!("{}:{}", f.rule_id, f.severity))
        .collect();
    format!(
        "{}|{}|{:?}|{:?}|{}|{}",
        result.sha256.as_deref().unwrap_or("-"),
        result.size,
        result.status,
        result.max_severity,
        result.incomplete.is_some(),
        findings.join(",")
    )
}

/// The spool: reports as numbered files, oldest first, bounded in bytes.
struct Spool {
    dir: PathBuf,
    max_bytes: u64,
}

impl Spool {
    fn open(dir: PathBuf, max_bytes: u64) -> Result<Spool> {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the spool {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
        Ok(Spool { dir, max_bytes })
    }

    /// Spooled reports, oldest first, with their sizes.
    fn reports(&self) -> Result<Vec<(PathBuf, u64)>> {
        let mut reports: Vec<(PathBuf, u64)> = std::fs::read_dir(&self.dir)
            .with_context(|| format!("reading the spool {}", self.dir.display()))?
            .flatten()
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with("report-") && name.ends_with(".json")
            })
            .map(|e| (e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)))
            .collect();
        reports.sort();
        Ok(reports)
    }

    /// Keeps `body` for later. `false`: the spool had no room, so reports were dropped
    /// (this one, or older ones) and the next report must be whole.
    fn keep(&self, body: &[u8]) -> Result<bool> {
        let size = body.len() as u64;
        let mut reports = self.reports()?;
        if size > self.max_bytes {
            return Ok(false);
        }
        let mut total: u64 = reports.iter().map(|(_, n)| n).sum();
        let mut dropped = false;
        while total + size > self.max_bytes && !reports.is_empty() {
            let (oldest, n) = reports.remove(0);
            std::fs::remove_file(&oldest)
                .with_context(|| format!("dropping {}", oldest.display()))?;
            total -= n;
            dropped = true;
        }
        let next = reports
            .last()
            .and_then(|(p, _)| {
                p.file_stem()?
                    .to_str()?
                    .strip_prefix("report-")?
                    .parse::<u64>()
                    .ok()
            })
            .map_or(1, |n| n + 1);
        let path = self.dir.join(format!("report-{next:012}.json"));
        write_atomically(&path, body)?;
        Ok(!dropped)
    }
}

fn write_atomically(path: &Path, body: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, body).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

fn default_spool() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .context("no spool folder: set --spool, XDG_STATE_HOME or HOME")?;
    Ok(base.join("aigis/agent"))
}

fn log(message: &str) {
    eprintln!("aigis agent: {}", safe(message));
}

/// Runs `aigis agent`.
pub fn run(args: AgentArgs) -> Result<ExitCode> {
    if args.token.trim().is_empty() {
        bail!("--token (or AIGIS_TOKEN) is empty: a token with the `ingest` scope is needed");
    }
    let spool = Spool::open(
        match &args.spool {
            Some(dir) => dir.clone(),
            None => default_spool()?,
        },
        args.spool_max_mib.saturating_mul(1 << 20).max(1),
    )?;
    let host = args.host.clone().unwrap_or_else(host);
    loop {
        if let Err(err) = cycle(&args, &spool, &host) {
            if args.once {
                return Err(err);
            }
            log(&format!("{err:#}"));
        }
        if args.once {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(args.every);
    }
}

/// What a delivery attempt came to.
enum Delivered {
    /// The server recorded it.
    Yes,
    /// The server cannot take it now (down, 5xx, 429): keep it.
    Later(String),
    /// The server refused it for good (400, 413, 415): it is set aside.
    Refused(String),
}

fn deliver(args: &AgentArgs, host: &str, body: &[u8]) -> Result<Delivered> {
    let rt = crate::inventory::runtime()?;
    match rt.block_on(aigis_notify::push_report(
        &args.server,
        &args.token,
        host,
        body,
        2,
    )) {
        Ok(_) => Ok(Delivered::Yes),
        Err(aigis_notify::NotifyError::Status(code @ (401 | 403))) => bail!(
            "the server refused the token ({code}): it needs the `ingest` scope; nothing was marked delivered"
        ),
        Err(aigis_notify::NotifyError::Status(code))
            if (400..500).contains(&code) && code != 408 && code != 429 =>
        {
            Ok(Delivered::Refused(format!("HTTP {code}")))
        }
        Err(err) => Ok(Delivered::Later(err.to_string())),
    }
}

/// Delivers the spooled reports, oldest first; `false` if some must still wait.
fn drain(args: &AgentArgs, spool: &Spool, host: &str) -> Result<bool> {
    for (path, _) in spool.reports()? {
        let body = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        match deliver(args, host, &body)? {
            Delivered::Yes => {
                std::fs::remove_file(&path)?;
                log(&format!("delivered the spooled {}", path.display()));
            }
            Delivered::Later(why) => {
                log(&format!(
                    "the server cannot take reports now ({why}); they stay in the spool"
                ));
                return Ok(false);
            }
            Delivered::Refused(why) => {
                let aside = path.with_extension("refused");
                std::fs::rename(&path, &aside)?;
                log(&format!(
                    "the server refused {} ({why}); set aside as {}",
                    path.display(),
                    aside.display()
                ));
            }
        }
    }
    Ok(true)
}

fn cycle(args: &AgentArgs, spool: &Spool, host: &str) -> Result<()> {
    let state_path = spool.dir.join("state.json");
    let mut state: State = match std::fs::read(&state_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|_| State {
            resync: true,
            ..State::default()
        }),
        Err(_) => State::default(),
    };
    let drained = drain(args, spool, host)?;

    let policy = crate::load_policy(&args.policy)?;
    let mut roots = args.roots.clone();
    if roots.is_empty() {
        roots = policy.discover_roots.clone();
        if roots.is_empty() {
            roots = aigis_engine::standard_model_locations();
        }
    }
    let options = EngineOptions {
        scan: ScanOptions::default(),
        depth: Depth::Full,
        // Files whose stat did not change are answered by the result cache.
        cache_dir: aigis_engine::default_cache_dir(),
        cache_mode: CacheMode::Stat,
        exclude: args.exclude.clone(),
        ignore_files: args.policy.ignore_files.clone(),
        policy,
        ..EngineOptions::default()
    };
    let targets = crate::targets(&roots);
    let read_at: Vec<PathBuf> = match &args.host_root {
        Some(mount) => roots
            .iter()
            .map(|r| mount.join(r.strip_prefix("/").unwrap_or(r)))
            .collect(),
        None => roots.clone(),
    };
    let mut run = aigis_engine::run(
        &crate::targets(&read_at),
        &options,
        &aigis_engine::NoProgress,
    )?;
    // The agent's own spool (under /var/lib when that is a root) is not the host's content.
    let spool_dir = std::fs::canonicalize(&spool.dir).unwrap_or_else(|_| spool.dir.clone());
    let own = |path: &str| {
        let path = Path::new(path);
        path.starts_with(&spool.dir) || path.starts_with(&spool_dir)
    };
    run.results.retain(|r| !own(&r.path));
    run.models.retain(|m| !own(&m.path));
    if let Some(mount) = &args.host_root {
        as_the_host_sees_it(&mut run, mount);
    }
    for warning in &run.warnings {
        view::warn(warning);
    }
    let now: BTreeMap<String, String> = run
        .results
        .iter()
        .map(|r| (r.path.clone(), fingerprint(r)))
        .collect();
    let gone = state
        .pushed
        .keys()
        .filter(|p| !now.contains_key(*p))
        .count();
    let changed: std::collections::HashSet<String> = now
        .iter()
        .filter(|(path, print)| state.pushed.get(*path) != Some(*print))
        .map(|(path, _)| path.clone())
        .collect();
    let whole = state.pushed.is_empty() || state.resync || gone > 0;
    if !whole && changed.is_empty() {
        log(&format!(
            "{} files, nothing changed since the last report",
            now.len()
        ));
        return Ok(());
    }
    let report_targets = if whole {
        targets.clone()
    } else {
        // Only what changed: no targets, so the inventory infers nothing about the rest.
        run.results.retain(|r| changed.contains(&r.path));
        run.models.clear();
        Vec::new()
    };
    let mut report = view::report(&run);
    report.targets = report_targets;
    let body = aigis_report::json::to_string(&report).context("writing the report")?;
    let what = if whole {
        format!("whole report ({} files, {gone} gone)", now.len())
    } else {
        format!("{} changed of {} files", changed.len(), now.len())
    };
    let delivered = if drained {
        deliver(args, host, body.as_bytes())?
    } else {
        Delivered::Later("earlier reports are waiting".into())
    };
    let mut resync = false;
    match delivered {
        Delivered::Yes => log(&format!("pushed: {what}")),
        Delivered::Refused(why) => {
            log(&format!(
                "the server refused the report ({why}); the next one is whole"
            ));
            resync = true;
        }
        Delivered::Later(why) => {
            if spool.keep(body.as_bytes())? {
                log(&format!("spooled: {what} ({why})"));
            } else {
                log(&format!(
                    "the spool is full: older reports were dropped; the next report is whole ({why})"
                ));
                resync = true;
            }
        }
    }
    state.pushed = now;
    state.resync = resync;
    let state_json = serde_json::to_vec(&state).context("writing the agent's state")?;
    write_atomically(&state_path, &state_json)?;
    Ok(())
}

/// Paths under the host's mount point, written as the host names them.
fn as_the_host_sees_it(run: &mut aigis_engine::Run, mount: &Path) {
    let mount = mount.to_string_lossy().trim_end_matches('/').to_owned();
    if mount.is_empty() {
        return;
    }
    let strip = |text: &mut String| {
        if text.starts_with(&mount) && text[mount.len()..].starts_with('/') {
            text.replace_range(..mount.len(), "");
        }
        let inner = format!("{mount}/");
        if text.contains(&inner) {
            *text = text.replace(&inner, "/");
        }
    };
    for result in &mut run.results {
        strip(&mut result.path);
        for finding in &mut result.findings {
            strip(&mut finding.message);
            finding.indicators.iter_mut().for_each(&strip);
        }
    }
    for model in &mut run.models {
        strip(&mut model.path);
        for file in &mut model.files {
            strip(&mut file.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_spool_drops_the_oldest_reports_and_says_so() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let spool = Spool::open(dir.path().join("spool"), 100).unwrap_or_else(|e| panic!("{e}"));
        assert!(spool.keep(&[b'a'; 40]).unwrap_or(false));
        assert!(spool.keep(&[b'b'; 40]).unwrap_or(false));
        // No room for a third: the oldest goes, and the caller is told.
        assert!(!spool.keep(&[b'c'; 40]).unwrap_or(true));
        let kept: Vec<Vec<u8>> = spool
            .reports()
            .unwrap_or_default()
            .iter()
            .map(|(p, _)| std::fs::read(p).unwrap_or_default())
            .collect();
        assert_eq!(kept, vec![vec![b'b'; 40], vec![b'c'; 40]]);
        // Numbering goes on after the newest, so order survives the drop.
        let names: Vec<String> = spool
            .reports()
            .unwrap_or_default()
            .iter()
            .map(|(p, _)| {
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            names,
            ["report-000000000002.json", "report-000000000003.json"]
        );
        // A report larger than the whole spool is not kept at all.
        assert!(!spool.keep(&[b'd'; 101]).unwrap_or(true));
        assert_eq!(spool.reports().unwrap_or_default().len(), 2);
    }
}
