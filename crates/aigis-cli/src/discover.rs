//! `aigis discover`: the model inventory of this host (its standard model locations) or of a
//! tree, as a table or JSON. Sniffs files and reads header facts; `--scan` also scans the
//! models found.

use crate::inventory;
use aigis_inventory::{Inventory, InventoryOptions, Model, WalkOptions, discover};
use aigis_scan::{ScanOptions, Scanner, Severity};
use anyhow::{Result, bail};
use clap::ValueEnum;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

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
    /// With --scan: exit 1 when a finding reaches this severity.
    #[arg(long, default_value = "high")]
    pub fail_on: Severity,
}

/// The standard model locations of this host that exist: model caches in the home folder of
/// every user we can read, the cache variables of this process, and system folders.
pub fn standard_roots() -> Vec<PathBuf> {
    let mut homes: Vec<PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        homes.push(PathBuf::from(home));
    }
    if let Ok(passwd) = std::fs::read_to_string("/etc/passwd") {
        homes.extend(
            passwd
                .lines()
                .filter_map(|l| l.split(':').nth(5))
                .filter(|h| h.starts_with("/home/") || *h == "/root")
                .map(PathBuf::from),
        );
    }
    if let Ok(entries) = std::fs::read_dir("/home") {
        homes.extend(entries.flatten().map(|e| e.path()));
    }
    let mut roots = Vec::new();
    for home in &homes {
        for sub in [
            ".cache/huggingface",
            ".cache/torch",
            ".keras",
            ".ollama",
            ".cache/lm-studio",
            ".lmstudio",
            ".cache/whisper",
            ".cache/gpt4all",
            ".local/share/nomic.ai",
        ] {
            roots.push(home.join(sub));
        }
    }
    for var in [
        "HF_HOME",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "TRANSFORMERS_CACHE",
        "TORCH_HOME",
        "OLLAMA_MODELS",
        "KERAS_HOME",
    ] {
        if let Some(dir) = std::env::var_os(var) {
            roots.push(PathBuf::from(dir));
        }
    }
    for dir in [
        "/models",
        "/opt",
        "/srv",
        "/var/lib/ollama",
        "/usr/share/ollama",
        "/mnt/models",
        "/data/models",
        "/var/lib/triton",
        "/home/model-server",
    ] {
        roots.push(PathBuf::from(dir));
    }
    let mut existing: Vec<PathBuf> = roots.into_iter().filter(|r| r.is_dir()).collect();
    existing.sort();
    existing.dedup();
    // A root inside another root is walked once.
    let all = existing.clone();
    existing.retain(|r| !all.iter().any(|o| o != r && r.starts_with(o)));
    existing
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
        model.license().map_or_else(dash, str::to_string),
        model.files.len().to_string(),
        aigis_report::html::human_size(model.size),
        severity,
    ]
}

fn table(inventory: &Inventory) -> String {
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
        .chain(inventory.models.iter().map(row))
        .map(|r| {
            r.into_iter()
                .map(|c| c.replace(['\n', '\r', '\t'], " "))
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
    for model in &inventory.models {
        for (file, finding) in model.findings() {
            if finding.severity >= Severity::Medium {
                findings.push(format!(
                    "  {}: {}",
                    file.path,
                    inventory::finding_line(finding)
                ));
            }
        }
    }
    for escape in &inventory.escapes {
        findings.push(format!("  {}", inventory::finding_line(&escape.finding())));
    }
    out += &format!(
        "\n{} models in {} files looked at\n",
        inventory.models.len(),
        inventory.files_visited
    );
    if !findings.is_empty() {
        out += "\nFindings (medium and above):\n";
        out += &findings.join("\n");
        out += "\n";
    }
    out
}

/// Runs `aigis discover`.
pub fn run(args: DiscoverArgs) -> Result<ExitCode> {
    let mut roots: Vec<PathBuf> = args.paths.iter().chain(&args.roots).cloned().collect();
    for root in &roots {
        if !inventory::exists(root) {
            bail!("no such file or directory: {}", root.display());
        }
    }
    if roots.is_empty() {
        roots = aigis_policy::discover(Path::new("."))
            .and_then(|file| aigis_policy::Policy::load(&file).ok())
            .map(|p| p.discover_roots)
            .unwrap_or_default();
        if roots.is_empty() {
            roots = standard_roots();
        }
    }
    let scanner = Arc::new(Scanner::new(ScanOptions {
        hash: args.scan,
        ..ScanOptions::default()
    }));
    let options = InventoryOptions {
        walk: WalkOptions {
            exclude: args.exclude.clone(),
            threads: 0,
        },
        scan: args.scan,
    };
    let inventory = discover(&roots, &options, &scanner);
    let text = match args.format {
        DiscoverFormat::Table => table(&inventory),
        DiscoverFormat::Json => {
            let escapes: Vec<_> = inventory.escapes.iter().map(|e| e.finding()).collect();
            let doc = serde_json::json!({
                "schema_version": 1,
                "tool": { "name": "aigis", "version": env!("CARGO_PKG_VERSION") },
                "roots": roots,
                "files_visited": inventory.files_visited,
                "models": inventory.models,
                "findings": escapes,
            });
            serde_json::to_string_pretty(&doc)? + "\n"
        }
    };
    std::io::stdout().write_all(text.as_bytes())?;
    let worst = inventory
        .models
        .iter()
        .filter_map(|m| m.max_severity)
        .chain(inventory.escapes.iter().map(|e| e.finding().severity))
        .max();
    Ok(if args.scan && worst.is_some_and(|w| w >= args.fail_on) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
