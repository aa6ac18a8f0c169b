#![no_main]
//! Restores each input as a backup into a fresh store
//! (`engram_embedded::fuzzing::Backups`): an error is fine, a panic or an
//! allocation over 64 MiB is a crash.

use engram_embedded::fuzzing::{CappedAllocator, check_backup};

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_backup(data));
