//! A partitioned (IVF) index of unit vectors: every vector lives in the list
//! whose centroid it is nearest to, and a search compares the query with
//! the lists nearest to it, vector by vector.
//!
//! Why not a graph: inserting into an HNSW graph costs thousands of random
//! memory reads per vector, which capped ingest below 2,000 memories/s at a
//! million on two cores. Here an insert compares the vector with the
//! centroids (a few hundred at a million) and appends it; a search scans a
//! few contiguous lists. Lists are not trained up front: the first vector
//! starts one, and a list that outgrows [`SPLIT_AT`] splits in two by
//! 2-means, so the partition follows the data as it grows.
//!
//! Vectors are kept in half precision: the cosine error (~1e-5) is far below
//! the differences that decide a ranking, at half the memory of `f32`.

use std::collections::{HashMap, HashSet};

use engram_core::Result;
use engram_core::cancel::Cancel;
use numkong::{CastDtype, Dot, bf16, f16};

use engram_core::topk::TopK;
use engram_core::vector::dot;

use crate::threads::par_map;

/// A list splits when it holds more than this many vectors; a split leaves
/// each side at least an eighth of them (removals and rebalancing can
/// shrink a list further). A million vectors made 536 lists before the last
/// rebalance of `engram bench scale` (docs/BENCHMARKS.md).
pub const SPLIT_AT: usize = 2048;

/// A search compares the query with at least this many vectors, from at
/// least [`PROBE_MIN`] lists: enough to cover the few lists a neighbourhood
/// straddles (docs/BENCHMARKS.md, *Speed at scale*). Below this size a
/// search is exact.
pub const SCAN_MIN: usize = 16_384;
pub const PROBE_MIN: usize = 8;

/// 2-means rounds a split runs; the partition settles in a few.
const SPLIT_ROUNDS: usize = 4;

/// Local k-means (see [`Partitions::plan_moves`]) runs this many rounds each
/// time the number of lists has doubled, and moves a vector only among
/// the lists whose centroids are nearest its own list's.
const REBALANCE_ROUNDS: usize = 2;
const NEIGHBOURS: usize = 12;

#[derive(Default)]
struct List {
    ids: Vec<i64>,
    /// `ids.len() * dim` half-precision components, row after row.
    codes: Vec<f16>,
    /// The sum of the members' vectors: the centroid, up to its length.
    sum: Vec<f32>,
}

pub struct Partitions {
    dim: usize,
    lists: Vec<List>,
    /// Unit-length centroids, `lists.len() * dim`, row after row, in
    /// bfloat16: they only choose lists, and CPUs with AVX-512 BF16 compare
    /// them several times faster than `f32` (an insert compares a vector
    /// with every centroid).
    centroids: Vec<bf16>,
    /// Where each vector is: (list, position in the list).
    at: HashMap<i64, (u32, u32)>,
    /// How many lists there were after the last rebalance.
    balanced_at: usize,
    /// Rounds of the rebalance under way.
    rounds_done: usize,
}

/// One planned round of rebalancing: (vector id, list to move it to).
pub struct Moves(Vec<(i64, usize)>);

/// One list as saved: ids, codes and the sum of its vectors.
#[derive(Clone)]
pub struct SavedList {
    pub ids: Vec<i64>,
    pub codes: Vec<f16>,
    pub sum: Vec<f32>,
}

fn converted<S: CastDtype, D: CastDtype + Default + Clone>(v: &[S]) -> Vec<D> {
    let mut out = vec![D::default(); v.len()];
    numkong::cast(v, &mut out);
    out
}

pub fn to_half(v: &[f32]) -> Vec<f16> {
    converted(v)
}

pub fn to_single(v: &[f16]) -> Vec<f32> {
    converted(v)
}

/// `code` widened into `out`, which has its length: for a caller that
/// widens many vectors one after another into one buffer.
pub fn widen(code: &[f16], out: &mut [f32]) {
    numkong::cast(code, out);
}

/// Adds `sign` times `code` to `sum`, widening a chunk at a time: inserts
/// and moves keep list sums current without allocating.
fn accumulate(sum: &mut [f32], code: &[f16], sign: f32) {
    let mut wide = [0f32; 64];
    for (s, c) in sum.chunks_mut(64).zip(code.chunks(64)) {
        let w = &mut wide[..c.len()];
        widen(c, w);
        for (a, b) in s.iter_mut().zip(w.iter()) {
            *a += sign * *b;
        }
    }
}

fn dot16(a: &[f16], b: &[f16]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    f16::dot(a, b).unwrap_or(0.0)
}

fn dot_bf(a: &[bf16], b: &[bf16]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    bf16::dot(a, b).unwrap_or(0.0)
}

fn unit_of(sum: &[f32]) -> Vec<f32> {
    let mut c = sum.to_vec();
    engram_core::vector::normalize(&mut c);
    c
}

impl Partitions {
    pub fn new(dim: usize) -> Partitions {
        Partitions {
            dim,
            lists: Vec::new(),
            centroids: Vec::new(),
            at: HashMap::new(),
            balanced_at: 0,
            rounds_done: 0,
        }
    }

    pub fn dimension(&self) -> usize {
        self.dim
    }

    /// How many vectors the index holds.
    pub fn held(&self) -> usize {
        self.at.len()
    }

    /// Rebuilds an index from its saved lists; an `Err` names what is wrong.
    pub fn from_lists(dim: usize, saved: Vec<SavedList>) -> Result<Partitions, String> {
        let mut p = Partitions::new(dim);
        for list in saved {
            if list.codes.len() != list.ids.len() * dim || list.sum.len() != dim {
                return Err("a list's vectors do not match its ids".into());
            }
            if list.ids.is_empty() {
                continue;
            }
            let li = p.lists.len() as u32;
            for (pos, id) in list.ids.iter().enumerate() {
                if p.at.insert(*id, (li, pos as u32)).is_some() {
                    return Err(format!("row {id} is held twice"));
                }
            }
            p.centroids
                .extend(converted::<f32, bf16>(&unit_of(&list.sum)));
            p.lists.push(List {
                ids: list.ids,
                codes: list.codes,
                sum: list.sum,
            });
        }
        p.balanced_at = p.lists.len();
        Ok(p)
    }

    /// The lists as saved, in order.
    pub fn lists(&self) -> impl Iterator<Item = (&[i64], &[f16], &[f32])> {
        self.lists
            .iter()
            .map(|l| (l.ids.as_slice(), l.codes.as_slice(), l.sum.as_slice()))
    }

    /// The vector held for `id`, in half precision.
    pub fn get(&self, id: i64) -> Option<&[f16]> {
        let (li, pos) = *self.at.get(&id)?;
        let d = self.dim;
        let pos = pos as usize;
        Some(&self.lists[li as usize].codes[pos * d..(pos + 1) * d])
    }

    /// The list whose centroid is nearest to `v`; there is at least one.
    fn nearest(&self, v: &[bf16]) -> usize {
        self.centroids
            .chunks_exact(self.dim)
            .map(|c| dot_bf(v, c))
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0, |(i, _)| i)
    }

    /// Inserts or replaces unit vectors (the last of a repeated id wins).
    /// The nearest lists are found on up to `threads` threads (a small
    /// batch stays on the calling one; the centroids do not move while they
    /// look), then the vectors are appended and
    /// overfull lists split.
    pub fn insert(&mut self, rows: &[(i64, &[f32])], threads: usize) {
        let last: HashMap<i64, usize> = rows
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id, i))
            .collect();
        let rows: Vec<(i64, &[f32])> = rows
            .iter()
            .enumerate()
            .filter(|(i, (id, _))| last[id] == *i)
            .map(|(_, r)| *r)
            .collect();
        for (id, _) in &rows {
            self.remove(*id);
        }
        if rows.is_empty() {
            return;
        }
        if self.lists.is_empty() {
            self.lists.push(List {
                sum: vec![0.0; self.dim],
                ..List::default()
            });
            self.centroids.resize(self.dim, bf16::ZERO);
        }
        let this = &*self;
        let placed = par_map(&rows, threads, |(_, v)| {
            (this.nearest(&converted(v)), to_half(v))
        });
        let mut touched = HashSet::new();
        for ((id, _), (li, code)) in rows.iter().zip(placed) {
            self.put(li, *id, &code);
            touched.insert(li);
        }
        for li in touched {
            self.recentre(li);
        }
        self.split_overfull();
    }

    /// Whether a rebalance round is due: the number of lists has doubled
    /// since the last rebalance, or one is under way.
    pub fn rebalance_due(&self) -> bool {
        self.rounds_done > 0 || self.lists.len() >= 2 * self.balanced_at.max(2)
    }

    /// Runs the rebalance rounds due, in place. The store plans each round
    /// under a shared lock instead (see `VectorIndexes::upsert`), so
    /// searches go on while the moves are worked out; this is for the
    /// benches and tests.
    #[cfg(any(test, feature = "testing"))]
    pub fn rebalance_if_due(&mut self, threads: usize) {
        while self.rebalance_due() {
            let moves = self.plan_moves(threads);
            self.apply_moves(moves);
        }
    }

    fn split_overfull(&mut self) {
        while let Some(li) = self.lists.iter().position(|l| l.ids.len() > SPLIT_AT) {
            self.split(li);
        }
    }

    /// Plans one round of local k-means: every vector moves to the nearest
    /// of its list's [`NEIGHBOURS`] nearest centroids. Splits only divide a
    /// list, so the lists split while the index was small each hold a
    /// scatter of what later became separate neighbourhoods; moving vectors
    /// to better centroids gathers each neighbourhood into few lists, which
    /// is what lets a search probe few lists. Planning is nearly all of a
    /// round's work and only reads the index.
    pub fn plan_moves(&self, threads: usize) -> Moves {
        let d = self.dim;
        let centroids: Vec<f16> = converted(&converted::<bf16, f32>(&self.centroids));
        let centroid = |li: usize| &centroids[li * d..(li + 1) * d];
        let n = self.lists.len();
        let lists: Vec<usize> = (0..n).collect();
        let moves: Vec<(i64, usize)> = par_map(&lists, threads, |&li| {
            let mut near: Vec<(usize, f32)> = (0..n)
                .map(|o| (o, dot16(centroid(li), centroid(o))))
                .collect();
            near.sort_by(|a, b| b.1.total_cmp(&a.1));
            near.truncate(NEIGHBOURS);
            let list = &self.lists[li];
            let mut moves = Vec::new();
            for (id, code) in list.ids.iter().zip(list.codes.chunks_exact(d)) {
                let here = dot16(code, centroid(li));
                let best = near
                    .iter()
                    .map(|(o, _)| (*o, dot16(code, centroid(*o))))
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                if let Some((to, _)) = best.filter(|(to, score)| *to != li && *score > here) {
                    moves.push((*id, to));
                }
            }
            moves
        })
        .into_iter()
        .flatten()
        .collect();
        Moves(moves)
    }

    /// Applies a round planned by [`Self::plan_moves`]; a move to a list
    /// that no longer exists is skipped, so a plan made before a change is
    /// never unsafe, only less useful.
    pub fn apply_moves(&mut self, Moves(moves): Moves) {
        let mut touched = HashSet::new();
        for (id, to) in moves {
            if to >= self.lists.len() {
                continue;
            }
            if let Some((from, code)) = self.take(id) {
                self.put(to, id, &code);
                touched.extend([from, to]);
            }
        }
        for li in touched {
            self.recentre(li);
        }
        for li in (0..self.lists.len()).rev() {
            if self.lists[li].ids.is_empty() {
                self.drop_list(li);
            }
        }
        self.split_overfull();
        self.rounds_done += 1;
        if self.rounds_done >= REBALANCE_ROUNDS {
            self.rounds_done = 0;
            self.balanced_at = self.lists.len();
        }
    }

    /// Takes `id` out of its list, leaving the list's centroid and an
    /// emptied list for the caller to settle.
    fn take(&mut self, id: i64) -> Option<(usize, Vec<f16>)> {
        let (li, pos) = self.at.remove(&id)?;
        let (li, pos, d) = (li as usize, pos as usize, self.dim);
        let list = &mut self.lists[li];
        let code = list.codes[pos * d..(pos + 1) * d].to_vec();
        accumulate(&mut list.sum, &code, -1.0);
        let last = list.ids.len() - 1;
        list.ids.swap_remove(pos);
        if pos != last {
            list.codes.copy_within(last * d..(last + 1) * d, pos * d);
            self.at.insert(list.ids[pos], (li as u32, pos as u32));
        }
        list.codes.truncate(last * d);
        Some((li, code))
    }

    /// Appends `id` to list `li`, leaving its centroid to the caller.
    fn put(&mut self, li: usize, id: i64, code: &[f16]) {
        let list = &mut self.lists[li];
        self.at.insert(id, (li as u32, list.ids.len() as u32));
        list.ids.push(id);
        list.codes.extend_from_slice(code);
        accumulate(&mut list.sum, code, 1.0);
    }

    fn recentre(&mut self, li: usize) {
        let d = self.dim;
        let c = unit_of(&self.lists[li].sum);
        self.centroids[li * d..(li + 1) * d].copy_from_slice(&converted::<f32, bf16>(&c));
    }

    /// Removes `id`; false when it is not held.
    pub fn remove(&mut self, id: i64) -> bool {
        let Some((li, _)) = self.take(id) else {
            return false;
        };
        if self.lists[li].ids.is_empty() {
            self.drop_list(li);
        } else {
            self.recentre(li);
        }
        true
    }

    /// Removes an empty list; the last list takes its place.
    fn drop_list(&mut self, li: usize) {
        let d = self.dim;
        let last = self.lists.len() - 1;
        self.lists.swap_remove(li);
        if li != last {
            self.centroids.copy_within(last * d..(last + 1) * d, li * d);
            for (pos, id) in self.lists[li].ids.iter().enumerate() {
                self.at.insert(*id, (li as u32, pos as u32));
            }
        }
        self.centroids.truncate(last * d);
    }

    /// Splits list `li` in two by 2-means, seeded with two far-apart
    /// members. When a side would hold fewer than an eighth of the members
    /// (or the members are all alike), the halves nearest to each centre
    /// are taken instead: both lists stay large enough to scan efficiently,
    /// and a split always ends.
    fn split(&mut self, li: usize) {
        let d = self.dim;
        let old = std::mem::take(&mut self.lists[li]);
        let n = old.ids.len();
        let vectors = to_single(&old.codes);
        let row = |i: usize| &vectors[i * d..(i + 1) * d];
        let far = (0..n)
            .min_by(|&a, &b| dot(row(0), row(a)).total_cmp(&dot(row(0), row(b))))
            .unwrap_or(0);
        let mut centres = [row(0).to_vec(), row(far).to_vec()];
        let mut side = vec![false; n];
        for _ in 0..SPLIT_ROUNDS {
            let margin: Vec<f32> = (0..n)
                .map(|i| dot(row(i), &centres[1]) - dot(row(i), &centres[0]))
                .collect();
            for (s, m) in side.iter_mut().zip(&margin) {
                *s = *m > 0.0;
            }
            let ones = side.iter().filter(|s| **s).count();
            if ones.min(n - ones) < n / 8 {
                let mut order: Vec<usize> = (0..n).collect();
                order.sort_by(|&a, &b| margin[a].total_cmp(&margin[b]));
                for (rank, i) in order.into_iter().enumerate() {
                    side[i] = rank >= n / 2;
                }
            }
            for (k, centre) in centres.iter_mut().enumerate() {
                let mut sum = vec![0f32; d];
                for i in (0..n).filter(|&i| side[i] == (k == 1)) {
                    for (s, x) in sum.iter_mut().zip(row(i)) {
                        *s += x;
                    }
                }
                *centre = unit_of(&sum);
            }
        }
        let mut halves = [List::default(), List::default()];
        for half in &mut halves {
            half.sum = vec![0.0; d];
        }
        for i in 0..n {
            let half = &mut halves[side[i] as usize];
            half.ids.push(old.ids[i]);
            half.codes.extend_from_slice(&old.codes[i * d..(i + 1) * d]);
            for (s, x) in half.sum.iter_mut().zip(row(i)) {
                *s += x;
            }
        }
        let [stay, moved] = halves;
        let new = self.lists.len();
        for (pos, id) in stay.ids.iter().enumerate() {
            self.at.insert(*id, (li as u32, pos as u32));
        }
        for (pos, id) in moved.ids.iter().enumerate() {
            self.at.insert(*id, (new as u32, pos as u32));
        }
        self.lists[li] = stay;
        self.lists.push(moved);
        self.centroids.extend(std::iter::repeat_n(bf16::ZERO, d));
        self.recentre(li);
        self.recentre(new);
    }

    /// The `limit` vectors nearest to the unit vector `query`, as `(id,
    /// cosine)`, best first, among `allowed` when given. Lists are probed
    /// nearest first until [`SCAN_MIN`] vectors from [`PROBE_MIN`] lists
    /// were compared and `limit` of them were allowed; `cancel` is checked
    /// before each list (at most [`SPLIT_AT`] vectors).
    pub fn search(
        &self,
        query: &[f32],
        limit: usize,
        allowed: Option<&HashSet<i64>>,
        cancel: &Cancel,
    ) -> Result<Vec<(i64, f32)>> {
        let d = self.dim;
        let q = to_half(query);
        let q_bf: Vec<bf16> = converted(query);
        let mut order: Vec<(usize, f32)> = self
            .centroids
            .chunks_exact(d)
            .map(|c| dot_bf(&q_bf, c))
            .enumerate()
            .collect();
        order.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut best = TopK::new(limit);
        let (mut scanned, mut matched) = (0, 0);
        for (probed, (li, _)) in order.into_iter().enumerate() {
            if probed >= PROBE_MIN && scanned >= SCAN_MIN && matched >= limit {
                break;
            }
            cancel.check()?;
            let list = &self.lists[li];
            for (id, code) in list.ids.iter().zip(list.codes.chunks_exact(d)) {
                if allowed.is_some_and(|a| !a.contains(id)) {
                    continue;
                }
                best.offer(*id, dot16(&q, code));
                matched += 1;
            }
            scanned += list.ids.len();
        }
        Ok(best.into_sorted())
    }

    /// [`Partitions::search`], never cancelled.
    #[cfg(test)]
    pub fn top(
        &self,
        query: &[f32],
        limit: usize,
        allowed: Option<&HashSet<i64>>,
    ) -> Vec<(i64, f32)> {
        self.search(query, limit, allowed, &Cancel::new())
            .expect("never cancelled")
    }

    /// The `limit` best of `rows` for `query`, compared one by one.
    pub fn exact(
        &self,
        query: &[f32],
        rows: &[i64],
        limit: usize,
        cancel: &Cancel,
    ) -> Result<Vec<(i64, f32)>> {
        let q = to_half(query);
        let mut best = TopK::new(limit);
        let mut every = cancel.every();
        for id in rows {
            every.step()?;
            if let Some(code) = self.get(*id) {
                best.offer(*id, dot16(&q, code));
            }
        }
        Ok(best.into_sorted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_core::cancel::is_cancellation;

    fn unit(mut v: Vec<f32>) -> Vec<f32> {
        engram_core::vector::normalize(&mut v);
        v
    }

    /// Deterministic pseudo-random unit vectors around a few directions.
    fn vectors(n: usize, dim: usize) -> Vec<Vec<f32>> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f32 / (1u64 << 53) as f32 - 0.5
        };
        (0..n)
            .map(|i| {
                unit(
                    (0..dim)
                        .map(|j| if j == i % 7 { 2.0 } else { 0.0 } + next())
                        .collect(),
                )
            })
            .collect()
    }

    fn brute(vs: &[Vec<f32>], q: &[f32], limit: usize) -> Vec<i64> {
        let mut s: Vec<(i64, f32)> = vs
            .iter()
            .enumerate()
            .map(|(i, v)| (i as i64, dot(q, v)))
            .collect();
        s.sort_by(|a, b| b.1.total_cmp(&a.1));
        s.into_iter().take(limit).map(|(i, _)| i).collect()
    }

    fn filled(vs: &[Vec<f32>]) -> Partitions {
        let mut p = Partitions::new(vs[0].len());
        for batch in vs.chunks(500).enumerate().map(|(b, c)| {
            c.iter()
                .enumerate()
                .map(|(i, v)| ((b * 500 + i) as i64, v.as_slice()))
                .collect::<Vec<_>>()
        }) {
            p.insert(&batch, 2);
            p.rebalance_if_due(2);
        }
        p
    }

    fn assert_consistent(p: &Partitions) {
        let d = p.dim;
        assert_eq!(p.centroids.len(), p.lists.len() * d);
        let mut n = 0;
        for (li, l) in p.lists.iter().enumerate() {
            assert!(!l.ids.is_empty() && l.ids.len() <= SPLIT_AT);
            assert_eq!(l.codes.len(), l.ids.len() * d);
            for (pos, id) in l.ids.iter().enumerate() {
                assert_eq!(p.at[id], (li as u32, pos as u32));
            }
            n += l.ids.len();
        }
        assert_eq!(n, p.at.len());
    }

    #[test]
    fn small_index_searches_exactly() {
        let vs = vectors(3000, 32);
        let p = filled(&vs);
        assert_consistent(&p);
        assert!(p.lists.len() > 1, "3000 vectors split the first list");
        for q in vs.iter().step_by(97) {
            // Half precision may swap near ties, so the scores are compared.
            let got = p.top(q, 10, None);
            let truth = brute(&vs, q, 10);
            assert_eq!(got.len(), 10);
            for ((id, score), best) in got.iter().zip(&truth) {
                assert!((score - dot(q, &vs[*id as usize])).abs() < 2e-3);
                assert!((score - dot(q, &vs[*best as usize])).abs() < 2e-3);
            }
        }
    }

    #[test]
    fn scores_are_cosines_best_first() {
        let vs = vectors(200, 16);
        let p = filled(&vs);
        let hits = p.top(&vs[5], 5, None);
        assert_eq!(hits[0].0, 5);
        assert!((hits[0].1 - 1.0).abs() < 1e-3);
        assert!(hits.windows(2).all(|w| w[0].1 >= w[1].1));
    }

    #[test]
    fn replace_remove_and_filters_keep_positions_right() {
        let vs = vectors(5000, 24);
        let mut p = filled(&vs);
        // Replace every third vector with another one's, remove every fifth.
        let moved: Vec<(i64, &[f32])> = (0..5000)
            .step_by(3)
            .map(|i| (i as i64, vs[(i + 1) % 5000].as_slice()))
            .collect();
        p.insert(&moved, 2);
        for i in (0..5000).step_by(5) {
            assert!(p.remove(i as i64));
        }
        assert!(!p.remove(0), "already removed");
        assert_consistent(&p);
        assert_eq!(p.held(), 4000);
        assert!(p.get(5).is_none());
        let three = to_single(p.get(3).unwrap());
        assert!(dot(&three, &vs[4]) > 0.999);
        let allowed: HashSet<i64> = (0..5000).filter(|i| i % 10 == 1).collect();
        let hits = p.top(&vs[11], 10, Some(&allowed));
        assert_eq!(hits.len(), 10);
        assert!(hits.iter().all(|(id, _)| allowed.contains(id)));
        assert_eq!(hits[0].0, 11);
        let exact = p
            .exact(&vs[11], &[11, 21, 5, 31], 10, &Cancel::new())
            .unwrap();
        assert_eq!(exact.len(), 3, "5 was removed");
    }

    #[test]
    fn a_cancelled_search_returns_the_cancellation_error() {
        let vs = vectors(5000, 16);
        let p = filled(&vs);
        let cancel = Cancel::new();
        cancel.cancel();
        let allowed: HashSet<i64> = (0..5000).step_by(2).collect();
        let rows: Vec<i64> = allowed.iter().copied().collect();
        for got in [
            p.search(&vs[3], 10, None, &cancel),
            p.search(&vs[3], 10, Some(&allowed), &cancel),
            p.exact(&vs[3], &rows, 10, &cancel),
        ] {
            assert!(got.is_err_and(|e| is_cancellation(&e)));
        }
    }

    #[test]
    fn removing_everything_leaves_no_list() {
        let vs = vectors(2500, 8);
        let mut p = filled(&vs);
        for i in 0..2500 {
            p.remove(i);
        }
        assert_consistent(&p);
        assert!(p.lists.is_empty() && p.centroids.is_empty());
        assert!(p.top(&vs[0], 3, None).is_empty());
    }

    #[test]
    fn probing_a_large_index_finds_the_true_neighbours() {
        // 48 clusters of noisy vectors: past SCAN_MIN, so searches probe
        // only the nearest lists, and past several doublings of the lists,
        // so the index was rebalanced on the way.
        let (dim, n) = (24, 40_000);
        let centres = vectors(48, dim);
        let noise = vectors(n + 50, dim);
        let point = |i: usize| -> Vec<f32> {
            unit(
                centres[i % 48]
                    .iter()
                    .zip(&noise[i])
                    .map(|(c, e)| c + 0.8 * e)
                    .collect(),
            )
        };
        let vs: Vec<Vec<f32>> = (0..n).map(point).collect();
        let p = filled(&vs);
        assert_consistent(&p);
        assert!(p.lists.len() >= 20 && p.balanced_at > 1);
        let mut hits = 0;
        for q in 0..50 {
            let query = point(n + q);
            let truth: HashSet<i64> = brute(&vs, &query, 10).into_iter().collect();
            let got = p.top(&query, 10, None);
            hits += got.iter().filter(|(id, _)| truth.contains(id)).count();
        }
        assert!(hits >= 475, "recall@10 {}", hits as f64 / 500.0);
        // A filter that leaves a tenth of the index is probed, not scanned.
        let allowed: HashSet<i64> = (0..n as i64).filter(|i| i % 10 == 3).collect();
        let query = point(n + 7);
        let got = p.top(&query, 10, Some(&allowed));
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|(id, _)| allowed.contains(id)));
    }

    #[test]
    fn a_plan_made_before_changes_is_applied_safely() {
        let vs = vectors(9000, 16);
        let mut p = Partitions::new(16);
        let rows: Vec<(i64, &[f32])> = vs
            .iter()
            .enumerate()
            .map(|(i, v)| (i as i64, v.as_slice()))
            .collect();
        p.insert(&rows, 2);
        assert!(p.rebalance_due());
        let moves = p.plan_moves(2);
        // Lists empty out and are renumbered before the plan is applied.
        for i in 0..6000 {
            p.remove(i);
        }
        p.apply_moves(moves);
        assert_consistent(&p);
        assert_eq!(p.held(), 3000);
        p.rebalance_if_due(2);
        assert!(!p.rebalance_due());
        assert_consistent(&p);
    }

    #[test]
    fn identical_vectors_still_split() {
        let v = vectors(1, 8).remove(0);
        let rows: Vec<(i64, &[f32])> = (0..5000).map(|i| (i, v.as_slice())).collect();
        let mut p = Partitions::new(8);
        p.insert(&rows, 2);
        assert_consistent(&p);
        assert_eq!(p.top(&v, 10, None).len(), 10);
    }

    #[test]
    fn saved_lists_rebuild_the_same_index() {
        let vs = vectors(4100, 16);
        let p = filled(&vs);
        let saved = p
            .lists()
            .map(|(ids, codes, sum)| SavedList {
                ids: ids.to_vec(),
                codes: codes.to_vec(),
                sum: sum.to_vec(),
            })
            .collect();
        let q = Partitions::from_lists(16, saved).unwrap();
        assert_consistent(&q);
        assert_eq!(p.top(&vs[7], 10, None), q.top(&vs[7], 10, None));
        let twice = vec![
            SavedList {
                ids: vec![1],
                codes: vec![f16::ZERO; 16],
                sum: vec![0.0; 16],
            };
            2
        ];
        assert!(Partitions::from_lists(16, twice).is_err());
    }
}
