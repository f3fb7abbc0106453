//! Symbolic values in an arena, and their rendering in Python syntax.
//!
//! Values are stored once in a `Vec` and referred to by [`Id`]; the stack, the memo and
//! containers hold ids, so memo/DUP sharing never copies (a "billion laughs" pickle stays
//! linear in size). Rendering and walks are bounded by depth and by a node budget, never by
//! the logical (possibly exponential) size of the value graph.

use std::fmt::Write as _;

/// Index of a value in the arena.
pub(crate) type Id = u32;

/// A byte constant: inline when small, else a reference to where it lies in the input.
#[derive(Debug, Clone)]
pub(crate) enum Blob {
    /// The bytes, read; `at` is where they lie in the input, when they come from it.
    Inline { data: Vec<u8>, at: Option<u64> },
    /// Too large to read: where they lie, and the first bytes.
    External { at: u64, len: u64, preview: Vec<u8> },
}

/// How a call came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// REDUCE, INST/OBJ with arguments, or an extension-resolved call.
    Call,
    /// NEWOBJ / NEWOBJ_EX / `copyreg.__newobj__`: `cls.__new__(cls, ...)`.
    New,
}

/// A symbolic Python value.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer that does not fit `i64`, rendered in decimal (or as a size note).
    BigInt(String),
    Float(f64),
    Str(compact_str::CompactString),
    /// A string too long to read.
    BigStr {
        len: u64,
        preview: Box<str>,
    },
    Bytes(Box<Blob>),
    ByteArray(Box<Blob>),
    Tuple(Vec<Id>),
    List(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Set(Vec<Id>),
    FrozenSet(Vec<Id>),
    /// An imported name.
    Global(Box<GlobalName>),
    /// The result of invoking `callee`.
    Call {
        callee: Id,
        args: Id,
        kwargs: Option<Id>,
        kind: CallKind,
        state: Option<Id>,
    },
    /// `base.name` where `base` is not a global.
    Attr {
        base: Id,
        name: Box<str>,
    },
    PersistentId(Id),
    Buffer {
        readonly: bool,
    },
    Unknown,
    /// Plain data the machine no longer holds: a constant (number, string, bytes, or a tuple
    /// of them) that went into a container or the memo once the stream had more values than
    /// [`crate::Limits::detail_values`]. Known not to be callable, never computed at load
    /// time; its content is unknown, so whatever needs the content fails closed.
    Elided,
}

impl Value {
    /// A number, string, bytes, None or a bool: data that holds no other value.
    pub(crate) fn is_scalar(&self) -> bool {
        matches!(
            self,
            Value::None
                | Value::Bool(_)
                | Value::Int(_)
                | Value::BigInt(_)
                | Value::Float(_)
                | Value::Str(_)
                | Value::BigStr { .. }
                | Value::Bytes(_)
                | Value::ByteArray(_)
        )
    }
}

/// `module.qualname` of an imported name.
#[derive(Debug, Clone)]
pub(crate) struct GlobalName {
    pub(crate) module: String,
    pub(crate) qualname: String,
    /// The name `find_class` resolved it to where `fix_imports` rewrote it (protocol < 3:
    /// `copy_reg._reconstructor` is `copyreg._reconstructor`).
    pub(crate) resolved: Option<Box<(String, String)>>,
}

impl Value {
    /// A global value.
    pub(crate) fn global(module: &str, qualname: &str) -> Self {
        Value::Global(Box::new(GlobalName {
            module: module.to_owned(),
            qualname: qualname.to_owned(),
            resolved: None,
        }))
    }
}

/// The arena of values of one pickle stream.
#[derive(Default)]
pub(crate) struct Arena {
    values: Vec<Value>,
}

/// Cap on rendering depth.
const MAX_RENDER_DEPTH: usize = 24;
/// Bytes shown of a bytes constant.
const BYTES_PREVIEW: usize = 40;
/// Chars shown of a string constant.
const STR_PREVIEW: usize = 300;

impl Arena {
    /// Number of values.
    pub(crate) fn len(&self) -> usize {
        const _: () = assert!(std::mem::size_of::<Value>() <= 32);
        self.values.len()
    }

    /// Drops the values from `len` on (the caller proves nothing refers to them).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.values.truncate(len);
    }

    /// Adds a value (the caller checks the arena cap).
    pub(crate) fn push(&mut self, v: Value) -> Id {
        let id = self.values.len() as Id;
        self.values.push(v);
        id
    }

    /// The value of `id` (`Unknown` for a bad id).
    pub(crate) fn get(&self, id: Id) -> &Value {
        self.values.get(id as usize).unwrap_or(&Value::Unknown)
    }

    /// Mutable access to `id`.
    pub(crate) fn get_mut(&mut self, id: Id) -> Option<&mut Value> {
        self.values.get_mut(id as usize)
    }

    /// Constant string value of `id`.
    pub(crate) fn as_str(&self, id: Id) -> Option<&str> {
        match self.get(id) {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Items of a tuple value.
    pub(crate) fn tuple_items(&self, id: Id) -> Option<&[Id]> {
        match self.get(id) {
            Value::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// `module.qualname` of a global value.
    pub(crate) fn global_name(&self, id: Id) -> Option<(&str, &str)> {
        match self.get(id) {
            Value::Global(g) => Some((&g.module, &g.qualname)),
            _ => None,
        }
    }

    /// `module.qualname` of the object a global value is in the loading process: the name
    /// `fix_imports` rewrote it to, else as the pickle spells it.
    pub(crate) fn loader_name(&self, id: Id) -> Option<(&str, &str)> {
        match self.get(id) {
            Value::Global(g) => Some(match g.resolved.as_deref() {
                Some((m, q)) => (m, q),
                None => (&g.module, &g.qualname),
            }),
            _ => None,
        }
    }

    /// Renders `id` as a Python expression of at most `max` chars.
    pub(crate) fn render(&self, id: Id, max: usize) -> String {
        let mut out = String::new();
        self.render_into(id, &mut out, 0, max);
        truncate_chars(out, max)
    }

    /// Renders a call `callee(args, **kwargs)`.
    pub(crate) fn render_call(
        &self,
        callee: Id,
        args: Id,
        kwargs: Option<Id>,
        kind: CallKind,
        max: usize,
    ) -> String {
        let mut out = String::new();
        self.render_call_into(callee, args, kwargs, kind, &mut out, 0, max);
        truncate_chars(out, max)
    }

    #[allow(clippy::too_many_arguments)]
    fn render_call_into(
        &self,
        callee: Id,
        args: Id,
        kwargs: Option<Id>,
        kind: CallKind,
        out: &mut String,
        depth: usize,
        max: usize,
    ) {
        self.render_into(callee, out, depth + 1, max);
        if kind == CallKind::New {
            out.push_str(".__new__(");
            self.render_into(callee, out, depth + 1, max);
            if !matches!(self.get(args), Value::Tuple(items) if items.is_empty()) {
                out.push_str(", ");
            }
        } else {
            out.push('(');
        }
        self.render_args(args, out, depth + 1, max);
        if let Some(kw) = kwargs {
            match self.get(kw) {
                Value::Dict(pairs) if pairs.is_empty() => {}
                Value::Dict(pairs) => {
                    let mut first = matches!(self.get(args), Value::Tuple(i) if i.is_empty());
                    for &(k, v) in pairs {
                        if out.len() > max {
                            break;
                        }
                        if !first {
                            out.push_str(", ");
                        }
                        first = false;
                        match self.get(k) {
                            Value::Str(s) if is_identifier(s) => out.push_str(s),
                            _ => {
                                out.push_str("**{");
                                self.render_into(k, out, depth + 1, max);
                                out.push('}');
                            }
                        }
                        out.push('=');
                        self.render_into(v, out, depth + 1, max);
                    }
                }
                _ => {
                    out.push_str(", **");
                    self.render_into(kw, out, depth + 1, max);
                }
            }
        }
        out.push(')');
    }

    fn render_args(&self, args: Id, out: &mut String, depth: usize, max: usize) {
        match self.get(args) {
            Value::Tuple(items) => self.render_seq(items, out, depth, max),
            _ => {
                out.push('*');
                self.render_into(args, out, depth, max);
            }
        }
    }

    fn render_seq(&self, items: &[Id], out: &mut String, depth: usize, max: usize) {
        for (i, &item) in items.iter().enumerate() {
            if out.len() > max {
                out.push_str(", ...");
                return;
            }
            if i > 0 {
                out.push_str(", ");
            }
            self.render_into(item, out, depth, max);
        }
    }

    fn render_into(&self, id: Id, out: &mut String, depth: usize, max: usize) {
        if out.len() > max {
            return;
        }
        if depth > MAX_RENDER_DEPTH {
            out.push_str("...");
            return;
        }
        let d = depth + 1;
        match self.get(id) {
            Value::None => out.push_str("None"),
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::BigInt(s) => out.push_str(s),
            Value::Float(f) => render_float(*f, out),
            Value::Str(s) => render_str(s, out, STR_PREVIEW),
            Value::BigStr { len, preview, .. } => {
                render_str(preview, out, STR_PREVIEW);
                let _ = write!(out, "...<str of {len} bytes>");
            }
            Value::Bytes(b) => render_blob(b, out),
            Value::ByteArray(b) => {
                out.push_str("bytearray(");
                render_blob(b, out);
                out.push(')');
            }
            Value::Tuple(items) => {
                out.push('(');
                self.render_seq(items, out, d, max);
                if items.len() == 1 {
                    out.push(',');
                }
                out.push(')');
            }
            Value::List(items) => {
                out.push('[');
                self.render_seq(items, out, d, max);
                out.push(']');
            }
            Value::Set(items) if items.is_empty() => out.push_str("set()"),
            Value::Set(items) => {
                out.push('{');
                self.render_seq(items, out, d, max);
                out.push('}');
            }
            Value::FrozenSet(items) => {
                out.push_str("frozenset({");
                self.render_seq(items, out, d, max);
                out.push_str("})");
            }
            Value::Dict(pairs) => {
                out.push('{');
                for (i, &(k, v)) in pairs.iter().enumerate() {
                    if out.len() > max {
                        out.push_str(", ...");
                        break;
                    }
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.render_into(k, out, d, max);
                    out.push_str(": ");
                    self.render_into(v, out, d, max);
                }
                out.push('}');
            }
            Value::Global(g) => {
                out.push_str(&g.module);
                if !g.qualname.is_empty() {
                    out.push('.');
                    out.push_str(&g.qualname);
                }
            }
            Value::Call {
                callee,
                args,
                kwargs,
                kind,
                ..
            } => self.render_call_into(*callee, *args, *kwargs, *kind, out, d, max),
            Value::Attr { base, name } => {
                self.render_into(*base, out, d, max);
                out.push('.');
                out.push_str(name);
            }
            Value::PersistentId(pid) => {
                out.push_str("persistent_load(");
                self.render_into(*pid, out, d, max);
                out.push(')');
            }
            Value::Buffer { readonly } => out.push_str(if *readonly {
                "<out-of-band buffer, read-only>"
            } else {
                "<out-of-band buffer>"
            }),
            Value::Unknown => out.push_str("<unknown>"),
            Value::Elided => out.push_str("..."),
        }
    }

    /// Direct children of a value (containers, call parts, state).
    pub(crate) fn children(&self, id: Id, out: &mut Vec<Id>) {
        match self.get(id) {
            Value::Tuple(items)
            | Value::List(items)
            | Value::Set(items)
            | Value::FrozenSet(items) => out.extend_from_slice(items),
            Value::Dict(pairs) => {
                for &(k, v) in pairs {
                    out.push(k);
                    out.push(v);
                }
            }
            Value::Call {
                callee,
                args,
                kwargs,
                state,
                ..
            } => {
                out.push(*callee);
                out.push(*args);
                out.extend(kwargs.iter().copied());
                out.extend(state.iter().copied());
            }
            Value::Attr { base, .. } => out.push(*base),
            Value::PersistentId(p) => out.push(*p),
            _ => {}
        }
    }

    /// How many references `root` holds, each counted every time it is reached (what a copy,
    /// a comparison or a serialisation of the object visits), saturating; and how many distinct
    /// values those are. A reference back to a value being counted (a cycle) counts once.
    pub(crate) fn logical_size(&self, root: Id) -> (u64, usize) {
        const OPEN: u32 = u32::MAX;
        let mut size = vec![0u32; self.values.len()];
        let mut distinct = 0usize;
        let mut todo = vec![(root, false)];
        let mut kids = Vec::new();
        while let Some((id, closing)) = todo.pop() {
            let Some(&state) = size.get(id as usize) else {
                continue;
            };
            kids.clear();
            self.children(id, &mut kids);
            if closing {
                let total = kids.iter().fold(1u32, |acc, &k| {
                    let n = match size.get(k as usize) {
                        Some(&OPEN) | None => 1,
                        Some(&n) => n.max(1),
                    };
                    acc.saturating_add(n).min(OPEN - 1)
                });
                size[id as usize] = total;
                continue;
            }
            if state != 0 {
                continue;
            }
            distinct += 1;
            size[id as usize] = OPEN;
            todo.push((id, true));
            todo.extend(kids.iter().map(|&k| (k, false)));
        }
        let total = size
            .get(root as usize)
            .map_or(1, |&n| if n == OPEN { 1 } else { n });
        (u64::from(total), distinct)
    }

    /// Visits the values reachable from `root` (each at most once, at most `budget` of them),
    /// in a deterministic order.
    pub(crate) fn walk(&self, root: Id, budget: usize, mut visit: impl FnMut(Id, &Value)) {
        let mut seen = std::collections::HashSet::new();
        let mut todo = vec![root];
        let mut kids = Vec::new();
        let mut n = 0;
        while let Some(id) = todo.pop() {
            if !seen.insert(id) {
                continue;
            }
            n += 1;
            if n > budget {
                return;
            }
            visit(id, self.get(id));
            kids.clear();
            self.children(id, &mut kids);
            todo.extend(kids.iter().rev());
        }
    }
}

/// Truncates to at most `max` chars, marking the cut.
pub(crate) fn truncate_chars(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let mut t: String = s.chars().take(max.saturating_sub(3)).collect();
    t.push_str("...");
    t
}

/// Whether `s` is a Python identifier (ASCII subset plus any non-ASCII letter).
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c == '_' || c.is_alphabetic() => {}
        _ => return false,
    }
    chars.all(|c| c == '_' || c.is_alphanumeric())
}

fn render_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("float('nan')");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 {
            "float('inf')"
        } else {
            "float('-inf')"
        });
    } else {
        let _ = write!(out, "{f:?}");
    }
}

/// Renders a Python `str` literal (repr style), showing at most `max_chars` chars.
pub(crate) fn render_str(s: &str, out: &mut String, max_chars: usize) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for (i, c) in s.chars().enumerate() {
        if i >= max_chars {
            out.push(quote);
            out.push_str("...");
            return;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

fn render_bytes(data: &[u8], out: &mut String) {
    out.push_str("b'");
    for &b in data.iter().take(BYTES_PREVIEW) {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('\'');
}

fn render_blob(b: &Blob, out: &mut String) {
    match b {
        Blob::Inline { data, .. } => {
            render_bytes(data, out);
            if data.len() > BYTES_PREVIEW {
                let _ = write!(out, "...<{} bytes>", data.len());
            }
        }
        Blob::External { len, preview, .. } => {
            render_bytes(preview, out);
            let _ = write!(out, "...<{len} bytes>");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_python_syntax() {
        let mut a = Arena::default();
        let g = a.push(Value::global("os", "system"));
        let s = a.push(Value::Str("echo 'hi'".into()));
        let args = a.push(Value::Tuple(vec![s]));
        assert_eq!(
            a.render_call(g, args, None, CallKind::Call, 400),
            "os.system(\"echo 'hi'\")"
        );
        let b = a.push(Value::Bytes(Box::new(Blob::Inline {
            data: b"\x80\x04ab".to_vec(),
            at: None,
        })));
        let one = a.push(Value::Tuple(vec![b]));
        assert_eq!(a.render(one, 400), "(b'\\x80\\x04ab',)");
    }

    #[test]
    fn render_is_bounded_on_shared_graphs() {
        let mut a = Arena::default();
        let mut cur = a.push(Value::Str("lol".into()));
        for _ in 0..64 {
            cur = a.push(Value::List(vec![cur; 10]));
        }
        let r = a.render(cur, 400);
        assert!(r.chars().count() <= 400);
        let mut n = 0;
        a.walk(cur, 1000, |_, _| n += 1);
        assert_eq!(n, 65);
    }
}
