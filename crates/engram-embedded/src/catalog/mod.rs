//! Per-tenant catalogs (see [`table`]): in memory, saved to
//! `DATA_DIR/catalog/<tenant seq>.facts` with the other indexes and
//! brought up to date from the log after a crash (see [`super::indexes`]).

mod codec;
mod payload;
mod table;

use std::path::Path;

use engram_core::cancel::Cancel;
use engram_core::{Error, Filter, Memory, Result};

use table::Catalog;

use super::per_tenant::PerTenant;

pub struct Catalogs {
    tenants: PerTenant<Catalog>,
}

impl Catalogs {
    pub fn new(dir: &Path) -> Result<Catalogs> {
        Ok(Catalogs {
            tenants: PerTenant::new(
                dir,
                "facts",
                &codec::FORMAT,
                Box::new(|| Ok(Catalog::default())),
            )?,
        })
    }

    /// Loads the tenant's saved catalog; false when there is none to load.
    pub fn load(&self, seq: i64, tenant: &str) -> Result<bool> {
        self.tenants.load_file(seq, tenant, |bytes| {
            codec::decode(bytes).map_err(|e| format!("catalog: {e}"))
        })
    }

    pub fn upsert(&self, seq: i64, rows: &[(i64, &Memory)]) -> Result<()> {
        self.tenants.change(seq, |catalog| {
            for (rowid, m) in rows {
                catalog.upsert(*rowid, m);
            }
            Ok(true)
        })
    }

    pub fn remove(&self, seq: i64, rowid: i64) -> Result<()> {
        self.tenants
            .change(seq, |catalog| Ok(catalog.remove(rowid)))
    }

    /// Removes the rows and rebuilds the postings at once.
    pub fn purge(&self, seq: i64, rowids: &[i64]) -> Result<()> {
        self.tenants.change(seq, |catalog| {
            for rowid in rowids {
                catalog.remove(*rowid);
            }
            catalog.rebuild_postings();
            Ok(true)
        })
    }

    /// The tenant's rows that pass `filter`, ascending.
    pub fn allowed(&self, seq: i64, filter: &Filter, cancel: &Cancel) -> Result<Vec<i64>> {
        self.tenants
            .read(seq, |catalog| catalog.allowed(filter, cancel))?
    }

    /// Each row's importance and time (microseconds), `None` for a row not
    /// catalogued (deleted since it was found).
    pub fn ranking_facts(
        &self,
        seq: i64,
        rows: &[i64],
        pinned: &[String],
    ) -> Result<Vec<Option<(f32, i64, bool)>>> {
        self.tenants.read(seq, |catalog| {
            let pinned = catalog.known(pinned);
            rows.iter()
                .map(|r| {
                    catalog
                        .facts(*r)
                        .map(|f| (f.importance, f.occurred_at, pinned.contains(&f.session)))
                })
                .collect()
        })
    }

    /// The memories at `rows`, in order; `None` for a row not catalogued.
    pub fn memories(&self, seq: i64, rows: &[i64]) -> Result<Vec<Option<Memory>>> {
        self.tenants.read(seq, |catalog| {
            rows.iter()
                .map(|r| {
                    catalog.memory(*r).transpose().map_err(|e| {
                        Error::inconsistent(format!("catalog of tenant seq {seq}, row {r}"), e)
                    })
                })
                .collect()
        })?
    }

    /// The tenants' indexes, for what all kinds of index share: adding a
    /// tenant, checking whose an index is, removing orphaned files.
    pub fn tenants(&self) -> &PerTenant<Catalog> {
        &self.tenants
    }

    pub fn drop_tenant(&self, seq: i64) {
        self.tenants.drop_tenant(seq);
    }

    pub fn save(&self) -> Result<()> {
        self.tenants.save_encoded(codec::encode)
    }
}
