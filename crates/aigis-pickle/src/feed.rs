//! How a loader feeds the unpickler its bytes, FRAMEs included.
//!
//! CPython's readers agree on every opcode but not on frames. Reading one request of `n` bytes
//! (an opcode's argument) or a text line:
//!
//! - **linear** — the C unpickler on `bytes` (`pickle.loads`), or on a file it reads through
//!   `peek`: a FRAME is only a bounds check, reads go straight on across a frame's end, and after
//!   STOP the next pickle of the file starts right after it;
//! - **buffered** — the C unpickler on a file object without `peek` (`io.BytesIO`, so `torch.load`
//!   of a zip member), or on a file whose frame did not fit the peeked bytes: the frame is read
//!   whole into the buffer, and a request that runs past the frame's end *drops the rest of the
//!   frame* and is served from the bytes after it (a text line is read again from the frame end);
//!   a FRAME reaching past the current one is read from the current frame's end; the next pickle
//!   starts at the frame end;
//! - **pure Python** (`pickle._Unpickler`, joblib, dill): a request running past the frame end
//!   fails, a FRAME inside a frame with bytes left fails, a FRAME declaring more bytes than
//!   remain is read short and loading goes on, a final text line without a newline is read as it
//!   is, and the next pickle starts at the frame end.
//!
//! Where the C readings disagree about a frame, the feed meets a *decision point* and asks its
//! plan whether this frame is held in a buffer. The machine reads the stream once with every
//! frame linear and again for each combination of decisions it met (up to a cap), so it sees
//! what each C reader sees; each of these readings refuses what the C unpickler refuses (a short
//! FRAME, a final line without newline, a text argument in Python's grammar only). The
//! pure-Python reading is a run of its own ([`Loader::Py`]), followed when a C reading ended in
//! a refusal: only there can it read further. So no reading combines one unpickler's framing
//! with the other's leniency, which no loader does.

use crate::reader::{Cursor, ReadAt, ReadError};

/// Which unpickler a reading follows where CPython's two disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loader {
    /// The C `_pickle.Unpickler` (`pickle.load`, `pickle.loads`, `torch.load`): a FRAME is
    /// linear or buffered (the plan's decisions), a FRAME needing more bytes than remain and
    /// a final line without a newline end the stream, text arguments are read as C reads them.
    C,
    /// The pure-Python `pickle._Unpickler` (joblib, dill, `pickle._loads`): a request across a
    /// frame's end and a FRAME inside a frame with bytes left end the stream, a FRAME needing
    /// more bytes than remain is read short, a final line without a newline is read as it is,
    /// text arguments are read as `int()`/`float()` read them.
    Py,
    /// Whatever either accepts (nested pickles, whose loader is not known).
    Either,
}

impl Loader {
    /// Whether this reading accepts what the C unpickler accepts.
    pub(crate) fn c(self) -> bool {
        self != Loader::Py
    }

    /// Whether this reading accepts what the pure-Python unpickler accepts.
    pub(crate) fn py(self) -> bool {
        self != Loader::C
    }
}

/// How the unpickler asks for an opcode's argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    /// `_Unpickler_Read`: what a buffered frame cannot serve is read after the frame.
    Read,
    /// `_Unpickler_ReadInto` (the payload of BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8):
    /// the rest of the frame first, then the file, so linear in every reader.
    Into,
}

/// A text line and whether the input ended before its newline.
pub(crate) struct Line {
    /// The line without its newline.
    pub(crate) data: Vec<u8>,
    /// The input ended before a newline (only the pure-Python unpickler accepts that).
    pub(crate) at_eof: bool,
}

/// Something about frames the machine reports as an anomaly.
pub(crate) enum FrameNote {
    /// A request at `at` runs past the end of the frame that starts at `frame`.
    Crossing { at: u64, frame: u64, end: u64 },
    /// A FRAME at `at` starts inside the frame at `outer`.
    Nested { at: u64, outer: u64 },
    /// A FRAME at `at` declares `declared` bytes, `available` remain.
    Overrun {
        at: u64,
        declared: u64,
        available: u64,
    },
}

#[derive(Clone, Copy)]
struct Frame {
    /// Offset of the FRAME opcode.
    at: u64,
    /// Where its bytes end (never past the input).
    end: u64,
}

/// The machine's view of the input: a windowed cursor plus the current frame and the plan.
pub(crate) struct Feed<'a> {
    cur: Cursor<'a>,
    frame: Option<Frame>,
    plan: Vec<bool>,
    loader: Loader,
    /// Decision points met so far.
    pub(crate) events: usize,
    /// FRAME opcodes this reading held in a buffer where that mattered.
    pub(crate) buffered: Vec<u64>,
    notes: Vec<FrameNote>,
    /// Where reading goes on when the current frame is used up, when joblib read data from the
    /// file past it meanwhile.
    exit: Option<u64>,
}

/// Where to come back to after joblib read a pickle from the file past the current frame.
pub(crate) struct Resume {
    pos: u64,
    frame: Frame,
}

impl<'a> Feed<'a> {
    /// A feed at `start` with every frame linear unless `plan` says otherwise.
    pub(crate) fn new(
        input: &'a dyn ReadAt,
        start: u64,
        max_read: u64,
        plan: Vec<bool>,
        loader: Loader,
    ) -> Self {
        Self {
            cur: Cursor::new(input, start, max_read),
            frame: None,
            plan,
            loader,
            events: 0,
            buffered: Vec::new(),
            notes: Vec::new(),
            exit: None,
        }
    }

    pub(crate) fn pos(&self) -> u64 {
        self.cur.pos()
    }

    /// The unpickler this reading follows.
    pub(crate) fn loader(&self) -> Loader {
        self.loader
    }

    pub(crate) fn remaining(&self) -> u64 {
        self.cur.remaining()
    }

    pub(crate) fn input(&self) -> &'a dyn ReadAt {
        self.cur.input()
    }

    pub(crate) fn fetched(&self) -> u64 {
        self.cur.fetched
    }

    /// Frame notes since the last call.
    pub(crate) fn take_notes(&mut self) -> Vec<FrameNote> {
        std::mem::take(&mut self.notes)
    }

    /// Whether this frame is held in a buffer: the plan's answer for the next decision point.
    fn decide(&mut self, frame: u64) -> bool {
        let buffered = self.plan.get(self.events).copied().unwrap_or(false);
        self.events += 1;
        if buffered {
            self.buffered.push(frame);
        }
        buffered
    }

    /// Leaves the current frame; reading goes on where joblib's file reads left the file.
    fn leave_frame(&mut self) -> bool {
        self.frame = None;
        match self.exit.take() {
            Some(x) => {
                self.cur.seek(x);
                true
            }
            None => false,
        }
    }

    /// Applies the frame to a request of `n` bytes at the cursor.
    #[inline]
    fn request(&mut self, n: u64, how: Request) {
        let Some(f) = self.frame else { return };
        let pos = self.cur.pos();
        if pos < f.end && pos.saturating_add(n) <= f.end {
            // Inside the frame: nothing to decide (every request but the frame's last).
            return;
        }
        self.request_at_frame_end(f, pos, how);
    }

    /// [`Feed::request`] at or across the frame's end.
    #[cold]
    fn request_at_frame_end(&mut self, f: Frame, pos: u64, how: Request) {
        if pos >= f.end {
            self.leave_frame();
            return;
        }
        self.notes.push(FrameNote::Crossing {
            at: pos,
            frame: f.at,
            end: f.end,
        });
        if self.leave_frame() {
            return;
        }
        if self.loader == Loader::Py {
            // "pickle exhausted before end of frame": nothing more is read.
            self.exhaust();
            return;
        }
        if how == Request::Read && self.decide(f.at) {
            self.cur.seek(f.end);
        }
    }

    /// Ends the reading here: every later request fails as truncated.
    fn exhaust(&mut self) {
        let end = self.cur.pos().saturating_add(self.cur.remaining());
        self.cur.seek(end);
        self.frame = None;
    }

    /// One byte (an opcode or a one-byte argument).
    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, ReadError> {
        self.request(1, Request::Read);
        self.cur.u8()
    }

    /// A fixed-size argument.
    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], ReadError> {
        self.request(N as u64, Request::Read);
        self.cur.array()
    }

    /// Starts a request of `n` bytes that the caller then reads with [`Feed::bytes_now`] and
    /// [`Feed::skip_now`]; returns the bytes left after the frame decision.
    pub(crate) fn begin(&mut self, n: u64, how: Request) -> u64 {
        self.request(n, how);
        self.cur.remaining()
    }

    /// Reads `n` bytes of a request begun with [`Feed::begin`].
    pub(crate) fn bytes_now(&mut self, n: usize) -> Result<Vec<u8>, ReadError> {
        self.cur.bytes(n)
    }

    /// Hands `n` bytes of a request begun with [`Feed::begin`] to `f`, without copying them
    /// when they lie within the window.
    pub(crate) fn with_bytes_now<R>(
        &mut self,
        n: usize,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, ReadError> {
        self.cur.with_bytes(n, f)
    }

    /// Skips `n` bytes of a request begun with [`Feed::begin`].
    pub(crate) fn skip_now(&mut self, n: u64) -> Result<(), ReadError> {
        self.cur.skip(n)
    }

    /// A text line of at most `max` bytes (`None` when longer).
    pub(crate) fn line(&mut self, max: usize) -> Result<Option<Line>, ReadError> {
        if self.frame.is_some_and(|f| self.cur.pos() >= f.end) {
            self.leave_frame();
        }
        let start = self.cur.pos();
        let frame = self.frame;
        let Some((data, at_eof)) = self.cur.line_or_eof(max)? else {
            return Ok(None);
        };
        if at_eof && !self.loader.py() {
            // The C unpickler needs the newline.
            return Err(ReadError::Truncated);
        }
        let Some(f) = frame else {
            return Ok(Some(Line { data, at_eof }));
        };
        // The newline (or the input's end) lies at `start + data.len()`.
        let newline = start.saturating_add(data.len() as u64);
        if !at_eof && newline < f.end {
            return Ok(Some(Line { data, at_eof }));
        }
        self.notes.push(FrameNote::Crossing {
            at: start,
            frame: f.at,
            end: f.end,
        });
        if self.leave_frame() {
            return Ok(self
                .cur
                .line_or_eof(max)?
                .map(|(data, at_eof)| Line { data, at_eof }));
        }
        if self.loader == Loader::Py {
            self.exhaust();
            return Err(ReadError::Truncated);
        }
        if !self.decide(f.at) {
            return Ok(Some(Line { data, at_eof }));
        }
        // A buffered frame: the line is read again from the frame's end.
        self.cur.seek(f.end);
        Ok(self
            .cur
            .line_or_eof(max)?
            .map(|(data, at_eof)| Line { data, at_eof }))
    }

    /// FRAME at `at`, its 8-byte length `len` just read. A FRAME needing more bytes than the
    /// input holds is refused by the C unpickler and read short by the pure-Python one, which in
    /// turn refuses a FRAME inside a frame that still has bytes: only where no reader accepts
    /// the FRAME is it an error.
    pub(crate) fn frame(&mut self, at: u64, len: u64) -> Result<(), ReadError> {
        let q = self.cur.pos();
        let input_len = q.saturating_add(self.cur.remaining());
        if let Some(outer) = self.frame.filter(|f| q < f.end) {
            self.notes.push(FrameNote::Nested {
                at,
                outer: outer.at,
            });
            if self.loader == Loader::Py {
                // "beginning of a new frame before end of current frame".
                self.exhaust();
                return Err(ReadError::Truncated);
            }
            if q.saturating_add(len) <= outer.end {
                // Inside the outer frame's bytes: the C readers go on in the outer frame.
                return Ok(());
            }
            self.notes.push(FrameNote::Crossing {
                at,
                frame: outer.at,
                end: outer.end,
            });
            // The buffered reader reads the new frame from the outer frame's end.
            let start = if self.decide(outer.at) { outer.end } else { q };
            let end = start.checked_add(len).ok_or(ReadError::Truncated)?;
            if end > input_len {
                return Err(ReadError::Truncated);
            }
            self.cur.seek(start);
            self.frame = Some(Frame { at, end });
            return Ok(());
        }
        let end = q.saturating_add(len);
        if end > input_len {
            self.notes.push(FrameNote::Overrun {
                at,
                declared: len,
                available: input_len.saturating_sub(q),
            });
            if !self.loader.py() {
                return Err(ReadError::Truncated);
            }
        }
        self.frame = Some(Frame {
            at,
            end: end.min(input_len),
        });
        Ok(())
    }

    /// After STOP: where the next pickle of the file starts. Within a frame that declares more
    /// bytes, a buffered reader has already read the whole frame (the next pickle starts at its
    /// end); a linear one goes on right after STOP. Returns the bytes of the frame left behind.
    pub(crate) fn after_stop(&mut self) -> Option<(u64, u64)> {
        let f = self.frame?;
        if self.leave_frame() {
            return None;
        }
        let pos = self.cur.pos();
        if pos >= f.end {
            return None;
        }
        let left = f.end - pos;
        // The pure-Python unpickler read the frame whole from the file.
        if self.cur.remaining() > 0 && (self.loader == Loader::Py || self.decide(f.at)) {
            self.cur.seek(f.end);
        }
        Some((f.at, left))
    }

    /// Forgets the current frame (a new pickle starts with none).
    pub(crate) fn clear_frame(&mut self) {
        self.leave_frame();
    }

    /// The current frame when it still has bytes: joblib's file reads then happen past it.
    fn frame_with_tail(&self) -> Option<Frame> {
        self.frame.filter(|f| self.cur.pos() < f.end)
    }

    /// The byte at the file's position (joblib's padding length), not consumed.
    pub(crate) fn file_byte(&mut self) -> Result<u8, ReadError> {
        let Some(f) = self.frame_with_tail() else {
            let at = self.cur.pos();
            let b = self.cur.u8()?;
            self.cur.seek(at);
            return Ok(b);
        };
        let at = self.exit.unwrap_or(f.end);
        let mut b = [0u8; 1];
        match self.cur.input().read_at(at, &mut b) {
            Ok(1) => Ok(b[0]),
            Ok(_) => Err(ReadError::Truncated),
            Err(e) => Err(ReadError::Io(e.to_string())),
        }
    }

    /// Consumes `n` bytes at the file's position (joblib's raw array data).
    pub(crate) fn file_skip(&mut self, n: u64) -> Result<(), ReadError> {
        let Some(f) = self.frame_with_tail() else {
            return self.cur.skip(n);
        };
        let at = self.exit.unwrap_or(f.end);
        let to = at.checked_add(n).ok_or(ReadError::Truncated)?;
        if to > self.cur.pos().saturating_add(self.cur.remaining()) {
            return Err(ReadError::Truncated);
        }
        self.exit = Some(to);
        Ok(())
    }

    /// Moves to the file's position to read a whole pickle there (joblib's object arrays);
    /// [`Feed::leave_file`] comes back.
    pub(crate) fn enter_file(&mut self) -> Option<Resume> {
        let f = self.frame_with_tail()?;
        let resume = Resume {
            pos: self.cur.pos(),
            frame: f,
        };
        let at = self.exit.take().unwrap_or(f.end);
        self.cur.seek(at);
        self.frame = None;
        Some(resume)
    }

    /// Back in the frame after [`Feed::enter_file`]; once it is used up, reading goes on after
    /// what was read from the file.
    pub(crate) fn leave_file(&mut self, resume: Option<Resume>) {
        let Some(r) = resume else { return };
        self.exit = Some(self.cur.pos());
        self.cur.seek(r.pos);
        self.frame = Some(r.frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FRAME of 3 bytes `J aa`, then `bb` and `XYZW`: BININT's argument crosses the frame end.
    const DATA: &[u8] = b"Jaabb\x00\x00XYZW";

    fn feed(plan: Vec<bool>) -> Feed<'static> {
        let mut f = Feed::new(&DATA, 0, u64::MAX, plan, Loader::Either);
        f.frame(0, 3).expect("frame");
        f
    }

    #[test]
    fn a_request_across_the_frame_end_is_a_decision() {
        let mut linear = feed(Vec::new());
        assert_eq!(linear.u8(), Ok(b'J'));
        assert_eq!(linear.array::<4>(), Ok(*b"aabb"));
        assert_eq!(linear.events, 1);
        assert!(linear.buffered.is_empty());

        let mut buffered = feed(vec![true]);
        assert_eq!(buffered.u8(), Ok(b'J'));
        // The frame's `aa` is dropped: the argument is read after the frame's end.
        assert_eq!(buffered.array::<4>(), Ok(*b"bb\x00\x00"));
        assert_eq!(buffered.buffered, vec![0]);
        assert!(matches!(
            buffered.take_notes().as_slice(),
            [FrameNote::Crossing {
                at: 1,
                frame: 0,
                end: 3
            }]
        ));
    }

    #[test]
    fn payloads_read_into_the_callers_buffer_stay_linear() {
        let mut f = feed(vec![true]);
        assert_eq!(f.u8(), Ok(b'J'));
        assert_eq!(f.begin(4, Request::Into), 10);
        assert_eq!(f.bytes_now(4), Ok(b"aabb".to_vec()));
        assert_eq!(f.events, 0);
    }

    #[test]
    fn lines_at_the_end_of_input_are_returned_as_they_are() {
        let mut f = Feed::new(b"os\nsys", 0, u64::MAX, Vec::new(), Loader::Either);
        let first = f.line(64).ok().flatten().map(|l| (l.data, l.at_eof));
        assert_eq!(first, Some((b"os".to_vec(), false)));
        let last = f.line(64).ok().flatten().map(|l| (l.data, l.at_eof));
        assert_eq!(last, Some((b"sys".to_vec(), true)));
    }
}
