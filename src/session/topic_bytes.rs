//! Bytes per topic: how the bytes of a forwarded Produce request or Fetch response are shared between its
//! topics (`kafka_filter.produced_bytes_by_topic`, `kafka_filter.fetched_bytes_by_topic`).
//!
//! The share of a topic, the same both ways: the frame is cut where each topic entry (the topic's name)
//! starts, and a topic gets the bytes from its entry's start to the next entry's start. The first topic also
//! gets the bytes before it (size prefix, header, acks or throttle time...), the last one everything from
//! its start to the end of the frame. So the shares of a frame's topics add up to the whole frame, which
//! is what the per-principal counters count, and a single-topic frame is all its topic's. A frame with no
//! topic (an empty incremental Fetch response) counts per principal only.
//!
//! Why this cut: the last topic's share is known as soon as its name is read, without reading its
//! records. A single-topic Produce or Fetch (most clients) is attributed from its first bytes and the rest
//! streams through unread, as before. For the topics before the last, the Produce walker skips record sets
//! by length (a Produce is decided after its last topic name anyway). A Fetch response, forwarded as it
//! arrives and possibly 50 MB, is walked as it streams ([`FetchWalk`]): the walk reads the partition
//! headers and skips each record set unread (`Verdict::ForwardThrough`), and it never holds response bytes.

use crate::classify::produce_topic_entries;
use crate::metrics::{Stat, TopicId, TopicNames};
use crate::protocol::layout::Reader;
use crate::protocol::wire::{parse_request_header, HeaderParse, SIZE_PREFIX};

/// Where the walk reports: names to ids, and each topic's share.
pub(super) trait TopicSink {
    fn topic(&mut self, name: &[u8]) -> TopicId;
    fn share(&mut self, topic: TopicId, bytes: u64);
}

/// The session's sink: the connection's topic names and its stats.
struct Shares<'a> {
    topics: &'a mut TopicNames,
    stats: &'a mut Vec<Stat>,
    fetched: bool,
}

impl TopicSink for Shares<'_> {
    fn topic(&mut self, name: &[u8]) -> TopicId {
        self.topics.id_of_bytes(name)
    }

    fn share(&mut self, topic: TopicId, bytes: u64) {
        self.stats.push(if self.fetched {
            Stat::FetchedTopicBytes { topic, bytes }
        } else {
            Stat::ProducedTopicBytes { topic, bytes }
        });
    }
}

/// The connection's per-topic byte counts: the topic names of its stats (bounded by `maxTopicLabelValues`)
/// and the Fetch response being walked for its topics' shares.
#[derive(Debug)]
pub(super) struct TopicBytes {
    pub(super) names: TopicNames,
    walk: FetchWalk,
}

impl TopicBytes {
    pub(super) fn new(names: TopicNames) -> Self {
        TopicBytes { names, walk: FetchWalk::default() }
    }

    /// Counts the topic shares of a forwarded Produce request. `body` is the part of the request body that
    /// has arrived (at least through the last topic name: the request was classified), `body_offset` where
    /// the body starts in the frame; `sole_topic`: the request's one topic, when classification found one
    /// (then the request is not walked again).
    pub(super) fn count_produce(
        &mut self,
        stats: &mut Vec<Stat>,
        version: i16,
        body: &[u8],
        (body_len, body_offset, frame_len): (usize, usize, usize),
        sole_topic: Option<&str>,
    ) {
        let mut sink = Shares { topics: &mut self.names, stats, fetched: false };
        if let Some(name) = sole_topic {
            // Every entry is this topic's: the shares would add up to the whole frame. (A `str`: no UTF-8 check.)
            let topic = sink.topics.id(name);
            sink.share(topic, frame_len as u64);
            return;
        }
        let mut current: Option<(TopicId, usize)> = None;
        // Cannot fail where classify() succeeded on the same bytes; if it did, the shares still add up.
        let _ = produce_topic_entries(version, body, body_len, |name, entry_start| {
            let start = match current.take() {
                Some((topic, from)) => {
                    let at = body_offset + entry_start;
                    sink.share(topic, at.saturating_sub(from) as u64);
                    at
                }
                None => 0,
            };
            current = Some((sink.topic(name.as_bytes()), start));
        });
        if let Some((topic, from)) = current {
            sink.share(topic, frame_len.saturating_sub(from) as u64);
        }
    }

    /// Counts a Produce request the filter rewrote (the allowed part of a split request): whole frame.
    pub(super) fn count_forwarded_produce(&mut self, stats: &mut Vec<Stat>, version: i16, frame: &[u8]) {
        let body = frame.get(SIZE_PREFIX..).unwrap_or_default();
        if let HeaderParse::Complete(header) = parse_request_header(body, body.len()) {
            stats.push(Stat::ProducedBytes(frame.len() as u64));
            let request = body.get(header.header_len..).unwrap_or_default();
            let at = (request.len(), SIZE_PREFIX + header.header_len, frame.len());
            self.count_produce(stats, version, request, at, None);
        }
    }

    /// Starts the walk of a forwarded Fetch response from its first bytes. `Some(offset)`: show the walk the
    /// frame again from there (`Verdict::ForwardThrough`); `None`: every share is counted.
    pub(super) fn start_fetch(
        &mut self,
        stats: &mut Vec<Stat>,
        version: i16,
        frame: &[u8],
        frame_len: usize,
    ) -> Option<usize> {
        if !(0..=crate::classify::MAX_FETCH_VERSION).contains(&version) {
            // Versions the filter does not parse (forwarded only with `unknownRequests: allow`): per principal.
            return None;
        }
        let mut sink = Shares { topics: &mut self.names, stats, fetched: true };
        if let Some(key) = sole_topic_key(version, frame, frame_len) {
            // One topic: the whole frame is its share, as the walk would find (nearly every response).
            let topic = fetched_topic(&mut sink, version, key);
            sink.share(topic, frame_len as u64);
            return None;
        }
        self.walk.start(version, frame_len);
        self.walk.feed(frame, 0, &mut sink)
    }

    /// Continues the walk with the response's bytes from frame offset `offset` on.
    pub(super) fn continue_fetch(&mut self, stats: &mut Vec<Stat>, bytes: &[u8], offset: usize) -> Option<usize> {
        let mut sink = Shares { topics: &mut self.names, stats, fetched: true };
        self.walk.feed(bytes, offset, &mut sink)
    }
}

/// The topic of a Fetch response that names exactly one, when its first bytes (`frame`) reach through that
/// topic's name (or id, v13+); `None` otherwise, for the walk to take. Read at once, where the walk would go
/// step by step through the same fields.
fn sole_topic_key(version: i16, frame: &[u8], frame_len: usize) -> Option<&[u8]> {
    let flexible = version >= 12;
    let mut r = Reader::new(frame, frame_len);
    r.skip_read(SIZE_PREFIX + 4).ok()?;
    if header_has_tags(version) {
        r.tagged_fields().ok()?;
    }
    r.skip_read(head_len(version)).ok()?;
    if r.count(flexible).ok()?? != 1 {
        return None;
    }
    if version >= 13 {
        return r.take(16).ok();
    }
    let len = r.length(flexible, false).ok()??;
    r.take(len).ok()
}

/// Whether a Fetch response's header (after its correlation id) ends with tagged fields: header v1.
fn header_has_tags(version: i16) -> bool {
    crate::protocol::wire::response_header_version(1, version) >= 1
}

/// The Fetch response's fields before its topics: throttle_time_ms (v1+), error_code and session_id (v7+).
fn head_len(version: i16) -> usize {
    let throttle = if version >= 1 { 4 } else { 0 };
    throttle + if version >= 7 { 6 } else { 0 }
}

/// The id a fetched topic's name (or, v13+, its id's learned name) counts under, as the walk's `Step::Name`.
fn fetched_topic(sink: &mut impl TopicSink, version: i16, key: &[u8]) -> TopicId {
    match <[u8; 16]>::try_from(key) {
        // By id (v13+): the learned name; an id not learned counts under `other` (not UTF-8).
        Ok(id) if version >= 13 => match crate::topic_ids::name_of(&id) {
            Some(name) => sink.topic(name.as_bytes()),
            None => sink.topic(&[0xff]),
        },
        _ => sink.topic(key),
    }
}

/// A big-endian integer of `width` bytes (2 or 4), sign-extended: -1 marks a null array, bytes or name.
fn signed(value: u64, width: u8) -> i64 {
    if width == 2 {
        value as u16 as i16 as i64
    } else {
        value as u32 as i32 as i64
    }
}

/// Where a [`FetchWalk`] is in a Fetch response (v0-v18; from v13 a topic is its id, looked up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Step {
    #[default]
    Done,
    /// Size prefix and correlation id.
    Prefix,
    /// throttle_time_ms (v1+), error_code and session_id (v7+).
    Head,
    TopicCount,
    NameLen,
    Name,
    PartitionCount,
    /// partition_index, error_code, high_watermark, last_stable_offset (v4+), log_start_offset (v5+).
    PartitionFixed,
    AbortedCount,
    /// producer_id, first_offset.
    Aborted,
    /// preferred_read_replica (v11+).
    Preferred,
    RecordsLen,
    Records,
    TagCount,
    TagKey,
    TagSize,
    TagData,
}

/// Where tagged fields (flexible versions) lead when they end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum AfterTags {
    #[default]
    Header,
    Aborted,
    Partition,
    Topic,
}

/// How a step reads its bytes.
enum Read {
    /// `left` bytes, unread.
    Skip,
    /// A big-endian integer of this many bytes.
    Int(u8),
    Varint,
    /// `left` name bytes.
    Name,
}

/// A Fetch response walked as it streams through, for the topics' shares (module doc): a resumable reader
/// that consumes whatever bytes it is shown, keeps a partly read field in a few bytes of state, and asks
/// to be shown the frame again past a record set. So every split of the response into chunks gives the
/// same shares, and the record sets are never read. A response the walk cannot follow (malformed) is not
/// refused: it passes as every response does, and the topic being walked gets the rest of the frame.
#[derive(Debug, Default)]
struct FetchWalk {
    version: i16,
    frame_len: usize,
    /// Frame offset of the next byte to consume.
    pos: usize,
    step: Step,
    after_tags: AfterTags,
    /// A partly read integer and how many of its bytes were read.
    acc: u64,
    acc_len: u8,
    /// Bytes still to skip (or name bytes still to read) in the current step.
    left: usize,
    topics_left: usize,
    partitions_left: usize,
    aborted_left: usize,
    tags_left: usize,
    /// The topic name being read (kept across responses: no allocation per response).
    name: Vec<u8>,
    /// Frame offset where the share of the topic being read starts.
    entry_start: usize,
    /// The topic whose entry is being walked, and where its share starts.
    current: Option<(TopicId, usize)>,
}

impl FetchWalk {
    fn flexible(&self) -> bool {
        self.version >= 12
    }

    pub(super) fn start(&mut self, version: i16, frame_len: usize) {
        self.version = version;
        self.frame_len = frame_len;
        self.pos = 0;
        self.acc = 0;
        self.acc_len = 0;
        self.current = None;
        self.enter(Step::Prefix, crate::protocol::wire::SIZE_PREFIX + 4);
    }

    fn enter(&mut self, step: Step, left: usize) {
        self.step = step;
        self.left = left;
    }

    fn read(&self) -> Read {
        let count = if self.flexible() { Read::Varint } else { Read::Int(4) };
        match self.step {
            Step::Done
            | Step::Prefix
            | Step::Head
            | Step::PartitionFixed
            | Step::Aborted
            | Step::Preferred
            | Step::Records
            | Step::TagData => Read::Skip,
            Step::TopicCount | Step::PartitionCount | Step::AbortedCount | Step::RecordsLen => count,
            Step::NameLen if self.flexible() => Read::Varint,
            Step::NameLen => Read::Int(2),
            Step::Name => Read::Name,
            Step::TagCount | Step::TagKey | Step::TagSize => Read::Varint,
        }
    }

    /// Consumes `bytes` (the frame from offset `offset` on). `Some(next)`: show me the frame again from
    /// `next` (at least the end of `bytes`); `None`: done, the rest of the frame passes unread.
    pub(super) fn feed(&mut self, bytes: &[u8], offset: usize, sink: &mut impl TopicSink) -> Option<usize> {
        if self.step == Step::Done {
            return None;
        }
        if offset != self.pos {
            // Not where the walk stopped (cannot happen with FrameStream): stop rather than misread.
            self.abandon(sink);
            return None;
        }
        let mut rest = bytes;
        while self.step != Step::Done {
            if self.pos >= self.frame_len {
                // The frame ends inside a topic before the last: malformed.
                self.abandon(sink);
                return None;
            }
            match self.read() {
                Read::Skip if self.left > rest.len() => {
                    // Past these bytes: the stream forwards the skipped ones unread.
                    self.pos = self.pos.saturating_add(self.left);
                    self.left = 0;
                    if self.pos >= self.frame_len {
                        self.abandon(sink);
                        return None;
                    }
                    self.next(0, sink);
                    return (self.step != Step::Done).then_some(self.pos);
                }
                Read::Skip => {
                    rest = rest.get(self.left..).unwrap_or_default();
                    self.pos += self.left;
                    self.left = 0;
                    self.next(0, sink);
                }
                Read::Name => {
                    let take = self.left.min(rest.len());
                    let (part, after) = rest.split_at_checked(take).unwrap_or((rest, &[]));
                    // Longer than a topic name can be: the extra bytes are not kept (the name counts as other).
                    let room = (crate::metrics::MAX_TOPIC_NAME + 1).saturating_sub(self.name.len());
                    self.name.extend_from_slice(part.get(..room.min(part.len())).unwrap_or_default());
                    rest = after;
                    self.pos += take;
                    self.left -= take;
                    if self.left > 0 {
                        return Some(self.pos);
                    }
                    self.next(0, sink);
                }
                Read::Int(width) if self.acc_len == 0 && rest.len() >= usize::from(width) => {
                    // The whole integer is here (nearly always): read at once.
                    let (bytes, after) = rest.split_at_checked(usize::from(width)).unwrap_or_default();
                    rest = after;
                    self.pos += usize::from(width);
                    let value = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
                    self.next(signed(value, width), sink);
                }
                Read::Varint if self.acc_len == 0 && rest.first().is_some_and(|&b| b < 0x80) => {
                    // A one-byte varint (counts, lengths and tag counts nearly always are).
                    let value = rest.first().map_or(0, |&b| i64::from(b));
                    rest = rest.get(1..).unwrap_or_default();
                    self.pos += 1;
                    self.next(value, sink);
                }
                Read::Int(width) => {
                    let Some((&b, after)) = rest.split_first() else { return Some(self.pos) };
                    rest = after;
                    self.pos += 1;
                    self.acc = (self.acc << 8) | u64::from(b);
                    self.acc_len += 1;
                    if self.acc_len == width {
                        let value = std::mem::take(&mut self.acc);
                        self.acc_len = 0;
                        self.next(signed(value, width), sink);
                    }
                }
                Read::Varint => {
                    let Some((&b, after)) = rest.split_first() else { return Some(self.pos) };
                    rest = after;
                    self.pos += 1;
                    self.acc |= u64::from(b & 0x7f) << (7 * u32::from(self.acc_len));
                    self.acc_len += 1;
                    if b >= 0x80 && self.acc_len < 5 {
                        continue;
                    }
                    let value = std::mem::take(&mut self.acc);
                    self.acc_len = 0;
                    if b >= 0x80 || value > u64::from(u32::MAX) {
                        self.abandon(sink);
                        return None;
                    }
                    self.next(value as i64, sink);
                }
            }
        }
        None
    }

    /// Stops walking: the topic being walked gets the rest of the frame (so the shares still add up).
    fn abandon(&mut self, sink: &mut impl TopicSink) {
        if let Some((topic, from)) = self.current.take() {
            sink.share(topic, self.frame_len.saturating_sub(from) as u64);
        }
        self.step = Step::Done;
    }

    /// A count, length or size just read (`value`, -1 for null in non-flexible versions), as a number of
    /// elements or bytes. Null is 0; anything longer than the rest of the frame is malformed.
    fn count(&self, value: i64, compact: bool) -> Option<usize> {
        let n = if compact { value - 1 } else { value };
        let n = match n {
            -1 => 0,
            n if n < 0 => return None,
            n => usize::try_from(n).ok()?,
        };
        (n <= self.frame_len.saturating_sub(self.pos)).then_some(n)
    }

    /// The step after the one just completed (`value`: what it read, if a number).
    fn next(&mut self, value: i64, sink: &mut impl TopicSink) {
        let flexible = self.flexible();
        let v = self.version;
        match self.step {
            Step::Done => {}
            Step::Prefix => {
                if header_has_tags(v) {
                    self.tags(AfterTags::Header)
                } else {
                    self.head()
                }
            }
            Step::Head => self.enter(Step::TopicCount, 0),
            Step::TopicCount => match self.count(value, flexible) {
                Some(0) => self.step = Step::Done,
                Some(n) => {
                    self.topics_left = n;
                    self.topic_start();
                }
                None => self.abandon(sink),
            },
            Step::NameLen => match self.count(value, flexible) {
                // A null name (-1 or compact 0) reads as 0 here; Kafka never sends one: an empty name.
                Some(n) => {
                    self.name.clear();
                    self.enter(Step::Name, n);
                }
                None => self.abandon(sink),
            },
            Step::Name => {
                let topic = fetched_topic(sink, v, &self.name);
                if let Some((previous, from)) = self.current.take() {
                    sink.share(previous, self.entry_start.saturating_sub(from) as u64);
                }
                self.topics_left = self.topics_left.saturating_sub(1);
                if self.topics_left == 0 {
                    // The last topic: the rest of the frame is its share, known without reading it.
                    sink.share(topic, self.frame_len.saturating_sub(self.entry_start) as u64);
                    self.step = Step::Done;
                } else {
                    self.current = Some((topic, self.entry_start));
                    self.enter(Step::PartitionCount, 0);
                }
            }
            Step::PartitionCount => match self.count(value, flexible) {
                Some(0) => self.partitions_end(),
                Some(n) => {
                    self.partitions_left = n;
                    self.partition();
                }
                None => self.abandon(sink),
            },
            Step::PartitionFixed if v >= 4 => self.enter(Step::AbortedCount, 0),
            Step::PartitionFixed => self.records(),
            Step::AbortedCount => match self.count(value, flexible) {
                Some(0) => self.records(),
                Some(n) => {
                    self.aborted_left = n;
                    self.enter(Step::Aborted, 16);
                }
                None => self.abandon(sink),
            },
            Step::Aborted if flexible => self.tags(AfterTags::Aborted),
            Step::Aborted => self.aborted_end(),
            Step::Preferred => self.enter(Step::RecordsLen, 0),
            Step::RecordsLen => match self.count(value, flexible) {
                Some(n) => self.enter(Step::Records, n),
                None => self.abandon(sink),
            },
            Step::Records if flexible => self.tags(AfterTags::Partition),
            Step::Records => self.partition_end(),
            Step::TagCount => match self.count(value, false) {
                Some(0) => self.tags_end(),
                Some(n) => {
                    self.tags_left = n;
                    self.enter(Step::TagKey, 0);
                }
                None => self.abandon(sink),
            },
            Step::TagKey => self.enter(Step::TagSize, 0),
            Step::TagSize => match self.count(value, false) {
                Some(n) => self.enter(Step::TagData, n),
                None => self.abandon(sink),
            },
            Step::TagData => {
                self.tags_left = self.tags_left.saturating_sub(1);
                if self.tags_left > 0 {
                    self.enter(Step::TagKey, 0);
                } else {
                    self.tags_end();
                }
            }
        }
    }

    fn head(&mut self) {
        self.enter(Step::Head, head_len(self.version));
    }

    fn tags(&mut self, after: AfterTags) {
        self.after_tags = after;
        self.enter(Step::TagCount, 0);
    }

    fn tags_end(&mut self) {
        match self.after_tags {
            AfterTags::Header => self.head(),
            AfterTags::Aborted => self.aborted_end(),
            AfterTags::Partition => self.partition_end(),
            AfterTags::Topic => self.topic_start(),
        }
    }

    /// A topic entry starts here: the previous topic's share ends here. It is counted once this topic's
    /// name is read; until then the previous topic keeps the bytes (a walk abandoned in between gives it
    /// the rest of the frame, so the shares still add up).
    fn topic_start(&mut self) {
        // The first topic's share starts with the frame.
        self.entry_start = if self.current.is_some() { self.pos } else { 0 };
        if self.version >= 13 {
            // By id: its 16 bytes are read as the "name", then looked up (see Step::Name).
            self.name.clear();
            self.enter(Step::Name, 16);
        } else {
            self.enter(Step::NameLen, 0);
        }
    }

    fn partition(&mut self) {
        let v = self.version;
        let len = 4 + 2 + 8 + if v >= 4 { 8 } else { 0 } + if v >= 5 { 8 } else { 0 };
        self.enter(Step::PartitionFixed, len);
    }

    fn aborted_end(&mut self) {
        self.aborted_left = self.aborted_left.saturating_sub(1);
        if self.aborted_left > 0 {
            self.enter(Step::Aborted, 16);
        } else {
            self.records();
        }
    }

    /// preferred_read_replica (v11+), then the record set.
    fn records(&mut self) {
        if self.version >= 11 {
            self.enter(Step::Preferred, 4);
        } else {
            self.enter(Step::RecordsLen, 0);
        }
    }

    fn partition_end(&mut self) {
        self.partitions_left = self.partitions_left.saturating_sub(1);
        if self.partitions_left > 0 {
            self.partition();
        } else {
            self.partitions_end();
        }
    }

    fn partitions_end(&mut self) {
        if self.flexible() {
            self.tags(AfterTags::Topic);
        } else {
            // The next topic's entry starts here (there is one: the last topic ends the walk at its name).
            self.topic_start();
        }
    }
}
