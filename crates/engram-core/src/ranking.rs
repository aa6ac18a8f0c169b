//! The first-stage score of a search: the retrievers' signals fused, plus
//! importance and recency.
//!
//! It lives here rather than in the engine so a store that holds these
//! signals in memory can rank its candidates itself and read only the rows
//! that win, instead of every candidate's row: on a large store those row
//! reads, not the index searches, are what a search waits for.

use chrono::{DateTime, Utc};

use crate::fusion::{Candidate, Fusion, fused, sort_desc};
use crate::memory::DEFAULT_IMPORTANCE;
use crate::query::SearchMode;

/// The importance a pin adds to a memory of a pinned conversation: the
/// whole range above the default (0.5), so a pinned memory of default
/// importance ranks as one of importance 1.0 (+0.1 with the default
/// `importance_weight` 0.2, about a tenth of a typical fused score).
pub const PINNED_IMPORTANCE: f32 = 1.0 - DEFAULT_IMPORTANCE;

/// What ranking needs to know of one candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features {
    /// Cosine similarity to the query vector; `None` without one.
    pub dense: Option<f32>,
    /// BM25 relevance; `None` when no query word matched.
    pub lexical: Option<f32>,
    pub importance: f32,
    pub occurred_at: DateTime<Utc>,
    /// It belongs to a pinned conversation.
    pub pinned: bool,
}

/// How one search ranks its candidates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranking {
    pub mode: SearchMode,
    pub fusion: Fusion,
    /// Score added per unit of importance above the default.
    pub importance_weight: f32,
    /// Score added for a memory that just happened, halving every
    /// `recency_half_life_days`; 0 disables recency.
    pub recency_weight: f32,
    pub recency_half_life_days: f32,
    /// The moment ages are measured from.
    pub now: DateTime<Utc>,
}

impl Ranking {
    /// `mode`'s signals alone, fused the default way, with no importance or
    /// recency boost: the ranking of a search that asks only for relevance.
    pub fn plain(mode: SearchMode) -> Ranking {
        Ranking {
            mode,
            fusion: Fusion::default(),
            importance_weight: 0.0,
            recency_weight: 0.0,
            recency_half_life_days: 0.0,
            now: Utc::now(),
        }
    }

    /// `(index into candidates, score)`, best first; ties keep input order
    /// so results are deterministic.
    pub fn rank(&self, candidates: &[Features]) -> Vec<(usize, f32)> {
        let base: Vec<f32> = match self.mode {
            SearchMode::Keyword => candidates
                .iter()
                .map(|c| c.lexical.unwrap_or(0.0))
                .collect(),
            SearchMode::Vector => candidates.iter().map(|c| c.dense.unwrap_or(0.0)).collect(),
            SearchMode::Hybrid => {
                let signals: Vec<Candidate> = candidates
                    .iter()
                    .map(|c| Candidate {
                        dense: c.dense,
                        lexical: c.lexical,
                    })
                    .collect();
                fused(&signals, self.fusion)
            }
        };
        sort_desc(
            base.iter()
                .zip(candidates)
                .map(|(b, c)| b + self.boost(c))
                .collect(),
        )
    }

    /// The best `keep` of [`Ranking::rank`]'s order, and whether any
    /// candidate was left out.
    pub fn best(&self, candidates: &[Features], keep: usize) -> (Vec<(usize, f32)>, bool) {
        let mut order = self.rank(candidates);
        let more = order.len() > keep;
        order.truncate(keep);
        (order, more)
    }

    /// Importance and recency, on the scale of fused scores.
    fn boost(&self, c: &Features) -> f32 {
        let mut b = self.importance_weight * (c.importance - DEFAULT_IMPORTANCE);
        if c.pinned {
            b += self.importance_weight * PINNED_IMPORTANCE;
        }
        if self.recency_weight > 0.0 && self.recency_half_life_days > 0.0 {
            let age_days = (self.now - c.occurred_at).num_seconds().max(0) as f32 / 86_400.0;
            b += self.recency_weight * 0.5f32.powf(age_days / self.recency_half_life_days);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn ranking(mode: SearchMode) -> Ranking {
        Ranking {
            mode,
            fusion: Fusion::default(),
            importance_weight: 0.2,
            recency_weight: 0.0,
            recency_half_life_days: 30.0,
            now: Utc::now(),
        }
    }

    fn f(dense: Option<f32>, lexical: Option<f32>, importance: f32) -> Features {
        Features {
            dense,
            lexical,
            importance,
            occurred_at: Utc::now(),
            pinned: false,
        }
    }

    #[test]
    fn each_mode_ranks_by_its_own_signal() {
        let cands = [f(Some(0.9), Some(1.0), 0.5), f(Some(0.2), Some(8.0), 0.5)];
        assert_eq!(ranking(SearchMode::Vector).rank(&cands)[0].0, 0);
        assert_eq!(ranking(SearchMode::Keyword).rank(&cands)[0].0, 1);
    }

    #[test]
    fn importance_lifts_an_otherwise_equal_candidate() {
        let cands = [f(Some(0.5), None, 0.5), f(Some(0.5), None, 1.0)];
        let ranked = ranking(SearchMode::Vector).rank(&cands);
        assert_eq!(ranked[0].0, 1);
        assert!((ranked[0].1 - ranked[1].1 - 0.1).abs() < 1e-6);
    }

    #[test]
    fn a_pin_counts_like_full_importance() {
        let mut pinned = f(Some(0.5), None, 0.5);
        pinned.pinned = true;
        let ranked = ranking(SearchMode::Vector).rank(&[f(Some(0.5), None, 1.0), pinned]);
        assert!((ranked[0].1 - ranked[1].1).abs() < 1e-6);
        let ranked = ranking(SearchMode::Vector).rank(&[f(Some(0.5), None, 0.5), pinned]);
        assert_eq!(ranked[0].0, 1);
    }

    #[test]
    fn recency_prefers_the_newer_memory_and_halves_per_half_life() {
        let mut r = ranking(SearchMode::Vector);
        r.recency_weight = 1.0;
        let mut old = f(Some(0.5), None, 0.5);
        old.occurred_at = r.now - Duration::days(30);
        let mut new = old;
        new.occurred_at = r.now;
        let ranked = r.rank(&[old, new]);
        assert_eq!(ranked[0].0, 1);
        assert!((ranked[0].1 - 1.5).abs() < 1e-3 && (ranked[1].1 - 1.0).abs() < 1e-3);
    }
}
