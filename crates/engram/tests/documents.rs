//! Resumable document uploads (tus 1.0 core) and the documents they become,
//! from outside, on both backends: an interrupted upload resumes at the
//! right offset, a wrong offset and a corrupted piece are refused with
//! nothing stored, the finished Markdown, HTML and PDF files become
//! searchable chunks, limits and types are enforced, another tenant sees
//! nothing, the upload GC removes only abandoned uploads, and erasing a
//! user leaves no byte of their document behind.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Opts, Server, Workdir, pg};
use serde_json::{Value, json};
use sha2::Digest as _;

const TUS: (&str, &str) = ("Tus-Resumable", "1.0.0");
const STREAM: (&str, &str) = ("Content-Type", "application/offset+octet-stream");

fn metadata(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k} {}", STANDARD.encode(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Creates an upload; returns its id (from `Location`).
fn create(s: &Server, key: &str, length: usize, meta: &[(&str, &str)]) -> String {
    let auth = format!("Bearer {key}");
    let length = length.to_string();
    let meta = metadata(meta);
    let r = s.raw(
        "POST",
        "/v1/uploads",
        &[
            ("Authorization", &auth),
            TUS,
            ("Upload-Length", &length),
            ("Upload-Metadata", &meta),
        ],
        Vec::new(),
    );
    r.expect(201);
    assert_eq!(r.header("tus-resumable"), Some("1.0.0"));
    let location = r.header("location").expect("a Location").to_string();
    let id = location
        .strip_prefix("/v1/uploads/")
        .expect("the upload's path");
    assert_eq!(r.json["id"], json!(id));
    id.to_string()
}

fn patch(
    s: &Server,
    key: &str,
    id: &str,
    offset: usize,
    bytes: &[u8],
    checksum: Option<&str>,
) -> common::Resp {
    let auth = format!("Bearer {key}");
    let offset = offset.to_string();
    let mut headers = vec![
        ("Authorization", auth.as_str()),
        TUS,
        STREAM,
        ("Upload-Offset", offset.as_str()),
    ];
    if let Some(c) = checksum {
        headers.push(("Upload-Checksum", c));
    }
    s.raw(
        "PATCH",
        &format!("/v1/uploads/{id}"),
        &headers,
        bytes.to_vec(),
    )
}

fn head(s: &Server, key: &str, id: &str) -> common::Resp {
    let auth = format!("Bearer {key}");
    s.raw(
        "HEAD",
        &format!("/v1/uploads/{id}"),
        &[("Authorization", &auth), TUS],
        Vec::new(),
    )
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256 {}", STANDARD.encode(sha2::Sha256::digest(bytes)))
}

/// Uploads `bytes` in one PATCH.
fn upload(s: &Server, key: &str, bytes: &[u8], meta: &[(&str, &str)]) -> String {
    let id = create(s, key, bytes.len(), meta);
    let r = patch(s, key, &id, 0, bytes, Some(&sha256(bytes)));
    r.expect(204);
    assert_eq!(
        r.header("upload-offset"),
        Some(bytes.len().to_string().as_str())
    );
    id
}

/// Polls the document until it is `ready` or `failed`.
fn wait_processed(s: &Server, key: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let d = s
            .get(&format!("/v1/documents/{id}"), key)
            .expect(200)
            .clone();
        if d["status"] == "ready" || d["status"] == "failed" {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "document {id} not processed: {d}\nlog:\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The document's chunks (its memories), in chunk order.
fn chunks(s: &Server, key: &str, id: &str) -> Vec<Value> {
    let mut items = s.list_all(key, &format!("session_id={id}"));
    items.sort_by_key(|m| m["metadata"]["chunk_index"].as_u64());
    items
}

const GUIDE: &str = "# Lake guide\n\nAlpine lakes stay cold all summer.\n\n\
## Fishing\n\nBrown trout bite at dawn near the inflow of the glacier stream.\n\n\
## Swimming\n\nThe water rarely passes fourteen degrees, so swimmers wear wetsuits.\n";

#[test]
fn an_interrupted_upload_resumes_at_its_offset_and_becomes_searchable_chunks() {
    let s = Server::start(Opts::default());
    let key = s.create_key(&s.create_tenant("docs"), &["read", "write"]);
    let bytes = GUIDE.as_bytes();
    let id = create(
        &s,
        &key,
        bytes.len(),
        &[("filename", "lakes.md"), ("user_id", "hiker")],
    );
    let head0 = head(&s, &key, &id);
    head0.expect(200);
    assert_eq!(head0.header("upload-offset"), Some("0"));
    assert_eq!(head0.header("cache-control"), Some("no-store"));

    let cut = 40;
    patch(&s, &key, &id, 0, &bytes[..cut], None).expect(204);
    // The connection drops; the client asks where to resume.
    let h = head(&s, &key, &id);
    assert_eq!(h.header("upload-offset"), Some(cut.to_string().as_str()));
    assert_eq!(
        h.header("upload-length"),
        Some(bytes.len().to_string().as_str())
    );
    assert_eq!(h.header("tus-resumable"), Some("1.0.0"));

    // Sending the first piece again (a stale offset) is a conflict.
    let r = patch(&s, &key, &id, 0, &bytes[..cut], None);
    r.expect_problem(409, None);
    assert_eq!(r.json["code"], "upload_offset_mismatch");

    // A piece corrupted on the way does not match its checksum: refused,
    // and the offset stays where it was.
    let rest = &bytes[cut..];
    let mut corrupted = rest.to_vec();
    corrupted[5] ^= 0x20;
    let r = patch(&s, &key, &id, cut, &corrupted, Some(&sha256(rest)));
    r.expect_problem(460, Some("Upload-Checksum"));
    assert_eq!(r.json["code"], "checksum_mismatch");
    assert_eq!(
        head(&s, &key, &id).header("upload-offset"),
        Some(cut.to_string().as_str())
    );

    let r = patch(&s, &key, &id, cut, rest, Some(&sha256(rest)));
    r.expect(204);
    assert_eq!(
        r.header("upload-offset"),
        Some(bytes.len().to_string().as_str())
    );
    // Complete: nothing more can be appended.
    patch(&s, &key, &id, bytes.len(), b"x", None).expect_problem(409, None);

    let d = wait_processed(&s, &key, &id);
    assert_eq!(d["status"], "ready", "{d}");
    assert_eq!(d["content_type"], "text/markdown");
    assert_eq!(d["title"], "lakes.md");
    let c = chunks(&s, &key, &id);
    assert_eq!(d["chunks"], json!(c.len()));
    assert_eq!(c.len(), 3, "one chunk per section: {c:?}");
    assert_eq!(
        c[1]["metadata"]["heading_path"],
        json!(["Lake guide", "Fishing"])
    );
    assert!(c[1]["content"].as_str().unwrap().contains("Brown trout"));
    for (i, m) in c.iter().enumerate() {
        assert_eq!(m["metadata"]["document_id"], json!(id));
        assert_eq!(m["metadata"]["chunk_index"], json!(i));
        assert_eq!(m["user_id"], "hiker");
        assert_eq!(m["labels"], json!(["document"]));
    }

    let hits = s.search_ids(&key, &json!({"query": "when do trout bite?", "limit": 1}));
    assert_eq!(
        hits,
        [c[1]["id"].as_str().unwrap()],
        "the fishing chunk is found"
    );

    let listed = s.get("/v1/documents?limit=10", &key).expect(200).clone();
    assert_eq!(listed["items"][0]["id"], json!(id));

    s.delete(&format!("/v1/documents/{id}"), &key).expect(204);
    s.get(&format!("/v1/documents/{id}"), &key)
        .expect_problem(404, None);
    assert!(chunks(&s, &key, &id).is_empty(), "its chunks went with it");
    head(&s, &key, &id).expect(404);
}

#[test]
fn an_acknowledged_piece_survives_kill_9_and_the_upload_resumes_after_it() {
    let work = Workdir::new();
    let data = work.data("data");
    let mut s = Server::start_in(&work, &data, Opts::default());
    let key = s.create_key(&s.create_tenant("crash"), &["read", "write"]);
    let text = b"Piece one is stored. Piece two arrives after the crash.";
    let id = create(&s, &key, text.len(), &[("filename", "crash.txt")]);
    patch(&s, &key, &id, 0, &text[..21], None).expect(204);
    s.kill();
    s.restart();
    assert_eq!(head(&s, &key, &id).header("upload-offset"), Some("21"));
    patch(&s, &key, &id, 21, &text[21..], Some(&sha256(&text[21..]))).expect(204);
    assert_eq!(wait_processed(&s, &key, &id)["status"], "ready");
    assert_eq!(
        chunks(&s, &key, &id)[0]["content"],
        std::str::from_utf8(text).unwrap()
    );
}

/// A one-page PDF with `text` in Helvetica, its xref offsets computed.
fn pdf(text: &str) -> Vec<u8> {
    let stream = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!(
            "<< /Length {} >>\nstream\n{stream}\nendstream",
            stream.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{o}\nendobj\n", i + 1).bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
    for o in offsets {
        out.extend(format!("{o:010} 00000 n \n").bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .bytes(),
    );
    out
}

#[test]
fn html_and_pdf_documents_have_their_text_extracted() {
    let s = Server::start(Opts::default());
    let key = s.create_key(&s.create_tenant("docs"), &["read", "write"]);
    let html = "<html><head><title>x</title><style>p { color: red }</style></head><body>\
        <h1>Volcanoes</h1><p>Stromboli has erupted almost continuously for two thousand years.</p>\
        <h2>Visiting</h2><p>Guided night hikes reach the crater rim.</p></body></html>";
    let h = upload(
        &s,
        &key,
        html.as_bytes(),
        &[("filename", "volcano.html"), ("title", "Volcano notes")],
    );
    let p = upload(
        &s,
        &key,
        &pdf("Quokkas live on Rottnest Island near Perth."),
        &[("filename", "quokka.pdf"), ("filetype", "application/pdf")],
    );
    let d = wait_processed(&s, &key, &h);
    assert_eq!(d["status"], "ready", "{d}");
    assert_eq!(d["title"], "Volcano notes");
    let c = chunks(&s, &key, &h);
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(
        c[1]["metadata"]["heading_path"],
        json!(["Volcanoes", "Visiting"])
    );
    assert!(c[1]["content"].as_str().unwrap().contains("crater rim"));
    assert!(
        !c.iter()
            .any(|m| m["content"].as_str().unwrap().contains("color")),
        "no CSS"
    );

    let d = wait_processed(&s, &key, &p);
    assert_eq!(d["status"], "ready", "{d}");
    let c = chunks(&s, &key, &p);
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(
        c[0]["content"]
            .as_str()
            .unwrap()
            .contains("Quokkas live on Rottnest Island"),
        "{c:?}"
    );
    let hits = s.search_ids(&key, &json!({"query": "where do quokkas live", "limit": 1}));
    assert_eq!(hits, [c[0]["id"].as_str().unwrap()]);

    // A file that only claims to be a PDF fails with its reason.
    let bad = upload(
        &s,
        &key,
        b"%PDF-1.4 not really",
        &[("filename", "broken.pdf")],
    );
    let d = wait_processed(&s, &key, &bad);
    assert_eq!(d["status"], "failed", "{d}");
    assert!(d["error"].as_str().unwrap().contains("PDF"), "{d}");
}

#[test]
fn limits_types_and_protocol_versions_are_refused_naming_the_header() {
    let s = Server::start(Opts::default().env("ENGRAM_UPLOAD_MAX_BYTES", "1000"));
    let key = s.create_key(&s.create_tenant("docs"), &["read", "write"]);
    let auth = format!("Bearer {key}");

    let o = s.raw("OPTIONS", "/v1/uploads", &[], Vec::new());
    assert_eq!(o.status, 204);
    assert_eq!(o.header("tus-version"), Some("1.0.0"));
    assert_eq!(o.header("tus-max-size"), Some("1000"));
    assert!(o.header("tus-extension").unwrap().contains("checksum"));
    assert_eq!(o.header("tus-checksum-algorithm"), Some("sha1,sha256"));

    let post = |headers: &[(&str, &str)]| {
        let mut h = vec![("Authorization", auth.as_str())];
        h.extend_from_slice(headers);
        s.raw("POST", "/v1/uploads", &h, Vec::new())
    };
    let md = metadata(&[("filename", "a.md")]);
    let r = post(&[TUS, ("Upload-Length", "1001"), ("Upload-Metadata", &md)]);
    r.expect_problem(413, Some("Upload-Length"));
    assert_eq!(r.json["code"], "upload_too_large");
    let png = metadata(&[("filename", "a.png"), ("filetype", "image/png")]);
    let r = post(&[TUS, ("Upload-Length", "10"), ("Upload-Metadata", &png)]);
    r.expect_problem(415, Some("Upload-Metadata"));
    assert_eq!(r.json["code"], "unsupported_document_type");
    let r = post(&[
        ("Tus-Resumable", "0.2.2"),
        ("Upload-Length", "10"),
        ("Upload-Metadata", &md),
    ]);
    r.expect_problem(412, Some("Tus-Resumable"));
    assert_eq!(r.header("tus-version"), Some("1.0.0"));
    post(&[("Upload-Length", "10"), ("Upload-Metadata", &md)])
        .expect_problem(412, Some("Tus-Resumable"));
    post(&[TUS, ("Upload-Length", "ten"), ("Upload-Metadata", &md)])
        .expect_problem(400, Some("Upload-Length"));
    post(&[TUS, ("Upload-Metadata", &md)]).expect_problem(400, Some("Upload-Length"));
    let unknown = metadata(&[("filename", "a.md"), ("owner", "x")]);
    post(&[TUS, ("Upload-Length", "10"), ("Upload-Metadata", &unknown)])
        .expect_problem(400, Some("Upload-Metadata"));
    post(&[
        TUS,
        ("Upload-Length", "10"),
        ("Upload-Metadata", "filename !!notbase64"),
    ])
    .expect_problem(400, Some("Upload-Metadata"));

    let id = create(&s, &key, 10, &[("filename", "a.md")]);
    let wrong_type = s.raw(
        "PATCH",
        &format!("/v1/uploads/{id}"),
        &[
            ("Authorization", &auth),
            TUS,
            ("Content-Type", "text/plain"),
            ("Upload-Offset", "0"),
        ],
        b"0123456789".to_vec(),
    );
    wrong_type.expect_problem(415, Some("Content-Type"));
    let r = patch(&s, &key, &id, 0, b"0123456789ABC", None);
    r.expect_problem(413, Some("Upload-Length"));
    patch(&s, &key, &id, 0, b"01234", Some("md5 abc")).expect_problem(400, Some("Upload-Checksum"));
    assert_eq!(
        head(&s, &key, &id).header("upload-offset"),
        Some("0"),
        "nothing stored"
    );
    // A read-only key may look but not write.
    let reader = s.create_key(&s.create_tenant("other-reader"), &["read"]);
    patch(&s, &reader, &id, 0, b"01234", None).expect_problem(403, None);
}

#[test]
fn another_tenant_cannot_see_append_read_or_delete_an_upload() {
    let s = Server::start(Opts::default());
    let a = s.create_key(&s.create_tenant("a"), &["read", "write"]);
    let b = s.create_key(&s.create_tenant("b"), &["read", "write"]);
    let id = create(&s, &a, 20, &[("filename", "secret.txt")]);
    patch(&s, &a, &id, 0, b"0123456789", None).expect(204);

    head(&s, &b, &id).expect(404);
    patch(&s, &b, &id, 10, b"abcdefghij", None).expect_problem(404, None);
    s.get(&format!("/v1/documents/{id}"), &b)
        .expect_problem(404, None);
    s.delete(&format!("/v1/documents/{id}"), &b)
        .expect_problem(404, None);
    let auth = format!("Bearer {b}");
    let r = s.raw(
        "DELETE",
        &format!("/v1/uploads/{id}"),
        &[("Authorization", &auth), TUS],
        Vec::new(),
    );
    r.expect_problem(404, None);
    assert_eq!(s.get("/v1/documents", &b).expect(200)["items"], json!([]));

    // A's upload is untouched by all of that and still resumes.
    assert_eq!(head(&s, &a, &id).header("upload-offset"), Some("10"));
    patch(&s, &a, &id, 10, b"abcdefghij", None).expect(204);
    let d = wait_processed(&s, &a, &id);
    assert_eq!(d["status"], "ready", "{d}");
    assert_eq!(chunks(&s, &a, &id)[0]["content"], "0123456789abcdefghij");
    assert!(s.list_all(&b, "").is_empty());

    // tus termination by its own tenant.
    let auth = format!("Bearer {a}");
    s.raw(
        "DELETE",
        &format!("/v1/uploads/{id}"),
        &[("Authorization", &auth), TUS],
        Vec::new(),
    )
    .expect(204);
    head(&s, &a, &id).expect(404);
}

/// Files under `dir` (recursively) that contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .unwrap_or_default()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                found.push(p.display().to_string());
            }
        }
    }
    found
}

/// `sql` in `tenant` of the server's database (row-level security on).
fn tenant_sql(s: &Server, tenant: &str, sql: &str) -> String {
    pg::psql(
        &pg::with_session_tenant(&pg::database_for(&s.data_dir), tenant),
        sql,
    )
}

#[test]
fn the_upload_gc_removes_only_abandoned_uploads() {
    let work = Workdir::new();
    let data = work.data("data");
    let mut s = Server::start_in(&work, &data, Opts::default());
    let tenant = s.create_tenant("gc");
    let key = s.create_key(&tenant, &["read", "write"]);
    let abandoned = create(&s, &key, 100, &[("filename", "left.txt")]);
    patch(&s, &key, &abandoned, 0, b"half of it", None).expect(204);
    let done = upload(
        &s,
        &key,
        b"A finished document about herons.",
        &[("filename", "herons.txt")],
    );
    assert_eq!(wait_processed(&s, &key, &done)["status"], "ready");
    s.terminate();

    // `engram maintain uploads` prints one JSON line per task; its
    // `result` holds the counts. A min interval of 0 lets each run work
    // (a real run keeps its lease that long, so replicas run it once).
    let gc_with = |abandon_after: &str, dry: bool| {
        let mut args = vec!["maintain", "uploads"];
        if dry {
            args.push("--dry-run");
        }
        let opts = Opts::default()
            .env("ENGRAM_UPLOAD_ABANDON_AFTER_SECONDS", abandon_after)
            .env("ENGRAM_MAINTAIN_MIN_INTERVAL_SECONDS", "0");
        let out = common::run_engram(&opts, &data, "127.0.0.1:0", &args);
        assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
        let line: Value = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
        assert_eq!(line["task"], "uploads", "{line}");
        assert_eq!(line["status"], "ok", "{line}");
        line["result"].clone()
    };
    let gc = |dry: bool| gc_with("0", dry);
    assert_eq!(gc(true), json!({"uploads_abandoned": 1}));
    assert_eq!(gc(false), json!({"uploads_removed": 1}));
    assert_eq!(
        gc(false),
        json!({"uploads_removed": 0}),
        "nothing left to remove"
    );
    // Under the default (a day) nothing is old enough.
    assert_eq!(gc_with("86400", false), json!({"uploads_removed": 0}));

    s.restart();
    head(&s, &key, &abandoned).expect(404);
    let d = s
        .get(&format!("/v1/documents/{done}"), &key)
        .expect(200)
        .clone();
    assert_eq!(d["status"], "ready");
    assert_eq!(
        chunks(&s, &key, &done).len(),
        1,
        "the finished document keeps its chunks"
    );
    if pg::backend_is_postgres() {
        let pieces = tenant_sql(
            &s,
            &tenant,
            &format!("SELECT count(*) FROM upload_pieces WHERE document_id = '{abandoned}'"),
        );
        assert_eq!(pieces, "0");
    } else {
        assert!(files_containing(&data.join("uploads"), b"half of it").is_empty());
        assert!(!files_containing(&data.join("uploads"), b"herons").is_empty());
    }
}

#[test]
fn deleting_a_users_memories_erases_their_documents_bytes_and_chunks() {
    erases_a_users_documents(false);
}

#[test]
fn erasing_a_user_erases_their_documents_and_says_so_in_the_receipt() {
    erases_a_users_documents(true);
}

/// Either delete by user scope (`DELETE /v1/memories?user_id=`) or the
/// erasure with a receipt (`DELETE /v1/users/{id}`) takes the documents.
fn erases_a_users_documents(receipt: bool) {
    let work = Workdir::new();
    let data = work.data("data");
    let mut s = Server::start_in(&work, &data, Opts::default());
    let tenant = s.create_tenant("erasure");
    let key = s.create_key(&tenant, &["read", "write"]);
    let secret = "Zqxvbelmorph keeps the vault code under the blue lantern.";
    let id = upload(
        &s,
        &key,
        secret.as_bytes(),
        &[("filename", "vault.txt"), ("user_id", "leaver")],
    );
    let kept = upload(
        &s,
        &key,
        b"Stayer notes about gardening.",
        &[("filename", "g.txt"), ("user_id", "stayer")],
    );
    assert_eq!(wait_processed(&s, &key, &id)["status"], "ready");
    assert_eq!(wait_processed(&s, &key, &kept)["status"], "ready");

    if receipt {
        let r = s.call("DELETE", "/v1/users/leaver", Some(&key), None);
        let erased = &r.expect(200)["erased"];
        assert_eq!(erased["documents"], json!(1), "{erased}");
        assert_eq!(erased["memories"], json!(1), "the one chunk: {erased}");
    } else {
        let r = s.call("DELETE", "/v1/memories?user_id=leaver", Some(&key), None);
        assert_eq!(r.expect(200)["deleted"], json!(1));
    }
    s.get(&format!("/v1/documents/{id}"), &key)
        .expect_problem(404, None);
    assert!(
        s.search_ids(&key, &json!({"query": "vault code lantern"}))
            .iter()
            .all(|h| { s.get(&format!("/v1/memories/{h}"), &key).json["user_id"] != "leaver" })
    );
    assert_eq!(
        s.get(&format!("/v1/documents/{kept}"), &key).expect(200)["status"],
        "ready"
    );

    if pg::backend_is_postgres() {
        for (table, column) in [
            ("memories", "content"),
            ("documents", "title"),
            ("upload_pieces", "encode(bytes, 'escape')"),
        ] {
            let n = tenant_sql(
                &s,
                &tenant,
                &format!("SELECT count(*) FROM {table} WHERE {column} LIKE '%Zqxvbelmorph%'"),
            );
            assert_eq!(n, "0", "{table} still holds the erased text");
        }
        let n = tenant_sql(
            &s,
            &tenant,
            "SELECT count(*) FROM documents WHERE title = 'vault.txt'",
        );
        assert_eq!(n, "0");
    }
    // Shut down: indexes saved, the database checkpointed and closed.
    s.terminate();
    if !pg::backend_is_postgres() {
        let left = files_containing(&data, b"Zqxvbelmorph");
        assert!(left.is_empty(), "the erased text remains in {left:?}");
        assert!(
            !files_containing(&data, b"Stayer notes").is_empty(),
            "the other user's remains"
        );
    }
}
