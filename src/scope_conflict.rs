//! Two filter instances with different configurations under one plugin name (and root id) publish their policies
//! under one shared-data key, so each one's open connections follow the other's policy (README, Limits). Envoy
//! tells a root context nothing about its listener, but a VM sees it happen: its new connections keep arriving
//! alternately under two root contexts with different configurations, and no `on_configure` explains the switch.
//!
//! A configuration update moves new connections to the new root once, right after that root's `on_configure` in
//! the same VM (explained); a listener update back to a configuration whose root is still alive moves them back
//! without `on_configure` (unexplained, once). Two live listeners keep switching unexplained: the second
//! unexplained switch in a row is reported. (Alternating byte-identical listener reverts would look the same.)

/// What one VM has seen of one scope (one publication key).
#[derive(Debug, Default, Clone)]
pub struct ScopeSightings {
    /// The configuration (hash) of the root the last new connection came to (`None`: none yet).
    current: Option<u64>,
    /// Configurations this VM loaded (`on_configure`) since the last switch.
    configured: Vec<u64>,
    /// Switches in a row that no `on_configure` explains.
    unexplained: u32,
    reported: bool,
}

/// Configurations remembered as loaded since the last switch (updates between two new connections are few).
const CONFIGURED_KEPT: usize = 8;

impl ScopeSightings {
    /// This VM loaded a configuration of the scope (`on_configure`).
    pub fn configured(&mut self, hash: u64) {
        if !self.configured.contains(&hash) {
            if self.configured.len() >= CONFIGURED_KEPT {
                self.configured.remove(0);
            }
            self.configured.push(hash);
        }
    }

    /// A new connection came to a root with configuration `hash`. `true` once: two configurations are in force
    /// under this scope at the same time.
    pub fn new_connection(&mut self, hash: u64) -> bool {
        let previous = self.current.replace(hash);
        if previous.is_none_or(|p| p == hash) {
            return false;
        }
        if self.configured.contains(&hash) {
            self.unexplained = 0;
        } else {
            self.unexplained = self.unexplained.saturating_add(1);
        }
        self.configured.clear();
        if self.unexplained >= 2 && !self.reported {
            self.reported = true;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_listeners_under_one_name_are_reported_once() {
        let mut seen = ScopeSightings::default();
        seen.configured(1);
        seen.configured(2);
        let reports: Vec<bool> = [1, 2, 1, 2, 1, 2, 2, 1].iter().map(|h| seen.new_connection(*h)).collect();
        assert_eq!(reports, [false, false, false, true, false, false, false, false]);
    }

    #[test]
    fn updates_and_a_revert_are_not_conflicts() {
        let mut seen = ScopeSightings::default();
        seen.configured(1);
        assert!(!seen.new_connection(1));
        // An update: the new root's on_configure, then its connections (one racing to the old root).
        seen.configured(2);
        for hash in [1, 2, 2] {
            assert!(!seen.new_connection(hash));
        }
        // A listener update back to the first configuration, whose root is still alive: no on_configure.
        assert!(!seen.new_connection(1));
        // Another update, then its connections.
        seen.configured(3);
        assert!(!seen.new_connection(3));
        assert!(!seen.new_connection(3));
    }
}
