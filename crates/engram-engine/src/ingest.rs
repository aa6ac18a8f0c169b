//! Writing and reading memories by id or scope.

use chrono::Utc;
use sha2::{Digest, Sha256};

use engram_core::memory::MAX_BATCH;
use engram_core::query::{Cursor, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, Page, validate_limit};
use engram_core::temporal::validate_range;
use engram_core::{Code, Error, Filter, Memory, MemoryPatch, NewMemory, Result};
use engram_store::{Idempotency, InsertOutcome, Listing, Record};

use crate::Engine;
use crate::auth::new_id;

const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// The outcome of a single add: the memory, and whether it was written by
/// an earlier request with the same idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct Added {
    pub memory: Memory,
    pub replayed: bool,
    /// Jobs the write queued (`"infer": true`).
    pub jobs: Vec<String>,
}

/// The outcome of a batch: the ids in order, the jobs queued, and whether
/// an earlier request with the same idempotency key wrote them.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchAdded {
    pub ids: Vec<String>,
    pub jobs: Vec<String>,
    pub replayed: bool,
}

pub(crate) fn fingerprint<T: serde::Serialize>(items: &[T]) -> Result<String> {
    // serde_json writes struct fields in declaration order and map keys
    // sorted, so equal requests hash equally.
    let bytes = serde_json::to_vec(items).map_err(Error::internal)?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A concurrent request with the same key won the race and has not
/// committed yet.
pub(crate) fn in_flight() -> Error {
    Error::conflict(
        Code::IdempotencyKeyInFlight,
        "a request with this Idempotency-Key is still being processed; retry in a moment",
    )
}

/// The idempotency record of a request sent with `key` (if any) and this
/// body: what the store keeps to answer a retry with the first result.
pub(crate) fn idempotency<T: serde::Serialize>(
    key: Option<&str>,
    body: &[T],
) -> Result<Option<Idempotency>> {
    key.map(|k| {
        validate_idempotency_key(k)?;
        Ok(Idempotency {
            key: k.to_string(),
            fingerprint: fingerprint(body)?,
        })
    })
    .transpose()
}

/// An `Idempotency-Key` header's value is 1 to 255 characters.
fn validate_idempotency_key(k: &str) -> Result<()> {
    if k.is_empty() || k.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS {
        return Err(Error::invalid(
            "Idempotency-Key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters"),
        ));
    }
    Ok(())
}

impl Engine {
    /// Validates and embeds (unless vectors are supplied) new memories,
    /// each with a new id.
    pub(crate) async fn prepare(
        &self,
        tenant: &str,
        items: Vec<NewMemory>,
        field_prefix: impl Fn(usize) -> String,
    ) -> Result<Vec<Record>> {
        let ids = items.iter().map(|_| new_id()).collect();
        self.prepare_with_ids(tenant, items, ids, field_prefix)
            .await
    }

    /// [`Engine::prepare`] with the ids given (one per item), for imports
    /// whose ids derive from the source.
    pub(crate) async fn prepare_with_ids(
        &self,
        tenant: &str,
        items: Vec<NewMemory>,
        ids: Vec<String>,
        field_prefix: impl Fn(usize) -> String,
    ) -> Result<Vec<Record>> {
        let dim = self.embedder.dimension();
        for (i, m) in items.iter().enumerate() {
            m.validate(&field_prefix(i))?;
            if let Some(e) = &m.embedding
                && e.len() != dim
            {
                return Err(Error::invalid(
                    format!("{}embedding", field_prefix(i)),
                    format!("has {} dimensions; this server's index uses {dim}", e.len()),
                ));
            }
        }
        self.check_new_sources(tenant, &items, &field_prefix)
            .await?;
        let mut embedded = self.embed_new(tenant, &items).await?.into_iter();
        let now = Utc::now();
        items
            .into_iter()
            .zip(ids)
            .map(|(mut m, id)| {
                let embedding = match m.embedding.take() {
                    Some(mut e) => {
                        engram_embed::normalize(&mut e);
                        e
                    }
                    None => embedded
                        .next()
                        .ok_or_else(|| Error::internal("embedder returned too few vectors"))?,
                };
                Ok(Record {
                    memory: Memory::from_new(id, m, now),
                    embedding,
                })
            })
            .collect()
    }

    /// Adds one memory; `project` (`X-Project-ID`) is what the extraction
    /// it queues with `"infer": true` is metered and budgeted under.
    pub async fn add(
        &self,
        tenant: &str,
        item: NewMemory,
        idempotency_key: Option<&str>,
        project: Option<&str>,
    ) -> Result<Added> {
        let idem = idempotency(idempotency_key, std::slice::from_ref(&item))?;
        if let Some(i) = &idem
            && let Some(done) = self.replay(tenant, &i.key, &i.fingerprint).await?
        {
            return Ok(done);
        }
        self.check_infer(std::slice::from_ref(&item))?;
        let infer = item.infer;
        let mut records = self.prepare(tenant, vec![item], |_| String::new()).await?;
        match self
            .store
            .insert(tenant, records.clone(), idem.clone())
            .await?
        {
            InsertOutcome::Inserted => {
                let memory = records.remove(0).memory;
                let inferred: &[&Memory] = if infer { &[&memory] } else { &[] };
                let mut jobs = self.queue_inference(tenant, project, inferred).await?;
                jobs.extend(self.queue_graph(tenant, project, &[&memory]).await?);
                Ok(Added {
                    memory,
                    replayed: false,
                    jobs,
                })
            }
            InsertOutcome::KeyTaken => {
                // A concurrent request with the same key won the race.
                let idem = idem.ok_or_else(|| Error::internal("key taken without a key"))?;
                self.replay(tenant, &idem.key, &idem.fingerprint)
                    .await?
                    .ok_or_else(in_flight)
            }
        }
    }

    /// The ids an earlier request with this key wrote, if there was one
    /// with the same body (`fp`); another body under the key is refused.
    pub(crate) async fn earlier_ids(
        &self,
        tenant: &str,
        key: &str,
        fp: &str,
    ) -> Result<Option<Vec<String>>> {
        let Some(prev) = self.store.idempotent_result(tenant, key).await? else {
            return Ok(None);
        };
        if prev.fingerprint != fp {
            return Err(Error::conflict(
                Code::IdempotencyKeyReused,
                "this Idempotency-Key was already used with a different request body; use a new key",
            ));
        }
        Ok(Some(prev.ids))
    }

    async fn replay(&self, tenant: &str, key: &str, fp: &str) -> Result<Option<Added>> {
        let Some(ids) = self.earlier_ids(tenant, key, fp).await? else {
            return Ok(None);
        };
        let id = ids.first().cloned().unwrap_or_default();
        match self.store.get(tenant, &id).await? {
            Some(memory) => Ok(Some(Added {
                memory,
                replayed: true,
                jobs: Vec::new(),
            })),
            None => Err(Error::conflict(
                Code::IdempotencyKeySpent,
                "this Idempotency-Key created a memory that has since been deleted; use a new key",
            )),
        }
    }

    /// Adds up to [`MAX_BATCH`] memories in one transaction.
    pub async fn add_batch(&self, tenant: &str, items: Vec<NewMemory>) -> Result<Vec<String>> {
        Ok(self
            .add_batch_inferring(tenant, items, None, None)
            .await?
            .ids)
    }

    /// [`Engine::add_batch`] as the API serves it: with an idempotency key
    /// (a retry of the same batch answers the first write's ids and writes
    /// nothing), and returning the jobs queued for the items with
    /// `"infer": true`.
    pub async fn add_batch_inferring(
        &self,
        tenant: &str,
        items: Vec<NewMemory>,
        idempotency_key: Option<&str>,
        project: Option<&str>,
    ) -> Result<BatchAdded> {
        if items.is_empty() || items.len() > MAX_BATCH {
            return Err(Error::invalid(
                "items",
                format!("must hold 1 to {MAX_BATCH} memories"),
            ));
        }
        let idem = idempotency(idempotency_key, &items)?;
        if let Some(i) = &idem
            && let Some(ids) = self.earlier_ids(tenant, &i.key, &i.fingerprint).await?
        {
            return Ok(BatchAdded {
                ids,
                jobs: Vec::new(),
                replayed: true,
            });
        }
        self.check_infer(&items)?;
        let infer: Vec<bool> = items.iter().map(|m| m.infer).collect();
        let records = self
            .prepare(tenant, items, |i| format!("items[{i}]."))
            .await?;
        let ids = records.iter().map(|r| r.memory.id.clone()).collect();
        if self
            .store
            .insert(tenant, records.clone(), idem.clone())
            .await?
            == InsertOutcome::KeyTaken
        {
            // A concurrent request with the same key won the race.
            let idem = idem.ok_or_else(|| Error::internal("key taken without a key"))?;
            let ids = self
                .earlier_ids(tenant, &idem.key, &idem.fingerprint)
                .await?
                .ok_or_else(in_flight)?;
            return Ok(BatchAdded {
                ids,
                jobs: Vec::new(),
                replayed: true,
            });
        }
        let inferred: Vec<&Memory> = records
            .iter()
            .zip(infer)
            .filter(|(_, i)| *i)
            .map(|(r, _)| &r.memory)
            .collect();
        let mut jobs = self.queue_inference(tenant, project, &inferred).await?;
        let written: Vec<&Memory> = records.iter().map(|r| &r.memory).collect();
        jobs.extend(self.queue_graph(tenant, project, &written).await?);
        Ok(BatchAdded {
            ids,
            jobs,
            replayed: false,
        })
    }

    pub async fn get(&self, tenant: &str, id: &str) -> Result<Memory> {
        self.store
            .get(tenant, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("memory {id}")))
    }

    pub async fn update(&self, tenant: &str, id: &str, patch: MemoryPatch) -> Result<Memory> {
        patch.validate()?;
        let mut memory = self.get(tenant, id).await?;
        let content_changed = patch.apply(&mut memory, Utc::now());
        let t = &memory.temporal;
        validate_range(t.valid_from, t.valid_to, "valid_to")?;
        let embedding = if content_changed {
            Some(self.reembed(tenant, &memory).await?)
        } else {
            None
        };
        if !self.store.update(tenant, &memory, embedding).await? {
            return Err(Error::not_found(format!("memory {id}")));
        }
        Ok(memory)
    }

    pub async fn delete(&self, tenant: &str, id: &str) -> Result<()> {
        if self.store.delete(tenant, id).await? {
            Ok(())
        } else {
            Err(Error::not_found(format!("memory {id}")))
        }
    }

    pub async fn list(
        &self,
        tenant: &str,
        filter: &Filter,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<Page> {
        filter.validate("")?;
        let limit = limit.unwrap_or(DEFAULT_LIST_LIMIT);
        validate_limit(limit, MAX_LIST_LIMIT, "limit")?;
        let after = cursor.map(Cursor::decode).transpose()?;
        // One extra row tells whether another page exists.
        let mut items = self
            .store
            .list(
                tenant,
                &Listing {
                    filter,
                    limit: limit + 1,
                    after: after.as_ref(),
                },
            )
            .await?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|m| Cursor::after(m).encode())
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// Deletes every memory matching a scoped filter. An unscoped filter is
    /// refused: erasing a whole tenant is an admin operation.
    pub async fn delete_where(&self, tenant: &str, filter: &Filter) -> Result<u64> {
        filter.validate("")?;
        if !filter.has_scope() {
            return Err(Error::invalid(
                "user_id",
                "give at least one of user_id, agent_id, session_id (deleting a whole tenant is DELETE /v1/tenants/{id})",
            ));
        }
        // Erasing a user takes the user's documents too: their bytes and
        // rows, not only the chunks (which carry the user_id).
        let whole_user = filter.agent_id.is_none()
            && filter.session_id.is_none()
            && filter.kind.is_none()
            && filter.labels.is_empty()
            && filter.after.is_none()
            && filter.before.is_none();
        let mut deleted = 0;
        if let Some(user) = filter.user_id.as_deref().filter(|_| whole_user) {
            deleted += self.erase_user_documents(tenant, user).await?.1;
        }
        deleted += self.store.delete_where(tenant, filter).await?;
        // Erasing a user (and only then: a session's memories are not
        // the user's whole graph) erases the entities and relations found
        // in their memories.
        if let Some(user) = filter.user_id.as_deref().filter(|_| whole_user) {
            self.store.delete_user_graph(tenant, user).await?;
        }
        Ok(deleted)
    }
}
