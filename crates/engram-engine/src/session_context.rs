//! Contextual embedding within a session.
//!
//! A chat turn such as "Yes, twice last year!" says little on its own; what
//! it is about is in the turns before it. With
//! `RetrievalConfig::session_context` = N > 0, a memory that belongs to a
//! session is embedded together with the N memories written just before it
//! in the same session, so its vector carries the topic. With
//! `context_blend` = w > 0 the memory is also embedded alone and the two
//! vectors are mixed (contextual + w * alone), so a turn that changes the
//! subject is still found by its own words. Only the vector changes: the
//! stored content, the lexical index and the search results stay the memory
//! itself. Memories without a session are embedded alone.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use engram_core::{Filter, Memory, NewMemory, Result};
use engram_store::Listing;

use crate::Engine;

/// Who a session belongs to: the same session id under another user or
/// agent is another conversation.
type SessionKey = (Option<String>, Option<String>, String);

fn key_of(m: &NewMemory) -> Option<SessionKey> {
    m.session_id
        .clone()
        .map(|s| (m.user_id.clone(), m.agent_id.clone(), s))
}

fn session_filter(key: &SessionKey) -> Filter {
    Filter {
        user_id: key.0.clone(),
        agent_id: key.1.clone(),
        session_id: Some(key.2.clone()),
        ..Default::default()
    }
}

/// The previous turns, oldest first, followed by the memory itself; `None`
/// when there is nothing before it.
fn with_context(previous: &[&str], content: &str) -> Option<String> {
    if previous.is_empty() {
        return None;
    }
    Some(format!("{}\n{content}", previous.join("\n")))
}

/// What to embed for one memory: its own text, and its text in context
/// when it has any.
struct ToEmbed {
    alone: String,
    in_context: Option<String>,
}

/// `contextual + blend * alone`, at unit length.
fn blend(mut contextual: Vec<f32>, alone: &[f32], weight: f32) -> Vec<f32> {
    for (c, a) in contextual.iter_mut().zip(alone) {
        *c += weight * a;
    }
    engram_embed::normalize(&mut contextual);
    contextual
}

impl Engine {
    /// Vectors for the items that have no supplied embedding, in order.
    pub(crate) async fn embed_new(
        &self,
        tenant: &str,
        items: &[NewMemory],
    ) -> Result<Vec<Vec<f32>>> {
        let texts = self.texts_to_embed(tenant, items).await?;
        self.embed_with_context(tenant, texts).await
    }

    /// The vector of a stored memory whose content changed: the same
    /// context a new memory would get, from the memories of its session
    /// that occurred up to it.
    pub(crate) async fn reembed(&self, tenant: &str, m: &Memory) -> Result<Vec<f32>> {
        let n = self.config.session_context;
        let in_context = match m.session_id.clone().filter(|_| n > 0) {
            Some(session) => {
                let key = (m.user_id.clone(), m.agent_id.clone(), session);
                let mut previous = self.session_tail(tenant, &key, n, Some(m)).await?;
                previous.reverse();
                let previous: Vec<&str> = previous.iter().map(String::as_str).collect();
                with_context(&previous, &m.content)
            }
            None => None,
        };
        let text = ToEmbed {
            alone: m.content.clone(),
            in_context,
        };
        Ok(self.embed_with_context(tenant, vec![text]).await?.remove(0))
    }

    async fn embed_with_context(&self, tenant: &str, texts: Vec<ToEmbed>) -> Result<Vec<Vec<f32>>> {
        let weight = self.config.context_blend;
        // One embedder call for everything: the text each memory is
        // represented by, then (when blending) the contextual ones alone.
        let mut batch: Vec<String> = Vec::with_capacity(texts.len());
        let mut blended: Vec<usize> = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            batch.push(t.in_context.clone().unwrap_or_else(|| t.alone.clone()));
            if weight > 0.0 && t.in_context.is_some() {
                blended.push(i);
            }
        }
        batch.extend(blended.iter().map(|&i| texts[i].alone.clone()));
        let start = std::time::Instant::now();
        let metered = self.embedding_tokens(&batch);
        let mut vectors = self.embed_documents(batch).await?;
        self.meter_embedding(tenant, metered, start.elapsed());
        let alone = vectors.split_off(texts.len());
        for (&i, a) in blended.iter().zip(&alone) {
            let v = std::mem::take(&mut vectors[i]);
            vectors[i] = blend(v, a, weight);
        }
        Ok(vectors)
    }

    /// For each item that has no supplied embedding, in order: the item,
    /// and the item preceded by up to N earlier memories of its session,
    /// taken from earlier items of the same batch first, then from the
    /// newest memories already stored in that session.
    async fn texts_to_embed(&self, tenant: &str, items: &[NewMemory]) -> Result<Vec<ToEmbed>> {
        let n = self.config.session_context;
        let mut stored: HashMap<SessionKey, Vec<String>> = HashMap::new();
        let mut out = Vec::new();
        for (i, m) in items.iter().enumerate() {
            if m.embedding.is_some() {
                continue;
            }
            let key = match key_of(m) {
                Some(k) if n > 0 => k,
                _ => {
                    out.push(ToEmbed {
                        alone: m.content.clone(),
                        in_context: None,
                    });
                    continue;
                }
            };
            // Earlier items of this batch in the same session, newest first.
            let mut previous: Vec<&str> = items[..i]
                .iter()
                .rev()
                .filter(|p| key_of(p).as_ref() == Some(&key))
                .take(n)
                .map(|p| p.content.as_str())
                .collect();
            if previous.len() < n {
                if let Entry::Vacant(slot) = stored.entry(key.clone()) {
                    slot.insert(self.session_tail(tenant, &key, n, None).await?);
                }
                let missing = n - previous.len();
                previous.extend(stored[&key].iter().take(missing).map(String::as_str));
            }
            previous.reverse();
            out.push(ToEmbed {
                alone: m.content.clone(),
                in_context: with_context(&previous, &m.content),
            });
        }
        Ok(out)
    }

    /// Contents of the newest `n` stored memories of a session, newest
    /// first; with `upto`, only those that occurred no later than it
    /// (itself excluded).
    async fn session_tail(
        &self,
        tenant: &str,
        key: &SessionKey,
        n: usize,
        upto: Option<&Memory>,
    ) -> Result<Vec<String>> {
        let mut filter = session_filter(key);
        if let Some(m) = upto {
            filter.before = Some(m.occurred_at + chrono::Duration::microseconds(1));
        }
        let listing = Listing {
            filter: &filter,
            limit: n + 1,
            after: None,
        };
        let page = self.store.list(tenant, &listing).await?;
        Ok(page
            .into_iter()
            .filter(|p| upto.is_none_or(|m| m.id != p.id))
            .take(n)
            .map(|p| p.content)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_precedes_the_memory_oldest_first() {
        assert_eq!(with_context(&[], "c"), None);
        assert_eq!(with_context(&["a", "b"], "c").as_deref(), Some("a\nb\nc"));
    }

    #[test]
    fn blending_mixes_the_two_vectors_at_unit_length() {
        let v = blend(vec![1.0, 0.0], &[0.0, 1.0], 1.0);
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((v[0] - h).abs() < 1e-6 && (v[1] - h).abs() < 1e-6, "{v:?}");
        assert_eq!(blend(vec![0.6, 0.8], &[1.0, 0.0], 0.0), vec![0.6, 0.8]);
    }

    #[test]
    fn sessions_of_different_users_are_different_sessions() {
        let m = |user: Option<&str>, session: Option<&str>| NewMemory {
            user_id: user.map(String::from),
            session_id: session.map(String::from),
            ..Default::default()
        };
        assert_ne!(
            key_of(&m(Some("u1"), Some("s"))),
            key_of(&m(Some("u2"), Some("s")))
        );
        assert_eq!(
            key_of(&m(Some("u1"), Some("s"))),
            key_of(&m(Some("u1"), Some("s")))
        );
        assert_eq!(key_of(&m(Some("u1"), None)), None);
    }
}
