//! The LLM-free entity pass (docs/GRAPH.md): names a deployment without an
//! LLM still links memories by. It finds e-mail addresses, URLs,
//! `@mentions` and runs of capitalized words ("Caroline", "New York",
//! "Acme Corp"), dropping the capitalized words that only start a
//! sentence or a greeting ("The", "Thanks", "Monday", a lone "Lunch"
//! opening a sentence). A lone name opening a sentence is missed unless it
//! addresses someone ("Caroline: ...", "Mel, ..."): the rules trade that
//! recall for not making an entity of every sentence's first word. Cheap enough to run
//! on every write: one pass over the text, no allocation per character.

use crate::graph::{MAX_NAME_CHARS, name_key};

/// Names one memory contributes at most: a long text naming more is a
/// list, and every name costs an entity lookup (and, new, an embedding).
pub const MAX_MENTIONS: usize = 16;

/// A name found in a text, with the type the rule that found it implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    pub name: String,
    pub kind: &'static str,
}

// rustfmt would put each word on a line of its own.
#[rustfmt::skip]
/// Capitalized words that are no name on their own beyond the stop
/// words ([`crate::lexical::is_stop_word`]): contractions, greetings,
/// interjections, days and months.
const NOT_NAMES: &[&str] = &[
    "anyway", "awesome", "aw", "cool", "dear", "don't", "glad", "great", "hello", "hey", "hi",
    "however", "i'd", "i'll", "i'm", "i've", "it's", "let", "let's", "like", "lol", "maybe",
    "nice", "ok", "okay", "please", "really", "sorry", "still", "sure", "thank", "thanks",
    "that's", "today", "tomorrow", "um", "well", "we're", "what's", "wow", "yeah", "yes",
    "yesterday", "yet", "you're", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december",
];

fn is_not_name(word: &str) -> bool {
    let w = word.to_lowercase().replace('\u{2019}', "'");
    crate::lexical::is_stop_word(&w) || NOT_NAMES.contains(&w.as_str())
}

/// The word without the punctuation around it (a possessive kept, for
/// [`name_key`] to drop).
fn trim_word(w: &str) -> &str {
    w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '\u{2019}')
        .trim_matches(|c: char| c == '\'' || c == '\u{2019}')
}

fn is_capitalized(w: &str) -> bool {
    let mut chars = w.chars();
    chars.next().is_some_and(char::is_uppercase)
        && w.chars().any(char::is_lowercase)
        && w.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '\'' | '\u{2019}' | '-' | '.' | '&'))
}

fn is_email(w: &str) -> bool {
    let Some((local, domain)) = w.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "._%+-".contains(c))
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
}

/// Whether a word ends what a run of capitalized words can continue.
fn ends_span(raw: &str) -> bool {
    raw.ends_with(['.', ',', '!', '?', ';', ':', ')', '"'])
}

/// A run of capitalized words being read.
#[derive(Default)]
struct Span<'a> {
    words: Vec<&'a str>,
    /// Whether its first word starts a sentence.
    initial: bool,
    /// Its last word as written, punctuation included.
    last: &'a str,
}

impl Span<'_> {
    fn flush(
        &mut self,
        out: &mut Vec<Mention>,
        push: &mut impl FnMut(&str, &'static str, &mut Vec<Mention>),
    ) {
        // Leading and trailing words that are no names ("The", "Thanks")
        // are not part of the name.
        while self.words.first().is_some_and(|w| is_not_name(w)) {
            self.words.remove(0);
            self.initial = false;
        }
        while self.words.last().is_some_and(|w| is_not_name(w)) {
            self.words.pop();
        }
        // One capitalized word opening a sentence is as often a verb or a
        // noun ("Met", "Lunch") as a name; it counts when it addresses or
        // introduces ("Caroline:", "Mel, ...").
        let opener = self.initial && self.words.len() == 1 && !self.last.ends_with([':', ',']);
        if !self.words.is_empty() && !opener {
            push(&self.words.join(" "), "name", out);
        }
        self.words.clear();
        self.initial = false;
    }
}

/// The names in `text`, each once (by [`name_key`]), in order of first
/// appearance, at most [`MAX_MENTIONS`].
pub fn mentions(text: &str) -> Vec<Mention> {
    let mut out: Vec<Mention> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let mut push = |name: &str, kind: &'static str, out: &mut Vec<Mention>| {
        let key = name_key(name);
        if key.is_empty() || name.chars().count() > MAX_NAME_CHARS || keys.contains(&key) {
            return;
        }
        keys.push(key);
        out.push(Mention {
            name: name.to_string(),
            kind,
        });
    };
    let mut span = Span::default();
    let mut sentence_start = true;
    for raw in text.split_whitespace() {
        if out.len() >= MAX_MENTIONS {
            break;
        }
        let starts_sentence = sentence_start;
        sentence_start = raw.ends_with(['.', '!', '?']);
        let lower = raw.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            span.flush(&mut out, &mut push);
            let url = raw.trim_end_matches(['.', ',', '!', '?', ';', ':', ')', '"', '\'']);
            push(url, "url", &mut out);
            continue;
        }
        let word = raw.trim_matches(|c: char| {
            !c.is_alphanumeric() && !matches!(c, '@' | '.' | '_' | '-' | '+' | '%')
        });
        let word = word.trim_end_matches('.');
        if is_email(word) {
            span.flush(&mut out, &mut push);
            push(word, "email", &mut out);
            continue;
        }
        if let Some(handle) = word.strip_prefix('@')
            && !handle.is_empty()
            && handle.chars().all(|c| c.is_alphanumeric() || c == '_')
        {
            span.flush(&mut out, &mut push);
            push(word, "mention", &mut out);
            continue;
        }
        let w = trim_word(raw);
        if is_capitalized(w) {
            if span.words.is_empty() {
                span.initial = starts_sentence;
            }
            span.words.push(w);
            span.last = raw;
            if ends_span(raw) {
                span.flush(&mut out, &mut push);
            }
        } else {
            span.flush(&mut out, &mut push);
        }
    }
    span.flush(&mut out, &mut push);
    out.truncate(MAX_MENTIONS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(String, &'static str)> {
        mentions(text)
            .into_iter()
            .map(|m| (m.name, m.kind))
            .collect()
    }

    #[test]
    fn capitalized_runs_are_names_and_sentence_openers_are_not() {
        assert_eq!(
            names("The trip to New York with Caroline was great. Thanks Melanie!"),
            [
                ("New York".to_string(), "name"),
                ("Caroline".to_string(), "name"),
                ("Melanie".to_string(), "name"),
            ]
        );
        assert_eq!(names("I went there on Monday. It was fine."), []);
        assert_eq!(
            names("We saw Bob's sister and bob met Bob."),
            [("Bob's".to_string(), "name")],
            "one entry per name key"
        );
        assert_eq!(
            names("Lunch with Marcus. Caroline: hi! Met Ana, Rui and Eva."),
            [
                ("Marcus".to_string(), "name"),
                ("Caroline".to_string(), "name"),
                ("Met Ana".to_string(), "name"),
                ("Rui".to_string(), "name"),
                ("Eva".to_string(), "name"),
            ],
            "a lone capitalized opener is no name unless it addresses"
        );
    }

    #[test]
    fn emails_urls_and_handles() {
        assert_eq!(
            names("mail ana@example.org or ping @ana_b, see https://example.org/x."),
            [
                ("ana@example.org".to_string(), "email"),
                ("@ana_b".to_string(), "mention"),
                ("https://example.org/x".to_string(), "url"),
            ]
        );
        assert_eq!(names("an @ alone, a@b is no address"), []);
    }

    #[test]
    fn a_long_list_is_capped() {
        let text: Vec<String> = (0..40).map(|i| format!("Name{i}x,")).collect();
        assert_eq!(mentions(&text.join(" ")).len(), MAX_MENTIONS);
    }
}
