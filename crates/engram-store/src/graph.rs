//! The store's part in the knowledge graph (docs/GRAPH.md): entity rows
//! with the name keys they are found by and their embeddings, the memories
//! that mention them, and relations over time. Entity resolution and
//! extraction are the engine's; the store keeps each change to one
//! transaction and walks neighbourhoods where the rows are.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use engram_core::Result;
use engram_core::graph::{Entity, EntityQuery, Relation};

/// A new entity with what finds it: its name keys (its own and its
/// aliases', [`engram_core::graph::name_key`]) and its name's embedding.
pub struct NewEntity<'a> {
    pub entity: &'a Entity,
    pub keys: &'a [String],
    pub embedding: &'a [f32],
}

/// What adding a relation did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelationAdded {
    /// The relation now holding it: the new one, or the open one it
    /// repeated (which got the new sources).
    pub id: String,
    /// Whether it repeated an open relation.
    pub existed: bool,
    /// Relations it contradicted, closed at its `valid_from`.
    pub closed: Vec<String>,
}

/// An entity reached by a walk, and the fewest hops it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Reached {
    pub id: String,
    pub depth: u32,
}

/// Whose entities a lookup by name sees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UserScope<'a> {
    /// One user's (`None`: the tenant-wide entities of memories without a
    /// user): what resolution matches within.
    Exactly(Option<&'a str>),
    /// Every user's: a search without a user filter.
    Any,
}

#[async_trait]
pub trait GraphStore: Send + Sync {
    /// The entities in `scope` found by any of these name keys, with the
    /// key that found each.
    async fn entities_by_keys(
        &self,
        tenant_id: &str,
        scope: UserScope<'_>,
        keys: &[String],
    ) -> Result<Vec<(String, Entity)>>;
    /// The canonical entity of `user`'s scope and `kind` whose embedding is
    /// nearest `vector`, with its cosine similarity.
    async fn nearest_entity(
        &self,
        tenant_id: &str,
        user_id: Option<&str>,
        kind: &str,
        vector: &[f32],
    ) -> Result<Option<(Entity, f32)>>;
    /// Creates the entity unless an entity of its user's scope already has
    /// one of its keys; returns what that lookup found ([`Self::entities_by_keys`]
    /// with `UserScope::Exactly`), empty when it created the entity. The
    /// lookup and the insert are one transaction serialised per tenant and
    /// user, so concurrent jobs resolving one new name make one entity.
    async fn create_entity(
        &self,
        tenant_id: &str,
        e: NewEntity<'_>,
    ) -> Result<Vec<(String, Entity)>>;
    /// Adds name keys (aliases) to an entity; keys it has are kept once.
    async fn add_entity_keys(&self, tenant_id: &str, id: &str, keys: &[String]) -> Result<()>;
    /// Replaces an entity's fields (name, type, aliases, summary, merge).
    async fn update_entity(&self, tenant_id: &str, e: &Entity) -> Result<bool>;
    async fn get_entity(&self, tenant_id: &str, id: &str) -> Result<Option<Entity>>;
    /// Canonical entities under `q`, in id order after `q.after`.
    async fn list_entities(&self, tenant_id: &str, q: &EntityQuery) -> Result<Vec<Entity>>;
    /// The entities merged into `id`.
    async fn merged_entities(&self, tenant_id: &str, id: &str) -> Result<Vec<Entity>>;
    /// Records that the memories mention the entities: `(entity, memory)`
    /// pairs, each kept once.
    async fn link_mentions(&self, tenant_id: &str, links: &[(String, String)]) -> Result<()>;
    /// Memories mentioning any of the entities (or an entity merged into
    /// one), newest mention first, at most `limit`.
    async fn mentioning(
        &self,
        tenant_id: &str,
        entity_ids: &[String],
        limit: usize,
    ) -> Result<Vec<String>>;
    /// Adds `r`: an open relation with the same subject, predicate and
    /// object (through merges) gets `r`'s sources instead; with
    /// `single_valued`, open relations of the subject and predicate with
    /// another object are closed at `r.valid_from` (or now). One
    /// transaction.
    async fn add_relation(
        &self,
        tenant_id: &str,
        r: &Relation,
        single_valued: bool,
    ) -> Result<RelationAdded>;
    /// Every version of every relation of these entities (as subject or
    /// object), oldest first.
    async fn relations_of(&self, tenant_id: &str, entity_ids: &[String]) -> Result<Vec<Relation>>;
    /// The canonical entities within `depth` hops of `id` over relations
    /// holding at `at` (a merged entity counts as its canonical one),
    /// `id` itself at depth 0, at most `limit`, nearest first.
    async fn neighbors(
        &self,
        tenant_id: &str,
        id: &str,
        depth: u32,
        at: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Reached>>;
    /// Deletes the entity, those merged into it, their mentions and every
    /// relation naming one of them; false when it does not exist.
    async fn delete_entity(&self, tenant_id: &str, id: &str) -> Result<bool>;
    /// Erases a user's graph: their entities (with names, mentions and
    /// embeddings) and relations. Returns the entities deleted.
    async fn delete_user_graph(&self, tenant_id: &str, user_id: &str) -> Result<u64>;
}
