//! FrameStream under arbitrary chunking, with a handler whose verdicts and decision points come from the
//! frames' own bytes. Invariants: edits are in bounds, ascending and disjoint; the forwarded bytes do not
//! depend on the chunking (they equal a chunking-free reference model); a close forwards a prefix of it.
//!
//! Frames tagged for walking are followed by `Verdict::ForwardThrough` (as the per-topic byte counting walks a
//! Fetch response): the bytes the handler visits, at the offsets it asked for, must not depend on the chunking
//! or on the glue skipping the bytes in between.
//!
//! Input: byte 0 = number of chunk-size bytes n (low 4 bits) and whether to use the glue's skip fast path
//! (bit 4); the next n bytes are chunk sizes (cycled); the rest is the stream.
#![no_main]

use kafka_mtls_filter::feed::{feed_slice, Frames, Windows};
use kafka_mtls_filter::frame::{apply_edits, FrameHandler, FrameStream, Verdict};
use libfuzzer_sys::fuzz_target;

const MAX_FRAME: u32 = 4096;
const REPLACEMENT: &[u8] = &[0, 0, 0, 3, b'r', b'e', b'p'];

/// Frames whose first body byte has these bits are walked: from offset 5 on, the handler visits a byte and
/// jumps ahead by 1 + that byte % 9 (the rest passes through unread).
fn walked(tag: u8) -> bool {
    tag & 7 == 5
}

fn next_visit(offset: usize, byte: u8) -> usize {
    offset + 1 + (byte % 9) as usize
}

/// What the handler decides for a frame whose first body byte is `tag`, and after how many bytes.
fn plan(tag: Option<u8>, frame_len: usize) -> (usize, Verdict) {
    let Some(tag) = tag else { return (4, Verdict::Forward) };
    if walked(tag) {
        return (5.min(frame_len), Verdict::Forward);
    }
    let decide_at = (5 + (tag as usize >> 2) * 3).min(frame_len);
    let verdict = match tag & 3 {
        0 | 1 => Verdict::Forward,
        2 => Verdict::Replace(REPLACEMENT.to_vec()),
        _ if tag == 0xff => Verdict::Close("told to".into()),
        _ => Verdict::Replace(Vec::new()),
    };
    (decide_at, verdict)
}

#[derive(Default)]
struct Handler {
    /// Frames decided so far (the index of the frame being walked is `frames - 1`).
    frames: usize,
    /// The next offset the walk visits in the current frame.
    next: usize,
    /// (frame index, offset, byte) of every visited byte.
    visited: Vec<(usize, usize, u8)>,
}

impl Handler {
    /// Visits the walk's bytes among `bytes` (frame offsets `offset..`), then asks for the next one.
    fn walk(&mut self, bytes: &[u8], offset: usize, frame_len: usize) -> Verdict {
        assert!(self.next >= offset, "shown bytes from {offset}, but the walk is at {}", self.next);
        while let Some(&byte) = self.next.checked_sub(offset).and_then(|i| bytes.get(i)) {
            self.visited.push((self.frames - 1, self.next, byte));
            self.next = next_visit(self.next, byte);
        }
        if self.next >= frame_len {
            Verdict::Forward
        } else {
            Verdict::ForwardThrough(self.next)
        }
    }
}

impl FrameHandler for Handler {
    fn on_frame(&mut self, frame: &[u8], frame_len: usize) -> Verdict {
        assert!(frame.len() <= frame_len && frame.len() >= 4.min(frame_len));
        if frame.len() < 5.min(frame_len) {
            return Verdict::NeedMore;
        }
        let (decide_at, verdict) = plan(frame.get(4).copied(), frame_len);
        if frame.len() < decide_at {
            return Verdict::NeedMore;
        }
        self.frames += 1;
        if frame.get(4).copied().is_some_and(walked) {
            self.next = 5;
            return self.walk(frame, 0, frame_len);
        }
        verdict
    }

    fn on_frame_rest(&mut self, bytes: &[u8], offset: usize, frame_len: usize) -> Verdict {
        assert!(!bytes.is_empty() && offset + bytes.len() <= frame_len);
        self.walk(bytes, offset, frame_len)
    }
}

/// The bytes a walk visits in one frame (as far as `avail` goes).
fn reference_walk(index: usize, avail: &[u8], visited: &mut Vec<(usize, usize, u8)>) {
    let mut next = 5;
    while let Some(&byte) = avail.get(next) {
        visited.push((index, next, byte));
        next = next_visit(next, byte);
    }
}

/// What must be forwarded whatever the chunking, whether the stream ends closed, and the bytes walked.
fn reference(stream: &[u8]) -> (Vec<u8>, bool, Vec<(usize, usize, u8)>) {
    let mut out = Vec::new();
    let mut visited = Vec::new();
    let mut frames = 0;
    let mut pos = 0;
    while pos < stream.len() {
        let Some(prefix) = stream.get(pos..pos + 4) else { return (out, false, visited) };
        let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        if size < 0 || size as u32 > MAX_FRAME {
            return (out, true, visited);
        }
        let frame_len = size as usize + 4;
        let avail = &stream[pos..stream.len().min(pos + frame_len)];
        let (decide_at, verdict) = plan(stream.get(pos + 4).copied().filter(|_| frame_len > 4), frame_len);
        if avail.len() < decide_at.max(5.min(frame_len)) {
            return (out, false, visited);
        }
        frames += 1;
        if stream.get(pos + 4).copied().filter(|_| frame_len > 4).is_some_and(walked) {
            reference_walk(frames - 1, avail, &mut visited);
        }
        match verdict {
            Verdict::Forward => out.extend_from_slice(avail),
            Verdict::Replace(bytes) => out.extend_from_slice(&bytes),
            Verdict::Close(_) => return (out, true, visited),
            Verdict::NeedMore | Verdict::ForwardThrough(_) => unreachable!(),
        }
        pos += frame_len;
    }
    (out, false, visited)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let n = (control & 0x0f) as usize;
    let use_skip = control & 0x10 != 0;
    let Some((sizes, stream)) = rest.split_at_checked(n.min(rest.len())) else { return };

    let mut s = FrameStream::new(MAX_FRAME);
    let mut handler = Handler::default();
    let mut forwarded = Vec::new();
    let mut closed = false;
    let mut pos = 0;
    let mut i = 0;
    while pos < stream.len() {
        let size = sizes.get(i % sizes.len().max(1)).map_or(stream.len(), |&b| b as usize + 1);
        i += 1;
        let chunk = &stream[pos..stream.len().min(pos + size)];
        pos += chunk.len();
        // Whole chunks, with or without the glue's fast path (bytes of a forwarded frame pass unread).
        let out =
            feed_slice(&mut Frames(&mut s, &mut handler), chunk, Windows { skip_unread: use_skip, ..Windows::WHOLE });
        let mut end = 0;
        for e in &out.edits {
            assert!(e.start >= end, "edits overlap or descend: {:?}", out.edits);
            end = e.start + e.remove;
            assert!(end <= chunk.len(), "edit past the chunk");
            assert!(e.remove > 0 || !e.insert.is_empty(), "empty edit");
        }
        if out.closed {
            assert!(s.is_closed());
            closed = true;
            break;
        }
        forwarded.extend(apply_edits(chunk, &out.edits));
    }
    // Held bytes are bounded by one frame (Vec growth may double the capacity).
    assert!(s.held_len() <= 2 * (MAX_FRAME as usize + 4));
    let (expected, expect_close, expected_visits) = reference(stream);
    if closed {
        assert!(expect_close, "closed but the reference does not close");
        assert!(expected.starts_with(&forwarded), "forwarded bytes before the close differ from the reference");
        assert!(expected_visits.starts_with(&handler.visited), "walked bytes before the close differ");
    } else {
        assert!(!expect_close, "reference closes but the stream did not");
        assert_eq!(forwarded, expected, "forwarded bytes depend on the chunking");
        assert_eq!(handler.visited, expected_visits, "walked bytes depend on the chunking or skipping");
    }
});
