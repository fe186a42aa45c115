//! The VM's share of the bound on held bytes (`held_budget`): one total per VM (Envoy runs one per worker
//! thread), which every connection updates as its session holds and releases bytes.

use std::cell::RefCell;

use crate::held_budget::{HeldLimits, Overrun, VmHeld};

thread_local! {
    static VM_HELD: RefCell<VmHeld> = RefCell::new(VmHeld::default());
}

/// What one connection counts in the VM's total; released when the connection goes.
#[derive(Debug, Default)]
pub(super) struct HeldShare {
    held: u64,
}

impl HeldShare {
    /// The connection's session now holds `now` bytes: the change to the VM's total, and `Err` when the
    /// connection must be closed.
    pub(super) fn update(&mut self, now: u64, limits: HeldLimits) -> (i64, Result<(), Overrun>) {
        if now == self.held && now <= limits.per_connection {
            // Nearly every chunk: nothing held before or after. The VM's total cannot have grown past its bound
            // by this connection, and is left alone.
            return (0, Ok(()));
        }
        let before = std::mem::replace(&mut self.held, now);
        let verdict = VM_HELD.with(|vm| vm.borrow_mut().update(before, now, limits));
        (delta(before, now), verdict)
    }

    /// The connection is gone: its bytes leave the VM's total. Returns the change to it.
    pub(super) fn release(&mut self) -> i64 {
        let before = std::mem::take(&mut self.held);
        VM_HELD.with(|vm| vm.borrow_mut().release(before));
        delta(before, 0)
    }
}

fn delta(before: u64, now: u64) -> i64 {
    i64::try_from(now).unwrap_or(i64::MAX).saturating_sub(i64::try_from(before).unwrap_or(i64::MAX))
}
