//! `aigis db`: the offline advisory database dependency files are matched against — which one
//! is in use, and installing a newer one from an OSV export.

use aigis_report::terminal_safe as safe;
use aigis_scan::deps::{AdvisoryDb, installed_db_path};
use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum DbCommand {
    /// Show the advisory database in use: where it is, its source, date and size.
    Info,
    /// Install an advisory database: an OSV export (a JSON list of OSV entries, or one entry)
    /// or a database written by `scripts/advisories/build_ml_db.py`. It is validated first and
    /// replaces the installed one atomically ($AIGIS_ADVISORY_DB, else
    /// $XDG_DATA_HOME/aigis/advisories.json).
    Update {
        /// The file to install.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
    },
}

pub fn run(command: DbCommand) -> Result<ExitCode> {
    match command {
        DbCommand::Info => info(),
        DbCommand::Update { from } => update(&from),
    }
}

fn describe(db: &AdvisoryDb) -> String {
    let packages = {
        let mut names: Vec<&str> = db
            .advisories
            .iter()
            .flat_map(|a| a.packages.iter().map(|p| p.name.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    };
    format!(
        "{}{}\n  date: {}\n  advisories: {}, packages: {}",
        safe(&db.source),
        if db.source_revision.is_empty() {
            String::new()
        } else {
            format!(" ({})", safe(&db.source_revision))
        },
        if db.date.is_empty() {
            "unknown".to_owned()
        } else {
            safe(&db.date)
        },
        db.advisories.len(),
        packages
    )
}

fn info() -> Result<ExitCode> {
    let path = installed_db_path();
    if let Some(path) = path.as_deref().filter(|p| p.exists()) {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        match AdvisoryDb::parse(&text) {
            Ok(db) => {
                println!(
                    "installed: {}\n  {}",
                    safe(&path.display().to_string()),
                    (describe(&db))
                );
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => eprintln!(
                "warning: the installed database {} does not parse ({}); the shipped one is used",
                safe(&path.display().to_string()),
                safe(&e)
            ),
        }
    }
    println!(
        "shipped with aigis:\n  {}",
        (describe(AdvisoryDb::shipped()))
    );
    if let Some(path) = path {
        println!(
            "(`aigis db update --from FILE` installs a newer one at {})",
            safe(&path.display().to_string())
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn update(from: &Path) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(from).with_context(|| format!("reading {}", from.display()))?;
    let db = match AdvisoryDb::parse(&text) {
        Ok(db) => db,
        Err(e) => bail!("{} is not an advisory database: {e}", from.display()),
    };
    let Some(target) = installed_db_path() else {
        bail!("no place to install the database: set AIGIS_ADVISORY_DB or HOME");
    };
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = target.with_extension("json.tmp");
    std::fs::write(&tmp, text.as_bytes()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &target).with_context(|| format!("installing {}", target.display()))?;
    println!(
        "installed {}\n  {}",
        safe(&target.display().to_string()),
        (describe(&db))
    );
    Ok(ExitCode::SUCCESS)
}
