//! The vector index file: its [`FORMAT`] header (written and checked by
//! [`crate::per_tenant`], with the tenant's id), the dimension (u32), the
//! number of lists (u64), then each list as its length (u64), its ids, its
//! half-precision vectors and the sum of its vectors, all little-endian.
//! The centroids and the id map are rebuilt on load.

use std::io::{self, Read, Write};

use numkong::f16;

use super::partitions::{Partitions, SavedList};
use crate::binary::Format;

/// Version 2: the header names the tenant.
pub const FORMAT: Format = Format {
    magic: b"ENGRAMVX",
    version: 2,
    name: "vector index",
};

pub fn encode(p: &Partitions, w: &mut impl Write) -> io::Result<()> {
    w.write_all(&(p.dimension() as u32).to_le_bytes())?;
    let lists: Vec<_> = p.lists().collect();
    w.write_all(&(lists.len() as u64).to_le_bytes())?;
    let mut buf = Vec::new();
    for (ids, codes, sum) in lists {
        buf.clear();
        buf.extend_from_slice(&(ids.len() as u64).to_le_bytes());
        buf.extend(ids.iter().flat_map(|id| id.to_le_bytes()));
        buf.extend(codes.iter().flat_map(|c| c.0.to_le_bytes()));
        buf.extend(sum.iter().flat_map(|s| s.to_le_bytes()));
        w.write_all(&buf)?;
    }
    Ok(())
}

/// Reads checked pieces of a file of known length, so a corrupt count is an
/// error rather than a huge allocation.
struct Stream<'a> {
    inner: &'a mut dyn Read,
    left: u64,
}

impl Stream<'_> {
    fn fill(&mut self, buf: &mut Vec<u8>, n: usize) -> Result<(), String> {
        if n as u64 > self.left {
            return Err("the file ends early".into());
        }
        buf.resize(n, 0);
        self.inner
            .read_exact(buf)
            .map_err(|e| format!("reading: {e}"))?;
        self.left -= n as u64;
        Ok(())
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut buf = Vec::with_capacity(N);
        self.fill(&mut buf, N)?;
        Ok(buf.try_into().unwrap_or([0; N]))
    }

    /// A count of items of at least `item_bytes` each that the rest of the
    /// file can hold.
    fn count(&mut self, item_bytes: u64) -> Result<usize, String> {
        let n = u64::from_le_bytes(self.bytes()?);
        if n.saturating_mul(item_bytes) > self.left {
            return Err(format!("a count of {n} does not fit the file"));
        }
        Ok(n as usize)
    }
}

/// Decodes the `len` bytes after the header, one list at a time.
pub fn decode(input: &mut dyn Read, len: u64, dim: usize) -> Result<Partitions, String> {
    let mut r = Stream {
        inner: input,
        left: len,
    };
    let stored = u32::from_le_bytes(r.bytes()?) as usize;
    if stored != dim {
        return Err(format!(
            "it holds {stored}-dimensional vectors, the store {dim}"
        ));
    }
    let n = r.count(8 + 4 * dim as u64)?;
    let mut lists = Vec::with_capacity(n);
    let mut buf = Vec::new();
    for _ in 0..n {
        let len = r.count(8 + 2 * dim as u64)?;
        r.fill(&mut buf, len * 8)?;
        let ids = buf
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default()))
            .collect();
        r.fill(&mut buf, len * dim * 2)?;
        let codes = buf
            .chunks_exact(2)
            .map(|b| f16(u16::from_le_bytes([b[0], b[1]])))
            .collect();
        r.fill(&mut buf, dim * 4)?;
        let sum = buf
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap_or_default()))
            .collect();
        lists.push(SavedList { ids, codes, sum });
    }
    if r.left != 0 {
        return Err("unexpected bytes after the last list".into());
    }
    Partitions::from_lists(dim, lists)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Partitions {
        let vs: Vec<Vec<f32>> = (0..3000)
            .map(|i| {
                let mut v: Vec<f32> = (0..8)
                    .map(|j| ((i * 31 + j * 7) % 13) as f32 - 6.0)
                    .collect();
                engram_core::vector::normalize(&mut v);
                v
            })
            .collect();
        let rows: Vec<(i64, &[f32])> = vs
            .iter()
            .enumerate()
            .map(|(i, v)| (i as i64 * 3, v.as_slice()))
            .collect();
        let mut p = Partitions::new(8);
        p.insert(&rows, 2);
        p
    }

    #[test]
    fn round_trips() {
        let p = sample();
        let mut bytes = Vec::new();
        encode(&p, &mut bytes).unwrap();
        let q = decode(&mut bytes.as_slice(), bytes.len() as u64, 8).unwrap();
        assert_eq!(q.held(), p.held());
        assert_eq!(
            q.get(300).map(<[f16]>::to_vec),
            p.get(300).map(<[f16]>::to_vec)
        );
        let query = [0.5f32, 0.5, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(q.top(&query, 10, None), p.top(&query, 10, None));
    }

    #[test]
    fn bad_files_are_errors() {
        let mut bytes = Vec::new();
        encode(&sample(), &mut bytes).unwrap();
        assert!(
            decode(&mut bytes.as_slice(), bytes.len() as u64, 16)
                .err()
                .unwrap()
                .contains("8-dimensional")
        );
        for cut in [0, 5, 20, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                decode(&mut &bytes[..cut], cut as u64, 8).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = bytes;
        longer.push(0);
        assert!(decode(&mut longer.as_slice(), longer.len() as u64, 8).is_err());
    }
}
