//! Signed models end to end: `aigis verify` on the signing fixtures (ours and the upstream
//! conformance bundles, with every tampered copy), offline, and the signature inside `scan` and
//! `bom` (the model's `signature`, the findings, `require_signature`).

use crate::support::{aigis, aigis_command, repo_root, scan_json, temp_dir};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn signing() -> PathBuf {
    repo_root().join("fixtures/signing")
}

fn s(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// `aigis verify --format json` with `args`: (exit code, verification).
fn verify(model: &Path, args: &[&str]) -> (i32, Value) {
    let mut all = vec![
        "verify".to_string(),
        s(model),
        "--format".into(),
        "json".into(),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let out = aigis(&all);
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}; stderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), doc)
}

/// The trust options that verify each signed model.
fn cases() -> Vec<(&'static str, PathBuf, Vec<String>)> {
    let keys = signing().join("keys");
    let up = signing().join("upstream/keys");
    let ours_key = vec![
        "--key".to_string(),
        s(&keys.join("THROWAWAY-TEST-signing-key.pub.pem")),
    ];
    let ours_chain = vec![
        "--certificate-chain".to_string(),
        s(&keys.join("THROWAWAY-TEST-root-ca.pem")),
    ];
    let up_key = vec![
        "--key".to_string(),
        s(&up.join("signing-key-pub.pem")),
        "--ignore-paths".into(),
        "ignore-me".into(),
    ];
    let up_chain = vec![
        "--certificate-chain".to_string(),
        s(&up.join("ca-cert.pem")),
        "--ignore-paths".into(),
        "ignore-me".into(),
    ];
    let up_keyless = vec![
        "--identity".to_string(),
        "stefanb@us.ibm.com".into(),
        "--issuer".into(),
        "https://sigstore.verify.ibm.com/oauth2".into(),
        "--ignore-paths".into(),
        "ignore-me".into(),
    ];
    vec![
        ("key", signing().join("key"), ours_key),
        ("certificate", signing().join("certificate"), ours_chain),
        ("v1.0.1-elliptic-key", PathBuf::new(), up_key.clone()),
        ("v1.1.0-elliptic-key", PathBuf::new(), up_key),
        ("v1.0.1-certificate", PathBuf::new(), up_chain.clone()),
        ("v1.1.0-certificate", PathBuf::new(), up_chain),
        ("v1.0.0-sigstore", PathBuf::new(), up_keyless.clone()),
        ("v1.0.1-sigstore", PathBuf::new(), up_keyless.clone()),
        ("v1.1.0-sigstore", PathBuf::new(), up_keyless),
    ]
    .into_iter()
    .map(|(name, path, args)| {
        let path = if path.as_os_str().is_empty() {
            signing().join("upstream").join(name)
        } else {
            path
        };
        (name, path, args)
    })
    .collect()
}

/// Every conformance bundle verifies; every tampered copy fails naming exactly its file.
pub(crate) fn every_signed_model_verifies_and_every_tampered_copy_names_its_file() {
    for (name, model, args) in cases() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, doc) = verify(&model, &args);
        assert_eq!(code, 0, "{name}: {doc}");
        assert_eq!(doc["status"], "verified", "{name}: {doc}");
        let file = if name.starts_with("v1") {
            "signme-1"
        } else {
            "model.safetensors"
        };
        for (suffix, path, difference) in [
            ("byte-changed", file, "changed"),
            ("file-added", "added.txt", "extra"),
            ("file-removed", file, "missing"),
        ] {
            let tampered = signing().join(format!("tampered/{name}-{suffix}"));
            let (code, doc) = verify(&tampered, &args);
            assert_eq!(code, 1, "{name}-{suffix}: {doc}");
            assert_eq!(doc["status"], "invalid", "{name}-{suffix}: {doc}");
            assert_eq!(
                doc["mismatches"],
                serde_json::json!([{ "path": path, "difference": difference }]),
                "{name}-{suffix}: {doc}"
            );
            // The text report names the file too.
            let mut text_args = vec!["verify".to_string(), s(&tampered)];
            text_args.extend(args.iter().map(|a| a.to_string()));
            let text_args: Vec<&str> = text_args.iter().map(String::as_str).collect();
            let out = aigis(&text_args);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains(&format!("{difference}: {path}")),
                "{name}-{suffix}: {text}"
            );
        }
    }
    // v1.0.0 signed one file.
    let (code, doc) = verify(
        &signing().join("upstream/v1.0.0-elliptic-key/signme-1"),
        &[
            "--key",
            &s(&signing().join("upstream/keys/signing-key-pub.pem")),
        ],
    );
    assert_eq!(
        (code, &doc["status"]),
        (0, &Value::from("verified")),
        "{doc}"
    );
}

/// The wrong key, the wrong signer and a missing key are never a pass.
pub(crate) fn a_wrong_key_or_signer_is_invalid() {
    let keys = signing().join("keys");
    let (code, doc) = verify(
        &signing().join("key"),
        &["--key", &s(&keys.join("THROWAWAY-TEST-other-key.pub.pem"))],
    );
    assert_eq!(
        (code, &doc["status"]),
        (1, &Value::from("invalid")),
        "{doc}"
    );
    let (code, doc) = verify(&signing().join("key"), &[]);
    assert_eq!(
        (code, &doc["status"]),
        (1, &Value::from("invalid")),
        "{doc}"
    );
    let (code, doc) = verify(
        &signing().join("upstream/v1.1.0-sigstore"),
        &[
            "--identity",
            "someone-else@example.com",
            "--issuer",
            "https://sigstore.verify.ibm.com/oauth2",
        ],
    );
    assert_eq!(
        (code, &doc["status"]),
        (1, &Value::from("invalid")),
        "{doc}"
    );
    let (code, doc) = verify(&signing().join("unsigned"), &[]);
    assert_eq!(
        (code, &doc["status"]),
        (1, &Value::from("unsigned")),
        "{doc}"
    );
}

/// `aigis verify` needs no network: keyless bundles verify inside a network namespace that has
/// only a loopback that is down.
pub(crate) fn verification_is_fully_offline() {
    let unshare = aigis_testkit::Tool::UnshareNet.path();
    let cmd = aigis_command();
    let model = signing().join("upstream/v1.1.0-sigstore");
    let out = std::process::Command::new(unshare)
        .arg("-rn")
        .arg(cmd.get_program())
        .args([
            "verify",
            &s(&model),
            "--identity",
            "stefanb@us.ibm.com",
            "--issuer",
            "https://sigstore.verify.ibm.com/oauth2",
            "--format",
            "json",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    assert_eq!(out.status.code(), Some(0), "{doc}");
    assert_eq!(doc["status"], "verified", "{doc}");
    assert_eq!(doc["identity"], "stefanb@us.ibm.com", "{doc}");
    // And the network really is gone in there.
    let probe = std::process::Command::new(aigis_testkit::Tool::UnshareNet.path())
        .args(["-rn", "cat", "/proc/net/dev"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let devices = String::from_utf8_lossy(&probe.stdout);
    assert!(
        devices
            .lines()
            .skip(2)
            .all(|l| l.trim_start().starts_with("lo:")),
        "{devices}"
    );
}

fn model_of<'a>(doc: &'a Value, path: &Path) -> &'a Value {
    let models = doc["models"].as_array().cloned().unwrap_or_default();
    let index = models
        .iter()
        .position(|m| m["path"] == s(path))
        .unwrap_or_else(|| panic!("no model at {}: {doc}", path.display()));
    &doc["models"][index]
}

fn rules(doc: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for result in doc["results"].as_array().into_iter().flatten() {
        for f in result["findings"].as_array().into_iter().flatten() {
            out.push((
                f["rule_id"].as_str().unwrap_or("").to_string(),
                f["severity"].as_str().unwrap_or("").to_string(),
                f["message"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    out
}

/// `scan` verifies a signed folder on its own digests: verified in the JSON report's model and in
/// the CycloneDX and SPDX BOMs; a tampered copy is a critical SIGNATURE-MISMATCH naming the file.
pub(crate) fn scan_and_bom_carry_the_signature() {
    let key = s(&signing().join("keys/THROWAWAY-TEST-signing-key.pub.pem"));
    let model = signing().join("key");
    let (code, doc) = scan_json(&[&model], &["--no-policy", "--no-cache", "--key", &key]);
    assert_eq!(code, 0, "{doc}");
    let sig = &model_of(&doc, &model)["signature"];
    assert_eq!(sig["status"], "verified", "{doc}");
    assert_eq!(sig["method"], "key", "{doc}");
    assert!(
        rules(&doc)
            .iter()
            .all(|(r, _, _)| !r.starts_with("SIGNATURE")),
        "{doc}"
    );

    let tampered = signing().join("tampered/key-byte-changed");
    let (code, doc) = scan_json(&[&tampered], &["--no-policy", "--no-cache", "--key", &key]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(model_of(&doc, &tampered)["signature"]["status"], "invalid");
    let found = rules(&doc);
    assert!(
        found.iter().any(|(r, sev, m)| r == "SIGNATURE-MISMATCH"
            && sev == "critical"
            && m.contains("model.safetensors")),
        "{found:?}"
    );
    // The changed file carries it.
    let result = doc["results"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["path"] == s(&tampered.join("model.safetensors")))
        .unwrap_or_else(|| panic!("{doc}"));
    assert!(
        result["findings"]
            .to_string()
            .contains("SIGNATURE-MISMATCH"),
        "{result}"
    );

    // Without the key, a key-signed model cannot be verified: SIGNATURE-INVALID, medium (not
    // proven bad); with the wrong key it is critical.
    let (code, doc) = scan_json(&[&model], &["--no-policy", "--no-cache"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(model_of(&doc, &model)["signature"]["status"], "invalid");
    assert!(
        rules(&doc)
            .iter()
            .any(|(r, sev, _)| r == "SIGNATURE-INVALID" && sev == "medium"),
        "{doc}"
    );
    let other = s(&signing().join("keys/THROWAWAY-TEST-other-key.pub.pem"));
    let (code, doc) = scan_json(&[&model], &["--no-policy", "--no-cache", "--key", &other]);
    assert_eq!(code, 1, "{doc}");
    assert!(
        rules(&doc)
            .iter()
            .any(|(r, sev, _)| r == "SIGNATURE-INVALID" && sev == "critical"),
        "{doc}"
    );

    // CycloneDX: properties; SPDX: verifiedUsing with the root digest.
    let out = aigis(&["bom", &s(&model), "--no-policy", "--key", &key]);
    let bom: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let component = bom["components"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "machine-learning-model")
        .unwrap_or_else(|| panic!("{bom}"));
    let props = component["properties"].to_string();
    assert!(
        props.contains(r#"{"name":"aigis:signature:status","value":"verified"}"#),
        "{props}"
    );
    assert!(props.contains("aigis:signature:root_digest"), "{props}");
    let out = aigis(&[
        "bom",
        &s(&model),
        "--no-policy",
        "--format",
        "spdx",
        "--key",
        &key,
    ]);
    let spdx: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let package = spdx["@graph"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["type"] == "ai_AIPackage")
        .unwrap_or_else(|| panic!("{spdx}"));
    let verified = &package["verifiedUsing"][0];
    assert_eq!(verified["type"], "Hash", "{package}");
    assert!(
        verified["comment"]
            .as_str()
            .is_some_and(|c| c.contains("signature verified")),
        "{package}"
    );
}

/// `require_signature` makes an unsigned model under its globs a high MODEL-UNSIGNED that fails
/// the run; elsewhere nothing is said.
pub(crate) fn require_signature_policy_fails_an_unsigned_model() {
    let dir = temp_dir();
    let prod = dir.path().join("models/prod/bert");
    let dev = dir.path().join("models/dev/bert");
    for target in [&prod, &dev] {
        std::fs::create_dir_all(target.join("tokenizer")).unwrap_or_else(|e| panic!("{e}"));
        for file in ["config.json", "model.safetensors", "tokenizer/vocab.txt"] {
            std::fs::copy(signing().join("unsigned").join(file), target.join(file))
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let policy = dir.path().join("aigis.toml");
    std::fs::write(&policy, "require_signature = [\"models/prod/**\"]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let out = aigis_command()
        .current_dir(dir.path())
        .args(["scan", "--format", "json", "--no-cache", "models"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1), "{doc}");
    let found = rules(&doc);
    let unsigned: Vec<_> = found
        .iter()
        .filter(|(r, _, _)| r == "MODEL-UNSIGNED")
        .collect();
    assert_eq!(unsigned.len(), 1, "{found:?}");
    assert_eq!(unsigned[0].1, "high", "{found:?}");
    assert!(unsigned[0].2.contains("model `bert`"), "{found:?}");
    // On the prod model's file, not the dev one's.
    let on: Vec<&str> = doc["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["findings"].to_string().contains("MODEL-UNSIGNED"))
        .filter_map(|r| r["path"].as_str())
        .collect();
    assert!(
        on.len() == 1 && on[0].contains("models/prod/bert"),
        "{on:?}"
    );
    let prod_model = model_of(&doc, Path::new("models/prod/bert"));
    assert_eq!(prod_model["signature"]["status"], "unsigned", "{doc}");
    assert!(
        model_of(&doc, Path::new("models/dev/bert"))["signature"].is_null(),
        "{doc}"
    );
    // A policy with a bad glob is refused with its line.
    std::fs::write(&policy, "require_signature = [\"models/[prod\"]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let out = aigis_command()
        .current_dir(dir.path())
        .args(["scan", "--format", "json", "models"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("require_signature"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
