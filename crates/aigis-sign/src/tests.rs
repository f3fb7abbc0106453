use super::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/signing")
}

fn trust(options: TrustOptions) -> Trust {
    match Trust::new(&options) {
        Ok(trust) => trust,
        Err(e) => panic!("trust: {e}"),
    }
}

fn key_trust() -> Trust {
    trust(TrustOptions {
        key: Some(fixtures().join("keys/THROWAWAY-TEST-signing-key.pub.pem")),
        ..TrustOptions::default()
    })
}

fn chain_trust() -> Trust {
    trust(TrustOptions {
        certificate_chain: Some(fixtures().join("keys/THROWAWAY-TEST-root-ca.pem")),
        ..TrustOptions::default()
    })
}

fn upstream_key_trust() -> Trust {
    trust(TrustOptions {
        key: Some(fixtures().join("upstream/keys/signing-key-pub.pem")),
        ignore_paths: vec!["ignore-me".into()],
        ..TrustOptions::default()
    })
}

fn upstream_chain_trust() -> Trust {
    trust(TrustOptions {
        certificate_chain: Some(fixtures().join("upstream/keys/ca-cert.pem")),
        ignore_paths: vec!["ignore-me".into()],
        ..TrustOptions::default()
    })
}

fn upstream_keyless_trust() -> Trust {
    trust(TrustOptions {
        identity: Some("stefanb@us.ibm.com".into()),
        issuer: Some("https://sigstore.verify.ibm.com/oauth2".into()),
        ignore_paths: vec!["ignore-me".into()],
        ..TrustOptions::default()
    })
}

fn check(model: &Path, trust: &Trust) -> Verification {
    verify(model, &default_signature(model), trust, &Digests::new())
}

fn assert_verified(outcome: &Verification, what: &str) {
    assert_eq!(outcome.status, Status::Verified, "{what}: {outcome:?}");
    assert!(outcome.mismatches.is_empty(), "{what}: {outcome:?}");
    assert!(outcome.files > 0, "{what}: {outcome:?}");
}

#[test]
fn key_signed_model_verifies_with_its_key() {
    let outcome = check(&fixtures().join("key"), &key_trust());
    assert_verified(&outcome, "key");
    assert_eq!(outcome.method.as_deref(), Some("key"));
    assert!(
        outcome
            .identity
            .as_deref()
            .is_some_and(|id| id.starts_with("key:sha256:"))
    );
    // config.json, model.safetensors, tokenizer/vocab.txt; model.sig itself is not listed.
    assert_eq!(outcome.files, 3);
}

#[test]
fn certificate_signed_model_verifies_with_its_ca() {
    let outcome = check(&fixtures().join("certificate"), &chain_trust());
    assert_verified(&outcome, "certificate");
    assert_eq!(outcome.method.as_deref(), Some("certificate"));
    assert_eq!(
        outcome.identity.as_deref(),
        Some("model-signer@example.test")
    );
}

#[test]
fn wrong_key_is_invalid() {
    let wrong = trust(TrustOptions {
        key: Some(fixtures().join("keys/THROWAWAY-TEST-other-key.pub.pem")),
        ..TrustOptions::default()
    });
    let outcome = check(&fixtures().join("key"), &wrong);
    assert_eq!(outcome.status, Status::Invalid, "{outcome:?}");
    assert!(
        outcome
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("does not verify")),
        "{outcome:?}"
    );
    // The upstream key does not verify our model either, nor ours theirs.
    let outcome = check(
        &fixtures().join("upstream/v1.1.0-elliptic-key"),
        &key_trust(),
    );
    assert_eq!(outcome.status, Status::Invalid, "{outcome:?}");
}

#[test]
fn wrong_ca_is_invalid() {
    let outcome = check(&fixtures().join("certificate"), &upstream_chain_trust());
    assert_eq!(outcome.status, Status::Invalid, "{outcome:?}");
}

#[test]
fn key_signed_model_without_a_key_is_not_verified() {
    let outcome = check(&fixtures().join("key"), &trust(TrustOptions::default()));
    assert_eq!(outcome.status, Status::Invalid, "{outcome:?}");
    assert!(
        outcome
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("--key")),
        "{outcome:?}"
    );
}

#[test]
fn no_signature_is_unsigned() {
    let outcome = check(&fixtures().join("unsigned"), &key_trust());
    assert_eq!(outcome.status, Status::Unsigned, "{outcome:?}");
}

#[test]
fn upstream_key_bundles_verify() {
    for model in ["v1.0.1-elliptic-key", "v1.1.0-elliptic-key"] {
        let outcome = check(
            &fixtures().join("upstream").join(model),
            &upstream_key_trust(),
        );
        assert_verified(&outcome, model);
        assert_eq!(outcome.files, 2, "{model}");
    }
    // v1.0.0 signed one file (the manifest names it `.`).
    let file = fixtures().join("upstream/v1.0.0-elliptic-key/signme-1");
    let outcome = check(&file, &upstream_key_trust());
    assert_verified(&outcome, "v1.0.0-elliptic-key");
}

#[test]
fn upstream_certificate_bundles_verify() {
    for model in ["v1.0.1-certificate", "v1.1.0-certificate"] {
        let outcome = check(
            &fixtures().join("upstream").join(model),
            &upstream_chain_trust(),
        );
        assert_verified(&outcome, model);
    }
}

#[test]
fn upstream_sigstore_bundles_verify_offline_against_the_bundled_root() {
    for model in ["v1.0.0-sigstore", "v1.0.1-sigstore", "v1.1.0-sigstore"] {
        let outcome = check(
            &fixtures().join("upstream").join(model),
            &upstream_keyless_trust(),
        );
        assert_verified(&outcome, model);
        assert_eq!(outcome.method.as_deref(), Some("keyless"));
        assert_eq!(outcome.identity.as_deref(), Some("stefanb@us.ibm.com"));
        assert_eq!(
            outcome.issuer.as_deref(),
            Some("https://sigstore.verify.ibm.com/oauth2")
        );
    }
}

#[test]
fn keyless_bundle_with_another_identity_is_invalid() {
    let other = trust(TrustOptions {
        identity: Some("someone@example.com".into()),
        issuer: Some("https://sigstore.verify.ibm.com/oauth2".into()),
        ignore_paths: vec!["ignore-me".into()],
        ..TrustOptions::default()
    });
    let outcome = check(&fixtures().join("upstream/v1.1.0-sigstore"), &other);
    assert_eq!(outcome.status, Status::Invalid, "{outcome:?}");
}

/// Every tampered copy is caught, naming exactly the file that differs.
#[test]
fn every_tampered_copy_names_the_file() {
    let cases: Vec<(&str, Trust, &str)> = vec![
        ("key", key_trust(), "model.safetensors"),
        ("certificate", chain_trust(), "model.safetensors"),
        ("v1.0.1-elliptic-key", upstream_key_trust(), "signme-1"),
        ("v1.1.0-elliptic-key", upstream_key_trust(), "signme-1"),
        ("v1.0.1-certificate", upstream_chain_trust(), "signme-1"),
        ("v1.1.0-certificate", upstream_chain_trust(), "signme-1"),
        ("v1.0.0-sigstore", upstream_keyless_trust(), "signme-1"),
        ("v1.0.1-sigstore", upstream_keyless_trust(), "signme-1"),
        ("v1.1.0-sigstore", upstream_keyless_trust(), "signme-1"),
    ];
    for (name, trust, file) in &cases {
        let tampered = fixtures().join("tampered");
        for (suffix, expected) in [
            (
                "byte-changed",
                vec![(file.to_string(), Difference::Changed)],
            ),
            (
                "file-added",
                vec![("added.txt".to_string(), Difference::Extra)],
            ),
            (
                "file-removed",
                vec![(file.to_string(), Difference::Missing)],
            ),
        ] {
            let model = tampered.join(format!("{name}-{suffix}"));
            let outcome = check(&model, trust);
            assert_eq!(
                outcome.status,
                Status::Invalid,
                "{name}-{suffix}: {outcome:?}"
            );
            let got: Vec<(String, Difference)> = outcome
                .mismatches
                .iter()
                .map(|m| (m.path.clone(), m.difference))
                .collect();
            assert_eq!(got, expected, "{name}-{suffix}: {outcome:?}");
            assert!(
                outcome
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.contains(expected[0].0.as_str())),
                "{name}-{suffix}: {outcome:?}"
            );
        }
    }
}

/// Digests the caller supplies are used instead of reading the file again.
#[test]
fn supplied_digests_are_used() {
    let model = fixtures().join("key");
    let mut digests = Digests::new();
    digests.insert(model.join("config.json"), "00".repeat(32));
    let outcome = verify(&model, &default_signature(&model), &key_trust(), &digests);
    assert_eq!(
        outcome.mismatches,
        vec![Mismatch {
            path: "config.json".into(),
            difference: Difference::Changed
        }]
    );
}

#[test]
fn unsupported_hash_algorithm_is_invalid_never_verified() {
    let statement: Statement = match serde_json::from_str(
        r#"{"predicateType":"https://model_signing/signature/v1.0","subject":[{"digest":{"sha256":"00"}}],
           "predicate":{"serialization":{"method":"files"},"resources":[{"name":"a","algorithm":"blake3","digest":"00"}]}}"#,
    ) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let err = Manifest::from_statement(&statement).err();
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("unsupported hash algorithm")),
        "{err:?}"
    );
}

#[test]
fn forged_manifest_is_invalid() {
    // The key model's signature with one resource digest edited: the root digest no longer matches.
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => panic!("{e}"),
    };
    let source = fixtures().join("key/model.sig");
    let text = std::fs::read_to_string(&source).unwrap_or_default();
    let mut bundle: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let payload = bundle["dsseEnvelope"]["payload"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let decoded = base64_decode(&payload);
    let mut statement: serde_json::Value = serde_json::from_slice(&decoded).unwrap_or_default();
    statement["predicate"]["resources"][0]["digest"] = serde_json::json!("11".repeat(32));
    bundle["dsseEnvelope"]["payload"] = serde_json::json!(base64_encode(
        &serde_json::to_vec(&statement).unwrap_or_default()
    ));
    let signature = dir.path().join("model.sig");
    std::fs::write(&signature, bundle.to_string()).unwrap_or_default();
    let outcome = verify(
        &fixtures().join("key"),
        &signature,
        &key_trust(),
        &Digests::new(),
    );
    assert_eq!(outcome.status, Status::Invalid, "{outcome:?}");
    assert!(
        outcome
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("inconsistent")),
        "{outcome:?}"
    );
}

fn base64_decode(text: &str) -> Vec<u8> {
    let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        let Some(v) = table.iter().position(|t| *t == c) else {
            continue;
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn base64_encode(data: &[u8]) -> String {
    let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(table[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
