//! The real local LLM the LLM tests use: `ENGRAM_TEST_LLM_URL`, set by
//! scripts/test from scripts/dev-llm. Without it those tests fail, loudly,
//! rather than skip.

/// The model scripts/dev-llm serves.
pub const MODEL: &str = "qwen2.5-coder-1.5b-instruct";

pub fn url() -> String {
    std::env::var("ENGRAM_TEST_LLM_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "ENGRAM_TEST_LLM_URL is not set: run \
                 `export ENGRAM_TEST_LLM_URL=\"$(scripts/dev-llm | tail -n1)\"` (scripts/test does)"
            )
        })
}
