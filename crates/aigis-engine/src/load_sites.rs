//! Code linked to the models it loads: a load site in Python source or a notebook that names a
//! model file as a constant (`joblib.load("models/clf.pkl")`) is tied to that file's verdict
//! when the same run scanned it, so the finding on the code says what running it runs.

use aigis_scan::{FileResult, Finding, RuleId, Severity};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Adds a `CODE-LOADS-FLAGGED-MODEL` finding to each code result whose load site names a local
/// file of this run rated high or critical. A relative path is looked up from the code's
/// folder, the working directory and each local target (where scripts are run from).
pub(crate) fn link(
    results: &mut [FileResult],
    on_disk: &HashMap<String, PathBuf>,
    roots: &[PathBuf],
) {
    let mut flagged: HashMap<PathBuf, (Severity, String)> = HashMap::new();
    for result in results.iter() {
        let Some(severity) = result.content_severity.filter(|s| *s >= Severity::High) else {
            continue;
        };
        let Some(real) = on_disk.get(&result.path) else {
            continue;
        };
        let Ok(canonical) = std::fs::canonicalize(real) else {
            continue;
        };
        let why = result
            .findings
            .iter()
            .filter(|f| f.is_active() && f.severity == severity)
            .map(|f| f.message.clone())
            .next()
            .unwrap_or_default();
        flagged.insert(canonical, (severity, why));
    }
    if flagged.is_empty() {
        return;
    }
    let cwd = std::env::current_dir().ok();
    for result in results.iter_mut() {
        let Some(code) = on_disk.get(&result.path) else {
            continue;
        };
        let mut added = Vec::new();
        for finding in &result.findings {
            let Some(named) = &finding.loads else {
                continue;
            };
            let bases = code
                .parent()
                .into_iter()
                .map(Path::to_path_buf)
                .chain(cwd.clone())
                .chain(roots.iter().cloned());
            let hit = bases
                .filter_map(|base| std::fs::canonicalize(base.join(named)).ok())
                .find_map(|p| flagged.get(&p));
            let Some((severity, why)) = hit else {
                continue;
            };
            let mut link = Finding::new(
                RuleId::CodeLoadsFlaggedModel,
                format!(
                    "loads `{named}`, a file of this scan rated {}: {why}",
                    severity.as_str()
                ),
            )
            .with_severity(*severity)
            .with_loads(named.clone());
            link.location = finding.location.clone();
            if !result.findings.contains(&link) && !added.contains(&link) {
                added.push(link);
            }
        }
        if !added.is_empty() {
            result.findings.extend(added);
            result.location_dependent = true;
            result.normalize();
        }
    }
}
