//! What a summary covers (docs/FACTS.md): one session, or one user's
//! day, week or month.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::memory::validate_id;
use crate::{Error, Result};

/// What a summary covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Period {
    Daily,
    Weekly,
    Monthly,
}

impl Period {
    pub fn as_str(&self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
        }
    }

    /// The period holding `t`: `[start, end)`, days starting at 00:00 UTC,
    /// weeks on Monday.
    pub fn bounds(&self, t: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let date = t.date_naive();
        let midnight = |d: chrono::NaiveDate| Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN));
        match self {
            Period::Daily => (midnight(date), midnight(date) + Duration::days(1)),
            Period::Weekly => {
                let start = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
                (midnight(start), midnight(start) + Duration::days(7))
            }
            Period::Monthly => {
                let start = date.with_day(1).unwrap_or(date);
                let next = if start.month() == 12 {
                    start
                        .with_year(start.year() + 1)
                        .and_then(|d| d.with_month(1))
                } else {
                    start.with_month(start.month() + 1)
                };
                (midnight(start), midnight(next.unwrap_or(start)))
            }
        }
    }
}

/// What to summarize: one session, or one user's period containing `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SummaryRequest {
    /// Summarize this session (refreshing its summary if it has one).
    #[serde(default)]
    pub session_id: Option<String>,
    /// With `period`: whose roll-up.
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub agent_id: Option<String>,
    /// A roll-up of the user's daily, weekly or monthly memories.
    #[serde(default)]
    pub period: Option<Period>,
    /// A time in the period; default now.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

impl SummaryRequest {
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("session_id", &self.session_id),
            ("user_id", &self.user_id),
            ("agent_id", &self.agent_id),
        ] {
            if let Some(v) = v {
                validate_id(v, name)?;
            }
        }
        match (&self.session_id, &self.period) {
            (Some(_), Some(_)) => Err(Error::invalid(
                "period",
                "give either session_id (a session summary) or period (a roll-up), not both",
            )),
            (None, None) => Err(Error::invalid(
                "session_id",
                "give session_id (a session summary) or period with user_id (a roll-up)",
            )),
            (None, Some(_)) if self.user_id.is_none() => Err(Error::invalid(
                "user_id",
                "a roll-up is per user: give user_id",
            )),
            _ => Ok(()),
        }
    }

    /// The summary's label: what it covers, found again on a refresh.
    pub fn label(&self) -> &'static str {
        self.period.as_ref().map_or("session", Period::as_str)
    }
}

/// `POST /v1/reflections`: whose memories to reflect on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReflectionRequest {
    pub user_id: String,
    #[serde(default)]
    pub agent_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_whole_days_weeks_from_monday_and_months() {
        let t: DateTime<Utc> = "2024-12-19T15:00:00Z".parse().unwrap(); // a Thursday
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            Period::Daily.bounds(t),
            (at("2024-12-19T00:00:00Z"), at("2024-12-20T00:00:00Z"))
        );
        assert_eq!(
            Period::Weekly.bounds(t),
            (at("2024-12-16T00:00:00Z"), at("2024-12-23T00:00:00Z"))
        );
        assert_eq!(
            Period::Monthly.bounds(t),
            (at("2024-12-01T00:00:00Z"), at("2025-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn a_request_is_a_session_or_a_users_period() {
        let ok = SummaryRequest {
            session_id: Some("s".into()),
            user_id: None,
            agent_id: None,
            period: None,
            at: None,
        };
        assert!(ok.validate().is_ok());
        let both = SummaryRequest {
            period: Some(Period::Daily),
            ..ok.clone()
        };
        assert_eq!(both.validate().unwrap_err().field(), Some("period"));
        let nobody = SummaryRequest {
            session_id: None,
            period: Some(Period::Weekly),
            ..ok
        };
        assert_eq!(nobody.validate().unwrap_err().field(), Some("user_id"));
    }
}
