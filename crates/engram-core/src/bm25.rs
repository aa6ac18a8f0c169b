//! BM25, the lexical score of both stores, defined once: its parameters and
//! its two parts, in Rust for the embedded text index and as SQL for
//! PostgreSQL, so a memory's lexical score does not depend on the backend.

/// Term-frequency saturation: the usual default. Short memories rarely
/// repeat a word, so the score is not sensitive to it.
pub const K1: f32 = 1.2;
/// Length normalization: the usual default.
pub const B: f32 = 0.75;

/// How rare a term is: Lucene's form, `ln(1 + (N - df + 0.5) / (df + 0.5))`,
/// which stays positive even for a term in most documents (the classic form
/// goes negative there and would punish a match).
pub fn idf(docs: f32, df: f32) -> f32 {
    (1.0 + (docs - df + 0.5) / (df + 0.5)).ln()
}

/// The saturating term-frequency part, before idf: `tf` occurrences in a
/// document of `len` terms, where the average is `avg_len`.
pub fn tf_part(tf: f32, len: f32, avg_len: f32) -> f32 {
    tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg_len))
}

/// [`idf`] as an SQL expression over the given (double precision)
/// expressions.
pub fn idf_sql(docs: &str, df: &str) -> String {
    format!("ln(1 + ({docs} - {df} + 0.5) / ({df} + 0.5))")
}

/// [`tf_part`] as an SQL expression over the given (double precision)
/// expressions.
pub fn tf_part_sql(tf: &str, len: &str, avg_len: &str) -> String {
    format!(
        "{tf} * ({K1} + 1) / ({tf} + {K1} * (1 - {B} + {B} * {len} / {avg_len}))",
        K1 = f64::from(K1),
        B = f64::from(B)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rarer_terms_and_denser_matches_score_higher() {
        assert!(idf(1000.0, 1.0) > idf(1000.0, 100.0));
        assert!(idf(1000.0, 999.0) > 0.0, "a common term still counts");
        assert!(tf_part(2.0, 10.0, 10.0) > tf_part(1.0, 10.0, 10.0));
        assert!(tf_part(1.0, 5.0, 10.0) > tf_part(1.0, 20.0, 10.0));
        assert!(tf_part(1000.0, 10.0, 10.0) < K1 + 1.0, "saturates");
    }

    #[test]
    fn sql_renders_the_same_constants() {
        let sql = tf_part_sql("h.tf", "h.dl", "s.avgdl");
        assert!(sql.contains("1.2") && sql.contains("0.75"), "{sql}");
        assert_eq!(
            idf_sql("s.docs", "df.n"),
            "ln(1 + (s.docs - df.n + 0.5) / (df.n + 0.5))"
        );
    }
}
