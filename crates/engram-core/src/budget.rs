//! What a budget limits and over which period (docs/BUDGETS.md).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a budget limits.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum BudgetMetric {
    /// Input plus output tokens of LLM calls.
    Tokens,
    /// USD, from the price table (`ENGRAM_PRICES`).
    Cost,
}

/// The period a budget's spending is counted over; it resets at its end.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    /// From 00:00 UTC.
    Day,
    /// From the 1st of the month, 00:00 UTC.
    Month,
}

impl BudgetMetric {
    pub const ALL: [BudgetMetric; 2] = [BudgetMetric::Tokens, BudgetMetric::Cost];

    pub fn as_str(self) -> &'static str {
        match self {
            BudgetMetric::Tokens => "tokens",
            BudgetMetric::Cost => "cost",
        }
    }

    pub fn parse(s: &str) -> Option<BudgetMetric> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl BudgetPeriod {
    pub const ALL: [BudgetPeriod; 2] = [BudgetPeriod::Day, BudgetPeriod::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            BudgetPeriod::Day => "day",
            BudgetPeriod::Month => "month",
        }
    }

    pub fn parse(s: &str) -> Option<BudgetPeriod> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Checks an `X-Project-ID`: 1 to 64 of `A-Z a-z 0-9 . _ -`, so it is safe
/// as a metric label and in a log line.
pub fn validate_project(project: &str) -> Result<(), String> {
    let ok = !project.is_empty()
        && project.len() <= 64
        && project
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in BudgetMetric::ALL {
            assert_eq!(BudgetMetric::parse(m.as_str()), Some(m));
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
        for p in BudgetPeriod::ALL {
            assert_eq!(BudgetPeriod::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
    }

    #[test]
    fn project_ids_are_plain() {
        assert!(validate_project("team-a_1.prod").is_ok());
        for bad in ["", "a b", "x\n", "é", &"p".repeat(65)] {
            assert!(validate_project(bad).is_err(), "{bad:?}");
        }
    }
}
