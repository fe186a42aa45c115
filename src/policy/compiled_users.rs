//! The `users` list compiled entry by entry as serde reads the document, so that the list as written never
//! exists whole. For a policy of 10,000 principals (100,000 ACL entries) it was 23 MB in a wasm VM (41 MB on
//! a 64-bit host) of strings and vectors, held beside the compiled form while it was built.

use std::fmt;

use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};

use super::compile::Compiler;
use super::config::{AuthorizationConfig, Text, UserRules};
use super::Authorizer;
use crate::config_error::FieldError;

/// `authorization.users`, compiled as read (see [`AuthorizationConfig`]).
#[derive(Default)]
pub struct CompiledUsers {
    compiler: Compiler,
    /// The first user that did not compile: the rest are still read (the document's own errors, anywhere in
    /// it, are reported first, as when it is read whole), not compiled.
    error: Option<FieldError>,
}

impl<'de> Deserialize<'de> for CompiledUsers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(UsersVisitor)
    }
}

struct UsersVisitor;

impl<'de> Visitor<'de> for UsersVisitor {
    type Value = CompiledUsers;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As serde's `Vec` says it.
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CompiledUsers, A::Error> {
        let mut users = CompiledUsers::default();
        let mut index = 0;
        while let Some(user) = seq.next_element::<UserRules<Text<'de>>>()? {
            if users.error.is_none() {
                if let Err(error) = users.compiler.user(index, &user) {
                    users.error = Some(error);
                    users.compiler = Compiler::default();
                }
            }
            index += 1;
        }
        Ok(users)
    }
}

impl Authorizer {
    /// Compiles a configuration whose users were compiled as they were read; the error names the offending
    /// field, as [`Authorizer::compile`]'s does.
    pub fn compile_read(mut cfg: AuthorizationConfig<CompiledUsers>) -> Result<Self, FieldError> {
        let CompiledUsers { compiler, error } = std::mem::take(&mut cfg.users);
        compiler.finish(&cfg, error)
    }
}
