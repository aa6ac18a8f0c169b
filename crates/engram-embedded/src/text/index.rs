//! One tenant's in-memory inverted index with BM25 top-k retrieval.
//!
//! Why not SQLite FTS5: it scores every memory containing any query word
//! before it can return the best ten, so a common word costs time in
//! proportion to the store (half a second at a million memories). Here the
//! posting lists carry per-block maxima and the search skips every block
//! that cannot beat the current tenth-best score (block-max MaxScore), so
//! the work follows the answer, not the store.
//!
//! Documents get increasing slots, so posting lists stay sorted by
//! appending. A removed or replaced document is a tombstone until enough
//! pile up to compact; like Lucene, the BM25 statistics count tombstones
//! until then, which shifts scores slightly and never returns them.

use std::collections::HashMap;

use engram_core::bm25;
use engram_core::topk::TopK;

use engram_core::Result;
use engram_core::cancel::Cancel;

use super::analyzer;

/// Postings per block-max entry: small enough to skip precisely, large
/// enough that the maxima cost little memory.
const BLOCK: usize = 128;
/// A filtered search probes each allowed document directly when that is
/// cheaper than walking the posting lists.
const PROBE_FACTOR: usize = 8;

#[derive(Clone, Copy)]
pub(super) struct Doc {
    pub rowid: i64,
    pub len: u32,
    pub live: bool,
}

/// Pareto-best (term frequency, length) pairs kept per block.
const FRONTIER: usize = 4;

/// What bounds a block's best BM25 part: its (term frequency, document
/// length) pairs that no other pair beats on both counts, by ascending
/// frequency. The best score of the block is among them whatever the
/// average length, whereas the block's highest frequency paired with its
/// shortest length (two different documents, usually) overstates it
/// enough that common words' blocks could rarely be skipped.
#[derive(Clone, Copy, Default)]
struct BlockMax {
    pairs: [(u16, u32); FRONTIER],
    n: u8,
}

impl BlockMax {
    fn add(&mut self, tf: u16, len: u32) {
        let n = self.n as usize;
        if self.pairs[..n].iter().any(|&(t, l)| t >= tf && l <= len) {
            return;
        }
        let mut kept = [(0u16, 0u32); FRONTIER + 1];
        let mut k = 0;
        for &(t, l) in &self.pairs[..n] {
            if !(tf >= t && len <= l) {
                kept[k] = (t, l);
                k += 1;
            }
        }
        kept[k] = (tf, len);
        k += 1;
        kept[..k].sort_unstable();
        if k > FRONTIER {
            // Merge the two lowest frequencies into one pair at least as
            // good as either: still a bound, slightly looser.
            kept[1] = (kept[1].0, kept[0].1.min(kept[1].1));
            kept.copy_within(1..k, 0);
            k -= 1;
        }
        self.pairs[..k].copy_from_slice(&kept[..k]);
        self.n = k as u8;
    }

    fn pairs(&self) -> &[(u16, u32)] {
        &self.pairs[..self.n as usize]
    }

    fn tf_part(&self, avg_len: f32) -> f32 {
        self.pairs()
            .iter()
            .map(|&(tf, len)| tf_part(tf, len, avg_len))
            .fold(0.0, f32::max)
    }
}

#[derive(Default)]
pub(super) struct Postings {
    pub docs: Vec<u32>,
    pub tfs: Vec<u16>,
    blocks: Vec<BlockMax>,
}

impl Postings {
    pub fn push(&mut self, slot: u32, tf: u16, len: u32) {
        if self.docs.len().is_multiple_of(BLOCK) {
            self.blocks.push(BlockMax::default());
        }
        if let Some(b) = self.blocks.last_mut() {
            b.add(tf, len);
        }
        self.docs.push(slot);
        self.tfs.push(tf);
    }
}

/// Which documents a search may return.
pub enum Within<'a> {
    All,
    Rows(&'a [i64]),
}

#[derive(Default)]
pub struct TextIndex {
    pub(super) terms: HashMap<String, u32>,
    pub(super) lists: Vec<Postings>,
    pub(super) docs: Vec<Doc>,
    slots: HashMap<i64, u32>,
    total_len: u64,
    dead: usize,
}

/// BM25's saturating term-frequency part, before idf.
fn tf_part(tf: u16, len: u32, avg_len: f32) -> f32 {
    bm25::tf_part(f32::from(tf), len as f32, avg_len)
}

/// A position in one query term's posting list.
struct Cursor<'a> {
    list: &'a Postings,
    idf: f32,
    pos: usize,
    /// The best this term can add to any document.
    max: f32,
}

impl Cursor<'_> {
    fn doc(&self) -> u32 {
        self.list.docs.get(self.pos).copied().unwrap_or(u32::MAX)
    }

    fn block_max(&self, avg_len: f32) -> f32 {
        self.list
            .blocks
            .get(self.pos / BLOCK)
            .map_or(0.0, |b| self.idf * b.tf_part(avg_len))
    }

    /// The last document of the current block.
    fn block_last(&self) -> u32 {
        if self.pos >= self.list.docs.len() {
            return u32::MAX;
        }
        let end = ((self.pos / BLOCK + 1) * BLOCK).min(self.list.docs.len());
        self.list.docs[end - 1]
    }

    /// Moves to the first document at or after `target`, skipping whole
    /// blocks by their last document.
    fn seek(&mut self, target: u32) {
        let docs = &self.list.docs;
        while self.pos < docs.len() {
            let end = ((self.pos / BLOCK + 1) * BLOCK).min(docs.len());
            if docs[end - 1] >= target {
                self.pos += docs[self.pos..end].partition_point(|&d| d < target);
                return;
            }
            self.pos = end;
        }
    }
}

impl TextIndex {
    #[cfg(test)]
    pub fn from_texts(docs: &[(i64, &str)]) -> TextIndex {
        let mut index = TextIndex::default();
        for (rowid, text) in docs {
            index.upsert(*rowid, text);
        }
        index
    }

    /// [`TextIndex::search`], never cancelled.
    #[cfg(test)]
    pub fn top(&self, words: &[String], k: usize, within: Within<'_>) -> Vec<(i64, f32)> {
        self.search(words, k, within, &Cancel::new())
            .expect("never cancelled")
    }

    #[cfg(test)]
    pub fn live_docs(&self) -> usize {
        self.slots.len()
    }

    /// Indexes `text` as document `rowid`, replacing any earlier version.
    pub fn upsert(&mut self, rowid: i64, text: &str) {
        self.remove(rowid);
        let mut counts: HashMap<String, u16> = HashMap::new();
        let mut len = 0u32;
        for t in analyzer::terms(text) {
            len += 1;
            let c = counts.entry(t).or_default();
            *c = c.saturating_add(1);
        }
        let slot = self.docs.len() as u32;
        self.docs.push(Doc {
            rowid,
            len,
            live: true,
        });
        self.slots.insert(rowid, slot);
        self.total_len += len as u64;
        for (term, tf) in counts {
            let next = self.lists.len() as u32;
            let id = *self.terms.entry(term).or_insert(next);
            if id == next {
                self.lists.push(Postings::default());
            }
            self.lists[id as usize].push(slot, tf, len);
        }
    }

    /// Forgets document `rowid`; compacts once a quarter of slots are dead.
    pub fn remove(&mut self, rowid: i64) -> bool {
        let Some(slot) = self.slots.remove(&rowid) else {
            return false;
        };
        self.docs[slot as usize].live = false;
        self.dead += 1;
        if self.dead * 4 > self.docs.len() {
            self.compact();
        }
        true
    }

    /// Builds an index from its parts (as read back from a file).
    pub(super) fn from_parts(
        terms: HashMap<String, u32>,
        lists: Vec<Postings>,
        docs: Vec<Doc>,
    ) -> TextIndex {
        let slots = docs
            .iter()
            .enumerate()
            .filter(|(_, d)| d.live)
            .map(|(s, d)| (d.rowid, s as u32))
            .collect::<HashMap<_, _>>();
        TextIndex {
            total_len: docs.iter().map(|d| d.len as u64).sum(),
            dead: docs.len() - slots.len(),
            slots,
            terms,
            lists,
            docs,
        }
    }

    /// Drops tombstones: live documents keep their order under new slots.
    /// Drops dead documents and the terms only they used, so no word of a
    /// removed text is left to be saved (exact erasure).
    pub fn compact(&mut self) {
        let mut remap = vec![u32::MAX; self.docs.len()];
        let mut docs = Vec::with_capacity(self.slots.len());
        for (old, d) in self.docs.iter().enumerate() {
            if d.live {
                remap[old] = docs.len() as u32;
                docs.push(*d);
            }
        }
        let mut terms = HashMap::with_capacity(self.terms.len());
        let mut lists = Vec::with_capacity(self.lists.len());
        for (term, id) in self.terms.drain() {
            let old = &self.lists[id as usize];
            let mut list = Postings::default();
            for (d, tf) in old.docs.iter().zip(&old.tfs) {
                let slot = remap[*d as usize];
                if slot != u32::MAX {
                    list.push(slot, *tf, docs[slot as usize].len);
                }
            }
            if !list.docs.is_empty() {
                terms.insert(term, lists.len() as u32);
                lists.push(list);
            }
        }
        *self = TextIndex::from_parts(terms, lists, docs);
    }

    fn avg_len(&self) -> f32 {
        (self.total_len as f32 / self.docs.len().max(1) as f32).max(1.0)
    }

    fn idf(&self, df: usize) -> f32 {
        bm25::idf(self.docs.len() as f32, df as f32)
    }

    /// The distinct indexed terms of the query words.
    fn term_ids(&self, words: &[String]) -> Vec<u32> {
        let mut ids: Vec<u32> = words
            .iter()
            .flat_map(|w| analyzer::terms(w).collect::<Vec<_>>())
            .filter_map(|t| self.terms.get(&t).copied())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The `k` best documents for `words` (query words, analyzed here) as
    /// `(rowid, BM25 score)`, best first; an error once `cancel` is set.
    pub fn search(
        &self,
        words: &[String],
        k: usize,
        within: Within<'_>,
        cancel: &Cancel,
    ) -> Result<Vec<(i64, f32)>> {
        let ids = self.term_ids(words);
        if ids.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let avg = self.avg_len();
        let mut cursors = self.cursors(&ids, avg);
        let top = match within {
            Within::Rows(rows) => {
                let postings: usize = cursors.iter().map(|c| c.list.docs.len()).sum();
                if rows.len() * PROBE_FACTOR < postings {
                    self.probe(&cursors, rows, k, avg, cancel)?
                } else {
                    let mut allowed = vec![false; self.docs.len()];
                    for r in rows {
                        if let Some(&s) = self.slots.get(r) {
                            allowed[s as usize] = true;
                        }
                    }
                    self.max_score(&mut cursors, k, avg, |s| allowed[s as usize], cancel)?
                }
            }
            Within::All => self.max_score(&mut cursors, k, avg, |_| true, cancel)?,
        };
        Ok(top
            .into_sorted()
            .into_iter()
            .map(|(slot, score)| (self.docs[slot as usize].rowid, score))
            .collect())
    }

    /// A cursor at the start of each term's posting list.
    fn cursors(&self, ids: &[u32], avg: f32) -> Vec<Cursor<'_>> {
        ids.iter()
            .map(|&id| {
                let list = &self.lists[id as usize];
                let idf = self.idf(list.docs.len());
                let max = list
                    .blocks
                    .iter()
                    .map(|b| idf * b.tf_part(avg))
                    .fold(0.0, f32::max);
                Cursor {
                    list,
                    idf,
                    pos: 0,
                    max,
                }
            })
            .collect()
    }

    /// Scores each allowed document by looking its slot up in every list.
    fn probe(
        &self,
        cursors: &[Cursor<'_>],
        rows: &[i64],
        k: usize,
        avg: f32,
        cancel: &Cancel,
    ) -> Result<TopK<u32>> {
        let mut top = TopK::new(k);
        let mut every = cancel.every();
        for r in rows {
            every.step()?;
            let Some(&slot) = self.slots.get(r) else {
                continue;
            };
            let len = self.docs[slot as usize].len;
            let mut score = 0.0;
            for c in cursors {
                if let Ok(i) = c.list.docs.binary_search(&slot) {
                    score += c.idf * tf_part(c.list.tfs[i], len, avg);
                }
            }
            if score > 0.0 {
                top.offer(slot, score);
            }
        }
        Ok(top)
    }

    /// Block-max MaxScore: terms whose combined best cannot beat the
    /// threshold are only probed for documents the others surface, and
    /// runs of documents whose block maxima cannot beat it are skipped.
    /// Each round scores or skips one document or one run of blocks, and
    /// `cancel` is checked once per thousand rounds.
    fn max_score(
        &self,
        cursors: &mut [Cursor<'_>],
        k: usize,
        avg: f32,
        allowed: impl Fn(u32) -> bool,
        cancel: &Cancel,
    ) -> Result<TopK<u32>> {
        cursors.sort_by(|a, b| a.max.total_cmp(&b.max));
        // prefix[i]: the best the i weakest terms can add together.
        let mut prefix = vec![0.0f32; cursors.len() + 1];
        for (i, c) in cursors.iter().enumerate() {
            prefix[i + 1] = prefix[i] + c.max;
        }
        let mut local = vec![0.0f32; cursors.len() + 1];
        // Up to which document `local` holds, and for how many lazy terms.
        let mut bounds_hold: Option<(u32, usize)> = None;
        let mut top = TopK::new(k);
        let mut every = cancel.every();
        loop {
            every.step()?;
            let theta = top.threshold();
            let mut first = 0;
            while first < cursors.len() && top.is_full() && prefix[first + 1] <= theta {
                first += 1;
            }
            let (lazy, essential) = cursors.split_at_mut(first);
            let Some(doc) = essential.iter().map(Cursor::doc).min() else {
                break;
            };
            if doc == u32::MAX {
                break;
            }
            // near[i]: the best the i weakest terms can add near `doc`: the
            // global maxima, or their block maxima there when known, which
            // are checked once per block, not once per document.
            let mut near = &prefix;
            if top.is_full() {
                let fresh =
                    bounds_hold.is_some_and(|(last, lazies)| doc <= last && lazies == first);
                if !fresh {
                    let essential_bound: f32 = essential.iter().map(|c| c.block_max(avg)).sum();
                    let mut bound = essential_bound + prefix[first];
                    let mut last = essential
                        .iter()
                        .map(Cursor::block_last)
                        .min()
                        .unwrap_or(doc);
                    if bound > theta {
                        for (i, c) in lazy.iter_mut().enumerate() {
                            c.seek(doc);
                            local[i + 1] = local[i] + c.block_max(avg);
                            last = last.min(c.block_last());
                        }
                        bound = essential_bound + local[first];
                    }
                    // Every document up to the nearest block end shares
                    // these maxima: skip them all if together they fall
                    // short.
                    if bound <= theta {
                        let next = last.saturating_add(1).max(doc + 1);
                        for c in essential.iter_mut() {
                            c.seek(next);
                        }
                        bounds_hold = None;
                        continue;
                    }
                    bounds_hold = Some((last, first));
                }
                near = &local;
            }
            if !allowed(doc) || !self.docs[doc as usize].live {
                for c in essential.iter_mut().filter(|c| c.doc() == doc) {
                    c.pos += 1;
                }
                continue;
            }
            let len = self.docs[doc as usize].len;
            let mut score = 0.0;
            for c in essential.iter_mut() {
                if c.doc() == doc {
                    score += c.idf * tf_part(c.list.tfs[c.pos], len, avg);
                    c.pos += 1;
                }
            }
            for i in (0..lazy.len()).rev() {
                if top.is_full() && score + near[i + 1] <= theta {
                    break;
                }
                let c = &mut lazy[i];
                c.seek(doc);
                if c.doc() == doc {
                    score += c.idf * tf_part(c.list.tfs[c.pos], len, avg);
                }
            }
            top.offer(doc, score);
        }
        Ok(top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_core::cancel::is_cancellation;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Exhaustive BM25 over live documents, the reference for the pruning.
    fn brute(
        index: &TextIndex,
        words: &[String],
        k: usize,
        within: Option<&[i64]>,
    ) -> Vec<(i64, f32)> {
        let ids = index.term_ids(words);
        let avg = index.avg_len();
        let mut top = TopK::new(k);
        for (slot, d) in index.docs.iter().enumerate() {
            if !d.live || within.is_some_and(|w| !w.contains(&d.rowid)) {
                continue;
            }
            let mut score = 0.0;
            for &id in &ids {
                let list = &index.lists[id as usize];
                if let Ok(i) = list.docs.binary_search(&(slot as u32)) {
                    score += index.idf(list.docs.len()) * tf_part(list.tfs[i], d.len, avg);
                }
            }
            if score > 0.0 {
                top.offer(slot as u32, score);
            }
        }
        top.into_sorted()
            .into_iter()
            .map(|(slot, s)| (index.docs[slot as usize].rowid, s))
            .collect()
    }

    /// Same scores; same documents wherever the score decides.
    fn assert_same(got: &[(i64, f32)], want: &[(i64, f32)]) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g.1 - w.1).abs() < 1e-4, "{got:?} vs {want:?}");
            let tied = |j: usize| want.get(j).is_some_and(|o| (o.1 - w.1).abs() < 1e-4);
            if !tied(i + 1) && (i == 0 || !tied(i - 1)) && i + 1 < want.len() {
                assert_eq!(g.0, w.0, "{got:?} vs {want:?}");
            }
        }
    }

    /// Zipf-like words from `vocabulary`: a small one repeats words within
    /// documents, so blocks hold many (frequency, length) pairs.
    fn random_word(rng: &mut StdRng, vocabulary: f64) -> String {
        format!("w{}", (vocabulary.powf(rng.random::<f64>())) as usize)
    }

    fn random_index(rng: &mut StdRng, docs: i64, vocabulary: f64) -> TextIndex {
        let mut index = TextIndex::default();
        for rowid in 0..docs {
            let len = rng.random_range(3..40);
            let text: Vec<String> = (0..len).map(|_| random_word(rng, vocabulary)).collect();
            index.upsert(rowid, &text.join(" "));
        }
        index
    }

    #[test]
    fn block_bound_covers_every_document_and_is_exact_when_small() {
        let mut rng = StdRng::seed_from_u64(3);
        for round in 0..200 {
            let mut block = BlockMax::default();
            let pairs: Vec<(u16, u32)> = (0..rng.random_range(1..BLOCK))
                .map(|_| (rng.random_range(1..8), rng.random_range(1..60)))
                .collect();
            for &(tf, len) in &pairs {
                block.add(tf, len);
            }
            for avg in [3.0f32, 12.0, 40.0] {
                let best = pairs
                    .iter()
                    .map(|&(tf, len)| tf_part(tf, len, avg))
                    .fold(0.0, f32::max);
                let bound = block.tf_part(avg);
                assert!(bound >= best, "round {round}: {bound} < {best}");
                // Without merging, the bound is a real document's score.
                if pairs.len() <= FRONTIER {
                    assert_eq!(bound, best, "round {round}");
                }
            }
        }
    }

    #[test]
    fn pruned_top_k_equals_exhaustive_scoring() {
        for vocabulary in [200.0, 12.0] {
            pruned_top_k_equals_exhaustive_scoring_over(vocabulary);
        }
    }

    fn pruned_top_k_equals_exhaustive_scoring_over(vocabulary: f64) {
        let mut rng = StdRng::seed_from_u64(7);
        let mut index = random_index(&mut rng, 5000, vocabulary);
        for round in 0..3 {
            for q in 0..60 {
                let words: Vec<String> = (0..rng.random_range(1..5))
                    .map(|_| random_word(&mut rng, vocabulary))
                    .collect();
                let k = [1, 10, 50][q % 3];
                assert_same(
                    &index.top(&words, k, Within::All),
                    &brute(&index, &words, k, None),
                );
                let rows: Vec<i64> = (0..5000).filter(|r| r % 7 == q as i64 % 7).collect();
                let few: Vec<i64> = rows.iter().copied().take(20).collect();
                for allowed in [&rows, &few] {
                    assert_same(
                        &index.top(&words, k, Within::Rows(allowed)),
                        &brute(&index, &words, k, Some(allowed)),
                    );
                }
            }
            // Tombstones and then a compaction must not change answers.
            for rowid in (round..5000).step_by(5) {
                index.remove(rowid);
            }
        }
    }

    #[test]
    fn replaced_and_removed_documents_are_never_returned() {
        let mut index = TextIndex::from_texts(&[
            (1, "apples and pears"),
            (2, "apples only"),
            (1, "bananas now"),
        ]);
        assert_eq!(index.live_docs(), 2);
        let apples = index.top(&["apple".into()], 10, Within::All);
        assert_eq!(apples.iter().map(|h| h.0).collect::<Vec<_>>(), vec![2]);
        assert!(index.remove(2));
        assert!(!index.remove(2));
        assert!(index.top(&["apples".into()], 10, Within::All).is_empty());
        assert_eq!(index.top(&["Bananas".into()], 10, Within::All)[0].0, 1);
    }

    #[test]
    fn a_cancelled_search_returns_the_cancellation_error() {
        let mut rng = StdRng::seed_from_u64(11);
        let index = random_index(&mut rng, 5000, 12.0);
        let words: Vec<String> = (1..6).map(|i| format!("w{i}")).collect();
        let rows: Vec<i64> = (0..5000).step_by(3).collect();
        let cancel = Cancel::new();
        cancel.cancel();
        // Block-max MaxScore over all rows and over many, probing a few.
        for within in [Within::All, Within::Rows(&rows), Within::Rows(&rows[..20])] {
            let got = index.search(&words, 10, within, &cancel);
            assert!(got.is_err_and(|e| is_cancellation(&e)));
        }
    }

    #[test]
    fn a_search_cancelled_midway_stops_within_a_thousand_rounds() {
        let mut rng = StdRng::seed_from_u64(12);
        let index = random_index(&mut rng, 20_000, 12.0);
        let words: Vec<String> = (1..6).map(|i| format!("w{i}")).collect();
        let (ids, avg) = (index.term_ids(&words), index.avg_len());
        // `allowed` counts the documents scored, and cancels at `at`.
        let scored = |cancel: &Cancel, at: usize| {
            let seen = std::cell::Cell::new(0usize);
            let allowed = |_| {
                seen.set(seen.get() + 1);
                if seen.get() == at {
                    cancel.cancel();
                }
                true
            };
            let mut cursors = index.cursors(&ids, avg);
            let top = index.max_score(&mut cursors, 1000, avg, allowed, cancel);
            (top.map(|t| t.len()), seen.get())
        };
        let (full, all) = scored(&Cancel::new(), usize::MAX);
        assert_eq!(full.ok(), Some(1000));
        assert!(all > 5000, "{all} documents scored");
        let (cut, seen) = scored(&Cancel::new(), 2000);
        assert!(cut.is_err_and(|e| is_cancellation(&e)));
        assert!((2000..2000 + 1024).contains(&seen), "{seen} of {all}");
    }

    #[test]
    fn rarer_terms_and_shorter_documents_score_higher() {
        let index = TextIndex::from_texts(&[
            (1, "common rare"),
            (2, "common common filler filler filler filler"),
            (3, "common"),
        ]);
        let hits = index.top(&["common".into(), "rare".into()], 3, Within::All);
        assert_eq!(hits[0].0, 1);
        assert_eq!(hits[1].0, 3, "the shorter of the two common-only documents");
    }
}
