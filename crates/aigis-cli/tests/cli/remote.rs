//! Remote scanning against REAL servers on loopback: moto's S3 server (`AIGIS_MOTO_SERVER`),
//! Azurite (`AIGIS_AZURITE`) and a Hub look-alike (`scripts/remote/hf_hub_server.py`). `.ci/run`
//! installs the first two under `target/ci-tools`. A test whose server is missing is skipped
//! with a message, except under `CI`, where it fails.

use crate::support::repo_root;
use aigis_testkit::Tool;
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) const AZ_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Malicious fixtures of several formats, each made by the repo's generator scripts.
const TABLE: &[&str] = &[
    "torch/data_pkl_replaced.pt",
    "torch/legacy_protocol_payload.pt",
    "zip/local_central_name_mismatch.pt",
    "joblib/array_then_payload_zlib.joblib",
    "numpy/object_payload.npz",
    "archives/payload.tar.gz",
    "gguf/ssti_buried.gguf",
];

/// A server process, killed (and reaped) on drop.
pub(crate) struct Server {
    child: Child,
    pub(crate) port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

fn start(mut command: Command, port: u16, dir: tempfile::TempDir, what: &str) -> Server {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let server = Server {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

pub(crate) fn moto() -> Option<(Server, PathBuf)> {
    let bin = Tool::MotoServer.path();
    let python = bin.with_file_name("python");
    let port = free_port();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = Command::new(&bin);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    Some((start(cmd, port, dir, "moto_server"), python))
}

pub(crate) fn azurite() -> Option<Server> {
    let bin = Tool::Azurite.path();
    let port = free_port();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = Command::new(&bin);
    cmd.args([
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        &port.to_string(),
        "--skipApiVersionCheck",
        "--loose",
        "--silent",
        "--location",
    ])
    .arg(dir.path());
    Some(start(cmd, port, dir, "azurite-blob"))
}

/// The Hub look-alike serving `root` (a folder of `org/name/` repositories).
fn hub(root: &Path, token: Option<&str>) -> Server {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = Command::new("python3");
    cmd.arg(repo_root().join("scripts/remote/hf_hub_server.py"))
        .args(["--port", &port.to_string(), "--root"])
        .arg(root);
    if let Some(token) = token {
        cmd.args(["--token", token]);
    }
    start(cmd, port, dir, "hf_hub_server.py")
}

/// Uploads `file` as blob `name` of `container` on the Azurite at `endpoint`.
pub(crate) fn az_put(endpoint: &str, container: &str, name: &str, file: &Path) {
    seed(
        Path::new("python3"),
        &[
            "az-put",
            "--endpoint",
            endpoint,
            "--container",
            container,
            "--name",
            name,
            "--file",
            &file.to_string_lossy(),
        ],
    );
}

/// Creates `container` on the Azurite at `endpoint`, with `public` access (`container`, `blob`)
/// or private.
pub(crate) fn az_container(endpoint: &str, container: &str, public: Option<&str>) {
    let mut args = vec![
        "az-container",
        "--endpoint",
        endpoint,
        "--container",
        container,
    ];
    if let Some(access) = public {
        args.extend(["--public", access]);
    }
    seed(Path::new("python3"), &args);
}

pub(crate) fn seed(python: &Path, args: &[&str]) {
    let out = Command::new(python)
        .arg(repo_root().join("scripts/remote/seed.py"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("seed.py: {e}"));
    assert!(
        out.status.success(),
        "seed.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `aigis scan --format json ARGS` with `env` (cloud variables cleared first).
fn aigis_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aigis"));
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") || name.starts_with("AZURE_") || name.starts_with("HF_") {
            cmd.env_remove(name);
        }
    }
    cmd.args(["scan", "--format", "json"])
        .args(args)
        .envs(env.iter().copied());
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run aigis: {e}"))
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn results(doc: &Value) -> Vec<Value> {
    doc["results"].as_array().cloned().unwrap_or_default()
}

pub(crate) fn s3_env() -> [(&'static str, &'static str); 3] {
    [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ]
}

/// (rule, severity, message, location) of every finding that is about the content (exposure
/// findings depend on where the file is stored and are left out).
fn content_findings(result: &Value) -> BTreeSet<(String, String, String, String)> {
    result["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| !f["rule_id"].as_str().unwrap_or("").starts_with("STORAGE-"))
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
            (s("rule_id"), s("severity"), s("message"), s("location"))
        })
        .collect()
}

fn rules_of(result: &Value) -> Vec<(String, String)> {
    result["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or("").to_string(),
                f["severity"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

pub(crate) fn s3_one_gigabyte_checkpoint_is_scanned_with_range_reads() {
    let Some((server, python)) = moto() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", server.port);
    let pickle_from = repo_root().join("fixtures/torch/data_pkl_replaced.pt");
    let started = Instant::now();
    seed(
        &python,
        &["s3-bucket", "--endpoint", &endpoint, "--bucket", "big"],
    );
    seed(
        &python,
        &[
            "s3-big-torch",
            "--endpoint",
            &endpoint,
            "--bucket",
            "big",
            "--key",
            "ckpt/model.pt",
            "--size",
            &(1u64 << 30).to_string(),
            "--pickle-from",
            &pickle_from.to_string_lossy(),
        ],
    );
    let uploaded = started.elapsed();
    let started = Instant::now();
    let out = aigis_env(&["--endpoint", &endpoint, "s3://big/ckpt"], &s3_env());
    let scanned = started.elapsed();
    let doc = json_of(&out);
    let all = results(&doc);
    assert_eq!(all.len(), 1, "{doc}");
    let r = &all[0];
    eprintln!(
        "1 GiB checkpoint: upload {uploaded:?}, scan {scanned:?}, bytes_read {}",
        r["bytes_read"]
    );
    assert_eq!(r["path"], "s3://big/ckpt/model.pt");
    assert_eq!(r["format"], "pytorch-zip");
    assert!(r["size"].as_u64().unwrap_or(0) > 1 << 30);
    assert_eq!(r["max_severity"], "critical", "{r}");
    assert!(
        rules_of(r).contains(&("PICKLE-CALL-DANGEROUS".into(), "critical".into())),
        "{r}"
    );
    let read = r["bytes_read"].as_u64().unwrap_or(u64::MAX);
    assert!(read > 0 && read < 1_000_000, "bytes_read {read}");
    assert_eq!(r["source"]["kind"], "s3");
    assert_eq!(r["source"]["key"], "ckpt/model.pt");
    assert!(r["source"]["etag"].is_string(), "{r}");
    assert!(
        r.get("sha256").is_none(),
        "remote objects are not hashed by default"
    );
    assert_eq!(out.status.code(), Some(1));
}

pub(crate) fn s3_public_write_policy_marks_every_model_under_it() {
    let Some((server, python)) = moto() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", server.port);
    let fixtures = repo_root().join("fixtures");
    seed(
        &python,
        &["s3-bucket", "--endpoint", &endpoint, "--bucket", "open"],
    );
    for (key, file) in [
        ("models/a/state.pt", "torch/state_dict.pt"),
        ("models/b/payload.pkl", "pickle/os_system_p2.pkl"),
        ("other/state.pt", "torch/state_dict.pt"),
    ] {
        seed(
            &python,
            &[
                "s3-put",
                "--endpoint",
                &endpoint,
                "--bucket",
                "open",
                "--key",
                key,
                "--file",
                &fixtures.join(file).to_string_lossy(),
            ],
        );
    }
    let policy = |condition: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"AnyoneUploads","Effect":"Allow","Principal":"*","Action":["s3:PutObject"],"Resource":"arn:aws:s3:::open/models/*"{condition}}}]}}"#
        )
    };
    let scan = || {
        let out = aigis_env(&["--endpoint", &endpoint, "s3://open"], &s3_env());
        let doc = json_of(&out);
        results(&doc)
            .into_iter()
            .map(|r| (r["path"].as_str().unwrap_or("").to_string(), rules_of(&r)))
            .collect::<Vec<_>>()
    };
    let write = |severity: &str| ("STORAGE-PUBLIC-WRITE".to_string(), severity.to_string());

    // Sets (`--json POLICY`) or deletes (`--delete`) the bucket policy of `open`.
    let set_policy = |change: &[&str]| {
        let mut args = vec!["s3-policy", "--endpoint", &endpoint, "--bucket", "open"];
        args.extend_from_slice(change);
        seed(&python, &args);
    };
    set_policy(&["--json", &policy("")]);
    let with_grant = scan();
    assert_eq!(with_grant.len(), 3, "{with_grant:?}");
    for (path, rules) in &with_grant {
        let under_grant = path.starts_with("s3://open/models/");
        assert_eq!(
            rules.contains(&write("critical")),
            under_grant,
            "{path}: {rules:?}"
        );
        // moto answers GetPublicAccessBlock with "not configured": context, not an alarm.
        assert!(
            rules.contains(&("STORAGE-PUBLIC-ACCESS-BLOCK-OFF".into(), "info".into())),
            "{path}: {rules:?}"
        );
        assert!(
            !rules.iter().any(|(r, _)| r == "STORAGE-ACCESS-UNKNOWN"),
            "{rules:?}"
        );
    }

    let conditional = policy(r#","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#);
    set_policy(&["--json", &conditional]);
    for (path, rules) in scan() {
        let under_grant = path.starts_with("s3://open/models/");
        assert_eq!(
            rules.contains(&write("high")),
            under_grant,
            "{path}: {rules:?}"
        );
        assert!(!rules.contains(&write("critical")), "{path}: {rules:?}");
    }

    set_policy(&["--delete"]);
    let without = scan();
    assert_eq!(without.len(), 3);
    for (path, rules) in &without {
        assert!(
            !rules.iter().any(|(r, _)| r == "STORAGE-PUBLIC-WRITE"),
            "{path}: {rules:?}"
        );
    }
}

pub(crate) fn s3_without_permission_to_read_the_configuration_says_so() {
    let Some((server, python)) = moto() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", server.port);
    seed(
        &python,
        &["s3-bucket", "--endpoint", &endpoint, "--bucket", "anon"],
    );
    let file = repo_root().join("fixtures/torch/state_dict.pt");
    seed(
        &python,
        &[
            "s3-put",
            "--endpoint",
            &endpoint,
            "--bucket",
            "anon",
            "--key",
            "m.pt",
            "--file",
            &file.to_string_lossy(),
        ],
    );
    // Unsigned requests: the objects are read, the configuration cannot be.
    let out = aigis_env(
        &["--endpoint", &endpoint, "s3://anon"],
        &[("AWS_SKIP_SIGNATURE", "true"), ("AWS_REGION", "us-east-1")],
    );
    let doc = json_of(&out);
    let all = results(&doc);
    assert_eq!(all.len(), 1, "{doc}");
    assert!(
        rules_of(&all[0]).contains(&("STORAGE-ACCESS-UNKNOWN".into(), "low".into())),
        "{}",
        all[0]
    );
}

pub(crate) fn same_findings_from_local_disk_s3_azure_and_the_hub() {
    let moto = moto();
    let azurite = azurite();
    let fixtures = repo_root().join("fixtures");

    // Local disk: the reference.
    let local_paths: Vec<String> = TABLE
        .iter()
        .map(|f| fixtures.join(f).to_string_lossy().into_owned())
        .collect();
    let args: Vec<&str> = local_paths.iter().map(String::as_str).collect();
    let unordered = results(&json_of(&aigis_env(&args, &[])));
    assert_eq!(unordered.len(), TABLE.len());
    // Local results come sorted by path: put them in TABLE order.
    let local: Vec<Value> = local_paths
        .iter()
        .map(|p| {
            unordered
                .iter()
                .find(|r| r["path"] == p.as_str())
                .cloned()
                .unwrap_or_else(|| panic!("no local result for {p}"))
        })
        .collect();
    let reference: Vec<_> = local.iter().map(content_findings).collect();
    for (file, findings) in TABLE.iter().zip(&reference) {
        assert!(
            findings.iter().any(|f| f.1 == "critical" || f.1 == "high"),
            "{file}: {findings:?}"
        );
    }
    let flat = |name: &str| name.replace('/', "__");
    let check = |source: &str, remote: &[Value], prefix: &str| {
        assert_eq!(remote.len(), TABLE.len(), "{source}: {remote:?}");
        for (i, file) in TABLE.iter().enumerate() {
            let path = format!("{prefix}{}", flat(file));
            let r = remote
                .iter()
                .find(|r| r["path"] == path.as_str())
                .unwrap_or_else(|| panic!("{source}: no result for {path}"));
            assert_eq!(r["format"], local[i]["format"], "{source} {file}");
            assert_eq!(r["status"], local[i]["status"], "{source} {file}");
            assert_eq!(content_findings(r), reference[i], "{source} {file}");
            assert!(r["bytes_read"].as_u64().unwrap_or(0) > 0, "{source} {file}");
        }
    };

    // Hugging Face Hub look-alike (needs only python3).
    let hub_root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let repo_dir = hub_root.path().join("acme/tiny-model");
    std::fs::create_dir_all(&repo_dir).unwrap_or_else(|e| panic!("{e}"));
    for file in TABLE {
        std::fs::copy(fixtures.join(file), repo_dir.join(flat(file)))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let server = hub(hub_root.path(), Some("hf_test_token"));
    let endpoint = format!("http://127.0.0.1:{}", server.port);
    let out = aigis_env(
        &["hf://acme/tiny-model"],
        &[("HF_ENDPOINT", &endpoint), ("HF_TOKEN", "hf_test_token")],
    );
    let hub_results = results(&json_of(&out));
    check("hf", &hub_results, "hf://acme/tiny-model@main/");
    let first = &hub_results[0];
    assert_eq!(first["source"]["kind"], "huggingface");
    assert_eq!(first["source"]["repo"], "acme/tiny-model");
    assert_eq!(first["source"]["revision"], "main");
    assert_eq!(
        first["source"]["commit"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert!(
        first["path"]
            .as_str()
            .is_some_and(|p| p.ends_with(first["source"]["file"].as_str().unwrap_or("?")))
    );
    // Without the token the gated repository cannot be listed: a clear error, exit 2.
    let denied = aigis_env(&["hf://acme/tiny-model"], &[("HF_ENDPOINT", &endpoint)]);
    assert_eq!(denied.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&denied.stderr).contains("HTTP 401"));

    if let Some((server, python)) = &moto {
        let endpoint = format!("http://127.0.0.1:{}", server.port);
        seed(
            python,
            &["s3-bucket", "--endpoint", &endpoint, "--bucket", "table"],
        );
        for file in TABLE {
            let key = format!("m/{}", flat(file));
            seed(
                python,
                &[
                    "s3-put",
                    "--endpoint",
                    &endpoint,
                    "--bucket",
                    "table",
                    "--key",
                    &key,
                    "--file",
                    &fixtures.join(file).to_string_lossy(),
                ],
            );
        }
        let out = aigis_env(&["--endpoint", &endpoint, "s3://table/m/"], &s3_env());
        check("s3", &results(&json_of(&out)), "s3://table/m/");
    }

    if let Some(server) = &azurite {
        let endpoint = format!("http://127.0.0.1:{}/devstoreaccount1", server.port);
        let python = Path::new("python3");
        az_container(&endpoint, "models", None);
        for file in TABLE {
            az_put(&endpoint, "models", &flat(file), &fixtures.join(file));
        }
        let env = [
            ("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1"),
            ("AZURE_STORAGE_ACCOUNT_KEY", AZ_KEY),
        ];
        let out = aigis_env(&["--endpoint", &endpoint, "az://models"], &env);
        let az = results(&json_of(&out));
        check("azure", &az, "az://models/");
        // A private container: no exposure finding, and the configuration was readable.
        for r in &az {
            assert!(
                !rules_of(r)
                    .iter()
                    .any(|(rule, _)| rule.starts_with("STORAGE-")),
                "{r}"
            );
        }
        // The same container made publicly readable.
        az_container(&endpoint, "public", Some("container"));
        let file = fixtures.join(TABLE[0]);
        seed(
            python,
            &[
                "az-put",
                "--endpoint",
                &endpoint,
                "--container",
                "public",
                "--name",
                "m.pt",
                "--file",
                &file.to_string_lossy(),
            ],
        );
        let out = aigis_env(&["--endpoint", &endpoint, "abfs://public"], &env);
        let public = results(&json_of(&out));
        assert_eq!(public.len(), 1);
        assert!(
            rules_of(&public[0]).contains(&("STORAGE-PUBLIC-READ".into(), "medium".into())),
            "{}",
            public[0]
        );
    }
}

pub(crate) fn one_failing_object_does_not_stop_the_scan() {
    let hub_root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let repo_dir = hub_root.path().join("acme/m");
    std::fs::create_dir_all(&repo_dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(
        repo_root().join("fixtures/pickle/os_system_p2.pkl"),
        repo_dir.join("p.pkl"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let server = hub(hub_root.path(), None);
    let base = format!("http://127.0.0.1:{}/cdn/acme/m", server.port);
    let out = aigis_env(
        &[&format!("{base}/missing.pkl"), &format!("{base}/p.pkl")],
        &[],
    );
    // The missing file is an `error` result with READ-ERROR; the other one is still scanned.
    let doc = json_of(&out);
    let all = results(&doc);
    assert_eq!(all.len(), 2, "{doc}");
    assert_eq!(all[0]["status"], "error", "{}", all[0]);
    assert!(
        rules_of(&all[0]).contains(&("READ-ERROR".into(), "medium".into())),
        "{}",
        all[0]
    );
    assert_eq!(all[1]["status"], "ok", "{}", all[1]);
    assert_eq!(all[1]["max_severity"], "critical", "{}", all[1]);
    assert_eq!(out.status.code(), Some(1));
    // In SARIF a remote object keeps its absolute URI, never a checkout-relative path.
    let sarif_file = hub_root.path().join("out.sarif");
    let spec = format!("sarif={}", sarif_file.display());
    aigis_env(&["--output", &spec, &format!("{base}/p.pkl")], &[]);
    let sarif: Value = serde_json::from_slice(&std::fs::read(&sarif_file).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let location = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    let uri = location["artifactLocation"]["uri"].as_str().unwrap_or("");
    assert!(uri.starts_with("http://127.0.0.1:"), "{location}");
    assert!(
        location["artifactLocation"]["uriBaseId"].is_null(),
        "{location}"
    );
}

/// Remote errors a person can act on: no credentials (said at once, no metadata-endpoint wait),
/// a bucket that does not exist, a prefix with nothing under it (a failure unless
/// `--allow-empty`), `--anonymous` for a public bucket, and a server that ignores `Range`.
pub(crate) fn remote_errors_say_what_to_do() {
    let started = Instant::now();
    let out = aigis_env(&["s3://some-bucket/models/"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no credentials found for s3") && err.contains("--anonymous"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "asked a metadata endpoint?"
    );

    let Some((server, python)) = moto() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", server.port);
    let out = aigis_env(&["--endpoint", &endpoint, "s3://no-such-bucket"], &s3_env());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("does not exist"), "{err}");

    seed(
        &python,
        &["s3-bucket", "--endpoint", &endpoint, "--bucket", "quiet"],
    );
    let out = aigis_env(
        &["--endpoint", &endpoint, "s3://quiet/nothing-here/"],
        &s3_env(),
    );
    assert_eq!(out.status.code(), Some(3), "an empty prefix is not a pass");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to scan"));
    let out = aigis_env(
        &[
            "--allow-empty",
            "--endpoint",
            &endpoint,
            "s3://quiet/nothing-here/",
        ],
        &s3_env(),
    );
    assert_eq!(out.status.code(), Some(0));

    let file = repo_root().join("fixtures/pickle/os_system_p2.pkl");
    seed(
        &python,
        &[
            "s3-put",
            "--endpoint",
            &endpoint,
            "--bucket",
            "quiet",
            "--key",
            "p.pkl",
            "--file",
            &file.to_string_lossy(),
        ],
    );
    // A public bucket: anyone may read its objects.
    let public_read = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::quiet/*"}]}"#;
    seed(
        &python,
        &[
            "s3-policy",
            "--endpoint",
            &endpoint,
            "--bucket",
            "quiet",
            "--json",
            public_read,
        ],
    );
    let out = aigis_env(
        &["--anonymous", "--endpoint", &endpoint, "s3://quiet"],
        &[("AWS_REGION", "us-east-1")],
    );
    let doc = json_of(&out);
    assert_eq!(results(&doc)[0]["max_severity"], "critical", "{doc}");

    // Python's http.server ignores Range: the object is fetched whole instead.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(&file, dir.path().join("p.pkl")).unwrap_or_else(|e| panic!("{e}"));
    let port = free_port();
    let mut cmd = Command::new("python3");
    cmd.args([
        "-m",
        "http.server",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
    ])
    .current_dir(dir.path());
    let plain = start(
        cmd,
        port,
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
        "http.server",
    );
    let out = aigis_env(&[&format!("http://127.0.0.1:{}/p.pkl", plain.port)], &[]);
    let doc = json_of(&out);
    assert_eq!(results(&doc)[0]["max_severity"], "critical", "{doc}");
}
