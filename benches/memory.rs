//! Memory held per idle connection, measured with a counting global allocator: 1,000 sessions are created,
//! identified and taken through one ApiVersions round trip; the live heap delta divided by 1,000 plus
//! `size_of::<Session>()` is what one idle connection costs the filter. Target: <= 16 KiB.
//! Also prints the wasm module's size when it has been built (target: <= 1 MiB).
//!
//! Run: `cargo bench --bench memory` (a plain binary, no criterion).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use kafka_mtls_filter::frame::apply_edits;
use kafka_mtls_filter::session::Session;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::*;

use common::*;

/// Counts live heap bytes (requested sizes, not allocator overhead).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
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
