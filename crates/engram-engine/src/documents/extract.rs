//! A document's text, from its bytes and type. HTML is rendered as
//! Markdown-like text (headings as `#` lines, which the chunker follows);
//! PDF text comes from `pdf-extract` (pure Rust, on `lopdf`).

/// Columns HTML is laid out in: wide enough that paragraphs stay lines of
/// their own instead of being wrapped.
const HTML_WIDTH: usize = 10_000;

/// The text of a document of `content_type` (one of
/// `engram_core::document::CONTENT_TYPES`), or why there is none, said
/// so that the uploader knows what to fix.
pub fn text(content_type: &str, bytes: Vec<u8>) -> Result<String, String> {
    match content_type {
        "text/plain" | "text/markdown" => String::from_utf8(bytes).map_err(|e| {
            format!(
                "the file is not UTF-8 text (invalid byte at offset {}); save it as UTF-8 and upload it again",
                e.utf8_error().valid_up_to()
            )
        }),
        "text/html" => html2text::config::plain()
            .link_footnotes(false)
            .string_from_read(bytes.as_slice(), HTML_WIDTH)
            .map_err(|e| format!("the HTML could not be read ({e})")),
        "application/pdf" => pdf(&bytes),
        other => Err(format!("{other} is not a document type engram reads")),
    }
}

/// `pdf-extract` panics on some malformed files instead of failing; a
/// panic is a file that cannot be read, not a bug of the job.
fn pdf(bytes: &[u8]) -> Result<String, String> {
    match std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(bytes)) {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(e)) => Err(format!(
            "no text could be extracted from the PDF ({e}); a scanned PDF needs OCR first"
        )),
        Err(_) => Err("the PDF is malformed and no text could be extracted from it".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_headings_become_markdown_headings_and_scripts_are_dropped() {
        let html = b"<html><head><title>T</title><script>var x = 1;</script></head><body>\
            <h1>Alpine lakes</h1><p>The water is cold.</p><h2>Fishing</h2><p>Trout bite at dawn.</p></body></html>";
        let t = text("text/html", html.to_vec()).unwrap();
        assert!(t.contains("# Alpine lakes"), "{t}");
        assert!(t.contains("## Fishing"), "{t}");
        assert!(t.contains("Trout bite at dawn."), "{t}");
        assert!(!t.contains("var x"), "{t}");
    }

    #[test]
    fn text_must_be_utf8_and_a_broken_pdf_is_an_error_not_a_panic() {
        assert_eq!(text("text/plain", b"hi".to_vec()).unwrap(), "hi");
        let e = text("text/markdown", vec![b'a', 0xff]).unwrap_err();
        assert!(e.contains("offset 1"), "{e}");
        assert!(text("application/pdf", b"%PDF-1.4 garbage".to_vec()).is_err());
    }
}
