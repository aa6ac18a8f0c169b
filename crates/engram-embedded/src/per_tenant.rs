//! One in-memory index per tenant, each saved to its own file.
//!
//! Shared by the vector and text indexes and the catalogs: a tenant's index
//! is added with the tenant (or loaded or rebuilt on open), marked dirty on
//! change, and written atomically (temporary
//! file, fsync, rename, fsync of the directory) so a crash mid-save leaves
//! the previous file intact. Each file's header names the tenant it
//! belongs to, checked on load, and each index in memory knows its tenant,
//! which a search checks (see `Indexes::confirm`): tenant seqs are never
//! reused, and these checks are the wall behind that.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use engram_core::{Error, Result};

use crate::binary::{Format, Header};

type Make<T> = Box<dyn Fn() -> Result<T> + Send + Sync>;

/// A tenant's index and the id of the tenant it belongs to: from its
/// file's header, or the tenant it was built for.
struct Owned<T> {
    tenant: Arc<str>,
    index: Arc<RwLock<T>>,
}

pub struct PerTenant<T> {
    dir: PathBuf,
    ext: &'static str,
    format: &'static Format,
    make: Make<T>,
    tenants: RwLock<HashMap<i64, Owned<T>>>,
    dirty: Mutex<HashSet<i64>>,
}

fn io_err(what: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("{what} {}: {e}", path.display()))
}

/// The tenant seq a file in an index directory is named by
/// (`<seq>.<ext>`, `<seq>.<ext>.tmp`, ...).
pub fn seq_of(file_name: &str) -> Option<i64> {
    file_name.split_once('.')?.0.parse().ok()
}

/// Removes a file that is no longer wanted. A failure is not the caller's:
/// the file is an orphan, removed when the store next opens.
fn remove_file(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(
            file = %path.display(),
            error = %e,
            "could not remove an index file; it is removed when the store next opens"
        ),
    }
}

impl<T> PerTenant<T> {
    /// `make` builds an empty index; files are `dir/<tenant seq>.<ext>`,
    /// starting with `format`'s header.
    pub fn new(
        dir: &Path,
        ext: &'static str,
        format: &'static Format,
        make: Make<T>,
    ) -> Result<PerTenant<T>> {
        std::fs::create_dir_all(dir).map_err(|e| io_err("creating", dir, e))?;
        Ok(PerTenant {
            dir: dir.to_path_buf(),
            ext,
            format,
            make,
            tenants: RwLock::new(HashMap::new()),
            dirty: Mutex::new(HashSet::new()),
        })
    }

    pub fn path(&self, seq: i64) -> PathBuf {
        self.dir.join(format!("{seq}.{}", self.ext))
    }

    fn insert(&self, seq: i64, tenant: &str, index: T) {
        let owned = Owned {
            tenant: tenant.into(),
            index: Arc::new(RwLock::new(index)),
        };
        self.tenants
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(seq, owned);
    }

    /// Gives the tenant at `seq` an empty index: a new tenant, or one
    /// whose index is to be rebuilt from the table.
    pub fn add(&self, seq: i64, tenant: &str) -> Result<()> {
        self.insert(seq, tenant, (self.make)()?);
        Ok(())
    }

    /// The tenant the index at `seq` belongs to; `None` when there is none.
    pub fn tenant(&self, seq: i64) -> Option<Arc<str>> {
        self.owned(seq, |o| o.tenant.clone())
    }

    fn get(&self, seq: i64) -> Option<Arc<RwLock<T>>> {
        self.owned(seq, |o| o.index.clone())
    }

    fn owned<R>(&self, seq: i64, f: impl FnOnce(&Owned<T>) -> R) -> Option<R> {
        self.tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&seq)
            .map(f)
    }

    /// `f` over the tenant's index, read-locked. A tenant without one (its
    /// row just committed, its index not added yet) has an empty index.
    pub fn read<R>(&self, seq: i64, f: impl FnOnce(&T) -> R) -> Result<R> {
        match self.get(seq) {
            Some(index) => Ok(f(&index.read().unwrap_or_else(|e| e.into_inner()))),
            None => Ok(f(&(self.make)()?)),
        }
    }

    /// `f` over the tenant's index, write-locked; the index is saved next
    /// time when `f` says it changed it.
    pub fn change(&self, seq: i64, f: impl FnOnce(&mut T) -> Result<bool>) -> Result<()> {
        let index = self.get(seq).ok_or_else(|| {
            Error::internal(format!(
                "no {} for the tenant of seq {seq}",
                self.format.name
            ))
        })?;
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

    /// Forgets a deleted tenant's index and removes its file.
    pub fn drop_tenant(&self, seq: i64) {
        self.tenants
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&seq);
        self.dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&seq);
        remove_file(&self.path(seq));
    }

    /// Removes the files no tenant in `live` owns: a deleted tenant's left
    /// by a crash or a failed removal, and the temporary files of a save
    /// that did not finish.
    pub fn remove_orphans(&self, live: &HashSet<i64>) -> Result<()> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| io_err("listing", &self.dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_err("listing", &self.dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") || seq_of(&name).is_some_and(|s| !live.contains(&s)) {
                tracing::info!(file = %entry.path().display(), "removing an orphaned index file");
                remove_file(&entry.path());
            }
        }
        Ok(())
    }

    /// Loads the tenant's saved file with `decode` (given what follows the
    /// header); false when there is none to load (see [`Self::usable`]). A
    /// file that does not decode is an error telling the user how to
    /// recover: the indexes are derived data, rebuilt from the database.
    pub fn load_file(
        &self,
        seq: i64,
        tenant: &str,
        decode: impl Fn(&[u8]) -> std::result::Result<T, String>,
    ) -> Result<bool> {
        let path = self.path(seq);
        if !path.exists() {
            return Ok(false);
        }
        let bytes = std::fs::read(&path).map_err(|e| io_err("reading", &path, e))?;
        let mut body = bytes.as_slice();
        if self.usable(&path, tenant, &mut body)?.is_none() {
            return Ok(false);
        }
        let index = decode(body).map_err(|e| corrupt(&path, e))?;
        self.insert(seq, tenant, index);
        Ok(true)
    }

    /// Loads the tenant's saved file like [`Self::load_file`], but lets
    /// `decode` read it in pieces (it is told how many bytes follow the
    /// header): a file of hundreds of megabytes is then never held twice
    /// in memory.
    pub fn load_stream(
        &self,
        seq: i64,
        tenant: &str,
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
        let mut input = BufReader::with_capacity(1 << 20, file);
        let Some(header) = self.usable(&path, tenant, &mut input)? else {
            return Ok(false);
        };
        let index =
            decode(&mut input, len.saturating_sub(header)).map_err(|e| corrupt(&path, e))?;
        self.insert(seq, tenant, index);
        Ok(true)
    }

    /// Reads the header of the file at `path` from `r`; its length when
    /// the file is of the current layout and of `tenant`. A file of
    /// another format version or of another tenant is removed (with a warning) and
    /// `None` returned, so the index is rebuilt from the table: the files
    /// are derived data, and another tenant's must never be served.
    fn usable(&self, path: &Path, tenant: &str, r: &mut impl Read) -> Result<Option<u64>> {
        let (header, len) = self
            .format
            .read(r)
            .map_err(|e| corrupt(path, format!("{}: {e}", self.format.name)))?;
        match header {
            Header::Current { tenant: t } if t == tenant => return Ok(Some(len)),
            Header::Current { .. } => tracing::warn!(
                file = %path.display(),
                "an index file of another tenant: discarded, rebuilding the index from the database"
            ),
            Header::Outdated { version } => tracing::warn!(
                file = %path.display(),
                version,
                "an index file of another format version: rebuilding the index from the database"
            ),
        }
        remove_file(path);
        Ok(None)
    }

    /// Saves every index changed since the last save with `encode`, after
    /// the header naming its tenant.
    pub fn save_encoded(
        &self,
        encode: impl Fn(&T, &mut BufWriter<File>) -> std::io::Result<()>,
    ) -> Result<()> {
        let dirty: Vec<i64> = self
            .dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        for seq in &dirty {
            let Some((tenant, index)) = self.owned(*seq, |o| (o.tenant.clone(), o.index.clone()))
            else {
                continue;
            };
            let index = index.read().unwrap_or_else(|e| e.into_inner());
            let path = self.path(*seq);
            let tmp = path.with_extension(format!("{}.tmp", self.ext));
            let file = File::create(&tmp).map_err(|e| io_err("creating", &tmp, e))?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            self.format
                .write(&mut w, &tenant)
                .and_then(|()| encode(&index, &mut w))
                .and_then(|()| w.flush())
                .map_err(|e| io_err("writing", &tmp, e))?;
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
    Error::internal(format!(
        "{}: {e}; delete the file and engram rebuilds it from the database",
        path.display()
    ))
}

fn sync(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_err("syncing", path, e))
}
