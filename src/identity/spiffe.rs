//! SPIFFE IDs (the in-mesh identity in a URI SAN) and the template that makes a principal of one.

// SPIFFE

pub(super) const SPIFFE_SCHEME: &str = "spiffe://";
pub(super) const SPIFFE_ID_MAX_BYTES: usize = 2048;
pub(super) const TRUST_DOMAIN_MAX_BYTES: usize = 255;

/// A URI SAN that claims to be a SPIFFE ID (scheme `spiffe`, any case); it still has to pass [`SpiffeId::parse`].
pub(super) fn is_spiffe_uri(uri: &str) -> bool {
    uri.get(..SPIFFE_SCHEME.len() - 2).is_some_and(|scheme| scheme.eq_ignore_ascii_case("spiffe:"))
}

/// A SPIFFE ID validated per the SPIFFE-ID specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpiffeId {
    id: String,
    trust_domain: String,
    path: Vec<String>,
}

impl SpiffeId {
    pub fn parse(uri: &str) -> Result<SpiffeId, String> {
        if uri.len() > SPIFFE_ID_MAX_BYTES {
            return Err(format!("longer than {SPIFFE_ID_MAX_BYTES} bytes"));
        }
        let rest = match uri.strip_prefix(SPIFFE_SCHEME) {
            Some(rest) => rest,
            None if is_spiffe_uri(uri) && uri.to_ascii_lowercase().starts_with(SPIFFE_SCHEME) => {
                return Err("scheme must be lowercase `spiffe://`".into())
            }
            None => return Err("must start with `spiffe://`".into()),
        };
        let (trust_domain, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, ""),
        };
        check_trust_domain(trust_domain)?;
        let mut segments = Vec::new();
        if let Some(path) = path.strip_prefix('/') {
            for segment in path.split('/') {
                if segment.is_empty() {
                    return Err("empty path segment (`//` or a trailing `/`)".into());
                }
                if segment == "." || segment == ".." {
                    return Err(format!("path segment `{segment}` is not allowed"));
                }
                if let Some(c) = segment.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
                {
                    return Err(format!("path: {}", uri_char_problem(c)));
                }
                segments.push(segment.to_owned());
            }
        }
        Ok(SpiffeId { id: uri.to_owned(), trust_domain: trust_domain.to_owned(), path: segments })
    }

    pub fn as_str(&self) -> &str {
        &self.id
    }

    pub fn trust_domain(&self) -> &str {
        &self.trust_domain
    }

    pub fn path_segments(&self) -> &[String] {
        &self.path
    }

    /// `(namespace, service account)` of an ID shaped `/ns/<namespace>/sa/<service-account>` (Istio, SPIRE on
    /// Kubernetes).
    pub fn workload(&self) -> Option<(&str, &str)> {
        match self.path.as_slice() {
            [ns, namespace, sa, account] if ns == "ns" && sa == "sa" => Some((namespace, account)),
            _ => None,
        }
    }
}

pub(super) fn check_trust_domain(trust_domain: &str) -> Result<(), String> {
    if trust_domain.is_empty() {
        return Err("trust domain is empty".into());
    }
    if trust_domain.len() > TRUST_DOMAIN_MAX_BYTES {
        return Err(format!("trust domain is longer than {TRUST_DOMAIN_MAX_BYTES} bytes"));
    }
    match trust_domain.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_')))
    {
        None => Ok(()),
        Some(c) if c.is_ascii_uppercase() => Err("trust domain must be lowercase".into()),
        Some(':') => Err("trust domain: a port is not allowed".into()),
        Some(c) => Err(format!("trust domain: {}", uri_char_problem(c))),
    }
}

pub(super) fn uri_char_problem(c: char) -> String {
    match c {
        '%' => "percent-encoding is not allowed".into(),
        '?' => "a query is not allowed".into(),
        '#' => "a fragment is not allowed".into(),
        '@' => "userinfo is not allowed".into(),
        c => format!("character `{}` is not allowed", c.escape_debug()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TemplatePart {
    Literal(String),
    TrustDomain,
    Namespace,
    ServiceAccount,
    SpiffeId,
}

/// The principal name template of SPIFFE identities, e.g. `CN={namespace}-{serviceAccount}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalTemplate {
    parts: Vec<TemplatePart>,
}

impl Default for PrincipalTemplate {
    /// `CN={namespace}-{serviceAccount}`.
    fn default() -> Self {
        PrincipalTemplate {
            parts: vec![
                TemplatePart::Literal("CN=".into()),
                TemplatePart::Namespace,
                TemplatePart::Literal("-".into()),
                TemplatePart::ServiceAccount,
            ],
        }
    }
}

impl PrincipalTemplate {
    pub fn parse(template: &str) -> Result<Self, String> {
        if template.trim().is_empty() {
            return Err("template is empty".into());
        }
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = template;
        while let Some(brace) = rest.find(['{', '}']) {
            let (before, from_brace) = rest.split_at(brace);
            literal.push_str(before);
            let Some(after_open) = from_brace.strip_prefix('{') else {
                return Err(format!("`}}` without `{{` in `{template}`"));
            };
            let Some(close) = after_open.find('}') else {
                return Err(format!("unclosed `{{` in `{template}`"));
            };
            let (name, from_close) = after_open.split_at(close);
            let part = match name {
                "trustDomain" => TemplatePart::TrustDomain,
                "namespace" => TemplatePart::Namespace,
                "serviceAccount" => TemplatePart::ServiceAccount,
                "spiffeId" => TemplatePart::SpiffeId,
                other => {
                    return Err(format!(
                        "unknown placeholder `{{{other}}}` (known: {{trustDomain}}, {{namespace}}, {{serviceAccount}}, \
                         {{spiffeId}})"
                    ))
                }
            };
            if !literal.is_empty() {
                parts.push(TemplatePart::Literal(std::mem::take(&mut literal)));
            }
            parts.push(part);
            rest = from_close.strip_prefix('}').unwrap_or(from_close);
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(TemplatePart::Literal(literal));
        }
        Ok(PrincipalTemplate { parts })
    }

    /// The principal name for `id`; `None` when the template needs a namespace and service account that `id` does
    /// not have.
    pub fn render(&self, id: &SpiffeId) -> Option<String> {
        let workload = id.workload();
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::TrustDomain => out.push_str(id.trust_domain()),
                TemplatePart::SpiffeId => out.push_str(id.as_str()),
                TemplatePart::Namespace => out.push_str(workload?.0),
                TemplatePart::ServiceAccount => out.push_str(workload?.1),
            }
        }
        Some(out)
    }
}
