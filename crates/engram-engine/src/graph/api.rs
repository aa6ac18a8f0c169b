//! The graph's reads and edits behind `/v1/entities` and the MCP tools:
//! listing, an entity with its relations and sources, neighbourhoods,
//! relation history, deletion and undoing a merge. Every read sees a
//! merged entity through its canonical one.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use engram_core::graph::{
    Entity, EntityDetail, EntityPage, EntityQuery, MAX_DEPTH, Neighbor, Neighborhood, Relation,
    RelationList, RelationView, name_key,
};
use engram_core::memory::validate_id;
use engram_core::query::validate_limit;
use engram_core::{Code, Error, Result};

use crate::Engine;

pub const DEFAULT_ENTITY_LIMIT: usize = 20;
pub const MAX_ENTITY_LIMIT: usize = 100;
/// Entities a neighbourhood returns at most: two hops from a hub can
/// reach most of a graph, and each is shown with its relations.
pub const MAX_NEIGHBORS: usize = 100;
/// Memories shown as an entity's sources.
const MAX_SOURCES: usize = 100;

/// How to list entities (`GET /v1/entities`).
#[derive(Debug, Clone, Default)]
pub struct EntityListing {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub user_id: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl Engine {
    pub async fn list_entities(&self, tenant: &str, q: EntityListing) -> Result<EntityPage> {
        let limit = q.limit.unwrap_or(DEFAULT_ENTITY_LIMIT);
        validate_limit(limit, MAX_ENTITY_LIMIT, "limit")?;
        for (field, v) in [
            ("name", &q.name),
            ("type", &q.kind),
            ("user_id", &q.user_id),
            ("cursor", &q.cursor),
        ] {
            if let Some(v) = v {
                validate_id(v, field)?;
            }
        }
        let mut items = self
            .store
            .list_entities(
                tenant,
                &EntityQuery {
                    name: q.name.as_deref().map(name_key),
                    kind: q.kind,
                    user_id: q.user_id,
                    after: q.cursor,
                    limit: limit + 1,
                },
            )
            .await?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|e| e.id.clone())
        } else {
            None
        };
        for e in &mut items {
            let merged = self.store.merged_entities(tenant, &e.id).await?;
            with_merged_names(e, &merged);
        }
        Ok(EntityPage { items, next_cursor })
    }

    async fn entity_row(&self, tenant: &str, id: &str) -> Result<Entity> {
        self.store
            .get_entity(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("entity {id}")))
    }

    /// The entity and the ids of the rows merged into it.
    async fn entity_group(&self, tenant: &str, id: &str) -> Result<(Entity, Vec<Entity>)> {
        let mut e = self.entity_row(tenant, id).await?;
        let merged = self.store.merged_entities(tenant, id).await?;
        with_merged_names(&mut e, &merged);
        Ok((e, merged))
    }

    pub async fn entity(&self, tenant: &str, id: &str) -> Result<EntityDetail> {
        let (entity, merged) = self.entity_group(tenant, id).await?;
        let mut ids: Vec<String> = merged.iter().map(|m| m.id.clone()).collect();
        ids.push(entity.id.clone());
        let now = Utc::now();
        let relations: Vec<Relation> = self
            .store
            .relations_of(tenant, &ids)
            .await?
            .into_iter()
            .filter(|r| r.holds_at(now))
            .collect();
        let sources = self.store.mentioning(tenant, &ids, MAX_SOURCES).await?;
        Ok(EntityDetail {
            relations: self.relation_views(tenant, relations).await?,
            entity,
            merged,
            sources,
        })
    }

    /// Relations of the entity (and of those merged into it) that held at
    /// `as_of` (default now), or with `all` every version, oldest first:
    /// what was true when.
    pub async fn entity_relations(
        &self,
        tenant: &str,
        id: &str,
        as_of: Option<DateTime<Utc>>,
        all: bool,
    ) -> Result<RelationList> {
        if all && as_of.is_some() {
            return Err(Error::invalid(
                "as_of",
                "give either as_of (what held then) or all=true (every version), not both",
            ));
        }
        let (entity, merged) = self.entity_group(tenant, id).await?;
        let mut ids: Vec<String> = merged.into_iter().map(|m| m.id).collect();
        ids.push(entity.id);
        let at = as_of.unwrap_or_else(Utc::now);
        let relations = self
            .store
            .relations_of(tenant, &ids)
            .await?
            .into_iter()
            .filter(|r| all || r.holds_at(at))
            .collect();
        Ok(RelationList {
            items: self.relation_views(tenant, relations).await?,
        })
    }

    /// The entities within `depth` hops over relations holding now, and
    /// the relations among them.
    pub async fn neighbors(&self, tenant: &str, id: &str, depth: u32) -> Result<Neighborhood> {
        if depth > MAX_DEPTH {
            return Err(Error::invalid("depth", format!("must be 0 to {MAX_DEPTH}")));
        }
        self.entity_row(tenant, id).await?;
        let now = Utc::now();
        let reached = self
            .store
            .neighbors(tenant, id, depth, now, MAX_NEIGHBORS)
            .await?;
        // Every row of the neighbourhood, merged ones mapped to theirs.
        let mut canonical: HashMap<String, String> = HashMap::new();
        let mut items = Vec::with_capacity(reached.len());
        for r in &reached {
            let (entity, merged) = self.entity_group(tenant, &r.id).await?;
            canonical.insert(entity.id.clone(), entity.id.clone());
            for m in merged {
                canonical.insert(m.id, entity.id.clone());
            }
            items.push(Neighbor {
                entity,
                depth: r.depth,
            });
        }
        let ids: Vec<String> = canonical.keys().cloned().collect();
        let relations: Vec<Relation> = self
            .store
            .relations_of(tenant, &ids)
            .await?
            .into_iter()
            .filter(|r| {
                r.holds_at(now)
                    && canonical.contains_key(&r.subject_id)
                    && canonical.contains_key(&r.object_id)
            })
            .collect();
        Ok(Neighborhood {
            items,
            relations: self.relation_views(tenant, relations).await?,
        })
    }

    /// Deletes the entity, the entities merged into it, their mentions and
    /// every relation naming one of them (the relations only it supports).
    /// The memories stay.
    pub async fn delete_entity(&self, tenant: &str, id: &str) -> Result<()> {
        if self.store.delete_entity(tenant, id).await? {
            Ok(())
        } else {
            Err(Error::not_found(format!("entity {id}")))
        }
    }

    /// Undoes a merge: the entity stands on its own again, with the
    /// mentions and relations it brought.
    pub async fn unmerge_entity(&self, tenant: &str, id: &str) -> Result<Entity> {
        let mut e = self.entity_row(tenant, id).await?;
        if e.merged_into.is_none() {
            return Err(Error::conflict(
                Code::EntityNotMerged,
                format!("entity {id} was not merged into another; nothing to undo"),
            ));
        }
        e.merged_into = None;
        e.merge_reason = None;
        e.updated_at = Utc::now();
        if !self.store.update_entity(tenant, &e).await? {
            return Err(Error::not_found(format!("entity {id}")));
        }
        Ok(e)
    }

    /// Relations with the names of their ends.
    async fn relation_views(
        &self,
        tenant: &str,
        relations: Vec<Relation>,
    ) -> Result<Vec<RelationView>> {
        let mut names: HashMap<String, String> = HashMap::new();
        let mut out = Vec::with_capacity(relations.len());
        for r in relations {
            for id in [&r.subject_id, &r.object_id] {
                if !names.contains_key(id) {
                    let name = match self.store.get_entity(tenant, id).await? {
                        Some(e) => e.name,
                        None => String::new(),
                    };
                    names.insert(id.clone(), name);
                }
            }
            out.push(RelationView {
                subject: names[&r.subject_id].clone(),
                object: names[&r.object_id].clone(),
                relation: r,
            });
        }
        Ok(out)
    }
}

/// The names of the merged entities are aliases of theirs.
fn with_merged_names(e: &mut Entity, merged: &[Entity]) {
    for m in merged {
        if name_key(&m.name) != name_key(&e.name) && !e.aliases.contains(&m.name) {
            e.aliases.push(m.name.clone());
        }
    }
}
