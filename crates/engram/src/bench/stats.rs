//! Latency percentiles.

use std::time::Duration;

/// Percentiles (nearest rank) of a set of durations, in milliseconds.
pub struct Percentiles {
    sorted_ms: Vec<f64>,
}

impl Percentiles {
    pub fn new(samples: &[Duration]) -> Percentiles {
        let mut sorted_ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        sorted_ms.sort_by(f64::total_cmp);
        Percentiles { sorted_ms }
    }

    pub fn at(&self, p: f64) -> f64 {
        if self.sorted_ms.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.sorted_ms.len() as f64).ceil() as usize;
        self.sorted_ms[rank.clamp(1, self.sorted_ms.len()) - 1]
    }

    pub fn json(&self) -> serde_json::Value {
        let r = |x: f64| (x * 1000.0).round() / 1000.0;
        serde_json::json!({"p50": r(self.at(50.0)), "p95": r(self.at(95.0)), "p99": r(self.at(99.0))})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::new(&samples);
        assert_eq!(p.at(50.0), 50.0);
        assert_eq!(p.at(95.0), 95.0);
        assert_eq!(p.at(99.0), 99.0);
        assert_eq!(Percentiles::new(&[]).at(50.0), 0.0);
    }
}
