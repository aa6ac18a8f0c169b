//! The temporal model's operations (docs/FACTS.md): a new version of a
//! fact, a fact's history, the instant a search is valid at, and the check
//! that cited sources exist in the tenant.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use engram_core::memory::{now, stored_time};
use engram_core::temporal::{History, NewVersion, validate_sources};
use engram_core::{Code, Error, Filter, Memory, MemoryPatch, NewMemory, Result};
use engram_store::Record;
use engram_store::facts::Version;

use crate::Engine;
use crate::auth::new_id;

/// `filter` restricted to what was valid at `as_of`, default now: searches
/// and context return what holds, not what was replaced or invalidated.
pub(crate) fn valid_at(filter: &Filter, as_of: Option<DateTime<Utc>>) -> Filter {
    Filter {
        valid_at: Some(as_of.map_or_else(now, stored_time)),
        ..filter.clone()
    }
}

impl Engine {
    /// Writes a new version of fact `id`: the fact keeps its id and holds
    /// `change.content` from `change.valid_from` (default now); its state
    /// until then is kept as a memory of its own, `version_of` the fact and
    /// valid until the change.
    pub async fn new_version(&self, tenant: &str, id: &str, change: NewVersion) -> Result<Memory> {
        MemoryPatch {
            content: Some(change.content.clone()),
            importance: change.importance,
            ..Default::default()
        }
        .validate()?;
        validate_sources(&change.sources, "sources")?;
        self.check_sources(tenant, [(String::new(), change.sources.as_slice())])
            .await?;
        let missing = || Error::not_found(format!("memory {id}"));
        let earlier = self
            .store
            .get_records(tenant, &[id.to_string()])
            .await?
            .pop()
            .ok_or_else(missing)?;
        let fact = &earlier.memory;
        if fact.temporal.version_of.is_some() {
            return Err(Error::invalid(
                "id",
                "names an earlier version; write the new version on the fact it is version_of",
            ));
        }
        let at = change.valid_from.map_or_else(now, stored_time);
        if fact.temporal.valid_from.is_some_and(|f| at <= f) {
            return Err(Error::invalid(
                "valid_from",
                "must be later than the current version's valid_from",
            ));
        }
        let updated_at = now();
        let mut current = fact.clone();
        current.content = change.content;
        current.importance = change.importance.unwrap_or(fact.importance);
        current.updated_at = updated_at;
        current.temporal.valid_from = Some(at);
        current.temporal.version = fact.temporal.version + 1;
        // Still invalid from the same time if that comes later; a change
        // made after the fact was invalidated revives it.
        current.temporal.valid_to = fact.temporal.valid_to.filter(|t| *t > at);
        let mut sources = fact.temporal.sources.clone();
        sources.extend(change.sources);
        dedup(&mut sources);
        current.temporal.sources = sources;
        let mut kept = earlier.memory.clone();
        kept.id = new_id();
        kept.temporal.version_of = Some(fact.id.clone());
        kept.temporal.valid_to = Some(fact.temporal.valid_to.map_or(at, |t| t.min(at)));
        kept.updated_at = updated_at;
        let embedding = if current.content != fact.content {
            Some(self.reembed(tenant, &current).await?)
        } else {
            None
        };
        let version = Version {
            earlier: Record {
                memory: kept,
                embedding: earlier.embedding,
            },
            current: &current,
            embedding,
        };
        if self.store.write_version(tenant, version).await? {
            return Ok(current);
        }
        match self.store.get(tenant, id).await? {
            None => Err(missing()),
            Some(_) => Err(Error::conflict(
                Code::VersionConflict,
                "another version of this fact was written meanwhile; read it and retry",
            )),
        }
    }

    /// Every version of the fact `id` names (or that `id` is an earlier
    /// version of), oldest first, the current one last.
    pub async fn history(&self, tenant: &str, id: &str) -> Result<History> {
        let m = self.get(tenant, id).await?;
        let fact = m.temporal.version_of.unwrap_or(m.id);
        Ok(History {
            versions: self.store.history(tenant, &fact).await?,
        })
    }

    /// Every cited source must be a memory of this tenant: a citation of a
    /// missing (or another tenant's) memory would point at nothing.
    /// `items` are (field prefix, sources).
    pub(crate) async fn check_sources<'a>(
        &self,
        tenant: &str,
        items: impl IntoIterator<Item = (String, &'a [String])>,
    ) -> Result<()> {
        let items: Vec<(String, &[String])> = items.into_iter().collect();
        let mut wanted: Vec<String> = items.iter().flat_map(|(_, s)| s.iter().cloned()).collect();
        dedup(&mut wanted);
        if wanted.is_empty() {
            return Ok(());
        }
        let found: HashSet<String> = self
            .store
            .get_records(tenant, &wanted)
            .await?
            .into_iter()
            .map(|r| r.memory.id)
            .collect();
        for (at, sources) in &items {
            if let Some((i, s)) = sources
                .iter()
                .enumerate()
                .find(|(_, s)| !found.contains(*s))
            {
                return Err(Error::invalid(
                    format!("{at}sources[{i}]"),
                    format!("memory {s} does not exist; cite memories already written"),
                ));
            }
        }
        Ok(())
    }

    /// [`Engine::check_sources`] for new memories, each named by its prefix.
    pub(crate) async fn check_new_sources(
        &self,
        tenant: &str,
        items: &[NewMemory],
        field_prefix: &impl Fn(usize) -> String,
    ) -> Result<()> {
        self.check_sources(
            tenant,
            items
                .iter()
                .enumerate()
                .map(|(i, m)| (field_prefix(i), m.sources.as_slice())),
        )
        .await
    }
}

/// Keeps the first of each id, in order.
fn dedup(ids: &mut Vec<String>) {
    let mut seen = HashSet::new();
    ids.retain(|s| seen.insert(s.clone()));
}
