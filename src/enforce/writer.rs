//! The response writer: Kafka's wire types at one API version, and the loops that echo a request's arrays.

use crate::protocol::layout::{Node, Val};
use crate::protocol::wire;

/// A response frame being written: Kafka's wire types at one API version (compact lengths and tagged
/// fields in flexible versions).
pub(super) struct Out {
    pub(super) buf: Vec<u8>,
    pub(super) v: i16,
    flexible: bool,
}

impl Out {
    /// Size prefix (set by `finish`), response header.
    pub(super) fn frame(api_key: i16, v: i16, correlation_id: i32) -> Out {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; wire::SIZE_PREFIX]);
        buf.extend_from_slice(&correlation_id.to_be_bytes());
        let flexible = wire::response_header_version(api_key, v) >= 1;
        let mut out = Out { buf, v, flexible };
        out.tags();
        out
    }
    /// A bare piece of a response body (no frame, no header).
    pub(super) fn body(api_key: i16, v: i16) -> Out {
        Out { buf: Vec::new(), v, flexible: wire::response_header_version(api_key, v) >= 1 }
    }
    /// Closes the body (its tagged fields) and sets the size prefix.
    pub(super) fn finish(mut self) -> Vec<u8> {
        self.tags();
        wire::set_frame_size(&mut self.buf);
        self.buf
    }
    pub(super) fn since(&self, version: i16) -> bool {
        self.v >= version
    }
    pub(super) fn i8(&mut self, n: i8) {
        self.buf.extend_from_slice(&n.to_be_bytes());
    }
    pub(super) fn bool(&mut self, b: bool) {
        self.buf.push(u8::from(b));
    }
    pub(super) fn i16(&mut self, n: i16) {
        self.buf.extend_from_slice(&n.to_be_bytes());
    }
    pub(super) fn i32(&mut self, n: i32) {
        self.buf.extend_from_slice(&n.to_be_bytes());
    }
    pub(super) fn i64(&mut self, n: i64) {
        self.buf.extend_from_slice(&n.to_be_bytes());
    }
    pub(super) fn uuid_zero(&mut self) {
        self.buf.extend_from_slice(&[0; 16]);
    }
    pub(super) fn uuid(&mut self, id: &crate::topic_ids::TopicUuid) {
        self.buf.extend_from_slice(id);
    }
    /// A length or count: `width` bytes, or an unsigned varint of `n + 1` in flexible versions.
    pub(super) fn length(&mut self, n: usize, wide: bool) {
        if self.flexible {
            wire::write_uvarint(&mut self.buf, n as u64 + 1);
        } else if wide {
            self.i32(n as i32);
        } else {
            self.i16(n as i16);
        }
    }
    /// The null marker of a string (`wide == false`), bytes or array.
    pub(super) fn null(&mut self, wide: bool) {
        match (self.flexible, wide) {
            (true, _) => self.buf.push(0),
            (false, false) => self.i16(-1),
            (false, true) => self.i32(-1),
        }
    }
    pub(super) fn str(&mut self, s: &str) {
        self.length(s.len(), false);
        self.buf.extend_from_slice(s.as_bytes());
    }
    pub(super) fn null_str(&mut self) {
        self.null(false);
    }
    pub(super) fn count(&mut self, n: usize) {
        self.length(n, true);
    }
    pub(super) fn null_array(&mut self) {
        self.null(true);
    }
    pub(super) fn empty_bytes(&mut self) {
        self.length(0, true);
    }
    pub(super) fn null_bytes(&mut self) {
        self.null(true);
    }
    /// No tagged fields (flexible versions).
    pub(super) fn tags(&mut self) {
        if self.flexible {
            self.buf.push(0);
        }
    }
}

/// Echoes the topics of a request array: per topic its name (or its id, in the versions that address topics
/// by id: `code` then sees the learned name, "" for an id not learned), then per partition
/// `partition(index, code)`, `code` being the topic's. `(list, index)` names the partitions array and the
/// index field of its structs ("" for an array of plain indexes).
pub(super) fn per_partition(
    o: &mut Out,
    req: &Node<'_>,
    topics: &str,
    name: &str,
    (list, index): (&str, &str),
    code: impl Fn(&str) -> i16,
    partition: impl Fn(&mut Out, i32, i16),
) {
    each_node(o, req, topics, |o, topic| {
        match topic.id("topic_id") {
            Some(id) => {
                o.uuid(&id);
            }
            None => o.str(topic.str(name).unwrap_or_default()),
        }
        let code = code(&topic.topic(name).unwrap_or_default());
        o.count(topic.len(list));
        for item in topic.items(list) {
            let partition_index = match item {
                Val::Struct(Some(p)) => p.int(index),
                other => other.int(),
            };
            partition(o, partition_index.unwrap_or_default() as i32, code);
            o.tags();
        }
    });
}

/// One response struct per element of a request's struct array (tagged fields closed here).
pub(super) fn each_node<'a>(o: &mut Out, req: &Node<'a>, list: &str, mut write: impl FnMut(&mut Out, &Node<'a>)) {
    o.count(req.len(list));
    for node in req.nodes(list) {
        write(o, node);
        o.tags();
    }
}

/// One response struct per string of a request's string array (tagged fields closed here).
pub(super) fn each_str(o: &mut Out, req: &Node<'_>, list: &str, mut write: impl FnMut(&mut Out, &str)) {
    o.count(req.len(list));
    for s in req.strs(list) {
        write(o, s);
        o.tags();
    }
}
