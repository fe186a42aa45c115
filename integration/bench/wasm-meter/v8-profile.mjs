// Runs a proxy-wasm network filter module in Node's V8 (the engine Envoy embeds) behind a minimal proxy-wasm
// host, feeding it the round trips `kmf_wasm_meter MODULE --dump DIR` wrote, so that `node --cpu-prof` can
// tell which of the module's functions the time goes to (build the module with its name section:
// CARGO_PROFILE_RELEASE_STRIP=none, and without wasm-opt). Prints ns per round trip.
//
// Usage: node --cpu-prof --cpu-prof-dir OUT v8-profile.mjs MODULE.wasm DUMP_DIR [ROUNDS]
import { readFileSync } from "node:fs";
import { join } from "node:path";

const [modulePath, dumpDir, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg ?? 200000);
const config = readFileSync(join(dumpDir, "config.json"));
const stream = readFileSync(join(dumpDir, "frames.bin"));
const frames = [];
for (let at = 0; at < stream.length; ) {
  const size = stream.readInt32BE(at);
  frames.push(stream.subarray(at, at + 4 + size));
  at += 4 + size;
}

const OK = 0, NOT_FOUND = 1, BAD_ARGUMENT = 2;
const buffers = { 2: Buffer.alloc(0), 3: Buffer.alloc(0), 7: config };
const calls = {};
let instance;
// Views of the module's memory, made again only when it grew (a new ArrayBuffer).
let viewOf = null, dataView, byteView;
function views() {
  const buffer = instance.exports.memory.buffer;
  if (buffer !== viewOf) { viewOf = buffer; dataView = new DataView(buffer); byteView = new Uint8Array(buffer); }
}
const mem = () => { views(); return dataView; };
const bytes = () => { views(); return byteView; };
const count = (name) => { calls[name] = (calls[name] ?? 0) + 1; };
function handOver(data, ptrPtr, sizePtr) {
  let ptr = 0;
  if (data.length > 0) {
    ptr = instance.exports.proxy_on_memory_allocate(data.length);
    bytes().set(data, ptr);
  }
  mem().setUint32(ptrPtr, ptr, true);
  mem().setUint32(sizePtr, data.length, true);
}
let clock = 1_700_000_000_000_000_000n;
const env = {
  proxy_log: (level, ptr, len) => { count("proxy_log"); return OK; },
  proxy_get_log_level: (ptr) => { mem().setUint32(ptr, 2, true); return OK; },
  proxy_get_current_time_nanoseconds: (ptr) => { count("time"); clock += 100000n; mem().setBigUint64(ptr, clock, true); return OK; },
  proxy_get_buffer_bytes: (kind, start, max, ptrPtr, sizePtr) => {
    count("get_buffer");
    const buffer = buffers[kind];
    if (!buffer) return NOT_FOUND;
    handOver(buffer.subarray(start, Math.min(buffer.length, start + max)), ptrPtr, sizePtr);
    return OK;
  },
  proxy_set_buffer_bytes: (kind, start, size, ptr, len) => {
    count("set_buffer");
    const buffer = buffers[kind];
    if (!buffer) return NOT_FOUND;
    const data = Buffer.from(bytes().slice(ptr, ptr + len));
    if (start === 0) buffers[kind] = Buffer.concat([data, buffer.subarray(size)]);
    else if (start >= buffer.length) buffers[kind] = Buffer.concat([buffer, data]);
    else return BAD_ARGUMENT;
    return OK;
  },
  proxy_get_property: (pathPtr, pathLen, ptrPtr, sizePtr) => {
    const path = Buffer.from(bytes().slice(pathPtr, pathPtr + pathLen)).toString("latin1");
    if (path === "connection\0id") { const v = Buffer.alloc(8); v.writeBigUInt64LE(7n); handOver(v, ptrPtr, sizePtr); return OK; }
    if (path === "source\0address") { handOver(Buffer.from("127.0.0.1:5000"), ptrPtr, sizePtr); return OK; }
    return NOT_FOUND;
  },
  proxy_close_stream: () => { throw new Error("the module closed the connection"); },
  proxy_define_metric: (kind, namePtr, nameLen, idPtr) => { mem().setUint32(idPtr, 1, true); return OK; },
  proxy_increment_metric: () => { count("increment"); return OK; },
  proxy_record_metric: () => { count("record"); return OK; },
};
const wasm = await WebAssembly.compile(readFileSync(modulePath));
const imports = { env: { ...env }, wasi_snapshot_preview1: {} };
for (const imp of WebAssembly.Module.imports(wasm)) {
  const table = imports[imp.module] ?? (imports[imp.module] = {});
  if (imp.kind === "function" && !(imp.name in table)) table[imp.name] = () => 0;
}
instance = await WebAssembly.instantiate(wasm, imports);
const x = instance.exports;
x._initialize?.();
x.proxy_on_context_create(1, 0);
x.proxy_on_vm_start(1, 0);
if (x.proxy_on_configure(1, config.length) !== 1) throw new Error("configuration refused");
x.proxy_on_context_create(2, 1);
x.proxy_on_new_connection(2);
function round(i) {
  const base = (i % 64) * 4;
  for (let k = 0; k < 4; k++) {
    const frame = frames[base + k];
    const kind = k % 2 === 0 ? 2 : 3;
    buffers[kind] = frame;
    const action = kind === 2 ? x.proxy_on_downstream_data(2, frame.length, 0) : x.proxy_on_upstream_data(2, frame.length, 0);
    if (action !== 0) throw new Error("paused");
  }
}
for (let i = 0; i < 20000; i++) round(i);
const start = process.hrtime.bigint();
for (let i = 0; i < rounds; i++) round(i);
const ns = Number(process.hrtime.bigint() - start) / rounds;
console.log(`${modulePath}: ${ns.toFixed(0)} ns per round trip in V8 (${rounds} rounds)`, calls);
