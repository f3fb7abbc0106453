//! Report formats on the real fixtures: SARIF and CycloneDX validated against the official
//! schemas, JUnit and Markdown shape, several outputs in one run, and the HTML report rendered
//! by headless Chromium.

use crate::support::{aigis, aigis_command, repo_root, temp_dir};
use aigis_testkit::Tool;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Resolves the schemas' relative references (`spdx.schema.json`, `jsf-0.82.schema.json`)
/// from the schema folder, offline.
struct LocalSchemas(PathBuf);

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri.as_str().rsplit('/').next().unwrap_or_default();
        let text = std::fs::read_to_string(self.0.join(name))?;
        Ok(serde_json::from_str(&text)?)
    }
}

pub(crate) fn validate(schema_file: &str, document: &Value) {
    let dir = Tool::Schemas.path();
    let text = std::fs::read_to_string(dir.join(schema_file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(schema_file).display()));
    let schema: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let validator = jsonschema::options()
        .with_retriever(LocalSchemas(dir.clone()))
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("schema {schema_file}: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{schema_file}: {errors:#?}");
}

/// Scans fixtures and examples once per format with a suppression policy, so every report
/// shows suppressed findings too.
fn report(format: &str, dir: &Path) -> String {
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        "[[suppress]]\nrule = \"PICKLE-CLASS-UNKNOWN\"\nreason = \"reviewed <b>team</b> classes\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = aigis_command()
        .current_dir(repo_root())
        .args(["scan", "--format", format, "--policy"])
        .arg(&policy)
        .args(["fixtures", "examples"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("{e}"))
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

pub(crate) fn sarif_validates_and_has_what_github_reads() {
    let dir = temp_dir();
    let doc = json(&report("sarif", dir.path()));
    validate("sarif-schema-2.1.0.json", &doc);
    let run = &doc["runs"][0];
    let rules = run["tool"]["driver"]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(rules.len() > 10);
    for rule in &rules {
        for key in ["shortDescription", "fullDescription"] {
            assert!(rule[key]["text"].is_string(), "{key} in {rule}");
        }
        assert!(rule["help"]["text"].is_string() && rule["help"]["markdown"].is_string());
        assert!(rule["defaultConfiguration"]["level"].is_string());
        let score: f64 = rule["properties"]["security-severity"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1.0);
        assert!((0.0..=10.0).contains(&score), "{rule}");
    }
    let critical = rules.iter().find(|r| r["id"] == "PICKLE-CALL-DANGEROUS");
    assert_eq!(
        critical.map(|r| r["properties"]["security-severity"].clone()),
        Some(Value::from("9.5"))
    );
    let results = run["results"].as_array().cloned().unwrap_or_default();
    assert!(results.len() > 20);
    let mut suppressed = 0;
    for result in &results {
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"].as_str().unwrap_or("");
        assert!(
            uri.starts_with("fixtures/") || uri.starts_with("examples/"),
            "{uri}"
        );
        assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert!(
            result["partialFingerprints"]
                .as_object()
                .is_some_and(|m| !m.is_empty())
        );
        let index = result["ruleIndex"].as_u64().unwrap_or(u64::MAX) as usize;
        assert_eq!(
            rules.get(index).map(|r| r["id"].clone()),
            Some(result["ruleId"].clone())
        );
        if result["suppressions"].is_array() {
            suppressed += 1;
            assert_eq!(result["suppressions"][0]["kind"], "external");
        }
    }
    assert!(suppressed > 0);
    assert!(results.iter().any(|r| {
        r["locations"][0]["logicalLocations"][0]["name"]
            .as_str()
            .is_some_and(|n| n.contains("data.pkl"))
    }));
}

pub(crate) fn cyclonedx_validates_and_links_findings_to_components() {
    let dir = temp_dir();
    let bom = json(&report("cyclonedx", dir.path()));
    validate("bom-1.6.schema.json", &bom);
    assert_eq!(bom["specVersion"], "1.6");
    let components = bom["components"].as_array().cloned().unwrap_or_default();
    assert!(
        components
            .iter()
            .any(|c| c["type"] == "machine-learning-model")
    );
    // Files are grouped into models; every file (a model's or a loose one) has its hash.
    let files: Vec<&Value> = components
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c["components"].as_array().into_iter().flatten()))
        .filter(|c| c["type"] == "file")
        .collect();
    assert!(files.len() > 50);
    // Every file has its hash; only what could not be read (an image layer that does not
    // decode) has none, and says so in its status.
    let unread = |c: &&Value| {
        let layer = c["name"]
            .as_str()
            .and_then(|n| n.rsplit_once("!/layer:"))
            .is_some_and(|(_, layer)| !layer.contains('/'));
        let error = c["properties"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "aigis:status" && p["value"] == "error");
        layer || error
    };
    let hashed = |c: &&Value| c["hashes"][0]["alg"] == "SHA-256";
    let missing: Vec<&&Value> = files.iter().filter(|c| !hashed(c) && !unread(c)).collect();
    assert!(missing.is_empty(), "{missing:?}");
    let nested = components
        .iter()
        .flat_map(|c| c["components"].as_array().into_iter().flatten());
    let refs: Vec<&Value> = components
        .iter()
        .chain(nested)
        .map(|c| &c["bom-ref"])
        .collect();
    let vulns = bom["vulnerabilities"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!vulns.is_empty());
    for v in &vulns {
        assert!(refs.contains(&&v["affects"][0]["ref"]), "{v}");
    }
    assert!(
        vulns
            .iter()
            .any(|v| v["analysis"]["state"] == "not_affected")
    );
}

pub(crate) fn junit_has_one_case_per_file_and_fails_at_the_threshold() {
    let dir = temp_dir();
    let xml = report("junit", dir.path());
    let (_, json_doc) = crate::support::scan_json(
        &[&repo_root().join("fixtures"), &repo_root().join("examples")],
        &["--no-policy"],
    );
    let files = json_doc["summary"]["files"].as_u64().unwrap_or(0) as usize;
    assert_eq!(xml.matches("<testcase ").count(), files);
    let failing = json_doc["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            matches!(r["max_severity"].as_str(), Some("high" | "critical"))
                && r["status"] != "error"
        })
        .count();
    assert_eq!(xml.matches("<failure ").count(), failing, "{xml}");
    assert!(xml.starts_with("<?xml") && xml.trim_end().ends_with("</testsuites>"));
    assert!(xml.contains(&format!("tests=\"{files}\" failures=\"{failing}\"")));
    assert!(!xml.contains("<b>"), "content must be escaped");
}

pub(crate) fn markdown_comment_has_summary_and_top_findings() {
    let dir = temp_dir();
    let md = report("markdown", dir.path());
    assert!(md.starts_with("## aigis model scan"));
    assert!(md.contains("❌ **Failed**"));
    assert!(md.contains("| files | critical | high | medium | low | info | suppressed |"));
    assert!(md.contains("### Top findings"));
    let top = md.split("### Top findings").nth(1).unwrap_or("");
    let rows = top
        .lines()
        .filter(|l| l.starts_with("| 🟥") || l.starts_with("| 🟧") || l.starts_with("| 🟨"))
        .count();
    assert!(rows > 0 && rows <= 20, "{md}");
    assert!(
        md.contains("…and"),
        "more than 20 findings are counted, not listed"
    );
}

pub(crate) fn several_outputs_in_one_run() {
    let dir = temp_dir();
    let d = dir.path().to_string_lossy().into_owned();
    let fixture = repo_root().join("examples");
    let outs = ["json", "sarif", "html", "junit", "markdown", "cyclonedx"]
        .map(|f| format!("{f}={d}/out.{f}"));
    let mut args = vec!["scan", "--no-policy"];
    for o in &outs {
        args.push("--output");
        args.push(o);
    }
    let path = fixture.to_string_lossy();
    args.push(&path);
    let out = aigis(&args);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    for f in ["json", "sarif", "html", "junit", "markdown", "cyclonedx"] {
        let text = std::fs::read_to_string(dir.path().join(format!("out.{f}"))).unwrap_or_default();
        assert!(text.len() > 200, "{f}: {text}");
    }
}

/// The HTML escapes hostile content: a file name carrying markup stays text.
pub(crate) fn html_escapes_file_names() {
    let dir = temp_dir();
    let hostile = dir.path().join("<img src=x onerror=alert(1)>.pkl");
    std::fs::copy(
        repo_root().join("fixtures/pickle/os_system_p2.pkl"),
        &hostile,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = aigis(&[
        "scan",
        "--no-policy",
        "--format",
        "html",
        &hostile.to_string_lossy(),
    ]);
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(!html.contains("<img"), "unescaped markup");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;.pkl"));
}

pub(crate) fn html_report_renders_in_headless_chromium() {
    let browser = Tool::Chromium.path();
    let artifacts = repo_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap_or_else(|e| panic!("{e}"));
    let work = temp_dir();
    let html = report("html", work.path());
    let page = artifacts.join("report.html");
    std::fs::write(&page, &html).unwrap_or_else(|e| panic!("{e}"));
    let url = format!("file://{}", page.display());
    let profile = work.path().join("profile");
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ];
    let shot = artifacts.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let out = Command::new(&browser)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1280,2000")
        .arg(&url)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        shot.metadata().is_ok_and(|m| m.len() > 10_000),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&browser)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("<table id=\"findings\" data-ready=\"1\">"),
        "script did not run: {}",
        &dom[..dom.len().min(2000)]
    );
    assert!(dom.contains("showing "), "filter counter missing");
    assert!(dom.contains("PICKLE-CALL-DANGEROUS"));
    assert!(dom.contains("os.system"), "decompiled call missing");
}
