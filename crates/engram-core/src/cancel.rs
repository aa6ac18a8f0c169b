//! Stopping blocking work whose answer nobody waits for any more.
//!
//! A search runs on blocking threads (index scans, model calls) and on the
//! database server, and neither notices when the future that started it
//! is dropped (a request timeout, a client gone, shutdown): without a
//! signal the work runs to its end, and slow queries pile up behind the
//! answers already given. A [`Cancel`] is that signal, shared by the
//! caller and the work: the caller holds a [`CancelOnDrop`] for as long as
//! it waits, and the work checks the flag (and an optional deadline) at
//! points of bounded cost, giving up with [`cancelled`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::Error;
use crate::code::Code;

/// Loop steps between two checks in [`Every`]: index steps cost tens of
/// nanoseconds, so a cancelled search stops within some tens of
/// microseconds while a running one pays one atomic load (and a clock read
/// when there is a deadline) per thousand steps.
const STEPS_PER_CHECK: u32 = 1024;

/// Cheap to clone: clones share one flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl Cancel {
    /// Cancelled only by [`Cancel::cancel`] (or a guard's drop).
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Also cancelled once `timeout` from now has passed, so work nobody
    /// cancels explicitly (a statement on the database server) is still
    /// bounded.
    pub fn with_timeout(timeout: Duration) -> Cancel {
        Cancel {
            flag: Arc::default(),
            deadline: Instant::now().checked_add(timeout),
        }
    }

    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// `Err(`[`cancelled`]`())` once cancelled.
    pub fn check(&self) -> Result<(), Error> {
        if self.is_cancelled() {
            Err(cancelled())
        } else {
            Ok(())
        }
    }

    /// The time left before the deadline; `None` without one. Checks
    /// first, so the time left is never zero.
    pub fn remaining(&self) -> Result<Option<Duration>, Error> {
        self.check()?;
        Ok(self
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now())))
    }

    /// A guard that cancels when dropped: the caller keeps it in the
    /// future that waits for the work, so dropping the future cancels it.
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }

    /// A check for a loop of cheap steps: see [`Every`].
    pub fn every(&self) -> Every<'_> {
        Every {
            cancel: self,
            left: 1,
        }
    }
}

/// Cancels its [`Cancel`] when dropped, whether the work finished or not:
/// once the caller stops waiting, no one wants the rest.
#[derive(Debug)]
pub struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Checks a [`Cancel`] on the first step and then once every
/// [`STEPS_PER_CHECK`] steps.
pub struct Every<'a> {
    cancel: &'a Cancel,
    left: u32,
}

impl Every<'_> {
    #[inline]
    pub fn step(&mut self) -> Result<(), Error> {
        self.left -= 1;
        if self.left > 0 {
            return Ok(());
        }
        self.left = STEPS_PER_CHECK;
        self.cancel.check()
    }
}

const CANCELLED: &str = "search cancelled: it ran past the request timeout or its caller \
     went away; retry, narrow the filters or lower the limit, or raise request_timeout_seconds";

/// The error of cancelled work: 503, as the request timeout answers, with
/// what to do about a search that keeps running out of time.
pub fn cancelled() -> Error {
    Error::user(Code::Timeout, CANCELLED)
}

/// Whether `e` is [`cancelled`]'s error, which callers tell apart from a
/// dependency that is down.
pub fn is_cancellation(e: &Error) -> bool {
    e.code() == Code::Timeout
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_guard_cancels_every_clone() {
        let cancel = Cancel::new();
        let work = cancel.clone();
        let guard = cancel.on_drop();
        assert!(!work.is_cancelled());
        assert!(work.check().is_ok());
        drop(guard);
        assert!(work.is_cancelled());
        assert!(work.check().is_err_and(|e| is_cancellation(&e)));
        assert!(!is_cancellation(&Error::unavailable("database down")));
    }

    #[test]
    fn a_deadline_cancels_when_it_passes() {
        let open = Cancel::with_timeout(Duration::from_secs(3600));
        assert!(!open.is_cancelled());
        let left = open.remaining().unwrap().unwrap();
        assert!(left > Duration::from_secs(3500) && left <= Duration::from_secs(3600));
        assert_eq!(Cancel::new().remaining().unwrap(), None);
        let past = Cancel::with_timeout(Duration::ZERO);
        assert!(past.is_cancelled());
        assert!(past.remaining().is_err());
    }

    #[test]
    fn every_checks_the_first_step_then_once_per_block() {
        let cancel = Cancel::new();
        let mut every = cancel.every();
        assert!(every.step().is_ok());
        cancel.cancel();
        let mut steps = 1;
        while every.step().is_ok() {
            steps += 1;
        }
        assert_eq!(steps, STEPS_PER_CHECK);
        // A fresh check of a cancelled flag fails at once.
        assert!(cancel.every().step().is_err());
    }
}
