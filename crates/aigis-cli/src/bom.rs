//! `aigis bom`: an AI-BOM of the models under the given paths (container images included),
//! fully scanned, as CycloneDX 1.6 or SPDX 3.0.1.

use crate::inventory::{self, BomFormat};
use aigis_inventory::{Entry, InventoryOptions, WalkOptions, discover, model};
use aigis_scan::{ScanOptions, Scanner};
use anyhow::{Context as _, Result, bail};
use clap::ValueEnum;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// BOM formats.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BomArg {
    /// CycloneDX 1.6 JSON.
    Cyclonedx,
    /// SPDX 3.0.1 JSON-LD (core, software, AI and simple-licensing profiles).
    Spdx,
}

/// Arguments of `aigis bom`.
#[derive(clap::Args)]
pub struct BomArgs {
    /// Model folders, files, `docker save` tarballs or OCI layout folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// BOM format.
    #[arg(long, value_enum, default_value = "cyclonedx")]
    pub format: BomArg,
    /// Write the BOM here instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Skip paths matching this glob (gitignore syntax, repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
}

/// Runs `aigis bom`.
pub fn run(args: BomArgs) -> Result<ExitCode> {
    for path in &args.paths {
        if !inventory::exists(path) {
            bail!("no such file or directory: {}", path.display());
        }
    }
    let scanner = Arc::new(Scanner::new(ScanOptions::default()));
    let mut plain = args.paths.clone();
    let images = inventory::take_images(&args.paths, &mut plain);
    let options = InventoryOptions {
        walk: WalkOptions {
            exclude: args.exclude.clone(),
            threads: 0,
        },
        scan: true,
    };
    let found = discover(&plain, &options, &scanner);
    let mut models = found.models;
    let image_results = inventory::scan_images(&images, &scanner);
    if !image_results.is_empty() {
        let entries = image_results
            .into_iter()
            .map(|r| Entry {
                path: PathBuf::from(&r.path),
                real: PathBuf::from(&r.path),
                result: r,
                scanned: true,
            })
            .collect();
        models.extend(model::group(entries));
    }
    let format = match args.format {
        BomArg::Cyclonedx => BomFormat::Cyclonedx,
        BomArg::Spdx => BomFormat::Spdx,
    };
    let text = inventory::render_bom(format, &models, &[], &found.escapes)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}
