//! TorchScript code: the `code/` members of a `torch.jit.save` archive. `torch.jit.load` compiles
//! this Python-subset source and runs it: `__setstate__` (and every method it calls on `self`) at
//! load time, `forward` and the other methods when the model is called. The source is tokenized
//! (strings, comments, continuation lines and brackets as Python reads them) and every call site
//! is judged:
//!
//! - calls that create, write or read host files (`torch.from_file(..., shared=True)` maps a file
//!   writably and creates it; `torch.save`, `open`) and anything reaching `os`, `subprocess`,
//!   `builtins`, `eval`/`exec` or library loading → `TORCHSCRIPT-DANGEROUS-CALL`;
//! - operators outside the namespaces PyTorch and its domain libraries register
//!   (`ops.<ns>.<op>`) need a native library loaded first → `TORCHSCRIPT-CUSTOM-OP` (medium, high
//!   when it runs at load time).
//!
//! Recognised by content (TorchScript's serialized source) and scoped to archive members under a
//! `code/` folder; a `.py` file on disk is never taken for TorchScript.

use crate::analyzer::{Analyzer, Context, Input};
use crate::{Finding, Format, RuleId, Severity};
use std::collections::{BTreeMap, BTreeSet};

/// Largest code member read.
const MAX_SOURCE: usize = 8 << 20;
/// Findings of one kind listed individually per member.
const MAX_LISTED: usize = 32;

/// Operator namespaces registered by PyTorch itself and its domain libraries.
const KNOWN_NAMESPACES: &[&str] = &[
    "aten",
    "prim",
    "prims",
    "_prims",
    "quantized",
    "_quantized",
    "quantized_decomposed",
    "prepacked",
    "mkldnn",
    "mkldnn_prepacked",
    "xnnpack",
    "_caffe2",
    "profiler",
    "cuda",
    "c10d",
    "_c10d_functional",
    "_c10d_functional_autograd",
    "_dtensor",
    "rngprims",
    "higher_order",
    "_nested",
    "sparse",
    "onednn",
    "inductor",
    "_inductor_test",
    "torchvision",
    "torchaudio",
    "torchtext",
    "image",
    "fbgemm",
];

/// Module roots whose use is never part of a model.
const DANGEROUS_ROOTS: &[&str] = &[
    "os",
    "subprocess",
    "builtins",
    "__builtins__",
    "sys",
    "importlib",
    "shutil",
    "socket",
    "pickle",
    "marshal",
    "ctypes",
    "pathlib",
    "io",
];

/// Bare names that evaluate code or touch files.
const DANGEROUS_NAMES: &[&str] = &[
    "eval",
    "exec",
    "compile",
    "open",
    "__import__",
    "breakpoint",
];

/// Analyzer for TorchScript source members.
pub struct TorchscriptCodeAnalyzer;

/// Source text: no NUL byte, valid UTF-8 (a character cut at the end of the head allowed). What
/// the text says is judged in full; only members under `code/` are taken (see `analyze`).
fn looks_like_source(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

impl Analyzer for TorchscriptCodeAnalyzer {
    fn id(&self) -> &'static str {
        "torchscript-code"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        looks_like_source(head)
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let name = input.name?;
        let normalized = name.replace('\\', "/");
        if !(normalized.starts_with("code/") || normalized.contains("/code/"))
            || !normalized.ends_with(".py")
        {
            return None;
        }
        let len = usize::try_from(input.source.len()).unwrap_or(usize::MAX);
        let bytes = match input.source.read_vec(0, len.min(MAX_SOURCE)) {
            Ok(bytes) => bytes,
            Err(err) => {
                cx.read_error(&err);
                return Some(Format::Torchscript);
            }
        };
        if len > MAX_SOURCE {
            let finding = Finding::new(
                RuleId::ResourceLimit,
                format!(
                    "TorchScript source of {len} bytes is larger than aigis reads ({MAX_SOURCE}); \
                     torch.jit.load compiles all of it"
                ),
            );
            cx.record(finding.with_severity(Severity::High), None);
            cx.not_analysed("TorchScript source over the size aigis reads");
        }
        let text = String::from_utf8_lossy(&bytes);
        let calls = match calls(&text) {
            Ok(calls) => calls,
            Err(msg) => {
                cx.malformed(
                    RuleId::FormatMalformed,
                    format!(
                        "TorchScript source does not tokenize ({msg}); torch.jit.load refuses it"
                    ),
                    None,
                );
                return Some(Format::Torchscript);
            }
        };
        judge(&calls, cx);
        cx.model().set_framework("pytorch");
        Some(Format::Torchscript)
    }
}

/// One call site.
#[derive(Debug, Clone)]
struct Call {
    /// `Class.method` the call sits in (`""` at module level).
    place: String,
    /// The dotted name called (`torch.from_file`, `ops.myns.op`, `self.helper`).
    callee: String,
    /// The first string literal among the arguments.
    first_string: Option<String>,
    /// Keyword arguments given a literal `True`, and positional literals by index.
    true_keywords: Vec<String>,
    positional_true: Vec<usize>,
    line: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Num,
    Op(char),
    /// A logical line starts, with its indentation.
    Line(usize),
}

/// Tokenizes Python source: logical lines with their indentation (brackets and backslashes join
/// physical lines), names, strings (prefixes, triple quotes, escapes), numbers and operators.
fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let mut depth = 0usize;
    let mut at_line_start = true;
    while i < chars.len() {
        if at_line_start && depth == 0 {
            let mut col = 0;
            while i < chars.len() && matches!(chars[i], ' ' | '\t' | '\x0c') {
                col = if chars[i] == '\t' {
                    (col / 8 + 1) * 8
                } else {
                    col + 1
                };
                i += 1;
            }
            match chars.get(i) {
                None => break,
                Some('\n') | Some('\r') | Some('#') => {}
                Some(_) => {
                    out.push((Tok::Line(col), line));
                    at_line_start = false;
                }
            }
        }
        let Some(&c) = chars.get(i) else { break };
        match c {
            '\n' | '\r' => {
                if c == '\r' && chars.get(i + 1) == Some(&'\n') {
                    i += 1;
                }
                i += 1;
                line += 1;
                if depth == 0 {
                    at_line_start = true;
                }
            }
            ' ' | '\t' | '\x0c' => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' && chars[i] != '\r' {
                    i += 1;
                }
            }
            '\\' if matches!(chars.get(i + 1), Some('\n') | Some('\r')) => {
                i += 1;
                if chars.get(i) == Some(&'\r') && chars.get(i + 1) == Some(&'\n') {
                    i += 1;
                }
                i += 1;
                line += 1;
            }
            '\'' | '"' => {
                let (value, next, lines) = string(&chars, i, false)?;
                out.push((Tok::Str(value), line));
                line += lines;
                i = next;
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let lower = word.to_ascii_lowercase();
                if matches!(chars.get(i), Some('\'' | '"'))
                    && matches!(
                        lower.as_str(),
                        "r" | "u" | "b" | "br" | "rb" | "f" | "fr" | "rf"
                    )
                {
                    let (value, next, lines) = string(&chars, i, lower.contains('r'))?;
                    out.push((Tok::Str(value), line));
                    line += lines;
                    i = next;
                } else {
                    out.push((Tok::Name(word), line));
                }
            }
            c if c.is_ascii_digit() => {
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
                {
                    // Exponent signs belong to the number.
                    if matches!(chars[i], 'e' | 'E') && matches!(chars.get(i + 1), Some('+' | '-'))
                    {
                        i += 1;
                    }
                    i += 1;
                }
                out.push((Tok::Num, line));
            }
            '(' | '[' | '{' => {
                depth += 1;
                out.push((Tok::Op(c), line));
                i += 1;
            }
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                out.push((Tok::Op(c), line));
                i += 1;
            }
            other => {
                out.push((Tok::Op(other), line));
                i += 1;
            }
        }
    }
    if depth > 0 {
        return Err("unclosed bracket at the end of the source".into());
    }
    Ok(out)
}

/// A string literal starting at `chars[start]` (the quote): its value (escapes resolved unless
/// raw), the index after it and the newlines inside it.
fn string(chars: &[char], start: usize, raw: bool) -> Result<(String, usize, usize), String> {
    let quote = chars[start];
    let triple = chars.get(start + 1) == Some(&quote) && chars.get(start + 2) == Some(&quote);
    let mut i = start + if triple { 3 } else { 1 };
    let mut value = String::new();
    let mut lines = 0;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("unterminated string".into());
        };
        if c == quote
            && (!triple || (chars.get(i + 1) == Some(&quote) && chars.get(i + 2) == Some(&quote)))
        {
            return Ok((value, i + if triple { 3 } else { 1 }, lines));
        }
        if c == '\n' {
            if !triple {
                return Err("unterminated string".into());
            }
            lines += 1;
        }
        if c == '\\' {
            let Some(&next) = chars.get(i + 1) else {
                return Err("unterminated string".into());
            };
            if raw {
                value.push('\\');
                value.push(next);
            } else {
                match next {
                    'n' => value.push('\n'),
                    't' => value.push('\t'),
                    '\\' | '\'' | '"' => value.push(next),
                    '\n' => lines += 1,
                    'x' => {
                        let hex: String = chars.iter().skip(i + 2).take(2).collect();
                        if let Some(ch) =
                            u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                        {
                            value.push(ch);
                            i += 2;
                        }
                    }
                    other => {
                        value.push('\\');
                        value.push(other);
                    }
                }
            }
            i += 2;
            continue;
        }
        value.push(c);
        i += 1;
    }
}

/// Every call site of the source, with the class and function it sits in.
fn calls(text: &str) -> Result<Vec<Call>, String> {
    let tokens = tokenize(text)?;
    let mut out = Vec::new();
    // (indent, name) of enclosing class/def blocks.
    let mut blocks: Vec<(usize, bool, String)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let (tok, line) = &tokens[i];
        if let Tok::Line(indent) = tok {
            blocks.retain(|(ind, _, _)| ind < indent);
            if let (Some((Tok::Name(kw), _)), Some((Tok::Name(name), _))) =
                (tokens.get(i + 1), tokens.get(i + 2))
                && (kw == "class" || kw == "def")
            {
                blocks.push((*indent, kw == "class", name.clone()));
            }
            i += 1;
            continue;
        }
        // A dotted name chain followed by `(`: a call. The chain must not continue another
        // expression's attribute (`(x).forward(` counts as `.forward`).
        if let Tok::Name(first) = tok {
            let after_dot = i > 0 && tokens[i - 1].0 == Tok::Op('.');
            let mut chain = vec![first.clone()];
            let mut j = i + 1;
            while let (Some((Tok::Op('.'), _)), Some((Tok::Name(n), _))) =
                (tokens.get(j), tokens.get(j + 1))
            {
                chain.push(n.clone());
                j += 2;
            }
            if tokens.get(j).map(|t| &t.0) == Some(&Tok::Op('(')) {
                let mut callee = chain.join(".");
                // `(self).method(...)`, as TorchScript serializes calls on self.
                let on_self = i >= 4
                    && tokens[i - 2].0 == Tok::Op(')')
                    && tokens[i - 3].0 == Tok::Name("self".into())
                    && tokens[i - 4].0 == Tok::Op('(');
                if after_dot && on_self {
                    callee = format!("self.{callee}");
                } else if after_dot {
                    callee = format!(".{callee}");
                }
                let place = place(&blocks);
                let (first_string, true_keywords, positional_true) = arguments(&tokens, j);
                out.push(Call {
                    place,
                    callee,
                    first_string,
                    true_keywords,
                    positional_true,
                    line: *line,
                });
            } else if !after_dot {
                // A reference without a call (`f = eval`, `g = os.system`) is judged like one.
                let bare =
                    chain.len() == 1 && matches!(first.as_str(), "eval" | "exec" | "__import__");
                let module = chain.len() > 1 && DANGEROUS_ROOTS.contains(&first.as_str());
                if bare || module {
                    out.push(Call {
                        place: place(&blocks),
                        callee: chain.join("."),
                        first_string: None,
                        true_keywords: Vec::new(),
                        positional_true: Vec::new(),
                        line: *line,
                    });
                }
            }
            i = j;
            continue;
        }
        i += 1;
    }
    Ok(out)
}

fn place(blocks: &[(usize, bool, String)]) -> String {
    let class = blocks.iter().rev().find(|b| b.1).map(|b| b.2.as_str());
    let function = blocks.iter().rev().find(|b| !b.1).map(|b| b.2.as_str());
    match (class, function) {
        (Some(c), Some(f)) => format!("{c}.{f}"),
        (None, Some(f)) => f.to_string(),
        (Some(c), None) => c.to_string(),
        (None, None) => String::new(),
    }
}

/// The first string argument, keywords set to `True`, and positions of literal `True` arguments
/// of the call whose `(` is at `open`.
fn arguments(tokens: &[(Tok, usize)], open: usize) -> (Option<String>, Vec<String>, Vec<usize>) {
    let mut depth = 0usize;
    let mut first_string = None;
    let mut keywords = Vec::new();
    let mut positional = Vec::new();
    let mut index = 0usize;
    let mut k = open;
    while let Some((tok, _)) = tokens.get(k) {
        match tok {
            Tok::Op('(' | '[' | '{') => depth += 1,
            Tok::Op(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Tok::Op(',') if depth == 1 => index += 1,
            Tok::Str(s) if first_string.is_none() => first_string = Some(s.clone()),
            Tok::Name(n) if depth == 1 && n == "True" => {
                let keyword = match (tokens.get(k.wrapping_sub(2)), tokens.get(k.wrapping_sub(1))) {
                    (Some((Tok::Name(key), _)), Some((Tok::Op('='), _))) => Some(key.clone()),
                    _ => None,
                };
                match keyword {
                    Some(key) => keywords.push(key),
                    None => positional.push(index),
                }
            }
            _ => {}
        }
        k += 1;
    }
    (first_string, keywords, positional)
}

/// What a call does, if it matters: severity and effect.
fn dangerous(call: &Call) -> Option<(Severity, String)> {
    let callee = call.callee.trim_start_matches('.');
    let short = callee
        .strip_prefix("torch.ops.")
        .or_else(|| callee.strip_prefix("ops."))
        .map(|rest| format!("ops.{rest}"));
    let is = |names: &[&str]| {
        names.contains(&callee) || short.as_deref().is_some_and(|s| names.contains(&s))
    };
    let root = callee.split('.').next().unwrap_or(callee);
    if call.callee.starts_with('.') {
        return None;
    }
    if is(&["torch.from_file", "ops.aten.from_file"]) {
        let shared =
            call.true_keywords.iter().any(|k| k == "shared") || call.positional_true.contains(&1);
        let path = call
            .first_string
            .as_deref()
            .unwrap_or("a path from the model's state");
        return Some(if shared {
            (
                Severity::Critical,
                format!(
                    "maps `{path}` writably (shared=True creates the file and writes tensor data to it)"
                ),
            )
        } else {
            (
                Severity::High,
                format!("reads the host file `{path}` into a tensor"),
            )
        });
    }
    if is(&[
        "torch.save",
        "torch.jit.save",
        "ops.aten.save",
        "torch._C._save_parameters",
        "torch._C._save_for_mobile",
    ]) {
        return Some((Severity::Critical, "writes a file".into()));
    }
    if is(&["torch.load", "torch.jit.load", "torch._C.import_ir_module"]) {
        return Some((Severity::High, "loads another model file".into()));
    }
    if is(&[
        "torch.ops.load_library",
        "torch.classes.load_library",
        "ops.load_library",
    ]) {
        return Some((Severity::Critical, "loads a native library".into()));
    }
    if DANGEROUS_NAMES.contains(&callee) {
        return Some((Severity::Critical, format!("calls Python's `{callee}`")));
    }
    if DANGEROUS_ROOTS.contains(&root) {
        return Some((Severity::Critical, format!("reaches the `{root}` module")));
    }
    None
}

/// The namespace of an `ops.<ns>.<op>` call outside the known ones.
fn custom_namespace(call: &Call) -> Option<String> {
    let callee = call.callee.as_str();
    let rest = callee
        .strip_prefix("torch.ops.")
        .or_else(|| callee.strip_prefix("ops."))?;
    let ns = rest.split('.').next()?;
    (!KNOWN_NAMESPACES.contains(&ns) && rest.contains('.')).then(|| ns.to_string())
}

/// Methods that run at `torch.jit.load`: `__setstate__` and what it calls on `self`.
fn load_time(calls: &[Call]) -> BTreeSet<String> {
    let mut methods: BTreeSet<String> = calls
        .iter()
        .map(|c| c.place.clone())
        .filter(|p| p.ends_with(".__setstate__") || p == "__setstate__")
        .collect();
    loop {
        let mut added = false;
        for call in calls {
            if !methods.contains(&call.place) {
                continue;
            }
            let Some(method) = call.callee.strip_prefix("self.") else {
                continue;
            };
            if method.contains('.') {
                continue;
            }
            let class = call.place.rsplit_once('.').map_or("", |(c, _)| c);
            let target = if class.is_empty() {
                method.to_string()
            } else {
                format!("{class}.{method}")
            };
            added |= methods.insert(target);
        }
        if !added {
            return methods;
        }
    }
}

fn judge(calls: &[Call], cx: &mut Context<'_>) {
    let at_load = load_time(calls);
    let mut listed = 0usize;
    let mut custom: BTreeMap<String, (bool, String)> = BTreeMap::new();
    for call in calls {
        let loading = at_load.contains(&call.place);
        let when = if loading {
            format!("at torch.jit.load (`{}`)", call.place)
        } else if call.place.is_empty() {
            "when the code is compiled".to_string()
        } else {
            format!("when `{}` runs", call.place)
        };
        if let Some((severity, what)) = dangerous(call) {
            if listed < MAX_LISTED {
                listed += 1;
                let finding = Finding::new(
                    RuleId::TorchscriptDangerousCall,
                    format!(
                        "TorchScript calls `{}` {when}, line {}: {what}",
                        call.callee, call.line
                    ),
                );
                cx.record(finding.with_severity(severity), None);
            }
        } else if let Some(ns) = custom_namespace(call) {
            let entry = custom
                .entry(ns)
                .or_insert_with(|| (loading, call.callee.clone()));
            entry.0 |= loading;
        }
    }
    for (ns, (loading, example)) in custom.iter().take(MAX_LISTED) {
        let mut finding = Finding::new(
            RuleId::TorchscriptCustomOp,
            format!(
                "TorchScript calls operators of namespace `{ns}` (e.g. `{example}`){}: loading needs \
                 the native library that registers them",
                if *loading { " at torch.jit.load" } else { "" }
            ),
        );
        if *loading {
            finding.severity = Severity::High;
        }
        cx.record(finding, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The code `torch.jit.save` writes for a benign module (torch 2.15).
    const BENIGN: &str = "class Linear(Module):
  __parameters__ = [\"weight\", \"bias\", ]
  __buffers__ = []
  weight : Tensor
  bias : Tensor
  training : bool
  out_features : Final[int] = 2
  def forward(self: __torch__.torch.nn.modules.linear.Linear,
    input: Tensor) -> Tensor:
    weight = self.weight
    bias = self.bias
    return torch.linear(input, weight, bias)
  def __setstate__(self: __torch__.Linear,
    state: Tuple[Tensor, Optional[Tensor]]) -> NoneType:
    self.weight = (state)[0]
    _0 = ops.quantized.linear_prepack(self.weight, None)
    return None
";

    fn judged(code: &str) -> Vec<(Severity, String)> {
        let calls = calls(code).unwrap_or_else(|e| panic!("{e}"));
        let at_load = load_time(&calls);
        let mut out: Vec<(Severity, String)> = calls
            .iter()
            .filter_map(|c| {
                dangerous(c).map(|d| (d.0, format!("{} {}", c.callee, at_load.contains(&c.place))))
            })
            .collect();
        out.extend(
            calls
                .iter()
                .filter_map(custom_namespace)
                .map(|ns| (Severity::Medium, ns)),
        );
        out
    }

    #[test]
    fn benign_code_is_clean() {
        assert!(judged(BENIGN).is_empty());
    }

    #[test]
    fn file_writes_custom_ops_and_escapes() {
        let code = "class Net(Module):
  path : str
  def forward(self: __torch__.Net, x: Tensor) -> Tensor:
    return ops.evilns.run(x)
  def __setstate__(self: __torch__.Net, state: List[str]) -> NoneType:
    self.path = state[0]
    _0 = (self).helper(\"x\")
    return None
  def helper(self: __torch__.Net, p: str) -> int:
    t = torch.from_file(\"/tmp/aigis-x\", True, 4)
    u = torch.from_file(self.path, size=4, shared=True)
    v = torch.from_file(\"/etc/passwd\", size=4)
    # torch.save(x, \"/comment/only\")
    s = \"os.system('not a call')\"
    return 1
";
        let found = judged(code);
        assert!(
            found.contains(&(Severity::Medium, "evilns".to_string())),
            "{found:?}"
        );
        let writes: Vec<_> = found
            .iter()
            .filter(|(s, m)| *s == Severity::Critical && m == "torch.from_file true")
            .collect();
        assert_eq!(writes.len(), 2, "{found:?}");
        assert!(found.contains(&(Severity::High, "torch.from_file true".into())));
        assert!(
            !found
                .iter()
                .any(|(_, m)| m.contains("save") || m.contains("os."))
        );
        let escapes = judged(
            "def f(x: int) -> int:\n  _0 = os.system(\"id\")\n  g = eval\n  return builtins.getattr(x, \"y\")\n",
        );
        assert_eq!(escapes.len(), 3, "{escapes:?}");
    }

    #[test]
    fn sniff_is_by_content() {
        assert!(looks_like_source(BENIGN.as_bytes()));
        assert!(looks_like_source(b"op_version_set = 1\nclass A(Module):\n"));
        assert!(looks_like_source(b"import os\nos.system('id')\n"));
        assert!(!looks_like_source(b"\x80\x02}q\x00."));
        assert!(!looks_like_source(b"\xff\xfe\x00"));
    }
    /// Random token soups never panic.
    #[test]
    fn random_sources_never_panic() {
        const PIECES: &[&str] = &[
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            ".",
            ",",
            "=",
            "self",
            "torch",
            "ops",
            "from_file",
            "x",
            "\"s\"",
            "'''",
            "\\\n",
            "\n",
            "  ",
            "#c",
            "def ",
            "class ",
            "__setstate__",
            "True",
            "shared",
            "1e+5",
            "r'",
            "\"",
            "\\",
            ":",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..5_000 {
            let len = (next() % 60) as usize;
            let text: String = (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            if let Ok(found) = calls(&text) {
                let _ = load_time(&found);
                for call in &found {
                    let _ = (dangerous(call), custom_namespace(call));
                }
            }
        }
    }
}
