//! Model signatures in the run: a model folder holding `model.sig` (or any model, when the
//! operator passes a key, a chain, an identity or a signature) is verified with `aigis-sign` on
//! the digests the run already computed; the outcome becomes findings on the model's files
//! (`SIGNATURE-INVALID`, `SIGNATURE-MISMATCH`, `MODEL-UNSIGNED`) before the policy applies, and
//! the model's `signature` after grouping.

use aigis_inventory::{Model, ModelSignature, model};
use aigis_policy::Policy;
use aigis_scan::{FileResult, Finding, RuleId, Severity};
use aigis_sign::{Digests, Status, Trust, TrustOptions, Verification};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// What the operator passed for signatures (`--signature`, `--key`, `--certificate-chain`,
/// `--identity`/`--issuer`, `--trust-root`, `--ignore-paths`).
#[derive(Debug, Clone, Default)]
pub struct SignatureOptions {
    /// Keys, chains, identity, trusted root.
    pub trust: TrustOptions,
    /// A signature bundle to check the models against instead of their own `model.sig`.
    pub signature: Option<PathBuf>,
}

impl SignatureOptions {
    /// Whether the operator asked for signatures.
    pub fn explicit(&self) -> bool {
        self.signature.is_some()
            || self.trust.key.is_some()
            || self.trust.certificate_chain.is_some()
            || self.trust.identity.is_some()
    }
}

/// Verifies the models among `results` and records findings; returns each checked model's
/// signature by model path.
pub(crate) fn check(
    results: &mut [FileResult],
    on_disk: &HashMap<String, PathBuf>,
    options: &SignatureOptions,
    policy: &Policy,
    warnings: &mut Vec<String>,
) -> BTreeMap<String, ModelSignature> {
    let mut out = BTreeMap::new();
    let entries = crate::inventory_entries(
        results.iter().filter(|r| on_disk.contains_key(&r.path)),
        on_disk,
        true,
    );
    let models = model::group(entries);
    if models.is_empty() {
        return out;
    }
    let mut trust: Option<Trust> = None;
    let digests: Digests = results
        .iter()
        .filter_map(|r| Some((PathBuf::from(&r.path), r.sha256.clone()?)))
        .collect();
    for model in &models {
        let path = Path::new(&model.path);
        let signature = match &options.signature {
            Some(file) => Some(file.clone()),
            None if path.is_dir() => Some(path.join(aigis_sign::SIGNATURE_FILE)),
            None => None,
        };
        let required = policy.requires_signature(path);
        let present = signature.as_ref().is_some_and(|s| s.is_file());
        if !present && !required && !options.explicit() {
            continue;
        }
        let outcome = match &signature {
            Some(file) if present => {
                if trust.is_none() {
                    match Trust::new(&options.trust) {
                        Ok(t) => trust = Some(t),
                        Err(e) => {
                            warnings.push(format!("signatures not checked: {e}"));
                            return out;
                        }
                    }
                }
                match &trust {
                    Some(trust) => aigis_sign::verify(path, file, trust, &digests),
                    None => Verification::unsigned(),
                }
            }
            _ => Verification::unsigned(),
        };
        record(results, model, &outcome, required);
        out.insert(model.path.clone(), summary(&outcome));
    }
    out
}

/// The model's signature in the inventory's terms.
pub(crate) fn summary(outcome: &Verification) -> ModelSignature {
    ModelSignature {
        status: outcome.status.as_str().to_string(),
        identity: outcome.identity.clone(),
        issuer: outcome.issuer.clone(),
        reason: outcome.reason.clone(),
        method: outcome.method.clone(),
        root_digest: outcome.root_digest.clone(),
        file: outcome.signature.clone(),
        mismatches: outcome
            .mismatches
            .iter()
            .map(|m| format!("{}: {}", m.difference.as_str(), m.path))
            .collect(),
    }
}

/// The model's folder (or file) name: findings sit on its files, so their messages name it
/// without the path.
fn model_name(model: &Model) -> String {
    Path::new(&model.path)
        .file_name()
        .map_or_else(|| model.path.clone(), |n| n.to_string_lossy().into_owned())
}

fn record(results: &mut [FileResult], model: &Model, outcome: &Verification, required: bool) {
    let Some(main) = model
        .files
        .iter()
        .find(|f| f.format.is_model())
        .or_else(|| model.files.first())
        .map(|f| f.path.clone())
    else {
        return;
    };
    fn push(results: &mut [FileResult], target: &str, finding: Finding) {
        if let Some(result) = results.iter_mut().find(|r| r.path == target) {
            result.findings.push(finding);
            result.location_dependent = true;
            result.normalize();
        }
    }
    match outcome.status {
        Status::Verified => {}
        Status::Unsigned => {
            let mut finding = Finding::new(
                RuleId::ModelUnsigned,
                format!(
                    "model `{}` has no signature (model.sig){}",
                    model_name(model),
                    if required {
                        "; the policy requires one here (require_signature)"
                    } else {
                        ""
                    }
                ),
            );
            if required {
                finding = finding.with_severity(Severity::High);
            }
            push(results, &main, finding);
        }
        Status::Invalid if !outcome.mismatches.is_empty() => {
            for mismatch in &outcome.mismatches {
                let file = Path::new(&model.path).join(&mismatch.path);
                let file = file.to_string_lossy();
                let message = match mismatch.difference {
                    aigis_sign::Difference::Changed => format!(
                        "{} differs from what was signed (its digest is not the signed one)",
                        mismatch.path
                    ),
                    aigis_sign::Difference::Missing => {
                        format!("{} was signed but is missing", mismatch.path)
                    }
                    aigis_sign::Difference::Extra => {
                        format!("{} is not in the signed manifest (added)", mismatch.path)
                    }
                };
                let finding = Finding::new(RuleId::SignatureMismatch, message).at(&*mismatch.path);
                if results.iter().any(|r| r.path == file) {
                    push(results, &file, finding);
                } else {
                    push(results, &main, finding);
                }
            }
        }
        Status::Invalid => {
            let mut finding = Finding::new(
                RuleId::SignatureInvalid,
                format!(
                    "the signature of model `{}` does not hold: {}",
                    model_name(model),
                    outcome.reason.as_deref().unwrap_or("invalid")
                ),
            );
            if outcome.unchecked {
                // Not proven bad: nothing was given to check it with.
                finding = finding.with_severity(Severity::Medium);
            }
            push(results, &main, finding);
        }
    }
}
