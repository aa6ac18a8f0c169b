//! Per-tenant BM25 indexes over memory content: in memory for speed, saved
//! to `DATA_DIR/text/<tenant seq>.bm25` from time to time and brought up to
//! date from the log after a crash (see [`super::indexes`]). One index per
//! tenant, so term rarity and document lengths come from that tenant alone.

mod analyzer;
mod codec;
mod index;

use std::path::Path;

use engram_core::Result;
use engram_core::cancel::Cancel;

pub use index::{TextIndex, Within};

use super::per_tenant::PerTenant;

pub struct TextIndexes {
    tenants: PerTenant<TextIndex>,
}

impl TextIndexes {
    pub fn new(dir: &Path) -> Result<TextIndexes> {
        Ok(TextIndexes {
            tenants: PerTenant::new(
                dir,
                "bm25",
                &codec::FORMAT,
                Box::new(|| Ok(TextIndex::default())),
            )?,
        })
    }

    /// Loads the tenant's saved index; false when there is none to load.
    pub fn load(&self, seq: i64, tenant: &str) -> Result<bool> {
        self.tenants.load_file(seq, tenant, |bytes| {
            codec::decode(bytes).map_err(|e| format!("text index: {e}"))
        })
    }

    pub fn upsert(&self, seq: i64, rows: &[(i64, &str)]) -> Result<()> {
        self.tenants.change(seq, |index| {
            for (rowid, text) in rows {
                index.upsert(*rowid, text);
            }
            Ok(true)
        })
    }

    pub fn remove(&self, seq: i64, rowid: i64) -> Result<()> {
        self.tenants.change(seq, |index| Ok(index.remove(rowid)))
    }

    /// Removes the rows and compacts at once, whatever the dead share.
    pub fn purge(&self, seq: i64, rowids: &[i64]) -> Result<()> {
        self.tenants.change(seq, |index| {
            for rowid in rowids {
                index.remove(*rowid);
            }
            index.compact();
            Ok(true)
        })
    }

    /// The `limit` best `(rowid, BM25 score)` for the query words.
    pub fn search(
        &self,
        seq: i64,
        words: &[String],
        limit: usize,
        within: Within<'_>,
        cancel: &Cancel,
    ) -> Result<Vec<(i64, f32)>> {
        self.tenants
            .read(seq, |index| index.search(words, limit, within, cancel))?
    }

    /// The tenants' indexes, for what all kinds of index share: adding a
    /// tenant, checking whose an index is, removing orphaned files.
    pub fn tenants(&self) -> &PerTenant<TextIndex> {
        &self.tenants
    }

    pub fn drop_tenant(&self, seq: i64) {
        self.tenants.drop_tenant(seq);
    }

    pub fn save(&self) -> Result<()> {
        self.tenants.save_encoded(codec::encode)
    }
}
