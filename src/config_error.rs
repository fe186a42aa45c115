//! Configuration errors: a leaf every section's compiler can name without importing the configuration
//! (which imports the sections).

/// A configuration that cannot be loaded; `Display` names the field and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// A semantic error found while compiling one section: `field` is the path inside the section
/// (e.g. `users[2].acls[0].operations`), `problem` says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        FieldError { field: field.into(), problem: problem.into() }
    }

    pub(crate) fn in_section(self, section: &str) -> ConfigError {
        let sep = if self.field.is_empty() || self.field.starts_with('[') { "" } else { "." };
        ConfigError(format!("configuration field `{section}{sep}{}`: {}", self.field, self.problem))
    }
}
