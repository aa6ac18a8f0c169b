#![no_main]
//! Restores each input as a backup into a fresh store
//! (`engram_embedded::fuzzing::Backups`): an error is fine, a panic or an
//! allocation over 64 MiB is a crash.

use std::sync::OnceLock;

use engram_embedded::fuzzing::{Backups, CappedAllocator};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

fn backups() -> &'static Backups {
    static BACKUPS: OnceLock<Backups> = OnceLock::new();
    BACKUPS.get_or_init(|| {
        let scratch = tempfile::tempdir().expect("scratch directory").keep();
        Backups::new(&scratch).expect("a tokio runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = backups().check(data);
});
