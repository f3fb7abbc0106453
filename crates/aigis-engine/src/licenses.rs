//! The policy's license conditions (`deny_licenses`, `allow_licenses`, `require_license`),
//! judged per model: the results are grouped into models once, and a model that violates them
//! gets a `LICENSE-DENIED` or `LICENSE-UNKNOWN` finding on its main file, before the policy's
//! severity overrides and suppressions apply (so they cover these findings like any other).

use aigis_inventory::model;
use aigis_policy::Policy;
use aigis_scan::{FileResult, Finding};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Adds the license findings of every model the results make.
pub(crate) fn check(
    policy: &Policy,
    results: &mut [FileResult],
    on_disk: &HashMap<String, PathBuf>,
    scanned: bool,
) {
    if policy.licenses.is_empty() {
        return;
    }
    let entries = crate::inventory_entries(results.iter(), on_disk, scanned);
    let index: HashMap<String, usize> = results
        .iter()
        .enumerate()
        .map(|(i, r)| (r.path.clone(), i))
        .collect();
    for m in model::group(entries) {
        let Some((rule, why)) = policy.license_violation(Path::new(&m.path), m.license.as_deref())
        else {
            continue;
        };
        let main = m
            .files
            .iter()
            .find(|f| f.format.is_model())
            .or_else(|| m.files.first());
        let Some(&i) = main.and_then(|f| index.get(&f.path)) else {
            continue;
        };
        let finding = Finding::new(rule, format!("model `{}`: {why}", m.name)).at(m.path.clone());
        let result = &mut results[i];
        if !result.findings.contains(&finding) {
            result.findings.push(finding);
            result.normalize();
        }
    }
}
