//! The VM's allocator: the system's (wasi-libc's dlmalloc) behind a cache of a few freed blocks.
//!
//! Every chunk the filter reads costs an allocation and a free of the same size: Envoy hands a module the bytes
//! it asks for (`proxy_get_buffer_bytes`) by calling back into it to allocate their copy
//! (`proxy_on_memory_allocate`), and the filter frees the copy once the chunk is decided. A connection reads
//! the same way request after request (the first 1 KiB of a long frame, a short frame whole), so the sizes
//! repeat: a block one callback frees is the block a later one of that size takes, without a walk through
//! dlmalloc's bins either way. Bounded: at most [`SLOTS`] blocks of at most [`MAX_CACHED`] bytes are held.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Freed blocks held for reuse (a request's chunk, its answer's, and the next request's).
const SLOTS: usize = 4;
/// Larger blocks go straight back: a chunk's first read is at most 4 KiB (`feed::Windows::GLUE`).
const MAX_CACHED: usize = 4 * 1024;

/// A freed block: its address and the layout it was allocated with (a block is only ever handed out again
/// for that same layout, so the system allocator always sees it freed with the layout it gave it).
#[derive(Clone, Copy)]
struct Block {
    ptr: *mut u8,
    layout: Layout,
}

struct Recycling {
    slots: [Cell<Option<Block>>; SLOTS],
    /// The slot a free evicts when none is empty (round robin).
    next: Cell<usize>,
}

impl Recycling {
    const fn new() -> Self {
        Recycling { slots: [const { Cell::new(None) }; SLOTS], next: Cell::new(0) }
    }
}

// SAFETY: a proxy-wasm VM runs on one thread (wasm32-wasip1 has no threads): the cells are never shared.
unsafe impl Sync for Recycling {}

fn cacheable(layout: Layout) -> bool {
    layout.size() > 0 && layout.size() <= MAX_CACHED
}

// SAFETY: every block handed out is the system allocator's, allocated with the layout it is asked for, and goes
// back to it (freed or reallocated) with that layout.
// Out of line: called from every allocation and free in the module, inlined it would be copied into each.
unsafe impl GlobalAlloc for Recycling {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if cacheable(layout) {
            for slot in &self.slots {
                if let Some(block) = slot.get().filter(|b| b.layout == layout) {
                    slot.set(None);
                    return block.ptr;
                }
            }
        }
        System.alloc(layout)
    }

    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !cacheable(layout) || ptr.is_null() {
            return System.dealloc(ptr, layout);
        }
        let block = Some(Block { ptr, layout });
        if let Some(empty) = self.slots.iter().find(|s| s.get().is_none()) {
            empty.set(block);
            return;
        }
        let victim = self.next.get() % SLOTS;
        self.next.set(victim.wrapping_add(1));
        if let Some(slot) = self.slots.get(victim) {
            if let Some(old) = slot.replace(block) {
                System.dealloc(old.ptr, old.layout);
            }
            return;
        }
        System.dealloc(ptr, layout)
    }

    #[inline(never)]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // Zeroed memory comes fresh from the system allocator (calloc knows when it need not clear).
        System.alloc_zeroed(layout)
    }

    #[inline(never)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A block in use is the system allocator's, with this layout: it resizes it (in place when it can).
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Recycling = Recycling::new();
