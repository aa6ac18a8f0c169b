//! Entity resolution: a name found in a memory becomes the entity it
//! already is, or a new one. Within one user's scope, a name (or an
//! alias) whose key ([`name_key`]) an entity already has is that entity;
//! otherwise a name whose embedding is at least `merge_similarity` close
//! to an entity of the same type is a new entity row merged into it
//! (`merged_into`, `merge_reason`), so the merge can be undone; otherwise
//! it is a new entity. Addresses, URLs and handles are identities, never
//! merged by likeness.

use std::time::Instant;

use chrono::Utc;

use engram_core::graph::{Entity, name_key};
use engram_core::{Error, Result};
use engram_store::graph::{NewEntity, UserScope};

use crate::Engine;

/// Types whose names are identifiers: "ana@x.org" and "ann@x.org" embed
/// alike and are two people.
const EXACT_TYPES: &[&str] = &["email", "url", "mention"];

/// The type the LLM-free pass gives a capitalized name: any more specific
/// type the LLM gives later replaces it.
pub(crate) const GENERIC: &str = "name";

pub(crate) struct Resolved {
    pub entity: Entity,
    pub created: bool,
}

impl Engine {
    pub(crate) async fn resolve_entity(
        &self,
        tenant: &str,
        user: Option<&str>,
        name: &str,
        kind: &str,
        aliases: &[String],
    ) -> Result<Resolved> {
        let name = name.trim();
        let key = name_key(name);
        if key.is_empty() {
            return Err(Error::invalid("name", "has no letters or digits"));
        }
        let mut keys = vec![key.clone()];
        for a in aliases {
            let k = name_key(a);
            if !k.is_empty() && !keys.contains(&k) {
                keys.push(k);
            }
        }
        let found = self
            .store
            .entities_by_keys(tenant, UserScope::Exactly(user), &keys)
            .await?;
        if !found.is_empty() {
            return self.known(tenant, found, keys, kind, aliases).await;
        }
        let start = Instant::now();
        let embedding = self
            .embed_documents(vec![name.to_string()])
            .await?
            .pop()
            .ok_or_else(|| Error::internal("embedder returned no vector"))?;
        self.meter_embedding(tenant, self.embedding_tokens(&[name]), start.elapsed());
        let nearest = if EXACT_TYPES.contains(&kind) {
            None
        } else {
            self.store
                .nearest_entity(tenant, user, kind, &embedding)
                .await?
                .filter(|(_, sim)| *sim >= self.graph.merge_similarity)
        };
        let now = Utc::now();
        let entity = Entity {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.to_string(),
            kind: kind.to_string(),
            aliases: aliases
                .iter()
                .filter(|a| name_key(a) != key)
                .cloned()
                .collect(),
            summary: None,
            user_id: user.map(str::to_string),
            merged_into: nearest.as_ref().map(|(e, _)| e.id.clone()),
            merge_reason: nearest.as_ref().map(|(_, s)| format!("embedding {s:.3}")),
            created_at: now,
            updated_at: now,
        };
        let found = self
            .store
            .create_entity(
                tenant,
                NewEntity {
                    entity: &entity,
                    keys: &keys,
                    embedding: &embedding,
                },
            )
            .await?;
        if !found.is_empty() {
            // A concurrent job created it since the lookup above.
            return self.known(tenant, found, keys, kind, aliases).await;
        }
        Ok(Resolved {
            entity,
            created: true,
        })
    }

    /// The entity `found` by the name's key, else by an alias, given the
    /// keys, aliases and type it lacked.
    async fn known(
        &self,
        tenant: &str,
        found: Vec<(String, Entity)>,
        keys: Vec<String>,
        kind: &str,
        aliases: &[String],
    ) -> Result<Resolved> {
        let key = &keys[0];
        let mut e = found
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or(&found[0])
            .1
            .clone();
        let known: Vec<String> = found
            .iter()
            .filter(|(_, f)| f.id == e.id)
            .map(|(k, _)| k.clone())
            .collect();
        let new_keys: Vec<String> = keys.into_iter().filter(|k| !known.contains(k)).collect();
        if !new_keys.is_empty() {
            self.store.add_entity_keys(tenant, &e.id, &new_keys).await?;
        }
        let mut changed = false;
        for a in aliases {
            if name_key(a) != name_key(&e.name) && !e.aliases.contains(a) {
                e.aliases.push(a.clone());
                changed = true;
            }
        }
        if e.kind == GENERIC && kind != GENERIC {
            e.kind = kind.to_string();
            changed = true;
        }
        if changed {
            e.updated_at = Utc::now();
            self.store.update_entity(tenant, &e).await?;
        }
        Ok(Resolved {
            entity: e,
            created: false,
        })
    }
}
