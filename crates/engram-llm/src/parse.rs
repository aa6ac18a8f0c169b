//! The JSON object in a model's answer. A server that honours
//! `response_format` answers with the object alone; many models and
//! servers that do not wrap it in a ```json fence or put a sentence before
//! it. This finds it either way.

use serde_json::Value;

/// The answer's JSON object: the whole text, else the inside of its first
/// code fence, else the first `{` from which a whole object parses (text
/// after it is ignored). `None` when there is no object.
pub fn json_object(text: &str) -> Option<Value> {
    let text = text.trim();
    if let Some(v) = whole(text) {
        return Some(v);
    }
    if let Some(v) = fenced(text).and_then(whole) {
        return Some(v);
    }
    text.match_indices('{')
        .find_map(|(i, _)| first_value(&text[i..]))
}

fn whole(text: &str) -> Option<Value> {
    serde_json::from_str::<Value>(text.trim())
        .ok()
        .filter(Value::is_object)
}

/// The text between the first fence (```` ``` ```` or ```` ```json ````) and the next.
fn fenced(text: &str) -> Option<&str> {
    let start = text.find("```")? + 3;
    let rest = &text[start..];
    // The info string ("json", "JSON") runs to the end of the fence's line.
    let body = rest.find('\n').map_or(rest, |nl| &rest[nl + 1..]);
    let end = body.find("```").unwrap_or(body.len());
    Some(&body[..end])
}

/// The object that starts `text`, ignoring what follows it.
fn first_value(text: &str) -> Option<Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .next()?
        .ok()
        .filter(Value::is_object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bare_object_parses_whole() {
        assert_eq!(json_object(" {\"a\": 1}\n"), Some(json!({"a": 1})));
    }

    #[test]
    fn a_fenced_object_is_unwrapped() {
        let text = "Here you go:\n```json\n{\"facts\": [\"lives in Lisbon\"]}\n```\nAnything else?";
        assert_eq!(
            json_object(text),
            Some(json!({"facts": ["lives in Lisbon"]}))
        );
        assert_eq!(
            json_object("```\n{\"a\": true}\n```"),
            Some(json!({"a": true}))
        );
        // A fence never closed (the answer was cut at max_tokens) still yields
        // an object if what is there is whole.
        assert_eq!(json_object("```JSON\n{\"a\": 2}"), Some(json!({"a": 2})));
    }

    #[test]
    fn an_object_inside_prose_is_found() {
        let text = "Sure! The result is {\"n\": [1, 2], \"s\": \"}{\"} and that is all.";
        assert_eq!(json_object(text), Some(json!({"n": [1, 2], "s": "}{"})));
        // A brace that starts no object is skipped for the next.
        assert_eq!(
            json_object("use {braces} like {\"k\": 0}"),
            Some(json!({"k": 0}))
        );
    }

    #[test]
    fn no_object_is_none() {
        assert_eq!(json_object(""), None);
        assert_eq!(json_object("I cannot help with that."), None);
        assert_eq!(json_object("[1, 2, 3]"), None, "an array is not an object");
        assert_eq!(json_object("{\"cut\": [1, 2"), None, "a truncated object");
    }
}
