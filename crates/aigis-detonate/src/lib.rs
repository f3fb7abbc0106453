//! Detonation: a model loaded with its real loader inside a sandbox, and what the load attempted.
//!
//! Static analysis says what a file *would* do; this says what it *did*, for the obfuscated or
//! half-understood file that deserves a definitive answer. It is never part of a scan: the
//! operator asks for it (`aigis detonate`), and the framework is the operator's own Python.
//!
//! **The sandbox** is [bubblewrap](https://github.com/containers/bubblewrap): new user, mount,
//! PID, network, IPC and UTS namespaces (no network but loopback), the system mounted read-only,
//! a private empty `/tmp` (the working folder is `/tmp/aigis-work`), the model bound read-only,
//! an empty environment (the host's credentials are not passed), a new session, killed with its
//! parent, an address-space limit and a wall-time limit after which the whole process group is
//! killed.
//!
//! **Observation** is `strace -f` from outside the sandbox (the sandboxed code cannot reach its
//! log): process executions, connection attempts (address and port), and opens for writing,
//! creations, renames and deletions. The loader script imports the framework, then touches a
//! marker path (an `access` call with a random name), then loads the file: what happens before
//! the marker is the framework's own start-up — the per-loader baseline — and is not reported.
//!
//! When the tools or the kernel do not allow it, [`detonate`] says why
//! ([`DetonateError::Unavailable`]) instead of running anything unsandboxed.

pub mod landlock;
pub mod seccomp;
use aigis_scan::{Finding, RuleId, Severity};
use serde::Serialize;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Why a detonation could not be run.
#[derive(Debug, thiserror::Error)]
pub enum DetonateError {
    /// The sandbox cannot be made here (a tool missing, namespaces not permitted).
    #[error("sandbox not available: {0}")]
    Unavailable(String),
    /// The loader could not even start (the framework is not installed for that Python).
    #[error("the {loader} loader did not start: {detail}")]
    LoaderMissing {
        /// The loader asked for.
        loader: &'static str,
        /// The end of what it printed.
        detail: String,
    },
    /// Reading or writing the detonation's own files failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The real loader a file is given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Loader {
    /// `pickle.load`.
    Pickle,
    /// `torch.load(weights_only=False)`.
    Torch,
    /// `joblib.load`.
    Joblib,
    /// `numpy.load(allow_pickle=True)`.
    Numpy,
    /// `keras.saving.load_model(safe_mode=False)`.
    Keras,
}

impl Loader {
    /// Every loader, for argument parsing.
    pub const ALL: &[Loader] = &[
        Loader::Pickle,
        Loader::Torch,
        Loader::Joblib,
        Loader::Numpy,
        Loader::Keras,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Loader::Pickle => "pickle",
            Loader::Torch => "torch",
            Loader::Joblib => "joblib",
            Loader::Numpy => "numpy",
            Loader::Keras => "keras",
        }
    }

    /// The loader that reads a file of this format, as aigis detected it.
    pub fn for_format(format: aigis_scan::Format) -> Option<Loader> {
        use aigis_scan::Format;
        Some(match format {
            Format::Pickle => Loader::Pickle,
            Format::Joblib => Loader::Joblib,
            Format::PytorchZip | Format::PytorchLegacy | Format::PytorchTar => Loader::Torch,
            Format::Numpy | Format::NumpyNpz => Loader::Numpy,
            Format::KerasV3 | Format::KerasH5 => Loader::Keras,
            _ => return None,
        })
    }

    /// (framework import, load call) as Python source; the path is `sys.argv[1]`.
    fn script(self) -> (&'static str, &'static str) {
        match self {
            Loader::Pickle => (
                "import pickle",
                "with open(path, 'rb') as f:\n    pickle.load(f)",
            ),
            Loader::Torch => ("import torch", "torch.load(path, weights_only=False)"),
            Loader::Joblib => ("import joblib", "joblib.load(path)"),
            // An `.npz` is opened lazily: its arrays are read as a user reads them, each once.
            Loader::Numpy => (
                "import numpy",
                "data = numpy.load(path, allow_pickle=True)\nfor key in getattr(data, 'files', []):\n    data[key]",
            ),
            Loader::Keras => (
                "import keras",
                "keras.saving.load_model(path, safe_mode=False)",
            ),
        }
    }
}

/// How a detonation runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The Python whose framework loads the file.
    pub python: PathBuf,
    /// Wall time before everything is killed.
    pub timeout: Duration,
    /// Address-space limit of the sandbox, in MiB.
    pub memory_mib: u64,
    /// An `aigis` binary whose `__confine` command applies Landlock inside the sandbox before
    /// the loader starts ([`landlock::exec_confined`]); `None`: no Landlock.
    pub confine_with: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            python: PathBuf::from("python3"),
            timeout: Duration::from_secs(60),
            memory_mib: 4096,
            confine_with: None,
        }
    }
}

/// One thing the load attempted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A program executed (or tried to be).
    Exec {
        /// The program.
        program: String,
        /// Its arguments as strace shows them.
        argv: String,
    },
    /// A connection attempt.
    Connect {
        /// `ip:port`, `[ipv6]:port` or a local socket path.
        address: String,
        /// Whether it is a network address (not a local socket).
        network: bool,
    },
    /// A host name looked up (a DNS query sent to the sandbox's resolver).
    DnsLookup {
        /// The name asked for.
        name: String,
    },
    /// A system call the sandbox's seccomp filter denies (see [`seccomp::DENIED`]).
    Denied {
        /// The call.
        call: String,
        /// Whether the filter refused it (`EPERM`); it always should.
        refused: bool,
    },
    /// A file opened for writing, created, renamed or deleted.
    FileWrite {
        /// The call (`openat`, `unlink`, …).
        call: String,
        /// The path.
        path: String,
        /// Whether the path is inside the sandbox's private `/tmp`.
        scratch: bool,
    },
}

/// How the loader ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Exit {
    /// It exited with this code.
    Code {
        /// The code.
        code: i32,
    },
    /// A signal ended it.
    Signal,
    /// It ran past the time limit and was killed.
    TimedOut,
}

/// What one detonation saw.
#[derive(Debug, Clone, Serialize)]
pub struct Detonation {
    /// The loader used.
    pub loader: Loader,
    /// How it ended.
    pub exit: Exit,
    /// What the load attempted, in order, each once.
    pub events: Vec<Event>,
    /// The last lines the loader printed on stderr.
    pub stderr_tail: String,
    /// Landlock's confinement of the loader (`fully enforced`, …), `None` when not applied.
    pub landlock: Option<String>,
    /// Wall time from the sandbox's start to the loader's end, in milliseconds.
    pub elapsed_ms: u64,
    /// The events as findings (`RUNTIME-*`).
    pub findings: Vec<Finding>,
}

/// The sandbox's tools: (bwrap, strace), or why there are none.
pub fn sandbox_tools() -> Result<(PathBuf, PathBuf), DetonateError> {
    let bwrap = on_path("bwrap").ok_or_else(|| {
        DetonateError::Unavailable("bubblewrap (`bwrap`) is not installed".into())
    })?;
    let strace = on_path("strace")
        .ok_or_else(|| DetonateError::Unavailable("`strace` is not installed".into()))?;
    // Namespaces may be refused by the kernel or a container runtime: try an empty sandbox.
    let probe = Command::new(&bwrap)
        .args(SANDBOX_BASE)
        .args(["--", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    if !probe.status.success() {
        let why = String::from_utf8_lossy(&probe.stderr).trim().to_owned();
        return Err(DetonateError::Unavailable(format!(
            "bubblewrap cannot create its namespaces here ({why})"
        )));
    }
    Ok((bwrap, strace))
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The namespaces and mounts every sandbox has.
const SANDBOX_BASE: &[&str] = &[
    "--unshare-all",
    "--die-with-parent",
    "--new-session",
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    "--tmpfs",
    "/tmp",
    "--tmpfs",
    "/var/tmp",
    "--tmpfs",
    "/run",
];

/// The sandbox's working folder (inside its private `/tmp`).
const WORK: &str = "/tmp/aigis-work";

/// System calls strace records.
const TRACED: &str = "trace=execve,execveat,connect,open,openat,openat2,creat,rename,renameat,\
                      renameat2,unlink,unlinkat,mkdir,mkdirat,rmdir,symlink,symlinkat,link,linkat,\
                      chmod,fchmodat,truncate,access,faccessat,faccessat2,sendto,sendmsg,sendmmsg,\
                      init_module,finit_module,delete_module,kexec_load,kexec_file_load,bpf,\
                      perf_event_open,keyctl,add_key,request_key,ptrace,process_vm_readv,\
                      process_vm_writev,unshare,setns,mount,umount2,pivot_root,open_by_handle_at,\
                      name_to_handle_at,userfaultfd,swapon,swapoff,reboot,settimeofday,\
                      clock_settime,adjtimex,acct,quotactl,syslog";

/// The resolver the sandbox's `/etc/resolv.conf` names: a name lookup then sends its query over
/// loopback, where strace records it (with no resolver there, the lookup fails at once).
const SANDBOX_RESOLVER: &str = "nameserver 127.0.0.1\noptions attempts:1 timeout:1\n";

/// Loads `file` with `loader` in the sandbox and reports what the load attempted.
pub fn detonate(
    file: &Path,
    loader: Loader,
    options: &Options,
) -> Result<Detonation, DetonateError> {
    Sandbox::prepare(options)?.detonate(file, loader)
}

/// A sandbox ready to detonate files: its tools checked and its interpreter found once, so a run
/// that detonates many files probes the host once.
pub struct Sandbox {
    bwrap: PathBuf,
    strace: PathBuf,
    python: PathBuf,
    options: Options,
}

impl Sandbox {
    /// Checks the sandbox's tools and namespaces and finds the interpreter.
    pub fn prepare(options: &Options) -> Result<Sandbox, DetonateError> {
        let (bwrap, strace) = sandbox_tools()?;
        let python = interpreter(&options.python)?;
        Ok(Sandbox {
            bwrap,
            strace,
            python,
            options: options.clone(),
        })
    }

    /// Loads `file` with `loader` in the sandbox and reports what the load attempted.
    pub fn detonate(&self, file: &Path, loader: Loader) -> Result<Detonation, DetonateError> {
        let Sandbox {
            bwrap,
            strace,
            python,
            options,
        } = self;
        detonate_with(bwrap, strace, python, options, file, loader)
    }
}

fn detonate_with(
    bwrap: &Path,
    strace: &Path,
    python: &Path,
    options: &Options,
    file: &Path,
    loader: Loader,
) -> Result<Detonation, DetonateError> {
    let file = std::fs::canonicalize(file)?;
    let name = file
        .file_name()
        .map_or_else(|| "model".to_owned(), |n| n.to_string_lossy().into_owned());
    let inside = format!("/tmp/aigis-model/{name}");
    let dir = tempfile::Builder::new()
        .prefix("aigis-detonate-")
        .tempdir()?;
    let log = dir.path().join("trace");
    let nonce = format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let marker = format!("/aigis-detonate-ready-{nonce}");
    let (import, load) = loader.script();
    let script = format!(
        "import os, sys\n{import}\ntry:\n    os.access({marker:?}, os.F_OK)\nexcept Exception:\n    pass\npath = sys.argv[1]\n{load}\n"
    );
    let memory_kib = options.memory_mib.saturating_mul(1024).to_string();
    // The seccomp filter, read by bwrap from descriptor 3 (the shell below opens it there).
    let filter = dir.path().join("seccomp.bpf");
    std::fs::write(
        &filter,
        seccomp::program().map_err(DetonateError::Unavailable)?,
    )?;
    let mut command = Command::new(strace);
    command
        .args([
            "-f",
            "-qq",
            "-s",
            "512",
            "-e",
            TRACED,
            "-e",
            "signal=none",
            "-o",
        ])
        .arg(&log)
        .args([
            "--",
            "sh",
            "-c",
            "ulimit -v \"$0\" && exec \"$@\" 3< \"$AIGIS_SECCOMP\"",
            &memory_kib,
        ])
        .arg(bwrap)
        .args(SANDBOX_BASE)
        .args(["--seccomp", "3"])
        .args(resolver_bind(dir.path())?)
        .args(["--dir", WORK, "--chdir", WORK, "--ro-bind"])
        .arg(&file)
        .arg(&inside)
        .args([
            "--clearenv",
            "--setenv",
            "HOME",
            WORK,
            "--setenv",
            "TMPDIR",
            "/tmp",
        ])
        .args(["--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin"])
        .args([
            "--setenv",
            "PYTHONDONTWRITEBYTECODE",
            "1",
            "--setenv",
            "LANG",
            "C.UTF-8",
        ])
        .args(confine_mount(options))
        .arg("--")
        .args(confine_command(options))
        .arg(python)
        .args(["-c", &script, &inside])
        .env("AIGIS_SECCOMP", &filter)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = command.spawn()?;
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(stderr) = stderr {
            let _ = stderr.take(1 << 20).read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    });
    let started = Instant::now();
    let exit = loop {
        if let Some(status) = child.try_wait()? {
            break match status.code() {
                Some(code) => Exit::Code { code },
                None => Exit::Signal,
            };
        }
        if started.elapsed() >= options.timeout {
            // The process group: strace, the shell and bubblewrap, whose sandbox dies with it.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            break Exit::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let stderr = reader.join().unwrap_or_default();
    let (landlock, stderr) = landlock::status_from(&stderr);
    let stderr_tail = tail(&stderr, 12);
    let trace = std::fs::read_to_string(&log).unwrap_or_default();
    let Some(events) = events_after_marker(&trace, &marker) else {
        if exit == Exit::TimedOut {
            return Err(DetonateError::LoaderMissing {
                loader: loader.name(),
                detail: "it did not import its framework within the time limit".into(),
            });
        }
        return Err(DetonateError::LoaderMissing {
            loader: loader.name(),
            detail: stderr_tail,
        });
    };
    let findings = findings(&events, &exit, &stderr_tail, loader);
    Ok(Detonation {
        loader,
        exit,
        events,
        stderr_tail,
        landlock,
        elapsed_ms,
        findings,
    })
}

/// Where the confining `aigis` is inside the sandbox (its private `/tmp`, so a binary under the
/// host's `/tmp` is reachable too).
const CONFINE_INSIDE: &str = "/tmp/aigis-confine";

fn confine_mount(options: &Options) -> Vec<std::ffi::OsString> {
    match &options.confine_with {
        Some(exe) => vec![
            "--ro-bind".into(),
            exe.clone().into_os_string(),
            CONFINE_INSIDE.into(),
        ],
        None => Vec::new(),
    }
}

fn confine_command(options: &Options) -> Vec<&'static str> {
    match options.confine_with {
        Some(_) => vec![CONFINE_INSIDE, "__confine", "--"],
        None => Vec::new(),
    }
}

/// The real interpreter behind `python` (a name on `PATH`, a venv's link, a version manager's
/// shim), asked of the interpreter itself on the host: the sandbox starts it directly, with an
/// empty environment.
fn interpreter(python: &Path) -> Result<PathBuf, DetonateError> {
    let out = Command::new(python)
        .args(["-c", "import sys; print(sys.executable)"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| DetonateError::LoaderMissing {
            loader: "python",
            detail: format!("{}: {e}", python.display()),
        })?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || path.is_empty() {
        return Err(DetonateError::LoaderMissing {
            loader: "python",
            detail: format!("{} did not say where it is", python.display()),
        });
    }
    Ok(PathBuf::from(path))
}

/// The `bwrap` arguments that put [`SANDBOX_RESOLVER`] where the sandbox reads
/// `/etc/resolv.conf` (the file itself, or the file its link leads to when that is outside the
/// folders the sandbox replaces); none when the host has no such file.
fn resolver_bind(scratch: &Path) -> Result<Vec<std::ffi::OsString>, DetonateError> {
    let host = Path::new("/etc/resolv.conf");
    let target = match std::fs::symlink_metadata(host) {
        Ok(meta) if meta.is_file() => host.to_path_buf(),
        Ok(meta) if meta.file_type().is_symlink() => match std::fs::canonicalize(host) {
            Ok(real)
                if real.is_file()
                    && !["/tmp", "/var/tmp", "/run", "/dev", "/proc"]
                        .iter()
                        .any(|d| real.starts_with(d)) =>
            {
                real
            }
            _ => return Ok(Vec::new()),
        },
        _ => return Ok(Vec::new()),
    };
    let conf = scratch.join("resolv.conf");
    std::fs::write(&conf, SANDBOX_RESOLVER)?;
    Ok(vec![
        "--ro-bind".into(),
        conf.into_os_string(),
        target.into_os_string(),
    ])
}

/// The bytes of a strace string (C escapes: `\n`, `\t`, octal `\NNN`, hex `\xNN`).
fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' || i + 1 == bytes.len() {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let e = bytes[i + 1];
        i += 2;
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'v' => out.push(0x0b),
            b'f' => out.push(0x0c),
            b'x' => {
                let hex: String = bytes[i..]
                    .iter()
                    .take(2)
                    .take_while(|b| b.is_ascii_hexdigit())
                    .map(|&b| b as char)
                    .collect();
                i += hex.len();
                out.push(u8::from_str_radix(&hex, 16).unwrap_or(0));
            }
            b'0'..=b'7' => {
                let mut value = u32::from(e - b'0');
                let mut n = 1;
                while n < 3 && i < bytes.len() && (b'0'..=b'7').contains(&bytes[i]) {
                    value = value * 8 + u32::from(bytes[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push((value & 0xff) as u8);
            }
            other => out.push(other),
        }
    }
    out
}

/// The name a DNS query asks for, when `packet` is one: a standard query (QR 0, opcode 0) with
/// one question, no answers, its name in well-formed labels, and nothing after the question but
/// at most one additional record (EDNS).
fn dns_query_name(packet: &[u8]) -> Option<String> {
    if packet.len() < 17 {
        return None;
    }
    let word = |i: usize| u16::from_be_bytes([packet[i], packet[i + 1]]);
    let flags = word(2);
    if flags & 0x8000 != 0 || (flags >> 11) & 0xf != 0 {
        return None;
    }
    if word(4) != 1 || word(6) != 0 || word(8) != 0 || word(10) > 1 {
        return None;
    }
    let mut labels = Vec::new();
    let mut at = 12;
    loop {
        let len = usize::from(*packet.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        let label = packet.get(at..at + len)?;
        if !label
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        {
            return None;
        }
        labels.push(String::from_utf8_lossy(label).into_owned());
        at += len;
    }
    let question_end = at + 4;
    if labels.is_empty() || packet.len() < question_end {
        return None;
    }
    if word(10) == 0 && packet.len() != question_end {
        return None;
    }
    let name = labels.join(".");
    (name.len() <= 253).then_some(name)
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The events of a strace log after the marker (`None` when the marker never came: the loader
/// did not get that far). Interrupted calls (`<unfinished ...>` / `<... resumed>`) are joined.
pub fn events_after_marker(trace: &str, marker: &str) -> Option<Vec<Event>> {
    let mut unfinished: std::collections::HashMap<&str, String> = Default::default();
    let mut started = false;
    let mut events = Vec::new();
    for line in trace.lines() {
        let (pid, rest) = line.split_once(' ').unwrap_or(("", line));
        let rest = rest.trim_start();
        let call = if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            unfinished.insert(pid, head.to_owned());
            continue;
        } else if let Some(resumed) = rest.strip_prefix("<... ") {
            let tail = resumed.split_once("resumed>").map_or("", |(_, t)| t);
            match unfinished.remove(pid) {
                Some(head) => format!("{head}{tail}"),
                None => continue,
            }
        } else {
            rest.to_owned()
        };
        if !started {
            // The marker call itself (the script's text, in the execve line, names it too).
            started = call.starts_with("access(") || call.starts_with("faccessat");
            started &= call.contains(&format!("\"{marker}\""));
            continue;
        }
        if let Some(event) = event(&call)
            && !events.contains(&event)
        {
            events.push(event);
        }
    }
    started.then_some(events)
}

/// The quoted strings of a strace argument list, unescaped enough to show.
fn quoted(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = args.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(e) = chars.next() {
                        s.push('\\');
                        s.push(e);
                    }
                }
                '"' => break,
                c => s.push(c),
            }
        }
        out.push(s);
    }
    out
}

fn event(call: &str) -> Option<Event> {
    let (name, args) = call.split_once('(')?;
    let strings = quoted(args);
    let scratch = |p: &str| p.starts_with("/tmp/") || !p.starts_with('/');
    // Devices, the loader's own work folder, and descriptors it already holds
    // (`/proc/self/fd/N`) are not writes worth reporting; any other file under `/proc/self`
    // written to is (`comm` renames the process, `mem` patches its code, `attr` its labels).
    let ignored = |p: &str| {
        p.starts_with("/dev/")
            || p.starts_with(WORK)
            || ["/proc/self/fd/", "/proc/thread-self/fd/"]
                .iter()
                .any(|fd| p.starts_with(fd))
    };
    match name {
        "execve" | "execveat" => {
            let program = strings.first()?.clone();
            let argv = args
                .split_once('[')
                .and_then(|(_, rest)| rest.split_once(']'))
                .map_or_else(String::new, |(argv, _)| argv.to_owned());
            Some(Event::Exec { program, argv })
        }
        denied if seccomp::DENIED.iter().any(|(n, _)| *n == denied) => Some(Event::Denied {
            call: denied.to_owned(),
            // strace pads before the result: `unshare(CLONE_NEWUSER)      = -1 EPERM (…)`.
            refused: args
                .rsplit_once(" = ")
                .is_some_and(|(_, result)| result.trim_start().starts_with("-1 EPERM")),
        }),
        "sendto" | "sendmsg" | "sendmmsg" => quoted(args)
            .iter()
            .find_map(|data| dns_query_name(&unescape(data)))
            .map(|name| Event::DnsLookup { name }),
        "connect" => {
            if let Some(path) = args
                .split_once("sun_path=")
                .map(|(_, rest)| quoted(rest).into_iter().next().unwrap_or_default())
            {
                // The C library asks nscd before resolving a name itself: part of every lookup.
                if path == "/var/run/nscd/socket" || path == "/run/nscd/socket" {
                    return None;
                }
                return Some(Event::Connect {
                    address: path,
                    network: false,
                });
            }
            let port = args
                .split_once("htons(")
                .and_then(|(_, rest)| rest.split_once(')'))
                .map(|(p, _)| p.to_owned())?;
            let address = if args.contains("AF_INET6") {
                format!("[{}]:{port}", strings.first().cloned().unwrap_or_default())
            } else {
                format!("{}:{port}", strings.first().cloned().unwrap_or_default())
            };
            // The sandbox's own resolver: the query sent to it is the event.
            if address == "127.0.0.1:53" {
                return None;
            }
            Some(Event::Connect {
                address,
                network: true,
            })
        }
        "open" | "openat" | "openat2" => {
            let writes = ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND"]
                .iter()
                .any(|f| args.contains(f));
            let path = strings.first()?.clone();
            (writes && !ignored(&path)).then(|| Event::FileWrite {
                call: name.to_owned(),
                scratch: scratch(&path),
                path,
            })
        }
        "creat" | "rename" | "renameat" | "renameat2" | "unlink" | "unlinkat" | "mkdir"
        | "mkdirat" | "rmdir" | "symlink" | "symlinkat" | "link" | "linkat" | "chmod"
        | "fchmodat" | "truncate" => {
            // The path acted on: for renames and links, the new name.
            let path = match name {
                "rename" | "renameat" | "renameat2" | "symlink" | "symlinkat" | "link"
                | "linkat" => strings.last()?.clone(),
                _ => strings.first()?.clone(),
            };
            (!ignored(&path)).then(|| Event::FileWrite {
                call: name.to_owned(),
                scratch: scratch(&path),
                path,
            })
        }
        _ => None,
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push('…');
    out
}

/// The findings of a detonation.
fn findings(events: &[Event], exit: &Exit, stderr_tail: &str, loader: Loader) -> Vec<Finding> {
    let how = format!("loading it with {}", loader.name());
    let mut out = Vec::new();
    for event in events {
        out.push(match event {
            Event::Exec { program, argv } => Finding::new(
                RuleId::RuntimeExec,
                format!(
                    "{how} executed `{}` with [{}]",
                    clip(program, 200),
                    clip(argv, 300)
                ),
            ),
            Event::Connect { address, network } => {
                let finding = Finding::new(
                    RuleId::RuntimeConnect,
                    format!(
                        "{how} tried to connect to {}{}",
                        clip(address, 200),
                        if *network { "" } else { " (a local socket)" }
                    ),
                );
                if *network {
                    finding
                } else {
                    finding.with_severity(Severity::High)
                }
            }
            Event::Denied { call, refused } => Finding::new(
                RuleId::RuntimeSyscallDenied,
                format!(
                    "{how} called `{call}`, a system call no model loader needs{}",
                    if *refused {
                        " (refused by the sandbox's seccomp filter)"
                    } else {
                        " (the sandbox's seccomp filter did not refuse it)"
                    }
                ),
            ),
            Event::DnsLookup { name } => Finding::new(
                RuleId::RuntimeConnect,
                format!(
                    "{how} looked up the host name `{}` (DNS): a network connection was on its way",
                    clip(name, 200)
                ),
            ),
            Event::FileWrite {
                call,
                path,
                scratch,
            } => {
                let finding = Finding::new(
                    RuleId::RuntimeFileWrite,
                    format!(
                        "{how} tried to write `{}` ({call}){}",
                        clip(path, 200),
                        if *scratch {
                            ", inside the sandbox's private /tmp"
                        } else {
                            ""
                        }
                    ),
                );
                if *scratch {
                    finding.with_severity(Severity::Medium)
                } else {
                    finding
                }
            }
        });
    }
    let ended = match exit {
        Exit::Code { code: 0 } => None,
        Exit::Code { code } => Some(format!("exited with code {code}")),
        Exit::Signal => Some("was killed by a signal (a crash or the memory limit)".to_owned()),
        Exit::TimedOut => Some("ran past the time limit and was killed".to_owned()),
    };
    if let Some(ended) = ended {
        let last = stderr_tail.lines().last().unwrap_or("").trim();
        out.push(Finding::new(
            RuleId::RuntimeCrash,
            format!(
                "the {} loader {ended}{}",
                loader.name(),
                if last.is_empty() {
                    String::new()
                } else {
                    format!(": {}", clip(last, 300))
                }
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = r#"100 execve("/usr/bin/python3", ["python3", "-c", "..."], 0x7ffd /* 5 vars */) = 0
100 openat(AT_FDCWD, "/usr/lib/python3.11/os.py", O_RDONLY|O_CLOEXEC) = 3
100 openat(AT_FDCWD, "/etc/ld.so.cache", O_WRONLY) = -1 EROFS (Read-only file system)
100  execve("/usr/bin/python3", ["python3", "-c", "os.access(\"/aigis-detonate-ready-abc\")"], 0x7ffd /* 5 vars */) = 0
100  openat(AT_FDCWD, "/etc/passwd", O_WRONLY) = -1 EROFS (Read-only file system)
100  faccessat2(AT_FDCWD, "/aigis-detonate-ready-abc", F_OK, 0) = -1 ENOENT (No such file or directory)
100 openat(AT_FDCWD, "/etc/cron.d/x", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = -1 EROFS (Read-only file system)
101 execve("/bin/sh", ["sh", "-c", "id"], 0x55 /* 5 vars */ <unfinished ...>
100 connect(3, {sa_family=AF_INET, sin_port=htons(4444), sin_addr=inet_addr("192.0.2.1")}, 16 <unfinished ...>
101 <... execve resumed>) = 0
100 <... connect resumed>) = -1 ENETUNREACH (Network is unreachable)
100 connect(4, {sa_family=AF_UNIX, sun_path="/var/run/docker.sock"}, 110) = -1 ENOENT (No such file or directory)
100 openat(AT_FDCWD, "/tmp/drop.sh", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 5
100 openat(AT_FDCWD, "/dev/null", O_WRONLY) = 6
100 unlink("/home/user/.bashrc") = -1 EROFS (Read-only file system)
"#;

    #[test]
    fn events_after_the_marker_only() {
        let events = events_after_marker(TRACE, "/aigis-detonate-ready-abc").unwrap_or_default();
        assert_eq!(
            events,
            vec![
                Event::FileWrite {
                    call: "openat".into(),
                    path: "/etc/cron.d/x".into(),
                    scratch: false
                },
                Event::Exec {
                    program: "/bin/sh".into(),
                    argv: r#""sh", "-c", "id""#.into()
                },
                Event::Connect {
                    address: "192.0.2.1:4444".into(),
                    network: true
                },
                Event::Connect {
                    address: "/var/run/docker.sock".into(),
                    network: false
                },
                Event::FileWrite {
                    call: "openat".into(),
                    path: "/tmp/drop.sh".into(),
                    scratch: true
                },
                Event::FileWrite {
                    call: "unlink".into(),
                    path: "/home/user/.bashrc".into(),
                    scratch: false
                },
            ]
        );
        assert!(events_after_marker(TRACE, "/aigis-detonate-ready-other").is_none());
        let found = findings(
            &events,
            &Exit::Code { code: 1 },
            "boom\nValueError: x",
            Loader::Pickle,
        );
        let severities: Vec<Severity> = found.iter().map(|f| f.severity).collect();
        assert_eq!(
            severities,
            [
                Severity::High,
                Severity::Critical,
                Severity::Critical,
                Severity::High,
                Severity::Medium,
                Severity::High,
                Severity::Medium
            ]
        );
        assert!(
            found[6].message.contains("ValueError: x"),
            "{}",
            found[6].message
        );
    }

    #[test]
    fn writes_into_the_process_itself_are_events_but_held_descriptors_are_not() {
        let trace = r#"9 faccessat2(AT_FDCWD, "/aigis-detonate-ready-p", F_OK, 0) = -1 ENOENT (No such file or directory)
9 openat(AT_FDCWD, "/proc/self/comm", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = -1 EACCES (Permission denied)
9 openat(AT_FDCWD, "/proc/self/mem", O_RDWR) = 5
9 openat(AT_FDCWD, "/proc/self/fd/1", O_WRONLY|O_APPEND) = 6
9 openat(AT_FDCWD, "/proc/self/status", O_RDONLY) = 7
"#;
        let events = events_after_marker(trace, "/aigis-detonate-ready-p").unwrap_or_default();
        let paths: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                Event::FileWrite { path, scratch, .. } => {
                    assert!(!scratch, "{path}");
                    Some(path.as_str())
                }
                _ => None,
            })
            .collect();
        assert_eq!(paths, ["/proc/self/comm", "/proc/self/mem"]);
    }

    #[test]
    fn dns_queries_are_lookups_by_name_and_other_sends_are_not() {
        let trace = r#"7 faccessat2(AT_FDCWD, "/aigis-detonate-ready-x", F_OK, 0) = -1 ENOENT (No such file or directory)
7 sendto(5, [{nlmsg_len=40, nlmsg_type=0x14, nlmsg_flags=NLM_F_REQUEST}, "\x02\x08\x80\xfe\x01\x00\x00\x00\x08\x00\x02\x00\x7f\x00\x00\x01"], 40, 0, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 40
7 connect(3, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.1")}, 16) = 0
7 sendmmsg(3, [{msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="\30\311\1\0\0\1\0\0\0\0\0\0\4pool\7minexmr\7example\0\0\1\0\1", iov_len=38}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=38}], 2, MSG_NOSIGNAL) = 1
7 sendto(3, "\220\312\1\0\0\1\0\0\0\0\0\0\4pool\7minexmr\7example\0\0\34\0\1", 38, MSG_NOSIGNAL, NULL, 0) = 38
7 sendto(4, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, 0, NULL, 0) = 27
7 unshare(CLONE_NEWUSER)            = -1 EPERM (Operation not permitted)
"#;
        let events = events_after_marker(trace, "/aigis-detonate-ready-x").unwrap_or_default();
        assert_eq!(
            events,
            vec![
                Event::DnsLookup {
                    name: "pool.minexmr.example".into()
                },
                Event::Denied {
                    call: "unshare".into(),
                    refused: true
                }
            ]
        );
        // A response (QR set), a truncated question or trailing bytes are not queries.
        let mut query =
            b"\x18\xc9\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01".to_vec();
        assert_eq!(dns_query_name(&query).as_deref(), Some("a"));
        query[2] |= 0x80;
        assert_eq!(dns_query_name(&query), None);
        query[2] &= 0x7f;
        query.push(0);
        assert_eq!(dns_query_name(&query), None);
        assert_eq!(dns_query_name(&query[..15]), None);
        assert_eq!(unescape(r"\1\0\377\x41\n"), b"\x01\x00\xffA\n");
    }
}
