//! "May the principal Describe every topic whose name starts with this prefix?", asked for a regex
//! subscription (see `session::regex_subscription`): the question is about names that may not exist yet,
//! so it is answered from the patterns of the rules, never by enumerating topics.
//!
//! Every name starting with `prefix` is allowed exactly when no deny can match such a name and one allow
//! matches them all (Kafka's order: super users; any matching deny denies; any matching allow allows; no ACL
//! at all for the resource allows under `allowEveryoneIfNoAclFound`). The answer is yes only when that holds
//! for the whole range; a range that is partly allowed (an allow on `orders-eu` under the prefix `orders-`)
//! is a no, even if every topic that exists today happens to be allowed.

use std::borrow::Cow;
use std::net::IpAddr;

use super::{Authorizer, Decision, RequestCtx};
use crate::protocol::acl::{Operation, ResourceType};

impl Authorizer {
    /// Whether the principal may Describe every topic (existing or future) whose name starts with `prefix`
    /// (`""`: every topic), and the rule that decides it.
    pub fn may_describe_every_topic(&self, ctx: &RequestCtx<'_>, prefix: &str) -> Decision<'_> {
        let own = self.principals.get(ctx.principal);
        if own.is_some_and(|rules| rules.super_user) {
            return Decision { allowed: true, rule: Cow::Borrowed("superUsers") };
        }
        let op_bit = Operation::Describe.bit();
        let slot = ResourceType::Topic.slot();
        let client_ip: Option<IpAddr> = ctx.host.parse().ok();
        let host_matches = |host: Option<IpAddr>| host.is_none() || host == client_ip;
        // A pattern (`*` as the literal every-name pattern) that matches some name starting with `prefix`,
        // and one that matches all of them.
        let meets = |name: &str, prefixed: bool| match (prefixed, name) {
            (false, "*") => true,
            (false, literal) => literal.starts_with(prefix),
            (true, p) => p.starts_with(prefix) || prefix.starts_with(p),
        };
        let covers = |name: &str, prefixed: bool| (!prefixed && name == "*") || (prefixed && prefix.starts_with(name));
        let sources = [own, self.everyone.as_ref()];
        let mut deny: Option<u32> = None;
        let mut allow: Option<u32> = None;
        for rules in sources.iter().flatten() {
            let Some(index) = rules.acls(ResourceType::Topic) else { continue };
            index.for_each(|name, prefixed, &grants| {
                for grant in self.grants(grants).iter().filter(|g| g.ops & op_bit != 0 && host_matches(self.host(g))) {
                    if !grant.allow && meets(name, prefixed) {
                        deny = Some(deny.map_or(grant.rule, |d| d.min(grant.rule)));
                    } else if grant.allow && covers(name, prefixed) {
                        allow = Some(allow.map_or(grant.rule, |a| a.min(grant.rule)));
                    }
                }
            });
        }
        if let Some(rule) = deny {
            return self.decided(false, rule);
        }
        if let Some(rule) = allow {
            return self.decided(true, rule);
        }
        // A Cilium rule without a topic allows every topic for the requests it matches.
        for rules in sources.iter().flatten() {
            let Some(kafka) = &rules.kafka else { continue };
            let unscoped = kafka.any_topic.iter().filter_map(|&i| kafka.rules.get(i as usize)).find(|r| r.matches(ctx));
            if let Some(rule) = unscoped {
                return self.decided(true, rule.rule);
            }
        }
        if self.allow_everyone_if_no_acl_found {
            let mut covered = false;
            if let Some(index) = self.covered.get(slot) {
                index.for_each(|name, prefixed, _| covered |= meets(name, prefixed));
            }
            if !covered {
                return Decision {
                    allowed: true,
                    rule: Cow::Borrowed("no ACL found for these topics (allowEveryoneIfNoAclFound=true)"),
                };
            }
        }
        Decision {
            allowed: false,
            rule: Cow::Owned(if prefix.is_empty() {
                "no allow ACL for Describe on every topic".to_string()
            } else {
                format!("no allow ACL for Describe on every topic with the prefix {prefix}")
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::AuthorizationConfig;

    fn authorizer(config: serde_json::Value) -> Authorizer {
        let config: AuthorizationConfig = serde_json::from_value(config).expect("config");
        Authorizer::compile(&config).expect("compile")
    }

    fn ctx(principal: &str) -> RequestCtx<'_> {
        RequestCtx { principal, host: "10.0.0.1", api_key: 68, api_version: 1, client_id: None }
    }

    fn every(a: &Authorizer, principal: &str, prefix: &str) -> bool {
        a.may_describe_every_topic(&ctx(principal), prefix).allowed
    }

    #[test]
    fn prefixed_and_wildcard_allows_cover_their_ranges() {
        let a = authorizer(serde_json::json!({
            "mode": "enforce",
            "users": [
                {"principal": "User:alice", "acls": [
                    {"resource": {"type": "topic", "name": "orders-", "patternType": "prefix"}, "operations": ["Read"]}]},
                {"principal": "User:bob", "acls": [
                    {"resource": {"type": "topic", "name": "*"}, "operations": ["Describe"]},
                    {"resource": {"type": "topic", "name": "orders-secret"}, "operations": ["Describe"], "type": "deny"}]},
                {"principal": "User:carol", "acls": [
                    {"resource": {"type": "topic", "name": "orders-eu"}, "operations": ["Describe"]}]},
            ],
        }));
        // Read implies Describe; the prefix covers every longer prefix.
        assert!(every(&a, "User:alice", "orders-"));
        assert!(every(&a, "User:alice", "orders-eu"));
        assert!(!every(&a, "User:alice", "orders"));
        assert!(!every(&a, "User:alice", ""));
        // A deny inside the range refuses it, outside it does not.
        assert!(!every(&a, "User:bob", ""));
        assert!(!every(&a, "User:bob", "orders-"));
        assert!(every(&a, "User:bob", "payments-"));
        // A literal allow covers one name, never a range.
        assert!(!every(&a, "User:carol", "orders-eu"));
        assert!(!every(&a, "User:nobody", ""));
    }

    #[test]
    fn super_users_and_empty_policies() {
        let a = authorizer(serde_json::json!({
            "mode": "enforce", "superUsers": ["User:admin"], "allowEveryoneIfNoAclFound": true}));
        assert!(every(&a, "User:admin", ""));
        assert!(every(&a, "User:anyone", ""));
        let a = authorizer(serde_json::json!({
            "mode": "enforce",
            "allowEveryoneIfNoAclFound": true,
            "users": [{"principal": "User:x", "acls": [
                {"resource": {"type": "topic", "name": "payroll-", "patternType": "prefix"}, "operations": ["Describe"]}]}],
        }));
        // Topics under payroll- have ACLs: the range "" includes them, so no.
        assert!(!every(&a, "User:anyone", ""));
        assert!(every(&a, "User:anyone", "orders-"));
        assert!(!every(&a, "User:anyone", "pay"));
    }
}
