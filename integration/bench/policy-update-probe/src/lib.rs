//! Policy-update probe: every callback Envoy makes is logged as one line
//! `PROBE <event> key=value ...` (Envoy's wasm log, info level), so a script can tell
//!
//! * which VM a callback runs in (`vm`: a random token drawn when the VM's module instance first runs; a
//!   per-worker VM, the main thread's VM and a throw-away canary VM each get their own),
//! * which root context (`root`: its context id) created which stream context (`stream`),
//! * when `on_configure` runs and with which configuration (`hash`: FNV-1a of its bytes; `label`),
//! * module-global counters (per VM) and proxy-wasm shared data (per vm_id, process-wide in Envoy),
//! * whether Envoy keeps a counter incremented in every `on_configure` (`kmf_probe.configures`), canary included.
//!
//! The plugin configuration is whitespace-separated `key=value` text: `label=<name>` (shown in the log) and
//! `scope=<name>` (the shared-data key prefix this root publishes under: `probe/<scope>/latest`); `reject=1`
//! makes `on_configure` return false (a configuration that fails validation); `reads=<n>` makes every client
//! chunk read the scope's record n times and log nothing (the cost of a shared-data read).
//!
//! On `on_configure` the root publishes `gen=<n> hash=<h> label=<l> root=<id> vm=<token> t=<ns>` under its
//! scope's key, `n` one more than what was there (compare-and-swap). On every client chunk the stream logs its
//! own root's label beside the latest published one, and bumps a VM-global and a shared (`probe/count`)
//! counter. The probe passes every byte unchanged (used in front of an echo server).
//!
//! It also runs the publication rules the design in integration/bench/POLICY-UPDATES.md proposes (`head`:
//! bumped only for a different configuration; re-claimed by a root that creates a connection after the settle
//! time), and logs for each chunk the configuration the connection would decide under (`effective`).

use std::cell::{Cell, RefCell};
use std::hash::{BuildHasher, Hasher};
use std::rc::Rc;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, RootContext, StreamContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MetricType, PeerType, Status};

thread_local! {
    static VM_TOKEN: Cell<u64> = const { Cell::new(0) };
    static ROOTS_CREATED: Cell<u64> = const { Cell::new(0) };
    static CONFIGURES: Cell<u64> = const { Cell::new(0) };
    static DATA_EVENTS: Cell<u64> = const { Cell::new(0) };
}

fn vm_token() -> u64 {
    VM_TOKEN.with(|t| {
        if t.get() == 0 {
            // WASI random_get through std's hasher seed: distinct for every module instance.
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u64(now_ns());
            t.set(hasher.finish() | 1);
        }
        t.get()
    })
}

fn bump(counter: &'static std::thread::LocalKey<Cell<u64>>) -> u64 {
    counter.with(|c| {
        c.set(c.get() + 1);
        c.get()
    })
}

fn now_ns() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64)
}

fn log(line: String) {
    let _ = hostcalls::log(LogLevel::Info, &format!("PROBE {line} vm={:016x}", vm_token()));
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_get_property(path: *const u8, path_size: usize, value: *mut *mut u8, value_size: *mut usize) -> u32;
}

/// A property as printable text (`-` when absent, `!<status>` on an error), without the SDK's panics.
fn property(path: &[&str]) -> String {
    let joined = path.join("\0");
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size = 0usize;
    let status = unsafe { proxy_get_property(joined.as_ptr(), joined.len(), &mut data, &mut size) };
    if status != 0 {
        return if status == 1 { "-".into() } else { format!("!{status}") };
    }
    if data.is_null() {
        return "-".into();
    }
    let bytes = unsafe { Vec::from_raw_parts(data, size, size) };
    let text: String = String::from_utf8_lossy(&bytes)
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '.' })
        .take(60)
        .collect();
    if text.is_empty() { "''".into() } else { text }
}

fn shared_get(key: &str) -> (String, Option<u32>) {
    match hostcalls::get_shared_data(key) {
        Ok((value, cas)) => (value.map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default(), cas),
        Err(status) => (format!("error {status:?}"), None),
    }
}

fn field<'a>(record: &'a str, name: &str) -> &'a str {
    record
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
        .unwrap_or("-")
}

/// Adds one to the shared decimal counter `key` (compare-and-swap, bounded retries).
fn shared_increment(key: &str) -> String {
    for _ in 0..16 {
        let (value, cas) = shared_get(key);
        let next = value.parse::<u64>().unwrap_or(0) + 1;
        match hostcalls::set_shared_data(key, Some(next.to_string().as_bytes()), cas) {
            Ok(()) => return next.to_string(),
            Err(Status::CasMismatch) => continue,
            Err(status) => return format!("error{status:?}"),
        }
    }
    "cas-exhausted".into()
}

/// The design's publication (integration/bench/POLICY-UPDATES.md): `probe/<scope>/head` =
/// `gen=<n> hash=<h> label=<l> ms=<publish time>`, bumped only when the hash differs from what is there, so
/// the canary, main and worker VMs configuring one update bump it once.
fn publish_head(scope: &str, hash: u64, label: &str, root: u32, reason: &str) {
    let key = format!("probe/{scope}/head");
    let hash_text = format!("{hash:016x}");
    for _ in 0..16 {
        let (before, cas) = shared_get(&key);
        if field(&before, "hash") == hash_text {
            return;
        }
        let gen = field(&before, "gen").parse::<u64>().unwrap_or(0) + 1;
        let record = format!("gen={gen} hash={hash_text} label={label} ms={}", now_ns() / 1_000_000);
        match hostcalls::set_shared_data(&key, Some(record.as_bytes()), cas) {
            Ok(()) => {
                let previous = field(&before, "label");
                log(format!("head root={root} reason={reason} label={label} gen={gen} before={previous}"));
                return;
            }
            Err(Status::CasMismatch) => continue,
            Err(_) => return,
        }
    }
}

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|context_id| -> Box<dyn RootContext> {
        let n = bump(&ROOTS_CREATED);
        log(format!("root_new root={context_id} roots_in_vm={n}"));
        Box::new(ProbeRoot { id: context_id, cfg: Rc::new(RefCell::new(RootCfg::default())) })
    });
}}

#[derive(Default, Clone)]
struct RootCfg {
    label: String,
    scope: String,
    hash: u64,
    /// `reads=N`: quiet mode for cost measurement: each client chunk reads the scope's record N times and
    /// logs nothing.
    reads: Option<u32>,
    /// `settle_ms=N` (default 2000): the design's settle time S (see [`publish_head`]).
    settle_ms: u64,
}

struct ProbeRoot {
    id: u32,
    cfg: Rc<RefCell<RootCfg>>,
}

impl Context for ProbeRoot {
    fn on_done(&mut self) -> bool {
        let cfg = self.cfg.borrow();
        log(format!("root_done root={} label={}", self.id, cfg.label));
        true
    }
}

impl RootContext for ProbeRoot {
    fn on_vm_start(&mut self, _size: usize) -> bool {
        log(format!("vm_start root={}", self.id));
        true
    }

    fn on_configure(&mut self, _size: usize) -> bool {
        let raw = self.get_plugin_configuration().unwrap_or_default();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let hash = fnv1a(&raw);
        let label = field(&text, "label").to_string();
        let scope = field(&text, "scope").to_string();
        let n = bump(&CONFIGURES);
        let t = now_ns();
        log(format!(
            "configure root={} label={label} hash={hash:016x} configures_in_vm={n} t={t} plugin_name={} \
             plugin_root_id={} plugin_vm_id={} listener_direction={} listener_metadata={} xds.listener_name={} \
             xds.node.id={}",
            self.id,
            property(&["plugin_name"]),
            property(&["plugin_root_id"]),
            property(&["plugin_vm_id"]),
            property(&["listener_direction"]),
            property(&["listener_metadata"]),
            property(&["xds", "listener_name"]),
            property(&["xds", "node", "id"]),
        ));
        if field(&text, "reject") == "1" {
            log(format!("configure_rejected root={} label={label}", self.id));
            return false;
        }
        // Does a counter incremented in the canary VM (killed right after) reach Envoy's stats?
        if let Ok(id) = hostcalls::define_metric(MetricType::Counter, "kmf_probe.configures") {
            let _ = hostcalls::increment_metric(id, 1);
        }
        let reads = field(&text, "reads").parse::<u32>().ok();
        let settle_ms = field(&text, "settle_ms").parse::<u64>().unwrap_or(2000);
        *self.cfg.borrow_mut() = RootCfg { label: label.clone(), scope: scope.clone(), hash, reads, settle_ms };
        publish_head(&scope, hash, &label, self.id, "configure");
        // Publish: generation one above what is there.
        let key = format!("probe/{scope}/latest");
        for _ in 0..16 {
            let (before, cas) = shared_get(&key);
            let gen = field(&before, "gen").parse::<u64>().unwrap_or(0) + 1;
            let record =
                format!("gen={gen} hash={hash:016x} label={label} root={} vm={:016x} t={t}", self.id, vm_token());
            match hostcalls::set_shared_data(&key, Some(record.as_bytes()), cas) {
                Ok(()) => {
                    log(format!(
                        "publish root={} key={key} before_gen={} before_label={} before_vm={} gen={gen}",
                        self.id,
                        field(&before, "gen"),
                        field(&before, "label"),
                        field(&before, "vm")
                    ));
                    break;
                }
                Err(Status::CasMismatch) => continue,
                Err(status) => {
                    log(format!("publish_failed root={} status={status:?}", self.id));
                    break;
                }
            }
        }
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::StreamContext)
    }

    fn create_stream_context(&self, context_id: u32) -> Option<Box<dyn StreamContext>> {
        let cfg = self.cfg.borrow().clone();
        log(format!("stream_new root={} stream={context_id} label={} hash={:016x}", self.id, cfg.label, cfg.hash));
        // The design's reclaim: Envoy creates new connections only with the filter configuration in force, so a
        // root whose configuration is not `head`'s, long after `head` was published, was re-activated by Envoy
        // without on_configure (a revert to a configuration a draining listener still holds).
        let (head, _) = shared_get(&format!("probe/{}/head", cfg.scope));
        let head_hash = field(&head, "hash");
        let head_ms = field(&head, "ms").parse::<u64>().unwrap_or(0);
        if head_hash != format!("{:016x}", cfg.hash) && now_ns() / 1_000_000 >= head_ms + cfg.settle_ms {
            publish_head(&cfg.scope, cfg.hash, &cfg.label, self.id, "reclaim");
        }
        Some(Box::new(ProbeStream { root: self.id, id: context_id, cfg: self.cfg.clone() }))
    }
}

struct ProbeStream {
    root: u32,
    id: u32,
    cfg: Rc<RefCell<RootCfg>>,
}

impl Context for ProbeStream {
    fn on_done(&mut self) -> bool {
        log(format!("stream_done root={} stream={}", self.root, self.id));
        true
    }
}

impl StreamContext for ProbeStream {
    fn on_downstream_data(&mut self, data_size: usize, _end_of_stream: bool) -> Action {
        if data_size == 0 {
            return Action::Continue;
        }
        let cfg = self.cfg.borrow().clone();
        if let Some(reads) = cfg.reads {
            let key = format!("probe/{}/latest", cfg.scope);
            let mut total = 0usize;
            for _ in 0..reads {
                if let Ok((Some(value), _)) = hostcalls::get_shared_data(&key) {
                    total += value.len();
                }
            }
            std::hint::black_box(total);
            return Action::Continue;
        }
        let (latest, _) = shared_get(&format!("probe/{}/latest", cfg.scope));
        // The design: the connection decides under `head`'s configuration.
        let (head, _) = shared_get(&format!("probe/{}/head", cfg.scope));
        let n = bump(&DATA_EVENTS);
        let shared_count = shared_increment("probe/count");
        let chunk = hostcalls::get_buffer(BufferType::DownstreamData, 0, data_size.min(64))
            .ok()
            .flatten()
            .map(|b| String::from_utf8_lossy(&b).split_whitespace().next().unwrap_or("").to_string())
            .unwrap_or_default();
        log(format!(
            "data root={} stream={} own_label={} own_hash={:016x} latest_label={} latest_gen={} latest_vm={} \
             t={} data_in_vm={n} shared_count={shared_count} msg={chunk} filter_chain={} stream_listener_metadata={} \
             effective={} effective_gen={}",
            self.root,
            self.id,
            cfg.label,
            cfg.hash,
            field(&latest, "label"),
            field(&latest, "gen"),
            field(&latest, "vm"),
            now_ns(),
            property(&["xds", "filter_chain_name"]),
            property(&["xds", "listener_metadata"]),
            field(&head, "label"),
            field(&head, "gen"),
        ));
        Action::Continue
    }

    fn on_downstream_close(&mut self, _peer_type: PeerType) {}
}
