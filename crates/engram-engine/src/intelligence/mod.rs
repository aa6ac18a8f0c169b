//! What the engine does with an LLM (docs/FACTS.md): fact extraction,
//! summaries and reflections. Every call goes through
//! [`Engine::complete`](crate::Engine::complete), so it is metered and
//! budgeted, and none of it is on the search path.

pub mod extract;
pub(crate) mod handlers;
mod infer;
pub mod prompts;
pub mod summarize;

pub use extract::Extraction;
