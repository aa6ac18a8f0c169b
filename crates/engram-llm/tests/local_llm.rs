//! The client against the real local LLM of `scripts/dev-llm`
//! (`ENGRAM_TEST_LLM_URL`; scripts/test sets it). One short call: the
//! local model makes ~10 tokens/s on the CI machine.

use std::time::Duration;

#[path = "../../engram/tests/common/llm.rs"]
mod local;

use engram_llm::{Backoff, Llm, OpenAiLlm, OpenAiLlmConfig, Prompt};
use serde_json::json;

fn config(url: String) -> OpenAiLlmConfig {
    OpenAiLlmConfig {
        url,
        model: local::MODEL.into(),
        api_key: None,
        timeout: Duration::from_secs(120),
        retries: 2,
        backoff: Backoff {
            base: Duration::from_millis(50),
            max: Duration::from_millis(200),
        },
    }
}

#[tokio::test]
async fn structured_output_and_usage_from_the_local_llm() {
    let llm = OpenAiLlm::new(config(local::url())).unwrap();
    let schema = json!({
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": false
    });
    let prompt = Prompt {
        name: "city",
        version: 1,
        system: "Answer with JSON only.",
        user: "I moved to Lisbon last year. Which city do I live in?".into(),
        schema: Some(&schema),
        max_tokens: 20,
    };
    let reply = llm.complete(&prompt).await.unwrap();
    let json = reply
        .json
        .as_ref()
        .unwrap_or_else(|| panic!("no JSON in {:?}", reply.text));
    let city = json["city"]
        .as_str()
        .unwrap_or_else(|| panic!("no city in {json}"));
    assert!(city.contains("Lisbon"), "{json}");
    assert!(reply.usage.input_tokens > 10, "{:?}", reply.usage);
    assert!(
        (1..=20).contains(&reply.usage.output_tokens),
        "max_tokens bounds the output: {:?}",
        reply.usage
    );
    assert!(reply.duration > Duration::ZERO);
    assert!(!reply.model.is_empty());
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_unavailable() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let llm = OpenAiLlm::new(config(format!("http://127.0.0.1:{port}"))).unwrap();
    let prompt = Prompt {
        name: "ping",
        version: 1,
        system: "s",
        user: "u".into(),
        schema: None,
        max_tokens: 1,
    };
    let started = std::time::Instant::now();
    let err = llm.complete(&prompt).await.unwrap_err();
    assert_eq!(err.code(), engram_core::Code::Unavailable);
    assert!(err.to_string().contains("after 3 attempt(s)"), "{err}");
    // Two waits of the backoff: 50 ms then 100 ms.
    assert!(started.elapsed() >= Duration::from_millis(150));
}
