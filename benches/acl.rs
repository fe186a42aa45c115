//! One ACL decision against a policy of 10,000+ rules (literal, prefix and wildcard patterns, many
//! principals, deny rules, `User:*`). Target: <= 200 ns per `authorize()`.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::policy::RequestCtx;
use kafka_mtls_filter::protocol::acl::{Action, Operation, ResourceType};
use serde_json::json;

use common::*;

const PRINCIPALS: usize = 1000;

/// 1,000 principals x 5 ACL entries (10 operations) + rules for everyone.
fn policy() -> String {
    let users: Vec<_> = (0..PRINCIPALS)
        .map(|i| {
            json!({"principal": format!("User:CN=team-{i}-app"), "acls": [
                {"resource": {"type": "topic", "name": format!("team-{i}-events")}, "operations": ["Write", "Describe"]},
                {"resource": {"type": "topic", "name": format!("team-{i}."), "patternType": "prefix"},
                 "operations": ["Read", "Describe"]},
                {"resource": {"type": "group", "name": format!("team-{i}-"), "patternType": "prefix"},
                 "operations": ["Read"]},
                {"resource": {"type": "topic", "name": format!("team-{i}.secret"), "patternType": "prefix"},
                 "operations": ["Read"], "type": "deny"},
                {"resource": {"type": "transactionalId", "name": format!("team-{i}-tx")},
                 "operations": ["Write", "Describe", "DescribeConfigs", "Alter"]}
            ]})
        })
        .chain(std::iter::once(json!({"principal": "User:*", "acls": [
            {"resource": {"type": "topic", "name": "*"}, "operations": ["DescribeConfigs"]},
            {"resource": {"type": "topic", "name": "public-", "patternType": "prefix"}, "operations": ["Read"]}
        ]})))
        .collect();
    json!({"identity": {"unauthenticated": "anonymous"}, "authorization": {"mode": "enforce", "users": users}})
        .to_string()
}

fn action(op: Operation, resource_type: ResourceType, name: &str) -> Action<'_> {
    Action { op, resource_type, name: name.into() }
}

fn acl(c: &mut Criterion) {
    let text = policy();
    let started = Instant::now();
    let cfg = Config::parse(text.as_bytes()).expect("valid policy");
    let compile = started.elapsed();
    let auth = &cfg.authorizer;
    let rules = auth.rules().count();
    assert!(rules >= 10_000, "{rules} rules");
    println!("acl: {rules} rules, {} policy bytes, parse+compile {:.1} ms", text.len(), compile.as_secs_f64() * 1e3);

    let ctx =
        |principal| RequestCtx { principal, host: "10.1.2.3", api_key: 0, api_version: 9, client_id: Some("app") };
    let cases = [
        (
            "literal-allow",
            "User:CN=team-517-app",
            action(Operation::Write, ResourceType::Topic, "team-517-events"),
            true,
        ),
        (
            "prefix-allow",
            "User:CN=team-517-app",
            action(Operation::Read, ResourceType::Topic, "team-517.orders.v1"),
            true,
        ),
        (
            "prefix-deny",
            "User:CN=team-517-app",
            action(Operation::Read, ResourceType::Topic, "team-517.secret-x"),
            false,
        ),
        ("wildcard-allow", "User:CN=team-517-app", action(Operation::DescribeConfigs, ResourceType::Topic, "x"), true),
        ("everyone-prefix", "User:CN=unknown", action(Operation::Read, ResourceType::Topic, "public-news"), true),
        ("no-match", "User:CN=team-517-app", action(Operation::Write, ResourceType::Topic, "team-518-events"), false),
    ];
    let mut group = c.benchmark_group("acl_10k");
    group.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(20);
    for (name, principal, action, allowed) in &cases {
        let ctx = ctx(*principal);
        assert_eq!(auth.authorize(&ctx, action).allowed, *allowed, "{name}");
        describe(&format!("acl_10k/{name}"), 0, 1);
        group.bench_function(*name, |b| b.iter(|| auth.authorize(black_box(&ctx), black_box(action))));
    }
    group.finish();
}

criterion_group!(benches, acl);
criterion_main!(benches);
