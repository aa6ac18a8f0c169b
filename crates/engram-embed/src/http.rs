//! Embeddings from a service: any OpenAI-compatible `/v1/embeddings`
//! endpoint, or Ollama's `/api/embed`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{EmbedError, Embedder, normalize};

/// Texts per request: providers cap inputs per call (OpenAI at 2048).
const BATCH: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpFlavor {
    OpenAi,
    Ollama,
}

pub struct HttpEmbedder {
    client: reqwest::blocking::Client,
    flavor: HttpFlavor,
    url: String,
    model: String,
    api_key: Option<String>,
    model_id: String,
    dimension: usize,
    query_prefix: String,
}

impl HttpEmbedder {
    /// Connects and asks for one embedding, to learn the dimension and to
    /// fail at startup (not at the first write) when the service is wrong.
    ///
    /// Must not be called from an async context (it blocks).
    pub fn connect(
        flavor: HttpFlavor,
        base_url: &str,
        model: &str,
        api_key: Option<String>,
        query_prefix: &str,
    ) -> Result<HttpEmbedder, EmbedError> {
        let base = base_url.trim_end_matches('/');
        let url = match flavor {
            HttpFlavor::OpenAi if base.ends_with("/v1") => format!("{base}/embeddings"),
            HttpFlavor::OpenAi => format!("{base}/v1/embeddings"),
            HttpFlavor::Ollama => format!("{base}/api/embed"),
        };
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| EmbedError::Setup(e.to_string()))?;
        let mut e = HttpEmbedder {
            client,
            flavor,
            url,
            model: model.to_string(),
            api_key,
            model_id: format!("{}:{model}", flavor_name(flavor)),
            dimension: 0,
            query_prefix: query_prefix.to_string(),
        };
        let probe = e.request(&["dimension probe"]).map_err(|err| {
            EmbedError::Setup(format!(
                "embedding service at {} did not answer a test request: {err}",
                e.url
            ))
        })?;
        e.dimension = probe[0].len();
        if e.dimension == 0 {
            return Err(EmbedError::Setup(format!(
                "embedding service at {} answered a test request with an empty vector",
                e.url
            )));
        }
        Ok(e)
    }

    fn request(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = json!({ "model": self.model, "input": texts });
        let mut req = self.client.post(&self.url).json(&body);
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k);
        }
        let resp = req
            .send()
            .map_err(|e| EmbedError::Failed(format!("{}: {e}", self.url)))?;
        let status = resp.status();
        let value: Value = resp
            .json()
            .map_err(|e| EmbedError::Failed(format!("{}: unreadable response: {e}", self.url)))?;
        if !status.is_success() {
            return Err(EmbedError::Failed(format!(
                "{} answered {status}: {value}",
                self.url
            )));
        }
        let vectors = parse_response(self.flavor, &value).ok_or_else(|| {
            EmbedError::Failed(format!("{}: response has no embeddings", self.url))
        })?;
        if vectors.len() != texts.len() {
            return Err(EmbedError::Failed(format!(
                "{} returned {} embeddings for {} texts",
                self.url,
                vectors.len(),
                texts.len()
            )));
        }
        // After the probe, every vector must have the probed length: a
        // service that changes it mid-flight would put vectors of another
        // space into the index.
        if let Some(bad) = vectors
            .iter()
            .find(|v| self.dimension > 0 && v.len() != self.dimension)
        {
            return Err(EmbedError::Failed(format!(
                "{} returned a {}-dimensional embedding where it returned {} before; \
                 check the model it serves",
                self.url,
                bad.len(),
                self.dimension
            )));
        }
        if vectors.iter().flatten().any(|x| !x.is_finite()) {
            return Err(EmbedError::Failed(format!(
                "{} returned an embedding with a non-finite value",
                self.url
            )));
        }
        Ok(vectors)
    }
}

fn flavor_name(f: HttpFlavor) -> &'static str {
    match f {
        HttpFlavor::OpenAi => "openai",
        HttpFlavor::Ollama => "ollama",
    }
}

/// Reads `data[i].embedding` (OpenAI, ordered by `index`) or
/// `embeddings[i]` (Ollama), normalized to unit length.
fn parse_response(flavor: HttpFlavor, v: &Value) -> Option<Vec<Vec<f32>>> {
    let to_vec = |e: &Value| -> Option<Vec<f32>> {
        let mut out: Vec<f32> = e
            .as_array()?
            .iter()
            .map(|x| x.as_f64().map(|f| f as f32))
            .collect::<Option<_>>()?;
        normalize(&mut out);
        Some(out)
    };
    match flavor {
        HttpFlavor::OpenAi => {
            let mut items: Vec<(u64, Vec<f32>)> = v["data"]
                .as_array()?
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    Some((
                        d["index"].as_u64().unwrap_or(i as u64),
                        to_vec(&d["embedding"])?,
                    ))
                })
                .collect::<Option<_>>()?;
            items.sort_by_key(|(i, _)| *i);
            Some(items.into_iter().map(|(_, e)| e).collect())
        }
        HttpFlavor::Ollama => v["embeddings"].as_array()?.iter().map(to_vec).collect(),
    }
}

impl Embedder for HttpEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn embed_documents(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            out.extend(self.request(chunk)?);
        }
        Ok(out)
    }

    fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let q = format!("{}{}", self.query_prefix, text);
        Ok(self.request(&[&q])?.remove(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_openai_responses_in_index_order() {
        let v = json!({"data": [
            {"index": 1, "embedding": [0.0, 2.0]},
            {"index": 0, "embedding": [3.0, 4.0]}
        ]});
        let out = parse_response(HttpFlavor::OpenAi, &v).unwrap();
        assert_eq!(out, vec![vec![0.6, 0.8], vec![0.0, 1.0]]);
    }

    #[test]
    fn parses_ollama_responses() {
        let v = json!({"embeddings": [[1.0, 0.0]]});
        assert_eq!(
            parse_response(HttpFlavor::Ollama, &v).unwrap(),
            vec![vec![1.0, 0.0]]
        );
    }

    #[test]
    fn rejects_malformed_responses() {
        assert!(parse_response(HttpFlavor::OpenAi, &json!({"error": "x"})).is_none());
        assert!(parse_response(HttpFlavor::Ollama, &json!({"embeddings": [["a"]]})).is_none());
    }

    /// A one-shot OpenAI-style server on loopback answering each request
    /// with the next of `bodies`; returns its address and the requests seen.
    fn serve(
        bodies: Vec<&'static str>,
    ) -> (std::net::SocketAddr, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for body in bodies {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = vec![0u8; 65536];
                let n = s.read(&mut buf).unwrap();
                seen.push(String::from_utf8_lossy(&buf[..n]).to_string());
                write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
            }
            seen
        });
        (addr, server)
    }

    const FOUR: &str = r#"{"data":[{"index":0,"embedding":[1.0,1.0,1.0,1.0]}]}"#;

    /// A real HTTP round trip: the request shape, auth header and dimension
    /// probe.
    #[test]
    fn connects_and_learns_the_dimension() {
        let (addr, server) = serve(vec![FOUR, FOUR]);
        let e = HttpEmbedder::connect(
            HttpFlavor::OpenAi,
            &format!("http://{addr}"),
            "m",
            Some("secret".into()),
            "q: ",
        )
        .unwrap();
        assert_eq!(e.dimension(), 4);
        assert_eq!(e.embed_query("hello").unwrap(), vec![0.5; 4]);
        let seen = server.join().unwrap();
        assert!(seen[0].starts_with("POST /v1/embeddings"));
        assert!(
            seen[0]
                .to_lowercase()
                .contains("authorization: bearer secret")
        );
        assert!(seen[1].contains("q: hello"));
    }

    /// A vector of another length than the probe's would corrupt the index
    /// it goes into; an empty probe vector leaves no dimension to check.
    #[test]
    fn rejects_vectors_of_another_dimension() {
        let three = r#"{"data":[{"index":0,"embedding":[1.0,1.0,1.0]}]}"#;
        let (addr, server) = serve(vec![FOUR, three]);
        let e = HttpEmbedder::connect(HttpFlavor::OpenAi, &format!("http://{addr}"), "m", None, "")
            .unwrap();
        let err = e.embed_query("hello").unwrap_err().to_string();
        assert!(err.contains("3-dimensional"), "{err}");
        server.join().unwrap();

        let empty = r#"{"data":[{"index":0,"embedding":[]}]}"#;
        let (addr, server) = serve(vec![empty]);
        let err =
            HttpEmbedder::connect(HttpFlavor::OpenAi, &format!("http://{addr}"), "m", None, "")
                .err()
                .unwrap()
                .to_string();
        assert!(err.contains("empty vector"), "{err}");
        server.join().unwrap();
    }
}
