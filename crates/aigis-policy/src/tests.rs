use super::*;
use aigis_scan::{Finding, Format, Status};

fn errors(text: &str) -> Vec<Diagnostic> {
    match Policy::parse(text, "aigis.toml") {
        Err(PolicyError::Invalid { diagnostics, .. }) => diagnostics,
        other => panic!("expected an invalid policy, got {other:?}"),
    }
}

fn result(path: &str, findings: &[(RuleId, Severity)]) -> FileResult {
    let findings = findings
        .iter()
        .map(|(rule, sev)| {
            let mut f = Finding::new(*rule, "m");
            f.severity = *sev;
            f
        })
        .collect();
    let mut result = FileResult::new(path.to_string(), Format::Pickle, 1, Status::Ok, findings);
    result.sha256 = Some("ab".repeat(32));
    result.bytes_read = 1;
    result
}

#[test]
fn syntax_error_has_line_and_column() {
    let d = errors("fail_on = \"high\"\nallow_globals = [\"a.b\",\n  = 3\n");
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].line, d[0].column), (3, 3), "{d:?}");
}

#[test]
fn unknown_key_points_at_the_key() {
    let d = errors("fail_on = \"high\"\n\n  fial_on = \"low\"\n");
    assert_eq!((d[0].line, d[0].column), (3, 3), "{d:?}");
    assert!(d[0].message.contains("fial_on"), "{d:?}");
}

#[test]
fn semantic_errors_each_point_at_their_value() {
    let text = r#"fail_on = "severe"
include = ["models/[a"]
allow_globals = ["not a name"]

[severity]
PICKLE-NOPE = "high"
PICKLE-FORMAT = "loud"

[[suppress]]
rule = "PICKLE-CLASS-UNKNOWN"
expires = "2025-02-30"

[[suppress]]
reason = "only a reason"
"#;
    let d = errors(text);
    let at: Vec<(usize, usize)> = d.iter().map(|d| (d.line, d.column)).collect();
    let text_of = |i: usize| d[i].message.clone();
    assert!(at.contains(&(1, 11)), "{d:?}");
    assert!(at.contains(&(2, 12)), "{d:?}");
    assert!(at.contains(&(3, 18)), "{d:?}");
    assert!(at.contains(&(6, 1)), "{d:?}");
    assert!(at.contains(&(7, 17)), "{d:?}");
    assert!(at.contains(&(11, 11)), "{d:?}");
    assert!(
        d.iter().any(|d| d.message.contains("missing `reason`")),
        "{d:?}"
    );
    assert!(
        d.iter().any(|d| d.message.contains("at least one of")),
        "{d:?}"
    );
    assert!(text_of(0).contains("severity"));
    let rendered = PolicyError::Invalid {
        origin: "aigis.toml".into(),
        diagnostics: d,
    }
    .to_string();
    assert!(
        rendered.starts_with("aigis.toml:1:11: fail_on"),
        "{rendered}"
    );
}

#[test]
fn toml_dates_and_strings_are_accepted() {
    let p = Policy::parse("[[suppress]]\nsha256 = \"AB\"\nreason = \"x\"\n", "p");
    assert!(p.is_err());
    let p = Policy::parse(
        &format!(
            "[[suppress]]\nsha256 = \"{}\"\nreason = \"x\"\nexpires = 2030-01-02\n",
            "AB".repeat(32)
        ),
        "p",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.suppressions[0].expires, Date::parse("2030-01-02"));
    assert_eq!(p.suppressions[0].sha256, Some("ab".repeat(32)));
}

#[test]
fn suppressions_mark_findings_and_expired_ones_are_reported() {
    let policy = Policy::parse(
        r#"
[severity]
PICKLE-ANOMALY = "high"

[[suppress]]
rule = "PICKLE-CLASS-UNKNOWN"
path = "models/**"
reason = "our own classes"
expires = "2030-06-30"

[[suppress]]
rule = "PICKLE-FORMAT"
reason = "stale"
expires = "2020-01-01"
"#,
        "aigis.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut results = vec![
        result(
            "models/a/net.pt",
            &[
                (RuleId::PickleClassUnknown, Severity::Medium),
                (RuleId::PickleFormat, Severity::Info),
                (RuleId::PickleAnomaly, Severity::Medium),
            ],
        ),
        result(
            "other/net.pt",
            &[(RuleId::PickleClassUnknown, Severity::Medium)],
        ),
    ];
    let today = Date::parse("2026-01-01").unwrap_or(Date::today());
    let applied = policy.apply(&mut results, today);
    assert_eq!(applied.suppressed, 1);
    let first = &results[0];
    let class = first
        .findings
        .iter()
        .find(|f| f.rule_id == RuleId::PickleClassUnknown);
    assert_eq!(
        class
            .and_then(|f| f.suppressed.as_ref())
            .map(|s| s.reason.as_str()),
        Some("our own classes")
    );
    // The severity override applies; the expired suppression does not.
    assert_eq!(first.max_severity, Some(Severity::High));
    assert!(
        first
            .findings
            .iter()
            .filter(|f| f.rule_id == RuleId::PickleFormat)
            .all(|f| f.suppressed.is_none())
    );
    assert_eq!(results[1].max_severity, Some(Severity::Medium));
    assert_eq!(applied.warnings.len(), 1, "{:?}", applied.warnings);
    let warning = &applied.warnings[0];
    assert!(
        warning.contains("aigis.toml:11")
            && warning.contains("2020-01-01")
            && warning.contains("\"stale\""),
        "{warning}"
    );
    assert!(warning.contains("1 finding(s)"), "{warning}");
    // On its last day a suppression still applies.
    let mut again = vec![result(
        "models/x.pt",
        &[(RuleId::PickleClassUnknown, Severity::Medium)],
    )];
    let last_day = Date::parse("2030-06-30").unwrap_or(Date::today());
    assert_eq!(policy.apply(&mut again, last_day).suppressed, 1);
    assert_eq!(again[0].max_severity, None);
}

#[test]
fn include_and_exclude_globs() {
    let policy = Policy::parse(
        "include = [\"models/**\", \"*.pt\"]\nexclude = [\"**/testdata/**\"]\n",
        "p",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(policy.includes(Path::new("./models/a/b.bin")));
    assert!(policy.includes(Path::new("elsewhere/deep/x.pt")));
    assert!(!policy.includes(Path::new("elsewhere/deep/x.bin")));
    assert!(!policy.includes(Path::new("models/testdata/x.bin")));
}

#[test]
fn discover_walks_up_to_the_policy() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let nested = dir.path().join("a/b");
    std::fs::create_dir_all(&nested).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(discover(&nested), None);
    std::fs::write(dir.path().join(FILE_NAME), "").unwrap_or_else(|e| panic!("{e}"));
    let found = discover(&nested).unwrap_or_default();
    assert_eq!(found.file_name().and_then(|n| n.to_str()), Some(FILE_NAME));
}

#[test]
fn webhooks_are_read_with_their_defaults_and_every_mistake_points_at_its_value() {
    let policy = Policy::parse(
        r#"
[[webhook]]
url = "https://hooks.example.com/aigis"
secret_env = "AIGIS_WEBHOOK_SECRET"

[[webhook]]
url = "http://127.0.0.1:9000/slack"
format = "slack"
events = ["model-replaced", "SCAN_FAILED", "MODEL_REPLACED"]
retries = 0
"#,
        "aigis.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy.webhooks.len(), 2);
    let first = &policy.webhooks[0];
    assert_eq!(first.secret_env.as_deref(), Some("AIGIS_WEBHOOK_SECRET"));
    assert_eq!(first.events, DEFAULT_WEBHOOK_EVENTS);
    assert_eq!((first.format, first.retries), (WebhookFormat::Json, 4));
    let second = &policy.webhooks[1];
    assert_eq!(second.events, ["MODEL_REPLACED", "SCAN_FAILED"]);
    assert_eq!((second.format, second.retries), (WebhookFormat::Slack, 0));

    let d = errors(
        r#"[[webhook]]
url = "file:///etc/passwd"
secret_env = "s3cr3t value"
events = ["MODEL_EATEN"]
format = "xml"
retries = 99

[[webhook]]
format = "json"
"#,
    );
    let at: Vec<(usize, usize)> = d.iter().map(|d| (d.line, d.column)).collect();
    for (line, column) in [(2, 7), (3, 14), (4, 11), (5, 10), (6, 11)] {
        assert!(at.contains(&(line, column)), "{line}:{column} in {d:?}");
    }
    assert!(
        d.iter()
            .any(|d| d.message.contains("webhook[1]: `url` is required")),
        "{d:?}"
    );
    assert!(
        d.iter()
            .any(|d| d.message.contains("secret itself never goes in this file")),
        "{d:?}"
    );
}

#[test]
fn require_signature_globs_are_validated_and_matched() {
    let d = errors("require_signature = [\"models/[prod\"]\n");
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].message.starts_with("require_signature:"), "{d:?}");
    assert_eq!(d[0].line, 1);
    let policy = match Policy::parse("require_signature = [\"models/prod/**\"]\n", "aigis.toml") {
        Ok(policy) => policy,
        Err(e) => panic!("{e}"),
    };
    assert!(policy.requires_signature(Path::new("models/prod/bert")));
    assert!(policy.requires_signature(Path::new("./models/prod/a/b.safetensors")));
    assert!(!policy.requires_signature(Path::new("models/dev/bert")));
    assert!(!Policy::default().requires_signature(Path::new("models/prod/bert")));
}
