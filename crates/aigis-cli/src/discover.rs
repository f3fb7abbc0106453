//! `aigis discover`: the model inventory of this host (its standard model locations) or of a
//! tree, as a table or JSON. Sniffs files and reads header facts; `--scan` also scans the
//! models found.

use crate::view;
use aigis_engine::{Depth, EngineOptions, Run};
use aigis_inventory::Model;
use aigis_scan::{ScanOptions, Severity};
use anyhow::Result;
use clap::ValueEnum;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Output of `discover`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiscoverFormat {
    /// An aligned table.
    Table,
    /// JSON: models with their files, provenance and facts.
    Json,
}

/// Arguments of `aigis discover`.
#[derive(clap::Args)]
pub struct DiscoverArgs {
    /// Trees to inventory [default: the `discover_roots` of `aigis.toml`, else this host's
    /// standard model locations].
    pub paths: Vec<PathBuf>,
    /// Also walk this folder (repeatable); replaces the standard locations.
    #[arg(long = "root", value_name = "DIR")]
    pub roots: Vec<PathBuf>,
    /// Skip paths matching this glob (gitignore syntax, repeatable). `.aigisignore` files are
    /// read in every folder.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// `table` for people, `json` for machines.
    #[arg(long, value_enum, default_value = "table")]
    pub format: DiscoverFormat,
    /// Fully scan (hash and analyze) the models found.
    #[arg(long)]
    pub scan: bool,
    /// With --scan: also check the tensor bytes (see `aigis scan --deep`).
    #[arg(long, requires = "scan")]
    pub deep: bool,
    /// With --scan: exit 1 when a finding reaches this severity [default: the policy's
    /// `fail_on`, else high].
    #[arg(long)]
    pub fail_on: Option<Severity>,
    #[command(flatten)]
    pub policy: crate::PolicyArgs,
    #[command(flatten)]
    pub signatures: crate::verify::SignatureArgs,
    /// (With --scan.)
    #[cfg(feature = "inventory")]
    #[command(flatten)]
    pub record: crate::inventory::RecordArgs,
}

fn human_count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}K", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.1}B", n as f64 / 1e9),
    }
}

/// One table row per model.
fn row(model: &Model) -> Vec<String> {
    let dash = || "-".to_string();
    let source = model
        .provenance
        .as_ref()
        .map_or_else(dash, |p| format!("{} {}", p.source.as_str(), p.id()));
    let formats: Vec<&str> = model.formats.iter().map(|f| f.as_str()).collect();
    let severity = match (model.max_severity, model.scanned) {
        (Some(s), _) => s.as_str().to_string(),
        (None, true) => "none".into(),
        (None, false) => "not scanned".into(),
    };
    vec![
        model.name.clone(),
        source,
        formats.join(","),
        model.framework.clone().unwrap_or_else(dash),
        model
            .architecture
            .clone()
            .or_else(|| model.model_type.clone())
            .unwrap_or_else(dash),
        model.parameters.map_or_else(dash, human_count),
        // The SPDX expression the BOMs carry (`apache-2.0` → `Apache-2.0`).
        model
            .license()
            .and_then(aigis_inventory::license::normalise)
            .unwrap_or_else(dash),
        model.files.len().to_string(),
        aigis_report::html::human_size(model.size),
        severity,
    ]
}

fn table(run: &Run) -> String {
    let header: Vec<String> = [
        "MODEL",
        "SOURCE",
        "FORMAT",
        "FRAMEWORK",
        "ARCHITECTURE",
        "PARAMS",
        "LICENSE",
        "FILES",
        "SIZE",
        "SEVERITY",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows: Vec<Vec<String>> = std::iter::once(header)
        .chain(run.models.iter().map(row))
        .map(|r| {
            r.into_iter()
                .map(|c| aigis_report::terminal_safe(&c))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..10)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out += cells.join("  ").trim_end();
        out += "\n";
    }
    let mut findings = Vec::new();
    for model in &run.models {
        for (file, finding) in model.findings() {
            if finding.severity >= Severity::Medium {
                findings.push(format!(
                    "  {}: {}",
                    aigis_report::terminal_safe(&file.path),
                    view::finding_line(finding)
                ));
            }
        }
    }
    for (result, finding) in loose_findings(run) {
        findings.push(format!(
            "  {}: {}",
            result.path,
            view::finding_line(&finding)
        ));
    }
    out += &format!(
        "\n{} models in {} files looked at\n",
        run.models.len(),
        run.files_visited
    );
    if run.excluded > 0 || run.ignored > 0 {
        out += &format!(
            "skipped by the operator: {} path(s) by --exclude, {} by ignore files\n",
            run.excluded, run.ignored
        );
    }
    if !findings.is_empty() {
        out += "\nFindings (medium and above):\n";
        out += &findings.join("\n");
        out += "\n";
    }
    out
}

/// Findings on results that belong to no model: links leading out of the tree, paths that
/// could not be read.
fn loose_findings(run: &Run) -> Vec<(aigis_scan::FileResult, aigis_scan::Finding)> {
    run.loose()
        .into_iter()
        .flat_map(|r| {
            let findings = r.findings.clone();
            findings.into_iter().map(move |f| (r.clone(), f))
        })
        .collect()
}

/// Runs `aigis discover`.
pub fn run(args: DiscoverArgs) -> Result<ExitCode> {
    #[cfg(feature = "inventory")]
    if args.record.record && !args.scan {
        // The inventory records verdicts: an unscanned model must not be stored as clean.
        anyhow::bail!("--record needs --scan (the inventory records what each file would do)");
    }
    let mut roots: Vec<PathBuf> = args.paths.iter().chain(&args.roots).cloned().collect();
    let policy = crate::load_policy(&args.policy)?;
    let gate = crate::gate(&args.policy, &policy);
    let webhooks = policy.webhooks.clone();
    if roots.is_empty() {
        roots = policy.discover_roots.clone();
        if roots.is_empty() {
            roots = aigis_engine::standard_model_locations();
        }
    }
    let options = EngineOptions {
        scan: ScanOptions {
            hash: args.scan,
            analysis: aigis_scan::AnalysisOptions {
                deep: args.deep,
                ..Default::default()
            },
        },
        depth: if args.scan { Depth::Full } else { Depth::Facts },
        exclude: args.exclude.clone(),
        ignore_files: args.policy.ignore_files.clone(),
        policy,
        fail_on: args.fail_on,
        signatures: args.signatures.engine()?,
        ..EngineOptions::default()
    };
    let run = aigis_engine::run(&crate::targets(&roots), &options, &aigis_engine::NoProgress)?;
    for warning in &run.warnings {
        view::warn(warning);
    }
    let text = match args.format {
        DiscoverFormat::Table => table(&run),
        DiscoverFormat::Json => {
            let findings: Vec<_> = loose_findings(&run).into_iter().map(|(_, f)| f).collect();
            let doc = serde_json::json!({
                "schema_version": 1,
                "tool": { "name": "aigis", "version": env!("CARGO_PKG_VERSION") },
                "roots": roots,
                "files_visited": run.files_visited,
                "excluded": run.excluded,
                "ignored": run.ignored,
                "policy": run.policy_file,
                "models": run.models,
                "findings": findings,
            });
            serde_json::to_string_pretty(&doc)? + "\n"
        }
    };
    std::io::stdout().write_all(text.as_bytes())?;
    if !args.scan {
        return Ok(ExitCode::SUCCESS);
    }
    #[cfg(feature = "inventory")]
    let recorded = if args.record.record {
        Some(crate::inventory::record(
            &run,
            &crate::targets(&roots),
            "discover",
            &args.record,
            false,
        )?)
    } else {
        None
    };
    #[cfg(not(feature = "inventory"))]
    let recorded = None;
    let code = crate::exit_code(&run, true, gate);
    crate::announce(
        &run,
        code,
        "discover",
        &crate::targets(&roots),
        recorded,
        &webhooks,
    );
    Ok(ExitCode::from(code))
}
