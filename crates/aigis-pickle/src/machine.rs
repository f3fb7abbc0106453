//! The symbolic pickle machine: decodes opcodes, emulates the unpickler's stack, mark stack
//! and memo with symbolic values, and records every import, call, construction and state
//! update as a classified [`Verdict`].
//!
//! The machine is iterative (no recursion over input depth). Recursion happens only for
//! nested pickles, bounded by [`crate::Limits::max_nesting`].

use std::collections::{HashMap, HashSet};

use compact_str::CompactString;

use crate::callables::{BYTES_FILES, FORWARDERS, NESTED_LOADERS, fix_imports};
use crate::classify::{self, NameClass};
use crate::effects::{self, Effect, Method};
use crate::feed::{Feed, FrameNote, Line, Loader, Request};
use crate::opcodes as op;
use crate::reader::{Cursor, ReadAt, ReadError, SubRange};
use crate::text;
use crate::value::{Arena, Blob, CallKind, Id, Value};
use crate::{
    Category, GlobalRef, LimitKind, Options, PickleScan, Problem, ProblemKind, Risk, StepKind,
    StreamInfo, Verdict, VerdictKind, ioc, joblib,
};

mod unverified;

type Res<T> = Result<T, ProblemKind>;

impl From<ReadError> for ProblemKind {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Truncated => ProblemKind::Truncated,
            ReadError::Io(s) => ProblemKind::Io(s),
            ReadError::ReadLimit => ProblemKind::LimitExceeded {
                which: LimitKind::Read,
            },
        }
    }
}

fn limit(which: LimitKind) -> ProblemKind {
    ProblemKind::LimitExceeded { which }
}

/// Cap on verdicts per scan (the first ones are kept).
const MAX_VERDICTS: usize = 10_000;
/// Cap on distinct globals in the inventory.
const MAX_GLOBALS: usize = 100_000;
/// Depth of forwarder chains followed (`map(map, ...)`).
const MAX_FORWARD_DEPTH: usize = 4;
/// Node budget of one walk over an argument graph.
const WALK_BUDGET: usize = 4_096;
/// Bytes read of a constant too large to inline, for its preview.
const PREVIEW: usize = 48;
/// Strings up to this length are held inline ([`CompactString`]'s capacity on 64-bit targets).
const SHORT_TEXT: usize = 24;

/// The memo: dense indices (what picklers write) in a vector, anything else in a map. Once a
/// stream is past its detail budget, the contiguous entries go into runs instead: the entries
/// that hold the shared elided constant cost one run however many there are. Never allocates
/// by a declared index.
#[derive(Default)]
struct Memo {
    dense: Vec<Id>,
    /// After `dense`: `(first index, id, count)`, in index order.
    runs: Vec<(u64, Id, u64)>,
    /// Indices covered by `runs`.
    in_runs: u64,
    /// Indices stored out of order.
    sparse: HashMap<u64, Id>,
    /// Indices inside `runs` stored again (they shadow the run).
    shadow: HashMap<u64, Id>,
}

impl Memo {
    /// Entries (`len(memo)`, which numbers MEMOIZE's entry).
    fn len(&self) -> u64 {
        self.next() + self.sparse.len() as u64
    }

    /// The next contiguous index.
    fn next(&self) -> u64 {
        self.dense.len() as u64 + self.in_runs
    }

    /// Records held: what the memo limit bounds.
    fn records(&self) -> usize {
        self.dense.len() + self.runs.len() + self.sparse.len() + self.shadow.len()
    }

    fn get(&self, idx: u64) -> Option<Id> {
        if let Some(&id) = usize::try_from(idx).ok().and_then(|i| self.dense.get(i)) {
            return Some(id);
        }
        if let Some(&id) = self.sparse.get(&idx) {
            return Some(id);
        }
        if idx >= self.next() {
            return None;
        }
        if let Some(&id) = self.shadow.get(&idx) {
            return Some(id);
        }
        let i = self.runs.partition_point(|&(start, _, _)| start <= idx);
        let &(start, id, count) = self.runs.get(i.checked_sub(1)?)?;
        (idx < start + count).then_some(id)
    }

    /// Stores `id` at `idx` (in a run when `run`, i.e. past the detail budget).
    fn put(&mut self, idx: u64, id: Id, max: usize, run: bool) -> Result<(), ProblemKind> {
        let i = usize::try_from(idx).unwrap_or(usize::MAX);
        if let Some(slot) = self.dense.get_mut(i) {
            *slot = id;
            return Ok(());
        }
        if let Some(slot) = self.sparse.get_mut(&idx) {
            *slot = id;
            return Ok(());
        }
        if self.records() >= max {
            return Err(limit(LimitKind::Memo));
        }
        let next = self.next();
        if idx < next {
            self.shadow.insert(idx, id);
        } else if idx > next {
            self.sparse.insert(idx, id);
        } else if run || !self.runs.is_empty() {
            match self.runs.last_mut() {
                Some((start, last, count)) if *last == id && *start + *count == idx => *count += 1,
                _ => self.runs.push((idx, id, 1)),
            }
            self.in_runs += 1;
        } else {
            self.dense.push(id);
        }
        Ok(())
    }
}

/// Past a stream's detail budget ([`crate::Limits::detail_values`]).
#[derive(Clone, Copy)]
struct Summary {
    /// The shared [`Value::Elided`].
    elided: Id,
    /// The first value created past the budget.
    from: Id,
}

/// A returned object with at least this many references, and this many per distinct value, is
/// a "billion laughs" structure.
const EXPANSION_REFERENCES: u64 = 100_000_000;
const EXPANSION_FACTOR: u64 = 1_000;

/// Elided memo entries remembered for [`Machine::restore_names`].
const RECENT_ELIDED: usize = 8;

/// Stacks deeper than this are not searched for reclaimable values (the search is linear).
const RECLAIM_STACK: usize = 4_096;

/// State shared by every stream and nested pickle of one scan.
struct Ctx<'o> {
    opts: &'o Options,
    opcodes: u64,
    globals: Vec<GlobalRef>,
    globals_seen: HashSet<GlobalRef>,
    joblib_arrays: u32,
    /// The copyreg extension registry, as filled by `copyreg.add_extension` calls seen so far.
    extensions: HashMap<i64, (String, String)>,
    verdicts: usize,
    nested_fetched: u64,
    /// Bytes read and produced by folding in this reading (see [`unverified::FOLD_BUDGET`]).
    folded: u64,
    /// This reading is joblib's: raw array data after a `NumpyArrayWrapper` is skipped.
    joblib: bool,
    /// A `NumpyArrayWrapper` was rebuilt (so joblib's reading differs from the others).
    joblib_seen: bool,
    /// The program of the current reading, when [`Options::trace`] is set.
    program: Vec<crate::Step>,
    program_truncated: bool,
    /// A stream needed the content of a value it had elided: read everything again in full
    /// detail.
    needs_detail: bool,
    /// With [`Options::collect_strings`]: the strings kept so far, and their bytes.
    strings: Vec<String>,
    strings_seen: HashSet<String>,
    string_bytes: usize,
    /// With [`Options::collect_storages`]: the storages referenced so far, each key once.
    storages: Vec<crate::Storage>,
    storages_seen: HashSet<String>,
}

impl Ctx<'_> {
    /// Keeps a string constant for [`Options::collect_strings`], within its bounds.
    fn note_string(&mut self, v: &Value) {
        let Some(accept) = self.opts.collect_strings else {
            return;
        };
        let Value::Str(s) = v else {
            return;
        };
        let room = crate::MAX_STRING_BYTES.saturating_sub(self.string_bytes);
        if self.strings.len() >= crate::MAX_STRINGS || room == 0 || !accept(s) {
            return;
        }
        let mut end = s.len().min(room);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let kept = &s[..end];
        if !self.strings_seen.contains(kept) {
            self.string_bytes += kept.len();
            self.strings_seen.insert(kept.to_owned());
            self.strings.push(kept.to_owned());
        }
    }
}

impl Ctx<'_> {
    /// Keeps a storage for [`Options::collect_storages`], once per key, within its bound.
    fn note_storage(&mut self, storage: crate::Storage) {
        if self.storages.len() < crate::MAX_STORAGES
            && self.storages_seen.insert(storage.key.clone())
        {
            self.storages.push(storage);
        }
    }
}

/// Streams parsed from one feed.
struct Streams {
    streams: Vec<StreamInfo>,
    end: u64,
    verdicts: Vec<Verdict>,
    problem: Option<Problem>,
    /// Bytes after the last complete pickle that are no pickle.
    after_stop: Option<Problem>,
    /// A pickle after the first failed where the loader refuses it (also past a legacy
    /// `torch.save` file's pickles, whose raw data is expected to fail).
    later_refused: bool,
}

/// One reading of the input: how its frames were resolved, whether joblib's.
struct Reading {
    out: Streams,
    loader: Loader,
    plan: Vec<bool>,
    joblib: bool,
    events: usize,
    buffered: Vec<u64>,
    joblib_seen: bool,
    joblib_arrays: u32,
    program: Vec<crate::Step>,
    program_truncated: bool,
}

/// Readings followed at most for one input: the linear one, then combinations of frame
/// decisions (2^n for n frames whose readings differ), then joblib's.
const MAX_READINGS: usize = 16;

/// Entry point behind [`crate::scan`]: reads the input as each loader reads it and merges what
/// they reach (see [`crate::feed`]).
pub(crate) fn scan_input(input: &dyn ReadAt, start: u64, opts: &Options) -> PickleScan {
    let mut ctx = Ctx {
        opts,
        opcodes: 0,
        globals: Vec::new(),
        globals_seen: HashSet::new(),
        joblib_arrays: 0,
        extensions: HashMap::new(),
        verdicts: 0,
        nested_fetched: 0,
        folded: 0,
        joblib: false,
        joblib_seen: false,
        program: Vec::new(),
        program_truncated: false,
        needs_detail: false,
        strings: Vec::new(),
        strings_seen: HashSet::new(),
        string_bytes: 0,
        storages: Vec::new(),
        storages_seen: HashSet::new(),
    };
    let mut fetched: u64 = 0;
    let mut readings: Vec<Reading> = Vec::new();
    let mut plans: std::collections::VecDeque<Vec<bool>> = std::collections::VecDeque::new();
    plans.push_back(Vec::new());
    let mut unexplored = 0usize;
    let past_deadline = || {
        opts.deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
    };
    while let Some(plan) = plans.pop_front() {
        if readings.len() >= MAX_READINGS || (!readings.is_empty() && past_deadline()) {
            unexplored = plans.len() + 1;
            break;
        }
        let r = read_once(&mut ctx, input, start, plan, Loader::C, false, &mut fetched);
        if ctx.needs_detail {
            break;
        }
        // Every decision point this reading met beyond its plan is explored the other way.
        for i in r.plan.len()..r.events {
            let mut next = r.plan.clone();
            next.resize(i, false);
            next.push(true);
            plans.push_back(next);
        }
        readings.push(r);
    }
    // The pure-Python unpickler reads on only where the C one refuses something (a text
    // argument in Python's grammar, a list as call arguments, a short FRAME, a final line
    // without newline, ...): its reading is followed when a C reading ended in such a refusal.
    let c_refused = readings.iter().any(|r| {
        r.out.later_refused
            || [&r.out.problem, &r.out.after_stop]
                .into_iter()
                .flatten()
                .any(|p| !unfollowed(p))
    });
    if c_refused && !past_deadline() && !ctx.needs_detail {
        let r = read_once(
            &mut ctx,
            input,
            start,
            Vec::new(),
            Loader::Py,
            false,
            &mut fetched,
        );
        readings.push(r);
    }
    if readings.iter().any(|r| r.joblib_seen) && !past_deadline() && !ctx.needs_detail {
        // joblib's unpickler is the pure-Python one.
        let r = read_once(
            &mut ctx,
            input,
            start,
            Vec::new(),
            Loader::Py,
            true,
            &mut fetched,
        );
        readings.push(r);
    }
    if ctx.needs_detail && opts.limits.detail_values < opts.limits.max_values {
        let mut detailed = opts.clone();
        detailed.limits.detail_values = usize::MAX;
        return scan_input(input, start, &detailed);
    }
    let mut scan = merge(readings, unexplored);
    scan.globals = std::mem::take(&mut ctx.globals);
    scan.strings = std::mem::take(&mut ctx.strings);
    scan.storages = std::mem::take(&mut ctx.storages);
    scan.bytes_consumed = fetched.saturating_add(ctx.nested_fetched);
    scan
}

/// One reading: every pickle of the input as `loader` reads it, with the frame decisions of
/// `plan` (the C unpickler's).
fn read_once(
    ctx: &mut Ctx<'_>,
    input: &dyn ReadAt,
    start: u64,
    plan: Vec<bool>,
    loader: Loader,
    joblib: bool,
    fetched: &mut u64,
) -> Reading {
    ctx.opcodes = 0;
    ctx.folded = 0;
    ctx.extensions.clear();
    ctx.joblib_arrays = 0;
    ctx.joblib = joblib;
    ctx.joblib_seen = false;
    ctx.program.clear();
    ctx.program_truncated = false;
    let mut feed = Feed::new(input, start, ctx.opts.limits.max_read, plan.clone(), loader);
    let mut out = ctx.scan_streams(&mut feed, 0);
    if !ctx.needs_detail {
        sweep_after_limit(input, feed.fetched(), &mut out, ctx);
    }
    *fetched = fetched.saturating_add(feed.fetched());
    Reading {
        out,
        loader,
        plan,
        joblib,
        events: feed.events,
        buffered: feed.buffered,
        joblib_seen: ctx.joblib_seen,
        joblib_arrays: ctx.joblib_arrays,
        program: std::mem::take(&mut ctx.program),
        program_truncated: ctx.program_truncated,
    }
}

/// Whether a problem says aigis could not follow the stream (a limit, an array of unknown
/// size), as opposed to the loader refusing it. Such a problem is reported whichever reading
/// met it: what was not followed was not judged.
fn unfollowed(p: &Problem) -> bool {
    matches!(
        p.kind,
        ProblemKind::LimitExceeded { .. } | ProblemKind::Joblib(_) | ProblemKind::Io(_)
    )
}

/// What the readings together say: the verdicts of every reading (a verdict only one reading
/// reaches says which), the structure of the reading a loader completes.
fn merge(mut readings: Vec<Reading>, unexplored: usize) -> PickleScan {
    let completes = |r: &Reading| r.out.problem.is_none() && !r.out.streams.is_empty();
    // joblib's reading is the one that completes a joblib file; otherwise the reading that
    // completes the most pickles back to back (the linear one on a tie), else the linear one.
    let most = readings
        .iter()
        .enumerate()
        .filter(|(_, r)| completes(r) && !r.joblib)
        .max_by_key(|&(i, r)| (r.out.streams.len(), std::cmp::Reverse(i)))
        .map(|(i, _)| i);
    let primary = readings
        .iter()
        .position(|r| r.joblib && completes(r))
        .or(most)
        .or_else(|| readings.iter().position(|r| r.joblib))
        .unwrap_or(0);
    let problem = readings
        .iter()
        .filter_map(|r| r.out.problem.clone())
        .find(unfollowed)
        .or_else(|| readings.get(primary).and_then(|r| r.out.problem.clone()));
    let readings_have_joblib = readings.iter().any(|r| r.joblib && completes(r));
    let joblib_file = readings.iter().any(|r| r.joblib);
    let mut verdicts: Vec<Verdict> = Vec::new();
    let mut seen: HashSet<(VerdictKind, Option<String>, String)> = HashSet::new();
    let order: Vec<usize> = std::iter::once(primary)
        .chain((0..readings.len()).filter(|&i| i != primary))
        .collect();
    for &i in &order {
        let Some(r) = readings.get_mut(i) else {
            continue;
        };
        let label = (i != primary)
            .then(|| reading_label(r, joblib_file))
            .flatten();
        // The plain reading of a joblib file runs the data joblib wrote after an array wrapper
        // as opcodes, an object array's pickle with the outer pickle's memo: its names collide
        // (`STACK_GLOBAL('NumpyArrayWrapper', 'dtype')`) and mostly name nothing that exists.
        // Dangerous names found there keep their severity; unknown ones are medium.
        let joblib_data = i != primary && !r.joblib && readings_have_joblib;
        for mut v in std::mem::take(&mut r.out.verdicts) {
            if !seen.insert((v.kind, v.callee.clone(), v.message.clone())) {
                continue;
            }
            if let Some(label) = &label {
                v.message = format!("{label}: {}", v.message);
            }
            // Names built from joblib's own wrapper classes (the collision above) cannot be
            // imported: no loader runs them.
            let collision = v.callee.as_deref().is_some_and(|c| {
                ["NumpyArrayWrapper.", "NDArrayWrapper.", "ZNDArrayWrapper."]
                    .iter()
                    .any(|p| c.starts_with(p))
            });
            if joblib_data && v.category.is_none() && collision {
                v.risk = Risk::Info;
                v.message.push_str(
                    " (a name made of joblib's own wrapper classes, which no loader can import)",
                );
            } else if joblib_data && v.category.is_none() && v.risk == Risk::High {
                v.risk = Risk::Medium;
                v.message.push_str(
                    " (a name outside the known frameworks, reached only in data joblib \
                     wrote; whether it exists was not checked)",
                );
            }
            verdicts.push(v);
        }
    }
    if unexplored > 0 {
        let at = readings
            .first()
            .and_then(|r| r.buffered.first().copied())
            .unwrap_or(0);
        verdicts.push(Verdict {
            risk: Risk::High,
            kind: VerdictKind::Anomaly,
            message: format!(
                "frame lengths disagree with the opcodes in so many places that loaders read \
                 this stream in more ways than were followed ({MAX_READINGS} readings followed, \
                 {unexplored} more left); what the others reach was not judged"
            ),
            offset: at,
            callee: None,
            category: None,
            iocs: Vec::new(),
        });
    }
    verdicts.sort_by_key(|v| v.offset);
    let joblib_arrays = readings
        .iter()
        .find(|r| r.joblib)
        .map_or(0, |r| r.joblib_arrays);
    let main = readings.swap_remove(primary.min(readings.len().saturating_sub(1)));
    PickleScan {
        streams: main.out.streams,
        end: main.out.end,
        verdicts,
        globals: Vec::new(),
        problem,
        after_stop: main.out.after_stop,
        bytes_consumed: 0,
        joblib_arrays,
        program: main.program,
        program_truncated: main.program_truncated,
        strings: Vec::new(),
        storages: Vec::new(),
    }
}

/// How a reading other than the main one differs, for the verdicts only it reaches.
fn reading_label(r: &Reading, joblib_file: bool) -> Option<String> {
    if r.joblib {
        return Some("as joblib.load reads it (array data skipped)".to_owned());
    }
    if r.loader == Loader::Py {
        return Some(
            "as the pure-Python unpickler reads it (pickle._Unpickler, as dill and joblib use it, \
             or pickle.load where the C module is missing)"
                .to_owned(),
        );
    }
    if r.buffered.is_empty() {
        return Some(if joblib_file {
            "as pickle.load, torch.load and numpy.load read it (joblib's array data read as \
             opcodes)"
                .to_owned()
        } else {
            "as pickle.loads reads it, and pickle.load on a file whose frames it reads through \
             peek (every frame read linearly)"
                .to_owned()
        });
    }
    let frames: Vec<String> = r.buffered.iter().map(|f| format!("byte {f}")).collect();
    Some(format!(
        "as a loader reads it that holds the FRAME at {} in a buffer (the C unpickler on \
         io.BytesIO, as torch.load reads a zip member, or on a file whose frame it reads whole)",
        frames.join(" and ")
    ))
}

/// After an emulation limit (opcodes, values, stack, memo, streams), the rest of the input is
/// walked without emulation ([`crate::sweep`]) and every dangerous name it imports is reported:
/// padding cannot push a payload past the machine's reach. The walk shares the read budget.
fn sweep_after_limit(input: &dyn ReadAt, fetched: u64, out: &mut Streams, ctx: &mut Ctx<'_>) {
    let Some(Problem {
        offset,
        kind: ProblemKind::LimitExceeded { which },
    }) = out.problem.clone()
    else {
        return;
    };
    if !matches!(
        which,
        LimitKind::Opcodes
            | LimitKind::Values
            | LimitKind::Stack
            | LimitKind::Memo
            | LimitKind::Streams
    ) {
        return;
    }
    let budget = ctx.opts.limits.max_read.saturating_sub(fetched);
    let mut rest = Cursor::new(input, offset, budget);
    for import in crate::sweep::sweep(&mut rest, ctx.opts.deadline) {
        let Some((m, q)) = import.name else { continue };
        if let NameClass::Dangerous(cat) = classify::construction_or_reference(&m, &q, ctx.opts) {
            if out.verdicts.len() >= MAX_VERDICTS {
                break;
            }
            ctx.note_global(&m, &q);
            out.verdicts.push(Verdict {
                risk: if cat == Category::Denied {
                    Risk::Critical
                } else {
                    Risk::High
                },
                kind: VerdictKind::DangerousReference,
                message: format!(
                    "loading imports {m}.{q} ({}) after the point where the {which} limit \
                     stopped emulation; what it is called with was not followed",
                    cat.label()
                ),
                offset: import.offset,
                callee: Some(format!("{m}.{q}")),
                category: Some(cat),
                iocs: Vec::new(),
            });
        }
    }
    ctx.nested_fetched = ctx.nested_fetched.saturating_add(rest.fetched);
}

impl Ctx<'_> {
    /// Parses pickles back to back from the feed, as a loader calling `load()` again on the
    /// same file does, until the input ends or one fails. The first pickle failing is the
    /// stream's problem; a later one failing (or bytes after STOP that are no pickle) is
    /// `after_stop`: loaders that read one pickle ignore it, its verdicts are kept.
    fn scan_streams(&mut self, feed: &mut Feed<'_>, depth: usize) -> Streams {
        let mut out = Streams {
            streams: Vec::new(),
            end: feed.pos(),
            verdicts: Vec::new(),
            problem: None,
            after_stop: None,
            later_refused: false,
        };
        loop {
            if feed.remaining() == 0 {
                if out.streams.is_empty() {
                    out.problem = Some(Problem {
                        offset: feed.pos(),
                        kind: ProblemKind::Truncated,
                    });
                }
                break;
            }
            if out.streams.len() >= self.opts.limits.max_streams {
                out.problem = Some(Problem {
                    offset: feed.pos(),
                    kind: limit(LimitKind::Streams),
                });
                break;
            }
            feed.clear_frame();
            let (result, verdicts, info) = self.scan_one(feed, depth);
            out.verdicts.extend(verdicts);
            match result {
                Ok(()) => {
                    let stop = info.end.saturating_sub(1);
                    out.streams.push(info);
                    out.end = feed.pos();
                    if let Some((frame, left)) = feed.after_stop() {
                        out.verdicts.push(frame_anomaly(
                            stop,
                            format!(
                                "the FRAME at byte {frame} declares {left} more bytes past STOP \
                                 at byte {stop}; loaders that read the next pickle from the same \
                                 file start either after STOP or at the frame's end"
                            ),
                        ));
                        out.end = feed.pos();
                    }
                }
                Err(p) => {
                    out.later_refused = !out.streams.is_empty() && !unfollowed(&p);
                    if out.streams.is_empty() || matches!(p.kind, ProblemKind::LimitExceeded { .. })
                    {
                        out.problem = Some(p);
                    } else if !(depth == 0
                        && out.streams.len() >= LEGACY_TORCH_PICKLES
                        && legacy_torch(feed, &out))
                    {
                        // (`torch.load` reads five pickles of a legacy file, then raw storage
                        // bytes: those are expected. Read as pickles, they are still judged.)
                        out.after_stop = Some(p);
                    }
                    break;
                }
            }
        }
        out
    }

    /// Parses one pickle (up to and including STOP).
    fn scan_one(
        &mut self,
        feed: &mut Feed<'_>,
        depth: usize,
    ) -> (Result<(), Problem>, Vec<Verdict>, StreamInfo) {
        let start = feed.pos();
        let input = feed.input();
        let mut m = Machine::new(self, input, depth);
        // A FRAME declaring more bytes than remain is refused by the C unpickler and read short
        // by the pure-Python one: when the stream still ends with STOP, the reading that runs
        // more code completes it (the frame is a medium anomaly, not an invalid stream).
        let result = m.run(feed);
        m.finish_references();
        let mut verdicts = std::mem::take(&mut m.verdicts);
        verdicts.sort_by_key(|v| v.offset);
        let info = StreamInfo {
            start,
            end: feed.pos(),
            protocol: m.protocol,
            opcodes: m.opcodes,
        };
        (result, verdicts, info)
    }

    fn note_global(&mut self, module: &str, qualname: &str) {
        if self.globals.len() >= MAX_GLOBALS {
            return;
        }
        let g = GlobalRef {
            module: module.to_owned(),
            qualname: qualname.to_owned(),
        };
        if self.globals_seen.insert(g.clone()) {
            self.globals.push(g);
        }
    }
}

/// Pickles a legacy `torch.save` file holds before its raw storage data: the magic number, the
/// protocol version, system info, the object, the storage keys.
const LEGACY_TORCH_PICKLES: usize = 5;

/// Whether the first pickle is legacy `torch.save`'s magic number (0x1950a86a20f9469cfc6c as a
/// LONG1, whatever the protocol).
fn legacy_torch(feed: &Feed<'_>, out: &Streams) -> bool {
    const MAGIC: &[u8] = b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
    let Some(first) = out.streams.first() else {
        return false;
    };
    let len = first.end.saturating_sub(first.start);
    if len > 40 {
        return false;
    }
    let mut buf = vec![0u8; len as usize];
    matches!(feed.input().read_at(first.start, &mut buf), Ok(n) if n == buf.len())
        && buf.windows(MAGIC.len()).any(|w| w == MAGIC)
}

/// A frame anomaly outside a machine (at a pickle's end).
fn frame_anomaly(offset: u64, message: String) -> Verdict {
    Verdict {
        risk: Risk::Medium,
        kind: VerdictKind::Anomaly,
        message,
        offset,
        callee: None,
        category: None,
        iocs: Vec::new(),
    }
}

/// Outcome of one opcode.
enum Flow {
    Continue,
    Stop,
}

/// How an invocation came about (for messages).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    /// REDUCE, INST/OBJ with arguments, EXT.
    Direct,
    /// A forwarder (`map`, `_rebuild_from_type_v2`, ...) will call it.
    Forwarded,
}

/// Emulation state of one pickle stream.
struct Machine<'c, 'o, 'i> {
    ctx: &'c mut Ctx<'o>,
    input: &'i dyn ReadAt,
    depth: usize,
    arena: Arena,
    stack: Vec<Id>,
    marks: Vec<usize>,
    memo: Memo,
    verdicts: Vec<Verdict>,
    seen_verdicts: HashSet<(VerdictKind, String)>,
    /// Globals imported by GLOBAL/STACK_GLOBAL/INST/EXT or resolved attribute access.
    global_sites: Vec<(Id, u64)>,
    /// Globals that were invoked or constructed (not mere references).
    used: HashSet<Id>,
    protocol: u8,
    opcodes: u64,
    /// Whether anything importing or calling was decoded.
    eventful: bool,
    /// A frame anomaly was reported (one per stream is enough).
    frame_noted: bool,
    forward_depth: usize,
    /// How many times an existing value was pushed again (memo gets, DUP): without any, the
    /// result is a tree and cannot expand ([`Machine::judge_expansion`] is skipped).
    shared: u64,
    /// Set once the arena holds [`crate::Limits::detail_values`] values.
    summary: Option<Summary>,
    /// Values below this are referred to from outside the stack (the memo, a container, an
    /// object's state, the imports): never reclaimed.
    keep_floor: Id,
    /// The last constants the memo elided, as (index, value), while the value lives.
    recent_elided: std::collections::VecDeque<(u64, Id)>,
}

impl<'c, 'o, 'i> Machine<'c, 'o, 'i> {
    fn new(ctx: &'c mut Ctx<'o>, input: &'i dyn ReadAt, depth: usize) -> Self {
        Self {
            ctx,
            input,
            depth,
            arena: Arena::default(),
            stack: Vec::new(),
            marks: Vec::new(),
            memo: Memo::default(),
            verdicts: Vec::new(),
            seen_verdicts: HashSet::new(),
            global_sites: Vec::new(),
            used: HashSet::new(),
            protocol: 0,
            opcodes: 0,
            eventful: false,
            frame_noted: false,
            shared: 0,
            forward_depth: 0,
            summary: None,
            keep_floor: 0,
            recent_elided: std::collections::VecDeque::new(),
        }
    }

    fn run(&mut self, feed: &mut Feed<'_>) -> Result<(), Problem> {
        loop {
            let off = feed.pos();
            let step = self.step(feed, off);
            for note in feed.take_notes() {
                self.frame_note(note);
            }
            match step {
                Ok(Flow::Continue) => {}
                Ok(Flow::Stop) => return Ok(()),
                Err(kind) => return Err(Problem { offset: off, kind }),
            }
        }
    }

    fn frame_note(&mut self, note: FrameNote) {
        let (at, message) = match note {
            FrameNote::Crossing { at, frame, end } => (
                at,
                format!(
                    "the opcode argument at byte {at} runs past the end of the FRAME at byte \
                     {frame} (byte {end}); loaders read it differently (the C unpickler on a \
                     buffered frame drops the frame's rest and reads on after it, the \
                     pure-Python one stops), and each reading was followed"
                ),
            ),
            FrameNote::Nested { at, outer } => (
                at,
                format!("a FRAME starts at byte {at}, inside the FRAME at byte {outer}"),
            ),
            FrameNote::Overrun {
                at,
                declared,
                available,
            } => (
                at,
                format!(
                    "the FRAME at byte {at} declares {declared} bytes but only {available} \
                         remain; the C unpickler refuses it, the pure-Python one reads on"
                ),
            ),
        };
        self.anomaly(at, message);
    }

    // ---- small helpers -------------------------------------------------------------

    fn limits(&self) -> &crate::Limits {
        &self.ctx.opts.limits
    }

    fn value(&mut self, v: Value) -> Res<Id> {
        if self.arena.len() >= self.limits().max_values {
            return Err(limit(LimitKind::Values));
        }
        if self.summary.is_none() && self.arena.len() >= self.limits().detail_values {
            let elided = self.arena.push(Value::Elided);
            self.summary = Some(Summary {
                elided,
                from: elided + 1,
            });
        }
        Ok(self.arena.push(v))
    }

    /// Whether `id` may be elided: past the detail budget, a constant (number, string, bytes,
    /// or a tuple or frozenset of them) created past it, or the elided value itself.
    fn elidable(&self, id: Id) -> bool {
        let Some(s) = self.summary else {
            return false;
        };
        id == s.elided || (id >= s.from && self.constant_data(id, 4))
    }

    fn constant_data(&self, id: Id, depth: usize) -> bool {
        match self.arena.get(id) {
            Value::Elided => true,
            Value::Tuple(items) | Value::FrozenSet(items) => {
                depth > 0 && items.iter().all(|&i| self.constant_data(i, depth - 1))
            }
            v => v.is_scalar(),
        }
    }

    /// `id` is referred to from outside the stack: it and what it refers to are never reclaimed.
    fn keep(&mut self, id: Id) {
        self.keep_floor = self.keep_floor.max(id.saturating_add(1));
    }

    /// An elided constant where the exact one names something (an import, an attribute): the
    /// stream is read again in full detail (see [`crate::Limits::detail_values`]).
    fn need_exact(&mut self, ids: &[Id]) -> Res<()> {
        let Some(s) = self.summary else {
            return Ok(());
        };
        let mut elided = false;
        for &id in ids {
            self.arena.walk(id, 64, |i, _| elided |= i == s.elided);
        }
        if elided {
            self.ctx.needs_detail = true;
            return Err(limit(LimitKind::Values));
        }
        Ok(())
    }

    /// `ids` name something (STACK_GLOBAL's operands, getattr's attribute): when the memo
    /// elided one of them just before, it gets the exact value back, since picklers fetch a
    /// name again from the memo (a module's name for its next class).
    fn restore_names(&mut self, ids: &[Id]) -> Res<()> {
        let back: Vec<(u64, Id)> = self
            .recent_elided
            .iter()
            .copied()
            .filter(|(_, id)| ids.contains(id))
            .collect();
        for (idx, id) in back {
            self.keep(id);
            let max = self.limits().max_memo;
            self.memo.put(idx, id, max, true)?;
        }
        Ok(())
    }

    /// Marks `id` as invoked or constructed (see `used`).
    fn mark_used(&mut self, id: Id) {
        self.keep(id);
        self.used.insert(id);
    }

    /// Adds `items` to the list or set `c` (`pairs` to the dict `c`). Past the detail budget
    /// the constants among them are elided (one [`Value::Elided`] stands for them in the
    /// container) and the values nothing refers to any more are reclaimed.
    fn extend_container(&mut self, c: Id, mut items: Vec<Id>, mut pairs: Vec<(Id, Id)>) {
        let before = items.len() + pairs.len();
        if self.summary.is_some() {
            items.retain(|&i| !self.elidable(i));
            pairs.retain(|&(k, v)| !(self.elidable(k) && self.elidable(v)));
        }
        let elided = (items.len() + pairs.len() < before)
            .then(|| self.summary.map(|s| s.elided))
            .flatten();
        let top = items
            .iter()
            .chain(pairs.iter().flat_map(|(k, v)| [k, v]))
            .max();
        if let Some(&top) = top {
            self.keep(top);
        }
        match self.arena.get_mut(c) {
            Some(Value::List(l) | Value::Set(l)) => {
                if let Some(e) = elided
                    && l.last() != Some(&e)
                {
                    l.push(e);
                }
                l.extend(items);
            }
            Some(Value::Dict(p)) => {
                if let Some(e) = elided
                    && p.last() != Some(&(e, e))
                {
                    p.push((e, e));
                }
                p.extend(pairs);
            }
            _ => {}
        }
        if elided.is_some() {
            self.reclaim();
        }
    }

    /// Drops the values at the top of the arena that nothing refers to any more (constants
    /// elided from containers and the memo), so plain data of any size costs bounded memory.
    fn reclaim(&mut self) {
        let Some(s) = self.summary else {
            return;
        };
        if self.stack.len() > RECLAIM_STACK {
            return;
        }
        let on_stack = self.stack.iter().max().map_or(0, |&m| m.saturating_add(1));
        let floor = s.from.max(self.keep_floor).max(on_stack);
        if (floor as usize) < self.arena.len() {
            self.arena.truncate(floor as usize);
            self.recent_elided.retain(|&(_, id)| id < floor);
        }
    }

    fn push(&mut self, id: Id) -> Res<()> {
        if self.stack.len() + self.marks.len() >= self.limits().max_stack {
            return Err(limit(LimitKind::Stack));
        }
        self.stack.push(id);
        Ok(())
    }

    fn push_value(&mut self, v: Value) -> Res<()> {
        let id = self.value(v)?;
        self.push(id)
    }

    /// Pops one item above the innermost mark.
    fn pop(&mut self) -> Res<Id> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(ProblemKind::StackUnderflow);
        }
        self.stack.pop().ok_or(ProblemKind::StackUnderflow)
    }

    fn top(&self) -> Res<Id> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(ProblemKind::StackUnderflow);
        }
        self.stack
            .last()
            .copied()
            .ok_or(ProblemKind::StackUnderflow)
    }

    /// Pops everything down to the innermost mark, and the mark.
    fn pop_mark(&mut self) -> Res<Vec<Id>> {
        let m = self.marks.pop().ok_or(ProblemKind::NoMark)?;
        let m = m.min(self.stack.len());
        Ok(self.stack.split_off(m))
    }

    fn line(&mut self, feed: &mut Feed<'_>) -> Res<Line> {
        let max = self.limits().max_inline_bytes.max(256);
        feed.line(max)?.ok_or(limit(LimitKind::LineLength))
    }

    fn memo_put(&mut self, idx: u64, id: Id) -> Res<()> {
        let max = self.limits().max_memo;
        let id = match self.summary {
            Some(s) if self.elidable(id) => {
                if self.recent_elided.len() >= RECENT_ELIDED {
                    self.recent_elided.pop_front();
                }
                self.recent_elided.push_back((idx, id));
                s.elided
            }
            _ => {
                self.keep(id);
                id
            }
        };
        self.memo.put(idx, id, max, self.summary.is_some())
    }

    fn memo_get(&mut self, idx: u64) -> Res<()> {
        let id = self.memo.get(idx).ok_or(ProblemKind::MemoMiss(idx))?;
        self.shared += 1;
        self.push(id)
    }

    /// Reads a length-prefixed blob of `len` bytes starting at the cursor.
    /// Reads a length-prefixed blob of `len` bytes (one request of the unpickler).
    fn blob(&mut self, feed: &mut Feed<'_>, len: u64, how: Request) -> Res<Blob> {
        if len > feed.begin(len, how) {
            return Err(ProblemKind::BadLength(i128::from(len)));
        }
        let at = feed.pos();
        if len <= self.limits().max_inline_bytes as u64 {
            let data = feed.bytes_now(len as usize)?;
            Ok(Blob::Inline { data, at: Some(at) })
        } else {
            let preview = feed.bytes_now(PREVIEW)?;
            feed.skip_now(len - PREVIEW as u64)?;
            Ok(Blob::External { at, len, preview })
        }
    }

    /// BINUNICODE and friends: UTF-8 with `surrogatepass`.
    fn text(&mut self, feed: &mut Feed<'_>, len: u64) -> Res<Value> {
        // A short string (what a vocabulary holds millions of) is read from the window
        // straight into an inline `CompactString`: no allocation.
        if len <= SHORT_TEXT.min(self.limits().max_inline_bytes) as u64 {
            if len > feed.begin(len, Request::Read) {
                return Err(ProblemKind::BadLength(i128::from(len)));
            }
            let text =
                feed.with_bytes_now(len as usize, |data| match std::str::from_utf8(data) {
                    Ok(text) => Ok(CompactString::from(text)),
                    Err(_) => text::utf8_surrogatepass(data).map(CompactString::from),
                })?;
            return Ok(Value::Str(text.map_err(bad)?));
        }
        Ok(match self.blob(feed, len, Request::Read)? {
            // Valid UTF-8 is the string as it is (no copy); only text with encoded
            // surrogates, which Python's `surrogatepass` decoding accepts, takes the long way.
            Blob::Inline { data, .. } => Value::Str(match String::from_utf8(data) {
                Ok(text) => text.into(),
                Err(err) => text::utf8_surrogatepass(err.as_bytes())
                    .map_err(bad)?
                    .into(),
            }),
            Blob::External { len, preview, .. } => Value::BigStr {
                len,
                preview: String::from_utf8_lossy(&preview).into(),
            },
        })
    }

    /// Records a step of the program (with [`Options::trace`]); `text` runs only then.
    fn trace(&mut self, offset: u64, kind: StepKind, text: impl FnOnce(&Self) -> String) {
        if !self.ctx.opts.trace || self.ctx.program_truncated {
            return;
        }
        if self.ctx.program.len() >= crate::MAX_STEPS {
            self.ctx.program_truncated = true;
            return;
        }
        let text = text(self);
        let depth = self.depth;
        self.ctx.program.push(crate::Step {
            offset,
            depth,
            kind,
            text,
        });
    }

    fn render(&self, id: Id) -> String {
        self.arena.render(id, self.limits().max_render)
    }

    fn render_call(&self, callee: Id, args: Id, kwargs: Option<Id>, kind: CallKind) -> String {
        self.arena
            .render_call(callee, args, kwargs, kind, self.limits().max_render)
    }

    fn iocs(&self, roots: &[Id]) -> Vec<String> {
        let mut out = Vec::new();
        for &r in roots {
            self.arena.walk(r, WALK_BUDGET, |_, v| match v {
                Value::Str(s) => ioc::collect(s, &mut out),
                Value::Bytes(b) if matches!(**b, Blob::Inline { ref data, .. } if data.len() < 4096) => {
                    let Blob::Inline { data, .. } = &**b else { return };
                    if let Ok(s) = std::str::from_utf8(data) {
                        ioc::collect(s, &mut out);
                    }
                }
                _ => {}
            });
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn verdict(
        &mut self,
        risk: Risk,
        kind: VerdictKind,
        offset: u64,
        callee: Option<String>,
        category: Option<Category>,
        message: String,
        iocs: Vec<String>,
    ) {
        let key = match kind {
            VerdictKind::UnknownClass
            | VerdictKind::UnknownReference
            | VerdictKind::DangerousReference => callee.clone().unwrap_or_default(),
            _ => message.clone(),
        };
        if !self.seen_verdicts.insert((kind, key)) || self.ctx.verdicts >= MAX_VERDICTS {
            return;
        }
        self.ctx.verdicts += 1;
        self.verdicts.push(Verdict {
            risk,
            kind,
            message,
            offset,
            callee,
            category,
            iocs,
        });
    }

    fn anomaly(&mut self, offset: u64, message: String) {
        if self.frame_noted {
            return;
        }
        self.frame_noted = true;
        self.verdict(
            Risk::Medium,
            VerdictKind::Anomaly,
            offset,
            None,
            None,
            message,
            Vec::new(),
        );
    }

    /// The object a pickle returns, built with memo or DUP sharing into far more references
    /// than values ("billion laughs"): loading stays small, but whatever copies, compares,
    /// prints or serialises it visits every reference.
    fn judge_expansion(&mut self, off: u64, result: Id) {
        let (references, distinct) = self.arena.logical_size(result);
        if references < EXPANSION_REFERENCES
            || references / (distinct.max(1) as u64) < EXPANSION_FACTOR
        {
            return;
        }
        let shown = if references >= u64::from(u32::MAX - 1) {
            format!("over {references}")
        } else {
            references.to_string()
        };
        self.verdict(
            Risk::Medium,
            VerdictKind::Anomaly,
            off,
            None,
            None,
            format!(
                "loading returns an object of {shown} references built from {distinct} values \
                 (shared through the memo or DUP, {}x): copying, comparing, printing or \
                 serialising it visits every reference (a \"billion laughs\" structure)",
                references / (distinct.max(1) as u64)
            ),
            Vec::new(),
        );
    }

    // ---- the opcode dispatcher ----------------------------------------------------

    fn step(&mut self, feed: &mut Feed<'_>, off: u64) -> Res<Flow> {
        self.ctx.opcodes += 1;
        self.opcodes += 1;
        if self.ctx.opcodes > self.limits().max_opcodes {
            return Err(limit(LimitKind::Opcodes));
        }
        if self.ctx.opcodes.is_multiple_of(4096)
            && self
                .ctx
                .opts
                .deadline
                .is_some_and(|d| std::time::Instant::now() >= d)
        {
            return Err(limit(LimitKind::Time));
        }
        let code = feed.u8()?;
        match code {
            op::MARK => {
                if self.stack.len() + self.marks.len() >= self.limits().max_stack {
                    return Err(limit(LimitKind::Stack));
                }
                self.marks.push(self.stack.len());
            }
            op::STOP => {
                let r = self.pop()?;
                self.trace(off, StepKind::Result, |m| format!("return {}", m.render(r)));
                if self.shared > 0 {
                    self.judge_expansion(off, r);
                }
                return Ok(Flow::Stop);
            }
            op::POP => {
                let floor = self.marks.last().copied();
                if floor == Some(self.stack.len()) {
                    self.marks.pop();
                } else {
                    self.pop()?;
                }
            }
            op::POP_MARK => {
                self.pop_mark()?;
            }
            op::DUP => {
                let t = self.top()?;
                self.shared += 1;
                self.push(t)?;
            }
            op::FLOAT => {
                let line = self.line(feed)?;
                let v = text::float_arg(&line.data, line.at_eof, feed.loader())
                    .ok_or_else(|| bad("could not convert the FLOAT argument"))?;
                self.push_value(Value::Float(v))?;
            }
            op::BINFLOAT => {
                let b = feed.array::<8>()?;
                self.push_value(Value::Float(f64::from_be_bytes(b)))?;
            }
            op::INT => {
                let line = self.line(feed)?;
                let v = text::int_arg(&line.data, line.at_eof, feed.loader())
                    .ok_or_else(|| bad("could not convert the INT argument"))?;
                self.push_value(v)?;
            }
            op::LONG => {
                let line = self.line(feed)?;
                let v = text::long_arg(&line.data, line.at_eof, feed.loader())
                    .ok_or_else(|| bad("could not convert the LONG argument"))?;
                self.push_value(v)?;
            }
            op::BININT => {
                let v = i32::from_le_bytes(feed.array::<4>()?);
                self.push_value(Value::Int(i64::from(v)))?;
            }
            op::BININT1 => {
                let v = feed.u8()?;
                self.push_value(Value::Int(i64::from(v)))?;
            }
            op::BININT2 => {
                let v = u16::from_le_bytes(feed.array::<2>()?);
                self.push_value(Value::Int(i64::from(v)))?;
            }
            op::LONG1 => {
                let n = u64::from(feed.u8()?);
                let v = self.long_bytes(feed, n)?;
                self.push_value(v)?;
            }
            op::LONG4 => {
                let n = i32::from_le_bytes(feed.array::<4>()?);
                let n = u64::try_from(n).map_err(|_| ProblemKind::BadLength(i128::from(n)))?;
                let v = self.long_bytes(feed, n)?;
                self.push_value(v)?;
            }
            op::STRING => {
                let line = self.line(feed)?;
                let s = text::string_arg(&line.data, line.at_eof).map_err(bad)?;
                let v = Value::Str(s.into());
                self.ctx.note_string(&v);
                self.push_value(v)?;
            }
            op::BINSTRING => {
                let n = i32::from_le_bytes(feed.array::<4>()?);
                let n = u64::try_from(n).map_err(|_| ProblemKind::BadLength(i128::from(n)))?;
                let v = self.latin1_text(feed, n)?;
                self.ctx.note_string(&v);
                self.push_value(v)?;
            }
            op::SHORT_BINSTRING => {
                let n = u64::from(feed.u8()?);
                let v = self.latin1_text(feed, n)?;
                self.ctx.note_string(&v);
                self.push_value(v)?;
            }
            op::UNICODE => {
                let line = self.line(feed)?;
                let s = text::unicode_arg(&line.data, line.at_eof).map_err(bad)?;
                let v = Value::Str(s.into());
                self.ctx.note_string(&v);
                self.push_value(v)?;
            }
            op::SHORT_BINUNICODE => {
                let n = u64::from(feed.u8()?);
                let v = self.text(feed, n)?;
                self.ctx.note_string(&v);
                self.push_value(v)?;
            }
            op::BINUNICODE => {
                let n = u64::from(u32::from_le_bytes(feed.array::<4>()?));
                let v = self.text(feed, n)?;
                self.ctx.note_string(&v);
                self.push_value(v)?;
            }
            op::BINUNICODE8 => {
                let n = u64::from_le_bytes(feed.array::<8>()?);
                let v = self.text(feed, n)?;
                self.ctx.note_string(&v);
                self.push_value(v)?;
            }
            op::SHORT_BINBYTES => {
                let n = u64::from(feed.u8()?);
                let b = self.blob(feed, n, Request::Into)?;
                self.push_value(Value::Bytes(Box::new(b)))?;
            }
            op::BINBYTES => {
                let n = u64::from(u32::from_le_bytes(feed.array::<4>()?));
                let b = self.blob(feed, n, Request::Into)?;
                self.push_value(Value::Bytes(Box::new(b)))?;
            }
            op::BINBYTES8 => {
                let n = u64::from_le_bytes(feed.array::<8>()?);
                let b = self.blob(feed, n, Request::Into)?;
                self.push_value(Value::Bytes(Box::new(b)))?;
            }
            op::BYTEARRAY8 => {
                let n = u64::from_le_bytes(feed.array::<8>()?);
                let b = self.blob(feed, n, Request::Into)?;
                self.push_value(Value::ByteArray(Box::new(b)))?;
            }
            op::NEXT_BUFFER => self.push_value(Value::Buffer { readonly: false })?,
            op::READONLY_BUFFER => {
                let t = self.pop()?;
                // `memoryview(obj)`: both unpicklers fail on an object without the buffer API.
                if let Some(ty) = builtin_type(self.arena.get(t))
                    && !matches!(ty, "bytes" | "bytearray")
                {
                    return Err(ProblemKind::BadArgument(format!(
                        "memoryview: a bytes-like object is required, not '{ty}'"
                    )));
                }
                let v = match self.arena.get(t) {
                    Value::Buffer { .. } => Value::Buffer { readonly: true },
                    other => other.clone(),
                };
                self.push_value(v)?;
            }
            op::NONE => self.push_value(Value::None)?,
            op::NEWTRUE => self.push_value(Value::Bool(true))?,
            op::NEWFALSE => self.push_value(Value::Bool(false))?,
            op::EMPTY_LIST => self.push_value(Value::List(Vec::new()))?,
            op::EMPTY_TUPLE => self.push_value(Value::Tuple(Vec::new()))?,
            op::EMPTY_DICT => self.push_value(Value::Dict(Vec::new()))?,
            op::EMPTY_SET => self.push_value(Value::Set(Vec::new()))?,
            op::APPEND => {
                let v = self.pop()?;
                let list = self.top()?;
                self.lacks_method(list, "append", |v| {
                    matches!(v, Value::List(_) | Value::ByteArray(_))
                })?;
                if matches!(self.arena.get(list), Value::List(_)) {
                    self.extend_container(list, vec![v], Vec::new());
                } else {
                    self.append_to_object(off, list, vec![v])?;
                }
            }
            op::APPENDS => {
                let items = self.pop_mark()?;
                let list = self.top()?;
                // The C unpickler does nothing for no items (the pure-Python one fails first).
                if !items.is_empty() {
                    self.lacks_method(list, "append", |v| {
                        matches!(v, Value::List(_) | Value::ByteArray(_))
                    })?;
                }
                if matches!(self.arena.get(list), Value::List(_)) {
                    self.extend_container(list, items, Vec::new());
                } else {
                    self.append_to_object(off, list, items)?;
                }
            }
            op::LIST => {
                let items = self.pop_mark()?;
                self.push_value(Value::List(items))?;
            }
            op::TUPLE => {
                let items = self.pop_mark()?;
                self.push_value(Value::Tuple(items))?;
            }
            op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                let n = usize::from(code - op::TUPLE1 + 1);
                let mut items = vec![0; n];
                for slot in items.iter_mut().rev() {
                    *slot = self.pop()?;
                }
                self.push_value(Value::Tuple(items))?;
            }
            op::DICT => {
                let items = self.pop_mark()?;
                let pairs = pairs(items)?;
                self.hashable(pairs.iter().map(|&(k, _)| k))?;
                self.push_value(Value::Dict(pairs))?;
            }
            op::SETITEM => {
                let v = self.pop()?;
                let k = self.pop()?;
                let d = self.top()?;
                self.set_items_on(d, std::iter::once(k))?;
                self.extend_container(d, Vec::new(), vec![(k, v)]);
            }
            op::SETITEMS => {
                let items = self.pop_mark()?;
                let new = pairs(items)?;
                let d = self.top()?;
                self.set_items_on(d, new.iter().map(|&(k, _)| k))?;
                self.extend_container(d, Vec::new(), new);
            }
            op::ADDITEMS => {
                let items = self.pop_mark()?;
                let s = self.top()?;
                if !items.is_empty() {
                    self.lacks_method(s, "add", |v| matches!(v, Value::Set(_)))?;
                    if matches!(self.arena.get(s), Value::Set(_)) {
                        self.hashable(items.iter().copied())?;
                    }
                }
                if matches!(self.arena.get(s), Value::Set(_)) {
                    self.extend_container(s, items, Vec::new());
                } else if let Some(&first) = items.first() {
                    self.call_injected(off, s, &["add"], first)?;
                }
            }
            op::FROZENSET => {
                let items = self.pop_mark()?;
                self.hashable(items.iter().copied())?;
                self.push_value(Value::FrozenSet(items))?;
            }
            op::GET => {
                let line = self.line(feed)?;
                let idx = text::index_arg(&line.data, line.at_eof, feed.loader())
                    .ok_or_else(|| bad("bad GET index"))?;
                self.memo_get(idx)?;
            }
            op::BINGET => {
                let idx = u64::from(feed.u8()?);
                self.memo_get(idx)?;
            }
            op::LONG_BINGET => {
                let idx = u64::from(u32::from_le_bytes(feed.array::<4>()?));
                self.memo_get(idx)?;
            }
            op::PUT => {
                let line = self.line(feed)?;
                let idx = text::index_arg(&line.data, line.at_eof, feed.loader())
                    .ok_or_else(|| bad("bad or negative PUT index"))?;
                let t = self.top()?;
                self.memo_put(idx, t)?;
            }
            op::BINPUT => {
                let idx = u64::from(feed.u8()?);
                let t = self.top()?;
                self.memo_put(idx, t)?;
            }
            op::LONG_BINPUT => {
                let idx = u64::from(u32::from_le_bytes(feed.array::<4>()?));
                let t = self.top()?;
                self.memo_put(idx, t)?;
            }
            op::MEMOIZE => {
                let t = self.top()?;
                let idx = self.memo.len();
                self.memo_put(idx, t)?;
            }
            op::GLOBAL => {
                let (module, name) = self.name_lines(feed, false)?;
                let g = self.import_named(off, &module, &name)?;
                self.push(g)?;
            }
            op::STACK_GLOBAL => {
                let name = self.pop()?;
                let module = self.pop()?;
                let g = self.stack_global(off, module, name)?;
                self.push(g)?;
            }
            op::INST => {
                // The pure-Python unpickler imports the class before it looks for the MARK,
                // the C one looks for the MARK first.
                if !feed.loader().py() && self.marks.is_empty() {
                    return Err(ProblemKind::NoMark);
                }
                let (module, name) = self.name_lines(feed, true)?;
                let cls = self.import_named(off, &module, &name)?;
                let args = self.pop_mark()?;
                let args = self.value(Value::Tuple(args))?;
                let r = self.instantiate(off, cls, args)?;
                self.push(r)?;
            }
            op::OBJ => {
                let mut items = self.pop_mark()?;
                if items.is_empty() {
                    return Err(ProblemKind::StackUnderflow);
                }
                let cls = items.remove(0);
                let args = self.value(Value::Tuple(items))?;
                let r = self.instantiate(off, cls, args)?;
                self.push(r)?;
            }
            op::REDUCE => {
                let args = self.pop()?;
                let callee = self.pop()?;
                self.check_callable(callee)?;
                self.check_iterable(args, "REDUCE arguments")?;
                // `PyObject_CallObject`: "argument list must be a tuple".
                self.check_tuple(feed, args, "REDUCE arguments")?;
                self.trace(off, StepKind::Call, |m| {
                    m.render_call(callee, args, None, CallKind::Call)
                });
                let r = self.invoke(off, callee, args, None, Via::Direct)?;
                self.push(r)?;
            }
            op::NEWOBJ => {
                let args = self.pop()?;
                let cls = self.pop()?;
                self.check_callable(cls)?;
                self.check_iterable(args, "NEWOBJ arguments")?;
                self.check_tuple(feed, args, "NEWOBJ arguments")?;
                let r = self.construct(off, cls, args, None)?;
                self.push(r)?;
            }
            op::NEWOBJ_EX => {
                let kwargs = self.pop()?;
                let args = self.pop()?;
                let cls = self.pop()?;
                // The pure-Python unpickler evaluates `cls.__new__(cls, *args, **kwargs)`: a
                // `kwargs` that is no dict is read as a mapping, its `keys()` called, before
                // anything checks `cls` (the C unpickler refuses first). The reading that runs
                // more code counts.
                if feed.loader().py() && !self.is_plain_data(kwargs) {
                    self.mapping_protocol(off, kwargs)?;
                }
                self.check_callable(cls)?;
                self.check_iterable(args, "NEWOBJ_EX arguments")?;
                // The C unpickler hands a tuple and a dict to `tp_new` and refuses anything
                // else it can tell apart.
                self.check_tuple(feed, args, "NEWOBJ_EX arguments")?;
                if !feed.loader().py()
                    && self.known_type(kwargs)
                    && !matches!(self.arena.get(kwargs), Value::Dict(_))
                {
                    return Err(bad("NEWOBJ_EX kwargs argument must be a dict"));
                }
                if self.is_plain_data(kwargs) && !matches!(self.arena.get(kwargs), Value::Dict(_)) {
                    return Err(bad("NEWOBJ_EX keyword arguments are not a mapping"));
                }
                let r = self.construct(off, cls, args, Some(kwargs))?;
                self.push(r)?;
            }
            op::BUILD => {
                let state = self.pop()?;
                let target = self.top()?;
                self.trace(off, StepKind::Build, |m| {
                    format!("{}.__setstate__({})", m.render(target), m.render(state))
                });
                self.build(feed, off, target, state)?;
            }
            op::EXT1 => {
                let code = i64::from(feed.u8()?);
                self.extension(off, code)?;
            }
            op::EXT2 => {
                let code = i64::from(u16::from_le_bytes(feed.array::<2>()?));
                self.extension(off, code)?;
            }
            op::EXT4 => {
                let code = i64::from(i32::from_le_bytes(feed.array::<4>()?));
                self.extension(off, code)?;
            }
            op::PERSID => {
                let line = self.line(feed)?;
                let pid = text::persid_arg(&line.data, line.at_eof).map_err(bad)?;
                let pid = self.value(Value::Str(pid.into()))?;
                self.trace(off, StepKind::PersistentLoad, |m| {
                    format!("persistent_load({})", m.render(pid))
                });
                self.push_value(Value::PersistentId(pid))?;
            }
            op::BINPERSID => {
                let pid = self.pop()?;
                self.note_storage(pid);
                self.trace(off, StepKind::PersistentLoad, |m| {
                    format!("persistent_load({})", m.render(pid))
                });
                self.push_value(Value::PersistentId(pid))?;
            }
            op::PROTO => {
                let p = feed.u8()?;
                if p > 5 {
                    return Err(ProblemKind::UnsupportedProtocol(p));
                }
                self.protocol = p;
            }
            op::FRAME => {
                let len = u64::from_le_bytes(feed.array::<8>()?);
                if i64::try_from(len).is_err() {
                    return Err(ProblemKind::BadLength(i128::from(len)));
                }
                feed.frame(off, len)?;
            }
            other => return Err(ProblemKind::BadOpcode(other)),
        }
        Ok(Flow::Continue)
    }

    /// Plain data: no call, import or object whose type is unknown (so whether it can be called,
    /// iterated or used as a name is known).
    fn is_plain_data(&self, id: Id) -> bool {
        let v = self.arena.get(id);
        v.is_scalar()
            || matches!(
                v,
                Value::Tuple(_)
                    | Value::List(_)
                    | Value::Dict(_)
                    | Value::Set(_)
                    | Value::FrozenSet(_)
                    | Value::Buffer { .. }
                    | Value::Elided
            )
    }

    /// Whether a value cannot be an exact `str` at load time (STACK_GLOBAL accepts nothing
    /// else, not even a subclass): plain data other than a string, or an instance of a
    /// framework class (constructed, or rebuilt by `copyreg`) other than `str` itself. A call
    /// of anything else may return a string.
    fn never_exact_str(&self, id: Id) -> bool {
        if self.is_plain_data(id) {
            return !matches!(self.arena.get(id), Value::Str(_));
        }
        let Value::Call {
            callee, args, kind, ..
        } = self.arena.get(id)
        else {
            return false;
        };
        let class = match (self.arena.global_name(*callee), kind) {
            (Some((m, q)), CallKind::Call)
                if matches!(
                    classify::full_name(m, q).as_str(),
                    "copyreg._reconstructor" | "copyreg.__newobj__" | "copyreg.__newobj_ex__"
                ) =>
            {
                self.arg(*args, 0)
            }
            (Some((_, q)), CallKind::Call) if classify::looks_like_class(q) => Some(*callee),
            (Some(_), CallKind::New) => Some(*callee),
            _ => None,
        };
        class
            .and_then(|c| self.arena.global_name(c))
            .is_some_and(|(m, q)| {
                classify::is_trusted_namespace(m) && classify::full_name(m, q) != "builtins.str"
            })
    }

    /// Calling plain data raises `TypeError` in every unpickler: the load stops there.
    fn check_callable(&self, id: Id) -> Res<()> {
        if self.is_plain_data(id) {
            return Err(bad("calls an object that is not callable"));
        }
        Ok(())
    }

    /// Whether `id`'s Python type is known: a constant or a container the stream built (not an
    /// imported object or a call's result, which may be a tuple or dict subclass).
    fn known_type(&self, id: Id) -> bool {
        self.arena.get(id).is_scalar()
            || matches!(
                self.arena.get(id),
                Value::Tuple(_)
                    | Value::List(_)
                    | Value::Dict(_)
                    | Value::Set(_)
                    | Value::FrozenSet(_)
                    | Value::Buffer { .. }
            )
    }

    /// The C unpickler's reading: call arguments must be a tuple (the pure-Python one unpacks
    /// any iterable).
    fn check_tuple(&self, feed: &Feed<'_>, id: Id, what: &str) -> Res<()> {
        if !feed.loader().py()
            && self.known_type(id)
            && !matches!(self.arena.get(id), Value::Tuple(_))
        {
            return Err(ProblemKind::BadArgument(format!("{what} must be a tuple")));
        }
        Ok(())
    }

    /// `f(*args)`: the pure-Python unpickler takes any iterable (the C one a tuple); numbers
    /// and None are no arguments at all.
    fn check_iterable(&self, id: Id, what: &str) -> Res<()> {
        if matches!(
            self.arena.get(id),
            Value::None | Value::Bool(_) | Value::Int(_) | Value::BigInt(_) | Value::Float(_)
        ) {
            return Err(ProblemKind::BadArgument(format!("{what} are not iterable")));
        }
        Ok(())
    }

    fn long_bytes(&mut self, feed: &mut Feed<'_>, n: u64) -> Res<Value> {
        if n > feed.begin(n, Request::Read) {
            return Err(ProblemKind::BadLength(i128::from(n)));
        }
        if n > 16 {
            if n > self.limits().max_inline_bytes as u64 {
                feed.skip_now(n)?;
            } else {
                feed.bytes_now(n as usize)?;
            }
            return Ok(Value::BigInt(format!("<{n}-byte int>")));
        }
        let b = feed.bytes_now(n as usize)?;
        Ok(decode_long(&b))
    }

    fn latin1_text(&mut self, feed: &mut Feed<'_>, n: u64) -> Res<Value> {
        Ok(match self.blob(feed, n, Request::Read)? {
            Blob::Inline { data, .. } => Value::Str(data.iter().map(|&b| char::from(b)).collect()),
            Blob::External { len, preview, .. } => Value::BigStr {
                len,
                preview: preview
                    .iter()
                    .map(|&b| char::from(b))
                    .collect::<String>()
                    .into(),
            },
        })
    }

    /// The two lines of GLOBAL (UTF-8) or INST (ASCII).
    /// The C unpickler refuses an empty line there ("pickle data was truncated") before it
    /// imports anything; the pure-Python one hands `''` to `find_class`.
    fn name_lines(&mut self, feed: &mut Feed<'_>, ascii: bool) -> Res<(String, String)> {
        let c_only = !feed.loader().py();
        let module = self.line(feed)?;
        if c_only && module.data.is_empty() {
            return Err(ProblemKind::Truncated);
        }
        let module = text::name_arg(&module.data, module.at_eof, ascii).map_err(bad)?;
        let name = self.line(feed)?;
        if c_only && name.data.is_empty() {
            return Err(ProblemKind::Truncated);
        }
        let name = text::name_arg(&name.data, name.at_eof, ascii).map_err(bad)?;
        Ok((module, name))
    }

    // ---- imports -------------------------------------------------------------------

    /// Imports `module.name` (GLOBAL, INST, STACK_GLOBAL, EXT).
    fn import(&mut self, off: u64, module: &str, name: &str) -> Res<Id> {
        self.import_resolved(off, module, name, None)
    }

    /// [`Self::import`] of a name `find_class` rewrites to `resolved` (`fix_imports`).
    fn import_resolved(
        &mut self,
        off: u64,
        module: &str,
        name: &str,
        resolved: Option<(String, String)>,
    ) -> Res<Id> {
        self.trace(off, StepKind::Import, |_| import_text(module, name));
        self.eventful = true;
        self.ctx.note_global(module, name);
        let mut value = Value::global(module, name);
        if let (Value::Global(g), Some(r)) = (&mut value, resolved) {
            g.resolved = Some(Box::new(r));
        }
        let id = self.value(value)?;
        self.keep(id);
        self.global_sites.push((id, off));
        Ok(id)
    }

    /// What `find_class(module, name)` does with names read from the stream: a module name
    /// that cannot be imported fails; a module that can is imported (its code runs) before the
    /// attribute is looked up, so a name that cannot be an attribute still reaches the module.
    fn import_named(&mut self, off: u64, module: &str, name: &str) -> Res<Id> {
        if !dotted_identifiers(module) {
            let shown = crate::value::truncate_chars(module.escape_debug().to_string(), 80);
            return Err(ProblemKind::BadArgument(format!(
                "no module can be named {shown}"
            )));
        }
        if !dotted_identifiers(name) {
            // Protocol 4 resolves a dotted name one attribute at a time: every leading part
            // that can be an attribute is reached (`torch` + `os.system ` reaches `torch.os`).
            let reached = name
                .split('.')
                .take_while(|p| importable_part(p))
                .collect::<Vec<&str>>()
                .join(".");
            // `fix_imports` still rewrites the module under protocol < 3 (no `NAME_MAPPING`
            // pair has such a name): the module imported is the one listed.
            let fixed = if self.protocol < 3 {
                fix_imports(module, "").map(|(m, _)| m)
            } else {
                None
            };
            self.import(off, fixed.as_deref().unwrap_or(module), &reached)?;
            let shown = crate::value::truncate_chars(name.escape_debug().to_string(), 80);
            return Err(ProblemKind::BadArgument(format!(
                "module {module} is imported, but no attribute can be named {shown}"
            )));
        }
        // Under protocol < 3 both unpicklers rewrite Python-2 names (`fix_imports`).
        let resolved = if self.protocol < 3 {
            fix_imports(module, name)
        } else {
            None
        };
        self.import_resolved(off, module, name, resolved)
    }

    fn stack_global(&mut self, off: u64, module: Id, name: Id) -> Res<Id> {
        self.need_exact(&[module, name])?;
        self.restore_names(&[module, name])?;
        match (self.arena.as_str(module), self.arena.as_str(name)) {
            (Some(m), Some(n)) => {
                let (m, n) = (m.to_owned(), n.to_owned());
                self.import_named(off, &m, &n)
            }
            _ if [module, name].iter().any(|&v| self.never_exact_str(v)) => {
                Err(bad("STACK_GLOBAL requires str"))
            }
            _ => {
                self.eventful = true;
                let what = format!("{}.{}", self.render(module), self.render(name));
                self.verdict(
                    Risk::High,
                    VerdictKind::DynamicImport,
                    off,
                    Some(what.clone()),
                    None,
                    format!("loading imports a name computed at load time: {what}"),
                    Vec::new(),
                );
                let attr = self.arena.as_str(name).unwrap_or("<computed>").to_owned();
                self.value(Value::Attr {
                    base: module,
                    name: attr.into(),
                })
            }
        }
    }

    fn extension(&mut self, off: u64, code: i64) -> Res<()> {
        // Both unpicklers refuse it before any registry is asked ("EXT specifies code <= 0").
        if code <= 0 {
            return Err(ProblemKind::BadArgument(format!(
                "EXT specifies code {code} (<= 0)"
            )));
        }
        self.eventful = true;
        let id = match self.ctx.extensions.get(&code).cloned() {
            Some((m, n)) => self.import_named(off, &m, &n)?,
            None => {
                self.verdict(
                    Risk::High,
                    VerdictKind::UnresolvedExtension,
                    off,
                    Some(format!("extension code {code}")),
                    None,
                    format!(
                        "loading looks up copyreg extension code {code}, which nothing in the \
                         file registers; the object it names depends on the loading process"
                    ),
                    Vec::new(),
                );
                self.value(Value::Unknown)?
            }
        };
        self.push(id)
    }

    // ---- calls, constructions, state -----------------------------------------------

    /// INST / OBJ: `cls(*args)`, or `cls.__new__(cls)` for a class without arguments.
    fn instantiate(&mut self, off: u64, cls: Id, args: Id) -> Res<Id> {
        let no_args = self.arena.tuple_items(args).is_some_and(<[Id]>::is_empty);
        let class_like = self
            .arena
            .global_name(cls)
            .is_some_and(|(_, q)| classify::looks_like_class(q));
        if no_args && class_like {
            self.construct(off, cls, args, None)
        } else {
            self.trace(off, StepKind::Call, |m| {
                m.render_call(cls, args, None, CallKind::Call)
            });
            self.invoke(off, cls, args, None, Via::Direct)
        }
    }

    /// With [`Options::collect_storages`]: a `('storage', torch.<Type>, key, location, numel)`
    /// persistent id is a PyTorch storage reference; kept for the checks of its bytes.
    fn note_storage(&mut self, pid: Id) {
        if !self.ctx.opts.collect_storages {
            return;
        }
        let Some(items) = self.arena.tuple_items(pid) else {
            return;
        };
        let (Some(&tag), Some(&class), Some(&key)) = (items.first(), items.get(1), items.get(2))
        else {
            return;
        };
        if self.arena.as_str(tag) != Some("storage") {
            return;
        }
        let Some(("torch", storage_type)) = self.arena.global_name(class) else {
            return;
        };
        let Some(key) = self.arena.as_str(key) else {
            return;
        };
        let numel = items.get(4).and_then(|&n| match self.arena.get(n) {
            Value::Int(n) => u64::try_from(*n).ok(),
            _ => None,
        });
        let storage = crate::Storage {
            key: key.to_owned(),
            storage_type: storage_type.to_owned(),
            numel,
        };
        self.ctx.note_storage(storage);
    }

    /// What a callee really is: legacy `torch.save` hands classes through `persistent_load`
    /// as `('module', cls, source_file, source)`, which returns `cls`.
    fn resolve_callee(&self, id: Id) -> Id {
        if let Value::PersistentId(pid) = self.arena.get(id)
            && let Some(items) = self.arena.tuple_items(*pid)
            && let (Some(&tag), Some(&cls)) = (items.first(), items.get(1))
            && self.arena.as_str(tag) == Some("module")
            && self.arena.global_name(cls).is_some()
        {
            return cls;
        }
        id
    }

    fn global_of(&self, id: Id) -> Option<(String, String)> {
        self.arena
            .global_name(id)
            .map(|(m, q)| (m.to_owned(), q.to_owned()))
    }

    /// The size a call `bytes(n)` / `bytearray(n)` allocates when `n` is larger than any real
    /// file asks for (4 GiB; real pickles hand these constructors data, not a length).
    fn allocation(&self, name: &str, args: Id) -> Option<String> {
        const LARGE: i64 = 1 << 32;
        if !matches!(name, "builtins.bytes" | "builtins.bytearray")
            || self.arena.tuple_items(args).map_or(0, <[Id]>::len) != 1
        {
            return None;
        }
        match self.arena.get(self.arg(args, 0)?) {
            Value::Int(n) if *n >= LARGE => Some(n.to_string()),
            Value::BigInt(n) if !n.starts_with('-') => Some(n.clone()),
            _ => None,
        }
    }

    fn arg(&self, args: Id, i: usize) -> Option<Id> {
        self.arena.tuple_items(args).and_then(|a| a.get(i)).copied()
    }

    fn is_constant(&self, id: Id) -> bool {
        let mut ok = true;
        self.arena.walk(id, 256, |_, v| {
            if !matches!(
                v,
                Value::None
                    | Value::Bool(_)
                    | Value::Int(_)
                    | Value::BigInt(_)
                    | Value::Float(_)
                    | Value::Str(_)
                    | Value::Bytes(_)
                    | Value::Tuple(_)
                    | Value::Elided
            ) {
                ok = false;
            }
        });
        ok
    }

    /// `callee(*args, **kwargs)`.
    fn invoke(&mut self, off: u64, callee: Id, args: Id, kwargs: Option<Id>, via: Via) -> Res<Id> {
        self.eventful = true;
        let callee = self.resolve_callee(callee);
        let Some((module, qualname)) = self.global_of(callee) else {
            return self.invoke_computed(off, callee, args, kwargs, via);
        };
        self.mark_used(callee);
        let name = classify::full_name(&module, &qualname);
        if via == Via::Direct
            && let Some(r) = self.evaluate(off, &name, args)?
        {
            return Ok(r);
        }
        let shown = self.render_call(callee, args, kwargs, CallKind::Call);
        let verb = if via == Via::Forwarded {
            "loading passes a callable that gets called:"
        } else {
            "loading calls"
        };
        match classify::invocation(&module, &qualname, self.ctx.opts) {
            NameClass::Allowed => {
                if classify::allowed_for_data_only(&module, &qualname, self.ctx.opts)
                    && let Some(held) = self.held_reference(args, kwargs)
                {
                    let iocs = self.iocs(&[args]);
                    let held = self.render(held);
                    self.verdict(
                        Risk::High,
                        VerdictKind::UnknownCall,
                        off,
                        Some(format!("{module}.{qualname}")),
                        None,
                        format!(
                            "{verb} {shown} with {held} among its arguments, where the \
                             libraries' own files pass only data: a callable where data belongs"
                        ),
                        iocs,
                    );
                }
                if let Some(size) = self.allocation(&name, args) {
                    self.verdict(
                        Risk::Medium,
                        VerdictKind::Anomaly,
                        off,
                        Some(format!("{module}.{qualname}")),
                        None,
                        format!(
                            "{verb} {shown}, which allocates {size} zeroed bytes: the load \
                             exhausts the loading host's memory"
                        ),
                        Vec::new(),
                    );
                }
            }
            NameClass::Dangerous(cat) => {
                let iocs = self.iocs(&[args]);
                let alias = alias_note(&module, &qualname);
                self.verdict(
                    Risk::Critical,
                    VerdictKind::DangerousCall,
                    off,
                    Some(format!("{module}.{qualname}")),
                    Some(cat),
                    format!("{verb} {shown}{alias} — {}", cat.label()),
                    iocs,
                );
            }
            NameClass::Unknown => {
                let from_constants = classify::looks_like_class(&qualname)
                    && kwargs.is_none()
                    && self.is_constant(args);
                let iocs = self.iocs(&[args]);
                let (risk, msg) = if from_constants && classify::is_trusted_namespace(&module) {
                    (
                        Risk::Medium,
                        format!(
                            "{verb} {shown}: a framework class rebuilt from constants (such as \
                             an enum member), not on the known-safe list"
                        ),
                    )
                } else if from_constants && classify::is_users_code(&module) {
                    (
                        Risk::Medium,
                        format!(
                            "{verb} {shown}: a class outside the known frameworks built from \
                             constants (your own code, such as an enum or a config class; its \
                             code must be trusted)"
                        ),
                    )
                } else {
                    (
                        Risk::High,
                        format!("{verb} {shown}, which no known framework needs"),
                    )
                };
                self.verdict(
                    risk,
                    VerdictKind::UnknownCall,
                    off,
                    Some(format!("{module}.{qualname}")),
                    None,
                    msg,
                    iocs,
                );
            }
        }
        if !matches!(
            classify::invocation(&module, &qualname, self.ctx.opts),
            NameClass::Dangerous(_)
        ) {
            self.call_effects(off, &name, args, &shown)?;
        }
        if via == Via::Direct {
            self.after_call(off, &name, args)?;
            if let Some(r) = self.resolve_by_name(off, &name, args)? {
                return Ok(r);
            }
            if let Some(v) = self.fold_call(&name, args, kwargs) {
                return self.value(v);
            }
        }
        self.value(Value::Call {
            callee,
            args,
            kwargs,
            kind: CallKind::Call,
            state: None,
        })
    }

    /// Invoking something that is not an imported name (a call result, an attribute, ...).
    fn invoke_computed(
        &mut self,
        off: u64,
        callee: Id,
        args: Id,
        kwargs: Option<Id>,
        via: Via,
    ) -> Res<Id> {
        if via == Via::Direct
            && let Some(v) = self.fold_method(callee, args, kwargs)
        {
            return self.value(v);
        }
        let shown = self.render_call(callee, args, kwargs, CallKind::Call);
        let iocs = self.iocs(&[callee, args]);
        let what = self.render(callee);
        if let Some((method, cat)) = self.dangerous_method(callee) {
            self.verdict(
                Risk::Critical,
                VerdictKind::DangerousCall,
                off,
                Some(method.clone()),
                Some(cat),
                format!("loading calls {shown}, that is {method} — {}", cat.label()),
                iocs,
            );
        } else {
            let msg = if via == Via::Forwarded {
                format!("loading passes an object computed at load time to a caller: {shown}")
            } else {
                format!("loading calls {shown}, an object computed at load time")
            };
            self.verdict(
                Risk::High,
                VerdictKind::UnknownCall,
                off,
                Some(what),
                None,
                msg,
                iocs,
            );
        }
        self.value(Value::Call {
            callee,
            args,
            kwargs,
            kind: CallKind::Call,
            state: None,
        })
    }

    /// A method of an object built at load time (`getattr(PosixPath('/x'), 'write_text')`)
    /// that is a dangerous primitive of its class: `module.Class.method` and its category.
    fn dangerous_method(&self, callee: Id) -> Option<(String, Category)> {
        let Value::Attr { base, name } = self.arena.get(callee) else {
            return None;
        };
        let class = self.constructed_class(*base)?;
        let (m, q) = self.arena.global_name(class)?;
        if !classify::looks_like_class(q) {
            return None;
        }
        let q = format!("{q}.{name}");
        classify::dangerous_category(m, &q).map(|cat| (format!("{m}.{q}"), cat))
    }

    /// Calls whose result is computed symbolically (attribute access, string/bytes
    /// conversions). Returns the result, or `None` to treat the call normally.
    fn evaluate(&mut self, off: u64, name: &str, args: Id) -> Res<Option<Id>> {
        let a0 = self.arg(args, 0);
        let a1 = self.arg(args, 1);
        let nargs = self.arena.tuple_items(args).map_or(usize::MAX, <[Id]>::len);
        match name {
            "builtins.getattr" if (2..=3).contains(&nargs) => {
                let (Some(target), Some(attr)) = (a0, a1) else {
                    return Ok(None);
                };
                self.need_exact(&[attr])?;
                self.restore_names(&[attr])?;
                let Some(attr) = self.arena.as_str(attr).map(str::to_owned) else {
                    return Ok(None);
                };
                // The attribute of the object the loader holds: named as `find_class`
                // resolved it (`copy_reg._reconstructor` is `copyreg._reconstructor`).
                let loader_name = self
                    .arena
                    .loader_name(target)
                    .map(|(m, q)| (m.to_owned(), q.to_owned()));
                if let Some((m, q)) = loader_name {
                    self.mark_used(target);
                    let q = if q.is_empty() {
                        attr
                    } else {
                        format!("{q}.{attr}")
                    };
                    let g = self.import(off, &m, &q)?;
                    return Ok(Some(g));
                }
                Ok(Some(self.value(Value::Attr {
                    base: target,
                    name: attr.into(),
                })?))
            }
            "numpy.core._ufunc_reconstruct" | "numpy._core._ufunc_reconstruct" => {
                self.need_exact(&[a0, a1].into_iter().flatten().collect::<Vec<_>>())?;
                let (Some(m), Some(n)) = (
                    a0.and_then(|m| self.arena.as_str(m)).map(str::to_owned),
                    a1.and_then(|n| self.arena.as_str(n)).map(str::to_owned),
                ) else {
                    return Ok(None);
                };
                if nargs != 2 {
                    return Ok(None);
                }
                let m = valid_name(m.as_bytes())?;
                let n = valid_name(n.as_bytes())?;
                Ok(Some(self.import(off, &m, &n)?))
            }
            _ if (name.ends_with(".__builtins__.get")
                || name.ends_with(".__builtins__.__getitem__"))
                && (1..=2).contains(&nargs) =>
            {
                // `module.__builtins__` is the builtins dict: `.get('eval')` is `builtins.eval`.
                self.need_exact(&a0.into_iter().collect::<Vec<_>>())?;
                let Some(attr) = a0.and_then(|a| self.arena.as_str(a)).map(str::to_owned) else {
                    return Ok(None);
                };
                let attr = valid_name(attr.as_bytes())?;
                Ok(Some(self.import(off, "builtins", &attr)?))
            }
            "builtins.type" if nargs == 1 => Ok(Some(self.value(Value::Unknown)?)),
            "builtins.str" if nargs == 1 && a0.is_some_and(|a| self.arena.as_str(a).is_some()) => {
                Ok(a0)
            }
            _ => Ok(None),
        }
    }

    /// The result of a call that imports by name (`importlib.import_module('os')`,
    /// `pydoc.locate('os.system')`, `sys.modules.get('os')`, ...) with a constant name: the
    /// module or object it names, so that what the file does with it next is judged by name.
    /// The call itself has been judged already.
    fn resolve_by_name(&mut self, off: u64, name: &str, args: Id) -> Res<Option<Id>> {
        let Some(target) = self
            .arg(args, 0)
            .and_then(|a| self.arena.as_str(a))
            .map(str::to_owned)
        else {
            return Ok(None);
        };
        let nargs = self.arena.tuple_items(args).map_or(0, <[Id]>::len);
        // Also reached through another module (`collections._sys.modules.get`).
        let known = [
            "builtins.__import__",
            "importlib.__import__",
            "importlib.import_module",
            "sys.modules.get",
            "sys.modules.__getitem__",
            "pydoc.locate",
            "pkgutil.resolve_name",
        ];
        let Some(name) = known.into_iter().find(|k| {
            name == *k
                || name
                    .strip_suffix(k)
                    .is_some_and(|head| head.ends_with('.') || head.ends_with("._"))
        }) else {
            return Ok(None);
        };
        // `sys.modules.get` and `pydoc.locate` return None for a name that cannot be imported
        // (the others raise, which ends the load).
        if matches!(name, "sys.modules.get" | "pydoc.locate")
            && !dotted_identifiers(&target.replace(':', "."))
        {
            return Ok(None);
        }
        match name {
            // `__import__('a.b')` returns the top package `a` unless a fromlist is given.
            "builtins.__import__" | "importlib.__import__" => {
                let fromlist = self.arg(args, 3).is_some_and(|f| {
                    !matches!(self.arena.get(f), Value::None)
                        && !matches!(self.arena.get(f), Value::Tuple(t) | Value::List(t) if t.is_empty())
                });
                let module = if fromlist || nargs > 4 {
                    target.as_str()
                } else {
                    target.split('.').next().unwrap_or(&target)
                };
                self.module_value(module).map(Some)
            }
            "importlib.import_module" | "sys.modules.get" | "sys.modules.__getitem__" => {
                self.module_value(&target).map(Some)
            }
            "pydoc.locate" | "pkgutil.resolve_name" => {
                let (m, q) = match target.split_once(':') {
                    Some((m, q)) => (m.to_owned(), q.to_owned()),
                    None => match target.rsplit_once('.') {
                        Some((m, q)) => (m.to_owned(), q.to_owned()),
                        None => return self.module_value(&target).map(Some),
                    },
                };
                if q.is_empty() {
                    return self.module_value(&m).map(Some);
                }
                let m = valid_name(m.as_bytes())?;
                let q = valid_name(q.as_bytes())?;
                self.import(off, &m, &q).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// A module object obtained at load time (a global with an empty qualname). Not an import
    /// site of its own: the call that produced it is judged, and so is any use of it.
    fn module_value(&mut self, module: &str) -> Res<Id> {
        let module = valid_name(module.as_bytes())?;
        self.value(Value::global(&module, ""))
    }

    /// The value an earlier BUILD stored under attribute `attr` of `obj` (instance dict or
    /// slot state), if any. The unpickler looks `__setstate__`, `extend`, `append` and `add`
    /// up on the object, so a stored callable is what a later BUILD/APPEND/ADDITEMS calls.
    fn injected_method(&self, obj: Id, attr: &str) -> Option<Id> {
        let Value::Call { state: Some(s), .. } = self.arena.get(obj) else {
            return None;
        };
        let dicts: Vec<Id> = match self.arena.get(*s) {
            Value::Dict(_) => vec![*s],
            Value::Tuple(t) if t.len() == 2 => t.clone(),
            _ => return None,
        };
        dicts.iter().find_map(|&d| match self.arena.get(d) {
            Value::Dict(pairs) => pairs
                .iter()
                .rev()
                .find(|(k, _)| self.arena.as_str(*k) == Some(attr))
                .map(|&(_, v)| v),
            _ => None,
        })
    }

    /// Calls a method that an earlier BUILD planted on `obj`, when it holds a callable.
    fn call_injected(&mut self, off: u64, obj: Id, attrs: &[&str], arg: Id) -> Res<bool> {
        for attr in attrs {
            if let Some(f) = self.injected_method(obj, attr) {
                if !matches!(
                    self.arena.get(f),
                    Value::Global(_) | Value::Attr { .. } | Value::Call { .. } | Value::Unknown
                ) {
                    return Ok(false);
                }
                let args = self.value(Value::Tuple(vec![arg]))?;
                self.invoke(off, f, args, None, Via::Direct)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Follow-ups of a direct call: forwarders, helpers that construct, nested pickles,
    /// extension registrations.
    fn after_call(&mut self, off: u64, name: &str, args: Id) -> Res<()> {
        if let Some(&(_, idx)) = FORWARDERS.iter().find(|(n, _)| *n == name)
            && let Some(f) = self.arg(args, idx)
        {
            let fargs = if name.starts_with("torch._tensor._rebuild_from_type") {
                self.arg(args, 2)
            } else {
                self.first_mapped_args(name, args)?
            };
            self.forward(off, f, fargs)?;
        }
        match name {
            "functools.partial" => {
                if let Some(f) = self.arg(args, 0) {
                    self.partial_target(off, f);
                }
            }
            "copyreg._reconstructor" => {
                if let Some(cls) = self.arg(args, 0) {
                    self.judge_class(off, cls, None, None);
                }
                if let Some(base) = self.arg(args, 1) {
                    let is_object = self
                        .global_of(base)
                        .is_some_and(|(m, q)| classify::full_name(&m, &q) == "builtins.object");
                    if is_object {
                        self.mark_used(base);
                    } else {
                        let state = self.arg(args, 2);
                        self.forward(off, base, state)?;
                    }
                }
            }
            // `copyreg.__newobj__(cls, ...)` and scikit-learn's Cython `newObj(cls)` both return
            // `cls.__new__(cls)`.
            n if n == "copyreg.__newobj__"
                || n == "copyreg.__newobj_ex__"
                || n.ends_with("._dist_metrics.newObj")
                || n.ends_with("_tree.newObj") =>
            {
                if let Some(cls) = self.arg(args, 0) {
                    self.judge_class(off, cls, None, None);
                }
            }
            "copyreg.add_extension" => {
                let m = self
                    .arg(args, 0)
                    .and_then(|m| self.arena.as_str(m))
                    .map(str::to_owned);
                let n = self
                    .arg(args, 1)
                    .and_then(|n| self.arena.as_str(n))
                    .map(str::to_owned);
                let code = self.arg(args, 2).and_then(|c| match self.arena.get(c) {
                    Value::Int(c) => Some(*c),
                    _ => None,
                });
                if let (Some(m), Some(n), Some(code)) = (m, n, code) {
                    self.ctx.extensions.insert(code, (m, n));
                }
            }
            _ => {}
        }
        // A loader re-exported under a framework's name (`…reduction.loads` is `pickle.loads`).
        let aliased_loader = crate::effects::alias_of(name).is_some_and(is_nested_loader);
        if (is_nested_loader(name) || aliased_loader)
            && let Some(a) = self.arg(args, 0)
        {
            self.nested(off, name, a)?;
        }
        Ok(())
    }

    /// The arguments `map(f, items)` / `filter(f, items)` / `starmap(f, items)` first call `f`
    /// with, when `items` is a constant list or tuple.
    fn first_mapped_args(&mut self, name: &str, args: Id) -> Res<Option<Id>> {
        let Some(items) = self.arg(args, 1) else {
            return Ok(None);
        };
        let first = match self.arena.get(items) {
            Value::List(v) | Value::Tuple(v) => v.first().copied(),
            _ => None,
        };
        let Some(first) = first else {
            return Ok(None);
        };
        match name {
            "builtins.map" | "builtins.filter" => Ok(Some(self.value(Value::Tuple(vec![first]))?)),
            "itertools.starmap" if self.arena.tuple_items(first).is_some() => Ok(Some(first)),
            _ => Ok(None),
        }
    }

    /// A callable handed to something that will call it.
    fn forward(&mut self, off: u64, f: Id, fargs: Option<Id>) -> Res<()> {
        if self.forward_depth >= MAX_FORWARD_DEPTH {
            return Ok(());
        }
        let args = match fargs {
            Some(a) => a,
            None => self.value(Value::Tuple(Vec::new()))?,
        };
        self.forward_depth += 1;
        let r = if let Some((pf, pargs)) = self.partial_parts(f) {
            // `functools.partial(g, *a)` called is `g(*a, ...)`.
            self.forward_depth -= 1;
            let r = self.forward(off, pf, pargs);
            self.forward_depth += 1;
            r
        } else if let Some((m, q)) = self.global_of(f)
            && classify::looks_like_class(&q)
            && effects::call_effects(&classify::full_name(&m, &q)).is_empty()
            && classify::construction_or_reference(&m, &q, self.ctx.opts) == NameClass::Allowed
            && classify::dangerous_category(&m, &q).is_none()
        {
            // A framework class without effects, called to build a value.
            self.mark_used(f);
            Ok(())
        } else if self.arena.global_name(f).is_some() {
            self.invoke(off, f, args, None, Via::Forwarded).map(|_| ())
        } else if matches!(self.arena.get(f), Value::Attr { .. } | Value::Unknown) {
            self.invoke_computed(off, f, args, None, Via::Forwarded)
                .map(|_| ())
        } else {
            Ok(())
        };
        self.forward_depth -= 1;
        r
    }

    /// `functools.partial(g, *a)` built at load time (REDUCE, or NEWOBJ + BUILD): `g` and `a`.
    fn partial_parts(&self, f: Id) -> Option<(Id, Option<Id>)> {
        let Value::Call {
            callee,
            args,
            state,
            ..
        } = self.arena.get(f)
        else {
            return None;
        };
        let (m, q) = self.arena.global_name(*callee)?;
        if classify::full_name(m, q) != "functools.partial" {
            return None;
        }
        let src = match self.arena.tuple_items(*args) {
            Some(a) if !a.is_empty() => *args,
            _ => (*state)?,
        };
        let items = self.arena.tuple_items(src)?;
        let g = *items.first()?;
        // With REDUCE the rest are the bound arguments; the BUILD state is (g, args, kw, dict).
        let rest = if src == *args {
            None
        } else {
            items.get(1).copied()
        };
        Some((g, rest))
    }

    /// A function, class or attribute held as data inside a call's arguments: the results of
    /// other calls are their own calls (judged when made) and are not entered, except a
    /// `functools.partial`, whose bound function is what it holds.
    fn held_reference(&self, args: Id, kwargs: Option<Id>) -> Option<Id> {
        const BUDGET: usize = 4096;
        let mut seen = std::collections::HashSet::new();
        let mut todo: Vec<Id> = std::iter::once(args).chain(kwargs).collect();
        let mut kids = Vec::new();
        while let Some(id) = todo.pop() {
            if !seen.insert(id) || seen.len() > BUDGET {
                continue;
            }
            match self.arena.get(id) {
                Value::Global(_) if self.is_callable_value(id) => return Some(id),
                Value::Attr { .. } => return Some(id),
                Value::Call { args, .. } => {
                    if self.partial_parts(id).is_some() {
                        todo.push(*args);
                    }
                }
                _ => {
                    kids.clear();
                    self.arena.children(id, &mut kids);
                    todo.extend(kids.iter().copied());
                }
            }
        }
        None
    }

    /// Whether `v` can be called: an imported name, an attribute, a partial.
    fn is_callable_value(&self, v: Id) -> bool {
        match self.arena.get(v) {
            Value::Global(_) => self.global_of(v).is_some_and(|(_, q)| !q.is_empty()),
            Value::Attr { .. } => true,
            _ => self.partial_parts(v).is_some(),
        }
    }

    /// A call of `name`: the generated effects of the function (or of the class's
    /// `__init__`/`__new__`) decide — arguments it calls are judged as invoked, bytes it unpickles
    /// are scanned, code/process effects are critical.
    fn call_effects(&mut self, off: u64, name: &str, args: Id, shown: &str) -> Res<()> {
        let effects = effects::call_effects(name);
        if effects.is_empty() {
            return Ok(());
        }
        self.apply_effects(off, name, &effects, args, shown)
    }

    fn apply_effects(
        &mut self,
        off: u64,
        name: &str,
        effects: &[Effect],
        args: Id,
        shown: &str,
    ) -> Res<()> {
        let forwarder = FORWARDERS.iter().any(|(n, _)| *n == name);
        let loader = is_nested_loader(name);
        let mut worst: Option<Effect> = None;
        for &e in effects {
            match e {
                Effect::Calls(i) => {
                    if !forwarder
                        && let Some(f) = self.arg(args, i)
                        && self.is_callable_value(f)
                    {
                        self.forward(off, f, None)?;
                    }
                }
                Effect::Loads(slot) => {
                    if loader {
                        continue;
                    }
                    let data = slot.and_then(|i| self.arg(args, i));
                    match data {
                        Some(a) if self.pickle_bytes(a).is_some() => self.nested(off, name, a)?,
                        _ => worst = worse(worst, e),
                    }
                }
                _ => worst = worse(worst, e),
            }
        }
        if let Some(e) = worst {
            let (risk, kind) = effect_risk(e);
            let evidence = effects::evidence(name);
            let iocs = self.iocs(&[args]);
            self.verdict(
                risk,
                kind,
                off,
                Some(name.to_owned()),
                None,
                format!(
                    "loading calls {shown}: {name} {} (its code calls {evidence}); its \
                     namespace does not make that harmless",
                    e.label()
                ),
                iocs,
            );
        }
        Ok(())
    }

    /// BUILD on an object of class `name`: what its `__setstate__` does with the state.
    fn setstate_effects(&mut self, off: u64, name: &str, state: Id) -> Res<()> {
        let Some(sig) = effects::class(name) else {
            return Ok(());
        };
        let effects: Vec<Effect> = sig
            .effects
            .iter()
            .filter(|(m, _)| *m == Method::SetState)
            .map(|&(_, e)| e)
            .collect();
        if effects.is_empty() {
            return Ok(());
        }
        let mut blobs = Vec::new();
        let mut callables = Vec::new();
        let mut elided = false;
        self.arena.walk(state, 64, |id, v| match v {
            Value::Bytes(_) | Value::ByteArray(_) => blobs.push(id),
            Value::Global(_) | Value::Call { .. } | Value::Attr { .. } => callables.push(id),
            Value::Elided => elided = true,
            _ => {}
        });
        let mut worst: Option<Effect> = None;
        for &e in &effects {
            match e {
                Effect::Loads(_) => {
                    // Bytes the machine elided may be what gets loaded: not verified.
                    if blobs.is_empty() || elided {
                        worst = worse(worst, e);
                    }
                    for &b in &blobs {
                        self.nested(off, &format!("{name}.__setstate__"), b)?;
                    }
                }
                Effect::Calls(_) => {
                    for &c in &callables {
                        let judged = self.global_of(c).is_some_and(|(m, q)| {
                            classify::construction_or_reference(&m, &q, self.ctx.opts)
                                == NameClass::Allowed
                                && effects::call_effects(&classify::full_name(&m, &q)).is_empty()
                        });
                        if !judged && self.is_callable_value(c) {
                            self.forward(off, c, None)?;
                        }
                    }
                }
                _ => worst = worse(worst, e),
            }
        }
        if let Some(e) = worst {
            let (risk, kind) = effect_risk(e);
            let st = self.render(state);
            let iocs = self.iocs(&[state]);
            self.verdict(
                risk,
                kind,
                off,
                Some(format!("{name}.__setstate__")),
                None,
                format!(
                    "loading sets the state of a {name} from {st}: its __setstate__ {} (its code \
                     calls {})",
                    e.label(),
                    sig.evidence
                ),
                iocs,
            );
        }
        Ok(())
    }

    /// The function wrapped by `functools.partial`: dangerous → Critical.
    fn partial_target(&mut self, off: u64, f: Id) {
        let Some((m, q)) = self.global_of(f) else {
            return;
        };
        self.mark_used(f);
        let effects = effects::call_effects(&classify::full_name(&m, &q));
        if let Some(worst) = effects.iter().copied().max_by_key(|e| effect_rank(*e))
            && effect_rank(worst) > 0
            && !matches!(
                classify::construction_or_reference(&m, &q, self.ctx.opts),
                NameClass::Dangerous(_)
            )
        {
            let (risk, kind) = effect_risk(worst);
            let evidence = effects::evidence(&classify::full_name(&m, &q));
            self.verdict(
                risk,
                kind,
                off,
                Some(format!("{m}.{q}")),
                None,
                format!(
                    "loading builds functools.partial({m}.{q}, ...): calling it runs {m}.{q}, \
                     which {} (its code calls {evidence})",
                    worst.label()
                ),
                Vec::new(),
            );
            return;
        }
        match classify::construction_or_reference(&m, &q, self.ctx.opts) {
            NameClass::Allowed => {}
            NameClass::Dangerous(cat) => {
                self.verdict(
                    Risk::Critical,
                    VerdictKind::DangerousCall,
                    off,
                    Some(format!("{m}.{q}")),
                    Some(cat),
                    format!(
                        "loading builds functools.partial({m}.{q}, ...): calling it runs {m}.{q}{} — {}",
                        alias_note(&m, &q),
                        cat.label()
                    ),
                    Vec::new(),
                );
            }
            NameClass::Unknown => {
                self.verdict(
                    Risk::Medium,
                    VerdictKind::UnknownReference,
                    off,
                    Some(format!("{m}.{q}")),
                    None,
                    format!(
                        "loading builds functools.partial({m}.{q}, ...), a name outside the \
                         known frameworks"
                    ),
                    Vec::new(),
                );
            }
        }
    }

    /// Judges the class of a construction without `__init__`.
    fn judge_class(&mut self, off: u64, cls: Id, args: Option<Id>, kwargs: Option<Id>) {
        let cls = self.resolve_callee(cls);
        let shown = match args {
            Some(a) => self.render_call(cls, a, kwargs, CallKind::New),
            None => self.render(cls),
        };
        let Some((m, q)) = self.global_of(cls) else {
            let iocs = self.iocs(&[cls]);
            self.verdict(
                Risk::High,
                VerdictKind::UnknownCall,
                off,
                Some(self.render(cls)),
                None,
                format!("loading constructs an object of a class computed at load time: {shown}"),
                iocs,
            );
            return;
        };
        self.mark_used(cls);
        match classify::construction_or_reference(&m, &q, self.ctx.opts) {
            NameClass::Allowed => {}
            NameClass::Dangerous(cat) => {
                let iocs = args.map(|a| self.iocs(&[a])).unwrap_or_default();
                self.verdict(
                    Risk::Critical,
                    VerdictKind::DangerousCall,
                    off,
                    Some(format!("{m}.{q}")),
                    Some(cat),
                    format!("loading constructs {shown} — {}", cat.label()),
                    iocs,
                );
            }
            NameClass::Unknown => {
                self.verdict(
                    Risk::Medium,
                    VerdictKind::UnknownClass,
                    off,
                    Some(format!("{m}.{q}")),
                    None,
                    format!(
                        "loading constructs {m}.{q}, a class outside the known frameworks \
                         (its code must be trusted)"
                    ),
                    Vec::new(),
                );
            }
        }
    }

    /// NEWOBJ / NEWOBJ_EX: `cls.__new__(cls, *args, **kwargs)`.
    fn construct(&mut self, off: u64, cls: Id, args: Id, kwargs: Option<Id>) -> Res<Id> {
        self.trace(off, StepKind::New, |m| {
            m.render_call(cls, args, kwargs, CallKind::New)
        });
        self.eventful = true;
        self.judge_class(off, cls, Some(args), kwargs);
        if let Some((m, q)) = self.global_of(self.resolve_callee(cls)) {
            let name = classify::full_name(&m, &q);
            let new_effects: Vec<Effect> = effects::class(&name)
                .map(|c| {
                    c.effects
                        .iter()
                        .filter(|(m, _)| *m == Method::New)
                        .map(|&(_, e)| e)
                        .collect()
                })
                .unwrap_or_default();
            if !new_effects.is_empty() {
                let shown = self.render_call(cls, args, kwargs, CallKind::New);
                self.apply_effects(off, &name, &new_effects, args, &shown)?;
            }
        }
        self.value(Value::Call {
            callee: cls,
            args,
            kwargs,
            kind: CallKind::New,
            state: None,
        })
    }

    /// The class an object was constructed from (NEWOBJ, `copyreg._reconstructor`, ...).
    fn constructed_class(&self, obj: Id) -> Option<Id> {
        let Value::Call {
            callee, args, kind, ..
        } = self.arena.get(obj)
        else {
            return None;
        };
        if *kind == CallKind::New {
            return Some(*callee);
        }
        let (m, q) = self.arena.global_name(*callee)?;
        match classify::full_name(m, q).as_str() {
            "copyreg._reconstructor" | "copyreg.__newobj__" | "copyreg.__newobj_ex__" => {
                self.arg(*args, 0)
            }
            _ => Some(*callee),
        }
    }

    /// BUILD: `target.__setstate__(state)` or attribute updates.
    fn build(&mut self, feed: &mut Feed<'_>, off: u64, target: Id, state: Id) -> Res<()> {
        if let Some((m, q)) = self.global_of(target) {
            self.eventful = true;
            self.mark_used(target);
            let st = self.render(state);
            let iocs = self.iocs(&[state]);
            self.verdict(
                Risk::High,
                VerdictKind::StateOnGlobal,
                off,
                Some(format!("{m}.{q}")),
                None,
                format!("loading sets attributes on {m}.{q} (a module or class object) from {st}"),
                iocs,
            );
            return Ok(());
        }
        if self.call_injected(off, target, &["__setstate__"], state)? {
            return Ok(());
        }
        let class = self.constructed_class(target);
        if let Some(Value::Call { state: s, .. }) = self.arena.get_mut(target) {
            *s = Some(state);
        } else {
            return Ok(());
        }
        self.keep(state);
        let Some(class) = class else {
            return Ok(());
        };
        let Some((m, q)) = self.global_of(class) else {
            return Ok(());
        };
        let name = classify::full_name(&m, &q);
        self.setstate_effects(off, &name, state)?;
        if name == "functools.partial" {
            if let Some(f) = self.arg(state, 0) {
                self.partial_target(off, f);
            }
        } else if joblib::WRAPPERS.contains(&name.as_str()) {
            // Only joblib's unpickler reads the array data here; `pickle.load`, `torch.load`
            // and `numpy.load` read on as opcodes (another reading follows joblib's).
            self.ctx.joblib_seen = true;
            if self.ctx.joblib {
                self.joblib_array(feed, state)?;
            }
        }
        Ok(())
    }

    /// `**obj` on an object that is not a dict: Python calls `obj.keys()` (then `obj[key]` for
    /// each key), judged here as the call of `obj.keys`.
    fn mapping_protocol(&mut self, off: u64, obj: Id) -> Res<()> {
        let keys = match self.global_of(obj) {
            Some((m, q)) => {
                self.mark_used(obj);
                let q = if q.is_empty() {
                    "keys".to_string()
                } else {
                    format!("{q}.keys")
                };
                self.import(off, &m, &q)?
            }
            None => self.value(Value::Attr {
                base: obj,
                name: "keys".into(),
            })?,
        };
        let args = self.value(Value::Tuple(Vec::new()))?;
        self.invoke(off, keys, args, None, Via::Direct)?;
        Ok(())
    }

    /// APPEND/APPENDS on an object that is not a list: the unpickler calls its `extend`
    /// (with the list of items) or else its `append` (per item).
    /// Fails as both unpicklers do when `obj` is a builtin value that does not `have` the
    /// `method` the unpickler calls (`list.append`, `set.add`).
    #[inline]
    fn lacks_method(&self, obj: Id, method: &str, have: impl Fn(&Value) -> bool) -> Res<()> {
        let v = self.arena.get(obj);
        match builtin_type(v) {
            Some(ty) if !have(v) => Err(ProblemKind::BadArgument(format!(
                "'{ty}' object has no attribute '{method}'"
            ))),
            _ => Ok(()),
        }
    }

    /// SETITEM(S): `obj[key] = value` fails on a builtin value without item assignment, and a
    /// dict refuses an unhashable key.
    #[inline]
    fn set_items_on(&self, obj: Id, mut keys: impl Iterator<Item = Id> + Clone) -> Res<()> {
        if keys.clone().next().is_none() {
            return Ok(());
        }
        match self.arena.get(obj) {
            Value::Dict(_) => self.hashable(keys.by_ref()),
            Value::List(_) | Value::ByteArray(_) => Ok(()),
            v => match builtin_type(v) {
                Some(ty) => Err(ProblemKind::BadArgument(format!(
                    "'{ty}' object does not support item assignment"
                ))),
                None => Ok(()),
            },
        }
    }

    /// Fails when one of `keys` is a list, dict, set or bytearray (or a tuple holding one):
    /// `hash()` refuses it, and a dict or set key is hashed.
    #[inline]
    fn hashable(&self, mut keys: impl Iterator<Item = Id>) -> Res<()> {
        fn unhashable(m: &Machine<'_, '_, '_>, id: Id, depth: u32) -> Option<&'static str> {
            match m.arena.get(id) {
                Value::Tuple(items) if depth < 8 => {
                    items.iter().find_map(|&i| unhashable(m, i, depth + 1))
                }
                v @ (Value::List(_) | Value::Dict(_) | Value::Set(_) | Value::ByteArray(_)) => {
                    builtin_type(v)
                }
                _ => None,
            }
        }
        // The first level inline: keys are nearly always strings and numbers.
        let found = keys.find_map(|k| match self.arena.get(k) {
            Value::Tuple(_) => unhashable(self, k, 0),
            v @ (Value::List(_) | Value::Dict(_) | Value::Set(_) | Value::ByteArray(_)) => {
                builtin_type(v)
            }
            _ => None,
        });
        match found {
            Some(ty) => Err(ProblemKind::BadArgument(format!("unhashable type: '{ty}'"))),
            None => Ok(()),
        }
    }

    fn append_to_object(&mut self, off: u64, obj: Id, items: Vec<Id>) -> Res<()> {
        if self.injected_method(obj, "extend").is_some() {
            let list = self.value(Value::List(items))?;
            self.call_injected(off, obj, &["extend"], list)?;
        } else if let Some(&first) = items.first() {
            self.call_injected(off, obj, &["append"], first)?;
        }
        Ok(())
    }

    /// joblib's `read_array`: the array's bytes are read from the file itself, not through the
    /// unpickler's frame (joblib ends the frame before writing them), so inside a frame with
    /// bytes left they come after the frame and unpickling goes on in the frame.
    fn joblib_array(&mut self, feed: &mut Feed<'_>, state: Id) -> Res<()> {
        self.need_exact(&[state])?;
        match joblib::payload(&self.arena, state).map_err(ProblemKind::Joblib)? {
            joblib::ArrayPayload::Raw { padded, bytes } => {
                let mut total = bytes;
                if padded {
                    let pad = feed.file_byte()?;
                    total = total.saturating_add(1 + u64::from(pad));
                }
                feed.file_skip(total)?;
                self.ctx.joblib_arrays = self.ctx.joblib_arrays.saturating_add(1);
                Ok(())
            }
            joblib::ArrayPayload::Pickle => {
                if self.depth + 1 > self.limits().max_nesting {
                    return Err(limit(LimitKind::Nesting));
                }
                // `pickle.load(file)`: a whole pickle at the file's position.
                let resume = feed.enter_file();
                let (result, verdicts, _) = self.ctx.scan_one(feed, self.depth + 1);
                feed.leave_file(resume);
                self.verdicts.extend(verdicts);
                self.ctx.joblib_arrays = self.ctx.joblib_arrays.saturating_add(1);
                result.map_err(|p| p.kind)
            }
        }
    }

    // ---- nested pickles ------------------------------------------------------------

    /// The bytes a loader argument holds, if constant.
    fn pickle_bytes(&self, arg: Id) -> Option<Blob> {
        let mut id = arg;
        for _ in 0..3 {
            match self.arena.get(id) {
                Value::Bytes(b) | Value::ByteArray(b) => return Some((**b).clone()),
                Value::Str(s) => {
                    let data = s
                        .chars()
                        .map(|c| u8::try_from(u32::from(c)).ok())
                        .collect::<Option<Vec<u8>>>()
                        .unwrap_or_else(|| s.as_bytes().to_vec());
                    return Some(Blob::Inline { data, at: None });
                }
                Value::Call { callee, args, .. } => {
                    let (m, q) = self.arena.global_name(*callee)?;
                    if !BYTES_FILES.contains(&classify::full_name(m, q).as_str())
                        && !BYTES_FILES.contains(&format!("{m}.{q}").as_str())
                    {
                        return None;
                    }
                    id = self.arg(*args, 0)?;
                }
                _ => return None,
            }
        }
        None
    }

    fn nested(&mut self, off: u64, loader: &str, arg: Id) -> Res<()> {
        let Some(blob) = self.pickle_bytes(arg) else {
            self.unverified_input(off, loader, arg);
            return Ok(());
        };
        if self.depth + 1 > self.limits().max_nesting {
            return Err(limit(LimitKind::Nesting));
        }
        let (base, len) = match &blob {
            Blob::Inline { data, at } => (*at, data.len() as u64),
            Blob::External { at, len, .. } => (Some(*at), *len),
        };
        let out = match &blob {
            Blob::Inline { data, .. } => {
                let mut c = Feed::new(data, 0, self.limits().max_read, Vec::new(), Loader::Either);
                let out = self.ctx.scan_streams(&mut c, self.depth + 1);
                self.ctx.nested_fetched = self.ctx.nested_fetched.saturating_add(c.fetched());
                out
            }
            Blob::External { at, len, .. } => {
                let sub = SubRange {
                    inner: self.input,
                    start: *at,
                    len: *len,
                };
                let mut c = Feed::new(&sub, 0, self.limits().max_read, Vec::new(), Loader::Either);
                let out = self.ctx.scan_streams(&mut c, self.depth + 1);
                self.ctx.nested_fetched = self.ctx.nested_fetched.saturating_add(c.fetched());
                out
            }
        };
        let place = match base {
            Some(b) => format!("nested pickle at byte {b}"),
            None => format!("nested pickle built at load time (call at byte {off})"),
        };
        self.verdict(
            Risk::Info,
            VerdictKind::NestedPickle,
            off,
            Some(loader.to_owned()),
            None,
            format!("{loader} receives a {place} ({len} bytes); its content is scanned too"),
            Vec::new(),
        );
        for mut v in out.verdicts {
            v.message = format!("{place}: {}", v.message);
            v.offset = match base {
                Some(b) => b.saturating_add(v.offset),
                None => off,
            };
            self.verdicts.push(v);
        }
        if let Some(p) = out.problem {
            if let ProblemKind::LimitExceeded { .. } = p.kind {
                return Err(p.kind);
            }
            self.verdict(
                Risk::Medium,
                VerdictKind::Anomaly,
                off,
                Some(loader.to_owned()),
                None,
                format!("{place} is malformed: {p}"),
                Vec::new(),
            );
        }
        Ok(())
    }

    // ---- references ----------------------------------------------------------------

    /// A function of a trusted namespace held (not called) whose generated effects attack the
    /// host: whatever receives it can call it, as with a dangerous name. Code, processes and
    /// unpickling are high; writing files, the network and computed imports medium; a
    /// forwarder alone (it calls what it is given) nothing, since its argument decides.
    /// Whether it judged one.
    fn effectful_reference(&mut self, off: u64, m: &str, q: &str) -> bool {
        let name = classify::full_name(m, q);
        if classify::user_allows_name(&self.ctx.opts.extra_allowed, m, q) {
            return false;
        }
        let Some(sig) = effects::function(&name) else {
            return false;
        };
        let worst = sig
            .effects
            .iter()
            .copied()
            .filter(|e| !matches!(e, Effect::Calls(_)))
            .fold(None, worse);
        let Some(e) = worst else {
            return false;
        };
        let risk = match e {
            Effect::Exec(_) | Effect::Spawn | Effect::Loads(_) => Risk::High,
            _ => Risk::Medium,
        };
        self.verdict(
            risk,
            VerdictKind::DangerousReference,
            off,
            Some(name.clone()),
            None,
            format!(
                "loading imports {name} without calling it directly; it {} (its code calls {}), \
                 and whatever receives it can call it",
                e.label(),
                effects::evidence(&name)
            ),
            Vec::new(),
        );
        true
    }

    /// Judges every imported name that was never invoked or constructed.
    fn finish_references(&mut self) {
        let sites = std::mem::take(&mut self.global_sites);
        for (id, off) in sites {
            if self.used.contains(&id) {
                continue;
            }
            let Some((m, q)) = self.global_of(id) else {
                continue;
            };
            match classify::construction_or_reference(&m, &q, self.ctx.opts) {
                NameClass::Allowed => {
                    self.effectful_reference(off, &m, &q);
                }
                NameClass::Dangerous(cat) => self.verdict(
                    // A name the user's policy denies is critical however it is used.
                    if cat == Category::Denied {
                        Risk::Critical
                    } else {
                        Risk::High
                    },
                    VerdictKind::DangerousReference,
                    off,
                    Some(format!("{m}.{q}")),
                    Some(cat),
                    format!(
                        "loading imports {m}.{q}{} ({}) without calling it directly; whatever \
                         receives it can",
                        alias_note(&m, &q),
                        cat.label()
                    ),
                    Vec::new(),
                ),
                NameClass::Unknown if self.effectful_reference(off, &m, &q) => {}
                NameClass::Unknown => self.verdict(
                    Risk::Medium,
                    VerdictKind::UnknownReference,
                    off,
                    Some(format!("{m}.{q}")),
                    None,
                    format!("loading imports {m}.{q}, a name outside the known frameworks"),
                    Vec::new(),
                ),
            }
        }
    }
}

// ---- argument parsing helpers ---------------------------------------------------------

/// Whether calls of `name` (normalized) are evaluated symbolically by [`Machine::evaluate`]
/// rather than judged: their result is what the file uses next.
pub(crate) fn is_evaluated(name: &str) -> bool {
    matches!(
        name,
        "builtins.getattr"
            | "numpy.core._ufunc_reconstruct"
            | "numpy._core._ufunc_reconstruct"
            | "builtins.type"
            | "_codecs.encode"
            | "codecs.encode"
            | "builtins.str"
    ) || name.ends_with(".__builtins__.get")
        || name.ends_with(".__builtins__.__getitem__")
}

/// Whether `name` hands its first argument to a deserializer: a known loader, or one reached
/// through a module that re-exports it (`numpy.compat.pickle.loads`).
fn is_nested_loader(name: &str) -> bool {
    NESTED_LOADERS
        .iter()
        .any(|l| name == *l || name.strip_suffix(l).is_some_and(|head| head.ends_with('.')))
}

/// `" (`m.q` is `os.makedirs`)"` when the generated alias table says so, else empty.
fn alias_note(module: &str, qualname: &str) -> String {
    classify::alias_target(module, qualname)
        .map(|orig| format!(" (`{module}.{qualname}` is `{orig}`)"))
        .unwrap_or_default()
}

/// How bad an effect is when invoked with attacker arguments (0: judged elsewhere).
fn effect_rank(e: Effect) -> u8 {
    match e {
        Effect::Calls(_) => 0,
        Effect::Import | Effect::Network | Effect::Write => 1,
        Effect::Loads(_) => 2,
        Effect::Exec(_) | Effect::Spawn => 3,
    }
}

fn worse(cur: Option<Effect>, e: Effect) -> Option<Effect> {
    match cur {
        Some(c) if effect_rank(c) >= effect_rank(e) => Some(c),
        _ => Some(e),
    }
}

/// The verdict an invoked effect earns.
fn effect_risk(e: Effect) -> (Risk, VerdictKind) {
    if e.is_execution() {
        (Risk::Critical, VerdictKind::DangerousCall)
    } else {
        (Risk::High, VerdictKind::UnknownCall)
    }
}

/// A text argument the unpicklers refuse.
/// `find_class(module, name)` as an import statement.
fn import_text(module: &str, name: &str) -> String {
    match name.split_once('.') {
        None => format!("from {module} import {name}"),
        Some(_) => format!("import {module}  # then .{name}"),
    }
}

/// The Python type of a value the machine holds as a builtin one (`None` for globals, call
/// results, attributes, buffers and elided data, whose type it does not know).
fn builtin_type(v: &Value) -> Option<&'static str> {
    Some(match v {
        Value::None => "NoneType",
        Value::Bool(_) => "bool",
        Value::Int(_) | Value::BigInt(_) => "int",
        Value::Float(_) => "float",
        Value::Str(_) | Value::BigStr { .. } => "str",
        Value::Bytes(_) => "bytes",
        Value::ByteArray(_) => "bytearray",
        Value::Tuple(_) => "tuple",
        Value::List(_) => "list",
        Value::Dict(_) => "dict",
        Value::Set(_) => "set",
        Value::FrozenSet(_) => "frozenset",
        _ => return None,
    })
}

fn bad(why: &str) -> ProblemKind {
    ProblemKind::BadArgument(why.to_owned())
}

/// Whether `s` can name a module or attribute path: dotted identifiers. ASCII as Python's
/// `str.isidentifier`; any other letter, mark or symbol is taken as an identifier character
/// (Python's XID classes accept combining marks such as the accent of `ós`, which
/// `char::is_alphanumeric` does not; accepting more only means judging more names).
pub(crate) fn dotted_identifiers(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(importable_part)
}

fn importable_part(p: &str) -> bool {
    let ok = |c: char, first: bool| {
        c == '_'
            || c.is_ascii_alphabetic()
            || (!first && c.is_ascii_digit())
            || (!c.is_ascii() && !c.is_whitespace() && !c.is_control())
    };
    let mut chars = p.chars();
    chars.next().is_some_and(|c| ok(c, true)) && chars.all(|c| ok(c, false))
}

fn pairs(items: Vec<Id>) -> Res<Vec<(Id, Id)>> {
    if !items.len().is_multiple_of(2) {
        return Err(ProblemKind::BadArgument("odd number of dict items".into()));
    }
    Ok(items.chunks_exact(2).map(|c| (c[0], c[1])).collect())
}

/// A GLOBAL/INST/STACK_GLOBAL name: dotted Python identifiers.
fn valid_name(raw: &[u8]) -> Res<String> {
    let s = std::str::from_utf8(raw)
        .map_err(|_| ProblemKind::BadArgument("name is not UTF-8".into()))?;
    if !dotted_identifiers(s) {
        let shown = crate::value::truncate_chars(s.escape_debug().to_string(), 80);
        return Err(ProblemKind::BadArgument(format!("invalid name {shown}")));
    }
    Ok(s.to_owned())
}

/// Little-endian two's complement, at most 16 bytes.
fn decode_long(b: &[u8]) -> Value {
    if b.is_empty() {
        return Value::Int(0);
    }
    let neg = b.last().is_some_and(|&x| x & 0x80 != 0);
    let mut buf = if neg { [0xffu8; 16] } else { [0u8; 16] };
    let n = b.len().min(16);
    buf[..n].copy_from_slice(&b[..n]);
    let v = i128::from_le_bytes(buf);
    match i64::try_from(v) {
        Ok(v) => Value::Int(v),
        Err(_) => Value::BigInt(v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longs() {
        assert!(matches!(decode_long(&[0xff]), Value::Int(-1)));
        assert!(matches!(decode_long(&[0x00, 0x01]), Value::Int(256)));
        assert!(matches!(decode_long(&[]), Value::Int(0)));
    }
}
