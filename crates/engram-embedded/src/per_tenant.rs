//! One in-memory index per tenant, each saved to its own file.
//!
//! Shared by the vector and the text indexes: a tenant's index is created on
//! first use, marked dirty on change, and written atomically (temporary
//! file, fsync, rename, fsync of the directory) so a crash mid-save leaves
//! the previous file intact.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use engram_core::{Error, Result};

type Make<T> = Box<dyn Fn() -> Result<T> + Send + Sync>;

pub struct PerTenant<T> {
    dir: PathBuf,
    ext: &'static str,
    make: Make<T>,
    tenants: RwLock<HashMap<i64, Arc<RwLock<T>>>>,
    dirty: Mutex<HashSet<i64>>,
}

fn io_err(what: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("{what} {}: {e}", path.display()))
}

impl<T> PerTenant<T> {
    /// `make` builds an empty index; files are `dir/<tenant seq>.<ext>`.
    pub fn new(dir: &Path, ext: &'static str, make: Make<T>) -> Result<PerTenant<T>> {
        std::fs::create_dir_all(dir).map_err(|e| io_err("creating", dir, e))?;
        Ok(PerTenant {
            dir: dir.to_path_buf(),
            ext,
            make,
            tenants: RwLock::new(HashMap::new()),
            dirty: Mutex::new(HashSet::new()),
        })
    }

    pub fn path(&self, seq: i64) -> PathBuf {
        self.dir.join(format!("{seq}.{}", self.ext))
    }

    pub fn insert(&self, seq: i64, index: T) {
        self.tenants
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(seq, Arc::new(RwLock::new(index)));
    }

    /// The tenant's index, created empty if it has none yet.
    fn get(&self, seq: i64) -> Result<Arc<RwLock<T>>> {
        if let Some(i) = self
            .tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&seq)
        {
            return Ok(i.clone());
        }
        let index = (self.make)()?;
        let mut map = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        Ok(map
            .entry(seq)
            .or_insert_with(|| Arc::new(RwLock::new(index)))
            .clone())
    }

    /// `f` over the tenant's index, read-locked.
    pub fn read<R>(&self, seq: i64, f: impl FnOnce(&T) -> R) -> Result<R> {
        let index = self.get(seq)?;
        let index = index.read().unwrap_or_else(|e| e.into_inner());
        Ok(f(&index))
    }

    /// `f` over the tenant's index, write-locked; the index is saved next
    /// time when `f` says it changed it.
    pub fn change(&self, seq: i64, f: impl FnOnce(&mut T) -> Result<bool>) -> Result<()> {
        let index = self.get(seq)?;
        let mut index = index.write().unwrap_or_else(|e| e.into_inner());
        if f(&mut index)? {
            self.mark_dirty(seq);
        }
        Ok(())
    }

    fn mark_dirty(&self, seq: i64) {
        self.dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(seq);
    }

    /// Forgets a deleted tenant's index and its file.
    pub fn drop_tenant(&self, seq: i64) {
        self.tenants
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&seq);
        self.dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&seq);
        let _ = std::fs::remove_file(self.path(seq));
    }

    /// Loads the tenant's saved file with `decode`; false when there is
    /// none. A file that does not decode is an error telling the user how
    /// to recover: the indexes are derived data, rebuilt from the database.
    pub fn load_file(
        &self,
        seq: i64,
        decode: impl Fn(&[u8]) -> std::result::Result<T, String>,
    ) -> Result<bool> {
        let path = self.path(seq);
        if !path.exists() {
            return Ok(false);
        }
        let bytes = std::fs::read(&path).map_err(|e| io_err("reading", &path, e))?;
        let index = decode(&bytes).map_err(|e| corrupt(&path, e))?;
        self.insert(seq, index);
        Ok(true)
    }

    /// Loads the tenant's saved file like [`Self::load_file`], but lets
    /// `decode` read it in pieces (it is told the file's length): a file of
    /// hundreds of megabytes is then never held twice in memory.
    pub fn load_stream(
        &self,
        seq: i64,
        decode: impl Fn(&mut dyn Read, u64) -> std::result::Result<T, String>,
    ) -> Result<bool> {
        let path = self.path(seq);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_err("opening", &path, e)),
        };
        let len = file
            .metadata()
            .map_err(|e| io_err("reading", &path, e))?
            .len();
        let index = decode(&mut BufReader::with_capacity(1 << 20, file), len)
            .map_err(|e| corrupt(&path, e))?;
        self.insert(seq, index);
        Ok(true)
    }

    /// Saves every index changed since the last save with `encode`.
    pub fn save_encoded(
        &self,
        encode: impl Fn(&T, &mut BufWriter<File>) -> std::io::Result<()>,
    ) -> Result<()> {
        self.save_dirty(|index, tmp| {
            let file = File::create(tmp).map_err(|e| io_err("creating", tmp, e))?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            encode(index, &mut w)
                .and_then(|()| w.flush())
                .map_err(|e| io_err("writing", tmp, e))
        })
    }

    /// Writes every index changed since the last save with `write(index,
    /// temporary path)`, then moves each file into place.
    pub fn save_dirty(&self, write: impl Fn(&T, &Path) -> Result<()>) -> Result<()> {
        let dirty: Vec<i64> = self
            .dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        for seq in &dirty {
            let index = self.get(*seq)?;
            let index = index.read().unwrap_or_else(|e| e.into_inner());
            let path = self.path(*seq);
            let tmp = path.with_extension(format!("{}.tmp", self.ext));
            write(&index, &tmp)?;
            sync(&tmp)?;
            std::fs::rename(&tmp, &path).map_err(|e| io_err("renaming", &tmp, e))?;
        }
        if !dirty.is_empty() {
            sync(&self.dir)?;
        }
        Ok(())
    }
}

/// A file that does not decode, with how to recover: the indexes are
/// derived data, rebuilt from the database.
fn corrupt(path: &Path, e: String) -> Error {
    Error::Internal(format!(
        "{}: {e}; delete the file and engram rebuilds it from the database",
        path.display()
    ))
}

fn sync(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_err("syncing", path, e))
}
