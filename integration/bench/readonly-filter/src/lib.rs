//! The read-only floor: on every data callback the module asks Envoy for the callback's bytes once (one
//! `proxy_get_buffer_bytes`) and lets them through unchanged. No parsing, no state, no decisions: what any
//! module that must see the Kafka stream costs before it does any work of its own (the filter reads the start
//! of every request, to classify it, and of every response, to keep the stream in frame).
//!
//! How much it reads: the first 4 KiB of each callback by default (as `probe:"buf=1 win=4096"` did, the floor
//! the targets were set against); the plugin configuration `win=N` reads N bytes, `win=0` the whole callback.

use std::cell::Cell;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, RootContext, StreamContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel};

const DEFAULT_WINDOW: usize = 4096;

thread_local! {
    static WINDOW: Cell<usize> = const { Cell::new(DEFAULT_WINDOW) };
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(ReadOnlyRoot) });
}}

struct ReadOnlyRoot;

impl Context for ReadOnlyRoot {}

impl RootContext for ReadOnlyRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let text = String::from_utf8(self.get_plugin_configuration().unwrap_or_default()).unwrap_or_default();
        let mut window = DEFAULT_WINDOW;
        for (key, value) in text.split_whitespace().filter_map(|kv| kv.split_once('=')) {
            if key == "win" {
                window = value.parse().unwrap_or(DEFAULT_WINDOW);
            }
        }
        WINDOW.with(|w| w.set(if window == 0 { usize::MAX } else { window }));
        true
    }

    fn create_stream_context(&self, _context_id: u32) -> Option<Box<dyn StreamContext>> {
        Some(Box::new(ReadOnlyConnection))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::StreamContext)
    }
}

struct ReadOnlyConnection;

fn read(buffer: BufferType, size: usize) {
    if size == 0 {
        return;
    }
    let window = WINDOW.with(Cell::get);
    if let Ok(Some(bytes)) = hostcalls::get_buffer(buffer, 0, window.min(size)) {
        std::hint::black_box(bytes);
    }
}

impl Context for ReadOnlyConnection {}

impl StreamContext for ReadOnlyConnection {
    fn on_downstream_data(&mut self, data_size: usize, _end_of_stream: bool) -> Action {
        read(BufferType::DownstreamData, data_size);
        Action::Continue
    }

    fn on_upstream_data(&mut self, data_size: usize, _end_of_stream: bool) -> Action {
        read(BufferType::UpstreamData, data_size);
        Action::Continue
    }
}
