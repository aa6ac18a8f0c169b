//! The tus checksum extension: a PATCH may carry `Upload-Checksum:
//! <algorithm> <base64 digest>` of its body, and a body that does not
//! match is refused before a byte of it is stored.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use engram_core::{Code, Error, Result};
use sha1::Digest as _;

/// The algorithms offered (`Tus-Checksum-Algorithm`).
pub const ALGORITHMS: &str = "sha1,sha256";

/// An expected digest of a piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    Sha1(Vec<u8>),
    Sha256(Vec<u8>),
}

const FIELD: &str = "Upload-Checksum";

impl Checksum {
    /// Parses a header value such as `sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=`.
    pub fn parse(value: &str) -> Result<Checksum> {
        let (algorithm, digest) = value.trim().split_once(' ').ok_or_else(|| {
            Error::invalid(FIELD, "must be `<algorithm> <base64 digest>`, e.g. `sha256 n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=`")
        })?;
        let digest = STANDARD
            .decode(digest.trim())
            .map_err(|e| Error::invalid(FIELD, format!("the digest is not base64 ({e})")))?;
        let (checksum, len) = match algorithm.to_ascii_lowercase().as_str() {
            "sha1" => (Checksum::Sha1(digest), 20),
            "sha256" => (Checksum::Sha256(digest), 32),
            other => {
                return Err(Error::invalid(
                    FIELD,
                    format!("algorithm {other:?} is not supported; use one of {ALGORITHMS}"),
                ));
            }
        };
        if checksum.expected().len() != len {
            return Err(Error::invalid(
                FIELD,
                format!(
                    "a {algorithm} digest is {len} bytes, this one {}",
                    checksum.expected().len()
                ),
            ));
        }
        Ok(checksum)
    }

    fn expected(&self) -> &[u8] {
        match self {
            Checksum::Sha1(d) | Checksum::Sha256(d) => d,
        }
    }

    /// Refuses `bytes` (460) unless they have the expected digest.
    pub fn verify(&self, bytes: &[u8]) -> Result<()> {
        let actual: Vec<u8> = match self {
            Checksum::Sha1(_) => sha1::Sha1::digest(bytes).to_vec(),
            Checksum::Sha256(_) => sha2::Sha256::digest(bytes).to_vec(),
        };
        if actual != self.expected() {
            return Err(Error::User {
                code: Code::ChecksumMismatch,
                field: Some(FIELD.into()),
                message: format!(
                    "the body's digest is {}, the header's {}; nothing was stored, send the piece again",
                    STANDARD.encode(&actual),
                    STANDARD.encode(self.expected())
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked_and_bad_headers_named() {
        // sha1("abc") and sha256("abc").
        let sha1 = Checksum::parse("sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=").unwrap();
        sha1.verify(b"abc").unwrap();
        let e = sha1.verify(b"abd").unwrap_err();
        assert_eq!(e.code(), Code::ChecksumMismatch);
        let sha256 =
            Checksum::parse("sha256 ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=").unwrap();
        sha256.verify(b"abc").unwrap();
        for bad in [
            "sha1",
            "md5 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
            "sha1 !!!",
            "sha256 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
        ] {
            assert_eq!(
                Checksum::parse(bad).unwrap_err().field(),
                Some(FIELD),
                "{bad}"
            );
        }
    }
}
