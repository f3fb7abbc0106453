//! Code linked to the models it loads: a load site in Python source or a notebook that names a
//! model file as a constant (`joblib.load("models/clf.pkl")`) is tied to that file's verdict
//! when the same run scanned it, so the finding on the code says what running it runs.

use aigis_scan::{FileResult, Finding, RuleId, Severity};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Links each code result to the results of this run its load sites name (`FileResult::loads`,
/// what the AI-BOM's `dependsOn` is drawn from), and adds a `CODE-LOADS-FLAGGED-MODEL` finding
/// where such a file is rated high or critical. A relative path is looked up from the code's
/// folder, the working directory and each local target (where scripts are run from).
pub(crate) fn link(
    results: &mut [FileResult],
    on_disk: &HashMap<String, PathBuf>,
    roots: &[PathBuf],
) {
    let wants =
        |r: &FileResult| !r.model.loads.is_empty() || r.findings.iter().any(|f| f.loads.is_some());
    if !results.iter().any(wants) {
        return;
    }
    // Every local result by its canonical path: (reported path, severity and why if flagged).
    let mut by_file: HashMap<PathBuf, (String, Option<(Severity, String)>)> = HashMap::new();
    for result in results.iter() {
        let Some(real) = on_disk.get(&result.path) else {
            continue;
        };
        let Ok(canonical) = std::fs::canonicalize(real) else {
            continue;
        };
        let flagged = result
            .content_severity
            .filter(|s| *s >= Severity::High)
            .map(|severity| {
                let why = result
                    .findings
                    .iter()
                    .filter(|f| f.is_active() && f.severity == severity)
                    .map(|f| f.message.clone())
                    .next()
                    .unwrap_or_default();
                (severity, why)
            });
        by_file.insert(canonical, (result.path.clone(), flagged));
    }
    let cwd = std::env::current_dir().ok();
    for result in results.iter_mut() {
        if !wants(result) {
            continue;
        }
        let Some(code) = on_disk.get(&result.path) else {
            continue;
        };
        let resolve = |named: &str| {
            code.parent()
                .into_iter()
                .map(Path::to_path_buf)
                .chain(cwd.clone())
                .chain(roots.iter().cloned())
                .filter_map(|base| std::fs::canonicalize(base.join(named)).ok())
                .find_map(|p| by_file.get(&p))
        };
        let mut loads: Vec<String> = Vec::new();
        for named in result
            .model
            .loads
            .iter()
            .chain(result.findings.iter().filter_map(|f| f.loads.as_ref()))
        {
            if let Some((path, _)) = resolve(named)
                && *path != result.path
                && !loads.contains(path)
            {
                loads.push(path.clone());
            }
        }
        loads.sort();
        result.loads = loads;
        let mut added = Vec::new();
        for finding in &result.findings {
            let Some(named) = &finding.loads else {
                continue;
            };
            let Some((_, Some((severity, why)))) = resolve(named) else {
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
