//! `aigis agent` against a real `aigis serve` on loopback: the first report is whole, an
//! unchanged host pushes nothing, a change made while the server is down waits in the spool and
//! is delivered, once, when it is back.

use crate::serve::{start_server, token};
use crate::support::{aigis_command, repo_root};
use serde_json::Value;
use std::path::Path;

fn agent(server: &str, token: &str, spool: &Path, root: &Path) -> String {
    let out = aigis_command()
        .args([
            "agent",
            "--once",
            "--no-policy",
            "--server",
            server,
            "--spool",
        ])
        .arg(spool)
        .arg(root)
        .env("AIGIS_TOKEN", token)
        .output()
        .unwrap_or_else(|e| panic!("aigis agent: {e}"));
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{said}");
    said
}

fn scans(db: &str) -> Vec<Value> {
    let out = aigis_command()
        .env("AIGIS_DB", db)
        .args(["inventory", "scans", "--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_else(|| panic!("scans: {}", String::from_utf8_lossy(&out.stdout)))
}

/// `aigis inventory changes --format json` of `db`.
fn changes_of(db: &str) -> String {
    let out = aigis_command()
        .env("AIGIS_DB", db)
        .args(["inventory", "changes", "--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn spooled(spool: &Path) -> usize {
    std::fs::read_dir(spool)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("report-"))
                .count()
        })
        .unwrap_or(0)
}

pub(crate) fn an_agent_pushes_changes_and_spools_them_while_the_server_is_down() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = format!("sqlite:{}", dir.path().join("inventory.db").display());
    let root = dir.path().join("models");
    // Inside the covered folder: the agent's own files are not the host's content.
    let spool = root.join("spool");
    std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("{e}"));
    let examples = repo_root().join("examples");
    for name in ["rigged-model.pkl", "resnet-tiny.pt"] {
        std::fs::copy(examples.join(name), root.join(name)).unwrap_or_else(|e| panic!("{e}"));
    }
    let secret = token(&db, "agent", "ingest");

    let server = start_server(&db);
    let url = format!("http://{}", server.addr);
    let said = agent(&url, &secret, &spool, &root);
    assert!(
        said.contains("pushed: whole report (2 files, 0 gone)"),
        "{said}"
    );
    assert_eq!(scans(&db).len(), 1);
    // Nothing changed: nothing is pushed.
    let said = agent(&url, &secret, &spool, &root);
    assert!(said.contains("nothing changed"), "{said}");
    assert_eq!(scans(&db).len(), 1);

    // The server goes away; the clean model is replaced by a malicious one.
    drop(server);
    std::fs::copy(
        examples.join("rigged-model.pkl"),
        root.join("resnet-tiny.pt"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let said = agent(&url, &secret, &spool, &root);
    assert!(said.contains("spooled: 1 changed of 2 files"), "{said}");
    assert_eq!(spooled(&spool), 1);

    // Back (on another port): the spooled report is delivered once, and nothing else is new.
    let server = start_server(&db);
    let url = format!("http://{}", server.addr);
    let said = agent(&url, &secret, &spool, &root);
    assert!(said.contains("delivered the spooled"), "{said}");
    assert!(said.contains("nothing changed"), "{said}");
    assert_eq!(spooled(&spool), 0);
    let all = scans(&db);
    assert_eq!(all.len(), 2, "{all:?}");
    let changes = changes_of(&db);
    assert!(
        changes.contains("MODEL_REPLACED") && changes.contains("resnet-tiny.pt"),
        "{changes}"
    );

    // A file removed: the next report is whole, so the inventory sees it gone.
    std::fs::remove_file(root.join("rigged-model.pkl")).unwrap_or_else(|e| panic!("{e}"));
    let said = agent(&url, &secret, &spool, &root);
    assert!(
        said.contains("pushed: whole report (1 files, 1 gone)"),
        "{said}"
    );
    let changes = changes_of(&db);
    assert!(changes.contains("MODEL_DISAPPEARED"), "{changes}");

    // A token without the ingest scope is an error, and the report is not lost.
    let reader = token(&db, "reader", "read");
    std::fs::copy(examples.join("resnet-tiny.pt"), root.join("resnet-tiny.pt"))
        .unwrap_or_else(|e| panic!("{e}"));
    let out = aigis_command()
        .args([
            "agent",
            "--once",
            "--no-policy",
            "--server",
            &url,
            "--spool",
        ])
        .arg(&spool)
        .arg(&root)
        .env("AIGIS_TOKEN", &reader)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("refused the token (403)"), "{said}");

    // In a container with the node's / mounted at a folder: read there, reported as the node
    // names it, under the node's name.
    std::fs::copy(
        examples.join("rigged-model.pkl"),
        root.join("rigged-model.pkl"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = aigis_command()
        .args([
            "agent",
            "--once",
            "--no-policy",
            "--server",
            &url,
            "--host",
            "node-7",
        ])
        .arg("--spool")
        .arg(dir.path().join("node-spool"))
        .arg("--host-root")
        .arg(dir.path())
        .arg("/models")
        .env("AIGIS_TOKEN", &secret)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let changes = changes_of(&db);
    assert!(
        changes.contains("file://node-7/models/rigged-model.pkl"),
        "{changes}"
    );
    assert!(
        !changes.contains(&format!("node-7{}", dir.path().display())),
        "{changes}"
    );
}
