//! `explain` and the filter agree: every case is run through the CLI (as a process) and through a session
//! with the same policy, principal, host and request bytes (the CLI's own request encoder), and both must
//! allow or both deny.

use std::path::PathBuf;
use std::process::Command;
use std::rc::Rc;

use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::identity::PeerInfo;
use kafka_mtls_filter::protocol::{api, wire};
use kafka_mtls_filter::session::{Event, Session};
use kafka_protocol::messages::ApiKey;

#[allow(dead_code)] // the CLI's encoder; this test uses `encode_request` only
#[path = "../src/bin/kafka-mtls-filter/requests.rs"]
mod requests;

const BIN: &str = env!("CARGO_BIN_EXE_kafka-mtls-filter");

/// The CLI tests' policy, with a principal allowed Write on topics only (InitProducerId: issue 21).
const POLICY: &str = r#"{
  "identity": {"subject": {"mappingRules": "RULE:^CN=(.*?),O=.*$/$1/L,DEFAULT"}},
  "authorization": {
    "mode": "enforce",
    "superUsers": ["CN=kafka-admin"],
    "users": [
      {"principal": "User:CN=payments-checkout",
       "acls": [
         {"resource": {"type": "topic", "name": "orders", "patternType": "prefix"}, "operations": ["Write", "Describe"]},
         {"resource": {"type": "topic", "name": "orders-secret"}, "operation": "Write", "type": "deny"},
         {"resource": {"type": "transactionalId", "name": "checkout-", "patternType": "prefix"}, "operations": ["Write"]},
         {"resource": {"type": "topic", "name": "audit"}, "operations": ["Write"], "host": "10.0.0.7"}
       ]},
      {"principal": "CN=reporter",
       "acls": [{"resource": {"type": "group", "name": "reporting"}, "operations": ["Read"]},
                {"resource": {"type": "topic", "name": "orders"}, "operations": ["Read"]}]},
      {"principal": "CN=idempotent",
       "acls": [{"resource": {"type": "cluster"}, "operations": ["IdempotentWrite"]}]}
    ]
  }
}"#;

const AUDIT: &str = r#"{"authorization": {"mode": "audit", "users": [{"principal": "CN=a", "topicGrants": [{"topicName": "t", "accessType": "read"}]}]}}"#;
const OFF: &str = "{}";

struct Case {
    policy: &'static str,
    principal: &'static str,
    host: &'static str,
    api: ApiKey,
    version: Option<i16>,
    topics: &'static [&'static str],
    group: Option<&'static str>,
    transactional_id: Option<&'static str>,
}

const fn case(policy: &'static str, principal: &'static str, api: ApiKey, topics: &'static [&'static str]) -> Case {
    Case { policy, principal, host: "10.0.0.1", api, version: None, topics, group: None, transactional_id: None }
}

fn cases() -> Vec<(Case, bool)> {
    use ApiKey::*;
    vec![
        (
            Case {
                transactional_id: Some("checkout-7"),
                ..case(POLICY, "CN=payments-checkout", Produce, &["orders-eu"])
            },
            true,
        ),
        (Case { version: Some(9), ..case(POLICY, "CN=payments-checkout", Produce, &["orders-secret"]) }, false),
        (Case { group: Some("reporting"), ..case(POLICY, "CN=reporter", OffsetCommit, &["orders"]) }, true),
        (Case { group: Some("other-group"), ..case(POLICY, "CN=reporter", OffsetCommit, &["orders"]) }, false),
        (Case { group: Some("reporting"), ..case(POLICY, "CN=reporter", Fetch, &["orders"]) }, true),
        (Case { host: "10.0.0.7", ..case(POLICY, "CN=payments-checkout", Produce, &["audit"]) }, true),
        (Case { host: "10.0.0.8", ..case(POLICY, "CN=payments-checkout", Produce, &["audit"]) }, false),
        (case(POLICY, "CN=kafka-admin", CreateTopics, &["t"]), true),
        (case(POLICY, "CN=payments-checkout", CreateTopics, &["orders-new"]), false),
        (Case { version: Some(14), ..case(POLICY, "CN=payments-checkout", Produce, &["orders"]) }, false),
        // An idempotent producer: IdempotentWrite on the cluster OR Write on any topic (Kafka 3.0+).
        (case(POLICY, "CN=payments-checkout", InitProducerId, &[]), true),
        (case(POLICY, "CN=idempotent", InitProducerId, &[]), true),
        (case(POLICY, "CN=reporter", InitProducerId, &[]), false),
        (
            Case { transactional_id: Some("checkout-1"), ..case(POLICY, "CN=payments-checkout", InitProducerId, &[]) },
            true,
        ),
        (Case { transactional_id: Some("other"), ..case(POLICY, "CN=payments-checkout", InitProducerId, &[]) }, false),
        (case(AUDIT, "CN=a", Produce, &["t"]), false),
        (case(AUDIT, "CN=a", Fetch, &["t"]), true),
        (case(OFF, "CN=a", Produce, &["t"]), true),
    ]
}

fn version(case: &Case) -> i16 {
    let entry = api::lookup(case.api as i16);
    // The CLI names topics: Produce and Fetch at their newest version by name (by id they are decided on
    // names learned from the broker).
    let by_name = |v: i16| if matches!(case.api, ApiKey::Produce | ApiKey::Fetch) { v.min(12) } else { v };
    case.version.or(entry.map(|e| by_name(e.max_version)).filter(|v| *v >= 0)).unwrap_or(case.api.valid_versions().max)
}

fn policy_file(policy: &str, index: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kafka-mtls-filter-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{index}.json"));
    std::fs::write(&path, policy).expect("write policy");
    path
}

/// `explain`'s verdict: exit 0 is ALLOWED, 2 DENIED.
fn cli_allows(case: &Case, index: usize) -> bool {
    let path = policy_file(case.policy, index);
    let mut args = vec![
        "explain".to_string(),
        path.display().to_string(),
        format!("--principal={}", case.principal),
        format!("--api={:?}", case.api),
        format!("--version={}", version(case)),
        format!("--host={}", case.host),
    ];
    args.extend(case.topics.iter().map(|t| format!("--topic={t}")));
    args.extend(case.group.map(|g| format!("--group={g}")));
    args.extend(case.transactional_id.map(|t| format!("--transactional-id={t}")));
    let out = Command::new(BIN).args(&args).output().expect("run the CLI");
    match out.status.code() {
        Some(0) => true,
        Some(2) => false,
        code => panic!("explain {args:?}: exit {code:?}: {}", String::from_utf8_lossy(&out.stderr)),
    }
}

/// The filter's verdict on the same request: denied when it closes the connection or records a denial.
fn filter_allows(case: &Case) -> bool {
    let cfg = Config::parse(case.policy.as_bytes()).expect("valid policy");
    let mut session = Session::new(Rc::new(cfg), Some(&format!("{}:5000", case.host)));
    let peer = PeerInfo { mtls: true, subject: Some(case.principal.to_string()), ..PeerInfo::default() };
    session.identify(&peer, 0).expect("identified");
    let version = version(case);
    let facts = requests::RequestFacts {
        topics: case.topics.iter().map(|t| t.to_string()).collect(),
        group: case.group.map(str::to_string),
        transactional_id: case.transactional_id.map(str::to_string),
    };
    // As `explain` does: a version kafka-protocol cannot encode gets an empty body.
    let range = case.api.valid_versions();
    let body = if (range.min..=range.max).contains(&version) {
        requests::encode_request(case.api, version, &facts).expect("request facts")
    } else {
        Vec::new()
    };
    let frame = wire::request_frame(case.api as i16, version, 1, None, &body);
    let out = session.on_downstream(&frame);
    let denied = session.take_events().iter().any(|e| matches!(e, Event::Decision(d) if !d.allowed));
    out.close.is_none() && !denied
}

#[test]
fn explain_and_the_filter_decide_alike() {
    for (index, (case, expected)) in cases().iter().enumerate() {
        let (cli, filter) = (cli_allows(case, index), filter_allows(case));
        let what = format!("{} {:?} v{} {:?}", case.principal, case.api, version(case), case.topics);
        assert_eq!(cli, filter, "{what}: explain allows: {cli}, the filter allows: {filter}");
        assert_eq!(filter, *expected, "{what}");
    }
}
