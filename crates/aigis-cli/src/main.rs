//! `aigis`: find and scan AI model files for code that runs when they are loaded.

use aigis_report::{ScanReport, terminal};
use aigis_scan::{RuleId, ScanOptions, Scanner, Severity};
use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

mod remote;

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
    Scan(ScanArgs),
    /// List the rule catalogue, or show one rule.
    Rules {
        /// Rule id, e.g. PICKLE-CALL-DANGEROUS.
        id: Option<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// Human-readable report.
    Terminal,
    /// The JSON contract document.
    Json,
}

#[derive(clap::Args)]
struct ScanArgs {
    /// Files and folders to scan (folders recursively).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Report format written to stdout (or to --output).
    #[arg(long, value_enum, default_value = "terminal")]
    format: OutputFormat,
    /// Write the report here; `FORMAT=FILE` writes that format (repeatable).
    #[arg(long, short)]
    output: Vec<String>,
    /// Exit with code 1 when a finding reaches this severity.
    #[arg(long, default_value = "high")]
    fail_on: Severity,
    /// Trust this global in pickles (`module.Qualname`, repeatable).
    #[arg(long = "allow-global", value_name = "MODULE.NAME")]
    allow_global: Vec<String>,
    /// Skip SHA-256 hashing.
    #[arg(long)]
    no_hash: bool,
    /// Wall-clock limit per file, in seconds; a file over it is reported with status `error`.
    #[arg(long, value_name = "SECONDS", default_value = "60")]
    time_limit: f64,
    /// Bytes read or decompressed from any single archive member or stream.
    #[arg(long, value_name = "BYTES")]
    max_member_bytes: Option<u64>,
    /// Archive-in-archive nesting depth.
    #[arg(long, value_name = "N")]
    max_depth: Option<usize>,
    /// No progress bar and no report on stdout unless --format/--output ask for one.
    #[arg(long, short)]
    quiet: bool,
    /// List every file, including clean ones and info findings.
    #[arg(long, short)]
    verbose: bool,
    #[command(flatten)]
    remote: remote::RemoteArgs,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("aigis: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Scan(args) => scan(args),
        Command::Rules { id } => rules(id.as_deref()),
    }
}

fn scan(args: ScanArgs) -> Result<ExitCode> {
    let (remote_urls, local_paths) = remote::split(&args.paths);
    for path in &local_paths {
        if std::fs::symlink_metadata(path).is_err() {
            bail!("no such file or directory: {}", path.display());
        }
    }
    let mut options = ScanOptions {
        hash: !args.no_hash,
        ..ScanOptions::default()
    };
    options.analysis.allow_globals = args.allow_global.clone();
    let limits = &mut options.analysis.limits;
    if !(args.time_limit.is_finite() && args.time_limit >= 0.0) {
        bail!("--time-limit must be a number of seconds");
    }
    limits.time_limit = std::time::Duration::from_secs_f64(args.time_limit);
    if let Some(bytes) = args.max_member_bytes {
        limits.max_member_bytes = bytes;
    }
    if let Some(depth) = args.max_depth {
        limits.max_depth = depth;
    }
    let scanner = std::sync::Arc::new(Scanner::new(options));
    let files = scanner.collect(&local_paths);

    let bar = if !args.quiet && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(files.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos}/{len} files {wide_bar} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let mut results = scanner.scan_files(&files, &|_| {
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    });
    results.extend(remote::scan(&scanner, &remote_urls, &args.remote, &|_| {
        if let Some(bar) = &bar {
            bar.inc_length(1);
            bar.inc(1);
        }
    })?);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = ScanReport::new(results);

    for spec in &args.output {
        let (format, path) = match spec.split_once('=') {
            Some((name, path)) => (
                OutputFormat::from_str(name, true)
                    .map_err(|e| anyhow::anyhow!("--output {spec}: {e}"))?,
                path,
            ),
            None => (args.format, spec.as_str()),
        };
        let text = render(&report, format, false, args.verbose)?;
        std::fs::write(path, text).with_context(|| format!("writing {path}"))?;
    }
    if args.output.is_empty() && !(args.quiet && args.format == OutputFormat::Terminal) {
        let color = args.format == OutputFormat::Terminal && std::io::stdout().is_terminal();
        let text = render(&report, args.format, color, args.verbose)?;
        std::io::stdout().write_all(text.as_bytes())?;
    }
    let failed = report.max_severity().is_some_and(|max| max >= args.fail_on);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn render(report: &ScanReport, format: OutputFormat, color: bool, verbose: bool) -> Result<String> {
    Ok(match format {
        OutputFormat::Terminal => terminal::render(report, terminal::Style { color, verbose }),
        OutputFormat::Json => aigis_report::json::to_string(report)? + "\n",
    })
}

fn rules(id: Option<&str>) -> Result<ExitCode> {
    let mut out = String::new();
    match id {
        Some(id) => {
            let Some(rule) = RuleId::from_id(id) else {
                bail!("no rule `{id}` (see `aigis rules`)");
            };
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
        }
        None => {
            for rule in RuleId::ALL {
                let r = rule.rule();
                out += &format!(
                    "{:<28} {:<9} {}\n",
                    r.id,
                    r.default_severity.as_str(),
                    r.title
                );
            }
        }
    }
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
