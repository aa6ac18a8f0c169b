//! Plain text tables: columns as wide as their widest cell, long text cut
//! with an ellipsis so one row stays one line.

use serde_json::Value;

/// The widest a column gets before its cells are cut.
const MAX_WIDTH: usize = 60;

/// A table of `rows` under `headers`; `(none)` when there are no rows.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return "(none)".to_string();
    }
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
                .min(MAX_WIDTH)
        })
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, &w)| format!("{:<w$}", cut(c, w)))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(headers.iter().map(|h| h.to_uppercase()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}

fn cut(s: &str, width: usize) -> String {
    let one_line = s.replace(['\n', '\r'], " ");
    if one_line.chars().count() <= width {
        return one_line;
    }
    let mut kept: String = one_line.chars().take(width.saturating_sub(1)).collect();
    kept.push('…');
    kept
}

/// A cell: strings as they are, absent values as `-`, the rest as JSON.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// An RFC 3339 time cut to the minute, as people read it.
pub fn time(v: &Value) -> String {
    match v.as_str() {
        Some(t) if t.len() >= 16 => t[..16].replace('T', " "),
        _ => cell(v),
    }
}

/// A table of JSON objects (`items`, an array), one column per field;
/// times cut to the minute.
pub fn objects(items: &Value, columns: &[&str]) -> String {
    let rows: Vec<Vec<String>> = items
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            columns
                .iter()
                .map(|c| match *c {
                    "occurred_at" | "created_at" => time(&m[*c]),
                    _ => cell(&m[*c]),
                })
                .collect()
        })
        .collect();
    render(columns, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_long_cells_are_cut() {
        let long = "x".repeat(100);
        let t = render(
            &["id", "content"],
            &[
                vec!["a".into(), "short".into()],
                vec!["bbb".into(), long.clone()],
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "ID   CONTENT");
        assert_eq!(lines[1], "a    short");
        assert!(lines[2].starts_with("bbb  xxx") && lines[2].ends_with('…'));
        assert_eq!(lines[2].chars().count(), 5 + MAX_WIDTH);
        assert_eq!(render(&["id"], &[]), "(none)");
    }

    #[test]
    fn cells_of_json() {
        assert_eq!(cell(&Value::Null), "-");
        assert_eq!(cell(&serde_json::json!(["a", "b"])), "a,b");
        assert_eq!(
            time(&serde_json::json!("2024-05-01T12:34:56.789Z")),
            "2024-05-01 12:34"
        );
    }
}
