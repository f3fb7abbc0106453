//! Python source and Jupyter notebooks: the places where code loads models, and how.
//!
//! The code is parsed with the real Python parser behind [`crate::python`], which resolves import
//! aliases (`import torch as t`, `from joblib import load as jl`), assignments and constant
//! expressions (a `weights_only` flag held in a variable, a repo id in an f-string with constant
//! parts). Each resolved call is judged by what the library does with its arguments:
//! deserialisers that run code (`CODE-UNSAFE-LOAD`), Keras safe mode off, `trust_remote_code`,
//! hub downloads without a pinned commit, unsafe YAML loaders, and downloaded data handed to
//! `exec`/`eval`/a deserialiser. A load site that names its file as a constant carries that path
//! ([`Finding::loads`]); the run links it to the file's own verdict
//! (`CODE-LOADS-FLAGGED-MODEL`).
//!
//! Recognised by name (`.py`, `.pyw`, `.ipynb`) or content (a `#!…python` first line, a notebook's
//! `nbformat` JSON). Code that does not parse is `invalid` with a finding, never skipped.

use crate::analyzer::{Analyzer, Context, Input};
use crate::python::{Arg, Call, ParseFailure, calls};
use crate::{Finding, Format, RuleId, Severity};

/// Largest source or notebook read.
const MAX_CODE: usize = crate::python::MAX_SOURCE;

/// Code scanning of Python source and notebooks.
pub struct PythonCodeAnalyzer;

impl Analyzer for PythonCodeAnalyzer {
    fn id(&self) -> &'static str {
        "python-code"
    }

    fn version(&self) -> u32 {
        2
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        super::nemo::looks_like_text(head)
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        // A top-level file's name is asked of the context, which makes the result valid for
        // this path only (the same bytes under another name may be no code).
        let name = input
            .name
            .map(str::to_owned)
            .or_else(|| {
                cx.file_path()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_default()
            .to_ascii_lowercase();
        let by_name = if name.ends_with(".py") || name.ends_with(".pyw") {
            Some(Format::PythonCode)
        } else if name.ends_with(".ipynb") {
            Some(Format::Notebook)
        } else {
            None
        };
        let by_content = if input.head.starts_with(b"#!")
            && input
                .head
                .split(|&b| b == b'\n')
                .next()
                .is_some_and(|l| l.windows(6).any(|w| w == b"python"))
        {
            Some(Format::PythonCode)
        } else if input.head.first() == Some(&b'{')
            && input.head.windows(8).any(|w| w == b"nbformat")
        {
            Some(Format::Notebook)
        } else {
            None
        };
        let format = by_name.or(by_content)?;
        if input.source.len() > MAX_CODE as u64 {
            cx.report(
                RuleId::ResourceLimit,
                format!("source larger than {MAX_CODE} bytes: its load sites were not analysed"),
                None,
            );
            cx.not_analysed("source over the size limit");
            return Some(format);
        }
        let bytes = match input.source.read_vec(0, MAX_CODE) {
            Ok(b) => b,
            Err(e) => {
                cx.read_error(&e);
                return Some(format);
            }
        };
        let Ok(text) = String::from_utf8(bytes) else {
            cx.malformed(
                RuleId::FormatMalformed,
                "source is not UTF-8: Python 3 refuses it, its load sites were not analysed",
                None,
            );
            return Some(format);
        };
        match format {
            Format::Notebook => notebook(&text, cx),
            _ => {
                let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
                match calls(text, relevant) {
                    Ok(found) => judge(&found, None, cx),
                    Err(e) => parse_failure(&e, None, cx),
                }
            }
        }
        Some(format)
    }
}

fn parse_failure(e: &ParseFailure, cell: Option<usize>, cx: &mut Context<'_>) {
    let place = cell.map(|c| format!("cell {c}: ")).unwrap_or_default();
    cx.malformed(
        RuleId::FormatMalformed,
        format!("{place}not Python 3 ({e}): its load sites were not analysed"),
        None,
    );
}

/// The code cells of a notebook, each judged with the names the cells before it imported (a
/// cell that does not parse is reported and left out; IPython magics and shell lines are
/// blanked, keeping line numbers).
fn notebook(text: &str, cx: &mut Context<'_>) {
    let doc: serde_json::Value = match serde_json::from_str(text.trim_start_matches('\u{feff}')) {
        Ok(v) => v,
        Err(e) => {
            cx.malformed(
                RuleId::FormatMalformed,
                format!("notebook is not valid JSON ({e}): its code was not analysed"),
                None,
            );
            return;
        }
    };
    let Some(cells) = doc.get("cells").and_then(|c| c.as_array()) else {
        cx.malformed(
            RuleId::FormatMalformed,
            "notebook has no `cells` list: its code was not analysed",
            None,
        );
        return;
    };
    // Cells run in order in one namespace: judge cell k with the cells before it prepended
    // (their calls are dropped by line), so `import torch` in cell 1 resolves `torch.load` in
    // cell 3.
    let mut prefix = String::new();
    let mut prefix_lines = 0usize;
    for (index, cell) in cells.iter().enumerate() {
        if cell.get("cell_type").and_then(|t| t.as_str()) != Some("code") {
            continue;
        }
        let source = match cell.get("source") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Array(parts)) => {
                parts.iter().filter_map(|p| p.as_str()).collect::<String>()
            }
            _ => continue,
        };
        let code = blank_magics(&source);
        let number = index + 1;
        let mut joined = prefix.clone();
        joined.push_str(&code);
        if !joined.ends_with('\n') {
            joined.push('\n');
        }
        match calls(&joined, relevant) {
            Ok(found) => {
                let own: Vec<Call> = found
                    .into_iter()
                    .filter(|c| c.line > prefix_lines)
                    .map(|mut c| {
                        c.line -= prefix_lines;
                        c
                    })
                    .collect();
                judge(&own, Some(number), cx);
                prefix = joined;
                prefix_lines = prefix.lines().count();
            }
            Err(e) => parse_failure(&e, Some(number), cx),
        }
        if prefix.len() > MAX_CODE {
            cx.not_analysed("notebook code over the size limit");
            return;
        }
    }
}

/// IPython magics (`%pip install x`, `%%time`) and shell escapes (`!ls`) are not Python: each is
/// replaced by `pass` at the same indentation, so line numbers stay and blocks stay valid.
fn blank_magics(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.lines() {
        let body = line.trim_start();
        if body.starts_with('%') || body.starts_with('!') {
            out.push_str(&line[..line.len() - body.len()]);
            out.push_str("pass");
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Calls worth listing: loaders, hub downloads, evaluators; the rest are dropped early.
fn relevant(target: &str) -> bool {
    let last = target.rsplit('.').next().unwrap_or(target);
    matches!(
        last,
        "load"
            | "loads"
            | "Unpickler"
            | "read_pickle"
            | "open"
            | "decode"
            | "load_model"
            | "enable_unsafe_deserialization"
            | "from_pretrained"
            | "from_single_file"
            | "pipeline"
            | "hf_hub_download"
            | "snapshot_download"
            | "load_dataset"
            | "create_model"
            | "load_all"
            | "unsafe_load"
            | "unsafe_load_all"
            | "full_load"
            | "full_load_all"
            | "exec"
            | "eval"
            | "compile"
            | "system"
            | "popen"
            | "run_path"
            | "run_module"
            | "SentenceTransformer"
            | "CrossEncoder"
            | "load_file"
            | "safe_open"
            | "load_model_file"
            | "InferenceSession"
            | "Llama"
    ) || target.starts_with("subprocess.")
}

/// Where a finding goes: `line L, column C`, in a notebook `cell N, line L, column C`.
fn record(cx: &mut Context<'_>, finding: Finding, call: &Call, cell: Option<usize>) {
    match cell {
        None => cx.record_at_line(finding, call.line, call.column),
        Some(cell) => {
            let location = format!("cell {cell}, line {}, column {}", call.line, call.column);
            let place = cx.location(None);
            let location = match place {
                Some(member) => format!("{member} @ {location}"),
                None => location,
            };
            let mut finding = finding;
            finding.location = Some(location);
            cx.record_at(finding);
        }
    }
}

/// The call as written, shortened (quotes stay as written, unlike [`super::callables::clip`]).
fn shown(call: &Call) -> String {
    super::callables::clip_plain(&call.snippet, 160)
}

/// The file or repo a load site names as a constant: the first positional argument, or the
/// keyword the library uses for it.
fn named_path(call: &Call, keywords: &[&str]) -> Option<String> {
    let first = call.args.first();
    let kw = keywords.iter().find_map(|k| call.keyword(k));
    match first.or(kw) {
        Some(Arg::Str(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn is_commit(revision: Option<&Arg>) -> bool {
    matches!(revision, Some(Arg::Str(r)) if r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether a string names a local path rather than a hub repository.
fn local_path(s: &str) -> bool {
    s.starts_with(['/', '.', '~'])
        || s.contains('\\')
        || s.split('/').count() > 2
        || s.ends_with(".pt")
        || s.ends_with(".bin")
        || s.ends_with(".safetensors")
        || s.ends_with(".gguf")
}

/// Deserialisers that run whatever the file holds, by resolved name.
const PICKLE_LOADERS: &[(&str, &str)] = &[
    ("pickle.load", "pickle"),
    ("pickle.loads", "pickle"),
    ("pickle.Unpickler", "pickle"),
    ("_pickle.load", "pickle"),
    ("_pickle.loads", "pickle"),
    ("_pickle.Unpickler", "pickle"),
    ("cPickle.load", "pickle"),
    ("cPickle.loads", "pickle"),
    ("dill.load", "dill"),
    ("dill.loads", "dill"),
    ("cloudpickle.load", "cloudpickle"),
    ("cloudpickle.loads", "cloudpickle"),
    ("joblib.load", "joblib (pickle)"),
    ("sklearn.externals.joblib.load", "joblib (pickle)"),
    ("pandas.read_pickle", "pandas.read_pickle (pickle)"),
    ("shelve.open", "shelve (pickle)"),
    ("jsonpickle.decode", "jsonpickle"),
    ("marshal.loads", "marshal (code objects)"),
    ("marshal.load", "marshal (code objects)"),
];

/// Evaluators that run a string or bytes as code.
const EVALUATORS: &[&str] = &[
    "builtins.exec",
    "builtins.eval",
    "builtins.compile",
    "runpy.run_path",
    "runpy.run_module",
    "os.system",
    "os.popen",
];

fn judge(found: &[Call], cell: Option<usize>, cx: &mut Context<'_>) {
    for call in found {
        judge_call(call, cell, cx);
    }
}

/// The model file or hub repository a load site names as a constant, safe loads included (the
/// AI-BOM links code to the models it loads).
fn load_site_target(call: &Call) -> Option<String> {
    let target = call.target.as_str();
    let keywords: &[&str] = if PICKLE_LOADERS.iter().any(|(n, _)| *n == target) {
        if target.ends_with(".loads") {
            return None;
        }
        &["file", "filename", "filepath_or_buffer", "path"]
    } else {
        match target {
            "torch.load" | "torch.jit.load" | "onnx.load" | "onnx.load_model" => &["f"],
            "numpy.load" => &["file"],
            "safetensors.torch.load_file"
            | "safetensors.numpy.load_file"
            | "safetensors.flax.load_file"
            | "safetensors.safe_open" => &["filename"],
            "onnxruntime.InferenceSession" => &["path_or_bytes"],
            "tensorflow.saved_model.load" => &["export_dir"],
            "llama_cpp.Llama" => &["model_path"],
            "xgboost.Booster.load_model" | "lightgbm.Booster" => &["fname", "model_file"],
            _ if target.ends_with(".load_model")
                && (target.starts_with("keras.")
                    || target.starts_with("tensorflow.")
                    || target.starts_with("tf_keras.")) =>
            {
                &["filepath"]
            }
            _ => return hub_repo(call),
        }
    };
    named_path(call, keywords)
}

fn judge_call(call: &Call, cell: Option<usize>, cx: &mut Context<'_>) {
    if let Some(named) = load_site_target(call) {
        cx.model().loads.insert(named);
    }
    let target = call.target.as_str();
    let downloaded = call.args.contains(&Arg::Downloaded)
        || call.keywords.iter().any(|(_, v)| *v == Arg::Downloaded);
    if downloaded
        && (EVALUATORS.contains(&target)
            || target.starts_with("subprocess.")
            || PICKLE_LOADERS.iter().any(|(n, _)| *n == target)
            || target == "torch.load")
    {
        let msg = format!(
            "`{}` hands data fetched from the network to `{target}`: whoever serves it runs code here",
            shown(call)
        );
        record(
            cx,
            Finding::new(RuleId::CodeExecDownloaded, msg),
            call,
            cell,
        );
        return;
    }
    // trust_remote_code=True on any call (from_pretrained, pipeline, SentenceTransformer, …).
    match call.keyword("trust_remote_code") {
        Some(Arg::Bool(true)) => {
            let repo = named_path(
                call,
                &[
                    "pretrained_model_name_or_path",
                    "model",
                    "model_name_or_path",
                    "path",
                ],
            );
            let pinned = is_commit(call.keyword("revision"));
            let what = repo
                .as_deref()
                .map(|r| format!(" of `{}`", super::callables::clip(r, 200)))
                .unwrap_or_default();
            let msg = format!(
                "`{}` runs the Python code{what} (trust_remote_code=True){}",
                shown(call),
                if pinned {
                    " at the pinned commit"
                } else {
                    ", at whatever revision the repository holds when it runs"
                }
            );
            let mut finding = Finding::new(RuleId::CodeTrustRemoteCode, msg);
            if pinned {
                finding = finding.with_severity(Severity::Medium);
            }
            record(cx, finding, call, cell);
            return;
        }
        Some(Arg::Unknown | Arg::Path(_)) => {
            let msg = format!(
                "`{}` passes trust_remote_code from a value not known here: if it is true, the repository's code runs",
                shown(call)
            );
            record(
                cx,
                Finding::new(RuleId::CodeTrustRemoteCode, msg).with_severity(Severity::Medium),
                call,
                cell,
            );
            return;
        }
        _ => {}
    }
    if let Some((_, how)) = PICKLE_LOADERS.iter().find(|(n, _)| *n == target) {
        let path = named_path(call, &["file", "filename", "filepath_or_buffer", "path"]);
        let what = path
            .as_deref()
            .map(|p| format!(" `{}`", super::callables::clip(p, 200)))
            .unwrap_or_default();
        let msg = format!(
            "`{}` loads{what} with {how}: whatever the file holds runs when this line does",
            shown(call)
        );
        let mut finding = Finding::new(RuleId::CodeUnsafeLoad, msg);
        if let Some(p) = path {
            finding = finding.with_loads(p);
        }
        record(cx, finding, call, cell);
        return;
    }
    match target {
        "torch.load" => torch_load(call, cell, cx),
        "numpy.load" => {
            let allow = call.keyword("allow_pickle");
            let severity = match allow {
                Some(Arg::Bool(true)) => Severity::High,
                Some(Arg::Unknown | Arg::Path(_) | Arg::Str(_) | Arg::Int(_)) => Severity::Medium,
                _ => return,
            };
            let path = named_path(call, &["file"]);
            let msg = format!(
                "`{}` loads{} with allow_pickle{}: an object array's pickle runs on load",
                shown(call),
                path.as_deref()
                    .map(|p| format!(" `{}`", super::callables::clip(p, 200)))
                    .unwrap_or_default(),
                if severity == Severity::High {
                    "=True"
                } else {
                    " set from a value not known here"
                }
            );
            let mut finding = Finding::new(RuleId::CodeUnsafeLoad, msg).with_severity(severity);
            if let Some(p) = path {
                finding = finding.with_loads(p);
            }
            record(cx, finding, call, cell);
        }
        _ if target.ends_with(".enable_unsafe_deserialization")
            && (target.starts_with("keras.")
                || target.starts_with("tensorflow.")
                || target.starts_with("tf_keras.")) =>
        {
            let msg = format!(
                "`{}` turns Keras safe mode off for every later load_model: Lambda layers run their bytecode",
                shown(call)
            );
            record(cx, Finding::new(RuleId::CodeKerasUnsafe, msg), call, cell);
        }
        _ if target.ends_with(".load_model")
            && (target.starts_with("keras.")
                || target.starts_with("tensorflow.")
                || target.starts_with("tf_keras.")) =>
        {
            let severity = match call.keyword("safe_mode") {
                Some(Arg::Bool(false)) => Severity::High,
                Some(Arg::Unknown | Arg::Path(_)) => Severity::Medium,
                _ => return,
            };
            let path = named_path(call, &["filepath"]);
            let msg = format!(
                "`{}` loads{} with Keras safe mode {}: Lambda layers run their marshalled bytecode",
                shown(call),
                path.as_deref()
                    .map(|p| format!(" `{}`", super::callables::clip(p, 200)))
                    .unwrap_or_default(),
                if severity == Severity::High {
                    "off"
                } else {
                    "set from a value not known here"
                }
            );
            let mut finding = Finding::new(RuleId::CodeKerasUnsafe, msg).with_severity(severity);
            if let Some(p) = path {
                finding = finding.with_loads(p);
            }
            record(cx, finding, call, cell);
        }
        "yaml.load" | "yaml.load_all" => {
            let loader = call.keyword("Loader").or(call.args.get(1));
            let safe = matches!(loader, Some(Arg::Path(p)) if ["SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"].iter().any(|s| p.ends_with(s)));
            if !safe {
                let msg = format!(
                    "`{}` parses YAML with a loader that constructs arbitrary Python objects",
                    shown(call)
                );
                record(cx, Finding::new(RuleId::CodeUnsafeYaml, msg), call, cell);
            }
        }
        "yaml.unsafe_load" | "yaml.unsafe_load_all" | "yaml.full_load" | "yaml.full_load_all" => {
            let msg = format!(
                "`{}` parses YAML with a loader that constructs Python objects",
                shown(call)
            );
            record(cx, Finding::new(RuleId::CodeUnsafeYaml, msg), call, cell);
        }
        "torch.hub.load" => {
            let source = call.keyword("source");
            if matches!(source, Some(Arg::Str(s)) if s == "local") {
                return;
            }
            let repo = named_path(call, &["repo_or_dir"]);
            let pinned = repo
                .as_deref()
                .and_then(|r| r.split_once(':'))
                .is_some_and(|(_, r)| r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()));
            let msg = format!(
                "`{}` imports and runs the hubconf.py of {} from GitHub{}",
                shown(call),
                repo.as_deref()
                    .map(|r| format!("`{}`", super::callables::clip(r, 200)))
                    .unwrap_or_else(|| "a repository".to_owned()),
                if pinned {
                    " at a pinned commit"
                } else {
                    ", at whatever its branch holds when it runs"
                }
            );
            let finding = Finding::new(RuleId::CodeTrustRemoteCode, msg);
            let finding = if pinned {
                finding.with_severity(Severity::Medium)
            } else {
                finding
            };
            record(cx, finding, call, cell);
        }
        _ => hub_download(call, cell, cx),
    }
}

/// `torch.load`: safe with `weights_only=True` (the default from torch 2.6), a pickle
/// otherwise.
fn torch_load(call: &Call, cell: Option<usize>, cx: &mut Context<'_>) {
    let path = named_path(call, &["f"]);
    let what = path
        .as_deref()
        .map(|p| format!(" `{}`", super::callables::clip(p, 200)))
        .unwrap_or_default();
    let (severity, why) = match call.keyword("weights_only") {
        Some(Arg::Bool(true)) => return,
        Some(Arg::Bool(false)) => (
            Severity::High,
            "weights_only=False: the pickle inside runs whatever it names".to_owned(),
        ),
        Some(_) => (
            Severity::Medium,
            "weights_only set from a value not known here: unless it is True, the pickle inside runs whatever it names".to_owned(),
        ),
        None if call.has_splat() => (
            Severity::Medium,
            "weights_only may come from **kwargs: unless it is True, the pickle inside runs whatever it names".to_owned(),
        ),
        None if torch_at_least_2_6(cx) => return,
        None => (
            Severity::Medium,
            "weights_only not given: torch older than 2.6 unpickles whatever the file names (2.6 and later default to weights_only=True)".to_owned(),
        ),
    };
    let msg = format!("`{}` loads{what} with {why}", shown(call));
    let mut finding = Finding::new(RuleId::CodeUnsafeLoad, msg).with_severity(severity);
    if let Some(p) = path {
        finding = finding.with_loads(p);
    }
    record(cx, finding, call, cell);
}

/// Folders above a code file searched for the project's requirements.
const PROJECT_DEPTH: usize = 6;

/// Whether the project the code file belongs to requires torch 2.6 or later (the nearest
/// `requirements*.txt` or `pyproject.toml` above it that names torch), where `torch.load`
/// defaults to `weights_only=True`. Every file looked at is consulted (the cache re-checks it).
fn torch_at_least_2_6(cx: &mut Context<'_>) -> bool {
    let Some(path) = cx.file_path().map(std::path::Path::to_path_buf) else {
        return false;
    };
    for dir in path.ancestors().skip(1).take(PROJECT_DEPTH) {
        let mut files: Vec<std::path::PathBuf> = vec![dir.join("pyproject.toml")];
        if let Ok(entries) = std::fs::read_dir(dir) {
            let mut reqs: Vec<std::path::PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("requirements") && n.ends_with(".txt"))
                })
                .collect();
            reqs.sort();
            files.extend(reqs);
        }
        let mut named = None;
        for file in &files {
            cx.consult(file);
            let Ok(text) = std::fs::read_to_string(file) else {
                continue;
            };
            if text.len() > 1 << 20 {
                continue;
            }
            if let Some(at_least) = torch_requirement(&text) {
                named = Some(named.unwrap_or(true) && at_least);
            }
        }
        if let Some(at_least) = named {
            return at_least;
        }
    }
    false
}

/// In a requirements file or pyproject: `Some(true)` when every torch requirement has a lower
/// bound of 2.6 or more, `Some(false)` when torch is named otherwise, `None` when not named.
fn torch_requirement(text: &str) -> Option<bool> {
    let mut found = None;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        // `torch>=2.6`, `"torch>=2.6,<3"`, `torch = ">=2.6"`, `torch = {version = "^2.6"}`.
        for piece in line.split(['"', '\'']) {
            let piece = piece.trim().trim_start_matches('[').trim();
            let Some(rest) = piece.strip_prefix("torch") else {
                continue;
            };
            let rest = rest.trim_start();
            let spec = if let Some(r) = rest.strip_prefix('=') {
                // Poetry: `torch = ">=2.6"` splits into `torch =` and the spec in quotes.
                let r = r.trim();
                if r.is_empty() || r.starts_with('{') {
                    let quoted = line.split(['"', '\'']).nth(1);
                    quoted.unwrap_or("").to_owned()
                } else {
                    format!("={r}")
                }
            } else if rest.is_empty() || rest.starts_with(['<', '>', '=', '~', '!', '^', '[', ';'])
            {
                rest.to_owned()
            } else {
                continue;
            };
            let spec = spec.split(';').next().unwrap_or("");
            let spec = match spec.find(']') {
                Some(i) => &spec[i + 1..],
                None => spec,
            };
            let ok = lower_bound_at_least(spec, (2, 6));
            found = Some(found.unwrap_or(true) && ok);
        }
    }
    found
}

/// Whether a version specifier (`>=2.6,<3`, `==2.7.1`, `~=2.6.0`, `^2.6`) excludes every
/// version below `min` (major, minor).
fn lower_bound_at_least(spec: &str, min: (u64, u64)) -> bool {
    spec.split(',').any(|clause| {
        let clause = clause.trim();
        let version = ["===", "==", ">=", "~=", "^", "="]
            .iter()
            .find_map(|op| clause.strip_prefix(op))
            .or_else(|| {
                clause
                    .strip_prefix('>')
                    .filter(|_| !clause.starts_with(">="))
            });
        let Some(version) = version else {
            return false;
        };
        let mut parts = version.trim().split('.').map(|p| {
            p.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse::<u64>()
        });
        let major = parts.next().and_then(Result::ok);
        let minor = parts.next().and_then(Result::ok).unwrap_or(0);
        major.is_some_and(|m| (m, minor) >= min)
    })
}

/// Hub downloads without a pinned commit.
/// The repository (or path) a hub download names as a constant.
fn hub_repo(call: &Call) -> Option<String> {
    let target = call.target.as_str();
    let last = target.rsplit('.').next().unwrap_or(target);
    match last {
        "from_pretrained" | "from_single_file" => named_path(
            call,
            &[
                "pretrained_model_name_or_path",
                "pretrained_model_link_or_path",
            ],
        ),
        "hf_hub_download" | "snapshot_download" if target.starts_with("huggingface_hub.") => {
            named_path(call, &["repo_id"])
        }
        "load_dataset" if target.starts_with("datasets.") => named_path(call, &["path"]),
        "pipeline" if target.starts_with("transformers.") => match call.keyword("model") {
            Some(Arg::Str(s)) => Some(s.clone()),
            _ => None,
        },
        "SentenceTransformer" | "CrossEncoder" if target.starts_with("sentence_transformers.") => {
            named_path(call, &["model_name_or_path", "model_name"])
        }
        "create_model" if target.starts_with("timm.") => named_path(call, &["model_name"])
            .and_then(|m| {
                m.strip_prefix("hf-hub:")
                    .or_else(|| m.strip_prefix("hf_hub:"))
                    .map(str::to_owned)
            }),
        _ => None,
    }
}

fn hub_download(call: &Call, cell: Option<usize>, cx: &mut Context<'_>) {
    let Some(repo) = hub_repo(call).filter(|r| !local_path(r)) else {
        return;
    };
    if is_commit(call.keyword("revision")) {
        return;
    }
    let revision = match call.keyword("revision") {
        Some(Arg::Str(r)) => format!(
            " (revision `{}` is a branch or tag, which can move)",
            super::callables::clip(r, 60)
        ),
        Some(_) => " (revision from a value not known here)".to_owned(),
        None => String::new(),
    };
    let msg = format!(
        "`{}` downloads `{}` from the hub at whatever it holds when this runs{revision}: pin revision= to a 40-hex commit",
        shown(call),
        super::callables::clip(&repo, 200)
    );
    record(
        cx,
        Finding::new(RuleId::CodeUnpinnedDownload, msg),
        call,
        cell,
    );
}

#[cfg(test)]
mod tests {
    use super::{blank_magics, torch_requirement};

    #[test]
    fn torch_requirements_are_read_for_their_lower_bound() {
        assert_eq!(torch_requirement("numpy\ntorch>=2.6\n"), Some(true));
        assert_eq!(
            torch_requirement("torch==2.7.1 ; python_version>'3.9'\n"),
            Some(true)
        );
        assert_eq!(torch_requirement("torch>=2.1,<3\n"), Some(false));
        assert_eq!(torch_requirement("torch\n"), Some(false));
        assert_eq!(torch_requirement("torchvision>=0.20\n"), None);
        assert_eq!(
            torch_requirement("[project]\ndependencies = [\"torch>=2.6.0\", \"numpy\"]\n"),
            Some(true)
        );
        assert_eq!(
            torch_requirement("[tool.poetry.dependencies]\ntorch = \"^2.6\"\n"),
            Some(true)
        );
        assert_eq!(
            torch_requirement("[tool.poetry.dependencies]\ntorch = \"^2.4\"\n"),
            Some(false)
        );
        assert_eq!(torch_requirement("torch~=2.6.0\n"), Some(true));
        assert_eq!(torch_requirement("numpy>=2.0\ntorch>=2.6.0\n"), Some(true));
    }

    #[test]
    fn magics_become_pass_at_their_indentation() {
        assert_eq!(
            blank_magics("%pip install x\nif a:\n    !ls\n    b()\n"),
            "pass\nif a:\n    pass\n    b()\n"
        );
    }
}
