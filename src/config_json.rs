//! Reading the configuration document, so that every refusal names its field
//! (`authorization.users[2].acls[0].operations`).
//!
//! The types are read by serde_json's streaming deserializer as they are; when it refuses, its error's position
//! (line and column) is turned into the JSON path of the value it was reading by [`path_at`], a scan of the
//! text up to that position. Two things this avoids: a path-tracking wrapper around the deserializer, which
//! wraps every visitor of every configuration type (a second copy of all their deserializers, about 90 KB of a
//! 1.1 MB module), and a `serde_json::Value` of the document, which would hold a policy of 100,000 ACL entries
//! twice over while it is read (peak heap 186 MB rather than 109 MB for a 14.5 MB document).

use serde::Deserialize;
use serde_json::error::Category;

/// A configuration document that could not be read: `path` is the field at fault (`.` for the document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError {
    pub path: String,
    pub message: String,
}

/// Reads `T` from JSON text.
pub fn from_slice<T: for<'de> Deserialize<'de>>(json: &[u8]) -> Result<T, DocumentError> {
    serde_json::from_slice(json).map_err(|e| match e.classify() {
        Category::Data => DocumentError { path: path_at(json, e.line(), e.column()), message: e.to_string() },
        Category::Syntax | Category::Eof | Category::Io => {
            DocumentError { path: ".".to_string(), message: format!("not valid JSON: {e}") }
        }
    })
}

/// One open container while scanning.
enum Frame {
    /// An object; the key whose value is being read or was read last, until the next `,`.
    Object(Option<String>),
    /// An array; the index of the element being read or read last, if one was started.
    Array(Option<usize>),
}

/// The path of the value serde_json was reading when it stopped at `line`, `column` (1-based line; column =
/// bytes consumed on that line). serde_json reports a data error after the token at fault: after a value of the
/// wrong type, after an unknown key, after the closing brace of an object missing a field. So the path is that
/// of the innermost key or element read so far whose container is still open at the position.
fn path_at(json: &[u8], line: usize, column: usize) -> String {
    let end = offset_of(json, line, column).min(json.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while i < end {
        let Some(&b) = json.get(i) else { break };
        match b {
            b'{' => {
                mark_value_start(&mut stack);
                stack.push(Frame::Object(None));
                expect_key = true;
            }
            b'[' => {
                mark_value_start(&mut stack);
                stack.push(Frame::Array(None));
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object(key)) => {
                    *key = None;
                    expect_key = true;
                }
                Some(Frame::Array(index)) => *index = Some(index.map_or(0, |n| n + 1)),
                None => {}
            },
            b'"' => {
                let (text, next) = string_at(json, i + 1, end);
                if expect_key {
                    if let Some(Frame::Object(key)) = stack.last_mut() {
                        *key = Some(text);
                    }
                    expect_key = false;
                } else {
                    mark_value_start(&mut stack);
                }
                i = next;
                continue;
            }
            b':' | b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => mark_value_start(&mut stack),
        }
        i += 1;
    }
    let mut path = String::new();
    for frame in &stack {
        match frame {
            Frame::Object(Some(key)) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Frame::Array(Some(index)) => path.push_str(&format!("[{index}]")),
            Frame::Object(None) | Frame::Array(None) => break,
        }
    }
    if path.is_empty() {
        path.push('.');
    }
    path
}

/// A value starts: in an array, the first element is element 0.
fn mark_value_start(stack: &mut [Frame]) {
    if let Some(Frame::Array(index @ None)) = stack.last_mut() {
        *index = Some(0);
    }
}

/// The string whose text starts at `start` (after its quote), unescaped only as far as a path needs (escapes
/// are kept as written), and the index after its closing quote (or `end`).
fn string_at(json: &[u8], start: usize, end: usize) -> (String, usize) {
    let mut i = start;
    while i < end {
        match json.get(i) {
            Some(b'\\') => i += 2,
            Some(b'"') => {
                let text = json.get(start..i).map(String::from_utf8_lossy).unwrap_or_default();
                return (text.into_owned(), i + 1);
            }
            _ => i += 1,
        }
    }
    let text = json.get(start..end).map(String::from_utf8_lossy).unwrap_or_default();
    (text.into_owned(), end)
}

/// The byte offset of serde_json's position: the start of line `line` plus `column` bytes.
fn offset_of(json: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match json.get(start..).and_then(|rest| rest.iter().position(|&b| b == b'\n')) {
            Some(newline) => start += newline + 1,
            None => return json.len(),
        }
    }
    start + column
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Outer {
        #[serde(default)]
        inner: Option<Inner>,
        #[serde(default)]
        list: Vec<Inner>,
        #[serde(default)]
        word: Option<Word>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Inner {
        count: u32,
        #[serde(default)]
        names: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    enum Word {
        One,
    }

    fn error(json: &str) -> (String, String) {
        let e = from_slice::<Outer>(json.as_bytes()).expect_err("refused");
        (e.path, e.message)
    }

    #[test]
    fn errors_name_the_innermost_field() {
        assert_eq!(error(r#"{"inner": {"count": "x"}}"#).0, "inner.count");
        assert_eq!(error(r#"{"list": [{"count": 1}, {"count": -1}]}"#).0, "list[1].count");
        assert_eq!(error(r#"{"list": [{"count": 1, "names": ["a", 3]}]}"#).0, "list[0].names[1]");
        let (path, message) = error(r#"{"list": [{"count": 1}, {}]}"#);
        assert_eq!(path, "list[1]");
        assert!(message.starts_with("missing field `count`"), "{message}");
        let (path, message) =
            error("{\n  \"inner\": {\"count\": 1, \"names\": []},\n  \"list\": [{\"names\": [\"a\"]\n  }]\n}");
        assert_eq!(path, "list[0]", "{message}");
        let (path, message) = error(r#"{"inner": {"count": 1, "size": 2}}"#);
        assert_eq!(path, "inner.size");
        assert!(message.starts_with("unknown field `size`"), "{message}");
        let (path, message) = error(r#"{"word": "two"}"#);
        assert_eq!(path, "word");
        assert!(message.starts_with("unknown variant `two`"), "{message}");
        assert_eq!(error(r#"{"inner": {"names": ["}", "]\"{"], "count": true}}"#).0, "inner.count");
        assert_eq!(error("{}  \n 7").0, ".");
    }

    #[test]
    fn messages_are_serde_json_s() {
        assert!(error(r#"{"inner": {"count": 1.5}}"#)
            .1
            .starts_with("invalid type: floating point `1.5`, expected u32"));
        assert!(error(r#"{"inner": {"count": 5000000000}}"#).1.starts_with("invalid value: integer `5000000000`"));
        assert_eq!(error("7").0, ".");
    }

    #[test]
    fn syntax_errors_say_so_with_their_position() {
        let (path, message) = error(r#"{"inner": {"count": 1}"#);
        assert_eq!(path, ".");
        assert!(message.starts_with("not valid JSON: EOF while parsing an object at line 1"), "{message}");
        let read = from_slice::<Outer>(br#"{"inner": {"count": 7}, "word": "one", "list": [{"count": 8}]}"#);
        let read = read.expect("read");
        assert_eq!((read.inner.map(|i| i.count), read.list.first().map(|i| i.count)), (Some(7), Some(8)));
        assert!(matches!(read.word, Some(Word::One)));
        assert!(read.list.iter().all(|i| i.names.is_empty()));
    }
}
