//! The fleet's work queue (part of the inventory suite in `store.rs`, on SQLite and PostgreSQL).

use aigis_store::{Failed, JobKind, JobSpec, ObjectStamp, Store, StoreError};
use serde_json::{Value, json};

fn spec(target: &str, kind: JobKind, priority: i64) -> JobSpec {
    JobSpec {
        queue: "default".into(),
        kind,
        target: target.into(),
        options: json!({"shard_size": 2}),
        priority,
        max_attempts: 2,
        backoff_ms: 0,
    }
}

fn ok<T>(result: Result<T, StoreError>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn object_doc(uri_key: &str, etag: &str, severity: &str) -> aigis_store::ScanDocument {
    serde_json::from_value(json!({
        "tool": {"name": "aigis", "version": "0.1.0"},
        "targets": [],
        "results": [{
            "path": format!("s3://fleet/{uri_key}"), "format": "pickle", "size": 10, "status": "ok",
            "content_severity": severity, "findings": [],
            "source": {"kind": "s3", "bucket": "fleet", "key": uri_key, "etag": etag},
        }],
    }))
    .unwrap_or_else(|e| panic!("{e}"))
}

pub async fn jobs_are_claimed_once_by_priority_and_a_paused_queue_hands_out_none(store: &Store) {
    let low = ok(store.enqueue(&spec("/srv/a", JobKind::Target, 0)).await);
    let high = ok(store.enqueue(&spec("/srv/b", JobKind::Target, 5)).await);
    ok(store.set_paused("default", true).await);
    assert!(ok(store.claim("default", "w1", 60_000).await).is_none());
    let stats = ok(store.queue_stats().await);
    assert!(stats[0].paused && stats[0].ready == 2, "{stats:?}");
    ok(store.set_paused("default", false).await);
    let first = ok(store.claim("default", "w1", 60_000).await).unwrap_or_else(|| panic!("no job"));
    assert_eq!((first.id, first.attempt, first.fence), (high, 1, 1));
    let second = ok(store.claim("default", "w2", 60_000).await).unwrap_or_else(|| panic!("no job"));
    assert_eq!(second.id, low);
    // Both are held under live leases: nothing more to hand out, but the queue is not idle.
    assert!(ok(store.claim("default", "w3", 60_000).await).is_none());
    assert!(!ok(store.queue_idle("default").await));
    assert!(ok(store.heartbeat(&first, 60_000).await));
    let stats = ok(store.queue_stats().await);
    assert_eq!((stats[0].running, stats[0].ready), (2, 0), "{stats:?}");
    // Another queue is another queue.
    assert!(ok(store.claim("gpu", "w3", 60_000).await).is_none());
}

pub async fn an_expired_lease_is_taken_over_and_the_old_claim_records_nothing(store: &Store) {
    let id = ok(store
        .enqueue(&spec("s3://fleet/m", JobKind::Target, 0))
        .await);
    let stale =
        ok(store.claim("default", "dead-worker", 1).await).unwrap_or_else(|| panic!("no job"));
    std::thread::sleep(std::time::Duration::from_millis(20));
    let fresh = ok(store.claim("default", "w2", 60_000).await).unwrap_or_else(|| panic!("no job"));
    assert_eq!(fresh.id, id);
    assert_eq!(fresh.attempt, 2);
    assert!(fresh.fence > stale.fence);
    assert_eq!(fresh.reclaimed_from.as_deref(), Some("dead-worker"));
    // The old claim can neither extend, fail nor finish the job, and records nothing.
    assert!(!ok(store.heartbeat(&stale, 60_000).await));
    assert!(matches!(
        store.fail_job(&stale, "late").await,
        Err(StoreError::LeaseLost(_))
    ));
    let doc = object_doc("m", "\"e1\"", "critical");
    let meta = aigis_store::ScanMeta {
        started_at: 1,
        host: "w".into(),
        collector: "worker".into(),
        arguments: vec![],
        base_dir: None,
    };
    assert!(matches!(
        store.finish_job(&stale, &doc, &meta, None).await,
        Err(StoreError::LeaseLost(_))
    ));
    assert!(
        ok(store.scans(10).await).is_empty(),
        "a stale claim recorded a scan"
    );
    // The new one finishes it; a second delivery of the same result is refused.
    let summary = ok(store.finish_job(&fresh, &doc, &meta, None).await);
    assert_eq!(summary.files, 1);
    assert!(matches!(
        store.finish_job(&fresh, &doc, &meta, None).await,
        Err(StoreError::LeaseLost(_))
    ));
    assert_eq!(ok(store.scans(10).await).len(), 1);
    let done = ok(store.jobs(Some("done"), 10).await);
    assert_eq!((done.len(), done[0].scan_id), (1, Some(summary.scan_id)));
    assert!(ok(store.queue_idle("default").await));
    // Pruning keeps what finished after the cut-off, and the inventory keeps the results.
    assert_eq!(ok(store.prune_jobs(0).await), 0);
    assert_eq!(ok(store.prune_jobs(i64::MAX).await), 1);
    assert!(ok(store.jobs(None, 10).await).is_empty());
    assert_eq!(ok(store.scans(10).await).len(), 1);
}

pub async fn failed_jobs_back_off_then_dead_letter_with_their_error(store: &Store) {
    let mut with_backoff = spec("s3://gone/x", JobKind::Listing, 0);
    with_backoff.backoff_ms = 60_000;
    let id = ok(store.enqueue(&with_backoff).await);
    let job = ok(store.claim("default", "w1", 60_000).await).unwrap_or_else(|| panic!("no job"));
    match ok(store.fail_job(&job, "NoSuchBucket").await) {
        Failed::Retry { run_after_ms } => {
            assert!(
                run_after_ms >= aigis_store::now_ms() + 50_000,
                "{run_after_ms}"
            )
        }
        Failed::Dead => panic!("dead after one of two attempts"),
    }
    // Backing off: not handed out, counted as delayed.
    assert!(ok(store.claim("default", "w1", 60_000).await).is_none());
    assert_eq!(ok(store.queue_stats().await)[0].delayed, 1);
    // A dead job whose lease expired on its last attempt is dead-lettered, not handed out.
    let mut crashing = spec("/srv/crash", JobKind::Target, 0);
    crashing.max_attempts = 1;
    let crash = ok(store.enqueue(&crashing).await);
    let _held = ok(store.claim("default", "w1", 1).await).unwrap_or_else(|| panic!("no job"));
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(ok(store.claim("default", "w2", 60_000).await).is_none());
    let dead = ok(store.jobs(Some("dead"), 10).await);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, crash);
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("lease expired"),
        "{:?}",
        dead[0]
    );
    // Retried by hand; then it fails for good on its last attempt, with its error kept.
    ok(store.retry_job(crash).await);
    let again = ok(store.claim("default", "w2", 60_000).await).unwrap_or_else(|| panic!("no job"));
    assert_eq!((again.id, again.attempt), (crash, 1));
    assert_eq!(
        ok(store.fail_job(&again, "segfault in the reader").await),
        Failed::Dead
    );
    let stats = ok(store.queue_stats().await);
    assert_eq!((stats[0].dead, stats[0].delayed), (1, 1), "{stats:?}");
    let dead = ok(store.jobs(Some("dead"), 10).await);
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("segfault in the reader")
    );
    assert!(matches!(
        store.retry_job(id).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn a_listing_becomes_shards_and_unchanged_objects_are_not_fetched_again(store: &Store) {
    ok(store
        .enqueue(&spec("s3://fleet/", JobKind::Listing, 3))
        .await);
    let listing =
        ok(store.claim("default", "w1", 60_000).await).unwrap_or_else(|| panic!("no job"));
    let objects: Vec<String> = (0..3).map(|i| format!("s3://fleet/m{i}")).collect();
    let shards: Vec<Vec<String>> = objects.chunks(2).map(<[String]>::to_vec).collect();
    let meta = aigis_store::ScanMeta {
        started_at: 1,
        host: "w".into(),
        collector: "worker".into(),
        arguments: vec![],
        base_dir: None,
    };
    let listed: std::collections::HashSet<String> = objects.iter().cloned().collect();
    let ids = ok(store
        .finish_listing(&listing, &shards, 0, &listed, &meta)
        .await);
    assert_eq!(ids.len(), 2);
    // The first shard: m0 recorded, m1 unreadable: queued again as a shard of its own that keeps
    // the attempt count.
    let shard = ok(store.claim("default", "w1", 60_000).await).unwrap_or_else(|| panic!("no job"));
    assert_eq!(
        (shard.kind, shard.priority, shard.objects.len()),
        (JobKind::Shard, 3, 2)
    );
    let unread = (
        vec!["s3://fleet/m1".to_owned()],
        "403 InvalidObjectState".to_owned(),
    );
    ok(store
        .finish_job(
            &shard,
            &object_doc("m0", "\"e0\"", "none"),
            &meta,
            Some(&unread),
        )
        .await);
    let next = ok(store.claim("default", "w1", 60_000).await).unwrap_or_else(|| panic!("no job"));
    let (retry, other) = if next.objects == ["s3://fleet/m1"] {
        let other =
            ok(store.claim("default", "w1", 60_000).await).unwrap_or_else(|| panic!("no job"));
        (next, other)
    } else {
        let retry =
            ok(store.claim("default", "w1", 60_000).await).unwrap_or_else(|| panic!("no job"));
        (retry, next)
    };
    assert_eq!(retry.objects, ["s3://fleet/m1"]);
    assert_eq!(retry.attempt, 2);
    assert_eq!(
        ok(store.fail_job(&retry, "403 InvalidObjectState").await),
        Failed::Dead
    );
    ok(store
        .finish_job(&other, &object_doc("m2", "\"e2\"", "critical"), &meta, None)
        .await);
    assert!(ok(store.queue_idle("default").await));

    // What the next listing sees: m0 and m2 unchanged, m2 with a new ETag is changed, m1 was
    // never recorded, a size change is a change.
    let stamp = |uri: &str, etag: &str, size: u64| ObjectStamp {
        uri: uri.into(),
        etag: Some(etag.into()),
        version: None,
        size,
    };
    let same = ok(store
        .unchanged_objects(&[
            stamp("s3://fleet/m0", "\"e0\"", 10),
            stamp("s3://fleet/m1", "\"e1\"", 10),
            stamp("s3://fleet/m2", "\"e2\"", 10),
        ])
        .await);
    assert_eq!(same.len(), 2, "{same:?}");
    // A store that quotes its ETag in one answer and not in another (Azure) is the same ETag.
    let unquoted = ok(store
        .unchanged_objects(&[stamp("s3://fleet/m0", "e0", 10)])
        .await);
    assert_eq!(unquoted.len(), 1, "{unquoted:?}");
    let changed = ok(store
        .unchanged_objects(&[
            stamp("s3://fleet/m0", "\"e0\"", 11),
            stamp("s3://fleet/m2", "\"e2-new\"", 10),
        ])
        .await);
    assert!(changed.is_empty(), "{changed:?}");
    let rows = ok(store.jobs(None, 10).await);
    assert_eq!(rows.iter().filter(|r| r.kind == "shard").count(), 3);

    // The next listing no longer finds m0: it is gone from the inventory, once.
    ok(store
        .enqueue(&spec("s3://fleet/", JobKind::Listing, 0))
        .await);
    let again = ok(store.claim("default", "w1", 60_000).await).unwrap_or_else(|| panic!("no job"));
    let now_listed: std::collections::HashSet<String> = ["s3://fleet/m1", "s3://fleet/m2"]
        .map(str::to_owned)
        .into_iter()
        .collect();
    ok(store
        .finish_listing(&again, &[], 1, &now_listed, &meta)
        .await);
    let gone: Vec<_> = ok(store.changes(aigis_store::Since::Time(0)).await)
        .into_iter()
        .filter(|e| e.kind == "MODEL_DISAPPEARED")
        .collect();
    assert_eq!(gone.len(), 1, "{gone:?}");
    assert_eq!(gone[0].location, "s3://fleet/m0");
    ok(store
        .enqueue(&spec("s3://fleet/", JobKind::Listing, 0))
        .await);
    let third = ok(store.claim("default", "w1", 60_000).await).unwrap_or_else(|| panic!("no job"));
    ok(store
        .finish_listing(&third, &[], 1, &now_listed, &meta)
        .await);
    let gone = ok(store.changes(aigis_store::Since::Time(0)).await)
        .into_iter()
        .filter(|e| e.kind == "MODEL_DISAPPEARED")
        .count();
    assert_eq!(gone, 1);
    let value: Value = serde_json::to_value(&rows).unwrap_or_default();
    assert!(value.to_string().contains("InvalidObjectState"));
}

pub async fn a_due_schedule_fires_once_however_many_workers_race(store: &Store) {
    let mut every = spec("s3://fleet/", JobKind::Listing, 1);
    every.max_attempts = 4;
    assert!(matches!(
        store.add_schedule(&every, 10, 0).await,
        Err(StoreError::Invalid(_))
    ));
    let id = ok(store.add_schedule(&every, 3600, 1_000).await);
    let mut racers = Vec::new();
    for _ in 0..6 {
        let store = store.clone();
        racers.push(tokio::spawn(async move {
            store.fire_due_schedules(5_000).await
        }));
    }
    let mut fired = Vec::new();
    for racer in racers {
        fired.extend(ok(racer.await.unwrap_or_else(|e| panic!("{e}"))));
    }
    assert_eq!(fired.len(), 1, "{fired:?}");
    // Not due again until an hour after the period it fired for.
    assert!(ok(store.fire_due_schedules(5_000).await).is_empty());
    let rows = ok(store.schedules().await);
    assert_eq!(
        (rows[0].id, rows[0].next_run, rows[0].last_job),
        (id, 8_200, Some(fired[0]))
    );
    let job = ok(store.claim("default", "w", 60_000).await).unwrap_or_else(|| panic!("no job"));
    assert_eq!(
        (job.kind, job.max_attempts, job.priority),
        (JobKind::Listing, 4, 1)
    );
    assert_eq!(ok(store.fire_due_schedules(8_200).await).len(), 1);
    ok(store.remove_schedule(id).await);
    assert!(ok(store.schedules().await).is_empty());
}

pub async fn an_object_replaced_by_content_of_the_same_size_is_new_content(store: &Store) {
    let meta = |at| aigis_store::ScanMeta {
        started_at: at,
        host: "w".into(),
        collector: "worker".into(),
        arguments: vec![],
        base_dir: None,
    };
    let doc = |etag: &str, severity: &str| -> aigis_store::ScanDocument {
        serde_json::from_value(json!({
            "tool": {"name": "aigis", "version": "0.1.0"},
            "targets": [],
            "results": [{
                "path": "s3://fleet/m.pkl", "format": "pickle", "size": 10, "status": "ok",
                "content_severity": severity,
                "findings": if severity == "none" { json!([]) } else {
                    json!([{"rule_id": "PICKLE-CALL-DANGEROUS", "severity": severity, "message": "calls os.system"}])
                },
                "source": {"kind": "s3", "bucket": "fleet", "key": "m.pkl", "etag": etag},
            }],
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    };
    ok(store.ingest(&doc("\"a\"", "none"), &meta(1)).await);
    // The same ETag again: the same content, nothing new.
    let again = ok(store.ingest(&doc("\"a\"", "none"), &meta(2)).await);
    assert!(again.events.is_empty(), "{:?}", again.events);
    // Same size, new ETag, now malicious: replaced.
    let replaced = ok(store.ingest(&doc("\"b\"", "critical"), &meta(3)).await);
    let kinds: Vec<&str> = replaced.events.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"MODEL_REPLACED"), "{:?}", replaced.events);
}
