//! The embedding space a data directory is bound to: one model and
//! dimension for its lifetime, recorded on first use.

use rusqlite::{OptionalExtension, params};

use engram_core::{Error, Result};

use crate::Inner;
use crate::indexes::Indexes;
use crate::rows::sql_err;

impl Inner {
    pub(crate) fn bind_embedding_space(&self, model_id: &str, dimension: usize) -> Result<()> {
        self.write(|conn| {
            let stored: Option<(String, String)> = conn
                .query_row(
                    "SELECT (SELECT value FROM meta WHERE key = 'embedding_model'), \
                            (SELECT value FROM meta WHERE key = 'embedding_dimension') \
                     WHERE EXISTS (SELECT 1 FROM meta WHERE key = 'embedding_model')",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(sql_err)?;
            match stored {
                Some((m, d)) if m != model_id || d != dimension.to_string() => {
                    return Err(Error::internal(format!(
                        "the data directory {} holds embeddings of model '{m}' ({d} dimensions), \
                         but the configured embedder is '{model_id}' ({dimension} dimensions). \
                         Configure the original model, or back up with `engram backup`, \
                         and restore into a new data directory",
                        self.dir.display()
                    )));
                }
                Some(_) => {}
                None => {
                    conn.execute(
                        "INSERT INTO meta(key, value) VALUES ('embedding_model', ?), ('embedding_dimension', ?)",
                        params![model_id, dimension.to_string()],
                    )
                    .map_err(sql_err)?;
                }
            }
            if self.indexes.get().is_none() {
                let v = Indexes::open(&self.dir, dimension, conn)?;
                let _ = self.indexes.set(v);
            }
            Ok(())
        })
    }

    pub(crate) fn embedding_space(&self) -> Result<Option<(String, usize)>> {
        self.read(|c| {
            let row: Option<(String, String)> = c
                .query_row(
                    "SELECT m.value, d.value FROM meta m, meta d \
                     WHERE m.key = 'embedding_model' AND d.key = 'embedding_dimension'",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(sql_err)?;
            row.map(|(m, d)| {
                let d = d.parse().map_err(|e| {
                    Error::inconsistent("meta row embedding_dimension", format!("{d:?}: {e}"))
                })?;
                Ok((m, d))
            })
            .transpose()
        })
    }
}
