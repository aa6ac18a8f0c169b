#![no_main]
//! Loads each input as a vector index file the way the store does
//! (`engram_embedded::fuzzing`): an error is fine, a panic or an
//! allocation over 64 MiB is a crash.

use engram_embedded::fuzzing::{CappedAllocator, FileKind, check_file};

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_file(FileKind::Vectors, data));
