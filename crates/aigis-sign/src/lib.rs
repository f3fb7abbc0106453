//! Offline verification of OpenSSF Model Signing signatures (`model.sig`).
//!
//! A model signature is a Sigstore bundle whose DSSE envelope carries an in-toto statement with
//! predicate type `https://model_signing/signature/v1.0`: the predicate lists every file of the
//! model with its digest (`resources`), how the list was made (`serialization`: method, hash,
//! ignored paths) and the statement's one subject is the root digest (SHA-256 over the resource
//! digests in order). Verification here is three checks, all offline:
//!
//! 1. the manifest is consistent (the resources hash to the subject's root digest);
//! 2. the signature over the statement verifies (with `sigstore-verify`): with a public key, or
//!    keyless against a trusted root (Fulcio chain, SCT, Rekor inclusion proof / SET), the
//!    signer's identity and issuer checked when the caller names them;
//! 3. the files on disk are the files that were signed, both ways: changed, missing and extra
//!    files, the ignored paths and the signature file itself left out.
//!
//! File digests come from the caller when it already has them ([`Digests`]: the engine hashes
//! every file it scans) and are computed here otherwise.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use const_oid::AssociatedOid;
use const_oid::db::rfc5280::ID_KP_CODE_SIGNING;
use der::{Decode, Encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sigstore_verify::crypto::{
    CertificateInfo, VerificationKey, WEBPKI_VERIFICATION_ALGS, parse_certificate_info,
};
use sigstore_verify::trust_root::TrustedRoot;
use sigstore_verify::types::bundle::VerificationMaterialContent;
use sigstore_verify::types::dsse::DsseEnvelope;
use sigstore_verify::types::{Bundle, DerCertificate, DerPublicKey, Sha256Hash, SignatureContent};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy, Verifier};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage};

/// The predicate type of an OpenSSF Model Signing v1.0 statement.
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
/// The name model-signing gives a model's signature file.
pub const SIGNATURE_FILE: &str = "model.sig";
/// The Sigstore public-good trusted root compiled in (`data/trusted_root.json`).
pub const PUBLIC_GOOD_TRUSTED_ROOT: &str = include_str!("../data/trusted_root.json");

/// A signature bundle larger than this is not read (real ones are a few KiB per thousand files).
const MAX_BUNDLE_BYTES: u64 = 64 * 1024 * 1024;

/// Errors in what the operator supplied (a key, a trust root); a bad signature is never an error
/// but an [`Status::Invalid`] outcome.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The public key is not a PEM SubjectPublicKeyInfo.
    #[error("{path}: not a PEM public key: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The trusted root could not be used.
    #[error("trusted root: {0}")]
    TrustRoot(String),
    /// `--identity` without `--issuer` or the reverse.
    #[error("--identity and --issuer go together")]
    IdentityWithoutIssuer,
}

/// The verdict on a model's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// No signature was found.
    Unsigned,
    /// A signature was found and does not hold (bad signature, untrusted signer, files differ,
    /// or it cannot be checked: an unsupported format or hash, a key-signed model without a key).
    Invalid,
    /// The signature verifies and every file is what was signed.
    Verified,
}

impl Status {
    /// `unsigned`, `invalid` or `verified`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unsigned => "unsigned",
            Status::Invalid => "invalid",
            Status::Verified => "verified",
        }
    }
}

/// How one file differs from the signed manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Difference {
    /// Present with another digest than the one signed.
    Changed,
    /// Signed but not present.
    Missing,
    /// Present but not signed (and not ignored).
    Extra,
}

impl Difference {
    /// `changed`, `missing` or `extra`.
    pub fn as_str(self) -> &'static str {
        match self {
            Difference::Changed => "changed",
            Difference::Missing => "missing",
            Difference::Extra => "extra",
        }
    }
}

/// One file that is not what was signed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Mismatch {
    /// Path relative to the model (`/`-separated, as in the manifest).
    pub path: String,
    /// How it differs.
    pub difference: Difference,
}

/// The outcome of verifying one model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// The verdict.
    pub status: Status,
    /// The signer: the certificate's identity (email or URI), or `key:<sha256 of the key>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The OIDC issuer of a keyless signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Why it is not verified (or how it was).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The signature file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The manifest's root digest (`sha256:<hex>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_digest: Option<String>,
    /// How the signature was checked: `key`, `keyless`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Files that differ from what was signed, sorted by path.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub mismatches: Vec<Mismatch>,
    /// How many files the manifest lists.
    #[serde(default)]
    pub files: usize,
    /// True when the signature could not be checked at all for want of what to check it with
    /// (a key-signed model without `--key`, a certificate-signed one without
    /// `--certificate-chain`): invalid, but not proven bad.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub unchecked: bool,
}

impl Verification {
    /// No signature.
    pub fn unsigned() -> Self {
        Self::bare(Status::Unsigned, None)
    }

    fn bare(status: Status, reason: Option<String>) -> Self {
        Verification {
            status,
            identity: None,
            issuer: None,
            reason,
            signature: None,
            root_digest: None,
            method: None,
            mismatches: Vec::new(),
            files: 0,
            unchecked: false,
        }
    }

    fn invalid(reason: impl Into<String>) -> Self {
        Self::bare(Status::Invalid, Some(reason.into()))
    }
}

/// What the operator supplied to check signatures with (`aigis verify`'s and the engine's
/// `--key`, `--certificate-chain`, `--identity`/`--issuer`, `--trust-root`, `--ignore-paths`).
#[derive(Debug, Clone, Default)]
pub struct TrustOptions {
    /// A PEM public key: key-signed models are verified with it.
    pub key: Option<PathBuf>,
    /// PEM certificates (a CA, or a chain up to one): certificate-signed models must chain to one
    /// of them.
    pub certificate_chain: Option<PathBuf>,
    /// The keyless signer required (with `issuer`).
    pub identity: Option<String>,
    /// The keyless signer's OIDC issuer required (with `identity`).
    pub issuer: Option<String>,
    /// A `trusted_root.json` replacing the bundled public-good one.
    pub trust_root: Option<PathBuf>,
    /// More paths (relative to the model) to leave out of the comparison, as model-signing's
    /// `--ignore-paths` (signatures before model-signing 1.1 did not record them).
    pub ignore_paths: Vec<String>,
}

/// Who may have signed, ready to verify with.
pub struct Trust {
    key: Option<DerPublicKey>,
    key_id: Option<String>,
    identity: Option<(String, String)>,
    verifier: Verifier,
    chain_verifier: Option<Verifier>,
    /// The operator's CA certificates (DER), anchors for certificate signatures that no log or
    /// timestamp authority saw (model-signing's certificate signer).
    chain_anchors: Vec<DerCertificate>,
    ignore_paths: Vec<String>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("key_id", &self.key_id)
            .field("identity", &self.identity)
            .field("ignore_paths", &self.ignore_paths)
            .finish_non_exhaustive()
    }
}

impl Trust {
    /// Builds the trust. With no key, chain or identity, keyless signatures by anyone the trusted
    /// root vouches for verify (the identity is reported) and key- or certificate-signed models
    /// cannot be verified (invalid, with the reason).
    pub fn new(options: &TrustOptions) -> Result<Self, Error> {
        let identity = match (&options.identity, &options.issuer) {
            (Some(identity), Some(issuer)) => Some((identity.clone(), issuer.clone())),
            (None, None) => None,
            _ => return Err(Error::IdentityWithoutIssuer),
        };
        let (key, key_id) = match &options.key {
            Some(path) => {
                let pem = read_text(path, 1024 * 1024)?;
                let der = DerPublicKey::from_pem(&pem).map_err(|e| Error::Key {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                let id = format!("key:sha256:{}", hex::encode(Sha256::digest(der.as_bytes())));
                (Some(der), Some(id))
            }
            None => (None, None),
        };
        let root_json = match &options.trust_root {
            Some(path) => read_text(path, MAX_BUNDLE_BYTES)?,
            None => PUBLIC_GOOD_TRUSTED_ROOT.to_string(),
        };
        let verifier = verifier_from_json(&root_json)?;
        let (chain_verifier, chain_anchors) = match &options.certificate_chain {
            Some(path) => (
                Some(verifier_from_json(&chain_root(path)?)?),
                chain_certificates(path)?,
            ),
            None => (None, Vec::new()),
        };
        Ok(Trust {
            key,
            key_id,
            identity,
            verifier,
            chain_verifier,
            chain_anchors,
            ignore_paths: options.ignore_paths.clone(),
        })
    }

    /// Whether the operator asked for signatures explicitly (a key, a chain or an identity).
    pub fn is_explicit(&self) -> bool {
        self.key.is_some() || self.identity.is_some() || self.chain_verifier.is_some()
    }
}

/// The PEM certificates of an operator's `--certificate-chain` file (at least one).
fn chain_certificates(path: &Path) -> Result<Vec<DerCertificate>, Error> {
    let text = read_text(path, 1024 * 1024)?;
    let bad = |reason: String| Error::Key {
        path: path.to_path_buf(),
        reason,
    };
    let mut certificates = Vec::new();
    const END: &str = "-----END CERTIFICATE-----";
    for block in text.split_inclusive(END).filter(|b| b.contains(END)) {
        certificates.push(DerCertificate::from_pem(block.trim()).map_err(|e| bad(e.to_string()))?);
    }
    if certificates.is_empty() {
        return Err(bad("no PEM certificate in the file".into()));
    }
    Ok(certificates)
}

/// Parses a Sigstore bundle as protobuf JSON reads it: a member whose value is `null` is the
/// field's default (model-signing before 1.1 writes `"keyid": null`), so such members are dropped
/// before the typed parse.
fn bundle_from_json(json: &str) -> Result<Bundle, String> {
    fn drop_nulls(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.retain(|_, v| !v.is_null());
                map.values_mut().for_each(drop_nulls);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
            _ => {}
        }
    }
    let mut value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    drop_nulls(&mut value);
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// Whether no transparency log or timestamp authority saw the signature (model-signing's key
/// and certificate signers): then nothing but the signature itself can be checked.
fn unlogged(bundle: &Bundle) -> bool {
    bundle.verification_material.tlog_entries.is_empty()
        && bundle
            .verification_material
            .timestamp_verification_data
            .rfc3161_timestamps
            .is_empty()
}

/// The DSSE envelope's signature over its pre-authentication encoding (payload type and
/// payload), checked with `key`.
fn envelope_signed_by(envelope: &DsseEnvelope, key: &DerPublicKey) -> Result<(), String> {
    let key = VerificationKey::from_spki(key).map_err(|e| format!("unusable public key: {e}"))?;
    key.verify(envelope.pae(), &envelope.signature.sig)
        .map_err(|e| format!("the envelope's signature is not the key's: {e}"))
}

/// A certificate-signed envelope: the leaf chains through the bundle's other certificates to
/// one of `anchors`, and the leaf's key signed the envelope. The leaf's facts on success.
///
/// The chain is checked as model-signing checks it (OpenSSL's path validation, not the WebPKI's:
/// model-signing's own test signer is a certificate marked CA): each certificate's signature
/// verifies with its issuer's key and names it, every issuer below the anchor is a CA, every
/// certificate is valid at the leaf's `notBefore` (no log or timestamp says when it signed), and
/// a leaf listing extended key usages lists code signing.
fn chain_signed(
    bundle: &Bundle,
    envelope: &DsseEnvelope,
    anchors: &[DerCertificate],
) -> Result<CertificateInfo, String> {
    let (leaf, rest): (&DerCertificate, &[_]) = match &bundle.verification_material.content {
        VerificationMaterialContent::Certificate(cert) => (&cert.raw_bytes, &[]),
        VerificationMaterialContent::X509CertificateChain { certificates } => {
            let Some((leaf, rest)) = certificates.split_first() else {
                return Err("the bundle's certificate chain is empty".into());
            };
            (&leaf.raw_bytes, rest)
        }
        _ => return Err("the bundle carries no certificate".into()),
    };
    let info = parse_certificate_info(leaf).map_err(|e| format!("unreadable leaf: {e}"))?;
    let decode = |der: &DerCertificate| {
        x509_cert::Certificate::from_der(der.as_bytes())
            .map_err(|e| format!("unreadable certificate: {e}"))
    };
    let leaf_cert = decode(leaf)?;
    let intermediates = rest
        .iter()
        .map(|c| decode(&c.raw_bytes))
        .collect::<Result<Vec<_>, _>>()?;
    let anchors = anchors.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    let at = leaf_cert
        .tbs_certificate
        .validity
        .not_before
        .to_unix_duration();
    if let Some(usages) = extension::<ExtendedKeyUsage>(&leaf_cert)?
        && !usages.0.contains(&ID_KP_CODE_SIGNING)
    {
        return Err("the signing certificate is not for code signing".into());
    }
    let valid = |c: &x509_cert::Certificate| {
        let v = &c.tbs_certificate.validity;
        v.not_before.to_unix_duration() <= at && at <= v.not_after.to_unix_duration()
    };
    let mut current = &leaf_cert;
    let mut chained = false;
    for _ in 0..MAX_CHAIN {
        if anchors.iter().any(|a| valid(a) && issued_by(current, a)) {
            chained = true;
            break;
        }
        let mut next = None;
        for candidate in &intermediates {
            let is_ca = extension::<BasicConstraints>(candidate)?.is_some_and(|b| b.ca);
            if is_ca && valid(candidate) && issued_by(current, candidate) {
                next = Some(candidate);
                break;
            }
        }
        match next {
            Some(next) => current = next,
            None => break,
        }
    }
    if !chained {
        return Err("the signing certificate does not chain to the given CA".into());
    }
    envelope_signed_by(envelope, &info.public_key)?;
    Ok(info)
}

/// Longest certificate path followed.
const MAX_CHAIN: usize = 8;

/// A certificate's extension of type `T`, if it has one.
fn extension<T>(cert: &x509_cert::Certificate) -> Result<Option<T>, String>
where
    T: AssociatedOid + for<'a> Decode<'a>,
{
    let Some(extensions) = &cert.tbs_certificate.extensions else {
        return Ok(None);
    };
    match extensions.iter().find(|e| e.extn_id == T::OID) {
        Some(e) => T::from_der(e.extn_value.as_bytes())
            .map(Some)
            .map_err(|err| format!("unreadable certificate extension {}: {err}", T::OID)),
        None => Ok(None),
    }
}

/// Whether `parent` issued `child`: it names the parent as issuer, and its signature verifies
/// with the parent's key (by the algorithms sigstore's crypto backend offers).
fn issued_by(child: &x509_cert::Certificate, parent: &x509_cert::Certificate) -> bool {
    if child.tbs_certificate.issuer != parent.tbs_certificate.subject {
        return false;
    }
    let spki = &parent.tbs_certificate.subject_public_key_info;
    let (Ok(tbs), Ok(signature_alg), Ok(key_alg)) = (
        child.tbs_certificate.to_der(),
        child.signature_algorithm.to_der(),
        spki.algorithm.to_der(),
    ) else {
        return false;
    };
    let (Some(signature_alg), Some(key_alg), Some(signature)) = (
        der_contents(&signature_alg),
        der_contents(&key_alg),
        child.signature.as_bytes(),
    ) else {
        return false;
    };
    let key = spki.subject_public_key.raw_bytes();
    WEBPKI_VERIFICATION_ALGS.iter().any(|alg| {
        alg.signature_alg_id().as_ref() == signature_alg
            && alg.public_key_alg_id().as_ref() == key_alg
            && alg.verify_signature(key, &tbs, signature).is_ok()
    })
}

/// The contents of a DER value (its tag and length dropped): an `AlgorithmIdentifier` as
/// `rustls-pki-types` spells it.
fn der_contents(der: &[u8]) -> Option<&[u8]> {
    let first = *der.get(1)?;
    let skip = if first < 0x80 {
        2
    } else {
        2 + usize::from(first & 0x7f)
    };
    der.get(skip..)
}

fn verifier_from_json(json: &str) -> Result<Verifier, Error> {
    let root = TrustedRoot::from_json(json).map_err(|e| Error::TrustRoot(e.to_string()))?;
    Verifier::new(&root).map_err(|e| Error::TrustRoot(e.to_string()))
}

/// A trusted root whose only certificate authority is the operator's PEM chain.
fn chain_root(path: &Path) -> Result<String, Error> {
    let bad = |reason: String| Error::Key {
        path: path.to_path_buf(),
        reason,
    };
    let mut certificates = Vec::new();
    for der in chain_certificates(path)? {
        let raw = serde_json::to_value(&der).map_err(|e| bad(e.to_string()))?;
        certificates.push(serde_json::json!({ "rawBytes": raw }));
    }
    Ok(serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [],
        "ctlogs": [],
        "timestampAuthorities": [],
        "certificateAuthorities": [{
            "subject": {"organization": "aigis --certificate-chain", "commonName": path.display().to_string()},
            "uri": "",
            "certChain": {"certificates": certificates},
            "validFor": {"start": "1970-01-01T00:00:00Z"}
        }]
    })
    .to_string())
}

/// Digests the caller already computed: path (absolute, as walked) → lowercase hex SHA-256.
pub type Digests = BTreeMap<PathBuf, String>;

/// The signature file of a model: `model.sig` inside a folder, beside a file.
pub fn default_signature(model: &Path) -> PathBuf {
    if model.is_dir() {
        model.join(SIGNATURE_FILE)
    } else {
        model
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(SIGNATURE_FILE)
    }
}

/// Verifies `model` (a folder, or one file) against the bundle at `signature`. `digests` are
/// SHA-256 digests already computed (missing ones are computed here). Never fails: every problem
/// is an [`Status::Invalid`] outcome with its reason.
pub fn verify(model: &Path, signature: &Path, trust: &Trust, digests: &Digests) -> Verification {
    let mut outcome = verify_inner(model, signature, trust, digests);
    outcome.signature = Some(signature.display().to_string());
    outcome
}

fn verify_inner(model: &Path, signature: &Path, trust: &Trust, digests: &Digests) -> Verification {
    let json = match read_text(signature, MAX_BUNDLE_BYTES) {
        Ok(json) => json,
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Verification::unsigned();
        }
        Err(e) => return Verification::invalid(format!("cannot read the signature: {e}")),
    };
    let bundle = match bundle_from_json(&json) {
        Ok(bundle) => bundle,
        Err(e) => return Verification::invalid(format!("not a Sigstore bundle: {e}")),
    };
    let SignatureContent::DsseEnvelope(envelope) = &bundle.content else {
        return Verification::invalid("the bundle holds no DSSE envelope");
    };
    let statement: Statement = match serde_json::from_slice(envelope.payload.as_bytes()) {
        Ok(statement) => statement,
        Err(e) => return Verification::invalid(format!("not an in-toto statement: {e}")),
    };
    if statement.predicate_type != PREDICATE_TYPE {
        return Verification::invalid(format!(
            "unsupported predicate type {:?} (expected {PREDICATE_TYPE})",
            statement.predicate_type
        ));
    }
    let manifest = match Manifest::from_statement(&statement) {
        Ok(manifest) => manifest,
        Err(reason) => return Verification::invalid(reason),
    };
    let mut outcome = Verification::bare(Status::Invalid, None);
    outcome.root_digest = Some(format!("sha256:{}", manifest.root_hex));
    outcome.files = manifest.resources.len();

    // 2. The signature over the statement.
    let root = match Sha256Hash::from_hex(&manifest.root_hex) {
        Ok(root) => root,
        Err(e) => {
            outcome.reason = Some(format!("bad root digest: {e}"));
            return outcome;
        }
    };
    let keyed = matches!(
        bundle.verification_material.content,
        VerificationMaterialContent::PublicKey(_)
    );
    if keyed {
        outcome.method = Some("key".into());
        let Some(key) = &trust.key else {
            outcome.reason =
                Some("signed with a public key; pass --key to verify it (unverified)".into());
            outcome.unchecked = true;
            return outcome;
        };
        let checked = if unlogged(&bundle) {
            // model-signing's key signer neither logs nor timestamps: the envelope's signature
            // over its PAE is all there is to check (sigstore-verify requires a log entry).
            envelope_signed_by(envelope, key)
        } else {
            let policy = PublicKeyVerificationPolicy::new(key.clone());
            trust
                .verifier
                .verify(root, &bundle, &policy)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        if let Err(e) = checked {
            outcome.reason = Some(format!("signature does not verify with the key: {e}"));
            return outcome;
        }
        outcome.identity.clone_from(&trust.key_id);
    } else if matches!(
        bundle.verification_material.content,
        VerificationMaterialContent::X509CertificateChain { .. }
    ) {
        outcome.method = Some("certificate".into());
        let Some(verifier) = &trust.chain_verifier else {
            outcome.reason = Some(
                "signed with a certificate chain; pass --certificate-chain to verify it (unverified)"
                    .into(),
            );
            outcome.unchecked = true;
            return outcome;
        };
        if unlogged(&bundle) {
            // model-signing's certificate signer neither logs nor timestamps: the chain is
            // checked at the leaf's issuance, then the envelope's signature with the leaf's key.
            match chain_signed(&bundle, envelope, &trust.chain_anchors) {
                Ok(info) => {
                    outcome.identity = info.identity.map(|id| id.as_str().to_string());
                    outcome.issuer = info.issuer;
                    if let Some((identity, issuer)) = &trust.identity
                        && (outcome.identity.as_deref() != Some(identity.as_str())
                            || outcome.issuer.as_deref() != Some(issuer.as_str()))
                    {
                        outcome.reason = Some(format!(
                            "signed by {} ({}), not the required {identity} ({issuer})",
                            outcome.identity.as_deref().unwrap_or("no identity"),
                            outcome.issuer.as_deref().unwrap_or("no issuer"),
                        ));
                        return outcome;
                    }
                }
                Err(e) => {
                    outcome.reason = Some(format!("signature does not verify with the chain: {e}"));
                    return outcome;
                }
            }
        } else {
            // A private PKI has no transparency log or certificate transparency to check.
            let mut policy = VerificationPolicy::any_identity().skip_sct();
            if let Some((identity, issuer)) = &trust.identity {
                policy = policy
                    .require_identity(identity.as_str())
                    .require_issuer(issuer.as_str());
            }
            match verifier.verify(root, &bundle, &policy) {
                Ok(result) => {
                    outcome.identity = result.identity().map(|id| id.as_str().to_string());
                    outcome.issuer = result.issuer().map(str::to_string);
                }
                Err(e) => {
                    outcome.reason = Some(format!("signature does not verify with the chain: {e}"));
                    return outcome;
                }
            }
        }
    } else {
        outcome.method = Some("keyless".into());
        let policy = match &trust.identity {
            Some((identity, issuer)) => VerificationPolicy::new(identity.as_str(), issuer.as_str()),
            None => VerificationPolicy::any_identity(),
        };
        match trust.verifier.verify(root, &bundle, &policy) {
            Ok(result) => {
                outcome.identity = result.identity().map(|id| id.as_str().to_string());
                outcome.issuer = result.issuer().map(str::to_string);
            }
            Err(e) => {
                outcome.reason = Some(format!("signature does not verify: {e}"));
                return outcome;
            }
        }
    }

    // 3. The files.
    match compare(model, signature, &manifest, &trust.ignore_paths, digests) {
        Ok(mismatches) => {
            outcome.mismatches = mismatches;
        }
        Err(reason) => {
            outcome.reason = Some(reason);
            return outcome;
        }
    }
    if outcome.mismatches.is_empty() {
        outcome.status = Status::Verified;
    } else {
        let named: Vec<String> = outcome
            .mismatches
            .iter()
            .map(|m| format!("{} {}", m.path, m.difference.as_str()))
            .collect();
        outcome.reason = Some(format!(
            "files differ from what was signed: {}",
            named.join(", ")
        ));
    }
    outcome
}

#[derive(Debug, Deserialize)]
struct Statement {
    #[serde(rename = "predicateType", default)]
    predicate_type: String,
    #[serde(default)]
    subject: Vec<Subject>,
    #[serde(default)]
    predicate: Predicate,
}

#[derive(Debug, Deserialize)]
struct Subject {
    #[serde(default)]
    digest: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct Predicate {
    #[serde(default)]
    resources: Vec<Resource>,
    #[serde(default)]
    serialization: Serialization,
}

#[derive(Debug, Deserialize)]
struct Resource {
    name: String,
    algorithm: String,
    digest: String,
}

#[derive(Debug, Default, Deserialize)]
struct Serialization {
    #[serde(default)]
    method: String,
    #[serde(default)]
    allow_symlinks: bool,
    #[serde(default)]
    ignore_paths: Vec<String>,
}

struct Manifest {
    root_hex: String,
    /// name → lowercase hex SHA-256.
    resources: BTreeMap<String, String>,
    ignore_paths: Vec<String>,
    allow_symlinks: bool,
}

impl Manifest {
    fn from_statement(statement: &Statement) -> Result<Self, String> {
        let [subject] = statement.subject.as_slice() else {
            return Err(format!(
                "expected one subject (the root digest), found {}",
                statement.subject.len()
            ));
        };
        let Some(root_hex) = subject.digest.get("sha256") else {
            return Err("the subject has no sha256 root digest".into());
        };
        let method = statement.predicate.serialization.method.as_str();
        if method != "files" {
            return Err(format!(
                "unsupported serialization method {method:?} (only \"files\" is checked)"
            ));
        }
        let mut hasher = Sha256::new();
        let mut resources = BTreeMap::new();
        for resource in &statement.predicate.resources {
            if resource.algorithm != "sha256" {
                return Err(format!(
                    "unsupported hash algorithm {:?} for {}",
                    resource.algorithm, resource.name
                ));
            }
            let bytes = hex::decode(&resource.digest)
                .map_err(|e| format!("bad digest for {}: {e}", resource.name))?;
            hasher.update(&bytes);
            if resources
                .insert(resource.name.clone(), resource.digest.to_ascii_lowercase())
                .is_some()
            {
                return Err(format!("{} is listed twice", resource.name));
            }
        }
        let computed = hex::encode(hasher.finalize());
        if !computed.eq_ignore_ascii_case(root_hex) {
            return Err(format!(
                "manifest is inconsistent: the root digest is {root_hex} but the files hash to {computed}"
            ));
        }
        Ok(Manifest {
            root_hex: root_hex.to_ascii_lowercase(),
            resources,
            ignore_paths: statement.predicate.serialization.ignore_paths.clone(),
            allow_symlinks: statement.predicate.serialization.allow_symlinks,
        })
    }

    fn ignored(&self, name: &str) -> bool {
        self.ignore_paths.iter().any(|ignored| {
            let ignored = ignored.trim_start_matches("./").trim_end_matches('/');
            name == ignored
                || name
                    .strip_prefix(ignored)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }
}

/// Compares the model's files with the manifest, both ways.
fn compare(
    model: &Path,
    signature: &Path,
    manifest: &Manifest,
    ignore_paths: &[String],
    digests: &Digests,
) -> Result<Vec<Mismatch>, String> {
    let mut present: BTreeMap<String, PathBuf> = BTreeMap::new();
    if model.is_dir() {
        let mut manifest_ignores = manifest.ignore_paths.clone();
        manifest_ignores.extend(ignore_paths.iter().cloned());
        let walk_manifest = Manifest {
            root_hex: String::new(),
            resources: BTreeMap::new(),
            ignore_paths: manifest_ignores,
            allow_symlinks: manifest.allow_symlinks,
        };
        walk(model, model, signature, &walk_manifest, &mut present)?;
    } else {
        // One file: the manifest of a single-file model names it by its file name (or `.`).
        let name = model
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let listed = if manifest.resources.contains_key(&name) {
            name
        } else if manifest.resources.len() == 1 {
            manifest.resources.keys().next().cloned().unwrap_or(name)
        } else {
            name
        };
        present.insert(listed, model.to_path_buf());
    }
    let mut mismatches = Vec::new();
    for (name, signed) in &manifest.resources {
        match present.get(name) {
            None => mismatches.push(Mismatch {
                path: name.clone(),
                difference: Difference::Missing,
            }),
            Some(path) => {
                let actual = match digests.get(path) {
                    Some(digest) => digest.to_ascii_lowercase(),
                    None => sha256_file(path)?,
                };
                if &actual != signed {
                    mismatches.push(Mismatch {
                        path: name.clone(),
                        difference: Difference::Changed,
                    });
                }
            }
        }
    }
    let listed: BTreeSet<&String> = manifest.resources.keys().collect();
    for name in present.keys() {
        if !listed.contains(name) {
            mismatches.push(Mismatch {
                path: name.clone(),
                difference: Difference::Extra,
            });
        }
    }
    mismatches.sort();
    Ok(mismatches)
}

fn walk(
    root: &Path,
    dir: &Path,
    signature: &Path,
    manifest: &Manifest,
    present: &mut BTreeMap<String, PathBuf>,
) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut entries: Vec<_> = entries
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(relative) = path.strip_prefix(root) else {
            continue;
        };
        let name = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if manifest.ignored(&name) || path == signature {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).map_err(|e| format!("{name}: {e}"))?;
        let meta = if meta.file_type().is_symlink() {
            if !manifest.allow_symlinks {
                return Err(format!(
                    "{name} is a symbolic link and the signature does not allow them"
                ));
            }
            std::fs::metadata(&path).map_err(|e| format!("{name}: {e}"))?
        } else {
            meta
        };
        if meta.is_dir() {
            walk(root, &path, signature, manifest, present)?;
        } else if meta.is_file() {
            present.insert(name, path);
        }
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn read_text(path: &Path, limit: u64) -> Result<String, Error> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    file.take(limit).read_to_string(&mut text).map_err(io)?;
    Ok(text)
}

#[cfg(test)]
mod tests;
