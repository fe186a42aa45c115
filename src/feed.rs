//! The read loop: one chunk of one direction fed to the core as the glue feeds it, and as the tests and
//! fuzz targets replay it. Bytes the stream passes unread are skipped without being read (record sets);
//! the rest is read in windows, a small first one (most frames are decided from their first bytes) and
//! larger ones after, and each window's edits are moved to chunk offsets.

use crate::frame::{ChunkOutcome, Edit, FrameHandler, FrameStream};
use crate::session::Session;

/// One direction of a stream the loop feeds.
pub trait Side {
    /// Bytes of the next chunk that pass unread.
    fn passthrough(&self) -> u64;
    fn skip(&mut self, n: u64);
    fn process(&mut self, window: &[u8]) -> ChunkOutcome;
}

/// One side of a session: client → broker (downstream) or broker → client. One type for both, so the glue's
/// loop is compiled once.
pub struct SessionSide<'a> {
    pub session: &'a mut Session,
    pub downstream: bool,
}

impl<'a> SessionSide<'a> {
    /// A session's client → broker side.
    pub fn downstream(session: &'a mut Session) -> Self {
        SessionSide { session, downstream: true }
    }

    /// A session's broker → client side.
    pub fn upstream(session: &'a mut Session) -> Self {
        SessionSide { session, downstream: false }
    }
}
/// A bare frame stream with its handler (the frame codec's own tests).
pub struct Frames<'a, H>(pub &'a mut FrameStream, pub &'a mut H);

impl Side for SessionSide<'_> {
    fn passthrough(&self) -> u64 {
        if self.downstream {
            self.session.downstream_passthrough()
        } else {
            self.session.upstream_passthrough()
        }
    }
    fn skip(&mut self, n: u64) {
        if self.downstream {
            self.session.skip_downstream(n)
        } else {
            self.session.skip_upstream(n)
        }
    }
    fn process(&mut self, window: &[u8]) -> ChunkOutcome {
        if self.downstream {
            self.session.on_downstream(window)
        } else {
            self.session.on_upstream(window)
        }
    }
}

impl<H: FrameHandler> Side for Frames<'_, H> {
    fn passthrough(&self) -> u64 {
        self.0.passthrough_len()
    }
    fn skip(&mut self, n: u64) {
        self.0.skip(n)
    }
    fn process(&mut self, window: &[u8]) -> ChunkOutcome {
        self.0.process(window, self.1)
    }
}

/// How a chunk is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// A chunk up to this long is read whole at once.
    pub whole: usize,
    /// The first read of a longer chunk.
    pub first: usize,
    /// Every later read.
    pub rest: usize,
    /// Whether bytes the stream passes unread are skipped (the glue always does; a fuzz target also
    /// tries without).
    pub skip_unread: bool,
}

impl Windows {
    /// The glue's windows: a chunk of up to 4 KiB whole (one hostcall: a frame read whole needs no second one);
    /// of a longer chunk 1 KiB first, then 64 KiB. A long chunk is nearly always a Produce request or a Fetch
    /// answer, decided from its first bytes, its records skipped unread: every byte read is a copy out of
    /// Envoy and into the VM's memory, so the first read takes no more than a decision needs.
    pub const GLUE: Windows = Windows { whole: 4 * 1024, first: 1024, rest: 64 * 1024, skip_unread: true };

    /// Whole chunks at once.
    pub const WHOLE: Windows = Windows { whole: usize::MAX, first: usize::MAX, rest: usize::MAX, skip_unread: true };

    /// Every read `size` bytes.
    pub const fn of(size: usize) -> Windows {
        Windows { whole: 0, first: size, rest: size, skip_unread: true }
    }
}

/// What feeding one chunk did.
#[derive(Debug, Default, PartialEq, Eq)]
#[must_use = "the edits are what must reach the other side, and a closed stream must be closed"]
pub struct Fed {
    /// Edits at chunk offsets, in order.
    pub edits: Vec<Edit>,
    /// The stream asked to close: nothing of the chunk may be forwarded.
    pub closed: bool,
    /// Bytes read (handed to the stream), as opposed to skipped.
    pub read: usize,
    /// Something of the chunk was to be read (`before_first_read` ran): not all of it passed unread.
    pub started: bool,
}

/// Feeds one chunk of `len` bytes. `read(pos, max)` gives up to `max` bytes of the chunk from `pos` (the
/// glue reads the host's buffer; an error stops the loop and is returned); `before_first_read` runs once,
/// before the first bytes are read (the glue sets the clock there: chunks skipped unread cost nothing).
pub fn feed<S: Side, E>(
    side: &mut S,
    len: usize,
    windows: Windows,
    mut read: impl FnMut(usize, usize) -> Result<Vec<u8>, E>,
    mut before_first_read: impl FnMut(&mut S),
) -> Result<Fed, E> {
    let mut fed = Fed::default();
    let mut pos = 0usize;
    let mut reads = 0u32;
    while pos < len {
        if windows.skip_unread {
            let skip = usize::try_from(side.passthrough()).unwrap_or(usize::MAX).min(len - pos);
            if skip > 0 {
                side.skip(skip as u64);
                pos += skip;
                continue;
            }
        }
        if reads == 0 {
            fed.started = true;
            before_first_read(side);
        }
        let limit = match reads {
            0 if len <= windows.whole => len,
            0 => windows.first,
            _ => windows.rest,
        };
        reads += 1;
        let window = read(pos, limit.min(len - pos))?;
        if window.is_empty() {
            break;
        }
        let outcome = side.process(&window);
        fed.read += window.len();
        if outcome.close.is_some() {
            fed.closed = true;
            break;
        }
        if !outcome.edits.is_empty() {
            fed.edits.extend(outcome.edits.into_iter().map(|e| Edit { start: e.start + pos, ..e }));
        }
        pos += window.len();
    }
    Ok(fed)
}

/// [`feed`] over a chunk in memory (tests, fuzz targets, benchmarks).
pub fn feed_slice<S: Side>(side: &mut S, chunk: &[u8], windows: Windows) -> Fed {
    let read = |pos: usize, max: usize| -> Result<Vec<u8>, ()> {
        Ok(chunk.get(pos..pos.saturating_add(max).min(chunk.len())).unwrap_or_default().to_vec())
    };
    feed(side, chunk.len(), windows, read, |_| {}).unwrap_or_default()
}
