//! Fusing lexical and dense rankings into one, and the final score.
//!
//! BM25 scores are unbounded and corpus-dependent while cosine similarities
//! live in a narrow band, so raw scores cannot be added. Z-score fusion puts
//! both on one scale per query; reciprocal-rank fusion ignores scores
//! entirely. Both are offered because which wins depends on the embedding
//! model (see docs/BENCHMARKS.md); z-score is the default because it measured
//! better on our evaluation data.

use serde::{Deserialize, Serialize};

/// A memory found by at least one retriever, with the score each gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Cosine similarity to the query embedding.
    pub dense: Option<f32>,
    /// BM25-like relevance; `None` when no query term matched.
    pub lexical: Option<f32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Fusion {
    /// `dense_weight * z(dense) + lexical_weight * z(lexical)`.
    ZScore {
        dense_weight: f32,
        lexical_weight: f32,
    },
    /// `sum 1 / (k + rank)` over the rankings an item appears in.
    Rrf { k: f32 },
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion::ZScore {
            dense_weight: 1.0,
            lexical_weight: 0.5,
        }
    }
}

/// Each candidate's fused score, in input order.
pub fn fused(cands: &[Candidate], fusion: Fusion) -> Vec<f32> {
    match fusion {
        Fusion::ZScore {
            dense_weight,
            lexical_weight,
        } => {
            let dense = zscores(cands.iter().map(|c| c.dense));
            // A memory no query word matched has zero lexical relevance.
            let lexical = zscores(cands.iter().map(|c| Some(c.lexical.unwrap_or(0.0))));
            dense
                .iter()
                .zip(&lexical)
                .map(|(d, l)| dense_weight * d + lexical_weight * l)
                .collect()
        }
        Fusion::Rrf { k } => {
            let dense = ranks(cands.iter().map(|c| c.dense));
            let lexical = ranks(cands.iter().map(|c| c.lexical));
            dense
                .iter()
                .zip(&lexical)
                .map(|(d, l)| {
                    d.map_or(0.0, |r| 1.0 / (k + r as f32))
                        + l.map_or(0.0, |r| 1.0 / (k + r as f32))
                })
                .collect()
        }
    }
}

/// Sorts scores best first, keeping input order among equals.
pub fn sort_desc(scores: Vec<f32>) -> Vec<(usize, f32)> {
    let mut out: Vec<(usize, f32)> = scores.into_iter().enumerate().collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// Standard scores of the present values; absent values score as the
/// lowest present one, so missing evidence never beats weak evidence.
fn zscores(values: impl Iterator<Item = Option<f32>>) -> Vec<f32> {
    let values: Vec<Option<f32>> = values.collect();
    let present: Vec<f32> = values.iter().flatten().copied().collect();
    if present.is_empty() {
        return vec![0.0; values.len()];
    }
    let n = present.len() as f32;
    let mean = present.iter().sum::<f32>() / n;
    let var = present.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
    let std = var.sqrt();
    let min = present.iter().copied().fold(f32::INFINITY, f32::min);
    values
        .iter()
        .map(|v| {
            if std < 1e-9 {
                0.0
            } else {
                (v.unwrap_or(min) - mean) / std
            }
        })
        .collect()
}

/// 1-based rank of each present value, highest first.
fn ranks(values: impl Iterator<Item = Option<f32>>) -> Vec<Option<usize>> {
    let values: Vec<Option<f32>> = values.collect();
    let mut order: Vec<(usize, f32)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out = vec![None; values.len()];
    for (rank, (i, _)) in order.into_iter().enumerate() {
        out[i] = Some(rank + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fuse(cands: &[Candidate], fusion: Fusion) -> Vec<(usize, f32)> {
        sort_desc(fused(cands, fusion))
    }

    fn c(dense: Option<f32>, lexical: Option<f32>) -> Candidate {
        Candidate { dense, lexical }
    }

    #[test]
    fn zscore_rewards_agreement_of_both_retrievers() {
        let cands = vec![
            c(Some(0.80), None),
            c(Some(0.78), Some(9.0)),
            c(Some(0.40), Some(10.0)),
        ];
        let ranked = fuse(&cands, Fusion::default());
        assert_eq!(ranked[0].0, 1, "the candidate both retrievers found");
    }

    #[test]
    fn rrf_uses_ranks_not_scores() {
        let cands = vec![
            c(Some(0.9), Some(1.0)),
            c(Some(0.1), Some(1000.0)),
            c(Some(0.5), None),
        ];
        let ranked = fuse(&cands, Fusion::Rrf { k: 60.0 });
        let order: Vec<usize> = ranked.iter().map(|(i, _)| *i).collect();
        // 0: 1/61 + 1/62, 1: 1/63 + 1/61, 2: 1/62
        assert_eq!(order, vec![0, 1, 2]);
    }

    #[test]
    fn constant_scores_do_not_divide_by_zero() {
        let cands = vec![c(Some(0.5), None), c(Some(0.5), None)];
        let ranked = fuse(&cands, Fusion::default());
        assert!(ranked.iter().all(|(_, s)| s.is_finite()));
        assert_eq!(ranked[0].0, 0, "ties keep input order");
    }
}
