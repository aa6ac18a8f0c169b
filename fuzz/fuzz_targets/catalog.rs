#![no_main]
//! Loads each input as a catalog file the way the store does
//! (`engram_embedded::fuzzing`): an error is fine, a panic or an
//! allocation over 64 MiB is a crash.

use std::sync::OnceLock;

use engram_embedded::fuzzing::{CappedAllocator, Decoder, FileKind};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

fn decoder() -> &'static Decoder {
    static DECODER: OnceLock<Decoder> = OnceLock::new();
    DECODER.get_or_init(|| {
        let scratch = tempfile::tempdir().expect("scratch directory").keep();
        Decoder::new(FileKind::Catalog, &scratch)
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = decoder().check(data);
});
