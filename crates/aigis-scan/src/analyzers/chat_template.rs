//! Static analysis of Jinja chat templates (GGUF `tokenizer.chat_template`, and any other place a
//! model ships one). Python loaders such as llama-cpp-python < 0.2.72 (CVE-2024-34359) rendered
//! these templates with an unsandboxed `jinja2.Environment`, where an attribute walk like
//! `cycler.__init__.__globals__.os.popen('id')` runs commands.
//!
//! The template is parsed with minijinja's parser (never rendered) and its syntax tree walked:
//! attribute and item access, `|attr()` arguments, call keyword names and every string an
//! expression can be folded to (concatenation, `~`, `join`, `format`, `replace`, reversal, escapes)
//! are checked against the names a sandbox escape needs. Python's sandbox forbids every
//! `_`-prefixed attribute; no real chat template touches one. A template that does not parse is
//! reported, and its raw text (escapes decoded) gets the same name checks so a parse error cannot
//! hide a payload.

use crate::{RuleId, Severity};
use minijinja::machinery::ast::{self, CallArg, Expr, Stmt};
use minijinja::machinery::parse;
use minijinja::syntax::SyntaxConfig;
use std::collections::HashMap;

/// Longest folded string kept while evaluating constant expressions.
const MAX_FOLDED: usize = 4096;
/// Deepest syntax tree walked (minijinja's parser already stops at 150 levels of nesting).
const MAX_WALK_DEPTH: usize = 400;

/// Most unary plus signs blanked before a template is given up as unparsable.
const MAX_UNARY_PLUS: usize = 256;

/// Prefix marking a folded list of constant strings (their concatenation follows), for `join`.
const LIST_MARK: &str = "\u{0}list\u{0}";

/// Non-dunder attribute names that only exist to reach interpreter internals.
const INTERNAL_NAMES: &[&str] = &[
    "func_globals",
    "func_code",
    "func_closure",
    "f_globals",
    "f_locals",
    "f_builtins",
    "f_back",
    "f_code",
    "gi_frame",
    "gi_code",
    "cr_frame",
    "cr_code",
    "ag_frame",
    "ag_code",
    "tb_frame",
    "tb_next",
    "co_code",
    "co_consts",
    "im_func",
    "im_self",
    "mro",
];

/// Jinja globals used as the first step of an attribute walk to Python internals.
const WALK_STARTS: &[&str] = &[
    "cycler",
    "joiner",
    "namespace",
    "lipsum",
    "range",
    "self",
    "config",
    "request",
    "url_for",
    "get_flashed_messages",
    "dict",
    "session",
    "g",
];

/// Modules a payload reaches for once it has the interpreter's globals.
const MODULE_NAMES: &[&str] = &[
    "os",
    "subprocess",
    "sys",
    "builtins",
    "importlib",
    "posix",
    "pty",
    "socket",
    "shutil",
    "ctypes",
    "marshal",
    "pickle",
];

/// Functions that run commands or code, or touch files.
const DANGEROUS_CALLS: &[&str] = &[
    "popen",
    "system",
    "eval",
    "exec",
    "execfile",
    "compile",
    "import_module",
    "load_module",
    "check_output",
    "check_call",
    "getoutput",
    "getstatusoutput",
    "spawnv",
    "spawnl",
    "execv",
    "execve",
    "execl",
    "fork",
    "Popen",
];

/// One problem found in a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateIssue {
    /// Rule the issue belongs to.
    pub rule: RuleId,
    /// Severity of this issue.
    pub severity: Severity,
    /// What was found.
    pub message: String,
}

/// Analyzes a Jinja template's text without rendering it.
pub fn analyze(text: &str) -> Vec<TemplateIssue> {
    let mut prepared = neutralise_extension_tags(text);
    // jinja2 reads a unary plus (`{{ +x }}`, `{{ a + +1 }}`), which minijinja's parser lacks: a
    // template could use one to make this parser give up while jinja2 renders it. A unary plus
    // is the identity, so each one the parser stops at is blanked and the parse retried.
    for _ in 0..MAX_UNARY_PLUS {
        let at = match parse(&prepared, "chat_template", SyntaxConfig::default()) {
            Ok(_) => break,
            Err(err) => err
                .range()
                .filter(|r| prepared.as_bytes().get(r.start) == Some(&b'+'))
                .map(|r| r.start),
        };
        match at {
            Some(at) => prepared.replace_range(at..at + 1, " "),
            None => break,
        }
    }
    let mut walker = Walker::default();
    match parse(&prepared, "chat_template", SyntaxConfig::default()) {
        Ok(tree) => {
            walker.collect_assigned(&tree, 0);
            walker.stmt(&tree, 0);
            // Names in the text that no parsed expression reaches: a Jinja parser that reads the
            // text differently could still execute them.
            if !walker.issues.iter().any(|i| i.severity >= Severity::High) {
                for issue in raw_name_checks(text) {
                    walker.push(
                        RuleId::ChatTemplateSuspicious,
                        Severity::High,
                        format!(
                            "{} (in template text outside parsed expressions)",
                            issue.message
                        ),
                    );
                }
            }
        }
        Err(err) => {
            walker.push(
                RuleId::ChatTemplateUnparsable,
                Severity::Medium,
                format!(
                    "chat template does not parse ({}: {}); a Python Jinja might still render it",
                    err.kind(),
                    err.detail().unwrap_or("")
                ),
            );
            for issue in raw_name_checks(text) {
                walker.issues.push(issue);
            }
        }
    }
    walker.issues
}

/// Replaces Hugging Face's `{% generation %}` / `{% endgeneration %}` marker tags (a transformers
/// extension for assistant masks) with comments of the same length, so spans stay true.
fn neutralise_extension_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{%") {
        let (before, tag_and_after) = rest.split_at(start);
        out.push_str(before);
        let Some(end) = tag_and_after
            .get(2..)
            .and_then(|t| t.find("%}"))
            .map(|e| e + 2)
        else {
            out.push_str(tag_and_after);
            return out;
        };
        let tag = &tag_and_after[..end + 2];
        let inner =
            tag[2..tag.len() - 2].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        if inner == "generation" || inner == "endgeneration" {
            out.push_str("{#");
            out.push_str(&" ".repeat(tag.len() - 4));
            out.push_str("#}");
        } else {
            out.push_str(tag);
        }
        rest = &tag_and_after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Why an attribute or item name is dangerous, if it is.
fn classify_name(name: &str) -> Option<(Severity, &'static str)> {
    if name.len() > 4 && name.starts_with("__") && name.ends_with("__") {
        return Some((Severity::Critical, "Python internal"));
    }
    if INTERNAL_NAMES.contains(&name) {
        return Some((Severity::Critical, "Python internal"));
    }
    if is_mangled(name) {
        return Some((Severity::Critical, "name-mangled private attribute"));
    }
    if name.starts_with('_') {
        return Some((Severity::High, "private attribute"));
    }
    if MODULE_NAMES.contains(&name) {
        return Some((Severity::High, "module"));
    }
    None
}

/// `_Class__attr`: a name-mangled private attribute such as `_TemplateReference__context`.
fn is_mangled(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('_') else {
        return false;
    };
    match rest.find("__") {
        Some(at) => {
            at > 0 && rest[..at].chars().all(|c| c.is_ascii_alphanumeric()) && rest.len() > at + 2
        }
        None => false,
    }
}

/// Every identifier-like token in `text` that names an interpreter internal.
fn dangerous_tokens(text: &str) -> Vec<(Severity, String)> {
    let mut hits = Vec::new();
    for token in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if token.is_empty() {
            continue;
        }
        let severe = (token.len() > 4 && token.starts_with("__") && token.ends_with("__"))
            || INTERNAL_NAMES.contains(&token) && token != "mro"
            || is_mangled(token);
        if severe && !hits.iter().any(|(_, t)| t == token) {
            hits.push((Severity::Critical, token.to_string()));
        }
    }
    hits
}

/// Name checks over the raw text, with Python string escapes decoded.
fn raw_name_checks(text: &str) -> Vec<TemplateIssue> {
    let decoded = join_adjacent_literals(&decode_python_escapes(text));
    let mut issues = Vec::new();
    for (severity, token) in dangerous_tokens(&decoded) {
        issues.push(TemplateIssue {
            rule: RuleId::ChatTemplateInjection,
            severity,
            message: format!("chat template reaches Python internal `{token}` (sandbox escape)"),
        });
    }
    let compact: String = decoded.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.contains("|attr(") {
        issues.push(TemplateIssue {
            rule: RuleId::ChatTemplateSuspicious,
            severity: Severity::High,
            message: "chat template uses the `attr` filter (dynamic attribute access)".into(),
        });
    }
    for call in DANGEROUS_CALLS {
        if compact.contains(&format!(".{call}(")) {
            issues.push(TemplateIssue {
                rule: RuleId::ChatTemplateSuspicious,
                severity: Severity::High,
                message: format!("chat template calls `{call}()`"),
            });
        }
    }
    issues
}

/// The text with string literals joined where a template concatenates them (`'__glo' ~ 'bals__'`,
/// `'a' + 'b'`, or side by side): a closing quote, an optional `~`/`+`, and an opening quote are
/// dropped, so names built from pieces are seen whole by the raw-text checks.
fn join_adjacent_literals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '\'' | '"') {
            let mut j = i + 1;
            while chars.get(j).is_some_and(|c| c.is_whitespace()) {
                j += 1;
            }
            if matches!(chars.get(j), Some('~' | '+')) {
                j += 1;
                while chars.get(j).is_some_and(|c| c.is_whitespace()) {
                    j += 1;
                }
            }
            if j > i + 1 && matches!(chars.get(j), Some('\'' | '"')) {
                i = j + 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Decodes `\xNN`, `\uNNNN`, `\UNNNNNNNN` and octal escapes the way Python string literals do.
fn decode_python_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let width = match chars.peek() {
            Some('x') => 2,
            Some('u') => 4,
            Some('U') => 8,
            Some('0'..='7') => 0,
            _ => {
                out.push(c);
                continue;
            }
        };
        let mut digits = String::new();
        if width == 0 {
            while digits.len() < 3 {
                match chars.peek() {
                    Some(d @ '0'..='7') => {
                        digits.push(*d);
                        chars.next();
                    }
                    _ => break,
                }
            }
            if let Some(ch) = u32::from_str_radix(&digits, 8)
                .ok()
                .and_then(char::from_u32)
            {
                out.push(ch);
            }
            continue;
        }
        let marker = chars.next().unwrap_or('x');
        while digits.len() < width {
            match chars.peek() {
                Some(d) if d.is_ascii_hexdigit() => {
                    digits.push(*d);
                    chars.next();
                }
                _ => break,
            }
        }
        match u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
        {
            Some(ch) if digits.len() == width => out.push(ch),
            _ => {
                out.push('\\');
                out.push(marker);
                out.push_str(&digits);
            }
        }
    }
    out
}

/// Walks the syntax tree, folding constant strings and recording issues.
#[derive(Default)]
struct Walker {
    issues: Vec<TemplateIssue>,
    /// Constant string values assigned to names with `{% set %}`.
    strings: HashMap<String, String>,
    /// Names the template itself binds (set, for, macro arguments, with).
    assigned: Vec<String>,
    too_deep: bool,
}

impl Walker {
    fn push(&mut self, rule: RuleId, severity: Severity, message: String) {
        if !self.issues.iter().any(|i| i.message == message) {
            self.issues.push(TemplateIssue {
                rule,
                severity,
                message,
            });
        }
    }

    fn deep(&mut self, depth: usize) -> bool {
        if depth > MAX_WALK_DEPTH {
            if !self.too_deep {
                self.too_deep = true;
                self.push(
                    RuleId::ChatTemplateUnparsable,
                    Severity::Medium,
                    "chat template nests too deeply to analyse fully".into(),
                );
            }
            return true;
        }
        false
    }

    fn check_name(&mut self, name: &str, how: &str) {
        if let Some((severity, what)) = classify_name(name) {
            let rule = if severity == Severity::Critical {
                RuleId::ChatTemplateInjection
            } else {
                RuleId::ChatTemplateSuspicious
            };
            self.push(
                rule,
                severity,
                format!("chat template {how} {what} `{name}` (sandbox escape)"),
            );
        }
    }

    /// Checks a folded string constant for internal names hidden inside it.
    fn check_string(&mut self, value: &str) {
        for candidate in [value.to_string(), decode_python_escapes(value)] {
            for (severity, token) in dangerous_tokens(&candidate) {
                self.push(
                    RuleId::ChatTemplateInjection,
                    severity,
                    format!(
                        "chat template builds the Python internal name `{token}` (sandbox escape)"
                    ),
                );
            }
        }
    }

    fn collect_assigned(&mut self, stmt: &Stmt<'_>, depth: usize) {
        if depth > MAX_WALK_DEPTH {
            return;
        }
        let mut names = Vec::new();
        for child in children(stmt) {
            self.collect_assigned(child, depth + 1);
        }
        match stmt {
            Stmt::ForLoop(f) => bind(&f.target, &mut names),
            Stmt::Set(s) => bind(&s.target, &mut names),
            Stmt::SetBlock(s) => bind(&s.target, &mut names),
            Stmt::WithBlock(w) => {
                for (target, _) in &w.assignments {
                    bind(target, &mut names);
                }
            }
            Stmt::Macro(m) => {
                names.push(m.name.to_string());
                for arg in &m.args {
                    bind(arg, &mut names);
                }
            }
            _ => {}
        }
        self.assigned.extend(names);
    }

    fn stmts(&mut self, body: &[Stmt<'_>], depth: usize) {
        for stmt in body {
            self.stmt(stmt, depth + 1);
        }
    }

    fn stmt(&mut self, stmt: &Stmt<'_>, depth: usize) {
        if self.deep(depth) {
            return;
        }
        match stmt {
            Stmt::Template(t) => self.stmts(&t.children, depth),
            Stmt::EmitExpr(e) => {
                self.expr(&e.expr, depth + 1);
            }
            Stmt::EmitRaw(_) | Stmt::Continue(_) | Stmt::Break(_) => {}
            Stmt::ForLoop(f) => {
                self.expr(&f.target, depth + 1);
                self.expr(&f.iter, depth + 1);
                if let Some(filter) = &f.filter_expr {
                    self.expr(filter, depth + 1);
                }
                self.stmts(&f.body, depth);
                self.stmts(&f.else_body, depth);
            }
            Stmt::IfCond(i) => {
                self.expr(&i.expr, depth + 1);
                self.stmts(&i.true_body, depth);
                self.stmts(&i.false_body, depth);
            }
            Stmt::WithBlock(w) => {
                for (target, value) in &w.assignments {
                    self.expr(target, depth + 1);
                    self.expr(value, depth + 1);
                }
                self.stmts(&w.body, depth);
            }
            Stmt::Set(s) => {
                let value = self.expr(&s.expr, depth + 1);
                self.expr(&s.target, depth + 1);
                if let (Expr::Var(var), Some(value)) = (&s.target, value) {
                    self.strings.insert(var.id.to_string(), value);
                }
            }
            Stmt::SetBlock(s) => {
                self.expr(&s.target, depth + 1);
                if let Some(filter) = &s.filter {
                    self.expr(filter, depth + 1);
                }
                self.stmts(&s.body, depth);
            }
            Stmt::AutoEscape(a) => {
                self.expr(&a.enabled, depth + 1);
                self.stmts(&a.body, depth);
            }
            Stmt::FilterBlock(f) => {
                self.expr(&f.filter, depth + 1);
                self.stmts(&f.body, depth);
            }
            Stmt::Block(b) => self.stmts(&b.body, depth),
            Stmt::Import(i) => {
                self.loads_template("imports", &i.expr);
                self.expr(&i.expr, depth + 1);
                self.expr(&i.name, depth + 1);
            }
            Stmt::FromImport(i) => {
                self.loads_template("imports from", &i.expr);
                self.expr(&i.expr, depth + 1);
                for (name, alias) in &i.names {
                    self.expr(name, depth + 1);
                    if let Some(alias) = alias {
                        self.expr(alias, depth + 1);
                    }
                }
            }
            Stmt::Extends(e) => {
                self.loads_template("extends", &e.name);
                self.expr(&e.name, depth + 1);
            }
            Stmt::Include(i) => {
                self.loads_template("includes", &i.name);
                self.expr(&i.name, depth + 1);
            }
            Stmt::Macro(m) => {
                for e in m.args.iter().chain(m.defaults.iter()) {
                    self.expr(e, depth + 1);
                }
                self.stmts(&m.body, depth);
            }
            Stmt::CallBlock(c) => {
                self.call(&c.call, depth + 1);
                for e in c.macro_decl.args.iter().chain(c.macro_decl.defaults.iter()) {
                    self.expr(e, depth + 1);
                }
                self.stmts(&c.macro_decl.body, depth);
            }
            Stmt::Do(d) => {
                self.call(&d.call, depth + 1);
            }
        }
    }

    /// `include`/`import`/`extends`: a chat template is one self-contained string, so loading
    /// another template only does something with a file-system loader, where it reads a file.
    fn loads_template(&mut self, verb: &str, name: &Expr<'_>) {
        let target = self.fold(name).map_or_else(
            || "a computed name".to_string(),
            |n| format!("`{}`", crate::analyzers::callables::clip(&n, 200)),
        );
        let msg = format!(
            "chat template {verb} the template {target}: with a file-system loader it reads that file"
        );
        self.push(RuleId::ChatTemplateSuspicious, Severity::High, msg);
    }

    /// Whether `expr` is a Jinja global the template did not rebind.
    fn is_walk_start(&self, expr: &Expr<'_>) -> Option<String> {
        match expr {
            Expr::Var(v)
                if WALK_STARTS.contains(&v.id) && !self.assigned.iter().any(|a| a == v.id) =>
            {
                Some(v.id.to_string())
            }
            _ => None,
        }
    }

    fn args(&mut self, args: &[CallArg<'_>], depth: usize) -> Vec<Option<String>> {
        let mut values = Vec::with_capacity(args.len());
        for arg in args {
            match arg {
                CallArg::Pos(e) => values.push(self.expr(e, depth)),
                CallArg::Kwarg(name, e) => {
                    self.check_name(name, "passes keyword");
                    self.expr(e, depth);
                }
                CallArg::PosSplat(e) | CallArg::KwargSplat(e) => {
                    self.expr(e, depth);
                }
            }
        }
        values
    }

    fn call(&mut self, call: &ast::Call<'_>, depth: usize) -> Option<String> {
        if self.deep(depth) {
            return None;
        }
        self.expr(&call.expr, depth + 1);
        let args = self.args(&call.args, depth + 1);
        let (name, target) = match &call.expr {
            Expr::Var(v) => (v.id, None),
            Expr::GetAttr(a) => (a.name, Some(&a.expr)),
            _ => return None,
        };
        if DANGEROUS_CALLS.contains(&name) || name == "__import__" {
            self.push(
                RuleId::ChatTemplateSuspicious,
                Severity::High,
                format!("chat template calls `{name}()`"),
            );
        }
        // Fold string methods on constant receivers.
        let target = target.and_then(|t| self.fold(t))?;
        let text_args: Vec<String> = args.into_iter().map(Option::unwrap_or_default).collect();
        let folded = match name {
            "format" => Some(python_brace_format(&target, &text_args)),
            "join" => text_args
                .first()
                .and_then(|a| a.strip_prefix(LIST_MARK))
                .map(|parts| parts.to_string()),
            "replace" => match text_args.as_slice() {
                [from, to, ..] if !from.is_empty() => Some(target.replace(from.as_str(), to)),
                _ => None,
            },
            "lower" => Some(target.to_lowercase()),
            "upper" => Some(target.to_uppercase()),
            "strip" | "lstrip" | "rstrip" => Some(target.trim().to_string()),
            _ => None,
        };
        folded.map(|s| self.finish_fold(s))
    }

    /// The constant string value of an already-walked expression, without reporting again.
    fn fold(&self, expr: &Expr<'_>) -> Option<String> {
        match expr {
            Expr::Const(c) => c.value.as_str().map(str::to_string),
            Expr::Var(v) => self.strings.get(v.id).cloned(),
            Expr::BinOp(b) if matches!(b.op, ast::BinOpKind::Concat | ast::BinOpKind::Add) => {
                let left = self.fold(&b.left)?;
                let right = self.fold(&b.right)?;
                Some(cap(left + &right))
            }
            _ => None,
        }
    }

    fn finish_fold(&mut self, value: String) -> String {
        let value = cap(value);
        self.check_string(&value);
        value
    }

    /// Walks an expression; returns its value when it folds to a constant string.
    fn expr(&mut self, expr: &Expr<'_>, depth: usize) -> Option<String> {
        if self.deep(depth) {
            return None;
        }
        let d = depth + 1;
        match expr {
            Expr::Var(v) => self.strings.get(v.id).cloned(),
            Expr::Const(c) => {
                if let Some(s) = c.value.as_str() {
                    let s = s.to_string();
                    return Some(self.finish_fold(s));
                }
                c.value.as_i64().map(|n| n.to_string())
            }
            Expr::Slice(s) => {
                let value = self.expr(&s.expr, d);
                for part in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    self.expr(part, d);
                }
                // `'...'[::-1]` reverses a string.
                let reversed = s.start.is_none()
                    && s.stop.is_none()
                    && matches!(&s.step, Some(Expr::UnaryOp(u)) if matches!(u.op, ast::UnaryOpKind::Neg));
                match (value, reversed) {
                    (Some(v), true) => Some(self.finish_fold(v.chars().rev().collect())),
                    _ => None,
                }
            }
            Expr::UnaryOp(u) => {
                self.expr(&u.expr, d);
                None
            }
            Expr::BinOp(b) => {
                let left = self.expr(&b.left, d);
                let right = self.expr(&b.right, d);
                match (b.op, left, right) {
                    (ast::BinOpKind::Concat | ast::BinOpKind::Add, Some(l), Some(r)) => {
                        Some(self.finish_fold(l + &r))
                    }
                    (ast::BinOpKind::Mul, Some(l), Some(r)) => {
                        let (text, times) = match (l.parse::<usize>(), r.parse::<usize>()) {
                            (Err(_), Ok(n)) => (l, n),
                            (Ok(n), Err(_)) => (r, n),
                            _ => return None,
                        };
                        let times = times.min(MAX_FOLDED / text.len().max(1));
                        Some(self.finish_fold(text.repeat(times)))
                    }
                    (ast::BinOpKind::Rem, Some(l), Some(r)) => {
                        Some(self.finish_fold(percent_format(&l, &[r])))
                    }
                    _ => None,
                }
            }
            Expr::Compare(c) => {
                self.expr(&c.expr, d);
                for op in &c.ops {
                    self.expr(&op.expr, d);
                }
                None
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr, d);
                self.expr(&i.true_expr, d);
                if let Some(f) = &i.false_expr {
                    self.expr(f, d);
                }
                None
            }
            Expr::Filter(f) => self.filter(f, d),
            Expr::Test(t) => {
                self.expr(&t.expr, d);
                self.args(&t.args, d);
                None
            }
            Expr::GetAttr(a) => {
                self.expr(&a.expr, d);
                self.check_name(a.name, "reads attribute");
                if let Some(start) = self.is_walk_start(&a.expr) {
                    self.push(
                        RuleId::ChatTemplateSuspicious,
                        Severity::High,
                        format!("chat template walks attributes of the Jinja global `{start}` (`{start}.{}`)", a.name),
                    );
                }
                None
            }
            Expr::GetItem(g) => {
                self.expr(&g.expr, d);
                if let Some(key) = self.expr(&g.subscript_expr, d) {
                    self.check_name(&key, "reads item");
                    if let Some(start) = self.is_walk_start(&g.expr) {
                        self.push(
                            RuleId::ChatTemplateSuspicious,
                            Severity::High,
                            format!("chat template walks items of the Jinja global `{start}` (`{start}['{key}']`)"),
                        );
                    }
                }
                None
            }
            Expr::Call(c) => self.call(c, d),
            Expr::List(l) => {
                let values: Vec<Option<String>> = l.items.iter().map(|e| self.expr(e, d)).collect();
                // A list of constant strings: remember their concatenation for `|join`.
                values
                    .into_iter()
                    .collect::<Option<Vec<String>>>()
                    .map(|parts| cap(parts.concat()))
                    .filter(|_| !l.items.is_empty())
                    .map(|s| format!("{LIST_MARK}{s}"))
            }
            Expr::Tuple(t) => {
                for e in &t.items {
                    self.expr(e, d);
                }
                None
            }
            Expr::Map(m) => {
                for e in m.keys.iter().chain(m.values.iter()) {
                    self.expr(e, d);
                }
                None
            }
        }
    }

    fn filter(&mut self, f: &ast::Filter<'_>, depth: usize) -> Option<String> {
        let input = f.expr.as_ref().and_then(|e| self.expr(e, depth));
        let args = self.args(&f.args, depth);
        if f.name == "attr" {
            match args.first().cloned().flatten() {
                Some(name) => {
                    self.check_name(&name, "reads attribute (via `attr`)");
                }
                None => self.push(
                    RuleId::ChatTemplateSuspicious,
                    Severity::High,
                    "chat template reads an attribute whose name is computed (`|attr(...)`)".into(),
                ),
            }
            return None;
        }
        let input = input?;
        let (is_list, text) = match input.strip_prefix(LIST_MARK) {
            Some(joined) => (true, joined.to_string()),
            None => (false, input),
        };
        let folded = match f.name {
            "join" if is_list => Some(text),
            "join" => Some(text),
            "format" => {
                let values: Vec<String> = args.into_iter().map(Option::unwrap_or_default).collect();
                Some(percent_format(&text, &values))
            }
            "replace" => match args.as_slice() {
                [Some(from), Some(to), ..] if !from.is_empty() => {
                    Some(text.replace(from.as_str(), to))
                }
                _ => None,
            },
            "reverse" => Some(text.chars().rev().collect()),
            "lower" => Some(text.to_lowercase()),
            "upper" => Some(text.to_uppercase()),
            "trim" | "string" | "safe" | "e" | "escape" => Some(text),
            _ => None,
        };
        folded.map(|s| self.finish_fold(s))
    }
}

/// Adds the variable names an assignment target binds.
fn bind(expr: &Expr<'_>, names: &mut Vec<String>) {
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Var(v) => names.push(v.id.to_string()),
            Expr::Tuple(t) => stack.extend(t.items.iter()),
            Expr::List(l) => stack.extend(l.items.iter()),
            _ => {}
        }
    }
}

/// The direct child statements of a statement.
fn children<'s, 'a>(stmt: &'s Stmt<'a>) -> Vec<&'s Stmt<'a>> {
    let bodies: Vec<&Vec<Stmt<'a>>> = match stmt {
        Stmt::Template(t) => vec![&t.children],
        Stmt::ForLoop(f) => vec![&f.body, &f.else_body],
        Stmt::IfCond(i) => vec![&i.true_body, &i.false_body],
        Stmt::WithBlock(w) => vec![&w.body],
        Stmt::SetBlock(s) => vec![&s.body],
        Stmt::AutoEscape(a) => vec![&a.body],
        Stmt::FilterBlock(f) => vec![&f.body],
        Stmt::Block(b) => vec![&b.body],
        Stmt::Macro(m) => vec![&m.body],
        Stmt::CallBlock(c) => vec![&c.macro_decl.body],
        _ => Vec::new(),
    };
    bodies.into_iter().flatten().collect()
}

fn cap(mut s: String) -> String {
    if s.len() > MAX_FOLDED {
        let mut end = MAX_FOLDED;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// Python's `'...' % args` / Jinja's `|format`: `%s`, `%r`, `%d`, `%c`, `%%`.
fn percent_format(template: &str, values: &[String]) -> String {
    let mut out = String::new();
    let mut next = values.iter();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('c') => {
                let v = next.next().cloned().unwrap_or_default();
                match v.parse::<u32>().ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&v),
                }
            }
            Some(_) => out.push_str(next.next().map_or("", String::as_str)),
            None => {}
        }
        if out.len() > MAX_FOLDED {
            break;
        }
    }
    out
}

/// Python's `'...'.format(args)` with positional `{}` / `{0}` fields.
fn python_brace_format(template: &str, values: &[String]) -> String {
    let mut out = String::new();
    let mut auto = 0usize;
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return cap(out);
        };
        let field = &after[..close];
        let index = if field.is_empty() {
            auto += 1;
            auto - 1
        } else {
            field.parse().unwrap_or(usize::MAX)
        };
        out.push_str(values.get(index).map_or("", String::as_str));
        rest = &after[close + 1..];
        if out.len() > MAX_FOLDED {
            return cap(out);
        }
    }
    out.push_str(rest);
    cap(out)
}

/// Largest template file or tokenizer config read.
const MAX_TEMPLATE_FILE: usize = 16 << 20;

/// Analyzer for chat templates outside GGUF, wherever a loader reads them: the `chat_template`
/// of `tokenizer_config.json` (one string, or a list of named templates), a processor's
/// `chat_template.json`, and a bare `chat_template.jinja` (or any `*.jinja` template). The
/// JSON files are read as transformers reads them (`json.load(open(p, encoding="utf-8"))`, see
/// [`crate::loaders::json`]); every template goes through [`analyze`], as GGUF's do.
pub struct ChatTemplateAnalyzer;

/// Whether text is a Jinja template by its content: it opens with a Jinja tag.
fn looks_like_jinja(text: &str) -> bool {
    let t = text.trim_start_matches('\u{feff}').trim_start();
    (t.starts_with("{%") || t.starts_with("{{") || t.starts_with("{#"))
        && (t.contains("message") || t.contains("bos_token") || t.contains("add_generation_prompt"))
}

/// The templates of a tokenizer or processor config: (key as shown, template).
fn config_templates(value: &serde_json::Value) -> Option<Vec<(String, String)>> {
    let template = value.as_object()?.get("chat_template")?;
    let mut out = Vec::new();
    match template {
        serde_json::Value::String(t) => out.push(("chat_template".to_string(), t.clone())),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let name = item
                    .get("name")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("?");
                if let Some(t) = item.get("template").and_then(serde_json::Value::as_str) {
                    out.push((
                        format!(
                            "chat_template[{i}] `{}`",
                            crate::analyzers::callables::clip(name, 60)
                        ),
                        t.to_string(),
                    ));
                }
            }
        }
        serde_json::Value::Object(map) => {
            for (name, t) in map {
                if let Some(t) = t.as_str() {
                    out.push((
                        format!(
                            "chat_template `{}`",
                            crate::analyzers::callables::clip(name, 60)
                        ),
                        t.to_string(),
                    ));
                }
            }
        }
        _ => {}
    }
    Some(out)
}

fn record_issues(key: &str, text: &str, cx: &mut crate::Context<'_>) {
    for issue in analyze(text) {
        let finding = crate::Finding::new(issue.rule, format!("`{key}`: {}", issue.message));
        cx.record(finding.with_severity(issue.severity), None);
    }
}

impl crate::Analyzer for ChatTemplateAnalyzer {
    fn id(&self) -> &'static str {
        "chat-template"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        crate::analyzers::nemo::looks_like_text(head)
    }

    fn analyze(
        &self,
        input: &crate::Input<'_>,
        cx: &mut crate::Context<'_>,
    ) -> Option<crate::Format> {
        if input.source.len() > MAX_TEMPLATE_FILE as u64 {
            return None;
        }
        let bytes = input.source.read_vec(0, MAX_TEMPLATE_FILE).ok()?;
        let trimmed = bytes.iter().position(|b| !b" \t\r\n".contains(b));
        // A JSON object (`{` then a key or `}`), not a Jinja tag (`{%`, `{{`, `{#`).
        let starts_json = trimmed.is_some_and(|i| {
            bytes.get(i) == Some(&b'{') && !matches!(bytes.get(i + 1), Some(b'%' | b'{' | b'#'))
        }) || bytes.starts_with(&[0xef, 0xbb, 0xbf, b'{']);
        if starts_json {
            use crate::loaders::json;
            let (value, refused) = match json::loads_utf8_text(&bytes, 64) {
                Ok(d) => (d.value, None),
                // transformers would not read it; another reader (json.loads(bytes)) might.
                Err(err) => match json::loads_bytes(&bytes, 64) {
                    Ok(d) => (d.value, Some(err)),
                    Err(_) => return None,
                },
            };
            let templates = config_templates(&value)?;
            if let Some(err) = refused {
                let msg = format!(
                    "config with a chat template that transformers cannot read ({err}); judged as Python's json.loads(bytes) reads it"
                );
                cx.malformed(crate::RuleId::FormatMalformed, msg, None);
            }
            for (key, text) in templates {
                record_issues(&key, &text, cx);
            }
            return Some(crate::Format::ChatTemplate);
        }
        let text = std::str::from_utf8(&bytes).ok()?;
        let named_jinja = input
            .name
            .map(str::to_string)
            .or_else(|| cx.file_path().map(|p| p.to_string_lossy().into_owned()))
            .is_some_and(|n| n.ends_with(".jinja"));
        if !named_jinja && !looks_like_jinja(text) {
            return None;
        }
        record_issues("chat template", text.trim_start_matches('\u{feff}'), cx);
        Some(crate::Format::ChatTemplate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_severity(template: &str) -> Option<Severity> {
        analyze(template).iter().map(|i| i.severity).max()
    }

    /// Chat templates of popular models, as published in their `tokenizer_config.json`.
    pub(crate) const BENIGN: &[(&str, &str)] = &[
        (
            "chatml",
            "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
        ),
        (
            "llama3",
            "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
        ),
        (
            "mistral",
            "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}",
        ),
        (
            "gemma",
            "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}",
        ),
        (
            "phi3",
            "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}",
        ),
        (
            "qwen2",
            "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
        ),
        (
            "deepseek",
            "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %}{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{%- set ns.is_first = true -%}{%- endif %}{%- endfor %}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor -%}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜>'}}{% endif %}",
        ),
        (
            "hermes-tools",
            "{%- macro json_to_python_type(json_spec) %}{%- set basic_type_map = {\"string\": \"str\", \"number\": \"float\", \"integer\": \"int\", \"boolean\": \"bool\"} %}{%- if basic_type_map[json_spec.type] is defined %}{{- basic_type_map[json_spec.type] }}{%- elif json_spec.type == \"array\" %}{{- \"list[\" +  json_to_python_type(json_spec|items) + \"]\"}}{%- elif json_spec.type == \"object\" %}{{- \"dict\" }}{%- else %}{{- \"Any\" }}{%- endif %}{%- endmacro %}{{- bos_token }}{{- '<|im_start|>system\nYou are a function calling AI model. <tools> ' }}{%- for tool in tools %}{%- if tool.function is defined %}{%- set tool = tool.function %}{%- endif %}{{- '{\"type\": \"function\", \"function\": ' }}{{- '\"name\": \"' + tool.name + '\", ' }}{{- '\"description\": \"' + tool.name + '(' }}{%- for param_name, param_fields in tool.parameters.properties|items %}{{- param_name + \": \" + json_to_python_type(param_fields) }}{%- if not loop.last %}{{- \", \" }}{%- endif %}{%- endfor %}{{- \")\" }}{{- tool.parameters|tojson }}{%- endfor %}{{- \" </tools>\" }}{%- for message in messages %}{%- if message.role == \"user\" or message.role == \"system\" or (message.role == \"assistant\" and message.tool_calls is not defined) %}{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}{%- elif message.role == \"tool\" %}{%- if loop.previtem and loop.previtem.role != \"tool\" %}{{- '<|im_start|>tool\n' }}{%- endif %}{{- '<tool_response>\n' }}{{- message.content }}{%- if not loop.last %}{{- '\n</tool_response>\n' }}{%- else %}{{- '\n</tool_response>' }}{%- endif %}{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}",
        ),
        (
            "llama3.1-tools",
            "{{- bos_token }}{%- if custom_tools is defined %}{%- set tools = custom_tools %}{%- endif %}{%- if not tools_in_user_message is defined %}{%- set tools_in_user_message = true %}{%- endif %}{%- if not date_string is defined %}{%- set date_string = strftime_now(\"%d %b %Y\") %}{%- endif %}{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content']|trim %}{%- set messages = messages[1:] %}{%- else %}{%- set system_message = \"\" %}{%- endif %}{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}{{- \"Today Date: \" + date_string + \"\\n\\n\" }}{%- for t in tools %}{{- t | tojson(indent=4) }}{{- \"\\n\\n\" }}{%- endfor %}{%- for message in messages %}{%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}{%- elif 'tool_calls' in message %}{%- if not message.tool_calls|length == 1 %}{{- raise_exception(\"This model only supports single tool-calls at once!\") }}{%- endif %}{%- set tool_call = message.tool_calls[0].function %}{{- '{\"name\": \"' + tool_call.name + '\", ' }}{{- '\"parameters\": ' }}{{- tool_call.arguments | tojson }}{{- \"}\" }}{{- \"<|eot_id|>\" }}{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}",
        ),
        (
            "generation-tags",
            "{% for message in messages %}{% if message.role == 'assistant' %}{% generation %}{{ message.content }}{% endgeneration %}{% else %}{{ message.content }}{% endif %}{% endfor %}",
        ),
        (
            "loop-controls",
            "{% for m in messages %}{% if m.role == 'system' %}{% continue %}{% endif %}{{ m.content | upper }}{% if loop.index > 10 %}{% break %}{% endif %}{% endfor %}",
        ),
    ];

    /// The sandbox-escape shapes seen in published GGUF template payloads.
    pub(crate) const MALICIOUS: &[(&str, &str)] = &[
        (
            "cycler-globals",
            "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        ),
        (
            "joiner-globals",
            "{{ joiner.__init__.__globals__.os.system('id') }}",
        ),
        (
            "self-context",
            "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('id').read() }}",
        ),
        (
            "catch-warnings",
            "{% for c in [].__class__.__base__.__subclasses__() %}{% if c.__name__ == 'catch_warnings' %}{{ c()._module.__builtins__['__import__']('os').popen('id').read() }}{% endif %}{% endfor %}",
        ),
        (
            "item-access",
            "{{ lipsum['__globals__']['os']['popen']('id')['read']() }}",
        ),
        (
            "attr-chain",
            "{{ (namespace|attr('__init__')|attr('__globals__'))['os'].popen('id').read() }}",
        ),
        (
            "hex-escaped",
            "{{ cycler['\\x5f\\x5finit\\x5f\\x5f']['\\x5f\\x5fglobals\\x5f\\x5f']['os'].popen('id').read() }}",
        ),
        (
            "unicode-escaped",
            "{{ cycler|attr('\\u005f\\u005finit\\u005f\\u005f') }}",
        ),
        (
            "concat",
            "{% set a = '__glo' %}{% set b = 'bals__' %}{{ cycler.__init__[a ~ b].os.popen('id') }}",
        ),
        (
            "concat-attr",
            "{{ cycler|attr('__in' + 'it__')|attr('__glo' ~ 'bals__') }}",
        ),
        ("join", "{{ lipsum|attr(['__glo', 'bals__']|join) }}"),
        (
            "format",
            "{{ lipsum|attr('%sglobals%s'|format('__', '__')) }}",
        ),
        (
            "format-char",
            "{{ lipsum|attr('%c%cglobals%c%c'|format(95, 95, 95, 95)) }}",
        ),
        ("reverse", "{{ lipsum|attr('__slabolg__'|reverse) }}"),
        ("slice-reverse", "{{ lipsum|attr('__slabolg__'[::-1]) }}"),
        (
            "computed-attr",
            "{% for m in messages %}{{ cycler|attr(m.content) }}{% endfor %}",
        ),
        ("range-walk", "{{ range.__init__.__globals__ }}"),
        (
            "request-app",
            "{{ request.application.__globals__.__builtins__.__import__('os').popen('id').read() }}",
        ),
        ("config-items", "{{ config.items() }}"),
        (
            "unparsable-payload",
            "{% for x in %}{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        ),
        (
            "unparsable-hex",
            "{{ ( }}{{ lipsum['\\x5f\\x5fglobals\\x5f\\x5f'] }}",
        ),
        ("func-globals", "{{ messages.append.func_globals }}"),
        ("kwarg-dunder", "{{ dict(__class__=1) }}"),
    ];

    #[test]
    fn benign_real_templates_are_clean() {
        for (name, template) in BENIGN {
            let issues = analyze(template);
            assert!(issues.is_empty(), "{name}: {issues:?}");
        }
    }

    #[test]
    fn every_payload_shape_is_flagged_high_or_worse() {
        for (name, template) in MALICIOUS {
            let severity = max_severity(template);
            assert!(
                severity.is_some_and(|s| s >= Severity::High),
                "{name}: {:?}",
                analyze(template)
            );
        }
    }

    #[test]
    fn dunder_walks_are_critical() {
        for name in [
            "cycler-globals",
            "self-context",
            "catch-warnings",
            "hex-escaped",
            "concat",
            "join",
            "format",
            "format-char",
            "reverse",
            "unicode-escaped",
        ] {
            let template = MALICIOUS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| *t)
                .unwrap_or("");
            assert_eq!(
                max_severity(template),
                Some(Severity::Critical),
                "{name}: {:?}",
                analyze(template)
            );
        }
    }

    #[test]
    fn payload_after_long_legit_prefix_is_found() {
        let mut template = BENIGN[0].1.repeat(20);
        template.push_str("{{ cycler.__init__.__globals__.os.popen('id').read() }}");
        assert!(template.len() > 2048);
        assert_eq!(max_severity(&template), Some(Severity::Critical));
    }

    #[test]
    fn unparsable_benign_template_is_medium() {
        let issues = analyze("{% for m in messages %}{{ m.content }}");
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].severity, Severity::Medium);
        assert_eq!(issues[0].rule, RuleId::ChatTemplateUnparsable);
    }

    /// A template this parser refuses still has its concatenated names seen whole, and a unary
    /// plus (which jinja2 reads) no longer makes it refuse one.
    #[test]
    fn pieces_and_unary_plus_do_not_hide_names() {
        for template in [
            "{% for m in messages %}{{ cycler['__in' ~ 'it__']['__glo' + 'bals__'] }}",
            "{% if x %}{{ joiner['__in' 'it__'] }}",
            "{{ +1 }}{{ cycler['__in' ~ 'it__']['__glo' ~ 'bals__']['os'] }}",
        ] {
            let issues = analyze(template);
            assert!(
                issues.iter().any(|i| i.severity >= Severity::High),
                "{template}: {issues:?}"
            );
        }
        let issues = analyze("{{ +x }}{{ messages[0]['content'] }}");
        assert!(issues.is_empty(), "{issues:?}");
    }

    #[test]
    fn escapes_decode_like_python() {
        assert_eq!(
            decode_python_escapes("\\x5f\\u005f\\U0000005f\\137"),
            "____"
        );
        assert_eq!(decode_python_escapes("a\\nb\\x4"), "a\\nb\\x4");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "[{}%#()\\[\\]|.'_a-z0-9 ~+-]{0,200}") {
            analyze(&text);
        }
    }

    #[test]
    fn odd_tags_do_not_panic() {
        for text in ["{%}", "{%%}", "{%-%}", "{% generation", "{%}generation%}"] {
            analyze(text);
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let deep = format!("{{{{ {}1{} }}}}", "(".repeat(5000), ")".repeat(5000));
        let issues = analyze(&deep);
        assert!(issues.iter().all(|i| i.severity <= Severity::Medium));
    }
}
