//! The OpenAI-compatible chat client: `POST {base}/chat/completions`.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use engram_core::{Error, Result};
use serde_json::{Value, json};

use crate::{Backoff, Llm, Prompt, Reply, Usage, json_object};

/// Where the LLM is and how patient to be with it.
#[derive(Debug, Clone)]
pub struct OpenAiLlmConfig {
    /// The API's base URL, with or without a trailing `/v1`
    /// (`http://127.0.0.1:11434` and `http://127.0.0.1:11434/v1` are the
    /// same); `/v1/chat/completions` is appended.
    pub url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer` when set.
    pub api_key: Option<String>,
    /// Bound on one attempt, connection included.
    pub timeout: Duration,
    /// Retries after the first attempt of a transient failure.
    pub retries: u32,
    pub backoff: Backoff,
}

pub struct OpenAiLlm {
    client: reqwest::Client,
    endpoint: String,
    config: OpenAiLlmConfig,
}

/// Why one attempt failed, and whether another may succeed.
#[derive(Debug)]
struct Failure {
    message: String,
    transient: bool,
    retry_after: Option<Duration>,
}

impl OpenAiLlm {
    pub fn new(config: OpenAiLlmConfig) -> Result<OpenAiLlm> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(Error::internal)?;
        Ok(OpenAiLlm {
            client,
            endpoint: chat_endpoint(&config.url),
            config,
        })
    }

    /// The URL requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn attempt(&self, body: &Value) -> Result<Value, Failure> {
        let mut req = self.client.post(&self.endpoint).json(body);
        if let Some(k) = &self.config.api_key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.map_err(|e| Failure {
            // Connection refused or reset, or the attempt timed out.
            message: format!("{}: {e}", self.endpoint),
            transient: true,
            retry_after: None,
        })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = resp.text().await.map_err(|e| Failure {
            message: format!("{}: reading the response: {e}", self.endpoint),
            transient: true,
            retry_after: None,
        })?;
        if !status.is_success() {
            return Err(Failure {
                message: format!("{} answered {status}: {}", self.endpoint, clip(&text)),
                // A 4xx is our request or our key: sending it again will
                // not help. 408 and 429 are the server asking for patience.
                transient: status.is_server_error()
                    || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || status == reqwest::StatusCode::REQUEST_TIMEOUT,
                retry_after,
            });
        }
        serde_json::from_str(&text).map_err(|e| Failure {
            message: format!(
                "{}: the response is not JSON ({e}): {}",
                self.endpoint,
                clip(&text)
            ),
            transient: false,
            retry_after: None,
        })
    }
}

#[async_trait]
impl Llm for OpenAiLlm {
    fn model(&self) -> &str {
        &self.config.model
    }

    async fn complete(&self, prompt: &Prompt<'_>) -> Result<Reply> {
        let body = request_body(&self.config.model, prompt);
        let start = Instant::now();
        let mut retry = 0;
        let value = loop {
            match self.attempt(&body).await {
                Ok(v) => break v,
                Err(f) if f.transient && retry < self.config.retries => {
                    let wait = self.config.backoff.delay(retry, f.retry_after);
                    tracing::warn!(prompt = prompt.name, retry = retry + 1, wait_ms = wait.as_millis() as u64, error = %f.message, "LLM call failed; retrying");
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
                Err(f) => {
                    let tries = retry + 1;
                    return Err(Error::unavailable(format!(
                        "the LLM (ENGRAM_LLM_URL) failed after {tries} attempt(s): {}",
                        f.message
                    )));
                }
            }
        };
        let mut reply = parse_reply(&value, &self.config.model).ok_or_else(|| {
            Error::unavailable(format!(
                "{}: the response has no choices[0].message.content: {}",
                self.endpoint,
                clip(&value.to_string())
            ))
        })?;
        if prompt.schema.is_some() {
            reply.json = json_object(&reply.text);
        }
        reply.duration = start.elapsed();
        Ok(reply)
    }
}

/// `{base}/v1/chat/completions`, whether or not `base` ends in `/v1`.
fn chat_endpoint(base: &str) -> String {
    let base = base.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    format!("{base}/v1/chat/completions")
}

fn request_body(model: &str, p: &Prompt<'_>) -> Value {
    let mut body = json!({
        "model": model,
        "messages": [
            {"role": "system", "content": p.system},
            {"role": "user", "content": p.user},
        ],
        "max_tokens": p.max_tokens,
        // Extraction and summaries want the most likely answer, and a test
        // wants the same answer twice.
        "temperature": 0,
        "stream": false,
    });
    if let Some(schema) = p.schema {
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": {"name": p.name, "schema": schema, "strict": true},
        });
    }
    body
}

/// The text, model and usage of a chat completion (json and duration are
/// the caller's).
fn parse_reply(v: &Value, configured_model: &str) -> Option<Reply> {
    let text = v["choices"][0]["message"]["content"].as_str()?.to_string();
    let usage = &v["usage"];
    Some(Reply {
        text,
        json: None,
        usage: Usage {
            input_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0),
            output_tokens: usage["completion_tokens"].as_u64().unwrap_or(0),
        },
        duration: Duration::ZERO,
        model: v["model"]
            .as_str()
            .filter(|m| !m.is_empty())
            .unwrap_or(configured_model)
            .to_string(),
    })
}

/// At most 300 characters of a response body for an error message.
fn clip(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_url_may_end_in_v1_or_not() {
        for base in [
            "http://h:1",
            "http://h:1/",
            "http://h:1/v1",
            "http://h:1/v1/",
        ] {
            assert_eq!(
                chat_endpoint(base),
                "http://h:1/v1/chat/completions",
                "{base}"
            );
        }
    }

    #[test]
    fn a_schema_becomes_a_strict_response_format() {
        let schema = json!({"type": "object"});
        let p = Prompt {
            name: "facts",
            version: 1,
            system: "s",
            user: "u".into(),
            schema: Some(&schema),
            max_tokens: 7,
        };
        let b = request_body("m", &p);
        assert_eq!(b["response_format"]["type"], "json_schema");
        assert_eq!(b["response_format"]["json_schema"]["name"], "facts");
        assert_eq!(b["response_format"]["json_schema"]["strict"], true);
        assert_eq!(b["response_format"]["json_schema"]["schema"], schema);
        assert_eq!(b["max_tokens"], 7);
        assert_eq!(b["messages"][1]["content"], "u");
        let plain = request_body("m", &Prompt { schema: None, ..p });
        assert!(plain.get("response_format").is_none());
    }

    #[test]
    fn usage_and_model_come_from_the_response() {
        let v = json!({
            "model": "qwen",
            "choices": [{"message": {"role": "assistant", "content": "hi"}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
        });
        let r = parse_reply(&v, "configured").unwrap();
        assert_eq!((r.text.as_str(), r.model.as_str()), ("hi", "qwen"));
        assert_eq!(
            r.usage,
            Usage {
                input_tokens: 12,
                output_tokens: 3
            }
        );
        let bare = json!({"choices": [{"message": {"content": "x"}}]});
        let r = parse_reply(&bare, "configured").unwrap();
        assert_eq!(
            (r.model.as_str(), r.usage),
            ("configured", Usage::default())
        );
        assert!(parse_reply(&json!({"error": "no"}), "m").is_none());
    }

    #[test]
    fn clip_cuts_long_bodies_on_a_char_boundary() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(400);
        assert_eq!(clip(&long).chars().count(), 303);
    }
}
