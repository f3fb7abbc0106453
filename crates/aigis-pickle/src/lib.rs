//! A symbolic pickle machine: reads a pickle byte stream opcode by opcode and reports what
//! loading it would import, call, construct or mutate — without executing anything and
//! without Python.
//!
//! ```
//! use aigis_pickle::{scan, Options, Risk};
//!
//! // pickle.dumps of a class whose __reduce__ returns (os.system, ('id',)), protocol 0.
//! let bytes = b"cos\nsystem\n(S'id'\ntR.";
//! let result = scan(&bytes[..], 0, &Options::default());
//! assert_eq!(result.verdicts[0].risk, Risk::Critical);
//! assert!(result.verdicts[0].message.starts_with("loading calls os.system('id')"));
//! assert!(result.problem.is_none());
//! ```
//!
//! The machine emulates the stack, mark stack and memo of CPython's unpickler with symbolic
//! values ([`value`](crate) arena), follows every pickle written back to back, descends into
//! nested pickles handed to a loader (`pickle.loads(b'…')`), skips the raw NumPy arrays that
//! joblib writes inside the stream, and stops cleanly at any structural error or limit.
//! Each event is classified with the tables in the `callables` module: an allow-list of
//! what real frameworks emit, and a list of dangerous primitives.

mod callables;
#[allow(clippy::unreadable_literal)]
mod cjk;
mod classify;
mod codepages;
mod compat_pickle;
pub mod effects;
mod feed;
mod fold;
mod ioc;
mod iso2022;
mod joblib;
mod known;
mod machine;
mod names;
mod opcodes;
mod reader;
mod sweep;
mod text;
mod textcodecs;
mod value;

pub use callables::Category;
pub use opcodes::is_opcode;
pub use reader::ReadAt;

/// The dangerous category of the callable `module.qualname` (after Python-2 name
/// normalization), judged with the same table as pickle imports. Other serialization formats
/// that name callables in configs (Keras, Hydra, skops) use it too.
pub fn dangerous_callable(module: &str, qualname: &str) -> Option<Category> {
    classify::dangerous_category(module, qualname)
}

/// How the machine judges a direct call of `module.qualname` (REDUCE, INST, OBJ) made with
/// arguments that are all constants (`constant_args`) or not: the risk of the verdict it emits,
/// or `None` when the call is allowed or evaluated symbolically (`getattr`, `str`, codec calls:
/// what the file then does with the result is judged instead). Differential tests use it to
/// judge what a real loader called.
pub fn call_risk(module: &str, qualname: &str, constant_args: bool) -> Option<Risk> {
    let opts = Options::default();
    let name = classify::full_name(module, qualname);
    if machine::is_evaluated(&name) {
        return None;
    }
    match classify::invocation(module, qualname, &opts) {
        classify::NameClass::Allowed => None,
        classify::NameClass::Dangerous(_) => Some(Risk::Critical),
        classify::NameClass::Unknown => {
            let rebuilt_value = (classify::is_trusted_namespace(module)
                || classify::is_users_code(module))
                && classify::looks_like_class(qualname)
                && constant_args;
            Some(if rebuilt_value {
                Risk::Medium
            } else {
                Risk::High
            })
        }
    }
}

/// Whether the pickle allow-list (reviewed, derived from the libraries' files) admits calling
/// `module.qualname` as a harmless rebuilder; `false` for names evaluated symbolically
/// (`getattr`, codec calls), unknown or dangerous ones.
pub fn allowed_call(module: &str, qualname: &str) -> bool {
    let name = classify::full_name(module, qualname);
    !machine::is_evaluated(&name)
        && classify::invocation(module, qualname, &Options::default())
            == classify::NameClass::Allowed
}

/// Whether `module` is in the Python standard library (`sys.stdlib_module_names`).
pub fn is_stdlib_module(module: &str) -> bool {
    classify::is_stdlib_module(module)
}

/// Whether `name` can be imported by `find_class` as a module or attribute path: dotted
/// identifiers (non-ASCII letters and marks included).
pub fn importable_name(name: &str) -> bool {
    machine::dotted_identifiers(name)
}

use std::fmt;

/// Resource limits of one [`scan`]. Every limit hit ends the scan with
/// [`ProblemKind::LimitExceeded`] and keeps the verdicts found so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Opcodes decoded per scan, nested pickles and every reading included. Sized for real
    /// files (an opcode per byte of `max_read`): the per-file deadline is what bounds time.
    pub max_opcodes: u64,
    /// Items on the stack (plus open marks).
    pub max_stack: usize,
    /// Memo entries (memo indices are sparse: kept in a map, never allocated by index).
    pub max_memo: usize,
    /// Symbolic values per pickle stream (the arena).
    pub max_values: usize,
    /// Values a stream keeps in full detail. Past it, plain constants (numbers, strings,
    /// bytes, tuples of them) that go into a list, dict or set or into the memo are elided:
    /// they cost neither a value nor a memo entry, so a pickle of ordinary data of any size is
    /// read to the end. What can reach a call (imports, calls, objects, the containers
    /// themselves) is always kept. A stream that later needs an elided value's content to
    /// name an import is read again in full detail.
    pub detail_values: usize,
    /// Constants longer than this are not read: kept as (offset, length) plus a preview.
    pub max_inline_bytes: usize,
    /// Depth of nested pickles (a pickle handed to `pickle.loads` inside a pickle).
    pub max_nesting: usize,
    /// Pickles parsed back to back.
    pub max_streams: usize,
    /// Characters of a rendered call in a message.
    pub max_render: usize,
    /// Bytes of input this machine may fetch.
    pub max_read: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_opcodes: 2_000_000_000,
            max_stack: 1_000_000,
            max_memo: 1_000_000,
            max_values: 4_000_000,
            detail_values: 1_000_000,
            max_inline_bytes: 1 << 20,
            max_nesting: 8,
            max_streams: 256,
            max_render: 400,
            max_read: 2 << 30,
        }
    }
}

/// Scan options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Extra callables to trust, as `module.qualname` (from `--allow-global`).
    pub extra_allowed: Vec<String>,
    /// Callables to forbid, as `module.qualname` or `prefix.*` (from a policy file): any
    /// import, call or construction of one is a dangerous verdict of category
    /// [`Category::Denied`], even when the built-in or user allow-list trusts it.
    pub extra_denied: Vec<String>,
    /// Resource limits.
    pub limits: Limits,
    /// Wall-clock deadline: the scan stops with [`LimitKind::Time`] once it passes.
    pub deadline: Option<std::time::Instant>,
    /// Record the program the loader runs ([`PickleScan::program`]), for `aigis inspect`.
    pub trace: bool,
    /// Collect the string constants this filter accepts into [`PickleScan::strings`] (bounded
    /// by [`MAX_STRINGS`] and [`MAX_STRING_BYTES`]), for scanners of secrets and indicators.
    pub collect_strings: Option<fn(&str) -> bool>,
    /// Collect the PyTorch storages the pickle references through `persistent_load`
    /// ([`PickleScan::storages`], at most [`MAX_STORAGES`]), for checks of the tensor bytes.
    pub collect_storages: bool,
}

/// Most storages [`Options::collect_storages`] keeps.
pub const MAX_STORAGES: usize = 1 << 16;

/// A PyTorch storage a pickle references: `persistent_load(('storage', torch.<Type>, key,
/// location, numel))`, as `torch.save` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storage {
    /// The record name under `data/` in the archive.
    pub key: String,
    /// The storage class name in `torch` (`FloatStorage`, `HalfStorage`, `BFloat16Storage`, ...).
    pub storage_type: String,
    /// The number of elements the pickle declares, if it says.
    pub numel: Option<u64>,
}

/// Most strings [`Options::collect_strings`] keeps.
pub const MAX_STRINGS: usize = 256;
/// Most bytes of strings [`Options::collect_strings`] keeps (a longer string is cut).
pub const MAX_STRING_BYTES: usize = 64 * 1024;

/// What one step of a traced program does (see [`Options::trace`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// `find_class(module, name)`: GLOBAL, STACK_GLOBAL, INST, an extension code.
    Import,
    /// A call: REDUCE, INST/OBJ with arguments.
    Call,
    /// `cls.__new__(cls, *args)`: NEWOBJ, NEWOBJ_EX.
    New,
    /// BUILD: `obj.__setstate__(state)` or attribute updates.
    Build,
    /// `persistent_load(pid)`: PERSID, BINPERSID (a PyTorch storage reference).
    PersistentLoad,
    /// STOP: the object the pickle returns.
    Result,
}

impl StepKind {
    /// Stable lower-case id.
    pub fn id(self) -> &'static str {
        match self {
            StepKind::Import => "import",
            StepKind::Call => "call",
            StepKind::New => "new",
            StepKind::Build => "build",
            StepKind::PersistentLoad => "persistent-load",
            StepKind::Result => "result",
        }
    }
}

/// One step of the program a loader runs, as Python-like text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Offset of the opcode in the scanned input (for a nested pickle, in the nested bytes).
    pub offset: u64,
    /// 0 for the scanned stream, 1 for a pickle handed to a loader inside it, ...
    pub depth: usize,
    /// What the step does.
    pub kind: StepKind,
    /// The step in Python syntax (`from os import system`, `os.system('id')`, `return {...}`).
    pub text: String,
}

/// Steps recorded per traced scan; past it the program is marked truncated.
pub const MAX_STEPS: usize = 20_000;

/// How bad a verdict is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Risk {
    /// Loading attacks the host: code or command execution, file or network access, imports.
    Critical,
    /// Loading calls something no legitimate model needs; treat as malicious until reviewed.
    High,
    /// Loading needs trust in code outside the known frameworks, or the stream is odd.
    Medium,
    /// For the record.
    Info,
}

impl Risk {
    /// Lower-case name (`critical`, `high`, `medium`, `info`).
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Critical => "critical",
            Risk::High => "high",
            Risk::Medium => "medium",
            Risk::Info => "info",
        }
    }
}

/// What a verdict is about. The kebab-case [`VerdictKind::id`] is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VerdictKind {
    /// A dangerous primitive is invoked or constructed (Critical).
    DangerousCall,
    /// A callable outside the allow-list is invoked (High; Medium for a framework class
    /// rebuilt from constants, such as an enum member).
    UnknownCall,
    /// A dangerous primitive is imported but not invoked (High).
    DangerousReference,
    /// A name outside the known frameworks is imported but not invoked (Medium).
    UnknownReference,
    /// A class outside the known frameworks is constructed without a call (Medium).
    UnknownClass,
    /// BUILD sets attributes on a module or class object (High).
    StateOnGlobal,
    /// EXT1/2/4 names an extension code that no earlier `copyreg.add_extension` registered (High).
    UnresolvedExtension,
    /// STACK_GLOBAL imports a name computed at load time (High).
    DynamicImport,
    /// A nested pickle is handed to a loader; its own verdicts follow (Info).
    NestedPickle,
    /// A structural oddity that loaders tolerate but that hides content: a FRAME whose
    /// declared length disagrees with the opcodes, a malformed nested pickle (Medium).
    Anomaly,
    /// A loader or evaluator receives data computed at load time that the machine cannot
    /// compute, so what it loads cannot be verified (High).
    UnverifiedInput,
}

impl VerdictKind {
    /// Stable kebab-case id.
    pub fn id(self) -> &'static str {
        match self {
            VerdictKind::DangerousCall => "dangerous-call",
            VerdictKind::UnknownCall => "unknown-call",
            VerdictKind::DangerousReference => "dangerous-reference",
            VerdictKind::UnknownReference => "unknown-reference",
            VerdictKind::UnknownClass => "unknown-class",
            VerdictKind::StateOnGlobal => "state-on-global",
            VerdictKind::UnresolvedExtension => "unresolved-extension",
            VerdictKind::DynamicImport => "dynamic-import",
            VerdictKind::NestedPickle => "nested-pickle",
            VerdictKind::Anomaly => "anomaly",
            VerdictKind::UnverifiedInput => "unverified-input",
        }
    }
}

/// One classified event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Severity.
    pub risk: Risk,
    /// What kind of event.
    pub kind: VerdictKind,
    /// Human-readable description, with the call in Python syntax.
    pub message: String,
    /// Byte offset of the opcode in the scanned input.
    pub offset: u64,
    /// The callable or class concerned (`module.qualname`, or an expression).
    pub callee: Option<String>,
    /// Dangerous-primitive category, when one matched.
    pub category: Option<Category>,
    /// URLs, IP addresses and shell commands seen in constant arguments.
    pub iocs: Vec<String>,
}

/// A global name imported by the pickle.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GlobalRef {
    /// Module, as written in the pickle.
    pub module: String,
    /// Qualified name, as written in the pickle.
    pub qualname: String,
}

impl fmt::Display for GlobalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.module, self.qualname)
    }
}

/// One pickle of a back-to-back sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Offset of its first opcode.
    pub start: u64,
    /// Offset just after its STOP.
    pub end: u64,
    /// Protocol from its PROTO opcode (0 when absent).
    pub protocol: u8,
    /// Opcodes decoded.
    pub opcodes: u64,
}

/// Which limit was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// [`Limits::max_opcodes`].
    Opcodes,
    /// [`Limits::max_stack`].
    Stack,
    /// [`Limits::max_memo`].
    Memo,
    /// [`Limits::max_values`].
    Values,
    /// [`Limits::max_nesting`].
    Nesting,
    /// [`Limits::max_streams`].
    Streams,
    /// [`Limits::max_read`].
    Read,
    /// A line of a text opcode longer than [`Limits::max_inline_bytes`].
    LineLength,
    /// The wall-clock deadline of [`Options::deadline`].
    Time,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::Opcodes => "max_opcodes",
            LimitKind::Stack => "max_stack",
            LimitKind::Memo => "max_memo",
            LimitKind::Values => "max_values",
            LimitKind::Nesting => "max_nesting",
            LimitKind::Streams => "max_streams",
            LimitKind::Read => "max_read",
            LimitKind::LineLength => "max_inline_bytes (line)",
            LimitKind::Time => "time limit",
        })
    }
}

/// What went wrong structurally.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    /// The input ended inside an opcode or before STOP.
    #[error("pickle data truncated")]
    Truncated,
    /// A byte that is not an opcode.
    #[error("invalid opcode 0x{0:02x}")]
    BadOpcode(u8),
    /// PROTO with a protocol above 5.
    #[error("unsupported pickle protocol {0}")]
    UnsupportedProtocol(u8),
    /// An opcode needed more stack items than there were.
    #[error("stack underflow")]
    StackUnderflow,
    /// An opcode needed a MARK and none was open.
    #[error("no open MARK")]
    NoMark,
    /// GET of a memo index never PUT.
    #[error("memo index {0} not found")]
    MemoMiss(u64),
    /// A negative or impossible length, or a length beyond the input.
    #[error("bad length {0}")]
    BadLength(i128),
    /// A malformed argument (number, string literal, name).
    #[error("bad argument: {0}")]
    BadArgument(String),
    /// A joblib array whose size cannot be determined.
    #[error("joblib array: {0}")]
    Joblib(String),
    /// A resource limit.
    #[error("limit exceeded: {which}")]
    LimitExceeded {
        /// The limit.
        which: LimitKind,
    },
    /// The input could not be read.
    #[error("read error: {0}")]
    Io(String),
}

/// A structural error: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct Problem {
    /// Offset of the opcode that failed.
    pub offset: u64,
    /// What failed.
    pub kind: ProblemKind,
}

/// The result of [`scan`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PickleScan {
    /// Pickles parsed back to back, in order.
    pub streams: Vec<StreamInfo>,
    /// Offset just after the last complete pickle (`start` when none completed).
    pub end: u64,
    /// Classified events, in stream order.
    pub verdicts: Vec<Verdict>,
    /// Every distinct global imported, in first-seen order.
    pub globals: Vec<GlobalRef>,
    /// The structural error or limit that ended the scan, if any: the first pickle failing (as
    /// `pickle.load` would), or any limit.
    pub problem: Option<Problem>,
    /// Bytes after the last complete pickle that do not form one (where and why): loaders that
    /// read one pickle ignore them; one that reads on (a legacy `torch.save` reader, a loop over
    /// `pickle.load`) fails there, after running whatever they decoded (its verdicts are kept).
    pub after_stop: Option<Problem>,
    /// Bytes fetched from the input.
    pub bytes_consumed: u64,
    /// Raw NumPy arrays skipped inside joblib streams.
    pub joblib_arrays: u32,
    /// With [`Options::trace`]: the program of the reading a loader completes (imports, calls,
    /// objects built, the result), in order, at most [`MAX_STEPS`] steps.
    pub program: Vec<Step>,
    /// Steps past [`MAX_STEPS`] were left out of `program`.
    pub program_truncated: bool,
    /// With [`Options::collect_strings`]: the distinct string constants the filter accepted,
    /// in first-seen order, at most [`MAX_STRINGS`] and [`MAX_STRING_BYTES`] in all.
    pub strings: Vec<String>,
    /// With [`Options::collect_storages`]: the storages referenced, each key once.
    pub storages: Vec<Storage>,
}

impl PickleScan {
    /// The highest risk among the verdicts.
    pub fn max_risk(&self) -> Option<Risk> {
        self.verdicts.iter().map(|v| v.risk).min()
    }
}

/// Scans the pickle stream(s) that start at `start`.
///
/// Reads through a small window with [`ReadAt::read_at`], so memory stays bounded and a huge
/// constant is skipped, not read. Never panics; same bytes give the same output.
pub fn scan<R: ReadAt + ?Sized>(input: &R, start: u64, opts: &Options) -> PickleScan {
    let dyn_input = reader::DynInput(input);
    machine::scan_input(&dyn_input, start, opts)
}
