//! Loader differential for pickle streams: aigis must read a pickle as CPython's loaders read it.
//!
//! `scripts/differential/pickle_streams.py` makes pickle programs from a seed (valid,
//! odd-but-accepted and broken: every opcode, framing, memo traffic, text arguments in every
//! spelling, pickles back to back, first opcodes of any kind, payloads behind all of them) and
//! records, for each, what CPython's C and pure-Python unpicklers reach when fed the bytes from
//! a file, a `BytesIO` and a `bytes` object — with `find_class`'s imports replaced by stand-ins,
//! so nothing is imported or called for real. Every stream is then scanned by aigis (the whole
//! pipeline: sniffing, the pickle analyzer) and the readings compared.
//!
//! The property enforced: **no stream in which some loader reading imports a dangerous name, or
//! calls something aigis judges high when called (or an object computed at load time), may be
//! rated below high.** Where loaders disagree, the reading that runs more code is the one aigis
//! must answer for. Other disagreements (imported names, outcomes, pickle counts) are counted and
//! printed.
//!
//! `cargo test -p aigis-scan --test pickle_differential` runs a fixed-seed slice. Set
//! `AIGIS_PICKLE_DIFF_COUNT` (and `AIGIS_PICKLE_DIFF_SEED`, `AIGIS_PICKLE_DIFF_JOBS`) for a
//! campaign; `scripts/differential/pickle-campaign N SEED` does that on a release build. Cases
//! that break the property are written to `target/tmp/pickle-differential/failures-<seed>.jsonl`.

use aigis_scan::{Format, MemorySource, ScanOptions, Scanner, Severity, Status};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// The slice every test run checks.
const CI_SEED: u64 = 20_261_203;
const CI_COUNT: usize = 24_000;
/// Streams per generator process.
const CHUNK: usize = 4_000;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn env_num(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// A line straight to stderr: the test harness hides `eprintln!` of a passing test, and these
/// counts (or a skip) must show.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// One way's (or several agreeing ways') reading of a stream.
struct Reading {
    ways: Vec<String>,
    attempts: Vec<(String, String)>,
    modules: Vec<String>,
    globals: Vec<(String, String)>,
    calls: Vec<(String, String, bool)>,
    /// Classes constructed with `cls.__new__` (NEWOBJ, NEWOBJ_EX).
    news: Vec<(String, String)>,
    derived: u64,
    pickles: Vec<String>,
}

struct Case {
    index: u64,
    family: String,
    bytes: Vec<u8>,
    readings: Vec<Reading>,
    /// Names of the generator's dangerous pool that a reading reached.
    dangerous: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p[0].as_str()?.to_owned(), p[1].as_str()?.to_owned())))
        .collect()
}

fn parse_case(line: &str) -> Case {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("bad case line: {e}"));
    let hex = v["b"].as_str().unwrap_or_default();
    let bytes = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or_default())
        .collect();
    let readings = v["r"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| Reading {
            ways: strings(&r["w"]),
            attempts: pairs(&r["a"]),
            modules: strings(&r["m"]),
            globals: pairs(&r["g"]),
            calls: r["c"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    Some((
                        c[0].as_str()?.to_owned(),
                        c[1].as_str()?.to_owned(),
                        c[2].as_bool()?,
                    ))
                })
                .collect(),
            news: pairs(&r["n"]),
            derived: r["d"].as_u64().unwrap_or(0),
            pickles: strings(&r["p"]),
        })
        .collect();
    Case {
        index: v["i"].as_u64().unwrap_or(0),
        family: v["f"].as_str().unwrap_or_default().to_owned(),
        bytes,
        readings,
        dangerous: strings(&v["x"]),
    }
}

/// The module `pickle_loader.py` registers an extension code nothing registered to: the reading
/// of a loading process that did register it (which aigis rates high and reads on past).
const EXT_MODULE: &str = "__aigis_ext__";

/// Why a reading runs code aigis must rate high, if it does.
fn loader_danger(case: &Case, r: &Reading) -> Option<String> {
    if let Some(name) = case.dangerous.first() {
        return Some(format!("reaches {name}"));
    }
    // An unregistered extension code: the object depends on the loading process (whatever it
    // registered, from its own modules). The reading that registered it runs code with the
    // pickle's arguments when it calls or constructs that object.
    if let Some((_, code)) = r
        .calls
        .iter()
        .map(|(m, q, _)| (m, q))
        .chain(r.news.iter().map(|(m, q)| (m, q)))
        .find(|(m, _)| *m == EXT_MODULE)
    {
        return Some(format!("calls extension {code}, which nothing registers"));
    }
    for (m, q) in &r.globals {
        if aigis_pickle::dangerous_callable(m, q).is_some() {
            return Some(format!("imports {m}.{q}"));
        }
    }
    for m in &r.modules {
        if aigis_pickle::dangerous_callable(m, "").is_some() {
            return Some(format!("imports module {m}"));
        }
    }
    for (m, q, constant) in &r.calls {
        if aigis_pickle::call_risk(m, q, *constant)
            .is_some_and(|risk| risk <= aigis_pickle::Risk::High)
        {
            return Some(format!("calls {m}.{q}"));
        }
    }
    (r.derived > 0).then(|| "calls an object computed at load time".to_owned())
}

#[derive(Default)]
struct Tally {
    cases: u64,
    loader_danger: u64,
    danger_families: BTreeMap<String, u64>,
    classes: BTreeMap<&'static str, u64>,
    examples: BTreeMap<&'static str, Vec<String>>,
    failures: Vec<String>,
    /// Cases of the classes named by `AIGIS_PICKLE_DIFF_DUMP`, for triage.
    dumped: Vec<String>,
}

impl Tally {
    fn count(&mut self, class: &'static str, case: &Case, detail: &str) {
        *self.classes.entry(class).or_default() += 1;
        if let Ok(want) = std::env::var("AIGIS_PICKLE_DIFF_DUMP")
            && !want.is_empty()
            && class.contains(want.as_str())
        {
            let line = serde_json::json!({
                "class": class,
                "i": case.index,
                "f": case.family,
                "b": case.bytes.iter().map(|x| format!("{x:02x}")).collect::<String>(),
                "detail": detail,
            });
            self.dumped.push(line.to_string());
        }
        let examples = self.examples.entry(class).or_default();
        if examples.len() < 3 {
            examples.push(format!(
                "#{} {} {}: {}",
                case.index,
                case.family,
                hex_preview(&case.bytes),
                detail
            ));
        }
    }
}

fn hex_preview(b: &[u8]) -> String {
    let shown: String = b.iter().take(48).map(|x| format!("{x:02x}")).collect();
    if b.len() > 48 {
        format!("{shown}…({} bytes)", b.len())
    } else {
        shown
    }
}

/// The property violated: some loader reading runs code that aigis rates below high.
const DANGER: &str = "DANGER loader runs code aigis rates below high";

fn compare(scanner: &Scanner, case: &Case, tally: &mut Tally) {
    tally.cases += 1;
    let result = scanner.scan_source("stream".into(), &MemorySource::new(case.bytes.clone()));
    let aigis_high = result
        .max_severity
        .is_some_and(|s| matches!(s, Severity::High | Severity::Critical));
    let scan = aigis_pickle::scan(&case.bytes[..], 0, &aigis_pickle::Options::default());
    let aigis_globals: BTreeSet<(String, String)> = scan
        .globals
        .iter()
        .map(|g| (g.module.clone(), g.qualname.clone()))
        .collect();

    // The property.
    let danger = case
        .readings
        .iter()
        .find_map(|r| loader_danger(case, r).map(|why| format!("{why} ({})", r.ways.join(","))));
    if let Some(why) = &danger {
        tally.loader_danger += 1;
        *tally
            .danger_families
            .entry(case.family.clone())
            .or_default() += 1;
        if !aigis_high {
            let detail = format!(
                "{why}; aigis: {:?} {:?} {:?}",
                result.format, result.status, result.max_severity
            );
            tally.count(DANGER, case, &detail);
            let line = serde_json::json!({
                "i": case.index,
                "f": case.family,
                "b": hex_preview(&case.bytes).replace('…', ""),
                "why": detail,
            });
            tally.failures.push(line.to_string());
        }
    }

    // Imported names.
    let attempted: BTreeSet<(String, String)> = case
        .readings
        .iter()
        .flat_map(|r| r.attempts.iter().cloned())
        .filter(|(m, q)| {
            m != EXT_MODULE && aigis_pickle::importable_name(m) && aigis_pickle::importable_name(q)
        })
        .collect();
    if let Some((m, q)) = attempted.difference(&aigis_globals).next() {
        tally.count(
            "import-missed (a loader imports a name aigis does not list)",
            case,
            &format!("{m}.{q}"),
        );
    }
    let loader_names: BTreeSet<(String, String)> = case
        .readings
        .iter()
        .flat_map(|r| {
            r.attempts
                .iter()
                .chain(&r.globals)
                .cloned()
                .chain(r.modules.iter().map(|m| (m.clone(), String::new())))
        })
        .collect();
    if let Some((m, q)) = aigis_globals.difference(&loader_names).next() {
        tally.count(
            "import-extra (aigis lists a name no loader imports)",
            case,
            &format!("{m}.{q}"),
        );
    }

    // Outcomes: the first pickle decides `pickle.load`/`loads`/`torch.load`.
    let first_ok: Vec<&str> = case
        .readings
        .iter()
        .filter(|r| r.pickles.first().is_some_and(|p| p == "ok"))
        .flat_map(|r| r.ways.iter().map(String::as_str))
        .collect();
    // A module a loader imports; the stand-in an unregistered extension code names is none
    // (CPython registers no codes: the loading process would have to).
    let reached = case
        .readings
        .iter()
        .any(|r| r.modules.iter().any(|m| m != EXT_MODULE));
    match result.status {
        Status::Unsupported | Status::Error => {
            if reached {
                tally.count(
                    "not-a-pickle although a loader imports from it",
                    case,
                    &format!("{:?}", result.status),
                );
            } else if !first_ok.is_empty() {
                tally.count(
                    "not-a-pickle although a loader loads it",
                    case,
                    &first_ok.join(","),
                );
            }
        }
        Status::Invalid if !first_ok.is_empty() => tally.count(
            "invalid although a loader loads it",
            case,
            &format!("{} ({:?})", first_ok.join(","), scan.problem),
        ),
        Status::Ok if first_ok.is_empty() && result.format != Format::Unknown => {
            let errors: BTreeSet<&str> = case
                .readings
                .iter()
                .filter_map(|r| r.pickles.first().map(String::as_str))
                .collect();
            tally.count(
                "ok although every loader fails",
                case,
                &format!("{errors:?}"),
            );
        }
        _ => {}
    }

    // Pickles read back to back (file ways).
    let most = case
        .readings
        .iter()
        .filter(|r| {
            r.ways
                .iter()
                .any(|w| w.ends_with("-file") || w.ends_with("-bytesio"))
        })
        .map(|r| r.pickles.iter().filter(|p| *p == "ok").count())
        .max()
        .unwrap_or(0);
    if most > 0 && scan.streams.len() < most {
        tally.count(
            "fewer pickles than a loader reads back to back",
            case,
            &format!("aigis {} loader {most}", scan.streams.len()),
        );
    }

    // Where the loaders themselves disagree (informational): what each reached and how far
    // it got, error messages aside.
    let signature = |way: &str| {
        case.readings
            .iter()
            .find(|r| r.ways.iter().any(|w| w == way))
            .map(|r| {
                let ok = r.pickles.iter().filter(|p| *p == "ok").count();
                let first_ok = r.pickles.first().is_some_and(|p| p == "ok");
                (
                    r.attempts.clone(),
                    r.modules.clone(),
                    r.globals.clone(),
                    r.calls.clone(),
                    r.derived,
                    ok,
                    first_ok,
                )
            })
    };
    if [("c-file", "py-file"), ("c-bytesio", "py-bytesio")]
        .iter()
        .any(|(a, b)| signature(a) != signature(b))
    {
        tally.count("loaders disagree: C vs pure-Python", case, "");
    }
    if signature("c-file") != signature("c-bytesio") {
        tally.count("loaders disagree: C on a file vs on BytesIO", case, "");
    }
    // `pickle.loads` reads one pickle: compare with BytesIO where that read one too.
    let one_pickle = case
        .readings
        .iter()
        .find(|r| r.ways.iter().any(|w| w == "c-bytesio"))
        .is_some_and(|r| r.pickles.len() == 1);
    if one_pickle && signature("c-bytes") != signature("c-bytesio") {
        tally.count("loaders disagree: C on bytes vs on BytesIO", case, "");
    }
}

fn spawn_generator(script: &Path, seed: u64, start: u64, count: usize, out: &Path) -> Child {
    Command::new("python3")
        .arg(script)
        .args(["--seed", &seed.to_string()])
        .args(["--start", &start.to_string()])
        .args(["--count", &count.to_string()])
        .args(["--out", &out.to_string_lossy()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()))
}

fn compare_file(scanner: &Scanner, path: &Path, tally: &mut Tally) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for line in BufReader::new(file).lines() {
        let line = line.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if !line.trim().is_empty() {
            compare(scanner, &parse_case(&line), tally);
        }
    }
    let _ = std::fs::remove_file(path);
}

/// Generates `count` streams of `seed` with `jobs` generator processes and compares each chunk
/// as it is ready.
fn run(seed: u64, count: usize, jobs: usize) -> Tally {
    let script = repo_root().join("scripts/differential/pickle_streams.py");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pickle-differential");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let scanner = Scanner::new(ScanOptions {
        hash: false,
        ..ScanOptions::default()
    });
    let mut tally = Tally::default();
    let mut next: u64 = 0;
    let mut running: Vec<(Child, PathBuf)> = Vec::new();
    let total = count as u64;
    let started = Instant::now();
    loop {
        while running.len() < jobs.max(1) && next < total {
            let n = CHUNK.min((total - next) as usize);
            let out = dir.join(format!("streams-{seed}-{next}.jsonl"));
            running.push((spawn_generator(&script, seed, next, n, &out), out));
            next += n as u64;
        }
        if running.is_empty() {
            break;
        }
        let (mut child, out) = running.remove(0);
        let status = child
            .wait()
            .unwrap_or_else(|e| panic!("generator did not finish: {e}"));
        assert!(status.success(), "generator failed for {}", out.display());
        compare_file(&scanner, &out, &mut tally);
        if total > 100_000 {
            say(&format!(
                "{} / {total} streams, {:.0}s",
                tally.cases,
                started.elapsed().as_secs_f64()
            ));
        }
    }
    if !tally.dumped.is_empty() {
        let path = dir.join(format!("dump-{seed}.jsonl"));
        if let Ok(mut f) = std::fs::File::create(&path) {
            for line in &tally.dumped {
                let _ = writeln!(f, "{line}");
            }
            say(&format!("dumped cases written to {}", path.display()));
        }
    }
    if !tally.failures.is_empty() {
        let path = dir.join(format!("failures-{seed}.jsonl"));
        if let Ok(mut f) = std::fs::File::create(&path) {
            for line in &tally.failures {
                let _ = writeln!(f, "{line}");
            }
            say(&format!("failing cases written to {}", path.display()));
        }
    }
    tally
}

/// The counts, written straight to stderr so that a passing run shows them too.
fn print_report(seed: u64, tally: &Tally, secs: f64) {
    let mut out = String::new();
    out.push_str(&format!(
        "pickle loader differential: seed {seed}, {} streams in {secs:.1}s; {} in which a loader \
         runs code aigis must rate high\n",
        tally.cases, tally.loader_danger
    ));
    out.push_str(&format!(
        "  {:>8}  {DANGER}\n",
        tally.classes.get(DANGER).copied().unwrap_or(0)
    ));
    for (class, n) in &tally.classes {
        if *class != DANGER {
            out.push_str(&format!("  {n:>8}  {class}\n"));
        }
    }
    for (class, examples) in &tally.examples {
        for e in examples {
            out.push_str(&format!("    [{class}] {e}\n"));
        }
    }
    say(out.trim_end());
}

fn main() -> std::process::ExitCode {
    aigis_testkit::run(vec![
        aigis_testkit::Test::new(
            "pickle_streams_read_as_cpython_reads_them",
            pickle_streams_read_as_cpython_reads_them,
        )
        .needs(aigis_testkit::Tool::Python3),
    ])
}

/// The loader differential: needs `python3` (the harness skips it without one, and fails it
/// under CI).
fn pickle_streams_read_as_cpython_reads_them() {
    let seed = env_num("AIGIS_PICKLE_DIFF_SEED").unwrap_or(CI_SEED);
    let count = env_num("AIGIS_PICKLE_DIFF_COUNT").map_or(CI_COUNT, |n| n as usize);
    let jobs = env_num("AIGIS_PICKLE_DIFF_JOBS").map_or(2, |n| n as usize);
    let started = Instant::now();
    let tally = run(seed, count, jobs);
    print_report(seed, &tally, started.elapsed().as_secs_f64());

    // Not vacuous: every stream compared, and many in which loaders really run code.
    assert_eq!(tally.cases, count as u64, "streams compared");
    assert!(
        tally.loader_danger * 5 >= tally.cases,
        "only {} of {} streams run code under a loader",
        tally.loader_danger,
        tally.cases
    );
    for family in ["frame_split", "text_args", "eof_line", "multi", "first_op"] {
        assert!(
            tally.danger_families.get(family).copied().unwrap_or(0) > 0 || count < 5_000,
            "no {family} stream runs code under a loader"
        );
    }
    let violations = tally.classes.get(DANGER).copied().unwrap_or(0);
    assert_eq!(
        violations,
        0,
        "{violations} streams run code under a CPython loader that aigis rates below high:\n{}",
        tally
            .examples
            .get(DANGER)
            .map(|e| e.join("\n"))
            .unwrap_or_default()
    );
}
