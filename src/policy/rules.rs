//! What each compiled rule was written as, for the decisions that name it:
//! `users[0].acls[1] (allow Read topic prefix orders-)`.
//!
//! An ACL rule keeps where it was written and what it says (a few bytes and its shared name), and its
//! description is written the first time a decision names it, then kept. A policy of 100,000 ACL entries
//! held 120,000 descriptions (about 10 MB in each VM) written while compiling, when a connection's decisions
//! name a handful of them. Cilium rules keep the description written while compiling (they say more, and
//! are few).

use std::cell::OnceCell;
use std::fmt;
use std::net::IpAddr;

use super::index::NamePattern;
use crate::protocol::acl::{Operation, ResourceType};

/// Where a rule was written: `users[<user>].<list>[<entry>]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct At {
    pub(super) user: u32,
    pub(super) list: List,
    pub(super) entry: u32,
}

/// The list of a principal's rules an entry is in.
#[derive(Debug, Clone, Copy)]
pub(super) enum List {
    Acls,
    TopicGrants,
    Kafka,
}

impl At {
    pub(super) fn new(user: usize, list: List, entry: usize) -> At {
        // More than 2^32 users or entries cannot compile (rule numbers are u32): saturating is never seen.
        let index = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
        At { user: index(user), list, entry: index(entry) }
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = match self.list {
            List::Acls => "acls",
            List::TopicGrants => "topicGrants",
            List::Kafka => "kafka",
        };
        write!(f, "users[{}].{list}[{}]", self.user, self.entry)
    }
}

/// A Koperator topic grant's access type, which its ACLs' descriptions name (`read: allow Read ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    Read,
    Write,
}

/// A compiled resource pattern.
#[derive(Debug, Clone)]
pub(super) struct Resource {
    pub(super) resource_type: ResourceType,
    pub(super) pattern: NamePattern,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ty = self.resource_type.as_str();
        match &self.pattern {
            _ if self.resource_type == ResourceType::Cluster => f.write_str(ty),
            NamePattern::Literal(name) => write!(f, "{ty} literal {name}"),
            NamePattern::Prefixed(prefix) => write!(f, "{ty} prefix {prefix}"),
            NamePattern::AnyName => write!(f, "{ty} *"),
        }
    }
}

/// One Kafka ACL (one operation) as written.
#[derive(Debug, Clone)]
pub(super) struct AclRule {
    pub(super) at: At,
    /// Set for the ACLs a Koperator topic grant expands to.
    pub(super) grant: Option<Access>,
    pub(super) allow: bool,
    pub(super) op: Operation,
    pub(super) resource: Resource,
    pub(super) host: HostId,
}

impl AclRule {
    /// `users[0].topicGrants[1] (read: allow Read topic literal orders)`, ` host <ip>` before the parenthesis
    /// closes when the rule names a host.
    fn describe(&self, host: Option<IpAddr>) -> String {
        let note = match self.grant {
            None => "",
            Some(Access::Read) => "read: ",
            Some(Access::Write) => "write: ",
        };
        let verb = if self.allow { "allow" } else { "deny" };
        let host = host.map(|ip| format!(" host {ip}")).unwrap_or_default();
        format!("{} ({note}{verb} {} {}{host})", self.at, self.op.as_str(), self.resource)
    }
}

/// One compiled rule and its description.
#[derive(Debug, Clone)]
pub(super) enum Rule {
    /// Described when a decision first names it.
    Acl { rule: AclRule, described: OnceCell<Box<str>> },
    /// Described while compiling.
    Written(Box<str>),
}

impl Rule {
    pub(super) fn acl(rule: AclRule) -> Rule {
        Rule::Acl { rule, described: OnceCell::new() }
    }

    /// The description; `hosts` resolves the rule's host.
    pub(super) fn description(&self, hosts: &[IpAddr]) -> &str {
        match self {
            Rule::Acl { rule, described } => {
                described.get_or_init(|| rule.describe(rule.host.resolve(hosts)).into_boxed_str())
            }
            Rule::Written(text) => text,
        }
    }
}

/// An ACL's host: `*`, or one of the policy's addresses (the `Authorizer`'s `hosts`), which few rules name (an
/// address in every entry would double its size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct HostId(u32);

impl HostId {
    /// The `*` host.
    pub(super) const ANY: HostId = HostId(0);

    /// The host at `index` of the policy's addresses.
    pub(super) fn at(index: usize) -> HostId {
        HostId(u32::try_from(index).map_or(u32::MAX, |i| i.saturating_add(1)))
    }

    /// `None` for `*`.
    #[inline]
    pub(super) fn resolve(self, hosts: &[IpAddr]) -> Option<IpAddr> {
        let index = self.0.checked_sub(1)?;
        hosts.get(index as usize).copied()
    }
}
