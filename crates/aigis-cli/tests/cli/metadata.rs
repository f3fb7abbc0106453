//! Secrets and network addresses in model metadata, and license facts and policy: the fixtures
//! of `scripts/fixtures/make_metadata_fixtures.py` (`fixtures/metadata/`, whose `secrets.json`
//! lists each raw secret with its redacted form).

use crate::support::{aigis, aigis_command, finding_text, repo_root, scan_json, temp_dir};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    repo_root().join("fixtures/metadata")
}

fn secrets() -> Vec<Value> {
    let path = dir().join("secrets.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

fn result<'a>(doc: &'a Value, file: &str) -> &'a Value {
    let want = repo_root().join("fixtures").join(file);
    doc["results"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["path"].as_str().map(PathBuf::from) == Some(want.clone()))
        .unwrap_or_else(|| panic!("no result for {file}"))
}

fn stdout_of(args: &[&str]) -> String {
    let out = aigis_command()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every secret is found with its rule, at medium, with the redacted form as evidence; and no
/// output of any report format, of `discover` or of either BOM carries a raw secret.
pub(crate) fn secrets_are_found_and_redacted_in_every_format() {
    let secrets = secrets();
    assert!(secrets.len() >= 5, "{secrets:?}");
    let dir = dir();
    let (_, doc) = scan_json(&[&dir], &["--no-policy", "--no-cache"]);
    for s in &secrets {
        let file = s["file"].as_str().unwrap_or("");
        let r = result(&doc, file);
        let redacted = s["redacted"].as_str().unwrap_or("");
        let kind = s["kind"].as_str().unwrap_or("");
        let found = r["findings"].as_array().into_iter().flatten().any(|f| {
            f["rule_id"] == "METADATA-SECRET"
                && f["severity"] == "medium"
                && f["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(redacted) && m.contains(kind))
                && f["indicators"][0] == redacted
        });
        assert!(
            found,
            "{file}: no METADATA-SECRET with {redacted}: {}",
            finding_text(r)
        );
    }
    // The IP address of the pickle's upload URL is a low indicator.
    let pickle = result(&doc, "metadata/pickle_github_token.pkl");
    assert!(
        pickle["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f["rule_id"] == "METADATA-NETWORK-INDICATOR"
                && f["severity"] == "low"
                && f["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("203.0.113.7"))),
        "{}",
        finding_text(pickle)
    );
    // Nothing above medium from metadata alone.
    for r in doc["results"].as_array().into_iter().flatten() {
        for f in r["findings"].as_array().into_iter().flatten() {
            if f["rule_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("METADATA-"))
            {
                assert!(
                    matches!(f["severity"].as_str(), Some("medium" | "low" | "info")),
                    "{f}"
                );
            }
        }
    }
    let target = dir.to_string_lossy().into_owned();
    let tmp = temp_dir();
    let mut outputs = Vec::new();
    for format in [
        "terminal",
        "json",
        "sarif",
        "html",
        "junit",
        "markdown",
        "cyclonedx",
    ] {
        outputs.push((
            format!("scan --format {format}"),
            stdout_of(&[
                "scan",
                "--no-policy",
                "--no-cache",
                "--format",
                format,
                &target,
            ]),
        ));
    }
    outputs.push((
        "discover --format json".into(),
        stdout_of(&["discover", "--no-policy", "--format", "json", &target]),
    ));
    for format in ["cyclonedx", "spdx"] {
        let out = tmp.path().join(format!("bom.{format}.json"));
        let run = aigis(&[
            "bom",
            "--no-policy",
            "--format",
            format,
            "--output",
            &out.to_string_lossy(),
            &target,
        ]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        outputs.push((
            format!("bom --format {format}"),
            std::fs::read_to_string(&out).unwrap_or_default(),
        ));
    }
    for (what, text) in &outputs {
        assert!(text.len() > 100, "{what}: {text}");
        for s in &secrets {
            let raw = s["raw"].as_str().unwrap_or("-");
            assert!(!text.contains(raw), "{what} carries the raw secret {raw}");
            // Not even the random middle of it.
            let middle = &raw[raw.len() / 3..raw.len() * 2 / 3];
            assert!(!text.contains(middle), "{what} carries part of {raw}");
        }
    }
}

/// Hashes, base64 blobs, `sk-` in prose, documented example keys, placeholders, hub and paper
/// URLs and version numbers are not reported, in any format's metadata.
pub(crate) fn look_alikes_are_silent() {
    let (_, doc) = scan_json(&[&dir()], &["--no-policy", "--no-cache"]);
    for file in [
        "metadata/lookalikes.safetensors",
        "metadata/lookalikes.gguf",
        "metadata/lookalikes.pkl",
        "metadata/lookalikes.onnx",
        "metadata/license_card_nc/model.safetensors",
        "metadata/gguf_hf_token.gguf",
    ] {
        let r = result(&doc, file);
        let text = finding_text(r);
        assert!(
            !text.contains("METADATA-NETWORK-INDICATOR"),
            "{file}: {text}"
        );
        if file.contains("lookalikes") || file.contains("license") {
            assert!(!text.contains("METADATA-SECRET"), "{file}: {text}");
        }
    }
}

fn model<'a>(doc: &'a Value, folder: &str) -> &'a Value {
    doc["models"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["path"].as_str().is_some_and(|p| p.ends_with(folder)))
        .unwrap_or_else(|| panic!("no model {folder}: {doc}"))
}

/// The license a card or a config declares is an SPDX expression in the models JSON and in both
/// BOMs.
pub(crate) fn licenses_are_in_the_models_json_and_the_boms() {
    let target = dir().to_string_lossy().into_owned();
    let inv: Value = serde_json::from_str(&stdout_of(&[
        "discover",
        "--no-policy",
        "--format",
        "json",
        &target,
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(model(&inv, "license_card_nc")["license"], "CC-BY-NC-4.0");
    assert_eq!(
        model(&inv, "license_config_apache")["license"],
        "Apache-2.0"
    );
    assert_eq!(
        model(&inv, "safetensors_aws_key.safetensors")["license"],
        "MIT"
    );
    assert_eq!(model(&inv, "gguf_hf_token.gguf")["license"], "Apache-2.0");

    let tmp = temp_dir();
    let cdx = tmp.path().join("bom.cdx.json");
    let run = aigis(&[
        "bom",
        "--no-policy",
        "--format",
        "cyclonedx",
        "--output",
        &cdx.to_string_lossy(),
        &target,
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let bom: Value =
        serde_json::from_slice(&std::fs::read(&cdx).unwrap_or_default()).unwrap_or_default();
    let ids: Vec<String> = bom["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["licenses"].as_array().cloned().unwrap_or_default())
        .filter_map(|l| l["license"]["id"].as_str().map(str::to_string))
        .collect();
    assert!(ids.contains(&"CC-BY-NC-4.0".to_string()), "{ids:?}");
    assert!(ids.contains(&"Apache-2.0".to_string()), "{ids:?}");

    let spdx = tmp.path().join("bom.spdx.json");
    let run = aigis(&[
        "bom",
        "--no-policy",
        "--format",
        "spdx",
        "--output",
        &spdx.to_string_lossy(),
        &target,
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(&spdx).unwrap_or_default();
    assert!(
        text.contains("\"simplelicensing_licenseExpression\": \"CC-BY-NC-4.0\""),
        "{text}"
    );
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
    p
}

/// `deny_licenses` fails the run with LICENSE-DENIED on the model; `require_license` reports a
/// model without a license; bad license keys are errors at their line and column.
pub(crate) fn license_policy_denies_and_requires() {
    let tmp = temp_dir();
    let nc = dir().join("license_card_nc");
    let apache = dir().join("license_config_apache");
    let deny = write(
        tmp.path(),
        "deny.toml",
        "deny_licenses = [\"CC-BY-NC-*\"]\n",
    );
    let deny = deny.to_string_lossy().into_owned();
    let (code, doc) = scan_json(&[&nc, &apache], &["--no-cache", "--policy", &deny]);
    assert_eq!(code, 1, "{doc}");
    let r = result(&doc, "metadata/license_card_nc/model.safetensors");
    let text = finding_text(r);
    assert!(
        text.contains("LICENSE-DENIED") && text.contains("CC-BY-NC-4.0"),
        "{text}"
    );
    assert_eq!(r["max_severity"], "high");
    let ok = result(&doc, "metadata/license_config_apache/model.safetensors");
    assert!(
        !finding_text(ok).contains("LICENSE-"),
        "{}",
        finding_text(ok)
    );
    // Without the policy the same run passes.
    let (code, _) = scan_json(&[&nc, &apache], &["--no-cache", "--no-policy"]);
    assert_eq!(code, 0);

    // allow_licenses: anything else is denied.
    let allow = write(
        tmp.path(),
        "allow.toml",
        "allow_licenses = [\"MIT\", \"BSD-*\"]\n",
    );
    let (code, doc) = scan_json(
        &[&apache],
        &["--no-cache", "--policy", &allow.to_string_lossy()],
    );
    assert_eq!(code, 1);
    let r = result(&doc, "metadata/license_config_apache/model.safetensors");
    assert!(
        finding_text(r).contains("not in allow_licenses"),
        "{}",
        finding_text(r)
    );

    // require_license: a model that declares none.
    let bare = dir().join("config_secret");
    let require = write(
        tmp.path(),
        "require.toml",
        "require_license = true\nfail_on = \"medium\"\n",
    );
    let (_, doc) = scan_json(
        &[&bare, &apache],
        &["--no-cache", "--policy", &require.to_string_lossy()],
    );
    let r = result(&doc, "metadata/config_secret/model.safetensors");
    assert!(
        finding_text(r).contains("LICENSE-UNKNOWN"),
        "{}",
        finding_text(r)
    );
    let ok = result(&doc, "metadata/license_config_apache/model.safetensors");
    assert!(
        !finding_text(ok).contains("LICENSE-"),
        "{}",
        finding_text(ok)
    );

    // Bad values: line and column.
    let bad = write(
        tmp.path(),
        "bad.toml",
        "fail_on = \"high\"\ndeny_licenses = [\"MIT\", \"CC BY\"]\nrequire_license = 3\n",
    );
    let out = aigis(&["policy", "check", &bad.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:2:25: deny_licenses: `CC BY`"),
        "{err}"
    );
    assert!(err.contains("bad.toml:3:19: require_license"), "{err}");
}
