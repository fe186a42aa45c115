//! The raw proxy-wasm hostcalls the filter uses, with every status handled. The SDK's own wrappers
//! `panic!` on statuses they do not expect, and a panic traps the VM for every connection on the worker.

use proxy_wasm::types::{BufferType, LogLevel, MetricType, StreamType};

/// A non-OK status returned by the host (1 NotFound, 2 BadArgument, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostError(pub u32);

const OK: u32 = 0;
const NOT_FOUND: u32 = 1;

#[allow(clashing_extern_declarations)]
#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: LogLevel, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_log_level(return_level: *mut u32) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: BufferType,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> u32;
    fn proxy_set_buffer_bytes(
        buffer_type: BufferType,
        start: usize,
        size: usize,
        buffer_data: *const u8,
        buffer_size: usize,
    ) -> u32;
    fn proxy_get_property(
        path_data: *const u8,
        path_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_close_stream(stream_type: StreamType) -> u32;
    fn proxy_set_effective_context(context_id: u32) -> u32;
    fn proxy_define_metric(metric_type: MetricType, name_data: *const u8, name_size: usize, return_id: *mut u32)
        -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_record_metric(metric_id: u32, value: u64) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
    fn proxy_register_shared_queue(queue_name_data: *const u8, queue_name_size: usize, return_id: *mut u32) -> u32;
    fn proxy_resolve_shared_queue(
        vm_id_data: *const u8,
        vm_id_size: usize,
        queue_name_data: *const u8,
        queue_name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    fn proxy_enqueue_shared_queue(queue_id: u32, value_data: *const u8, value_size: usize) -> u32;
    fn proxy_dequeue_shared_queue(queue_id: u32, return_value_data: *mut *mut u8, return_value_size: *mut usize)
        -> u32;
}

/// Debug build (`--features hostcall-census`): counts hostcalls by kind, so the cost of a request can be
/// told in calls across the VM boundary (each costs about a microsecond in Envoy's V8).
#[cfg(feature = "hostcall-census")]
pub mod census {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    pub const NAMES: [&str; 13] = [
        "log",
        "log_level",
        "time",
        "get_buffer",
        "get_buffer_bytes",
        "set_buffer",
        "property",
        "define_metric",
        "increment",
        "record",
        "downstream_chunks",
        "upstream_chunks",
        "requests",
    ];
    pub static COUNTS: [AtomicU64; 13] = [const { AtomicU64::new(0) }; 13];

    pub fn bump(kind: usize, by: u64) {
        if let Some(c) = COUNTS.get(kind) {
            c.fetch_add(by, Relaxed);
        }
    }

    /// One data callback (each counted, the chunks skipped unread included), reported every 1024.
    pub fn data_callback(downstream: bool) {
        bump(if downstream { 10 } else { 11 }, 1);
        maybe_report();
    }

    /// Every 1024 chunks: one warn line with the totals.
    fn maybe_report() {
        let chunks = COUNTS[10].load(Relaxed) + COUNTS[11].load(Relaxed);
        if chunks % 1024 == 0 {
            let line: Vec<String> =
                NAMES.iter().zip(COUNTS.iter()).map(|(n, c)| format!("{n}={}", c.load(Relaxed))).collect();
            super::log(super::LogLevel::Warn, &format!("hostcall census: {}", line.join(" ")));
        }
    }
}

#[inline(always)]
fn count(_kind: usize, _by: u64) {
    #[cfg(feature = "hostcall-census")]
    census::bump(_kind, _by);
}

fn status(code: u32) -> Result<(), HostError> {
    if code == OK {
        Ok(())
    } else {
        Err(HostError(code))
    }
}

/// Takes ownership of memory the host filled through our allocator (`proxy_on_memory_allocate`).
///
/// # Safety
/// `data`/`size` must come from a successful host call that returned a buffer.
unsafe fn owned(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        Vec::new()
    } else {
        Vec::from_raw_parts(data, size, size)
    }
}

pub fn log(level: LogLevel, message: &str) {
    count(0, 1);
    // Nothing sensible to do if logging fails.
    let _ = unsafe { proxy_log(level, message.as_ptr(), message.len()) };
}

/// The host's log level (0 trace .. 5 critical); `None` when the host cannot tell.
pub fn log_level() -> Option<u32> {
    count(1, 1);
    let mut level = 0u32;
    status(unsafe { proxy_get_log_level(&mut level) }).ok().map(|_| level)
}

/// Current time in nanoseconds since the epoch.
pub fn now_nanos() -> Result<u64, HostError> {
    count(2, 1);
    let mut t = 0u64;
    status(unsafe { proxy_get_current_time_nanoseconds(&mut t) })?;
    Ok(t)
}

pub fn get_buffer(buffer_type: BufferType, start: usize, max_size: usize) -> Result<Vec<u8>, HostError> {
    count(3, 1);
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size = 0usize;
    let code = unsafe { proxy_get_buffer_bytes(buffer_type, start, max_size, &mut data, &mut size) };
    match code {
        OK => {
            count(4, size as u64);
            Ok(unsafe { owned(data, size) })
        }
        NOT_FOUND => Ok(Vec::new()),
        other => Err(HostError(other)),
    }
}

/// Envoy supports `start == 0` (drain `size` bytes, then prepend) and `start >= length` (append).
pub fn set_buffer(buffer_type: BufferType, start: usize, size: usize, value: &[u8]) -> Result<(), HostError> {
    count(5, 1);
    status(unsafe { proxy_set_buffer_bytes(buffer_type, start, size, value.as_ptr(), value.len()) })
}

/// A property's raw value; `Ok(None)` when the host does not have it.
pub fn get_property(path: &[&str]) -> Result<Option<Vec<u8>>, HostError> {
    count(6, 1);
    let joined = path.join("\0");
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size = 0usize;
    let code = unsafe { proxy_get_property(joined.as_ptr(), joined.len(), &mut data, &mut size) };
    match code {
        OK => Ok(Some(unsafe { owned(data, size) })),
        NOT_FOUND => Ok(None),
        other => Err(HostError(other)),
    }
}

pub fn close_downstream() -> Result<(), HostError> {
    status(unsafe { proxy_close_stream(StreamType::Downstream) })
}

pub fn close_upstream() -> Result<(), HostError> {
    status(unsafe { proxy_close_stream(StreamType::Upstream) })
}

/// Makes the next hostcalls act on another context (a connection, from the root's timer).
pub fn set_effective_context(context_id: u32) -> Result<(), HostError> {
    status(unsafe { proxy_set_effective_context(context_id) })
}

pub fn define_metric(metric_type: MetricType, name: &str) -> Result<u32, HostError> {
    count(7, 1);
    let mut id = 0u32;
    status(unsafe { proxy_define_metric(metric_type, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

pub fn increment_metric(id: u32, offset: i64) {
    count(8, 1);
    let _ = unsafe { proxy_increment_metric(id, offset) };
}

/// Calls the root context's `on_tick` every `period_ms` (0 stops it).
pub fn set_tick_period_ms(period_ms: u32) -> Result<(), HostError> {
    status(unsafe { proxy_set_tick_period_milliseconds(period_ms) })
}

pub fn record_metric(id: u32, value: u64) {
    count(9, 1);
    let _ = unsafe { proxy_record_metric(id, value) };
}

/// A shared data value (one store per vm_id for the whole process) and its compare-and-swap token;
/// `Ok(None)` when the key was never set.
pub fn get_shared_data(key: &str) -> Result<Option<(Vec<u8>, u32)>, HostError> {
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size = 0usize;
    let mut cas = 0u32;
    let code = unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) };
    match code {
        OK => Ok(Some((unsafe { owned(data, size) }, cas))),
        NOT_FOUND => Ok(None),
        other => Err(HostError(other)),
    }
}

/// Sets a shared data value; `cas` 0 sets it unconditionally, otherwise only if the value is still the one
/// read with that token (else `Err(HostError(CAS_MISMATCH))`).
pub fn set_shared_data(key: &str, value: &[u8], cas: u32) -> Result<(), HostError> {
    status(unsafe { proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas) })
}

/// The status of a compare-and-swap that lost (proxy-wasm ABI `CasMismatch`).
pub const CAS_MISMATCH: u32 = 8;

/// Registers a shared queue of this VM (one per vm_id and name for the whole process; a later registration of
/// the same name takes it over): the registering root context's `on_queue_ready` runs, on its thread, for each
/// value enqueued.
pub fn register_shared_queue(name: &str) -> Result<u32, HostError> {
    let mut id = 0u32;
    status(unsafe { proxy_register_shared_queue(name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

/// The id of a queue some VM registered; `Ok(None)` when none did.
pub fn resolve_shared_queue(vm_id: &str, name: &str) -> Result<Option<u32>, HostError> {
    let mut id = 0u32;
    match unsafe { proxy_resolve_shared_queue(vm_id.as_ptr(), vm_id.len(), name.as_ptr(), name.len(), &mut id) } {
        OK => Ok(Some(id)),
        NOT_FOUND => Ok(None),
        other => Err(HostError(other)),
    }
}

pub fn enqueue_shared_queue(id: u32, value: &[u8]) -> Result<(), HostError> {
    status(unsafe { proxy_enqueue_shared_queue(id, value.as_ptr(), value.len()) })
}

/// The oldest value in the queue; `Ok(None)` when it is empty.
pub fn dequeue_shared_queue(id: u32) -> Result<Option<Vec<u8>>, HostError> {
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size = 0usize;
    match unsafe { proxy_dequeue_shared_queue(id, &mut data, &mut size) } {
        OK => Ok(Some(unsafe { owned(data, size) })),
        // Empty (proxy-wasm ABI `Empty`), or no such queue.
        7 | NOT_FOUND => Ok(None),
        other => Err(HostError(other)),
    }
}
