//! A bound on the bytes the filter holds: frames it must see whole before deciding (a denied request, a
//! Produce whose topic list runs to its end, every request under SASL propagation), responses it rewrites,
//! answers it queues. Modelled on Kafka's own bounds: `socket.request.max.bytes` (one request) and
//! `queued.max.request.bytes` (all requests queued on a broker). Every connection of an Envoy worker shares
//! one Wasm VM, so a per-connection bound alone lets a few clients trickling held frames exhaust the VM for
//! every tenant of the worker; the VM's total is bounded too.
//!
//! Sans-IO: the session reports what it holds ([`crate::session::Session::held_bytes`]); the glue keeps one
//! [`VmHeld`] per VM and closes the connection [`VmHeld::update`] refuses.

/// Default `maxHeldBytesPerConnection`: 16 MiB, sixteen of Kafka's default largest producer request
/// (`max.request.size`, 1 MiB) and above its largest record batch (`message.max.bytes`, about 1 MiB).
pub const DEFAULT_MAX_HELD_BYTES_PER_CONNECTION: u64 = 16 * 1024 * 1024;

/// Default `maxHeldBytesPerVm`: 256 MiB for all the connections of one worker.
pub const DEFAULT_MAX_HELD_BYTES_PER_VM: u64 = 256 * 1024 * 1024;

/// Smallest accepted `maxHeldBytesPerConnection`: ordinary requests (a Metadata request, a client's first
/// bytes) must fit.
pub const MIN_HELD_BYTES: u64 = 64 * 1024;

/// A connection holding at most this many bytes is never closed by the VM's bound, only the ones holding
/// more: a full VM does not close well-behaved clients whose requests are decided from a few bytes. The
/// VM's total is thereby at most `maxHeldBytesPerVm` plus this much per connection at most.
pub const VM_BOUND_EXEMPT_BYTES: u64 = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldLimits {
    pub per_connection: u64,
    pub per_vm: u64,
}

impl Default for HeldLimits {
    fn default() -> Self {
        HeldLimits { per_connection: DEFAULT_MAX_HELD_BYTES_PER_CONNECTION, per_vm: DEFAULT_MAX_HELD_BYTES_PER_VM }
    }
}

/// Why a connection must be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overrun {
    /// The connection alone holds more than `maxHeldBytesPerConnection`.
    Connection { held: u64, limit: u64 },
    /// The VM's connections together hold more than `maxHeldBytesPerVm`, this one growing its share.
    Vm { held: u64, total: u64, limit: u64 },
}

impl Overrun {
    /// The metric label of the bound exceeded.
    pub fn limit_name(&self) -> &'static str {
        match self {
            Overrun::Connection { .. } => "connection",
            Overrun::Vm { .. } => "vm",
        }
    }

    pub fn reason(&self) -> String {
        match *self {
            Overrun::Connection { held, limit } => {
                format!("holds {held} undecided bytes, over maxHeldBytesPerConnection {limit}")
            }
            Overrun::Vm { held, total, limit } => format!(
                "holds {held} undecided bytes while the VM's connections hold {total}, over maxHeldBytesPerVm {limit}"
            ),
        }
    }
}

/// The bytes held by every connection of one VM.
#[derive(Debug, Default)]
pub struct VmHeld {
    total: u64,
}

impl VmHeld {
    pub fn total(&self) -> u64 {
        self.total
    }

    /// One connection's held bytes went from `before` to `now`. The total follows either way; `Err` means
    /// the connection must be closed (its bytes are [`VmHeld::release`]d when it goes).
    pub fn update(&mut self, before: u64, now: u64, limits: HeldLimits) -> Result<(), Overrun> {
        self.total = self.total.saturating_sub(before).saturating_add(now);
        if now > limits.per_connection {
            return Err(Overrun::Connection { held: now, limit: limits.per_connection });
        }
        if now > before && now > VM_BOUND_EXEMPT_BYTES && self.total > limits.per_vm {
            return Err(Overrun::Vm { held: now, total: self.total, limit: limits.per_vm });
        }
        Ok(())
    }

    /// A connection that held `held` bytes is gone.
    pub fn release(&mut self, held: u64) {
        self.total = self.total.saturating_sub(held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeldLimits = HeldLimits { per_connection: 1 << 20, per_vm: 3 << 20 };

    #[test]
    fn a_connection_over_its_own_bound_is_closed() {
        let mut vm = VmHeld::default();
        assert_eq!(vm.update(0, 1 << 20, LIMITS), Ok(()));
        assert_eq!(
            vm.update(1 << 20, (1 << 20) + 1, LIMITS),
            Err(Overrun::Connection { held: (1 << 20) + 1, limit: 1 << 20 })
        );
        vm.release((1 << 20) + 1);
        assert_eq!(vm.total(), 0);
    }

    #[test]
    fn the_connection_growing_past_the_vm_bound_is_closed_and_small_holders_are_not() {
        let mut vm = VmHeld::default();
        for _ in 0..3 {
            assert_eq!(vm.update(0, 1 << 20, LIMITS), Ok(()));
        }
        // A fourth one growing past the VM's bound is closed; the total stays as reported until it goes.
        let err = vm.update(0, 100_000, LIMITS).unwrap_err();
        assert!(matches!(err, Overrun::Vm { held: 100_000, .. }), "{err:?}");
        assert!(err.reason().contains("maxHeldBytesPerVm"));
        vm.release(100_000);
        // A small holder (a Metadata request) passes even with the VM full; shrinking never closes.
        assert_eq!(vm.update(0, 2_000, LIMITS), Ok(()));
        assert_eq!(vm.update(1 << 20, 1 << 19, LIMITS), Ok(()));
        assert_eq!(vm.total(), (2 << 20) + (1 << 19) + 2_000);
    }

    #[test]
    fn release_never_underflows() {
        let mut vm = VmHeld::default();
        vm.release(10);
        assert_eq!(vm.update(5, 0, LIMITS), Ok(()));
        assert_eq!(vm.total(), 0);
    }
}
