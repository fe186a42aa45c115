//! The configuration compiled into the index: each dialect's rules become Kafka ACLs (Cilium rules stay
//! request-level allows), each remembering where it was written for the decisions that name it.
//!
//! Built for policies of 100,000 entries, which every wasm VM of an Envoy compiles, in a heap that never
//! shrinks (the peak is what stays): the users are compiled one at a time, as the document is read
//! ([`CompiledUsers`](super::CompiledUsers)); each ACL entry is recorded flat (principal, resource, grant), its
//! name interned; at the end the entries are sorted once and each principal's index is built from its run, the
//! grants of each pattern side by side in one array. Error paths (`users[3].acls[1].operations[0]`) are only
//! written for the error.

use std::net::IpAddr;
use std::rc::Rc;

use smallvec::SmallVec;

use super::api_keys::{api_key_by_name, api_key_name, CONSUME_ROLE_KEYS, PRODUCE_ROLE_KEYS};
use super::check::{Authorizer, CompiledKafkaRule, Grant, Grants, PrincipalRules};
use super::config::UserRules;
use super::config::{ApiVersionSpec, AuthorizationConfig, CiliumKafkaRule, StrimziAcl, StrimziResource, TopicGrant};
use super::index::{FxHashMap, FxHashSet, NamePattern, PatternIndexBuilder};
use super::normalize_principal;
use super::rules::HostId;
use super::rules::{Access, AclRule, At, List, Resource, Rule};
use crate::config_error::FieldError;
use crate::protocol::acl::RESOURCE_TYPE_COUNT;
use crate::protocol::acl::{Operation, ResourceType, WILDCARD_PRINCIPAL};

impl Authorizer {
    /// Compiles the configuration; the error names the offending field.
    pub fn compile(cfg: &AuthorizationConfig) -> Result<Self, FieldError> {
        let mut compiler = Compiler::default();
        let error = cfg.users.iter().enumerate().find_map(|(i, user)| compiler.user(i, user).err());
        compiler.finish(cfg, error)
    }
}

/// Accumulates compiled rules; rule numbers index `rules`.
#[derive(Default)]
pub(super) struct Compiler {
    rules: Vec<Rule>,
    /// Principals (`User:*` too) by name: their number indexes `principals` and names them in `entries`.
    principal_ids: FxHashMap<Box<str>, u32>,
    /// Super-user status and Cilium rules; the ACL index is filled in by `finish`.
    principals: Vec<PrincipalRules>,
    /// Every ACL entry, in configuration order.
    entries: Vec<Entry>,
    names: Names,
    hosts: Vec<IpAddr>,
    host_ids: FxHashMap<IpAddr, HostId>,
}

/// One ACL entry (one operation) of one principal.
struct Entry {
    principal: u32,
    resource_type: ResourceType,
    pattern: NamePattern,
    grant: Grant,
}

/// Resource names, one copy each however many rules name them.
#[derive(Default)]
struct Names(FxHashSet<Rc<str>>);

impl Names {
    fn intern(&mut self, name: &str) -> Rc<str> {
        if let Some(known) = self.0.get(name) {
            return known.clone();
        }
        let name: Rc<str> = Rc::from(name);
        self.0.insert(name.clone());
        name
    }
}

impl Compiler {
    /// Compiles `users[index]`.
    pub(super) fn user<S: AsRef<str>>(&mut self, index: usize, user: &UserRules<S>) -> Result<(), FieldError> {
        let principal = normalize_principal(user.principal.as_ref())
            .ok_or_else(|| FieldError::new(format!("users[{index}].principal"), "empty principal"))?;
        for (j, acl) in user.acls.iter().enumerate() {
            self.strimzi_acl(&principal, At::new(index, List::Acls, j), acl)?;
        }
        for (j, grant) in user.topic_grants.iter().enumerate() {
            self.topic_grant(&principal, At::new(index, List::TopicGrants, j), grant)?;
        }
        for (j, rule) in user.kafka.iter().enumerate() {
            self.cilium_rule(&principal, At::new(index, List::Kafka, j), rule)?;
        }
        Ok(())
    }

    /// Adds the super users and builds the index. `users_error` is the first error the users had: it is
    /// reported after the super users' errors, as when the super users are compiled first.
    pub(super) fn finish<U>(
        mut self,
        cfg: &AuthorizationConfig<U>,
        users_error: Option<FieldError>,
    ) -> Result<Authorizer, FieldError> {
        for (i, principal) in cfg.super_users.iter().enumerate() {
            let field = || format!("superUsers[{i}]");
            let principal =
                normalize_principal(principal).ok_or_else(|| FieldError::new(field(), "empty principal"))?;
            if principal == WILDCARD_PRINCIPAL {
                return Err(FieldError::new(
                    field(),
                    "`User:*` as a super user would allow everyone everything; use `mode: off` instead",
                ));
            }
            let id = self.principal(&principal);
            if let Some(rules) = self.principals.get_mut(id as usize) {
                rules.super_user = true;
            }
        }
        if let Some(error) = users_error {
            return Err(error);
        }
        let rule_count = self.rules.len();
        if u32::try_from(rule_count).is_err() {
            return Err(FieldError::new("users", format!("too many rules ({rule_count})")));
        }
        Ok(self.build(cfg))
    }

    fn build<U>(self, cfg: &AuthorizationConfig<U>) -> Authorizer {
        let Compiler { rules, principal_ids, mut principals, mut entries, names, hosts, .. } = self;
        drop(names);
        // A principal's entries together, by resource type, then pattern; each pattern's in rule order (the
        // order a decision meets them in, as the configuration lists them).
        entries.sort_unstable_by(|a, b| {
            (a.principal, a.resource_type, &a.pattern, a.grant.rule).cmp(&(
                b.principal,
                b.resource_type,
                &b.pattern,
                b.grant.rule,
            ))
        });
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let mut grants: Vec<Grant> = Vec::with_capacity(entries.len());
        let mut covered: [PatternIndexBuilder<()>; RESOURCE_TYPE_COUNT] = Default::default();
        let covering = cfg.allow_everyone_if_no_acl_found;
        for of_principal in entries.chunk_by(|a, b| a.principal == b.principal) {
            let mut acls = Vec::new();
            for of_type in of_principal.chunk_by(|a, b| a.resource_type == b.resource_type) {
                let Some(first) = of_type.first() else { continue };
                let mut index = PatternIndexBuilder::default();
                for of_pattern in of_type.chunk_by(|a, b| a.pattern == b.pattern) {
                    let Some(entry) = of_pattern.first() else { continue };
                    *index.slot(&entry.pattern) = Grants { start: count(grants.len()), len: count(of_pattern.len()) };
                    grants.extend(of_pattern.iter().map(|e| e.grant));
                    if let (true, Some(covered)) = (covering, covered.get_mut(entry.resource_type.slot())) {
                        covered.slot(&entry.pattern);
                    }
                }
                acls.push((first.resource_type, index.build()));
            }
            let principal = of_principal.first().map(|e| e.principal as usize);
            if let Some(rules) = principal.and_then(|p| principals.get_mut(p)) {
                rules.acls = acls.into_boxed_slice();
            }
        }
        drop(entries);
        let mut everyone = None;
        let mut request_scoped = false;
        let mut by_name = FxHashMap::with_capacity_and_hasher(principal_ids.len(), Default::default());
        for (name, id) in principal_ids {
            let Some(rules) = principals.get_mut(id as usize) else { continue };
            let mut rules = std::mem::take(rules);
            if let Some(kafka) = &mut rules.kafka {
                request_scoped = true;
                kafka.shrink_to_fit();
                // A topic named by a Cilium rule is a protected resource, as if it had an ACL.
                if let (true, Some(covered)) = (covering, covered.get_mut(ResourceType::Topic.slot())) {
                    for topic in kafka.by_topic.keys() {
                        covered.slot(&NamePattern::Literal(topic.clone()));
                    }
                }
            }
            if &*name == WILDCARD_PRINCIPAL {
                everyone = Some(rules);
            } else {
                by_name.insert(name, rules);
            }
        }
        Authorizer {
            mode: cfg.mode,
            unknown_requests: cfg.unknown_requests,
            allow_everyone_if_no_acl_found: cfg.allow_everyone_if_no_acl_found,
            principals: by_name,
            everyone,
            covered: covered.map(PatternIndexBuilder::build),
            grants: grants.into_boxed_slice(),
            hosts: hosts.into_boxed_slice(),
            rules: rules.into_boxed_slice(),
            request_scoped,
        }
    }

    /// The number of `principal`, registered on first use.
    fn principal(&mut self, principal: &str) -> u32 {
        if let Some(&id) = self.principal_ids.get(principal) {
            return id;
        }
        let id = u32::try_from(self.principals.len()).unwrap_or(u32::MAX);
        self.principal_ids.insert(principal.into(), id);
        self.principals.push(PrincipalRules::default());
        id
    }

    fn host(&mut self, host: Option<IpAddr>) -> HostId {
        let Some(ip) = host else { return HostId::ANY };
        if let Some(&id) = self.host_ids.get(&ip) {
            return id;
        }
        let id = HostId::at(self.hosts.len());
        self.hosts.push(ip);
        self.host_ids.insert(ip, id);
        id
    }

    fn new_rule(&mut self, rule: Rule) -> u32 {
        let id = u32::try_from(self.rules.len()).unwrap_or(u32::MAX);
        self.rules.push(rule);
        id
    }

    /// Adds one ACL entry for `principal`.
    fn add_acl(&mut self, principal: &str, rule: AclRule) {
        let principal = self.principal(principal);
        let (allow, op, host) = (rule.allow, rule.op, rule.host);
        let (resource_type, pattern) = (rule.resource.resource_type, rule.resource.pattern.clone());
        let rule = self.new_rule(Rule::acl(rule));
        let ops = if allow { op.allow_mask() } else { op.deny_mask() };
        self.entries.push(Entry { principal, resource_type, pattern, grant: Grant { rule, host, ops, allow } });
    }

    fn strimzi_acl<S: AsRef<str>>(&mut self, principal: &str, at: At, acl: &StrimziAcl<S>) -> Result<(), FieldError> {
        let resource = self.strimzi_resource(at, &acl.resource)?;
        let ops: SmallVec<[Operation; 4]> = match (&acl.operations, &acl.operation) {
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
                .map(|(k, name)| parse_operation(|| format!("{at}.operations[{k}]"), name.as_ref()))
                .collect::<Result<_, _>>()?,
            (None, Some(name)) => [parse_operation(|| format!("{at}.operation"), name.as_ref())?].into_iter().collect(),
        };
        let host = match text(&acl.host).map(str::trim) {
            None | Some("*") => None,
            Some(text) => Some(text.parse::<IpAddr>().map_err(|_| {
                FieldError::new(format!("{at}.host"), format!("`{text}` is neither `*` nor an IP address"))
            })?),
        };
        let allow = match text(&acl.permission) {
            None => true,
            Some(p) if p.eq_ignore_ascii_case("allow") => true,
            Some(p) if p.eq_ignore_ascii_case("deny") => false,
            Some(p) => {
                return Err(FieldError::new(format!("{at}.type"), format!("`{p}` is neither `allow` nor `deny`")))
            }
        };
        let host = self.host(host);
        for op in ops {
            self.add_acl(principal, AclRule { at, grant: None, allow, op, resource: resource.clone(), host });
        }
        Ok(())
    }

    /// Expands a Koperator topic grant into the ACLs Koperator creates for it
    /// (koperator `pkg/kafkaclient/users.go`, `CreateUserACLs`): both access types get Describe and
    /// DescribeConfigs on the topic pattern (`createCommonACLs`; releases before pattern-type support
    /// created Describe only); `read` adds Read on the topic pattern and Read on the literal group `*`;
    /// `write` adds Write and Create on the topic pattern. Every ACL has host `*` and is an allow. The
    /// pattern type defaults to literal; Koperator's `match`/`any` are refused (Kafka cannot store them).
    fn topic_grant<S: AsRef<str>>(&mut self, principal: &str, at: At, grant: &TopicGrant<S>) -> Result<(), FieldError> {
        // Used exactly as written, as Koperator passes it to Kafka.
        let name = grant.topic_name.as_ref();
        if name.is_empty() {
            return Err(FieldError::new(format!("{at}.topicName"), "empty topic name"));
        }
        let prefixed = parse_pattern_type(|| format!("{at}.patternType"), text(&grant.pattern_type))?;
        let pattern = self.name_pattern(|| format!("{at}.topicName"), name, prefixed)?;
        let topic = Resource { resource_type: ResourceType::Topic, pattern };
        let access = grant.access_type.as_ref().trim();
        let (access, topic_ops): (Access, &[Operation]) = if access.eq_ignore_ascii_case("read") {
            (Access::Read, &[Operation::Describe, Operation::DescribeConfigs, Operation::Read])
        } else if access.eq_ignore_ascii_case("write") {
            (Access::Write, &[Operation::Describe, Operation::DescribeConfigs, Operation::Write, Operation::Create])
        } else {
            return Err(FieldError::new(
                format!("{at}.accessType"),
                format!("`{access}` is neither `read` nor `write`"),
            ));
        };
        let acl = |op, resource: &Resource| AclRule {
            at,
            grant: Some(access),
            allow: true,
            op,
            resource: resource.clone(),
            host: HostId::ANY,
        };
        for &op in topic_ops {
            self.add_acl(principal, acl(op, &topic));
        }
        if access == Access::Read {
            let groups = Resource { resource_type: ResourceType::Group, pattern: NamePattern::AnyName };
            self.add_acl(principal, acl(Operation::Read, &groups));
        }
        Ok(())
    }

    fn cilium_rule<S: AsRef<str>>(
        &mut self,
        principal: &str,
        at: At,
        rule: &CiliumKafkaRule<S>,
    ) -> Result<(), FieldError> {
        let role = text(&rule.role).map(str::trim).filter(|r| !r.is_empty());
        let api_key = text(&rule.api_key).map(str::trim).filter(|k| !k.is_empty());
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
        let client_id = text(&rule.client_id).filter(|c| !c.is_empty());
        if let Some(id) = client_id {
            description.push(format!("clientID {id}"));
        }
        let topic = text(&rule.topic).filter(|t| !t.is_empty());
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
        let id = self.new_rule(Rule::Written(format!("{at} ({})", description.join(", ")).into_boxed_str()));
        let compiled = CompiledKafkaRule { api_keys, api_version, client_id: client_id.map(Into::into), rule: id };
        let topic = topic.map(|topic| self.names.intern(topic));
        let principal = self.principal(principal);
        let Some(rules) = self.principals.get_mut(principal as usize) else { return Ok(()) };
        let kafka = rules.kafka.get_or_insert_with(Box::default);
        let position = u32::try_from(kafka.rules.len()).unwrap_or(u32::MAX);
        kafka.rules.push(compiled);
        match topic {
            Some(topic) => kafka.by_topic.entry(topic).or_default().push(position),
            None => kafka.any_topic.push(position),
        }
        Ok(())
    }

    fn name_pattern(
        &mut self,
        field: impl FnOnce() -> String,
        name: &str,
        prefixed: bool,
    ) -> Result<NamePattern, FieldError> {
        if name.is_empty() {
            return Err(FieldError::new(field(), "empty resource name"));
        }
        match (name, prefixed) {
            ("*", false) => Ok(NamePattern::AnyName),
            ("*", true) => Err(FieldError::new(field(), "`*` with a prefix pattern; use a literal `*` for every name")),
            (_, false) => Ok(NamePattern::Literal(self.names.intern(name))),
            (_, true) => Ok(NamePattern::Prefixed(self.names.intern(name))),
        }
    }

    fn strimzi_resource<S: AsRef<str>>(
        &mut self,
        at: At,
        resource: &StrimziResource<S>,
    ) -> Result<Resource, FieldError> {
        let type_text = resource.resource_type.as_ref().trim();
        let resource_type = ResourceType::parse(type_text).ok_or_else(|| {
            FieldError::new(
                format!("{at}.resource.type"),
                format!("unknown resource type `{type_text}` (topic, group, cluster, transactionalId)"),
            )
        })?;
        let prefixed = parse_pattern_type(|| format!("{at}.resource.patternType"), text(&resource.pattern_type))?;
        if resource_type == ResourceType::Cluster {
            // Strimzi's User Operator accepts a cluster resource with a name or a pattern type, warns, and applies
            // the ACL to the cluster (Kafka has one cluster resource, `kafka-cluster`): so does the filter.
            if resource.name.is_some() || resource.pattern_type.is_some() {
                log::warn!(
                    "{at}.resource: a cluster resource has no name or pattern type; the ACL applies to the cluster"
                );
            }
            return Ok(Resource { resource_type, pattern: NamePattern::AnyName });
        }
        // Names are used exactly as written, as Strimzi, Koperator and Kafka store them: an ACL on " padded" is
        // not one on "padded".
        let name = text(&resource.name).unwrap_or_default();
        if name.is_empty() {
            return Err(FieldError::new(
                format!("{at}.resource.name"),
                format!("a {} resource needs a name (`*` for all)", resource_type.as_str()),
            ));
        }
        let pattern = self.name_pattern(|| format!("{at}.resource.name"), name, prefixed)?;
        Ok(Resource { resource_type, pattern })
    }
}

/// An optional string of the configuration.
fn text<S: AsRef<str>>(value: &Option<S>) -> Option<&str> {
    value.as_ref().map(AsRef::as_ref)
}

fn parse_operation(field: impl FnOnce() -> String, name: &str) -> Result<Operation, FieldError> {
    Operation::parse(name.trim()).ok_or_else(|| FieldError::new(field(), format!("unknown operation `{name}`")))
}

/// `true` for a prefix pattern. Strimzi writes `literal`/`prefix`, Kafka and Koperator `LITERAL`/`PREFIXED`.
fn parse_pattern_type(field: impl FnOnce() -> String, pattern_type: Option<&str>) -> Result<bool, FieldError> {
    let Some(text) = pattern_type.map(str::trim) else { return Ok(false) };
    if text.eq_ignore_ascii_case("literal") {
        Ok(false)
    } else if text.eq_ignore_ascii_case("prefix") || text.eq_ignore_ascii_case("prefixed") {
        Ok(true)
    } else if text.eq_ignore_ascii_case("match") || text.eq_ignore_ascii_case("any") {
        Err(FieldError::new(
            field(),
            format!("`{text}` is a Kafka ACL filter, not a pattern an ACL can have; use `literal` or `prefixed`"),
        ))
    } else {
        Err(FieldError::new(field(), format!("`{text}` is neither `literal` nor `prefix`")))
    }
}
