//! [`GraphStore`] on PostgreSQL: plain tables led by `tenant_id` under
//! row-level security, a recursive CTE for neighbourhoods (each endpoint
//! read as its canonical entity), pgvector's `<=>` for the nearest entity
//! among one user's entities of one type. No extension beyond pgvector.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pgvector::Vector;
use tokio_postgres::Row;

use engram_core::graph::{Entity, EntityQuery, Relation};
use engram_core::{Error, Result};
use engram_store::graph::{GraphStore, NewEntity, Reached, RelationAdded, UserScope};

use crate::PgStore;
use crate::rows::{Stored, all};
use crate::sql::{Param, db_err, refs};

const ENTITY_COLUMNS: &str = "e.id, e.name, e.kind, e.aliases, e.summary, e.user_id, \
     e.merged_into, e.merge_reason, e.created_at, e.updated_at";
const RELATION_COLUMNS: &str = "r.id, r.subject_id, r.predicate, r.object_id, r.valid_from, \
     r.valid_to, r.sources, r.user_id, r.created_at";

/// The entity whose [`ENTITY_COLUMNS`] start at column `o`.
fn entity_at(r: &Row, o: usize) -> Result<Entity> {
    let s = Stored::new(r, "entities", o);
    Ok(Entity {
        id: s.get(o)?,
        name: s.get(o + 1)?,
        kind: s.get(o + 2)?,
        aliases: s.get(o + 3)?,
        summary: s.get(o + 4)?,
        user_id: s.get(o + 5)?,
        merged_into: s.get(o + 6)?,
        merge_reason: s.get(o + 7)?,
        created_at: s.get(o + 8)?,
        updated_at: s.get(o + 9)?,
    })
}

fn entity(r: &Row) -> Result<Entity> {
    entity_at(r, 0)
}

fn relation(r: &Row) -> Result<Relation> {
    let s = Stored::new(r, "relations", 0);
    Ok(Relation {
        id: s.get(0)?,
        subject_id: s.get(1)?,
        predicate: s.get(2)?,
        object_id: s.get(3)?,
        valid_from: s.get(4)?,
        valid_to: s.get(5)?,
        sources: s.get(6)?,
        user_id: s.get(7)?,
        created_at: s.get(8)?,
    })
}

/// Deletes the entities `ids` with their keys, mentions and relations.
async fn delete_entities(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant_id: &str,
    ids: &[String],
) -> Result<()> {
    for sql in [
        "DELETE FROM entity_keys WHERE tenant_id = $1 AND entity_id = ANY($2)",
        "DELETE FROM entity_mentions WHERE tenant_id = $1 AND entity_id = ANY($2)",
        "DELETE FROM relations WHERE tenant_id = $1 AND (subject_id = ANY($2) OR object_id = ANY($2))",
        "DELETE FROM entities WHERE tenant_id = $1 AND id = ANY($2)",
    ] {
        tx.execute(sql, &[&tenant_id, &ids]).await.map_err(db_err)?;
    }
    Ok(())
}

async fn canonical(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant_id: &str,
    id: &str,
) -> Result<String> {
    let row = tx
        .query_opt(
            "SELECT coalesce(merged_into, id) FROM entities WHERE tenant_id = $1 AND id = $2",
            &[&tenant_id, &id],
        )
        .await
        .map_err(db_err)?
        .ok_or_else(|| Error::not_found(format!("entity {id}")))?;
    Stored::named(&row, format!("entities row {id}")).get(0)
}

/// The first key of the two-key advisory locks that serialise entity
/// creation per tenant and user (the second is a hash of both); apart from
/// the single-key locks of migrations and space binding.
const RESOLUTION_LOCK: i32 = 0x6772_6170; // "grap"

/// The entities in `scope` found by any of `keys`, with the key that found
/// each, inside `tx`.
async fn entities_by_keys(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant_id: &str,
    scope: UserScope<'_>,
    keys: &[String],
) -> Result<Vec<(String, Entity)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut params: Vec<Param> = vec![Box::new(tenant_id.to_string()), Box::new(keys.to_vec())];
    let user = match scope {
        UserScope::Exactly(u) => {
            params.push(Box::new(u.map(str::to_string)));
            "AND e.user_id IS NOT DISTINCT FROM $3"
        }
        UserScope::Any => "",
    };
    let rows = tx
        .query(
            &format!(
                "SELECT k.key, {ENTITY_COLUMNS} FROM entity_keys k JOIN entities e \
                 ON e.tenant_id = k.tenant_id AND e.id = k.entity_id \
                 WHERE k.tenant_id = $1 AND k.key = ANY($2) {user} ORDER BY e.id"
            ),
            &refs(&params),
        )
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok((
                Stored::named(r, "entity_keys row").get(0)?,
                entity_at(r, 1)?,
            ))
        })
        .collect()
}

#[async_trait]
impl GraphStore for PgStore {
    async fn entities_by_keys(
        &self,
        tenant_id: &str,
        scope: UserScope<'_>,
        keys: &[String],
    ) -> Result<Vec<(String, Entity)>> {
        self.with_tenant(tenant_id, async |tx| {
            entities_by_keys(tx, tenant_id, scope, keys).await
        })
        .await
    }

    async fn nearest_entity(
        &self,
        tenant_id: &str,
        user_id: Option<&str>,
        kind: &str,
        vector: &[f32],
    ) -> Result<Option<(Entity, f32)>> {
        let v = Vector::from(vector.to_vec());
        let rows = self
            .tenant_query(
                tenant_id,
                &format!(
                    "SELECT {ENTITY_COLUMNS}, (1 - (e.embedding <=> $4))::float4 FROM entities e \
                     WHERE e.tenant_id = $1 AND e.user_id IS NOT DISTINCT FROM $2 AND e.kind = $3 \
                     AND e.merged_into IS NULL ORDER BY e.embedding <=> $4 LIMIT 1"
                ),
                &[&tenant_id, &user_id, &kind, &v],
            )
            .await?;
        rows.first()
            .map(|r| Ok((entity(r)?, Stored::new(r, "entities", 0).get(10)?)))
            .transpose()
    }

    async fn create_entity(
        &self,
        tenant_id: &str,
        e: NewEntity<'_>,
    ) -> Result<Vec<(String, Entity)>> {
        let v = Vector::from(e.embedding.to_vec());
        let x = e.entity;
        self.with_tenant(tenant_id, async |tx| {
            // Replicas and workers resolving in one user's scope take turns
            // from here to the commit, so the lookup below sees any entity a
            // concurrent resolution has just created. Scopes whose hashes
            // collide only wait for each other.
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2 || '/' || coalesce('u' || $3, '')))",
                &[&RESOLUTION_LOCK, &tenant_id, &x.user_id],
            )
            .await
            .map_err(db_err)?;
            let scope = UserScope::Exactly(x.user_id.as_deref());
            let found = entities_by_keys(tx, tenant_id, scope, e.keys).await?;
            if !found.is_empty() {
                return Ok(found);
            }
            tx.execute(
                "INSERT INTO entities(tenant_id, id, name, kind, aliases, summary, user_id, \
                 merged_into, merge_reason, embedding, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[
                    &tenant_id,
                    &x.id,
                    &x.name,
                    &x.kind,
                    &x.aliases,
                    &x.summary,
                    &x.user_id,
                    &x.merged_into,
                    &x.merge_reason,
                    &v,
                    &x.created_at,
                    &x.updated_at,
                ],
            )
            .await
            .map_err(db_err)
            .map_err(crate::sql::tenant_missing(tenant_id))?;
            tx.execute(
                "INSERT INTO entity_keys(tenant_id, key, entity_id) \
                 SELECT $1, k, $3 FROM unnest($2::text[]) AS k ON CONFLICT DO NOTHING",
                &[&tenant_id, &e.keys, &x.id],
            )
            .await
            .map_err(db_err)?;
            Ok(Vec::new())
        })
        .await
    }

    async fn add_entity_keys(&self, tenant_id: &str, id: &str, keys: &[String]) -> Result<()> {
        self.tenant_execute(
            tenant_id,
            "INSERT INTO entity_keys(tenant_id, key, entity_id) \
             SELECT $1, k, $3 FROM unnest($2::text[]) AS k ON CONFLICT DO NOTHING",
            &[&tenant_id, &keys, &id],
        )
        .await?;
        Ok(())
    }

    async fn update_entity(&self, tenant_id: &str, e: &Entity) -> Result<bool> {
        let n = self
            .tenant_execute(
                tenant_id,
                "UPDATE entities SET name = $3, kind = $4, aliases = $5, summary = $6, \
                 merged_into = $7, merge_reason = $8, updated_at = $9 \
                 WHERE tenant_id = $1 AND id = $2",
                &[
                    &tenant_id,
                    &e.id,
                    &e.name,
                    &e.kind,
                    &e.aliases,
                    &e.summary,
                    &e.merged_into,
                    &e.merge_reason,
                    &e.updated_at,
                ],
            )
            .await?;
        Ok(n > 0)
    }

    async fn get_entity(&self, tenant_id: &str, id: &str) -> Result<Option<Entity>> {
        let rows = self
            .tenant_query(
                tenant_id,
                &format!(
                    "SELECT {ENTITY_COLUMNS} FROM entities e WHERE e.tenant_id = $1 AND e.id = $2"
                ),
                &[&tenant_id, &id],
            )
            .await?;
        rows.first().map(entity).transpose()
    }

    async fn list_entities(&self, tenant_id: &str, q: &EntityQuery) -> Result<Vec<Entity>> {
        let mut sql = format!(
            "SELECT {ENTITY_COLUMNS} FROM entities e WHERE e.tenant_id = $1 AND e.merged_into IS NULL"
        );
        let mut params: Vec<Param> = vec![Box::new(tenant_id.to_string())];
        let mut bind = |sql: &mut String, clause: &str, p: Param| {
            params.push(p);
            sql.push_str(&clause.replace('$', &format!("${}", params.len())));
        };
        if let Some(kind) = &q.kind {
            bind(&mut sql, " AND e.kind = $", Box::new(kind.clone()));
        }
        if let Some(user) = &q.user_id {
            bind(&mut sql, " AND e.user_id = $", Box::new(user.clone()));
        }
        if let Some(after) = &q.after {
            bind(&mut sql, " AND e.id > $", Box::new(after.clone()));
        }
        if let Some(name) = &q.name {
            let escaped = crate::conversations::literal_like(name);
            bind(
                &mut sql,
                " AND EXISTS (SELECT 1 FROM entity_keys k WHERE k.tenant_id = e.tenant_id \
                 AND k.key LIKE $ AND (k.entity_id = e.id OR k.entity_id IN \
                 (SELECT m.id FROM entities m WHERE m.tenant_id = e.tenant_id AND m.merged_into = e.id)))",
                Box::new(format!("%{escaped}%")),
            );
        }
        bind(
            &mut sql,
            " ORDER BY e.id LIMIT $",
            Box::new(i64::try_from(q.limit).unwrap_or(i64::MAX)),
        );
        let rows = self.tenant_query(tenant_id, &sql, &refs(&params)).await?;
        all(&rows, entity)
    }

    async fn merged_entities(&self, tenant_id: &str, id: &str) -> Result<Vec<Entity>> {
        let rows = self
            .tenant_query(
                tenant_id,
                &format!(
                    "SELECT {ENTITY_COLUMNS} FROM entities e WHERE e.tenant_id = $1 \
                     AND e.merged_into = $2 ORDER BY e.id"
                ),
                &[&tenant_id, &id],
            )
            .await?;
        all(&rows, entity)
    }

    async fn link_mentions(&self, tenant_id: &str, links: &[(String, String)]) -> Result<()> {
        let (entities, memories): (Vec<String>, Vec<String>) = links.iter().cloned().unzip();
        self.tenant_execute(
            tenant_id,
            "INSERT INTO entity_mentions(tenant_id, entity_id, memory_id, at) \
             SELECT $1, e, m, now() FROM unnest($2::text[], $3::text[]) AS u(e, m) \
             ON CONFLICT DO NOTHING",
            &[&tenant_id, &entities, &memories],
        )
        .await?;
        Ok(())
    }

    async fn mentioning(
        &self,
        tenant_id: &str,
        entity_ids: &[String],
        limit: usize,
    ) -> Result<Vec<String>> {
        if entity_ids.is_empty() {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .tenant_query(
                tenant_id,
                "SELECT x.memory_id FROM entity_mentions x JOIN entities e \
                 ON e.tenant_id = x.tenant_id AND e.id = x.entity_id \
                 WHERE x.tenant_id = $1 AND (e.id = ANY($2) OR e.merged_into = ANY($2)) \
                 GROUP BY x.memory_id ORDER BY max(x.at) DESC, x.memory_id DESC LIMIT $3",
                &[&tenant_id, &entity_ids, &limit],
            )
            .await?;
        all(&rows, |r| Stored::named(r, "entity_mentions row").get(0))
    }

    async fn add_relation(
        &self,
        tenant_id: &str,
        r: &Relation,
        single_valued: bool,
    ) -> Result<RelationAdded> {
        self.with_tenant(tenant_id, async |tx| {
            let subject = canonical(tx, tenant_id, &r.subject_id).await?;
            let object = canonical(tx, tenant_id, &r.object_id).await?;
            // Locked: two extractions adding to one subject take turns, so
            // both cannot leave an open relation of a single-valued kind.
            let open = tx
                .query(
                    "SELECT r.id, coalesce(o.merged_into, o.id), r.valid_from FROM relations r \
                     JOIN entities s ON s.tenant_id = r.tenant_id AND s.id = r.subject_id \
                     JOIN entities o ON o.tenant_id = r.tenant_id AND o.id = r.object_id \
                     WHERE r.tenant_id = $1 AND r.predicate = $2 AND r.valid_to IS NULL \
                     AND coalesce(s.merged_into, s.id) = $3 ORDER BY r.id FOR UPDATE OF r",
                    &[&tenant_id, &r.predicate, &subject],
                )
                .await
                .map_err(db_err)?;
            let mut rows = Vec::with_capacity(open.len());
            for row in &open {
                let s = Stored::new(row, "relations", 0);
                let (id, obj, from): (String, String, Option<DateTime<Utc>>) =
                    (s.get(0)?, s.get(1)?, s.get(2)?);
                rows.push((id, obj, from));
            }
            if let Some((id, ..)) = rows.iter().find(|o| o.1 == object) {
                tx.execute(
                    "UPDATE relations SET sources = ARRAY(SELECT DISTINCT unnest(sources || $3::text[])) \
                     WHERE tenant_id = $1 AND id = $2",
                    &[&tenant_id, id, &r.sources],
                )
                .await
                .map_err(db_err)?;
                return Ok(RelationAdded {
                    id: id.clone(),
                    existed: true,
                    closed: Vec::new(),
                });
            }
            let at = r.valid_from.unwrap_or(r.created_at);
            let mut closed = Vec::new();
            if single_valued {
                for (id, _, from) in &rows {
                    if from.is_none_or(|f| f < at) {
                        tx.execute(
                            "UPDATE relations SET valid_to = $3 WHERE tenant_id = $1 AND id = $2",
                            &[&tenant_id, id, &at],
                        )
                        .await
                        .map_err(db_err)?;
                        closed.push(id.clone());
                    }
                }
            }
            tx.execute(
                "INSERT INTO relations(tenant_id, id, subject_id, predicate, object_id, \
                 valid_from, valid_to, sources, user_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &tenant_id,
                    &r.id,
                    &r.subject_id,
                    &r.predicate,
                    &r.object_id,
                    &r.valid_from,
                    &r.valid_to,
                    &r.sources,
                    &r.user_id,
                    &r.created_at,
                ],
            )
            .await
            .map_err(db_err)?;
            Ok(RelationAdded {
                id: r.id.clone(),
                existed: false,
                closed,
            })
        })
        .await
    }

    async fn relations_of(&self, tenant_id: &str, entity_ids: &[String]) -> Result<Vec<Relation>> {
        let rows = self
            .tenant_query(
                tenant_id,
                &format!(
                    "SELECT {RELATION_COLUMNS} FROM relations r WHERE r.tenant_id = $1 \
                     AND (r.subject_id = ANY($2) OR r.object_id = ANY($2)) ORDER BY r.created_at, r.id"
                ),
                &[&tenant_id, &entity_ids],
            )
            .await?;
        all(&rows, relation)
    }

    async fn neighbors(
        &self,
        tenant_id: &str,
        id: &str,
        depth: u32,
        at: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Reached>> {
        let depth = i32::try_from(depth).unwrap_or(i32::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_tenant(tenant_id, async |tx| {
            let start = canonical(tx, tenant_id, id).await?;
            let rows = tx
                .query(
                    "WITH RECURSIVE \
                     canon AS (SELECT id, coalesce(merged_into, id) AS c FROM entities \
                         WHERE tenant_id = $1), \
                     ends AS (SELECT cs.c AS a, co.c AS b FROM relations r \
                         JOIN canon cs ON cs.id = r.subject_id JOIN canon co ON co.id = r.object_id \
                         WHERE r.tenant_id = $1 AND (r.valid_from IS NULL OR r.valid_from <= $3) \
                         AND (r.valid_to IS NULL OR r.valid_to > $3)), \
                     edges AS (SELECT a, b FROM ends UNION SELECT b, a FROM ends), \
                     walk(id, depth) AS (SELECT $2::text COLLATE \"C\", 0 UNION \
                         SELECT e.b, w.depth + 1 FROM walk w JOIN edges e ON e.a = w.id \
                         WHERE w.depth < $4) \
                     SELECT id, min(depth)::int4 AS d FROM walk GROUP BY id ORDER BY d, id LIMIT $5",
                    &[&tenant_id, &start, &at, &depth, &limit],
                )
                .await
                .map_err(db_err)?;
            rows.iter()
                .map(|r| {
                    let s = Stored::new(r, "entities", 0);
                    let d: i32 = s.get(1)?;
                    Ok(Reached {
                        id: s.get(0)?,
                        depth: u32::try_from(d).unwrap_or(0),
                    })
                })
                .collect()
        })
        .await
    }

    async fn delete_entity(&self, tenant_id: &str, id: &str) -> Result<bool> {
        self.with_tenant(tenant_id, async |tx| {
            let rows = tx
                .query(
                    "SELECT id FROM entities WHERE tenant_id = $1 AND (id = $2 OR merged_into = $2)",
                    &[&tenant_id, &id],
                )
                .await
                .map_err(db_err)?;
            let ids: Vec<String> = all(&rows, |r| Stored::new(r, "entities", 0).get(0))?;
            if !ids.iter().any(|i| i == id) {
                return Ok(false);
            }
            delete_entities(tx, tenant_id, &ids).await?;
            Ok(true)
        })
        .await
    }

    async fn delete_user_graph(&self, tenant_id: &str, user_id: &str) -> Result<u64> {
        self.with_tenant(tenant_id, async |tx| {
            let rows = tx
                .query(
                    "SELECT id FROM entities WHERE tenant_id = $1 AND user_id = $2",
                    &[&tenant_id, &user_id],
                )
                .await
                .map_err(db_err)?;
            let ids: Vec<String> = all(&rows, |r| Stored::new(r, "entities", 0).get(0))?;
            delete_entities(tx, tenant_id, &ids).await?;
            tx.execute(
                "DELETE FROM relations WHERE tenant_id = $1 AND user_id = $2",
                &[&tenant_id, &user_id],
            )
            .await
            .map_err(db_err)?;
            Ok(ids.len() as u64)
        })
        .await
    }
}
