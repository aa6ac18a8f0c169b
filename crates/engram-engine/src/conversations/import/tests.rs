//! The parsers on hand-made fixtures in the exact shapes of the real
//! exports (crates/engram/tests/fixtures/import/).

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../engram/tests/fixtures/import/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn all(format: Format, bytes: &[u8]) -> Result<Vec<Source>> {
    let mut out = Vec::new();
    read(format, bytes, |s| {
        out.push(s);
        Ok(())
    })?;
    Ok(out)
}

fn ids(s: &Source) -> Vec<&str> {
    s.messages.iter().map(|m| m.id.as_str()).collect()
}

#[test]
fn chatgpt_follows_the_current_branch_and_skips_what_chatgpt_hides() {
    let convs = all(Format::Chatgpt, &fixture("chatgpt-conversations.json")).unwrap();
    assert_eq!(convs.len(), 2);
    let c = &convs[0];
    assert_eq!(c.id, "c0ffee00-0000-4000-8000-000000000001");
    assert_eq!(c.title, "Sourdough troubleshooting");
    assert_eq!(ids(c), ["u-1", "a-1", "u-2", "a-2", "t-2", "a-3"]);
    assert_eq!(
        c.skipped, 2,
        "the system message and the custom instructions"
    );
    let roles: Vec<Role> = c.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            Role::User,
            Role::Assistant,
            Role::User,
            Role::Assistant,
            Role::Tool,
            Role::Assistant
        ]
    );
    assert_eq!(
        c.messages[0].occurred_at.unwrap().to_rfc3339(),
        "2023-11-14T22:13:30.250+00:00"
    );
    // A message without a time comes a microsecond after the one before it.
    assert_eq!(c.messages[5].occurred_at, after(c.messages[4].occurred_at));
    assert!(c.messages[2].content.contains("Crème brûlée"));
    assert_eq!(
        c.messages[2].metadata["attachments"],
        serde_json::json!(["image_asset_pointer", "crumb.jpg"])
    );
    assert!(c.messages[4].content.starts_with("Underproofed loaves"));
    assert_eq!(c.messages[4].metadata["author"], "browser");
    assert_eq!(c.messages[1].metadata["model"], "gpt-4o");
    let edited = &convs[1];
    assert_eq!(ids(edited), ["q2", "q2-edit"]);
    assert!(edited.messages[1].content.contains("おはようございます"));
}

#[test]
fn claude_reads_text_parts_attachments_and_missing_times() {
    let convs = all(Format::Claude, &fixture("claude-conversations.json")).unwrap();
    assert_eq!(convs.len(), 2);
    let c = &convs[0];
    assert_eq!(ids(c), ["m-a1-1", "m-a1-2", "m-a1-3"]);
    assert_eq!(c.skipped, 1, "the empty reply");
    assert!(c.messages[1].content.starts_with("Casa do Fado"));
    assert_eq!(c.messages[1].metadata["tool_calls"], 1);
    assert_eq!(
        c.messages[0].metadata["attachments"],
        serde_json::json!(["budget.xlsx", "floorplan.png"])
    );
    assert_eq!(c.messages[2].occurred_at, after(c.messages[1].occurred_at));
    assert_eq!(convs[1].title, "Untitled");
    assert!(convs[1].messages[0].content.starts_with("Résumé"));
}

#[test]
fn a_truncated_file_names_the_conversation_it_ends_in() {
    let bytes = fixture("chatgpt-conversations.json");
    let second = String::from_utf8_lossy(&bytes).find("Übersetzung").unwrap();
    for (cut, at) in [
        (second + 40, "conversations[1]"),
        (bytes.len() / 4, "conversations[0]"),
    ] {
        let err = check(Format::Chatgpt, &bytes[..cut]).unwrap_err();
        assert_eq!(err.code(), Code::MalformedImport);
        assert_eq!(err.field(), Some(at), "{err}");
        assert!(err.to_string().contains("cut short"), "{err}");
    }
    assert_eq!(check(Format::Chatgpt, &bytes[..]).unwrap(), 2);
}

#[test]
fn a_broken_node_is_named() {
    let bad = br#"[{"id": "c1", "title": "t", "mapping": {"n1": {"message": null, "parent": "gone", "children": []}}, "current_node": "n1"}]"#;
    let err = check(Format::Chatgpt, &bad[..]).unwrap_err();
    assert_eq!(
        err.field(),
        Some("conversations[0] (id c1).mapping.n1.parent")
    );
    let bad = br#"[{"id": "c1", "mapping": {"n1": {"message": {"author": {}, "content": {"content_type": "text"}}}}}]"#;
    let err = check(Format::Chatgpt, &bad[..]).unwrap_err();
    assert_eq!(err.code(), Code::MalformedImport);
    assert!(
        err.field()
            .unwrap()
            .starts_with("conversations[0].mapping.n1.message.author"),
        "{err:?}"
    );
    let err = check(Format::Claude, &br#"{"not": "a list"}"#[..]).unwrap_err();
    assert_eq!(err.code(), Code::MalformedImport);
}

#[test]
fn json_lines_round_trip_the_conversation_fields() {
    let line = br#"{"conversation": {"id": "x1", "title": "Kept", "folder": "/work/ a/", "label": "l", "pinned": true, "importance": 8}, "messages": [{"id": "m1", "role": "user", "content": "hello"}, {"id": "m2", "role": "narrator", "content": "?"}]}
"#;
    let convs = all(Format::Jsonl, &line[..]).unwrap();
    assert_eq!(convs[0].folder.as_deref(), Some("work/a"));
    assert_eq!(
        (convs[0].pinned, convs[0].importance, convs[0].skipped),
        (true, Some(8), 1)
    );
    let err = check(Format::Jsonl, &line[..line.len() - 20]).unwrap_err();
    assert_eq!(err.field(), Some("line 1"));
}

#[test]
fn derived_ids_differ_by_tenant_format_and_source() {
    let a = derived("t1", Format::Chatgpt, "c", Some("m"));
    assert_eq!(a, derived("t1", Format::Chatgpt, "c", Some("m")));
    assert_ne!(a, derived("t2", Format::Chatgpt, "c", Some("m")));
    assert_ne!(a, derived("t1", Format::Claude, "c", Some("m")));
    assert_ne!(a, derived("t1", Format::Chatgpt, "c", None));
}
