//! The walk over a layout: skipping fields, or keeping the named ones in a [`Node`] tree.

use kafka_protocol::messages::ApiKey;
#[cfg(test)]
use kafka_protocol::protocol::Decodable;

use super::Ty::*;
use super::{bad, shape, stop_reason, Field, Keep, Reader, Stop, Ty};

/// Walks a struct: its fields, then (flexible versions) its tagged fields.
pub(crate) fn walk_fields(r: &mut Reader<'_>, fields: &[Field], version: i16, flexible: bool) -> Result<(), Stop> {
    walk_struct(r, fields, version, flexible, None)
}

/// Walks consecutive fields (part of a struct: no tagged fields at the end).
pub(crate) fn walk_list(r: &mut Reader<'_>, fields: &[Field], version: i16, flexible: bool) -> Result<(), Stop> {
    walk_into(r, fields, version, flexible, None)
}

pub(crate) fn walk_struct<'a>(
    r: &mut Reader<'a>,
    fields: &[Field],
    version: i16,
    flexible: bool,
    node: Option<(&mut Node<'a>, Keep)>,
) -> Result<(), Stop> {
    walk_into(r, fields, version, flexible, node)?;
    if flexible {
        r.tagged_fields()?;
    }
    Ok(())
}

/// Walks consecutive fields; with a `node`, the named ones `keep` asks for are kept in it (see [`parse`]).
pub(crate) fn walk_into<'a>(
    r: &mut Reader<'a>,
    fields: &[Field],
    version: i16,
    flexible: bool,
    mut node: Option<(&mut Node<'a>, Keep)>,
) -> Result<(), Stop> {
    let level = node.as_ref().map(|(_, level)| *level);
    for field in fields.iter().filter(|f| (f.min..=f.max).contains(&version)) {
        let kept = level.filter(|level| !field.name.is_empty() && (*level == Keep::All || !field.answer_only));
        let Some(level) = kept else {
            skip_field(r, field.ty, version, flexible)?;
            continue;
        };
        let value = match field.ty {
            I8 | Bool => Val::Int(i8::from_be_bytes(r.array()?).into()),
            I16 => Val::Int(r.i16()?.into()),
            I32 => Val::Int(r.i32()?.into()),
            I64 => Val::Int(i64::from_be_bytes(r.array()?)),
            Uuid => Val::Id(r.array()?),
            Str => Val::Str(r.string(flexible)?),
            Bytes => {
                if let Some(n) = r.length(flexible, true)? {
                    r.take(n)?;
                }
                Val::Int(0)
            }
            Struct(inner) => {
                let mut inner_node = Node::default();
                walk_struct(r, inner, version, flexible, Some((&mut inner_node, level)))?;
                Val::Struct(Some(inner_node))
            }
            Opt(inner) => match r.array::<1>()? {
                [0xff] => Val::Struct(None),
                [1] => {
                    let mut inner_node = Node::default();
                    walk_struct(r, inner, version, flexible, Some((&mut inner_node, level)))?;
                    Val::Struct(Some(inner_node))
                }
                _ => return Err(bad("nullable struct marker")),
            },
            Structs(_) | Fixed(_) | Strs => Val::List(walk_array(r, field.ty, version, flexible, level)?),
        };
        if let Some((node, _)) = node.as_mut() {
            node.fields.push((field.name, value));
        }
    }
    Ok(())
}

/// Walks one field without keeping anything (the fast path: no values are built).
pub(crate) fn skip_field(r: &mut Reader<'_>, ty: Ty, version: i16, flexible: bool) -> Result<(), Stop> {
    match ty {
        I8 | Bool => r.skip_read(1),
        I16 => r.skip_read(2),
        I32 => r.skip_read(4),
        I64 => r.skip_read(8),
        Uuid => r.skip_read(16),
        Str | Bytes => match r.length(flexible, matches!(ty, Bytes))? {
            Some(n) => r.skip_read(n),
            None => Ok(()),
        },
        Struct(inner) => walk_fields(r, inner, version, flexible),
        Opt(inner) => match r.byte()? {
            0xff => Ok(()),
            1 => walk_fields(r, inner, version, flexible),
            _ => Err(bad("nullable struct marker")),
        },
        Structs(inner) => {
            for _ in 0..r.count(flexible)?.unwrap_or(0) {
                walk_fields(r, inner, version, flexible)?;
            }
            Ok(())
        }
        Fixed(size) => {
            let n = r.count(flexible)?.unwrap_or(0);
            r.skip_read(n.checked_mul(size).ok_or_else(|| bad("array overflow"))?)
        }
        Strs => {
            for _ in 0..r.count(flexible)?.unwrap_or(0) {
                if let Some(n) = r.length(flexible, false)? {
                    r.skip_read(n)?;
                }
            }
            Ok(())
        }
    }
}

/// Walks a kept array: its elements at `level`, each with the body range it occupies.
pub(crate) fn walk_array<'a>(
    r: &mut Reader<'a>,
    ty: Ty,
    version: i16,
    flexible: bool,
    level: Keep,
) -> Result<Option<List<'a>>, Stop> {
    let count_start = r.pos;
    let Some(count) = r.count(flexible)? else {
        return Ok(None);
    };
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        let start = r.pos;
        let value = match ty {
            Structs(inner) => {
                let mut element = Node::default();
                walk_struct(r, inner, version, flexible, Some((&mut element, level)))?;
                Val::Struct(Some(element))
            }
            Fixed(4) => Val::Int(r.i32()?.into()),
            Fixed(size) => r.take(size).map(|_| Val::Int(0))?,
            Strs => Val::Str(r.string(flexible)?),
            _ => return Err(bad("not an array layout")),
        };
        items.push((start..r.pos, value));
    }
    Ok(Some(List { count_start, entries_end: r.pos, items }))
}

/// A request (or struct) as [`parse`] reads it: its named fields present at the version, in order.
/// Strings borrow from the body.
#[derive(Debug, Default)]
pub(crate) struct Node<'a> {
    fields: Vec<(&'static str, Val<'a>)>,
}

/// One field's value. Integers of every width (and booleans) are `Int`; bytes are not kept.
#[derive(Debug)]
pub(crate) enum Val<'a> {
    Int(i64),
    Str(Option<&'a str>),
    /// A uuid (topic ids).
    Id(crate::topic_ids::TopicUuid),
    /// An array; `None` when null.
    List(Option<List<'a>>),
    /// A struct; `None` when a nullable struct is null.
    Struct(Option<Node<'a>>),
}

/// An array and where it lies in the body, for byte-level rewriting (partial requests).
#[derive(Debug)]
pub(crate) struct List<'a> {
    /// Where the element count starts.
    pub count_start: usize,
    /// Where the last element ends.
    pub entries_end: usize,
    /// Each element with the body range it occupies.
    pub items: Vec<(std::ops::Range<usize>, Val<'a>)>,
}

impl<'a> Node<'a> {
    fn get(&self, name: &str) -> Option<&Val<'a>> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
    /// An integer field; `None` when absent at this version.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(Val::int)
    }
    /// A string field; `None` when absent or null.
    pub fn str(&self, name: &str) -> Option<&'a str> {
        self.get(name).and_then(Val::str)
    }
    /// A struct field; `None` when absent or null.
    pub fn child(&self, name: &str) -> Option<&Node<'a>> {
        self.get(name).and_then(Val::node)
    }
    /// A uuid field (a topic id); `None` when absent at this version.
    pub fn id(&self, name: &str) -> Option<crate::topic_ids::TopicUuid> {
        match self.get(name) {
            Some(Val::Id(id)) => Some(*id),
            _ => None,
        }
    }
    /// A topic named by `name` or, in the versions that address it by id, by `topic_id`: its name, the
    /// learned one for an id (`crate::topic_ids`); `None` when null or an id not learned.
    pub fn topic(&self, name: &str) -> Option<std::borrow::Cow<'a, str>> {
        match (self.str(name), self.id("topic_id")) {
            (Some(name), _) => Some(std::borrow::Cow::Borrowed(name)),
            (None, Some(id)) => crate::topic_ids::name_of(&id).map(|n| std::borrow::Cow::Owned(n.to_string())),
            (None, None) => None,
        }
    }
    /// An array field; `None` when absent or null.
    pub fn list(&self, name: &str) -> Option<&List<'a>> {
        match self.get(name) {
            Some(Val::List(list)) => list.as_ref(),
            _ => None,
        }
    }
    /// The elements of an array field (none when absent or null).
    pub fn items(&self, name: &str) -> impl Iterator<Item = &Val<'a>> {
        self.list(name).into_iter().flat_map(|l| l.items.iter().map(|(_, v)| v))
    }
    /// The struct elements of an array field.
    pub fn nodes(&self, name: &str) -> impl Iterator<Item = &Node<'a>> {
        self.items(name).filter_map(Val::node)
    }
    /// A string field authorization names a resource by: absent or null is a malformed request (Kafka's
    /// schemas make these non-nullable), refused rather than asked about as "".
    pub fn name(&self, name: &str) -> Result<&'a str, String> {
        self.str(name).ok_or_else(|| format!("{name} is null"))
    }
    /// The string elements of an array field naming resources; a null element is a malformed request.
    pub fn names(&self, name: &str) -> Result<Vec<&'a str>, String> {
        self.items(name).map(|v| v.str().ok_or_else(|| format!("null in {name}"))).collect()
    }
    /// The string elements of an array field; a null element reads as "".
    pub fn strs(&self, name: &str) -> impl Iterator<Item = &'a str> + '_ {
        self.items(name).map(|v| v.str().unwrap_or(""))
    }
    /// Number of elements of an array field (0 when absent or null).
    pub fn len(&self, name: &str) -> usize {
        self.list(name).map_or(0, |l| l.items.len())
    }
}

impl<'a> Val<'a> {
    pub fn int(&self) -> Option<i64> {
        match self {
            Val::Int(n) => Some(*n),
            _ => None,
        }
    }
    pub fn str(&self) -> Option<&'a str> {
        match self {
            Val::Str(s) => *s,
            _ => None,
        }
    }
    pub fn node(&self) -> Option<&Node<'a>> {
        match self {
            Val::Struct(node) => node.as_ref(),
            _ => None,
        }
    }
}

/// Reads a complete request body with its layout: every count and length is checked against the body
/// (see the module doc) and the named fields are kept. Bytes after the request are ignored, as Kafka's own
/// request parser ignores them: librdkafka 2.16's Metadata v12 (kcat -L) carries bytes past the v12 fields,
/// and brokers accept it. The filter reads the same prefix the broker reads.
pub(crate) fn parse(key: ApiKey, version: i16, body: &[u8], keep: Keep) -> Result<Node<'_>, String> {
    let shape = shape(key).ok_or("no layout for this API")?;
    let mut r = Reader::new(body, body.len());
    let mut node = Node::default();
    match walk_struct(&mut r, shape.fields, version, version >= shape.flexible_from, Some((&mut node, keep))) {
        Ok(()) => Ok(node),
        Err(stop) => Err(stop_reason(stop)),
    }
}

/// Checks that `body` is a well-formed request of `key` at `version` whose every array count and length
/// fits in the body (see the module doc).
#[cfg(test)]
pub(crate) fn check_shape(key: ApiKey, version: i16, body: &[u8]) -> Result<(), String> {
    let shape = shape(key).ok_or("no layout for this API")?;
    let mut r = Reader::new(body, body.len());
    match walk_fields(&mut r, shape.fields, version, version >= shape.flexible_from) {
        Ok(()) => Ok(()),
        Err(stop) => Err(stop_reason(stop)),
    }
}

/// Decodes a complete request body with kafka-protocol, after the shape check has bounded every
/// allocation the decoder will make (the tests' oracle; the filter links no kafka-protocol decoder).
#[cfg(test)]
pub(crate) fn decode_checked<T: Decodable>(api_key: i16, version: i16, body: &[u8]) -> Result<T, String> {
    let key = ApiKey::try_from(api_key).map_err(|_| format!("unknown API key {api_key}"))?;
    check_shape(key, version, body)?;
    let mut buf = body;
    T::decode(&mut buf, version).map_err(|e| format!("decode: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_refuses_array_counts_beyond_the_body() {
        // Fetch v4 header fields then an array claiming 2^31-1 topics.
        let mut body = vec![0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0];
        body.extend_from_slice(&i32::MAX.to_be_bytes());
        assert!(check_shape(ApiKey::Fetch, 4, &body).unwrap_err().contains("array longer"));
    }
}
