//! Retention: how long a tenant keeps its memories (docs/LIFECYCLE.md).
//!
//! A tenant has an ordered list of policies. Each memory is governed by the
//! first policy whose `kind` and `label` match it (an absent one matches
//! anything), like a firewall's rules, so a narrow exception goes before
//! the broad rule it excepts. A memory no policy matches is kept.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::memory::MAX_LABEL_CHARS;
use crate::{Error, Kind, Memory, Result};

/// More would make every memory's first match slow to find for no use.
pub const MAX_POLICIES: usize = 100;
/// A hundred years: anything longer is `forever`.
pub const MAX_KEEP_DAYS: u32 = 36_500;

/// One rule: which memories (`kind`, `label`) and how long they stay
/// (exactly one of `keep_days`, `keep_newest_per_user`, `forever`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Only memories of this kind (absent: any kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// Only memories with this label (absent: with or without labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Delete memories that occurred more than this many days ago.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_days: Option<u32>,
    /// Keep each user's newest this many (by `occurred_at`) of the memories
    /// this policy governs; memories without a user count as one user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_newest_per_user: Option<u32>,
    /// Keep them: an exception to a later, broader policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forever: Option<bool>,
}

/// What a policy keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Days(u32),
    NewestPerUser(u32),
    Forever,
}

impl Policy {
    /// The one rule of a validated policy.
    pub fn keep(&self) -> Keep {
        match (self.keep_days, self.keep_newest_per_user) {
            (Some(d), _) => Keep::Days(d),
            (_, Some(n)) => Keep::NewestPerUser(n),
            _ => Keep::Forever,
        }
    }

    fn matches(&self, m: &Memory) -> bool {
        self.kind.is_none_or(|k| k == m.kind)
            && self
                .label
                .as_ref()
                .is_none_or(|l| m.labels.iter().any(|x| x == l))
    }
}

/// Refuses a list of policies that is not exactly what it says, naming
/// the field (`policies[2].keep_days`).
pub fn validate(policies: &[Policy]) -> Result<()> {
    if policies.len() > MAX_POLICIES {
        return Err(Error::invalid(
            "policies",
            format!(
                "{} policies, at most {MAX_POLICIES}: merge policies of the same rule",
                policies.len()
            ),
        ));
    }
    for (i, p) in policies.iter().enumerate() {
        let field = |f: &str| format!("policies[{i}].{f}");
        let rules = [
            p.keep_days.is_some(),
            p.keep_newest_per_user.is_some(),
            p.forever.is_some(),
        ];
        if rules.iter().filter(|r| **r).count() != 1 {
            return Err(Error::invalid(
                field("keep_days"),
                "give exactly one of keep_days, keep_newest_per_user or forever",
            ));
        }
        if p.forever == Some(false) {
            return Err(Error::invalid(
                field("forever"),
                "forever must be true when given; to let memories go, use keep_days or keep_newest_per_user",
            ));
        }
        if let Some(d) = p.keep_days
            && !(1..=MAX_KEEP_DAYS).contains(&d)
        {
            return Err(Error::invalid(
                field("keep_days"),
                format!("must be 1 to {MAX_KEEP_DAYS}; to keep memories longer, use forever"),
            ));
        }
        if p.keep_newest_per_user == Some(0) {
            return Err(Error::invalid(
                field("keep_newest_per_user"),
                "must be at least 1; to erase a user's memories, DELETE /v1/memories?user_id=...",
            ));
        }
        if let Some(l) = &p.label
            && (l.is_empty() || l.chars().count() > MAX_LABEL_CHARS)
        {
            return Err(Error::invalid(
                field("label"),
                format!("must be 1 to {MAX_LABEL_CHARS} characters, or absent for any label"),
            ));
        }
    }
    Ok(())
}

/// Decides, one memory at a time, which go. Memories must come newest
/// first by `occurred_at` (the order listings give), so the first N of a
/// user under a `keep_newest_per_user` policy are its newest N.
pub struct Sweep<'p> {
    policies: &'p [Policy],
    now: DateTime<Utc>,
    seen: HashMap<(usize, Option<String>), u32>,
}

impl<'p> Sweep<'p> {
    pub fn new(policies: &'p [Policy], now: DateTime<Utc>) -> Sweep<'p> {
        Sweep {
            policies,
            now,
            seen: HashMap::new(),
        }
    }

    /// Whether `m`, the next memory, is past its policy's retention.
    pub fn expired(&mut self, m: &Memory) -> bool {
        let Some((i, policy)) = self.policies.iter().enumerate().find(|(_, p)| p.matches(m)) else {
            return false;
        };
        match policy.keep() {
            Keep::Forever => false,
            Keep::Days(d) => m.occurred_at < self.now - Duration::days(i64::from(d)),
            Keep::NewestPerUser(n) => {
                let seen = self.seen.entry((i, m.user_id.clone())).or_default();
                *seen += 1;
                *seen > n
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(user: &str, kind: Kind, labels: &[&str], days_ago: i64) -> Memory {
        let now = "2026-12-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        Memory {
            id: format!("{user}-{days_ago}"),
            content: String::new(),
            kind,
            user_id: Some(user.into()),
            agent_id: None,
            session_id: None,
            role: None,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            metadata: Default::default(),
            importance: 0.5,
            occurred_at: now - Duration::days(days_ago),
            created_at: now,
            updated_at: now,
            temporal: Default::default(),
        }
    }

    fn policy(json: &str) -> Policy {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_first_matching_policy_governs() {
        let now = "2026-12-01T00:00:00Z".parse().unwrap();
        let policies = [
            policy(r#"{"label": "legal", "forever": true}"#),
            policy(r#"{"kind": "episodic", "keep_days": 30}"#),
            policy(r#"{"keep_newest_per_user": 2}"#),
        ];
        validate(&policies).unwrap();
        let mut sweep = Sweep::new(&policies, now);
        let gone = |s: &mut Sweep, m| s.expired(&m);
        assert!(!gone(
            &mut sweep,
            memory("a", Kind::Episodic, &["legal"], 400)
        ));
        assert!(!gone(&mut sweep, memory("a", Kind::Episodic, &[], 29)));
        assert!(gone(&mut sweep, memory("a", Kind::Episodic, &[], 31)));
        // Newest first: user a's third semantic memory goes, user b's first stays.
        assert!(!gone(&mut sweep, memory("a", Kind::Semantic, &[], 1)));
        assert!(!gone(&mut sweep, memory("a", Kind::Semantic, &[], 2)));
        assert!(gone(&mut sweep, memory("a", Kind::Semantic, &[], 3)));
        assert!(!gone(&mut sweep, memory("b", Kind::Semantic, &[], 3)));
    }

    #[test]
    fn a_policy_must_say_one_thing() {
        let field = |json: &str| {
            validate(&[policy(json)])
                .unwrap_err()
                .field()
                .map(str::to_owned)
        };
        assert_eq!(field("{}").as_deref(), Some("policies[0].keep_days"));
        assert_eq!(
            field(r#"{"keep_days": 3, "forever": true}"#).as_deref(),
            Some("policies[0].keep_days")
        );
        assert_eq!(
            field(r#"{"keep_days": 0}"#).as_deref(),
            Some("policies[0].keep_days")
        );
        assert_eq!(
            field(r#"{"keep_newest_per_user": 0}"#).as_deref(),
            Some("policies[0].keep_newest_per_user")
        );
        assert_eq!(
            field(r#"{"forever": false}"#).as_deref(),
            Some("policies[0].forever")
        );
        assert_eq!(
            field(r#"{"label": "", "forever": true}"#).as_deref(),
            Some("policies[0].label")
        );
    }
}
