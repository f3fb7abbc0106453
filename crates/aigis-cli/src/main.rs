//! `aigis`: find and scan AI model files for code that runs when they are loaded.

#[cfg(all(feature = "inventory", feature = "notify"))]
mod agent;
mod bom;
mod db;
#[cfg(feature = "detonate")]
mod detonate;
mod discover;
mod export;
#[cfg(feature = "inventory")]
mod fleet;
mod inspect;
#[cfg(feature = "inventory")]
mod inventory;
#[cfg(feature = "notify")]
mod notify;
mod remote;
#[cfg(feature = "serve")]
mod serve;
mod verify;
mod view;
#[cfg(feature = "watch")]
mod watch;

use aigis_engine::{CacheMode, EngineOptions, Run};
use aigis_policy::{Date, Policy};
use aigis_report::{ScanReport, html, junit, markdown, sarif, terminal};
use aigis_scan::{FileResult, RuleId, ScanOptions, Severity};
use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

// Scanning a folder of small files is allocation-bound (the pickle machine builds and drops
// many small values per file, on every worker thread); mimalloc's thread-local free lists
// cut that cost well below glibc malloc's (measured by scripts/bench). Built without its
// transparent-huge-page advice: zeroing 2 MiB pages on first touch cost more than it saved and
// doubled the peak RSS of a scan of small files.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "aigis",
    version,
    about = "AI model supply-chain scanner: what would this model do if loaded?"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan model files and folders statically (nothing is loaded or executed).
    Scan(Box<ScanArgs>),
    /// Inventory the models on this host (or under PATH): name, provenance, format, facts.
    Discover(discover::DiscoverArgs),
    /// Write an AI-BOM (CycloneDX 1.6 or SPDX 3.0) of the models under PATH.
    Bom(bom::BomArgs),
    /// Show what loading a model would do: the pickle program (imports, calls, objects built)
    /// with byte offsets, the objects a config instantiates, archive members with verdicts.
    Inspect(inspect::InspectArgs),
    /// List the rule catalogue, or show one rule.
    Rules {
        /// Rule id, e.g. PICKLE-CALL-DANGEROUS.
        id: Option<String>,
        /// `text` for people, `json` for machines.
        #[arg(long, value_enum, default_value = "text")]
        format: RulesFormat,
    },
    /// The inventory of recorded runs (`--record`): scans, models, findings, what changed,
    /// triage.
    #[cfg(feature = "inventory")]
    Inventory {
        #[command(subcommand)]
        command: inventory::InventoryCommand,
    },
    /// The security graph of the inventory (JSON, DOT, GraphML), or its ranked attack paths
    /// (`--paths`): who can replace a model, and what loading it runs.
    #[cfg(feature = "inventory")]
    Graph(inventory::GraphArgs),
    /// Put targets (bucket prefixes, hub repositories, URLs, paths) on the fleet's work queue
    /// in the inventory database, for `aigis worker`s to scan and record.
    #[cfg(feature = "inventory")]
    Enqueue(fleet::EnqueueArgs),
    /// Claim jobs from the work queue under a lease, scan them and record the results in the
    /// inventory (PostgreSQL for many workers on many hosts).
    #[cfg(feature = "inventory")]
    Worker(Box<fleet::WorkerArgs>),
    /// The work queues: depth, running leases, throughput, dead-lettered jobs; pause, resume,
    /// retry.
    #[cfg(feature = "inventory")]
    Jobs(fleet::JobsArgs),
    /// Targets enqueued every so often (fired by any worker, exactly once per period).
    #[cfg(feature = "inventory")]
    Schedule(fleet::ScheduleArgs),
    /// Discover and scan this host's models every so often and push what changed to an
    /// `aigis serve` inventory (reports wait in a bounded spool while the server is away).
    #[cfg(all(feature = "inventory", feature = "notify"))]
    Agent(Box<agent::AgentArgs>),
    /// Serve the inventory over HTTP: a REST API with an OpenAPI document, an ingest endpoint
    /// for reports pushed by CI jobs and other hosts, scoped tokens (`aigis serve token …`).
    #[cfg(feature = "serve")]
    Serve(serve::ServeArgs),
    /// The offline advisory database that dependency files are checked against.
    Db {
        #[command(subcommand)]
        command: db::DbCommand,
    },
    /// Watch folders and scan model files as they appear or change (inotify), one JSON line per
    /// result; a result at or above the fail threshold is an alert (stderr, webhooks).
    #[cfg(feature = "watch")]
    Watch(Box<watch::WatchArgs>),
    /// Load a model with its real loader inside a sandbox (bubblewrap: no network, read-only
    /// system, private /tmp; strace observes) and report what the load attempted beside the
    /// static findings. Opt-in: never run by `scan`.
    #[cfg(feature = "detonate")]
    Detonate(Box<detonate::DetonateArgs>),
    /// (Inside the detonation sandbox: confine with Landlock, then run the loader.)
    #[cfg(feature = "detonate")]
    #[command(name = "__confine", hide = true)]
    Confine {
        /// The loader's command line.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
    /// Rules for runtime sensors over the models aigis knows: a Falco rules file or a Tetragon
    /// TracingPolicy watching model files being written or loaded, shells started and
    /// mining-pool connections made by model-loading processes.
    Export(Box<export::ExportArgs>),
    /// Verify a model's OpenSSF Model Signing signature (`model.sig`) offline: the signature
    /// (public key, certificate chain, or Sigstore keyless against a bundled trusted root) and
    /// every file against the signed manifest. Exit 0 when verified.
    Verify(Box<verify::VerifyArgs>),
    /// Work with policy files (`aigis.toml`).
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy file (default: the `aigis.toml` found from the current folder up).
    Check {
        /// The policy file.
        file: Option<PathBuf>,
    },
}

/// `--fail-on`: a severity, or `none`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum FailOn {
    /// Never fail on findings.
    None,
    /// Fail at or above this severity.
    At(Severity),
}

impl std::str::FromStr for FailOn {
    type Err = String;
    fn from_str(text: &str) -> Result<FailOn, String> {
        if text.eq_ignore_ascii_case("none") {
            return Ok(FailOn::None);
        }
        text.parse::<Severity>()
            .map(FailOn::At)
            .map_err(|e| format!("{e} (or `none`)"))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CacheArg {
    /// By file metadata, then by content.
    Stat,
    /// By content only.
    Content,
    /// No cache.
    Off,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RulesFormat {
    /// Aligned text.
    Text,
    /// A JSON array of rules.
    Json,
    /// The rule reference as Markdown (what `docs/rules.md` holds).
    Markdown,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// Human-readable report.
    Terminal,
    /// The JSON contract document.
    Json,
    /// SARIF 2.1.0 (GitHub code scanning).
    Sarif,
    /// One self-contained HTML page.
    Html,
    /// JUnit XML, one test case per file.
    Junit,
    /// A Markdown pull-request comment.
    Markdown,
    /// A CycloneDX 1.6 JSON BOM (files grouped into models).
    Cyclonedx,
    /// An SPDX 3.0.1 JSON-LD document (files grouped into models).
    Spdx,
}

#[derive(clap::Args)]
struct ScanArgs {
    /// Files and folders to scan (folders recursively). With --changed-since, limits the
    /// changed files to these paths.
    #[arg(required_unless_present = "changed_since")]
    paths: Vec<PathBuf>,
    /// Skip paths matching this glob (gitignore syntax, repeatable).
    #[arg(
        long,
        value_name = "GLOB",
        env = "AIGIS_EXCLUDE",
        value_delimiter = ','
    )]
    exclude: Vec<String>,
    /// Report format written to stdout (or to --output).
    #[arg(long, value_enum, default_value = "terminal", env = "AIGIS_FORMAT")]
    format: OutputFormat,
    /// Write the report here; `FORMAT=FILE` writes that format (repeatable).
    #[arg(long, short)]
    output: Vec<String>,
    /// Exit with code 1 when an unsuppressed finding reaches this severity, or `none` to never
    /// fail on findings [default: the policy's `fail_on`, else high].
    #[arg(long, env = "AIGIS_FAIL_ON", value_name = "SEVERITY|none")]
    fail_on: Option<FailOn>,
    /// Report only findings of these severities (comma-separated, e.g. `critical,high`); the
    /// exit code still follows --fail-on [default: all; SARIF leaves `info` out].
    #[arg(
        long,
        env = "AIGIS_SEVERITY",
        value_delimiter = ',',
        value_name = "LEVELS"
    )]
    severity: Vec<Severity>,
    /// Trust this global in pickles (`module.Qualname` or `prefix.*`, repeatable).
    #[arg(long = "allow-global", value_name = "MODULE.NAME")]
    allow_global: Vec<String>,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    signatures: verify::SignatureArgs,
    /// Scan only files git reports changed since REF (committed since the merge base, plus
    /// uncommitted and untracked files).
    #[arg(long, value_name = "REF")]
    changed_since: Option<String>,
    /// Cache folder [default: $XDG_CACHE_HOME/aigis or ~/.cache/aigis].
    #[arg(long, value_name = "DIR", env = "AIGIS_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Neither read nor write the result cache (same as `--cache off`).
    #[arg(long)]
    no_cache: bool,
    /// How the result cache may answer: `stat` reuses a result while the file's metadata is
    /// unchanged, `content` always re-hashes and reuses only analyses (a write through a shared
    /// memory mapping keeps mtime and ctime), `off` [default: content under CI=true, else stat].
    #[arg(long, value_enum, value_name = "MODE")]
    cache: Option<CacheArg>,
    /// Skip SHA-256 hashing (also disables the cache, which is keyed by content hash).
    #[arg(long)]
    no_hash: bool,
    /// Also check the tensor bytes of safetensors, GGUF and PyTorch zip files (embedded
    /// payloads, NaN/Inf, layout, low-bit statistics), in the hashing pass.
    #[arg(long)]
    deep: bool,
    /// Wall-clock limit per file, in seconds; a file over it is reported with status `error`.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value = "60",
        env = "AIGIS_TIME_LIMIT"
    )]
    time_limit: f64,
    /// Bytes read or decompressed from any single archive member or stream.
    #[arg(long, value_name = "BYTES")]
    max_member_bytes: Option<u64>,
    /// Archive-in-archive nesting depth.
    #[arg(long, value_name = "N")]
    max_depth: Option<usize>,
    /// Print nothing when the run passes; when it fails, one verdict line and the files that
    /// failed it, on stderr (reports asked for with --format/--output are still written).
    #[arg(long, short, env = "AIGIS_QUIET")]
    quiet: bool,
    /// List every file, including clean ones, info and suppressed findings; print cache
    /// statistics on stderr.
    #[arg(long, short)]
    verbose: bool,
    #[command(flatten)]
    remote: remote::RemoteArgs,
    #[cfg(feature = "inventory")]
    #[command(flatten)]
    record: inventory::RecordArgs,
    /// Also load each local model file of a format with a known loader in the `aigis detonate`
    /// sandbox (bwrap and strace needed) and add what the loads attempted. Runs the files'
    /// code, contained: never done without this flag.
    #[cfg(feature = "detonate")]
    #[arg(long)]
    detonate: bool,
    /// The Python whose frameworks load the files with `--detonate` (aigis never installs one).
    #[cfg(feature = "detonate")]
    #[arg(
        long,
        value_name = "PATH",
        default_value = "python3",
        requires = "detonate"
    )]
    detonate_python: PathBuf,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!(
                "aigis: {}",
                aigis_report::terminal_safe(&format!("{err:#}"))
            );
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Scan(args) => scan(*args),
        Command::Discover(args) => discover::run(args),
        Command::Bom(args) => bom::run(args),
        Command::Export(args) => export::run(*args),
        Command::Inspect(args) => inspect::inspect(args),
        Command::Rules { id, format } => rules(id.as_deref(), format),
        Command::Verify(args) => verify::run(*args),
        Command::Policy {
            command: PolicyCommand::Check { file },
        } => policy_check(file),
        Command::Db { command } => db::run(command),
        #[cfg(feature = "inventory")]
        Command::Inventory { command } => inventory::run(command),
        #[cfg(feature = "inventory")]
        Command::Graph(args) => inventory::graph(args),
        #[cfg(feature = "inventory")]
        Command::Enqueue(args) => fleet::enqueue(args),
        #[cfg(feature = "inventory")]
        Command::Worker(args) => fleet::worker(*args),
        #[cfg(feature = "inventory")]
        Command::Jobs(args) => fleet::jobs(args),
        #[cfg(feature = "inventory")]
        Command::Schedule(args) => fleet::schedule(args),
        #[cfg(all(feature = "inventory", feature = "notify"))]
        Command::Agent(args) => agent::run(*args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run(args),
        #[cfg(feature = "watch")]
        Command::Watch(args) => watch::watch(*args),
        #[cfg(feature = "detonate")]
        Command::Detonate(args) => detonate::run(*args),
        #[cfg(feature = "detonate")]
        Command::Confine { command } => Ok(detonate::confine(&command)),
    }
}

/// Policy options every command that runs the engine takes.
#[derive(clap::Args, Clone, Default)]
pub struct PolicyArgs {
    /// Policy file [default: `aigis.toml` in the current folder or a parent — the operator's
    /// project, never the scanned content].
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "no_policy",
        env = "AIGIS_POLICY"
    )]
    policy: Option<PathBuf>,
    /// Do not look for a policy file.
    #[arg(long)]
    no_policy: bool,
    /// Obey this ignore file (gitignore syntax) for the paths below its folder (repeatable).
    /// The `.aigisignore` files of the current folder's project are obeyed anyway; those inside
    /// scanned content elsewhere never are.
    #[arg(long = "ignore-file", value_name = "FILE")]
    pub ignore_files: Vec<PathBuf>,
    /// Results that could not be analysed to the end (read errors, time limits, limits that
    /// stopped analysis) are reported but do not fail the run [default: they fail it, exit 3;
    /// policy `on_incomplete = "warn"` does the same].
    #[arg(long, env = "AIGIS_ALLOW_INCOMPLETE")]
    pub allow_incomplete: bool,
    /// A target with nothing to scan (an empty folder, a bucket prefix without objects) does
    /// not fail the run [default: it does, exit 3].
    #[arg(long, env = "AIGIS_ALLOW_EMPTY")]
    pub allow_empty: bool,
}

/// The operator's policy: `--policy`, else `$AIGIS_POLICY`, else the `aigis.toml` of the
/// current folder or a parent. A policy is never taken from the content being scanned: a
/// downloaded model folder could otherwise allow its own payload.
pub(crate) fn load_policy(args: &PolicyArgs) -> Result<Policy> {
    if args.no_policy {
        return Ok(Policy::default());
    }
    let file = args
        .policy
        .clone()
        .or_else(|| aigis_policy::discover(Path::new(".")));
    match file {
        Some(file) => Ok(Policy::load(&file)?),
        None => Ok(Policy::default()),
    }
}

/// What, besides findings, fails a run.
#[derive(Clone, Copy)]
pub(crate) struct Gate {
    /// Results that did not complete fail the run.
    pub incomplete: bool,
    /// Targets with nothing to scan fail the run.
    pub empty: bool,
}

/// The gate of a run with these options and policy.
pub(crate) fn gate(args: &PolicyArgs, policy: &Policy) -> Gate {
    Gate {
        incomplete: !args.allow_incomplete
            && policy.on_incomplete != Some(aigis_policy::OnIncomplete::Warn),
        empty: !args.allow_empty,
    }
}

/// The exit code of a run: 1 when a finding reached the threshold (unless `--fail-on none`),
/// else 3 when something could not be analysed to the end (unless allowed), else 0.
pub(crate) fn exit_code(run: &Run, fail_on_findings: bool, gate: Gate) -> u8 {
    if fail_on_findings && run.fails() {
        1
    } else if (gate.incomplete && run.incomplete().next().is_some())
        || (gate.empty && !run.empty_targets.is_empty())
    {
        3
    } else {
        0
    }
}

/// A progress bar on stderr, when it is a terminal.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new(quiet: bool) -> Bar {
        if quiet || !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos}/{len} files {wide_bar} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Bar(Some(bar))
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl aigis_engine::Progress for Bar {
    fn planned(&self, inputs: u64) {
        if let Some(bar) = &self.0 {
            bar.inc_length(inputs);
        }
    }

    fn hashing(&self, path: &str, done: u64, total: u64) {
        if let Some(bar) = &self.0 {
            let name = path.rsplit('/').next().unwrap_or(path);
            bar.set_message(format!(
                "hashing {} {:.1}/{:.1} GB",
                aigis_report::terminal_safe(name),
                done as f64 / 1e9,
                total as f64 / 1e9
            ));
        }
    }

    fn finished(&self, _result: &FileResult) {
        if let Some(bar) = &self.0 {
            bar.set_message("");
            // Images and archives yield more results than the inputs planned.
            if bar.position() >= bar.length().unwrap_or(0) {
                bar.inc_length(1);
            }
            bar.inc(1);
        }
    }
}

/// Whether this run is in CI (`CI=true` or `1`): the cache then re-hashes every file.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Targets as the engine takes them (local paths and remote URLs).
pub(crate) fn targets(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

fn scan(args: ScanArgs) -> Result<ExitCode> {
    if !(args.time_limit.is_finite() && args.time_limit >= 0.0) {
        bail!("--time-limit must be a number of seconds");
    }
    let policy = load_policy(&args.policy)?;
    let gate = gate(&args.policy, &policy);
    let webhooks = policy.webhooks.clone();
    let mut scan = ScanOptions {
        hash: !args.no_hash,
        ..ScanOptions::default()
    };
    scan.analysis.allow_globals = args.allow_global.clone();
    scan.analysis.deep = args.deep;
    let limits = &mut scan.analysis.limits;
    limits.time_limit = std::time::Duration::from_secs_f64(args.time_limit);
    if let Some(bytes) = args.max_member_bytes {
        limits.max_member_bytes = bytes;
    }
    if let Some(depth) = args.max_depth {
        limits.max_depth = depth;
    }
    let options = EngineOptions {
        scan,
        cache_dir: if args.no_cache || args.no_hash || args.cache == Some(CacheArg::Off) {
            None
        } else {
            args.cache_dir
                .clone()
                .or_else(aigis_engine::default_cache_dir)
        },
        cache_mode: match args.cache {
            Some(CacheArg::Stat) => CacheMode::Stat,
            Some(CacheArg::Content) => CacheMode::Content,
            _ if in_ci() => CacheMode::Content,
            _ => CacheMode::Stat,
        },
        changed_since: args.changed_since.clone(),
        exclude: args.exclude.clone(),
        ignore_files: args.policy.ignore_files.clone(),
        policy,
        signatures: args.signatures.engine()?,
        fail_on: match args.fail_on {
            Some(FailOn::At(severity)) => Some(severity),
            _ => None,
        },
        #[cfg(feature = "remote")]
        remote: args.remote.options(),
        ..EngineOptions::default()
    };
    let bar = Bar::new(args.quiet);
    #[cfg_attr(not(feature = "detonate"), allow(unused_mut))]
    let mut run = aigis_engine::run(&targets(&args.paths), &options, &bar)?;
    bar.finish();
    #[cfg(feature = "detonate")]
    if args.detonate {
        detonate::detonate_results(&mut run, &args.detonate_python)?;
    }
    if args.verbose
        && let Some(cache) = &run.cache
    {
        eprintln!(
            "aigis: cache {}: {} hits, {} misses",
            cache.dir.display(),
            cache.hits,
            cache.misses
        );
    }
    for warning in &run.warnings {
        view::warn(warning);
    }
    let mut report = view::report(&run);
    report.targets = targets(&args.paths);
    report.incomplete_fails = gate.incomplete;
    if !args.severity.is_empty() {
        view::keep_severities(&mut report, &args.severity);
    }
    let sarif_min = if args.severity.contains(&Severity::Info) {
        Severity::Info
    } else {
        Severity::Low
    };
    let code = exit_code(&run, args.fail_on != Some(FailOn::None), gate);
    for spec in &args.output {
        let (format, path) = match spec.split_once('=') {
            Some((name, path)) => (
                OutputFormat::from_str(name, true)
                    .map_err(|e| anyhow::anyhow!("--output {spec}: {e}"))?,
                path,
            ),
            None => (args.format, spec.as_str()),
        };
        let text = render(&run, &report, format, false, args.verbose, sarif_min)?;
        std::fs::write(path, text).with_context(|| format!("writing {path}"))?;
    }
    if args.output.is_empty() && !(args.quiet && args.format == OutputFormat::Terminal) {
        let color = args.format == OutputFormat::Terminal && view::use_color();
        let text = render(&run, &report, args.format, color, args.verbose, sarif_min)?;
        std::io::stdout().write_all(text.as_bytes())?;
    }
    if args.quiet && code != 0 {
        eprint!("{}", view::failure_summary(&run, code));
    }
    #[cfg(feature = "inventory")]
    let recorded = if args.record.record {
        Some(inventory::record(
            &run,
            &targets(&args.paths),
            "scan",
            &args.record,
            args.quiet,
        )?)
    } else {
        None
    };
    #[cfg(not(feature = "inventory"))]
    let recorded = None;
    announce(
        &run,
        code,
        "scan",
        &targets(&args.paths),
        recorded,
        &webhooks,
    );
    Ok(ExitCode::from(code))
}

/// What the inventory recorded of a run (`--record`): its scan id and what changed, each
/// change as the inventory's JSON row.
#[cfg_attr(not(feature = "notify"), allow(dead_code))]
pub(crate) struct Recorded {
    pub scan_id: i64,
    pub events: Vec<serde_json::Value>,
}

/// Sends the events of a finished run to the policy's webhooks (see `notify`).
pub(crate) fn announce(
    run: &Run,
    code: u8,
    collector: &str,
    targets: &[String],
    recorded: Option<Recorded>,
    webhooks: &[aigis_policy::Webhook],
) {
    #[cfg(feature = "notify")]
    notify::send(
        webhooks,
        &notify::events(run, code, recorded.as_ref()),
        collector,
        targets,
        recorded.as_ref().map(|r| r.scan_id),
    );
    #[cfg(not(feature = "notify"))]
    let _ = (run, code, collector, targets, recorded, webhooks);
}

fn render(
    run: &Run,
    report: &ScanReport,
    format: OutputFormat,
    color: bool,
    verbose: bool,
    sarif_min: Severity,
) -> Result<String> {
    Ok(match format {
        OutputFormat::Terminal => terminal::render(report, terminal::Style { color, verbose }),
        OutputFormat::Json => aigis_report::json::to_string(report)? + "\n",
        OutputFormat::Sarif => {
            let base = std::env::current_dir().context("current directory")?;
            sarif::render(report, &base, sarif_min)?
        }
        OutputFormat::Html => html::render(report),
        OutputFormat::Junit => junit::render(report),
        OutputFormat::Markdown => markdown::render(report),
        OutputFormat::Cyclonedx => view::bom(run, &run.loose(), view::BomFormat::Cyclonedx)?,
        OutputFormat::Spdx => view::bom(run, &run.loose(), view::BomFormat::Spdx)?,
    })
}

fn rules(id: Option<&str>, format: RulesFormat) -> Result<ExitCode> {
    let selected: Vec<RuleId> = match id {
        Some(id) => match RuleId::from_id(id) {
            Some(rule) => vec![rule],
            None => bail!("no rule `{id}` (see `aigis rules`)"),
        },
        None => RuleId::ALL.to_vec(),
    };
    let mut out = String::new();
    if format == RulesFormat::Markdown {
        out += "# aigis rules\n\nGenerated by `aigis rules --format markdown` from the rule catalogue \
                (`crates/aigis-scan/src/rules.rs`); do not edit by hand.\n\n\
                | rule | default severity | title |\n|---|---|---|\n";
        for rule in &selected {
            let r = rule.rule();
            let anchor = r.id.to_ascii_lowercase();
            out += &format!(
                "| [`{}`](#{anchor}) | {} | {} |\n",
                r.id, r.default_severity, r.title
            );
        }
        for rule in &selected {
            let r = rule.rule();
            out += &format!(
                "\n## {}\n\n**{}** (default severity: {})\n\n{}\n\n**Remediation.** {}\n",
                r.id, r.title, r.default_severity, r.explanation, r.remediation
            );
            if !r.references.is_empty() {
                out += "\n**References.**\n";
                for reference in r.references {
                    out += &format!("- {reference}\n");
                }
            }
        }
    } else if format == RulesFormat::Json {
        let entries: Vec<&aigis_scan::Rule> = selected.iter().map(|r| r.rule()).collect();
        out = serde_json::to_string_pretty(&entries)? + "\n";
    } else if let (Some(_), [rule]) = (id, selected.as_slice()) {
        let r = rule.rule();
        out += &format!(
            "{}  [{}]\n{}\n\n{}\n\nRemediation: {}\n",
            r.id, r.default_severity, r.title, r.explanation, r.remediation
        );
        if !r.references.is_empty() {
            out += "\nReferences:\n";
            for reference in r.references {
                out += &format!("  - {reference}\n");
            }
        }
    } else {
        out += &format!("{:<28} {:<9} {}\n", "ID", "SEVERITY", "TITLE");
        for rule in selected {
            let r = rule.rule();
            out += &format!(
                "{:<28} {:<9} {}\n",
                r.id,
                r.default_severity.as_str(),
                r.title
            );
        }
    }
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn policy_check(file: Option<PathBuf>) -> Result<ExitCode> {
    let file = match file {
        Some(file) => file,
        None => match aigis_policy::discover(Path::new(".")) {
            Some(file) => file,
            None => bail!(
                "no {} in this folder or its parents",
                aigis_policy::FILE_NAME
            ),
        },
    };
    match Policy::load(&file) {
        Ok(policy) => {
            println!(
                "{}: ok ({} allowed, {} denied globals, {} severity overrides, {} suppressions, {} include / {} exclude globs)",
                file.display(),
                policy.allow_globals.len(),
                policy.deny_globals.len(),
                policy.severity.len(),
                policy.suppressions.len(),
                policy.include.len(),
                policy.exclude.len()
            );
            let today = Date::today();
            for s in policy.suppressions.iter().filter(|s| s.is_expired(today)) {
                println!(
                    "{}:{}: warning: suppression expired on {} (\"{}\")",
                    file.display(),
                    s.line,
                    s.expires.map(|d| d.to_string()).unwrap_or_default(),
                    s.reason
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(err @ aigis_policy::PolicyError::Invalid { .. }) => {
            eprintln!("{err}");
            Ok(ExitCode::from(1))
        }
        Err(err) => Err(err.into()),
    }
}
