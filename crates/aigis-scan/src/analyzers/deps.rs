//! Dependency files of a Python ML pipeline — `requirements*.txt` (with `-r`/`-c` includes),
//! `pyproject.toml` (PEP 621, dependency groups, Poetry), `poetry.lock`, `uv.lock`,
//! `Pipfile.lock`, conda `environment.yml` — matched against the offline advisory database of
//! the ML stack ([`crate::deps::AdvisoryDb`]: the shipped one, or the one `aigis db update`
//! installed). A pinned or locked version an advisory affects is `DEP-VULNERABLE` high (low or
//! medium when every advisory is rated so; each advisory's own rating is quoted); a range that
//! keeps installs below the fix is `DEP-VULNERABLE` medium; an ML dependency without any version
//! constraint is `DEP-UNPINNED` (low). Recognised by file name.

use crate::analyzer::{Analyzer, Context, Input};
use crate::deps::{self, AdvisoryDb, Requirement};
use crate::{Finding, Format, RuleId, Severity};

/// Largest dependency file read.
const MAX_DEPS_FILE: usize = 8 << 20;
/// Advisory ids quoted per finding.
const QUOTED: usize = 5;

/// Dependency files.
pub struct DependencyAnalyzer;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Requirements,
    Pyproject,
    TomlLock,
    PipfileLock,
    Conda,
}

fn kind_of(name: &str) -> Option<Kind> {
    let base = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase();
    if base.starts_with("requirements") && (base.ends_with(".txt") || base.ends_with(".in")) {
        Some(Kind::Requirements)
    } else if base == "pyproject.toml" {
        Some(Kind::Pyproject)
    } else if base == "poetry.lock" || base == "uv.lock" {
        Some(Kind::TomlLock)
    } else if base == "pipfile.lock" {
        Some(Kind::PipfileLock)
    } else if matches!(
        base.as_str(),
        "environment.yml" | "environment.yaml" | "conda.yaml" | "conda.yml"
    ) {
        Some(Kind::Conda)
    } else {
        None
    }
}

/// The database a scan matches against: the installed one when present and valid, else the
/// shipped one (the installed file is consulted, so a cached result follows its updates).
fn database(cx: &mut Context<'_>) -> (std::borrow::Cow<'static, AdvisoryDb>, Option<String>) {
    if let Some(path) = deps::installed_db_path() {
        cx.consult(&path);
        if let Ok(text) = std::fs::read_to_string(&path) {
            return match AdvisoryDb::parse(&text) {
                Ok(db) => (std::borrow::Cow::Owned(db), None),
                Err(e) => (
                    std::borrow::Cow::Borrowed(AdvisoryDb::shipped()),
                    Some(format!(
                        "the installed advisory database {} does not parse ({e}); the shipped one was used",
                        path.display()
                    )),
                ),
            };
        }
    }
    (std::borrow::Cow::Borrowed(AdvisoryDb::shipped()), None)
}

impl Analyzer for DependencyAnalyzer {
    fn id(&self) -> &'static str {
        "python-dependencies"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        super::nemo::looks_like_text(head) || head.is_empty()
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let name = input.name.map(str::to_owned).or_else(|| {
            cx.file_path()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        })?;
        let kind = kind_of(&name)?;
        if input.source.len() > MAX_DEPS_FILE as u64 {
            cx.report(
                RuleId::ResourceLimit,
                format!("dependency file larger than {MAX_DEPS_FILE} bytes: not analysed"),
                None,
            );
            cx.not_analysed("dependency file over the size limit");
            return Some(Format::PythonDependencies);
        }
        let bytes = match input.source.read_vec(0, MAX_DEPS_FILE) {
            Ok(b) => b,
            Err(e) => {
                cx.read_error(&e);
                return Some(Format::PythonDependencies);
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim_start_matches('\u{feff}');
        let parsed: Result<Vec<(Requirement, Option<String>)>, String> = match kind {
            Kind::Requirements => Ok(requirements_with_includes(text, cx)),
            Kind::Pyproject => deps::pyproject(text).map(no_origin),
            Kind::TomlLock => deps::toml_lock(text).map(no_origin),
            Kind::PipfileLock => deps::pipfile_lock(text).map(no_origin),
            Kind::Conda => Ok(no_origin(deps::conda_environment(text))),
        };
        let requirements = match parsed {
            Ok(r) => r,
            Err(e) => {
                cx.malformed(
                    RuleId::FormatMalformed,
                    format!(
                        "dependency file does not parse ({e}): its dependencies were not checked"
                    ),
                    None,
                );
                return Some(Format::PythonDependencies);
            }
        };
        let (db, problem) = database(cx);
        if let Some(problem) = problem {
            cx.report(RuleId::FormatMalformed, problem, None);
        }
        cx.model().metadata.insert(
            "advisory_database".into(),
            format!("{} {}", db.source, db.date).trim().to_owned(),
        );
        cx.model()
            .metadata
            .insert("advisory_database_date".into(), db.date.clone());
        // The environment MLflow recorded for a model it logged: reported, at low.
        let mlmodel = cx
            .file_path()
            .and_then(|p| p.parent())
            .map(|d| d.join("MLmodel"));
        let recorded_env = match mlmodel {
            Some(m) => {
                cx.consult(&m);
                m.is_file()
            }
            None => false,
        };
        let locked = kind != Kind::Requirements && kind != Kind::Pyproject && kind != Kind::Conda;
        for (req, origin) in &requirements {
            if db.covers(&req.name) {
                let dependency = crate::Dependency {
                    name: req.name.clone(),
                    version: req.spec.pinned().map(|v| version_text(v, &req.raw)),
                    constraint: constraint_text(&req.raw),
                    line: req.line,
                };
                if !cx.model().dependencies.contains(&dependency) {
                    cx.model().dependencies.push(dependency);
                }
            }
            judge(req, origin.as_deref(), locked, recorded_env, &db, cx);
        }
        Some(Format::PythonDependencies)
    }
}

fn no_origin(reqs: Vec<Requirement>) -> Vec<(Requirement, Option<String>)> {
    reqs.into_iter().map(|r| (r, None)).collect()
}

/// A requirements file and the files it includes (`-r`, `-c`), each include relative to the
/// folder of the file that names it, as pip resolves them.
fn requirements_with_includes(
    text: &str,
    cx: &mut Context<'_>,
) -> Vec<(Requirement, Option<String>)> {
    let (reqs, includes) = deps::requirements_txt(text);
    let mut out = no_origin(reqs);
    let Some(dir) = cx
        .file_path()
        .and_then(|p| p.parent())
        .map(std::path::Path::to_path_buf)
    else {
        if let Some(first) = includes.first() {
            cx.not_analysed(format!(
                "`-r`/`-c` include `{}` not read: the requirements file is not on the local file system",
                super::callables::clip_plain(first, 120)
            ));
        }
        return out;
    };
    let mut queue: Vec<(std::path::PathBuf, String, usize)> =
        includes.into_iter().map(|i| (dir.join(&i), i, 1)).collect();
    let mut seen = std::collections::HashSet::new();
    // pip follows `-r`/`-c` to any depth and fails the install on a file it cannot open, so
    // nothing here is skipped quietly: an include aigis did not read leaves the result
    // incomplete (a missing include, a URL, one too large or past the bounds alike). Included
    // files that are dependency files themselves are read here too: scanned alone, the parent
    // still says what it installs.
    while let Some((path, include, depth)) = queue.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        if depth > MAX_INCLUDE_DEPTH || seen.len() > MAX_INCLUDES {
            cx.not_analysed(format!(
                "`-r`/`-c` include `{}` not read: more than {MAX_INCLUDES} includes or nesting deeper than {MAX_INCLUDE_DEPTH}",
                super::callables::clip_plain(&include, 120)
            ));
            continue;
        }
        cx.consult(&path);
        let text = match std::fs::metadata(&path) {
            Ok(meta) if meta.len() > MAX_DEPS_FILE as u64 => Err(format!(
                "larger than {MAX_DEPS_FILE} bytes ({} bytes)",
                meta.len()
            )),
            Ok(_) => std::fs::read_to_string(&path).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let text = match text {
            Ok(text) => text,
            Err(why) => {
                cx.not_analysed(format!(
                    "`-r`/`-c` include `{}` not read: {why}",
                    super::callables::clip_plain(&include, 120)
                ));
                continue;
            }
        };
        let (reqs, more) = deps::requirements_txt(&text);
        out.extend(reqs.into_iter().map(|r| (r, Some(include.clone()))));
        let base = path
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        queue.extend(more.into_iter().map(|m| (base.join(&m), m, depth + 1)));
    }
    out
}

/// How deep `-r`/`-c` includes are followed, and how many files at most, before the result
/// is incomplete.
const MAX_INCLUDE_DEPTH: usize = 16;
const MAX_INCLUDES: usize = 256;

fn severity_of(text: &str) -> Severity {
    match text {
        "critical" => Severity::Critical,
        "medium" | "moderate" => Severity::Medium,
        "low" => Severity::Low,
        _ => Severity::High,
    }
}

fn record(cx: &mut Context<'_>, finding: Finding, req: &Requirement, origin: Option<&str>) {
    match origin {
        None => cx.record_at_line(finding, req.line, 1),
        Some(file) => {
            let mut finding = finding;
            finding.location = Some(format!("{file} (included) @ line {}, column 1", req.line));
            cx.record_at(finding);
        }
    }
}

fn judge(
    req: &Requirement,
    origin: Option<&str>,
    locked: bool,
    recorded_env: bool,
    db: &AdvisoryDb,
    cx: &mut Context<'_>,
) {
    if !db.covers(&req.name) {
        return;
    }
    let shown = super::callables::clip_plain(&req.raw, 120);
    if req.spec.is_empty() {
        let msg = format!(
            "`{shown}`: an ML dependency without a version constraint installs whatever is newest, including a release with a known advisory or a hijacked one"
        );
        record(cx, Finding::new(RuleId::DepUnpinned, msg), req, origin);
        return;
    }
    let pinned = req.spec.pinned().cloned();
    let mut hits: Vec<(&deps::Advisory, Severity)> = Vec::new();
    for (advisory, package) in db.for_package(&req.name) {
        let affected = match &pinned {
            Some(v) => package.affects(v),
            None => package.may_affect(&req.spec),
        };
        if affected && !hits.iter().any(|(a, _)| a.id == advisory.id) {
            hits.push((advisory, severity_of(&advisory.severity)));
        }
    }
    if hits.is_empty() {
        return;
    }
    hits.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.id.cmp(&b.0.id)));
    // The file is not itself malicious: an advisory rated critical makes the finding high.
    let worst = hits[0].1.min(Severity::High);
    let quoted: Vec<String> = hits
        .iter()
        .take(QUOTED)
        .map(|(a, s)| {
            let cve = a.aliases.iter().find(|x| x.starts_with("CVE-"));
            let name = match cve {
                Some(c) => format!("{} ({c})", a.id),
                None => a.id.clone(),
            };
            format!(
                "{name}, {}: {}",
                s.as_str(),
                super::callables::clip_plain(&a.summary, 140)
            )
        })
        .collect();
    let more = hits.len().saturating_sub(QUOTED);
    let (severity, how) = match (&pinned, locked) {
        (Some(v), true) => (
            worst,
            format!("locks version {}", version_text(v, &req.raw)),
        ),
        (Some(v), false) => (worst, format!("pins version {}", version_text(v, &req.raw))),
        (None, _) => (Severity::Medium, "allows versions that".to_owned()),
    };
    let verb = if pinned.is_some() {
        "affected by"
    } else {
        "are affected by"
    };
    let msg = format!(
        "`{shown}` {how} {verb} {} advisor{}: {}{}",
        hits.len(),
        if hits.len() == 1 { "y" } else { "ies" },
        quoted.join("; "),
        if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        }
    );
    let (severity, msg) = if recorded_env {
        (
            Severity::Low,
            format!("{msg} (in the environment MLflow recorded for the model beside it)"),
        )
    } else {
        (severity, msg)
    };
    let mut finding = Finding::new(RuleId::DepVulnerable, msg).with_severity(severity);
    finding.indicators = hits
        .iter()
        .take(QUOTED)
        .map(|(a, _)| a.id.clone())
        .collect();
    record(cx, finding, req, origin);
}

/// The constraint of a requirement as written: what follows the name (and extras), up to a
/// marker.
fn constraint_text(raw: &str) -> String {
    let rest = raw.trim_start_matches(|c: char| {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '[' | ']' | ',')
    });
    let rest = rest.split(';').next().unwrap_or(rest).trim();
    super::callables::clip_plain(rest, 120)
}

fn version_text(_v: &deps::pep440::Version, raw: &str) -> String {
    // The version as written (the parsed form normalises spellings).
    let start = raw.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
    let end = raw[start..]
        .find(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .map_or(raw.len(), |e| start + e);
    raw.get(start..end).unwrap_or(raw).to_owned()
}
