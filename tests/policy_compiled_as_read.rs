//! The policy as the filter loads it (`Config::parse`: each user compiled as the document is read, so the list as
//! written is never held whole) decides, describes its rules and refuses configurations exactly as the policy
//! compiled whole from an `AuthorizationConfig`; and a principal's rules spread over several `users` entries
//! decide as one list, in configuration order.

use kafka_mtls_filter::config::{Config, RawConfig};
use kafka_mtls_filter::policy::{AuthorizationConfig, Authorizer, Decision, RequestCtx};
use kafka_mtls_filter::protocol::acl::{Action, Operation, ResourceType, CLUSTER_NAME};
use serde_json::{json, Value};

/// The policy compiled whole, and as the filter loads it.
fn both(policy: &Value) -> (Authorizer, Authorizer) {
    let whole: AuthorizationConfig = serde_json::from_value(policy.clone()).expect("parses");
    let whole = Authorizer::compile(&whole).expect("compiles");
    let read = Config::parse(json!({"authorization": policy}).to_string().as_bytes()).expect("loads");
    (whole, read.authorizer)
}

/// Every dialect; `User:CN=alice` in two entries whose patterns interleave; hosts; the wildcard principal.
fn policy() -> Value {
    let acl = |ty: &str, name: &str, pattern: &str, ops: Value, extra: Value| {
        let mut rule = json!({"resource": {"type": ty, "name": name, "patternType": pattern}, "operations": ops});
        if let (Some(rule), Some(extra)) = (rule.as_object_mut(), extra.as_object()) {
            rule.extend(extra.clone());
        }
        rule
    };
    json!({
        "mode": "enforce",
        "superUsers": ["CN=root"],
        "allowEveryoneIfNoAclFound": true,
        "users": [
            {"principal": "User:CN=alice", "acls": [
                acl("topic", "orders", "literal", json!(["Read"]), json!({})),
                acl("topic", "orders-", "prefix", json!(["Write", "Describe"]), json!({})),
                acl("group", "g-", "prefix", json!(["Read"]), json!({"host": "10.0.0.1"})),
                acl("cluster", "", "literal", json!(["IdempotentWrite"]), json!({}))]},
            {"principal": "User:*", "acls": [
                acl("topic", "public", "literal", json!(["Read"]), json!({})),
                acl("topic", "orders-secret", "literal", json!(["All"]), json!({"type": "deny"})),
                acl("transactionalId", "tx-", "prefix", json!(["Write"]), json!({"host": "::1"}))]},
            {"principal": "CN=alice", "acls": [
                acl("topic", "orders", "literal", json!(["Read"]), json!({"type": "deny", "host": "10.0.0.2"})),
                acl("topic", "orders-", "prefix", json!(["Write"]), json!({})),
                acl("topic", "*", "literal", json!(["Describe"]), json!({"host": "10.0.0.2"}))],
             "topicGrants": [{"topicName": "logs-", "accessType": "read", "patternType": "prefixed"}]},
            {"principal": "User:CN=bob",
             "topicGrants": [{"topicName": "orders", "accessType": "write"}],
             "kafka": [{"role": "consume", "topic": "events"}, {"apiKey": "metadata", "clientID": "tool"}]},
            {"principal": "User:CN=carol", "acls": [
                acl("topic", "orders-eu", "prefix", json!(["Read"]), json!({"type": "deny"})),
                acl("topic", "orders-", "prefix", json!(["Read"]), json!({}))]}
        ]
    })
}

#[test]
fn the_policy_read_decides_as_the_policy_compiled_whole() {
    let (whole, read) = both(&policy());
    assert_eq!(whole.rules().collect::<Vec<_>>(), read.rules().collect::<Vec<_>>());
    let principals = ["User:CN=alice", "User:CN=bob", "User:CN=carol", "User:CN=root", "User:*", "User:CN=nobody"];
    let names = ["orders", "orders-eu", "orders-eu-1", "orders-secret", "public", "logs-app", "events", "g-1", "tx-1"];
    let mut decisions = 0;
    for principal in principals {
        for host in ["10.0.0.1", "10.0.0.2", "::1", "0:0:0:0:0:0:0:1"] {
            for api_key in [0, 1, 3, 22, 32] {
                let ctx = RequestCtx { principal, host, api_key, api_version: 9, client_id: Some("tool") };
                for resource_type in ResourceType::EVERY {
                    for op in Operation::EVERY {
                        for name in names.iter().copied().chain([CLUSTER_NAME, "hardcode"]) {
                            let action = Action { op, resource_type, name: name.into() };
                            assert_eq!(
                                whole.authorize(&ctx, &action),
                                read.authorize(&ctx, &action),
                                "{ctx:?} {action:?}"
                            );
                            decisions += 1;
                        }
                        let any =
                            (whole.authorize_any(&ctx, op, resource_type), read.authorize_any(&ctx, op, resource_type));
                        assert_eq!(any.0, any.1, "{ctx:?} {op:?} {resource_type:?}");
                    }
                    for name in names {
                        let ops = |a: &Authorizer| a.authorized_operations(&ctx, resource_type, name);
                        assert_eq!(ops(&whole), ops(&read), "{ctx:?} {resource_type:?} {name}");
                    }
                }
                for prefix in ["", "orders-", "orders-e", "logs-", "pub"] {
                    let every =
                        (whole.may_describe_every_topic(&ctx, prefix), read.may_describe_every_topic(&ctx, prefix));
                    assert_eq!(every.0, every.1, "{ctx:?} {prefix}");
                }
            }
        }
    }
    assert!(decisions > 50_000);
}

fn decide<'a>(auth: &'a Authorizer, principal: &str, host: &str, op: Operation, name: &str) -> Decision<'a> {
    let ctx = RequestCtx { principal, host, api_key: 32, api_version: 4, client_id: None };
    auth.authorize(&ctx, &Action { op, resource_type: ResourceType::Topic, name: name.into() })
}

#[test]
fn rules_of_one_principal_in_several_entries_decide_in_configuration_order() {
    let (_, auth) = both(&policy());
    let alice = "User:CN=alice";
    let d = decide(&auth, alice, "10.0.0.1", Operation::Read, "orders");
    assert_eq!(d, Decision { allowed: true, rule: "users[0].acls[0] (allow Read topic literal orders)".into() });
    let d = decide(&auth, alice, "10.0.0.2", Operation::Read, "orders");
    let denied = "users[2].acls[0] (deny Read topic literal orders host 10.0.0.2)";
    assert_eq!(d, Decision { allowed: false, rule: denied.into() });
    // Two allows on the same prefix: the first in the configuration decides.
    let d = decide(&auth, alice, "10.0.0.1", Operation::Write, "orders-1");
    assert_eq!(d, Decision { allowed: true, rule: "users[0].acls[1] (allow Write topic prefix orders-)".into() });
    let d = decide(&auth, alice, "10.0.0.2", Operation::Describe, "anything");
    assert_eq!(d, Decision { allowed: true, rule: "users[2].acls[2] (allow Describe topic * host 10.0.0.2)".into() });
    assert!(!decide(&auth, alice, "10.0.0.1", Operation::Describe, "anything").allowed);
    // The wildcard principal's deny applies to alice; its host is an address, however written.
    let d = decide(&auth, alice, "10.0.0.1", Operation::Write, "orders-secret");
    assert_eq!(d, Decision { allowed: false, rule: "users[1].acls[1] (deny All topic literal orders-secret)".into() });
    let ctx = RequestCtx { principal: alice, host: "0:0:0:0:0:0:0:1", api_key: 22, api_version: 4, client_id: None };
    let tx = Action { op: Operation::Write, resource_type: ResourceType::TransactionalId, name: "tx-1".into() };
    assert_eq!(auth.authorize(&ctx, &tx).rule, "users[1].acls[2] (allow Write transactionalId prefix tx- host ::1)");
    let d = decide(&auth, "User:CN=carol", "10.0.0.1", Operation::Read, "orders-eu-1");
    assert_eq!(d, Decision { allowed: false, rule: "users[4].acls[0] (deny Read topic prefix orders-eu)".into() });
    assert!(decide(&auth, "User:CN=root", "10.0.0.1", Operation::Delete, "orders").allowed);
}

/// What `Config::parse` says about `authorization` (the policy compiled as read).
fn load_error(authorization: &Value) -> String {
    Config::parse(json!({"authorization": authorization}).to_string().as_bytes()).expect_err("refused").to_string()
}

#[test]
fn the_policy_read_is_refused_as_the_policy_compiled_whole() {
    let bad_acl = json!({"resource": {"type": "topic", "name": "t", "patternType": "glob"}, "operations": ["Read"]});
    let good_acl = json!({"resource": {"type": "topic", "name": "t"}, "operations": ["Read"]});
    let cases = [
        json!({"users": [{"principal": "a", "acls": [good_acl]}, {"principal": "b", "acls": [good_acl, bad_acl]}]}),
        json!({"users": [{"principal": ""}, {"principal": "b", "acls": [bad_acl]}]}),
        // The super users' errors come first, wherever they are in the document.
        json!({"users": [{"principal": "b", "acls": [bad_acl]}], "superUsers": ["User:*"]}),
        json!({"users": [{"principal": "a", "topicGrants": [{"topicName": "t", "accessType": "admin"}]}]}),
        json!({"users": [{"principal": "a", "kafka": [{"role": "produce"}, {"apiVersion": "v1"}]}]}),
    ];
    for policy in cases {
        let whole: AuthorizationConfig = serde_json::from_value(policy.clone()).expect("parses");
        let error = Authorizer::compile(&whole).expect_err("refused");
        let expected = format!("configuration field `authorization.{}`: {}", error.field, error.problem);
        assert_eq!(load_error(&policy), expected, "{policy}");
    }
}

#[test]
fn the_documents_own_errors_come_first_as_when_it_is_read_whole() {
    let bad_acl = json!({"resource": {"type": "topic", "name": "t", "patternType": "glob"}, "operations": ["Read"]});
    // users[0] does not compile; users[1] is not even a valid document: the document's error is the answer.
    let cases = [
        json!({"users": [{"principal": "a", "acls": [bad_acl]}, {"principal": 7}]}),
        json!({"users": [{"principal": "a", "acls": [bad_acl]}, {"principal": "b", "acl": []}]}),
        json!({"users": [{"principal": "a", "acls": [bad_acl]}], "mode": "strict"}),
        json!({"users": {"principal": "a"}}),
    ];
    for policy in cases {
        let text = json!({"authorization": policy}).to_string();
        let error = kafka_mtls_filter::config_json::from_slice::<RawConfig>(text.as_bytes()).expect_err("refused");
        let expected = format!("configuration field `{}`: {}", error.path, error.message);
        assert_eq!(load_error(&policy), expected, "{policy}");
    }
}
