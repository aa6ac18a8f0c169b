//! The index file decoders as the fuzz harness (`tests/fuzz_decoders.rs`)
//! drives them, behind the `testing` feature: each file kind is written
//! where the store keeps it and loaded the way the store loads it. A file
//! that loads is then used as the store uses it (searched, filtered,
//! changed, saved and loaded again), so a corrupt file that decodes into
//! an inconsistent index fails the run as surely as a decoder that panics.

use std::path::{Path, PathBuf};

use chrono::DateTime;
use engram_core::{Error, Filter, Kind, Memory, Result};

use crate::catalog::Catalogs;
use crate::text::{TextIndexes, Within};
use crate::vectors::VectorIndexes;

/// The one tenant every file belongs to.
const SEQ: i64 = 1;
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

    pub fn name(self) -> &'static str {
        match self {
            FileKind::Text => "text index",
            FileKind::Vectors => "vector index",
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
            dir: scratch.join(kind.name().replace(' ', "-")),
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
        std::fs::write(self.file(), bytes).map_err(io)?;
        let index = self.open()?;
        index.load()?;
        let rows = index.exercise()?;
        index.upsert(&[1, 1_000_000])?;
        for rowid in rows.iter().take(3) {
            index.remove(*rowid)?;
        }
        index.save()?;
        let again = self.open()?;
        again.load().map_err(|e| {
            Error::Internal(format!("a file that loaded does not load once saved: {e}"))
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

    fn open(&self) -> Result<Index> {
        Ok(match self.kind {
            FileKind::Text => Index::Text(TextIndexes::new(&self.dir)?),
            FileKind::Vectors => Index::Vectors(VectorIndexes::new(&self.dir, DIM)?),
            FileKind::Catalog => Index::Catalog(Catalogs::new(&self.dir)?),
        })
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
    }
}

impl Index {
    fn load(&self) -> Result<bool> {
        match self {
            Index::Text(t) => t.load(SEQ),
            Index::Vectors(v) => v.load(SEQ),
            Index::Catalog(c) => c.load(SEQ),
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
        match self {
            Index::Text(t) => {
                let words: Vec<String> = WORDS.iter().map(|w| w.to_string()).collect();
                let rows: Vec<i64> = t
                    .search(SEQ, &words, 50, Within::All)?
                    .into_iter()
                    .map(|(r, _)| r)
                    .collect();
                t.search(SEQ, &words[..2], 5, Within::Rows(&rows))?;
                Ok(rows)
            }
            Index::Vectors(v) => {
                let rows: Vec<i64> = v
                    .search(SEQ, &vector(3), 50, None)?
                    .into_iter()
                    .map(|(r, _)| r)
                    .collect();
                v.search(SEQ, &vector(4), 5, Some(&rows))?;
                v.similarities(SEQ, &vector(5), &rows)?;
                v.vectors(SEQ, &rows)?;
                Ok(rows)
            }
            Index::Catalog(c) => {
                let rows = c.allowed(SEQ, &Filter::default())?;
                let narrow = Filter {
                    user_id: Some("user1".into()),
                    labels: vec!["label2".into()],
                    ..Filter::default()
                };
                c.allowed(SEQ, &narrow)?;
                c.memories(SEQ, &rows)?;
                c.ranking_facts(SEQ, &rows)?;
                Ok(rows)
            }
        }
    }
}

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("fuzz scratch file: {e}"))
}
