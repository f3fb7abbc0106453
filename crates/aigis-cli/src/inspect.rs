//! `aigis inspect`: what loading a model would do, as a person reads it — the program a pickle
//! runs (imports, calls with their arguments, objects built, the result) with byte offsets, the
//! objects a config instantiates, the members of an archive with their verdicts, and the
//! findings. The same engine run as `scan` (with tracing on, uncached), shown differently.

use crate::view;
use aigis_engine::EngineOptions;
use aigis_report::terminal_safe as safe;
use aigis_scan::archive::{tar_members, zip_index};
use aigis_scan::{FileResult, FileSource, Finding, Program, ScanOptions, Severity};
use anyhow::{Result, bail};
use serde::Serialize;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// `aigis inspect` arguments.
#[derive(clap::Args)]
pub(crate) struct InspectArgs {
    /// Model files (a folder or remote URL: every model file found in it).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// `text` for people, `json` for machines.
    #[arg(long, value_enum, default_value = "text", env = "AIGIS_FORMAT")]
    format: InspectFormat,
    /// Show every step of long programs (by default the first 200 steps of each, then only
    /// the steps with a finding).
    #[arg(long)]
    all: bool,
    /// Trust an extra pickle global (`module.Qualname` or `prefix.*`), as `scan` does.
    #[arg(long, value_name = "GLOBAL")]
    allow_global: Vec<String>,
    /// Per-file time limit in seconds.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    time_limit: f64,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum InspectFormat {
    Text,
    Json,
}

/// Steps of a program shown by default before only steps with findings are.
const SHOWN_STEPS: usize = 200;

/// One inspected file: its result (findings, programs) and its archive members.
#[derive(Serialize)]
struct Inspection<'a> {
    #[serde(flatten)]
    result: &'a FileResult,
    /// Members of a zip or tar, in archive order, with the worst finding located in each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    members: Vec<Member>,
}

#[derive(Serialize)]
struct Member {
    name: String,
    size: u64,
    /// `stored`, `deflate`, `bzip2`, `lzma`, … (zip), or the tar type (`file`, `symlink`…).
    kind: String,
    #[serde(serialize_with = "severity_or_none")]
    max_severity: Option<Severity>,
}

fn severity_or_none<S: serde::Serializer>(sev: &Option<Severity>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(sev.map_or("none", Severity::as_str))
}

pub(crate) fn inspect(args: InspectArgs) -> Result<ExitCode> {
    if !(args.time_limit.is_finite() && args.time_limit >= 0.0) {
        bail!("--time-limit must be a number of seconds");
    }
    let mut scan = ScanOptions::default();
    scan.analysis.trace = true;
    scan.analysis.allow_globals = args.allow_global.clone();
    scan.analysis.limits.time_limit = std::time::Duration::from_secs_f64(args.time_limit);
    let options = EngineOptions {
        scan,
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
    let inspections: Vec<Inspection<'_>> = run
        .results
        .iter()
        .map(|result| Inspection {
            members: members(result),
            result,
        })
        .collect();
    let text = match args.format {
        InspectFormat::Json => {
            let doc = serde_json::json!({
                "schema_version": 1,
                "tool": { "name": "aigis", "version": env!("CARGO_PKG_VERSION") },
                "files": inspections,
            });
            let mut text = serde_json::to_string_pretty(&doc)?;
            text.push('\n');
            text
        }
        InspectFormat::Text => {
            let mut out = String::new();
            for inspection in &inspections {
                render(&mut out, inspection, args.all);
            }
            if inspections.is_empty() {
                out.push_str("nothing to inspect\n");
            }
            out
        }
    };
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(
        if run
            .results
            .iter()
            .any(|r| r.status == aigis_scan::Status::Error)
        {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// The members of a local zip or plain tar, with the worst finding inside each.
fn members(result: &FileResult) -> Vec<Member> {
    let Ok(file) = std::fs::File::open(&result.path) else {
        return Vec::new();
    };
    let Ok(source) = FileSource::new(file) else {
        return Vec::new();
    };
    let worst = |name: &str| worst_in(&result.findings, name);
    if zip_index::zipfile_locates(&source) {
        let index = zip_index::read_index(&source, 100_000);
        return index
            .entries
            .iter()
            .map(|e| Member {
                name: e.name.clone(),
                size: e.uncompressed_size,
                kind: if e.is_dir() {
                    "dir".to_owned()
                } else if e.is_symlink() {
                    "symlink".to_owned()
                } else {
                    zip_method(e.method)
                },
                max_severity: worst(&e.name),
            })
            .collect();
    }
    if matches!(result.format, aigis_scan::Format::Tar) {
        let (list, _) = tar_members::members(&source);
        return list
            .iter()
            .map(|m| Member {
                name: m.name.clone(),
                size: m.size,
                kind: match m.kind() {
                    aigis_scan::archive::walk::MemberKind::File => "file".to_owned(),
                    aigis_scan::archive::walk::MemberKind::Dir => "dir".to_owned(),
                    aigis_scan::archive::walk::MemberKind::Symlink(_) => "symlink".to_owned(),
                    aigis_scan::archive::walk::MemberKind::HardLink(_) => "hardlink".to_owned(),
                    aigis_scan::archive::walk::MemberKind::Special(what) => what.to_owned(),
                },
                max_severity: worst(&m.name),
            })
            .collect();
    }
    Vec::new()
}

fn zip_method(method: u16) -> String {
    match method {
        0 => "stored".to_owned(),
        8 => "deflate".to_owned(),
        9 => "deflate64".to_owned(),
        12 => "bzip2".to_owned(),
        14 => "lzma".to_owned(),
        93 => "zstd".to_owned(),
        other => format!("method {other}"),
    }
}

/// Whether a finding's location (`member`, `member @ byte N`, `member!/inner …`) is inside
/// `member`.
fn located_in(location: Option<&str>, member: &str) -> bool {
    location.is_some_and(|l| {
        l == member
            || l.strip_prefix(member)
                .is_some_and(|rest| rest.starts_with(" @ ") || rest.starts_with("!/"))
    })
}

fn worst_in(findings: &[Finding], member: &str) -> Option<Severity> {
    findings
        .iter()
        .filter(|f| located_in(f.location.as_deref(), member))
        .map(|f| f.severity)
        .max()
}

/// The findings a program step carries: those located at its opcode (`[member @ ]byte N`).
fn step_findings<'f>(
    findings: &'f [Finding],
    program: &Program,
    offset: u64,
) -> impl Iterator<Item = &'f Finding> {
    let at = match &program.location {
        Some(member) => format!("{member} @ byte {offset}"),
        None => format!("byte {offset}"),
    };
    findings
        .iter()
        .filter(move |f| f.location.as_deref() == Some(at.as_str()))
}

fn render(out: &mut String, inspection: &Inspection<'_>, all: bool) {
    let r = inspection.result;
    let _ = writeln!(out, "{}", safe(&r.path));
    let verdict = r
        .content_severity
        .map_or("no finding above info", Severity::as_str);
    let _ = writeln!(
        out,
        "  format {} · {} bytes · status {} · worst {}",
        r.format,
        r.size,
        status_word(r.status),
        verdict
    );
    if let Some(sha) = &r.sha256 {
        let _ = writeln!(out, "  sha256 {sha}");
    }
    if let Some(why) = &r.incomplete {
        let _ = writeln!(out, "  incomplete: {}", safe(why));
    }
    for program in &r.programs {
        render_program(out, r, program, all);
    }
    if !inspection.members.is_empty() {
        let _ = writeln!(out, "\n  members ({})", inspection.members.len());
        for m in &inspection.members {
            let _ = writeln!(
                out,
                "    {:<8} {:>12}  {:<8}  {}",
                m.max_severity.map_or("-", Severity::as_str),
                m.size,
                m.kind,
                safe(&m.name)
            );
        }
    }
    let shown: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .collect();
    if !shown.is_empty() {
        let _ = writeln!(out, "\n  findings ({})", shown.len());
        for f in shown {
            let place = f
                .location
                .as_deref()
                .map(|l| format!(" [{}]", safe(l)))
                .unwrap_or_default();
            let _ = writeln!(out, "    {}{place}", view::finding_line(f));
        }
    }
    out.push('\n');
}

fn status_word(status: aigis_scan::Status) -> &'static str {
    match status {
        aigis_scan::Status::Ok => "ok",
        aigis_scan::Status::Invalid => "invalid",
        aigis_scan::Status::Unsupported => "unsupported",
        aigis_scan::Status::Error => "error",
    }
}

fn render_program(out: &mut String, r: &FileResult, program: &Program, all: bool) {
    let place = program
        .location
        .as_deref()
        .map(|l| format!(" of {}", safe(l)))
        .unwrap_or_default();
    let what = match program.language.as_str() {
        "pickle" => "pickle program",
        "config" => "objects the config instantiates",
        other => other,
    };
    let _ = writeln!(
        out,
        "\n  {what}{place} ({} step{}{})",
        program.steps.len(),
        if program.steps.len() == 1 { "" } else { "s" },
        if program.truncated {
            ", more left out"
        } else {
            ""
        }
    );
    let mut hidden = 0usize;
    for (i, step) in program.steps.iter().enumerate() {
        let findings: Vec<&Finding> = if program.language == "pickle" && step.depth == 0 {
            step_findings(&r.findings, program, step.offset)
                .filter(|f| f.severity > Severity::Info)
                .collect()
        } else {
            Vec::new()
        };
        if !all && i >= SHOWN_STEPS && findings.is_empty() {
            hidden += 1;
            continue;
        }
        let indent = "    ".repeat(step.depth);
        if program.language == "pickle" {
            let _ = writeln!(
                out,
                "    {:>8}  {indent}{}",
                format!("@{}", step.offset),
                safe(&step.text)
            );
        } else {
            let _ = writeln!(out, "    {}", safe(&step.text));
        }
        for f in findings {
            let _ = writeln!(out, "    {:>8}  {indent}^ {}", "", view::finding_line(f));
        }
    }
    if hidden > 0 {
        let _ = writeln!(
            out,
            "    … {hidden} more steps without findings (--all shows them)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::located_in;

    #[test]
    fn member_locations() {
        assert!(located_in(Some("a/data.pkl"), "a/data.pkl"));
        assert!(located_in(Some("a/data.pkl @ byte 3"), "a/data.pkl"));
        assert!(located_in(Some("a/inner.zip!/x.pkl"), "a/inner.zip"));
        assert!(!located_in(Some("a/data.pkl2"), "a/data.pkl"));
        assert!(!located_in(None, "a/data.pkl"));
    }
}
