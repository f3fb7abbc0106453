//! Repository code that `transformers` imports when a model is loaded with
//! `trust_remote_code=True`.
//!
//! A Hugging Face repository names its own classes in the `auto_map` of `config.json` (and of
//! `tokenizer_config.json`, `preprocessor_config.json`, `processor_config.json`,
//! `video_preprocessor_config.json`): `"AutoModel": "modeling_x.XModel"`, or a list for
//! tokenizers. `transformers.dynamic_module_utils.get_class_from_dynamic_module` splits the
//! reference as `module.Class` (a `repo--` prefix names another repository), copies
//! `module.py` and, recursively, every file its relative imports name — found the way
//! `get_relative_imports` finds them, by the lines `import .x` and `from .x import …` — and
//! imports the module: every one of those files runs on load. Such a file is judged here with the
//! effect tables of loader code ([`super::mlflow::judge_code`]: execution, processes, network,
//! file writes, deserialisers) and then as ordinary Python code; a Python file no `auto_map`
//! reaches is left to the code analyzer.

use super::callables::{clip, report_with};
use super::mlflow::judge_code;
use crate::analyzer::{Analyzer, Context, Input};
use crate::{Format, RuleId, Severity};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The configs whose `auto_map` transformers' `Auto*` classes read.
const CONFIGS: &[&str] = &[
    "config.json",
    "tokenizer_config.json",
    "preprocessor_config.json",
    "processor_config.json",
    "video_preprocessor_config.json",
];

/// Largest config or module read to follow references.
const MAX_READ: u64 = 8 << 20;

/// Most modules followed through relative imports.
const MAX_MODULES: usize = 512;

/// Analyzer for repository code that `trust_remote_code=True` imports.
pub struct RemoteCodeAnalyzer;

/// Analyzer for the configs whose `auto_map` names that code.
pub struct AutoMapConfigAnalyzer;

/// `module.Class` references of an `auto_map` value (a string, or a list of strings and nulls),
/// with the `repo--` prefix split off.
fn references(value: &Value, out: &mut Vec<(Option<String>, String)>) {
    match value {
        Value::String(reference) => {
            let (repo, local) = match reference.split_once("--") {
                Some((repo, local)) => (Some(repo.to_string()), local),
                None => (None, reference.as_str()),
            };
            // `module_file, class_name = class_reference.split(".")`: exactly one dot.
            if let Some((module, class)) = local.split_once('.')
                && !module.is_empty()
                && !class.contains('.')
                && out.len() < MAX_MODULES
            {
                out.push((repo, module.to_string()));
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, out)),
        _ => {}
    }
}

/// The modules `get_relative_imports` finds in `source`: `import .x` and `from .x import`.
fn relative_imports(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in source.lines() {
        let line = line.trim_start();
        let rest = if let Some(rest) = line.strip_prefix("import") {
            let rest = rest.trim_start();
            if rest.len() == line.len() - "import".len() {
                continue; // `importlib…`: no whitespace after `import`.
            }
            rest.strip_prefix('.').and_then(|module| {
                let module = module.trim_end();
                (!module.is_empty() && !module.contains(char::is_whitespace)).then_some(module)
            })
        } else if let Some(rest) = line.strip_prefix("from") {
            let after = rest.trim_start();
            if after.len() == rest.len() {
                continue;
            }
            after.strip_prefix('.').and_then(|module| {
                let end = module.find(char::is_whitespace)?;
                let tail = module[end..].trim_start();
                (end > 0 && tail.starts_with("import")).then_some(&module[..end])
            })
        } else {
            None
        };
        if let Some(module) = rest
            && out.len() < MAX_MODULES
        {
            out.push(module.to_string());
        }
    }
    out
}

/// The files `module` may be read from: `module.py` as transformers copies it, and the path
/// Python's import system resolves a dotted name to.
fn module_files(dir: &Path, module: &str) -> Vec<PathBuf> {
    let mut files = vec![dir.join(format!("{module}.py"))];
    if module.contains('.') {
        files.push(dir.join(format!("{}.py", module.replace('.', "/"))));
    }
    files
}

/// A file read to follow references.
enum Read {
    /// Not there (or not a file, or unreadable).
    Absent,
    /// Larger than [`MAX_READ`]: what it references is not known.
    TooLarge,
    Bytes(Vec<u8>),
}

fn read_small(path: &Path) -> Read {
    let Ok(meta) = std::fs::metadata(path) else {
        return Read::Absent;
    };
    if !meta.is_file() {
        return Read::Absent;
    }
    if meta.len() > MAX_READ {
        return Read::TooLarge;
    }
    std::fs::read(path).map_or(Read::Absent, Read::Bytes)
}

/// What runs from a folder when its models are loaded with `trust_remote_code=True`.
#[derive(Default)]
struct Reached {
    /// Each module file reached, with the config key that reaches it first.
    files: BTreeMap<PathBuf, String>,
    /// Configs and modules too large to follow: what they reach is not known.
    unread: Vec<String>,
}

/// What runs from `dir` when its models are loaded with `trust_remote_code=True`.
fn remote_code_files(dir: &Path, cx: &mut Context<'_>) -> Reached {
    let mut out = Reached::default();
    let mut queue: Vec<(String, String)> = Vec::new();
    for config in CONFIGS {
        let path = dir.join(config);
        cx.consult(&path);
        let bytes = match read_small(&path) {
            Read::Absent => continue,
            Read::TooLarge => {
                out.unread.push((*config).to_string());
                continue;
            }
            Read::Bytes(bytes) => bytes,
        };
        let Ok(decoded) = crate::loaders::json::loads_bytes(&bytes, 4) else {
            continue;
        };
        let Some(Value::Object(map)) = decoded.value.get("auto_map") else {
            continue;
        };
        for (key, value) in map {
            let mut refs = Vec::new();
            references(value, &mut refs);
            for (repo, module) in refs {
                // Another repository's code is fetched from the hub, not from this folder.
                if repo.is_none() {
                    queue.push((module, format!("`{config}` auto_map `{}`", clip(key, 60))));
                }
            }
        }
    }
    let reached = &mut out.files;
    let mut seen = BTreeSet::new();
    while let Some((module, via)) = queue.pop() {
        if !seen.insert(module.clone()) || seen.len() > MAX_MODULES {
            continue;
        }
        for file in module_files(dir, &module) {
            cx.consult(&file);
            let bytes = match read_small(&file) {
                Read::Absent => continue,
                Read::TooLarge => {
                    // Reached (and judged as too large when it is analysed itself); the
                    // modules its relative imports reach are not known.
                    reached.entry(file.clone()).or_insert_with(|| via.clone());
                    let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
                    out.unread.push(name.unwrap_or_default());
                    continue;
                }
                Read::Bytes(bytes) => bytes,
            };
            reached.entry(file.clone()).or_insert_with(|| via.clone());
            let source = String::from_utf8_lossy(&bytes);
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
            for import in relative_imports(&source) {
                let how = format!(
                    "{via} through `{}`",
                    clip(name.as_deref().unwrap_or("?"), 60)
                );
                queue.push((import, how));
            }
        }
    }
    out
}

impl Analyzer for RemoteCodeAnalyzer {
    fn id(&self) -> &'static str {
        "remote-code"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        super::nemo::looks_like_text(head)
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        if cx.depth() != 0 {
            return None;
        }
        let path = cx.file_path()?.to_path_buf();
        if path.extension().and_then(|e| e.to_str()) != Some("py") {
            return None;
        }
        let dir = path.parent()?.to_path_buf();
        let reached = remote_code_files(&dir, cx);
        let Some(via) = reached.files.get(&path).cloned() else {
            if let Some(unread) = reached.unread.first() {
                // Whether transformers imports this file depends on a file too large to follow.
                cx.not_analysed(format!(
                    "`{}` is larger than {MAX_READ} bytes: whether trust_remote_code imports \
                     this file is not known",
                    clip(unread, 100)
                ));
            }
            return None;
        };
        let shown = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let msg = format!(
            "`{}` is repository code that transformers imports on load with \
             trust_remote_code=True ({via})",
            clip(&shown, 200)
        );
        report_with(cx, RuleId::HfRemoteCode, Severity::Info, msg);
        if input.source.len() > MAX_READ {
            let msg = format!(
                "`{}` is remote code larger than {MAX_READ} bytes: not analysed",
                clip(&shown, 200)
            );
            report_with(cx, RuleId::HfRemoteCode, Severity::High, msg);
            cx.not_analysed("remote code over the size limit");
            return Some(Format::PythonCode);
        }
        let bytes = input
            .source
            .read_vec(0, usize::try_from(MAX_READ).unwrap_or(usize::MAX))
            .ok()?;
        judge_code(&bytes, false, &shown, RuleId::HfRemoteCode, cx);
        // The call sites of ordinary code (unsafe loads, downloads) are judged too.
        super::PythonCodeAnalyzer
            .analyze(input, cx)
            .or(Some(Format::PythonCode))
    }
}

impl Analyzer for AutoMapConfigAnalyzer {
    fn id(&self) -> &'static str {
        "transformers-config"
    }

    fn version(&self) -> u32 {
        1
    }

    /// A JSON object (after any BOM or whitespace); the content decides in `analyze`.
    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
        head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        if input.source.len() > MAX_READ {
            // A config transformers reads (from a folder, never from inside an archive), too
            // large to follow: its `auto_map` is not known.
            if cx.depth() != 0 {
                return None;
            }
            let base = base_name(input, cx);
            let base = base.as_str();
            if !CONFIGS.contains(&base) {
                return None;
            }
            let msg = format!(
                "`{}` is larger than {MAX_READ} bytes: the code its `auto_map` would make \
                 transformers import is not known",
                clip(base, 100)
            );
            cx.report(RuleId::ResourceLimit, msg, None);
            cx.not_analysed("transformers config over the size limit");
            return Some(Format::TransformersConfig);
        }
        let bytes = input
            .source
            .read_vec(0, usize::try_from(MAX_READ).unwrap_or(usize::MAX))
            .ok()?;
        // The configs of a model folder: secrets and network addresses in their values.
        let secrets_found = metadata_strings(input, &bytes, cx);
        // Parsed only when the key can be there: spelled out, or behind a `\u` escape.
        if memchr::memmem::find(&bytes, b"auto_map").is_none()
            && memchr::memmem::find(&bytes, b"\\u").is_none()
        {
            return secrets_found.then_some(Format::TransformersConfig);
        }
        let decoded = crate::loaders::json::loads_bytes(&bytes, 4).ok()?;
        let Some(Value::Object(map)) = decoded.value.get("auto_map") else {
            return secrets_found.then_some(Format::TransformersConfig);
        };
        let mut local = BTreeSet::new();
        let mut any = false;
        for (key, value) in map {
            let mut refs = Vec::new();
            references(value, &mut refs);
            for (repo, module) in refs {
                any = true;
                match repo {
                    Some(repo) => {
                        let msg = format!(
                            "auto_map `{}` takes its code from another repository, `{}` \
                             (`{}.py`): loading with trust_remote_code=True downloads and runs \
                             code that is not in this model and was not scanned (its latest \
                             revision unless one is pinned)",
                            clip(key, 60),
                            clip(&repo, 120),
                            clip(&module, 120)
                        );
                        report_with(cx, RuleId::HfRemoteCode, Severity::High, msg);
                    }
                    None => {
                        local.insert(module);
                    }
                }
            }
        }
        if !any {
            return secrets_found.then_some(Format::TransformersConfig);
        }
        if !local.is_empty() {
            let modules: Vec<String> = local
                .iter()
                .take(16)
                .map(|m| format!("`{}.py`", clip(m, 80)))
                .collect();
            let msg = format!(
                "auto_map names repository code ({}): loading with trust_remote_code=True \
                 imports it and the files its relative imports reach; each is judged as it is \
                 scanned",
                modules.join(", ")
            );
            report_with(cx, RuleId::HfRemoteCode, Severity::Info, msg);
        }
        // A tokenizer config also carries chat templates.
        super::ChatTemplateAnalyzer
            .analyze(input, cx)
            .or(Some(Format::TransformersConfig))
    }
}

/// Model-folder configs checked for secrets and network addresses (`config.json`,
/// `generation_config.json` and the configs above).
const METADATA_CONFIGS: &[&str] = &["generation_config.json", "adapter_config.json"];

/// The last component of the input's name: the member name inside an archive, else the file's
/// name (empty when neither is known).
pub(super) fn base_name(input: &Input<'_>, cx: &Context<'_>) -> String {
    let name = input.name.map(str::to_owned).or_else(|| {
        cx.file_path()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
    });
    let name = name.unwrap_or_default();
    name.rsplit('/').next().unwrap_or(&name).to_owned()
}

/// Checks a model-folder config's strings with [`crate::secrets::check_json`]; whether that
/// found anything.
fn metadata_strings(input: &Input<'_>, bytes: &[u8], cx: &mut Context<'_>) -> bool {
    // Inside an archive a `config.json` is its format's own (a `.keras` zip's is judged there).
    if cx.depth() != 0 {
        return false;
    }
    let base = base_name(input, cx);
    let base = base.as_str();
    if !CONFIGS.contains(&base) && !METADATA_CONFIGS.contains(&base) {
        return false;
    }
    if !crate::secrets::worth_checking(&String::from_utf8_lossy(bytes)) {
        return false;
    }
    let Ok(decoded) = crate::loaders::json::loads_bytes(bytes, 64) else {
        return false;
    };
    let before = cx.findings().len();
    crate::secrets::check_json(cx, base, &decoded.value);
    cx.findings().len() > before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_imports_as_transformers_finds_them() {
        let source = "import os\nfrom .utils import helper\n  import .sub\nfrom . import x\n\
                      from ..pkg import y\nimportlib.import_module('z')\nfrom .a.b import c\n\
                      # from .commented import d\nfrom.nospace import e\n";
        assert_eq!(relative_imports(source), ["utils", "sub", ".pkg", "a.b"]);
    }

    #[test]
    fn auto_map_references() {
        let mut out = Vec::new();
        let map: Value = serde_json::json!([
            "tokenization_x.XTokenizer",
            null,
            "org/repo--modeling_y.Y",
            "no_dot",
            "a.b.c"
        ]);
        references(&map, &mut out);
        assert_eq!(
            out,
            [
                (None, "tokenization_x".to_string()),
                (Some("org/repo".to_string()), "modeling_y".to_string()),
            ]
        );
    }

    #[test]
    fn configs_too_large_to_follow_leave_the_code_beside_them_incomplete() {
        let dir = std::env::temp_dir().join(format!("aigis-remote-large-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        // A config transformers reads, past the size followed: its auto_map is not known.
        let mut config = String::from("{\"auto_map\": {\"AutoConfig\": \"conf_x.X\"}, \"pad\": \"");
        config.push_str(&"a".repeat(usize::try_from(MAX_READ).unwrap_or(0)));
        config.push_str("\"}");
        let config_path = dir.join("config.json");
        std::fs::write(&config_path, &config).unwrap_or_else(|e| panic!("{e}"));
        let module = dir.join("conf_x.py");
        std::fs::write(&module, "import os\nos.system('x')\n").unwrap_or_else(|e| panic!("{e}"));
        let scanner = crate::Scanner::new(crate::ScanOptions::default());
        let source = crate::MemorySource::new(config.into_bytes());
        let result = scanner.scan_source_at("config.json".into(), &source, Some(&config_path));
        assert_eq!(result.format, Format::TransformersConfig);
        assert!(result.incomplete.is_some(), "{result:?}");
        let code = std::fs::read(&module).unwrap_or_default();
        let source = crate::MemorySource::new(code);
        let result = scanner.scan_source_at("conf_x.py".into(), &source, Some(&module));
        assert!(result.incomplete.is_some(), "{:?}", result.findings);
        // The same config under another name is not a transformers config.
        let other = dir.join("notes.json");
        let _ = std::fs::rename(&config_path, &other);
        let bytes = std::fs::read(&other).unwrap_or_default();
        let result = scanner.scan_source_at(
            "notes.json".into(),
            &crate::MemorySource::new(bytes),
            Some(&other),
        );
        assert_ne!(result.format, Format::TransformersConfig);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
