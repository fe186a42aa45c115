//! Lookup structures for compiled rules: resource-name patterns (literal, prefixed, every name) and a
//! small non-cryptographic hasher. Keys come from configuration only; names from the wire are only looked
//! up, never inserted, so the fast hash cannot be flooded with collisions by clients.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// The Fx hash (as used inside rustc): a multiply-rotate over machine words, several times faster than
/// SipHash on the short keys here (principals, topic names).
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            for (dst, src) in word.iter_mut().zip(rest) {
                *dst = *src;
            }
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Values attached to resource-name patterns of one resource type, Kafka style: a literal name, a
/// prefix, or every name (the literal `*`).
#[derive(Debug, Clone)]
pub struct PatternIndex<T> {
    literal: FxHashMap<Box<str>, T>,
    /// Sorted by the bytes of the prefix, no duplicates, no empty prefix.
    prefixed: Vec<(Box<str>, T)>,
    any_name: Option<T>,
}

impl<T> Default for PatternIndex<T> {
    fn default() -> Self {
        PatternIndex { literal: FxHashMap::default(), prefixed: Vec::new(), any_name: None }
    }
}

impl<T> PatternIndex<T> {
    /// Calls `visit` for the value of every pattern matching `name` (every-name first, then literal,
    /// then prefixes from longest to shortest) until `visit` returns true; returns whether it did.
    #[inline]
    pub fn find_match(&self, name: &str, mut visit: impl FnMut(&T) -> bool) -> bool {
        if let Some(value) = &self.any_name {
            if visit(value) {
                return true;
            }
        }
        if !self.literal.is_empty() {
            if let Some(value) = self.literal.get(name) {
                if visit(value) {
                    return true;
                }
            }
        }
        if self.prefixed.is_empty() {
            return false;
        }
        // Every prefix of `target` that is a stored pattern still has to be visited. The largest stored
        // pattern `p` <= `target` either is a prefix of it (visit, then continue with the strictly shorter
        // prefixes of target), or shares only `c` < len(target) leading bytes with it, in which case no
        // stored prefix of target is longer than `c` (it would sort between `p` and `target`).
        // Each round shortens `target`, and usually one or two binary searches settle it.
        let mut target: &[u8] = name.as_bytes();
        while !target.is_empty() {
            let upper = self.prefixed.partition_point(|(pattern, _)| pattern.as_bytes() <= target);
            let Some((pattern, value)) = upper.checked_sub(1).and_then(|i| self.prefixed.get(i)) else {
                break;
            };
            let pattern = pattern.as_bytes();
            if target.starts_with(pattern) {
                if visit(value) {
                    return true;
                }
                target = pattern.get(..pattern.len().saturating_sub(1)).unwrap_or_default();
            } else {
                let common = pattern.iter().zip(target).take_while(|(a, b)| a == b).count();
                target = target.get(..common).unwrap_or_default();
            }
        }
        false
    }

    pub fn is_empty(&self) -> bool {
        self.literal.is_empty() && self.prefixed.is_empty() && self.any_name.is_none()
    }
}

/// Collects patterns before freezing them into a [`PatternIndex`].
#[derive(Debug)]
pub struct PatternIndexBuilder<T> {
    literal: FxHashMap<Box<str>, T>,
    prefixed: BTreeMap<Box<str>, T>,
    any_name: Option<T>,
}

impl<T> Default for PatternIndexBuilder<T> {
    fn default() -> Self {
        PatternIndexBuilder { literal: FxHashMap::default(), prefixed: BTreeMap::new(), any_name: None }
    }
}

/// A resource pattern as compiled: Kafka's literal `*` is `AnyName`; prefixes are never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePattern {
    Literal(Box<str>),
    Prefixed(Box<str>),
    AnyName,
}

impl<T: Default> PatternIndexBuilder<T> {
    /// The value stored under `pattern`, created empty on first use.
    pub fn slot(&mut self, pattern: &NamePattern) -> &mut T {
        match pattern {
            NamePattern::Literal(name) => self.literal.entry(name.clone()).or_default(),
            NamePattern::Prefixed(prefix) => self.prefixed.entry(prefix.clone()).or_default(),
            NamePattern::AnyName => self.any_name.get_or_insert_with(T::default),
        }
    }

    pub fn build(self) -> PatternIndex<T> {
        let mut literal = self.literal;
        literal.shrink_to_fit();
        // BTreeMap<Box<str>, _> iterates in byte order of the keys: the order `find_match` searches in.
        let prefixed = self.prefixed.into_iter().filter(|(prefix, _)| !prefix.is_empty()).collect();
        PatternIndex { literal, prefixed, any_name: self.any_name }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(patterns: &[NamePattern]) -> PatternIndex<Vec<usize>> {
        let mut builder = PatternIndexBuilder::<Vec<usize>>::default();
        for (i, pattern) in patterns.iter().enumerate() {
            builder.slot(pattern).push(i);
        }
        builder.build()
    }

    fn matches(index: &PatternIndex<Vec<usize>>, name: &str) -> Vec<usize> {
        let mut found = Vec::new();
        index.find_match(name, |ids| {
            found.extend_from_slice(ids);
            false
        });
        found.sort_unstable();
        found
    }

    fn naive(patterns: &[NamePattern], name: &str) -> Vec<usize> {
        let hits = patterns.iter().enumerate().filter(|(_, p)| match p {
            NamePattern::Literal(n) => **n == *name,
            NamePattern::Prefixed(n) => !n.is_empty() && name.starts_with(&**n),
            NamePattern::AnyName => true,
        });
        hits.map(|(i, _)| i).collect()
    }

    #[test]
    fn prefix_search_finds_every_matching_prefix() {
        let words = ["a", "ab", "abc", "abd", "abcd", "b", "orders-", "orders-eu", "orders-eu-1", "ordersx", "z"];
        let patterns: Vec<NamePattern> = words.iter().map(|w| NamePattern::Prefixed((*w).into())).collect();
        let idx = index(&patterns);
        for name in ["", "a", "abc", "abce", "abcde", "abd", "abx", "b", "c", "orders-eu-12", "orders-e", "zz", "ü"] {
            assert_eq!(matches(&idx, name), naive(&patterns, name), "name {name:?}");
        }
    }

    #[test]
    fn prefix_search_agrees_with_a_linear_scan_on_generated_patterns() {
        let mut patterns = Vec::new();
        let mut seed: u32 = 7;
        let mut next = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) as usize
        };
        let alphabet = ['a', 'b', 'c'];
        let mut word = |n: usize| -> String { (0..n).map(|_| alphabet[next() % 3]).collect() };
        for i in 0..300 {
            let w = word(1 + i % 6);
            patterns.push(match i % 3 {
                0 => NamePattern::Literal(w.into()),
                _ => NamePattern::Prefixed(w.into()),
            });
        }
        let idx = index(&patterns);
        for i in 0..500 {
            let name = word(i % 8);
            assert_eq!(matches(&idx, &name), naive(&patterns, &name), "name {name:?}");
        }
    }

    #[test]
    fn any_name_and_literal_are_visited() {
        let patterns = [NamePattern::AnyName, NamePattern::Literal("t".into()), NamePattern::Prefixed("t".into())];
        let idx = index(&patterns);
        assert_eq!(matches(&idx, "t"), vec![0, 1, 2]);
        assert_eq!(matches(&idx, "u"), vec![0]);
        assert!(idx.find_match("t", |ids| ids.contains(&1)));
    }
}
