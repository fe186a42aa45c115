//! The response writer: Kafka's wire types at one API version, and the interpreter of the response rows
//! (`shapes`) over a parsed request.

use std::borrow::Cow;

use super::Codes;
use crate::protocol::error_code;
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

// The language of the response rows (`shapes`): a field by version, what it holds, a struct's code.

/// A response: whether the request is read with its layout, the request-level code, the fields.
pub(super) struct Answer {
    /// Read with its layout (`protocol::layout::parse`); cluster-level requests have none and name nothing.
    pub(super) read: bool,
    pub(super) code: Code,
    pub(super) rows: &'static [Row],
}

/// A response field present in versions `min..=max`.
pub(super) struct Row {
    min: i16,
    max: i16,
    put: Put,
}

impl Row {
    pub(super) fn at(&self, version: i16) -> bool {
        (self.min..=self.max).contains(&version)
    }
}

pub(super) const fn all(put: Put) -> Row {
    Row { min: 0, max: i16::MAX, put }
}
pub(super) const fn since(min: i16, put: Put) -> Row {
    Row { min, max: i16::MAX, put }
}
pub(super) const fn until(max: i16, put: Put) -> Row {
    Row { min: 0, max, put }
}
pub(super) const fn between(min: i16, max: i16, put: Put) -> Row {
    Row { min, max, put }
}

/// What one field holds. Request fields are named as in the request layouts; "" names the element itself
/// in an array of strings or of integers.
pub(super) enum Put {
    I8(i8),
    Bool(bool),
    I16(i16),
    I32(i32),
    I64(i64),
    ZeroUuid,
    Str(&'static str),
    NullStr,
    /// An array with no elements.
    Empty,
    NullArray,
    EmptyBytes,
    NullBytes,
    /// The error code of this struct (see [`Code`]).
    ErrorCode,
    /// error_message: the answer's own message (a refused heartbeat's, an undescribable group's), else null.
    Message,
    /// Kafka's own message for this struct's code (`Errors.message()`), null when it gives none here.
    KafkaMessage,
    /// The text when this struct's code is an error, else "" (CreateTopics).
    RefusedMessage(&'static str),
    /// A request string, "" when null.
    Echo(&'static str),
    /// A request string that must not be null: else the request is not answered, for this reason.
    Required(&'static str, &'static str),
    /// A request string, null when null.
    EchoNullable(&'static str),
    /// A request integer as int8.
    EchoI8(&'static str),
    /// A request integer as int32 (partition indexes).
    EchoI32(&'static str),
    /// A request uuid (topic ids).
    EchoId(&'static str),
    /// One struct per element of a request array, each with its code and then its tagged fields.
    Each(&'static str, Code, &'static [Row]),
    /// [`Put::Each`], but empty when this struct's code is an error (Kafka fails the group, not its topics).
    EachIfAllowed(&'static str, Code, &'static [Row]),
    /// A struct that is no array element (a partition's current_leader): its fields, then its tagged fields.
    Struct(&'static [Row]),
    /// Fields Kafka writes by logic, not shape.
    Hook(fn(&mut Out, &Ctx<'_, '_>, &Env<'_>) -> Result<(), String>),
}

/// A struct's error code, evaluated when the struct is entered.
pub(super) enum Code {
    None,
    /// The enclosing struct's code.
    Up,
    Cluster,
    /// The topic named by this field (or, addressed by id, the name learned for `topic_id`).
    Topic(&'static str),
    Group(&'static str),
    Txn(&'static str),
    /// Evaluated on the request (the top level).
    Root(&'static Code),
    /// The first error in Kafka's check order.
    First(&'static [Code]),
    Hook(fn(&Ctx<'_, '_>, &Codes<'_>) -> Result<i16, String>),
}

/// The request element a struct of the response answers, and that struct's error code.
pub(super) struct Ctx<'c, 'a> {
    elem: Elem<'c, 'a>,
    pub(super) code: i16,
    up: Option<&'c Ctx<'c, 'a>>,
}

/// An element of a request array (or the request itself).
#[derive(Clone, Copy)]
pub(super) enum Elem<'c, 'a> {
    Node(&'c Node<'a>),
    /// A name (an array of strings, or a piece answered for one name): every string field reads it.
    Str(&'a str),
    /// A partition index: every integer field reads it.
    Int(i64),
}

/// What every row may read besides its element: the verdicts, the request body, the answer's message, whether
/// the client's request acknowledges records.
pub(super) struct Env<'e> {
    pub(super) codes: &'e Codes<'e>,
    pub(super) body: &'e [u8],
    pub(super) message: Option<&'e str>,
    /// The client's whole request acknowledges records (ShareFetch; see `hooks::acknowledges`), also when
    /// the answer is for a part of it.
    pub(super) acknowledging: bool,
}

impl<'c, 'a> Ctx<'c, 'a> {
    /// The top level, with its code given.
    pub(super) fn top(elem: Elem<'c, 'a>, code: i16) -> Self {
        Ctx { elem, code, up: None }
    }
    pub(super) fn node(&self) -> Option<&'c Node<'a>> {
        match self.elem {
            Elem::Node(node) => Some(node),
            _ => None,
        }
    }
    /// The request (the top level's element).
    pub(super) fn root(&self) -> &Ctx<'c, 'a> {
        self.up.map_or(self, Ctx::root)
    }
    pub(super) fn str(&self, field: &str) -> Option<&'a str> {
        match self.elem {
            Elem::Node(node) => node.str(field),
            Elem::Str(s) => Some(s),
            Elem::Int(_) => None,
        }
    }
    pub(super) fn int(&self, field: &str) -> Option<i64> {
        match self.elem {
            Elem::Node(node) => node.int(field),
            Elem::Int(n) => Some(n),
            Elem::Str(_) => None,
        }
    }
    /// A topic's name (see `Node::topic`).
    pub(super) fn topic(&self, field: &str) -> Option<Cow<'a, str>> {
        match self.elem {
            Elem::Node(node) => node.topic(field),
            Elem::Str(s) => Some(Cow::Borrowed(s)),
            Elem::Int(_) => None,
        }
    }
}

/// Kafka's message for the codes answers carry one with (`Errors.message()`; the share-group offset APIs).
pub(super) fn kafka_message(code: i16) -> Option<&'static str> {
    match code {
        error_code::TOPIC_AUTHORIZATION_FAILED => Some("Topic authorization failed."),
        error_code::GROUP_AUTHORIZATION_FAILED => Some("Group authorization failed."),
        error_code::CLUSTER_AUTHORIZATION_FAILED => Some("Cluster authorization failed."),
        _ => None,
    }
}

/// A struct's error code.
pub(super) fn eval(code: &Code, ctx: &Ctx<'_, '_>, e: &Codes<'_>) -> Result<i16, String> {
    Ok(match code {
        Code::None => error_code::NONE,
        Code::Up => ctx.up.map_or(error_code::NONE, |up| up.code),
        Code::Cluster => e.cluster(),
        Code::Topic(field) => e.topic(&ctx.topic(field).unwrap_or_default()),
        Code::Group(field) => e.group(ctx.str(field).unwrap_or_default()),
        Code::Txn(field) => e.txn(ctx.str(field).unwrap_or_default()),
        Code::Root(code) => eval(code, ctx.root(), e)?,
        Code::First(codes) => {
            for code in *codes {
                let code = eval(code, ctx, e)?;
                if code != error_code::NONE {
                    return Ok(code);
                }
            }
            error_code::NONE
        }
        Code::Hook(hook) => hook(ctx, e)?,
    })
}

/// Writes the rows present at `o`'s version for the struct `ctx` answers.
pub(super) fn write(o: &mut Out, rows: &[Row], ctx: &Ctx<'_, '_>, env: &Env<'_>) -> Result<(), String> {
    let v = o.v;
    for row in rows.iter().filter(|row| row.at(v)) {
        match &row.put {
            Put::I8(n) => o.i8(*n),
            Put::Bool(b) => o.bool(*b),
            Put::I16(n) => o.i16(*n),
            Put::I32(n) => o.i32(*n),
            Put::I64(n) => o.i64(*n),
            Put::ZeroUuid => o.uuid_zero(),
            Put::Str(s) => o.str(s),
            Put::NullStr => o.null_str(),
            Put::Empty => o.count(0),
            Put::NullArray => o.null_array(),
            Put::EmptyBytes => o.empty_bytes(),
            Put::NullBytes => o.null_bytes(),
            Put::ErrorCode => o.i16(ctx.code),
            Put::Message => match env.message {
                Some(message) => o.str(message),
                None => o.null_str(),
            },
            Put::KafkaMessage => match kafka_message(ctx.code) {
                Some(message) => o.str(message),
                None => o.null_str(),
            },
            Put::RefusedMessage(text) => o.str(if ctx.code != error_code::NONE { text } else { "" }),
            Put::Echo(field) => o.str(ctx.str(field).unwrap_or_default()),
            Put::Required(field, reason) => o.str(ctx.str(field).ok_or(*reason)?),
            Put::EchoNullable(field) => match ctx.str(field) {
                Some(s) => o.str(s),
                None => o.null_str(),
            },
            Put::EchoI8(field) => o.i8(ctx.int(field).unwrap_or_default() as i8),
            Put::EchoI32(field) => o.i32(ctx.int(field).unwrap_or_default() as i32),
            Put::EchoId(field) => o.uuid(&ctx.node().and_then(|n| n.id(field)).unwrap_or(crate::topic_ids::ZERO)),
            Put::Each(list, code, rows) => each(o, ctx, env, (list, code), rows)?,
            Put::EachIfAllowed(list, code, rows) => {
                if ctx.code == error_code::NONE {
                    each(o, ctx, env, (list, code), rows)?;
                } else {
                    o.count(0);
                }
            }
            Put::Struct(rows) => {
                write(o, rows, ctx, env)?;
                o.tags();
            }
            Put::Hook(hook) => hook(o, ctx, env)?,
        }
    }
    Ok(())
}

/// One struct per element of the request array `list`, each with its code and closed by its tagged fields.
fn each(
    o: &mut Out,
    ctx: &Ctx<'_, '_>,
    env: &Env<'_>,
    (list, code): (&str, &Code),
    rows: &[Row],
) -> Result<(), String> {
    let node = ctx.node();
    o.count(node.map_or(0, |n| n.len(list)));
    for item in node.into_iter().flat_map(|n| n.items(list)) {
        let elem = match item {
            Val::Struct(Some(node)) => Elem::Node(node),
            Val::Str(s) => Elem::Str(s.unwrap_or_default()),
            other => Elem::Int(other.int().unwrap_or_default()),
        };
        let mut inner = Ctx { elem, code: error_code::NONE, up: Some(ctx) };
        inner.code = eval(code, &inner, env.codes)?;
        write(o, rows, &inner, env)?;
        o.tags();
    }
    Ok(())
}
