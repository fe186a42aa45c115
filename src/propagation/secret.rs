//! A secret value (a password, a derivation secret, a SASL initial response) that no `Debug` prints.

use std::fmt;

/// A secret value: never printed.
#[derive(Clone)]
pub(super) struct Secret(pub(super) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
