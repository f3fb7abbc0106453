//! `aigis bom`: an AI-BOM of the models under the given paths (container images included),
//! fully scanned, as CycloneDX 1.6 or SPDX 3.0.1.

use crate::view::{self, BomFormat};
use aigis_engine::EngineOptions;
use anyhow::{Context as _, Result};
use clap::ValueEnum;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Also check the tensor bytes (see `aigis scan --deep`).
    #[arg(long)]
    pub deep: bool,
    #[command(flatten)]
    pub policy: crate::PolicyArgs,
    #[command(flatten)]
    pub signatures: crate::verify::SignatureArgs,
    #[cfg(feature = "inventory")]
    #[command(flatten)]
    pub record: crate::inventory::RecordArgs,
}

/// Runs `aigis bom`.
pub fn run(args: BomArgs) -> Result<ExitCode> {
    let policy = crate::load_policy(&args.policy)?;
    let webhooks = policy.webhooks.clone();
    let mut scan = aigis_scan::ScanOptions::default();
    scan.analysis.deep = args.deep;
    let options = EngineOptions {
        scan,
        exclude: args.exclude.clone(),
        ignore_files: args.policy.ignore_files.clone(),
        policy,
        signatures: args.signatures.engine()?,
        ..EngineOptions::default()
    };
    let run = aigis_engine::run(
        &crate::targets(&args.paths),
        &options,
        &aigis_engine::NoProgress,
    )?;
    for warning in &run.warnings {
        view::warn(warning);
    }
    let format = match args.format {
        BomArg::Cyclonedx => BomFormat::Cyclonedx,
        BomArg::Spdx => BomFormat::Spdx,
    };
    // Files in no model are not part of an AI-BOM, unless something was found on them (a link
    // leading out of the tree, a folder that could not be read), they are code that loads a
    // model of the run, or they declare the pipeline's ML libraries.
    let loose: Vec<_> = run
        .loose()
        .into_iter()
        .filter(|r| {
            !r.findings.is_empty() || !r.loads.is_empty() || !r.model.dependencies.is_empty()
        })
        .collect();
    let text = view::bom(&run, &loose, format)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    #[cfg(feature = "inventory")]
    let recorded = if args.record.record {
        Some(crate::inventory::record(
            &run,
            &crate::targets(&args.paths),
            "bom",
            &args.record,
            false,
        )?)
    } else {
        None
    };
    #[cfg(not(feature = "inventory"))]
    let recorded = None;
    // A BOM always exits 0, but what the policy would fail is still worth telling.
    crate::announce(
        &run,
        u8::from(run.fails()),
        "bom",
        &crate::targets(&args.paths),
        recorded,
        &webhooks,
    );
    Ok(ExitCode::SUCCESS)
}
