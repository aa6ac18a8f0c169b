//! The prompts, versioned: a result records the name and version of the
//! prompt that made it (`metadata.prompt`), and a change of wording bumps
//! the version (docs/FACTS.md lists them).

use std::sync::LazyLock;

use serde_json::{Value, json};

/// Fact extraction and reconciliation in one call: the local model makes
/// ~10 tokens/s, and a second call per fact would double the time of every
/// extraction for a decision the first call can take seeing the known
/// facts beside the messages.
pub const FACTS: &str = "facts";
pub const FACTS_VERSION: u32 = 1;
pub const FACTS_SYSTEM: &str = "You keep a list of facts about a person. Read the new messages and \
write each lasting fact they state about the person as one short sentence that names the person. \
Then compare it with the known facts:\n\
- \"add\": a new fact.\n\
- \"replace\": it makes known fact number N no longer true (a move, a new job, a change of mind). \
Example: known 1. \"Ann lives in Rome.\", message \"I moved to Oslo\" -> \
{\"fact\": \"Ann lives in Oslo.\", \"action\": \"replace\", \"target\": 1}.\n\
- \"update\": it adds detail to known fact N, which stays true.\n\
- \"known\": known fact N already says it.\n\
Ignore greetings, questions and passing remarks. Answer with JSON only.";

pub static FACTS_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "type": "object",
        "properties": {
            "facts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "fact": { "type": "string" },
                        "action": { "type": "string", "enum": ["add", "update", "replace", "known"] },
                        "target": { "type": ["integer", "null"] }
                    },
                    "required": ["fact", "action", "target"]
                }
            }
        },
        "required": ["facts"]
    })
});

/// A summary of a session or of a period, citing nothing itself: the
/// engine cites every memory it was given.
pub const SUMMARY: &str = "summary";
pub const SUMMARY_VERSION: u32 = 1;
pub const SUMMARY_SYSTEM: &str = "Summarize the messages below in at most four sentences. Keep \
names, places, dates, numbers, decisions and preferences; leave out greetings and small talk. \
Answer with JSON only.";

/// Insights across recent memories.
pub const REFLECTION: &str = "reflection";
pub const REFLECTION_VERSION: u32 = 1;
pub const REFLECTION_SYSTEM: &str = "Read the memories below about one person and write up to \
three short insights about them that no single memory states: patterns, lasting preferences, \
goals. Each insight is one sentence naming the person. Answer with JSON only.";

pub static TEXT_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "type": "object",
        "properties": { "text": { "type": "string" } },
        "required": ["text"]
    })
});

pub static INSIGHTS_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "type": "object",
        "properties": {
            "insights": { "type": "array", "items": { "type": "string" } }
        },
        "required": ["insights"]
    })
});
