//! The file decoders as the fuzz harnesses (`tests/fuzz_decoders.rs`, and
//! `fuzz/` under cargo-fuzz) drive them, behind the `testing` feature. Each
//! index file kind is written where the store keeps it and loaded the way
//! the store loads it; a file that loads is then used as the store uses it
//! (searched, filtered, changed, saved and loaded again), so a corrupt file
//! that decodes into an inconsistent index fails the run as surely as a
//! decoder that panics. A backup is restored into a fresh store and read.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use engram_core::cancel::Cancel;
use engram_core::tenant::{ApiKey, Scope, Tenant};
use engram_core::{Error, Filter, Kind, Memory, NewMemory, Result};
use engram_store::{Listing, Record, Store, backup};

use crate::EmbeddedStore;
use crate::catalog::Catalogs;
use crate::text::{TextIndexes, Within};
use crate::vectors::VectorIndexes;

/// The one tenant every file belongs to.
const SEQ: i64 = 1;
const TENANT: &str = "fuzzed-tenant";
/// Small vectors keep seeds small; the codec is the same at any dimension.
const DIM: usize = 8;
/// More vectors than one list holds (2,048), so a seed has several lists.
const MANY_VECTORS: i64 = 2_300;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Text,
    Vectors,
    Catalog,
}

impl FileKind {
    pub const ALL: [FileKind; 3] = [FileKind::Text, FileKind::Vectors, FileKind::Catalog];

    /// Also the name of its cargo-fuzz target (`fuzz/fuzz_targets/`).
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Text => "text_index",
            FileKind::Vectors => "vector_index",
            FileKind::Catalog => "catalog",
        }
    }
}

/// One kind of index file in a scratch directory of its own.
pub struct Decoder {
    pub kind: FileKind,
    dir: PathBuf,
}

impl Decoder {
    pub fn new(kind: FileKind, scratch: &Path) -> Decoder {
        Decoder {
            kind,
            dir: scratch.join(kind.name()),
        }
    }

    /// Valid files to mutate: empty, small, and with removals (tombstones,
    /// unused names); the vector index also with several lists.
    pub fn seeds(&self) -> Result<Vec<Vec<u8>>> {
        let sizes: &[i64] = match self.kind {
            // An empty vector index is never saved.
            FileKind::Vectors => &[1, 5, MANY_VECTORS],
            _ => &[0, 5, 40],
        };
        let mut seeds = Vec::new();
        for &n in sizes {
            let index = self.open()?;
            let rows: Vec<i64> = (1..=n).collect();
            index.upsert(&rows)?;
            for rowid in rows.iter().step_by(4) {
                index.remove(*rowid)?;
            }
            index.save()?;
            seeds.push(std::fs::read(self.file()).map_err(io)?);
        }
        Ok(seeds)
    }

    /// Loads `bytes` as the tenant's saved file. An error is what corrupt
    /// input must give; a file that loads is used, saved and loaded again,
    /// all of which must succeed.
    pub fn check(&self, bytes: &[u8]) -> Result<()> {
        // Opened first: it makes the directory the file goes to.
        let index = self.open()?;
        std::fs::write(self.file(), bytes).map_err(io)?;
        index.load()?;
        let rows = index.exercise()?;
        index.upsert(&[1, 1_000_000])?;
        for rowid in rows.iter().take(3) {
            index.remove(*rowid)?;
        }
        index.save()?;
        let again = self.open()?;
        again.load().map_err(|e| {
            Error::internal(format!("a file that loaded does not load once saved: {e}"))
        })?;
        again.exercise().map(drop)
    }

    fn file(&self) -> PathBuf {
        let ext = match self.kind {
            FileKind::Text => "bm25",
            FileKind::Vectors => "ivf",
            FileKind::Catalog => "facts",
        };
        self.dir.join(format!("{SEQ}.{ext}"))
    }

    /// The indexes of this kind, with the tenant's (empty) index in them,
    /// as the store has them once a tenant exists.
    fn open(&self) -> Result<Index> {
        let index = match self.kind {
            FileKind::Text => Index::Text(TextIndexes::new(&self.dir)?),
            FileKind::Vectors => Index::Vectors(VectorIndexes::new(&self.dir, DIM)?),
            FileKind::Catalog => Index::Catalog(Catalogs::new(&self.dir)?),
        };
        match &index {
            Index::Text(t) => t.tenants().add(SEQ, TENANT)?,
            Index::Vectors(v) => v.tenants().add(SEQ, TENANT)?,
            Index::Catalog(c) => c.tenants().add(SEQ, TENANT)?,
        }
        Ok(index)
    }
}

enum Index {
    Text(TextIndexes),
    Vectors(VectorIndexes),
    Catalog(Catalogs),
}

const WORDS: [&str; 6] = ["quick", "brown", "fox", "lazy", "dog", "night"];

fn text(rowid: i64) -> String {
    let w = |i: i64| WORDS[(i.unsigned_abs() % WORDS.len() as u64) as usize];
    format!("{} {} {}", w(rowid), w(rowid / 2), w(rowid * 7))
}

fn vector(rowid: i64) -> Vec<f32> {
    (0..DIM)
        .map(|i| ((rowid as f32) * 0.37 + i as f32).sin())
        .collect()
}

fn memory(rowid: i64) -> Memory {
    let at = DateTime::from_timestamp(1_700_000_000 + rowid, 0).unwrap_or_default();
    Memory {
        id: format!("m{rowid}"),
        content: text(rowid),
        kind: Kind::Episodic,
        user_id: Some(format!("user{}", rowid % 3)),
        agent_id: None,
        session_id: (rowid % 2 == 0).then(|| format!("s{}", rowid % 5)),
        role: None,
        labels: vec![format!("label{}", rowid % 4)],
        metadata: Default::default(),
        importance: 0.5,
        occurred_at: at,
        created_at: at,
        updated_at: at,
        temporal: engram_core::temporal::Temporal {
            valid_to: (rowid % 3 == 0).then_some(at),
            sources: vec![format!("m{}", rowid / 2)],
            ..Default::default()
        },
    }
}

impl Index {
    fn load(&self) -> Result<bool> {
        match self {
            Index::Text(t) => t.load(SEQ, TENANT),
            Index::Vectors(v) => v.load(SEQ, TENANT),
            Index::Catalog(c) => c.load(SEQ, TENANT),
        }
    }

    fn upsert(&self, rows: &[i64]) -> Result<()> {
        match self {
            Index::Text(t) => {
                let texts: Vec<String> = rows.iter().map(|r| text(*r)).collect();
                let rows: Vec<(i64, &str)> = rows
                    .iter()
                    .copied()
                    .zip(texts.iter().map(String::as_str))
                    .collect();
                t.upsert(SEQ, &rows)
            }
            Index::Vectors(v) => {
                let vectors: Vec<Vec<f32>> = rows.iter().map(|r| vector(*r)).collect();
                let rows: Vec<(i64, &[f32])> = rows
                    .iter()
                    .copied()
                    .zip(vectors.iter().map(Vec::as_slice))
                    .collect();
                v.upsert(SEQ, &rows)
            }
            Index::Catalog(c) => {
                let memories: Vec<Memory> = rows.iter().map(|r| memory(*r)).collect();
                let rows: Vec<(i64, &Memory)> = rows.iter().copied().zip(&memories).collect();
                c.upsert(SEQ, &rows)
            }
        }
    }

    fn remove(&self, rowid: i64) -> Result<()> {
        match self {
            Index::Text(t) => t.remove(SEQ, rowid),
            Index::Vectors(v) => v.remove(SEQ, rowid),
            Index::Catalog(c) => c.remove(SEQ, rowid),
        }
    }

    fn save(&self) -> Result<()> {
        match self {
            Index::Text(t) => t.save(),
            Index::Vectors(v) => v.save(),
            Index::Catalog(c) => c.save(),
        }
    }

    /// Reads the index the ways a search does; returns rows it holds.
    fn exercise(&self) -> Result<Vec<i64>> {
        let never = Cancel::new();
        match self {
            Index::Text(t) => {
                let words: Vec<String> = WORDS.iter().map(|w| w.to_string()).collect();
                let rows: Vec<i64> = t
                    .search(SEQ, &words, 50, Within::All, &never)?
                    .into_iter()
                    .map(|(r, _)| r)
                    .collect();
                t.search(SEQ, &words[..2], 5, Within::Rows(&rows), &never)?;
                Ok(rows)
            }
            Index::Vectors(v) => {
                let rows: Vec<i64> = v
                    .search(SEQ, &vector(3), 50, None, &never)?
                    .into_iter()
                    .map(|(r, _)| r)
                    .collect();
                v.search(SEQ, &vector(4), 5, Some(&rows), &never)?;
                v.similarities(SEQ, &vector(5), &rows)?;
                v.vectors(SEQ, &rows)?;
                Ok(rows)
            }
            Index::Catalog(c) => {
                let rows = c.allowed(SEQ, &Filter::default(), &never)?;
                let narrow = Filter {
                    user_id: Some("user1".into()),
                    labels: vec!["label2".into()],
                    ..Filter::default()
                };
                c.allowed(SEQ, &narrow, &never)?;
                c.memories(SEQ, &rows)?;
                c.ranking_facts(SEQ, &rows, &[])?;
                Ok(rows)
            }
        }
    }
}

/// Backups restored into fresh stores in a scratch directory.
pub struct Backups {
    dir: PathBuf,
    runtime: tokio::runtime::Runtime,
}

const BACKUP_DIM: usize = 4;

impl Backups {
    pub fn new(scratch: &Path) -> Result<Backups> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io)?;
        Ok(Backups {
            dir: scratch.join("backups"),
            runtime,
        })
    }

    /// A backup of two tenants with a key and three memories each.
    pub fn seed(&self) -> Result<Vec<u8>> {
        let store = EmbeddedStore::open(&self.dir.join("seed"))?;
        self.runtime.block_on(async {
            store.bind_embedding_space("fuzz-model", BACKUP_DIM).await?;
            for t in 0..2 {
                let tenant = Tenant {
                    id: format!("tenant-{t}"),
                    name: format!("fuzz {t}"),
                    created_at: Utc::now(),
                };
                store.create_tenant(&tenant).await?;
                store
                    .create_key(&ApiKey {
                        id: format!("key-{t}"),
                        tenant_id: tenant.id.clone(),
                        name: "fuzz".into(),
                        scopes: vec![Scope::Read, Scope::Write],
                        hash: format!("{t:064}"),
                        created_at: Utc::now(),
                    })
                    .await?;
                let records = (0..3)
                    .map(|i| Record {
                        memory: Memory::from_new(
                            format!("m-{t}-{i}"),
                            NewMemory {
                                content: format!("memory {i} of tenant {t}"),
                                user_id: Some(format!("user-{i}")),
                                labels: vec!["fuzz".into()],
                                ..Default::default()
                            },
                            Utc::now(),
                        ),
                        embedding: vec![0.5; BACKUP_DIM],
                    })
                    .collect();
                store.insert(&tenant.id, records, None).await?;
            }
            let mut out = Vec::new();
            backup::export(&store, "fuzz-model", BACKUP_DIM, &mut out).await?;
            Ok(out)
        })
    }

    /// Restores `bytes` into a fresh store; what was restored must read back.
    pub fn check(&self, bytes: &[u8]) -> Result<()> {
        let dir = self.dir.join("restore");
        let _ = std::fs::remove_dir_all(&dir);
        let store = EmbeddedStore::open(&dir)?;
        self.runtime.block_on(async {
            backup::restore(&store, &mut &bytes[..]).await?;
            let everything = Listing {
                filter: &Filter::default(),
                limit: 100,
                after: None,
            };
            for t in store.list_tenants().await? {
                store.list(&t.id, &everything).await?;
            }
            Ok(())
        })
    }
}

fn io(e: std::io::Error) -> Error {
    Error::internal(format!("fuzz scratch file: {e}"))
}

/// No decoder may ask for more than this at once: the largest seed is
/// ~60 KB, so anything near this size comes from a length field believed.
pub const LIMIT: usize = 64 << 20;

thread_local! {
    /// The largest refused allocation on this thread (0: none).
    static REFUSED: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, refusing single allocations above [`LIMIT`], for a
/// fuzz harness's `#[global_allocator]`. A refusal is recorded for the
/// harness to report with its input, and the allocation fails: Rust then
/// aborts with "memory allocation of N bytes failed", which libFuzzer saves
/// as a crash.
pub struct CappedAllocator;

impl CappedAllocator {
    /// The largest allocation refused on this thread since [`Self::reset`].
    pub fn refused() -> usize {
        REFUSED.with(Cell::get)
    }

    pub fn reset() {
        REFUSED.with(|r| r.set(0));
    }

    fn refuse(size: usize) -> bool {
        if size <= LIMIT {
            return false;
        }
        REFUSED.with(|r| r.set(r.get().max(size)));
        true
    }
}

// SAFETY: every call is passed on to `System` unchanged, or refused with a
// null pointer, which `GlobalAlloc` allows.
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Self::refuse(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if Self::refuse(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if Self::refuse(new_size) {
            return std::ptr::null_mut();
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// A cargo-fuzz target's whole body: `data` checked as a file of `kind`
/// by one decoder per kind for the life of the process. The error is
/// ignored: only a panic or an over-large allocation is a finding.
pub fn check_file(kind: FileKind, data: &[u8]) {
    static DECODERS: OnceLock<Vec<Decoder>> = OnceLock::new();
    let decoders = DECODERS.get_or_init(|| {
        let scratch = scratch_dir();
        FileKind::ALL
            .iter()
            .map(|k| Decoder::new(*k, &scratch))
            .collect()
    });
    if let Some(decoder) = decoders.iter().find(|d| d.kind == kind) {
        let _ = decoder.check(data);
    }
}

/// [`check_file`] for backups.
pub fn check_backup(data: &[u8]) {
    static BACKUPS: OnceLock<Backups> = OnceLock::new();
    let backups = BACKUPS.get_or_init(|| Backups::new(&scratch_dir()).expect("a tokio runtime"));
    let _ = backups.check(data);
}

/// A scratch directory of this process's own, made once.
fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("engram-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}
