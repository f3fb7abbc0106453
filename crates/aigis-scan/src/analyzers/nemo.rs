//! NeMo model configs: the `model_config.yaml` of a `.nemo` archive (a tar, scanned member by
//! member by the tar analyzer) or a Hydra/OmegaConf config on its own. Restoring the model calls
//! `hydra.utils.instantiate` on every mapping with a `_target_` key, and imports the class named
//! by the top-level `target`: each is an import-and-call of whatever the config says.
//!
//! Recognised by content: a YAML mapping with at least one `_target_` key (or NeMo's `target` +
//! `nemo_version`). Targets inside NeMo, PyTorch, Lightning, OmegaConf/Hydra and the libraries
//! NeMo builds on are clean; a command/code/file primitive is critical; anything else needs trust.

use crate::analyzer::{Analyzer, Context, Input};
use crate::analyzers::callables::{
    Trust, alias_note, clip, config_gadget, judge_located, report_with, split_dotted,
};
use crate::analyzers::yaml::{self, Yaml};
use crate::{Format, RuleId, Severity};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// Largest config read.
const MAX_YAML_BYTES: usize = 16 << 20;

/// Packages whose classes NeMo configs instantiate.
const TRUSTED: &[&str] = &[
    "nemo",
    "nemo_text_processing",
    "torch",
    "torchaudio",
    "torchvision",
    "pytorch_lightning",
    "lightning",
    "omegaconf",
    "hydra",
    "megatron",
    "apex",
    "transformer_engine",
    "transformers",
    "sentencepiece",
    "lhotse",
    "numpy",
];

/// Analyzer for Hydra/NeMo model configs.
pub struct HydraConfigAnalyzer;

/// Folders above a config searched for the modules its targets name, besides its own: a Hydra
/// project keeps its configs in `conf/` (or deeper) below the folder its script runs from, and
/// that folder is `sys.path[0]` when the model is restored.
const LOCAL_ANCESTORS: usize = 3;
/// Targets of one config resolved against local folders.
const MAX_LOCAL_LOOKUPS: usize = 64;
/// Largest local module file read.
const MAX_LOCAL_CODE: u64 = 8 << 20;

/// The code a config on disk can import from beside it: a `_target_` outside the known packages
/// names the user's (or the model author's) own module, which the import system finds in the
/// folder the loading script runs from. Which folder that is, the config does not say, so each
/// candidate is tried on its own and every module found is judged by its code
/// (`mlflow::judge_code`: calls reaching a shell, code, files or the network).
#[derive(Default)]
struct LocalModules {
    /// Candidate `sys.path` folders, nearest first (found on first use).
    search: Option<Vec<PathBuf>>,
    /// Files already judged (each is reported once per config).
    judged: Vec<PathBuf>,
    /// Targets already resolved, with the modules found (a target named many times is looked
    /// up once).
    resolved: Vec<(String, Vec<String>)>,
    /// Set once the lookup cap is reached (reported once).
    capped: bool,
}

impl LocalModules {
    /// The folders for the config being analysed: none for an archive member (a `.nemo` is
    /// extracted to a temporary folder that is not on `sys.path`) or a file not on disk. Asked
    /// only when a target needs them, so a config whose targets are all known does not depend
    /// on where it is.
    fn search(&mut self, cx: &mut Context<'_>) -> Vec<PathBuf> {
        self.search
            .get_or_insert_with(|| {
                if cx.depth() > 0 {
                    return Vec::new();
                }
                let Some(dir) = cx.file_path().and_then(Path::parent) else {
                    return Vec::new();
                };
                dir.ancestors()
                    .take(LOCAL_ANCESTORS + 1)
                    .filter(|d| !d.as_os_str().is_empty())
                    .map(Path::to_path_buf)
                    .collect()
            })
            .clone()
    }

    /// Resolves `target` (a dotted module path, then attributes) in each candidate folder as
    /// Hydra's `_locate` imports it — the longest prefix that is a module — and judges every
    /// file that import runs. The modules found, for the target's own finding.
    fn judge(&mut self, target: &str, cx: &mut Context<'_>) -> Vec<String> {
        let target = target.trim();
        if let Some((_, found)) = self.resolved.iter().find(|(t, _)| t == target) {
            return found.clone();
        }
        if self.resolved.len() >= MAX_LOCAL_LOOKUPS {
            // A limit bounds cost; it is never a hiding place: the targets past it are not
            // looked up, so the config is not fully analysed.
            if !self.capped {
                self.capped = true;
                cx.report(
                    RuleId::ResourceLimit,
                    format!(
                        "config names more than {MAX_LOCAL_LOOKUPS} distinct targets outside the known packages; the modules of the rest were not looked up beside it"
                    ),
                    None,
                );
                cx.not_analysed(format!(
                    "more than {MAX_LOCAL_LOOKUPS} local targets to resolve"
                ));
            }
            return Vec::new();
        }
        let found = self.lookup(target, cx);
        self.resolved.push((target.to_string(), found.clone()));
        found
    }

    /// One target resolved in each candidate folder (see [`LocalModules::judge`]).
    fn lookup(&mut self, target: &str, cx: &mut Context<'_>) -> Vec<String> {
        let parts: Vec<&str> = target.split('.').collect();
        let mut found = Vec::new();
        for dir in self.search(cx) {
            cx.consult(&dir);
            let search = [dir.clone()];
            if crate::loaders::pymodule::resolve(parts[0], &search).is_none() {
                continue;
            }
            let resolved = (1..=parts.len())
                .rev()
                .find_map(|k| crate::loaders::pymodule::resolve(&parts[..k].join("."), &search));
            let Some(module) = resolved else { continue };
            let shown = |file: &Path| {
                let shown = file.strip_prefix(&dir).unwrap_or(file);
                shown.to_string_lossy().into_owned()
            };
            found.push(shown(&module.path));
            for file in &module.runs {
                let shown = shown(file);
                if self.judged.contains(file) {
                    continue;
                }
                self.judged.push(file.clone());
                if let Some(parent) = file.parent() {
                    cx.consult(parent);
                }
                cx.consult(file);
                judge_local_file(file, &shown, cx);
            }
        }
        found
    }
}

/// Judges one file an import of a config's target runs.
fn judge_local_file(file: &Path, shown: &str, cx: &mut Context<'_>) {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    if name.ends_with(".so") || name.ends_with(".pyd") {
        let msg = format!(
            "`{}`, imported to instantiate a config target, is a native extension module: importing it runs native code",
            clip(shown, 200)
        );
        return report_with(cx, RuleId::HydraTarget, Severity::Critical, msg);
    }
    use std::io::Read;
    let mut bytes = Vec::new();
    let read =
        std::fs::File::open(file).and_then(|f| f.take(MAX_LOCAL_CODE + 1).read_to_end(&mut bytes));
    match read {
        Ok(_) if bytes.len() as u64 > MAX_LOCAL_CODE => {
            let msg = format!(
                "`{}`, imported to instantiate a config target, is larger than {MAX_LOCAL_CODE} bytes: not judged",
                clip(shown, 200)
            );
            report_with(cx, RuleId::HydraTarget, Severity::High, msg);
            cx.not_analysed(format!(
                "local module `{}` over the size limit",
                clip(shown, 100)
            ));
        }
        Ok(_) => crate::analyzers::mlflow::judge_code(
            &bytes,
            name.ends_with(".pyc"),
            shown,
            RuleId::HydraTarget,
            cx,
        ),
        Err(err) => {
            let msg = format!(
                "`{}`, imported to instantiate a config target, could not be read ({err}): not judged",
                clip(shown, 200)
            );
            report_with(cx, RuleId::HydraTarget, Severity::High, msg);
            cx.not_analysed(format!("local module `{}` unreadable", clip(shown, 100)));
        }
    }
}

/// Whether the head looks like text (YAML/JSON): no NUL, valid UTF-8 apart from a cut tail.
pub(crate) fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 >= head.len(),
    }
}

/// Reads a small text source whole (`None` when too large or not UTF-8).
pub(crate) fn read_text(input: &Input<'_>, max: usize) -> Option<String> {
    if input.source.len() > max as u64 {
        return None;
    }
    let bytes = input.source.read_vec(0, max).ok()?;
    String::from_utf8(bytes).ok()
}

fn has_target_key(node: &Yaml, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    match node {
        Yaml::Map(entries) => entries
            .iter()
            .any(|(k, v)| k.as_str() == Some("_target_") || has_target_key(v, depth + 1)),
        Yaml::Seq(items) => items.iter().any(|v| has_target_key(v, depth + 1)),
        _ => false,
    }
}

/// Hydra helpers that import the dotted name given as their argument (`path`, or the first of
/// `_args_`): the name they resolve is what runs.
const RESOLVERS: &[&str] = &[
    "get_method",
    "get_class",
    "get_object",
    "get_static_method",
    "_locate",
];

/// The dotted name a resolver target is given, from the mapping that holds the `_target_`.
fn resolver_argument(entries: &[(Yaml, Yaml)]) -> Option<&str> {
    let value = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    };
    match value("path") {
        Some(path) => path.as_str(),
        None => match value("_args_") {
            Some(Yaml::Seq(args)) => args.first().and_then(Yaml::as_str),
            _ => None,
        },
    }
}

fn check_target(
    target: &str,
    path: &str,
    entries: &[(Yaml, Yaml)],
    local: &mut LocalModules,
    cx: &mut Context<'_>,
) {
    cx.record_instantiation(|| {
        let keys: Vec<String> = entries
            .iter()
            .filter_map(|(k, _)| k.as_str())
            .filter(|k| !matches!(*k, "_target_" | "target"))
            .take(8)
            .map(|k| format!("{}=…", clip(k, 40)))
            .collect();
        let object = path
            .strip_suffix("._target_")
            .or_else(|| path.strip_suffix("._target_:"))
            .unwrap_or(path);
        format!("{object} = {}({})", clip(target, 200), keys.join(", "))
    });
    let (module, name) = split_dotted(target.trim());
    if module.split('.').next() == Some("hydra") && RESOLVERS.contains(&name) {
        return check_resolver(target, path, resolver_argument(entries), local, cx);
    }
    if let Some(effect) = config_gadget(module, name) {
        let msg = format!(
            "`{path}` instantiates `{}`, which {effect}, when the model is restored",
            clip(target, 200)
        );
        report_with(cx, RuleId::HydraTarget, Severity::Critical, msg);
        return;
    }
    match judge_located(target.trim(), TRUSTED) {
        Trust::Trusted if is_function_name(name) => {
            // Instantiating a function calls it with the config's arguments: its namespace
            // alone does not clear it.
            let msg = format!(
                "`{path}` instantiates `{}`, a function that restoring the model calls with the \
                 config's arguments (its package is trusted, the call is not reviewed)",
                clip(target, 200)
            );
            report_with(cx, RuleId::HydraTarget, Severity::Medium, msg);
        }
        Trust::Trusted => {}
        Trust::Effect(label) => {
            let msg = format!(
                "`{path}` instantiates `{}`, which {label} (its code, generated effect table), \
                 when the model is restored",
                clip(target, 200)
            );
            report_with(cx, RuleId::HydraTarget, Severity::High, msg);
        }
        Trust::Dangerous(label) => {
            let msg = format!(
                "`{path}` instantiates `{}`{} ({label}) when the model is restored",
                clip(target, 200),
                alias_note(module, name)
            );
            report_with(cx, RuleId::HydraTarget, Severity::Critical, msg);
        }
        Trust::Unknown
            if target.trim().contains('.')
                && aigis_pickle::importable_name(target.trim())
                && aigis_pickle::is_stdlib_module(module)
                && !aigis_pickle::allowed_call(module, name) =>
        {
            // Not the user's own code: a standard-library helper (reflection, a forwarder
            // that calls what it is given), judged as the pickle machine judges the call.
            let msg = format!(
                "`{path}` instantiates `{}`, a standard-library callable no model needs \
                 (reflection or a forwarder): restoring the model calls it with the config's \
                 arguments, which can reach any object",
                clip(target, 200)
            );
            report_with(cx, RuleId::HydraTarget, Severity::High, msg);
        }
        Trust::Unknown => {
            let files = local.judge(target, cx);
            let msg = match files.first() {
                Some(file) => format!(
                    "`{path}` instantiates `{}` from `{}`, code shipped beside the config that \
                     runs when the model is restored and must be trusted (its calls are judged)",
                    clip(target, 200),
                    clip(file, 200)
                ),
                None => format!(
                    "`{path}` instantiates `{}`, code from outside NeMo/PyTorch that must be trusted",
                    clip(target, 200)
                ),
            };
            cx.report(RuleId::HydraTarget, msg, None);
        }
    }
}

/// Whether the last component of a dotted name looks like a function (not a class).
fn is_function_name(name: &str) -> bool {
    name.rsplit('.')
        .next()
        .and_then(|last| last.trim_start_matches('_').chars().next())
        .is_some_and(char::is_lowercase)
}

/// Interpolations resolved per `_target_` (and per resolver argument).
const MAX_INTERPOLATIONS: usize = 8;

/// What an OmegaConf interpolation (`${a.b}`, `${oc.env:VAR,default}`) can resolve to: the value
/// at a config path, or a resolver's literal arguments. `None` for a value only known on the
/// loading host (an environment variable without default, an unknown resolver's result).
fn interpolation_values<'a>(text: &'a str, root: &'a Yaml) -> Vec<Option<&'a str>> {
    let mut values = Vec::new();
    for body in text.split("${").skip(1).take(MAX_INTERPOLATIONS) {
        let body = body.split('}').next().unwrap_or(body).trim();
        match body.split_once(':') {
            Some((_resolver, args)) => {
                let literals: Vec<&str> = args
                    .split(',')
                    .skip(1)
                    .map(|a| a.trim().trim_matches(['"', '\'']))
                    .filter(|a| !a.is_empty())
                    .collect();
                if literals.is_empty() {
                    values.push(None);
                }
                values.extend(literals.into_iter().map(Some));
            }
            None => {
                let mut node = Some(root);
                for key in body.trim_start_matches('.').split('.') {
                    node = node.and_then(|n| n.get(key));
                }
                values.push(node.and_then(Yaml::as_str));
            }
        }
    }
    values
}

/// A `_target_` (or any value of a target mapping) written as an interpolation: judged by every
/// value the interpolation can take; one only the loading host knows is reported.
fn check_interpolated(
    target: &str,
    root: &Yaml,
    path: &str,
    entries: &[(Yaml, Yaml)],
    local: &mut LocalModules,
    cx: &mut Context<'_>,
) {
    let values = interpolation_values(target, root);
    for value in values.iter().flatten() {
        if !value.contains("${") {
            check_target(value, path, entries, local, cx);
        }
    }
    if values.iter().any(Option::is_none) {
        let msg = format!(
            "`{path}` is the interpolation `{}`, resolved from the loading host's environment: the class it instantiates is not in the file",
            clip(target, 200)
        );
        report_with(cx, RuleId::HydraTarget, Severity::High, msg);
    }
}

/// A `_target_` that is a Hydra resolver: judged by the name it resolves.
fn check_resolver(
    target: &str,
    path: &str,
    argument: Option<&str>,
    local: &mut LocalModules,
    cx: &mut Context<'_>,
) {
    let Some(resolved) = argument.map(str::trim).filter(|a| !a.is_empty()) else {
        let msg = format!(
            "`{path}` instantiates `{}`, which imports a name chosen at run time, when the model is restored",
            clip(target, 200)
        );
        return report_with(cx, RuleId::HydraTarget, Severity::High, msg);
    };
    let (module, name) = split_dotted(resolved);
    let verdict = match config_gadget(module, name) {
        Some(effect) => Some((Severity::Critical, effect.to_string())),
        None => match judge_located(resolved, TRUSTED) {
            Trust::Trusted => None,
            Trust::Effect(label) => Some((Severity::High, label.to_string())),
            Trust::Dangerous(label) => Some((Severity::Critical, label.to_string())),
            Trust::Unknown => {
                let files = local.judge(resolved, cx);
                let what = match files.first() {
                    Some(file) => format!("code in `{}` that must be trusted", clip(file, 200)),
                    None => "code that must be trusted".to_string(),
                };
                Some((Severity::Medium, what))
            }
        },
    };
    if let Some((severity, what)) = verdict {
        let msg = format!(
            "`{path}` instantiates `{}` with `{}` ({what}) when the model is restored",
            clip(target, 100),
            clip(resolved, 200)
        );
        report_with(cx, RuleId::HydraTarget, severity, msg);
    }
}

fn walk(
    node: &Yaml,
    root: &Yaml,
    path: &str,
    local: &mut LocalModules,
    cx: &mut Context<'_>,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    match node {
        Yaml::Map(entries) => {
            for (key, value) in entries {
                let key = key.as_str().unwrap_or("?");
                let here = if path.is_empty() {
                    clip(key, 60)
                } else {
                    format!("{path}.{}", clip(key, 60))
                };
                let is_target = key == "_target_" || (depth == 0 && key == "target");
                match value {
                    Yaml::Scalar(target) if is_target && target.contains("${") => {
                        check_interpolated(target, root, &here, entries, local, cx);
                    }
                    Yaml::Scalar(target) if is_target => {
                        check_target(target, &here, entries, local, cx);
                    }
                    _ => walk(value, root, &here, local, cx, depth + 1),
                }
            }
        }
        Yaml::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, root, &format!("{path}[{i}]"), local, cx, depth + 1);
            }
        }
        _ => {}
    }
}

/// YAML's escape for `c` inside a double-quoted scalar (`None` for an unknown escape).
fn yaml_escape(c: char) -> Option<char> {
    Some(match c {
        '0' => '\0',
        'a' => '\u{7}',
        'b' => '\u{8}',
        't' | '\t' => '\t',
        'n' => '\n',
        'v' => '\u{b}',
        'f' => '\u{c}',
        'r' => '\r',
        'e' => '\u{1b}',
        ' ' => ' ',
        '"' => '"',
        '/' => '/',
        '\\' => '\\',
        'N' => '\u{85}',
        '_' => '\u{a0}',
        'L' => '\u{2028}',
        'P' => '\u{2029}',
        _ => return None,
    })
}

/// `line` with its quoted scalars decoded as the YAML reader decodes them: escapes in
/// double-quoted ones (`"_\x74arget_"` is `"_target_"`), doubled quotes in single-quoted ones.
/// The quotes stay, so the key/value layout of the line is unchanged.
fn decode_quoted(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    let mut prev = ' ';
    // Runs without quotes or escapes are copied whole: a long line costs a scan.
    while let Some(at) = memchr::memchr2(b'"', b'\'', rest.as_bytes()) {
        let (plain, tail) = rest.split_at(at);
        out.push_str(plain);
        if let Some(c) = plain.chars().next_back() {
            prev = c;
        }
        let token_start = prev.is_whitespace() || matches!(prev, '{' | '[' | ',' | ':' | '-');
        let double = tail.starts_with('"');
        rest = &tail[1..];
        if double {
            out.push('"');
            rest = decode_double_quoted(rest, &mut out);
            out.push('"');
            prev = '"';
        } else if token_start {
            out.push('\'');
            rest = decode_single_quoted(rest, &mut out);
            out.push('\'');
            prev = '\'';
        } else {
            out.push('\'');
            prev = '\'';
        }
    }
    out.push_str(rest);
    out
}

/// Decodes a double-quoted scalar's body into `out` up to its closing quote; returns what follows
/// the quote (empty when the line ends first).
fn decode_double_quoted<'a>(mut rest: &'a str, out: &mut String) -> &'a str {
    while let Some(at) = memchr::memchr2(b'"', b'\\', rest.as_bytes()) {
        out.push_str(&rest[..at]);
        if rest[at..].starts_with('"') {
            return &rest[at + 1..];
        }
        let mut chars = rest[at + 1..].chars();
        let Some(e) = chars.next() else {
            return "";
        };
        let count = match e {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => {
                match yaml_escape(e) {
                    Some(decoded) => out.push(decoded),
                    None => {
                        out.push('\\');
                        out.push(e);
                    }
                }
                rest = chars.as_str();
                continue;
            }
        };
        let digits: String = chars.by_ref().take(count).collect();
        match u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
        {
            Some(decoded) => out.push(decoded),
            None => {
                out.push('\\');
                out.push(e);
                out.push_str(&digits);
            }
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
    ""
}

/// Decodes a single-quoted scalar's body into `out` up to its closing quote (`''` is a quote);
/// returns what follows the quote (empty when the line ends first).
fn decode_single_quoted<'a>(mut rest: &'a str, out: &mut String) -> &'a str {
    while let Some(at) = memchr::memchr(b'\'', rest.as_bytes()) {
        out.push_str(&rest[..at]);
        if rest[at + 1..].starts_with('\'') {
            out.push('\'');
            rest = &rest[at + 2..];
        } else {
            return &rest[at + 1..];
        }
    }
    out.push_str(rest);
    ""
}

/// Every `_target_` value written in `text`, with its 1-based line: block (`_target_: x`), flow
/// (`{_target_: x}`) and JSON (`"_target_": "x"`) spellings, quoted scalars decoded as the YAML
/// reader decodes them, and an alias used as a key when its anchor names `_target_`
/// (`&k "_\x74arget_"` … `*k : os.system`).
pub(crate) fn textual_targets(text: &str) -> Vec<(usize, String)> {
    // A line with no escape (`\`) and no doubled single quote decodes to itself (up to a
    // closing quote added at its end, which ends no value differently).
    let decoded: Vec<Cow<'_, str>> = text
        .lines()
        .map(|line| {
            if memchr::memchr(b'\\', line.as_bytes()).is_none() && !line.contains("''") {
                Cow::Borrowed(line)
            } else {
                Cow::Owned(decode_quoted(line))
            }
        })
        .collect();
    // Anchors whose value is `_target_`: `&name _target_`, quoted or not.
    let mut anchors = Vec::new();
    for line in &decoded {
        let mut rest: &str = line;
        while let Some(at) = rest.find('&') {
            rest = &rest[at + 1..];
            let name_end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, ',' | '}' | ']'))
                .unwrap_or(rest.len());
            let value = rest[name_end..]
                .trim_start()
                .trim_start_matches(['"', '\'']);
            if value.starts_with("_target_") && name_end > 0 && anchors.len() < 64 {
                anchors.push(format!("*{}", &rest[..name_end]));
            }
        }
    }
    let mut out = Vec::new();
    for (i, line) in decoded.iter().enumerate() {
        let mut line = line.clone();
        for alias in &anchors {
            if line.contains(alias.as_str()) {
                line = Cow::Owned(line.replace(alias.as_str(), "_target_"));
            }
        }
        let mut rest: &str = &line;
        while let Some(at) = rest.find("_target_") {
            rest = &rest[at + "_target_".len()..];
            let after = rest.trim_start_matches(['"', '\'']).trim_start();
            let Some(value) = after.strip_prefix(':') else {
                continue;
            };
            let value = value.trim_start().trim_start_matches(['"', '\'']);
            let end = value
                .find(|c: char| {
                    c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '}' | ']' | '#')
                })
                .unwrap_or(value.len());
            if end > 0 && out.len() < 1024 {
                out.push((i + 1, value[..end].to_owned()));
            }
        }
    }
    out
}

/// A config with Hydra keys that our YAML reader refuses. Refused for its syntax: invalid (a
/// YAML loader may still take it). Stopped only by aigis's own caps (nesting, node count), which
/// a loader does not share: incomplete, with a resource-limit finding. Either way every
/// `_target_` written in the text is judged, so a config cannot hide a target behind a
/// construct only Python's YAML loader accepts or behind our caps.
fn unparsed(text: &str, err: &yaml::YamlError, cx: &mut Context<'_>) -> Option<Format> {
    let targets = textual_targets(text);
    if targets.is_empty() {
        return None;
    }
    let why = clip(&err.to_string(), 120);
    if err.is_limit() {
        cx.report(
            RuleId::ResourceLimit,
            format!(
                "config past aigis's YAML limits ({why}); its `_target_` values were read from the text"
            ),
            None,
        );
        cx.not_analysed(format!("config structure past the YAML limits ({why})"));
    } else {
        cx.malformed(
            RuleId::FormatMalformed,
            format!(
                "config could not be parsed ({why}); its `_target_` values were read from the text"
            ),
            None,
        );
    }
    let mut local = LocalModules::default();
    for (line, target) in targets {
        let path = format!("line {line}: _target_");
        check_target(&target, &path, &[], &mut local, cx);
    }
    Some(Format::Nemo)
}

/// A text too large to parse as a config: its `_target_` values are read from the text, window
/// by window, so size is no hiding place; the result is incomplete (the structure was not read).
fn oversized(input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
    const WINDOW: u64 = MAX_YAML_BYTES as u64;
    const OVERLAP: u64 = 64 << 10;
    let len = input.source.len();
    let mut targets = Vec::new();
    let mut at = 0u64;
    while at < len && !cx.out_of_time() {
        let bytes = input
            .source
            .read_vec(at, usize::try_from(WINDOW + OVERLAP).unwrap_or(usize::MAX))
            .ok()?;
        let text = String::from_utf8_lossy(&bytes);
        targets.extend(textual_targets(&text).into_iter().map(|(_, t)| t));
        at += WINDOW;
    }
    targets.sort();
    targets.dedup();
    if targets.is_empty() {
        return None;
    }
    let msg = format!(
        "config of {len} bytes is larger than {MAX_YAML_BYTES} bytes; its `_target_` values were read from the text"
    );
    cx.malformed(RuleId::FormatMalformed, msg, None);
    cx.not_analysed("config over the size parsed whole");
    let mut local = LocalModules::default();
    for target in targets {
        check_target(&target, "_target_", &[], &mut local, cx);
    }
    Some(Format::Nemo)
}

impl Analyzer for HydraConfigAnalyzer {
    fn id(&self) -> &'static str {
        "nemo"
    }

    fn version(&self) -> u32 {
        4
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        looks_like_text(head)
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        if input.source.len() > MAX_YAML_BYTES as u64 {
            return oversized(input, cx);
        }
        let text = read_text(input, MAX_YAML_BYTES)?;
        // Parsed whole, never pre-filtered on the raw text: a double-quoted key spells
        // `_target_` with escapes (`"_\x74arget_"`) that only the YAML reader decodes.
        let docs = match yaml::parse(&text) {
            Ok(docs) => docs,
            Err(err) => return unparsed(&text, &err, cx),
        };
        let root = docs.docs.first()?;
        let nemo_top = root.get("target").is_some() && root.get("nemo_version").is_some();
        if !nemo_top && !has_target_key(root, 0) {
            return None;
        }
        for tag in &docs.python_tags {
            let msg = format!(
                "config uses the YAML tag `{}`, which builds Python objects under an unsafe loader",
                clip(tag, 100)
            );
            report_with(cx, RuleId::HydraTarget, Severity::High, msg);
        }
        let mut local = LocalModules::default();
        walk(root, root, "", &mut local, cx, 0);
        let model = cx.model();
        if let Some(target) = root.get("target").and_then(Yaml::as_str) {
            model.set_framework("nemo");
            let class = target.rsplit('.').next().unwrap_or(target);
            model.architecture.get_or_insert_with(|| clip(class, 100));
        }
        if let Some(version) = root.get("nemo_version").and_then(Yaml::as_str) {
            model.set_framework("nemo");
            model
                .metadata
                .insert("nemo_version".into(), clip(version, 40));
        }
        Some(Format::Nemo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The character-by-character decoding the fast one replaced: the oracle it is checked against.
    fn decode_quoted_by_char(line: &str) -> String {
        let mut out = String::with_capacity(line.len());
        let mut chars = line.chars().peekable();
        let mut prev = ' ';
        while let Some(c) = chars.next() {
            let token_start = prev.is_whitespace() || matches!(prev, '{' | '[' | ',' | ':' | '-');
            if c == '"' {
                out.push('"');
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            let Some(e) = chars.next() else { break };
                            let count = match e {
                                'x' => 2,
                                'u' => 4,
                                'U' => 8,
                                _ => {
                                    match yaml_escape(e) {
                                        Some(decoded) => out.push(decoded),
                                        None => {
                                            out.push('\\');
                                            out.push(e);
                                        }
                                    }
                                    continue;
                                }
                            };
                            let digits: String = (0..count).filter_map(|_| chars.next()).collect();
                            match u32::from_str_radix(&digits, 16)
                                .ok()
                                .and_then(char::from_u32)
                            {
                                Some(decoded) => out.push(decoded),
                                None => {
                                    out.push('\\');
                                    out.push(e);
                                    out.push_str(&digits);
                                }
                            }
                        }
                        q => out.push(q),
                    }
                }
                out.push('"');
                prev = '"';
            } else if c == '\'' && token_start {
                out.push('\'');
                while let Some(q) = chars.next() {
                    if q == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                            out.push('\'');
                            continue;
                        }
                        break;
                    }
                    out.push(q);
                }
                out.push('\'');
                prev = '\'';
            } else {
                out.push(c);
                prev = c;
            }
        }
        out
    }

    /// The scanning decoder reads every line as the character-by-character one did: quotes at
    /// and off token starts, escapes of every length, cut escapes, doubled and unterminated
    /// quotes, multi-byte characters.
    #[test]
    fn quoted_scalars_decode_as_the_character_reading() {
        let alphabet: Vec<char> = "\"'\\xuUn0a7f+ :,{[-é_target".chars().collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let mut line = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for _ in 0..(state % 24) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                line.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            assert_eq!(
                decode_quoted(&line),
                decode_quoted_by_char(&line),
                "{line:?}"
            );
        }
    }

    #[test]
    fn targets_are_read_from_text_in_every_spelling() {
        let text = "a:\n  _target_: os.system  # x\nb: {_target_: 'subprocess.Popen', c: 1}\n\
                    \"_target_\": \"builtins.eval\"\nno_target_here: 1\n";
        let found: Vec<String> = textual_targets(text).into_iter().map(|t| t.1).collect();
        assert_eq!(found, ["os.system", "subprocess.Popen", "builtins.eval"]);
    }

    #[test]
    fn a_config_past_the_yaml_limits_still_has_its_targets_judged() {
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let text = format!("model:\n  _target_: os.system\npad: {deep}\n");
        let scanner = crate::Scanner::new(crate::ScanOptions::default());
        let result = scanner.scan_source("c.yaml".into(), &crate::MemorySource::new(text.into()));
        assert_eq!(result.format, Format::Nemo);
        // Only aigis's nesting cap stopped the reading: incomplete, not invalid.
        assert_eq!(result.status, crate::Status::Ok);
        assert!(result.incomplete.is_some(), "{result:?}");
        assert_eq!(result.max_severity, Some(Severity::Critical));
        let text = serde_json::to_string(&result.findings).unwrap_or_default();
        assert!(text.contains("os.system"), "{text}");
        assert!(text.contains("RESOURCE-LIMIT"), "{text}");
        // Refused for its syntax: invalid.
        let text = "model:\n  _target_: os.system\npad: [1, 2\n";
        let result = scanner.scan_source("c.yaml".into(), &crate::MemorySource::new(text.into()));
        assert_eq!(result.status, crate::Status::Invalid);
        assert_eq!(result.max_severity, Some(Severity::Critical));
    }

    #[test]
    fn text_heads() {
        assert!(looks_like_text(b"a: 1\n"));
        assert!(!looks_like_text(b"a\0b"));
        assert!(!looks_like_text(b"\xff\xfe\xfd\xfc\xfb\xfa"));
        // A UTF-8 sequence cut by the head boundary is still text.
        assert!(looks_like_text(
            "abc\u{e9}"
                .as_bytes()
                .split_last()
                .map_or(&[][..], |(_, r)| r)
        ));
    }

    fn target_findings(text: &str) -> Vec<(Severity, String)> {
        let reg = crate::analyzers::registry();
        let options = crate::analyzer::AnalysisOptions::default();
        let mut cx = Context::new(&reg, &options);
        let docs = yaml::parse(text).expect("test YAML parses");
        let mut local = LocalModules::default();
        walk(&docs.docs[0], &docs.docs[0], "", &mut local, &mut cx, 0);
        cx.findings()
            .iter()
            .map(|f| (f.severity, f.message.clone()))
            .collect()
    }

    #[test]
    fn hydra_resolvers_are_judged_by_what_they_resolve() {
        let found = target_findings("m:\n  _target_: hydra.utils.get_method\n  path: os.system\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Severity::Critical);
        assert!(found[0].1.contains("os.system"));
        let found =
            target_findings("m:\n  _target_: hydra.utils.get_class\n  _args_: [torch.nn.Linear]\n");
        assert!(found.is_empty(), "{found:?}");
        let found = target_findings("m:\n  _target_: hydra.utils.get_class\n");
        assert_eq!(found[0].0, Severity::High);
        let found = target_findings(
            "m:\n  _target_: nemo.core.ModelPT.restore_from\n  restore_path: x.nemo\n",
        );
        assert_eq!(found[0].0, Severity::Critical);
    }

    /// Hydra's `_locate` imports the first component and looks every later one up as an
    /// attribute first: a module a trusted package imported is reachable through it.
    #[test]
    fn targets_are_located_attribute_by_attribute_as_hydra_does() {
        for text in [
            "m:\n  _target_: torch.serialization.os.system\n  _args_: [id]\n",
            "m:\n  _target_: transformers.utils.hub.subprocess.run\n",
            "m:\n  _target_: hydra.utils.get_method\n  path: torch.serialization.pickle.loads\n",
            "m:\n  _target_: hydra.utils.get_method\n  _args_: [numpy.lib.npyio.os.system]\n",
        ] {
            let found = target_findings(text);
            assert!(
                found.iter().any(|(s, _)| *s == Severity::Critical),
                "{text}: {found:?}"
            );
        }
        // Real submodules of a trusted package stay what they are.
        for text in [
            "m:\n  _target_: torch.nn.modules.linear.Linear\n",
            "m:\n  _target_: torch.optim.lr_scheduler.StepLR\n",
            "m:\n  _target_: hydra.utils.get_class\n  path: torch.nn.modules.conv.Conv2d\n",
        ] {
            let found = target_findings(text);
            assert!(found.is_empty(), "{text}: {found:?}");
        }
    }

    /// A standard-library helper is not the user's own code: reflection and forwarders are
    /// judged as the pickle machine judges the call (high), data constructors pass.
    #[test]
    fn standard_library_targets_are_judged_as_pickle_calls() {
        let chain = "m:\n  _target_: builtins.sorted\n  _args_: [[id]]\n  key:\n    \
                     _target_: builtins.getattr\n    _args_:\n      - _target_: operator.getitem\n        \
                     _args_: [{_target_: builtins.vars, _args_: [{_target_: torch.nn.Linear}]}, a]\n      \
                     - b\n";
        let found = target_findings(chain);
        for helper in [
            "builtins.sorted",
            "builtins.getattr",
            "operator.getitem",
            "builtins.vars",
        ] {
            assert!(
                found
                    .iter()
                    .any(|(s, m)| *s >= Severity::High && m.contains(&format!("`{helper}`"))),
                "{helper}: {found:?}"
            );
        }
        // `_locate` imports a bare name as a module: `getattr` alone is no builtin, and a
        // name no module can have imports nothing.
        for text in [
            "m:\n  _target_: collections.OrderedDict\n",
            "m:\n  _target_: __builtin__.set\n",
            "m:\n  _target_: getattr\n",
            "m:\n  _target_: '>-'\n",
        ] {
            let found = target_findings(text);
            assert!(
                found.iter().all(|(s, _)| *s < Severity::High),
                "{text}: {found:?}"
            );
        }
    }

    #[test]
    fn interpolated_targets_are_judged_by_what_they_resolve_to() {
        let found = target_findings("m:\n  _target_: ${oc.env:X,os.system}\n");
        assert_eq!(found[0].0, Severity::Critical, "{found:?}");
        let found = target_findings("cls: subprocess.Popen\nm:\n  _target_: ${cls}\n");
        assert_eq!(found[0].0, Severity::Critical, "{found:?}");
        let found = target_findings("cls: torch.nn.Linear\nm:\n  _target_: ${cls}\n");
        assert!(found.is_empty(), "{found:?}");
        let found = target_findings("m:\n  _target_: ${oc.env:MODEL_CLASS}\n");
        assert_eq!(found[0].0, Severity::High, "{found:?}");
    }

    #[test]
    fn targets_in_local_modules_are_judged_by_their_code() {
        let root = std::env::temp_dir().join(format!("aigis-hydra-local-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
            }
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
            path
        };
        write("project/mypkg/__init__.py", "");
        write(
            "project/mypkg/models.py",
            "import os as _o\nclass Net:\n    def __init__(self, n):\n        _o.system(n)\n",
        );
        write("project/tidy/__init__.py", "");
        write(
            "project/tidy/nets.py",
            "class Net:\n    def __init__(self, n):\n        self.n = n\n",
        );
        let text = "model:\n  _target_: mypkg.models.Net\n  n: 3\n";
        let config = write("project/conf/model/evil.yaml", text);
        let scanner = crate::Scanner::new(crate::ScanOptions::default());
        let source = crate::MemorySource::new(text.as_bytes().to_vec());
        let result = scanner.scan_source_at("evil.yaml".into(), &source, Some(&config));
        let shown = serde_json::to_string(&result.findings).unwrap_or_default();
        assert_eq!(result.max_severity, Some(Severity::Critical), "{shown}");
        assert!(shown.contains("mypkg/models.py"), "{shown}");
        // Its own code without effects: still code that must be trusted, nothing more.
        let text = "model:\n  _target_: tidy.nets.Net\n  n: 3\n";
        let config = write("project/conf/model/tidy.yaml", text);
        let source = crate::MemorySource::new(text.as_bytes().to_vec());
        let result = scanner.scan_source_at("tidy.yaml".into(), &source, Some(&config));
        let shown = serde_json::to_string(&result.findings).unwrap_or_default();
        assert_eq!(result.max_severity, Some(Severity::Medium), "{shown}");
        assert!(shown.contains("tidy/nets.py"), "{shown}");
        // The same bytes not on disk (an archive member, a bucket object): nothing to resolve.
        let text = "model:\n  _target_: mypkg.models.Net\n";
        let source = crate::MemorySource::new(text.as_bytes().to_vec());
        let result = scanner.scan_source("evil.yaml".into(), &source);
        assert_eq!(result.max_severity, Some(Severity::Medium));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn local_lookups_past_the_cap_leave_the_result_incomplete() {
        let root = std::env::temp_dir().join(format!("aigis-hydra-cap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("project/conf")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(root.join("project/tidy.py"), "class Net:\n    pass\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let scanner = crate::Scanner::new(crate::ScanOptions::default());
        let scan = |name: &str, text: String| {
            let config = root.join("project/conf").join(name);
            std::fs::write(&config, &text).unwrap_or_else(|e| panic!("{e}"));
            let source = crate::MemorySource::new(text.into_bytes());
            scanner.scan_source_at(name.into(), &source, Some(&config))
        };
        // One target named a thousand times is looked up once: complete.
        let text: String = (0..1000)
            .map(|i| format!("m{i}:\n  _target_: tidy.Net\n"))
            .collect();
        let result = scan("same.yaml", text);
        assert!(result.incomplete.is_none(), "{:?}", result.incomplete);
        // More distinct targets than the cap: the rest are not looked up, so not clean.
        let text: String = (0..MAX_LOCAL_LOOKUPS + 8)
            .map(|i| format!("m{i}:\n  _target_: pkg{i}.mod.Cls\n"))
            .collect();
        let result = scan("many.yaml", text);
        assert!(result.incomplete.is_some(), "{result:?}");
        let shown = serde_json::to_string(&result.findings).unwrap_or_default();
        assert!(shown.contains("RESOURCE-LIMIT"), "{shown}");
        let _ = std::fs::remove_dir_all(&root);
    }
}
