//! What the current ML libraries' own files invoke when loaded, derived from those files.
//!
//! `data/reconstructors.tsv` is written by `scripts/realfiles/derive_reconstructors.py` from the
//! files `scripts/realfiles/make_real_files.py` saves with the real libraries (pandas, NumPy,
//! SciPy, scikit-learn, gensim, statsmodels, spaCy, the boosters, torch, transformers, timm): a
//! static reading of every pickle stream in them, listing each global a file *calls*,
//! *constructs* without `__init__` (NEWOBJ) or holds as a *reference*, and whether any of those
//! files passes a function or class among a call's arguments. The classifier takes these as what
//! the libraries write; dangerous names, user deny-lists and the effects of
//! [`crate::effects`] still decide first. A call the libraries only ever make with data, handed a
//! function or a class, is judged as a forwarder's would be (high): the argument kinds of a
//! legitimate file are part of the signature.

use std::collections::HashMap;
use std::sync::LazyLock;

const DATA: &str = include_str!("../data/reconstructors.tsv");

/// How the libraries' own files use one global.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Use {
    /// Invoked (REDUCE, INST, OBJ); `Some(true)` when some file passes a function or class
    /// among the arguments, `Some(false)` when the arguments are always data.
    pub call: Option<bool>,
    /// Constructed without `__init__` (NEWOBJ, NEWOBJ_EX).
    pub new: bool,
    /// Held as data (an attribute value, a dtype's type, a score function).
    pub reference: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Table {
    pub uses: HashMap<&'static str, Use>,
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
        let (Some(how), Some(name), Some(args)) = (cols.next(), cols.next(), cols.next()) else {
            t.rejected.push(line);
            continue;
        };
        let takes_refs = match args {
            "refs" => true,
            "data" => false,
            _ => {
                t.rejected.push(line);
                continue;
            }
        };
        let entry = t.uses.entry(name).or_default();
        match how {
            "call" => entry.call = Some(takes_refs),
            "new" => entry.new = true,
            "ref" => entry.reference = true,
            _ => t.rejected.push(line),
        }
    }
    t
}

static TABLE: LazyLock<Table> = LazyLock::new(|| parse_table(DATA));

/// How the libraries' own files use `name` (normalized `module.qualname`), if they do.
pub(crate) fn written(name: &str) -> Option<Use> {
    TABLE.uses.get(name).copied()
}

/// Whether the libraries' own files invoke `name`.
pub(crate) fn called(name: &str) -> bool {
    written(name).is_some_and(|u| u.call.is_some())
}

/// Whether the libraries' own files invoke `name` with data only (never a function or class).
pub(crate) fn called_with_data_only(name: &str) -> bool {
    written(name).is_some_and(|u| u.call == Some(false))
}

/// Whether the libraries' own files construct or reference `name`.
pub(crate) fn constructed_or_referenced(name: &str) -> bool {
    written(name).is_some_and(|u| u.new || u.reference || u.call.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_derived_line_parses() {
        assert!(TABLE.rejected.is_empty(), "{:?}", TABLE.rejected);
        assert!(TABLE.uses.len() > 200, "{}", TABLE.uses.len());
    }

    #[test]
    fn rows_from_the_real_files() {
        // pandas 3 with pyarrow: string columns are rebuilt by pyarrow's own reconstructors.
        assert!(called_with_data_only("pyarrow.lib._restore_array"));
        assert!(called_with_data_only(
            "pandas._libs.tslibs.nattype._nat_unpickle"
        ));
        // statsmodels results are constructed without __init__ and carry their models.
        assert!(constructed_or_referenced(
            "statsmodels.regression.linear_model.OLSResults"
        ));
        // NumPy's array rebuilder is handed the ndarray class.
        assert_eq!(
            written("numpy._core.multiarray._reconstruct").and_then(|u| u.call),
            Some(true)
        );
    }

    #[test]
    fn parse_rejects_malformed_rows() {
        let t = parse_table("call\ta.b\tdata\tx\tf\nnew\ta.C\tmaybe\nbogus\ta.d\tdata\nref\ta.e\n");
        assert_eq!(t.rejected.len(), 3);
        assert_eq!(t.uses.get("a.b").and_then(|u| u.call), Some(false));
    }
}
