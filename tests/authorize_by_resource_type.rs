//! Kafka's `authorizeByResourceType` (the question behind an idempotent producer's InitProducerId: Write on any
//! topic), case by case after Apache Kafka's own authorizer tests (`BaseAuthorizerTest`'s
//! `testAuthorizeByResourceType*`) and `DefaultResourceTypeBasedAuthorization`.

use kafka_mtls_filter::policy::{AuthorizationConfig, Authorizer, RequestCtx};
use kafka_mtls_filter::protocol::acl::{Operation, ResourceType};
use serde_json::{json, Value};

const USER: &str = "User:alice";
const HOST: &str = "192.168.1.1";

fn authorizer(allow_everyone: bool, users: Value) -> Authorizer {
    let cfg: AuthorizationConfig = serde_json::from_value(json!({
        "mode": "enforce",
        "superUsers": ["User:admin"],
        "allowEveryoneIfNoAclFound": allow_everyone,
        "users": users,
    }))
    .expect("config parses");
    Authorizer::compile(&cfg).expect("config compiles")
}

fn acl(kind: &str, op: &str, name: &str, pattern: &str, host: &str) -> Value {
    json!({"resource": {"type": "topic", "name": name, "patternType": pattern}, "operations": [op], "host": host,
           "type": kind})
}

fn user(principal: &str, acls: &[Value]) -> Value {
    json!({"principal": principal, "acls": acls})
}

/// May `principal`, from HOST, Write some topic?
fn any_topic_write(auth: &Authorizer, principal: &str) -> bool {
    let ctx = RequestCtx { principal, host: HOST, api_key: 22, api_version: 4, client_id: None };
    auth.authorize_any(&ctx, Operation::Write, ResourceType::Topic).allowed
}

fn with(users: Value) -> bool {
    any_topic_write(&authorizer(false, users), USER)
}

#[test]
fn no_acl_denies_and_one_literal_allow_admits() {
    assert!(!with(json!([])));
    assert!(with(json!([user(USER, &[acl("allow", "Write", "t1", "literal", "*")])])));
}

#[test]
fn a_deny_on_the_same_literal_takes_precedence() {
    let users =
        json!([user(USER, &[acl("allow", "Write", "t1", "literal", "*"), acl("deny", "Write", "t1", "literal", "*")])]);
    assert!(!with(users));
}

#[test]
fn a_literal_deny_does_not_dominate_a_prefixed_allow_of_the_same_name() {
    let users =
        json!([user(USER, &[acl("allow", "Write", "t1", "prefix", "*"), acl("deny", "Write", "t1", "literal", "*")])]);
    assert!(with(users));
}

#[test]
fn unrelated_denies_do_not_dominate() {
    // Another topic, another principal, another operation, another host.
    let users = json!([
        user(
            USER,
            &[
                acl("allow", "Write", "t1", "literal", "*"),
                acl("deny", "Write", "t2", "literal", "*"),
                acl("deny", "Read", "t1", "literal", "*"),
                acl("deny", "Write", "t1", "literal", "10.0.0.9"),
            ]
        ),
        user("User:bob", &[acl("deny", "Write", "t1", "literal", "*")]),
    ]);
    assert!(with(users));
}

#[test]
fn a_wildcard_deny_dominates_every_allow() {
    let users = json!([user(
        USER,
        &[
            acl("allow", "Write", "t1", "literal", "*"),
            acl("allow", "Write", "a", "prefix", "*"),
            acl("allow", "Write", "*", "literal", "*"),
            acl("deny", "Write", "*", "literal", "*"),
        ]
    )]);
    assert!(!with(users));
}

#[test]
fn a_wildcard_allow_admits_despite_prefixed_denies() {
    let users =
        json!([user(USER, &[acl("allow", "Write", "*", "literal", "*"), acl("deny", "Write", "a", "prefix", "*")])]);
    assert!(with(users));
}

#[test]
fn a_prefixed_deny_dominates_allows_it_is_a_prefix_of() {
    let dominated = json!([user(
        USER,
        &[
            acl("allow", "Write", "abc", "literal", "*"),
            acl("allow", "Write", "abcd", "prefix", "*"),
            acl("deny", "Write", "ab", "prefix", "*"),
        ]
    )]);
    assert!(!with(dominated));
    // The prefix equal to the allowed name dominates too; a longer one does not.
    assert!(!with(json!([user(
        USER,
        &[acl("allow", "Write", "abc", "prefix", "*"), acl("deny", "Write", "abc", "prefix", "*")]
    )])));
    assert!(with(json!([user(
        USER,
        &[acl("allow", "Write", "abc", "prefix", "*"), acl("deny", "Write", "abcd", "prefix", "*")]
    )])));
}

#[test]
fn all_host_all_operation_and_all_principal_entries_count() {
    assert!(with(json!([user(USER, &[acl("allow", "All", "t1", "literal", "*")])])));
    assert!(with(json!([user(USER, &[acl("allow", "Write", "t1", "literal", HOST)])])));
    assert!(!with(json!([user(USER, &[acl("allow", "Write", "t1", "literal", "10.0.0.9")])])));
    assert!(with(json!([user("User:*", &[acl("allow", "Write", "t1", "literal", "*")])])));
    // A deny for every principal dominates the principal's own allow.
    assert!(!with(json!([
        user(USER, &[acl("allow", "Write", "t1", "literal", "*")]),
        user("User:*", &[acl("deny", "All", "t", "prefix", "*")]),
    ])));
}

#[test]
fn implied_operations_do_not_count() {
    // Read implies Describe, nothing implies Write.
    assert!(!with(json!([user(USER, &[acl("allow", "Read", "t1", "literal", "*")])])));
}

#[test]
fn super_users_are_allowed_whatever_denies_exist() {
    let auth = authorizer(false, json!([user("User:admin", &[acl("deny", "Write", "*", "literal", "*")])]));
    assert!(any_topic_write(&auth, "User:admin"));
}

#[test]
fn allow_everyone_admits_when_no_acl_covers_kafkas_probe_name() {
    // ACLs on the cluster and on unrelated topics: none covers the topic Kafka probes ("hardcode").
    let cluster_only = json!([{"principal": "User:bob",
        "acls": [{"resource": {"type": "cluster"}, "operations": ["Describe"], "type": "allow"}]}]);
    assert!(any_topic_write(&authorizer(true, cluster_only.clone()), USER));
    assert!(!any_topic_write(&authorizer(false, cluster_only), USER));
    assert!(any_topic_write(
        &authorizer(true, json!([user("User:bob", &[acl("allow", "Read", "orders", "prefix", "*")])])),
        USER
    ));
    // An ACL of anyone's that covers "hardcode" (a wildcard, a prefix of it) takes allow-everyone away.
    assert!(!any_topic_write(
        &authorizer(true, json!([user("User:bob", &[acl("allow", "Read", "*", "literal", "*")])])),
        USER
    ));
    assert!(!any_topic_write(
        &authorizer(true, json!([user("User:bob", &[acl("allow", "Read", "hard", "prefix", "*")])])),
        USER
    ));
}
