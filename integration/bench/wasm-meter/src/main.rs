//! Meters a proxy-wasm network filter module's own work, deterministically: the module runs in the wasmi
//! interpreter with fuel metering behind a minimal proxy-wasm host (the hostcalls Envoy offers a network filter,
//! with Envoy's buffer semantics), which hands it the session bench's produce+fetch round trip, one frame per
//! data callback as Envoy hands over small frames. Per round trip it prints the wasm instructions executed
//! (fuel), the calls into the module (data callbacks, plus Envoy's calls back into the module to allocate
//! every buffer it copies in) and the hostcalls by kind.
//!
//! Envoy's CPU on this shared machine swings by ±10-20% between runs, more than one change to the filter
//! moves it; these counts do not move at all, so two builds can be compared exactly. What a call into the
//! module or a hostcall costs in Envoy's V8 is measured separately (`integration/bench/paired.py` with the
//! hostcall probe).
//!
//! Usage: kmf_wasm_meter MODULE.wasm [--rounds N] [--config FILE] [--log] [--trace]
//!   --config: the plugin configuration (default: the session bench's 1,000-rule policy)
//!   --log: print the module's log lines; --trace: one round trip, the fuel between hostcalls
//!   kmf_wasm_meter --dump DIR: write the frames and configuration for `v8-profile.mjs`

#[path = "../../../../benches/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::process::ExitCode;

use wasmi::{Caller, Config, Engine, Extern, Linker, Module, Store, Val, ValType};

const OK: i32 = 0;
const NOT_FOUND: i32 = 1;
const BAD_ARGUMENT: i32 = 2;

const DOWNSTREAM: i32 = 2;
const UPSTREAM: i32 = 3;
const PLUGIN_CONFIGURATION: i32 = 7;

const ROOT_ID: i32 = 1;
const CONNECTION_ID: i32 = 2;

/// What the host holds for the module: the buffers of the current callback and what was called.
#[derive(Default)]
struct Host {
    downstream: Vec<u8>,
    upstream: Vec<u8>,
    plugin_configuration: Vec<u8>,
    /// Hostcalls by name (`env.proxy_*`, `wasi_snapshot_preview1.*`).
    calls: BTreeMap<String, u64>,
    /// Calls into the module Envoy makes to allocate the copies it hands over (`proxy_on_memory_allocate`).
    allocations: u64,
    closed: bool,
    clock: u64,
    print_logs: bool,
    tracing: bool,
    last_fuel: u64,
}

impl Host {
    fn count(&mut self, name: &str) {
        *self.calls.entry(name.to_string()).or_default() += 1;
    }

    /// With `--trace`: the fuel used since the last traced event, then this event.
    fn trace(&mut self, fuel: u64, event: &str) {
        if self.tracing {
            eprintln!("  {:>8} fuel, then {event}", self.last_fuel.saturating_sub(fuel));
        }
        self.last_fuel = fuel;
    }

    fn buffer(&mut self, kind: i32) -> Option<&mut Vec<u8>> {
        match kind {
            DOWNSTREAM => Some(&mut self.downstream),
            UPSTREAM => Some(&mut self.upstream),
            PLUGIN_CONFIGURATION => Some(&mut self.plugin_configuration),
            // No VM configuration (proxy_on_vm_start is told its size is 0), nor any HTTP buffer.
            _ => None,
        }
    }
}

type Fail = Box<dyn std::error::Error>;

/// Counts a hostcall (and traces it with `--trace`).
fn hostcall(caller: &mut Caller<'_, Host>, name: &str) {
    let fuel = caller.get_fuel().unwrap_or(0);
    caller.data_mut().count(name);
    caller.data_mut().trace(fuel, name);
}

fn memory(caller: &mut Caller<'_, Host>) -> Result<wasmi::Memory, wasmi::Error> {
    caller
        .get_export("memory")
        .and_then(Extern::into_memory)
        .ok_or_else(|| wasmi::Error::new("the module exports no memory"))
}

fn read(caller: &mut Caller<'_, Host>, ptr: i32, len: i32) -> Result<Vec<u8>, wasmi::Error> {
    let mut out = vec![0u8; len as u32 as usize];
    memory(caller)?.read(&*caller, ptr as u32 as usize, &mut out).map_err(|e| wasmi::Error::new(e.to_string()))?;
    Ok(out)
}

fn write(caller: &mut Caller<'_, Host>, ptr: i32, bytes: &[u8]) -> Result<(), wasmi::Error> {
    memory(caller)?.write(&mut *caller, ptr as u32 as usize, bytes).map_err(|e| wasmi::Error::new(e.to_string()))
}

/// Copies `bytes` into memory the module allocates (Envoy calls back into the module for every copy), then
/// writes the pointer and size where the module asked.
fn hand_over(caller: &mut Caller<'_, Host>, bytes: &[u8], ptr_ptr: i32, size_ptr: i32) -> Result<(), wasmi::Error> {
    let mut ptr = 0i32;
    if !bytes.is_empty() {
        let allocate = caller
            .get_export("proxy_on_memory_allocate")
            .or_else(|| caller.get_export("malloc"))
            .and_then(Extern::into_func)
            .ok_or_else(|| wasmi::Error::new("the module exports no allocator"))?;
        caller.data_mut().allocations += 1;
        let fuel = caller.get_fuel().unwrap_or(0);
        caller.data_mut().trace(fuel, "call into the module: allocate");
        ptr = allocate.typed::<i32, i32>(&*caller)?.call(&mut *caller, bytes.len() as i32)?;
        let fuel = caller.get_fuel().unwrap_or(0);
        caller.data_mut().trace(fuel, "back in the host");
        write(caller, ptr, bytes)?;
    }
    write(caller, ptr_ptr, &ptr.to_le_bytes())?;
    write(caller, size_ptr, &(bytes.len() as u32).to_le_bytes())
}

fn property(path: &[u8]) -> Option<Vec<u8>> {
    match path {
        b"connection\0id" => Some(7u64.to_le_bytes().to_vec()),
        b"source\0address" => Some(b"127.0.0.1:5000".to_vec()),
        _ => None,
    }
}

/// The hostcalls `link` implements; any other import gets a counting stub.
const IMPLEMENTED: &[&str] = &[
    "proxy_log",
    "proxy_get_log_level",
    "proxy_get_current_time_nanoseconds",
    "proxy_get_buffer_bytes",
    "proxy_set_buffer_bytes",
    "proxy_get_property",
    "proxy_close_stream",
    "proxy_define_metric",
    "proxy_increment_metric",
    "proxy_record_metric",
];

fn link(linker: &mut Linker<Host>, module: &Module) -> Result<(), Fail> {
    linker.func_wrap("env", "proxy_log", |mut c: Caller<'_, Host>, level: i32, ptr: i32, len: i32| {
        hostcall(&mut c, "proxy_log");
        if c.data().print_logs {
            let text = read(&mut c, ptr, len)?;
            eprintln!("module log [{level}]: {}", String::from_utf8_lossy(&text));
        }
        Ok(OK)
    })?;
    linker.func_wrap("env", "proxy_get_log_level", |mut c: Caller<'_, Host>, ptr: i32| {
        hostcall(&mut c, "proxy_get_log_level");
        // Envoy's default: info.
        write(&mut c, ptr, &2u32.to_le_bytes())?;
        Ok(OK)
    })?;
    linker.func_wrap("env", "proxy_get_current_time_nanoseconds", |mut c: Caller<'_, Host>, ptr: i32| {
        hostcall(&mut c, "proxy_get_current_time_nanoseconds");
        c.data_mut().clock += 100_000;
        let now = 1_700_000_000_000_000_000u64 + c.data().clock;
        write(&mut c, ptr, &now.to_le_bytes())?;
        Ok(OK)
    })?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut c: Caller<'_, Host>, kind: i32, start: i32, max: i32, ptr_ptr: i32, size_ptr: i32| {
            hostcall(&mut c, "proxy_get_buffer_bytes");
            let (start, max) = (start as u32 as usize, max as u32 as usize);
            let Some(buffer) = c.data_mut().buffer(kind) else { return Ok(NOT_FOUND) };
            let end = start.saturating_add(max).min(buffer.len());
            let bytes = buffer.get(start..end).unwrap_or_default().to_vec();
            hand_over(&mut c, &bytes, ptr_ptr, size_ptr)?;
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_buffer_bytes",
        |mut c: Caller<'_, Host>, kind: i32, start: i32, size: i32, ptr: i32, len: i32| {
            hostcall(&mut c, "proxy_set_buffer_bytes");
            let data = read(&mut c, ptr, len)?;
            let (start, size) = (start as u32 as usize, size as u32 as usize);
            let Some(buffer) = c.data_mut().buffer(kind) else { return Ok(NOT_FOUND) };
            // Envoy: at the front, drain `size` bytes then prepend; at or past the end, append.
            if start == 0 {
                buffer.drain(..size.min(buffer.len()));
                buffer.splice(0..0, data);
            } else if start >= buffer.len() {
                buffer.extend_from_slice(&data);
            } else {
                return Ok(BAD_ARGUMENT);
            }
            Ok(OK)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |mut c: Caller<'_, Host>, path_ptr: i32, path_len: i32, ptr_ptr: i32, size_ptr: i32| {
            hostcall(&mut c, "proxy_get_property");
            let path = read(&mut c, path_ptr, path_len)?;
            match property(&path) {
                Some(value) => {
                    hand_over(&mut c, &value, ptr_ptr, size_ptr)?;
                    Ok(OK)
                }
                None => Ok(NOT_FOUND),
            }
        },
    )?;
    linker.func_wrap("env", "proxy_close_stream", |mut c: Caller<'_, Host>, _stream: i32| {
        hostcall(&mut c, "proxy_close_stream");
        c.data_mut().closed = true;
        Ok(OK)
    })?;
    linker.func_wrap(
        "env",
        "proxy_define_metric",
        |mut c: Caller<'_, Host>, _kind: i32, _name_ptr: i32, _name_len: i32, id_ptr: i32| {
            hostcall(&mut c, "proxy_define_metric");
            let id = c.data().calls.get("proxy_define_metric").copied().unwrap_or(0) as u32;
            write(&mut c, id_ptr, &id.to_le_bytes())?;
            Ok(OK)
        },
    )?;
    linker.func_wrap("env", "proxy_increment_metric", |mut c: Caller<'_, Host>, _id: i32, _by: i64| {
        hostcall(&mut c, "proxy_increment_metric");
        Ok(OK)
    })?;
    linker.func_wrap("env", "proxy_record_metric", |mut c: Caller<'_, Host>, _id: i32, _value: i64| {
        hostcall(&mut c, "proxy_record_metric");
        Ok(OK)
    })?;
    // Everything else the module imports (WASI, hostcalls a network filter does not make here): counted,
    // answered with zeros (success).
    for import in module.imports() {
        let (namespace, name) = (import.module().to_string(), import.name().to_string());
        if namespace == "env" && IMPLEMENTED.contains(&name.as_str()) {
            continue;
        }
        let Some(ty) = import.ty().func().cloned() else { continue };
        let label = format!("{namespace}.{name}");
        linker.func_new(
            &namespace,
            &name,
            ty,
            move |mut c: Caller<'_, Host>, _params: &[Val], results: &mut [Val]| {
                hostcall(&mut c, &label);
                for result in results.iter_mut() {
                    *result = match result.ty() {
                        ValType::I64 => Val::I64(0),
                        _ => Val::I32(0),
                    };
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}

struct Meter {
    store: Store<Host>,
    instance: wasmi::Instance,
}

impl Meter {
    fn call(&mut self, name: &str, args: &[i32]) -> Result<i32, Fail> {
        let func = self.instance.get_func(&self.store, name).ok_or_else(|| format!("the module exports no {name}"))?;
        let params: Vec<Val> = args.iter().map(|a| Val::I32(*a)).collect();
        let mut results = vec![Val::I32(0); func.ty(&self.store).results().len()];
        func.call(&mut self.store, &params, &mut results).map_err(|e| format!("{name}: {e}"))?;
        Ok(results.first().and_then(Val::i32).unwrap_or(0))
    }

    fn fuel(&self) -> u64 {
        self.store.get_fuel().unwrap_or(0)
    }

    /// One data callback with `frame` as the buffer; what the module leaves in it goes on.
    fn data(&mut self, downstream: bool, frame: &[u8]) -> Result<Vec<u8>, Fail> {
        let host = self.store.data_mut();
        let buffer = if downstream { &mut host.downstream } else { &mut host.upstream };
        buffer.clear();
        buffer.extend_from_slice(frame);
        let callback = if downstream { "proxy_on_downstream_data" } else { "proxy_on_upstream_data" };
        let fuel = self.fuel();
        self.store.data_mut().trace(fuel, callback);
        let action = self.call(callback, &[CONNECTION_ID, frame.len() as i32, 0])?;
        let fuel = self.fuel();
        self.store.data_mut().trace(fuel, "return");
        if action != 0 || self.store.data().closed {
            return Err(format!("{callback}: the module paused or closed the connection").into());
        }
        let host = self.store.data_mut();
        Ok(std::mem::take(if downstream { &mut host.downstream } else { &mut host.upstream }))
    }
}

const USAGE: &str = "usage: kmf_wasm_meter MODULE.wasm [--rounds N] [--config FILE] [--shape S] [--chunk BYTES] [--log] [--trace]\n       \
                     kmf_wasm_meter [--shape S] --dump DIR   (frames and configuration for v8-profile.mjs)\n       \
                     --shape raw-small | raw-large: the round trip Envoy's instructions are counted on \
                     (instructions.py: Produce v3 and Fetch v4, 10 KiB or ~1 MiB of records)";

/// The round trip to run: the session bench's (Produce v9, Fetch v12), or instructions.py's with this many
/// bytes of records.
fn round_trip(raw_records: Option<usize>, i: i32) -> [Vec<u8>; 4] {
    match raw_records {
        Some(bytes) => common::raw_round_trip(i, bytes),
        None => common::round_trip(i),
    }
}

fn run() -> Result<(), Fail> {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut rounds = 2_000u32;
    let mut config = common::thousand_rule_policy();
    let mut print_logs = false;
    let mut tracing = false;
    let mut raw_records = None;
    let mut chunk = usize::MAX;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--shape" => {
                raw_records = match args.next().as_deref() {
                    Some("raw-small") => Some(10 * 1024),
                    Some("raw-large") => Some(10 * 100 * 1024),
                    _ => return Err("--shape raw-small | raw-large".into()),
                }
            }
            "--rounds" => rounds = args.next().ok_or("--rounds N")?.parse()?,
            "--config" => config = std::fs::read_to_string(args.next().ok_or("--config FILE")?)?,
            "--chunk" => chunk = args.next().ok_or("--chunk BYTES")?.parse()?,
            "--log" => print_logs = true,
            "--trace" => tracing = true,
            "--dump" => {
                // For `v8-profile.mjs`: the plugin configuration and 64 round trips, each frame length-prefixed
                // by the Kafka size field it already carries.
                let dir = std::path::PathBuf::from(args.next().ok_or("--dump DIR")?);
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join("config.json"), &config)?;
                let mut all = Vec::new();
                for i in 0..64 {
                    for frame in round_trip(raw_records, i) {
                        all.extend_from_slice(&frame);
                    }
                }
                std::fs::write(dir.join("frames.bin"), all)?;
                return Ok(());
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other if path.is_none() => path = Some(other.to_string()),
            other => return Err(format!("unexpected argument {other}").into()),
        }
    }
    let path = path.ok_or(USAGE)?;
    let wasm = std::fs::read(&path)?;

    let mut engine_config = Config::default();
    engine_config.consume_fuel(true);
    // Compiled up front: lazy compilation would charge its fuel to the first call of each function.
    engine_config.compilation_mode(wasmi::CompilationMode::Eager);
    let engine = Engine::new(&engine_config);
    let module = Module::new(&engine, &wasm)?;
    let mut linker = Linker::<Host>::new(&engine);
    link(&mut linker, &module)?;
    let host = Host { plugin_configuration: config.into_bytes(), print_logs, ..Host::default() };
    let mut store = Store::new(&engine, host);
    store.set_fuel(u64::MAX)?;
    let instance = linker.instantiate_and_start(&mut store, &module)?;
    let mut meter = Meter { store, instance };

    if meter.instance.get_func(&meter.store, "_initialize").is_some() {
        meter.call("_initialize", &[])?;
    }
    meter.call("proxy_on_context_create", &[ROOT_ID, 0])?;
    meter.call("proxy_on_vm_start", &[ROOT_ID, 0])?;
    let size = meter.store.data().plugin_configuration.len() as i32;
    if meter.call("proxy_on_configure", &[ROOT_ID, size])? != 1 {
        return Err("the module refused its configuration (run with --log)".into());
    }
    meter.call("proxy_on_context_create", &[CONNECTION_ID, ROOT_ID])?;
    meter.call("proxy_on_new_connection", &[CONNECTION_ID])?;

    let frames: Vec<[Vec<u8>; 4]> = (0..64).map(|i| round_trip(raw_records, i)).collect();
    let round = |meter: &mut Meter, i: u32, by_frame: &mut [u64; 4]| -> Result<(), Fail> {
        let [produce, produced, fetch, fetched] = &frames[(i % 64) as usize];
        let callbacks = [(true, produce), (false, produced), (true, fetch), (false, fetched)];
        for (k, (downstream, frame)) in callbacks.into_iter().enumerate() {
            let before = meter.fuel();
            let mut out = Vec::with_capacity(frame.len());
            for piece in frame.chunks(chunk.max(1)) {
                out.extend(meter.data(downstream, piece)?);
            }
            by_frame[k] += before - meter.fuel();
            if &out != frame {
                return Err(format!("round {i}: the module changed a frame it should pass as sent").into());
            }
        }
        Ok(())
    };
    // Warm up: identity, metric definitions and caches are per connection or per VM, not per request.
    let mut by_frame = [0u64; 4];
    for i in 0..100 {
        round(&mut meter, i, &mut by_frame)?;
    }
    if tracing {
        eprintln!("one round trip, traced:");
        meter.store.data_mut().tracing = true;
        round(&mut meter, 100, &mut by_frame)?;
        meter.store.data_mut().tracing = false;
    }
    let fuel_before = meter.fuel();
    let calls_before = meter.store.data().calls.clone();
    let allocations_before = meter.store.data().allocations;
    by_frame = [0; 4];
    for i in 0..rounds {
        round(&mut meter, i, &mut by_frame)?;
    }
    let per_round = |n: u64| n as f64 / f64::from(rounds);
    let host = meter.store.data();
    println!("module: {path}");
    let shape = match raw_records {
        Some(bytes) => format!("Produce v3 of {bytes} B of records + answer, Fetch v4 + its answer"),
        None => "Produce v9 10 x 1 KiB + answer, Fetch v12 + 10 KiB answer".to_string(),
    };
    let per_callback = match chunk {
        usize::MAX => "one frame per callback".to_string(),
        bytes => format!("a frame in callbacks of at most {bytes} B"),
    };
    println!("round trips: {rounds} ({shape}; {per_callback})");
    println!("wasm instructions (fuel) per round trip: {:.0}", per_round(fuel_before - meter.fuel()));
    let [a, b, c, d] = by_frame.map(per_round);
    println!("  by callback: Produce {a:.0}, its answer {b:.0}, Fetch {c:.0}, its answer {d:.0}");
    let callbacks: usize =
        frames.first().map(|f| f.iter().map(|frame| frame.len().div_ceil(chunk.max(1))).sum()).unwrap_or(4);
    println!(
        "calls into the module per round trip: {:.2} ({callbacks} data callbacks + {:.2} allocations for copies)",
        callbacks as f64 + per_round(host.allocations - allocations_before),
        per_round(host.allocations - allocations_before)
    );
    for (name, count) in &host.calls {
        let delta = count - calls_before.get(name).copied().unwrap_or(0);
        if delta > 0 {
            println!("hostcalls per round trip: {name} {:.2}", per_round(delta));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kmf_wasm_meter: {e}");
            ExitCode::FAILURE
        }
    }
}
