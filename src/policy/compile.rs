//! The configuration compiled into the index: each dialect's rules become Kafka ACLs (Cilium rules stay
//! request-level allows), each with the description its decisions name.

use std::net::IpAddr;

use super::api_keys::{api_key_by_name, api_key_name, CONSUME_ROLE_KEYS, PRODUCE_ROLE_KEYS};
use super::check::{Authorizer, CompiledKafkaRule, Grant, PrincipalRulesBuilder};
use super::config::{ApiVersionSpec, AuthorizationConfig, CiliumKafkaRule, StrimziAcl, StrimziResource, TopicGrant};
use super::index::{FxHashMap, NamePattern, PatternIndexBuilder};
use super::normalize_principal;
use crate::config_error::FieldError;
use crate::protocol::acl::RESOURCE_TYPE_COUNT;
use crate::protocol::acl::{Operation, ResourceType, WILDCARD_PRINCIPAL};

impl Authorizer {
    /// Compiles the configuration; the error names the offending field.
    pub fn compile(cfg: &AuthorizationConfig) -> Result<Self, FieldError> {
        Compiler::default().compile(cfg)
    }
}

/// Accumulates compiled rules; rule numbers index `rules`.
#[derive(Default)]
pub(super) struct Compiler {
    pub(super) rules: Vec<Box<str>>,
    pub(super) principals: FxHashMap<Box<str>, PrincipalRulesBuilder>,
    pub(super) everyone: Option<PrincipalRulesBuilder>,
    pub(super) covered: [PatternIndexBuilder<()>; RESOURCE_TYPE_COUNT],
}

/// A compiled resource pattern.
pub(super) struct Resource {
    pub(super) resource_type: ResourceType,
    pub(super) pattern: NamePattern,
}

/// One Kafka ACL (one operation) before compilation.
pub(super) struct AclEntry<'a> {
    pub(super) resource: &'a Resource,
    pub(super) op: Operation,
    pub(super) allow: bool,
    /// `None` is the `*` host.
    pub(super) host: Option<IpAddr>,
}

impl Resource {
    pub(super) fn describe(&self) -> String {
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
    pub(super) fn compile(mut self, cfg: &AuthorizationConfig) -> Result<Authorizer, FieldError> {
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

    pub(super) fn principal_rules(&mut self, principal: &str) -> &mut PrincipalRulesBuilder {
        if principal == WILDCARD_PRINCIPAL {
            self.everyone.get_or_insert_with(PrincipalRulesBuilder::default)
        } else {
            self.principals.entry(principal.into()).or_default()
        }
    }

    pub(super) fn new_rule(&mut self, description: String) -> u32 {
        let id = u32::try_from(self.rules.len()).unwrap_or(u32::MAX);
        self.rules.push(description.into_boxed_str());
        id
    }

    /// Adds one ACL entry for `principal`, described as `<at> (<note><allow|deny> <op> <resource>[ host <ip>])`.
    pub(super) fn add_acl(&mut self, principal: &str, at: &str, note: &str, entry: AclEntry<'_>) {
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

    pub(super) fn strimzi_acl(&mut self, principal: &str, at: &str, acl: &StrimziAcl) -> Result<(), FieldError> {
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
    pub(super) fn topic_grant(&mut self, principal: &str, at: &str, grant: &TopicGrant) -> Result<(), FieldError> {
        // Used exactly as written, as Koperator passes it to Kafka.
        let name = grant.topic_name.as_str();
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

    pub(super) fn cilium_rule(&mut self, principal: &str, at: &str, rule: &CiliumKafkaRule) -> Result<(), FieldError> {
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

pub(super) fn parse_operation(field: &str, name: &str) -> Result<Operation, FieldError> {
    Operation::parse(name.trim()).ok_or_else(|| FieldError::new(field, format!("unknown operation `{name}`")))
}

/// `true` for a prefix pattern. Strimzi writes `literal`/`prefix`, Kafka and Koperator `LITERAL`/`PREFIXED`.
pub(super) fn parse_pattern_type(field: &str, pattern_type: Option<&str>) -> Result<bool, FieldError> {
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

pub(super) fn name_pattern(field: &str, name: &str, prefixed: bool) -> Result<NamePattern, FieldError> {
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

pub(super) fn strimzi_resource(at: &str, resource: &StrimziResource) -> Result<Resource, FieldError> {
    let type_text = resource.resource_type.trim();
    let resource_type = ResourceType::parse(type_text).ok_or_else(|| {
        FieldError::new(
            format!("{at}.type"),
            format!("unknown resource type `{type_text}` (topic, group, cluster, transactionalId)"),
        )
    })?;
    let prefixed = parse_pattern_type(&format!("{at}.patternType"), resource.pattern_type.as_deref())?;
    if resource_type == ResourceType::Cluster {
        // Strimzi's User Operator accepts a cluster resource with a name or a pattern type, warns, and applies
        // the ACL to the cluster (Kafka has one cluster resource, `kafka-cluster`): so does the filter.
        if resource.name.is_some() || resource.pattern_type.is_some() {
            log::warn!("{at}: a cluster resource has no name or pattern type; the ACL applies to the cluster");
        }
        return Ok(Resource { resource_type, pattern: NamePattern::AnyName });
    }
    // Names are used exactly as written, as Strimzi, Koperator and Kafka store them: an ACL on " padded" is
    // not one on "padded".
    let name = resource.name.as_deref().unwrap_or_default();
    if name.is_empty() {
        return Err(FieldError::new(
            format!("{at}.name"),
            format!("a {} resource needs a name (`*` for all)", resource_type.as_str()),
        ));
    }
    let pattern = name_pattern(&format!("{at}.name"), name, prefixed)?;
    Ok(Resource { resource_type, pattern })
}
