//! A DescribeTopicPartitions request as the filter rewrites it (`session::visibility`): its named topics and its
//! cursor change, at the byte level; every other byte (response_partition_limit, tagged fields) stays as the
//! client sent it.

use std::ops::Range;

use kafka_protocol::messages::ApiKey;

use super::{parse, read_dtp_cursor, stop_reason, write_dtp_cursor, Keep, Reader};
use crate::protocol::wire;

/// The request read with its layout.
pub(crate) struct DtpRequest<'a> {
    body: &'a [u8],
    /// The named topics (none: all topics), each with the bytes of its entry.
    pub(crate) topics: Vec<(&'a str, Range<usize>)>,
    /// `(topic_name, partition_index)`; `None`: from the first topic.
    pub(crate) cursor: Option<(String, i32)>,
    /// The cursor as sent: written back as sent while unchanged.
    sent_cursor: Option<(String, i32)>,
    topics_span: Range<usize>,
    cursor_span: Range<usize>,
    /// Where the request ends (its tagged fields); bytes after it are not forwarded.
    end: usize,
}

impl<'a> DtpRequest<'a> {
    pub(crate) fn read(version: i16, body: &'a [u8]) -> Result<Self, String> {
        let request = parse(ApiKey::DescribeTopicPartitions, version, body, Keep::Resources)?;
        let list = request.list("topics").ok_or("null topics")?;
        let topics = list
            .items
            .iter()
            .map(|(range, entry)| {
                Ok((entry.node().and_then(|t| t.str("name")).ok_or("null topic name")?, range.clone()))
            })
            .collect::<Result<Vec<_>, String>>()?;
        // After the topics: response_partition_limit (int32), the cursor, the request's tagged fields.
        let cursor_start = list.entries_end + 4;
        let (cursor, cursor_end) = read_dtp_cursor(body, cursor_start)?;
        let mut r = Reader::new(body, body.len());
        r.pos = cursor_end;
        r.tagged_fields().map_err(stop_reason)?;
        Ok(DtpRequest {
            body,
            topics,
            sent_cursor: cursor.clone(),
            cursor,
            topics_span: list.count_start..list.entries_end,
            cursor_span: cursor_start..cursor_end,
            end: r.pos,
        })
    }

    /// The request body with the topics and the cursor as they are now (a changed cursor without tagged fields:
    /// Kafka defines none for it).
    pub(crate) fn write(&self) -> Result<Vec<u8>, String> {
        let piece = |range: Range<usize>| self.body.get(range).ok_or("DescribeTopicPartitions span");
        let mut out = Vec::with_capacity(self.end);
        out.extend_from_slice(piece(0..self.topics_span.start)?);
        wire::write_array_count(&mut out, u32::try_from(self.topics.len()).map_err(|_| "too many topics")?, true);
        for (_, entry) in &self.topics {
            out.extend_from_slice(piece(entry.clone())?);
        }
        out.extend_from_slice(piece(self.topics_span.end..self.cursor_span.start)?);
        if self.cursor == self.sent_cursor {
            out.extend_from_slice(piece(self.cursor_span.clone())?);
        } else {
            write_dtp_cursor(&mut out, self.cursor.as_ref().map(|(name, partition)| (name.as_str(), *partition)));
        }
        out.extend_from_slice(piece(self.cursor_span.end..self.end)?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
    use kafka_protocol::messages::{DescribeTopicPartitionsRequest, TopicName};
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

    use super::*;

    fn name(s: &str) -> TopicName {
        TopicName(StrBytes::from_string(s.to_string()))
    }

    /// Requests as clients send them: no topic, some, a cursor or none, unknown tagged fields at either level.
    fn requests() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for topics in [&[][..], &["a"], &["b", "a", "c"], &["t1", "t2", "t3", "t4"]] {
            for cursor in [None, Some(("a", 0)), Some(("b", 7)), Some(("zz", 3))] {
                for tagged in [false, true] {
                    let mut topics: Vec<TopicRequest> =
                        topics.iter().map(|t| TopicRequest::default().with_name(name(t))).collect();
                    let mut request = DescribeTopicPartitionsRequest::default().with_response_partition_limit(2000);
                    if tagged {
                        request.unknown_tagged_fields.insert(5, vec![1, 2, 3].into());
                        if let Some(first) = topics.first_mut() {
                            first.unknown_tagged_fields.insert(9, vec![4].into());
                        }
                    }
                    request.topics = topics;
                    request.cursor =
                        cursor.map(|(t, p)| Cursor::default().with_topic_name(name(t)).with_partition_index(p));
                    let mut body = Vec::new();
                    request.encode(&mut body, 0).expect("encode");
                    out.push(body);
                }
            }
        }
        out
    }

    /// One rewrite the filter makes, on kafka-protocol's decoded request and on the filter's reading of it.
    type Rewrite = (fn(&mut DescribeTopicPartitionsRequest), fn(&mut DtpRequest<'_>));

    fn rewrites() -> Vec<Rewrite> {
        vec![
            (|_| {}, |_| {}),
            (|r| r.topics.retain(|t| t.name.as_str() != "a"), |r| r.topics.retain(|(t, _)| *t != "a")),
            (|r| r.topics.clear(), |r| r.topics.clear()),
            (
                |r| {
                    if let Some(c) = r.cursor.as_mut() {
                        c.topic_name = name("next");
                        c.partition_index = 0;
                    }
                },
                |r| {
                    if let Some(c) = r.cursor.as_mut() {
                        *c = ("next".to_string(), 0);
                    }
                },
            ),
            (|r| r.cursor = None, |r| r.cursor = None),
        ]
    }

    #[test]
    fn rewritten_requests_equal_kafka_protocols_encoding() {
        for body in requests() {
            for (theirs, ours) in rewrites() {
                let mut decoded = DescribeTopicPartitionsRequest::decode(&mut body.as_slice(), 0).expect("decode");
                theirs(&mut decoded);
                let mut expected = Vec::new();
                decoded.encode(&mut expected, 0).expect("encode");

                let mut read = DtpRequest::read(0, &body).expect("read");
                ours(&mut read);
                assert_eq!(read.write().expect("write"), expected, "{body:02x?}");
            }
        }
    }

    #[test]
    fn reads_the_topics_and_the_cursor_and_stops_at_the_request_end() {
        let mut request = DescribeTopicPartitionsRequest::default()
            .with_topics(vec![
                TopicRequest::default().with_name(name("x")),
                TopicRequest::default().with_name(name("y")),
            ])
            .with_cursor(Some(Cursor::default().with_topic_name(name("y")).with_partition_index(4)));
        request.unknown_tagged_fields.insert(1, vec![0xaa].into());
        let mut body = Vec::new();
        request.encode(&mut body, 0).expect("encode");
        let sent = body.clone();
        body.extend_from_slice(b"trailing");
        let read = DtpRequest::read(0, &body).expect("read");
        assert_eq!(read.topics.iter().map(|(t, _)| *t).collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(read.cursor, Some(("y".to_string(), 4)));
        assert_eq!(read.write().expect("write"), sent);
        for end in 0..sent.len() {
            assert!(DtpRequest::read(0, &sent[..end]).is_err(), "truncated at {end}");
        }
    }
}
