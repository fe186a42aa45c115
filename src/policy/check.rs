//! The compiled policy and its decisions, in Kafka's authorizer order (see the module doc of `policy`).

use std::borrow::Cow;
use std::net::IpAddr;
use std::rc::Rc;

use kafka_protocol::messages::ApiKey;

use super::config::UnknownRequests;
use super::index::{FxHashMap, PatternIndex};
use super::rules::{HostId, Rule};
use super::{Decision, Mode, RequestCtx};
use crate::protocol::acl::{Action, Operation, ResourceType, CLUSTER_NAME};
use crate::protocol::acl::{OpMask, RESOURCE_TYPE_COUNT};

/// The resource name Kafka's `authorizeByResourceType` first authorizes as usual (`DefaultResourceTypeBasedAuthorization`).
const BY_RESOURCE_TYPE_PROBE: &str = "hardcode";

/// One compiled ACL entry for one operation.
#[derive(Debug, Clone, Copy)]
pub(super) struct Grant {
    pub(super) rule: u32,
    pub(super) host: HostId,
    /// Requested operations this entry matches (implications already folded in for allows).
    pub(super) ops: OpMask,
    pub(super) allow: bool,
}

/// Where the grants of one pattern are in [`Authorizer::grants`].
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Grants {
    pub(super) start: u32,
    pub(super) len: u32,
}

/// One compiled Cilium rule (its topic is the key it is indexed under).
#[derive(Debug, Clone)]
pub(super) struct CompiledKafkaRule {
    /// Bit n set: API key n matches.
    pub(super) api_keys: u128,
    pub(super) api_version: Option<i16>,
    pub(super) client_id: Option<Box<str>>,
    pub(super) rule: u32,
}

impl CompiledKafkaRule {
    #[inline]
    pub(super) fn matches(&self, ctx: &RequestCtx<'_>) -> bool {
        let key_bit = u32::try_from(ctx.api_key).ok().and_then(|k| 1u128.checked_shl(k)).unwrap_or(0);
        self.api_keys & key_bit != 0
            && self.api_version.is_none_or(|v| v == ctx.api_version)
            && self.client_id.as_deref().is_none_or(|id| ctx.client_id == Some(id))
    }
}

/// Cilium rules of one principal.
#[derive(Debug, Clone, Default)]
pub(super) struct KafkaRules {
    /// In configuration order.
    pub(super) rules: Vec<CompiledKafkaRule>,
    /// Indexes into `rules` of rules naming a topic, by topic.
    pub(super) by_topic: FxHashMap<Rc<str>, Vec<u32>>,
    /// Indexes into `rules` of rules without a topic.
    pub(super) any_topic: Vec<u32>,
}

impl KafkaRules {
    pub(super) fn shrink_to_fit(&mut self) {
        self.rules.shrink_to_fit();
        self.by_topic.shrink_to_fit();
        self.any_topic.shrink_to_fit();
    }

    /// The first rule (in configuration order) allowing this request and action. Topic-scoped rules
    /// constrain only topic actions: other actions of a request in the rule's key set (the group of a
    /// JoinGroup, the transactional id of a Produce) match, as Cilium ignores the topic for requests
    /// that carry none.
    pub(super) fn find(&self, ctx: &RequestCtx<'_>, action: &Action<'_>) -> Option<u32> {
        if action.resource_type == ResourceType::Cluster && CLUSTER_ALTERNATIVE_OF_TOPICS.contains(&ctx.api_key) {
            // A request naming topics whose Kafka check has a cluster-wide alternative (Create on the cluster for
            // CreateTopics and Metadata's auto-creation, ClusterAction for OffsetForLeaderEpoch): Cilium matches
            // a topic-scoped rule only when every topic of the request is the rule's, so only rules without a
            // topic may grant the cluster-wide alternative (a rule for `orders` must not create `payroll`).
            return first_matching(&self.rules, &self.any_topic, ctx);
        }
        if action.resource_type != ResourceType::Topic {
            return self.rules.iter().find(|r| r.matches(ctx)).map(|r| r.rule);
        }
        let scoped = self.by_topic.get(&*action.name).and_then(|ids| first_matching(&self.rules, ids, ctx));
        let unscoped = first_matching(&self.rules, &self.any_topic, ctx);
        match (scoped, unscoped) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// API keys of requests that name topics and whose Kafka check has a cluster-wide alternative: Metadata (auto
/// creation), CreateTopics, OffsetForLeaderEpoch.
const CLUSTER_ALTERNATIVE_OF_TOPICS: [i16; 3] =
    [ApiKey::Metadata as i16, ApiKey::CreateTopics as i16, ApiKey::OffsetForLeaderEpoch as i16];

/// The first of `ids` (indexes into `rules`, in configuration order) whose rule matches the request.
fn first_matching(rules: &[CompiledKafkaRule], ids: &[u32], ctx: &RequestCtx<'_>) -> Option<u32> {
    ids.iter().filter_map(|&i| rules.get(i as usize)).find(|r| r.matches(ctx)).map(|r| r.rule)
}

/// All rules of one principal (or of the wildcard principal). Most principals have rules on one or two
/// resource types and no Cilium rules: only what they have takes room.
#[derive(Debug, Clone, Default)]
pub(super) struct PrincipalRules {
    /// Listed in `superUsers`: allowed everything, rules are not consulted.
    pub(super) super_user: bool,
    /// ACL patterns by resource type, for the types the principal has ACLs on.
    pub(super) acls: Box<[(ResourceType, PatternIndex<Grants>)]>,
    pub(super) kafka: Option<Box<KafkaRules>>,
}

impl PrincipalRules {
    #[inline]
    pub(super) fn acls(&self, resource_type: ResourceType) -> Option<&PatternIndex<Grants>> {
        self.acls.iter().find(|(ty, _)| *ty == resource_type).map(|(_, index)| index)
    }
}

/// Compiled policy.
#[derive(Debug, Clone, Default)]
pub struct Authorizer {
    pub(super) mode: Mode,
    pub(super) unknown_requests: UnknownRequests,
    pub(super) allow_everyone_if_no_acl_found: bool,
    /// Rules (and super-user status) by principal: one hash lookup per decision.
    pub(super) principals: FxHashMap<Box<str>, PrincipalRules>,
    /// Rules of `User:*`.
    pub(super) everyone: Option<PrincipalRules>,
    /// Which resources any rule of any principal covers; only consulted, so only built, under
    /// `allowEveryoneIfNoAclFound`.
    pub(super) covered: [PatternIndex<()>; RESOURCE_TYPE_COUNT],
    /// The ACL entries of every pattern, each pattern's together, in rule order.
    pub(super) grants: Box<[Grant]>,
    /// The addresses ACLs name as their host ([`HostId`]).
    pub(super) hosts: Box<[IpAddr]>,
    /// Every rule, indexed by rule number.
    pub(super) rules: Box<[Rule]>,
    /// Some principal has Cilium-style rules, whose matches depend on the request's version and client id too.
    pub(super) request_scoped: bool,
}

impl Authorizer {
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether a request the filter cannot classify is forwarded (`unknownRequests: allow`).
    pub fn unknown_requests_allowed(&self) -> bool {
        self.unknown_requests == UnknownRequests::Allow
    }

    pub fn allow_everyone_if_no_acl_found(&self) -> bool {
        self.allow_everyone_if_no_acl_found
    }

    /// Whether a decision can depend on the request's version and client id (Cilium-style rules), not only on
    /// the principal, host, operation, resource and API key.
    pub fn request_scoped(&self) -> bool {
        self.request_scoped
    }

    /// Descriptions of every compiled rule (one per ACL operation, Koperator expansion, Cilium rule), in
    /// configuration order, as they appear in [`Decision::rule`].
    pub fn rules(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.description(&self.hosts))
    }

    /// The entries of one pattern.
    #[inline]
    pub(super) fn grants(&self, grants: Grants) -> &[Grant] {
        let start = grants.start as usize;
        self.grants.get(start..start + grants.len as usize).unwrap_or_default()
    }

    #[inline]
    pub(super) fn host(&self, grant: &Grant) -> Option<IpAddr> {
        grant.host.resolve(&self.hosts)
    }

    pub fn is_super_user(&self, principal: &str) -> bool {
        self.principals.get(principal).is_some_and(|rules| rules.super_user)
    }

    /// Kafka authorizer semantics for one action.
    pub fn authorize(&self, ctx: &RequestCtx<'_>, action: &Action<'_>) -> Decision<'_> {
        let own = self.principals.get(ctx.principal);
        if own.is_some_and(|rules| rules.super_user) {
            return Decision { allowed: true, rule: Cow::Borrowed("superUsers") };
        }
        let op_bit = action.op.bit();
        let slot = action.resource_type.slot();
        // Parsed at most once, and only if some matching rule names a host.
        let mut client_ip: Option<Option<IpAddr>> = None;
        let mut host_matches = |host: Option<IpAddr>| match host {
            None => true,
            Some(ip) => *client_ip.get_or_insert_with(|| ctx.host.parse().ok()) == Some(ip),
        };

        let sources = [own, self.everyone.as_ref()];
        let mut first_allow: Option<u32> = None;
        let mut deny: Option<u32> = None;
        for rules in sources.iter().flatten() {
            let Some(index) = rules.acls(action.resource_type) else { continue };
            if index.is_empty() {
                continue;
            }
            let name = if action.resource_type == ResourceType::Cluster { CLUSTER_NAME } else { &action.name };
            index.find_match(name, |&grants| {
                for grant in self.grants(grants) {
                    if grant.ops & op_bit == 0 || !host_matches(self.host(grant)) {
                        continue;
                    }
                    if !grant.allow {
                        deny = Some(grant.rule);
                        return true;
                    }
                    if first_allow.is_none_or(|r| grant.rule < r) {
                        first_allow = Some(grant.rule);
                    }
                }
                false
            });
            if let Some(rule) = deny {
                return self.decided(false, rule);
            }
        }
        if let Some(rule) = first_allow {
            return self.decided(true, rule);
        }
        for rules in sources.iter().flatten() {
            if let Some(rule) = rules.kafka.as_ref().and_then(|kafka| kafka.find(ctx, action)) {
                return self.decided(true, rule);
            }
        }
        if !self.allow_everyone_if_no_acl_found {
            return Decision {
                allowed: false,
                rule: Cow::Borrowed("no ACL matched (allowEveryoneIfNoAclFound=false)"),
            };
        }
        let covered = self.covered.get(slot).is_some_and(|index| index.find_match(&action.name, |_| true));
        if covered {
            Decision {
                allowed: false,
                rule: Cow::Borrowed(
                    "no ACL matched; the resource has ACLs, so allowEveryoneIfNoAclFound does not apply",
                ),
            }
        } else {
            Decision {
                allowed: true,
                rule: Cow::Borrowed("no ACL found for the resource (allowEveryoneIfNoAclFound=true)"),
            }
        }
    }

    /// Kafka's `authorizeByResourceType` (`DefaultResourceTypeBasedAuthorization`): may the principal perform
    /// `op` on *some* resource of this type? Kafka asks it for idempotent producers (InitProducerId without a
    /// transactional id: IdempotentWrite on the cluster OR Write on any topic). As Kafka does:
    /// 1. the ordinary decision for a resource literally named `hardcode` (Kafka's own probe name), which
    ///    admits super users and, under `allowEveryoneIfNoAclFound`, everyone when no ACL covers that name;
    /// 2. a deny on the literal `*` refuses; an allow on the literal `*` admits;
    /// 3. otherwise some allow whose name no deny dominates: a literal deny of the same literal name, or a
    ///    prefixed deny on a prefix of the name (the name itself included).
    ///
    /// Kafka counts only entries for `op` itself or `All` here, not implied ones; no operation implies Write,
    /// the one asked for, so the compiled masks (implications folded into allows) give the same answer.
    pub fn authorize_any(&self, ctx: &RequestCtx<'_>, op: Operation, resource_type: ResourceType) -> Decision<'_> {
        let probe = Action { op, resource_type, name: Cow::Borrowed(BY_RESOURCE_TYPE_PROBE) };
        let probed = self.authorize(ctx, &probe);
        if probed.allowed {
            return probed;
        }
        let own = self.principals.get(ctx.principal);
        let op_bit = op.bit();
        let client_ip: Option<IpAddr> = ctx.host.parse().ok();
        let host_matches = |host: Option<IpAddr>| host.is_none() || host == client_ip;
        let sources = [own, self.everyone.as_ref()];
        let mut allows: Vec<(String, bool, u32)> = Vec::new();
        let mut denies: Vec<(String, bool)> = Vec::new();
        for rules in sources.iter().flatten() {
            let Some(index) = rules.acls(resource_type) else { continue };
            index.for_each(|name, prefixed, &grants| {
                for grant in self.grants(grants).iter().filter(|g| g.ops & op_bit != 0 && host_matches(self.host(g))) {
                    if grant.allow {
                        allows.push((name.to_string(), prefixed, grant.rule));
                    } else {
                        denies.push((name.to_string(), prefixed));
                    }
                }
            });
        }
        let everywhere = |name: &str, prefixed: bool| !prefixed && name == "*";
        if denies.iter().any(|(name, prefixed)| everywhere(name, *prefixed)) {
            return Decision {
                allowed: false,
                rule: Cow::Owned(format!("a deny ACL for {} on every {}", op.as_str(), resource_type.as_str())),
            };
        }
        // An allow on every resource admits, whatever prefixed denies exist; any other allow must not be
        // dominated by a deny.
        let dominated = |name: &str, prefixed: bool| {
            !everywhere(name, prefixed)
                && denies.iter().any(|(d, d_prefixed)| {
                    (*d_prefixed && name.starts_with(d.as_str())) || (!*d_prefixed && !prefixed && d == name)
                })
        };
        match allows.iter().filter(|(n, p, _)| !dominated(n, *p)).min_by_key(|(_, _, rule)| *rule) {
            Some((_, _, rule)) => self.decided(true, *rule),
            None => Decision {
                allowed: false,
                rule: Cow::Owned(format!("no allow ACL for {} on any {}", op.as_str(), resource_type.as_str())),
            },
        }
    }

    /// Kafka's `AuthHelper.authorizedOperations`: the bit field of the operations the principal may perform
    /// on this resource, of those Kafka reports for its type (each bit `1 << code`).
    pub fn authorized_operations(&self, ctx: &RequestCtx<'_>, resource_type: ResourceType, name: &str) -> i32 {
        resource_type.supported_operations().iter().fold(0i32, |bits, &op| {
            let action = Action { op, resource_type, name: Cow::Borrowed(name) };
            if self.authorize(ctx, &action).allowed {
                bits | (1i32 << op.code())
            } else {
                bits
            }
        })
    }

    pub(super) fn decided(&self, allowed: bool, rule: u32) -> Decision<'_> {
        let rule = self
            .rules
            .get(rule as usize)
            .map_or_else(|| Cow::Owned(format!("rule {rule}")), |r| Cow::Borrowed(r.description(&self.hosts)));
        Decision { allowed, rule }
    }
}
