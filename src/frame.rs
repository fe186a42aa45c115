//! Frame codec: splits one direction of a Kafka connection into size-prefixed frames as the bytes arrive in
//! arbitrary chunks, and asks a [`FrameHandler`] what to do with each frame as early as it can decide.
//!
//! Why this shape: Envoy hands a network filter its buffer in chunks that almost never end on a frame
//! boundary. Pausing until they do stalls pipelined clients (the buffer grows to the connection limit).
//! So every decided frame is forwarded at once, a frame decided from its first bytes streams through
//! untouched (its remaining bytes are not even read: see [`FrameStream::passthrough_len`]), and only the
//! bytes of a frame that cannot be decided yet are cut out of the host buffer and held here.

use crate::protocol::wire::SIZE_PREFIX;

/// One change to a host buffer chunk: replace `remove` bytes at `start` with `insert`.
/// Offsets are relative to the chunk given to [`FrameStream::process`], edits ascend and never overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub remove: usize,
    pub insert: Vec<u8>,
}

/// Why a stream is closed: the kind of fault (counted by kind) and what happened (logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    pub kind: CloseKind,
    pub message: String,
}

/// The kind of fault a stream is closed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    /// A frame size over `maxFrameBytes`, or negative.
    Oversize,
    /// A request the filter cannot classify or answer (unknown API, unsupported version), refused.
    Unsupported,
    /// Anything else the client or broker sent that cannot be read as Kafka.
    Malformed,
    /// Not a fault: the connection is ended at a request boundary (a policy it cannot follow in place, an
    /// expired certificate, its age, the broker's SASL session lifetime).
    Ended(crate::connection_limits::EndReason),
}

impl CloseReason {
    pub fn new(kind: CloseKind, message: impl Into<String>) -> Self {
        CloseReason { kind, message: message.into() }
    }
}

impl From<String> for Box<CloseReason> {
    fn from(message: String) -> Self {
        Box::new(CloseReason::new(CloseKind::Malformed, message))
    }
}

impl From<&str> for Box<CloseReason> {
    fn from(message: &str) -> Self {
        Box::new(CloseReason::new(CloseKind::Malformed, message))
    }
}

/// Reads as its message (logs, events).
impl std::ops::Deref for CloseReason {
    type Target = str;
    fn deref(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Out of line: the size check runs for every frame and must stay small enough to inline.
#[cold]
fn oversize(message: String) -> Box<CloseReason> {
    Box::new(CloseReason::new(CloseKind::Oversize, message))
}

/// What to do with the frame being looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a verdict not acted on forwards a frame the filter meant to change or refuse"]
pub enum Verdict {
    /// Show me more of this frame (at the latest, the whole frame).
    NeedMore,
    /// Forward the frame unchanged; the rest of it streams through without being read.
    Forward,
    /// Forward the frame unchanged, but show me its bytes again from this frame offset on (through
    /// [`FrameHandler::on_frame_rest`]); the bytes before it stream through unread. For a handler that
    /// follows a large frame's structure without holding it (a Fetch response walked for per-topic byte
    /// counts skips its record sets). The handler must have consumed every byte it was shown: the offset is
    /// at least the bytes shown. An offset at or past the frame's end is [`Verdict::Forward`].
    ForwardThrough(usize),
    /// Replace the whole frame by these bytes (zero or more complete frames); the rest of it is dropped.
    Replace(Vec<u8>),
    /// Close the connection; nothing more is forwarded in this direction.
    /// Boxed: a close is rare, and the verdict of every frame stays as small as it was with a message alone.
    Close(Box<CloseReason>),
}

/// Decides about frames. `frame` holds the first bytes of the frame (size prefix included); `frame_len` is
/// the whole frame's length. Called again with more bytes after `NeedMore`.
pub trait FrameHandler {
    fn on_frame(&mut self, frame: &[u8], frame_len: usize) -> Verdict;

    /// After [`Verdict::ForwardThrough`]: the part of the frame in this chunk from frame offset `offset` on
    /// (never empty, never past the frame). The bytes before it are forwarded already, so only `Forward`,
    /// `ForwardThrough` (past these bytes) and `Close` are accepted; anything else closes the stream.
    fn on_frame_rest(&mut self, _bytes: &[u8], _offset: usize, _frame_len: usize) -> Verdict {
        Verdict::Forward
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At a frame boundary (or inside an undecided frame whose bytes are held).
    Boundary,
    /// Inside a forwarded frame: this many bytes still pass untouched.
    Pass(u64),
    /// Inside a forwarded frame after `ForwardThrough(offset)`: `left` bytes still pass untouched, then the
    /// handler sees the frame again from `offset` on.
    Resume {
        left: u64,
        offset: usize,
        frame_len: usize,
    },
    /// Inside a replaced frame: this many bytes are still to be dropped.
    Discard(u64),
    Closed,
}

/// The result of processing one chunk.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[must_use = "dropped edits let the chunk through unchanged: a denied request would reach the broker"]
pub struct ChunkOutcome {
    pub edits: Vec<Edit>,
    /// Set when the connection must be closed; the chunk's bytes must then not be forwarded.
    pub close: Option<Box<CloseReason>>,
}

/// One direction of a connection.
#[derive(Debug)]
pub struct FrameStream {
    max_frame_bytes: u32,
    /// Bytes of the current undecided frame, already cut out of the host buffer.
    held: Vec<u8>,
    state: State,
}

impl FrameStream {
    pub fn new(max_frame_bytes: u32) -> Self {
        FrameStream { max_frame_bytes, held: Vec::new(), state: State::Boundary }
    }

    /// The frame size limit for frames whose size prefix is read from now on (a policy update).
    pub fn set_max_frame_bytes(&mut self, max_frame_bytes: u32) {
        self.max_frame_bytes = max_frame_bytes;
    }

    /// Bytes at the start of the next chunk that pass untouched whatever they are: the glue may skip
    /// reading them and report them with [`FrameStream::skip`].
    pub fn passthrough_len(&self) -> u64 {
        match self.state {
            State::Pass(n) | State::Resume { left: n, .. } => n,
            _ => 0,
        }
    }

    /// Accounts for `n` bytes forwarded without being read (at most [`FrameStream::passthrough_len`]).
    pub fn skip(&mut self, n: u64) {
        match self.state {
            State::Pass(left) => {
                let left = left.saturating_sub(n);
                self.state = if left == 0 { State::Boundary } else { State::Pass(left) };
            }
            State::Resume { left, offset, frame_len } => {
                self.state = State::Resume { left: left.saturating_sub(n), offset, frame_len };
            }
            _ => {}
        }
    }

    /// Bytes held in this stream (for memory accounting).
    pub fn held_len(&self) -> usize {
        self.held.capacity()
    }

    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Processes one chunk of the stream and returns the edits to apply to it.
    pub fn process(&mut self, chunk: &[u8], handler: &mut impl FrameHandler) -> ChunkOutcome {
        let mut out = ChunkOutcome::default();
        let mut pos = 0usize;
        while pos < chunk.len() {
            let rest = chunk.len() - pos;
            match self.state {
                State::Closed => {
                    out.close = Some("stream already closed".into());
                    return out;
                }
                State::Pass(n) => {
                    let take = n.min(rest as u64);
                    pos += take as usize;
                    self.state = if n == take { State::Boundary } else { State::Pass(n - take) };
                }
                State::Resume { left, offset, frame_len } if left > 0 => {
                    let take = left.min(rest as u64);
                    pos += take as usize;
                    self.state = State::Resume { left: left - take, offset, frame_len };
                }
                State::Resume { offset, frame_len, .. } => {
                    // The handler looks at the frame again from `offset`: show it this chunk's part.
                    let n = frame_len.saturating_sub(offset).min(rest);
                    let bytes = chunk.get(pos..pos + n).unwrap_or_default();
                    let next = match handler.on_frame_rest(bytes, offset, frame_len) {
                        Verdict::Forward => Ok(remaining(frame_len, offset + n, State::Pass)),
                        Verdict::ForwardThrough(through) => resume_at(through, frame_len, offset + n),
                        Verdict::Close(reason) => Err(reason),
                        _ => Err("frame handler cannot hold or replace a frame it has partly forwarded".into()),
                    };
                    match next {
                        Ok(state) => self.state = state,
                        Err(reason) => {
                            self.state = State::Closed;
                            out.close = Some(reason);
                            return out;
                        }
                    }
                    pos += n;
                }
                State::Discard(n) => {
                    let take = n.min(rest as u64);
                    push_edit(&mut out.edits, pos, take as usize, Vec::new());
                    pos += take as usize;
                    self.state = if n == take { State::Boundary } else { State::Discard(n - take) };
                }
                State::Boundary => {
                    if let Err(reason) = self.at_boundary(chunk, &mut pos, &mut out.edits, handler) {
                        self.state = State::Closed;
                        self.held = Vec::new();
                        out.close = Some(reason);
                        return out;
                    }
                }
            }
        }
        out
    }

    /// Looks at the frame starting at `pos` (or continuing the held one) and acts on the handler's verdict.
    fn at_boundary(
        &mut self,
        chunk: &[u8],
        pos: &mut usize,
        edits: &mut Vec<Edit>,
        handler: &mut impl FrameHandler,
    ) -> Result<(), Box<CloseReason>> {
        let avail = chunk.get(*pos..).unwrap_or_default();
        if self.held.is_empty() {
            // Common case: the frame starts in this chunk; decide on it in place, without copying.
            let Some(frame_len) = self.frame_len(avail)? else {
                self.held.extend_from_slice(avail);
                push_edit(edits, *pos, avail.len(), Vec::new());
                *pos += avail.len();
                return Ok(());
            };
            let seen = frame_len.min(avail.len());
            let frame = avail.get(..seen).unwrap_or_default();
            match handler.on_frame(frame, frame_len) {
                Verdict::NeedMore if seen < frame_len => {
                    self.held.extend_from_slice(frame);
                    push_edit(edits, *pos, seen, Vec::new());
                }
                Verdict::NeedMore => return Err("frame handler asked for more than a whole frame".into()),
                Verdict::Forward => self.state = remaining(frame_len, seen, State::Pass),
                Verdict::ForwardThrough(through) => self.state = resume_at(through, frame_len, seen)?,
                Verdict::Replace(bytes) => {
                    push_edit(edits, *pos, seen, bytes);
                    self.state = remaining(frame_len, seen, State::Discard);
                }
                Verdict::Close(reason) => return Err(reason),
            }
            *pos += seen;
            return Ok(());
        }
        // The frame began in an earlier chunk: gather this chunk's part of it behind the held bytes.
        if self.held.len() < SIZE_PREFIX {
            let take = (SIZE_PREFIX - self.held.len()).min(avail.len());
            self.held.extend_from_slice(avail.get(..take).unwrap_or_default());
            push_edit(edits, *pos, take, Vec::new());
            *pos += take;
            if self.held.len() < SIZE_PREFIX {
                return Ok(());
            }
        }
        let Some(frame_len) = self.frame_len(&self.held)? else {
            return Err("frame size unreadable".into());
        };
        let avail = chunk.get(*pos..).unwrap_or_default();
        let take = frame_len.saturating_sub(self.held.len()).min(avail.len());
        self.held.extend_from_slice(avail.get(..take).unwrap_or_default());
        let seen = self.held.len();
        match handler.on_frame(&self.held, frame_len) {
            Verdict::NeedMore if seen < frame_len => push_edit(edits, *pos, take, Vec::new()),
            Verdict::NeedMore => return Err("frame handler asked for more than a whole frame".into()),
            verdict @ (Verdict::Forward | Verdict::ForwardThrough(_)) => {
                // Put the held bytes back in front of the part of the frame in this chunk.
                let held = std::mem::take(&mut self.held);
                let held_before = held.len() - take;
                let mut insert = held;
                insert.truncate(held_before);
                push_edit(edits, *pos, 0, insert);
                self.state = match verdict {
                    Verdict::ForwardThrough(through) => resume_at(through, frame_len, seen)?,
                    _ => remaining(frame_len, seen, State::Pass),
                };
            }
            Verdict::Replace(bytes) => {
                self.held = Vec::new();
                push_edit(edits, *pos, take, bytes);
                self.state = remaining(frame_len, seen, State::Discard);
            }
            Verdict::Close(reason) => return Err(reason),
        }
        *pos += take;
        Ok(())
    }

    /// Whole frame length (prefix included) from the first bytes, `None` if the prefix is incomplete.
    #[inline]
    fn frame_len(&self, bytes: &[u8]) -> Result<Option<usize>, Box<CloseReason>> {
        let Some(size) = crate::protocol::wire::frame_size(bytes) else { return Ok(None) };
        if size < 0 {
            return Err(oversize(format!("negative frame size {size}")));
        }
        if size as u32 > self.max_frame_bytes {
            let message = format!("frame size {size} exceeds maxFrameBytes {}", self.max_frame_bytes);
            return Err(oversize(message));
        }
        Ok(Some(size as usize + SIZE_PREFIX))
    }
}

fn remaining(frame_len: usize, seen: usize, state: fn(u64) -> State) -> State {
    let left = frame_len.saturating_sub(seen) as u64;
    if left == 0 {
        State::Boundary
    } else {
        state(left)
    }
}

/// The state after `ForwardThrough(through)` once the frame's first `seen` bytes have been shown.
fn resume_at(through: usize, frame_len: usize, seen: usize) -> Result<State, Box<CloseReason>> {
    if through < seen {
        return Err("frame handler asked to see forwarded bytes again".into());
    }
    if through >= frame_len {
        return Ok(remaining(frame_len, seen, State::Pass));
    }
    Ok(State::Resume { left: (through - seen) as u64, offset: through, frame_len })
}

/// Appends an edit, merging it with the previous one when they touch (keeps the glue's fast paths simple).
fn push_edit(edits: &mut Vec<Edit>, start: usize, remove: usize, insert: Vec<u8>) {
    if remove == 0 && insert.is_empty() {
        return;
    }
    if let Some(last) = edits.last_mut() {
        if last.start + last.remove == start {
            last.remove += remove;
            last.insert.extend_from_slice(&insert);
            return;
        }
    }
    edits.push(Edit { start, remove, insert });
}

/// Applies edits to a chunk (what the host buffer becomes). Used by the glue when the host cannot apply
/// the edits in place, and by tests.
pub fn apply_edits(chunk: &[u8], edits: &[Edit]) -> Vec<u8> {
    let grow: usize = edits.iter().map(|e| e.insert.len()).sum();
    let mut out = Vec::with_capacity(chunk.len() + grow);
    let mut pos = 0usize;
    for e in edits {
        out.extend_from_slice(chunk.get(pos..e.start).unwrap_or_default());
        out.extend_from_slice(&e.insert);
        pos = e.start.saturating_add(e.remove).max(pos);
    }
    out.extend_from_slice(chunk.get(pos..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = (body.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(body);
        f
    }

    /// Decides once it has seen `decide_at` bytes of a frame (or the whole frame); body byte 0 picks the verdict:
    /// b'F' forward, b'R' replace with a fixed frame, b'D' drop, b'C' close.
    struct TestHandler {
        decide_at: usize,
        calls: usize,
    }

    impl FrameHandler for TestHandler {
        fn on_frame(&mut self, frame: &[u8], frame_len: usize) -> Verdict {
            self.calls += 1;
            if frame.len() < self.decide_at.max(5).min(frame_len) {
                return Verdict::NeedMore;
            }
            match frame.get(4) {
                Some(b'F') | None => Verdict::Forward,
                Some(b'R') => Verdict::Replace(frame_of(b"replaced")),
                Some(b'D') => Verdict::Replace(Vec::new()),
                _ => Verdict::Close("told to".into()),
            }
        }
    }

    fn frame_of(b: &[u8]) -> Vec<u8> {
        frame(b)
    }

    /// Feeds `input` split at the given points and returns what the host would forward.
    fn run(input: &[u8], splits: &[usize], decide_at: usize) -> (Vec<u8>, Option<String>) {
        let mut s = FrameStream::new(1 << 20);
        let mut h = TestHandler { decide_at, calls: 0 };
        let mut out = Vec::new();
        let mut last = 0;
        let mut points = splits.to_vec();
        points.push(input.len());
        for p in points {
            let chunk = &input[last..p];
            last = p;
            let o = s.process(chunk, &mut h);
            if o.close.is_some() {
                return (out, o.close.map(|reason| reason.message));
            }
            out.extend(apply_edits(chunk, &o.edits));
        }
        (out, None)
    }

    fn sample() -> (Vec<u8>, Vec<u8>) {
        let mut input = Vec::new();
        let mut expected = Vec::new();
        for body in [&b"Fhello world"[..], b"Rsecret stuff", b"F", b"Dgone", b"Flast frame here"] {
            let f = frame(body);
            input.extend_from_slice(&f);
            match body[0] {
                b'F' => expected.extend_from_slice(&f),
                b'R' => expected.extend(frame_of(b"replaced")),
                _ => {}
            }
        }
        (input, expected)
    }

    #[test]
    fn every_single_split_point_gives_the_same_output() {
        let (input, expected) = sample();
        for decide_at in [0, 5, 9, 1000] {
            for split in 0..=input.len() {
                let (out, close) = run(&input, &[split], decide_at);
                assert_eq!(close, None);
                assert_eq!(out, expected, "split {split} decide_at {decide_at}");
            }
        }
    }

    #[test]
    fn every_pair_of_split_points_gives_the_same_output() {
        let (input, expected) = sample();
        for decide_at in [5, 1000] {
            for a in 0..=input.len() {
                for b in a..=input.len() {
                    let (out, _) = run(&input, &[a, b], decide_at);
                    assert_eq!(out, expected, "splits {a},{b} decide_at {decide_at}");
                }
            }
        }
    }

    #[test]
    fn byte_by_byte() {
        let (input, expected) = sample();
        let splits: Vec<usize> = (1..input.len()).collect();
        assert_eq!(run(&input, &splits, 7).0, expected);
    }

    #[test]
    fn early_decision_streams_the_rest_unread() {
        let mut s = FrameStream::new(1 << 30);
        let mut h = TestHandler { decide_at: 5, calls: 0 };
        let big = frame(&[b'F'; 10 << 20]);
        let o = s.process(&big[..100], &mut h);
        assert!(o.edits.is_empty());
        assert_eq!(s.passthrough_len(), (big.len() - 100) as u64);
        s.skip(s.passthrough_len());
        assert_eq!(s.passthrough_len(), 0);
        assert_eq!(h.calls, 1);
        // The next frame is looked at again.
        let o = s.process(&frame(b"Dx"), &mut h);
        assert_eq!(o.edits, vec![Edit { start: 0, remove: 6, insert: vec![] }]);
    }

    #[test]
    fn oversize_and_negative_sizes_close() {
        let mut s = FrameStream::new(100);
        let mut h = TestHandler { decide_at: 0, calls: 0 };
        let o = s.process(&101u32.to_be_bytes(), &mut h);
        assert!(o.close.unwrap().contains("exceeds maxFrameBytes 100"));
        assert!(s.is_closed());
        let mut s = FrameStream::new(100);
        let o = s.process(&(-1i32).to_be_bytes(), &mut h);
        assert!(o.close.unwrap().contains("negative"));
        // Split size prefix too.
        let mut s = FrameStream::new(100);
        assert_eq!(s.process(&[0xff, 0xff], &mut h).close, None);
        assert!(s.process(&[0xff, 0xfe], &mut h).close.is_some());
    }

    #[test]
    fn close_verdict_stops_the_stream() {
        let (out, close) = run(&[frame(b"Fok"), frame(b"Xbad"), frame(b"Fnever")].concat(), &[], 0);
        assert_eq!(out, Vec::<u8>::new(), "the chunk with the bad frame is not forwarded");
        assert_eq!(close.as_deref(), Some("told to"));
    }

    #[test]
    fn held_bytes_are_bounded_by_the_frame() {
        let mut s = FrameStream::new(1 << 20);
        let mut h = TestHandler { decide_at: usize::MAX, calls: 0 };
        let f = frame(&[b'F'; 1000]);
        let _ = s.process(&f[..500], &mut h);
        assert!(s.held_len() >= 500);
        let o = s.process(&f[500..], &mut h);
        assert_eq!(apply_edits(&f[500..], &o.edits), f);
    }

    /// Walks frames whose body starts with b'W' by [`Verdict::ForwardThrough`]: looks at the bytes at
    /// [`CHECKPOINTS`] only (like a Fetch response walk skipping record sets) and records what it saw.
    /// Other frames are forwarded whole.
    #[derive(Default)]
    struct Walker {
        seen: Vec<(usize, u8)>,
        /// Bytes shown to the handler in total (what a walk costs).
        shown: usize,
    }

    const CHECKPOINTS: [usize; 4] = [5, 9, 10, 30];

    impl Walker {
        /// Consumes bytes `offset..offset + bytes.len()` and says where to look next.
        fn look(&mut self, bytes: &[u8], offset: usize) -> Verdict {
            self.shown += bytes.len();
            let end = offset + bytes.len();
            for &c in CHECKPOINTS.iter().filter(|c| (offset..end).contains(c)) {
                self.seen.push((c, bytes[c - offset]));
            }
            match CHECKPOINTS.iter().find(|c| **c >= end) {
                Some(&next) => Verdict::ForwardThrough(next),
                None => Verdict::Forward,
            }
        }
    }

    impl FrameHandler for Walker {
        fn on_frame(&mut self, frame: &[u8], _frame_len: usize) -> Verdict {
            match frame.get(4) {
                None => Verdict::NeedMore,
                Some(b'W') => self.look(frame, 0),
                Some(_) => Verdict::Forward,
            }
        }

        fn on_frame_rest(&mut self, bytes: &[u8], offset: usize, _frame_len: usize) -> Verdict {
            self.look(bytes, offset)
        }
    }

    /// Feeds `input` split at `splits`; with `skip`, bytes the stream reports as passthrough are skipped
    /// unread, as the glue does. Returns the forwarded bytes and the walker.
    fn walk(input: &[u8], splits: &[usize], skip: bool) -> (Vec<u8>, Walker) {
        let mut s = FrameStream::new(1 << 20);
        let mut h = Walker::default();
        let mut out = Vec::new();
        let mut last = 0;
        let mut points = splits.to_vec();
        points.push(input.len());
        for p in points {
            let mut chunk = &input[last..p];
            last = p;
            while !chunk.is_empty() {
                let pass = if skip { (s.passthrough_len() as usize).min(chunk.len()) } else { 0 };
                if pass > 0 {
                    s.skip(pass as u64);
                    out.extend_from_slice(&chunk[..pass]);
                    chunk = &chunk[pass..];
                    continue;
                }
                let o = s.process(chunk, &mut h);
                assert_eq!(o.close, None);
                out.extend(apply_edits(chunk, &o.edits));
                chunk = &[];
            }
        }
        (out, h)
    }

    fn walked_sample() -> Vec<u8> {
        let long: Vec<u8> = std::iter::once(b'W').chain((0..60u8).map(|i| i + 100)).collect();
        [frame(&long), frame(b"Fplain"), frame(b"Wshort"), frame(&long)].concat()
    }

    #[test]
    fn forward_through_sees_the_same_bytes_at_every_split_point() {
        let input = walked_sample();
        let (out, reference) = walk(&input, &[], false);
        assert_eq!(out, input);
        // Checkpoints 5, 9, 10, 30 of the long frames; 5, 9 of the short one (10 and 30 are past its end).
        let expected_long = [(5, 100), (9, 104), (10, 105), (30, 125)];
        let expected: Vec<(usize, u8)> = [&expected_long[..], &[(5, b's'), (9, b't')], &expected_long[..]].concat();
        assert_eq!(reference.seen, expected);
        for skip in [false, true] {
            for a in 0..=input.len() {
                let (out, h) = walk(&input, &[a], skip);
                assert_eq!((&out, &h.seen), (&input, &expected), "split {a} skip {skip}");
                for b in a..=input.len() {
                    let (out, h) = walk(&input, &[a, b], skip);
                    assert_eq!((&out, &h.seen), (&input, &expected), "splits {a},{b} skip {skip}");
                }
            }
        }
        let byte_by_byte: Vec<usize> = (1..input.len()).collect();
        assert_eq!(walk(&input, &byte_by_byte, true).1.seen, expected);
    }

    #[test]
    fn forward_through_skips_what_it_does_not_look_at() {
        let mut body = vec![b'W'];
        body.resize(1 << 20, 7);
        let f = frame(&body);
        let (out, h) = walk(&f, &[7, 10, 11, 29, 31, 1000, 500_000], true);
        assert_eq!(out, f);
        assert_eq!(h.seen.len(), 4);
        // Shown: the first chunk (7 bytes), then one byte at each of checkpoints 9, 10 and 30; everything
        // else (a megabyte) passes unread.
        assert_eq!(h.shown, 10);
    }

    #[test]
    fn forward_through_refuses_to_rewind_or_rewrite() {
        struct Bad(u8);
        impl FrameHandler for Bad {
            fn on_frame(&mut self, _frame: &[u8], _frame_len: usize) -> Verdict {
                if self.0 == 0 {
                    Verdict::ForwardThrough(2)
                } else {
                    Verdict::ForwardThrough(8)
                }
            }
            fn on_frame_rest(&mut self, _bytes: &[u8], _offset: usize, _frame_len: usize) -> Verdict {
                Verdict::Replace(Vec::new())
            }
        }
        let f = frame(b"Wxxxxxxxxx");
        let mut s = FrameStream::new(100);
        assert!(s.process(&f, &mut Bad(0)).close.unwrap().contains("again"));
        let mut s = FrameStream::new(100);
        assert_eq!(s.process(&f[..6], &mut Bad(1)).close, None);
        assert_eq!(s.passthrough_len(), 2);
        assert!(s.process(&f[6..], &mut Bad(1)).close.unwrap().contains("partly forwarded"));
    }

    #[test]
    fn zero_length_frame_is_framed() {
        let (out, close) = run(&[frame(b""), frame(b"Fx")].concat(), &[2], 0);
        assert_eq!(close, None);
        assert_eq!(out, [frame(b""), frame(b"Fx")].concat());
    }
}
