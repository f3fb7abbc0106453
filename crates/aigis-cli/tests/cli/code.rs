//! Code scanning: a pipeline's load site is linked to the verdict of the model it loads, in the
//! terminal and in SARIF (with the line and column of the call).

use crate::support::{aigis, repo_root};
use serde_json::Value;

pub(crate) fn a_load_site_is_linked_to_the_model_it_loads() {
    let project = repo_root().join("fixtures/code/project");
    let target = project.to_string_lossy().into_owned();
    let out = aigis(&["scan", "--no-cache", &target]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let serve = text
        .lines()
        .position(|l| l.contains("serve.py"))
        .unwrap_or_else(|| panic!("{text}"));
    let below: Vec<&str> = text.lines().skip(serve + 1).take(4).collect();
    assert!(
        below[0].contains("critical CODE-LOADS-FLAGGED-MODEL loads `models/classifier.pkl`")
            && below[0].contains("posix.system('echo aigis-fixture')"),
        "{text}"
    );
    assert!(below[1].contains("at line 4, column 7"), "{text}");
    // The project's requirements pin a joblib with an advisory.
    assert!(
        text.contains("high DEP-VULNERABLE `joblib==1.1.0`") && text.contains("PYSEC-2022-288"),
        "{text}"
    );

    let out = aigis(&["scan", "--no-cache", "--format", "sarif", &target]);
    let sarif: Value = serde_json::from_slice(&out.stdout).expect("SARIF JSON");
    let results = sarif["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let link = results
        .iter()
        .find(|r| r["ruleId"] == "CODE-LOADS-FLAGGED-MODEL")
        .unwrap_or_else(|| panic!("{results:?}"));
    assert_eq!(link["level"], "error");
    let location = &link["locations"][0]["physicalLocation"];
    assert!(
        location["artifactLocation"]["uri"]
            .as_str()
            .is_some_and(|u| u.ends_with("serve.py")),
        "{location}"
    );
    assert_eq!(location["region"]["startLine"], 4);
    assert_eq!(location["region"]["startColumn"], 7);
    let dep = results
        .iter()
        .find(|r| r["ruleId"] == "DEP-VULNERABLE")
        .unwrap_or_else(|| panic!("{results:?}"));
    let location = &dep["locations"][0]["physicalLocation"];
    assert!(
        location["artifactLocation"]["uri"]
            .as_str()
            .is_some_and(|u| u.ends_with("requirements.txt")),
        "{location}"
    );
    assert_eq!(location["region"]["startLine"], 1);
    // Without the model in the run, the load site is still an unsafe load, not a link.
    let alone = project.join("serve.py");
    let out = aigis(&[
        "scan",
        "--no-cache",
        "--format",
        "json",
        &alone.to_string_lossy(),
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rules: Vec<&str> = doc["results"][0]["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|x| x["rule_id"].as_str()).collect())
        .unwrap_or_default();
    assert!(rules.contains(&"CODE-UNSAFE-LOAD"), "{rules:?}");
    assert!(!rules.contains(&"CODE-LOADS-FLAGGED-MODEL"), "{rules:?}");
}
