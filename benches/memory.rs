//! Memory held per idle connection, measured with a counting global allocator: 1,000 sessions are created,
//! identified and taken through one ApiVersions round trip; the live heap delta divided by 1,000 plus
//! `size_of::<Session>()` is what one idle connection costs the filter. Target: <= 16 KiB.
//!
//! Then a large policy: the configuration of 10,000 principals x 10 ACL entries (integration/bench/scale.py's
//! `principals_policy`, the same 14.5 MB document) read and compiled by `Config::parse`: the peak heap while it
//! runs, the heap the compiled configuration keeps, and the time. In Envoy every thread-local wasm VM does this
//! with the document in its own heap, and linear memory never shrinks: the peak is what each VM keeps.
//!
//! Also prints the wasm module's size when it has been built (target: <= 1 MiB).
//!
//! Run: `cargo bench --bench memory` (a plain binary, no criterion).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use kafka_mtls_filter::config::Config;
use kafka_mtls_filter::frame::apply_edits;
use kafka_mtls_filter::session::Session;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::*;

use common::*;

/// Counts live heap bytes (requested sizes, not allocator overhead) and their peak.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn grow(bytes: isize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grow(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const SESSIONS: usize = 1000;
const TARGET_BYTES: usize = 16 * 1024;
const WASM_TARGET_BYTES: u64 = 1 << 20;
const WASM: &str = "target/wasm32-wasip1/release/kafka_mtls_filter.wasm";

fn api_versions_response() -> Vec<u8> {
    let v = |k: ApiKey, max| ApiVersion::default().with_api_key(k as i16).with_min_version(0).with_max_version(max);
    let keys = vec![v(ApiKey::Produce, 11), v(ApiKey::Fetch, 16), v(ApiKey::Metadata, 12), v(ApiKey::ApiVersions, 3)];
    response(ApiKey::ApiVersions, 3, 1, &ApiVersionsResponse::default().with_api_keys(keys))
}

/// Identify, then one ApiVersions request and its (clamped) response: an idle, established connection.
fn idle_session(cfg: &std::rc::Rc<kafka_mtls_filter::config::Config>, req: &[u8], resp: &[u8]) -> Session {
    let mut s = session(cfg);
    let out = s.on_downstream(req);
    assert!(out.close.is_none(), "{:?}", out.close);
    let out = s.on_upstream(resp);
    assert!(out.close.is_none(), "{:?}", out.close);
    assert!(!apply_edits(resp, &out.edits).is_empty());
    assert_eq!(s.inflight_len(), 0);
    drop(s.take_events());
    s
}

/// Principals in the large policy (scale.py's default `--principals`).
const PRINCIPALS: usize = 10_000;

/// integration/bench/scale.py `principals_policy(count)` as Python's `json.dumps` writes it: bench.py's
/// `thousand_rule_policy` (the benchmark client's 10 entries, then 99 teams of 10 entries: literal and prefix,
/// allow and deny, topics, groups, one with a host), its teams repeated under new names for `count - 1` more
/// principals.
fn principals_policy(count: usize) -> String {
    let acl = |resource: &str, operations: &str, rest: &str| {
        format!(r#"{{"resource": {resource}, "operations": [{operations}]{rest}}}"#)
    };
    let star = r#", "host": "*", "type": "allow""#;
    let mut own = vec![
        acl(r#"{"type": "topic", "name": "bench-", "patternType": "prefix"}"#, r#""Write", "Read", "Describe""#, star),
        acl(r#"{"type": "group", "name": "kmf-", "patternType": "prefix"}"#, r#""Read", "Describe""#, star),
        acl(
            r#"{"type": "topic", "name": "bench-secret", "patternType": "literal"}"#,
            r#""All""#,
            r#", "host": "*", "type": "deny""#,
        ),
        acl(r#"{"type": "cluster"}"#, r#""IdempotentWrite""#, star),
    ];
    for i in 0..6 {
        own.push(acl(
            &format!(r#"{{"type": "topic", "name": "audit-{i}", "patternType": "literal"}}"#),
            r#""Read""#,
            star,
        ));
    }
    let mut users = vec![format!(r#"{{"principal": "User:CN=kafka-default", "acls": [{}]}}"#, own.join(", "))];
    for index in 0..count.saturating_sub(1) {
        let team = index % 99;
        let owner = format!("svc{index}-team{team}");
        let acls: Vec<String> = (0..10)
            .map(|j| {
                let resource = |ty: &str, name: String, pattern: &str| {
                    format!(r#"{{"type": "{ty}", "name": "{name}", "patternType": "{pattern}"}}"#)
                };
                let allow = r#", "type": "allow""#;
                match j % 5 {
                    0 => acl(
                        &resource("topic", format!("{owner}-events-{j}"), "literal"),
                        r#""Write", "Describe""#,
                        allow,
                    ),
                    1 => acl(&resource("topic", format!("{owner}-{j}-"), "prefix"), r#""Read""#, allow),
                    2 => acl(&resource("group", format!("{owner}-consumers-{j}"), "literal"), r#""Read""#, allow),
                    3 => acl(
                        &resource("topic", format!("bench-{owner}-{j}"), "literal"),
                        r#""Write""#,
                        r#", "host": "10.0.0.1", "type": "allow""#,
                    ),
                    _ => acl(
                        &resource("topic", format!("{owner}-private-{j}"), "prefix"),
                        r#""All""#,
                        r#", "type": "deny""#,
                    ),
                }
            })
            .collect();
        users.push(format!(r#"{{"principal": "User:CN=svc{index}-app", "acls": [{}]}}"#, acls.join(", ")));
    }
    let identity = concat!(
        r#"{"spiffe": {"principal": "CN={namespace}-{serviceAccount}", "trustDomains": ["cluster.local"]}, "#,
        r#""subject": {"mappingRules": "RULE:^CN=([^,]+),O=acme$/$1/L,DEFAULT"}, "prefer": "spiffe", "#,
        r#""unauthenticated": "anonymous"}"#
    );
    format!(
        r#"{{"identity": {identity}, "authorization": {{"mode": "enforce", "superUsers": [], "users": [{}]}}}}"#,
        users.join(", ")
    )
}

/// Reads and compiles the `count`-principal policy: peak and kept heap over the document's, and the time.
fn policy_memory(count: usize) {
    let text = principals_policy(count);
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let started = std::time::Instant::now();
    let config = Config::parse(text.as_bytes()).expect("the large policy is valid");
    let elapsed = started.elapsed();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    let kept = LIVE.load(Ordering::Relaxed) - base;
    let mib = |bytes: isize| bytes as f64 / 1_048_576.0;
    println!(
        "memory: policy of {count} principals ({} B of JSON, {} rules): Config::parse peak heap +{:.1} MiB, \
         kept +{:.1} MiB, {:.0} ms",
        text.len(),
        config.authorizer.rules().count(),
        mib(peak),
        mib(kept),
        elapsed.as_secs_f64() * 1000.0
    );
    drop(config);
}

fn main() {
    // `cargo bench` passes `--bench`; filters are ignored: this binary measures one thing.
    let cfg = config(ENFORCE_POLICY);
    let req = request(ApiKey::ApiVersions, 3, 1, &ApiVersionsRequest::default());
    let resp = api_versions_response();
    // Warm lazily initialised statics (none expected, but do not bill them to the sessions).
    drop(idle_session(&cfg, &req, &resp));

    let mut sessions: Vec<Session> = Vec::with_capacity(SESSIONS);
    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..SESSIONS {
        let s = idle_session(&cfg, &req, &resp);
        sessions.push(s);
    }
    let heap = (LIVE.load(Ordering::Relaxed) - before).max(0) as usize / SESSIONS;
    let inline = std::mem::size_of::<Session>();
    let held: usize = sessions.iter().map(Session::held_bytes).sum::<usize>() / SESSIONS;
    let per_connection = inline + heap;
    println!("memory: size_of::<Session>() = {inline} B");
    println!("memory: heap per idle session (allocator delta / {SESSIONS}) = {heap} B");
    println!("memory: Session::held_bytes() per idle session = {held} B");
    println!(
        "memory: bytes per idle connection = {per_connection} B (target <= {TARGET_BYTES} B: {})",
        if per_connection <= TARGET_BYTES { "ok" } else { "OVER" }
    );
    drop(sessions);

    policy_memory(PRINCIPALS);

    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from);
    let wasm = match &target_dir {
        Some(dir) => dir.join("wasm32-wasip1/release/kafka_mtls_filter.wasm"),
        None => manifest.join(WASM),
    };
    match std::fs::metadata(&wasm) {
        Ok(m) => println!(
            "memory: wasm module {} = {} B (target <= {WASM_TARGET_BYTES} B: {})",
            wasm.display(),
            m.len(),
            if m.len() <= WASM_TARGET_BYTES { "ok" } else { "OVER" }
        ),
        Err(_) => println!(
            "memory: wasm module not built ({}); build with `cargo build --release --target wasm32-wasip1`",
            wasm.display()
        ),
    }
}
