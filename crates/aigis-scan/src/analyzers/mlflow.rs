//! MLflow model folders: the `MLmodel` YAML (flavors, loader module, code paths) and the Python
//! files that `mlflow.pyfunc.load_model` imports from the model's code paths.
//!
//! A model folder spans several files, and the file that runs on load is plain Python. So the
//! code analyzer is the one place that looks beyond the bytes: for a top-level file read from
//! disk ([`Context::file_path`]), it looks for an `MLmodel` in the ancestor folders and reports
//! the file only when that `MLmodel`'s `python_function` flavor loads it (it sits under the
//! declared `code` folder). Python files anywhere else are out of scope and declined.

use crate::analyzer::{Analyzer, Context, Input};
use crate::analyzers::callables::{clip, report_with};
use crate::analyzers::nemo::{looks_like_text, read_text};
use crate::analyzers::yaml::{self, Yaml};
use crate::{Format, RuleId, Severity};
use std::path::{Path, PathBuf};

/// Largest `MLmodel` or code file read; a larger one is reported as not fully analysed.
const MAX_TEXT: usize = 64 << 20;
/// [`MAX_TEXT`] for file reads.
const MAX_MLMODEL: u64 = MAX_TEXT as u64;
/// Ancestor folders searched for `MLmodel`.
const MAX_ANCESTORS: usize = 8;

/// Analyzer for `MLmodel` files.
pub struct MlmodelAnalyzer;

/// Analyzer for Python files an MLflow model loads.
pub struct MlflowCodeAnalyzer;

/// Flavors whose model is a pickle or cloudpickle.
const PICKLE_FLAVORS: &[&str] = &[
    "sklearn",
    "pytorch",
    "xgboost",
    "lightgbm",
    "catboost",
    "statsmodels",
    "prophet",
    "spacy",
    "fastai",
];

fn parse_mlmodel(text: &str) -> Option<Yaml> {
    let docs = yaml::parse(text).ok()?;
    let root = docs.docs.into_iter().next()?;
    matches!(root.get("flavors"), Some(Yaml::Map(_))).then_some(root)
}

/// The Python files flavors execute on load ("models from code": `model_code_path` of
/// `python_function`, `langchain`, `llama_index`, … flavors).
fn model_code_paths(root: &Yaml) -> Vec<(String, String)> {
    let Some(Yaml::Map(flavors)) = root.get("flavors") else {
        return Vec::new();
    };
    flavors
        .iter()
        .filter_map(|(name, flavor)| {
            let path = flavor.get("model_code_path")?.as_str()?;
            (!path.is_empty() && path != "null")
                .then(|| (name.as_str().unwrap_or("?").to_string(), path.to_string()))
        })
        .collect()
}

/// Whether a path named in `MLmodel` leaves the model folder (absolute, drive, `~`, `..`).
fn leaves_model(path: &str) -> bool {
    let drive = matches!(path.as_bytes(), [letter, b':', ..] if letter.is_ascii_alphabetic());
    path.starts_with(['/', '\\', '~'])
        || drive
        || path.contains("://")
        || path.split(['/', '\\']).any(|part| part == "..")
}

/// Flavor keys that name a file or folder of the model that loading reads (pickles, code, data).
const PATH_KEYS: &[&str] = &[
    "python_model",
    "data",
    "model_path",
    "pickled_model",
    "model_data",
    "code",
    "model_file",
    "saved_model_dir",
];

/// Pickle modules MLflow's PyTorch flavor writes as `pickle_module_name`.
const STANDARD_PICKLE_MODULES: &[&str] = &["mlflow.pytorch.pickle_module", "pickle", "cloudpickle"];

/// The folders (relative to the model root) pyfunc puts on `sys.path`.
fn code_dirs(root: &Yaml) -> Vec<String> {
    let pyfunc = root.get("flavors").and_then(|f| f.get("python_function"));
    match pyfunc.and_then(|p| p.get("code")) {
        Some(Yaml::Scalar(dir)) if !dir.is_empty() && dir != "null" => vec![dir.clone()],
        Some(Yaml::Seq(items)) => items
            .iter()
            .filter_map(Yaml::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

impl Analyzer for MlmodelAnalyzer {
    fn id(&self) -> &'static str {
        "mlflow"
    }

    fn version(&self) -> u32 {
        2
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        looks_like_text(head) && head.windows(8).any(|w| w == b"flavors:")
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        if input.source.len() > MAX_MLMODEL && input.name.is_none() && is_named(cx, "MLmodel") {
            cx.malformed(
                RuleId::FormatMalformed,
                format!("MLmodel larger than {MAX_TEXT} bytes; not analysed"),
                None,
            );
            cx.not_analysed("MLmodel over the size limit");
            return Some(Format::Mlflow);
        }
        let text = read_text(input, MAX_TEXT)?;
        let Some(root) = parse_mlmodel(&text) else {
            // A file named `MLmodel` that our parser refuses (nesting past the depth cap, syntax
            // a YAML loader might still accept) is reported, not passed over: MLflow would read it.
            let name = input
                .name
                .map(|n| n.rsplit('/').next().unwrap_or(n).to_owned())
                .or_else(|| {
                    cx.file_path()
                        .and_then(|p| p.file_name())
                        .map(|n| n.to_string_lossy().into_owned())
                });
            if name.as_deref() != Some("MLmodel") {
                return None;
            }
            match yaml::parse(&text).err() {
                Some(err) if err.is_limit() => {
                    // Only aigis's own cap stopped it: MLflow reads it, aigis did not finish.
                    cx.report(
                        RuleId::ResourceLimit,
                        format!("MLmodel past aigis's YAML limits ({err}); not analysed"),
                        None,
                    );
                    cx.not_analysed(format!("MLmodel past the YAML limits ({err})"));
                }
                err => {
                    let why =
                        err.map_or_else(|| "no `flavors` mapping".to_owned(), |e| e.to_string());
                    cx.malformed(
                        RuleId::FormatMalformed,
                        format!("MLmodel could not be analysed: {why}"),
                        None,
                    );
                }
            }
            return Some(Format::Mlflow);
        };
        let Some(Yaml::Map(flavors)) = root.get("flavors") else {
            return None;
        };
        let model = cx.model();
        model.set_framework("mlflow");
        if let Some(version) = root.get("mlflow_version").and_then(Yaml::as_str) {
            model
                .metadata
                .insert("mlflow_version".into(), clip(version, 40));
        }
        let names: Vec<String> = flavors
            .iter()
            .filter_map(|(k, _)| k.as_str())
            .map(|k| clip(k, 60))
            .collect();
        model.metadata.insert("flavors".into(), names.join(","));
        for (flavor, path) in model_code_paths(&root) {
            let (severity, place) = if leaves_model(&path) {
                (Severity::High, "a file outside the model folder")
            } else {
                (Severity::Medium, "model code")
            };
            let msg = format!(
                "the `{}` flavor executes the Python file `{}` ({place}, its model_code_path) when the model loads",
                clip(&flavor, 60),
                clip(&path, 200)
            );
            report_with(cx, RuleId::MlflowLoader, severity, msg);
        }
        for (name, flavor) in flavors {
            let name = name.as_str().unwrap_or("?");
            for key in PATH_KEYS {
                let Some(path) = flavor.get(key).and_then(Yaml::as_str) else {
                    continue;
                };
                if leaves_model(path) {
                    let msg = format!(
                        "the `{}` flavor's `{key}` is `{}`, outside the model folder: loading reads (and may unpickle or import) a file of the host",
                        clip(name, 60),
                        clip(path, 200)
                    );
                    report_with(cx, RuleId::MlflowLoader, Severity::High, msg);
                }
            }
            if let Some(module) = flavor.get("pickle_module_name").and_then(Yaml::as_str)
                && !STANDARD_PICKLE_MODULES.contains(&module)
            {
                let msg = format!(
                    "the `{}` flavor imports `{}` as its pickle module when the model loads",
                    clip(name, 60),
                    clip(module, 100)
                );
                cx.report(RuleId::MlflowLoader, msg, None);
            }
            if name == "python_function" {
                let loader = flavor.get("loader_module").and_then(Yaml::as_str);
                match loader {
                    Some(loader) if !loader.starts_with("mlflow.") => {
                        let dirs = code_dirs(&root).join(", ");
                        let msg = format!(
                            "pyfunc imports the loader module `{}` (code paths: {}) when the model loads",
                            clip(loader, 100),
                            if dirs.is_empty() {
                                "none".into()
                            } else {
                                clip(&dirs, 100)
                            }
                        );
                        cx.report(RuleId::MlflowLoader, msg, None);
                        if input.name.is_none() {
                            resolve_loader(loader, &root, cx);
                        }
                    }
                    Some(_) if flavor.get("python_model").is_some() => {
                        let msg =
                            "pyfunc loads a cloudpickled python_model (scanned as its own file)";
                        report_with(cx, RuleId::MlflowLoader, Severity::Info, msg);
                    }
                    _ => {}
                }
            } else if PICKLE_FLAVORS.contains(&name) {
                let msg = format!(
                    "the `{}` flavor stores its model as a pickle",
                    clip(name, 60)
                );
                report_with(cx, RuleId::MlflowLoader, Severity::Info, msg);
            }
        }
        Some(Format::Mlflow)
    }
}

/// Where the import system finds the loader module of the `MLmodel` being analysed (its folder
/// is the model root): a native extension or compiled bytecode without source is reported, as
/// is a module that is not in the model (it comes from the loading environment).
fn resolve_loader(loader: &str, mlmodel: &Yaml, cx: &mut Context<'_>) {
    let Some(model_root) = cx.file_path().and_then(Path::parent).map(Path::to_path_buf) else {
        return;
    };
    let search = sys_path_dirs(&model_root, mlmodel);
    for dir in &search {
        cx.consult(dir);
    }
    let Some(found) = crate::loaders::pymodule::resolve(loader, &search) else {
        return;
    };
    let shown = found
        .path
        .strip_prefix(&model_root)
        .unwrap_or(&found.path)
        .to_string_lossy()
        .into_owned();
    use crate::loaders::pymodule::ModuleKind;
    let (severity, what) = match found.kind {
        ModuleKind::Extension => (
            Severity::Critical,
            "a native extension module: importing it runs native code",
        ),
        ModuleKind::Sourceless => (Severity::High, "compiled bytecode without source"),
        ModuleKind::Namespace => (
            Severity::Medium,
            "a namespace package (a folder without `__init__`)",
        ),
        ModuleKind::Source => (Severity::Medium, "Python source"),
    };
    let msg = format!(
        "the loader module `{}` resolves to `{}`, {what}",
        clip(loader, 100),
        clip(&shown, 200)
    );
    report_with(cx, RuleId::MlflowLoader, severity, msg);
}

/// The model root and `MLmodel` above `file`, if one loads it as pyfunc code.
/// Whether the top-level file being analysed has this file name.
fn is_named(cx: &Context<'_>, name: &str) -> bool {
    cx.file_path()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == name)
}

/// The folder of the nearest `MLmodel` above `file`, and that `MLmodel` parsed. Every place
/// looked at is recorded in `cx` (the verdict changes if an `MLmodel` appears or changes there).
fn owning_model(file: &Path, cx: &mut Context<'_>) -> Option<(PathBuf, Yaml)> {
    let mut dir = file.parent();
    for _ in 0..MAX_ANCESTORS {
        let here = dir?;
        let mlmodel = here.join("MLmodel");
        cx.consult(&mlmodel);
        let meta = std::fs::symlink_metadata(&mlmodel).ok();
        if meta.is_some_and(|m| m.is_file()) {
            let text = read_capped(&mlmodel, MAX_MLMODEL)?;
            return Some((here.to_path_buf(), parse_mlmodel(&text)?));
        }
        dir = here.parent();
    }
    None
}

/// Reads at most `cap` bytes of a text file.
fn read_capped(path: &Path, cap: u64) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(cap)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// Names in compiled bytecode that reach the shell, code evaluation, files or the network.
const BYTECODE_RED_FLAGS: &[&str] = &[
    "system",
    "popen",
    "subprocess",
    "Popen",
    "spawnv",
    "execv",
    "execve",
    "eval",
    "exec",
    "compile",
    "__import__",
    "import_module",
    "socket",
    "urlopen",
    "urllib",
    "requests",
    "ctypes",
    "marshal",
    "loads",
    "remove",
    "unlink",
    "rmtree",
    "pty",
];

/// Judges model code: Python source through the parser ([`crate::python`]), compiled bytecode
/// (`.pyc`) through the marshal reader. `shown` names the file in messages.
pub(crate) fn judge_code(
    bytes: &[u8],
    is_bytecode: bool,
    shown: &str,
    rule: RuleId,
    cx: &mut Context<'_>,
) {
    if is_bytecode {
        // `.pyc`: 16-byte header (magic, flags, source mtime/hash, size), then a marshalled code
        // object. Without the source it cannot be judged call by call: its names are listed.
        let summary = bytes
            .get(16..)
            .ok_or_else(|| "shorter than a .pyc header".to_string())
            .and_then(|code| {
                crate::analyzers::keras::marshal::summarize_code(code).map_err(|e| e.to_string())
            });
        let (severity, detail) = match summary {
            Ok(summary) => {
                let flagged: Vec<&str> = summary
                    .names
                    .iter()
                    .map(String::as_str)
                    .filter(|n| BYTECODE_RED_FLAGS.contains(n))
                    .take(12)
                    .collect();
                if flagged.is_empty() {
                    (
                        Severity::High,
                        "compiled bytecode whose source is not in the model; it cannot be reviewed"
                            .to_string(),
                    )
                } else {
                    (
                        Severity::Critical,
                        format!("compiled bytecode that uses {}", flagged.join(", ")),
                    )
                }
            }
            Err(err) => (
                Severity::High,
                format!(
                    "compiled bytecode that could not be read ({})",
                    clip(&err, 80)
                ),
            ),
        };
        let msg = format!("`{}` is {detail}; importing it runs it", clip(shown, 200));
        return report_with(cx, rule, severity, msg);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        let msg = format!(
            "`{}` is not UTF-8 Python source: not judged",
            clip(shown, 200)
        );
        return report_with(cx, rule, Severity::High, msg);
    };
    match crate::python::effects(text) {
        Ok(effects) => {
            for effect in effects {
                let severity = if effect.kind.is_critical() {
                    Severity::Critical
                } else {
                    Severity::High
                };
                let msg = format!(
                    "`{}` line {} {} (`{}`): {}",
                    clip(shown, 200),
                    effect.line,
                    effect.kind.label(),
                    clip(&effect.target, 100),
                    clip(effect.snippet.trim(), 160)
                );
                report_with(cx, rule, severity, msg);
            }
        }
        Err(err) => {
            let msg = format!(
                "`{}` could not be parsed as Python 3 ({}): not judged",
                clip(shown, 200),
                clip(&err.to_string(), 120)
            );
            report_with(cx, rule, Severity::High, msg);
        }
    }
}

/// The folders pyfunc puts on `sys.path` for an MLflow model at `root`
/// (`mlflow.utils.model_utils._add_code_to_system_path`): each `code` path, and every folder
/// directly inside it but `__pycache__`.
pub(crate) fn sys_path_dirs(root: &Path, mlmodel: &Yaml) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in code_dirs(mlmodel) {
        if leaves_model(&dir) {
            continue;
        }
        let code = normalize(&root.join(&dir));
        if let Ok(entries) = std::fs::read_dir(&code) {
            let mut subdirs: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| e.path().is_dir() && e.file_name() != "__pycache__")
                .map(|e| e.path())
                .collect();
            subdirs.sort();
            out.push(code);
            out.extend(subdirs);
        } else {
            out.push(code);
        }
    }
    out
}

/// `a/./b/../c` → `a/c` (lexically, as `os.path.join` + `normpath`).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

impl Analyzer for MlflowCodeAnalyzer {
    fn id(&self) -> &'static str {
        "mlflow-code"
    }

    fn version(&self) -> u32 {
        2
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        // Python source, or compiled bytecode (a 2-byte magic number, then `\r\n`).
        looks_like_text(head) || (head.len() >= 16 && head.get(2..4) == Some(b"\r\n"))
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        if cx.depth() != 0 {
            return None;
        }
        let path = cx.file_path()?.to_path_buf();
        let extension = path.extension().and_then(|e| e.to_str());
        if !matches!(extension, Some("py" | "pyc")) {
            return None;
        }
        let (root, mlmodel) = owning_model(&path, cx)?;
        let relative = path.strip_prefix(&root).ok()?.to_path_buf();
        let normalized = normalize(&path);
        // Importable from a folder pyfunc puts on sys.path (modules, packages inside it, cached
        // bytecode), or run as a model-from-code file.
        let loaded = sys_path_dirs(&root, &mlmodel)
            .iter()
            .any(|dir| normalized.starts_with(dir))
            || model_code_paths(&mlmodel)
                .iter()
                .any(|(_, file)| normalized == normalize(&root.join(file)));
        if !loaded {
            return None;
        }
        let shown = relative.to_string_lossy().into_owned();
        let max = MAX_TEXT as u64;
        if input.source.len() > max {
            let msg = format!(
                "`{}` is model code larger than {MAX_TEXT} bytes: not analysed",
                clip(&shown, 200)
            );
            cx.report(RuleId::MlflowCode, msg, None);
            cx.not_analysed("model code over the size limit");
            return Some(Format::Mlflow);
        }
        let bytes = input.source.read_vec(0, MAX_TEXT).ok()?;
        let msg = format!(
            "`{}` is model code (pyfunc code path or model_code_path): mlflow imports it, so it runs on load",
            clip(&shown, 200)
        );
        cx.report(RuleId::MlflowCode, msg, None);
        judge_code(
            &bytes,
            extension == Some("pyc"),
            &shown,
            RuleId::MlflowCode,
            cx,
        );
        cx.model().set_framework("mlflow");
        Some(Format::Mlflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_dirs_from_mlmodel() {
        let root = parse_mlmodel(
            "flavors:\n  python_function:\n    code: code\n    loader_module: loader\n",
        );
        assert_eq!(root.as_ref().map(code_dirs), Some(vec!["code".to_string()]));
        assert!(parse_mlmodel("name: x\n").is_none());
    }

    #[test]
    fn an_mlmodel_past_the_parser_limits_is_incomplete_not_skipped() {
        let dir = std::env::temp_dir().join(format!("aigis-mlmodel-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let past_cap =
            format!("flavors:\n  python_function:\n    loader_module: evil\n    x: {deep}\n");
        let bad_syntax = "flavors:\n  python_function:\n    loader_module: evil\n    x: [1\n";
        let scanner = crate::Scanner::new(crate::ScanOptions::default());
        for (name, text, expected) in [
            // Only aigis's nesting cap stops it: MLflow reads it, the result is incomplete.
            (
                "MLmodel",
                past_cap.as_str(),
                Some((crate::Status::Ok, true)),
            ),
            // Refused for its syntax: invalid.
            ("MLmodel", bad_syntax, Some((crate::Status::Invalid, false))),
            ("notes.yaml", past_cap.as_str(), None),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
            let source = crate::MemorySource::new(text.as_bytes().to_vec());
            let result = scanner.scan_source_at(name.into(), &source, Some(&path));
            if let Some((status, incomplete)) = expected {
                assert_eq!(result.status, status, "{name}");
                assert_eq!(
                    result.incomplete.is_some(),
                    incomplete,
                    "{name}: {result:?}"
                );
                assert_eq!(result.format, Format::Mlflow, "{name}");
            } else {
                assert_ne!(result.format, Format::Mlflow, "{name}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn paths_leaving_the_model_folder() {
        for path in [
            "/tmp/x.pkl",
            "../x.pkl",
            "data/../../x",
            "C:\\x.pkl",
            "~/x",
            "s3://b/x",
        ] {
            assert!(leaves_model(path), "{path}");
        }
        for path in ["python_model.pkl", "data", "code/agent.py", "./model.pkl"] {
            assert!(!leaves_model(path), "{path}");
        }
    }
}
