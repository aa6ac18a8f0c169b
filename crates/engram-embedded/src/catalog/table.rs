//! One tenant's catalog: what ranking and filtering need to know of each
//! memory, kept in memory beside the text and vector indexes.
//!
//! With it a search selects its filter's rows and ranks its candidates
//! without reading any of them from SQLite; only the winners' rows are
//! read. Rows on disk are what a large store waits for: the operating
//! system evicts pages that are not touched, and a million memories'
//! rows do not stay cached (docs/BENCHMARKS.md, *Speed at scale*).

use std::collections::HashMap;

use engram_core::cancel::Cancel;
use engram_core::query::{self, Condition};
use engram_core::temporal::Temporal;
use engram_core::{Filter, Kind, Memory, Result};

use super::payload::{check, pack, unpack};
use crate::rows::time;

/// The value of a field a memory does not have (no user, agent or session).
pub const NONE: u32 = u32::MAX;
/// `valid_from` of a memory valid since always.
pub const SINCE_ALWAYS: i64 = i64::MIN;
/// `valid_to` of a memory still valid.
pub const STILL_VALID: i64 = i64::MAX;

/// One memory's catalogued fields; names are interned.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub importance: f32,
    pub occurred_at: i64,
    /// Microseconds, or [`SINCE_ALWAYS`].
    pub valid_from: i64,
    /// Microseconds, or [`STILL_VALID`].
    pub valid_to: i64,
    pub user: u32,
    pub agent: u32,
    pub session: u32,
    pub kind: u32,
    /// In the memory's own order.
    pub labels: Box<[u32]>,
    /// Everything else, packed (see [`super::payload`]).
    pub rest: Box<[u8]>,
}

/// The fields with posting lists: those filters name by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    User,
    Agent,
    Session,
    Label,
}

impl Facts {
    /// The posting lists the row belongs in, each once.
    fn keys(&self) -> Vec<(Field, u32)> {
        let mut keys = Vec::with_capacity(3 + self.labels.len());
        self.each_key(|k| keys.push(k));
        keys
    }

    /// [`Facts::keys`] without collecting them: rebuilding the lists of a
    /// million rows on load does no allocation per row.
    fn each_key(&self, mut f: impl FnMut((Field, u32))) {
        for key in [
            (Field::User, self.user),
            (Field::Agent, self.agent),
            (Field::Session, self.session),
        ] {
            if key.1 != NONE {
                f(key);
            }
        }
        if self.labels.len() <= 1 {
            self.labels.iter().for_each(|l| f((Field::Label, *l)));
        } else {
            let mut labels = self.labels.to_vec();
            labels.sort_unstable();
            labels.dedup();
            labels.into_iter().for_each(|l| f((Field::Label, l)));
        }
    }
}

/// A filter in interned form.
#[derive(Default)]
struct Wanted {
    user: Option<u32>,
    agent: Option<u32>,
    session: Option<u32>,
    kind: Option<u32>,
    labels: Vec<u32>,
    after: Option<i64>,
    before: Option<i64>,
    valid_at: Option<i64>,
    /// The field's value must be one of these (interned; unknown names
    /// dropped, as no memory has them).
    one_of: Vec<(query::Field, Vec<u32>)>,
    /// The field's value must be none of these.
    none_of: Vec<(query::Field, Vec<u32>)>,
}

/// A memory's interned value of `field` ([`NONE`] when it has none).
fn value(f: &Facts, field: query::Field) -> u32 {
    match field {
        query::Field::UserId => f.user,
        query::Field::AgentId => f.agent,
        query::Field::SessionId => f.session,
        query::Field::Kind => f.kind,
    }
}

/// The posting lists of `field`, if it has them.
fn posted(field: query::Field) -> Option<Field> {
    match field {
        query::Field::UserId => Some(Field::User),
        query::Field::AgentId => Some(Field::Agent),
        query::Field::SessionId => Some(Field::Session),
        query::Field::Kind => None,
    }
}

impl Wanted {
    fn matches(&self, f: &Facts) -> bool {
        self.user.is_none_or(|u| u == f.user)
            && self.agent.is_none_or(|a| a == f.agent)
            && self.session.is_none_or(|s| s == f.session)
            && self.kind.is_none_or(|k| k == f.kind)
            && self.labels.iter().all(|l| f.labels.contains(l))
            && self.after.is_none_or(|a| f.occurred_at >= a)
            && self.before.is_none_or(|b| f.occurred_at < b)
            && self
                .valid_at
                .is_none_or(|t| f.valid_from <= t && t < f.valid_to)
            && self
                .one_of
                .iter()
                .all(|(field, vs)| vs.contains(&value(f, *field)))
            && self
                .none_of
                .iter()
                .all(|(field, vs)| !vs.contains(&value(f, *field)))
    }

    fn keys(&self) -> Vec<(Field, u32)> {
        [
            (Field::User, self.user),
            (Field::Agent, self.agent),
            (Field::Session, self.session),
        ]
        .into_iter()
        .filter_map(|(field, v)| Some((field, v?)))
        .chain(self.labels.iter().map(|l| (Field::Label, *l)))
        .collect()
    }
}

#[derive(Default)]
pub struct Catalog {
    names: Vec<String>,
    ids: HashMap<String, u32>,
    facts: HashMap<i64, Facts>,
    /// Rows by field value, ascending. Entries are added, never removed
    /// one by one: a removed row or a changed value leaves a stale entry,
    /// which every read checks against `facts`, and the lists are rebuilt
    /// once stale entries outnumber the rows.
    postings: HashMap<(Field, u32), Vec<i64>>,
    stale: usize,
}

impl Catalog {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.facts.len()
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    fn intern_opt(&mut self, name: Option<&str>) -> u32 {
        name.map_or(NONE, |n| self.intern(n))
    }

    /// Catalogues a memory stored at `rowid`, replacing what was there.
    pub fn upsert(&mut self, rowid: i64, m: &Memory) {
        let facts = Facts {
            importance: m.importance,
            occurred_at: m.occurred_at.timestamp_micros(),
            valid_from: m
                .temporal
                .valid_from
                .map_or(SINCE_ALWAYS, |t| t.timestamp_micros()),
            valid_to: m
                .temporal
                .valid_to
                .map_or(STILL_VALID, |t| t.timestamp_micros()),
            user: self.intern_opt(m.user_id.as_deref()),
            agent: self.intern_opt(m.agent_id.as_deref()),
            session: self.intern_opt(m.session_id.as_deref()),
            kind: self.intern(m.kind.as_str()),
            labels: m.labels.iter().map(|l| self.intern(l)).collect(),
            rest: pack(m),
        };
        self.insert(rowid, facts);
    }

    fn insert(&mut self, rowid: i64, facts: Facts) {
        let keys = facts.keys();
        let old = self.facts.insert(rowid, facts).map(|f| f.keys());
        let old = old.unwrap_or_default();
        self.stale += old.iter().filter(|k| !keys.contains(k)).count();
        for key in keys.into_iter().filter(|k| !old.contains(k)) {
            let list = self.postings.entry(key).or_default();
            match list.last() {
                Some(&last) if last >= rowid => {
                    if let Err(at) = list.binary_search(&rowid) {
                        list.insert(at, rowid);
                    }
                }
                _ => list.push(rowid),
            }
        }
        self.compact_if_stale();
    }

    /// Forgets a row; false when it was not catalogued.
    pub fn remove(&mut self, rowid: i64) -> bool {
        let Some(f) = self.facts.remove(&rowid) else {
            return false;
        };
        self.stale += f.keys().len();
        self.compact_if_stale();
        true
    }

    fn compact_if_stale(&mut self) {
        if self.stale > 1024 && self.stale > self.facts.len() {
            self.rebuild_postings();
        }
    }

    /// Rebuilds the postings from the live rows, so no key of a removed row
    /// (a user or session id) is left to be saved (exact erasure).
    pub fn rebuild_postings(&mut self) {
        self.postings.clear();
        let mut rows: Vec<i64> = self.facts.keys().copied().collect();
        rows.sort_unstable();
        for rowid in rows {
            let postings = &mut self.postings;
            self.facts[&rowid].each_key(|key| postings.entry(key).or_default().push(rowid));
        }
        self.stale = 0;
    }

    /// The filter in interned form, condition by condition; `None` when it
    /// names a value no memory has, so nothing matches.
    fn resolve(&self, f: &Filter) -> Option<Wanted> {
        let id = |name: &str| self.ids.get(name).copied();
        let mut w = Wanted::default();
        for c in f.conditions() {
            match c {
                Condition::Equals(field, v) => {
                    let slot = match field {
                        query::Field::UserId => &mut w.user,
                        query::Field::AgentId => &mut w.agent,
                        query::Field::SessionId => &mut w.session,
                        query::Field::Kind => &mut w.kind,
                    };
                    *slot = Some(id(v)?);
                }
                Condition::HasLabel(l) => w.labels.push(id(l)?),
                Condition::OccurredFrom(t) => w.after = Some(t.timestamp_micros()),
                Condition::OccurredBefore(t) => w.before = Some(t.timestamp_micros()),
                Condition::ValidAt(t) => w.valid_at = Some(t.timestamp_micros()),
                Condition::OneOf(field, vs) => {
                    let known: Vec<u32> = vs.iter().filter_map(|v| id(v)).collect();
                    if known.is_empty() {
                        return None;
                    }
                    w.one_of.push((field, known));
                }
                Condition::NoneOf(field, vs) => {
                    w.none_of
                        .push((field, vs.iter().filter_map(|v| id(v)).collect()));
                }
            }
        }
        Some(w)
    }

    /// The rows that pass `filter`, ascending. Starts from the shortest
    /// posting list the filter names, or from every row when it names none
    /// (a time range alone), checking `cancel` as it goes.
    pub fn allowed(&self, filter: &Filter, cancel: &Cancel) -> Result<Vec<i64>> {
        let Some(wanted) = self.resolve(filter) else {
            return Ok(Vec::new());
        };
        let shortest = wanted
            .keys()
            .into_iter()
            .map(|k| self.postings.get(&k).map_or(&[][..], Vec::as_slice))
            .min_by_key(|list| list.len());
        let mut every = cancel.every();
        let mut select = |rows: &mut dyn Iterator<Item = i64>| -> Result<Vec<i64>> {
            let mut out = Vec::new();
            for rowid in rows {
                every.step()?;
                if self.facts.get(&rowid).is_some_and(|f| wanted.matches(f)) {
                    out.push(rowid);
                }
            }
            Ok(out)
        };
        let union = match shortest {
            Some(_) => None,
            None => self.union_of_one_of(&wanted),
        };
        match (shortest, union) {
            (Some(list), _) => select(&mut list.iter().copied()),
            (None, Some(rows)) => select(&mut rows.into_iter()),
            (None, None) => {
                let mut rows = select(&mut self.facts.keys().copied())?;
                rows.sort_unstable();
                Ok(rows)
            }
        }
    }

    /// The rows of the first `one_of` set of a field with posting lists,
    /// ascending: where a filter naming only a set of sessions starts.
    fn union_of_one_of(&self, wanted: &Wanted) -> Option<Vec<i64>> {
        let (field, vs) = wanted
            .one_of
            .iter()
            .find_map(|(f, vs)| Some((posted(*f)?, vs)))?;
        let mut rows: Vec<i64> = vs
            .iter()
            .filter_map(|v| self.postings.get(&(field, *v)))
            .flatten()
            .copied()
            .collect();
        rows.sort_unstable();
        rows.dedup();
        Some(rows)
    }

    /// [`Catalog::allowed`], never cancelled.
    #[cfg(test)]
    pub fn passing(&self, filter: &Filter) -> Vec<i64> {
        self.allowed(filter, &Cancel::new())
            .expect("never cancelled")
    }

    /// The interned ids of these names (those some memory has).
    pub fn known(&self, names: &[String]) -> Vec<u32> {
        names
            .iter()
            .filter_map(|n| self.ids.get(n).copied())
            .collect()
    }

    pub fn facts(&self, rowid: i64) -> Option<&Facts> {
        self.facts.get(&rowid)
    }

    /// The memory at `rowid`, whole; `None` when it is not catalogued.
    /// Packed by `upsert` in this process or checked by `from_parts`, so
    /// the error (what does not read back) is never expected.
    pub fn memory(&self, rowid: i64) -> Option<Result<Memory, String>> {
        let f = self.facts.get(&rowid)?;
        Some(self.whole(f))
    }

    fn whole(&self, f: &Facts) -> Result<Memory, String> {
        let rest = unpack(&f.rest)?;
        let name = |id: u32| (id != NONE).then(|| self.names[id as usize].clone());
        Ok(Memory {
            id: rest.id,
            content: rest.content,
            kind: kind(&self.names[f.kind as usize])?,
            user_id: name(f.user),
            agent_id: name(f.agent),
            session_id: name(f.session),
            role: rest.role,
            labels: f.labels.iter().filter_map(|l| name(*l)).collect(),
            metadata: rest.metadata,
            importance: f.importance,
            occurred_at: time(f.occurred_at)?,
            created_at: time(rest.created_at)?,
            updated_at: time(rest.updated_at)?,
            temporal: Temporal {
                valid_from: bound(f.valid_from, SINCE_ALWAYS)?,
                valid_to: bound(f.valid_to, STILL_VALID)?,
                sources: rest.sources,
                version: rest.version,
                version_of: rest.version_of,
            },
        })
    }

    /// Everything, for saving: interned names, and facts by ascending rowid.
    pub fn parts(&self) -> (&[String], Vec<(i64, &Facts)>) {
        let mut rows: Vec<(i64, &Facts)> = self.facts.iter().map(|(r, f)| (*r, f)).collect();
        rows.sort_unstable_by_key(|(r, _)| *r);
        (&self.names, rows)
    }

    /// A catalog from saved parts, checked whole: every name distinct,
    /// every value a known name, every kind and time one engram writes,
    /// every row once and its rest readable.
    pub fn from_parts(names: Vec<String>, rows: Vec<(i64, Facts)>) -> Result<Catalog, String> {
        let ids: HashMap<String, u32> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        if ids.len() != names.len() {
            return Err("a name is listed twice".into());
        }
        let known = |v: u32| (v as usize) < names.len();
        let n_rows = rows.len();
        let mut facts = HashMap::with_capacity(n_rows);
        for (rowid, f) in rows {
            let optional = [f.user, f.agent, f.session];
            if !optional.iter().all(|v| *v == NONE || known(*v))
                || !known(f.kind)
                || !f.labels.iter().all(|v| known(*v))
            {
                return Err(format!("row {rowid} names a value the file does not hold"));
            }
            kind(&names[f.kind as usize])
                .and(time(f.occurred_at))
                .and(bound(f.valid_from, SINCE_ALWAYS))
                .and(bound(f.valid_to, STILL_VALID))
                .and(check(&f.rest))
                .map_err(|e| format!("row {rowid}: {e}"))?;
            if facts.insert(rowid, f).is_some() {
                return Err(format!("row {rowid} is listed twice"));
            }
        }
        let mut catalog = Catalog {
            names,
            ids,
            facts,
            postings: HashMap::new(),
            stale: 0,
        };
        catalog.rebuild_postings();
        Ok(catalog)
    }
}

/// A validity bound: `open` for none, else a time.
fn bound(us: i64, open: i64) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
    (us != open).then(|| time(us)).transpose()
}

fn kind(name: &str) -> Result<Kind, String> {
    Kind::parse(name).ok_or_else(|| "not a kind engram writes".into())
}

/// A memory with the catalogued fields given and the rest defaulted.
#[cfg(test)]
pub fn sample(user: Option<&str>, session: Option<&str>, labels: &[&str], at: i64) -> Memory {
    let now = chrono::DateTime::from_timestamp(at + 1, 0).unwrap_or_default();
    Memory {
        id: format!("m{at}"),
        content: "x".into(),
        kind: engram_core::Kind::Episodic,
        user_id: user.map(str::to_string),
        agent_id: None,
        session_id: session.map(str::to_string),
        role: None,
        labels: labels.iter().map(|l| l.to_string()).collect(),
        metadata: Default::default(),
        importance: 0.5,
        occurred_at: chrono::DateTime::from_timestamp(at, 0).unwrap_or_default(),
        created_at: now,
        updated_at: now,
        temporal: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use engram_core::Kind;

    fn user(u: &str) -> Filter {
        Filter {
            user_id: Some(u.into()),
            ..Default::default()
        }
    }

    #[test]
    fn filters_by_every_field_and_unknown_values_match_nothing() {
        let mut c = Catalog::default();
        c.upsert(1, &sample(Some("ann"), Some("s1"), &["work"], 100));
        c.upsert(2, &sample(Some("bob"), Some("s1"), &[], 200));
        c.upsert(3, &sample(Some("ann"), None, &["work", "home"], 300));
        c.upsert(4, &sample(None, None, &[], 400));
        assert_eq!(c.passing(&user("ann")), vec![1, 3]);
        assert_eq!(c.passing(&user("nobody")), Vec::<i64>::new());
        let f = Filter {
            session_id: Some("s1".into()),
            ..Default::default()
        };
        assert_eq!(c.passing(&f), vec![1, 2]);
        let f = Filter {
            user_id: Some("ann".into()),
            labels: vec!["work".into(), "home".into()],
            ..Default::default()
        };
        assert_eq!(c.passing(&f), vec![3]);
        let at = |s| DateTime::from_timestamp(s, 0).unwrap();
        let f = Filter {
            after: Some(at(200)),
            before: Some(at(400)),
            ..Default::default()
        };
        assert_eq!(c.passing(&f), vec![2, 3]);
        let f = Filter {
            kind: Some(Kind::Semantic),
            ..Default::default()
        };
        assert_eq!(c.passing(&f), Vec::<i64>::new());
        let f = Filter {
            kind: Some(Kind::Episodic),
            before: Some(at(300)),
            ..Default::default()
        };
        assert_eq!(c.passing(&f), vec![1, 2]);
    }

    #[test]
    fn memories_come_back_whole_with_labels_in_their_order() {
        let mut c = Catalog::default();
        let mut m = sample(Some("ann"), Some("s"), &["b", "a", "b"], 7);
        m.kind = Kind::Procedural;
        m.agent_id = Some("agent".into());
        m.role = Some(String::new());
        m.metadata
            .insert("k".into(), serde_json::json!({"x": [1, 2]}));
        c.upsert(1, &m);
        assert_eq!(c.memory(1), Some(Ok(m.clone())));
        let f = Filter {
            labels: vec!["b".into()],
            kind: Some(Kind::Procedural),
            ..Default::default()
        };
        assert_eq!(c.passing(&f), vec![1], "a repeated label is listed once");
        m.role = None;
        m.metadata.clear();
        c.upsert(1, &m);
        assert_eq!(c.memory(1), Some(Ok(m)));
        assert_eq!(c.memory(2), None);
    }

    #[test]
    fn changed_and_removed_rows_leave_no_trace_in_results() {
        let mut c = Catalog::default();
        c.upsert(5, &sample(Some("ann"), None, &[], 1));
        c.upsert(6, &sample(Some("ann"), None, &[], 2));
        c.upsert(6, &sample(Some("bob"), None, &[], 2));
        assert_eq!(c.passing(&user("ann")), vec![5]);
        assert_eq!(c.passing(&user("bob")), vec![6]);
        // Back to ann: listed once, in order.
        c.upsert(6, &sample(Some("ann"), None, &[], 2));
        c.upsert(3, &sample(Some("ann"), None, &[], 3));
        assert_eq!(c.passing(&user("ann")), vec![3, 5, 6]);
        assert!(c.remove(5));
        assert!(!c.remove(5));
        assert_eq!(c.passing(&user("ann")), vec![3, 6]);
        assert_eq!(c.facts(5), None);
    }

    #[test]
    fn a_cancelled_filter_returns_the_cancellation_error() {
        let mut c = Catalog::default();
        for rowid in 0..3000 {
            c.upsert(rowid, &sample(Some("ann"), None, &[], rowid));
        }
        let cancel = Cancel::new();
        cancel.cancel();
        let since = Filter {
            after: Some(DateTime::from_timestamp(10, 0).unwrap()),
            ..Default::default()
        };
        // From a posting list, and from every row (no list named).
        for f in [user("ann"), since] {
            let got = c.allowed(&f, &cancel);
            assert!(got.is_err_and(|e| engram_core::cancel::is_cancellation(&e)));
        }
    }

    #[test]
    fn churn_compacts_posting_lists() {
        let mut c = Catalog::default();
        for round in 0..5 {
            for rowid in 0..1000 {
                let u = if round % 2 == 0 { "ann" } else { "bob" };
                c.upsert(rowid, &sample(Some(u), None, &[], rowid));
            }
        }
        let listed: usize = c.postings.values().map(Vec::len).sum();
        assert!(
            listed <= 2 * c.len() + 1024,
            "{listed} entries for {} rows",
            c.len()
        );
        assert_eq!(c.passing(&user("ann")).len(), 1000);
        assert!(c.passing(&user("bob")).is_empty());
    }

    #[test]
    fn parts_round_trip_and_bad_names_are_refused() {
        let mut c = Catalog::default();
        c.upsert(9, &sample(Some("ann"), Some("s"), &["l"], 5));
        c.upsert(2, &sample(None, None, &[], 6));
        let (names, rows) = c.parts();
        assert_eq!(rows.iter().map(|(r, _)| *r).collect::<Vec<_>>(), vec![2, 9]);
        let rows: Vec<(i64, Facts)> = rows.into_iter().map(|(r, f)| (r, f.clone())).collect();
        let back = Catalog::from_parts(names.to_vec(), rows.clone()).unwrap();
        assert_eq!(back.passing(&user("ann")), vec![9]);
        assert_eq!(back.facts(2), c.facts(2));
        let mut bad = rows;
        bad[0].1.user = 99;
        assert!(Catalog::from_parts(names.to_vec(), bad).is_err());
    }
}
