//! An import as a job: its progress is a row (`ConversationStore::save_import`),
//! written after every conversation, so any replica answers `GET
//! /v1/import/{id}` with the same counters. A job cut off by a restart
//! stays `running`; importing the file again finishes it (ids derive from
//! the source, so nothing is written twice).

use std::fs::File;
use std::sync::Arc;

use engram_core::Result;
use engram_core::conversation::{ImportJob, ImportStatus};
use engram_core::memory::now;

use super::{ImportOptions, ImportSummary, check};
use crate::Engine;
use crate::auth::new_id;

impl Engine {
    /// Checks the whole file (refusing a malformed one before anything is
    /// written), records the job and runs it in the background; returns
    /// the job as it starts. `keep` is held until the job ends (the
    /// file's owner, e.g. a temporary file deleted on drop).
    pub async fn start_import<K: Send + 'static>(
        self: &Arc<Self>,
        tenant: &str,
        opts: ImportOptions,
        file: File,
        keep: K,
    ) -> Result<ImportJob> {
        let format = opts.format;
        let checked = file.try_clone().map_err(engram_core::Error::internal)?;
        let total = tokio::task::spawn_blocking(move || check(format, checked))
            .await
            .map_err(engram_core::Error::internal)??;
        let at = now();
        let mut job = ImportJob {
            id: new_id(),
            format: format.as_str().into(),
            status: ImportStatus::Running,
            total,
            conversations: 0,
            messages: 0,
            skipped: 0,
            error: None,
            created_at: at,
            updated_at: at,
        };
        self.store.save_import(tenant, &job).await?;
        let (engine, tenant, started) = (self.clone(), tenant.to_string(), job.clone());
        tokio::spawn(async move {
            let _keep = keep;
            engine.run_import(&tenant, &opts, file, &mut job).await;
        });
        Ok(started)
    }

    async fn run_import(
        &self,
        tenant: &str,
        opts: &ImportOptions,
        file: File,
        job: &mut ImportJob,
    ) {
        use std::io::Seek;
        let mut file = file;
        let rewound = file.rewind();
        let (tx, mut rx) = tokio::sync::watch::channel(ImportSummary::default());
        let store = self.store.clone();
        let mut progress_job = job.clone();
        let tenant_owned = tenant.to_string();
        // Progress rows are written beside the import, the latest each time.
        let writer = tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let s = *rx.borrow_and_update();
                progress_job.conversations = s.conversations;
                progress_job.messages = s.messages;
                progress_job.skipped = s.skipped;
                progress_job.updated_at = now();
                if let Err(e) = store.save_import(&tenant_owned, &progress_job).await {
                    tracing::warn!(error = %e.chain(), "could not record import progress");
                }
            }
        });
        let result = match rewound {
            Ok(()) => {
                self.import(tenant, opts, file, |s| {
                    let _ = tx.send(*s);
                })
                .await
            }
            Err(e) => Err(engram_core::Error::internal(e)),
        };
        drop(tx);
        let _ = writer.await;
        match result {
            Ok(s) => {
                job.status = ImportStatus::Done;
                job.conversations = s.conversations;
                job.messages = s.messages;
                job.skipped = s.skipped;
            }
            Err(e) => {
                tracing::warn!(job = %job.id, error = %e.chain(), "import failed");
                job.status = ImportStatus::Failed;
                job.error = Some(e.to_string());
            }
        }
        job.updated_at = now();
        if let Err(e) = self.store.save_import(tenant, job).await {
            tracing::warn!(error = %e.chain(), "could not record the end of an import");
        }
    }

    pub async fn import_job(&self, tenant: &str, id: &str) -> Result<ImportJob> {
        self.store
            .get_import(tenant, id)
            .await?
            .ok_or_else(|| engram_core::Error::not_found(format!("import {id}")))
    }
}
