//! The `kafka-mtls-filter` CLI, run as a process: every subcommand, its exit codes and what it prints, with
//! the identity test certificates of tests/fixtures/identity.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_kafka-mtls-filter");

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
         {"resource": {"type": "transactionalId", "name": "checkout-"  , "patternType": "prefix"}, "operations": ["Write"]},
         {"resource": {"type": "topic", "name": "audit"}, "operations": ["Write"], "host": "10.0.0.7"}
       ]},
      {"principal": "User:external-kafkauser",
       "topicGrants": [{"topicName": "orders", "accessType": "read"}]},
      {"principal": "CN=reporter",
       "acls": [{"resource": {"type": "group", "name": "reporting"}, "operations": ["Read"]},
                {"resource": {"type": "topic", "name": "orders"}, "operations": ["Read"]}]}
    ]
  },
  "propagation": {"mode": "banzai-preamble"}
}"#;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/identity/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A new file under a directory unique to this test process. Each call gets its own file: tests run in
/// parallel, and rewriting a shared file lets another test read it half-written (an empty policy).
fn temp_file(name: &str, contents: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let unique = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("kafka-mtls-filter-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{unique}-{name}"));
    std::fs::write(&path, contents).expect("write temp file");
    path
}

fn policy() -> PathBuf {
    temp_file("policy.json", POLICY)
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run the CLI")
}

fn run_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the CLI");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("wait for the CLI")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn validate_accepts_a_policy_and_summarizes_it() {
    let policy = policy();
    let out = run(&["validate", path(&policy)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("configuration OK"), "{text}");
    assert!(text.contains("mode enforce"), "{text}");
    assert!(text.contains("1 super users"), "{text}");
    assert!(text.contains("propagation: banzai-preamble"), "{text}");
    assert!(text.contains("maxHeldBytesPerConnection 16777216, maxHeldBytesPerVm 268435456"), "{text}");
}

#[test]
fn validate_names_the_field_at_fault() {
    let broken = r#"{"authorization": {"mode": "enforce", "users": [{"principal": "CN=a",
        "acls": [{"resource": {"type": "topic", "name": "x"}, "operations": ["Raed"]}]}]}}"#;
    let out = run_with_stdin(&["validate", "-"], broken);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(err.contains("authorization.users[0].acls[0].operations[0]"), "{err}");
    assert!(err.contains("unknown operation `Raed`"), "{err}");

    let unknown_field = temp_file("unknown-field.json", r#"{"propagation": {"mode": "none", "modee": 1}}"#);
    let out = run(&["validate", path(&unknown_field)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("propagation"), "{}", stderr(&out));
}

#[test]
fn validate_reports_an_unreadable_file() {
    let out = run(&["validate", "/nonexistent/policy.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot read `/nonexistent/policy.json`"), "{}", stderr(&out));
}

#[test]
fn principal_from_spiffe_and_subject_certificates() {
    let policy = policy();
    let out = run(&["principal", "--cert", &fixture("istio.pem"), path(&policy)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "User:CN=payments-checkout (source: spiffe)\n");

    // The mapping rule keeps the CN and lower-cases it.
    let out = run(&["principal", "--cert", &fixture("subject-only.pem"), path(&policy)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "User:external-kafkauser (source: subject)\n");
}

#[test]
fn principal_refusals_say_why() {
    let policy = policy();
    let out = run(&["principal", "--cert", &fixture("expired.pem"), path(&policy)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("refused: "), "{}", stderr(&out));
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));

    // In 2020 the same certificate was valid.
    let out = run(&["principal", "--cert", &fixture("expired.pem"), "--now", "1590000000", path(&policy)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = run(&["principal", "--cert", &fixture("two-spiffe-ids.pem"), path(&policy)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("refused: "), "{}", stderr(&out));
}

#[test]
fn explain_allowed_produce_names_the_rule() {
    let policy = policy();
    let out = run(&[
        "explain",
        path(&policy),
        "--principal",
        "CN=payments-checkout",
        "--api",
        "produce",
        "--topic",
        "orders-eu",
        "--transactional-id",
        "checkout-7",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("request: Produce v12 from User:CN=payments-checkout"), "{text}");
    assert!(text.contains("requirement 1: Write transactionalId `checkout-7`"), "{text}");
    assert!(text.contains("Write topic `orders-eu`: ALLOWED by users[0].acls[0]"), "{text}");
    assert!(text.ends_with("result: ALLOWED\n"), "{text}");
}

#[test]
fn explain_denied_produce_exits_2() {
    let policy = policy();
    let out = run(&[
        "explain",
        path(&policy),
        "--principal=User:CN=payments-checkout",
        "--api=Produce",
        "--topic=orders-secret",
        "--version=9",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Produce v9"), "{text}");
    assert!(text.contains("Write topic `orders-secret`: DENIED by users[0].acls[1]"), "{text}");
    assert!(text.ends_with("result: DENIED\n"), "{text}");
}

#[test]
fn explain_consumer_group_and_hosts() {
    let policy = policy();
    let consume = |api: &str, group: &str| {
        run(&[
            "explain",
            path(&policy),
            "--principal",
            "CN=reporter",
            "--api",
            api,
            "--topic",
            "orders",
            "--group",
            group,
        ])
    };
    assert_eq!(consume("offsetcommit", "reporting").status.code(), Some(0));
    let out = consume("offsetcommit", "other-group");
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stdout(&out).contains("Read group `other-group`: DENIED"), "{}", stdout(&out));
    assert_eq!(consume("fetch", "reporting").status.code(), Some(0));

    let audit = |host: &str| {
        run(&[
            "explain",
            path(&policy),
            "--principal",
            "CN=payments-checkout",
            "--api",
            "produce",
            "--topic",
            "audit",
            "--host",
            host,
        ])
        .status
        .code()
    };
    assert_eq!(audit("10.0.0.7"), Some(0));
    assert_eq!(audit("10.0.0.8"), Some(2));
}

#[test]
fn explain_super_user_and_create_topics_alternatives() {
    let policy = policy();
    let out =
        run(&["explain", path(&policy), "--principal", "CN=kafka-admin", "--api", "createtopics", "--topic", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("Create cluster `kafka-cluster` OR Create topic `t`"), "{text}");
    assert!(text.contains("ALLOWED by superUsers"), "{text}");
}

#[test]
fn explain_unsupported_version_is_denied_like_the_filter() {
    let policy = policy();
    let out = run(&[
        "explain",
        path(&policy),
        "--principal",
        "CN=payments-checkout",
        "--api",
        "produce",
        "--topic",
        "orders",
        "--version",
        "14",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stdout(&out).contains("cannot classify"), "{}", stdout(&out));
}

#[test]
fn explain_in_audit_and_off_modes() {
    let audit = temp_file(
        "audit.json",
        r#"{"authorization": {"mode": "audit", "users": [{"principal": "CN=a", "topicGrants": [{"topicName": "t", "accessType": "read"}]}]}}"#,
    );
    let out = run(&["explain", path(&audit), "--principal", "CN=a", "--api", "produce", "--topic", "t"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("audit mode"), "{}", stdout(&out));

    let off = temp_file("off.json", "{}");
    let out = run(&["explain", path(&off), "--principal", "CN=a", "--api", "produce", "--topic", "t"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("authorization is off"), "{}", stdout(&out));
}

#[test]
fn explain_usage_errors() {
    let policy = policy();
    let out = run(&["explain", path(&policy), "--principal", "CN=a", "--api", "produce"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("--topic"), "{}", stderr(&out));

    let out = run(&["explain", path(&policy), "--principal", "CN=a", "--api", "frobnicate"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("unknown Kafka API"), "{}", stderr(&out));

    let out = run(&["explain", path(&policy), "--api", "produce", "--topic", "t"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("missing `--principal`"), "{}", stderr(&out));
}

#[test]
fn credentials_for_banzai_preamble_lists_principals() {
    let policy = policy();
    let out = run(&["credentials", path(&policy)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("propagation mode: banzai-preamble"), "{text}");
    assert!(text.contains("PlaintextChannelWithOptionalUserIdentity"), "{text}");
    for principal in ["User:CN=kafka-admin", "User:CN=payments-checkout", "User:external-kafkauser"] {
        assert!(text.contains(&format!("principal {principal}: no credential")), "{principal}: {text}");
    }
}

#[test]
fn usage_help_and_version() {
    let out = run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("unknown command `frobnicate`"));
    assert!(stderr(&out).contains("Usage: kafka-mtls-filter"));
    assert!(stdout(&out).is_empty());

    assert_eq!(run(&[]).status.code(), Some(64));

    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), format!("kafka-mtls-filter {}\n", env!("CARGO_PKG_VERSION")));

    for command in ["validate", "principal", "explain", "credentials"] {
        let out = run(&[command, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{command}");
        assert!(stdout(&out).starts_with(&format!("Usage: kafka-mtls-filter {command}")), "{command}");
    }

    let out = run(&["validate", "--bogus", "x"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("unknown option `--bogus`"));
}

#[test]
fn credentials_for_sasl_scram_print_the_broker_command_with_the_derived_password() {
    let config = temp_file(
        "sasl-scram.json",
        r#"{"propagation": {"mode": "sasl", "sasl": {"mechanism": "SCRAM-SHA-512", "passwordSecretEnv": "KMF_TEST_SECRET"}},
            "authorization": {"mode": "enforce", "users": [{"principal": "User:CN=kafka-default",
              "acls": [{"resource": {"type": "topic", "name": "a"}, "operations": ["Read"]}]}]}}"#,
    );
    let out = Command::new(BIN)
        .args(["credentials", path(&config)])
        .env("KMF_TEST_SECRET", "0123456789abcdef0123")
        .output()
        .expect("run the CLI");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let derived = kafka_mtls_filter::propagation::derive_password(b"0123456789abcdef0123", "User:CN=kafka-default")
        .expect("derive");
    assert!(text.contains("sasl.enabled.mechanisms=SCRAM-SHA-512"), "{text}");
    assert!(text.contains(&format!("SCRAM-SHA-512=[iterations=8192,password={derived}]")), "{text}");
    // Without the secret in the environment the configuration does not load, naming the field.
    let out = Command::new(BIN).args(["credentials", path(&config)]).env_remove("KMF_TEST_SECRET").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("propagation.sasl.passwordSecretEnv"), "{}", stderr(&out));
}

/// `explain --operation OP --resource TYPE:NAME`: Kafka's authorizer question itself, for operations no API
/// exercises (All, CreateTokens, DescribeTokens, Write on a group) as an operator auditing a policy asks them.
#[test]
fn explain_answers_the_authorizers_own_question() {
    let policy = temp_file(
        "question.json",
        r#"{"authorization": {"mode": "enforce", "users": [
             {"principal": "User:ops", "acls": [
               {"resource": {"type": "cluster"}, "operations": ["All"]},
               {"resource": {"type": "group", "name": "billing"}, "operations": ["Write"]}]},
             {"principal": "User:alice", "acls": [
               {"resource": {"type": "cluster"}, "operations": ["Alter"]}]}]}}"#,
    );
    let ask = |principal: &str, op: &str, resource: &str| {
        run(&["explain", path(&policy), "--principal", principal, "--operation", op, "--resource", resource])
    };
    let out = ask("User:ops", "All", "cluster:kafka-cluster");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("perform All on cluster `kafka-cluster`"), "{}", stdout(&out));
    assert!(stdout(&out).contains("ALLOWED: by users[0].acls[0]"), "{}", stdout(&out));
    // An Alter ACL is not an All ACL (Kafka matches All only against All).
    assert_eq!(ask("User:alice", "ALL", "cluster").status.code(), Some(2));
    assert_eq!(ask("User:ops", "WRITE", "group:billing").status.code(), Some(0));
    assert_eq!(ask("User:alice", "Write", "group:billing").status.code(), Some(2));
    // All on the cluster is not All on a user: tokens are their own resource.
    assert_eq!(ask("User:ops", "CREATE_TOKENS", "user:User:alice").status.code(), Some(2));
    assert_eq!(ask("User:ops", "DescribeTokens", "user:User:ops").status.code(), Some(2));
    // Usage errors.
    assert_eq!(ask("User:ops", "Fly", "cluster").status.code(), Some(64));
    assert_eq!(ask("User:ops", "Read", "queue:q").status.code(), Some(64));
    assert_eq!(ask("User:ops", "Read", "topic").status.code(), Some(64));
    assert_eq!(ask("User:ops", "Read", "cluster:other").status.code(), Some(64));
}

/// `principal --subject DN`: the mapping rules applied to a DN, as Kafka's SslPrincipalMapper applies them.
#[test]
fn principal_maps_a_subject_dn_directly() {
    let out = run(&["principal", "--subject", "CN=Payments-Checkout,O=acme", path(&policy())]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "User:payments-checkout (source: subject)\n");
    // No rule matches: refused, as Kafka refuses it.
    let strict =
        temp_file("strict.json", r#"{"identity": {"subject": {"mappingRules": "RULE:^CN=(.*),O=acme$/$1/"}}}"#);
    let out = run(&["principal", "--subject", "CN=x,O=other", path(&strict)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("refused"), "{}", stderr(&out));
    let both = run(&["principal", "--subject", "CN=x", "--cert", &fixture("mesh-default.crt"), path(&strict)]);
    assert_eq!(both.status.code(), Some(64));
}
