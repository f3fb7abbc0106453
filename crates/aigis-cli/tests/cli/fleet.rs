//! Fleet scanning on real components: a PostgreSQL server of the test's own (started with
//! `scripts/postgres-test-server` on a free port, so restarting it disturbs no other test),
//! moto's S3 server, three `aigis worker` processes. One worker is killed with SIGKILL in the
//! middle of a shard and the database is restarted while the others work; every object must end
//! up in the inventory exactly once with its verdict, the poison object dead-lettered with its
//! error, and a second run must fetch only the object that changed.

use crate::remote::{AZ_KEY, az_container, az_put, azurite, free_port, moto, s3_env, seed};
use crate::support::{aigis_command, repo_root};
use aigis_testkit::Tool;
use serde_json::Value;
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A PostgreSQL server of this test's own, stopped (and its data deleted) on drop.
struct Postgres {
    url: String,
    env: Vec<(String, String)>,
}

impl Postgres {
    fn start() -> Postgres {
        // The shared test server's presence says the server binaries are installed.
        let _ = Tool::Postgres.path();
        let dir = std::env::temp_dir().join(format!("aigis-pg-fleet-{}", std::process::id()));
        let env = vec![
            ("AIGIS_PG_PORT".to_owned(), free_port().to_string()),
            (
                "AIGIS_PG_DIR".to_owned(),
                dir.to_string_lossy().into_owned(),
            ),
        ];
        let out = Postgres::script(&env, "start");
        let url = out
            .trim()
            .strip_prefix("export AIGIS_TEST_POSTGRES=")
            .unwrap_or_else(|| panic!("postgres-test-server said {out}"))
            .to_owned();
        Postgres { url, env }
    }

    fn script(env: &[(String, String)], command: &str) -> String {
        let out = Command::new(repo_root().join("scripts/postgres-test-server"))
            .args(command.split(' '))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap_or_else(|e| panic!("postgres-test-server: {e}"));
        assert!(
            out.status.success(),
            "postgres-test-server {command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops the server, keeps it down for two seconds, starts it again.
    fn restart(&self) {
        Postgres::script(&self.env, "restart 2");
    }

    /// One value of a query, through psql.
    fn value(&self, sql: &str) -> String {
        let psql = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin/psql"))
            .find(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("psql"));
        let out = Command::new(psql)
            .args([&self.url, "-At", "-c", sql])
            .output()
            .unwrap_or_else(|e| panic!("psql: {e}"));
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/postgres-test-server"))
            .arg("stop")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output();
    }
}

/// `aigis ARGS` against the inventory at `url`; stdout, or a panic with stderr.
fn aigis(url: &str, args: &[&str]) -> String {
    let out = aigis_command()
        .args(args)
        .env("AIGIS_DB", url)
        .output()
        .unwrap_or_else(|e| panic!("aigis: {e}"));
    assert!(
        out.status.success(),
        "aigis {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A worker process whose stderr lines arrive on `lines` as (worker, line).
fn worker(url: &str, index: usize, lines: mpsc::Sender<(usize, String)>) -> Child {
    let mut cmd = aigis_command();
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
            cmd.env_remove(name);
        }
    }
    let mut child = cmd
        .args([
            "worker",
            "--name",
            &format!("w{index}"),
            "--lease",
            "3s",
            "--poll",
            "200ms",
            "--until-idle",
            "--remote-concurrency",
            "1",
            "--no-policy",
        ])
        .env("AIGIS_DB", url)
        .envs(s3_env())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("aigis worker: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send((index, line));
        }
    });
    child
}

fn wait(child: &mut Child, what: &str, deadline: Instant) -> std::process::ExitStatus {
    loop {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

const OBJECTS: usize = 120;

pub(crate) fn three_workers_survive_a_kill_and_a_postgres_restart_and_record_each_object_once() {
    let Some((server, python)) = moto() else {
        return;
    };
    let pg = Postgres::start();
    let endpoint = format!("http://127.0.0.1:{}", server.port);
    let rigged = repo_root().join("examples/rigged-model.pkl");
    seed(
        &python,
        &["s3-bucket", "--endpoint", &endpoint, "--bucket", "fleet"],
    );
    seed(
        &python,
        &[
            "s3-fleet",
            "--endpoint",
            &endpoint,
            "--bucket",
            "fleet",
            "--count",
            &OBJECTS.to_string(),
            "--size",
            "20000",
            "--file",
            &rigged.to_string_lossy(),
        ],
    );
    let enqueue = [
        "enqueue",
        "s3://fleet/",
        "--endpoint",
        &endpoint,
        "--shard-size",
        "6",
        "--max-attempts",
        "3",
        "--backoff",
        "300ms",
    ];
    let said = aigis(&pg.url, &enqueue);
    assert!(said.contains("list s3://fleet/"), "{said}");

    let (tx, rx) = mpsc::channel();
    let mut workers: Vec<Child> = (0..3).map(|i| worker(&pg.url, i, tx.clone())).collect();
    drop(tx);
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut log: Vec<(usize, String)> = Vec::new();
    // Worker 0 is killed as soon as it has claimed a shard.
    let (killed_job, killed_at) = loop {
        let (index, line) = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no worker output; so far: {log:?}"));
        log.push((index, line.clone()));
        if index == 0 && line.contains("(shard ") && line.ends_with("claimed") {
            workers[0].kill().unwrap_or_else(|e| panic!("kill: {e}"));
            let job: i64 = line
                .split("job ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|id| id.parse().ok())
                .unwrap_or_else(|| panic!("no job id in {line}"));
            break (job, Instant::now());
        }
    };
    let _ = workers[0].wait();
    // The database goes away for two seconds while the other two work.
    pg.restart();
    let restarted_at = Instant::now();
    // Lines that arrived during the outage are drained first: what follows came after it.
    log.extend(rx.try_iter());
    let restart_line = log.len();

    let mut taken_over_after = None;
    while let Ok((index, line)) = rx.recv_timeout(Duration::from_secs(120)) {
        if line.contains(&format!("job {killed_job}: taken over from w0")) {
            taken_over_after.get_or_insert(killed_at.elapsed());
        }
        log.push((index, line));
    }
    for (i, child) in workers.iter_mut().enumerate().skip(1) {
        let status = wait(child, &format!("worker {i}"), deadline);
        assert!(status.success(), "worker {i}: {status}; log: {log:#?}");
    }
    let taken_over_after =
        taken_over_after.unwrap_or_else(|| panic!("nobody took over job {killed_job}: {log:#?}"));
    eprintln!(
        "fleet: worker killed on job {killed_job}; database restarted {:?} later; the job was taken over {taken_over_after:?} after the kill (lease 3 s, poll 200 ms)",
        restarted_at - killed_at
    );
    assert!(
        taken_over_after >= Duration::from_millis(2500),
        "taken over before the lease could expire: {taken_over_after:?}"
    );
    // The live workers went on after the database came back.
    assert!(
        log[restart_line..]
            .iter()
            .any(|(i, l)| *i != 0 && l.contains(" done: ")),
        "nothing finished after the restart: {log:#?}"
    );

    // Every object exactly once, with its verdict; one scan per finished shard.
    let jobs = json(&aigis(
        &pg.url,
        &["jobs", "list", "--format", "json", "--limit", "1000"],
    ));
    let jobs = jobs.as_array().cloned().unwrap_or_default();
    let killed = jobs
        .iter()
        .find(|j| j["id"] == killed_job)
        .unwrap_or_else(|| panic!("job {killed_job} missing"));
    assert_eq!(killed["state"], "done", "{killed}");
    assert!(killed["attempts"].as_i64().unwrap_or(0) >= 2, "{killed}");
    let done_shards = jobs
        .iter()
        .filter(|j| j["kind"] == "shard" && j["state"] == "done")
        .count();
    let models = "l.uri LIKE 's3://fleet/models/%'";
    let from = "FROM occurrences o JOIN locations l ON l.id = o.location_id JOIN files f ON f.id = o.file_id";
    assert_eq!(
        pg.value(&format!(
            "SELECT COUNT(*) || ' ' || COUNT(DISTINCT l.uri) {from} WHERE {models}"
        )),
        format!("{OBJECTS} {OBJECTS}")
    );
    assert_eq!(
        pg.value("SELECT COUNT(*) FROM scans WHERE collector = 'worker'"),
        done_shards.to_string(),
        "a shard was recorded twice (or a recorded shard is not done)"
    );
    assert_eq!(
        pg.value(&format!(
            "SELECT COUNT(*) {from} WHERE {models} AND l.uri LIKE '%-rigged.pkl' AND f.verdict = 'critical'"
        )),
        (OBJECTS / 10).to_string()
    );
    assert_eq!(
        pg.value(&format!(
            "SELECT COUNT(*) {from} WHERE {models} AND l.uri NOT LIKE '%-rigged.pkl' AND f.verdict IN ('none', 'info', 'low') AND f.status = 'ok'"
        )),
        (OBJECTS - OBJECTS / 10).to_string()
    );
    // The poison object: dead-lettered with the store's refusal, never recorded as clean.
    let status = json(&aigis(&pg.url, &["jobs", "--format", "json"]));
    let dead = status["dead"].as_array().cloned().unwrap_or_default();
    assert_eq!(dead.len(), 1, "{status}");
    assert_eq!(dead[0]["objects"], 1);
    assert_eq!(dead[0]["attempts"], 3);
    let error = dead[0]["last_error"].as_str().unwrap_or("");
    assert!(
        error.contains("s3://fleet/frozen/model.pkl") && error.contains("InvalidObjectState"),
        "{error}"
    );
    assert_eq!(
        pg.value("SELECT COUNT(*) FROM locations WHERE uri LIKE '%frozen%'"),
        "0"
    );
    let queue = &status["queues"][0];
    assert_eq!(
        (
            queue["ready"].as_i64(),
            queue["running"].as_i64(),
            queue["dead"].as_i64()
        ),
        (Some(0), Some(0), Some(1)),
        "{status}"
    );

    // A second run: one object changed; the listing skips the rest.
    let replacement = repo_root().join("examples/checkpoint.bin");
    seed(
        &python,
        &[
            "s3-put",
            "--endpoint",
            &endpoint,
            "--bucket",
            "fleet",
            "--key",
            "models/00000.pkl",
            "--file",
            &replacement.to_string_lossy(),
        ],
    );
    // And one object deleted.
    seed(
        &python,
        &[
            "s3-delete",
            "--endpoint",
            &endpoint,
            "--bucket",
            "fleet",
            "--key",
            "models/00001.pkl",
        ],
    );
    aigis(&pg.url, &enqueue);
    let (tx, rx) = mpsc::channel();
    let mut again = worker(&pg.url, 3, tx);
    let status = wait(
        &mut again,
        "the re-scan",
        Instant::now() + Duration::from_secs(120),
    );
    let relog: Vec<String> = rx.try_iter().map(|(_, l)| l).collect();
    assert!(status.success(), "{relog:#?}");
    let jobs = json(&aigis(
        &pg.url,
        &["jobs", "list", "--format", "json", "--limit", "1000"],
    ));
    let jobs = jobs.as_array().cloned().unwrap_or_default();
    let listing = jobs
        .iter()
        .find(|j| j["kind"] == "listing")
        .unwrap_or_else(|| panic!("no listing"));
    assert_eq!(listing["skipped"], (OBJECTS - 2) as i64, "{listing}");
    // The changed object and the poison object were handed out again, nothing else.
    assert_eq!(listing["files"], 2, "{listing}");
    assert_eq!(
        pg.value(&format!(
            "SELECT COUNT(*) || ' ' || SUM(o.current) {from} WHERE l.uri = 's3://fleet/models/00000.pkl'"
        )),
        "2 1"
    );
    // The deleted object is gone from the inventory: one event, nothing current there.
    assert_eq!(
        pg.value(
            "SELECT COUNT(*) FROM events e JOIN locations l ON l.id = e.location_id \
             WHERE e.kind = 'MODEL_DISAPPEARED' AND l.uri = 's3://fleet/models/00001.pkl'"
        ),
        "1"
    );
    assert_eq!(
        pg.value("SELECT COUNT(*) FROM events WHERE kind = 'MODEL_DISAPPEARED'"),
        "1"
    );
    assert_eq!(
        pg.value(&format!(
            "SELECT COALESCE(SUM(o.current), 0) {from} WHERE l.uri = 's3://fleet/models/00001.pkl'"
        )),
        "0"
    );
}

/// A worker asked to stop (SIGTERM, as Kubernetes and systemd ask) finishes what it holds and
/// exits 0; jobs it had not claimed stay queued for the others.
pub(crate) fn a_worker_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = format!("sqlite:{}", dir.path().join("inventory.db").display());
    let models = repo_root().join("examples");
    aigis(&db, &["enqueue", &models.to_string_lossy()]);
    let (tx, rx) = mpsc::channel();
    let mut child = aigis_command()
        .args([
            "worker",
            "--poll",
            "100ms",
            "--no-policy",
            "--name",
            "w-term",
        ])
        .env("AIGIS_DB", &db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("aigis worker: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    // The one job is done; the worker then waits for more.
    while !log.iter().any(|l: &String| l.contains(" done: ")) {
        log.push(
            rx.recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no job done: {log:#?}")),
        );
    }
    aigis(
        &db,
        &["enqueue", "--priority", "-1", &models.to_string_lossy()],
    );
    aigis(&db, &["jobs", "pause", "default"]);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(killed.success());
    let status = wait(
        &mut child,
        "the worker after SIGTERM",
        Instant::now() + Duration::from_secs(30),
    );
    log.extend(rx.try_iter());
    assert!(status.success(), "{status}: {log:#?}");
    assert!(
        log.iter()
            .any(|l| l.contains("SIGTERM: taking no more jobs")),
        "{log:#?}"
    );
    let queues = json(&aigis(&db, &["jobs", "--format", "json"]));
    assert_eq!(queues["queues"][0]["ready"], 1, "{queues}");
    assert_eq!(queues["queues"][0]["done"], 1, "{queues}");
}

/// An Azure container through the queue (Azurite): its objects are recorded at the inventory's
/// `azure://` locations, so the next listing finds them unchanged and fetches nothing.
pub(crate) fn an_azure_container_is_listed_sharded_and_skipped_when_unchanged() {
    let Some(server) = azurite() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}/devstoreaccount1", server.port);
    az_container(&endpoint, "models", None);
    let examples = repo_root().join("examples");
    let names = [
        "rigged-model.pkl",
        "resnet-tiny.pt",
        "sklearn-pipeline.joblib",
    ];
    for name in names {
        az_put(
            &endpoint,
            "models",
            &format!("team/{name}"),
            &examples.join(name),
        );
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = format!("sqlite:{}", dir.path().join("inventory.db").display());
    let run = || {
        aigis(
            &db,
            &[
                "enqueue",
                "az://models/team",
                "--endpoint",
                &endpoint,
                "--shard-size",
                "2",
            ],
        );
        let out = aigis_command()
            .args(["worker", "--until-idle", "--poll", "100ms", "--no-policy"])
            .env("AIGIS_DB", &db)
            .env("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1")
            .env("AZURE_STORAGE_ACCOUNT_KEY", AZ_KEY)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{said}");
        said
    };
    let first = run();
    assert!(
        first.contains("3 objects listed, 0 unchanged since last recorded, 2 shards enqueued"),
        "{first}"
    );
    let changes = aigis(&db, &["inventory", "changes", "--format", "json"]);
    assert!(
        changes.contains("azure://models/team/rigged-model.pkl"),
        "{changes}"
    );
    let second = run();
    assert!(
        second.contains("3 objects listed, 3 unchanged since last recorded, 0 shards enqueued"),
        "{second}"
    );
    let status = json(&aigis(&db, &["jobs", "--format", "json"]));
    assert_eq!(status["queues"][0]["done"], 4, "{status}");
    assert_eq!(status["queues"][0]["dead"], 0, "{status}");
}
