//! BM25 in SQL, so lexical scores rank like the embedded store's text index.
//!
//! PostgreSQL's own `ts_rank` ignores how rare a term is across documents,
//! which is most of what makes BM25 work on short memories. Here the
//! ingredients come from the index instead: term frequencies from the
//! `tsvector` positions, document frequencies counted over the candidate
//! set (every document holding a query term is a candidate, so the count is
//! exact), the tenant's document count and average length from
//! `lexical_stats`. Document length is the number of distinct lexemes.
//! Filters restrict the results, never the statistics, as on the embedded
//! store. The formula and its parameters are engram_core::bm25's.

use engram_core::bm25;

/// The query, given parameters `$1` tenant, `$2` the terms separated by
/// spaces, `$3` the terms separated by ` or ` (a `websearch_to_tsquery`
/// disjunction), then the parameters of `filters` (conditions on alias
/// `m`), and `$limit` the number of hits.
pub fn bm25_sql(filters: &str, limit: usize) -> String {
    format!(
        "WITH q AS (
            SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', $2))
        ), hits AS MATERIALIZED (
            SELECT m.id, length(m.lexical)::float8 AS dl, t.lexeme,
                   coalesce(array_length(t.positions, 1), 1)::float8 AS tf,
                   (true{filters}) AS wanted
              FROM memories m CROSS JOIN LATERAL unnest(m.lexical) t
             WHERE m.tenant_id = $1
               AND m.lexical @@ websearch_to_tsquery('english', $3)
               AND t.lexeme IN (SELECT lexeme FROM q)
        ), df AS (
            SELECT lexeme, count(*)::float8 AS n FROM hits GROUP BY lexeme
        ), stats AS (
            SELECT greatest(coalesce(sum(docs), 0), 1)::float8 AS docs,
                   greatest(coalesce(sum(lexemes), 0)::float8 / greatest(coalesce(sum(docs), 0), 1), 1) AS avgdl
              FROM lexical_stats WHERE tenant_id = $1
        )
        SELECT h.id,
               sum({idf} * {tf_part}) AS score
          FROM hits h JOIN df USING (lexeme) CROSS JOIN stats s
         WHERE h.wanted
         GROUP BY h.id
         ORDER BY score DESC, h.id
         LIMIT ${limit}",
        idf = bm25::idf_sql("s.docs", "df.n"),
        tf_part = bm25::tf_part_sql("h.tf", "h.dl", "s.avgdl"),
    )
}
