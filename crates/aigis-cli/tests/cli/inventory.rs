//! Inventory and AI-BOM: `aigis discover` over a Hugging Face cache laid out by
//! `scripts/fixtures/make_inventory_fixtures.py`, `aigis bom` validated against CycloneDX 1.6 and
//! read back by the official SPDX 3 bindings, container images (layers, whiteouts) and host
//! context (world-writable folders, symlinks out of the tree).

use crate::reports::validate;
use crate::support::{aigis, finding_text, repo_root, scan_json, temp_dir};
use aigis_testkit::Tool;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn inventory_fixtures() -> PathBuf {
    repo_root().join("fixtures/inventory")
}

fn json_out(args: &[&str]) -> Value {
    let out = aigis(args);
    assert!(
        out.status.success(),
        "aigis {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})"))
}

/// (repo id, revision from refs/main, architectures[0] from the snapshot's config.json) of each
/// repository in the fixture cache, read from the files the fixture script wrote.
fn cache_repos(hub: &Path) -> Vec<(String, String, String)> {
    let mut repos = Vec::new();
    for entry in std::fs::read_dir(hub)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_prefix("models--") else {
            continue;
        };
        let rev = std::fs::read_to_string(entry.path().join("refs/main"))
            .unwrap_or_else(|e| panic!("{e}"));
        let config: Value = serde_json::from_slice(
            &std::fs::read(
                entry
                    .path()
                    .join("snapshots")
                    .join(rev.trim())
                    .join("config.json"),
            )
            .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let arch = config["architectures"][0]
            .as_str()
            .unwrap_or("")
            .to_string();
        repos.push((id.replace("--", "/"), rev.trim().to_string(), arch));
    }
    repos.sort();
    repos
}

/// Licenses the fixture script writes into each model card's front-matter.
const CARD_LICENSES: [(&str, &str); 3] = [
    ("aigis-test/tiny-bert", "mit"),
    ("aigis-test/tiny-gpt2", "apache-2.0"),
    ("aigis-test/tiny-llama", "llama3.1"),
];

pub(crate) fn discover_lists_hub_cache_models_with_revision_license_and_architecture() {
    let hub = inventory_fixtures().join("hf-cache/hub");
    let repos = cache_repos(&hub);
    assert_eq!(repos.len(), 3);
    let hub_arg = hub.to_string_lossy().into_owned();
    let doc = json_out(&["discover", "--format", "json", &hub_arg]);
    let models = doc["models"].as_array().cloned().unwrap_or_default();
    assert_eq!(models.len(), 3, "{models:#?}");
    let licenses: BTreeMap<&str, &str> = CARD_LICENSES.into_iter().collect();
    for (id, rev, arch) in &repos {
        let model = models
            .iter()
            .find(|m| m["provenance"]["name"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not listed"));
        assert_eq!(model["provenance"]["source"], "huggingface");
        assert_eq!(model["provenance"]["revision"], rev.as_str());
        assert_eq!(model["provenance"]["refs"][0], "main");
        assert_eq!(model["architecture"], arch.as_str());
        assert_eq!(model["card"]["license"], licenses[id.as_str()]);
        assert_eq!(model["framework"], "transformers");
        assert_eq!(model["formats"][0], "safetensors");
        assert!(
            model["parameters"].as_u64().is_some_and(|p| p > 0),
            "{model}"
        );
        // Blobs are reached through the snapshot links, not listed separately.
        for file in model["files"].as_array().into_iter().flatten() {
            assert!(file["path"].as_str().unwrap_or("").contains("/snapshots/"));
        }
    }
    // The sharded Llama is one model: four shards and the index.
    let llama = models
        .iter()
        .find(|m| m["name"] == "aigis-test/tiny-llama")
        .unwrap_or_else(|| panic!("no llama"));
    let shards = llama["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["format"] == "safetensors")
        .count();
    assert_eq!(shards, 4, "{llama}");

    let out = aigis(&["discover", &hub_arg]);
    let table = String::from_utf8_lossy(&out.stdout);
    for (id, rev, arch) in &repos {
        assert!(table.contains(&format!("{id}@{rev}")), "{table}");
        assert!(table.contains(arch.as_str()), "{table}");
    }
    // The table shows each card's license as the SPDX expression the BOMs carry.
    for spdx in ["MIT", "Apache-2.0", "LicenseRef-llama3.1"] {
        assert!(table.contains(spdx), "{spdx}: {table}");
    }
    assert!(!table.contains("apache-2.0"), "{table}");
}

pub(crate) fn discover_recognises_ollama_and_torch_hub_layouts() {
    let root = inventory_fixtures().to_string_lossy().into_owned();
    let doc = json_out(&["discover", "--format", "json", &root, "--exclude", "image"]);
    let models = doc["models"].as_array().cloned().unwrap_or_default();
    let ollama = models
        .iter()
        .find(|m| m["provenance"]["source"] == "ollama")
        .unwrap_or_else(|| panic!("no ollama model: {models:#?}"));
    assert_eq!(ollama["name"], "tinyllama:latest");
    assert_eq!(ollama["formats"][0], "gguf");
    // GGUF general.architecture and general.license, written by gguf.GGUFWriter.
    assert_eq!(ollama["architecture"], "llama");
    assert_eq!(ollama["metadata"]["license"], "mit");
    let torch = models
        .iter()
        .find(|m| m["provenance"]["source"] == "torch-hub")
        .unwrap_or_else(|| panic!("no torch hub model"));
    assert_eq!(torch["provenance"]["name"], "tiny_cnn");
    assert_eq!(torch["provenance"]["revision"], "1a2b3c4d");
    assert!(
        !models
            .iter()
            .any(|m| m["path"].as_str().unwrap_or("").contains("image")),
        "--exclude image ignored"
    );
}

/// The digest the image config lists for the layer that holds `member` (classic docker save).
fn layer_of(image: &Path, member: &str) -> String {
    let mut archive =
        tar::Archive::new(std::fs::File::open(image).unwrap_or_else(|e| panic!("{e}")));
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for entry in archive.entries().unwrap_or_else(|e| panic!("{e}")) {
        let mut entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let name = entry
            .path()
            .unwrap_or_else(|e| panic!("{e}"))
            .to_string_lossy()
            .into_owned();
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .unwrap_or_else(|e| panic!("{e}"));
        files.insert(name, data);
    }
    let manifest: Value =
        serde_json::from_slice(&files["manifest.json"]).unwrap_or_else(|e| panic!("{e}"));
    let config: Value =
        serde_json::from_slice(&files[manifest[0]["Config"].as_str().unwrap_or("")])
            .unwrap_or_else(|e| panic!("{e}"));
    for (i, layer) in manifest[0]["Layers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let bytes = &files[layer.as_str().unwrap_or("")];
        let mut inner = tar::Archive::new(bytes.as_slice());
        let has = inner
            .entries()
            .unwrap_or_else(|e| panic!("{e}"))
            .flatten()
            .any(|e| e.path().is_ok_and(|p| p.to_string_lossy() == member));
        if has {
            let digest = config["rootfs"]["diff_ids"][i].as_str().unwrap_or("");
            return digest.trim_start_matches("sha256:")[..12].to_string();
        }
    }
    panic!("{member} in no layer")
}

pub(crate) fn image_layers_are_applied_with_whiteouts_and_models_name_their_layer() {
    let dir = inventory_fixtures().join("image");
    let evil_layer = layer_of(&dir.join("docker-save.tar"), "opt/models/evil.pkl");
    for image in ["docker-save.tar", "docker-save-oci.tar", "oci-layout"] {
        let (code, doc) = scan_json(&[&dir.join(image)], &["--no-cache"]);
        assert_eq!(code, 1, "{image}: the malicious model must fail the scan");
        let results = doc["results"].as_array().cloned().unwrap_or_default();
        let paths: Vec<&str> = results.iter().filter_map(|r| r["path"].as_str()).collect();
        let evil = results
            .iter()
            .find(|r| {
                r["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with("/opt/models/evil.pkl"))
            })
            .unwrap_or_else(|| panic!("{image}: evil.pkl not reported: {paths:?}"));
        assert_eq!(evil["max_severity"], "critical", "{image}");
        assert!(finding_text(evil).contains("touch /tmp/aigis-fixture-image-added"));
        assert!(evil["sha256"].as_str().is_some_and(|s| s.len() == 64));
        let path = evil["path"].as_str().unwrap_or("");
        assert!(path.contains(&format!("{image}!/layer:")), "{path}");
        if image != "oci-layout" {
            // The OCI layout stores that layer gzip'd, so its digest is the compressed one.
            assert!(path.contains(&format!("layer:{evil_layer}/")), "{path}");
        }
        // Deleted by a whiteout and by an opaque folder in the top layer.
        for gone in ["old-evil.pkl", "stale.pkl"] {
            assert!(
                !paths.iter().any(|p| p.ends_with(gone)),
                "{image}: {gone} listed"
            );
        }
        assert!(
            results.iter().any(|r| r["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("tiny-gpt2/model.safetensors"))
                && r["max_severity"] == "none"),
            "{image}: benign model missing: {paths:?}"
        );
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

pub(crate) fn world_writable_model_folder_is_reported_normal_one_is_not() {
    let tmp = temp_dir();
    let folder = tmp.path().join("models");
    std::fs::create_dir(&folder).unwrap_or_else(|e| panic!("{e}"));
    let model = folder.join("good.safetensors");
    std::fs::copy(
        repo_root().join("fixtures/safetensors/good_single.safetensors"),
        &model,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    chmod(tmp.path(), 0o755);
    chmod(&folder, 0o755);
    chmod(&model, 0o644);
    let (code, doc) = scan_json(&[&folder], &["--no-cache"]);
    assert_eq!(code, 0);
    let text = finding_text(&doc["results"][0]);
    assert!(!text.contains("HOST-WRITABLE-PATH"), "{text}");

    chmod(&folder, 0o777);
    let (code, doc) = scan_json(&[&folder], &["--no-cache"]);
    assert_eq!(code, 1, "a world-writable model folder is high");
    let result = &doc["results"][0];
    assert_eq!(result["max_severity"], "high");
    let text = finding_text(result);
    assert!(text.contains("HOST-WRITABLE-PATH"), "{text}");
    assert!(text.contains(&folder.display().to_string()), "{text}");

    let inv = json_out(&["discover", "--format", "json", &folder.to_string_lossy()]);
    assert_eq!(inv["models"][0]["max_severity"], "high");
    chmod(&folder, 0o755);
}

/// A link is read the way a loader reads it — as its target, wherever that is — and a target
/// out of the scanned tree is context on the result, not a reason to skip.
pub(crate) fn symlinks_are_followed_and_a_link_out_of_the_tree_is_context() {
    let tmp = temp_dir();
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).unwrap_or_else(|e| panic!("{e}"));
    let outside = tmp.path().join("outside.pkl");
    std::fs::copy(
        repo_root().join("fixtures/pickle/os_system_p2.pkl"),
        &outside,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(&outside, root.join("model.pt")).unwrap_or_else(|e| panic!("{e}"));
    let (code, doc) = scan_json(&[&root], &["--no-cache", "--no-policy"]);
    assert_eq!(code, 1, "the payload behind the link fails the run: {doc}");
    let result = &doc["results"][0];
    assert!(
        result["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("model.pt"))
    );
    assert_eq!(result["max_severity"], "critical");
    let text = finding_text(result);
    assert!(
        text.contains("HOST-SYMLINK-ESCAPE") && text.contains("outside.pkl"),
        "{text}"
    );
    let inv = json_out(&["discover", "--format", "json", &root.to_string_lossy()]);
    assert_eq!(inv["models"].as_array().map(Vec::len), Some(1), "{inv}");
}

/// The BOM of all inventory fixtures plus the docker-save image.
fn bom(format: &str, out: &Path) {
    let fixtures = inventory_fixtures();
    let image = fixtures.join("image/docker-save.tar");
    let result = aigis(&[
        "bom",
        "--format",
        format,
        "--output",
        &out.to_string_lossy(),
        "--exclude",
        "image",
        &fixtures.to_string_lossy(),
        &image.to_string_lossy(),
    ]);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
}

pub(crate) fn cyclonedx_bom_validates_and_says_which_models_are_unsafe() {
    let tmp = temp_dir();
    let out = tmp.path().join("bom.cdx.json");
    bom("cyclonedx", &out);
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    validate("bom-1.6.schema.json", &doc);
    let components = doc["components"].as_array().cloned().unwrap_or_default();
    let models: Vec<&Value> = components
        .iter()
        .filter(|c| c["type"] == "machine-learning-model")
        .collect();
    // 3 hub models, Ollama, torch hub, and the image's safetensors and pickle.
    assert_eq!(models.len(), 7, "{models:#?}");
    let gpt2 = models
        .iter()
        .find(|m| m["name"] == "aigis-test/tiny-gpt2")
        .unwrap_or_else(|| panic!("no gpt2"));
    assert!(
        gpt2["purl"]
            .as_str()
            .is_some_and(|p| p.starts_with("pkg:huggingface/aigis-test/tiny-gpt2@"))
    );
    assert_eq!(gpt2["licenses"][0]["license"]["id"], "Apache-2.0");
    assert_eq!(
        gpt2["modelCard"]["modelParameters"]["task"],
        "text-generation"
    );
    assert_eq!(
        gpt2["modelCard"]["modelParameters"]["datasets"][0]["name"],
        "wikitext"
    );
    assert_eq!(
        gpt2["pedigree"]["ancestors"][0]["name"],
        "openai-community/gpt2"
    );
    for file in gpt2["components"].as_array().into_iter().flatten() {
        assert_eq!(file["type"], "file");
        assert_eq!(file["hashes"][0]["alg"], "SHA-256");
    }
    let evil = models
        .iter()
        .find(|m| m["name"].as_str().is_some_and(|n| n.ends_with("evil.pkl")))
        .unwrap_or_else(|| panic!("no evil model"));
    let evil_ref = evil["bom-ref"].clone();
    let vulns = doc["vulnerabilities"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        vulns
            .iter()
            .any(|v| v["ratings"][0]["severity"] == "critical"
                && v["affects"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|a| a["ref"] == evil_ref)),
        "no critical vulnerability affects {evil_ref}"
    );
    assert!(
        !vulns
            .iter()
            .any(|v| v["affects"][0]["ref"] == gpt2["bom-ref"]),
        "the benign model has vulnerabilities"
    );
}

pub(crate) fn spdx_bom_reads_back_with_the_official_bindings() {
    let tmp = temp_dir();
    let out = tmp.path().join("bom.spdx.json");
    bom("spdx", &out);
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let graph = doc["@graph"].as_array().cloned().unwrap_or_default();
    let packages: Vec<&Value> = graph
        .iter()
        .filter(|e| e["type"] == "ai_AIPackage")
        .collect();
    assert_eq!(packages.len(), 7);
    let evil = packages
        .iter()
        .find(|p| p["name"].as_str().is_some_and(|n| n.ends_with("evil.pkl")))
        .unwrap_or_else(|| panic!("no evil package"));
    assert_eq!(evil["ai_safetyRiskAssessment"], "serious");
    let python = Tool::SpdxPython.path();
    let check = std::process::Command::new(python)
        .arg(repo_root().join("scripts/check_spdx.py"))
        .arg(&out)
        .args(["--expect-models", "7"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

/// A folder is one model only when its files belong together: a Hugging Face folder claims its
/// weights, configs, tokenizer and card; other model files beside them — and files that merely
/// share a folder with a README — are models of their own.
pub(crate) fn models_are_grouped_as_people_think_of_them() {
    let inv = json_out(&[
        "discover",
        "--format",
        "json",
        &repo_root().join("examples").to_string_lossy(),
    ]);
    let models = inv["models"].as_array().cloned().unwrap_or_default();
    assert!(models.len() >= 4, "{inv}");
    assert!(models.iter().all(|m| m["layout"] == "single-file"), "{inv}");

    let tmp = temp_dir();
    let hf = tmp.path().join("bert");
    std::fs::create_dir(&hf).unwrap_or_else(|e| panic!("{e}"));
    let snapshot = inventory_fixtures()
        .join("hf-cache/hub/models--aigis-test--tiny-gpt2/snapshots/9c381a482328803e42b5fa92e871899c71ef6501");
    for name in ["config.json", "model.safetensors"] {
        std::fs::copy(snapshot.join(name), hf.join(name)).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::copy(
        repo_root().join("examples/sklearn-pipeline.joblib"),
        hf.join("classifier.joblib"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let inv = json_out(&["discover", "--format", "json", &hf.to_string_lossy()]);
    let models = inv["models"].as_array().cloned().unwrap_or_default();
    let folder = models.iter().find(|m| m["layout"] == "hf-folder");
    let folder = folder.unwrap_or_else(|| panic!("no hf-folder model: {inv}"));
    let files: Vec<&str> = folder["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert!(
        files.iter().any(|f| f.ends_with("model.safetensors")),
        "{files:?}"
    );
    assert!(!files.iter().any(|f| f.ends_with(".joblib")), "{files:?}");
    assert!(
        models.iter().any(|m| m["layout"] == "single-file"
            && m["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("classifier.joblib"))),
        "{inv}"
    );
}
