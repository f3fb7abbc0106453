//! `aigis serve` as a user runs it: a token made on the command line, a report pushed over
//! HTTP by the binary's own server, SIGTERM stopping it cleanly; the dashboard in a real
//! browser.

use crate::reports::{CHROMIUM_FLAGS, chromium};
use crate::support::{aigis_command, repo_root, temp_dir};
use aigis_testkit::Tool;
use base64::Engine as _;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Stdio;

/// One HTTP/1.1 request; returns the status code and the body.
fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

pub(crate) fn serve_takes_pushed_reports_with_a_token_and_stops_on_sigterm() {
    let dir = temp_dir();
    let db = format!("sqlite:{}", dir.path().join("inventory.db").display());
    let token = token(&db, "ci", "ingest");
    let report = aigis_command()
        .args(["scan", "--no-cache", "--format", "json"])
        .arg(repo_root().join("examples/rigged-model.pkl"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));

    let mut server = start_server(&db);
    let addr = server.addr.clone();

    let (status, body) = http(&addr, "GET", "/healthz", None, b"");
    assert_eq!(status, 200, "{body}");
    let (status, _) = http(&addr, "POST", "/api/v1/scans", None, &report.stdout);
    assert_eq!(status, 401);
    let (status, body) = http(
        &addr,
        "POST",
        "/api/v1/scans?host=ci-7",
        Some(&token),
        &report.stdout,
    );
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("NEW_UNSAFE_MODEL"), "{body}");
    let (status, body) = http(&addr, "GET", "/api/v1/findings", None, b"");
    assert_eq!(status, 200);
    assert!(body.contains("rigged-model.pkl"), "{body}");
    // The report carries its models, so the pushed run is an inventory of models too.
    let (status, body) = http(&addr, "GET", "/api/v1/models", None, b"");
    assert_eq!(status, 200);
    let models: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(models["items"][0]["name"], "rigged-model.pkl", "{models}");
    assert_eq!(models["items"][0]["verdict"], "critical", "{models}");

    let pid = server.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(killed.success());
    let status = server.child.wait().unwrap_or_else(|e| panic!("{e}"));
    let rest = server
        .said
        .take()
        .and_then(|said| said.join().ok())
        .unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("server stopped"), "{rest}");
}

/// A running `aigis serve` on loopback over `db`; killed when dropped.
pub(crate) struct Served {
    pub(crate) child: std::process::Child,
    pub(crate) addr: String,
    /// The rest of the server's stderr, once it exits.
    said: Option<std::thread::JoinHandle<String>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_server(db: &str) -> Served {
    let mut child = aigis_command()
        .env("AIGIS_DB", db)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stderr = BufReader::new(child.stderr.take().unwrap_or_else(|| panic!("stderr")));
    let mut line = String::new();
    stderr
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    // Keep draining stderr so the server never blocks on a full pipe.
    let said = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });
    Served {
        child,
        addr,
        said: Some(said),
    }
}

/// The page's DOM once its script has loaded the data (Chromium waits for the page's fetches
/// within the virtual time budget).
fn rendered(profile: &Path, url: &str) -> String {
    let out = chromium(
        profile,
        &[
            "--window-size=1280,1000".into(),
            "--virtual-time-budget=10000".into(),
            "--dump-dom".into(),
        ],
        url,
    );
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("data-loaded=\""),
        "{url} did not finish loading: {dom}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dom.contains("data-loaded=\"error\""), "{url}: {dom}");
    dom
}

/// A screenshot of `url` for review, in `target/dashboard/NAME.png`.
fn screenshot(profile: &Path, url: &str, name: &str, height: u32) {
    let dir = repo_root().join("target/dashboard");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let shot = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    let out = chromium(
        profile,
        &[
            format!("--window-size=1280,{height}"),
            "--virtual-time-budget=10000".into(),
            format!("--screenshot={}", shot.display()),
        ],
        url,
    );
    assert!(
        shot.metadata().is_ok_and(|m| m.len() > 10_000),
        "no screenshot of {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Chromium driven through ChromeDriver (W3C WebDriver over HTTP): what a user does with a
/// mouse and keyboard, for the parts of the dashboard that need clicks and typing.
struct Browser {
    driver: std::process::Child,
    addr: String,
    session: String,
}

/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    fn start(profile: &Path) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let driver = std::process::Command::new(Tool::ChromeDriver.path())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver: {e}"));
        let addr = format!("127.0.0.1:{port}");
        let ready = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            TcpStream::connect(&addr).is_ok()
        });
        assert!(ready, "chromedriver did not listen on {addr}");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push("--window-size=1280,1400".into());
        let mut browser = Browser {
            driver,
            addr,
            session: String::new(),
        };
        let answer = browser.call(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
                "binary": Tool::Chromium.path(), "args": args}}}}),
        );
        browser.session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_owned();
        browser.call(
            "POST",
            "/timeouts",
            json!({"implicit": 10_000, "pageLoad": 30_000, "script": 10_000}),
        );
        browser
    }

    /// One WebDriver command on the session (`path` relative to it), its `value`.
    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let path = if path == "/session" {
            path.to_owned()
        } else {
            format!("/session/{}{path}", self.session)
        };
        let body = if method == "GET" {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let (status, text) = self.request(method, &path, &body);
        let answer: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"));
        assert_eq!(status, 200, "{method} {path}: {answer}");
        answer["value"].clone()
    }

    /// One request to ChromeDriver, read to the end of its `content-length` (it keeps the
    /// connection open).
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap_or_else(|e| panic!("{e}"));
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap_or_else(|e| panic!("{e}"));
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            self.addr,
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("{e}"));
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0;
        loop {
            line.clear();
            reader
                .read_line(&mut line)
                .unwrap_or_else(|e| panic!("{e}"));
            if line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader
            .read_exact(&mut body)
            .unwrap_or_else(|e| panic!("{e}"));
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn open(&self, url: &str) {
        self.call("POST", "/url", json!({ "url": url }));
    }

    /// The element `css` selects (waiting for it up to the implicit timeout).
    fn find(&self, css: &str) -> String {
        let found = self.call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no {css}: {found}"))
            .to_owned()
    }

    fn click(&self, css: &str) {
        let element = self.find(css);
        self.call("POST", &format!("/element/{element}/click"), json!({}));
    }

    fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        );
    }

    /// The page's DOM once it contains `text` (panics after ten seconds).
    fn wait_for(&self, text: &str) -> String {
        let mut dom = String::new();
        for _ in 0..100 {
            dom = self
                .call("GET", "/source", json!({}))
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if dom.contains(text) {
                return dom;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the page never showed {text:?}: {dom}");
    }

    /// A screenshot of the window, in `target/dashboard/NAME.png`.
    fn screenshot(&self, name: &str) {
        let png = self.call("GET", "/screenshot", json!({}));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(bytes.len() > 10_000, "an empty screenshot");
        let dir = repo_root().join("target/dashboard");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.request("DELETE", &format!("/session/{}", self.session), b"");
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `aigis serve token create` with one scope; the token.
pub(crate) fn token(db: &str, name: &str, scope: &str) -> String {
    let out = aigis_command()
        .env("AIGIS_DB", db)
        .args(["serve", "token", "create", "--name", name, "--scope", scope])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(token.starts_with("aigis_"), "{token}");
    token
}

/// The scenario, then the dashboard in headless Chromium: a clean model replaced by a
/// malicious pickle in a folder anyone can write shows on the overview, in the filtered
/// inventory, on the model's page (history, the call it makes) and in its drawn neighbourhood;
/// a model named like markup renders as text. Screenshots go to `target/dashboard/`.
pub(crate) fn the_dashboard_shows_the_scenario_in_headless_chromium() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&models, std::fs::Permissions::from_mode(0o777))
        .unwrap_or_else(|e| panic!("{e}"));
    let examples = repo_root().join("examples");
    let copy = |from: &str, to: &str| {
        std::fs::copy(examples.join(from), models.join(to)).unwrap_or_else(|e| panic!("{e}"));
    };
    copy("resnet-tiny.pt", "resnet.pt");
    copy("embeddings.npy", "embeddings.npy");
    let hostile = "<img src=x onerror=document.title='pwned'>.joblib";
    copy("sklearn-pipeline.joblib", hostile);
    let db = format!("sqlite:{}", dir.path().join("inventory.db").display());
    let scan = || {
        aigis_command()
            .current_dir(dir.path())
            .env("AIGIS_DB", &db)
            .args(["scan", "--no-cache", "--no-policy", "--record", "models"])
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let first = scan();
    assert!(
        String::from_utf8_lossy(&first.stderr).contains("recorded scan 1 in the inventory"),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    copy("rigged-model.pkl", "resnet.pt");
    let second = scan();
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("MODEL_REPLACED [critical]"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );

    let server = start_server(&db);
    let base = format!("http://{}", server.addr);
    let (_, list) = http(&server.addr, "GET", "/api/v1/models?q=resnet", None, b"");
    let list: serde_json::Value = serde_json::from_str(&list).unwrap_or_else(|e| panic!("{e}"));
    let resnet = list["items"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{list}"));
    let profile = temp_dir();

    // Overview: the models by verdict and the replacement the last scan saw.
    let overview = rendered(profile.path(), &format!("{base}/#/"));
    assert!(
        overview.contains("Models held now")
            && overview.contains("MODEL_REPLACED")
            && overview.contains("HOST-WRITABLE-PATH"),
        "{overview}"
    );
    screenshot(profile.path(), &format!("{base}/#/"), "overview", 1100);

    // The inventory, filtered in the browser's address: by verdict, then by search.
    let critical = rendered(profile.path(), &format!("{base}/#/models?verdict=critical"));
    assert!(
        critical.contains("resnet.pt") && !critical.contains("embeddings.npy"),
        "{critical}"
    );
    let searched = rendered(profile.path(), &format!("{base}/#/models?q=embed"));
    assert!(
        searched.contains("embeddings.npy") && !searched.contains("resnet.pt"),
        "{searched}"
    );
    screenshot(profile.path(), &format!("{base}/#/models"), "models", 900);

    // The replaced model's page: the call the pickle makes, and its history.
    let page = rendered(profile.path(), &format!("{base}/#/model/{resnet}"));
    assert!(
        page.contains("PICKLE-CALL-DANGEROUS")
            && page.contains("MODEL_REPLACED")
            && page.contains("MODEL-REPLACED"),
        "{page}"
    );
    screenshot(
        profile.path(),
        &format!("{base}/#/model/{resnet}"),
        "replaced-model",
        1600,
    );

    // Its neighbourhood, drawn: the exposure, the place, the content, the finding.
    let graph = rendered(profile.path(), &format!("{base}/#/model/{resnet}/graph"));
    assert!(
        graph.contains("<svg") && graph.contains("HOST-WRITABLE-PATH"),
        "{graph}"
    );
    screenshot(
        profile.path(),
        &format!("{base}/#/model/{resnet}/graph"),
        "graph",
        700,
    );
    let paths = rendered(profile.path(), &format!("{base}/#/paths"));
    assert!(paths.contains("/models/resnet.pt"), "{paths}");

    // The model named like markup is text on every page that shows it, and ran nothing.
    for dom in [&overview, &critical, &searched, &page, &paths] {
        assert!(!dom.contains("<img"), "markup from a file name: {dom}");
        assert!(!dom.contains("<title>pwned"), "{dom}");
    }
    let all = rendered(profile.path(), &format!("{base}/#/models"));
    assert!(
        all.contains("&lt;img src=x onerror=document.title='pwned'&gt;.joblib"),
        "{all}"
    );
    assert!(!all.contains("<img") && all.contains("<title>aigis inventory</title>"));

    // Triage in the browser, clicked and typed: a read token's mark is refused on the page; an
    // admin token's mark is stored, shows on the model's page and sticks to the finding.
    let model_json = || -> Value {
        let (_, body) = http(
            &server.addr,
            "GET",
            &format!("/api/v1/models/{resnet}"),
            None,
            b"",
        );
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    };
    let model = model_json();
    let first = &model["files"][0]["findings"][0];
    let finding = first["id"].as_i64().unwrap_or_else(|| panic!("{model}"));
    let rule = first["rule_id"].as_str().unwrap_or_default().to_owned();
    let reader = token(&db, "viewer", "read");
    let admin = token(&db, "security-team", "admin");
    let browser = Browser::start(temp_dir().path());
    let sign_in = |token: &str| {
        browser.open(&format!("{base}/#/token"));
        browser.type_into("form.inline input[name=token]", token);
        browser.click("form.inline button[type=submit]");
    };
    // The first finding's form: false positive, with a reason, submitted.
    let mark = || {
        browser.open(&format!("{base}/#/model/{resnet}"));
        browser.wait_for(&rule);
        browser.click("form.triage option[value=false_positive]");
        browser.type_into("form.triage input:not([type=date])", "our own test class");
        browser.click("form.triage button[type=submit]");
    };
    sign_in(&reader);
    mark();
    browser.wait_for("needs a token with the admin scope");
    sign_in(&admin);
    mark();
    let marked = browser.wait_for("false positive: our own test class");
    assert!(!marked.contains("needs a token"), "{marked}");
    browser.screenshot("triaged");
    let model = model_json();
    let stored = model["files"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["findings"].as_array().into_iter().flatten())
        .find(|f| f["id"] == finding)
        .unwrap_or_else(|| panic!("{model}"));
    assert_eq!(stored["triage"], "false_positive", "{stored}");
    assert_eq!(stored["triage_reason"], "our own test class", "{stored}");

    // The fleet's page: a job that failed for good shows with its error, as text.
    let missing = dir.path().join("<b>gone</b>");
    for args in [
        vec![
            "enqueue",
            "--max-attempts",
            "1",
            &*missing.to_string_lossy(),
        ],
        vec!["worker", "--until-idle", "--poll", "100ms", "--no-policy"],
    ] {
        let out = aigis_command()
            .env("AIGIS_DB", &db)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    browser.open(&format!("{base}/#/jobs"));
    let page = browser.wait_for("Dead-lettered");
    assert!(page.contains("no such file or directory"), "{page}");
    assert!(page.contains("&lt;b&gt;gone&lt;/b&gt;"), "{page}");
    browser.screenshot("jobs");
}

/// `aigis watch --server`: each result it prints is also pushed to the inventory server, whose
/// API then lists the finding under the watching host.
#[cfg(feature = "watch")]
pub(crate) fn watch_pushes_what_it_scans_to_the_server() {
    let dir = temp_dir();
    let db = format!("sqlite:{}", dir.path().join("inventory.db").display());
    let token = token(&db, "watcher", "ingest");
    let server = start_server(&db);
    let root = dir.path().join("models");
    std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("{e}"));
    let watch = aigis_command()
        .args([
            "watch",
            "--no-policy",
            "--no-cache",
            "--settle",
            "300",
            "--count",
            "1",
        ])
        .args([
            "--server",
            &format!("http://{}", server.addr),
            "--token",
            &token,
        ])
        .arg(&root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(std::time::Duration::from_millis(1200));
    std::fs::copy(
        repo_root().join("examples/rigged-model.pkl"),
        root.join("rigged-model.pkl"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let out = watch.wait_with_output();
        let _ = tx.send(out);
    });
    let out = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("aigis watch did not finish within 60 s"))
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("rigged-model.pkl"), "{stdout}\n{stderr}");
    assert!(!stderr.contains("not pushed"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let (status, body) = http(&server.addr, "GET", "/api/v1/findings", None, b"");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("rigged-model.pkl"), "{body}");
    let (status, body) = http(&server.addr, "GET", "/api/v1/scans", None, b"");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"files\":1"),
        "one pushed batch of one file: {body}"
    );
}
