//! Corrupt files are errors, never a panic or an unbounded allocation: a
//! mutation fuzzer over the text index, vector index and catalog files
//! (loaded and used as the store does, `engram_embedded::fuzzing`) and the
//! backup reader (`engram_store::backup::restore` into a fresh store).
//!
//! It runs on stable Rust (cargo-fuzz needs nightly for its sanitizers):
//! valid files are the seeds, mutated by bit flips, byte changes,
//! truncation, insertion, deletion, duplication, splicing and length fields
//! set to huge values. Every allocation above [`LIMIT`] fails the run.
//! The same targets run coverage-guided under cargo-fuzz (`fuzz/`).
//!
//! `ENGRAM_FUZZ_SECONDS` (per target; default 2, `scripts/test` gives 30)
//! and `ENGRAM_FUZZ_SEED` (printed first) control a run;
//! `ENGRAM_FUZZ_CORPUS=fuzz/corpus` also writes the seeds there for
//! cargo-fuzz. See docs/FUZZING.md for running either longer.

use std::alloc::Layout;
use std::io::Read;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::{Duration, Instant};

use engram_embedded::EmbeddedStore;
use engram_embedded::fuzzing::{Backups, CappedAllocator, Decoder, FileKind, LIMIT};
use engram_store::backup;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[global_allocator]
static ALLOCATOR: CappedAllocator = CappedAllocator;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}"))
    })
}

/// Values a corrupted length or count field is set to.
const HUGE: [u64; 6] = [
    u64::MAX,
    u64::MAX / 2,
    u32::MAX as u64,
    i32::MAX as u64,
    1 << 40,
    1 << 26,
];

type Mutator = fn(&mut StdRng, &[Vec<u8>], &mut Vec<u8>);

fn mutate(rng: &mut StdRng, seeds: &[Vec<u8>], input: &mut Vec<u8>) {
    for _ in 0..rng.random_range(1..=4) {
        let len = input.len();
        match rng.random_range(0..9) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                input[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                input[i] = [0, 1, 0x7f, 0x80, 0xff][rng.random_range(0..5)];
            }
            2 => input.truncate(rng.random_range(0..=len)),
            3 => {
                let i = rng.random_range(0..=len);
                let n = rng.random_range(1..=16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                input.splice(i..i, bytes);
            }
            4 if len > 0 => {
                let i = rng.random_range(0..len);
                let n = rng.random_range(1..=(len - i).min(64));
                input.drain(i..i + n);
            }
            5 if len > 0 => {
                let i = rng.random_range(0..len);
                let n = rng.random_range(1..=(len - i).min(256));
                let chunk = input[i..i + n].to_vec();
                let at = rng.random_range(0..=len);
                input.splice(at..at, chunk);
            }
            6 if len >= 4 => {
                // A length or count field, little-endian, as u32 or u64.
                let huge = HUGE[rng.random_range(0..HUGE.len())].to_le_bytes();
                let width = if rng.random_bool(0.5) { 4 } else { 8 }.min(len);
                let i = rng.random_range(0..=len - width);
                input[i..i + width].copy_from_slice(&huge[..width]);
            }
            7 => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                let cut = rng.random_range(0..=len);
                let from = rng.random_range(0..=other.len());
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            _ => {
                // A text-level change for the backup's JSON lines.
                let tokens: [&[u8]; 8] = [b"\n", b"{", b"}", b"\"", b",", b"null", b"1e999", b"-1"];
                let t = tokens[rng.random_range(0..tokens.len())];
                let i = rng.random_range(0..=len);
                input.splice(i..i, t.iter().copied());
            }
        }
    }
}

/// Values a field of a backup line is set to: wrong types, extremes, and
/// sizes a reader might allocate by.
fn odd_value(rng: &mut StdRng) -> serde_json::Value {
    use serde_json::json;
    match rng.random_range(0..10) {
        0 => json!(null),
        1 => json!(-1),
        2 => json!(u64::MAX),
        3 => json!(1e300),
        4 => json!(1u64 << 40),
        5 => json!(""),
        6 => json!("x".repeat(rng.random_range(1..70_000))),
        7 => json!([]),
        8 => json!(vec![0.25; rng.random_range(0..9)]),
        _ => json!({ "type": "memory" }),
    }
}

/// Parses one JSON line of a backup and sets one of its fields (or one of
/// its array's items) to an odd value, so lines stay JSON and reach the
/// checks behind the parser; other times a byte-level mutation.
fn mutate_json_line(rng: &mut StdRng, seeds: &[Vec<u8>], input: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(input).into_owned();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() || rng.random_bool(0.2) {
        return mutate(rng, seeds, input);
    }
    let at = rng.random_range(0..lines.len());
    let Ok(mut line) = serde_json::from_str::<serde_json::Value>(&lines[at]) else {
        return mutate(rng, seeds, input);
    };
    if let Some(fields) = line.as_object_mut() {
        let keys: Vec<String> = fields.keys().cloned().collect();
        let key = &keys[rng.random_range(0..keys.len())];
        let value = odd_value(rng);
        match fields.get_mut(key) {
            Some(serde_json::Value::Array(items)) if !items.is_empty() && rng.random_bool(0.5) => {
                let i = rng.random_range(0..items.len());
                items[i] = value;
            }
            Some(v) => *v = value,
            None => {}
        }
    }
    match rng.random_range(0..4) {
        0 => lines.insert(at, line.to_string()),
        1 if lines.len() > 1 => {
            let other = rng.random_range(0..lines.len());
            lines.swap(at, other);
        }
        _ => lines[at] = line.to_string(),
    }
    *input = (lines.join("\n") + "\n").into_bytes();
}

/// Mutates the seeds of one target for `seconds`; `check` must return (Ok
/// or Err) for every input without a panic or a refused allocation.
fn fuzz(
    name: &str,
    seeds: &[Vec<u8>],
    mutator: Mutator,
    mut check: impl FnMut(&[u8]) -> Result<(), String>,
) {
    let seconds = env_u64("ENGRAM_FUZZ_SECONDS").unwrap_or(2);
    let seed = env_u64("ENGRAM_FUZZ_SEED").unwrap_or_else(rand::random);
    eprintln!("fuzzing the {name} for {seconds} s: ENGRAM_FUZZ_SEED={seed}");
    if let Some(corpus) = std::env::var_os("ENGRAM_FUZZ_CORPUS") {
        // Valid files for cargo-fuzz to start from (docs/FUZZING.md).
        let dir = Path::new(&corpus).join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), s).unwrap();
        }
    }
    for (i, s) in seeds.iter().enumerate() {
        if let Err(e) = check(s) {
            panic!("seed {i} of the {name}, a valid file, is refused: {e}");
        }
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut runs, mut refused) = (0u64, 0u64);
    while Instant::now() < deadline {
        let mut input = seeds[rng.random_range(0..seeds.len())].clone();
        mutator(&mut rng, seeds, &mut input);
        CappedAllocator::reset();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| check(&input)));
        let oversized = CappedAllocator::refused();
        if outcome.is_err() || oversized > 0 {
            let path = std::env::temp_dir().join(format!("engram-fuzz-{name}-{seed}-{runs}.bin"));
            std::fs::write(&path, &input).ok();
            panic!(
                "the {name} {} on input {runs} of seed {seed} (saved to {})",
                if oversized > 0 {
                    format!("asked for {oversized} bytes at once")
                } else {
                    "panicked".to_string()
                },
                path.display()
            );
        }
        refused += outcome.unwrap().is_err() as u64;
        runs += 1;
    }
    eprintln!("the {name}: {runs} inputs, {refused} refused as corrupt, no panic");
    assert!(runs > 0, "no input was tried");
}

fn index_file(kind: FileKind) {
    let scratch = tempfile::tempdir().unwrap();
    let decoder = Decoder::new(kind, scratch.path());
    let seeds = decoder.seeds().unwrap();
    fuzz(kind.name(), &seeds, mutate, |bytes| {
        decoder.check(bytes).map_err(|e| e.to_string())
    });
}

#[test]
fn text_index_files() {
    index_file(FileKind::Text);
}

#[test]
fn vector_index_files() {
    index_file(FileKind::Vectors);
}

#[test]
fn catalog_files() {
    index_file(FileKind::Catalog);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn backup_files() {
    let scratch = tempfile::tempdir().unwrap();
    let backups = Backups::new(scratch.path()).unwrap();
    let seed = backups.seed().unwrap();
    fuzz("backup", &[seed], mutate_json_line, |bytes| {
        backups.check(bytes).map_err(|e| e.to_string())
    });
}

/// The cap itself works: an allocation above it fails and is recorded.
#[test]
fn allocations_above_the_cap_are_refused() {
    CappedAllocator::reset();
    let layout = Layout::from_size_align(LIMIT + 1, 1).unwrap();
    let ptr = unsafe { std::alloc::alloc(layout) };
    assert!(
        ptr.is_null(),
        "an allocation of {} bytes was served",
        LIMIT + 1
    );
    assert_eq!(CappedAllocator::refused(), LIMIT + 1);
}

/// One endless line (what a small gzip bomb decompresses to) is refused
/// once it passes the longest line a backup can have, not read to the end.
#[test]
fn an_endless_backup_line_is_refused() {
    let rt = runtime();
    let scratch = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(scratch.path()).unwrap();
    let endless = std::io::repeat(b' ').take(1 << 40);
    let mut input = std::io::BufReader::new(endless);
    let err = rt
        .block_on(backup::restore(&store, &mut input))
        .expect_err("an endless line must be refused");
    assert!(err.to_string().contains("longer than"), "{err}");
}
