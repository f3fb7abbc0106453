//! The API over real HTTP: a server on loopback over a fresh SQLite inventory, a real client.

use aigis_server::{ServerConfig, router, serve};
use aigis_store::Store;
use aigis_testkit::{Test, Tool};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn main() -> std::process::ExitCode {
    aigis_testkit::run(vec![
        Test::new(
            "health_and_an_openapi_document_that_names_every_route",
            || with_server(ServerConfig::default(), health_and_openapi),
        ),
        Test::new(
            "ingest_needs_an_ingest_token_and_a_bad_document_changes_nothing",
            || with_server(small_bodies(), ingest_and_its_failures),
        ),
        Test::new(
            "models_page_with_a_cursor_and_a_model_reads_in_full",
            || with_server(ServerConfig::default(), models_and_model),
        ),
        Test::new(
            "triage_needs_admin_and_reads_need_a_token_when_exposed",
            || {
                with_server(
                    ServerConfig {
                        reads_need_token: true,
                        ..ServerConfig::default()
                    },
                    triage_and_exposed_reads,
                )
            },
        ),
        Test::new(
            "dependency_track_bom_uploads_with_an_api_key_and_the_inventory_exports_as_a_bom",
            || with_server(ServerConfig::default(), bom_upload_and_export),
        ),
        Test::new(
            "the_dashboard_is_served_from_the_binary_under_a_strict_content_security_policy",
            || with_server(ServerConfig::default(), dashboard_assets),
        ),
        Test::new("the_work_queues_show_depth_leases_and_dead_letters", || {
            with_server(ServerConfig::default(), jobs_view)
        }),
        Test::new("client_mistakes_are_json_4xx_never_5xx", || {
            with_server(ServerConfig::default(), client_mistakes)
        }),
        Test::new(
            "schemathesis_fuzzing_the_openapi_document_finds_no_5xx_and_no_mismatch",
            || with_server(small_bodies(), fuzzed_from_the_openapi_document),
        )
        .needs(Tool::Schemathesis),
    ])
}

fn small_bodies() -> ServerConfig {
    ServerConfig {
        max_body: 64 << 10,
        ..ServerConfig::default()
    }
}

struct Server {
    base: String,
    store: Store,
    client: reqwest::Client,
}

impl Server {
    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(request).await
    }
    async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        self.post_raw(path, token, body.to_string().into_bytes())
            .await
    }
    async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(request).await
    }
    async fn token(&self, name: &str, scopes: &[&str]) -> String {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        self.store
            .create_token(name, &scopes)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"));
    (status, value)
}

/// Runs `body` against a server with `config` on a fresh inventory.
fn with_server<F, Fut>(config: ServerConfig, body: F)
where
    F: FnOnce(Server) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let url = format!("sqlite:{}", dir.path().join("inventory.db").display());
        let store = Store::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let base = format!(
            "http://{}",
            listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(store.clone(), config);
        let server = tokio::spawn(serve(listener, app, async {
            let _ = stopped.await;
        }));
        body(Server {
            base,
            store,
            client: reqwest::Client::new(),
        })
        .await;
        let _ = stop.send(());
        server
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));
    });
}

fn report(results: Vec<Value>) -> Value {
    json!({"schema_version": 1, "tool": {"name": "aigis", "version": "0.1.0"},
           "targets": ["/srv/models"], "results": results})
}

fn pickle(path: &str, sha: char, severity: &str) -> Value {
    let findings = if severity == "none" {
        json!([])
    } else {
        json!([{"rule_id": "PICKLE-CALL-DANGEROUS", "severity": severity,
                "message": "calls os.system('<script>alert(1)</script>')"}])
    };
    json!({"path": path, "format": "pickle", "size": 10, "sha256": sha.to_string().repeat(64),
           "status": "ok", "content_severity": if severity == "none" { Value::Null } else { json!(severity) },
           "findings": findings})
}

async fn health_and_openapi(server: Server) {
    let (status, body) = server.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["schema_version"], 4);
    let (status, doc) = server.get("/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    for path in [
        "/healthz",
        "/api/v1/models",
        "/api/v1/models/{id}",
        "/api/v1/findings",
        "/api/v1/findings/{id}/triage",
        "/api/v1/scans",
        "/api/v1/changes",
        "/api/v1/jobs",
        "/api/v1/graph",
        "/api/v1/paths",
        "/api/v1/bom",
        "/api/v1/bom/token/{token}",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the document"
        );
    }
    assert!(doc["paths"]["/api/v1/scans"]["post"].is_object());
    assert!(doc["components"]["schemas"]["ModelDetail"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

async fn ingest_and_its_failures(server: Server) {
    let doc = report(vec![
        pickle("/srv/models/evil.pkl", 'a', "critical"),
        pickle("/srv/models/ok.pkl", 'b', "none"),
    ]);
    // No token, a read token, an unknown token.
    let (status, body) = server.post("/api/v1/scans", None, &doc).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("ingest"))
    );
    let read = server.token("dashboard", &["read"]).await;
    let (status, _) = server.post("/api/v1/scans", Some(&read), &doc).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server
        .post("/api/v1/scans", Some("aigis_forged"), &doc)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let ci = server.token("ci", &["ingest"]).await;
    let (status, body) = server
        .post("/api/v1/scans?host=build-01", Some(&ci), &doc)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["files"], 2);
    assert_eq!(body["events"][0]["kind"], "NEW_UNSAFE_MODEL");
    assert_eq!(
        body["events"][0]["location"],
        "file://build-01/srv/models/evil.pkl"
    );

    // Malformed documents: a 4xx with a JSON error, and nothing recorded.
    for bad in [
        b"{not json".to_vec(),
        br#"{"results": "not a list"}"#.to_vec(),
        br#"{"results": [{"no_path": 1}]}"#.to_vec(),
        vec![b' '; 100 << 10], // over the 64 KiB limit
    ] {
        let (status, body) = server.post_raw("/api/v1/scans", Some(&ci), bad).await;
        assert!(status.is_client_error(), "{status}: {body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    let (_, scans) = server.get("/api/v1/scans", Some(&read)).await;
    assert_eq!(scans.as_array().map(Vec::len), Some(1), "{scans}");
}

async fn models_and_model(server: Server) {
    let ci = server.token("ci", &["ingest"]).await;
    let mut results = Vec::new();
    let mut models = Vec::new();
    for (i, (sha, severity)) in [
        ('1', "none"),
        ('2', "critical"),
        ('3', "low"),
        ('4', "high"),
    ]
    .into_iter()
    .enumerate()
    {
        let path = format!("/srv/m{i}/model.pkl");
        results.push(pickle(&path, sha, severity));
        models.push(
            json!({"name": format!("m{i}"), "layout": "single-file", "path": path,
                           "files": [{"path": path}]}),
        );
    }
    let mut doc = report(results);
    doc["models"] = json!(models);
    let (status, body) = server.post("/api/v1/scans", Some(&ci), &doc).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Reads need no token on a loopback-only server. Pages of 3, then the rest.
    let (status, page) = server.get("/api/v1/models?limit=3", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let verdicts: Vec<&str> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["verdict"].as_str())
        .collect();
    assert_eq!(verdicts, ["critical", "high", "low"]);
    let next = page["next"].as_str().unwrap_or_else(|| panic!("{page}"));
    let (_, rest) = server
        .get(&format!("/api/v1/models?limit=3&cursor={next}"), None)
        .await;
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(1));
    assert!(rest["next"].is_null());
    let (_, high) = server.get("/api/v1/models?verdict=high&q=M3", None).await;
    assert_eq!(high["items"][0]["name"], "m3", "{high}");

    let id = page["items"][0]["id"].as_i64().unwrap_or_default();
    let (status, model) = server.get(&format!("/api/v1/models/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(model["model"]["name"], "m1");
    assert_eq!(
        model["files"][0]["findings"][0]["message"],
        "calls os.system('<script>alert(1)</script>')"
    );
    assert_eq!(model["places"][0]["current"], true);
    let (status, _) = server.get("/api/v1/models/999999", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, findings) = server.get("/api/v1/findings?limit=1", None).await;
    assert_eq!(findings["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(findings["items"][0]["severity"], "critical");
    // Followed page by page, the cursor walks the whole list once, in order.
    let (_, whole) = server.get("/api/v1/findings?limit=500", None).await;
    let whole: Vec<Value> = whole["items"].as_array().cloned().unwrap_or_default();
    assert!(whole.len() > 1, "{whole:?}");
    let mut walked: Vec<Value> = Vec::new();
    let mut page = findings;
    loop {
        walked.extend(page["items"].as_array().cloned().unwrap_or_default());
        let Some(next) = page["next"].as_str().map(str::to_owned) else {
            break;
        };
        assert!(walked.len() < whole.len(), "the cursor runs past the end");
        page = server
            .get(&format!("/api/v1/findings?limit=1&cursor={next}"), None)
            .await
            .1;
    }
    assert_eq!(walked, whole);
    let (_, changes) = server.get("/api/v1/changes?since_scan=1", None).await;
    assert!(
        changes.as_array().is_some_and(|c| !c.is_empty()),
        "{changes}"
    );
    let (status, _) = server.get("/api/v1/graph", None).await;
    assert_eq!(status, StatusCode::OK);
    // A model's neighbourhood: the model, its place, its content and the content's finding.
    let (status, near) = server.get(&format!("/api/v1/graph?model={id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let mut kinds: Vec<&str> = near["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["kind"].as_str())
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["file", "finding", "host", "location", "model"],
        "{near}"
    );
    let (_, nowhere) = server.get("/api/v1/graph?model=999999", None).await;
    assert_eq!(nowhere["nodes"], json!([]));
    // The overview counts what is held now.
    let (status, overview) = server.get("/api/v1/overview", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(overview["models"], 4, "{overview}");
    assert_eq!(
        overview["by_verdict"],
        json!([{"key": "critical", "count": 1}, {"key": "high", "count": 1},
               {"key": "low", "count": 1}, {"key": "none", "count": 1}]),
        "{overview}"
    );
    assert_eq!(overview["by_source"], json!([{"key": "host", "count": 4}]));
    assert_eq!(overview["last_scan"]["id"], 1);
    assert!(
        overview["open_findings"]
            .as_array()
            .is_some_and(|f| f[0]["key"] == "critical"),
        "{overview}"
    );
    let (status, paths) = server.get("/api/v1/paths", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(paths.is_array());
}

async fn triage_and_exposed_reads(server: Server) {
    let ci = server.token("ci", &["ingest"]).await;
    let read = server.token("dash", &["read"]).await;
    let admin = server.token("sec", &["admin"]).await;
    let doc = report(vec![pickle("/srv/evil.pkl", 'e', "critical")]);
    let (status, _) = server.post("/api/v1/scans", Some(&ci), &doc).await;
    assert_eq!(status, StatusCode::CREATED);
    // This server is exposed: reads need a token too.
    let (status, _) = server.get("/api/v1/findings", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, findings) = server.get("/api/v1/findings", Some(&read)).await;
    assert_eq!(status, StatusCode::OK);
    let id = findings["items"][0]["id"].as_i64().unwrap_or_default();
    let mark = json!({"state": "accepted", "reason": "reviewed in SEC-9"});
    let path = format!("/api/v1/findings/{id}/triage");
    let (status, _) = server.post(&path, Some(&read), &mark).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = server.post(&path, Some(&admin), &mark).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "accepted");
    // Marked findings leave the default list and stay in the full one.
    let (_, open) = server.get("/api/v1/findings", Some(&read)).await;
    assert_eq!(open["items"].as_array().map(Vec::len), Some(0));
    let (_, all) = server
        .get("/api/v1/findings?include_triaged=true", Some(&admin))
        .await;
    assert_eq!(all["items"][0]["triage"], "accepted");
    // Accepting without a reason, an unknown state, an unknown finding.
    for (body, want) in [
        (json!({"state": "accepted"}), StatusCode::BAD_REQUEST),
        (json!({"state": "ignored"}), StatusCode::BAD_REQUEST),
    ] {
        let (status, _) = server.post(&path, Some(&admin), &body).await;
        assert_eq!(status, want);
    }
    let (status, _) = server
        .post("/api/v1/findings/424242/triage", Some(&admin), &mark)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A revoked token is refused.
    server
        .store
        .revoke_token("dash")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, _) = server.get("/api/v1/findings", Some(&read)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn client_mistakes(server: Server) {
    for path in [
        "/api/v1/models/abc",
        "/api/v1/models?limit=many",
        "/api/v1/models?include_gone=maybe",
        "/api/v1/models?cursor=%00%ff",
        "/api/v1/models?limit=-5&cursor=9.9.9",
        "/api/v1/findings?limit=99999999999999999999",
        "/api/v1/scans?limit=-1",
        "/api/v1/changes?since=yesterday",
        "/api/v1/nothing-here",
        "/api/v1/models/99999999999999999999999",
    ] {
        let (status, body) = server.get(path, None).await;
        assert!(
            status.is_success() || status.is_client_error(),
            "{path}: {status} {body}"
        );
        if !status.is_success() {
            assert!(body["error"]["message"].is_string(), "{path}: {body}");
        }
    }
    let (status, _) = server
        .post_raw("/api/v1/findings/1/triage", Some("aigis_x"), b"[]".to_vec())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn fuzzed_from_the_openapi_document(server: Server) {
    // Some data to reach past the empty answers: models, findings, changes.
    let ci = server.token("ci", &["ingest"]).await;
    let mut doc = report(vec![
        pickle("/srv/a/model.pkl", 'a', "critical"),
        pickle("/srv/b/model.pkl", 'b', "none"),
    ]);
    doc["models"] = json!([
        {"name": "a", "layout": "single-file", "path": "/srv/a/model.pkl", "files": [{"path": "/srv/a/model.pkl"}]},
        {"name": "b", "layout": "single-file", "path": "/srv/b/model.pkl", "files": [{"path": "/srv/b/model.pkl"}]},
    ]);
    let (status, _) = server.post("/api/v1/scans", Some(&ci), &doc).await;
    assert_eq!(status, StatusCode::CREATED);
    let admin = server.token("fuzz", &["admin"]).await;
    let st = Tool::Schemathesis.path();
    let base = server.base.clone();
    // It keeps a database of examples in its working folder: a throwaway one.
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cwd = work.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(st)
            .current_dir(cwd)
            .args([
                "run",
                &format!("{base}/api/v1/openapi.json"),
                "--url",
                &base,
            ])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,\
                 response_schema_conformance,response_headers_conformance",
            ])
            .args(["--max-examples", "25", "--seed", "20261203", "--no-color"])
            .args(["-H", &format!("Authorization: Bearer {admin}")])
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .unwrap_or_else(|e| panic!("schemathesis: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("passed") && !text.contains("failed"),
        "{text}"
    );
}

async fn bom_upload_and_export(server: Server) {
    use base64::Engine as _;
    // What a Dependency-Track client sends: the project and a base64 CycloneDX JSON BOM, with
    // its key in X-Api-Key. The BOM's model came from another tool: recorded, not as clean.
    let bom = json!({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "metadata": {"tools": {"components": [{"type": "application", "name": "cdxgen", "version": "11"}]}},
        "components": [{
            "type": "machine-learning-model", "bom-ref": "pkg:huggingface/acme/bert@1",
            "name": "bert", "purl": "pkg:huggingface/acme/bert@1",
            "components": [{"type": "file", "bom-ref": "f1", "name": "pytorch_model.bin",
                            "hashes": [{"alg": "SHA-256", "content": "c".repeat(64)}]}],
        }],
        "vulnerabilities": [{"id": "CVE-2025-0001", "ratings": [{"severity": "high"}],
                             "description": "pickle payload", "affects": [{"ref": "f1"}]}],
    });
    let upload = json!({
        "projectName": "recommender", "projectVersion": "2.1", "autoCreate": true,
        "bom": base64::engine::general_purpose::STANDARD.encode(bom.to_string()),
    });
    let put = |key: Option<String>, body: Value| {
        let mut request = server
            .client
            .put(format!("{}/api/v1/bom", server.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(key) = key {
            request = request.header("X-Api-Key", key);
        }
        answer(request)
    };
    let (status, _) = put(None, upload.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let key = server.token("dtrack-pipeline", &["ingest"]).await;
    let (status, body) = put(Some(key.clone()), upload.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(token.len(), 36, "a UUID: {token}");
    let (status, body) = server
        .get(&format!("/api/v1/bom/token/{token}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["processing"], false);
    let (status, _) = server
        .get(
            "/api/v1/bom/token/00000000-0000-4000-8000-000000000000",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, page) = server.get("/api/v1/models", None).await;
    let bert = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["name"] == "bert")
        .unwrap_or_else(|| panic!("{page}"));
    // The other tool's high finding stands; that aigis never analysed the file is no less.
    assert_eq!(bert["verdict"], "high", "{bert}");
    let (_, detail) = server
        .get(&format!("/api/v1/models/{}", bert["id"]), None)
        .await;
    let file = &detail["files"][0];
    assert!(
        file["incomplete"]
            .as_str()
            .is_some_and(|w| w.contains("cdxgen")),
        "{detail}"
    );
    assert!(
        detail["places"][0]["uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("file://recommender@2.1/")),
        "{detail}"
    );

    // Bad uploads: 4xx, nothing recorded.
    for bad in [
        json!({"projectName": "x", "bom": "%%% not base64"}),
        json!({"projectName": "x", "bom": base64::engine::general_purpose::STANDARD.encode("<bom/>")}),
        json!({"projectName": "x", "bom": base64::engine::general_purpose::STANDARD.encode("{\"bomFormat\": \"SPDX\"}")}),
        json!({"projectName": "x"}),
    ] {
        let (status, body) = put(Some(key.clone()), bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let (_, scans) = server.get("/api/v1/scans", None).await;
    assert_eq!(scans.as_array().map(Vec::len), Some(1), "{scans}");

    // The inventory as one ML-BOM, which the same endpoint family reads back.
    let response = server
        .client
        .get(format!("{}/api/v1/bom", server.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.cyclonedx+json"
    );
    let exported: Value = response.json().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exported["specVersion"], "1.6");
    let model = &exported["components"][0];
    assert_eq!(model["name"], "bert");
    assert_eq!(model["purl"], "pkg:huggingface/acme/bert@1");
    let nested = &model["components"][0];
    assert_eq!(nested["hashes"][0]["content"], "c".repeat(64));
    assert_eq!(exported["vulnerabilities"][0]["id"], "CVE-2025-0001");
    assert_eq!(
        exported["vulnerabilities"][0]["affects"][0]["ref"],
        nested["bom-ref"]
    );

    // Dependency-Track's form upload (POST, multipart): the BOM as a file part.
    let mut other = bom.clone();
    other["components"][0]["name"] = json!("resnet");
    other["components"][0]["components"][0]["hashes"][0]["content"] = json!("d".repeat(64));
    let form = |parts: &[(&str, Option<&str>, String)]| {
        let mut body = String::new();
        for (name, file, value) in parts {
            body.push_str("--aigisXboundary\r\n");
            match file {
                Some(file) => body.push_str(&format!(
                    "content-disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\ncontent-type: application/json\r\n\r\n"
                )),
                None => body.push_str(&format!(
                    "content-disposition: form-data; name=\"{name}\"\r\n\r\n"
                )),
            }
            body.push_str(value);
            body.push_str("\r\n");
        }
        body.push_str("--aigisXboundary--\r\n");
        body
    };
    let post = |key: &str, body: String| {
        answer(
            server
                .client
                .post(format!("{}/api/v1/bom", server.base))
                .header(
                    "content-type",
                    "multipart/form-data; boundary=aigisXboundary",
                )
                .header("X-Api-Key", key)
                .body(body),
        )
    };
    let (status, body) = post(
        &key,
        form(&[
            ("projectName", None, "shop".into()),
            ("projectVersion", None, "3".into()),
            ("bom", Some("bom.json"), other.to_string()),
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, page) = server.get("/api/v1/models?q=resnet", None).await;
    assert!(
        page["items"][0]["locations"][0]
            .as_str()
            .is_some_and(|l| l.starts_with("file://shop@3/")),
        "{page}"
    );
    // A form without the BOM, or with an XML one: refused, nothing recorded.
    let (status, body) = post(&key, form(&[("projectName", None, "shop".into())])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = post(&key, form(&[("bom", Some("bom.xml"), "<bom/>".into())])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = post(&key, "--aigisXboundary\r\ngarbage".into()).await;
    assert!(status.is_client_error(), "{status}: {body}");
}

async fn dashboard_assets(server: Server) {
    for (path, content_type, needle) in [
        ("/", "text/html", "<script src=\"/assets/app.js\""),
        ("/assets/app.js", "text/javascript", "textContent"),
        ("/assets/app.css", "text/css", ".badge"),
    ] {
        let response = server
            .client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(header("content-type").starts_with(content_type), "{path}");
        let csp = header("content-security-policy");
        assert!(
            csp.contains("default-src 'none'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe"),
            "{path}: {csp}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("x-frame-options"), "DENY");
        let body = response.text().await.unwrap_or_default();
        assert!(body.contains(needle), "{path}");
    }
    // The API's answers carry the policy too.
    let response = server
        .client
        .get(format!("{}/api/v1/overview", server.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(response.headers().contains_key("content-security-policy"));
    let (status, overview) = answer(
        server
            .client
            .get(format!("{}/api/v1/overview", server.base)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(overview["models"], 0);
    assert!(overview.get("last_scan").is_none());
}

async fn jobs_view(server: Server) {
    use aigis_store::{JobKind, JobSpec};
    let (status, empty) = server.get("/api/v1/jobs", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty, json!({"queues": [], "running": [], "dead": []}));
    let spec = |target: &str, max_attempts| JobSpec {
        queue: "default".into(),
        kind: JobKind::Target,
        target: target.into(),
        options: json!({}),
        priority: 0,
        max_attempts,
        backoff_ms: 0,
    };
    for (target, attempts) in [("/srv/poison", 1), ("/srv/a", 3), ("/srv/b", 3)] {
        server
            .store
            .enqueue(&spec(target, attempts))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let poison = server
        .store
        .claim("default", "worker-1", 60_000)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no job"));
    server
        .store
        .fail_job(&poison, "read failed: 403 InvalidObjectState")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    server
        .store
        .claim("default", "worker-2", 60_000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, view) = server.get("/api/v1/jobs", None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let queue = &view["queues"][0];
    assert_eq!(
        (
            &queue["queue"],
            &queue["ready"],
            &queue["running"],
            &queue["dead"]
        ),
        (&json!("default"), &json!(1), &json!(1), &json!(1)),
        "{view}"
    );
    assert_eq!(view["running"][0]["lease_owner"], "worker-2");
    assert_eq!(view["dead"][0]["target"], "/srv/poison");
    assert_eq!(
        view["dead"][0]["last_error"],
        "read failed: 403 InvalidObjectState"
    );
}
