//! Test support shared by aigis's test suites.
//!
//! Some tests need a tool from outside the repository: the official JSON schemas, a browser,
//! Python packages, emulators of cloud stores. `.ci/run` installs every one of them and sets
//! `CI=true`. A test that needs a missing tool must never pass silently, so the harness here
//! decides before running it:
//! - tool present: the test runs;
//! - tool missing under CI: the test **fails**, saying what is missing and who installs it;
//! - tool missing elsewhere: the test is reported **ignored**, with a `skipped:` line naming the
//!   tool — never `ok`.
//!
//! ```no_run
//! use aigis_testkit::{Test, Tool};
//!
//! fn renders() { let _browser = Tool::Chromium.path(); /* … */ }
//!
//! fn main() -> std::process::ExitCode {
//!     aigis_testkit::run(vec![Test::new("renders", renders).needs(Tool::Chromium)])
//! }
//! ```

use libtest_mimic::{Arguments, Trial};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Whether the tests run in CI (`CI=true` or `CI=1`, as `.ci/run` sets): there, every tool a
/// test needs must be present. The one definition every aigis test suite uses.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Every file below `dir` (recursively), in no particular order; `.md` notes excluded.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_none_or(|e| e != "md") {
                out.push(path);
            }
        }
    }
    out
}

/// An external tool a test needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// The official CycloneDX 1.6 and SARIF 2.1.0 JSON schemas (a folder).
    Schemas,
    /// A headless Chromium.
    Chromium,
    /// ChromeDriver, the WebDriver server that drives that Chromium (clicks, typing).
    ChromeDriver,
    /// The Python of the venv with the official SPDX 3 bindings.
    SpdxPython,
    /// moto's S3 server.
    MotoServer,
    /// Azurite's Blob service.
    Azurite,
    /// A `python3` on `PATH`.
    Python3,
    /// A PostgreSQL server the tests may create databases on: its URL, from
    /// `AIGIS_TEST_POSTGRES` (`postgres://USER:PASSWORD@127.0.0.1:PORT/postgres`), not a path.
    Postgres,
    /// Schemathesis (`st`), the OpenAPI fuzzer.
    Schemathesis,
    /// bubblewrap (`bwrap`), the sandbox `aigis detonate` runs loaders in.
    Bubblewrap,
    /// `strace`, which observes what a detonated load attempts.
    Strace,
    /// A Python with the frameworks detonation loads fixtures with (numpy, joblib,
    /// scikit-learn; `scripts/detonate/requirements.txt`).
    FrameworkPython,
    /// `unshare` (util-linux) able to run a command without network (`unshare -rn`: a new user
    /// and network namespace with only a loopback that is down).
    UnshareNet,
}

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

fn env_or(var: &str, fallback: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(fallback));
    path.exists().then_some(path)
}

impl Tool {
    /// Where the tool is, if it is there.
    pub fn find(self) -> Option<PathBuf> {
        match self {
            Tool::Schemas => env_or("AIGIS_SCHEMA_DIR", "../shared/schemas").filter(|p| p.is_dir()),
            Tool::Chromium => on_path(&["chromium", "chromium-browser", "google-chrome"]),
            Tool::ChromeDriver => on_path(&["chromedriver"]),
            Tool::SpdxPython => env_or("AIGIS_SPDX_PYTHON", "target/ci-tools/spdx-venv/bin/python"),
            Tool::MotoServer => env_or("AIGIS_MOTO_SERVER", "target/ci-tools/venv/bin/moto_server"),
            Tool::Azurite => env_or(
                "AIGIS_AZURITE",
                "target/ci-tools/node_modules/.bin/azurite-blob",
            ),
            Tool::Python3 => on_path(&["python3"]),
            Tool::Postgres => std::env::var_os("AIGIS_TEST_POSTGRES")
                .filter(|url| !url.is_empty())
                .map(PathBuf::from),
            Tool::Schemathesis => env_or("AIGIS_SCHEMATHESIS", "target/ci-tools/api-venv/bin/st"),
            Tool::Bubblewrap => on_path(&["bwrap"]),
            Tool::Strace => on_path(&["strace"]),
            Tool::FrameworkPython => env_or(
                "AIGIS_DETONATE_PYTHON",
                "target/ci-tools/detonate-venv/bin/python",
            ),
            Tool::UnshareNet => on_path(&["unshare"]).filter(|unshare| {
                std::process::Command::new(unshare)
                    .args(["-rn", "true"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            }),
        }
    }

    /// Where the tool is; panics when it is missing (the harness checked before the test ran).
    pub fn path(self) -> PathBuf {
        self.find()
            .unwrap_or_else(|| panic!("{} is missing: {}", self.name(), self.install()))
    }

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Schemas => "the official JSON schemas",
            Tool::Chromium => "chromium",
            Tool::ChromeDriver => "chromedriver",
            Tool::SpdxPython => "the SPDX bindings venv",
            Tool::MotoServer => "moto_server",
            Tool::Azurite => "azurite-blob",
            Tool::Python3 => "python3",
            Tool::Postgres => "a PostgreSQL server",
            Tool::Schemathesis => "schemathesis",
            Tool::Bubblewrap => "bwrap",
            Tool::Strace => "strace",
            Tool::FrameworkPython => "the detonation frameworks venv",
            Tool::UnshareNet => "unshare -rn",
        }
    }

    /// How to get it.
    pub fn install(self) -> &'static str {
        match self {
            Tool::Schemas => "set AIGIS_SCHEMA_DIR or keep ../shared/schemas beside the repository",
            Tool::Chromium => "apt-get install chromium (.ci/run does)",
            Tool::ChromeDriver => "apt-get install chromium-driver (.ci/run does)",
            Tool::SpdxPython => {
                ".ci/run creates target/ci-tools/spdx-venv (or set AIGIS_SPDX_PYTHON)"
            }
            Tool::MotoServer => {
                ".ci/run installs it into target/ci-tools/venv (or set AIGIS_MOTO_SERVER)"
            }
            Tool::Azurite => {
                ".ci/run installs it into target/ci-tools/node_modules (or set AIGIS_AZURITE)"
            }
            Tool::Python3 => "install Python 3",
            Tool::Postgres => {
                ".ci/run installs PostgreSQL, starts it on loopback and sets AIGIS_TEST_POSTGRES (scripts/postgres-test-server does the same by hand)"
            }
            Tool::Bubblewrap => "apt-get install bubblewrap (.ci/run does)",
            Tool::Strace => "apt-get install strace (.ci/run does)",
            Tool::FrameworkPython => {
                ".ci/run creates target/ci-tools/detonate-venv from scripts/detonate/requirements.txt (or set AIGIS_DETONATE_PYTHON)"
            }
            Tool::Schemathesis => {
                ".ci/run installs it into target/ci-tools/api-venv from scripts/requirements-api.txt (or set AIGIS_SCHEMATHESIS)"
            }
            Tool::UnshareNet => {
                "apt-get install util-linux (.ci/run does), with unprivileged user namespaces allowed (sysctl kernel.unprivileged_userns_clone=1)"
            }
        }
    }
}

/// One test: a name, what it needs, and its body (which passes unless it panics).
pub struct Test {
    name: String,
    needs: Vec<Tool>,
    body: fn(),
}

impl Test {
    /// A test that needs nothing from outside the repository.
    pub fn new(name: &str, body: fn()) -> Test {
        Test {
            name: name.to_string(),
            needs: Vec::new(),
            body,
        }
    }

    /// Also needs `tool`.
    pub fn needs(mut self, tool: Tool) -> Test {
        self.needs.push(tool);
        self
    }

    fn into_trial(self) -> Trial {
        let missing: Vec<Tool> = self
            .needs
            .iter()
            .copied()
            .filter(|t| t.find().is_none())
            .collect();
        if missing.is_empty() {
            let body = self.body;
            return Trial::test(self.name, move || {
                body();
                Ok(())
            });
        }
        let what: Vec<String> = missing
            .iter()
            .map(|t| format!("{} ({})", t.name(), t.install()))
            .collect();
        let what = what.join(", ");
        if in_ci() {
            return Trial::test(self.name, move || {
                Err(format!("CI=true but this test's tools are missing: {what}").into())
            });
        }
        eprintln!("skipped: {}: needs {what}", self.name);
        Trial::test(self.name, || Ok(())).with_ignored_flag(true)
    }
}

/// Runs `tests` with the usual test-runner arguments (filters, `--test-threads`, …).
pub fn run(tests: Vec<Test>) -> ExitCode {
    let args = Arguments::from_args();
    let trials = tests.into_iter().map(Test::into_trial).collect();
    libtest_mimic::run(&args, trials).exit_code()
}
