//! Python source that a model runs, parsed with a real Python parser (ruff's, as published for
//! RustPython: `rustpython-ruff_python_parser`, pinned exactly) and judged by what its calls
//! reach — never by searching the text. Shared by every analyzer of code a loader imports (MLflow
//! loader modules and code paths, a repository's `modeling_*.py` for `trust_remote_code`, local
//! modules named by Hydra targets) and, later, by code scanning.
//!
//! [`parse`] turns source into a syntax tree (in a thread with a large stack: the parser is
//! recursive, and nesting is the input's choice); [`effects`] walks it and lists every call
//! that reaches code execution, process spawning, the network, file writes, deserialisation or
//! native code, after following import aliases (`from os import system as _sh`), assignments of
//! callables, `getattr` with constant names, and dynamic imports whose name folds to a constant
//! (`importlib.import_module("o" + "s")`, `__import__("".join(["o", "s"]))`). A dynamic import or
//! `getattr` whose name cannot be folded is reported as such: what it reaches is not in the file.

mod effects;

pub use effects::{Arg, Call, Effect, EffectKind, calls, effects};

use ruff_python_ast::ModModule;

/// Largest source parsed (bytes).
pub const MAX_SOURCE: usize = 16 << 20;
/// Stack of the parsing thread.
const PARSER_STACK: usize = 256 << 20;

/// Why a source was not parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseFailure {
    /// Not valid Python 3 (the message and 1-based line of the first error).
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// Larger than [`MAX_SOURCE`].
    #[error("larger than {MAX_SOURCE} bytes")]
    TooLarge,
    /// The parser thread could not run or failed.
    #[error("parser failed: {0}")]
    Parser(String),
}

/// Deepest bracket nesting accepted before parsing.
const MAX_NESTING: usize = 1_000;

/// Deepest nesting of `(`, `[` and `{` outside comments and string literals.
fn bracket_depth(source: &str) -> usize {
    let bytes = source.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            quote @ (b'"' | b'\'') => {
                let triple = bytes.get(i..i + 3) == Some(&[quote, quote, quote][..]);
                i += if triple { 3 } else { 1 };
                while i < bytes.len() {
                    if bytes[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if triple {
                        if bytes.get(i..i + 3) == Some(&[quote, quote, quote][..]) {
                            i += 2;
                            break;
                        }
                    } else if bytes[i] == quote || bytes[i] == b'\n' {
                        break;
                    }
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// 1-based line of byte `offset` in `source`.
pub fn line_of(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Runs `f` over the parsed module of `source`.
pub fn with_module<T: Send>(
    source: &str,
    f: impl FnOnce(&ModModule) -> T + Send,
) -> Result<T, ParseFailure> {
    if source.len() > MAX_SOURCE {
        return Err(ParseFailure::TooLarge);
    }
    // The parser recurses once per bracket: deeper nesting than CPython accepts (200) would
    // only spend the stack. Counted outside comments and string literals.
    if bracket_depth(source) > MAX_NESTING {
        return Err(ParseFailure::Syntax {
            line: 1,
            message: format!(
                "brackets nested deeper than {MAX_NESTING} levels (CPython refuses past 200)"
            ),
        });
    }
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("aigis-python-parser".into())
            .stack_size(PARSER_STACK)
            .spawn_scoped(scope, || match ruff_python_parser::parse_module(source) {
                Ok(parsed) => Ok(f(parsed.syntax())),
                Err(err) => Err(ParseFailure::Syntax {
                    line: line_of(source, usize::from(err.location.start())),
                    message: err.error.to_string(),
                }),
            })
            .map_err(|e| ParseFailure::Parser(e.to_string()))?;
        handle
            .join()
            .map_err(|_| ParseFailure::Parser("the parser panicked".into()))?
    })
}

/// Parses `source` and says whether it is valid Python 3.
pub fn parse(source: &str) -> Result<(), ParseFailure> {
    with_module(source, |_| ())
}

#[cfg(test)]
mod tests {
    use super::{ParseFailure, bracket_depth, with_module};

    #[test]
    fn nesting_is_counted_outside_strings_and_comments() {
        assert_eq!(bracket_depth("f([1, {2: (3)}])"), 4);
        assert_eq!(
            bracket_depth("s = '((((' # [[[[\nt = \"\"\"(((\n(((\"\"\" + (1)"),
            1
        );
        assert_eq!(bracket_depth("x = '\\'' + [1]"), 1);
    }

    #[test]
    fn nesting_past_the_limit_is_refused_without_parsing() {
        let deep = format!("x = {}", "[".repeat(200_000));
        assert!(matches!(
            with_module(&deep, |_| ()),
            Err(ParseFailure::Syntax { .. })
        ));
        let ok = format!("x = {}0{}", "[".repeat(150), "]".repeat(150));
        assert!(with_module(&ok, |_| ()).is_ok());
    }
}
