//! Exact erasure of a user (the right to be forgotten). Each backend removes,
//! in one go, everything that holds the user's content; the rules for what
//! "about the user" means live here so both backends apply the same ones.
//! Stores that keep more per user (uploads, archives) add a step and a count.

use std::collections::HashSet;

use async_trait::async_trait;
use engram_core::Result;
use engram_core::erasure::Erased;
use serde_json::Value;

#[async_trait]
pub trait ErasureStore: Send + Sync {
    /// Removes every memory of `user_id` in the tenant, the memories derived
    /// only from them, the user's conversations, the idempotency records and
    /// jobs that hold their content, and leaves no copy of the bytes in the
    /// store's own files (embedded) or live rows (PostgreSQL).
    async fn erase_user(&self, tenant_id: &str, user_id: &str) -> Result<Erased>;
}

/// What was erased so far, for the rules below.
pub struct Scope<'a> {
    pub user_id: &'a str,
    pub ids: HashSet<String>,
    pub sessions: HashSet<String>,
}

impl Scope<'_> {
    /// A memory citing sources, all of them erased: it was made from the
    /// user's content alone (a fact or summary), so it goes too.
    pub fn derived_only(&self, sources: &[String]) -> bool {
        !sources.is_empty() && sources.iter().all(|s| self.ids.contains(s))
    }

    /// A job whose payload names the user, one of their sessions or an
    /// erased memory (fact extraction, summaries, reflections): its payload
    /// or result may hold their content.
    pub fn job_concerns(&self, payload: &Value) -> bool {
        let str_at = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let request = payload.get("request").unwrap_or(&Value::Null);
        let users = [str_at(payload, "user_id"), str_at(request, "user_id")];
        let sessions = [str_at(payload, "session_id"), str_at(request, "session_id")];
        users.iter().flatten().any(|u| u == self.user_id)
            || sessions.iter().flatten().any(|s| self.sessions.contains(s))
            || payload
                .get("ids")
                .and_then(Value::as_array)
                .is_some_and(|ids| {
                    ids.iter()
                        .filter_map(Value::as_str)
                        .any(|i| self.ids.contains(i))
                })
    }

    /// An idempotency record answering with an erased memory.
    pub fn answered_with(&self, ids: &[String]) -> bool {
        ids.iter().any(|i| self.ids.contains(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Scope<'static> {
        Scope {
            user_id: "alice",
            ids: ["m1".to_string(), "m2".to_string()].into(),
            sessions: ["s1".to_string()].into(),
        }
    }

    #[test]
    fn jobs_about_the_user_their_sessions_or_memories_concern_the_erasure() {
        let s = scope();
        assert!(s.job_concerns(&json!({"user_id": "alice"})));
        assert!(s.job_concerns(&json!({"request": {"user_id": "alice"}})));
        assert!(s.job_concerns(&json!({"request": {"session_id": "s1"}})));
        assert!(s.job_concerns(&json!({"ids": ["x", "m2"]})));
        assert!(!s.job_concerns(&json!({"user_id": "bob", "ids": ["x"]})));
        assert!(!s.job_concerns(&json!({"request": {"session_id": "s2"}})));
    }

    #[test]
    fn only_memories_citing_nothing_but_erased_sources_are_derived() {
        let s = scope();
        assert!(s.derived_only(&["m1".into(), "m2".into()]));
        assert!(!s.derived_only(&["m1".into(), "other".into()]));
        assert!(!s.derived_only(&[]));
    }
}
