//! The text a model reads back from each tool: short, one memory a line,
//! with the id it needs for follow-up calls. Programs read the structured
//! content instead, which is the REST response body.

use std::fmt::Write;

use engram_core::Memory;
use engram_core::conversation::{Conversation, ConversationPage, MessagePage};
use engram_core::query::{ContextResponse, Page, SearchResponse};

/// One memory on one line: when, who, id, labels, text.
/// One line per version, oldest first, each with when it held.
pub fn history(h: &engram_core::temporal::History) -> String {
    let bound = |t: Option<chrono::DateTime<chrono::Utc>>, open: &str| {
        t.map_or(open.to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
    };
    h.versions
        .iter()
        .map(|m| {
            format!(
                "v{} (valid {} to {}) {}: {}",
                m.temporal.version,
                bound(m.temporal.valid_from, "always"),
                bound(m.temporal.valid_to, "now"),
                m.id,
                m.content.replace('\n', " ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn memory_line(m: &Memory) -> String {
    let mut line = format!("[{}] {}", m.occurred_at.format("%Y-%m-%d %H:%M"), m.id);
    for (name, value) in [
        ("user", &m.user_id),
        ("agent", &m.agent_id),
        ("session", &m.session_id),
    ] {
        if let Some(v) = value {
            let _ = write!(line, " {name}={v}");
        }
    }
    if !m.labels.is_empty() {
        let _ = write!(line, " labels={}", m.labels.join(","));
    }
    let _ = write!(line, " ({}): {}", m.kind.as_str(), m.content);
    line
}

pub fn search(r: &SearchResponse) -> String {
    if r.results.is_empty() {
        return "No memories match this query (with these filters).".into();
    }
    let mut out = format!("{} memories, most relevant first:\n", r.results.len());
    for (i, s) in r.results.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}. score {:.3} {}",
            i + 1,
            s.score,
            memory_line(&s.memory)
        );
    }
    out
}

pub fn context(r: &ContextResponse) -> String {
    if r.items.is_empty() {
        "No relevant memories.".into()
    } else {
        r.context.clone()
    }
}

pub fn page(p: &Page) -> String {
    if p.items.is_empty() {
        return "No memories.".into();
    }
    let mut out = format!("{} memories, newest first:\n", p.items.len());
    for m in &p.items {
        let _ = writeln!(out, "- {}", memory_line(m));
    }
    if let Some(c) = &p.next_cursor {
        let _ = writeln!(
            out,
            "More memories follow: call list_memories again with cursor \"{c}\"."
        );
    }
    out
}

/// One conversation on one line: when, id, title, where, flags.
fn conversation_line(c: &Conversation) -> String {
    let mut line = format!(
        "[{}] {} \"{}\"",
        c.created_at.format("%Y-%m-%d"),
        c.id,
        c.title
    );
    if let Some(f) = &c.folder {
        let _ = write!(line, " folder={f}");
    }
    if let Some(l) = &c.label {
        let _ = write!(line, " label={l}");
    }
    for (flag, on) in [("pinned", c.pinned), ("archived", c.archived)] {
        if on {
            let _ = write!(line, " {flag}");
        }
    }
    line
}

pub fn conversations(p: &ConversationPage) -> String {
    if p.items.is_empty() {
        return "No conversations.".into();
    }
    let mut out = format!("{} conversations, newest first:\n", p.items.len());
    for c in &p.items {
        let _ = writeln!(out, "- {}", conversation_line(c));
    }
    if let Some(c) = &p.next_cursor {
        let _ = writeln!(out, "More: pass cursor={c}");
    }
    out
}

/// The conversation's line, then one message a line, oldest first.
pub fn conversation(c: &Conversation, m: &MessagePage) -> String {
    let mut out = format!("{}\n", conversation_line(c));
    for msg in &m.items {
        let _ = writeln!(
            out,
            "[{}] {}: {}",
            msg.occurred_at.format("%Y-%m-%d %H:%M"),
            msg.role,
            msg.content
        );
    }
    if let Some(cur) = &m.next_cursor {
        let _ = writeln!(out, "More messages: pass cursor={cur}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_core::NewMemory;
    use engram_core::query::ScoredMemory;

    fn memory() -> Memory {
        Memory::from_new(
            "m1".into(),
            NewMemory {
                content: "Marta's dog is called Bruno".into(),
                user_id: Some("marta".into()),
                labels: vec!["pets".into()],
                ..Default::default()
            },
            "2024-05-01T09:30:00Z".parse().unwrap(),
        )
    }

    #[test]
    fn a_line_carries_id_owner_labels_and_text() {
        assert_eq!(
            memory_line(&memory()),
            "[2024-05-01 09:30] m1 user=marta labels=pets (episodic): Marta's dog is called Bruno"
        );
    }

    #[test]
    fn empty_results_say_so_and_pages_say_how_to_continue() {
        let empty = SearchResponse {
            results: vec![],
            took_ms: 1.0,
        };
        assert!(search(&empty).starts_with("No memories"));
        let one = SearchResponse {
            results: vec![ScoredMemory {
                memory: memory(),
                score: 0.5,
                explain: None,
            }],
            took_ms: 1.0,
        };
        assert!(search(&one).contains("1. score 0.500 [2024-05-01 09:30] m1"));
        let p = Page {
            items: vec![memory()],
            next_cursor: Some("abc".into()),
        };
        assert!(page(&p).contains("cursor \"abc\""));
    }
}
