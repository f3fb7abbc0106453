//! The Python dependencies of an ML pipeline: requirement and lock files read into
//! [`Requirement`]s (PEP 508 names and PEP 440 specifiers), matched against an offline advisory
//! database in OSV form for the ML stack ([`AdvisoryDb`]).
//!
//! The database ships with the binary (`data/advisories-ml.json`, built from the PyPA advisory
//! database by `scripts/advisories/build_ml_db.py`) and is replaced by `aigis db update --from
//! FILE`, which installs a file of the same form (or a plain OSV list) at [`installed_db_path`].

pub mod pep440;

use pep440::{Specifiers, Version};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One dependency as a file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Normalised name (PEP 503: lower case, runs of `-_.` as `-`).
    pub name: String,
    /// The version specifiers (empty: any version).
    pub spec: Specifiers,
    /// As written (for messages).
    pub raw: String,
    /// 1-based line in the file.
    pub line: usize,
}

/// PEP 503 normalisation.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Parses one PEP 508 requirement (`torch[cuda]>=2.1,<3 ; python_version>"3.8"`); `None` for
/// what is no requirement (a URL without a name, an option line).
pub fn parse_requirement(text: &str, line: usize) -> Option<Requirement> {
    let text = text.split(" #").next().unwrap_or(text).trim();
    let text = text.split(';').next().unwrap_or(text).trim();
    if text.is_empty()
        || text.starts_with(['-', '#', '.', '/'])
        || text.contains("://") && !text.contains('@')
    {
        return None;
    }
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(text.len());
    let name = &text[..end];
    if name.is_empty() {
        return None;
    }
    let mut rest = text[end..].trim_start();
    if let Some(r) = rest.strip_prefix('[') {
        rest = r.split_once(']').map_or("", |(_, r)| r).trim_start();
    }
    if rest.starts_with('@') {
        // A direct reference: the version is whatever the URL holds.
        return Some(Requirement {
            name: normalize(name),
            spec: Specifiers::default(),
            raw: text.to_owned(),
            line,
        });
    }
    let rest = rest.trim_start_matches('(').trim_end_matches(')');
    let spec = Specifiers::parse(rest)?;
    Some(Requirement {
        name: normalize(name),
        spec,
        raw: text.to_owned(),
        line,
    })
}

/// Requirements of a `requirements*.txt`, with the files it includes by `-r`/`-c` (read by the
/// caller through `include`, which returns their text).
pub fn requirements_txt(text: &str) -> (Vec<Requirement>, Vec<String>) {
    let mut out = Vec::new();
    let mut includes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        for flag in [
            "-r ",
            "--requirement ",
            "-c ",
            "--constraint ",
            "--requirement=",
            "-r",
        ] {
            if let Some(path) = line.strip_prefix(flag) {
                let path = path.trim();
                if !path.is_empty() {
                    includes.push(path.to_owned());
                }
                break;
            }
        }
        if let Some(r) = parse_requirement(line, i + 1) {
            out.push(r);
        }
    }
    (out, includes)
}

/// The 1-based line of the first line containing `needle` (1 when none does).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(1, |i| i + 1)
}

/// Requirements of a `pyproject.toml`: PEP 621 `dependencies` and `optional-dependencies`,
/// `dependency-groups`, and Poetry's `[tool.poetry.*dependencies]` tables.
pub fn pyproject(text: &str) -> Result<Vec<Requirement>, String> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| e.message().to_owned())?;
    let mut out = Vec::new();
    let mut add = |s: &str| {
        if let Some(r) = parse_requirement(s, line_of(text, s)) {
            out.push(r);
        }
    };
    let project = doc.get("project").and_then(|p| p.as_table());
    for list in project
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.as_array())
        .into_iter()
        .chain(
            project
                .and_then(|p| p.get("optional-dependencies"))
                .and_then(|d| d.as_table())
                .into_iter()
                .flat_map(|t| t.values().filter_map(|v| v.as_array())),
        )
        .chain(
            doc.get("dependency-groups")
                .and_then(|d| d.as_table())
                .into_iter()
                .flat_map(|t| t.values().filter_map(|v| v.as_array())),
        )
    {
        for item in list {
            if let Some(s) = item.as_str() {
                add(s);
            }
        }
    }
    let poetry = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.as_table());
    let mut tables: Vec<&toml::Table> = Vec::new();
    if let Some(p) = poetry {
        for key in ["dependencies", "dev-dependencies"] {
            if let Some(t) = p.get(key).and_then(|t| t.as_table()) {
                tables.push(t);
            }
        }
        if let Some(groups) = p.get("group").and_then(|g| g.as_table()) {
            for g in groups.values() {
                if let Some(t) = g.get("dependencies").and_then(|t| t.as_table()) {
                    tables.push(t);
                }
            }
        }
    }
    for table in tables {
        for (name, value) in table {
            if name == "python" {
                continue;
            }
            let constraint = match value {
                toml::Value::String(s) => Some(s.as_str()),
                toml::Value::Table(t) => t.get("version").and_then(|v| v.as_str()),
                _ => None,
            };
            let spec = constraint.map_or_else(Specifiers::default, poetry_constraint);
            out.push(Requirement {
                name: normalize(name),
                spec,
                raw: format!("{name} = {}", constraint.unwrap_or("*")),
                line: line_of(text, &format!("{name} =")),
            });
        }
    }
    Ok(out)
}

/// A Poetry constraint (`^2.6`, `~2.6`, `2.6.*`, `>=2.1,<3`, `2.6.0`) as PEP 440 specifiers.
fn poetry_constraint(c: &str) -> Specifiers {
    let c = c.trim();
    let converted = if c == "*" || c.is_empty() {
        String::new()
    } else if let Some(v) = c.strip_prefix('^') {
        let parts: Vec<&str> = v.split('.').collect();
        let first_nonzero = parts.iter().position(|p| *p != "0").unwrap_or(0);
        let mut upper: Vec<u64> = parts
            .iter()
            .take(first_nonzero + 1)
            .map(|p| p.parse().unwrap_or(0))
            .collect();
        if let Some(last) = upper.last_mut() {
            *last += 1;
        }
        let upper: Vec<String> = upper.iter().map(u64::to_string).collect();
        format!(">={v},<{}", upper.join("."))
    } else if let Some(v) = c.strip_prefix('~').filter(|v| !v.starts_with('=')) {
        let parts: Vec<&str> = v.split('.').collect();
        let keep = if parts.len() > 1 { 2 } else { 1 };
        let mut upper: Vec<u64> = parts
            .iter()
            .take(keep)
            .map(|p| p.parse().unwrap_or(0))
            .collect();
        if let Some(last) = upper.last_mut() {
            *last += 1;
        }
        let upper: Vec<String> = upper.iter().map(u64::to_string).collect();
        format!(">={v},<{}", upper.join("."))
    } else if c.starts_with(|ch: char| ch.is_ascii_digit()) {
        format!("=={c}")
    } else {
        c.to_owned()
    };
    Specifiers::parse(&converted).unwrap_or_default()
}

/// Locked versions of a `poetry.lock` or `uv.lock` (`[[package]]` tables with `name` and
/// `version`).
pub fn toml_lock(text: &str) -> Result<Vec<Requirement>, String> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| e.message().to_owned())?;
    let mut out = Vec::new();
    for package in doc
        .get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        let (Some(name), Some(version)) = (
            package.get("name").and_then(|n| n.as_str()),
            package.get("version").and_then(|v| v.as_str()),
        ) else {
            continue;
        };
        let spec = Specifiers::parse(&format!("=={version}")).unwrap_or_default();
        out.push(Requirement {
            name: normalize(name),
            spec,
            raw: format!("{name} {version}"),
            line: line_of(text, &format!("name = \"{name}\"")),
        });
    }
    Ok(out)
}

/// Locked versions of a `Pipfile.lock` (`default` and `develop`: `{name: {version: "==x"}}`).
pub fn pipfile_lock(text: &str) -> Result<Vec<Requirement>, String> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for section in ["default", "develop"] {
        let Some(packages) = doc.get(section).and_then(|s| s.as_object()) else {
            continue;
        };
        for (name, entry) in packages {
            let version = entry.get("version").and_then(|v| v.as_str()).unwrap_or("");
            out.push(Requirement {
                name: normalize(name),
                spec: Specifiers::parse(version).unwrap_or_default(),
                raw: format!("{name}{version}"),
                line: line_of(text, &format!("\"{name}\"")),
            });
        }
    }
    Ok(out)
}

/// Dependencies of a conda `environment.yml`: conda specs (`pytorch=2.1.0`, `numpy>=1.26`) and
/// the `pip:` list. Conda's `pytorch` is PyPI's `torch`.
pub fn conda_environment(text: &str) -> Vec<Requirement> {
    let mut out = Vec::new();
    let mut in_deps = false;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if !raw.starts_with([' ', '-']) && !trimmed.is_empty() {
            in_deps = trimmed.starts_with("dependencies:");
            continue;
        }
        if !in_deps {
            continue;
        }
        let Some(item) = trimmed.strip_prefix('-') else {
            continue;
        };
        let item = item.trim().trim_matches(['"', '\'']);
        if item.starts_with("pip:") || item.is_empty() {
            continue;
        }
        let item = item.split("::").last().unwrap_or(item);
        // conda: `name=1.2` (a prefix match) and `name==1.2`; pip lines are PEP 508.
        let converted = match item.find(['=', '<', '>', '!', '~']) {
            Some(at) if item[at..].starts_with('=') && !item[at..].starts_with("==") => {
                // Read as the version it names (`=2.1` installs a 2.1 release; `=2.*` stays a
                // wildcard range).
                let version = item[at + 1..].split('=').next().unwrap_or("");
                format!("{}=={version}", &item[..at])
            }
            _ => item.to_owned(),
        };
        if let Some(mut r) = parse_requirement(&converted, i + 1) {
            if r.name == "pytorch" {
                r.name = "torch".to_owned();
            }
            out.push(r);
        }
    }
    out
}

/// One advisory of the database, as aigis keeps it.
#[derive(Debug, Clone, Deserialize)]
pub struct Advisory {
    /// `PYSEC-…`, `GHSA-…`.
    pub id: String,
    /// CVE and other ids.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// One line.
    #[serde(default)]
    pub summary: String,
    /// `critical`, `high`, `medium` or `low`.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// Affected packages.
    pub packages: Vec<AffectedPackage>,
}

fn default_severity() -> String {
    "high".to_owned()
}

/// A package an advisory affects: OSV `ECOSYSTEM` ranges (each a list of `introduced` /
/// `fixed` / `last_affected` events) or explicit versions.
#[derive(Debug, Clone, Deserialize)]
pub struct AffectedPackage {
    /// Normalised PyPI name.
    pub name: String,
    /// Event lists.
    #[serde(default)]
    pub ranges: Vec<Vec<std::collections::BTreeMap<String, String>>>,
    /// Explicit versions (when no range is given).
    #[serde(default)]
    pub versions: Vec<String>,
}

/// An interval of affected versions: `[low, high)` or `[low, high]`.
struct Interval {
    low: Version,
    high: Option<(Version, bool)>,
}

impl AffectedPackage {
    fn intervals(&self) -> Vec<Interval> {
        let mut out = Vec::new();
        for events in &self.ranges {
            let mut open: Option<Version> = None;
            for event in events {
                if let Some(v) = event.get("introduced") {
                    open = Version::parse(if v == "0" { "0" } else { v });
                } else if let Some(v) = event.get("fixed") {
                    if let (Some(low), Some(high)) = (open.take(), Version::parse(v)) {
                        out.push(Interval {
                            low,
                            high: Some((high, false)),
                        });
                    }
                } else if let Some(v) = event.get("last_affected")
                    && let (Some(low), Some(high)) = (open.take(), Version::parse(v))
                {
                    out.push(Interval {
                        low,
                        high: Some((high, true)),
                    });
                }
            }
            if let Some(low) = open {
                out.push(Interval { low, high: None });
            }
        }
        out
    }

    /// Whether the exact version `v` is affected.
    pub fn affects(&self, v: &Version) -> bool {
        self.versions
            .iter()
            .filter_map(|s| Version::parse(s))
            .any(|x| x == *v)
            || self.intervals().iter().any(|i| {
                *v >= i.low
                    && match &i.high {
                        None => true,
                        Some((h, true)) => v <= h,
                        Some((h, false)) => v < h,
                    }
            })
    }

    /// Whether the specifiers keep an install inside an affected interval: the interval
    /// overlaps what they allow and they exclude its fix and everything after it (`<2.6`,
    /// `~=2.4.0`). A range that admits the fixed release (`>=2.0`) resolves to it or later and
    /// is not counted — a lock file says what was actually installed. Intervals without a fix
    /// affect every later release too; a range cannot avoid them, so they are not counted
    /// against it either (a pin inside one is).
    pub fn may_affect(&self, spec: &Specifiers) -> bool {
        self.intervals().iter().any(|i| {
            let Some(high) = i.high.as_ref().map(|(h, inclusive)| {
                if *inclusive {
                    // `<= h` as `< h.post0.dev0`-ish: the next release of h.
                    let mut r: Vec<String> = h.release().iter().map(u64::to_string).collect();
                    r.push("1".into());
                    Version::parse(&r.join(".")).unwrap_or_else(|| h.clone())
                } else {
                    h.clone()
                }
            }) else {
                return false;
            };
            spec.admits_some(&i.low, Some(&high)) && !spec.admits_some(&high, None)
        })
    }
}

/// The advisory database.
#[derive(Debug, Clone, Deserialize)]
pub struct AdvisoryDb {
    /// Where it came from.
    #[serde(default)]
    pub source: String,
    /// The revision of the source it was built from.
    #[serde(default)]
    pub source_revision: String,
    /// Newest modification in it (`YYYY-MM-DD`).
    #[serde(default)]
    pub date: String,
    /// The packages it covers (normalised names).
    #[serde(default)]
    pub packages: Vec<String>,
    /// The advisories.
    pub advisories: Vec<Advisory>,
}

const SHIPPED: &str = include_str!("../../data/advisories-ml.json");

/// Where `aigis db update` installs a database: `$AIGIS_ADVISORY_DB`, else
/// `$XDG_DATA_HOME/aigis/advisories.json`, else `~/.local/share/aigis/advisories.json`.
pub fn installed_db_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("AIGIS_ADVISORY_DB").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    Some(data_dir()?.join("advisories.json"))
}

/// aigis's data folder: `$XDG_DATA_HOME/aigis`, else `~/.local/share/aigis` (the installed
/// advisory database, the inventory database).
pub fn data_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("aigis"))
}

impl AdvisoryDb {
    /// Parses a database file: aigis's form, or a plain OSV list / a single OSV entry (each
    /// entry's PyPI `ECOSYSTEM` ranges are kept).
    pub fn parse(text: &str) -> Result<AdvisoryDb, String> {
        if let Ok(db) = serde_json::from_str::<AdvisoryDb>(text) {
            return Ok(db);
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let entries: Vec<serde_json::Value> = match value {
            serde_json::Value::Array(a) => a,
            v @ serde_json::Value::Object(_) => vec![v],
            _ => return Err("neither an aigis advisory database nor OSV JSON".into()),
        };
        let mut advisories = Vec::new();
        let mut date = String::new();
        for e in entries {
            let Some(id) = e.get("id").and_then(|i| i.as_str()) else {
                continue;
            };
            let modified: String = e
                .get("modified")
                .and_then(|m| m.as_str())
                .unwrap_or("")
                .chars()
                .take(10)
                .collect();
            if modified > date {
                date = modified;
            }
            let mut packages = Vec::new();
            for a in e
                .get("affected")
                .and_then(|a| a.as_array())
                .into_iter()
                .flatten()
            {
                let pkg = a.get("package");
                if pkg
                    .and_then(|p| p.get("ecosystem"))
                    .and_then(|x| x.as_str())
                    != Some("PyPI")
                {
                    continue;
                }
                let name = normalize(
                    pkg.and_then(|p| p.get("name"))
                        .and_then(|x| x.as_str())
                        .unwrap_or(""),
                );
                let ranges = a
                    .get("ranges")
                    .and_then(|r| r.as_array())
                    .into_iter()
                    .flatten()
                    .filter(|r| r.get("type").and_then(|t| t.as_str()) == Some("ECOSYSTEM"))
                    .map(|r| {
                        r.get("events")
                            .and_then(|e| e.as_array())
                            .into_iter()
                            .flatten()
                            .filter_map(|ev| ev.as_object())
                            .map(|ev| {
                                ev.iter()
                                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                                    .collect()
                            })
                            .collect()
                    })
                    .collect();
                let versions = a
                    .get("versions")
                    .and_then(|v| v.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect();
                packages.push(AffectedPackage {
                    name,
                    ranges,
                    versions,
                });
            }
            if packages.is_empty() {
                continue;
            }
            advisories.push(Advisory {
                id: id.to_owned(),
                aliases: e
                    .get("aliases")
                    .and_then(|a| a.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect(),
                summary: e
                    .get("summary")
                    .and_then(|s| s.as_str())
                    .unwrap_or("")
                    .chars()
                    .take(240)
                    .collect(),
                severity: default_severity(),
                packages,
            });
        }
        if advisories.is_empty() {
            return Err("no PyPI advisory with an ECOSYSTEM range in the file".into());
        }
        Ok(AdvisoryDb {
            source: "OSV export".into(),
            source_revision: String::new(),
            date,
            packages: Vec::new(),
            advisories,
        })
    }

    /// The database shipped in the binary.
    pub fn shipped() -> &'static AdvisoryDb {
        static DB: OnceLock<AdvisoryDb> = OnceLock::new();
        DB.get_or_init(|| {
            AdvisoryDb::parse(SHIPPED).unwrap_or(AdvisoryDb {
                source: "none (the shipped database did not parse)".into(),
                source_revision: String::new(),
                date: String::new(),
                packages: Vec::new(),
                advisories: Vec::new(),
            })
        })
    }

    /// Advisories naming `package` (normalised).
    pub fn for_package<'a>(
        &'a self,
        package: &'a str,
    ) -> impl Iterator<Item = (&'a Advisory, &'a AffectedPackage)> + 'a {
        self.advisories.iter().flat_map(move |a| {
            a.packages
                .iter()
                .filter(move |p| p.name == package)
                .map(move |p| (a, p))
        })
    }

    /// Whether the database covers `package` (a package it has advisories for, or lists).
    pub fn covers(&self, package: &str) -> bool {
        self.packages.iter().any(|p| p == package) || self.for_package(package).next().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_lines() {
        let r = parse_requirement("Torch[cuda] >= 2.1, <3 ; python_version > '3.8'", 3)
            .unwrap_or_else(|| panic!("parse"));
        assert_eq!(r.name, "torch");
        assert_eq!(r.line, 3);
        assert!(
            r.spec
                .contains(&Version::parse("2.5").unwrap_or_else(|| panic!()))
        );
        assert!(parse_requirement("-e .", 1).is_none());
        assert!(parse_requirement("# comment", 1).is_none());
        assert_eq!(normalize("Sentence_Transformers"), "sentence-transformers");
        let (reqs, includes) = requirements_txt("-r base.txt\nnumpy==2.0.0  # pinned\ntorch\n");
        assert_eq!(includes, ["base.txt"]);
        assert_eq!(reqs.len(), 2);
        assert_eq!(
            reqs[0].spec.pinned().map(|v| v.release().to_vec()),
            Some(vec![2, 0, 0])
        );
        assert!(reqs[1].spec.is_empty());
    }

    #[test]
    fn manifests_and_locks() {
        let py = pyproject(
            "[project]\nname='x'\ndependencies = [\"torch>=2.1\", \"numpy\"]\n\
             [project.optional-dependencies]\nllm = [\"transformers==4.30.0\"]\n\
             [tool.poetry.dependencies]\npython = \"^3.10\"\nkeras = \"^3.0\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = py.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["torch", "numpy", "transformers", "keras"]);
        assert!(
            py[3]
                .spec
                .contains(&Version::parse("3.4").unwrap_or_else(|| panic!()))
        );
        assert!(
            !py[3]
                .spec
                .contains(&Version::parse("4.0").unwrap_or_else(|| panic!()))
        );
        let lock = toml_lock("[[package]]\nname = \"torch\"\nversion = \"2.5.1\"\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lock[0].line, 2);
        let pip = pipfile_lock("{\"default\": {\"mlflow\": {\"version\": \"==2.9.0\"}}}")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pip[0].name, "mlflow");
        let conda = conda_environment(
            "name: x\ndependencies:\n  - python=3.11\n  - pytorch=2.1.0\n  - pip:\n    - transformers==4.30.0\n",
        );
        let got: Vec<(String, usize)> = conda.iter().map(|r| (r.name.clone(), r.line)).collect();
        assert_eq!(
            got,
            [
                ("python".into(), 3),
                ("torch".into(), 4),
                ("transformers".into(), 6)
            ]
        );
    }

    #[test]
    fn the_shipped_database_knows_the_torch_load_advisory() {
        let db = AdvisoryDb::shipped();
        assert!(db.advisories.len() > 500, "{}", db.advisories.len());
        assert!(!db.date.is_empty());
        let hit: Vec<&str> = db
            .for_package("torch")
            .filter(|(_, p)| p.affects(&Version::parse("2.5.1").unwrap_or_else(|| panic!())))
            .map(|(a, _)| a.id.as_str())
            .collect();
        assert!(hit.contains(&"PYSEC-2025-41"), "{hit:?}");
        let later: Vec<&str> = db
            .for_package("torch")
            .filter(|(_, p)| p.affects(&Version::parse("2.6.0").unwrap_or_else(|| panic!())))
            .map(|(a, _)| a.id.as_str())
            .collect();
        assert!(!later.contains(&"PYSEC-2025-41"), "{later:?}");
        let hit = |spec: &str| {
            let range = Specifiers::parse(spec).unwrap_or_else(|| panic!("{spec}"));
            db.for_package("torch")
                .any(|(a, p)| a.id == "PYSEC-2025-41" && p.may_affect(&range))
        };
        // Ranges that exclude the fix (2.6.0) keep installs vulnerable; ranges that admit it
        // resolve to it or later.
        assert!(hit("<2.6") && hit(">=2.0,<2.6") && hit("~=2.4.0") && hit("<=2.5.1"));
        assert!(!hit(">=2.6") && !hit(">=2.0") && !hit("~=2.5") && !hit(">=2.0,<3"));
    }
}
