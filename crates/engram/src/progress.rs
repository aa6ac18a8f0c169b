//! Progress on stderr for long commands (import, backup, restore, bench
//! ingest): a bar when the total is known, a running count when it is not,
//! redrawn in place at most a few times a second so it costs nothing next
//! to the work.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

const BAR_WIDTH: usize = 30;
const REDRAW: Duration = Duration::from_millis(200);

/// `[=====>     ] 3/10`: `done` of `total` as a bar.
pub fn bar(done: u64, total: u64) -> String {
    bar_of(done, total, &done.to_string(), &total.to_string())
}

fn bar_of(done: u64, total: u64, done_text: &str, total_text: &str) -> String {
    let filled = ((done.min(total.max(1)) as usize) * BAR_WIDTH) / total.max(1) as usize;
    let bar: String = (0..BAR_WIDTH)
        .map(|i| match i.cmp(&filled) {
            std::cmp::Ordering::Less => '=',
            std::cmp::Ordering::Equal => '>',
            std::cmp::Ordering::Greater => ' ',
        })
        .collect();
    format!("[{bar}] {done_text}/{total_text}")
}

/// What is counted: bytes are shown in kB or MB.
#[derive(Clone, Copy)]
pub enum Unit {
    Bytes,
    Items(&'static str),
}

impl Unit {
    fn show(self, n: u64) -> String {
        match self {
            Unit::Bytes if n < 1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
            Unit::Bytes => format!("{:.1} MB", n as f64 / 1e6),
            Unit::Items(name) => format!("{n} {name}"),
        }
    }
}

/// One line of progress, e.g. `restoring [====>   ] 1.2 MB/3.4 MB`.
pub struct Progress {
    label: &'static str,
    unit: Unit,
    total: Option<u64>,
    done: u64,
    drawn: Option<Instant>,
    enabled: bool,
}

impl Progress {
    pub fn new(label: &'static str, unit: Unit, total: Option<u64>) -> Progress {
        Progress {
            label,
            unit,
            total,
            done: 0,
            drawn: None,
            enabled: true,
        }
    }

    /// A progress that draws nothing (e.g. under `--json`).
    pub fn hidden(mut self, hidden: bool) -> Progress {
        self.enabled = !hidden;
        self
    }

    pub fn advance(&mut self, n: u64) {
        self.done += n;
        if self.drawn.is_none_or(|t| t.elapsed() >= REDRAW) {
            self.draw();
        }
    }

    /// Draws the final state and ends the line.
    pub fn finish(&mut self) {
        self.draw();
        if self.enabled {
            eprintln!();
        }
    }

    fn draw(&mut self) {
        self.drawn = Some(Instant::now());
        if !self.enabled {
            return;
        }
        let text = match self.total {
            Some(total) => bar_of(
                self.done,
                total,
                &self.unit.show(self.done),
                &self.unit.show(total),
            ),
            None => self.unit.show(self.done),
        };
        let mut err = std::io::stderr();
        let _ = write!(err, "\r{} {text}", self.label);
        let _ = err.flush();
    }
}

/// A reader that advances `progress` by the bytes read through it.
pub struct Reading<'a, R> {
    pub inner: R,
    pub progress: &'a mut Progress,
}

impl<R: Read> Read for Reading<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// A writer that advances `progress` by the bytes written through it.
pub struct Writing<'a, W> {
    pub inner: W,
    pub progress: &'a mut Progress,
}

impl<W: Write> Write for Writing<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fill_in_proportion() {
        assert_eq!(bar(0, 10), format!("[>{}] 0/10", " ".repeat(29)));
        assert_eq!(
            bar(5, 10),
            format!("[{}>{}] 5/10", "=".repeat(15), " ".repeat(14))
        );
        assert_eq!(bar(10, 10), format!("[{}] 10/10", "=".repeat(30)));
        assert_eq!(
            bar(3, 0),
            format!("[{}] 3/0", "=".repeat(30)),
            "no total: full"
        );
    }

    #[test]
    fn readers_and_writers_count_their_bytes() {
        let mut p = Progress::new("t", Unit::Bytes, Some(11)).hidden(true);
        let mut out = Vec::new();
        std::io::copy(
            &mut Reading {
                inner: &b"hello world"[..],
                progress: &mut p,
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(p.done, 11);
        let mut w = Progress::new("t", Unit::Bytes, None).hidden(true);
        Writing {
            inner: Vec::new(),
            progress: &mut w,
        }
        .write_all(&out)
        .unwrap();
        assert_eq!(w.done, 11);
    }
}
