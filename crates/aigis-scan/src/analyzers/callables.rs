//! Judging callables that model *configs* name (a Keras `module` + `class_name`, a Hydra
//! `_target_`, a skops `__module__`): the loader imports and calls them, so they are judged like
//! pickle imports — with the same table of dangerous primitives (`aigis_pickle::dangerous_callable`)
//! and, per format, the namespaces of the framework that writes them.

use crate::analyzer::Context;
use crate::{Finding, RuleId, Severity};

/// What a named callable is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trust {
    /// A primitive that attacks the host (label of its category: "command execution", …).
    Dangerous(&'static str),
    /// A framework callable whose generated effect signature writes files, reaches the network
    /// or imports by name (`aigis_pickle::effects`): high whatever its namespace.
    Effect(&'static str),
    /// Inside the format's framework namespaces.
    Trusted,
    /// Third-party or application code: loading needs it and trusts it.
    Unknown,
}

/// Splits `a.b.c` into (`a.b`, `c`); a bare name is a builtin.
pub(crate) fn split_dotted(full: &str) -> (&str, &str) {
    full.rsplit_once('.').unwrap_or(("builtins", full))
}

/// Judges `module.name` against the dangerous table and the trusted top-level packages.
pub(crate) fn judge(module: &str, name: &str, trusted_tops: &[&str]) -> Trust {
    if let Some(category) = aigis_pickle::dangerous_callable(module, name) {
        return Trust::Dangerous(category.label());
    }
    // What the callable does (generated from the libraries' code) decides, not its namespace.
    let effects = aigis_pickle::effects::call_effects(&format!("{module}.{name}"));
    if let Some(e) = effects
        .iter()
        .find(|e| e.is_execution() || matches!(e, aigis_pickle::effects::Effect::Loads(_)))
    {
        return Trust::Dangerous(e.label());
    }
    if let Some(e) = effects
        .iter()
        .find(|e| !matches!(e, aigis_pickle::effects::Effect::Calls(_)))
    {
        return Trust::Effect(e.label());
    }
    let top = module.split('.').next().unwrap_or(module);
    if trusted_tops.contains(&top) {
        Trust::Trusted
    } else {
        Trust::Unknown
    }
}

/// Judges a dotted path as Hydra's `_locate` resolves it: only the first component is imported
/// outright; every later one is first looked up as an attribute (a submodule is imported only
/// when no attribute has the name), so `torch.serialization.os.system` is `os.system`, as
/// protocol 4's `find_class('torch', 'serialization.os.system')` is. The worse of that reading
/// and the plain `module.name` one.
pub(crate) fn judge_located(path: &str, trusted_tops: &[&str]) -> Trust {
    let (module, name) = split_dotted(path);
    let direct = judge(module, name, trusted_tops);
    if matches!(direct, Trust::Dangerous(_)) {
        return direct;
    }
    match path
        .split_once('.')
        .and_then(|(top, rest)| aigis_pickle::dangerous_callable(top, rest))
    {
        Some(category) => Trust::Dangerous(category.label()),
        None => direct,
    }
}

/// `" (`m.n` is `os.makedirs`)"` when `module.name` re-exports a dangerous standard-library
/// object (generated alias table), else empty.
pub(crate) fn alias_note(module: &str, name: &str) -> String {
    let full = format!("{module}.{name}");
    aigis_pickle::effects::alias_of(&full)
        .map(|orig| format!(" (`{full}` is `{orig}`)"))
        .unwrap_or_default()
}

/// Functions of trusted framework namespaces that configs must never name: they reach files, the
/// network or arbitrary Python although their package is one models are built from. Each entry is
/// (module prefix, name, what it does); an empty prefix matches any module. The pickle table
/// (`aigis_pickle::dangerous_callable`) covers the plain primitives; these are the framework
/// gadgets a config can route through.
const CONFIG_GADGETS: &[(&str, &str, &str)] = &[
    ("tensorflow", "py_function", "runs arbitrary Python"),
    ("tensorflow", "numpy_function", "runs arbitrary Python"),
    ("tensorflow", "py_func", "runs arbitrary Python"),
    ("tensorflow", "eager_py_func", "runs arbitrary Python"),
    (
        "",
        "func_load",
        "rebuilds a Python function from marshalled bytecode",
    ),
    (
        "",
        "model_from_json",
        "deserializes a second model config that is not checked here",
    ),
    (
        "",
        "model_from_yaml",
        "deserializes a second model config that is not checked here",
    ),
    ("", "extract_archive", "extracts an archive onto the disk"),
    (
        "",
        "restore_from",
        "restores another model file (pickled weights)",
    ),
    (
        "",
        "load_from_checkpoint",
        "loads another checkpoint with torch.load",
    ),
    (
        "hydra",
        "get_method",
        "imports whatever name its argument says",
    ),
    (
        "hydra",
        "get_class",
        "imports whatever name its argument says",
    ),
    (
        "hydra",
        "get_object",
        "imports whatever name its argument says",
    ),
    (
        "hydra",
        "get_static_method",
        "imports whatever name its argument says",
    ),
    (
        "hydra",
        "_locate",
        "imports whatever name its argument says",
    ),
    ("omegaconf", "load", "reads a config file from the host"),
    ("omegaconf", "save", "writes a file"),
    (
        "sklearn.datasets",
        "fetch_",
        "downloads data from the network",
    ),
    (
        "sklearn.datasets",
        "load_svmlight_file",
        "reads a file of the host",
    ),
    ("sklearn.datasets", "load_files", "reads files of the host"),
    ("sklearn.datasets", "dump_svmlight_file", "writes a file"),
];

/// Module path segments that mean file system access in any framework (`tf.io.gfile`,
/// TensorFlow's `file_io`).
const FILE_MODULES: &[&str] = &["gfile", "file_io"];

/// Callables measured to create, truncate or replace a file when a config calls them with a
/// path (`scripts/differential/file_effects.py` runs each in a scratch folder): logging file
/// handlers, `gzip.open`, `codecs.open`, `py_compile.compile`, `tempfile`, `shutil`, …
const FILE_EFFECTS: &str = include_str!("data/file_effects.txt");

/// Whether `module.name` is a measured file-writing callable ([`FILE_EFFECTS`]).
pub(crate) fn writes_files(module: &str, name: &str) -> bool {
    let module = match module {
        "posix" | "nt" => "os",
        "__builtin__" => "builtins",
        other => other,
    };
    let full = format!("{module}.{name}");
    FILE_EFFECTS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|l| l == full)
}

/// A framework gadget named by `module.name` (see [`CONFIG_GADGETS`]): what calling it does.
pub(crate) fn config_gadget(module: &str, name: &str) -> Option<&'static str> {
    if writes_files(module, name) {
        return Some("creates or truncates a file (a file-write effect)");
    }
    let top = module.split('.').next().unwrap_or(module);
    let in_module = |prefix: &str| {
        prefix.is_empty()
            || module == prefix
            || module.starts_with(&format!("{prefix}."))
            || (!prefix.contains('.') && top == prefix)
    };
    let hit = CONFIG_GADGETS.iter().find(|(prefix, gadget, _)| {
        in_module(prefix)
            && if gadget.ends_with('_') {
                name.starts_with(gadget)
            } else {
                name == *gadget
            }
    });
    if let Some((_, _, what)) = hit {
        return Some(what);
    }
    module
        .split('.')
        .any(|part| FILE_MODULES.contains(&part))
        .then_some("touches the file system")
}

/// Records a finding with an explicit severity at the current location.
pub(crate) fn report_with(
    cx: &mut Context<'_>,
    rule: RuleId,
    severity: Severity,
    message: impl Into<String>,
) {
    cx.record(Finding::new(rule, message).with_severity(severity), None);
}

/// Shortens untrusted text for a message: at most `max` characters, control characters escaped.
pub(crate) fn clip(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

/// Shortens text for a message, quotes as written: at most `max` characters, control
/// characters as spaces (every report escapes what it prints; this keeps messages readable).
pub(crate) fn clip_plain(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_with_the_pickle_table() {
        assert_eq!(
            judge("os", "system", &["keras"]),
            Trust::Dangerous("command execution")
        );
        assert_eq!(
            judge("builtins", "eval", &["builtins"]),
            Trust::Dangerous("code execution")
        );
        assert_eq!(judge("keras.layers", "Dense", &["keras"]), Trust::Trusted);
        assert_eq!(judge("acme.layers", "Fancy", &["keras"]), Trust::Unknown);
        assert_eq!(split_dotted("subprocess.Popen"), ("subprocess", "Popen"));
        assert_eq!(split_dotted("eval"), ("builtins", "eval"));
        assert_eq!(clip("a\nbcdef", 3), "a\\nb…");
        assert!(config_gadget("tensorflow.io.gfile", "copy").is_some());
        assert!(config_gadget("tensorflow", "py_function").is_some());
        assert!(config_gadget("hydra.utils", "get_method").is_some());
        assert!(config_gadget("sklearn.datasets", "fetch_openml").is_some());
        assert!(config_gadget("nemo.core.classes.modelPT.ModelPT", "restore_from").is_some());
        assert!(config_gadget("sklearn.datasets", "make_blobs").is_none());
        assert!(config_gadget("torch.nn", "Linear").is_none());
        assert!(config_gadget("omegaconf.OmegaConf", "create").is_none());
        for (module, name) in [
            ("logging", "FileHandler"),
            ("logging.handlers", "RotatingFileHandler"),
            ("gzip", "open"),
            ("codecs", "open"),
            ("py_compile", "compile"),
            ("tempfile", "NamedTemporaryFile"),
            ("shutil", "copyfile"),
            ("posix", "mkdir"),
        ] {
            assert!(config_gadget(module, name).is_some(), "{module}.{name}");
        }
        assert!(config_gadget("logging", "StreamHandler").is_none());
    }
}
