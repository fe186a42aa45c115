//! The do-nothing filter plus, on every data callback, N hostcalls of one kind, N set by the plugin
//! configuration (`time=N buf=N win=BYTES inc=N hist=N spin=N`, whitespace separated). Comparing its Envoy
//! CPU with the plain do-nothing filter's gives the cost of one hostcall; `spin` (a multiply-add loop)
//! gives the speed of compiled wasm code.

use std::cell::Cell;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, RootContext, StreamContext};
use proxy_wasm::types::{Action, BufferType, ContextType, MetricType};

#[derive(Default, Clone, Copy)]
struct Params {
    time: u32,
    buf: u32,
    win: usize,
    inc: u32,
    hist: u32,
    spin: u32,
    counter: u32,
    histogram: u32,
}

thread_local! {
    static PARAMS: Cell<Params> = Cell::new(Params::default());
}

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(ProbeRoot) });
}}

struct ProbeRoot;

impl Context for ProbeRoot {}

impl RootContext for ProbeRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let text = String::from_utf8(self.get_plugin_configuration().unwrap_or_default()).unwrap_or_default();
        let mut p = Params { win: 64 * 1024, ..Params::default() };
        for (key, value) in text.split_whitespace().filter_map(|kv| kv.split_once('=')) {
            let n: usize = value.parse().unwrap_or(0);
            let count = u32::try_from(n).unwrap_or(u32::MAX);
            match key {
                "time" => p.time = count,
                "buf" => p.buf = count,
                "win" => p.win = n,
                "inc" => p.inc = count,
                "hist" => p.hist = count,
                "spin" => p.spin = count,
                _ => {}
            }
        }
        p.counter = hostcalls::define_metric(MetricType::Counter, "kmf_probe.callbacks").unwrap_or(0);
        p.histogram = hostcalls::define_metric(MetricType::Histogram, "kmf_probe.histogram").unwrap_or(0);
        PARAMS.with(|c| c.set(p));
        true
    }

    fn create_stream_context(&self, _context_id: u32) -> Option<Box<dyn StreamContext>> {
        Some(Box::new(ProbeConnection))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::StreamContext)
    }
}

struct ProbeConnection;

impl Context for ProbeConnection {}

fn work(buffer: BufferType, size: usize) {
    let p = PARAMS.with(|c| c.get());
    let mut acc = 0u64;
    for _ in 0..p.time {
        if let Ok(t) = hostcalls::get_current_time() {
            acc = acc.wrapping_add(t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64));
        }
    }
    for _ in 0..p.buf {
        if let Ok(Some(bytes)) = hostcalls::get_buffer(buffer, 0, p.win.min(size)) {
            acc = acc.wrapping_add(bytes.len() as u64);
        }
    }
    for _ in 0..p.inc {
        let _ = hostcalls::increment_metric(p.counter, 1);
    }
    for _ in 0..p.hist {
        let _ = hostcalls::record_metric(p.histogram, 17);
    }
    let mut x = acc | 1;
    for i in 0..p.spin {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(u64::from(i));
    }
    std::hint::black_box(x);
}

impl StreamContext for ProbeConnection {
    fn on_downstream_data(&mut self, data_size: usize, _end_of_stream: bool) -> Action {
        if data_size > 0 {
            work(BufferType::DownstreamData, data_size);
        }
        Action::Continue
    }

    fn on_upstream_data(&mut self, data_size: usize, _end_of_stream: bool) -> Action {
        if data_size > 0 {
            work(BufferType::UpstreamData, data_size);
        }
        Action::Continue
    }
}
