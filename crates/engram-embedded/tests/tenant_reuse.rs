//! A deleted tenant's index files must never serve another tenant: not
//! when a crash (or a failed removal) leaves them behind after the delete
//! committed, and not when a new tenant ends up with their file names.

use engram_core::cancel::Cancel;
use std::path::Path;

use chrono::Utc;
use engram_core::fusion::Fusion;
use engram_core::query::SearchMode;
use engram_core::ranking::Ranking;
use engram_core::{Filter, Memory, NewMemory};
use engram_embedded::EmbeddedStore;
use engram_store::{Record, Retrieval, Store};

mod common;

use common::tenant;

const DIM: usize = 4;
const INDEX_DIRS: [&str; 3] = ["text", "vectors", "catalog"];

async fn open(dir: &Path) -> EmbeddedStore {
    let store = EmbeddedStore::open(dir).unwrap();
    store.bind_embedding_space("test", DIM).await.unwrap();
    store
}

fn record(content: &str) -> Record {
    let new = NewMemory {
        content: content.into(),
        ..Default::default()
    };
    Record {
        memory: Memory::from_new(uuid::Uuid::now_v7().to_string(), new, Utc::now()),
        embedding: vec![0.5; DIM],
    }
}

/// Every id `retrieve` finds for a search on "secret" and the shared
/// vector, with and without a filter.
async fn found(store: &EmbeddedStore, tenant: &str) -> Vec<String> {
    let terms = ["secret".to_string()];
    let vector = [0.5; DIM];
    let ranking = Ranking {
        mode: SearchMode::Hybrid,
        fusion: Fusion::default(),
        importance_weight: 0.2,
        recency_weight: 0.1,
        recency_half_life_days: 10.0,
        now: Utc::now(),
    };
    let mut ids = Vec::new();
    let cancel = Cancel::new();
    for filter in [
        Filter::default(),
        Filter {
            after: Some(chrono::DateTime::UNIX_EPOCH),
            ..Default::default()
        },
    ] {
        let q = Retrieval {
            terms: &terms,
            vector: Some(&vector),
            filter: &filter,
            limit: 50,
            ranking: &ranking,
            keep: 50,
            cancel: &cancel,
            pinned: &[],
        };
        let got = store.retrieve(tenant, &q).await.unwrap();
        ids.extend(got.ranked.into_iter().map(|r| r.record.memory.id));
        for hit in store
            .lexical_search(tenant, &q)
            .await
            .unwrap()
            .into_iter()
            .chain(store.vector_search(tenant, &q).await.unwrap())
        {
            ids.push(hit.id);
        }
    }
    ids
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// The files of every index directory, by directory.
fn index_files(dir: &Path) -> Vec<Vec<std::path::PathBuf>> {
    INDEX_DIRS
        .iter()
        .map(|d| {
            let mut files: Vec<_> = std::fs::read_dir(dir.join(d))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            files
        })
        .collect()
}

/// An old tenant with memories, saved to index files, then deleted; the
/// files are copied aside before the delete. Returns the old memories' ids.
async fn deleted_tenant_with_saved_files(dir: &Path, aside: &Path) -> Vec<String> {
    let store = open(dir).await;
    let old = tenant(&store, "old").await;
    let records: Vec<Record> = (0..20)
        .map(|i| record(&format!("the secret number {i}")))
        .collect();
    let ids = records.iter().map(|r| r.memory.id.clone()).collect();
    store.insert(&old, records, None).await.unwrap();
    store.flush().await.unwrap();
    for d in INDEX_DIRS {
        copy_dir(&dir.join(d), &aside.join(d));
    }
    assert!(store.delete_tenant(&old).await.unwrap());
    ids
}

/// A new tenant with one memory of its own, saved to index files, in the
/// store at `dir`, closed. Returns the tenant's id and the memory's.
async fn tenant_with_a_saved_memory(dir: &Path, name: &str) -> (String, String) {
    let store = open(dir).await;
    let t = tenant(&store, name).await;
    let mine = record("my own secret");
    let id = mine.memory.id.clone();
    store.insert(&t, vec![mine], None).await.unwrap();
    store.flush().await.unwrap();
    (t, id)
}

#[tokio::test]
async fn files_left_by_a_deleted_tenant_never_reach_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let aside = tempfile::tempdir().unwrap();
    let old_ids = deleted_tenant_with_saved_files(dir.path(), aside.path()).await;
    // The crash window: the delete committed, its files were not removed.
    for d in INDEX_DIRS {
        copy_dir(&aside.path().join(d), &dir.path().join(d));
    }
    let new = {
        let store = open(dir.path()).await;
        tenant(&store, "new").await
    };
    let store = open(dir.path()).await;
    let found = found(&store, &new).await;
    assert!(
        !found.iter().any(|id| old_ids.contains(id)),
        "the new tenant found the deleted tenant's memories"
    );
    assert!(found.is_empty(), "{found:?}");
    // The orphans were removed when the store opened.
    assert!(index_files(dir.path()).iter().all(Vec::is_empty));
}

#[tokio::test]
async fn index_files_of_another_tenant_are_discarded_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let aside = tempfile::tempdir().unwrap();
    let old_ids = deleted_tenant_with_saved_files(dir.path(), aside.path()).await;
    let (new, mine) = tenant_with_a_saved_memory(dir.path(), "new").await;
    // The new tenant's files replaced by the old tenant's, as if it had
    // been given the old tenant's seq.
    let theirs = index_files(aside.path());
    for (new_files, old_files) in index_files(dir.path()).iter().zip(&theirs) {
        assert_eq!(new_files.len(), 1, "one file per index: {new_files:?}");
        std::fs::copy(&old_files[0], &new_files[0]).unwrap();
    }
    let store = open(dir.path()).await;
    let found = found(&store, &new).await;
    assert!(
        !found.iter().any(|id| old_ids.contains(id)),
        "the new tenant found the deleted tenant's memories"
    );
    assert!(found.iter().all(|id| *id == mine), "{found:?}");
    assert!(found.contains(&mine), "rebuilt from the table");
}

#[tokio::test]
async fn index_files_of_an_older_layout_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let (a, mine) = tenant_with_a_saved_memory(dir.path(), "a").await;
    // Version 1 of each format: its magic, then version 1 and no tenant.
    for files in index_files(dir.path()) {
        let mut bytes = std::fs::read(&files[0]).unwrap();
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        bytes.truncate(40);
        std::fs::write(&files[0], bytes).unwrap();
    }
    let store = open(dir.path()).await;
    let found = found(&store, &a).await;
    assert!(
        !found.is_empty() && found.iter().all(|id| *id == mine),
        "{found:?}"
    );
}
