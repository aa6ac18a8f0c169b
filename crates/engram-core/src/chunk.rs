//! Splitting a document's text into chunks that become memories.
//!
//! A chunk never mixes two sections: a Markdown heading (`#` to `######`,
//! which is also what HTML headings are rendered as) ends the chunk before
//! it, and every chunk knows the path of headings it sits under, so a hit
//! can say where in the document it came from. Within a section whole
//! paragraphs are packed up to `max_words`; a paragraph longer than that
//! is cut into windows. Consecutive chunks of one section share their
//! last/first `overlap_words`, so a sentence cut at a boundary is still
//! whole in one of them.
//!
//! Sizes are in words because the chunker has no tokenizer: the default
//! 200 words is about 260 tokens of English for the local model, well
//! under its 512-token window, so no chunk is truncated when embedded.

/// How chunks are sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkConfig {
    /// Most words in one chunk (at least 1).
    pub max_words: usize,
    /// Words a chunk repeats from the one before it in the same section
    /// (less than `max_words`).
    pub overlap_words: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        ChunkConfig {
            max_words: 200,
            overlap_words: 40,
        }
    }
}

/// One chunk of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Its words, paragraphs separated by a blank line.
    pub text: String,
    /// The headings above it, outermost first.
    pub headings: Vec<String>,
    /// Byte offset in the text of its first word that no earlier chunk
    /// holds (past the overlap).
    pub start: usize,
}

/// A heading line's level and text (`## Setup` is `(2, "Setup")`).
fn heading(line: &str) -> Option<(usize, &str)> {
    let t = line.trim_start();
    let level = t.bytes().take_while(|b| *b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &t[level..];
    if !rest.starts_with([' ', '\t']) {
        return None; // `#hashtag` is text
    }
    let title = rest.trim().trim_end_matches('#').trim();
    (!title.is_empty()).then_some((level, title))
}

/// Words as slices of the text, with each one's byte offset.
fn words_at(text: &str, base: usize) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((base + s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((base + s, &text[s..]));
    }
    out
}

/// The chunks being built for one section.
struct Section<'a> {
    cfg: ChunkConfig,
    headings: Vec<String>,
    /// The current chunk's paragraphs, as words with their offsets.
    paragraphs: Vec<Vec<(usize, &'a str)>>,
    /// Words carried over from the chunk before (the overlap).
    carried: Vec<&'a str>,
    out: Vec<Chunk>,
}

impl<'a> Section<'a> {
    fn words(&self) -> usize {
        self.carried.len() + self.paragraphs.iter().map(Vec::len).sum::<usize>()
    }

    fn add(&mut self, paragraph: Vec<(usize, &'a str)>) {
        if paragraph.is_empty() {
            return;
        }
        let max = self.cfg.max_words;
        if paragraph.len() <= max {
            self.push(paragraph);
            return;
        }
        // Too long for one chunk: windows that overlap each other (the
        // chunk before ends at a paragraph's end, so nothing is cut there).
        self.emit();
        let step = max - self.cfg.overlap_words;
        let (mut at, mut new_from) = (0, 0);
        loop {
            let end = (at + max).min(paragraph.len());
            self.carried.clear();
            self.paragraphs.push(paragraph[at..end].to_vec());
            self.finish(new_from - at);
            if end == paragraph.len() {
                return;
            }
            new_from = end;
            at += step;
        }
    }

    /// Adds a paragraph that fits in one chunk, starting a new chunk when
    /// it does not fit in this one.
    fn push(&mut self, paragraph: Vec<(usize, &'a str)>) {
        if !self.paragraphs.is_empty() && self.words() + paragraph.len() > self.cfg.max_words {
            self.emit();
        }
        let room = self.cfg.max_words - paragraph.len();
        if self.carried.len() > room {
            self.carried.drain(..self.carried.len() - room);
        }
        self.paragraphs.push(paragraph);
    }

    /// Ends the current chunk, carrying its last words into the next.
    fn emit(&mut self) {
        if !self.paragraphs.is_empty() {
            self.finish(0);
        }
    }

    /// Writes the current chunk, whose first `repeated` words of its own
    /// paragraphs repeat the window before (0 outside a long paragraph).
    fn finish(&mut self, repeated: usize) {
        let paragraphs = std::mem::take(&mut self.paragraphs);
        let words: Vec<(usize, &str)> = paragraphs.iter().flatten().copied().collect();
        let start = words[repeated].0;
        let mut blocks: Vec<String> = paragraphs
            .iter()
            .map(|p| p.iter().map(|(_, w)| *w).collect::<Vec<_>>().join(" "))
            .collect();
        if !self.carried.is_empty() {
            blocks[0] = format!("{} {}", self.carried.join(" "), blocks[0]);
        }
        self.out.push(Chunk {
            text: blocks.join("\n\n"),
            headings: self.headings.clone(),
            start,
        });
        let keep = self.cfg.overlap_words.min(words.len());
        self.carried = words[words.len() - keep..]
            .iter()
            .map(|(_, w)| *w)
            .collect();
    }

    /// Ends the section: no overlap crosses a heading.
    fn close(mut self) -> Vec<Chunk> {
        self.emit();
        self.out
    }
}

/// Splits `text` (plain or Markdown) into chunks; see the module docs.
pub fn chunk(text: &str, cfg: &ChunkConfig) -> Vec<Chunk> {
    let cfg = ChunkConfig {
        max_words: cfg.max_words.max(1),
        overlap_words: cfg.overlap_words.min(cfg.max_words.saturating_sub(1)),
    };
    let mut chunks = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let new_section = |path: &[(usize, String)]| Section {
        cfg,
        headings: path.iter().map(|(_, h)| h.clone()).collect(),
        paragraphs: Vec::new(),
        carried: Vec::new(),
        out: Vec::new(),
    };
    let mut section = new_section(&path);
    let mut paragraph: Vec<(usize, &str)> = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let at = offset;
        offset += line.len();
        if let Some((level, title)) = heading(line) {
            section.add(std::mem::take(&mut paragraph));
            chunks.extend(section.close());
            path.retain(|(l, _)| *l < level);
            path.push((level, title.to_string()));
            section = new_section(&path);
        } else if line.trim().is_empty() {
            section.add(std::mem::take(&mut paragraph));
        } else {
            paragraph.extend(words_at(line, at));
        }
    }
    section.add(paragraph);
    chunks.extend(section.close());
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(n: usize, prefix: &str) -> String {
        (0..n)
            .map(|i| format!("{prefix}{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn words(c: &Chunk) -> Vec<&str> {
        c.text.split_whitespace().collect()
    }

    #[test]
    fn nothing_to_chunk_gives_no_chunks() {
        assert!(chunk("", &ChunkConfig::default()).is_empty());
        assert!(chunk("  \n\n \t\n", &ChunkConfig::default()).is_empty());
        assert!(chunk("# Only a title\n", &ChunkConfig::default()).is_empty());
    }

    #[test]
    fn headings_end_chunks_and_give_each_its_path() {
        let text = "# Guide\nIntro text.\n\n## Install\nRun the installer.\n\n### Linux\nUse apt.\n\n## Use\nStart it.\n\n# Appendix\nMore.\n";
        let got: Vec<(Vec<String>, String)> = chunk(text, &ChunkConfig::default())
            .into_iter()
            .map(|c| (c.headings, c.text))
            .collect();
        let path = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            got,
            vec![
                (path(&["Guide"]), "Intro text.".to_string()),
                (
                    path(&["Guide", "Install"]),
                    "Run the installer.".to_string()
                ),
                (path(&["Guide", "Install", "Linux"]), "Use apt.".to_string()),
                (path(&["Guide", "Use"]), "Start it.".to_string()),
                (path(&["Appendix"]), "More.".to_string()),
            ]
        );
    }

    #[test]
    fn a_hashtag_is_not_a_heading_and_offsets_point_into_the_text() {
        let text = "#rust is fun\n\nsecond paragraph\n";
        let c = chunk(text, &ChunkConfig::default());
        assert_eq!(c.len(), 1);
        assert!(c[0].headings.is_empty());
        assert_eq!(c[0].text, "#rust is fun\n\nsecond paragraph");
        assert_eq!(c[0].start, 0);
        let c = chunk("# T\n\nbody here\n", &ChunkConfig::default());
        assert_eq!(&"# T\n\nbody here\n"[c[0].start..], "body here\n");
    }

    #[test]
    fn paragraphs_are_packed_and_consecutive_chunks_overlap() {
        let cfg = ChunkConfig {
            max_words: 10,
            overlap_words: 3,
        };
        let text = format!(
            "{}\n\n{}\n\n{}\n",
            numbered(4, "a"),
            numbered(4, "b"),
            numbered(5, "c")
        );
        let c = chunk(&text, &cfg);
        assert_eq!(c.len(), 2);
        let first: Vec<String> = [numbered(4, "a"), numbered(4, "b")]
            .join(" ")
            .split(' ')
            .map(String::from)
            .collect();
        assert_eq!(words(&c[0]), first);
        assert_eq!(
            c[0].text.matches("\n\n").count(),
            1,
            "paragraphs kept apart"
        );
        // The second starts with the first's last three words.
        assert_eq!(&words(&c[1])[..3], &["b1", "b2", "b3"]);
        assert_eq!(
            &words(&c[1])[3..],
            numbered(5, "c").split(' ').collect::<Vec<_>>()
        );
        assert!(c.iter().all(|c| words(c).len() <= 10));
        assert_eq!(&text[c[1].start..c[1].start + 2], "c0");
    }

    #[test]
    fn a_long_paragraph_is_cut_into_overlapping_windows_covering_every_word() {
        let cfg = ChunkConfig {
            max_words: 50,
            overlap_words: 10,
        };
        let text = numbered(173, "w");
        let c = chunk(&text, &cfg);
        assert!(c.iter().all(|c| words(c).len() <= 50), "bounded");
        for pair in c.windows(2) {
            let (a, b) = (words(&pair[0]), words(&pair[1]));
            assert_eq!(&a[a.len() - 10..], &b[..10], "overlap of 10");
        }
        let mut seen: Vec<&str> = words(&c[0]);
        for next in &c[1..] {
            seen.extend(&words(next)[10..]);
        }
        assert_eq!(
            seen,
            text.split(' ').collect::<Vec<_>>(),
            "every word once past the overlap"
        );
        for next in &c[1..] {
            let first_new = words(next)[10];
            assert_eq!(&text[next.start..next.start + first_new.len()], first_new);
        }
    }

    #[test]
    fn overlap_never_crosses_a_heading() {
        let cfg = ChunkConfig {
            max_words: 5,
            overlap_words: 2,
        };
        let c = chunk("# A\none two three\n\n# B\nfour five\n", &cfg);
        assert_eq!(words(&c[1]), ["four", "five"]);
    }
}
