//! proxy-wasm glue (filled in by the foundation work).
