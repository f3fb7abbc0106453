//! `--record` and `aigis inventory`: runs recorded into the inventory database (SQLite by
//! default, PostgreSQL with `--db postgres://…`), what changed between them, and triage.

use aigis_engine::Run;
use aigis_report::terminal_safe as safe;
use aigis_store::{ScanDocument, ScanMeta, Since, Store, TriageState};
use anyhow::{Context as _, Result, bail};
use clap::{Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `--record` and `--db`, on the commands that can record their run.
#[derive(clap::Args, Clone, Default)]
pub struct RecordArgs {
    /// Record this run in the inventory database (see `--db`): what was found where, and what
    /// changed since the last time these locations were recorded.
    #[arg(long)]
    pub record: bool,
    /// The inventory database: sqlite:PATH or postgres://USER@HOST/DB [default:
    /// $XDG_DATA_HOME/aigis/inventory.db].
    #[arg(long, value_name = "URL", env = "AIGIS_DB")]
    pub db: Option<String>,
}

/// `aigis inventory …`.
#[derive(Subcommand)]
pub enum InventoryCommand {
    /// Record a saved JSON report (`aigis scan --format json`) or a CycloneDX ML-BOM in the
    /// inventory (content another tool listed is recorded as not analysed by aigis).
    Ingest {
        /// The report.
        file: PathBuf,
        /// The host whose paths the report names [default: this host].
        #[arg(long)]
        host: Option<String>,
        /// The folder relative paths in the report are relative to [default: none; they are
        /// recorded as given].
        #[arg(long, value_name = "DIR")]
        root: Option<String>,
        #[command(flatten)]
        db: DbArg,
    },
    /// What changed: content replaced at a location, new unsafe models, models gone.
    Changes {
        /// A scan id, or a date (YYYY-MM-DD, UTC) [default: every change].
        #[arg(long)]
        since: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
        #[command(flatten)]
        db: DbArg,
    },
    /// The recorded scans, newest first.
    Scans {
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
        #[command(flatten)]
        db: DbArg,
    },
    /// The models some location holds now, worst verdict first.
    Models {
        /// Also models no location holds any more (replaced, removed).
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
        #[command(flatten)]
        db: DbArg,
    },
    /// Open findings about content some location holds now, most severe first.
    Findings {
        /// Only this rule.
        #[arg(long)]
        rule: Option<String>,
        /// Include findings marked by triage.
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
        #[command(flatten)]
        db: DbArg,
    },
    /// Mark a finding (the id `aigis inventory findings` shows); the mark stays with the same
    /// finding on the same content through later scans.
    Triage {
        /// Finding id.
        id: i64,
        /// in_triage, false_positive, not_affected or accepted.
        #[arg(long)]
        state: String,
        /// Why (required to accept a risk).
        #[arg(long, default_value = "")]
        reason: String,
        /// Until when (YYYY-MM-DD, UTC); the finding is open again afterwards.
        #[arg(long)]
        expires: Option<String>,
        /// Who [default: $USER].
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        db: DbArg,
    },
    /// What the inventory holds now as one CycloneDX 1.6 ML-BOM: models with their files,
    /// other files, findings as vulnerabilities (triage as their analysis), locations.
    Export {
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        db: DbArg,
    },
}

/// Graph formats.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// `{"nodes": [...], "edges": [...]}` (or, with --paths, a list of paths).
    Json,
    /// Graphviz DOT.
    Dot,
    /// GraphML.
    Graphml,
    /// Text (for --paths).
    Text,
}

/// Arguments of `aigis graph`.
#[derive(clap::Args)]
pub struct GraphArgs {
    /// List ranked attack paths (exposure → location → content → code on load) instead of the
    /// graph.
    #[arg(long)]
    pub paths: bool,
    /// Only the part of the graph around this node (`model:12`, `location:3`, `file:7`, …,
    /// as the graph names them), read outwards from it.
    #[arg(long, value_name = "NODE", conflicts_with = "paths")]
    pub around: Option<String>,
    /// How many edges from `--around` to follow (1–6).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=6), requires = "around")]
    pub depth: u8,
    /// Output format [default: json for the graph, text for --paths].
    #[arg(long, value_enum)]
    pub format: Option<GraphFormat>,
    #[command(flatten)]
    pub db: DbArg,
}

/// Runs `aigis graph`.
pub fn graph(args: GraphArgs) -> Result<ExitCode> {
    let rt = runtime()?;
    let store = open(&rt, args.db.db.as_deref())?;
    if args.paths {
        let paths = rt.block_on(store.attack_paths())?;
        match args.format.unwrap_or(GraphFormat::Text) {
            GraphFormat::Json => print_json(&paths)?,
            GraphFormat::Text => {
                if paths.is_empty() {
                    println!(
                        "no attack paths: no location others can write holds code that runs on load"
                    );
                }
                for (i, path) in paths.iter().enumerate() {
                    println!("{}. [{}] {}", i + 1, path.severity, safe(&path.location));
                    for step in &path.steps {
                        println!("     → {}", safe(step));
                    }
                }
            }
            _ => bail!("--paths is written as text or json"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let graph = match &args.around {
        Some(node) => rt.block_on(store.neighbourhood(node, usize::from(args.depth)))?,
        None => rt.block_on(store.graph())?,
    };
    match args.format.unwrap_or(GraphFormat::Json) {
        GraphFormat::Json => print_json(&graph)?,
        GraphFormat::Dot => print!("{}", graph.to_dot()),
        GraphFormat::Graphml => print!("{}", graph.to_graphml()),
        GraphFormat::Text => bail!("the graph is written as json, dot or graphml"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `--db` alone.
#[derive(clap::Args, Clone)]
pub struct DbArg {
    /// The inventory database: sqlite:PATH or postgres://USER@HOST/DB [default:
    /// $XDG_DATA_HOME/aigis/inventory.db].
    #[arg(long, value_name = "URL", env = "AIGIS_DB")]
    pub db: Option<String>,
}

/// List output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Aligned text.
    Table,
    /// JSON.
    Json,
}

/// The default database: `$XDG_DATA_HOME/aigis/inventory.db`.
fn default_url() -> Result<String> {
    let dir = aigis_scan::deps::data_dir()
        .context("no data folder: set --db, AIGIS_DB, XDG_DATA_HOME or HOME")?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(format!("sqlite:{}", dir.join("inventory.db").display()))
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the inventory runtime")
}

pub(crate) fn open(rt: &tokio::runtime::Runtime, db: Option<&str>) -> Result<Store> {
    let url = match db {
        Some(url) => url.to_owned(),
        None => default_url()?,
    };
    if let Some(path) = url.strip_prefix("sqlite:")
        && let Some(parent) = Path::new(path.trim_start_matches("//")).parent()
        && !parent.as_os_str().is_empty()
        && !parent.exists()
    {
        bail!(
            "inventory database {}: the folder {} does not exist",
            safe(&url),
            safe(&parent.display().to_string())
        );
    }
    rt.block_on(Store::open(&url))
        .with_context(|| format!("opening the inventory {}", safe(&redact(&url))))
}

/// The URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) fn host() -> String {
    crate::view::host_name().unwrap_or_else(|| "localhost".to_owned())
}

/// A run as the inventory reads it: the JSON report (the contract) with `targets`.
pub(crate) fn document(run: &Run, targets: &[String]) -> Result<ScanDocument> {
    let mut report = crate::view::report(run);
    report.targets = targets.to_vec();
    let value = serde_json::to_value(&report).context("serialising the run")?;
    serde_json::from_value(value).context("reading the run back")
}

/// Who records a run, where and how (`collector`: scan, discover, bom, worker, …).
pub(crate) fn meta(collector: &str) -> ScanMeta {
    ScanMeta {
        started_at: now(),
        host: host(),
        collector: collector.to_owned(),
        arguments: std::env::args().collect(),
        base_dir: std::env::current_dir()
            .ok()
            .map(|d| d.to_string_lossy().into_owned()),
    }
}

/// Records a finished run (`scan`, `discover`, `bom` with `--record`) and says what changed
/// on stderr. An inventory that cannot be written fails the command: a run asked to be
/// recorded that was not is not a success.
pub fn record(
    run: &Run,
    targets: &[String],
    collector: &str,
    args: &RecordArgs,
    quiet: bool,
) -> Result<crate::Recorded> {
    let doc = document(run, targets)?;
    let meta = meta(collector);
    let rt = runtime()?;
    let store = open(&rt, args.db.as_deref())?;
    let summary = rt
        .block_on(store.ingest(&doc, &meta))
        .context("recording the run")?;
    if !quiet {
        eprintln!(
            "aigis: recorded scan {} in the inventory: {} files, {} models, {} new locations, {} changes",
            summary.scan_id,
            summary.files,
            summary.models,
            summary.new_locations,
            summary.events.len()
        );
    }
    for event in &summary.events {
        eprintln!(
            "aigis: {} [{}] {}",
            event.kind,
            event.severity,
            safe(&event.message)
        );
    }
    rt.block_on(store.close());
    Ok(crate::Recorded {
        scan_id: summary.scan_id,
        events: summary
            .events
            .iter()
            .filter_map(|e| serde_json::to_value(e).ok())
            .collect(),
    })
}

/// A date (YYYY-MM-DD) as seconds since the epoch, at midnight UTC.
fn date_seconds(text: &str) -> Result<i64> {
    let date = aigis_policy::Date::parse(text)
        .with_context(|| format!("`{}` is not a date (YYYY-MM-DD)", safe(text)))?;
    Ok(date.days_since_epoch() * 86_400)
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Runs `aigis inventory …`.
pub fn run(command: InventoryCommand) -> Result<ExitCode> {
    let rt = runtime()?;
    match command {
        InventoryCommand::Ingest {
            file,
            host: for_host,
            root,
            db,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let not_a_report = || {
                format!(
                    "{} is neither an aigis JSON report (aigis scan --format json) nor a CycloneDX BOM",
                    file.display()
                )
            };
            let value: serde_json::Value =
                serde_json::from_str(&text).with_context(not_a_report)?;
            let doc = if aigis_store::is_cyclonedx(&value) {
                ScanDocument::from_cyclonedx(&value).with_context(not_a_report)?
            } else {
                serde_json::from_value::<ScanDocument>(value).with_context(not_a_report)?
            };
            let store = open(&rt, db.db.as_deref())?;
            let meta = ScanMeta {
                started_at: now(),
                host: for_host.unwrap_or_else(host),
                collector: "ingest".to_owned(),
                arguments: std::env::args().collect(),
                base_dir: root,
            };
            let summary = rt.block_on(store.ingest(&doc, &meta))?;
            println!(
                "recorded scan {}: {} files, {} models, {} new locations, {} changes",
                summary.scan_id,
                summary.files,
                summary.models,
                summary.new_locations,
                summary.events.len()
            );
        }
        InventoryCommand::Changes { since, format, db } => {
            let since = match since.as_deref() {
                None => Since::Time(0),
                Some(text) => match text.parse::<i64>() {
                    Ok(id) => Since::Scan(id),
                    Err(_) => Since::Time(date_seconds(text)?),
                },
            };
            let store = open(&rt, db.db.as_deref())?;
            let events = rt.block_on(store.changes(since))?;
            if format == ListFormat::Json {
                print_json(&events)?;
            } else if events.is_empty() {
                println!("no changes");
            } else {
                for e in &events {
                    println!(
                        "{:>6}  scan {:<5} {:<18} {:<9} {}",
                        e.id,
                        e.scan_id,
                        e.kind,
                        e.severity,
                        safe(&e.message)
                    );
                }
            }
        }
        InventoryCommand::Scans { limit, format, db } => {
            let store = open(&rt, db.db.as_deref())?;
            let scans = rt.block_on(store.scans(limit))?;
            if format == ListFormat::Json {
                print_json(&scans)?;
            } else {
                println!(
                    "{:>6}  {:<20} {:<10} {:<16} {:>7} {:>10} {:>7}",
                    "ID", "STARTED (UTC)", "COLLECTOR", "HOST", "FILES", "INCOMPLETE", "CHANGES"
                );
                for s in &scans {
                    println!(
                        "{:>6}  {:<20} {:<10} {:<16} {:>7} {:>10} {:>7}",
                        s.id,
                        crate::view::rfc3339(u64::try_from(s.started_at).unwrap_or(0)),
                        safe(&s.collector),
                        safe(&s.host),
                        s.files,
                        s.incomplete,
                        s.events
                    );
                }
            }
        }
        InventoryCommand::Models { all, format, db } => {
            let store = open(&rt, db.db.as_deref())?;
            let models = rt.block_on(store.models(all))?;
            if format == ListFormat::Json {
                print_json(&models)?;
            } else {
                println!(
                    "{:>6}  {:<9} {:<32} {:>5}  {:<14} LOCATION",
                    "ID", "VERDICT", "NAME", "FILES", "LICENSE"
                );
                for m in &models {
                    println!(
                        "{:>6}  {:<9} {:<32} {:>5}  {:<14} {}",
                        m.id,
                        m.verdict,
                        safe(&m.name),
                        m.files,
                        safe(m.license.as_deref().unwrap_or("-")),
                        safe(m.locations.first().map_or("-", String::as_str)),
                    );
                    if !m.current {
                        println!("        (gone: last seen in scan {})", m.last_scan);
                    }
                }
            }
        }
        InventoryCommand::Findings {
            rule,
            all,
            format,
            db,
        } => {
            let store = open(&rt, db.db.as_deref())?;
            let findings = rt.block_on(store.findings(rule.as_deref(), all))?;
            if format == ListFormat::Json {
                print_json(&findings)?;
            } else {
                for f in &findings {
                    println!(
                        "{:>6}  {:<9} {:<28} {}{}",
                        f.id,
                        f.severity,
                        f.rule_id,
                        safe(&f.message),
                        f.triage
                            .as_deref()
                            .map(|t| format!("  [{t}]"))
                            .unwrap_or_default()
                    );
                    for location in &f.locations {
                        println!("        at {}", safe(location));
                    }
                }
            }
        }
        InventoryCommand::Triage {
            id,
            state,
            reason,
            expires,
            by,
            db,
        } => {
            let state: TriageState = state.parse().map_err(anyhow::Error::msg)?;
            let expires = expires.as_deref().map(date_seconds).transpose()?;
            let by = by
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "unknown".to_owned());
            let store = open(&rt, db.db.as_deref())?;
            rt.block_on(store.triage(id, state, &reason, expires, &by))?;
            println!("finding {id}: {}", state.as_str());
        }
        InventoryCommand::Export { output, db } => {
            let store = open(&rt, db.db.as_deref())?;
            let bom = rt.block_on(store.export_cyclonedx(env!("CARGO_PKG_VERSION")))?;
            rt.block_on(store.close());
            let text = serde_json::to_string_pretty(&bom)? + "\n";
            match output {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => {
                    use std::io::Write as _;
                    std::io::stdout().lock().write_all(text.as_bytes())?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_do_not_reach_error_messages() {
        assert_eq!(
            redact("postgres://aigis:s3cret@db:5432/inv"),
            "postgres://aigis:***@db:5432/inv"
        );
        assert_eq!(redact("sqlite:/tmp/x.db"), "sqlite:/tmp/x.db");
    }
}
