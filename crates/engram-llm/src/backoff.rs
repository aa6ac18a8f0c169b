//! How long to wait before retrying a failed LLM call.

use std::time::Duration;

/// Exponential backoff: `base`, then doubling, never above `max`. A
/// server's own `Retry-After` wins when it asks for longer (a rate-limited
/// cloud API says when it will answer again), still capped by `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    /// 0.5 s, 1 s, 2 s, ... up to 8 s: three retries wait 3.5 s in all,
    /// short beside a local model's 4-8 s call.
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(8),
        }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (0 for the first retry).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base
            .checked_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
            .unwrap_or(self.max);
        exp.max(retry_after.unwrap_or_default()).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_the_base_up_to_the_cap() {
        let b = Backoff::default();
        let waits: Vec<u64> = (0..6)
            .map(|r| b.delay(r, None).as_millis() as u64)
            .collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 8000]);
        assert_eq!(
            b.delay(40, None),
            b.max,
            "no overflow on a large retry number"
        );
        assert_eq!(b.delay(u32::MAX, None), b.max);
    }

    #[test]
    fn retry_after_wins_when_longer_but_stays_capped() {
        let b = Backoff::default();
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            b.delay(2, Some(Duration::from_millis(10))),
            Duration::from_secs(2)
        );
        assert_eq!(b.delay(0, Some(Duration::from_secs(600))), b.max);
    }
}
