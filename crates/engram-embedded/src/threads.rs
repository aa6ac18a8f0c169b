//! Splitting CPU work of one call over threads.

use std::thread::ScopedJoinHandle;

/// The result of a scoped thread; a panic there resumes here, so a bug
/// surfaces as the panic it is rather than as a lost result.
pub fn joined<T>(h: ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// `f` over `items` on up to `threads` threads, results in order. Small
/// jobs stay on the calling thread: a thread costs more than they do.
pub fn par_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    const SMALL: usize = 64;
    if threads <= 1 || items.len() < SMALL {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        workers.into_iter().flat_map(joined).collect()
    })
}
