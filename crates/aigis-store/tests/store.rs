//! The inventory suite, run against SQLite (a file) and against a real PostgreSQL server
//! (`AIGIS_TEST_POSTGRES`, started by `.ci/run`; the PostgreSQL tests fail under `CI=true`
//! without it and say "skipped" outside CI).

use aigis_store::{FindingFilter, ModelFilter, ScanDocument, ScanMeta, Since, Store, TriageState};
use aigis_testkit::{Test, Tool};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};

mod queue;
use queue::*;

fn main() -> std::process::ExitCode {
    let mut tests = Vec::new();
    for (name, body) in SUITE {
        tests.push(Test::new(&format!("sqlite::{name}"), body.sqlite));
        tests.push(Test::new(&format!("postgres::{name}"), body.postgres).needs(Tool::Postgres));
    }
    tests.push(Test::new(
        "sqlite::concurrent_recorders_into_one_file_all_land",
        concurrent_recorders_into_one_file_all_land,
    ));
    tests.push(Test::new(
        "sqlite::a_database_from_a_newer_aigis_is_refused",
        a_database_from_a_newer_aigis_is_refused,
    ));
    tests.push(Test::new(
        "sqlite::a_version_2_database_with_data_upgrades_in_place",
        a_version_2_database_with_data_upgrades_in_place,
    ));
    tests.push(Test::new(
        "unsupported_urls_are_refused_with_the_forms_that_work",
        unsupported_urls_are_refused_with_the_forms_that_work,
    ));
    aigis_testkit::run(tests)
}

struct Both {
    sqlite: fn(),
    postgres: fn(),
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), Both {
            sqlite: || block_on(async { $name(&sqlite_store().await.0).await }),
            postgres: || block_on(async {
                let (store, _db) = postgres_store().await;
                $name(&store).await
            }),
        })),*]
    };
}

const SUITE: &[(&str, Both)] = both![
    content_replaced_in_a_writable_folder_is_a_critical_event,
    triage_sticks_to_the_finding_on_the_same_content,
    a_document_that_fails_half_way_changes_nothing,
    models_are_identified_by_their_content_wherever_they_are,
    remote_objects_are_located_by_bucket_and_key,
    runs_larger_than_a_batch_are_recorded_whole,
    content_aigis_could_not_finish_is_never_recorded_as_clean,
    model_pages_are_worst_first_filtered_and_cursored_and_a_model_reads_in_full,
    tokens_are_kept_as_digests_with_scopes_and_can_be_revoked,
    a_cyclonedx_bom_records_as_a_run_and_the_inventory_exports_as_one,
    findings_pages_are_worst_first_and_cursored_in_sql,
    jobs_are_claimed_once_by_priority_and_a_paused_queue_hands_out_none,
    an_expired_lease_is_taken_over_and_the_old_claim_records_nothing,
    failed_jobs_back_off_then_dead_letter_with_their_error,
    a_listing_becomes_shards_and_unchanged_objects_are_not_fetched_again,
    a_due_schedule_fires_once_however_many_workers_race,
    an_object_replaced_by_content_of_the_same_size_is_new_content,
];

fn block_on<F: std::future::Future<Output = ()>>(future: F) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
        .block_on(future);
}

async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite:{}", dir.path().join("inventory.db").display());
    let store = Store::open(&url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    (store, dir)
}

static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// A fresh database on the test server for one test.
async fn postgres_store() -> (Store, String) {
    let admin = Tool::Postgres.path().to_string_lossy().into_owned();
    let name = format!(
        "aigis_test_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::SeqCst)
    );
    {
        use sqlx::Connection as _;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("connect {admin}: {e}"));
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("create database: {e}"));
    }
    let base = admin
        .rsplit_once('/')
        .map(|(base, _)| base)
        .unwrap_or_else(|| panic!("AIGIS_TEST_POSTGRES has no database part: {admin}"));
    let url = format!("{base}/{name}");
    let store = Store::open(&url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    (store, name)
}

fn meta(at: i64) -> ScanMeta {
    ScanMeta {
        started_at: at,
        host: "build-01".into(),
        collector: "scan".into(),
        arguments: vec!["aigis".into(), "scan".into(), "/srv/models".into()],
        base_dir: Some("/srv".into()),
    }
}

fn finding(rule: &str, severity: &str, message: &str) -> Value {
    json!({"rule_id": rule, "severity": severity, "message": message, "location": "data.pkl @ byte 7"})
}

fn result(path: &str, sha: &str, content: &str, findings: Vec<Value>) -> Value {
    json!({
        "path": path, "format": "pickle", "size": 100, "sha256": sha, "status": "ok",
        "max_severity": content, "content_severity": content, "findings": findings,
    })
}

fn doc(results: Vec<Value>, models: Vec<Value>) -> ScanDocument {
    let mut value = json!({
        "schema_version": 1,
        "tool": {"name": "aigis", "version": "0.1.0"},
        "targets": ["models"],
        "results": results,
    });
    if !models.is_empty() {
        value["models"] = json!(models);
    }
    serde_json::from_value(value).unwrap_or_else(|e| panic!("document: {e}"))
}

const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SHA_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const SHA_C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

async fn content_replaced_in_a_writable_folder_is_a_critical_event(store: &Store) {
    let writable = finding("HOST-WRITABLE-PATH", "high", "models/ is world-writable");
    // Scan 1: a clean model in a world-writable folder, and a malicious pickle.
    let first = doc(
        vec![
            result("models/resnet.pt", SHA_A, "none", vec![writable.clone()]),
            result(
                "models/evil.pkl",
                SHA_B,
                "critical",
                vec![finding(
                    "PICKLE-CALL-DANGEROUS",
                    "critical",
                    "calls os.system",
                )],
            ),
        ],
        vec![],
    );
    let one = store
        .ingest(&first, &meta(1_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<&str> = one.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["NEW_UNSAFE_MODEL"], "{:?}", one.events);
    assert_eq!(
        one.events[0].location,
        "file://build-01/srv/models/evil.pkl"
    );
    assert_eq!(one.new_locations, 2);

    // Scan 2: the same content again — nothing changed.
    let again = store
        .ingest(&first, &meta(2_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(again.events.is_empty(), "{:?}", again.events);

    // Scan 3: resnet.pt replaced by a malicious file; evil.pkl gone.
    let second = doc(
        vec![result(
            "models/resnet.pt",
            SHA_C,
            "critical",
            vec![
                writable,
                finding("PICKLE-CALL-DANGEROUS", "critical", "calls os.system"),
            ],
        )],
        vec![],
    );
    let three = store
        .ingest(&second, &meta(3_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let replaced = three
        .events
        .iter()
        .find(|e| e.kind == "MODEL_REPLACED")
        .unwrap_or_else(|| panic!("no MODEL_REPLACED in {:?}", three.events));
    assert_eq!(replaced.severity, "critical");
    assert_eq!(replaced.location, "file://build-01/srv/models/resnet.pt");
    assert_eq!(replaced.old_sha256.as_deref(), Some(SHA_A));
    assert_eq!(replaced.new_sha256.as_deref(), Some(SHA_C));
    assert_eq!(replaced.old_verdict.as_deref(), Some("none"));
    assert_eq!(replaced.new_verdict.as_deref(), Some("critical"));
    assert!(
        replaced.message.contains("others can write"),
        "{}",
        replaced.message
    );
    let gone = three
        .events
        .iter()
        .find(|e| e.kind == "MODEL_DISAPPEARED")
        .unwrap_or_else(|| panic!("no MODEL_DISAPPEARED in {:?}", three.events));
    assert_eq!(gone.location, "file://build-01/srv/models/evil.pkl");

    // The replacement is a finding on the new content, listed with the other findings.
    let findings = store
        .findings(Some("model-replaced"), false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].severity, "critical");
    assert_eq!(findings[0].sha256.as_deref(), Some(SHA_C));
    // Only what some location holds now: evil.pkl's finding is gone with it.
    let all = store
        .findings(None, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        all.iter().all(|f| f.sha256.as_deref() == Some(SHA_C)),
        "{all:?}"
    );

    // Changes since a scan, and since a time.
    let since = store
        .changes(Since::Scan(three.scan_id))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(since.len(), 2);
    let all = store
        .changes(Since::Time(0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), 3);
    let scans = store.scans(10).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scans.len(), 3);
    assert_eq!(scans[0].events, 2);
    assert_eq!(store.schema_version().await.unwrap_or_default(), 4);

    // The attack path: others can write models/ → resnet.pt → a critical finding on load.
    let paths = store.attack_paths().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(paths.len(), 1, "{paths:?}");
    assert_eq!(paths[0].location, "file://build-01/srv/models/resnet.pt");
    assert_eq!(paths[0].exposure, "HOST-WRITABLE-PATH");
    assert_eq!(paths[0].finding.as_deref(), Some("PICKLE-CALL-DANGEROUS"));
    assert_eq!(paths[0].severity, "critical");
    // The graph links the host, the location, the content, the exposure and the finding.
    let graph = store.graph().await.unwrap_or_else(|e| panic!("{e}"));
    let kinds: std::collections::BTreeSet<&str> =
        graph.nodes.iter().map(|n| n.kind.as_str()).collect();
    for kind in ["host", "location", "file", "exposure", "finding"] {
        assert!(kinds.contains(kind), "{kind}: {graph:?}");
    }
    let edge_kinds: std::collections::BTreeSet<&str> =
        graph.edges.iter().map(|e| e.kind.as_str()).collect();
    for kind in ["contains", "holds", "exposes", "has_finding"] {
        assert!(edge_kinds.contains(kind), "{kind}: {graph:?}");
    }
    // evil.pkl is gone: nothing of it is in the graph.
    assert!(graph.nodes.iter().all(|n| !n.label.contains("evil.pkl")));
    assert!(graph.to_dot().starts_with("digraph aigis {"));
    assert!(graph.to_graphml().contains("<graphml"));
    neighbourhoods_are_the_graph_cut(store).await;
}

/// Every node's neighbourhood read outwards in SQL is the whole graph cut around it, at every
/// depth (and a node that is not there has none).
async fn neighbourhoods_are_the_graph_cut(store: &Store) {
    let graph = store.graph().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!graph.nodes.is_empty());
    for node in &graph.nodes {
        for depth in 1..=4 {
            let read = store
                .neighbourhood(&node.id, depth)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let cut = graph.neighbourhood(&node.id, depth);
            assert_eq!(read, cut, "{} at depth {depth}", node.id);
        }
    }
    for missing in [
        "model:999999",
        "file:-1",
        "location:x",
        "nothing",
        "finding:0",
    ] {
        let read = store
            .neighbourhood(missing, 2)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(read.nodes.is_empty() && read.edges.is_empty(), "{missing}");
    }
}

async fn triage_sticks_to_the_finding_on_the_same_content(store: &Store) {
    let document = doc(
        vec![result(
            "models/odd.pkl",
            SHA_A,
            "high",
            vec![finding(
                "PICKLE-UNKNOWN-GLOBAL",
                "high",
                "imports acme.Thing",
            )],
        )],
        vec![],
    );
    store
        .ingest(&document, &meta(1_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let open = store
        .findings(None, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(open.len(), 1);
    let id = open[0].id;
    // Accepting needs a reason; an unknown finding is an error.
    assert!(
        store
            .triage(id, TriageState::Accepted, " ", None, "alice")
            .await
            .is_err()
    );
    assert!(
        store
            .triage(id + 1000, TriageState::FalsePositive, "x", None, "alice")
            .await
            .is_err()
    );
    store
        .triage(
            id,
            TriageState::FalsePositive,
            "acme.Thing is our own class",
            None,
            "alice",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Re-scanned: the same finding on the same content, still marked.
    store
        .ingest(&document, &meta(2_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        store
            .findings(None, false)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    let marked = store
        .findings(None, true)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0].id, id);
    assert_eq!(marked[0].triage.as_deref(), Some("false_positive"));
    // An accepted risk whose expiry has passed is open again.
    store
        .triage(id, TriageState::Accepted, "until the fix", Some(1), "bob")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let open = store
        .findings(None, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].triage, None);
    // Other content at the same place is another finding: the mark does not follow.
    let replaced = doc(
        vec![result(
            "models/odd.pkl",
            SHA_B,
            "high",
            vec![finding(
                "PICKLE-UNKNOWN-GLOBAL",
                "high",
                "imports acme.Thing",
            )],
        )],
        vec![],
    );
    store
        .triage(id, TriageState::NotAffected, "old build", None, "bob")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .ingest(&replaced, &meta(3_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let open = store
        .findings(Some("PICKLE-UNKNOWN-GLOBAL"), false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].sha256.as_deref(), Some(SHA_B));
}

async fn a_document_that_fails_half_way_changes_nothing(store: &Store) {
    let good = result("models/a.pkl", SHA_A, "critical", vec![]);
    let bad = result("", SHA_B, "none", vec![]);
    let err = store
        .ingest(&doc(vec![good.clone(), bad], vec![]), &meta(1_000))
        .await;
    assert!(err.is_err());
    assert!(
        store
            .scans(10)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    assert!(
        store
            .changes(Since::Time(0))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    // The store is usable afterwards.
    let ok = store
        .ingest(&doc(vec![good], vec![]), &meta(2_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.events.len(), 1);
}

async fn models_are_identified_by_their_content_wherever_they_are(store: &Store) {
    let model = |folder: &str| {
        json!({
            "name": "bert-tiny", "layout": "hf-folder", "path": folder,
            "framework": "transformers", "card": {"license": "apache-2.0"},
            "files": [
                {"path": format!("{folder}/config.json")},
                {"path": format!("{folder}/model.safetensors")},
            ],
        })
    };
    let files = |folder: &str| {
        vec![
            result(&format!("{folder}/config.json"), SHA_A, "none", vec![]),
            result(
                &format!("{folder}/model.safetensors"),
                SHA_B,
                "none",
                vec![],
            ),
        ]
    };
    let mut both = files("/data/a");
    both.extend(files("/data/b"));
    store
        .ingest(
            &doc(both, vec![model("/data/a"), model("/data/b")]),
            &meta(1_000),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let models = store.models(false).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(models.len(), 1, "{models:?}");
    assert_eq!(models[0].files, 2);
    assert_eq!(models[0].license.as_deref(), Some("apache-2.0"));
    assert_eq!(
        models[0].locations,
        ["file://build-01/data/a", "file://build-01/data/b"]
    );
    // Different content: another model.
    let other = vec![
        result("/data/c/config.json", SHA_A, "none", vec![]),
        result("/data/c/model.safetensors", SHA_C, "none", vec![]),
    ];
    store
        .ingest(&doc(other, vec![model("/data/c")]), &meta(2_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        store
            .models(false)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .len(),
        2
    );
    // /data/a now holds the other model: the first is only at /data/b.
    let replaced = vec![
        result("/data/a/config.json", SHA_A, "none", vec![]),
        result("/data/a/model.safetensors", SHA_C, "none", vec![]),
    ];
    let mut document = doc(replaced, vec![model("/data/a")]);
    document.targets = vec!["/data/a".into()];
    store
        .ingest(&document, &meta(3_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let models = store.models(false).await.unwrap_or_else(|e| panic!("{e}"));
    let first = models
        .iter()
        .find(|m| m.locations.contains(&"file://build-01/data/b".to_owned()))
        .unwrap_or_else(|| panic!("{models:?}"));
    assert_eq!(first.locations, ["file://build-01/data/b"]);
    // A folder scanned again without its model: the model is gone from there.
    let mut document = doc(vec![], vec![]);
    document.models = Some(vec![]);
    document.targets = vec!["/data/b".into()];
    store
        .ingest(&document, &meta(4_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let now = store.models(false).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(now.len(), 1, "{now:?}");
    let all = store.models(true).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), 2);
    assert!(
        all.iter()
            .any(|m| !m.current && m.locations.contains(&"file://build-01/data/b".to_owned()))
    );
    neighbourhoods_are_the_graph_cut(store).await;
}

async fn remote_objects_are_located_by_bucket_and_key(store: &Store) {
    let mut object = result(
        "s3://ml-models/resnet.pt",
        SHA_A,
        "none",
        vec![finding(
            "STORAGE-PUBLIC-WRITE",
            "critical",
            "anyone can write",
        )],
    );
    object["source"] =
        json!({"kind": "s3", "bucket": "ml-models", "key": "resnet.pt", "etag": "\"1\""});
    let mut document = doc(vec![object.clone()], vec![]);
    document.targets = vec!["s3://ml-models".into()];
    store
        .ingest(&document, &meta(1_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    object["sha256"] = json!(SHA_B);
    object["content_severity"] = json!("none");
    let mut document = doc(vec![object], vec![]);
    document.targets = vec!["s3://ml-models".into()];
    let second = store
        .ingest(&document, &meta(2_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.events.len(), 1, "{:?}", second.events);
    let event = &second.events[0];
    assert_eq!(event.kind, "MODEL_REPLACED");
    assert_eq!(event.location, "s3://ml-models/resnet.pt");
    // Same verdict, but anyone can write the bucket: critical.
    assert_eq!(event.severity, "critical");
    // A clean pickle anyone can replace is an attack path even with no finding today; it
    // ranks below a world-writable folder holding a malicious one.
    let mut local = doc(
        vec![
            result(
                "models/evil.pkl",
                SHA_C,
                "critical",
                vec![
                    finding("HOST-WRITABLE-PATH", "high", "world-writable"),
                    finding("PICKLE-CALL-DANGEROUS", "critical", "calls os.system"),
                ],
            ),
            result(
                "models/weights.safetensors",
                SHA_A,
                "none",
                vec![finding("HOST-WRITABLE-PATH", "high", "world-writable")],
            ),
        ],
        vec![],
    );
    local.results[1].format = "safetensors".into();
    store
        .ingest(&local, &meta(3_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let paths = store.attack_paths().await.unwrap_or_else(|e| panic!("{e}"));
    let order: Vec<&str> = paths.iter().map(|p| p.location.as_str()).collect();
    assert_eq!(
        order,
        [
            "file://build-01/srv/models/evil.pkl",
            "s3://ml-models/resnet.pt"
        ],
        "{paths:?}"
    );
    assert_eq!(paths[1].finding, None);
    assert!(
        paths[1]
            .steps
            .iter()
            .any(|s| s.contains("whoever replaces it"))
    );
    neighbourhoods_are_the_graph_cut(store).await;
}

fn concurrent_recorders_into_one_file_all_land() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite:{}", dir.path().join("inventory.db").display());
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let url = url.clone();
            std::thread::spawn(move || {
                block_on(async move {
                    let store = Store::open(&url)
                        .await
                        .unwrap_or_else(|e| panic!("open: {e}"));
                    for round in 0..5 {
                        let path = format!("/w{worker}/m{round}.pkl");
                        let sha = format!("{worker:0>32}{round:0>32}");
                        store
                            .ingest(
                                &doc(vec![result(&path, &sha, "none", vec![])], vec![]),
                                &meta(1_000),
                            )
                            .await
                            .unwrap_or_else(|e| panic!("ingest: {e}"));
                    }
                })
            })
        })
        .collect();
    for worker in workers {
        if worker.join().is_err() {
            panic!("a recorder failed");
        }
    }
    block_on(async {
        let store = Store::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            store
                .scans(100)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .len(),
            20
        );
    });
}

fn a_database_from_a_newer_aigis_is_refused() {
    block_on(async {
        let (store, dir) = sqlite_store().await;
        let url = format!("sqlite:{}", dir.path().join("inventory.db").display());
        sqlx::query(
            "INSERT INTO aigis_schema (version, name, applied_at) VALUES (99, 'future', 0)",
        )
        .execute(&*pool_of(&url).await)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        store.close().await;
        let err = Store::open(&url).await.err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("schema version 99") && e.contains("upgrade aigis")),
            "{err:?}"
        );
    });
}

/// A database written by the aigis that knew schema version 2 (its own migrations, byte for
/// byte) and holding a recorded scan opens, upgrades and reads the same.
fn a_version_2_database_with_data_upgrades_in_place() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("inventory.db");
        std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
        let url = format!("sqlite:{}", path.display());
        let pool = pool_of(&url).await;
        sqlx::raw_sql(
            "CREATE TABLE aigis_schema (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&*pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        for (version, sql) in [
            (1, include_str!("../migrations/schema.sql")),
            (2, include_str!("../migrations/002_api.sql")),
        ] {
            sqlx::raw_sql(&sql.replace("{ID}", "INTEGER PRIMARY KEY"))
                .execute(&*pool)
                .await
                .unwrap_or_else(|e| panic!("version {version}: {e}"));
            sqlx::query(
                "INSERT INTO aigis_schema (version, name, applied_at) VALUES ($1, 'old', 0)",
            )
            .bind(version)
            .execute(&*pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        }
        // Data recorded at version 2 (by hand: what that aigis wrote).
        sqlx::raw_sql(
            "INSERT INTO scans (id, started_at, host, collector, tool_version, ruleset_version, arguments, targets, files, incomplete) \
             VALUES (1, 1000, 'old-host', 'scan', '0.1.0', '1', '[]', '[]', 1, 0); \
             INSERT INTO files (id, digest, sha256, size, format, status, verdict, first_scan, last_scan) \
             VALUES (1, 'sha256:aa', 'aa', 10, 'pickle', 'ok', 'critical', 1, 1); \
             INSERT INTO locations (id, uri, kind, host, first_scan, last_scan) \
             VALUES (1, 'file://old-host/m.pkl', 'host', 'old-host', 1, 1); \
             INSERT INTO occurrences (file_id, location_id, first_scan, last_scan, first_seen, last_seen, current) \
             VALUES (1, 1, 1, 1, 1000, 1000, 1); \
             INSERT INTO findings (file_id, fingerprint, rule_id, severity, message, ruleset_version, first_scan, last_scan) \
             VALUES (1, 'fp', 'PICKLE-CALL-DANGEROUS', 'critical', 'calls os.system', '1', 1, 1);",
        )
        .execute(&*pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        pool.close().await;
        let store = Store::open(&url)
            .await
            .unwrap_or_else(|e| panic!("open: {e}"));
        assert_eq!(store.schema_version().await.unwrap_or_default(), 4);
        let page = store
            .findings_page(&FindingFilter::default(), None, 10, aigis_store_now())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.items.len(), 1, "{page:?}");
        assert_eq!(page.items[0].locations, ["file://old-host/m.pkl"]);
        let near = store
            .neighbourhood("file:1", 2)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(near.nodes.len(), 4, "{near:?}");
    });
}

async fn pool_of(url: &str) -> Box<sqlx::AnyPool> {
    sqlx::any::install_default_drivers();
    let url = url.replacen("sqlite:", "sqlite://", 1);
    Box::new(
        sqlx::AnyPool::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    )
}

fn unsupported_urls_are_refused_with_the_forms_that_work() {
    block_on(async {
        for url in ["mysql://x/y", "inventory.db", "sqlite:"] {
            let err = Store::open(url).await.err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains("sqlite:PATH")),
                "{url}: {err:?}"
            );
        }
    });
}

async fn runs_larger_than_a_batch_are_recorded_whole(store: &Store) {
    // 1,234 results (statements go in batches of 500), 1,234 models of one file each.
    let run = |replaced: usize| {
        let results = (0..1234)
            .map(|i| {
                let sha = if i == replaced {
                    SHA_C.to_owned()
                } else {
                    format!("{i:064x}")
                };
                result(
                    &format!("/big/m{i}.pkl"),
                    &sha,
                    if i == replaced { "critical" } else { "none" },
                    vec![finding("PICKLE-FORMAT", "info", "pickle")],
                )
            })
            .collect();
        let models = (0..1234)
            .map(|i| json!({"name": format!("m{i}"), "path": format!("/big/m{i}.pkl"), "files": [{"path": format!("/big/m{i}.pkl")}]}))
            .collect();
        let mut document = doc(results, models);
        document.targets = vec!["/big".into()];
        document
    };
    let first = store
        .ingest(&run(usize::MAX), &meta(1_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (first.files, first.models, first.new_locations),
        (1234, 1234, 1234)
    );
    assert!(first.events.is_empty());
    let again = store
        .ingest(&run(usize::MAX), &meta(2_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.new_locations, 0);
    assert!(again.events.is_empty(), "{:?}", again.events);
    let third = store
        .ingest(&run(777), &meta(3_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<&str> = third.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["MODEL_REPLACED"]);
    assert_eq!(third.events[0].location, "file://build-01/big/m777.pkl");
    assert_eq!(
        store
            .models(false)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .len(),
        1234
    );
    assert_eq!(
        store
            .models(true)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .len(),
        1235
    );
    assert_eq!(
        store
            .findings(Some("PICKLE-FORMAT"), false)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .len(),
        1234
    );
}

async fn content_aigis_could_not_finish_is_never_recorded_as_clean(store: &Store) {
    // A safetensors file (no code on load by its format) that hit a limit, in a folder others
    // can write, with no finding about its content: the inventory must not call it clean.
    let writable = finding("HOST-WRITABLE-PATH", "high", "models/ is world-writable");
    let mut unfinished = result(
        "/srv/models/m/model.safetensors",
        SHA_B,
        "none",
        vec![writable.clone()],
    );
    unfinished["format"] = json!("safetensors");
    unfinished["status"] = json!("invalid");
    unfinished["content_severity"] = Value::Null;
    unfinished["incomplete"] = json!("header larger than the 100 MiB limit");
    let mut config = result("/srv/models/m/config.json", SHA_A, "none", vec![writable]);
    config["format"] = json!("json");
    let model = json!({
        "name": "m", "layout": "hf-folder", "path": "/srv/models/m",
        "files": [
            {"path": "/srv/models/m/config.json"},
            {"path": "/srv/models/m/model.safetensors"},
        ],
    });
    store
        .ingest(&doc(vec![unfinished, config], vec![model]), &meta(1_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let models = store.models(false).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(models.len(), 1, "{models:?}");
    assert_eq!(models[0].verdict, "incomplete");
    // Ranked above low and below what was found at medium.
    assert!(aigis_store::severity_rank("incomplete") > aigis_store::severity_rank("low"));
    assert!(aigis_store::severity_rank("incomplete") < aigis_store::severity_rank("medium"));
    // A path: whoever can write there decides what the unfinished content does; the
    // finished, inert config.json beside it is not one.
    let paths = store.attack_paths().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(paths.len(), 1, "{paths:?}");
    assert_eq!(
        paths[0].location,
        "file://build-01/srv/models/m/model.safetensors"
    );
    assert!(
        paths[0]
            .steps
            .iter()
            .any(|s| s.contains("could not finish") && s.contains("100 MiB")),
        "{:?}",
        paths[0].steps
    );
}

async fn model_pages_are_worst_first_filtered_and_cursored_and_a_model_reads_in_full(
    store: &Store,
) {
    // Seven single-file models: verdicts none, critical, low, none, critical, medium, none.
    let verdicts = [
        "none", "critical", "low", "none", "critical", "medium", "none",
    ];
    let mut results = Vec::new();
    let mut models = Vec::new();
    for (i, verdict) in verdicts.iter().enumerate() {
        let path = format!("/m/model-{i}.pkl");
        let findings = if *verdict == "none" {
            vec![]
        } else {
            vec![finding("PICKLE-CALL-DANGEROUS", verdict, "calls os.system")]
        };
        results.push(result(&path, &format!("{i:064x}"), verdict, findings));
        models.push(
            json!({"name": format!("Model-{i}"), "layout": "single-file", "path": path,
            "files": [{"path": path}]}),
        );
    }
    store
        .ingest(&doc(results, models), &meta(1_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .models_page(&ModelFilter::default(), cursor.as_deref(), 2)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(page.items.len() <= 2);
        seen.extend(
            page.items
                .iter()
                .map(|m| (m.name.clone(), m.verdict.clone())),
        );
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    // Every model once, worst verdict first.
    let verdicts_seen: Vec<&str> = seen.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(
        verdicts_seen,
        [
            "critical", "critical", "medium", "low", "none", "none", "none"
        ],
        "{seen:?}"
    );
    let mut names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 7, "{seen:?}");
    let critical = store
        .models_page(
            &ModelFilter {
                verdict: Some("critical".into()),
                ..ModelFilter::default()
            },
            None,
            50,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(critical.items.len(), 2);
    assert!(critical.next.is_none());
    // Search is case-insensitive and takes LIKE wildcards literally.
    for (search, expected) in [("model-5", 1), ("MODEL", 7), ("%", 0), ("_", 0)] {
        let page = store
            .models_page(
                &ModelFilter {
                    search: Some(search.into()),
                    ..ModelFilter::default()
                },
                None,
                50,
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.items.len(), expected, "{search}: {page:?}");
    }
    // One model in full.
    let id = critical.items[0].id;
    let detail = store
        .model(id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no model {id}"));
    assert_eq!(detail.model.verdict, "critical");
    assert_eq!(detail.files.len(), 1);
    assert_eq!(detail.files[0].findings.len(), 1);
    assert_eq!(detail.files[0].findings[0].rule_id, "PICKLE-CALL-DANGEROUS");
    assert_eq!(detail.places.len(), 1);
    assert!(detail.places[0].current);
    assert!(
        detail.history.iter().any(|e| e.kind == "NEW_UNSAFE_MODEL"),
        "{:?}",
        detail.history
    );
    assert!(
        store
            .model(9_999)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none()
    );
}

async fn tokens_are_kept_as_digests_with_scopes_and_can_be_revoked(store: &Store) {
    let token = store
        .create_token("ci", &["ingest".into(), "read".into()])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        token.starts_with("aigis_") && token.len() == 6 + 64,
        "{token}"
    );
    assert_eq!(
        store
            .token_scopes(&token)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        Some(vec!["ingest".to_owned(), "read".to_owned()])
    );
    assert_eq!(
        store
            .token_scopes("aigis_nope")
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        None
    );
    // The same name twice, an unknown scope, no scope: refused.
    for scopes in [vec!["read".to_owned()], vec!["root".to_owned()], vec![]] {
        assert!(store.create_token("ci", &scopes).await.is_err());
    }
    let listed = store.tokens().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used.is_some());
    assert!(!format!("{listed:?}").contains(&token[6..]));
    store
        .revoke_token("ci")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        store
            .token_scopes(&token)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        None
    );
    assert!(store.revoke_token("ci").await.is_err());
    // The name is free again.
    store
        .create_token("ci", &["read".into()])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

async fn a_cyclonedx_bom_records_as_a_run_and_the_inventory_exports_as_one(store: &Store) {
    // aigis's own report: a critical pickle in a model, triaged.
    let model = json!({"name": "m", "layout": "single-file", "path": "/srv/models/m.pkl",
                       "files": [{"path": "/srv/models/m.pkl"}]});
    let pickle = result(
        "/srv/models/m.pkl",
        SHA_A,
        "critical",
        vec![finding(
            "PICKLE-CALL-DANGEROUS",
            "critical",
            "calls os.system",
        )],
    );
    store
        .ingest(&doc(vec![pickle], vec![model]), &meta(1_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let id = store
        .findings(None, true)
        .await
        .unwrap_or_else(|e| panic!("{e}"))[0]
        .id;
    store
        .triage(
            id,
            TriageState::Accepted,
            "sandboxed loader",
            Some(4_102_444_800),
            "ana",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Another tool's BOM: a model it listed, with a finding of its own.
    let bom = json!({
        "bomFormat": "CycloneDX", "specVersion": "1.5",
        "metadata": {"tools": [{"name": "syft", "version": "1"}]},
        "components": [
            {"type": "machine-learning-model", "bom-ref": "x", "name": "bert",
             "purl": "pkg:huggingface/acme/bert@1",
             "hashes": [{"alg": "SHA-256", "content": SHA_B.to_uppercase()}]},
            {"type": "library", "bom-ref": "torch", "name": "torch"},
        ],
        "vulnerabilities": [{"id": "X-1", "affects": [{"ref": "x"}, {"ref": "torch"}]}],
    });
    let run = ScanDocument::from_cyclonedx(&bom).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.results.len(), 1, "the library is not content");
    assert!(
        run.results[0]
            .incomplete
            .as_deref()
            .is_some_and(|w| w.contains("syft"))
    );
    // An unrated finding is not taken as a low one.
    assert_eq!(run.results[0].findings[0].severity, "medium");
    store
        .ingest(&run, &meta(2_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let models = store.models(false).await.unwrap_or_else(|e| panic!("{e}"));
    let bert = models
        .iter()
        .find(|m| m.name == "bert")
        .unwrap_or_else(|| panic!("{models:?}"));
    assert_eq!(bert.verdict, "medium");
    assert_eq!(bert.locations, ["pkg:huggingface/acme/bert@1"]);
    // Not CycloneDX, or a version aigis does not read: refused.
    for bad in [
        json!({"bomFormat": "SPDX"}),
        json!({"bomFormat": "CycloneDX", "specVersion": "9.9"}),
    ] {
        assert!(ScanDocument::from_cyclonedx(&bad).is_err(), "{bad}");
    }

    let exported = store
        .export_cyclonedx("0.0.0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let components = exported["components"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(components.len(), 2, "{exported:#}");
    let vulns = exported["vulnerabilities"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let accepted = vulns
        .iter()
        .find(|v| v["id"] == "PICKLE-CALL-DANGEROUS")
        .unwrap_or_else(|| panic!("{exported:#}"));
    assert_eq!(accepted["analysis"]["state"], "exploitable");
    assert_eq!(accepted["analysis"]["response"][0], "will_not_fix");
    assert!(
        accepted["analysis"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("sandboxed loader") && d.contains("2100-01-01")),
        "{accepted}"
    );
    // Read back: the same content, places and verdicts.
    let back = ScanDocument::from_cyclonedx(&exported).unwrap_or_else(|e| panic!("{e}"));
    let pickle = back
        .results
        .iter()
        .find(|r| r.sha256.as_deref() == Some(SHA_A))
        .unwrap_or_else(|| panic!("{back:?}"));
    assert!(pickle.incomplete.is_none(), "{pickle:?}");
    assert_eq!(pickle.findings[0].severity, "critical");
    assert_eq!(
        pickle.source.as_ref().and_then(|s| s["uri"].as_str()),
        Some("file://build-01/srv/models/m.pkl")
    );
    let bert = back
        .results
        .iter()
        .find(|r| r.sha256.as_deref() == Some(SHA_B))
        .unwrap_or_else(|| panic!("{back:?}"));
    assert!(
        bert.incomplete
            .as_deref()
            .is_some_and(|w| w.contains("syft")),
        "{bert:?}"
    );
    // Models come back in the places they were recorded.
    let mut places: Vec<&str> = back
        .models
        .iter()
        .flatten()
        .map(|m| m.path.as_str())
        .collect();
    places.sort_unstable();
    assert_eq!(
        places,
        [
            "file://build-01/srv/models/m.pkl",
            "pkg:huggingface/acme/bert@1"
        ],
        "{back:?}"
    );
}

async fn findings_pages_are_worst_first_and_cursored_in_sql(store: &Store) {
    // Findings of every severity (and one aigis does not know), on content held now, some
    // marked; and one on content no location holds any more.
    let severities = [
        "info",
        "critical",
        "low",
        "bogus",
        "high",
        "incomplete",
        "medium",
        "info",
        "critical",
    ];
    let results: Vec<Value> = severities
        .iter()
        .enumerate()
        .map(|(i, severity)| {
            let rule = if i % 2 == 0 { "RULE-EVEN" } else { "RULE-ODD" };
            result(
                &format!("models/f{i}.pkl"),
                &format!("{i:064x}"),
                "none",
                vec![
                    finding(rule, severity, &format!("finding {i}")),
                    finding("RULE-SECOND", "info", &format!("also {i}")),
                ],
            )
        })
        .collect();
    store
        .ingest(&doc(results, vec![]), &meta(1_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let all = store
        .findings(None, true)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), severities.len() * 2);
    let order = |f: &aigis_store::FindingRow| {
        (
            std::cmp::Reverse(aigis_store::severity_rank(&f.severity)),
            f.id,
        )
    };
    assert!(
        all.windows(2).all(|w| order(&w[0]) < order(&w[1])),
        "{all:?}"
    );
    assert_eq!(all[0].severity, "critical");
    assert_eq!(all[all.len() - 1].severity, "bogus");
    // Marked ones drop out unless asked for; an expired mark is no mark.
    let high = all
        .iter()
        .find(|f| f.severity == "high")
        .map_or(0, |f| f.id);
    let medium = all
        .iter()
        .find(|f| f.severity == "medium")
        .map_or(0, |f| f.id);
    store
        .triage(high, TriageState::FalsePositive, "ours", None, "alice")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .triage(medium, TriageState::Accepted, "for now", Some(1), "alice")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Page through, three at a time, with every filter: the pages join up to the whole list.
    for (rule, include_triaged) in [
        (None, false),
        (None, true),
        (Some("rule-even"), false),
        (Some("RULE-ODD"), true),
        (Some("NO-SUCH-RULE"), true),
    ] {
        let filter = FindingFilter {
            rule: rule.map(str::to_owned),
            include_triaged,
        };
        let expected: Vec<i64> = all
            .iter()
            .filter(|f| rule.is_none_or(|r| f.rule_id.eq_ignore_ascii_case(r)))
            .filter(|f| include_triaged || f.id != high)
            .map(|f| f.id)
            .collect();
        let mut paged = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = store
                .findings_page(&filter, cursor.as_deref(), 3, aigis_store_now())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(page.items.len() <= 3);
            paged.extend(page.items.iter().map(|f| f.id));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
            assert!(paged.len() <= expected.len(), "{rule:?}: runs past the end");
        }
        assert_eq!(
            paged, expected,
            "{rule:?} include_triaged={include_triaged}"
        );
    }
    let expired = all.iter().find(|f| f.id == medium);
    assert!(expired.is_some());
    let open = store
        .findings(None, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(open.iter().any(|f| f.id == medium && f.triage.is_none()));
    // Each finding carries where its content is now.
    assert!(open.iter().all(|f| f.locations.len() == 1), "{open:?}");
    // A cursor that does not parse starts over.
    let first = store
        .findings_page(&FindingFilter::default(), Some("x.y"), 2, aigis_store_now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.items.first().map(|f| f.id), Some(all[0].id));
    // Content no location holds any more has no open findings.
    let mut gone = doc(vec![], vec![]);
    gone.targets = vec!["models".into()];
    store
        .ingest(&gone, &meta(2_000))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let left = store
        .findings_page(&FindingFilter::default(), None, 500, aigis_store_now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(left.items.is_empty() && left.next.is_none(), "{left:?}");
}

fn aigis_store_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
