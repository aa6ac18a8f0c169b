//! How a read is scoped and shaped: filters, search modes, page cursors.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::graph::GraphExpansion;
use crate::memory::{Kind, validate_id};
use crate::{Error, Memory, Result};

pub const MAX_SEARCH_LIMIT: usize = 100;
pub const DEFAULT_SEARCH_LIMIT: usize = 10;
pub const MAX_LIST_LIMIT: usize = 1000;
pub const DEFAULT_LIST_LIMIT: usize = 50;

/// Restricts a read to part of a tenant. Every condition must hold; `labels`
/// requires all the given labels.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub kind: Option<Kind>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Only memories that occurred at or after this time.
    #[serde(default)]
    pub after: Option<DateTime<Utc>>,
    /// Only memories that occurred before this time.
    #[serde(default)]
    pub before: Option<DateTime<Utc>>,
    /// Only memories valid at this time (see [`crate::temporal`]). Not a
    /// filter field clients send: searches set it from their `as_of`
    /// (default now), so they return what holds, not what was replaced.
    #[serde(skip)]
    pub valid_at: Option<DateTime<Utc>>,
    /// Only memories of these sessions: a search scoped to a folder or
    /// label of conversations (the engine resolves it to their ids). Not
    /// part of a request body.
    #[serde(skip)]
    pub sessions: Option<Vec<String>>,
    /// No memory of these sessions: archived conversations, left out of
    /// searches unless asked for. Not part of a request body.
    #[serde(skip)]
    pub excluded_sessions: Vec<String>,
}

impl Filter {
    pub fn validate(&self, at: &str) -> Result<()> {
        for (name, value) in [
            ("user_id", &self.user_id),
            ("agent_id", &self.agent_id),
            ("session_id", &self.session_id),
        ] {
            if let Some(v) = value {
                validate_id(v, &format!("{at}{name}"))?;
            }
        }
        if let (Some(a), Some(b)) = (self.after, self.before)
            && a >= b
        {
            return Err(Error::invalid(
                format!("{at}after"),
                "must be earlier than before",
            ));
        }
        Ok(())
    }

    /// True when the filter names a user, agent or session: the guard that
    /// keeps a bulk delete from wiping a whole tenant by accident.
    pub fn has_scope(&self) -> bool {
        self.user_id.is_some() || self.agent_id.is_some() || self.session_id.is_some()
    }

    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// The filter as its conditions, every one of which must hold. This is
    /// the one meaning of a filter: each store translates these atoms (to
    /// SQL, or to posting lists) and nothing else, so a new kind of
    /// condition is added here once and every backend fails to compile
    /// until it handles it.
    pub fn conditions(&self) -> Vec<Condition<'_>> {
        let mut out: Vec<Condition<'_>> = [
            (Field::UserId, self.user_id.as_deref()),
            (Field::AgentId, self.agent_id.as_deref()),
            (Field::SessionId, self.session_id.as_deref()),
            (Field::Kind, self.kind.map(Kind::as_str)),
        ]
        .into_iter()
        .filter_map(|(field, v)| Some(Condition::Equals(field, v?)))
        .collect();
        out.extend(self.labels.iter().map(|l| Condition::HasLabel(l)));
        out.extend(self.after.map(Condition::OccurredFrom));
        out.extend(self.before.map(Condition::OccurredBefore));
        out.extend(self.valid_at.map(Condition::ValidAt));
        out.extend(
            self.sessions
                .as_deref()
                .map(|s| Condition::OneOf(Field::SessionId, s)),
        );
        if !self.excluded_sessions.is_empty() {
            out.push(Condition::NoneOf(Field::SessionId, &self.excluded_sessions));
        }
        out
    }

    /// Whether `m` passes: where a candidate set is checked in memory, and
    /// the reference the stores' translations are tested against.
    pub fn matches(&self, m: &Memory) -> bool {
        self.conditions().iter().all(|c| c.holds(m))
    }
}

/// A field a [`Condition::Equals`] compares; its column has the same name
/// in both stores' `memories` tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    UserId,
    AgentId,
    SessionId,
    Kind,
}

impl Field {
    pub fn column(self) -> &'static str {
        match self {
            Field::UserId => "user_id",
            Field::AgentId => "agent_id",
            Field::SessionId => "session_id",
            Field::Kind => "kind",
        }
    }

    /// The memory's value of this field (a kind as its name).
    pub fn of(self, m: &Memory) -> Option<&str> {
        match self {
            Field::UserId => m.user_id.as_deref(),
            Field::AgentId => m.agent_id.as_deref(),
            Field::SessionId => m.session_id.as_deref(),
            Field::Kind => Some(m.kind.as_str()),
        }
    }
}

/// One condition of a [`Filter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Condition<'a> {
    /// The field has exactly this value (a memory without one never does).
    Equals(Field, &'a str),
    /// The memory carries this label (among others).
    HasLabel(&'a str),
    /// It occurred at or after this time (inclusive).
    OccurredFrom(DateTime<Utc>),
    /// It occurred before this time (exclusive), so consecutive windows
    /// `[a, b)` and `[b, c)` never count a memory twice.
    OccurredBefore(DateTime<Utc>),
    /// It was valid at this time: `valid_from` absent or at most it, and
    /// `valid_to` absent or after it.
    ValidAt(DateTime<Utc>),
    /// The field has one of these values (none: nothing passes).
    OneOf(Field, &'a [String]),
    /// The field has none of these values (a memory without one passes).
    NoneOf(Field, &'a [String]),
}

impl Condition<'_> {
    pub fn holds(&self, m: &Memory) -> bool {
        match *self {
            Condition::Equals(field, v) => field.of(m) == Some(v),
            Condition::HasLabel(l) => m.labels.iter().any(|have| have == l),
            Condition::OccurredFrom(t) => m.occurred_at >= t,
            Condition::OccurredBefore(t) => m.occurred_at < t,
            Condition::ValidAt(t) => m.temporal.valid_at(t),
            Condition::OneOf(field, vs) => field.of(m).is_some_and(|v| vs.iter().any(|w| w == v)),
            Condition::NoneOf(field, vs) => field.of(m).is_none_or(|v| vs.iter().all(|w| w != v)),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Lexical and dense rankings fused: robust to both exact terms and
    /// paraphrase.
    #[default]
    Hybrid,
    Vector,
    Keyword,
}

impl SearchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchMode::Hybrid => "hybrid",
            SearchMode::Vector => "vector",
            SearchMode::Keyword => "keyword",
        }
    }
}

pub fn validate_limit(limit: usize, max: usize, field: &str) -> Result<()> {
    if limit == 0 || limit > max {
        return Err(Error::invalid(
            field,
            format!("must be between 1 and {max}"),
        ));
    }
    Ok(())
}

/// Position in a newest-first listing: the last item's time and id. Opaque
/// to clients; stable under concurrent inserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub occurred_at_us: i64,
    pub id: String,
}

impl Cursor {
    pub fn after(m: &Memory) -> Cursor {
        Cursor {
            occurred_at_us: m.occurred_at.timestamp_micros(),
            id: m.id.clone(),
        }
    }

    pub fn encode(&self) -> String {
        let raw = format!("{}:{}", self.occurred_at_us, self.id);
        raw.bytes().map(|b| format!("{b:02x}")).collect()
    }

    pub fn decode(s: &str) -> Result<Cursor> {
        let bad = || Error::invalid("cursor", "is not a cursor returned by this server");
        if !s.len().is_multiple_of(2) || s.len() > 1024 {
            return Err(bad());
        }
        let bytes: Option<Vec<u8>> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
            .collect();
        let raw = String::from_utf8(bytes.ok_or_else(bad)?).map_err(|_| bad())?;
        let (ts, id) = raw.split_once(':').ok_or_else(bad)?;
        Ok(Cursor {
            occurred_at_us: ts.parse().map_err(|_| bad())?,
            id: id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewMemory;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            occurred_at_us: 1_700_000_000_000_000,
            id: "0190-abc".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(Cursor::decode("zz").is_err());
        assert!(Cursor::decode("abc").is_err());
        assert!(Cursor::decode("4142").is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert!(validate_limit(0, 100, "limit").is_err());
        assert!(validate_limit(10_000, 100, "limit").is_err());
        assert!(validate_limit(100, 100, "limit").is_ok());
    }

    #[test]
    fn filter_matches_every_condition() {
        let now = Utc::now();
        let mut m = Memory::from_new(
            "1".into(),
            NewMemory {
                content: "x".into(),
                user_id: Some("alice".into()),
                labels: vec!["a".into(), "b".into()],
                ..Default::default()
            },
            now,
        );
        m.kind = Kind::Semantic;
        let mut f = Filter {
            user_id: Some("alice".into()),
            labels: vec!["a".into()],
            ..Default::default()
        };
        assert!(f.matches(&m));
        f.kind = Some(Kind::Episodic);
        assert!(!f.matches(&m));
        f.kind = None;
        f.before = Some(m.occurred_at);
        assert!(!f.matches(&m), "before is exclusive");
        assert!(!Filter::default().has_scope());
        f.before = None;
        m.temporal.valid_to = Some(m.occurred_at);
        f.valid_at = Some(m.occurred_at);
        assert!(!f.matches(&m), "valid_to is exclusive");
        f.valid_at = Some(m.occurred_at - chrono::Duration::seconds(1));
        assert!(f.matches(&m));
    }

    #[test]
    fn session_sets_include_and_exclude() {
        let mut m = Memory::from_new(
            "1".into(),
            NewMemory {
                content: "x".into(),
                ..Default::default()
            },
            Utc::now(),
        );
        let mut f = Filter {
            excluded_sessions: vec!["a".into()],
            ..Default::default()
        };
        assert!(f.matches(&m), "a memory without a session is not excluded");
        m.session_id = Some("a".into());
        assert!(!f.matches(&m));
        f.excluded_sessions.clear();
        f.sessions = Some(vec![]);
        assert!(!f.matches(&m), "an empty set passes nothing");
        f.sessions = Some(vec!["b".into(), "a".into()]);
        assert!(f.matches(&m));
    }

    #[test]
    fn inverted_time_range_is_refused() {
        let now = Utc::now();
        let f = Filter {
            after: Some(now),
            before: Some(now),
            ..Default::default()
        };
        assert!(f.validate("filters.").is_err());
    }
}

pub const MAX_QUERY_CHARS: usize = 4096;
pub const DEFAULT_TOKEN_BUDGET: usize = 1000;
pub const MAX_TOKEN_BUDGET: usize = 100_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    pub query: String,
    /// 1 to 100; default 10.
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub mode: SearchMode,
    #[serde(default)]
    pub filters: Filter,
    /// The query's vector, for clients that embed with the same model
    /// themselves; skips query embedding. Must match the index dimension.
    #[serde(default)]
    pub embedding: Option<Vec<f32>>,
    /// Return what was valid at this time; default now, so facts that
    /// were replaced or invalidated are left out (docs/FACTS.md).
    #[serde(default)]
    pub as_of: Option<DateTime<Utc>>,
    /// Also search the messages of archived conversations (left out by
    /// default).
    #[serde(default)]
    pub include_archived: bool,
    /// Add each result's `explain`: the lexical and vector signals behind
    /// its score, for tuning a query (and the console's playground).
    #[serde(default)]
    pub explain: bool,
    /// Also bring in the memories linked through the knowledge graph to
    /// the query's entities and their neighbours, fused with the hybrid
    /// ranking (docs/GRAPH.md); e.g. `{"depth": 1}`.
    #[serde(default)]
    pub graph: Option<GraphExpansion>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContextRequest {
    pub query: String,
    /// Upper bound on the tokens of `context`; default 1000.
    #[serde(default)]
    pub token_budget: Option<usize>,
    #[serde(default)]
    pub filters: Filter,
    /// As in a search: what was valid at this time; default now.
    #[serde(default)]
    pub as_of: Option<DateTime<Utc>>,
    /// Start the block with the summary (kind `summary`, under the same
    /// filters) that best matches the query, so the prompt gets the gist
    /// before the details (docs/FACTS.md).
    #[serde(default)]
    pub lead_with_summary: bool,
    /// Also draw on the messages of archived conversations (left out by
    /// default).
    #[serde(default)]
    pub include_archived: bool,
    /// As in a search: also draw on the memories linked through the
    /// knowledge graph (docs/GRAPH.md).
    #[serde(default)]
    pub graph: Option<GraphExpansion>,
}

pub fn validate_query(q: &str) -> Result<()> {
    if q.trim().is_empty() {
        return Err(Error::invalid("query", "must not be empty"));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::invalid(
            "query",
            format!("is longer than {MAX_QUERY_CHARS} characters"),
        ));
    }
    Ok(())
}

impl SearchRequest {
    pub fn validate(&self) -> Result<()> {
        validate_query(&self.query)?;
        validate_limit(self.limit(), MAX_SEARCH_LIMIT, "limit")?;
        if let Some(g) = &self.graph {
            g.validate()?;
        }
        self.filters.validate("filters.")
    }

    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_SEARCH_LIMIT)
    }
}

impl ContextRequest {
    pub fn validate(&self) -> Result<()> {
        validate_query(&self.query)?;
        validate_limit(self.token_budget(), MAX_TOKEN_BUDGET, "token_budget")?;
        if let Some(g) = &self.graph {
            g.validate()?;
        }
        self.filters.validate("filters.")
    }

    pub fn token_budget(&self) -> usize {
        self.token_budget.unwrap_or(DEFAULT_TOKEN_BUDGET)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ScoredMemory {
    pub memory: Memory,
    pub score: f32,
    /// What the score is made of; only when the search asked `explain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explain: Option<ScoreExplain>,
}

/// Why a result ranks where it does. The raw signals are on their own
/// scales (BM25 is unbounded, cosine lies in -1..1), which is why they are
/// fused rather than added; seeing both tells whether a result was found
/// by its words, its meaning, or both (docs/RETRIEVAL.md).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ScoreExplain {
    /// BM25 relevance of the query's words; absent when none matched, or
    /// in mode `vector`.
    pub lexical: Option<f32>,
    /// Cosine similarity to the query's embedding; absent in mode
    /// `keyword`.
    pub vector: Option<f32>,
    /// The first-stage score: the mode's signal (both fused, in hybrid)
    /// plus the importance, recency and pin boosts. `score` differs from it
    /// only when the cross-encoder re-scored the result or a graph
    /// expansion fused it with the graph's ranking (docs/GRAPH.md).
    pub fused: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct SearchResponse {
    pub results: Vec<ScoredMemory>,
    pub took_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ContextCitation {
    pub id: String,
    pub content: String,
    pub occurred_at: DateTime<Utc>,
    pub score: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ContextResponse {
    /// Prompt-ready text, one memory a line, each citing its time and id.
    pub context: String,
    /// Tokens of `context`, counted with the embedding model's tokenizer.
    pub tokens: usize,
    pub items: Vec<ContextCitation>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Page {
    pub items: Vec<Memory>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}
