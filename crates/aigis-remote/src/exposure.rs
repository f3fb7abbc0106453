//! Who can write (or read) where a model is stored. The bucket's access configuration — S3 bucket
//! policy, ACL and Public Access Block; Azure container public access level; GCS IAM policy — is
//! read once per bucket and interpreted here; [`Exposure::findings_for`] turns it into findings on
//! every model under the bucket (S3 policies are matched per object key, so a grant on one prefix
//! marks only the models under that prefix).

use aigis_scan::{Finding, RuleId, Severity};
use serde_json::Value;

/// The interpreted access configuration of one bucket or container.
#[derive(Debug, Clone, Default)]
pub struct Exposure {
    /// S3 bucket name, for matching policy `Resource` ARNs.
    bucket: String,
    /// S3 bucket policy document, matched per object key.
    policy: Option<Value>,
    /// S3 `RestrictPublicBuckets`: public policies have no effect.
    restrict_public_policy: bool,
    /// Findings that hold for every object (ACLs, Azure, GCS, unknown access, PAB off).
    bucket_wide: Vec<Finding>,
}

impl Exposure {
    /// No exposure information (HTTP files, the Hub).
    pub fn none() -> Exposure {
        Exposure::default()
    }

    /// Exposure of an S3 bucket from its policy (parsed JSON), ACL (XML) and Public Access Block
    /// (XML). `None` means "not set"; `failures` lists the calls that could not be made.
    pub fn s3(
        bucket: &str,
        policy: Option<Value>,
        acl_xml: Option<&str>,
        public_access_block_xml: Option<Option<&str>>,
        failures: Vec<String>,
    ) -> Exposure {
        let mut bucket_wide = Vec::new();
        let location = format!("s3://{bucket}");
        let mut ignore_public_acls = false;
        let mut restrict_public_policy = false;
        match public_access_block_xml {
            Some(Some(xml)) => {
                let setting = |name: &str| {
                    xml_text(xml, name).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
                };
                ignore_public_acls = setting("IgnorePublicAcls");
                restrict_public_policy = setting("RestrictPublicBuckets");
                let off: Vec<&str> = [
                    "BlockPublicAcls",
                    "IgnorePublicAcls",
                    "BlockPublicPolicy",
                    "RestrictPublicBuckets",
                ]
                .into_iter()
                .filter(|name| !setting(name))
                .collect();
                if !off.is_empty() {
                    bucket_wide.push(located(
                        Finding::new(
                            RuleId::StoragePublicAccessBlockOff,
                            format!("S3 Block Public Access settings off: {}", off.join(", ")),
                        ),
                        &location,
                    ));
                }
            }
            Some(None) => bucket_wide.push(located(
                Finding::new(
                    RuleId::StoragePublicAccessBlockOff,
                    "the bucket has no S3 Block Public Access configuration",
                ),
                &location,
            )),
            None => {}
        }
        if let Some(xml) = acl_xml
            && !ignore_public_acls
        {
            bucket_wide.extend(
                s3_acl_findings(xml)
                    .into_iter()
                    .map(|f| located(f, &format!("{location} ACL"))),
            );
        }
        if !failures.is_empty() {
            bucket_wide.push(access_unknown(&location, &failures));
        }
        Exposure {
            bucket: bucket.to_string(),
            policy,
            restrict_public_policy,
            bucket_wide,
        }
    }

    /// Exposure of an Azure container from its `x-ms-blob-public-access` value (`None`: private).
    pub fn azure(
        container_url: &str,
        public_access: Option<&str>,
        failures: Vec<String>,
    ) -> Exposure {
        let mut bucket_wide = Vec::new();
        match public_access.map(str::trim) {
            Some("container") => bucket_wide.push(Finding::new(
                RuleId::StoragePublicRead,
                "container public access level is `container`: anyone can list and read its blobs",
            )),
            Some("blob") => bucket_wide.push(Finding::new(
                RuleId::StoragePublicRead,
                "container public access level is `blob`: anyone can read its blobs by name",
            )),
            Some(other) if !other.is_empty() => bucket_wide.push(Finding::new(
                RuleId::StoragePublicRead,
                format!("container public access level is `{other}`"),
            )),
            _ => {}
        }
        let mut bucket_wide: Vec<Finding> = bucket_wide
            .into_iter()
            .map(|f| located(f, container_url))
            .collect();
        if !failures.is_empty() {
            bucket_wide.push(access_unknown(container_url, &failures));
        }
        Exposure {
            bucket_wide,
            ..Exposure::default()
        }
    }

    /// Exposure of a GCS bucket from its IAM policy document (`None` when it could not be read).
    pub fn gcs(bucket: &str, iam_policy: Option<&Value>, failures: Vec<String>) -> Exposure {
        let location = format!("gs://{bucket} IAM policy");
        let mut bucket_wide: Vec<Finding> = iam_policy
            .map(gcs_iam_findings)
            .unwrap_or_default()
            .into_iter()
            .map(|f| located(f, &location))
            .collect();
        if !failures.is_empty() {
            bucket_wide.push(access_unknown(&format!("gs://{bucket}"), &failures));
        }
        Exposure {
            bucket_wide,
            ..Exposure::default()
        }
    }

    /// The exposure findings that apply to the object `key`.
    pub fn findings_for(&self, key: &str) -> Vec<Finding> {
        let mut out = self.bucket_wide.clone();
        if let Some(policy) = &self.policy {
            let arn = format!("arn:aws:s3:::{}/{}", self.bucket, key);
            let location = format!("s3://{} bucket policy", self.bucket);
            for finding in s3_policy_findings(policy, &arn) {
                if self.restrict_public_policy {
                    // RestrictPublicBuckets: AWS ignores public grants of the policy.
                    continue;
                }
                out.push(finding.at(location.as_str()));
            }
        }
        out
    }
}

fn access_unknown(location: &str, failures: &[String]) -> Finding {
    located(
        Finding::new(
            RuleId::StorageAccessUnknown,
            format!(
                "could not read the bucket's access configuration ({}); whether anyone can replace this model is unknown",
                failures.join("; ")
            ),
        ),
        location,
    )
}

/// A string or an array of strings, as IAM policy fields are written.
fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// `*` and `?` wildcard match, iterative (no recursion, linear backtracking).
pub(crate) fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |c: char| {
        if ignore_case {
            c.to_ascii_lowercase()
        } else {
            c
        }
    };
    let p: Vec<char> = pattern.chars().map(fold).collect();
    let t: Vec<char> = text.chars().map(fold).collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi.min(p.len())..].iter().all(|&c| c == '*')
}

/// True when a statement's `Principal` covers anonymous users.
fn principal_is_public(principal: &Value) -> bool {
    match principal {
        Value::String(s) => s == "*",
        Value::Object(map) => map
            .get("AWS")
            .map(strings)
            .is_some_and(|list| list.contains(&"*")),
        _ => false,
    }
}

/// Does the statement's Action/NotAction cover `action`?
fn statement_covers_action(stmt: &Value, action: &str) -> bool {
    if let Some(actions) = stmt.get("Action") {
        strings(actions)
            .iter()
            .any(|p| wildcard_match(p, action, true))
    } else if let Some(not) = stmt.get("NotAction") {
        !strings(not).iter().any(|p| wildcard_match(p, action, true))
    } else {
        false
    }
}

/// Does the statement's Resource/NotResource cover `arn`?
fn statement_covers_resource(stmt: &Value, arn: &str) -> bool {
    if let Some(resources) = stmt.get("Resource") {
        strings(resources)
            .iter()
            .any(|p| wildcard_match(p, arn, false))
    } else if let Some(not) = stmt.get("NotResource") {
        !strings(not).iter().any(|p| wildcard_match(p, arn, false))
    } else {
        false
    }
}

fn has_condition(stmt: &Value) -> bool {
    stmt.get("Condition")
        .and_then(Value::as_object)
        .is_some_and(|c| !c.is_empty())
}

fn statement_name(stmt: &Value, index: usize) -> String {
    match stmt.get("Sid").and_then(Value::as_str) {
        Some(sid) if !sid.is_empty() => format!("`{sid}`"),
        _ => format!("#{}", index + 1),
    }
}

/// Public write and read grants of an S3 bucket policy that cover the object `arn`.
pub fn s3_policy_findings(policy: &Value, arn: &str) -> Vec<Finding> {
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    };
    #[derive(Default)]
    struct Access {
        unconditional: Vec<String>,
        conditional: Vec<String>,
        denied: bool,
    }
    let mut write = Access::default();
    let mut read = Access::default();
    for (index, stmt) in statements.iter().enumerate() {
        let public = stmt.get("Principal").is_some_and(principal_is_public)
            || stmt.get("NotPrincipal").is_some();
        if !public || !statement_covers_resource(stmt, arn) {
            continue;
        }
        let effect = stmt.get("Effect").and_then(Value::as_str).unwrap_or("");
        let conditional = has_condition(stmt);
        let name = statement_name(stmt, index);
        for (access, action) in [(&mut write, "s3:PutObject"), (&mut read, "s3:GetObject")] {
            if !statement_covers_action(stmt, action) {
                continue;
            }
            if effect.eq_ignore_ascii_case("Deny") {
                access.denied |= !conditional;
            } else if effect.eq_ignore_ascii_case("Allow") {
                if conditional {
                    access.conditional.push(name.clone());
                } else {
                    access.unconditional.push(name.clone());
                }
            }
        }
    }
    let mut out = Vec::new();
    if !write.denied {
        if !write.unconditional.is_empty() {
            out.push(Finding::new(
                RuleId::StoragePublicWrite,
                format!(
                    "bucket policy lets anyone write this object (s3:PutObject to Principal \"*\", statement {}): anyone can replace this model",
                    write.unconditional.join(", ")
                ),
            ));
        } else if !write.conditional.is_empty() {
            let finding = Finding::new(
                RuleId::StoragePublicWrite,
                format!(
                    "bucket policy lets anyone write this object under conditions (s3:PutObject to Principal \"*\" with a Condition, statement {}): review who meets them",
                    write.conditional.join(", ")
                ),
            );
            out.push(finding.with_severity(Severity::High));
        }
    }
    let read_granted = !read.unconditional.is_empty() || !read.conditional.is_empty();
    if !read.denied && read_granted {
        let mut names = read.unconditional.clone();
        names.extend(read.conditional.iter().cloned());
        let when = if read.unconditional.is_empty() {
            " under conditions"
        } else {
            ""
        };
        out.push(Finding::new(
            RuleId::StoragePublicRead,
            format!(
                "bucket policy lets anyone read this object{when} (s3:GetObject to Principal \"*\", statement {})",
                names.join(", ")
            ),
        ));
    }
    out
}

/// The text of the first `<tag>…</tag>` in `xml` (tags without attributes; no nesting needed).
pub(crate) fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(&xml[start..start + len])
}

/// Public grants of an S3 ACL (`GetBucketAcl` XML).
pub fn s3_acl_findings(xml: &str) -> Vec<Finding> {
    let mut write = Vec::new();
    let mut read = Vec::new();
    for grant in xml.split("<Grant>").skip(1) {
        let grant = grant.split("</Grant>").next().unwrap_or("");
        let Some(uri) = xml_text(grant, "URI") else {
            continue;
        };
        let group = if uri.ends_with("/global/AllUsers") {
            "AllUsers (anyone)"
        } else if uri.ends_with("/global/AuthenticatedUsers") {
            "AuthenticatedUsers (any AWS account)"
        } else {
            continue;
        };
        let permission = xml_text(grant, "Permission").unwrap_or("").trim();
        match permission {
            "WRITE" | "FULL_CONTROL" | "WRITE_ACP" => {
                write.push(format!("{permission} to {group}"))
            }
            "READ" | "READ_ACP" => read.push(format!("{permission} to {group}")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if !write.is_empty() {
        out.push(Finding::new(
            RuleId::StoragePublicWrite,
            format!(
                "bucket ACL grants {}: anyone can replace this model",
                write.join(", ")
            ),
        ));
    }
    if !read.is_empty() {
        out.push(Finding::new(
            RuleId::StoragePublicRead,
            format!("bucket ACL grants {}", read.join(", ")),
        ));
    }
    out
}

const GCS_WRITE_ROLES: &[&str] = &[
    "roles/storage.objectCreator",
    "roles/storage.objectAdmin",
    "roles/storage.objectUser",
    "roles/storage.admin",
    "roles/storage.legacyBucketWriter",
    "roles/storage.legacyBucketOwner",
];

/// Public grants of a GCS bucket IAM policy (`storage/v1/b/{bucket}/iam` JSON).
pub fn gcs_iam_findings(policy: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    let bindings = policy
        .get("bindings")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for binding in &bindings {
        let role = binding.get("role").and_then(Value::as_str).unwrap_or("");
        let public: Vec<&str> = binding
            .get("members")
            .map(strings)
            .unwrap_or_default()
            .into_iter()
            .filter(|m| *m == "allUsers" || *m == "allAuthenticatedUsers")
            .collect();
        if public.is_empty() {
            continue;
        }
        let who = public.join(", ");
        let conditional = binding
            .get("condition")
            .is_some_and(|c| !c.is_null() && c.as_object().is_none_or(|o| !o.is_empty()));
        if GCS_WRITE_ROLES.contains(&role) {
            let mut finding = Finding::new(
                RuleId::StoragePublicWrite,
                if conditional {
                    format!(
                        "IAM binds {role} to {who} under a condition: anyone meeting it can replace this model"
                    )
                } else {
                    format!("IAM binds {role} to {who}: anyone can replace this model")
                },
            );
            if conditional {
                finding = finding.with_severity(Severity::High);
            }
            out.push(finding);
        } else {
            out.push(Finding::new(
                RuleId::StoragePublicRead,
                format!(
                    "IAM binds {role} to {who}{}",
                    if conditional {
                        " under a condition"
                    } else {
                        ""
                    }
                ),
            ));
        }
    }
    out
}

fn located(finding: Finding, location: &str) -> Finding {
    finding.at(location)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(findings: &[Finding]) -> Vec<(&'static str, Severity)> {
        findings
            .iter()
            .map(|f| (f.rule_id.as_str(), f.severity))
            .collect()
    }

    const ARN: &str = "arn:aws:s3:::models/team/a/model.pt";

    #[test]
    fn wildcards() {
        assert!(wildcard_match("s3:Put*", "s3:PutObject", true));
        assert!(wildcard_match("S3:*", "s3:PutObject", true));
        assert!(wildcard_match("*", "", false));
        assert!(wildcard_match("arn:aws:s3:::models/*", ARN, false));
        assert!(wildcard_match("arn:aws:s3:::models/team/?/*", ARN, false));
        assert!(!wildcard_match("arn:aws:s3:::models/other/*", ARN, false));
        assert!(!wildcard_match("arn:aws:s3:::models", ARN, false));
        assert!(!wildcard_match("s3:Get*", "s3:PutObject", true));
        assert!(wildcard_match("a*b*c", "aXXbYYc", false));
        assert!(!wildcard_match("a*b*c", "aXXbYY", false));
    }

    #[test]
    fn anonymous_put_is_critical_and_scoped_to_its_resource() {
        let policy = json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "anyone-upload", "Effect": "Allow", "Principal": "*",
            "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::models/team/*"
        }]});
        let f = s3_policy_findings(&policy, ARN);
        assert_eq!(rules(&f), [("STORAGE-PUBLIC-WRITE", Severity::Critical)]);
        assert!(f[0].message.contains("`anyone-upload`"));
        assert!(s3_policy_findings(&policy, "arn:aws:s3:::models/other/x.pt").is_empty());
    }

    #[test]
    fn principal_forms_actions_and_conditions() {
        for principal in [
            json!("*"),
            json!({"AWS": "*"}),
            json!({"AWS": ["arn:x", "*"]}),
        ] {
            for action in [json!("s3:*"), json!("s3:Put*"), json!("*")] {
                let policy = json!({"Statement": {"Effect": "Allow", "Principal": principal,
                    "Action": action, "Resource": "arn:aws:s3:::models/*"}});
                let f = s3_policy_findings(&policy, ARN);
                assert!(
                    f.iter().any(|f| f.rule_id == RuleId::StoragePublicWrite
                        && f.severity == Severity::Critical),
                    "{policy}"
                );
            }
        }
        let conditional = json!({"Statement": [{"Effect": "Allow", "Principal": "*",
            "Action": "s3:PutObject", "Resource": "arn:aws:s3:::models/*",
            "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}]});
        assert_eq!(
            rules(&s3_policy_findings(&conditional, ARN)),
            [("STORAGE-PUBLIC-WRITE", Severity::High)]
        );
        let named = json!({"Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "s3:*", "Resource": "arn:aws:s3:::models/*"}]});
        assert!(s3_policy_findings(&named, ARN).is_empty());
        let read_only = json!({"Statement": [{"Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::models/*"}]});
        assert_eq!(
            rules(&s3_policy_findings(&read_only, ARN)),
            [("STORAGE-PUBLIC-READ", Severity::Medium)]
        );
    }

    #[test]
    fn unconditional_deny_cancels_and_not_action_counts() {
        let policy = json!({"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"}
        ]});
        assert_eq!(
            rules(&s3_policy_findings(&policy, ARN)),
            [("STORAGE-PUBLIC-READ", Severity::Medium)]
        );
        let not_action = json!({"Statement": [{"Effect": "Allow", "Principal": "*",
            "NotAction": "s3:DeleteObject", "Resource": "arn:aws:s3:::models/*"}]});
        let got = rules(&s3_policy_findings(&not_action, ARN));
        assert!(got.contains(&("STORAGE-PUBLIC-WRITE", Severity::Critical)));
    }

    #[test]
    fn acl_grants() {
        let xml = r#"<AccessControlPolicy><Owner><ID>o</ID></Owner><AccessControlList>
            <Grant><Grantee xsi:type="CanonicalUser"><ID>o</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>
            <Grant><Grantee xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>WRITE</Permission></Grant>
            <Grant><Grantee xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AuthenticatedUsers</URI></Grantee><Permission>READ</Permission></Grant>
            </AccessControlList></AccessControlPolicy>"#;
        let f = s3_acl_findings(xml);
        assert_eq!(
            rules(&f),
            [
                ("STORAGE-PUBLIC-WRITE", Severity::Critical),
                ("STORAGE-PUBLIC-READ", Severity::Medium)
            ]
        );
        let private = xml
            .replace("global/AllUsers", "x")
            .replace("global/AuthenticatedUsers", "y");
        assert!(s3_acl_findings(&private).is_empty());
    }

    #[test]
    fn public_access_block_and_unknown_access() {
        let on = "<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>";
        let policy = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"}]});
        let e = Exposure::s3("models", Some(policy.clone()), None, Some(Some(on)), vec![]);
        assert!(
            e.findings_for("a.pt").is_empty(),
            "RestrictPublicBuckets neutralises it"
        );
        let e = Exposure::s3("models", Some(policy), None, Some(None), vec![]);
        assert_eq!(
            rules(&e.findings_for("a.pt")),
            [
                ("STORAGE-PUBLIC-ACCESS-BLOCK-OFF", Severity::Info),
                ("STORAGE-PUBLIC-WRITE", Severity::Critical)
            ]
        );
        let e = Exposure::s3(
            "models",
            None,
            None,
            None,
            vec!["GetBucketPolicy: 403".into()],
        );
        assert_eq!(
            rules(&e.findings_for("a.pt")),
            [("STORAGE-ACCESS-UNKNOWN", Severity::Low)]
        );
    }

    #[test]
    fn gcs_iam_bindings() {
        let policy = json!({"bindings": [
            {"role": "roles/storage.objectViewer", "members": ["allUsers"]},
            {"role": "roles/storage.objectCreator", "members": ["allAuthenticatedUsers"]},
            {"role": "roles/storage.objectAdmin", "members": ["user:a@example.com"]},
            {"role": "roles/storage.legacyBucketWriter", "members": ["allUsers"],
             "condition": {"title": "t", "expression": "request.time < timestamp('2030-01-01T00:00:00Z')"}}
        ]});
        assert_eq!(
            rules(&gcs_iam_findings(&policy)),
            [
                ("STORAGE-PUBLIC-READ", Severity::Medium),
                ("STORAGE-PUBLIC-WRITE", Severity::Critical),
                ("STORAGE-PUBLIC-WRITE", Severity::High)
            ]
        );
        assert!(
            gcs_iam_findings(&json!({"bindings": [
            {"role": "roles/storage.admin", "members": ["projectOwner:p"]}]}))
            .is_empty()
        );
    }

    #[test]
    fn azure_levels() {
        let url = "http://127.0.0.1/acct/c";
        assert!(
            Exposure::azure(url, None, vec![])
                .findings_for("x")
                .is_empty()
        );
        for level in ["blob", "container"] {
            assert_eq!(
                rules(&Exposure::azure(url, Some(level), vec![]).findings_for("x")),
                [("STORAGE-PUBLIC-READ", Severity::Medium)]
            );
        }
    }
}
