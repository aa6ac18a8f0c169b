//! Packing memories into a prompt-ready block that never exceeds a token
//! budget.
//!
//! Each memory becomes one line that starts with a numbered citation and
//! the memory's time: `[2] (2024-05-01 10:00) ...`. The number is the
//! memory's position in the returned items, which carry its id; a full id
//! in every line would cost ~25 tokens each and crowd out the memories
//! themselves under small budgets. Lines are added
//! best first; the first line that no longer fits is shortened at a word
//! boundary when enough budget is left to say something useful, and packing
//! stops there. The final block is counted once more as a whole, so the
//! bound holds even for tokenizers that are not additive across lines.

use chrono::{DateTime, Utc};

/// Smallest useful remainder, in tokens, for a shortened line.
const MIN_PARTIAL_TOKENS: usize = 12;

#[derive(Debug, Clone, PartialEq)]
pub struct ContextItem {
    pub id: String,
    pub content: String,
    pub occurred_at: DateTime<Utc>,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Packed {
    pub context: String,
    pub tokens: usize,
    /// The items that made it into the block, possibly with shortened content.
    pub items: Vec<ContextItem>,
}

/// One line of the block; `n` is the 1-based citation number.
pub fn line(n: usize, item: &ContextItem) -> String {
    format!(
        "[{n}] ({}) {}",
        item.occurred_at.format("%Y-%m-%d %H:%M"),
        item.content.replace('\n', " ")
    )
}

/// Packs `items` (best first) under `budget` tokens as counted by `count`.
pub fn pack(items: &[ContextItem], budget: usize, count: &dyn Fn(&str) -> usize) -> Packed {
    let mut lines: Vec<String> = Vec::new();
    let mut chosen: Vec<ContextItem> = Vec::new();
    let mut used = 0usize;
    for item in items {
        // Lines are joined with '\n', itself free in word-piece tokenizers;
        // the whole-block check below catches any tokenizer where it is not.
        let n_item = chosen.len() + 1;
        let l = line(n_item, item);
        let n = count(&l);
        if used + n <= budget {
            used += n;
            lines.push(l);
            chosen.push(item.clone());
            continue;
        }
        let left = budget - used;
        if left >= MIN_PARTIAL_TOKENS
            && let Some((short, text)) = shorten(n_item, item, left, count)
        {
            lines.push(short);
            chosen.push(ContextItem {
                content: text,
                ..item.clone()
            });
        }
        break;
    }
    let mut context = lines.join("\n");
    let mut tokens = count(&context);
    while tokens > budget && !lines.is_empty() {
        lines.pop();
        chosen.pop();
        context = lines.join("\n");
        tokens = count(&context);
    }
    Packed {
        context,
        tokens,
        items: chosen,
    }
}

/// The longest word-prefix of the item's content whose line fits `left`
/// tokens, found by binary search over word boundaries.
fn shorten(
    n: usize,
    item: &ContextItem,
    left: usize,
    count: &dyn Fn(&str) -> usize,
) -> Option<(String, String)> {
    let words: Vec<&str> = item.content.split_whitespace().collect();
    let text_of = |n: usize| format!("{} …", words[..n].join(" "));
    let (mut lo, mut hi) = (0usize, words.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let candidate = ContextItem {
            content: text_of(mid),
            ..item.clone()
        };
        if count(&line(n, &candidate)) <= left {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    if lo == 0 {
        return None;
    }
    let text = text_of(lo);
    let l = line(
        n,
        &ContextItem {
            content: text.clone(),
            ..item.clone()
        },
    );
    Some((l, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    fn item(id: &str, content: &str) -> ContextItem {
        ContextItem {
            id: id.into(),
            content: content.into(),
            occurred_at: DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
                .unwrap()
                .into(),
            score: 1.0,
        }
    }

    #[test]
    fn never_exceeds_the_budget() {
        let items: Vec<ContextItem> = (0..20)
            .map(|i| item(&i.to_string(), &"word ".repeat(i + 3)))
            .collect();
        for budget in [0, 1, 5, 13, 40, 100, 1000] {
            let p = pack(&items, budget, &words);
            assert!(p.tokens <= budget, "budget {budget} got {}", p.tokens);
            assert_eq!(p.tokens, words(&p.context));
        }
    }

    #[test]
    fn numbers_citations_and_keeps_times_best_first() {
        let p = pack(&[item("m1", "first"), item("m2", "second")], 100, &words);
        assert_eq!(
            p.context,
            "[1] (2024-05-01 10:00) first\n[2] (2024-05-01 10:00) second"
        );
        assert_eq!(p.items.len(), 2);
    }

    #[test]
    fn shortens_the_line_that_does_not_fit() {
        let long = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen";
        let p = pack(&[item("m1", long)], 14, &words);
        assert_eq!(p.items.len(), 1);
        assert!(p.items[0].content.ends_with('…'));
        assert_eq!(p.tokens, 14);
    }

    #[test]
    fn guards_against_non_additive_tokenizers() {
        // A tokenizer that charges for each newline.
        let count = |s: &str| words(s) + s.matches('\n').count() * 3;
        let items: Vec<ContextItem> = (0..5).map(|i| item(&i.to_string(), "a b")).collect();
        let p = pack(&items, 12, &count);
        assert!(p.tokens <= 12);
        assert_eq!(p.items.len(), p.context.lines().count());
    }
}
