//! Authorization policy: Kafka's authorizer semantics over ACLs written in three dialects
//! (Strimzi `acls`, Koperator `topicGrants`, Cilium `kafka` rules), compiled into an index.
//!
//! Decision order, as Kafka's `AclAuthorizer`/`StandardAuthorizer`: super users are allowed; otherwise any
//! matching deny rule denies; otherwise any matching allow rule allows; otherwise, when no rule of any
//! principal exists for the resource and `allowEveryoneIfNoAclFound` is set, the action is allowed;
//! otherwise it is denied. Rules of the principal and of the wildcard principal `User:*` both apply.
//!
//! The three dialects compile to one index. Strimzi ACLs and Koperator topic grants become Kafka ACLs
//! (Koperator's exactly as the operator would create them in the broker). Cilium rules are request-level
//! allows (Cilium has no denies): a rule matches when the request's API key is in the rule's key set
//! (its `role`'s keys, its one `apiKey`, or every key), `apiVersion` and `clientID` (when set) equal the
//! request's, and `topic` (when set) equals the action's name if the action is on a topic. Actions on
//! other resources (a JoinGroup's group) ignore the topic, as Cilium does for requests without topics.
//! A topic named by a Cilium rule counts as a resource with ACLs for `allowEveryoneIfNoAclFound`.
//!
//! Index: principal -> resource type -> {literal name hash map, sorted prefixes, every-name list} of
//! entries carrying a precomputed operation bitmask (allow implications folded in), so a decision costs
//! a few hash lookups and binary searches whatever the number of rules. Each rule's description
//! (`users[0].acls[1] (allow Read topic prefix orders-)`) is precomputed for [`Decision::rule`].

mod api_keys;
pub(crate) mod index;

use std::borrow::Cow;
use std::net::IpAddr;

use serde::Deserialize;

use crate::config_error::FieldError;
use crate::protocol::acl::{Action, Operation, ResourceType, CLUSTER_NAME, WILDCARD_PRINCIPAL};
use crate::protocol::acl::{OpMask, RESOURCE_TYPE_COUNT};
pub use api_keys::{api_key_by_name, api_key_name, CONSUME_ROLE_KEYS, PRODUCE_ROLE_KEYS};
use index::{FxHashMap, NamePattern, PatternIndex, PatternIndexBuilder};

/// Who asks, from where, with which request (Cilium-style rules match on API key/version/client id).
#[derive(Debug, Clone, Copy)]
pub struct RequestCtx<'a> {
    /// Full principal string, e.g. `User:CN=kafka-default`.
    pub principal: &'a str,
    /// Client IP address (no port), matched against ACL `host`.
    pub host: &'a str,
    pub api_key: i16,
    pub api_version: i16,
    pub client_id: Option<&'a str>,
}

/// The outcome of one authorization question and the rule that made it (for logs and `explain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'a> {
    pub allowed: bool,
    /// Which rule decided, e.g. `superUsers`, `users[0].acls[1] (allow Read topic prefix orders-)`,
    /// `no ACL matched (allowEveryoneIfNoAclFound=false)`. Borrowed from the policy: a decision on the hot
    /// path allocates nothing; it is copied only into the records that are logged.
    pub rule: Cow<'a, str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// No authorization: everything is forwarded, nothing is decided.
    #[default]
    Off,
    /// Denied requests are answered with Kafka authorization errors and never reach the broker.
    Enforce,
    /// Decide and log, but forward everything (a dry run).
    Audit,
}

/// What to do with a request the filter cannot classify into actions (unknown API key or version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UnknownRequests {
    #[default]
    Deny,
    Allow,
}

/// `"authorization"` section of the plugin configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizationConfig {
    #[serde(default)]
    pub mode: Mode,
    /// Principals allowed everything (Kafka's `super.users`); `User:` is implied when no type is written.
    #[serde(default)]
    pub super_users: Vec<String>,
    /// Kafka's `allow.everyone.if.no.acl.found`: allow actions on resources no rule of any principal covers.
    #[serde(default)]
    pub allow_everyone_if_no_acl_found: bool,
    #[serde(default)]
    pub unknown_requests: UnknownRequests,
    #[serde(default)]
    pub users: Vec<UserRules>,
}

/// The rules of one principal, in any mix of the three dialects.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserRules {
    /// `User:CN=app` (or `CN=app`, `User:` implied); `User:*` is every principal.
    pub principal: String,
    /// Strimzi `KafkaUser` `spec.authorization.acls` entries.
    #[serde(default)]
    pub acls: Vec<StrimziAcl>,
    /// Koperator (Calisti) `KafkaUser` `spec.topicGrants` entries.
    #[serde(default)]
    pub topic_grants: Vec<TopicGrant>,
    /// Cilium `toPorts.rules.kafka` entries.
    #[serde(default)]
    pub kafka: Vec<CiliumKafkaRule>,
}

/// A Strimzi ACL rule (`AclRule`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StrimziAcl {
    pub resource: StrimziResource,
    #[serde(default)]
    pub operations: Option<Vec<String>>,
    /// The older single-operation form.
    #[serde(default)]
    pub operation: Option<String>,
    /// `*` (default) or a client IP address; compared as an address (`::1` equals `0:0:0:0:0:0:0:1`).
    #[serde(default)]
    pub host: Option<String>,
    /// `allow` (default) or `deny`.
    #[serde(default, rename = "type")]
    pub permission: Option<String>,
}

/// A Strimzi ACL resource: `topic`, `group`, `transactionalId` (named) or `cluster` (no name).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StrimziResource {
    #[serde(rename = "type")]
    pub resource_type: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `literal` (default) or `prefix`; Kafka's `LITERAL`/`PREFIXED` also accepted.
    #[serde(default)]
    pub pattern_type: Option<String>,
}

/// A Koperator topic grant.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopicGrant {
    pub topic_name: String,
    /// `read` or `write`.
    pub access_type: String,
    /// `literal` (default) or `prefixed`.
    #[serde(default)]
    pub pattern_type: Option<String>,
}

/// A Cilium Kafka port rule (`api/kafka.PortRule`). Every field is optional; an empty rule allows every
/// request of the principal.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiliumKafkaRule {
    /// `produce` or `consume`: a set of API keys (see [`PRODUCE_ROLE_KEYS`], [`CONSUME_ROLE_KEYS`]).
    #[serde(default)]
    pub role: Option<String>,
    /// One API key by name (`fetch`, `metadata`, ...).
    #[serde(default)]
    pub api_key: Option<String>,
    /// One API version; Cilium writes it as a string, a number is accepted too.
    #[serde(default)]
    pub api_version: Option<ApiVersionSpec>,
    #[serde(default, rename = "clientID")]
    pub client_id: Option<String>,
    #[serde(default)]
    pub topic: Option<String>,
}

/// An API version written as `"4"` (Cilium) or `4`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum ApiVersionSpec {
    Number(i64),
    Text(String),
}

/// One compiled ACL entry for one operation.
#[derive(Debug, Clone, Copy)]
struct Grant {
    allow: bool,
    /// Requested operations this entry matches (implications already folded in for allows).
    ops: OpMask,
    /// `None` is the `*` host.
    host: Option<IpAddr>,
    rule: u32,
}

/// One compiled Cilium rule (its topic is the key it is indexed under).
#[derive(Debug, Clone)]
struct CompiledKafkaRule {
    /// Bit n set: API key n matches.
    api_keys: u128,
    api_version: Option<i16>,
    client_id: Option<Box<str>>,
    rule: u32,
}

impl CompiledKafkaRule {
    #[inline]
    fn matches(&self, ctx: &RequestCtx<'_>) -> bool {
        let key_bit = u32::try_from(ctx.api_key).ok().and_then(|k| 1u128.checked_shl(k)).unwrap_or(0);
        self.api_keys & key_bit != 0
            && self.api_version.is_none_or(|v| v == ctx.api_version)
            && self.client_id.as_deref().is_none_or(|id| ctx.client_id == Some(id))
    }
}

/// Cilium rules of one principal.
#[derive(Debug, Clone, Default)]
struct KafkaRules {
    /// In configuration order.
    rules: Vec<CompiledKafkaRule>,
    /// Indexes into `rules` of rules naming a topic, by topic.
    by_topic: FxHashMap<Box<str>, Vec<u32>>,
    /// Indexes into `rules` of rules without a topic.
    any_topic: Vec<u32>,
}

impl KafkaRules {
    /// The first rule (in configuration order) allowing this request and action. Topic-scoped rules
    /// constrain only topic actions: other actions of a request in the rule's key set (the group of a
    /// JoinGroup, the transactional id of a Produce) match, as Cilium ignores the topic for requests
    /// that carry none.
    fn find(&self, ctx: &RequestCtx<'_>, action: &Action<'_>) -> Option<u32> {
        if action.resource_type != ResourceType::Topic {
            return self.rules.iter().find(|r| r.matches(ctx)).map(|r| r.rule);
        }
        let first_in = |ids: &[u32]| {
            ids.iter().filter_map(|&i| self.rules.get(i as usize)).find(|r| r.matches(ctx)).map(|r| r.rule)
        };
        let scoped = self.by_topic.get(&*action.name).and_then(|ids| first_in(ids));
        let unscoped = first_in(&self.any_topic);
        match (scoped, unscoped) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// All rules of one principal (or of the wildcard principal).
#[derive(Debug, Clone, Default)]
struct PrincipalRules {
    /// Listed in `superUsers`: allowed everything, rules are not consulted.
    super_user: bool,
    acls: [PatternIndex<Vec<Grant>>; RESOURCE_TYPE_COUNT],
    kafka: KafkaRules,
}

#[derive(Debug, Default)]
struct PrincipalRulesBuilder {
    super_user: bool,
    acls: [PatternIndexBuilder<Vec<Grant>>; RESOURCE_TYPE_COUNT],
    kafka: KafkaRules,
}

impl PrincipalRulesBuilder {
    fn build(self) -> PrincipalRules {
        let mut kafka = self.kafka;
        kafka.rules.shrink_to_fit();
        PrincipalRules { super_user: self.super_user, acls: self.acls.map(PatternIndexBuilder::build), kafka }
    }
}

/// Compiled policy.
#[derive(Debug, Clone, Default)]
pub struct Authorizer {
    mode: Mode,
    unknown_requests: UnknownRequests,
    allow_everyone_if_no_acl_found: bool,
    /// Rules (and super-user status) by principal: one hash lookup per decision.
    principals: FxHashMap<Box<str>, PrincipalRules>,
    /// Rules of `User:*`.
    everyone: Option<PrincipalRules>,
    /// Which resources any rule of any principal covers (for `allowEveryoneIfNoAclFound`).
    covered: [PatternIndex<()>; RESOURCE_TYPE_COUNT],
    /// Description of every rule, indexed by rule number.
    rules: Vec<Box<str>>,
}

impl Authorizer {
    /// Compiles the configuration; the error names the offending field.
    pub fn compile(cfg: &AuthorizationConfig) -> Result<Self, FieldError> {
        Compiler::default().compile(cfg)
    }

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

    /// Descriptions of every compiled rule (one per ACL operation, Koperator expansion, Cilium rule), in
    /// configuration order, as they appear in [`Decision::rule`].
    pub fn rules(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| &**r)
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
            let Some(index) = rules.acls.get(slot) else { continue };
            if index.is_empty() {
                continue;
            }
            let name = if action.resource_type == ResourceType::Cluster { CLUSTER_NAME } else { &action.name };
            index.find_match(name, |grants| {
                for grant in grants {
                    if grant.ops & op_bit == 0 || !host_matches(grant.host) {
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
            if let Some(rule) = rules.kafka.find(ctx, action) {
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

    /// Kafka's `authorizeByResourceType`: may the principal perform `op` on *some* resource of this type?
    /// Kafka asks it for idempotent producers (InitProducerId without a transactional id: IdempotentWrite
    /// on the cluster OR Write on any topic). Allowed when an allow ACL for `op` exists whose resource
    /// pattern no deny ACL covers (a deny on `*` or on a prefix of it, or on the same literal name).
    pub fn authorize_any(&self, ctx: &RequestCtx<'_>, op: Operation, resource_type: ResourceType) -> Decision<'_> {
        let own = self.principals.get(ctx.principal);
        if own.is_some_and(|rules| rules.super_user) {
            return Decision { allowed: true, rule: Cow::Borrowed("superUsers") };
        }
        let op_bit = op.bit();
        let slot = resource_type.slot();
        let client_ip: Option<IpAddr> = ctx.host.parse().ok();
        let host_matches = |host: Option<IpAddr>| host.is_none() || host == client_ip;
        let sources = [own, self.everyone.as_ref()];
        let mut allows: Vec<(String, bool, u32)> = Vec::new();
        let mut denies: Vec<(String, bool)> = Vec::new();
        for rules in sources.iter().flatten() {
            let Some(index) = rules.acls.get(slot) else { continue };
            index.for_each(|name, prefixed, grants| {
                for grant in grants.iter().filter(|g| g.ops & op_bit != 0 && host_matches(g.host)) {
                    if grant.allow {
                        allows.push((name.to_string(), prefixed, grant.rule));
                    } else {
                        denies.push((name.to_string(), prefixed));
                    }
                }
            });
        }
        let covered_by_deny = |name: &str, prefixed: bool| {
            denies.iter().any(|(d, d_prefixed)| {
                d == "*" || (*d_prefixed && name.starts_with(d.as_str())) || (!*d_prefixed && !prefixed && d == name)
            })
        };
        match allows.iter().filter(|(n, p, _)| !covered_by_deny(n, *p)).min_by_key(|(_, _, rule)| *rule) {
            Some((_, _, rule)) => self.decided(true, *rule),
            None => Decision {
                allowed: false,
                rule: Cow::Owned(format!("no allow ACL for {} on any {}", op.as_str(), resource_type.as_str())),
            },
        }
    }

    fn decided(&self, allowed: bool, rule: u32) -> Decision<'_> {
        let rule =
            self.rules.get(rule as usize).map_or_else(|| Cow::Owned(format!("rule {rule}")), |r| Cow::Borrowed(&**r));
        Decision { allowed, rule }
    }
}

/// `User:` + `principal` unless it already starts with `User:`; `None` for an empty principal.
pub fn normalize_principal(principal: &str) -> Option<String> {
    let trimmed = principal.trim();
    let name = trimmed.strip_prefix("User:").unwrap_or(trimmed);
    if name.is_empty() {
        return None;
    }
    Some(format!("User:{name}"))
}

/// Accumulates compiled rules; rule numbers index `rules`.
#[derive(Default)]
struct Compiler {
    rules: Vec<Box<str>>,
    principals: FxHashMap<Box<str>, PrincipalRulesBuilder>,
    everyone: Option<PrincipalRulesBuilder>,
    covered: [PatternIndexBuilder<()>; RESOURCE_TYPE_COUNT],
}

/// A compiled resource pattern.
struct Resource {
    resource_type: ResourceType,
    pattern: NamePattern,
}

/// One Kafka ACL (one operation) before compilation.
struct AclEntry<'a> {
    resource: &'a Resource,
    op: Operation,
    allow: bool,
    /// `None` is the `*` host.
    host: Option<IpAddr>,
}

impl Resource {
    fn describe(&self) -> String {
        let ty = self.resource_type.as_str();
        match &self.pattern {
            _ if self.resource_type == ResourceType::Cluster => ty.to_string(),
            NamePattern::Literal(name) => format!("{ty} literal {name}"),
            NamePattern::Prefixed(prefix) => format!("{ty} prefix {prefix}"),
            NamePattern::AnyName => format!("{ty} *"),
        }
    }
}

impl Compiler {
    fn compile(mut self, cfg: &AuthorizationConfig) -> Result<Authorizer, FieldError> {
        for (i, principal) in cfg.super_users.iter().enumerate() {
            let field = format!("superUsers[{i}]");
            let principal = normalize_principal(principal).ok_or_else(|| FieldError::new(&field, "empty principal"))?;
            if principal == WILDCARD_PRINCIPAL {
                return Err(FieldError::new(
                    field,
                    "`User:*` as a super user would allow everyone everything; use `mode: off` instead",
                ));
            }
            self.principal_rules(&principal).super_user = true;
        }
        for (i, user) in cfg.users.iter().enumerate() {
            let at = format!("users[{i}]");
            let principal = normalize_principal(&user.principal)
                .ok_or_else(|| FieldError::new(format!("{at}.principal"), "empty principal"))?;
            for (j, acl) in user.acls.iter().enumerate() {
                self.strimzi_acl(&principal, &format!("{at}.acls[{j}]"), acl)?;
            }
            for (j, grant) in user.topic_grants.iter().enumerate() {
                self.topic_grant(&principal, &format!("{at}.topicGrants[{j}]"), grant)?;
            }
            for (j, rule) in user.kafka.iter().enumerate() {
                self.cilium_rule(&principal, &format!("{at}.kafka[{j}]"), rule)?;
            }
        }
        let rule_count = self.rules.len();
        if u32::try_from(rule_count).is_err() {
            return Err(FieldError::new("users", format!("too many rules ({rule_count})")));
        }
        let mut rules = self.rules;
        rules.shrink_to_fit();
        Ok(Authorizer {
            mode: cfg.mode,
            unknown_requests: cfg.unknown_requests,
            allow_everyone_if_no_acl_found: cfg.allow_everyone_if_no_acl_found,
            principals: self.principals.into_iter().map(|(p, r)| (p, r.build())).collect(),
            everyone: self.everyone.map(PrincipalRulesBuilder::build),
            covered: self.covered.map(PatternIndexBuilder::build),
            rules,
        })
    }

    fn principal_rules(&mut self, principal: &str) -> &mut PrincipalRulesBuilder {
        if principal == WILDCARD_PRINCIPAL {
            self.everyone.get_or_insert_with(PrincipalRulesBuilder::default)
        } else {
            self.principals.entry(principal.into()).or_default()
        }
    }

    fn new_rule(&mut self, description: String) -> u32 {
        let id = u32::try_from(self.rules.len()).unwrap_or(u32::MAX);
        self.rules.push(description.into_boxed_str());
        id
    }

    /// Adds one ACL entry for `principal`, described as `<at> (<note><allow|deny> <op> <resource>[ host <ip>])`.
    fn add_acl(&mut self, principal: &str, at: &str, note: &str, entry: AclEntry<'_>) {
        let AclEntry { resource, op, allow, host } = entry;
        let verb = if allow { "allow" } else { "deny" };
        let host_text = host.map(|ip| format!(" host {ip}")).unwrap_or_default();
        let rule = self.new_rule(format!("{at} ({note}{verb} {} {}{host_text})", op.as_str(), resource.describe()));
        let ops = if allow { op.allow_mask() } else { op.deny_mask() };
        let slot = resource.resource_type.slot();
        if let Some(index) = self.principal_rules(principal).acls.get_mut(slot) {
            index.slot(&resource.pattern).push(Grant { allow, ops, host, rule });
        }
        if let Some(index) = self.covered.get_mut(slot) {
            index.slot(&resource.pattern);
        }
    }

    fn strimzi_acl(&mut self, principal: &str, at: &str, acl: &StrimziAcl) -> Result<(), FieldError> {
        let resource = strimzi_resource(&format!("{at}.resource"), &acl.resource)?;
        let ops = match (&acl.operations, &acl.operation) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new(
                    format!("{at}.operation"),
                    "set either `operations` or `operation`, not both",
                ))
            }
            (None, None) => return Err(FieldError::new(format!("{at}.operations"), "no operation given")),
            (Some(list), None) if list.is_empty() => {
                return Err(FieldError::new(format!("{at}.operations"), "no operation given"))
            }
            (Some(list), None) => list
                .iter()
                .enumerate()
                .map(|(k, name)| parse_operation(&format!("{at}.operations[{k}]"), name))
                .collect::<Result<Vec<_>, _>>()?,
            (None, Some(name)) => vec![parse_operation(&format!("{at}.operation"), name)?],
        };
        let host = match acl.host.as_deref().map(str::trim) {
            None | Some("*") => None,
            Some(text) => Some(text.parse::<IpAddr>().map_err(|_| {
                FieldError::new(format!("{at}.host"), format!("`{text}` is neither `*` nor an IP address"))
            })?),
        };
        let allow = match acl.permission.as_deref() {
            None => true,
            Some(p) if p.eq_ignore_ascii_case("allow") => true,
            Some(p) if p.eq_ignore_ascii_case("deny") => false,
            Some(p) => {
                return Err(FieldError::new(format!("{at}.type"), format!("`{p}` is neither `allow` nor `deny`")))
            }
        };
        for op in ops {
            self.add_acl(principal, at, "", AclEntry { resource: &resource, op, allow, host });
        }
        Ok(())
    }

    /// Expands a Koperator topic grant into the ACLs Koperator creates for it
    /// (koperator `pkg/kafkaclient/users.go`, `CreateUserACLs`): both access types get Describe and
    /// DescribeConfigs on the topic pattern (`createCommonACLs`; releases before pattern-type support
    /// created Describe only); `read` adds Read on the topic pattern and Read on the literal group `*`;
    /// `write` adds Write and Create on the topic pattern. Every ACL has host `*` and is an allow. The
    /// pattern type defaults to literal; Koperator's `match`/`any` are refused (Kafka cannot store them).
    fn topic_grant(&mut self, principal: &str, at: &str, grant: &TopicGrant) -> Result<(), FieldError> {
        let name = grant.topic_name.trim();
        if name.is_empty() {
            return Err(FieldError::new(format!("{at}.topicName"), "empty topic name"));
        }
        let prefixed = parse_pattern_type(&format!("{at}.patternType"), grant.pattern_type.as_deref())?;
        let pattern = name_pattern(&format!("{at}.topicName"), name, prefixed)?;
        let topic = Resource { resource_type: ResourceType::Topic, pattern };
        let access = grant.access_type.trim();
        let (topic_ops, read_groups): (&[Operation], bool) = if access.eq_ignore_ascii_case("read") {
            (&[Operation::Describe, Operation::DescribeConfigs, Operation::Read], true)
        } else if access.eq_ignore_ascii_case("write") {
            (&[Operation::Describe, Operation::DescribeConfigs, Operation::Write, Operation::Create], false)
        } else {
            return Err(FieldError::new(
                format!("{at}.accessType"),
                format!("`{access}` is neither `read` nor `write`"),
            ));
        };
        let note = format!("{}: ", access.to_ascii_lowercase());
        for &op in topic_ops {
            self.add_acl(principal, at, &note, AclEntry { resource: &topic, op, allow: true, host: None });
        }
        if read_groups {
            let groups = Resource { resource_type: ResourceType::Group, pattern: NamePattern::AnyName };
            let entry = AclEntry { resource: &groups, op: Operation::Read, allow: true, host: None };
            self.add_acl(principal, at, &note, entry);
        }
        Ok(())
    }

    fn cilium_rule(&mut self, principal: &str, at: &str, rule: &CiliumKafkaRule) -> Result<(), FieldError> {
        let role = rule.role.as_deref().map(str::trim).filter(|r| !r.is_empty());
        let api_key = rule.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty());
        let mut description = Vec::new();
        let api_keys: u128 = match (role, api_key) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new(format!("{at}.apiKey"), "set either `role` or `apiKey`, not both"))
            }
            (Some(role), None) => {
                let keys = if role.eq_ignore_ascii_case("produce") {
                    PRODUCE_ROLE_KEYS
                } else if role.eq_ignore_ascii_case("consume") {
                    CONSUME_ROLE_KEYS
                } else {
                    return Err(FieldError::new(
                        format!("{at}.role"),
                        format!("`{role}` is neither `produce` nor `consume`"),
                    ));
                };
                description.push(format!("role {}", role.to_ascii_lowercase()));
                keys.iter().fold(0, |mask, &k| mask | (1u128 << k))
            }
            (None, Some(name)) => {
                let key = api_key_by_name(name).ok_or_else(|| {
                    FieldError::new(format!("{at}.apiKey"), format!("unknown Kafka API key `{name}`"))
                })?;
                let bit = u32::try_from(key).ok().and_then(|k| 1u128.checked_shl(k)).ok_or_else(|| {
                    FieldError::new(format!("{at}.apiKey"), format!("API key `{name}` ({key}) is not supported"))
                })?;
                description.push(format!("apiKey {}", api_key_name(key)));
                bit
            }
            // Cilium: neither role nor apiKey means every API key.
            (None, None) => u128::MAX,
        };
        let api_version = match &rule.api_version {
            None => None,
            Some(spec) => {
                let parsed = match spec {
                    ApiVersionSpec::Number(n) => i16::try_from(*n).ok(),
                    ApiVersionSpec::Text(t) if t.trim().is_empty() => None,
                    ApiVersionSpec::Text(t) => t.trim().parse::<i16>().ok(),
                };
                let empty = matches!(spec, ApiVersionSpec::Text(t) if t.trim().is_empty());
                match parsed {
                    Some(v) if v >= 0 => Some(v),
                    _ if empty => None,
                    _ => {
                        return Err(FieldError::new(
                            format!("{at}.apiVersion"),
                            format!("{spec:?} is not an API version (0 to 32767)"),
                        ))
                    }
                }
            }
        };
        if let Some(v) = api_version {
            description.push(format!("apiVersion {v}"));
        }
        let client_id = rule.client_id.as_deref().filter(|c| !c.is_empty());
        if let Some(id) = client_id {
            description.push(format!("clientID {id}"));
        }
        let topic = rule.topic.as_deref().filter(|t| !t.is_empty());
        if let Some(topic) = topic {
            // Cilium's own validation (PortRule.Sanitize): at most 255 characters of [a-zA-Z0-9._-].
            let valid = topic.len() <= 255 && topic.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !valid {
                return Err(FieldError::new(
                    format!("{at}.topic"),
                    format!("`{topic}` is not a Kafka topic name (up to 255 of a-z A-Z 0-9 . _ -)"),
                ));
            }
            description.push(format!("topic {topic}"));
        }
        if description.is_empty() {
            description.push("any request".to_string());
        }
        let id = self.new_rule(format!("{at} ({})", description.join(", ")));
        let compiled = CompiledKafkaRule { api_keys, api_version, client_id: client_id.map(Into::into), rule: id };
        let kafka = &mut self.principal_rules(principal).kafka;
        let position = u32::try_from(kafka.rules.len()).unwrap_or(u32::MAX);
        kafka.rules.push(compiled);
        match topic {
            Some(topic) => kafka.by_topic.entry(topic.into()).or_default().push(position),
            None => kafka.any_topic.push(position),
        }
        // A topic named by a Cilium rule is a protected resource, as if it had an ACL.
        if let (Some(topic), Some(index)) = (topic, self.covered.get_mut(ResourceType::Topic.slot())) {
            index.slot(&NamePattern::Literal(topic.into()));
        }
        Ok(())
    }
}

fn parse_operation(field: &str, name: &str) -> Result<Operation, FieldError> {
    Operation::parse(name.trim()).ok_or_else(|| FieldError::new(field, format!("unknown operation `{name}`")))
}

/// `true` for a prefix pattern. Strimzi writes `literal`/`prefix`, Kafka and Koperator `LITERAL`/`PREFIXED`.
fn parse_pattern_type(field: &str, pattern_type: Option<&str>) -> Result<bool, FieldError> {
    let Some(text) = pattern_type.map(str::trim) else { return Ok(false) };
    if text.eq_ignore_ascii_case("literal") {
        Ok(false)
    } else if text.eq_ignore_ascii_case("prefix") || text.eq_ignore_ascii_case("prefixed") {
        Ok(true)
    } else if text.eq_ignore_ascii_case("match") || text.eq_ignore_ascii_case("any") {
        Err(FieldError::new(
            field,
            format!("`{text}` is a Kafka ACL filter, not a pattern an ACL can have; use `literal` or `prefixed`"),
        ))
    } else {
        Err(FieldError::new(field, format!("`{text}` is neither `literal` nor `prefix`")))
    }
}

fn name_pattern(field: &str, name: &str, prefixed: bool) -> Result<NamePattern, FieldError> {
    if name.is_empty() {
        return Err(FieldError::new(field, "empty resource name"));
    }
    match (name, prefixed) {
        ("*", false) => Ok(NamePattern::AnyName),
        ("*", true) => Err(FieldError::new(field, "`*` with a prefix pattern; use a literal `*` for every name")),
        (_, false) => Ok(NamePattern::Literal(name.into())),
        (_, true) => Ok(NamePattern::Prefixed(name.into())),
    }
}

fn strimzi_resource(at: &str, resource: &StrimziResource) -> Result<Resource, FieldError> {
    let type_text = resource.resource_type.trim();
    let resource_type = ResourceType::parse(type_text).ok_or_else(|| {
        FieldError::new(
            format!("{at}.type"),
            format!("unknown resource type `{type_text}` (topic, group, cluster, transactionalId)"),
        )
    })?;
    let prefixed = parse_pattern_type(&format!("{at}.patternType"), resource.pattern_type.as_deref())?;
    if resource_type == ResourceType::Cluster {
        if resource.name.is_some() {
            return Err(FieldError::new(format!("{at}.name"), "a cluster resource has no name"));
        }
        if prefixed {
            return Err(FieldError::new(format!("{at}.patternType"), "a cluster resource has no name to prefix"));
        }
        return Ok(Resource { resource_type, pattern: NamePattern::AnyName });
    }
    let name = resource.name.as_deref().map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Err(FieldError::new(
            format!("{at}.name"),
            format!("a {} resource needs a name (`*` for all)", resource_type.as_str()),
        ));
    }
    let pattern = name_pattern(&format!("{at}.name"), name, prefixed)?;
    Ok(Resource { resource_type, pattern })
}
