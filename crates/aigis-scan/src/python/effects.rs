//! What the calls of a Python module reach, judged on its syntax tree.

use super::{ParseFailure, line_of, with_module};
use base64::Engine;
use ruff_python_ast::visitor::{Visitor, walk_expr, walk_stmt};
use ruff_python_ast::{
    Expr, ExprCall, FStringPart, InterpolatedStringElement, ModModule, Number, Operator, Stmt,
};
use ruff_text_size::Ranged;
use std::collections::HashMap;

/// Longest folded string kept.
const MAX_FOLDED: usize = 4096;
/// Most effects listed per module.
const MAX_EFFECTS: usize = 64;

/// What a call does to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EffectKind {
    /// Evaluates, executes or compiles code (`eval`, `exec`, `runpy`, `marshal.loads`).
    Exec,
    /// Starts a process (`os.system`, `subprocess`, `pty.spawn`).
    Spawn,
    /// Opens a network connection (`socket`, `urllib.request`, `requests`).
    Network,
    /// Creates, truncates, moves or deletes files (`open(p, "w")`, `shutil`, `tempfile`).
    FileWrite,
    /// Loads native code (`ctypes`, `cffi`).
    Native,
    /// Deserialises data that can run code (`pickle.loads`, `torch.load`, `yaml.load`).
    Deserialize,
    /// Imports or looks up a name computed at run time: what it reaches is not in the file.
    DynamicImport,
}

impl EffectKind {
    /// Short description.
    pub fn label(self) -> &'static str {
        match self {
            EffectKind::Exec => "executes code",
            EffectKind::Spawn => "starts a process",
            EffectKind::Network => "opens a network connection",
            EffectKind::FileWrite => "creates or modifies files",
            EffectKind::Native => "loads native code",
            EffectKind::Deserialize => "deserialises data that can run code",
            EffectKind::DynamicImport => "imports a name computed at run time",
        }
    }

    /// Whether the effect attacks the host outright (critical) rather than needing review.
    pub fn is_critical(self) -> bool {
        !matches!(self, EffectKind::Deserialize | EffectKind::DynamicImport)
    }
}

/// One call with an effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    /// What it does.
    pub kind: EffectKind,
    /// The callable it reaches (`os.system`), after aliases and folding.
    pub target: String,
    /// 1-based line of the call.
    pub line: usize,
    /// The call as written (first line, shortened).
    pub snippet: String,
}

/// Callables by effect: exact dotted names, or `prefix.*` for a whole module.
const TABLE: &[(&str, EffectKind)] = &[
    ("builtins.eval", EffectKind::Exec),
    ("builtins.exec", EffectKind::Exec),
    ("builtins.compile", EffectKind::Exec),
    ("builtins.execfile", EffectKind::Exec),
    ("code.*", EffectKind::Exec),
    ("codeop.*", EffectKind::Exec),
    ("runpy.*", EffectKind::Exec),
    ("types.FunctionType", EffectKind::Exec),
    ("types.CodeType", EffectKind::Exec),
    ("marshal.loads", EffectKind::Exec),
    ("marshal.load", EffectKind::Exec),
    ("timeit.timeit", EffectKind::Exec),
    ("timeit.repeat", EffectKind::Exec),
    ("timeit.Timer", EffectKind::Exec),
    ("profile.run", EffectKind::Exec),
    ("cProfile.run", EffectKind::Exec),
    ("pdb.run", EffectKind::Exec),
    ("os.system", EffectKind::Spawn),
    ("os.popen", EffectKind::Spawn),
    ("os.execl", EffectKind::Spawn),
    ("os.execle", EffectKind::Spawn),
    ("os.execlp", EffectKind::Spawn),
    ("os.execlpe", EffectKind::Spawn),
    ("os.execv", EffectKind::Spawn),
    ("os.execve", EffectKind::Spawn),
    ("os.execvp", EffectKind::Spawn),
    ("os.execvpe", EffectKind::Spawn),
    ("os.spawnl", EffectKind::Spawn),
    ("os.spawnle", EffectKind::Spawn),
    ("os.spawnlp", EffectKind::Spawn),
    ("os.spawnlpe", EffectKind::Spawn),
    ("os.spawnv", EffectKind::Spawn),
    ("os.spawnve", EffectKind::Spawn),
    ("os.spawnvp", EffectKind::Spawn),
    ("os.spawnvpe", EffectKind::Spawn),
    ("os.posix_spawn", EffectKind::Spawn),
    ("os.posix_spawnp", EffectKind::Spawn),
    ("os.fork", EffectKind::Spawn),
    ("os.forkpty", EffectKind::Spawn),
    ("os.startfile", EffectKind::Spawn),
    ("posix.system", EffectKind::Spawn),
    ("nt.system", EffectKind::Spawn),
    ("subprocess.*", EffectKind::Spawn),
    ("pty.spawn", EffectKind::Spawn),
    ("pty.fork", EffectKind::Spawn),
    ("asyncio.create_subprocess_exec", EffectKind::Spawn),
    ("asyncio.create_subprocess_shell", EffectKind::Spawn),
    ("platform.popen", EffectKind::Spawn),
    ("commands.*", EffectKind::Spawn),
    ("popen2.*", EffectKind::Spawn),
    ("webbrowser.*", EffectKind::Spawn),
    ("socket.*", EffectKind::Network),
    ("ssl.*", EffectKind::Network),
    ("urllib.request.*", EffectKind::Network),
    ("urllib.urlopen", EffectKind::Network),
    ("urllib.urlretrieve", EffectKind::Network),
    ("urllib2.*", EffectKind::Network),
    ("http.client.*", EffectKind::Network),
    ("httplib.*", EffectKind::Network),
    ("requests.*", EffectKind::Network),
    ("httpx.*", EffectKind::Network),
    ("aiohttp.*", EffectKind::Network),
    ("urllib3.*", EffectKind::Network),
    ("ftplib.*", EffectKind::Network),
    ("smtplib.*", EffectKind::Network),
    ("telnetlib.*", EffectKind::Network),
    ("poplib.*", EffectKind::Network),
    ("imaplib.*", EffectKind::Network),
    ("xmlrpc.client.*", EffectKind::Network),
    ("paramiko.*", EffectKind::Network),
    ("websocket.*", EffectKind::Network),
    ("websockets.*", EffectKind::Network),
    ("pycurl.*", EffectKind::Network),
    ("os.remove", EffectKind::FileWrite),
    ("os.unlink", EffectKind::FileWrite),
    ("os.rmdir", EffectKind::FileWrite),
    ("os.removedirs", EffectKind::FileWrite),
    ("os.rename", EffectKind::FileWrite),
    ("os.renames", EffectKind::FileWrite),
    ("os.replace", EffectKind::FileWrite),
    ("os.chmod", EffectKind::FileWrite),
    ("os.chown", EffectKind::FileWrite),
    ("os.lchown", EffectKind::FileWrite),
    ("os.mkfifo", EffectKind::FileWrite),
    ("os.mknod", EffectKind::FileWrite),
    ("os.symlink", EffectKind::FileWrite),
    ("os.link", EffectKind::FileWrite),
    ("os.truncate", EffectKind::FileWrite),
    ("os.write", EffectKind::FileWrite),
    ("shutil.copy", EffectKind::FileWrite),
    ("shutil.copy2", EffectKind::FileWrite),
    ("shutil.copyfile", EffectKind::FileWrite),
    ("shutil.copyfileobj", EffectKind::FileWrite),
    ("shutil.copytree", EffectKind::FileWrite),
    ("shutil.move", EffectKind::FileWrite),
    ("shutil.rmtree", EffectKind::FileWrite),
    ("shutil.chown", EffectKind::FileWrite),
    ("shutil.make_archive", EffectKind::FileWrite),
    ("shutil.unpack_archive", EffectKind::FileWrite),
    ("tempfile.*", EffectKind::FileWrite),
    ("gzip.open", EffectKind::FileWrite),
    ("bz2.open", EffectKind::FileWrite),
    ("lzma.open", EffectKind::FileWrite),
    ("codecs.open", EffectKind::FileWrite),
    ("logging.FileHandler", EffectKind::FileWrite),
    ("logging.handlers.*", EffectKind::FileWrite),
    ("py_compile.compile", EffectKind::FileWrite),
    ("compileall.*", EffectKind::FileWrite),
    ("dbm.open", EffectKind::FileWrite),
    ("sqlite3.connect", EffectKind::FileWrite),
    ("ctypes.*", EffectKind::Native),
    ("_ctypes.*", EffectKind::Native),
    ("cffi.*", EffectKind::Native),
    ("pickle.load", EffectKind::Deserialize),
    ("pickle.loads", EffectKind::Deserialize),
    ("pickle.Unpickler", EffectKind::Deserialize),
    ("_pickle.*", EffectKind::Deserialize),
    ("cPickle.*", EffectKind::Deserialize),
    ("dill.load", EffectKind::Deserialize),
    ("dill.loads", EffectKind::Deserialize),
    ("cloudpickle.load", EffectKind::Deserialize),
    ("cloudpickle.loads", EffectKind::Deserialize),
    ("joblib.load", EffectKind::Deserialize),
    ("torch.load", EffectKind::Deserialize),
    ("pandas.read_pickle", EffectKind::Deserialize),
    ("shelve.open", EffectKind::Deserialize),
    ("jsonpickle.decode", EffectKind::Deserialize),
    ("yaml.unsafe_load", EffectKind::Deserialize),
    ("yaml.full_load", EffectKind::Deserialize),
    (
        "importlib.machinery.SourceFileLoader",
        EffectKind::DynamicImport,
    ),
    (
        "importlib.machinery.SourcelessFileLoader",
        EffectKind::DynamicImport,
    ),
    (
        "importlib.machinery.ExtensionFileLoader",
        EffectKind::Native,
    ),
    (
        "importlib.util.spec_from_file_location",
        EffectKind::DynamicImport,
    ),
    ("imp.load_source", EffectKind::DynamicImport),
    ("imp.load_module", EffectKind::DynamicImport),
    ("imp.load_dynamic", EffectKind::Native),
    ("pydoc.locate", EffectKind::DynamicImport),
];

/// Method names whose call writes files on any object that has them (`pathlib.Path`, archives).
const WRITING_METHODS: &[&str] = &[
    "write_text",
    "write_bytes",
    "extractall",
    "symlink_to",
    "hardlink_to",
    "touch",
    "rmtree",
];

/// Modules `os` re-exports under other names.
const MODULE_ALIASES: &[(&str, &str)] = &[
    ("posix", "os"),
    ("nt", "os"),
    ("os.path", "posixpath"),
    ("__builtin__", "builtins"),
    ("__builtins__", "builtins"),
    ("_io", "io"),
    ("_codecs", "codecs"),
];

/// Builtins that can be called by their bare name.
const BUILTINS: &[&str] = &[
    "eval",
    "exec",
    "compile",
    "execfile",
    "open",
    "__import__",
    "getattr",
    "globals",
    "vars",
    "locals",
    "chr",
    "str",
    "bytes",
    "bytearray",
];

/// What the walk knows about a value.
#[derive(Debug, Clone, PartialEq)]
enum Sym {
    /// A module or an object inside one, by dotted path.
    Path(String),
    /// A string (or bytes as Latin-1) known at analysis time.
    Str(String),
    /// A list or tuple of known values.
    List(Vec<Sym>),
    /// An integer.
    Int(i64),
    /// A dict of builtins (`globals()`, `vars(builtins)`, `__builtins__.__dict__`).
    Namespace(String),
    /// `True` or `False`.
    Bool(bool),
    /// `None`.
    NoneValue,
    /// Data fetched from the network at run time (a response, its text, what it reads).
    Downloaded,
    /// Not known.
    Unknown,
}

/// Canonical spelling of a dotted path (`posix.system` → `os.system`).
fn canonical(path: &str) -> String {
    for (alias, real) in MODULE_ALIASES {
        if path == *alias {
            return (*real).to_string();
        }
        if let Some(rest) = path.strip_prefix(alias).and_then(|r| r.strip_prefix('.')) {
            return format!("{real}.{rest}");
        }
    }
    path.to_string()
}

/// The effect of calling `path`.
fn classify(path: &str) -> Option<EffectKind> {
    let path = canonical(path);
    TABLE.iter().find_map(|(name, kind)| {
        let hit = match name.strip_suffix(".*") {
            Some(module) => path
                .strip_prefix(module)
                .is_some_and(|r| r.starts_with('.') && r.len() > 1),
            None => path == *name,
        };
        hit.then_some(*kind)
    })
}

struct Judge<'s> {
    source: &'s str,
    env: HashMap<String, Sym>,
    /// Modules imported with `from m import *`.
    stars: Vec<String>,
    found: Vec<Effect>,
    /// With [`calls`]: every call whose target the filter keeps.
    calls: Option<(CallFilter, Vec<Call>)>,
}

impl Judge<'_> {
    fn lookup(&self, name: &str) -> Sym {
        if let Some(sym) = self.env.get(name) {
            return sym.clone();
        }
        for module in &self.stars {
            let candidate = format!("{module}.{name}");
            if classify(&candidate).is_some() {
                return Sym::Path(candidate);
            }
        }
        if BUILTINS.contains(&name) || name == "__builtins__" {
            return if name == "__builtins__" {
                Sym::Path("builtins".into())
            } else {
                Sym::Path(format!("builtins.{name}"))
            };
        }
        Sym::Unknown
    }

    fn string(&self, expr: &Expr) -> Option<String> {
        match self.value(expr) {
            Sym::Str(s) => Some(s),
            _ => None,
        }
    }

    /// What `expr` evaluates to, as far as constants and names go.
    fn value(&self, expr: &Expr) -> Sym {
        match expr {
            Expr::Name(n) => self.lookup(n.id.as_str()),
            Expr::StringLiteral(s) => Sym::Str(s.value.to_str().chars().take(MAX_FOLDED).collect()),
            Expr::BytesLiteral(b) => Sym::Str(
                b.value
                    .iter()
                    .flat_map(|part| part.value.iter())
                    .take(MAX_FOLDED)
                    .map(|&c| char::from(c))
                    .collect(),
            ),
            Expr::BooleanLiteral(b) => Sym::Bool(b.value),
            Expr::NoneLiteral(_) => Sym::NoneValue,
            Expr::NumberLiteral(n) => match &n.value {
                Number::Int(i) => i.as_i64().map_or(Sym::Unknown, Sym::Int),
                _ => Sym::Unknown,
            },
            Expr::FString(f) => {
                let mut out = String::new();
                for part in f.value.iter() {
                    match part {
                        FStringPart::Literal(l) => out.push_str(&l.value),
                        FStringPart::FString(fs) => {
                            for element in fs.elements.iter() {
                                match element {
                                    InterpolatedStringElement::Literal(l) => out.push_str(&l.value),
                                    InterpolatedStringElement::Interpolation(i) => {
                                        match self.value(&i.expression) {
                                            Sym::Str(s) => out.push_str(&s),
                                            Sym::Int(n) => out.push_str(&n.to_string()),
                                            _ => return Sym::Unknown,
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                Sym::Str(out.chars().take(MAX_FOLDED).collect())
            }
            Expr::BinOp(b) if b.op == Operator::Add => {
                match (self.value(&b.left), self.value(&b.right)) {
                    (Sym::Str(l), Sym::Str(r)) => {
                        Sym::Str(format!("{l}{r}").chars().take(MAX_FOLDED).collect())
                    }
                    (Sym::List(mut l), Sym::List(r)) => {
                        l.extend(r);
                        Sym::List(l)
                    }
                    (Sym::Int(l), Sym::Int(r)) => l.checked_add(r).map_or(Sym::Unknown, Sym::Int),
                    _ => Sym::Unknown,
                }
            }
            Expr::BinOp(b) if b.op == Operator::Mod => {
                match (self.value(&b.left), self.value(&b.right)) {
                    (Sym::Str(fmt), Sym::Str(arg)) if fmt.matches("%s").count() == 1 => {
                        Sym::Str(fmt.replacen("%s", &arg, 1))
                    }
                    _ => Sym::Unknown,
                }
            }
            Expr::UnaryOp(u) if u.op == ruff_python_ast::UnaryOp::USub => {
                match self.value(&u.operand) {
                    Sym::Int(n) => n.checked_neg().map_or(Sym::Unknown, Sym::Int),
                    _ => Sym::Unknown,
                }
            }
            Expr::List(l) => Sym::List(l.elts.iter().map(|e| self.value(e)).collect()),
            Expr::Tuple(t) => Sym::List(t.elts.iter().map(|e| self.value(e)).collect()),
            Expr::Attribute(a) => match self.value(&a.value) {
                Sym::Downloaded => Sym::Downloaded,
                Sym::Path(p) if a.attr.id.as_str() == "__dict__" => Sym::Namespace(p),
                Sym::Path(p) => Sym::Path(format!("{p}.{}", a.attr.id.as_str())),
                _ => Sym::Unknown,
            },
            Expr::Subscript(s) => self.subscript(&s.value, &s.slice),
            Expr::Call(call) => self.call_value(call),
            _ => Sym::Unknown,
        }
    }

    fn subscript(&self, value: &Expr, slice: &Expr) -> Sym {
        let base = self.value(value);
        if let Expr::Slice(sl) = slice {
            // `s[::-1]` and plain slices of known strings.
            if let Sym::Str(s) = base {
                let step = sl.step.as_deref().map(|e| self.value(e));
                if sl.lower.is_none() && sl.upper.is_none() && step == Some(Sym::Int(-1)) {
                    return Sym::Str(s.chars().rev().collect());
                }
            }
            return Sym::Unknown;
        }
        let key = self.value(slice);
        match (base, key) {
            (Sym::Path(p), Sym::Str(k)) if canonical(&p) == "sys.modules" => Sym::Path(k),
            (Sym::Namespace(ns), Sym::Str(k)) => Sym::Path(format!("{ns}.{k}")),
            (Sym::List(items), Sym::Int(i)) => usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i).cloned())
                .unwrap_or(Sym::Unknown),
            _ => Sym::Unknown,
        }
    }

    /// The value a call returns, for the calls that name modules and strings.
    fn call_value(&self, call: &ExprCall) -> Sym {
        let args = &call.arguments.args;
        let first = args.first().map(|a| self.value(a));
        if let Expr::Attribute(a) = &*call.func {
            let method = a.attr.id.as_str();
            let receiver = self.value(&a.value);
            match (receiver, method) {
                // `requests.get(u).text.encode()`, `urlopen(u).read().decode()`.
                (Sym::Downloaded, _) => return Sym::Downloaded,
                (Sym::Str(sep), "join") => {
                    if let Some(Sym::List(items)) = first {
                        let parts: Option<Vec<String>> = items
                            .into_iter()
                            .map(|i| match i {
                                Sym::Str(s) => Some(s),
                                _ => None,
                            })
                            .collect();
                        if let Some(parts) = parts {
                            return Sym::Str(parts.join(&sep).chars().take(MAX_FOLDED).collect());
                        }
                    }
                    return Sym::Unknown;
                }
                (Sym::Str(s), "lower") => return Sym::Str(s.to_lowercase()),
                (Sym::Str(s), "upper") => return Sym::Str(s.to_uppercase()),
                (Sym::Str(s), "strip") => return Sym::Str(s.trim().to_string()),
                (Sym::Str(s), "decode" | "encode") => return Sym::Str(s),
                (Sym::Str(s), "replace") => {
                    if let (Some(Sym::Str(from)), Some(to)) =
                        (first, args.get(1).and_then(|e| self.string(e)))
                    {
                        return Sym::Str(s.replace(&from, &to));
                    }
                    return Sym::Unknown;
                }
                (Sym::Path(p), "get") if canonical(&p) == "sys.modules" => {
                    if let Some(Sym::Str(k)) = first {
                        return Sym::Path(k);
                    }
                    return Sym::Unknown;
                }
                (Sym::Path(p), "fromhex") if p == "builtins.bytes" => {
                    if let Some(Sym::Str(hex)) = first {
                        let clean: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
                        if let Ok(bytes) = hex::decode(clean) {
                            return Sym::Str(bytes.into_iter().map(char::from).collect());
                        }
                    }
                    return Sym::Unknown;
                }
                _ => {}
            }
        }
        let Sym::Path(callee) = self.value(&call.func) else {
            return Sym::Unknown;
        };
        if classify(&callee) == Some(EffectKind::Network) {
            return Sym::Downloaded;
        }
        match canonical(&callee).as_str() {
            "importlib.import_module" => match first {
                Some(Sym::Str(m)) => Sym::Path(m),
                _ => Sym::Unknown,
            },
            "builtins.__import__" => match first {
                Some(Sym::Str(m)) => {
                    let fromlist =
                        args.get(3).is_some()
                            || call.arguments.keywords.iter().any(|k| {
                                k.arg.as_ref().is_some_and(|a| a.id.as_str() == "fromlist")
                            });
                    if fromlist {
                        Sym::Path(m)
                    } else {
                        Sym::Path(m.split('.').next().unwrap_or(&m).to_string())
                    }
                }
                _ => Sym::Unknown,
            },
            "builtins.getattr" => match (first, args.get(1).map(|a| self.value(a))) {
                (Some(Sym::Path(p)), Some(Sym::Str(name))) => Sym::Path(format!("{p}.{name}")),
                _ => Sym::Unknown,
            },
            "builtins.globals" | "builtins.locals" => Sym::Namespace("builtins".into()),
            "builtins.vars" => match first {
                Some(Sym::Path(p)) => Sym::Namespace(p),
                None => Sym::Namespace("builtins".into()),
                _ => Sym::Unknown,
            },
            "builtins.chr" => match first {
                Some(Sym::Int(n)) => u32::try_from(n)
                    .ok()
                    .and_then(char::from_u32)
                    .map_or(Sym::Unknown, |c| Sym::Str(c.to_string())),
                _ => Sym::Unknown,
            },
            "builtins.str" | "builtins.bytes" => match first {
                Some(Sym::Str(s)) => Sym::Str(s),
                _ => Sym::Unknown,
            },
            "base64.b64decode" | "base64.standard_b64decode" => match first {
                Some(Sym::Str(s)) => base64::engine::general_purpose::STANDARD
                    .decode(s.chars().filter(|c| !c.is_whitespace()).collect::<String>())
                    .map_or(Sym::Unknown, |b| {
                        Sym::Str(b.into_iter().map(char::from).collect())
                    }),
                _ => Sym::Unknown,
            },
            "codecs.decode" => match (first, args.get(1).and_then(|a| self.string(a))) {
                (Some(Sym::Str(s)), Some(codec)) if codec.replace(['-', '_'], "") == "rot13" => {
                    Sym::Str(s.chars().map(rot13).collect())
                }
                _ => Sym::Unknown,
            },
            _ => Sym::Unknown,
        }
    }

    fn record(&mut self, kind: EffectKind, target: String, call: &ExprCall) {
        if self.found.len() >= MAX_EFFECTS
            || self.found.iter().any(|e| {
                e.kind == kind
                    && e.target == target
                    && e.line == line_of(self.source, call.start().to_usize())
            })
        {
            return;
        }
        let text = self.source.get(call.range().to_std_range()).unwrap_or("");
        let first_line = text.lines().next().unwrap_or("");
        let snippet: String = first_line.chars().take(160).collect();
        self.found.push(Effect {
            kind,
            target,
            line: line_of(self.source, call.start().to_usize()),
            snippet,
        });
    }

    /// What an argument is, for [`Call`].
    fn arg(&self, expr: &Expr) -> Arg {
        match self.value(expr) {
            Sym::Str(s) => Arg::Str(s),
            Sym::Int(i) => Arg::Int(i),
            Sym::Bool(b) => Arg::Bool(b),
            Sym::NoneValue => Arg::None,
            Sym::Path(p) => Arg::Path(canonical(&p)),
            Sym::Downloaded => Arg::Downloaded,
            Sym::List(_) | Sym::Namespace(_) | Sym::Unknown => Arg::Unknown,
        }
    }

    fn collect_call(&mut self, call: &ExprCall) {
        let Some((keep, _)) = &self.calls else {
            return;
        };
        let target = match self.value(&call.func) {
            Sym::Path(p) => canonical(&p),
            _ => match &*call.func {
                Expr::Attribute(a) => format!("?.{}", a.attr.id.as_str()),
                Expr::Name(n) => format!("?.{}", n.id.as_str()),
                _ => return,
            },
        };
        let trusts = call.arguments.keywords.iter().any(|k| {
            k.arg
                .as_ref()
                .is_some_and(|a| a.id.as_str() == "trust_remote_code")
        });
        if !keep(&target) && !trusts {
            return;
        }
        let start = call.start().to_usize();
        let line = line_of(self.source, start);
        let line_start = self.source[..start.min(self.source.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let column = self
            .source
            .get(line_start..start)
            .map_or(1, |s| s.chars().count() + 1);
        let text = self.source.get(call.range().to_std_range()).unwrap_or("");
        let snippet: String = text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(160)
            .collect();
        let args = call.arguments.args.iter().map(|a| self.arg(a)).collect();
        let keywords = call
            .arguments
            .keywords
            .iter()
            .map(|k| {
                let name = k.arg.as_ref().map_or("**", |a| a.id.as_str()).to_owned();
                (name, self.arg(&k.value))
            })
            .collect();
        if let Some((_, calls)) = &mut self.calls
            && calls.len() < MAX_CALLS
        {
            calls.push(Call {
                target,
                line,
                column,
                args,
                keywords,
                snippet,
            });
        }
    }

    fn judge_call(&mut self, call: &ExprCall) {
        self.collect_call(call);
        let callee = self.value(&call.func);
        let args = &call.arguments.args;
        let keyword = |name: &str| {
            call.arguments
                .keywords
                .iter()
                .find(|k| k.arg.as_ref().is_some_and(|a| a.id.as_str() == name))
                .map(|k| &k.value)
        };
        match callee {
            Sym::Path(path) => {
                let path = canonical(&path);
                match path.as_str() {
                    "builtins.open" | "io.open" | "os.fdopen" | "pathlib.Path.open" => {
                        let mode = args.get(1).or_else(|| keyword("mode"));
                        let writes = match mode {
                            None => false,
                            Some(m) => match self.string(m) {
                                Some(m) => m.contains(['w', 'a', 'x', '+']),
                                None => true,
                            },
                        };
                        if writes {
                            self.record(EffectKind::FileWrite, path, call);
                        }
                        return;
                    }
                    "os.open" => {
                        let flags = args.get(1).map(|f| {
                            self.source
                                .get(f.range().to_std_range())
                                .unwrap_or("")
                                .to_string()
                        });
                        if flags.is_some_and(|f| {
                            ["O_CREAT", "O_WRONLY", "O_RDWR", "O_TRUNC", "O_APPEND"]
                                .iter()
                                .any(|o| f.contains(o))
                                || !f.contains("O_")
                        }) {
                            self.record(EffectKind::FileWrite, path, call);
                        }
                        return;
                    }
                    "importlib.import_module" | "builtins.__import__" => {
                        if self.string(args.first().unwrap_or(&call.func)).is_none() {
                            self.record(EffectKind::DynamicImport, path, call);
                        }
                        return;
                    }
                    "builtins.getattr" => {
                        if let (Some(Sym::Path(obj)), Some(name)) =
                            (args.first().map(|a| self.value(a)), args.get(1))
                            && self.string(name).is_none()
                        {
                            self.record(
                                EffectKind::DynamicImport,
                                format!("getattr({obj}, <computed>)"),
                                call,
                            );
                        }
                        return;
                    }
                    "numpy.load" => {
                        let allow = keyword("allow_pickle")
                            .is_some_and(|v| !matches!(v, Expr::BooleanLiteral(b) if !b.value));
                        if allow {
                            self.record(EffectKind::Deserialize, path, call);
                        }
                        return;
                    }
                    "yaml.load" | "yaml.load_all" => {
                        let safe = keyword("Loader").or(args.get(1)).is_some_and(|l| {
                            matches!(self.value(l), Sym::Path(p) if p.ends_with("SafeLoader") || p.ends_with("CSafeLoader"))
                        });
                        if !safe {
                            self.record(EffectKind::Deserialize, path, call);
                        }
                        return;
                    }
                    "zipfile.ZipFile" | "tarfile.open" | "tarfile.TarFile" => {
                        let mode = args.get(1).or_else(|| keyword("mode"));
                        if mode.is_some_and(|m| {
                            self.string(m).is_none_or(|m| m.contains(['w', 'a', 'x']))
                        }) {
                            self.record(EffectKind::FileWrite, path, call);
                        }
                        return;
                    }
                    _ => {}
                }
                if let Some(kind) = classify(&path) {
                    self.record(kind, path, call);
                    return;
                }
                if let Expr::Attribute(a) = &*call.func
                    && WRITING_METHODS.contains(&a.attr.id.as_str())
                {
                    self.record(EffectKind::FileWrite, path, call);
                }
            }
            _ => {
                if let Expr::Attribute(a) = &*call.func
                    && WRITING_METHODS.contains(&a.attr.id.as_str())
                {
                    let target = format!(".{}()", a.attr.id.as_str());
                    self.record(EffectKind::FileWrite, target, call);
                }
            }
        }
    }

    fn bind(&mut self, target: &Expr, value: Sym) {
        match target {
            Expr::Name(n) => {
                self.env.insert(n.id.to_string(), value);
            }
            Expr::Tuple(t) => {
                let items = match value {
                    Sym::List(items) if items.len() == t.elts.len() => items,
                    _ => vec![Sym::Unknown; t.elts.len()],
                };
                for (e, v) in t.elts.iter().zip(items) {
                    self.bind(e, v);
                }
            }
            _ => {}
        }
    }
}

fn rot13(c: char) -> char {
    match c {
        'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
        'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
        _ => c,
    }
}

impl<'a> Visitor<'a> for Judge<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        walk_stmt(self, stmt);
        match stmt {
            Stmt::Import(import) => {
                for alias in &import.names {
                    let full = alias.name.id.to_string();
                    match &alias.asname {
                        Some(name) => {
                            self.env.insert(name.id.to_string(), Sym::Path(full));
                        }
                        None => {
                            let top = full.split('.').next().unwrap_or(&full).to_string();
                            self.env.insert(top.clone(), Sym::Path(top));
                        }
                    }
                }
            }
            Stmt::ImportFrom(from) => {
                let module = from
                    .module
                    .as_ref()
                    .map(|m| m.id.to_string())
                    .unwrap_or_default();
                let module = if from.level > 0 {
                    format!("{}{module}", ".".repeat(from.level as usize))
                } else {
                    module
                };
                for alias in &from.names {
                    let name = alias.name.id.as_str();
                    if name == "*" {
                        self.stars.push(module.clone());
                        continue;
                    }
                    let bound = alias.asname.as_ref().map_or(name, |a| a.id.as_str());
                    self.env
                        .insert(bound.to_string(), Sym::Path(format!("{module}.{name}")));
                }
            }
            Stmt::Assign(assign) => {
                let value = self.value(&assign.value);
                for target in &assign.targets {
                    self.bind(target, value.clone());
                }
            }
            Stmt::AnnAssign(assign) => {
                if let Some(value) = &assign.value {
                    let value = self.value(value);
                    self.bind(&assign.target, value);
                }
            }
            Stmt::AugAssign(assign) => {
                if assign.op == Operator::Add
                    && let Expr::Name(n) = &*assign.target
                {
                    let value = match (self.lookup(n.id.as_str()), self.value(&assign.value)) {
                        (Sym::Str(l), Sym::Str(r)) => Sym::Str(format!("{l}{r}")),
                        _ => Sym::Unknown,
                    };
                    self.env.insert(n.id.to_string(), value);
                }
            }
            Stmt::FunctionDef(f) => {
                self.env.insert(f.name.id.to_string(), Sym::Unknown);
            }
            Stmt::ClassDef(c) => {
                self.env.insert(c.name.id.to_string(), Sym::Unknown);
            }
            _ => {}
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if let Expr::Named(named) = expr {
            walk_expr(self, expr);
            let value = self.value(&named.value);
            self.bind(&named.target, value);
            return;
        }
        if let Expr::Call(call) = expr {
            self.judge_call(call);
        }
        walk_expr(self, expr);
    }
}

fn judge_module(source: &str, module: &ModModule) -> Vec<Effect> {
    let mut judge = Judge {
        source,
        env: HashMap::new(),
        stars: Vec::new(),
        found: Vec::new(),
        calls: None,
    };
    for stmt in &module.body {
        judge.visit_stmt(stmt);
    }
    judge.found
}

/// Which resolved call targets [`calls`] keeps.
type CallFilter = fn(&str) -> bool;

/// Most calls listed per module by [`calls`].
const MAX_CALLS: usize = 10_000;

/// What an argument of a [`Call`] is known to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// A string (or bytes as Latin-1) known at analysis time, folded through constants,
    /// concatenation and f-strings with constant parts.
    Str(String),
    /// An integer.
    Int(i64),
    /// `True` / `False`.
    Bool(bool),
    /// `None`.
    None,
    /// A module or an object inside one (`yaml.SafeLoader`), by dotted path.
    Path(String),
    /// Data fetched from the network at run time.
    Downloaded,
    /// Not known.
    Unknown,
}

/// One call, its target resolved through imports and aliases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The callable (`torch.load`), or `?.name` for a function or method not followed.
    pub target: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// Positional arguments.
    pub args: Vec<Arg>,
    /// Keyword arguments by name (`**` for `**kwargs`).
    pub keywords: Vec<(String, Arg)>,
    /// The call as written (first line, shortened).
    pub snippet: String,
}

impl Call {
    /// The keyword argument `name`, if given.
    pub fn keyword(&self, name: &str) -> Option<&Arg> {
        self.keywords
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Whether `**kwargs` is passed (any keyword may hide in it).
    pub fn has_splat(&self) -> bool {
        self.keywords.iter().any(|(k, _)| k == "**")
    }
}

/// Every call of `source` whose resolved target `keep` accepts, in source order, with its
/// arguments folded as far as constants go (at most 10,000).
pub fn calls(source: &str, keep: fn(&str) -> bool) -> Result<Vec<Call>, ParseFailure> {
    with_module(source, |module| {
        let mut judge = Judge {
            source,
            env: HashMap::new(),
            stars: Vec::new(),
            found: Vec::new(),
            calls: Some((keep, Vec::new())),
        };
        for stmt in &module.body {
            judge.visit_stmt(stmt);
        }
        judge.calls.map(|(_, c)| c).unwrap_or_default()
    })
}

/// Every call of `source` with an effect on the host, in source order.
pub fn effects(source: &str) -> Result<Vec<Effect>, ParseFailure> {
    with_module(source, |module| judge_module(source, module))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<(EffectKind, String)> {
        effects(source)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|e| (e.kind, e.target))
            .collect()
    }

    #[test]
    fn aliases_and_folded_names_are_followed() {
        let found = kinds("from os import system as _sh\n_sh('id')\n");
        assert_eq!(found, [(EffectKind::Spawn, "os.system".into())]);
        let found =
            kinds("import importlib\nm = importlib.import_module('o' + 's')\nm.system('id')\n");
        assert_eq!(found, [(EffectKind::Spawn, "os.system".into())]);
        let found = kinds("f = getattr(__import__(''.join(['o','s'])), 'sys' 'tem')\nf('x')\n");
        assert_eq!(found, [(EffectKind::Spawn, "os.system".into())]);
        let found = kinds("import builtins as b\nb.__dict__['ev' + 'al']('1')\n");
        assert_eq!(found, [(EffectKind::Exec, "builtins.eval".into())]);
        let found = kinds("import sys\nsys.modules['subprocess'].run(['id'])\n");
        assert_eq!(found, [(EffectKind::Spawn, "subprocess.run".into())]);
        let found = kinds("x = __import__('kcos'[::-1] + 'et')\nx.create_connection(('h', 1))\n");
        assert_eq!(
            found,
            [(EffectKind::Network, "socket.create_connection".into())]
        );
        let found = kinds("from posix import *\nsystem('x')\n");
        assert_eq!(found, [(EffectKind::Spawn, "os.system".into())]);
    }

    #[test]
    fn calls_resolve_aliases_fold_constants_and_taint_downloads() {
        let all = |_: &str| true;
        let found = calls(
            "import torch as t\nW = False\nREPO = 'org'\nt.load(f'{REPO}/m.pt', weights_only=W)\n\
             import requests\nr = requests.get(u)\nexec(r.text.strip())\nx.from_pretrained('a/b')\n",
            all,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let load = found
            .iter()
            .find(|c| c.target == "torch.load")
            .unwrap_or_else(|| panic!("{found:?}"));
        assert_eq!(load.args, [Arg::Str("org/m.pt".into())]);
        assert_eq!(load.keyword("weights_only"), Some(&Arg::Bool(false)));
        assert_eq!((load.line, load.column), (4, 1));
        let exec = found
            .iter()
            .find(|c| c.target == "builtins.exec")
            .unwrap_or_else(|| panic!("{found:?}"));
        assert_eq!(exec.args, [Arg::Downloaded]);
        assert!(found.iter().any(|c| c.target == "?.from_pretrained"));
        // The filter keeps only what it asks for, and calls that pass trust_remote_code.
        let few = calls(
            "import json\njson.dumps(1)\nf(trust_remote_code=True)\ng(x, trust_remote_code=True)\n",
            |t| t == "json.dumps",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(few.len(), 3, "{few:?}");
        assert_eq!(few[1].target, "?.f");
    }

    #[test]
    fn benign_code_is_clean_and_modes_matter() {
        assert!(kinds("import torch\nmodel.eval()\nx = open('vocab.txt').read()\nimport os\np = os.path.join('a', 'b')\n").is_empty());
        assert_eq!(
            kinds("open('/tmp/x', 'w').write('1')\n")[0].0,
            EffectKind::FileWrite
        );
        assert_eq!(
            kinds("import logging\nlogging.FileHandler('/tmp/x')\n")[0].0,
            EffectKind::FileWrite
        );
        assert_eq!(
            kinds("import importlib\nimportlib.import_module(name)\n")[0].0,
            EffectKind::DynamicImport
        );
        assert_eq!(
            kinds("import yaml\nyaml.load(s)\n")[0].0,
            EffectKind::Deserialize
        );
        assert!(kinds("import yaml\nyaml.load(s, Loader=yaml.SafeLoader)\n").is_empty());
        assert!(effects("def (:\n").is_err());
        let deep = format!("x = {}1{}\n", "(".repeat(5000), ")".repeat(5000));
        let _ = effects(&deep);
    }
}
