//! The machine's side of [`crate::fold`]: pure methods of constants are folded, and a loader
//! that receives data the machine cannot compute is reported instead of passed silently.

use super::Machine;
use crate::classify::{self, NameClass};
use crate::fold;
use crate::value::{Arena, Blob, Id, Value};
use crate::{Risk, VerdictKind};

/// Bytes that folding may read and produce in one reading of a file (nested pickles
/// included), on top of [`fold::MAX_FOLD`] per result. Each fold is charged the size of its
/// operands and of its result, so memoized operands reused (`bytes(n)`, decompression bombs,
/// repeated concatenation) cannot make the machine compute or keep more than this; past it,
/// values stay uncomputed, and a loader that receives one is reported.
pub(super) const FOLD_BUDGET: u64 = 128 << 20;

/// Budget charged per entry of a folded translation table: at most half a million entries
/// (a million arena values) per reading, whatever the stream repeats.
const TABLE_ENTRY_COST: usize = 256;

impl Machine<'_, '_, '_> {
    /// The result of calling `name` when it is a pure transformation of constants, within
    /// the reading's folding budget.
    pub(super) fn fold_call(&mut self, name: &str, args: Id, kwargs: Option<Id>) -> Option<Value> {
        self.charged(&[Some(args), kwargs], |arena| {
            fold::call(arena, name, args, kwargs)
        })
    }

    /// The result of calling a method of a str/bytes constant (`getattr(b'..', 'decode')(...)`),
    /// when it is a pure transformation of constants, within the reading's folding budget.
    pub(super) fn fold_method(
        &mut self,
        callee: Id,
        args: Id,
        kwargs: Option<Id>,
    ) -> Option<Value> {
        let Value::Attr { base, name } = self.arena.get(callee) else {
            return None;
        };
        let (base, name) = (*base, name.clone());
        self.charged(&[Some(base), Some(args), kwargs], |arena| {
            fold::method(arena, base, &name, args, kwargs)
        })
    }

    /// Runs `f` when the operands fit in what is left of the budget, and charges the operands
    /// and the result.
    fn charged(
        &mut self,
        operands: &[Option<Id>],
        f: impl FnOnce(&mut Arena) -> Option<Value>,
    ) -> Option<Value> {
        let cost: u64 = operands
            .iter()
            .flatten()
            .map(|&id| self.weight(id, 2))
            .sum();
        let spent = self.ctx.folded.saturating_add(cost);
        if spent > FOLD_BUDGET {
            return None;
        }
        self.ctx.folded = spent;
        let v = f(&mut self.arena)?;
        let produced = match &v {
            Value::Bytes(b) | Value::ByteArray(b) => match &**b {
                Blob::Inline { data, .. } => data.len(),
                Blob::External { .. } => 0,
            },
            Value::Str(s) => s.len(),
            // A table `str.maketrans` wrote into the arena (two values per entry): charged so
            // that repeated calls cannot fill the arena past what the budget allows.
            Value::Dict(pairs) => pairs.len().saturating_mul(TABLE_ENTRY_COST),
            _ => 0,
        };
        let spent = self.ctx.folded.saturating_add(produced as u64);
        self.ctx.folded = spent;
        (spent <= FOLD_BUDGET).then_some(v)
    }

    /// Bytes of the str/bytes constants in `id`, looking `depth` containers deep (the
    /// arguments tuple, then a list being joined), plus one per value.
    fn weight(&self, id: Id, depth: u32) -> u64 {
        match self.arena.get(id) {
            Value::Bytes(b) | Value::ByteArray(b) => match &**b {
                Blob::Inline { data, .. } => data.len() as u64,
                Blob::External { .. } => 1,
            },
            Value::Str(s) => s.len() as u64,
            Value::Tuple(items) | Value::List(items) if depth > 0 => items
                .iter()
                .map(|&i| self.weight(i, depth - 1))
                .sum::<u64>()
                .saturating_add(1),
            Value::Dict(pairs) if depth > 0 => pairs
                .iter()
                .map(|&(_, v)| self.weight(v, depth - 1))
                .sum::<u64>()
                .saturating_add(1),
            _ => 1,
        }
    }

    /// `loader` receives `arg`, which holds no bytes the machine knows. When `arg` is data
    /// computed at load time (a call result, an attribute, a module constant, an external
    /// object), what gets loaded cannot be verified: High, unless the call itself is judged
    /// dangerous already.
    pub(super) fn unverified_input(&mut self, off: u64, loader: &str, arg: Id) {
        let computed = match self.arena.get(arg) {
            Value::Call { callee, .. } => {
                // `io.BytesIO(x)` wraps what it is given: judge `x`.
                let inner = self
                    .arena
                    .global_name(*callee)
                    .is_some_and(|(m, q)| {
                        crate::callables::BYTES_FILES.contains(&classify::full_name(m, q).as_str())
                    })
                    .then(|| self.arena_call_arg(arg))
                    .flatten();
                match inner {
                    Some(x) => !matches!(
                        self.arena.get(x),
                        Value::None
                            | Value::Bool(_)
                            | Value::Int(_)
                            | Value::BigInt(_)
                            | Value::Float(_)
                            | Value::Tuple(_)
                            | Value::List(_)
                            | Value::Dict(_)
                            | Value::Set(_)
                            | Value::FrozenSet(_)
                    ),
                    None => true,
                }
            }
            Value::Attr { .. }
            | Value::Unknown
            | Value::Elided
            | Value::PersistentId(_)
            | Value::Buffer { .. }
            | Value::BigStr { .. }
            | Value::Global(_) => true,
            _ => false,
        };
        if !computed {
            return;
        }
        let (module, qualname) = loader.rsplit_once('.').unwrap_or(("builtins", loader));
        if matches!(
            classify::invocation(module, qualname, self.ctx.opts),
            NameClass::Dangerous(_)
        ) {
            return;
        }
        let shown = self.render(arg);
        let iocs = self.iocs(&[arg]);
        self.verdict(
            Risk::High,
            VerdictKind::UnverifiedInput,
            off,
            Some(loader.to_owned()),
            None,
            format!(
                "loading passes data computed at load time to a loader/evaluator: {loader} \
                 receives {shown}, which cannot be verified"
            ),
            iocs,
        );
    }

    fn arena_call_arg(&self, call: Id) -> Option<Id> {
        let Value::Call { args, .. } = self.arena.get(call) else {
            return None;
        };
        self.arg(*args, 0)
    }
}
