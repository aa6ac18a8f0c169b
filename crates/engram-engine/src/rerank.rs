//! Second-stage ranking with a cross-encoder.
//!
//! The cross-encoder judges relevance better than the fused first stage
//! but costs one model run per (query, memory) pair, so it only re-scores
//! the best `rerank_candidates` first-stage results, and its opinion is
//! mixed with the first-stage score rather than replacing it: the two make
//! different mistakes, and the mix measured better than either alone (see
//! docs/BENCHMARKS.md).

use std::time::Instant;

use engram_core::cancel::Cancel;
use engram_core::{Error, Result};
use engram_store::Ranked;

use crate::Engine;

/// Mean and standard deviation (population) of `xs`.
fn mean_std(xs: &[f32]) -> (f32, f32) {
    let n = xs.len().max(1) as f32;
    let mean = xs.iter().sum::<f32>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n;
    (mean, var.sqrt())
}

/// New scores for the head: each first-stage score plus `weight` times the
/// cross-encoder's standard score, measured in the head's own spread of
/// first-stage scores so the result stays on the first-stage scale.
pub(crate) fn mix(first: &[f32], cross: &[f32], weight: f32) -> Vec<f32> {
    let (_, spread) = mean_std(first);
    let spread = if spread > 1e-6 { spread } else { 1.0 };
    let (mean, std) = mean_std(cross);
    first
        .iter()
        .zip(cross)
        .map(|(f, c)| {
            let z = if std > 1e-6 { (c - mean) / std } else { 0.0 };
            f + weight * spread * z
        })
        .collect()
}

impl Engine {
    /// Re-scores the best candidates of `scored` (sorted, best first;
    /// indexes into `ranked`) and sorts it again. The head is one model
    /// call, so `cancel` is checked before it, when a blocking thread
    /// takes it up.
    pub(crate) async fn rerank(
        &self,
        query: &str,
        ranked: &[Ranked],
        scored: &mut [(usize, f32)],
        cancel: &Cancel,
    ) -> Result<()> {
        let Some(reranker) = self.reranker.clone() else {
            return Ok(());
        };
        let head = self.config.rerank_candidates.min(scored.len());
        if head < 2 {
            return Ok(());
        }
        let query = query.to_string();
        let passages: Vec<String> = scored[..head]
            .iter()
            .map(|(i, _)| ranked[*i].record.memory.content.clone())
            .collect();
        let start = Instant::now();
        let cancel = cancel.clone();
        let cross = tokio::task::spawn_blocking(move || {
            cancel.check()?;
            let refs: Vec<&str> = passages.iter().map(String::as_str).collect();
            reranker.score(&query, &refs).map_err(Error::unavailable)
        })
        .await
        .map_err(Error::internal)??;
        metrics::histogram!("engram_rerank_duration_seconds").record(start.elapsed().as_secs_f64());
        let first: Vec<f32> = scored[..head].iter().map(|(_, s)| *s).collect();
        for (slot, s) in
            scored[..head]
                .iter_mut()
                .zip(mix(&first, &cross, self.config.rerank_weight))
        {
            slot.1 = s;
        }
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_encoder_reorders_within_the_first_stage_scale() {
        let first = [3.0, 2.0, 1.0];
        let cross = [-5.0, 0.0, 5.0];
        let mixed = mix(&first, &cross, 2.0);
        assert!(mixed[2] > mixed[1] && mixed[1] > mixed[0], "{mixed:?}");
        // Weight 0 keeps the first stage as it is.
        assert_eq!(mix(&first, &cross, 0.0), first.to_vec());
    }

    #[test]
    fn constant_scores_change_nothing_and_stay_finite() {
        let mixed = mix(&[1.0, 1.0], &[0.3, 0.3], 1.0);
        assert_eq!(mixed, vec![1.0, 1.0]);
    }
}
