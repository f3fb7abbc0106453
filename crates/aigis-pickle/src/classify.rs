//! Name classification against the tables in [`crate::callables`].

use crate::Options;
use crate::callables::{
    ALLOWED_CALLS, Category, DANGEROUS, DATA_ONLY_CALLS, HOST_LIBRARIES, NAME_COLLISIONS,
    TRUSTED_NAMESPACES, name_mapping, normalize_builtin, normalize_module,
};
use std::collections::HashSet;
use std::sync::LazyLock;

/// How a name is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameClass {
    /// Known safe for this use.
    Allowed,
    /// A dangerous primitive.
    Dangerous(Category),
    /// Neither.
    Unknown,
}

/// The dotted components of `module.qualname`, Python-2 names normalized.
fn components(module: &str, qualname: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // `fix_imports` renames some Python-2 pairs (`__builtin__.reduce` is `functools.reduce`).
    let (first, rest) = qualname
        .split_once('.')
        .map_or((qualname, None), |(f, r)| (f, Some(r)));
    let renamed = name_mapping(module, first).map(|(m, n)| match rest {
        Some(r) => (m, format!("{n}.{r}")),
        None => (m, n.to_owned()),
    });
    let (module, qualname) = match &renamed {
        Some((m, q)) => (*m, q.as_str()),
        None => (module, qualname),
    };
    let module = normalize_module(module);
    // An empty qualname names the module itself (`importlib.import_module('os')`).
    let qualname_parts = qualname.split('.').filter(|_| !qualname.is_empty());
    for (i, part) in module.split('.').chain(qualname_parts).enumerate() {
        let part = match part {
            "__builtin__" => "builtins",
            p if i == 0 => normalize_module(p),
            p => p,
        };
        let part = match out.last() {
            Some(prev) if prev == "builtins" => normalize_builtin(part),
            _ => part,
        };
        out.extend(part.split('.').map(str::to_owned));
    }
    out
}

/// The normalized full name `module.qualname`.
pub(crate) fn full_name(module: &str, qualname: &str) -> String {
    let comps = components(module, qualname);
    let joined = comps.join(".");
    match joined.as_str() {
        "builtins.reduce" => "functools.reduce".to_owned(),
        "builtins.intern" => "sys.intern".to_owned(),
        "itertools.imap" => "builtins.map".to_owned(),
        "itertools.ifilter" => "builtins.filter".to_owned(),
        "itertools.izip" => "builtins.zip".to_owned(),
        _ => joined,
    }
}

fn entry_matches(entry: &str, suffix: &[String]) -> bool {
    let mut parts = entry.split('.').peekable();
    let mut i = 0;
    while let Some(p) = parts.next() {
        let Some(comp) = suffix.get(i) else {
            return false;
        };
        let last = parts.peek().is_none();
        let ok = match p.strip_suffix('*') {
            Some(prefix) if last => comp.starts_with(prefix),
            _ => comp == p,
        };
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

/// The dangerous category of `module.qualname`, if any suffix of it (starting at a component
/// boundary) starts with a dangerous entry.
pub(crate) fn dangerous_category(module: &str, qualname: &str) -> Option<Category> {
    // A pure function of the two names, asked again for the same globals in every file of a
    // folder (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`): each thread
    // remembers its recent answers (matching a name against the tables was a tenth of the CPU
    // of scanning a folder of small pickles, by perf).
    thread_local! {
        static SEEN: std::cell::RefCell<std::collections::HashMap<(String, String), Option<Category>>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    const REMEMBERED: usize = 4096;
    if module.len() + qualname.len() > 256 {
        return judge_category(module, qualname);
    }
    if let Some(known) = SEEN.with(|seen| {
        seen.borrow()
            .get(&(module.to_owned(), qualname.to_owned()))
            .copied()
    }) {
        return known;
    }
    let category = judge_category(module, qualname);
    SEEN.with(|seen| {
        let mut seen = seen.borrow_mut();
        if seen.len() >= REMEMBERED {
            seen.clear();
        }
        seen.insert((module.to_owned(), qualname.to_owned()), category);
    });
    category
}

fn judge_category(module: &str, qualname: &str) -> Option<Category> {
    if let Some(cat) = aliased_category(module, qualname) {
        return Some(cat);
    }
    dangerous_by_name(module, qualname)
}

/// The dangerous standard-library object a trusted module re-exports under `module.qualname`
/// (generated alias table): `transformers.x.makedirs` is `os.makedirs`.
pub(crate) fn alias_target(module: &str, qualname: &str) -> Option<&'static str> {
    crate::effects::alias_of(&full_name(module, qualname))
        .or_else(|| crate::effects::alias_of(&format!("{module}.{qualname}")))
}

fn aliased_category(module: &str, qualname: &str) -> Option<Category> {
    let original = alias_target(module, qualname)?;
    let (m, q) = original.rsplit_once('.')?;
    dangerous_by_name(m, q)
}

/// The dangerous category of `module.qualname` by its spelling alone.
fn dangerous_by_name(module: &str, qualname: &str) -> Option<Category> {
    let comps = components(module, qualname);
    let full = full_name(module, qualname);
    let comps = if full != comps.join(".") {
        full.split('.').map(str::to_owned).collect()
    } else {
        comps
    };
    // TorchScript class names are resolved by the archive's compilation unit, never imported.
    if comps.first().is_some_and(|c| c == "__torch__") {
        return None;
    }
    let mut skip_at = Vec::new();
    for c in NAME_COLLISIONS {
        let cc: Vec<&str> = c.split('.').collect();
        if comps.len() >= cc.len() && comps.iter().zip(&cc).all(|(a, b)| a == b) {
            skip_at.push(cc.len() - 1);
        }
    }
    // A match starting inside the module path names a real submodule of that package
    // (`numpy.random._pickle`, `scipy.signal`): `import a.b` cannot reach an attribute.
    let module_len = normalize_module(module).split('.').count();
    let matched = |comps: &[String]| {
        for start in 0..comps.len() {
            if skip_at.contains(&start) || (start > 0 && start < module_len) {
                continue;
            }
            let suffix = &comps[start..];
            for (cat, entries) in DANGEROUS {
                if entries.iter().any(|e| entry_matches(e, suffix)) {
                    return Some(*cat);
                }
            }
        }
        None
    };
    if let Some(cat) = matched(&comps) {
        return Some(cat);
    }
    // Modules keep the modules they import under private aliases (`collections._sys`,
    // `_os`): an attribute path through `_name` reaches the module `name`.
    let last = comps.len().saturating_sub(1);
    let unaliased: Vec<String> = comps
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let alias = i >= module_len && i < last && c.starts_with('_') && !c.starts_with("__");
            if alias {
                c.trim_start_matches('_').to_owned()
            } else {
                c.clone()
            }
        })
        .collect();
    if unaliased != comps {
        return matched(&unaliased);
    }
    None
}

const STDLIB_MODULES: &str = include_str!("../data/stdlib_modules.txt");

/// Whether `module` is in the Python standard library: its top-level package (Python-2
/// spellings mapped as `fix_imports` maps them) is one of `sys.stdlib_module_names`
/// (`data/stdlib_modules.txt`, generated by `scripts/effects/gen_stdlib_modules.py`).
pub(crate) fn is_stdlib_module(module: &str) -> bool {
    let top = normalize_module(module.split('.').next().unwrap_or(module));
    let top = top.split('.').next().unwrap_or(top);
    static NAMES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
        STDLIB_MODULES
            .lines()
            .filter(|line| !line.starts_with('#'))
            .collect()
    });
    NAMES.contains(top)
}

/// Whether classes of `module` can be the user's own code, which a model file legitimately
/// rebuilds (`__main__.Net`, `myproject.models.Config`): not the standard library, not a known
/// framework, and not a package whose classes act on the host, the network or the cloud when
/// constructed ([`HOST_LIBRARIES`]).
pub(crate) fn is_users_code(module: &str) -> bool {
    let top = module.split('.').next().unwrap_or(module);
    top == "__main__"
        || (!is_stdlib_module(module)
            && !is_trusted_namespace(module)
            && !HOST_LIBRARIES.contains(&top))
}

/// Whether the top-level package of `module` is a trusted framework namespace.
pub(crate) fn is_trusted_namespace(module: &str) -> bool {
    let top = normalize_module(module.split('.').next().unwrap_or(module));
    let top = top.split('.').next().unwrap_or(top);
    TRUSTED_NAMESPACES.contains(&top)
}

/// Whether a user allow-list entry covers `name`: an exact `module.Qualname`, or `prefix.*`
/// for everything under a module or class.
fn user_allows(extra: &[String], name: &str) -> bool {
    extra.iter().any(|entry| match entry.strip_suffix(".*") {
        Some(prefix) => name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.')),
        None => entry == name,
    })
}

/// Whether the user's allow-list names `module.qualname`, as written or normalized.
pub(crate) fn user_allows_name(extra: &[String], module: &str, qualname: &str) -> bool {
    !extra.is_empty()
        && (user_allows(extra, &format!("{module}.{qualname}"))
            || user_allows(extra, &full_name(module, qualname)))
}

/// Whether a user deny-list entry covers `module.qualname`, as written or normalized
/// (`__builtin__.eval` is `builtins.eval`).
fn user_denies(denied: &[String], module: &str, qualname: &str) -> bool {
    !denied.is_empty()
        && (user_allows(denied, &format!("{module}.{qualname}"))
            || user_allows(denied, &full_name(module, qualname)))
}

/// Whether the name is on the exact invocation allow-list (or the user's).
fn is_allowed_call(module: &str, qualname: &str, extra: &[String]) -> bool {
    let raw = format!("{module}.{qualname}");
    if user_allows(extra, &raw) {
        return true;
    }
    let full = full_name(module, qualname);
    if user_allows(extra, &full)
        || ALLOWED_CALLS.contains(&full.as_str())
        || crate::known::called(&full)
    {
        return true;
    }
    // Cython-generated unpicklers of extension types, inside a framework.
    let last = qualname.rsplit('.').next().unwrap_or(qualname);
    last.starts_with("__pyx_unpickle_") && !qualname.contains('.') && is_trusted_namespace(module)
}

/// Whether an allowed invocation of `module.qualname` takes data only: a reviewed entry whose
/// every argument is data in what each version writes ([`DATA_ONLY_CALLS`]), or an entry allowed
/// only because the libraries' own files make it, always with data (derived from one version of
/// each library, so it does not overrule a reviewed entry: NumPy 1.25's `__randomstate_ctor` is
/// handed a function, 2.4's is not); never when the user allows the name. Such a call handed a
/// function or class is not what any real file does.
pub(crate) fn allowed_for_data_only(module: &str, qualname: &str, opts: &Options) -> bool {
    let full = full_name(module, qualname);
    let reviewed = DATA_ONLY_CALLS
        .iter()
        .any(|entry| match entry.strip_suffix(".*") {
            Some(m) => full
                .strip_prefix(m)
                .and_then(|q| q.strip_prefix('.'))
                .is_some_and(|q| !q.contains('.')),
            None => *entry == full,
        });
    (reviewed
        || (crate::known::called_with_data_only(&full) && !ALLOWED_CALLS.contains(&full.as_str())))
        && !user_allows(&opts.extra_allowed, &format!("{module}.{qualname}"))
        && !user_allows(&opts.extra_allowed, &full)
}

/// Judges an invocation of `module.qualname`.
pub(crate) fn invocation(module: &str, qualname: &str, opts: &Options) -> NameClass {
    let extra = &opts.extra_allowed;
    let raw = format!("{module}.{qualname}");
    if user_denies(&opts.extra_denied, module, qualname) {
        return NameClass::Dangerous(Category::Denied);
    }
    if user_allows(extra, &raw) {
        return NameClass::Allowed;
    }
    if let Some(cat) = dangerous_category(module, qualname) {
        return NameClass::Dangerous(cat);
    }
    if is_allowed_call(module, qualname, extra) {
        NameClass::Allowed
    } else {
        NameClass::Unknown
    }
}

/// Judges a construction without `__init__` (NEWOBJ) or a reference of `module.qualname`.
pub(crate) fn construction_or_reference(module: &str, qualname: &str, opts: &Options) -> NameClass {
    let extra = &opts.extra_allowed;
    let raw = format!("{module}.{qualname}");
    if user_denies(&opts.extra_denied, module, qualname) {
        return NameClass::Dangerous(Category::Denied);
    }
    if user_allows(extra, &raw) {
        return NameClass::Allowed;
    }
    if let Some(cat) = dangerous_category(module, qualname) {
        return NameClass::Dangerous(cat);
    }
    if is_trusted_namespace(module)
        || is_allowed_call(module, qualname, extra)
        || crate::known::constructed_or_referenced(&full_name(module, qualname))
    {
        NameClass::Allowed
    } else {
        NameClass::Unknown
    }
}

#[cfg(test)]
mod user_allow_tests {
    use super::user_allows;

    #[test]
    fn denied_names_win_over_every_allow_list() {
        use super::{NameClass, construction_or_reference, invocation};
        use crate::{Category, Options};
        let opts = Options {
            extra_allowed: vec!["mypkg.*".into()],
            extra_denied: vec![
                "torch._utils.*".into(),
                "mypkg.evil".into(),
                "builtins.print".into(),
            ],
            ..Options::default()
        };
        let denied = NameClass::Dangerous(Category::Denied);
        assert_eq!(
            invocation("torch._utils", "_rebuild_tensor_v2", &opts),
            denied
        );
        assert_eq!(invocation("mypkg", "evil", &opts), denied);
        assert_eq!(invocation("__builtin__", "print", &opts), denied);
        assert_eq!(construction_or_reference("mypkg", "evil", &opts), denied);
        assert_eq!(invocation("mypkg", "good", &opts), NameClass::Allowed);
        assert_eq!(
            invocation("torch._utils", "_rebuild_tensor_v2", &Options::default()),
            NameClass::Allowed
        );
    }

    #[test]
    fn exact_and_prefix_entries() {
        let extra = vec!["mypkg.models.Net".to_string(), "__main__.*".to_string()];
        assert!(user_allows(&extra, "mypkg.models.Net"));
        assert!(!user_allows(&extra, "mypkg.models.Net2"));
        assert!(user_allows(&extra, "__main__.Tiny"));
        assert!(!user_allows(&extra, "__main__x.Tiny"));
    }
}

/// Whether a name looks like a class (last component starts with an upper-case letter).
pub(crate) fn looks_like_class(qualname: &str) -> bool {
    qualname
        .rsplit('.')
        .next()
        .and_then(|s| s.chars().next())
        .is_some_and(|c| c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_matching() {
        assert_eq!(dangerous_category("os", "system"), Some(Category::Shell));
        assert_eq!(
            dangerous_category("pathlib", "os.system"),
            Some(Category::Shell)
        );
        assert_eq!(
            dangerous_category("torch", "os.system"),
            Some(Category::Shell)
        );
        assert_eq!(
            dangerous_category("numpy.random._pickle", "__randomstate_ctor"),
            None
        );
        assert_eq!(
            dangerous_category("numpy", "random._pickle.x"),
            Some(Category::Loader)
        );
        assert_eq!(
            dangerous_category("numpy", "testing._private.utils.runstring"),
            Some(Category::Exec)
        );
        assert_eq!(
            dangerous_category("__builtin__", "eval"),
            Some(Category::Exec)
        );
        assert_eq!(dangerous_category("builtins", "getattr"), None);
        assert_eq!(
            dangerous_category("pandas", "read_csv"),
            Some(Category::Loader)
        );
        assert_eq!(
            dangerous_category("pathlib", "PosixPath.touch"),
            Some(Category::File)
        );
        assert_eq!(
            dangerous_category("posixpath", "join"),
            Some(Category::Shell)
        );
        assert_eq!(
            dangerous_category("torch._utils", "_rebuild_tensor_v2"),
            None
        );
        assert_eq!(dangerous_category("scipy.signal", "windows.hann"), None);
        assert_eq!(dangerous_category("collections", "OrderedDict"), None);
        assert_eq!(
            dangerous_category("numpy.core.multiarray", "_reconstruct"),
            None
        );
        assert_eq!(
            dangerous_category("operator", "attrgetter"),
            Some(Category::Reflection)
        );
        // a module's private alias of another module (`collections._sys` is `sys`)
        assert_eq!(
            dangerous_category("collections", "_sys.modules"),
            Some(Category::Import)
        );
        assert_eq!(dangerous_category("torch", "_C._nn.gelu"), None);
        assert_eq!(
            dangerous_category("torch.nn.functional", "_in_projection"),
            None
        );
        // a module object (empty qualname)
        assert_eq!(dangerous_category("os", ""), Some(Category::Shell));
        assert_eq!(full_name("os", ""), "os");
        assert_eq!(
            invocation("pathlib", "PosixPath", &Options::default()),
            NameClass::Allowed
        );
    }

    #[test]
    fn allow_and_namespace() {
        assert_eq!(
            invocation("__builtin__", "set", &Options::default()),
            NameClass::Allowed
        );
        assert_eq!(
            invocation("copy_reg", "_reconstructor", &Options::default()),
            NameClass::Allowed
        );
        assert_eq!(
            invocation("torch.nn.modules.linear", "Linear", &Options::default()),
            NameClass::Unknown
        );
        assert_eq!(
            construction_or_reference("torch.nn.modules.linear", "Linear", &Options::default()),
            NameClass::Allowed
        );
        assert_eq!(
            construction_or_reference("__main__", "Net", &Options::default()),
            NameClass::Unknown
        );
        assert_eq!(
            invocation(
                "__main__",
                "f",
                &Options {
                    extra_allowed: vec!["__main__.f".to_owned()],
                    ..Options::default()
                }
            ),
            NameClass::Allowed
        );
        assert_eq!(
            invocation(
                "sklearn.tree._tree",
                "__pyx_unpickle_Foo",
                &Options::default()
            ),
            NameClass::Allowed
        );
        assert_eq!(
            invocation("evil", "__pyx_unpickle_Foo", &Options::default()),
            NameClass::Unknown
        );
        assert_eq!(
            construction_or_reference("torch", "load", &Options::default()),
            NameClass::Dangerous(Category::Loader)
        );
    }
}
