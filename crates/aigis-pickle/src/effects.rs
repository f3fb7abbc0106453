//! Effect signatures of the trusted libraries, generated from their real code.
//!
//! `data/effects.tsv` is written by `scripts/effects/introspect.py` (a developer tool run in a
//! throwaway venv with the pinned libraries; see its docstring): which functions call one of
//! their arguments, unpickle, execute, spawn, write, reach the network or import; which classes
//! do so in `__init__`/`__new__`/`__setstate__`/`__reduce__`/`__call__`; and which attributes of
//! trusted modules *are* dangerous standard-library objects (`gensim.models.atmodel.copyfile` is
//! `shutil.copyfile`). The classifier and the machine judge a callable by these effects, not by
//! the namespace its name lives in.

use std::collections::HashMap;
use std::sync::LazyLock;

/// The generated table, embedded.
const DATA: &str = include_str!("../data/effects.tsv");

/// One effect of a function or method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Calls its positional argument `i`: a callable handed there runs.
    Calls(usize),
    /// Deserializes (pickle, marshal, `torch.load`) its argument `i`, or data it finds itself.
    Loads(Option<usize>),
    /// Evaluates or compiles code (its argument `i`, or code it builds).
    Exec(Option<usize>),
    /// Runs a process.
    Spawn,
    /// Creates, truncates, moves or removes files.
    Write,
    /// Opens network connections.
    Network,
    /// Imports a module by a computed name.
    Import,
}

impl Effect {
    /// Short description for messages.
    pub fn label(self) -> &'static str {
        match self {
            Effect::Calls(_) => "calls an argument it is given",
            Effect::Loads(_) => "unpickles data",
            Effect::Exec(_) => "executes or compiles code",
            Effect::Spawn => "runs a process",
            Effect::Write => "writes files",
            Effect::Network => "opens network connections",
            Effect::Import => "imports a module by name",
        }
    }

    /// Whether the effect attacks the host whatever the arguments are (code or a process).
    pub fn is_execution(self) -> bool {
        matches!(self, Effect::Exec(_) | Effect::Spawn)
    }

    fn parse(token: &str) -> Option<Effect> {
        let (kind, idx) = match token.split_once(':') {
            Some((k, i)) => (k, Some(i.parse::<usize>().ok()?)),
            None => (token, None),
        };
        Some(match (kind, idx) {
            ("calls", Some(i)) => Effect::Calls(i),
            ("loads", i) => Effect::Loads(i),
            ("exec", i) => Effect::Exec(i),
            ("spawn", None) => Effect::Spawn,
            ("write", None) => Effect::Write,
            ("network", None) => Effect::Network,
            ("import", None) => Effect::Import,
            _ => return None,
        })
    }
}

/// The method of a class an effect belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `__init__`: calling the class.
    Init,
    /// `__new__`: calling the class, or NEWOBJ.
    New,
    /// `__setstate__`: BUILD.
    SetState,
    /// `__reduce__` (pickling; recorded for review).
    Reduce,
    /// `__call__`: calling an instance.
    Call,
}

/// Effects of one function, with the evidence the generator recorded.
#[derive(Debug, Default)]
pub(crate) struct Signature {
    pub effects: Vec<Effect>,
    pub evidence: &'static str,
}

/// Effects of one class, by method.
#[derive(Debug, Default)]
pub(crate) struct ClassSignature {
    pub effects: Vec<(Method, Effect)>,
    pub evidence: &'static str,
}

#[derive(Debug, Default)]
pub(crate) struct Table {
    pub aliases: HashMap<&'static str, &'static str>,
    pub functions: HashMap<&'static str, Signature>,
    pub classes: HashMap<&'static str, ClassSignature>,
    /// Lines that did not parse (a test keeps this empty).
    pub rejected: Vec<&'static str>,
}

fn parse_table(data: &'static str) -> Table {
    let mut t = Table::default();
    for line in data.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.split('\t');
        let (Some(kind), Some(name), Some(what)) = (cols.next(), cols.next(), cols.next()) else {
            t.rejected.push(line);
            continue;
        };
        let evidence = cols.next().unwrap_or("");
        match kind {
            "alias" => {
                t.aliases.insert(name, what);
            }
            "func" => {
                let effects: Option<Vec<Effect>> = what.split(',').map(Effect::parse).collect();
                match effects {
                    Some(effects) => {
                        t.functions.insert(name, Signature { effects, evidence });
                    }
                    None => t.rejected.push(line),
                }
            }
            "class" => {
                let effects: Option<Vec<(Method, Effect)>> = what
                    .split(',')
                    .map(|tok| {
                        let (m, e) = tok.split_once(':')?;
                        let m = match m {
                            "init" => Method::Init,
                            "new" => Method::New,
                            "setstate" => Method::SetState,
                            "reduce" => Method::Reduce,
                            "call" => Method::Call,
                            _ => return None,
                        };
                        Some((m, Effect::parse(e)?))
                    })
                    .collect();
                match effects {
                    Some(effects) => {
                        t.classes.insert(name, ClassSignature { effects, evidence });
                    }
                    None => t.rejected.push(line),
                }
            }
            _ => t.rejected.push(line),
        }
    }
    t
}

pub(crate) static TABLE: LazyLock<Table> = LazyLock::new(|| parse_table(DATA));

/// The dangerous standard-library object `name` (normalized `module.qualname`) is, if the
/// generator found it re-exported under that name.
pub fn alias_of(name: &str) -> Option<&'static str> {
    TABLE.aliases.get(name).copied()
}

/// The generated effects of the function or method `name`.
pub(crate) fn function(name: &str) -> Option<&'static Signature> {
    TABLE.functions.get(name)
}

/// The generated effects of the class `name`.
pub(crate) fn class(name: &str) -> Option<&'static ClassSignature> {
    TABLE.classes.get(name)
}

/// The effects calling `name` has: a function's own, or a class's `__init__`/`__new__`.
pub fn call_effects(name: &str) -> Vec<Effect> {
    if let Some(sig) = function(name) {
        return sig.effects.clone();
    }
    class(name)
        .map(|c| {
            c.effects
                .iter()
                .filter(|(m, _)| matches!(m, Method::Init | Method::New))
                .map(|&(_, e)| e)
                .collect()
        })
        .unwrap_or_default()
}

/// The evidence recorded for `name` (callees that have the effect), for messages.
pub fn evidence(name: &str) -> &'static str {
    function(name)
        .map(|s| s.evidence)
        .or_else(|| class(name).map(|c| c.evidence))
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_line_parses() {
        assert!(TABLE.rejected.is_empty(), "{:?}", TABLE.rejected);
        assert!(TABLE.aliases.len() > 50);
        assert!(TABLE.functions.len() > 200);
        assert!(TABLE.classes.len() > 20);
    }

    #[test]
    fn known_rows_from_the_real_libraries() {
        // torch's rebuild helper applies the function it is given (the forwarder of issue 18).
        assert!(
            function("torch._tensor._rebuild_from_type_v2")
                .is_some_and(|s| s.effects.contains(&Effect::Calls(0)))
        );
        // torch.storage._load_from_bytes is torch.load of its argument.
        assert!(
            function("torch.storage._load_from_bytes")
                .is_some_and(|s| s.effects.contains(&Effect::Loads(Some(0))))
        );
        assert_eq!(
            alias_of("gensim.models.atmodel.copyfile"),
            Some("shutil.copyfile")
        );
    }

    #[test]
    fn parse_rejects_malformed_rows() {
        let t = parse_table(
            "func\ta.b\tcalls:x\nclass\ta.C\tbogus:spawn\nalias\tx\nfunc\ta.c\tspawn,calls:2\n",
        );
        assert_eq!(t.rejected.len(), 3);
        assert_eq!(
            t.functions.get("a.c").map(|s| s.effects.clone()),
            Some(vec![Effect::Spawn, Effect::Calls(2)])
        );
    }
}
