//! Lookup structures for compiled rules: resource-name patterns (literal, prefixed, every name) and a
//! small non-cryptographic hasher. Keys come from configuration only; names from the wire are only looked
//! up, never inserted, so the fast hash cannot be flooded with collisions by clients.
//!
//! Names are shared (`Rc<str>`, interned by the compiler): the index of a principal, the rule descriptions and
//! the index of covered resources hold one copy of each name, however many rules name it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

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
pub type FxHashSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

/// Values attached to resource-name patterns of one resource type, Kafka style: a literal name, a
/// prefix, or every name (the literal `*`).
#[derive(Debug, Clone)]
pub struct PatternIndex<T> {
    literal: FxHashMap<Rc<str>, T>,
    prefixed: PrefixIndex<T>,
    any_name: Option<T>,
}

/// Up to this many distinct prefix lengths, prefixes are found by hashing the name once and probing one
/// table per stored length; beyond, by binary searches in the sorted prefixes.
const MAX_HASHED_PREFIX_LENGTHS: usize = 32;

/// Prefix patterns (never empty), in whichever form finds the prefixes of a name faster.
#[derive(Debug, Clone)]
enum PrefixIndex<T> {
    /// Typical policies use prefixes of a few lengths (`orders-`, `team-a.`).
    ByLength(PrefixTable<T>),
    /// Sorted by the bytes of the prefix, no duplicates.
    Sorted(Vec<(Rc<str>, T)>),
}

impl<T> Default for PatternIndex<T> {
    fn default() -> Self {
        PatternIndex { literal: FxHashMap::default(), prefixed: PrefixIndex::Sorted(Vec::new()), any_name: None }
    }
}

impl<T> PatternIndex<T> {
    /// Calls `visit` for the value of every pattern matching `name` (every-name, literal, then prefixes)
    /// until `visit` returns true; returns whether it did.
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
        match &self.prefixed {
            PrefixIndex::ByLength(table) => table.find_prefixes(name, visit),
            PrefixIndex::Sorted(sorted) => find_sorted_prefixes(sorted, name, visit),
        }
    }

    /// Calls `visit` for every pattern: `(name, is_prefix, value)`; the every-name pattern is `("*", false)`.
    pub fn for_each(&self, mut visit: impl FnMut(&str, bool, &T)) {
        if let Some(value) = &self.any_name {
            visit("*", false, value);
        }
        for (name, value) in &self.literal {
            visit(name, false, value);
        }
        let prefixes = match &self.prefixed {
            PrefixIndex::ByLength(table) => &table.entries,
            PrefixIndex::Sorted(sorted) => sorted,
        };
        for (name, value) in prefixes {
            visit(name, true, value);
        }
    }

    pub fn is_empty(&self) -> bool {
        let no_prefixes = match &self.prefixed {
            PrefixIndex::ByLength(table) => table.entries.is_empty(),
            PrefixIndex::Sorted(sorted) => sorted.is_empty(),
        };
        self.literal.is_empty() && no_prefixes && self.any_name.is_none()
    }
}

/// Prefixes in an open-addressing table keyed by the FNV-1a hash of their bytes. FNV-1a extends byte by
/// byte, so one pass over a name yields the hash of each of its prefixes: a name costs one pass and one
/// probe per stored prefix length, not one full hash per length.
#[derive(Debug, Clone)]
struct PrefixTable<T> {
    /// Distinct prefix lengths in bytes, ascending.
    lengths: Vec<usize>,
    /// Power-of-two sized, at most half full; `(hash, index into entries + 1)`, 0 = empty slot.
    slots: Vec<(u64, u32)>,
    entries: Vec<(Rc<str>, T)>,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl<T> PrefixTable<T> {
    fn new(lengths: Vec<usize>, entries: Vec<(Rc<str>, T)>) -> Self {
        let capacity = (entries.len() * 2).next_power_of_two().max(8);
        let mut slots = vec![(0u64, 0u32); capacity];
        let mask = capacity - 1;
        for (position, (prefix, _)) in entries.iter().enumerate() {
            let hash = prefix.bytes().fold(FNV_OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME));
            let mut slot = Self::home(hash, mask);
            // Terminates: the table is at most half full.
            while slots.get(slot).is_some_and(|&(_, id)| id != 0) {
                slot = (slot + 1) & mask;
            }
            if let Some(free) = slots.get_mut(slot) {
                *free = (hash, u32::try_from(position + 1).unwrap_or(u32::MAX));
            }
        }
        PrefixTable { lengths, slots, entries }
    }

    #[inline]
    fn home(hash: u64, mask: usize) -> usize {
        // Fold the well-mixed high bits into the low ones the mask keeps.
        (hash ^ (hash >> 29)).wrapping_mul(FX_SEED).rotate_left(20) as usize & mask
    }

    #[inline]
    fn find_prefixes(&self, name: &str, mut visit: impl FnMut(&T) -> bool) -> bool {
        let bytes = name.as_bytes();
        let mask = self.slots.len().wrapping_sub(1);
        let mut hash = FNV_OFFSET;
        let mut hashed = 0;
        for &len in &self.lengths {
            let Some(more) = bytes.get(hashed..len) else { break };
            hash = more.iter().fold(hash, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME));
            hashed = len;
            let mut slot = Self::home(hash, mask);
            while let Some(&(slot_hash, id)) = self.slots.get(slot) {
                if id == 0 {
                    break;
                }
                if slot_hash == hash {
                    let entry = (id as usize).checked_sub(1).and_then(|i| self.entries.get(i));
                    if let Some((prefix, value)) = entry {
                        if bytes.get(..len) == Some(prefix.as_bytes()) && visit(value) {
                            return true;
                        }
                    }
                }
                slot = (slot + 1) & mask;
            }
        }
        false
    }
}

/// Visits every stored prefix of `name`, longest first. Every prefix of `target` that is stored still has
/// to be visited. The largest stored pattern `p` <= `target` either is a prefix of it (visit, then continue
/// with the strictly shorter prefixes of target), or shares only `c` < len(target) leading bytes with it,
/// in which case no stored prefix of target is longer than `c` (it would sort between `p` and `target`).
/// Each round shortens `target`.
fn find_sorted_prefixes<T>(sorted: &[(Rc<str>, T)], name: &str, mut visit: impl FnMut(&T) -> bool) -> bool {
    let mut target: &[u8] = name.as_bytes();
    while !target.is_empty() {
        let upper = sorted.partition_point(|(pattern, _)| pattern.as_bytes() <= target);
        let Some((pattern, value)) = upper.checked_sub(1).and_then(|i| sorted.get(i)) else {
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

/// Collects patterns before freezing them into a [`PatternIndex`].
#[derive(Debug)]
pub struct PatternIndexBuilder<T> {
    literal: FxHashMap<Rc<str>, T>,
    prefixed: BTreeMap<Rc<str>, T>,
    any_name: Option<T>,
}

impl<T> Default for PatternIndexBuilder<T> {
    fn default() -> Self {
        PatternIndexBuilder { literal: FxHashMap::default(), prefixed: BTreeMap::new(), any_name: None }
    }
}

/// A resource pattern as compiled: Kafka's literal `*` is `AnyName`; prefixes are never empty. Ordered by
/// kind, then name (the compiler sorts a principal's entries by it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum NamePattern {
    Literal(Rc<str>),
    Prefixed(Rc<str>),
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
        self.build_with(MAX_HASHED_PREFIX_LENGTHS)
    }

    fn build_with(self, max_hashed_lengths: usize) -> PatternIndex<T> {
        let mut literal = self.literal;
        literal.shrink_to_fit();
        let mut lengths: Vec<usize> = self.prefixed.keys().map(|prefix| prefix.len()).filter(|&n| n > 0).collect();
        lengths.sort_unstable();
        lengths.dedup();
        lengths.shrink_to_fit();
        // BTreeMap<Rc<str>, _> iterates in byte order of the keys: the order `find_sorted_prefixes` needs.
        let mut prefixes: Vec<(Rc<str>, T)> =
            self.prefixed.into_iter().filter(|(prefix, _)| !prefix.is_empty()).collect();
        prefixes.shrink_to_fit();
        // No prefixes: nothing to probe, and no table (it would have 8 slots).
        let prefixed = if !prefixes.is_empty() && lengths.len() <= max_hashed_lengths {
            PrefixIndex::ByLength(PrefixTable::new(lengths, prefixes))
        } else {
            PrefixIndex::Sorted(prefixes)
        };
        PatternIndex { literal, prefixed, any_name: self.any_name }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both forms of the prefix index: hashed by length, and sorted.
    fn indexes(patterns: &[NamePattern]) -> [PatternIndex<Vec<usize>>; 2] {
        [usize::MAX, 0].map(|max_hashed_lengths| {
            let mut builder = PatternIndexBuilder::<Vec<usize>>::default();
            for (i, pattern) in patterns.iter().enumerate() {
                builder.slot(pattern).push(i);
            }
            builder.build_with(max_hashed_lengths)
        })
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
        let words = ["é", "a", "ab", "abc", "abd", "abcd", "b", "orders-", "orders-eu", "orders-eu-1", "ordersx", "z"];
        let patterns: Vec<NamePattern> = words.iter().map(|w| NamePattern::Prefixed((*w).into())).collect();
        for idx in indexes(&patterns) {
            for name in ["", "a", "abc", "abce", "abcde", "abd", "abx", "b", "c", "orders-eu-12", "orders-e", "zz", "ü"]
            {
                assert_eq!(matches(&idx, name), naive(&patterns, name), "name {name:?}");
            }
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
        let [hashed, sorted] = indexes(&patterns);
        for i in 0..500 {
            let name = word(i % 8);
            assert_eq!(matches(&hashed, &name), naive(&patterns, &name), "name {name:?}");
            assert_eq!(matches(&sorted, &name), naive(&patterns, &name), "name {name:?}");
        }
    }

    #[test]
    fn any_name_and_literal_are_visited() {
        let patterns = [NamePattern::AnyName, NamePattern::Literal("t".into()), NamePattern::Prefixed("t".into())];
        for idx in indexes(&patterns) {
            assert_eq!(matches(&idx, "t"), vec![0, 1, 2]);
            assert_eq!(matches(&idx, "u"), vec![0]);
            assert!(idx.find_match("t", |ids| ids.contains(&1)));
        }
    }
}
