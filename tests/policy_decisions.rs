//! Decision table for the authorization policy: Kafka authorizer semantics over the Strimzi, Koperator and
//! Cilium dialects, and configuration errors naming the field at fault.

use kafka_mtls_filter::policy::{AuthorizationConfig, Authorizer, Decision, Mode, RequestCtx};
use kafka_mtls_filter::protocol::acl::{Action, Operation, ResourceType, CLUSTER_NAME};
use serde_json::{json, Value};

fn authorizer(cfg: Value) -> Authorizer {
    let cfg: AuthorizationConfig = serde_json::from_value(cfg).expect("config parses");
    Authorizer::compile(&cfg).expect("config compiles")
}

fn compile_error(cfg: Value) -> (String, String) {
    let cfg: AuthorizationConfig = serde_json::from_value(cfg).expect("config parses");
    let err = Authorizer::compile(&cfg).expect_err("config must be refused");
    (err.field, err.problem)
}

/// A request context: principal, client IP, API key, API version, client id.
fn ctx<'a>(principal: &'a str, host: &'a str, api_key: i16) -> RequestCtx<'a> {
    RequestCtx { principal, host, api_key, api_version: 9, client_id: Some("client-1") }
}

fn action(op: Operation, resource_type: ResourceType, name: &str) -> Action<'_> {
    Action { op, resource_type, name: name.into() }
}

/// Decides as for a DescribeConfigs request: an API key no Cilium role of these tests includes.
fn decide<'a>(auth: &'a Authorizer, principal: &str, op: Operation, ty: ResourceType, name: &str) -> Decision<'a> {
    auth.authorize(&ctx(principal, "10.0.0.1", DESCRIBE_CONFIGS), &action(op, ty, name))
}

fn allowed(auth: &Authorizer, principal: &str, op: Operation, ty: ResourceType, name: &str) -> bool {
    decide(auth, principal, op, ty, name).allowed
}

use Operation::*;
use ResourceType::{Cluster, Group, Topic, TransactionalId};

const PRODUCE: i16 = 0;
const FETCH: i16 = 1;
const METADATA: i16 = 3;
const JOIN_GROUP: i16 = 11;
const CREATE_TOPICS: i16 = 19;
const DESCRIBE_CONFIGS: i16 = 32;

/// The example from the issue.
fn issue_example() -> Value {
    json!({
       "mode": "enforce",
       "superUsers": ["User:CN=kafka-admin"],
       "allowEveryoneIfNoAclFound": false,
       "unknownRequests": "deny",
       "users": [
         {"principal": "User:CN=kafka-default",
          "acls": [ {"resource": {"type": "topic", "name": "orders-", "patternType": "prefix"},
                     "operations": ["Read", "Describe"], "host": "*", "type": "allow"} ],
          "topicGrants": [ {"topicName": "example-topic", "accessType": "write"} ],
          "kafka": [ {"role": "consume", "topic": "example-topic"} ] } ] })
}

#[test]
fn issue_example_decides_each_dialect() {
    let auth = authorizer(issue_example());
    assert_eq!(auth.mode(), Mode::Enforce);
    assert!(!auth.unknown_requests_allowed());
    let user = "User:CN=kafka-default";

    // Strimzi prefix ACL.
    let d = decide(&auth, user, Read, Topic, "orders-eu");
    assert!(d.allowed);
    assert_eq!(d.rule, "users[0].acls[0] (allow Read topic prefix orders-)");
    assert!(allowed(&auth, user, Describe, Topic, "orders-"));
    assert!(!allowed(&auth, user, Write, Topic, "orders-eu"));
    assert!(!allowed(&auth, user, Read, Topic, "order"));

    // Koperator write grant: Describe, DescribeConfigs, Write, Create on the literal topic.
    let d = decide(&auth, user, Write, Topic, "example-topic");
    assert!(d.allowed);
    assert_eq!(d.rule, "users[0].topicGrants[0] (write: allow Write topic literal example-topic)");
    assert!(allowed(&auth, user, Create, Topic, "example-topic"));
    assert!(allowed(&auth, user, DescribeConfigs, Topic, "example-topic"));
    assert!(!allowed(&auth, user, Write, Topic, "example-topic-2"));
    assert!(!allowed(&auth, user, Delete, Topic, "example-topic"));

    // Cilium consume role on example-topic: a Fetch's topic Read is allowed by the role.
    let d = auth.authorize(&ctx(user, "10.0.0.1", FETCH), &action(Read, Topic, "example-topic"));
    assert!(d.allowed);
    assert_eq!(d.rule, "users[0].kafka[0] (role consume, topic example-topic)");
    // The same action from a Produce request is not in the consume role's keys.
    assert!(!auth.authorize(&ctx(user, "10.0.0.1", PRODUCE), &action(Read, Topic, "example-topic")).allowed);
    // A JoinGroup carries no topic: the topic-scoped consume rule allows its group Read, as Cilium does.
    let d = auth.authorize(&ctx(user, "10.0.0.1", JOIN_GROUP), &action(Read, Group, "any-group"));
    assert!(d.allowed, "{d:?}");
    // But not for another topic.
    assert!(!auth.authorize(&ctx(user, "10.0.0.1", FETCH), &action(Read, Topic, "other")).allowed);

    // Super user bypasses everything; other principals get nothing.
    let d = decide(&auth, "User:CN=kafka-admin", Alter, Cluster, CLUSTER_NAME);
    assert_eq!(d, Decision { allowed: true, rule: "superUsers".into() });
    let d = decide(&auth, "User:CN=stranger", Read, Topic, "orders-eu");
    assert_eq!(d, Decision { allowed: false, rule: "no ACL matched (allowEveryoneIfNoAclFound=false)".into() });
}

#[test]
fn deny_wins_over_allow_from_any_source() {
    let auth = authorizer(json!({"users": [
        {"principal": "User:alice", "acls": [
            {"resource": {"type": "topic", "name": "*"}, "operation": "All"},
            {"resource": {"type": "topic", "name": "secret-", "patternType": "PREFIXED"},
             "operations": ["Write"], "type": "deny"}]},
        {"principal": "User:*", "acls": [
            {"resource": {"type": "topic", "name": "payroll"}, "operations": ["READ"], "type": "DENY"}]},
        {"principal": "User:alice", "kafka": [{"role": "produce"}]}
    ]}));
    let d = decide(&auth, "User:alice", Write, Topic, "secret-plans");
    assert_eq!(d, Decision { allowed: false, rule: "users[0].acls[1] (deny Write topic prefix secret-)".into() });
    // The Cilium produce rule is an allow too: the deny still wins.
    assert!(!auth.authorize(&ctx("User:alice", "1.2.3.4", PRODUCE), &action(Write, Topic, "secret-x")).allowed);
    // Deny of Write does not deny Read (denies imply nothing) ...
    assert!(allowed(&auth, "User:alice", Read, Topic, "secret-plans"));
    // ... nor Describe.
    assert!(allowed(&auth, "User:alice", Describe, Topic, "secret-plans"));
    // A wildcard-principal deny applies to alice too.
    let d = decide(&auth, "User:alice", Read, Topic, "payroll");
    assert_eq!(d, Decision { allowed: false, rule: "users[1].acls[0] (deny Read topic literal payroll)".into() });
    assert!(allowed(&auth, "User:alice", Write, Topic, "payroll"));
}

#[test]
fn deny_all_denies_every_operation() {
    let auth = authorizer(json!({"users": [{"principal": "User:bob", "acls": [
        {"resource": {"type": "group", "name": "*"}, "operations": ["All"]},
        {"resource": {"type": "group", "name": "locked"}, "operations": ["All"], "type": "deny"}]}]}));
    for op in [Read, Describe, Delete, DescribeConfigs] {
        assert!(allowed(&auth, "User:bob", op, Group, "g1"), "{op:?}");
        assert!(!allowed(&auth, "User:bob", op, Group, "locked"), "{op:?}");
    }
}

#[test]
fn literal_prefix_and_wildcard_patterns() {
    let auth = authorizer(json!({"users": [{"principal": "User:app", "acls": [
        {"resource": {"type": "topic", "name": "exact"}, "operations": ["Read"]},
        {"resource": {"type": "topic", "name": "pre", "patternType": "prefix"}, "operations": ["Write"]},
        {"resource": {"type": "topic", "name": "pre-fix-", "patternType": "LITERAL"}, "operations": ["Delete"]},
        {"resource": {"type": "group", "name": "*", "patternType": "literal"}, "operations": ["Read"]},
        {"resource": {"type": "transactionalId", "name": "tx-", "patternType": "prefix"}, "operations": ["Write"]}
    ]}]}));
    let app = "User:app";
    assert!(allowed(&auth, app, Read, Topic, "exact"));
    assert!(!allowed(&auth, app, Read, Topic, "exactly"));
    assert!(!allowed(&auth, app, Read, Topic, "exac"));
    assert!(allowed(&auth, app, Write, Topic, "pre"));
    assert!(allowed(&auth, app, Write, Topic, "prefix-anything"));
    assert!(!allowed(&auth, app, Write, Topic, "pr"));
    // Several patterns may match one name; each contributes its own operations.
    assert!(allowed(&auth, app, Delete, Topic, "pre-fix-"));
    assert!(allowed(&auth, app, Write, Topic, "pre-fix-"));
    assert!(!allowed(&auth, app, Delete, Topic, "pre-fix-1"));
    // The literal name `*` matches every name of its type, and only of its type.
    assert!(allowed(&auth, app, Read, Group, "whatever"));
    assert!(allowed(&auth, app, Read, Group, "*"));
    assert!(!allowed(&auth, app, Read, Topic, "whatever"));
    assert!(allowed(&auth, app, Write, TransactionalId, "tx-42"));
    assert!(!allowed(&auth, app, Write, TransactionalId, "t"));
    // A name that is a literal `*` is not a wildcard on the request side.
    assert!(!allowed(&auth, app, Read, Topic, "*"));
}

#[test]
fn implied_operations_follow_kafka() {
    let auth = authorizer(json!({"users": [{"principal": "User:i", "acls": [
        {"resource": {"type": "topic", "name": "r"}, "operations": ["Read"]},
        {"resource": {"type": "topic", "name": "w"}, "operations": ["Write"]},
        {"resource": {"type": "topic", "name": "d"}, "operations": ["Delete"]},
        {"resource": {"type": "topic", "name": "a"}, "operations": ["Alter"]},
        {"resource": {"type": "topic", "name": "ac"}, "operations": ["AlterConfigs"]},
        {"resource": {"type": "topic", "name": "c"}, "operations": ["Create"]},
        {"resource": {"type": "topic", "name": "dc"}, "operations": ["DescribeConfigs"]}
    ]}]}));
    let p = "User:i";
    for name in ["r", "w", "d", "a"] {
        let d = decide(&auth, p, Describe, Topic, name);
        assert!(d.allowed, "{name}: {d:?}");
    }
    let d = decide(&auth, p, Describe, Topic, "r");
    assert_eq!(d.rule, "users[0].acls[0] (allow Read topic literal r)");
    assert!(allowed(&auth, p, DescribeConfigs, Topic, "ac"));
    assert!(!allowed(&auth, p, Describe, Topic, "ac"));
    assert!(!allowed(&auth, p, Describe, Topic, "c"));
    assert!(!allowed(&auth, p, Describe, Topic, "dc"));
    assert!(!allowed(&auth, p, AlterConfigs, Topic, "dc"));
    // Read does not imply Write, nor Describe imply Read.
    assert!(!allowed(&auth, p, Write, Topic, "r"));
    assert!(!allowed(&auth, p, Read, Topic, "w"));
}

#[test]
fn describe_deny_is_not_implied_and_beats_implied_describe() {
    let auth = authorizer(json!({"users": [{"principal": "User:x", "acls": [
        {"resource": {"type": "topic", "name": "t"}, "operations": ["Read"]},
        {"resource": {"type": "topic", "name": "t"}, "operations": ["Describe"], "type": "deny"},
        {"resource": {"type": "topic", "name": "u"}, "operations": ["Describe"]},
        {"resource": {"type": "topic", "name": "u"}, "operations": ["Read"], "type": "deny"}]}]}));
    assert!(allowed(&auth, "User:x", Read, Topic, "t"));
    assert!(!allowed(&auth, "User:x", Describe, Topic, "t"));
    assert!(allowed(&auth, "User:x", Describe, Topic, "u"));
    assert!(!allowed(&auth, "User:x", Read, Topic, "u"));
}

#[test]
fn host_matching() {
    let auth = authorizer(json!({"users": [{"principal": "User:h", "acls": [
        {"resource": {"type": "topic", "name": "t"}, "operations": ["Read"], "host": "10.1.2.3"},
        {"resource": {"type": "topic", "name": "t"}, "operations": ["Write"]},
        {"resource": {"type": "topic", "name": "t"}, "operations": ["Write"], "host": "10.6.6.6", "type": "deny"},
        {"resource": {"type": "topic", "name": "v6"}, "operations": ["Read"], "host": "fd00::1"}]}]}));
    let read_t = action(Read, Topic, "t");
    let write_t = action(Write, Topic, "t");
    let at = |host: &'static str| ctx("User:h", host, FETCH);
    let d = auth.authorize(&at("10.1.2.3"), &read_t);
    assert_eq!(
        d,
        Decision { allowed: true, rule: "users[0].acls[0] (allow Read topic literal t host 10.1.2.3)".into() }
    );
    assert!(!auth.authorize(&at("10.1.2.4"), &read_t).allowed);
    assert!(!auth.authorize(&at(""), &read_t).allowed);
    assert!(!auth.authorize(&at("not-an-ip"), &read_t).allowed);
    assert!(auth.authorize(&at("10.1.2.4"), &write_t).allowed);
    assert!(!auth.authorize(&at("10.6.6.6"), &write_t).allowed);
    // IPv6 compared as addresses.
    assert!(auth.authorize(&at("fd00:0:0:0:0:0:0:1"), &action(Read, Topic, "v6")).allowed);
    assert!(!auth.authorize(&at("fd00::2"), &action(Read, Topic, "v6")).allowed);
}

#[test]
fn super_users_bypass_denies_and_are_normalized() {
    let auth = authorizer(json!({
        "superUsers": ["CN=root", "User:CN=admin"],
        "users": [{"principal": "*", "acls": [
            {"resource": {"type": "cluster"}, "operations": ["All"], "type": "deny"}]}]}));
    assert!(auth.is_super_user("User:CN=root"));
    assert_eq!(decide(&auth, "User:CN=root", Alter, Cluster, CLUSTER_NAME).rule, "superUsers");
    assert!(allowed(&auth, "User:CN=admin", ClusterAction, Cluster, CLUSTER_NAME));
    // Exact match only: no prefix, no case folding.
    assert!(!allowed(&auth, "User:CN=root2", Alter, Cluster, CLUSTER_NAME));
    assert!(!allowed(&auth, "User:cn=root", Describe, Cluster, CLUSTER_NAME));
    assert!(!allowed(&auth, "CN=root", Describe, Cluster, CLUSTER_NAME));
}

#[test]
fn principals_without_type_get_user_prefix_and_wildcard_matches_everyone() {
    let auth = authorizer(json!({"users": [
        {"principal": "CN=kafka-default", "acls": [{"resource": {"type": "topic", "name": "a"}, "operation": "Read"}]},
        {"principal": "*", "acls": [{"resource": {"type": "topic", "name": "public"}, "operation": "Read"}]},
        {"principal": "User:*", "acls": [{"resource": {"type": "group", "name": "shared"}, "operation": "Read"}]}]}));
    assert!(allowed(&auth, "User:CN=kafka-default", Read, Topic, "a"));
    assert!(!allowed(&auth, "User:CN=other", Read, Topic, "a"));
    for who in ["User:CN=kafka-default", "User:CN=other", "User:anyone"] {
        assert!(allowed(&auth, who, Read, Topic, "public"), "{who}");
        assert!(allowed(&auth, who, Read, Group, "shared"), "{who}");
    }
    let d = decide(&auth, "User:x", Read, Topic, "public");
    assert_eq!(d.rule, "users[1].acls[0] (allow Read topic literal public)");
}

#[test]
fn cluster_acls_match_the_cluster_whatever_name_the_action_carries() {
    let auth = authorizer(json!({"users": [{"principal": "User:ops", "acls": [
        {"resource": {"type": "cluster"}, "operations": ["Describe", "IDEMPOTENT_WRITE", "describe_configs"]}]}]}));
    let d = decide(&auth, "User:ops", IdempotentWrite, Cluster, CLUSTER_NAME);
    assert_eq!(d, Decision { allowed: true, rule: "users[0].acls[0] (allow IdempotentWrite cluster)".into() });
    assert!(allowed(&auth, "User:ops", Describe, Cluster, ""));
    assert!(allowed(&auth, "User:ops", DescribeConfigs, Cluster, CLUSTER_NAME));
    assert!(!allowed(&auth, "User:ops", Alter, Cluster, CLUSTER_NAME));
    assert!(!allowed(&auth, "User:ops", Describe, Topic, CLUSTER_NAME));
}

#[test]
fn allow_everyone_if_no_acl_found_means_no_acl_of_any_principal() {
    let cfg = |allow_everyone: bool| {
        json!({"allowEveryoneIfNoAclFound": allow_everyone, "users": [
            {"principal": "User:owner", "acls": [
                {"resource": {"type": "topic", "name": "owned"}, "operations": ["Read"]},
                {"resource": {"type": "topic", "name": "team-", "patternType": "prefix"}, "operations": ["Read"]}],
             "kafka": [{"role": "produce", "topic": "cilium-topic"}]}]})
    };
    let open = authorizer(cfg(true));
    assert!(open.allow_everyone_if_no_acl_found());
    let d = decide(&open, "User:guest", Read, Topic, "unowned");
    assert_eq!(
        d,
        Decision { allowed: true, rule: "no ACL found for the resource (allowEveryoneIfNoAclFound=true)".into() }
    );
    assert!(allowed(&open, "User:guest", Alter, Cluster, CLUSTER_NAME));
    assert!(allowed(&open, "User:owner", Write, Group, "g"));
    // The resource has ACLs (for another principal): denied, as Kafka does.
    let d = decide(&open, "User:guest", Read, Topic, "owned");
    assert!(!d.allowed);
    assert!(d.rule.contains("allowEveryoneIfNoAclFound does not apply"), "{}", d.rule);
    assert!(!allowed(&open, "User:guest", Read, Topic, "team-a"));
    // Even the owner is denied an operation no ACL grants on a covered resource.
    assert!(!allowed(&open, "User:owner", Write, Topic, "owned"));
    // Topics named by Cilium rules count as covered.
    assert!(!allowed(&open, "User:guest", Write, Topic, "cilium-topic"));

    let closed = authorizer(cfg(false));
    assert!(!allowed(&closed, "User:guest", Read, Topic, "unowned"));
    assert!(!allowed(&closed, "User:owner", Write, Group, "g"));
    assert!(allowed(&closed, "User:owner", Read, Topic, "owned"));
}

#[test]
fn koperator_grants_expand_like_koperator() {
    let auth = authorizer(json!({"users": [{"principal": "CN=kop", "topicGrants": [
        {"topicName": "reads", "accessType": "read"},
        {"topicName": "logs-", "accessType": "write", "patternType": "prefixed"}]}]}));
    let p = "User:CN=kop";
    // read: Describe, DescribeConfigs, Read on the topic; Read on every group.
    for op in [Read, Describe, DescribeConfigs] {
        assert!(allowed(&auth, p, op, Topic, "reads"), "{op:?}");
    }
    assert!(!allowed(&auth, p, Write, Topic, "reads"));
    assert!(!allowed(&auth, p, Create, Topic, "reads"));
    let d = decide(&auth, p, Read, Group, "any-consumer-group");
    assert_eq!(d, Decision { allowed: true, rule: "users[0].topicGrants[0] (read: allow Read group *)".into() });
    assert!(!allowed(&auth, p, Delete, Group, "any-consumer-group"));
    // write: Describe, DescribeConfigs, Write, Create on the prefix; nothing on groups from it.
    for op in [Write, Create, Describe, DescribeConfigs] {
        assert!(allowed(&auth, p, op, Topic, "logs-app"), "{op:?}");
    }
    assert!(!allowed(&auth, p, Read, Topic, "logs-app"));
    assert!(!allowed(&auth, p, Write, Topic, "log"));
    let rules: Vec<&str> = auth.rules().collect();
    assert_eq!(rules.len(), 8);
    assert_eq!(rules[7], "users[0].topicGrants[1] (write: allow Create topic prefix logs-)");
}

#[test]
fn cilium_roles_api_keys_versions_and_client_ids() {
    let auth = authorizer(json!({"users": [
        {"principal": "User:prod", "kafka": [{"role": "Produce", "topic": "events"}]},
        {"principal": "User:meta", "kafka": [{"apiKey": "metadata", "apiVersion": "12", "clientID": "tool"},
                                             {"apiKey": "CreateTopics", "apiVersion": 7}]},
        {"principal": "User:all", "kafka": [{}]}]}));
    let write_events = action(Write, Topic, "events");
    // produce role = Produce, Metadata, ApiVersions.
    let d = auth.authorize(&ctx("User:prod", "1.1.1.1", PRODUCE), &write_events);
    assert_eq!(d, Decision { allowed: true, rule: "users[0].kafka[0] (role produce, topic events)".into() });
    assert!(auth.authorize(&ctx("User:prod", "1.1.1.1", METADATA), &action(Describe, Topic, "events")).allowed);
    assert!(!auth.authorize(&ctx("User:prod", "1.1.1.1", FETCH), &action(Read, Topic, "events")).allowed);
    assert!(!auth.authorize(&ctx("User:prod", "1.1.1.1", PRODUCE), &action(Write, Topic, "other")).allowed);
    // Transactional produce: the transactional id action carries no topic and matches the role.
    assert!(auth.authorize(&ctx("User:prod", "1.1.1.1", PRODUCE), &action(Write, TransactionalId, "tx")).allowed);

    // apiKey + apiVersion + clientID all have to match.
    let describe = action(Describe, Topic, "anything");
    let meta = |version: i16, client: Option<&'static str>| RequestCtx {
        principal: "User:meta",
        host: "1.1.1.1",
        api_key: METADATA,
        api_version: version,
        client_id: client,
    };
    let d = auth.authorize(&meta(12, Some("tool")), &describe);
    assert_eq!(
        d,
        Decision { allowed: true, rule: "users[1].kafka[0] (apiKey metadata, apiVersion 12, clientID tool)".into() }
    );
    assert!(!auth.authorize(&meta(11, Some("tool")), &describe).allowed);
    assert!(!auth.authorize(&meta(12, Some("other")), &describe).allowed);
    assert!(!auth.authorize(&meta(12, None), &describe).allowed);
    let create = RequestCtx { api_key: CREATE_TOPICS, api_version: 7, ..meta(7, None) };
    assert!(auth.authorize(&create, &action(Create, Topic, "new")).allowed);

    // An empty rule allows every request of the principal.
    assert!(auth.authorize(&ctx("User:all", "1.1.1.1", 57), &action(Alter, Cluster, CLUSTER_NAME)).allowed);
    assert!(!auth.authorize(&ctx("User:nobody", "1.1.1.1", 57), &action(Alter, Cluster, CLUSTER_NAME)).allowed);
}

#[test]
fn consume_role_covers_the_consumer_protocol() {
    let auth = authorizer(json!({"users": [{"principal": "User:c", "kafka": [{"role": "consume", "topic": "in"}]}]}));
    // Fetch, ListOffsets, Metadata, OffsetCommit, OffsetFetch, FindCoordinator, JoinGroup, Heartbeat,
    // LeaveGroup, SyncGroup, ApiVersions.
    for key in [1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18] {
        assert!(auth.authorize(&ctx("User:c", "1.1.1.1", key), &action(Read, Group, "g")).allowed, "key {key}");
        assert!(auth.authorize(&ctx("User:c", "1.1.1.1", key), &action(Read, Topic, "in")).allowed, "key {key}");
    }
    for key in [0, 15, 19, 20, 22, 32, -1, 200] {
        assert!(!auth.authorize(&ctx("User:c", "1.1.1.1", key), &action(Read, Topic, "in")).allowed, "key {key}");
    }
}

#[test]
fn defaults_and_mode_parsing() {
    let auth = authorizer(json!({}));
    assert_eq!(auth.mode(), Mode::Off);
    assert!(!auth.unknown_requests_allowed());
    assert!(!allowed(&auth, "User:a", Read, Topic, "t"));
    let auth = authorizer(json!({"mode": "audit", "unknownRequests": "allow"}));
    assert_eq!(auth.mode(), Mode::Audit);
    assert!(auth.unknown_requests_allowed());
}

#[test]
fn config_errors_name_the_field() {
    let acl = |resource: Value, extra: Value| {
        let mut rule = json!({"resource": resource, "operations": ["Read"]});
        if let (Some(rule), Some(extra)) = (rule.as_object_mut(), extra.as_object()) {
            rule.extend(extra.clone());
        }
        json!({"users": [{"principal": "User:ok"}, {"principal": "User:x", "acls": [rule]}]})
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            acl(json!({"type": "topic", "name": "t", "patternType": "glob"}), json!({})),
            "users[1].acls[0].resource.patternType",
            "glob",
        ),
        (
            acl(json!({"type": "topic", "name": "t", "patternType": "match"}), json!({})),
            "users[1].acls[0].resource.patternType",
            "filter",
        ),
        (acl(json!({"type": "topic"}), json!({})), "users[1].acls[0].resource.name", "needs a name"),
        (
            acl(json!({"type": "topic", "name": "*", "patternType": "prefix"}), json!({})),
            "users[1].acls[0].resource.name",
            "literal `*`",
        ),
        (acl(json!({"type": "queue", "name": "q"}), json!({})), "users[1].acls[0].resource.type", "queue"),
        (
            acl(json!({"type": "topic", "name": "t"}), json!({"operations": ["Read", "Raed"]})),
            "users[1].acls[0].operations[1]",
            "unknown operation `Raed`",
        ),
        (
            acl(json!({"type": "topic", "name": "t"}), json!({"operations": []})),
            "users[1].acls[0].operations",
            "no operation",
        ),
        (
            acl(json!({"type": "topic", "name": "t"}), json!({"operation": "Write"})),
            "users[1].acls[0].operation",
            "not both",
        ),
        (acl(json!({"type": "topic", "name": "t"}), json!({"host": "example.com"})), "users[1].acls[0].host", "IP"),
        (acl(json!({"type": "topic", "name": "t"}), json!({"type": "maybe"})), "users[1].acls[0].type", "maybe"),
        (json!({"users": [{"principal": ""}]}), "users[0].principal", "empty"),
        (json!({"users": [{"principal": "User:"}]}), "users[0].principal", "empty"),
        (json!({"superUsers": ["User:a", " "]}), "superUsers[1]", "empty"),
        (json!({"superUsers": ["*"]}), "superUsers[0]", "everyone"),
        (
            json!({"users": [{"principal": "a", "kafka": [{"role": "produce", "apiKey": "fetch"}]}]}),
            "users[0].kafka[0].apiKey",
            "not both",
        ),
        (
            json!({"users": [{"principal": "a", "kafka": [{"apiKey": "fetchh"}]}]}),
            "users[0].kafka[0].apiKey",
            "unknown Kafka API key `fetchh`",
        ),
        (json!({"users": [{"principal": "a", "kafka": [{"role": "admin"}]}]}), "users[0].kafka[0].role", "admin"),
        (
            json!({"users": [{"principal": "a", "kafka": [{"apiVersion": "v1"}]}]}),
            "users[0].kafka[0].apiVersion",
            "API version",
        ),
        (
            json!({"users": [{"principal": "a", "kafka": [{"apiVersion": -1}]}]}),
            "users[0].kafka[0].apiVersion",
            "API version",
        ),
        (
            json!({"users": [{"principal": "a", "kafka": [{"topic": "bad topic"}]}]}),
            "users[0].kafka[0].topic",
            "topic name",
        ),
        (
            json!({"users": [{"principal": "a", "topicGrants": [{"topicName": "t", "accessType": "admin"}]}]}),
            "users[0].topicGrants[0].accessType",
            "admin",
        ),
        (
            json!({"users": [{"principal": "a", "topicGrants": [{"topicName": "t", "accessType": "read", "patternType": "any"}]}]}),
            "users[0].topicGrants[0].patternType",
            "filter",
        ),
        (
            json!({"users": [{"principal": "a", "topicGrants": [{"topicName": "", "accessType": "read"}]}]}),
            "users[0].topicGrants[0].topicName",
            "empty",
        ),
    ];
    for (cfg, field, problem) in cases {
        let (got_field, got_problem) = compile_error(cfg.clone());
        assert_eq!(got_field, field, "config {cfg}");
        assert!(got_problem.contains(problem), "config {cfg}: problem `{got_problem}` lacks `{problem}`");
    }
}

#[test]
fn unknown_fields_are_refused_with_their_path() {
    let cases = [
        (json!({"users": [{"principal": "a", "acl": []}]}), "users[0]"),
        (
            json!({"users": [{"principal": "a", "acls": [{"resource": {"type": "topic", "name": "t", "pattern": "x"},
                                                        "operation": "Read"}]}]}),
            "users[0].acls[0].resource",
        ),
        (json!({"users": [{"principal": "a", "kafka": [{"clientId": "x"}]}]}), "users[0].kafka[0]"),
        (
            json!({"users": [{"principal": "a", "topicGrants": [{"topicName": "t", "accessType": "read", "x": 1}]}]}),
            "users[0].topicGrants[0]",
        ),
        (json!({"mode": "strict"}), "mode"),
        (json!({"unknownRequests": "maybe"}), "unknownRequests"),
        (json!({"superUser": []}), "superUser"),
    ];
    for (cfg, path) in cases {
        let text = cfg.to_string();
        let err = kafka_mtls_filter::config_json::from_slice::<AuthorizationConfig>(text.as_bytes())
            .expect_err("must be refused");
        assert!(err.path.starts_with(path), "{cfg}: path {}", err.path);
    }
}

#[test]
fn ten_thousand_rules_decide_correctly() {
    // 1,000 principals x (4 Strimzi ACL operations + 3 topic-grant ACLs + 3 Cilium rules) plus shared rules.
    let mut users = Vec::new();
    for i in 0..1000 {
        users.push(json!({
            "principal": format!("CN=svc-{i}"),
            "acls": [
                {"resource": {"type": "topic", "name": format!("svc-{i}."), "patternType": "prefix"},
                 "operations": ["Read", "Write"]},
                {"resource": {"type": "group", "name": format!("svc-{i}-group")}, "operations": ["Read"]},
                {"resource": {"type": "topic", "name": format!("svc-{i}.private")}, "operation": "Read", "type": "deny"}
            ],
            "topicGrants": [{"topicName": format!("shared-{}", i % 50), "accessType": "write"}],
            "kafka": [
                {"role": "consume", "topic": format!("feed-{i}")},
                {"apiKey": "metadata", "clientID": format!("svc-{i}-client")},
                {"role": "produce", "topic": format!("out-{i}")}
            ]
        }));
    }
    users.push(json!({"principal": "*", "acls": [
        {"resource": {"type": "topic", "name": "public-", "patternType": "prefix"}, "operations": ["Read"]}]}));
    let auth = authorizer(json!({"users": users, "superUsers": ["CN=root"]}));
    assert!(auth.rules().count() >= 10_000, "{} rules", auth.rules().count());

    for i in (0..1000).step_by(37) {
        let me = format!("User:CN=svc-{i}");
        let other = format!("User:CN=svc-{}", (i + 1) % 1000);
        let d = decide(&auth, &me, Read, Topic, &format!("svc-{i}.orders"));
        assert!(d.allowed, "{d:?}");
        assert_eq!(d.rule, format!("users[{i}].acls[0] (allow Read topic prefix svc-{i}.)"));
        assert!(allowed(&auth, &me, Describe, Topic, &format!("svc-{i}.orders")));
        assert!(!allowed(&auth, &other, Read, Topic, &format!("svc-{i}.orders")));
        assert!(!allowed(&auth, &me, Delete, Topic, &format!("svc-{i}.orders")));
        let d = decide(&auth, &me, Read, Topic, &format!("svc-{i}.private"));
        assert!(!d.allowed);
        assert_eq!(d.rule, format!("users[{i}].acls[2] (deny Read topic literal svc-{i}.private)"));
        assert!(allowed(&auth, &me, Write, Topic, &format!("svc-{i}.private")));
        assert!(allowed(&auth, &me, Read, Group, &format!("svc-{i}-group")));
        assert!(!allowed(&auth, &me, Read, Group, &format!("svc-{i}-group2")));
        assert!(allowed(&auth, &me, Create, Topic, &format!("shared-{}", i % 50)));
        assert!(!allowed(&auth, &me, Create, Topic, &format!("shared-{}", (i + 1) % 50)));
        assert!(allowed(&auth, &me, Read, Topic, "public-news"));
        let fetch = RequestCtx { principal: &me, host: "10.0.0.9", api_key: FETCH, api_version: 13, client_id: None };
        assert!(auth.authorize(&fetch, &action(Read, Topic, &format!("feed-{i}"))).allowed);
        assert!(!auth.authorize(&fetch, &action(Read, Topic, &format!("feed-{}", i + 1))).allowed);
        let client = format!("svc-{i}-client");
        let metadata = RequestCtx { api_key: METADATA, client_id: Some(&client), ..fetch };
        assert!(auth.authorize(&metadata, &action(Describe, Topic, "unrelated")).allowed);
        let d =
            auth.authorize(&RequestCtx { client_id: Some("someone-else"), ..metadata }, &action(Describe, Topic, "x"));
        assert!(!d.allowed);
        let produce = RequestCtx { api_key: PRODUCE, ..fetch };
        let d = auth.authorize(&produce, &action(Write, Topic, &format!("out-{i}")));
        assert_eq!(d.rule, format!("users[{i}].kafka[2] (role produce, topic out-{i})"));
    }
    assert!(allowed(&auth, "User:CN=root", Delete, Topic, "svc-1.private"));
    assert!(!allowed(&auth, "User:CN=svc-1000", Read, Topic, "svc-1000.x"));
}

#[test]
fn plugin_configuration_errors_carry_the_section_path() {
    use kafka_mtls_filter::config::Config;
    let doc = json!({"authorization": {"users": [{"principal": "a"}, {"principal": "b", "acls": [
        {"resource": {"type": "topic", "name": "t", "patternType": "glob"}, "operation": "Read"}]}]}});
    let err = Config::parse(doc.to_string().as_bytes()).expect_err("refused").to_string();
    assert!(err.contains("authorization.users[1].acls[0].resource.patternType"), "{err}");
    let doc = json!({"authorization": {"users": [{"principal": "a", "kafka": [{"role": "produce", "port": 9092}]}]}});
    let err = Config::parse(doc.to_string().as_bytes()).expect_err("refused").to_string();
    assert!(err.contains("authorization.users[0].kafka[0]"), "{err}");
    let doc = json!({"authorization": issue_example()});
    let cfg = Config::parse(doc.to_string().as_bytes()).expect("issue example loads");
    assert_eq!(cfg.authorizer.mode(), Mode::Enforce);
}

/// Strimzi's User Operator accepts a `cluster` resource that carries a name or a pattern type (it warns) and
/// applies the ACL to the cluster.
#[test]
fn strimzi_cluster_resource_with_a_name_or_pattern_type_applies_to_the_cluster() {
    for resource in [
        json!({"type": "cluster", "name": "my-cluster"}),
        json!({"type": "cluster", "patternType": "prefix"}),
        json!({"type": "cluster", "name": "kafka-cluster", "patternType": "literal"}),
    ] {
        let auth = authorizer(json!({"mode": "enforce", "users": [{"principal": "User:ops",
            "acls": [{"resource": resource, "operations": ["Alter"], "type": "allow"}]}]}));
        assert!(allowed(&auth, "User:ops", Alter, Cluster, CLUSTER_NAME), "{resource}");
        assert!(!allowed(&auth, "User:ops", Alter, Topic, "my-cluster"), "{resource}");
    }
}

/// Names are used exactly as written, as Strimzi, Koperator and Kafka store them: an ACL on " padded" is not
/// one on "padded".
#[test]
fn resource_names_are_not_trimmed() {
    let auth = authorizer(json!({"mode": "enforce", "users": [{"principal": "User:app",
        "acls": [{"resource": {"type": "topic", "name": " padded "}, "operations": ["Read"], "type": "allow"}],
        "topicGrants": [{"topicName": " granted", "accessType": "write"}]}]}));
    assert!(allowed(&auth, "User:app", Read, Topic, " padded "));
    assert!(!allowed(&auth, "User:app", Read, Topic, "padded"));
    assert!(allowed(&auth, "User:app", Write, Topic, " granted"));
    assert!(!allowed(&auth, "User:app", Write, Topic, "granted"));
}

/// Cilium matches a topic-scoped rule only when every topic of the request is the rule's: a rule allowing
/// CreateTopics for `orders` creates `orders` and nothing else, so its Create-on-the-cluster alternative must
/// not grant other topics. A rule without a topic allows creating any.
#[test]
fn cilium_topic_scoped_create_topics_rule_does_not_grant_other_topics() {
    let auth = authorizer(json!({"users": [
        {"principal": "User:scoped", "kafka": [{"apiKey": "createtopics", "topic": "orders"}]},
        {"principal": "User:any", "kafka": [{"apiKey": "createtopics"}]}]}));
    let create = |principal: &str, ty: ResourceType, name: &str| {
        auth.authorize(&ctx(principal, "1.1.1.1", CREATE_TOPICS), &action(Create, ty, name)).allowed
    };
    assert!(!create("User:scoped", Cluster, CLUSTER_NAME));
    assert!(create("User:scoped", Topic, "orders"));
    assert!(!create("User:scoped", Topic, "payroll"));
    assert!(create("User:any", Cluster, CLUSTER_NAME));
    assert!(create("User:any", Topic, "payroll"));
}
