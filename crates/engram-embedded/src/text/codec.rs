//! The on-disk form of a [`TextIndex`]: little-endian, versioned, and read
//! back without re-analysing any text, so reopening a million memories
//! takes a fraction of a second.
//!
//! Layout: the [`FORMAT`] header (written and checked by
//! [`crate::per_tenant`], with the tenant's id), then documents (rowid,
//! length, live), then terms (name, postings as slots and term
//! frequencies). Block maxima are recomputed on load.

use std::collections::HashMap;
use std::io::{self, Write};

use super::index::{Doc, Postings, TextIndex};
use crate::binary::{Format, Reader, write_str};

/// Version 2: the header names the tenant.
pub const FORMAT: Format = Format {
    magic: b"ENGRAMTX",
    version: 2,
    name: "text index",
};

pub fn encode(index: &TextIndex, w: &mut impl Write) -> io::Result<()> {
    w.write_all(&(index.docs.len() as u64).to_le_bytes())?;
    for d in &index.docs {
        w.write_all(&d.rowid.to_le_bytes())?;
        w.write_all(&d.len.to_le_bytes())?;
        w.write_all(&[d.live as u8])?;
    }
    w.write_all(&(index.terms.len() as u64).to_le_bytes())?;
    for (term, id) in &index.terms {
        let list = &index.lists[*id as usize];
        write_str(w, term)?;
        w.write_all(&(list.docs.len() as u64).to_le_bytes())?;
        for (d, tf) in list.docs.iter().zip(&list.tfs) {
            w.write_all(&d.to_le_bytes())?;
            w.write_all(&tf.to_le_bytes())?;
        }
    }
    Ok(())
}

pub fn decode(bytes: &[u8]) -> Result<TextIndex, String> {
    let mut r = Reader::new(bytes);
    let n_docs = r.count(13)?;
    let mut docs = Vec::with_capacity(n_docs);
    for _ in 0..n_docs {
        docs.push(Doc {
            rowid: r.u64()? as i64,
            len: r.u32()?,
            live: r.take(1)?[0] != 0,
        });
    }
    let n_terms = r.count(12)?;
    let mut terms = HashMap::with_capacity(n_terms);
    let mut lists = Vec::with_capacity(n_terms);
    for _ in 0..n_terms {
        let term = r.string()?;
        let n = r.count(6)?;
        let mut list = Postings::default();
        let mut prev: Option<u32> = None;
        for _ in 0..n {
            let slot = r.u32()?;
            let tf = r.u16()?;
            let Some(doc) = docs.get(slot as usize) else {
                return Err(format!("a posting names document {slot} of {n_docs}"));
            };
            if prev.is_some_and(|p| p >= slot) {
                return Err("a posting list is out of order".into());
            }
            prev = Some(slot);
            list.push(slot, tf, doc.len);
        }
        terms.insert(term, lists.len() as u32);
        lists.push(list);
    }
    if !r.is_empty() {
        return Err("trailing bytes after the last term".into());
    }
    Ok(TextIndex::from_parts(terms, lists, docs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::index::Within;

    #[test]
    fn round_trips_documents_tombstones_and_scores() {
        let mut index = TextIndex::from_texts(&[
            (7, "the quick brown fox"),
            (9, "a lazy dog sleeps"),
            (11, "quick quick dog"),
            (13, "fox hunts at night"),
        ]);
        index.remove(13);
        let mut bytes = Vec::new();
        encode(&index, &mut bytes).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(back.live_docs(), 3);
        let words = ["quick".to_string(), "dog".to_string()];
        assert_eq!(
            back.top(&words, 10, Within::All),
            index.top(&words, 10, Within::All)
        );
        assert!(back.top(&["hunts".into()], 10, Within::All).is_empty());
    }

    #[test]
    fn refuses_truncated_and_foreign_files() {
        let index = TextIndex::from_texts(&[(1, "one two three")]);
        let mut bytes = Vec::new();
        encode(&index, &mut bytes).unwrap();
        for cut in [0, 5, 12, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(b"SOMETHINGELSE").is_err());
    }
}
