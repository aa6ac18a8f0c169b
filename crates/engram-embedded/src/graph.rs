//! [`GraphStore`] on SQLite. Graphs are small next to the memories (a few
//! names per memory), so nothing is held in memory: entity embeddings are
//! compared by a scan of one user's entities of one type, and a
//! neighbourhood is a recursive CTE over the tenant's relations, each
//! endpoint read as its canonical entity.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use engram_core::graph::{Entity, EntityQuery, Relation};
use engram_core::vector::cosine;
use engram_core::{Error, Result};
use engram_store::graph::{GraphStore, NewEntity, Reached, RelationAdded, UserScope};

use crate::rows::{micros, read_back, sql_err, time, vector_from_blob, vector_to_blob};
use crate::{EmbeddedStore, Inner, require_tenant};

const ENTITY_COLUMNS: &str = "e.id, e.name, e.kind, e.aliases, e.summary, e.user_id, \
     e.merged_into, e.merge_reason, e.created_at, e.updated_at";
const RELATION_COLUMNS: &str = "r.id, r.subject_id, r.predicate, r.object_id, r.valid_from, \
     r.valid_to, r.sources, r.user_id, r.created_at";

fn json_list(row: &str, column: &str, s: &str) -> rusqlite::Result<Vec<String>> {
    read_back(
        row,
        column,
        serde_json::from_str(s).map_err(|e| format!("not the JSON engram writes ({e})")),
    )
}

fn entity_from_row(r: &Row<'_>) -> rusqlite::Result<Entity> {
    entity_at(r, 0)
}

/// The entity whose [`ENTITY_COLUMNS`] start at column `o`.
fn entity_at(r: &Row<'_>, o: usize) -> rusqlite::Result<Entity> {
    let id: String = r.get(o)?;
    let row = format!("entities row {id}");
    let aliases: String = r.get(o + 3)?;
    let at = |i, column| read_back(&row, column, time(r.get(o + i)?));
    Ok(Entity {
        name: r.get(o + 1)?,
        kind: r.get(o + 2)?,
        aliases: json_list(&row, "aliases", &aliases)?,
        summary: r.get(o + 4)?,
        user_id: r.get(o + 5)?,
        merged_into: r.get(o + 6)?,
        merge_reason: r.get(o + 7)?,
        created_at: at(8, "created_at")?,
        updated_at: at(9, "updated_at")?,
        id,
    })
}

fn relation_from_row(r: &Row<'_>) -> rusqlite::Result<Relation> {
    let id: String = r.get(0)?;
    let row = format!("relations row {id}");
    let opt_time = |i, column| -> rusqlite::Result<Option<DateTime<Utc>>> {
        r.get::<_, Option<i64>>(i)?
            .map(|us| read_back(&row, column, time(us)))
            .transpose()
    };
    let sources: String = r.get(6)?;
    Ok(Relation {
        subject_id: r.get(1)?,
        predicate: r.get(2)?,
        object_id: r.get(3)?,
        valid_from: opt_time(4, "valid_from")?,
        valid_to: opt_time(5, "valid_to")?,
        sources: json_list(&row, "sources", &sources)?,
        user_id: r.get(7)?,
        created_at: read_back(&row, "created_at", time(r.get(8)?))?,
        id,
    })
}

fn text(v: Option<&str>) -> Value {
    v.map_or(Value::Null, |s| Value::Text(s.to_string()))
}

fn json(v: &[String]) -> Result<String> {
    serde_json::to_string(v).map_err(Error::internal)
}

/// `?, ?, ...` for `n` parameters.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// The canonical entity of `id`: itself, or the one it was merged into.
fn canonical(c: &Connection, tenant_id: &str, id: &str) -> Result<String> {
    c.query_row(
        "SELECT coalesce(merged_into, id) FROM entities WHERE tenant_id = ? AND id = ?",
        params![tenant_id, id],
        |r| r.get(0),
    )
    .optional()
    .map_err(sql_err)?
    .ok_or_else(|| Error::not_found(format!("entity {id}")))
}

fn add_keys(c: &Connection, tenant_id: &str, id: &str, keys: &[String]) -> Result<()> {
    let mut stmt = c
        .prepare_cached(
            "INSERT OR IGNORE INTO entity_keys(tenant_id, key, entity_id) VALUES (?, ?, ?)",
        )
        .map_err(sql_err)?;
    for k in keys {
        stmt.execute(params![tenant_id, k, id]).map_err(sql_err)?;
    }
    Ok(())
}

/// Deletes the entities `ids` with their keys, mentions and relations.
fn delete_entities(c: &Connection, tenant_id: &str, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let m = marks(ids.len());
    let mut values = vec![Value::Text(tenant_id.to_string())];
    values.extend(ids.iter().cloned().map(Value::Text));
    for sql in [
        format!("DELETE FROM entity_keys WHERE tenant_id = ? AND entity_id IN ({m})"),
        format!("DELETE FROM entity_mentions WHERE tenant_id = ? AND entity_id IN ({m})"),
        format!("DELETE FROM entities WHERE tenant_id = ? AND id IN ({m})"),
    ] {
        c.execute(&sql, params_from_iter(values.iter()))
            .map_err(sql_err)?;
    }
    let mut both = values.clone();
    both.extend(ids.iter().cloned().map(Value::Text));
    c.execute(
        &format!(
            "DELETE FROM relations WHERE tenant_id = ? AND (subject_id IN ({m}) OR object_id IN ({m}))"
        ),
        params_from_iter(both),
    )
    .map_err(sql_err)?;
    Ok(())
}

/// Part of a tenant's deletion: its whole graph, in the caller's
/// transaction.
pub(crate) fn delete_tenant_graph(c: &Connection, tenant_id: &str) -> Result<()> {
    for table in ["entity_keys", "entity_mentions", "relations", "entities"] {
        c.execute(
            &format!("DELETE FROM {table} WHERE tenant_id = ?"),
            [tenant_id],
        )
        .map_err(sql_err)?;
    }
    Ok(())
}

fn ids_where(c: &Connection, sql: &str, values: Vec<Value>) -> Result<Vec<String>> {
    let mut stmt = c.prepare_cached(sql).map_err(sql_err)?;
    stmt.query_map(params_from_iter(values), |r| r.get(0))
        .map_err(sql_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql_err)
}

/// The entities in `scope` found by any of `keys`, with the key that found
/// each, on `c` (a reader, or the writer inside a transaction).
fn entities_by_keys(
    c: &Connection,
    tenant_id: &str,
    scope: UserScope<'_>,
    keys: &[String],
) -> Result<Vec<(String, Entity)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut values = vec![Value::Text(tenant_id.to_string())];
    values.extend(keys.iter().cloned().map(Value::Text));
    let user = match scope {
        UserScope::Exactly(u) => {
            values.push(text(u));
            "AND e.user_id IS ?"
        }
        UserScope::Any => "",
    };
    let sql = format!(
        "SELECT k.key, {ENTITY_COLUMNS} FROM entity_keys k JOIN entities e \
         ON e.tenant_id = k.tenant_id AND e.id = k.entity_id \
         WHERE k.tenant_id = ? AND k.key IN ({}) {user} ORDER BY e.id",
        marks(keys.len())
    );
    let mut stmt = c.prepare(&sql).map_err(sql_err)?;
    stmt.query_map(params_from_iter(values), |r| {
        // The entity's columns follow the key.
        Ok((r.get(0)?, entity_at(r, 1)?))
    })
    .map_err(sql_err)?
    .collect::<rusqlite::Result<_>>()
    .map_err(sql_err)
}

impl Inner {
    fn entities_by_keys(
        &self,
        tenant_id: &str,
        scope: UserScope<'_>,
        keys: &[String],
    ) -> Result<Vec<(String, Entity)>> {
        self.read(|c| entities_by_keys(c, tenant_id, scope, keys))
    }

    fn nearest_entity(
        &self,
        tenant_id: &str,
        user_id: Option<&str>,
        kind: &str,
        vector: &[f32],
    ) -> Result<Option<(Entity, f32)>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {ENTITY_COLUMNS}, e.embedding FROM entities e WHERE e.tenant_id = ? \
                     AND e.user_id IS ? AND e.kind = ? AND e.merged_into IS NULL"
                ))
                .map_err(sql_err)?;
            let mut rows = stmt
                .query(params![tenant_id, user_id, kind])
                .map_err(sql_err)?;
            let mut best: Option<(Entity, f32)> = None;
            while let Some(r) = rows.next().map_err(sql_err)? {
                let blob: Vec<u8> = r.get(10).map_err(sql_err)?;
                let sim = cosine(vector, &vector_from_blob(&blob));
                if best.as_ref().is_none_or(|(_, b)| sim > *b) {
                    best = Some((entity_from_row(r).map_err(sql_err)?, sim));
                }
            }
            Ok(best)
        })
    }

    /// The lookup runs on the one writer connection, in the transaction
    /// that inserts, so no other write can slip between them.
    fn create_entity(
        &self,
        tenant_id: &str,
        e: &Entity,
        keys: &[String],
        v: &[f32],
    ) -> Result<Vec<(String, Entity)>> {
        self.write(|conn| {
            require_tenant(conn, tenant_id)?;
            let tx = conn.transaction().map_err(sql_err)?;
            let scope = UserScope::Exactly(e.user_id.as_deref());
            let found = entities_by_keys(&tx, tenant_id, scope, keys)?;
            if !found.is_empty() {
                return Ok(found);
            }
            tx.execute(
                "INSERT INTO entities(tenant_id, id, name, kind, aliases, summary, user_id, \
                 merged_into, merge_reason, embedding, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                params![
                    tenant_id,
                    e.id,
                    e.name,
                    e.kind,
                    json(&e.aliases)?,
                    e.summary,
                    e.user_id,
                    e.merged_into,
                    e.merge_reason,
                    vector_to_blob(v),
                    micros(e.created_at),
                    micros(e.updated_at)
                ],
            )
            .map_err(sql_err)?;
            add_keys(&tx, tenant_id, &e.id, keys)?;
            tx.commit().map_err(sql_err)?;
            Ok(Vec::new())
        })
    }

    fn update_entity(&self, tenant_id: &str, e: &Entity) -> Result<bool> {
        self.write(|conn| {
            let n = conn
                .execute(
                    "UPDATE entities SET name = ?, kind = ?, aliases = ?, summary = ?, \
                     merged_into = ?, merge_reason = ?, updated_at = ? \
                     WHERE tenant_id = ? AND id = ?",
                    params![
                        e.name,
                        e.kind,
                        json(&e.aliases)?,
                        e.summary,
                        e.merged_into,
                        e.merge_reason,
                        micros(e.updated_at),
                        tenant_id,
                        e.id
                    ],
                )
                .map_err(sql_err)?;
            Ok(n > 0)
        })
    }

    fn get_entity(&self, tenant_id: &str, id: &str) -> Result<Option<Entity>> {
        self.read(|c| {
            c.query_row(
                &format!(
                    "SELECT {ENTITY_COLUMNS} FROM entities e WHERE e.tenant_id = ? AND e.id = ?"
                ),
                params![tenant_id, id],
                entity_from_row,
            )
            .optional()
            .map_err(sql_err)
        })
    }

    fn list_entities(&self, tenant_id: &str, q: &EntityQuery) -> Result<Vec<Entity>> {
        let mut sql = format!(
            "SELECT {ENTITY_COLUMNS} FROM entities e WHERE e.tenant_id = ? AND e.merged_into IS NULL"
        );
        let mut values = vec![Value::Text(tenant_id.to_string())];
        if let Some(kind) = &q.kind {
            sql.push_str(" AND e.kind = ?");
            values.push(Value::Text(kind.clone()));
        }
        if let Some(user) = &q.user_id {
            sql.push_str(" AND e.user_id = ?");
            values.push(Value::Text(user.clone()));
        }
        if let Some(after) = &q.after {
            sql.push_str(" AND e.id > ?");
            values.push(Value::Text(after.clone()));
        }
        if let Some(name) = &q.name {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM entity_keys k WHERE k.tenant_id = e.tenant_id \
                 AND k.key LIKE ? ESCAPE '\\' AND (k.entity_id = e.id OR k.entity_id IN \
                 (SELECT m.id FROM entities m WHERE m.tenant_id = e.tenant_id AND m.merged_into = e.id)))",
            );
            values.push(Value::Text(crate::conversations::contains_pattern(name)));
        }
        sql.push_str(" ORDER BY e.id LIMIT ?");
        values.push(Value::Integer(q.limit as i64));
        self.read(|c| {
            let mut stmt = c.prepare(&sql).map_err(sql_err)?;
            stmt.query_map(params_from_iter(values), entity_from_row)
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)
        })
    }

    fn merged_entities(&self, tenant_id: &str, id: &str) -> Result<Vec<Entity>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {ENTITY_COLUMNS} FROM entities e WHERE e.tenant_id = ? \
                     AND e.merged_into = ? ORDER BY e.id"
                ))
                .map_err(sql_err)?;
            stmt.query_map(params![tenant_id, id], entity_from_row)
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)
        })
    }

    fn add_entity_keys(&self, tenant_id: &str, id: &str, keys: &[String]) -> Result<()> {
        self.write(|conn| add_keys(conn, tenant_id, id, keys))
    }

    fn link_mentions(&self, tenant_id: &str, links: &[(String, String)]) -> Result<()> {
        let now = micros(Utc::now());
        self.write(|conn| {
            let tx = conn.transaction().map_err(sql_err)?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO entity_mentions(tenant_id, entity_id, memory_id, at) \
                         VALUES (?, ?, ?, ?)",
                    )
                    .map_err(sql_err)?;
                for (entity, memory) in links {
                    stmt.execute(params![tenant_id, entity, memory, now])
                        .map_err(sql_err)?;
                }
            }
            tx.commit().map_err(sql_err)
        })
    }

    fn mentioning(&self, tenant_id: &str, ids: &[String], limit: usize) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let m = marks(ids.len());
        let mut values = vec![Value::Text(tenant_id.to_string())];
        values.extend(ids.iter().cloned().map(Value::Text));
        values.extend(ids.iter().cloned().map(Value::Text));
        values.push(Value::Integer(limit as i64));
        let sql = format!(
            "SELECT x.memory_id FROM entity_mentions x JOIN entities e \
             ON e.tenant_id = x.tenant_id AND e.id = x.entity_id \
             WHERE x.tenant_id = ? AND (e.id IN ({m}) OR e.merged_into IN ({m})) \
             GROUP BY x.memory_id ORDER BY max(x.at) DESC, x.memory_id DESC LIMIT ?"
        );
        self.read(|c| ids_where(c, &sql, values))
    }

    fn add_relation(&self, tenant_id: &str, r: &Relation, single: bool) -> Result<RelationAdded> {
        self.write(|conn| {
            let tx = conn.transaction().map_err(sql_err)?;
            let subject = canonical(&tx, tenant_id, &r.subject_id)?;
            let object = canonical(&tx, tenant_id, &r.object_id)?;
            let open: Vec<(String, String, Option<i64>, String)> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT r.id, coalesce(o.merged_into, o.id), r.valid_from, r.sources \
                         FROM relations r \
                         JOIN entities s ON s.tenant_id = r.tenant_id AND s.id = r.subject_id \
                         JOIN entities o ON o.tenant_id = r.tenant_id AND o.id = r.object_id \
                         WHERE r.tenant_id = ? AND r.predicate = ? AND r.valid_to IS NULL \
                         AND coalesce(s.merged_into, s.id) = ? ORDER BY r.id",
                    )
                    .map_err(sql_err)?;
                stmt.query_map(params![tenant_id, r.predicate, subject], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)?
            };
            if let Some((id, _, _, sources)) = open.iter().find(|o| o.1 == object) {
                let mut all = json_list(&format!("relations row {id}"), "sources", sources)
                    .map_err(sql_err)?;
                for s in &r.sources {
                    if !all.contains(s) {
                        all.push(s.clone());
                    }
                }
                tx.execute(
                    "UPDATE relations SET sources = ? WHERE tenant_id = ? AND id = ?",
                    params![json(&all)?, tenant_id, id],
                )
                .map_err(sql_err)?;
                tx.commit().map_err(sql_err)?;
                return Ok(RelationAdded {
                    id: id.clone(),
                    existed: true,
                    closed: Vec::new(),
                });
            }
            let at = micros(r.valid_from.unwrap_or(r.created_at));
            let mut closed = Vec::new();
            if single {
                for (id, _, from, _) in &open {
                    // One that started later is not contradicted by an
                    // older statement.
                    if from.is_none_or(|f| f < at) {
                        tx.execute(
                            "UPDATE relations SET valid_to = ? WHERE tenant_id = ? AND id = ?",
                            params![at, tenant_id, id],
                        )
                        .map_err(sql_err)?;
                        closed.push(id.clone());
                    }
                }
            }
            tx.execute(
                "INSERT INTO relations(tenant_id, id, subject_id, predicate, object_id, \
                 valid_from, valid_to, sources, user_id, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                params![
                    tenant_id,
                    r.id,
                    r.subject_id,
                    r.predicate,
                    r.object_id,
                    r.valid_from.map(micros),
                    r.valid_to.map(micros),
                    json(&r.sources)?,
                    r.user_id,
                    micros(r.created_at)
                ],
            )
            .map_err(sql_err)?;
            tx.commit().map_err(sql_err)?;
            Ok(RelationAdded {
                id: r.id.clone(),
                existed: false,
                closed,
            })
        })
    }

    fn relations_of(&self, tenant_id: &str, ids: &[String]) -> Result<Vec<Relation>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let m = marks(ids.len());
        let mut values = vec![Value::Text(tenant_id.to_string())];
        values.extend(ids.iter().cloned().map(Value::Text));
        values.extend(ids.iter().cloned().map(Value::Text));
        let sql = format!(
            "SELECT {RELATION_COLUMNS} FROM relations r WHERE r.tenant_id = ? \
             AND (r.subject_id IN ({m}) OR r.object_id IN ({m})) ORDER BY r.created_at, r.id"
        );
        self.read(|c| {
            let mut stmt = c.prepare(&sql).map_err(sql_err)?;
            stmt.query_map(params_from_iter(values), relation_from_row)
                .map_err(sql_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(sql_err)
        })
    }

    fn neighbors(
        &self,
        tenant_id: &str,
        id: &str,
        depth: u32,
        at: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Reached>> {
        self.read(|c| {
            let start = canonical(c, tenant_id, id)?;
            let mut stmt = c
                .prepare_cached(
                    "WITH RECURSIVE \
                     canon(id, c) AS (SELECT id, coalesce(merged_into, id) FROM entities \
                         WHERE tenant_id = ?1), \
                     ends(a, b) AS (SELECT cs.c, co.c FROM relations r \
                         JOIN canon cs ON cs.id = r.subject_id JOIN canon co ON co.id = r.object_id \
                         WHERE r.tenant_id = ?1 AND (r.valid_from IS NULL OR r.valid_from <= ?3) \
                         AND (r.valid_to IS NULL OR r.valid_to > ?3)), \
                     edges(a, b) AS (SELECT a, b FROM ends UNION SELECT b, a FROM ends), \
                     walk(id, depth) AS (SELECT ?2, 0 UNION \
                         SELECT e.b, w.depth + 1 FROM walk w JOIN edges e ON e.a = w.id \
                         WHERE w.depth < ?4) \
                     SELECT id, min(depth) AS d FROM walk GROUP BY id ORDER BY d, id LIMIT ?5",
                )
                .map_err(sql_err)?;
            stmt.query_map(
                params![tenant_id, start, micros(at), depth, limit as i64],
                |r| {
                    Ok(Reached {
                        id: r.get(0)?,
                        depth: r.get(1)?,
                    })
                },
            )
            .map_err(sql_err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(sql_err)
        })
    }

    fn delete_entity(&self, tenant_id: &str, id: &str) -> Result<bool> {
        self.write(|conn| {
            let tx = conn.transaction().map_err(sql_err)?;
            let ids = ids_where(
                &tx,
                "SELECT id FROM entities WHERE tenant_id = ? AND (id = ? OR merged_into = ?)",
                vec![
                    Value::Text(tenant_id.to_string()),
                    Value::Text(id.to_string()),
                    Value::Text(id.to_string()),
                ],
            )?;
            if !ids.iter().any(|i| i == id) {
                return Ok(false);
            }
            delete_entities(&tx, tenant_id, &ids)?;
            tx.commit().map_err(sql_err)?;
            Ok(true)
        })
    }

    fn delete_user_graph(&self, tenant_id: &str, user_id: &str) -> Result<u64> {
        self.write(|conn| {
            let tx = conn.transaction().map_err(sql_err)?;
            let ids = ids_where(
                &tx,
                "SELECT id FROM entities WHERE tenant_id = ? AND user_id = ?",
                vec![
                    Value::Text(tenant_id.to_string()),
                    Value::Text(user_id.to_string()),
                ],
            )?;
            delete_entities(&tx, tenant_id, &ids)?;
            tx.execute(
                "DELETE FROM relations WHERE tenant_id = ? AND user_id = ?",
                params![tenant_id, user_id],
            )
            .map_err(sql_err)?;
            tx.commit().map_err(sql_err)?;
            Ok(ids.len() as u64)
        })
    }
}

#[async_trait]
impl GraphStore for EmbeddedStore {
    async fn entities_by_keys(
        &self,
        tenant_id: &str,
        scope: UserScope<'_>,
        keys: &[String],
    ) -> Result<Vec<(String, Entity)>> {
        let (tenant_id, keys) = (tenant_id.to_string(), keys.to_vec());
        let user = match scope {
            UserScope::Exactly(u) => Some(u.map(str::to_string)),
            UserScope::Any => None,
        };
        self.run(move |db| {
            let scope = match &user {
                Some(u) => UserScope::Exactly(u.as_deref()),
                None => UserScope::Any,
            };
            db.entities_by_keys(&tenant_id, scope, &keys)
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
        let (tenant_id, user, kind, vector) = (
            tenant_id.to_string(),
            user_id.map(str::to_string),
            kind.to_string(),
            vector.to_vec(),
        );
        self.run(move |db| db.nearest_entity(&tenant_id, user.as_deref(), &kind, &vector))
            .await
    }

    async fn create_entity(
        &self,
        tenant_id: &str,
        e: NewEntity<'_>,
    ) -> Result<Vec<(String, Entity)>> {
        let (tenant_id, entity, keys, v) = (
            tenant_id.to_string(),
            e.entity.clone(),
            e.keys.to_vec(),
            e.embedding.to_vec(),
        );
        self.run(move |db| db.create_entity(&tenant_id, &entity, &keys, &v))
            .await
    }

    async fn add_entity_keys(&self, tenant_id: &str, id: &str, keys: &[String]) -> Result<()> {
        let (tenant_id, id, keys) = (tenant_id.to_string(), id.to_string(), keys.to_vec());
        self.run(move |db| db.add_entity_keys(&tenant_id, &id, &keys))
            .await
    }

    async fn update_entity(&self, tenant_id: &str, e: &Entity) -> Result<bool> {
        let (tenant_id, e) = (tenant_id.to_string(), e.clone());
        self.run(move |db| db.update_entity(&tenant_id, &e)).await
    }

    async fn get_entity(&self, tenant_id: &str, id: &str) -> Result<Option<Entity>> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |db| db.get_entity(&tenant_id, &id)).await
    }

    async fn list_entities(&self, tenant_id: &str, q: &EntityQuery) -> Result<Vec<Entity>> {
        let (tenant_id, q) = (tenant_id.to_string(), q.clone());
        self.run(move |db| db.list_entities(&tenant_id, &q)).await
    }

    async fn merged_entities(&self, tenant_id: &str, id: &str) -> Result<Vec<Entity>> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |db| db.merged_entities(&tenant_id, &id))
            .await
    }

    async fn link_mentions(&self, tenant_id: &str, links: &[(String, String)]) -> Result<()> {
        let (tenant_id, links) = (tenant_id.to_string(), links.to_vec());
        self.run(move |db| db.link_mentions(&tenant_id, &links))
            .await
    }

    async fn mentioning(
        &self,
        tenant_id: &str,
        entity_ids: &[String],
        limit: usize,
    ) -> Result<Vec<String>> {
        let (tenant_id, ids) = (tenant_id.to_string(), entity_ids.to_vec());
        self.run(move |db| db.mentioning(&tenant_id, &ids, limit))
            .await
    }

    async fn add_relation(
        &self,
        tenant_id: &str,
        r: &Relation,
        single_valued: bool,
    ) -> Result<RelationAdded> {
        let (tenant_id, r) = (tenant_id.to_string(), r.clone());
        self.run(move |db| db.add_relation(&tenant_id, &r, single_valued))
            .await
    }

    async fn relations_of(&self, tenant_id: &str, entity_ids: &[String]) -> Result<Vec<Relation>> {
        let (tenant_id, ids) = (tenant_id.to_string(), entity_ids.to_vec());
        self.run(move |db| db.relations_of(&tenant_id, &ids)).await
    }

    async fn neighbors(
        &self,
        tenant_id: &str,
        id: &str,
        depth: u32,
        at: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Reached>> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |db| db.neighbors(&tenant_id, &id, depth, at, limit))
            .await
    }

    async fn delete_entity(&self, tenant_id: &str, id: &str) -> Result<bool> {
        let (tenant_id, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |db| db.delete_entity(&tenant_id, &id)).await
    }

    async fn delete_user_graph(&self, tenant_id: &str, user_id: &str) -> Result<u64> {
        let (tenant_id, user_id) = (tenant_id.to_string(), user_id.to_string());
        self.run(move |db| db.delete_user_graph(&tenant_id, &user_id))
            .await
    }
}
