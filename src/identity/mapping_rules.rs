//! Kafka's `ssl.principal.mapping.rules`, as Kafka's `SslPrincipalMapper` reads and applies them.

use regex::{Captures, Regex};

// Kafka ssl.principal.mapping.rules

/// Java's `.`: any character but a line terminator.
pub(super) const JAVA_DOT: &str = r"[^\n\r\x{85}\x{2028}\x{2029}]";
/// Java's `\s` (ASCII).
pub(super) const JAVA_SPACE: &str = r"[ \t\n\x0B\x0C\r]";

/// Kafka's `SslPrincipalMapper.RULE_PATTERN`, with Java's `.` spelled out.
pub(super) fn kafka_rule_pattern() -> String {
    let d = JAVA_DOT;
    format!(r"(DEFAULT)|RULE:((\\{d}|[^\\/])*)/((\\{d}|[^\\/])*)/([LU]?){d}*?|({d}*?)")
}

/// Java `String.trim()`: strips every character up to U+0020 at both ends.
pub(super) fn java_trim(text: &str) -> &str {
    text.trim_matches(|c: char| c <= ' ')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CaseFold {
    None,
    Lower,
    Upper,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ReplacementPart {
    Literal(String),
    Group(usize),
}

#[derive(Debug, Clone)]
pub(super) enum MappingRule {
    Default,
    Rule {
        /// Source texts, for messages.
        pattern: String,
        replacement_text: String,
        /// `^(?:pattern)$`: Java `matcher.matches()`.
        whole: Regex,
        /// The pattern as is: Java `String.replaceAll`.
        search: Regex,
        replacement: Vec<ReplacementPart>,
        case: CaseFold,
    },
}

impl MappingRule {
    fn compile(pattern: &str, replacement_text: &str, case: CaseFold) -> Result<MappingRule, String> {
        let search = Regex::new(pattern).map_err(|e| format!("invalid pattern `{pattern}`: {e}"))?;
        let whole =
            Regex::new(&format!(r"\A(?:{pattern})\z")).map_err(|e| format!("invalid pattern `{pattern}`: {e}"))?;
        let group_count = search.captures_len().saturating_sub(1);
        let escaped = escape_literal_back_references(replacement_text, group_count)
            .map_err(|e| format!("invalid replacement `{replacement_text}`: {e}"))?;
        let replacement = parse_java_replacement(&escaped, &search)
            .map_err(|e| format!("invalid replacement `{replacement_text}` for pattern `{pattern}`: {e}"))?;
        Ok(MappingRule::Rule {
            pattern: pattern.to_owned(),
            replacement_text: replacement_text.to_owned(),
            whole,
            search,
            replacement,
            case,
        })
    }

    fn apply(&self, dn: &str) -> Option<String> {
        let MappingRule::Rule { whole, search, replacement, case, .. } = self else {
            return Some(dn.to_owned());
        };
        if !whole.is_match(dn) {
            return None;
        }
        // Kafka applies `replaceAll` with the unanchored pattern, which may match (and replace) more than once.
        let mut out = String::with_capacity(dn.len());
        let mut copied_up_to = 0;
        for caps in java_find_all(search, dn) {
            let Some(m) = caps.get(0) else { continue };
            out.push_str(dn.get(copied_up_to..m.start()).unwrap_or_default());
            for part in replacement {
                match part {
                    ReplacementPart::Literal(text) => out.push_str(text),
                    ReplacementPart::Group(i) => out.push_str(caps.get(*i).map_or("", |g| g.as_str())),
                }
            }
            copied_up_to = m.end();
        }
        out.push_str(dn.get(copied_up_to..).unwrap_or_default());
        Some(match case {
            CaseFold::None => out,
            CaseFold::Lower => out.to_lowercase(),
            CaseFold::Upper => out.to_uppercase(),
        })
    }
}

impl std::fmt::Display for MappingRule {
    /// Kafka's `Rule.toString()`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MappingRule::Default => f.write_str("DEFAULT"),
            MappingRule::Rule { pattern, replacement_text, case, .. } => {
                write!(f, "RULE:{pattern}/{replacement_text}")?;
                match case {
                    CaseFold::None => Ok(()),
                    CaseFold::Lower => f.write_str("/L"),
                    CaseFold::Upper => f.write_str("/U"),
                }
            }
        }
    }
}

/// Successive matches as Java's `Matcher.find()` yields them: after an empty match the search resumes one
/// character further, and an empty match right after a non-empty one is allowed.
pub(super) fn java_find_all<'h>(re: &Regex, haystack: &'h str) -> Vec<Captures<'h>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(caps) = re.captures_at(haystack, from) {
        let Some((start, end)) = caps.get(0).map(|m| (m.start(), m.end())) else { break };
        found.push(caps);
        from = if start == end {
            match haystack.get(end..).and_then(|rest| rest.chars().next()) {
                Some(c) => end + c.len_utf8(),
                None => break,
            }
        } else {
            end
        };
    }
    found
}

/// Kafka's `escapeLiteralBackReferences` (from Apache NiFi), including its quirk: positions found in the original
/// text are used to insert into the already modified text. Works on UTF-16 units like Java.
pub(super) fn escape_literal_back_references(unescaped: &str, group_count: usize) -> Result<String, String> {
    if group_count == 0 {
        return Ok(unescaped.to_owned());
    }
    let original: Vec<u16> = unescaped.encode_utf16().collect();
    let mut value = original.clone();
    let is_digit = |u: &u16| (u16::from(b'0')..=u16::from(b'9')).contains(u);
    let mut i = 0;
    while i < original.len() {
        let starts_reference = original.get(i) == Some(&u16::from(b'$')) && original.get(i + 1).is_some_and(is_digit);
        if !starts_reference {
            i += 1;
            continue;
        }
        let group_start = i + 1;
        let digits: String =
            original.iter().skip(group_start).take_while(|u| is_digit(u)).map(|u| char::from(*u as u8)).collect();
        i = group_start + digits.len();
        if digits.starts_with('0') {
            continue;
        }
        // Java's Integer.parseInt: larger numbers throw.
        let mut index: usize = digits
            .parse::<i32>()
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| format!("back reference `${digits}` is too large"))?;
        while index > group_count && index >= 10 {
            index /= 10;
        }
        if index > group_count {
            let at = (group_start - 1).min(value.len());
            value.insert(at, u16::from(b'\\'));
        }
    }
    String::from_utf16(&value).map_err(|_| "back reference escaping splits a character".to_owned())
}

/// Java `Matcher.appendReplacement` syntax: `\x` is a literal `x`, `$n` a group (digits taken while the number stays
/// a valid group), `${name}` a named group.
pub(super) fn parse_java_replacement(replacement: &str, re: &Regex) -> Result<Vec<ReplacementPart>, String> {
    let group_count = re.captures_len().saturating_sub(1);
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => literal.push(chars.next().ok_or("character to be escaped is missing")?),
            '$' => {
                let group = match chars.next() {
                    None => return Err("illegal group reference: group index is missing".into()),
                    Some('{') => {
                        let mut name = String::new();
                        loop {
                            match chars.next() {
                                Some('}') => break,
                                Some(c) if c.is_ascii_alphanumeric() => name.push(c),
                                _ => return Err("named capturing group is missing trailing '}'".into()),
                            }
                        }
                        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
                            return Err(format!("invalid capturing group name `{name}`"));
                        }
                        re.capture_names()
                            .position(|n| n == Some(name.as_str()))
                            .ok_or_else(|| format!("no group with name {{{name}}}"))?
                    }
                    Some(first) => {
                        let mut number = first.to_digit(10).ok_or("illegal group reference")? as usize;
                        while let Some(next) = chars.peek().and_then(|c| c.to_digit(10)) {
                            let longer = number * 10 + next as usize;
                            if longer > group_count {
                                break;
                            }
                            number = longer;
                            chars.next();
                        }
                        if number > group_count {
                            return Err(format!("no group {number}"));
                        }
                        number
                    }
                };
                if !literal.is_empty() {
                    parts.push(ReplacementPart::Literal(std::mem::take(&mut literal)));
                }
                parts.push(ReplacementPart::Group(group));
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(ReplacementPart::Literal(literal));
    }
    Ok(parts)
}

/// Compiled `ssl.principal.mapping.rules`, with Kafka's `SslPrincipalMapper` semantics.
#[derive(Debug, Clone)]
pub struct PrincipalMappingRules {
    pub(super) rules: Vec<MappingRule>,
}

impl Default for PrincipalMappingRules {
    /// `DEFAULT`.
    fn default() -> Self {
        PrincipalMappingRules { rules: vec![MappingRule::Default] }
    }
}

impl std::fmt::Display for PrincipalMappingRules {
    /// Kafka's `List<Rule>.toString()`, e.g. `[RULE:^CN=(.*)$/$1/L, DEFAULT]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[")?;
        for (i, rule) in self.rules.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{rule}")?;
        }
        f.write_str("]")
    }
}

impl PrincipalMappingRules {
    /// Splits and parses the rules exactly as Kafka does (its regex splitter, so commas inside patterns work).
    /// An empty text gives no rule at all (every DN refused), as in Kafka.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(c) = text.chars().find(|c| matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}')) {
            // Java's `$` also matches before these; not reproduced, so refused.
            return Err(format!("contains the line separator U+{:04X}", u32::from(c)));
        }
        let rule_pattern = kafka_rule_pattern();
        let splitter = Regex::new(&format!(r"{s}*({rule_pattern}){s}*(,{s}*|$)", s = JAVA_SPACE))
            .map_err(|e| format!("internal error in the rule splitter: {e}"))?;
        let parser = Regex::new(&format!(r"\A(?:{rule_pattern})"))
            .map_err(|e| format!("internal error in the rule parser: {e}"))?;
        let mut rules = Vec::new();
        for split in java_find_all(&splitter, java_trim(text)) {
            let rule = split.get(1).map_or("", |m| m.as_str());
            let Some(caps) = parser.captures(rule) else {
                return Err(format!("invalid rule `{rule}`"));
            };
            let end = caps.get(0).map_or(0, |m| m.end());
            if end != rule.len() {
                return Err(format!("invalid rule `{rule}`, unmatched substring `{}`", rule.get(end..).unwrap_or("")));
            }
            if caps.get(1).is_some() {
                rules.push(MappingRule::Default);
            } else if let Some(pattern) = caps.get(2) {
                let replacement = caps.get(4).map_or("", |m| m.as_str());
                let case = match caps.get(6).map(|m| m.as_str()) {
                    Some("L") => CaseFold::Lower,
                    Some("U") => CaseFold::Upper,
                    _ => CaseFold::None,
                };
                rules.push(MappingRule::compile(pattern.as_str(), replacement, case)?);
            }
            // Anything else matched the empty alternative: an empty rule, ignored as Kafka does.
        }
        Ok(PrincipalMappingRules { rules })
    }

    /// The principal name of `dn`, from the first rule matching it; `None` when no rule matches (Kafka's
    /// `NoMatchingRule`).
    pub fn map(&self, dn: &str) -> Option<String> {
        self.rules.iter().find_map(|rule| rule.apply(dn))
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}
