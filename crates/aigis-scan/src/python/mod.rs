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
