//! Reading and writing the little-endian files the in-memory indexes are
//! saved to. Every read is checked, so a truncated or corrupt file is an
//! error naming what is wrong, never a panic or a huge allocation.

use std::io::{self, Read, Write};

/// Writes `s` as its length (u32) and bytes, as [`Reader::string`] reads it.
pub fn write_str(w: &mut impl Write, s: &str) -> io::Result<()> {
    w.write_all(&(s.len() as u32).to_le_bytes())?;
    w.write_all(s.as_bytes())
}

/// What a file starts with: magic bytes, a format version and the id of
/// the tenant it belongs to, so a file of another kind is an error naming
/// it, and a file of another version or of another tenant is told apart
/// from a corrupt one (both are rebuilt from the database).
pub struct Format {
    pub magic: &'static [u8; 8],
    pub version: u32,
    /// How errors name the file, e.g. "text index".
    pub name: &'static str,
}

/// What a file's header says about it.
#[derive(Debug, PartialEq)]
pub enum Header {
    /// The current layout, of this tenant.
    Current { tenant: String },
    /// Another version's layout (older, or newer after a downgrade),
    /// which this engram does not read.
    Outdated { version: u32 },
}

/// Longer than any tenant id (a UUID is 36 bytes), short enough that a
/// corrupt length allocates nothing to speak of.
const MAX_TENANT_ID: usize = 256;

impl Format {
    pub fn write(&self, w: &mut impl Write, tenant: &str) -> io::Result<()> {
        w.write_all(self.magic)?;
        w.write_all(&self.version.to_le_bytes())?;
        write_str(w, tenant)
    }

    /// Reads the header from the start of `r`, leaving `r` after it when
    /// it is current; returns it and how many bytes it took.
    pub fn read(&self, r: &mut impl Read) -> Result<(Header, u64), String> {
        let ends_early = |e: io::Error| match e.kind() {
            io::ErrorKind::UnexpectedEof => "the file ends early".to_string(),
            _ => format!("reading: {e}"),
        };
        let mut head = [0u8; 16];
        r.read_exact(&mut head[..12]).map_err(ends_early)?;
        if &head[..8] != self.magic {
            return Err(format!("not an engram {}", self.name));
        }
        let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        if version != self.version {
            return Ok((Header::Outdated { version }, 12));
        }
        r.read_exact(&mut head[12..]).map_err(ends_early)?;
        let len = u32::from_le_bytes([head[12], head[13], head[14], head[15]]) as usize;
        if len > MAX_TENANT_ID {
            return Err(format!("a tenant id of {len} bytes"));
        }
        let mut id = vec![0u8; len];
        r.read_exact(&mut id).map_err(ends_early)?;
        let tenant = String::from_utf8(id).map_err(|_| "the tenant id is not UTF-8")?;
        Ok((Header::Current { tenant }, 16 + len as u64))
    }
}

pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < n {
            return Err("the file ends early".into());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().unwrap_or([0; N]))
    }

    pub fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A count that the rest of the file must be able to hold, so a corrupt
    /// length cannot make us allocate gigabytes.
    pub fn count(&mut self, min_item_bytes: usize) -> Result<usize, String> {
        let n = self.u64()? as usize;
        if n.saturating_mul(min_item_bytes) > self.bytes.len() {
            return Err(format!("a count of {n} does not fit the file"));
        }
        Ok(n)
    }

    pub fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    pub fn f32(&mut self) -> Result<f32, String> {
        Ok(f32::from_le_bytes(self.array()?))
    }

    /// A UTF-8 string written by [`write_str`].
    pub fn string(&mut self) -> Result<String, String> {
        self.str().map(str::to_string)
    }

    /// A string written by [`write_str`], borrowed from the input.
    pub fn str(&mut self) -> Result<&'a str, String> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).map_err(|_| "a string is not UTF-8".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT: Format = Format {
        magic: b"ENGRAMXX",
        version: 3,
        name: "test index",
    };

    #[test]
    fn the_header_names_the_tenant_and_tells_old_layouts_from_corrupt_files() {
        let mut bytes = Vec::new();
        FORMAT.write(&mut bytes, "tenant-a").unwrap();
        bytes.extend_from_slice(b"body");
        let mut r = bytes.as_slice();
        let header = FORMAT.read(&mut r).unwrap();
        let tenant = "tenant-a".to_string();
        assert_eq!(header, (Header::Current { tenant }, 24));
        assert_eq!(r, b"body", "left at the body");

        let mut old = bytes.clone();
        old[8..12].copy_from_slice(&2u32.to_le_bytes());
        let header = FORMAT.read(&mut old.as_slice()).unwrap();
        assert_eq!(header, (Header::Outdated { version: 2 }, 12));

        let mut foreign = bytes.clone();
        foreign[0] = b'X';
        let err = FORMAT.read(&mut foreign.as_slice()).unwrap_err();
        assert!(err.contains("not an engram test index"), "{err}");
        for cut in [0, 7, 12, 15, 20] {
            assert!(FORMAT.read(&mut &bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = bytes;
        long[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(FORMAT.read(&mut long.as_slice()).is_err());
    }
}
