//! Every VM told at once that a new policy generation was published, through proxy-wasm shared queues.
//!
//! A VM learns of a publication by reading the head from shared data; reading it at every request cost a
//! quarter of the filter's work per request (`policy_updates`), so each VM keeps a copy, which its roots'
//! timer refreshes. That alone would let a connection in a VM that does not configure the update itself
//! (Istio's new VM per change of a `file://` module, an ECDS update back to a configuration a worker still
//! has a root for) decide a timer period of requests on the old policy after Envoy accepted the new one.
//! So each root context registers a queue, named with its VM's token and its context id and listed in shared
//! data per scope, and the VM that publishes a generation enqueues a notice to every listed queue: Envoy runs
//! the registering root's `on_queue_ready` on that VM's thread, which refreshes the VM's copy. The notice is
//! posted before Envoy counts the update, so the VM refreshes before it reads a request sent after that. A
//! queue per root, not per VM: a VM keeps serving old connections through an old root after Envoy destroyed
//! the roots of later configurations, and a notice to a destroyed root is dropped. Live roots list themselves
//! again every second (`relist`), so entries of destroyed roots are the ones the bound drops. The timer stays
//! as the fallback: once a second for a root with a queue, every 20 ms for one without (`tick_period_ms`).

use std::hash::{BuildHasher, Hasher};

use super::host;

/// Queues listed per scope: the root contexts of one process's VMs (workers, main thread, old VMs still
/// serving connections), newest last.
const REGISTRY_ENTRIES: usize = 256;

/// Compare-and-swap attempts before registering gives up (the timer covers the VM then).
const REGISTER_TRIES: usize = 16;

thread_local! {
    /// This VM's token, unique among the process's VMs (seeded from WASI's random source by std).
    static VM_TOKEN: u64 = std::collections::hash_map::RandomState::new().build_hasher().finish();
}

fn queue_name(scope: &str, root_context_id: u32) -> String {
    format!("{scope}/q/{:016x}/{root_context_id}", VM_TOKEN.with(|t| *t))
}

fn registry_key(scope: &str) -> String {
    format!("{scope}/queues")
}

/// At `on_configure`: registers the root's queue for `scope` and lists it. Returns the queue's name, `None`
/// when the host refused (the timer covers the root then).
pub(super) fn listen(scope: &str, root_context_id: u32) -> Option<String> {
    let name = queue_name(scope, root_context_id);
    host::register_shared_queue(&name).ok()?;
    relist(scope, &name);
    Some(name)
}

/// Lists `name` for `scope` unless it is listed (at `on_configure`, then every second from the root's timer).
pub(super) fn relist(scope: &str, name: &str) {
    let key = registry_key(scope);
    for _ in 0..REGISTER_TRIES {
        let (list, cas) = match host::get_shared_data(&key) {
            Ok(Some((list, cas))) => (String::from_utf8(list).unwrap_or_default(), cas),
            Ok(None) => (String::new(), 0),
            Err(_) => return,
        };
        if list.lines().any(|listed| listed == name) {
            return;
        }
        let mut names: Vec<&str> = list.lines().filter(|l| !l.is_empty()).collect();
        names.push(name);
        let keep = names.len().saturating_sub(REGISTRY_ENTRIES);
        let joined = names.get(keep..).unwrap_or_default().join("\n");
        match host::set_shared_data(&key, joined.as_bytes(), cas) {
            Err(host::HostError(host::CAS_MISMATCH)) => continue,
            _ => return,
        }
    }
}

/// After this VM published a new generation for `scope`: a notice to every listed VM.
pub(super) fn announce(scope: &str) {
    let Ok(Some((list, _))) = host::get_shared_data(&registry_key(scope)) else { return };
    let vm_id = match host::get_property(&["plugin_vm_id"]) {
        Ok(Some(id)) => String::from_utf8(id).unwrap_or_default(),
        _ => String::new(),
    };
    for name in String::from_utf8_lossy(&list).lines() {
        if let Ok(Some(id)) = host::resolve_shared_queue(&vm_id, name) {
            let _ = host::enqueue_shared_queue(id, &[]);
        }
    }
}

/// `on_queue_ready`: the queue's notices are consumed (they carry nothing but their arrival).
pub(super) fn drain(queue_id: u32) {
    for _ in 0..1024 {
        if !matches!(host::dequeue_shared_queue(queue_id), Ok(Some(_))) {
            break;
        }
    }
}
