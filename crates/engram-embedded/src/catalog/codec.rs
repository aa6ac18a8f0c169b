//! The on-disk form of a [`Catalog`]: little-endian and versioned.
//!
//! Layout: the [`FORMAT`] header (written and checked by
//! [`crate::per_tenant`], with the tenant's id), interned names, then each
//! row's facts and packed rest by ascending rowid. Posting lists are
//! rebuilt on load.

use std::io::{self, Write};

use super::table::{Catalog, Facts, NONE};
use crate::binary::{Format, Reader, write_str};

/// Version 2: the header names the tenant. Version 3: validity bounds
/// beside the time, sources and version in the rest (an older file is
/// rebuilt from the table).
pub const FORMAT: Format = Format {
    magic: b"ENGRAMCT",
    version: 3,
    name: "catalog",
};

pub fn encode(catalog: &Catalog, w: &mut impl Write) -> io::Result<()> {
    let (names, rows) = catalog.parts();
    // Only names still in use are written, so the ids of sessions and
    // users whose memories are all gone do not pile up across restarts.
    let mut renamed = vec![NONE; names.len()];
    let mut kept: Vec<&str> = Vec::new();
    for (_, f) in &rows {
        for v in [f.user, f.agent, f.session, f.kind]
            .iter()
            .chain(f.labels.iter())
        {
            if *v != NONE && renamed[*v as usize] == NONE {
                renamed[*v as usize] = kept.len() as u32;
                kept.push(&names[*v as usize]);
            }
        }
    }
    let id = |v: u32| if v == NONE { NONE } else { renamed[v as usize] };
    w.write_all(&(kept.len() as u64).to_le_bytes())?;
    for name in kept {
        write_str(w, name)?;
    }
    w.write_all(&(rows.len() as u64).to_le_bytes())?;
    for (rowid, f) in rows {
        w.write_all(&rowid.to_le_bytes())?;
        w.write_all(&f.importance.to_le_bytes())?;
        w.write_all(&f.occurred_at.to_le_bytes())?;
        w.write_all(&f.valid_from.to_le_bytes())?;
        w.write_all(&f.valid_to.to_le_bytes())?;
        for v in [id(f.user), id(f.agent), id(f.session), id(f.kind)] {
            w.write_all(&v.to_le_bytes())?;
        }
        w.write_all(&(f.labels.len() as u32).to_le_bytes())?;
        for l in &f.labels {
            w.write_all(&id(*l).to_le_bytes())?;
        }
        w.write_all(&(f.rest.len() as u32).to_le_bytes())?;
        w.write_all(&f.rest)?;
    }
    Ok(())
}

pub fn decode(bytes: &[u8]) -> Result<Catalog, String> {
    let mut r = Reader::new(bytes);
    let n_names = r.count(4)?;
    let names = (0..n_names)
        .map(|_| r.string())
        .collect::<Result<Vec<_>, _>>()?;
    let n_rows = r.count(60)?;
    let mut rows = Vec::with_capacity(n_rows);
    for _ in 0..n_rows {
        let rowid = r.i64()?;
        let importance = r.f32()?;
        let occurred_at = r.i64()?;
        let (valid_from, valid_to) = (r.i64()?, r.i64()?);
        let (user, agent, session, kind) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
        let n_labels = r.u32()? as usize;
        if n_labels.saturating_mul(4) > r.remaining() {
            return Err(format!("row {rowid} claims {n_labels} labels"));
        }
        let labels = (0..n_labels)
            .map(|_| r.u32())
            .collect::<Result<Box<[u32]>, _>>()?;
        let rest_len = r.u32()? as usize;
        let rest = r.take(rest_len)?.into();
        rows.push((
            rowid,
            Facts {
                importance,
                occurred_at,
                valid_from,
                valid_to,
                user,
                agent,
                session,
                kind,
                labels,
                rest,
            },
        ));
    }
    if !r.is_empty() {
        return Err("trailing bytes after the last row".into());
    }
    Catalog::from_parts(names, rows)
}

#[cfg(test)]
mod tests {
    use super::super::table::sample;
    use super::*;
    use engram_core::Filter;

    #[test]
    fn round_trips_and_refuses_truncated_files() {
        let mut c = Catalog::default();
        for i in 0..50i64 {
            let user = format!("u{}", i % 3);
            let labels: &[&str] = if i % 5 == 0 { &["five"] } else { &[] };
            let mut m = sample(Some(&user), None, labels, i);
            m.importance = i as f32 / 50.0;
            c.upsert(i * 2, &m);
        }
        c.remove(10);
        // A name no memory uses any more is not written.
        c.upsert(200, &sample(Some("gone"), Some("gone too"), &[], 0));
        c.remove(200);
        let mut bytes = Vec::new();
        encode(&c, &mut bytes).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(back.len(), 49);
        for f in [
            Filter {
                user_id: Some("u1".into()),
                ..Default::default()
            },
            Filter {
                labels: vec!["five".into()],
                ..Default::default()
            },
        ] {
            assert_eq!(back.passing(&f), c.passing(&f));
        }
        assert_eq!(back.facts(98), c.facts(98));
        assert_eq!(back.memory(98), c.memory(98));
        assert!(back.memory(98).is_some_and(|m| m.is_ok()));
        let (names, _) = back.parts();
        assert!(!names.iter().any(|n| n.starts_with("gone")), "{names:?}");
        for cut in [0, 7, 12, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
