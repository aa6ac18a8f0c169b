//! The best `k` of a stream of scores, for every ranked scan (BM25 postings,
//! vector lists, exact scans): a bounded min-heap, so keeping the best k of
//! n candidates costs O(n log k) and k slots, never a sort of all n.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// A candidate ordered by score, then by the smaller id (so equal scores
/// keep a stable order whatever order candidates arrive in).
#[derive(PartialEq)]
struct Scored<I>(f32, I);

impl<I: Ord> Eq for Scored<I> {}

impl<I: Ord> PartialOrd for Scored<I> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<I: Ord> Ord for Scored<I> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .total_cmp(&other.0)
            .then_with(|| other.1.cmp(&self.1))
    }
}

pub struct TopK<I> {
    k: usize,
    /// Worst kept candidate on top.
    heap: BinaryHeap<Reverse<Scored<I>>>,
}

impl<I: Ord + Copy> TopK<I> {
    pub fn new(k: usize) -> TopK<I> {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// How many candidates are kept (at most `k`).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Whether `k` candidates are kept, so a newcomer must beat the worst.
    pub fn is_full(&self) -> bool {
        self.heap.len() >= self.k
    }

    /// The score a candidate must beat to enter, once full; 0 before (the
    /// bound block-max pruning compares with: BM25 scores are positive).
    pub fn threshold(&self) -> f32 {
        match self.heap.peek() {
            Some(Reverse(worst)) if self.is_full() => worst.0,
            _ => 0.0,
        }
    }

    pub fn offer(&mut self, id: I, score: f32) {
        if self.k == 0 {
            return;
        }
        let candidate = Scored(score, id);
        if !self.is_full() {
            self.heap.push(Reverse(candidate));
        } else if let Some(mut worst) = self.heap.peek_mut()
            && candidate > worst.0
        {
            *worst = Reverse(candidate);
        }
    }

    /// The kept candidates, best first (equal scores: smaller id first).
    pub fn into_sorted(self) -> Vec<(I, f32)> {
        let mut kept: Vec<Scored<I>> = self.heap.into_iter().map(|Reverse(s)| s).collect();
        kept.sort_by(|a, b| b.cmp(a));
        kept.into_iter().map(|Scored(s, id)| (id, s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_k_in_order_whatever_the_arrival_order() {
        let scores = [0.3, 0.9, 0.1, 0.9, 0.5, 0.7, 0.2];
        let mut expected: Vec<(u32, f32)> = scores
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u32, *s))
            .collect();
        expected.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        expected.truncate(3);
        for reversed in [false, true] {
            let mut top = TopK::new(3);
            let mut items: Vec<(u32, f32)> = scores
                .iter()
                .enumerate()
                .map(|(i, s)| (i as u32, *s))
                .collect();
            if reversed {
                items.reverse();
            }
            for (id, s) in items {
                top.offer(id, s);
            }
            assert!(top.is_full());
            assert_eq!(top.threshold(), 0.7);
            assert_eq!(top.into_sorted(), expected);
        }
    }

    #[test]
    fn threshold_is_zero_until_full_and_k_zero_keeps_nothing() {
        let mut top = TopK::new(2);
        top.offer(1u32, 0.4);
        assert_eq!(top.threshold(), 0.0);
        let mut none = TopK::new(0);
        none.offer(1u32, 1.0);
        assert!(none.into_sorted().is_empty());
    }
}
