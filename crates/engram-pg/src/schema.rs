//! The PostgreSQL schema, versioned in `schema_migrations`.
//!
//! Every replica calls [`migrate`] at start, and `engram migrate` (the
//! Kubernetes migrations Job) calls it alone: a session-level advisory lock
//! makes concurrent callers wait for each other, so each migration runs
//! once, in its own transaction, and a database newer than this binary is
//! refused rather than misread.
//!
//! Layout rules (so the schema can later be distributed by tenant, e.g.
//! with Citus): every tenant table has `tenant_id` as the leading column of
//! its primary key and of its b-tree indexes. The full-text (GIN) and
//! vector (HNSW) indexes cannot lead with a column; they are the documented
//! exception.
//!
//! Row-level security is enabled *and forced* (so it also binds the
//! owning role the server connects as) on the tables holding tenant data:
//! `memories`, `idempotency` and `lexical_stats`. Their policy admits a row
//! only when `tenant_id` equals the transaction's `engram.tenant` setting, so
//! a query that forgets its tenant condition, or runs without a tenant set,
//! sees nothing. `tenants` and `api_keys` are the control-plane directory:
//! authentication must find a key by the hash of its secret before any
//! tenant is known, and listing tenants is the admin's job. They hold names
//! and SHA-256 hashes only, never tenant content, and every key query other
//! than the lookup by hash names its tenant explicitly. `rate_buckets`
//! (keyed by API key id) and `meta` hold no tenant data either.

use deadpool_postgres::Object;

use engram_core::{Error, Result};

use crate::rows::Stored;
use crate::sql::db_err;

/// Advisory lock ids (arbitrary constants, "engram" in ASCII plus a
/// suffix) so engram's locks never collide with another application's.
pub const MIGRATION_LOCK: i64 = 0x656e_6772_616d_0001;
pub const BIND_LOCK: i64 = 0x656e_6772_616d_0002;

const MIGRATIONS: &[&str] = &[
    // 1: tenants, keys, memories, idempotency, lexical statistics.
    r#"
    CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE tenants (
        id text COLLATE "C" PRIMARY KEY,
        name text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL,
        seq bigserial NOT NULL
    );
    CREATE TABLE api_keys (
        tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        id text COLLATE "C" NOT NULL,
        name text NOT NULL,
        scopes text[] NOT NULL,
        hash text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE TABLE memories (
        tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
        id text COLLATE "C" NOT NULL,
        content text NOT NULL,
        kind text NOT NULL,
        user_id text,
        agent_id text,
        session_id text,
        role text,
        labels text[] NOT NULL,
        metadata json NOT NULL,
        importance real NOT NULL,
        occurred_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        embedding vector NOT NULL,
        lexical tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX memories_time ON memories (tenant_id, occurred_at DESC, id DESC);
    CREATE INDEX memories_user ON memories (tenant_id, user_id, occurred_at DESC, id DESC);
    CREATE INDEX memories_agent ON memories (tenant_id, agent_id, occurred_at DESC, id DESC);
    CREATE INDEX memories_session ON memories (tenant_id, session_id, occurred_at DESC, id DESC);
    CREATE INDEX memories_lexical ON memories USING gin (lexical);
    CREATE TABLE idempotency (
        tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
        key text NOT NULL,
        fingerprint text NOT NULL,
        ids text[] NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, key)
    );
    -- Per-tenant document count and total lexemes, for BM25's idf and
    -- average document length without scanning the tenant on every search.
    CREATE TABLE lexical_stats (
        tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
        docs bigint NOT NULL,
        lexemes bigint NOT NULL,
        PRIMARY KEY (tenant_id)
    );
    -- Shared rate limits: one token bucket per API key (see limiter.rs).
    -- Keyed by key id, not tenant data: no row-level security.
    CREATE TABLE rate_buckets (
        bucket text PRIMARY KEY,
        tokens float8 NOT NULL,
        allowed boolean NOT NULL,
        at timestamptz NOT NULL
    );
    CREATE FUNCTION engram_lexical_stats() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            UPDATE lexical_stats SET docs = docs - 1, lexemes = lexemes - length(OLD.lexical)
             WHERE tenant_id = OLD.tenant_id;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO lexical_stats AS s (tenant_id, docs, lexemes)
            VALUES (NEW.tenant_id, 1, length(NEW.lexical))
            ON CONFLICT (tenant_id) DO UPDATE
               SET docs = s.docs + 1, lexemes = s.lexemes + excluded.lexemes;
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER memories_lexical_stats AFTER INSERT OR DELETE OR UPDATE OF content
        ON memories FOR EACH ROW EXECUTE FUNCTION engram_lexical_stats();
    -- Row-level security: a row is visible only inside its tenant.
    ALTER TABLE memories ENABLE ROW LEVEL SECURITY;
    ALTER TABLE memories FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON memories
        USING (tenant_id = current_setting('engram.tenant', true))
        WITH CHECK (tenant_id = current_setting('engram.tenant', true));
    ALTER TABLE idempotency ENABLE ROW LEVEL SECURITY;
    ALTER TABLE idempotency FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON idempotency
        USING (tenant_id = current_setting('engram.tenant', true))
        WITH CHECK (tenant_id = current_setting('engram.tenant', true));
    ALTER TABLE lexical_stats ENABLE ROW LEVEL SECURITY;
    ALTER TABLE lexical_stats FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON lexical_stats
        USING (tenant_id = current_setting('engram.tenant', true))
        WITH CHECK (tenant_id = current_setting('engram.tenant', true));
    "#,
    // 2: the durable job queue (jobs.rs). Row-level security as for
    // memories, except that a worker's claim (and the queue-depth count)
    // sets `engram.jobs = 'claim'` to see every tenant's due jobs: work is
    // claimed before its tenant is known.
    r#"
    CREATE TABLE jobs (
        tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        id text COLLATE "C" NOT NULL,
        kind text NOT NULL,
        payload jsonb NOT NULL,
        status text NOT NULL,
        dedupe_key text,
        attempts integer NOT NULL,
        max_attempts integer NOT NULL,
        last_error text,
        result jsonb,
        run_after timestamptz NOT NULL,
        lease_until timestamptz,
        claim text,
        worker text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX jobs_due ON jobs (status, run_after);
    -- One unfinished job per tenant, kind and dedupe key.
    CREATE UNIQUE INDEX jobs_dedupe ON jobs (tenant_id, kind, dedupe_key)
        WHERE status NOT IN ('done', 'dead');
    ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
    ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON jobs
        USING (tenant_id = current_setting('engram.tenant', true)
               OR current_setting('engram.jobs', true) = 'claim')
        WITH CHECK (tenant_id = current_setting('engram.tenant', true)
               OR current_setting('engram.jobs', true) = 'claim');
    "#,
    // 3: usage metering and budgets (metering.rs), tenant data under
    // row-level security. A budget's project is '' for the whole tenant.
    r#"
    CREATE TABLE usage (
        tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        id bigserial NOT NULL,
        project text,
        kind text NOT NULL,
        model text NOT NULL,
        calls bigint NOT NULL,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        cost float8 NOT NULL,
        duration_ms bigint NOT NULL,
        at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX usage_tenant_time ON usage (tenant_id, at);
    CREATE TABLE budgets (
        tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        project text NOT NULL,
        metric text NOT NULL,
        period text NOT NULL,
        limit_value float8 NOT NULL,
        hard boolean NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, project, metric, period)
    );
    ALTER TABLE usage ENABLE ROW LEVEL SECURITY;
    ALTER TABLE usage FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON usage
        USING (tenant_id = current_setting('engram.tenant', true))
        WITH CHECK (tenant_id = current_setting('engram.tenant', true));
    ALTER TABLE budgets ENABLE ROW LEVEL SECURITY;
    ALTER TABLE budgets FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON budgets
        USING (tenant_id = current_setting('engram.tenant', true))
        WITH CHECK (tenant_id = current_setting('engram.tenant', true));
    "#,
    // 4 (facts): validity, sources and versions; rows written before read as
    // always valid, uncited, version 1.
    r#"
    ALTER TABLE memories ADD COLUMN valid_from timestamptz;
    ALTER TABLE memories ADD COLUMN valid_to timestamptz;
    ALTER TABLE memories ADD COLUMN sources text[] NOT NULL DEFAULT '{}';
    ALTER TABLE memories ADD COLUMN version integer NOT NULL DEFAULT 1;
    ALTER TABLE memories ADD COLUMN version_of text COLLATE "C";
    CREATE INDEX memories_version_of ON memories (tenant_id, version_of)
        WHERE version_of IS NOT NULL;
    "#,
    // 5: conversations (their messages are memories) and import jobs, a
    // row each, so every replica sees the same state and progress.
    r#"
    CREATE TABLE conversations (
        tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
        id text COLLATE "C" NOT NULL,
        title text NOT NULL,
        user_id text,
        agent_id text,
        label text,
        folder text COLLATE "C",
        importance smallint NOT NULL,
        pinned boolean NOT NULL,
        archived boolean NOT NULL,
        metadata json NOT NULL,
        source text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX conversations_time ON conversations (tenant_id, created_at DESC, id DESC);
    CREATE TABLE imports (
        tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
        id text COLLATE "C" NOT NULL,
        job jsonb NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;
    ALTER TABLE conversations FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON conversations
        USING (tenant_id = current_setting('engram.tenant', true))
        WITH CHECK (tenant_id = current_setting('engram.tenant', true));
    ALTER TABLE imports ENABLE ROW LEVEL SECURITY;
    ALTER TABLE imports FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON imports
        USING (tenant_id = current_setting('engram.tenant', true))
        WITH CHECK (tenant_id = current_setting('engram.tenant', true));
    "#,
    // 6 (lifecycle): maintenance leases and run records (the
    // installation's, no tenant: no row-level security), and each tenant's
    // retention policies (tenant data).
    r#"
    CREATE TABLE leases (
        name text COLLATE "C" PRIMARY KEY,
        holder text NOT NULL,
        until timestamptz NOT NULL
    );
    CREATE TABLE maintenance_runs (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        task text COLLATE "C" NOT NULL,
        holder text NOT NULL,
        started_at timestamptz NOT NULL,
        finished_at timestamptz NOT NULL,
        error text,
        counts jsonb NOT NULL
    );
    CREATE INDEX maintenance_runs_task ON maintenance_runs (task, finished_at DESC);
    CREATE TABLE retention_policies (
        tenant_id text COLLATE "C" PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
        policies jsonb NOT NULL,
        updated_at timestamptz NOT NULL
    );
    ALTER TABLE retention_policies ENABLE ROW LEVEL SECURITY;
    ALTER TABLE retention_policies FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON retention_policies
        USING (tenant_id = current_setting('engram.tenant', true))
        WITH CHECK (tenant_id = current_setting('engram.tenant', true));
    "#,
    // documents: uploads and the documents they become (chunks are
    // memories); the bytes as pieces in a table, so every replica reads
    // and continues any upload (documents.rs).
    r#"
    CREATE TABLE documents (
        tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        id text COLLATE "C" NOT NULL,
        filename text,
        title text NOT NULL,
        content_type text NOT NULL,
        user_id text,
        length bigint NOT NULL,
        upload_offset bigint NOT NULL,
        status text NOT NULL,
        chunks bigint NOT NULL,
        error text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX documents_time ON documents (tenant_id, created_at DESC, id DESC);
    CREATE INDEX documents_user ON documents (tenant_id, user_id) WHERE user_id IS NOT NULL;
    CREATE TABLE upload_pieces (
        tenant_id text COLLATE "C" NOT NULL,
        document_id text COLLATE "C" NOT NULL,
        start_offset bigint NOT NULL,
        bytes bytea NOT NULL,
        PRIMARY KEY (tenant_id, document_id, start_offset),
        FOREIGN KEY (tenant_id, document_id) REFERENCES documents (tenant_id, id) ON DELETE CASCADE
    );
    ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
    ALTER TABLE documents FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON documents
        USING (tenant_id = current_setting('engram.tenant', true))
        WITH CHECK (tenant_id = current_setting('engram.tenant', true));
    ALTER TABLE upload_pieces ENABLE ROW LEVEL SECURITY;
    ALTER TABLE upload_pieces FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON upload_pieces
        USING (tenant_id = current_setting('engram.tenant', true))
        WITH CHECK (tenant_id = current_setting('engram.tenant', true));
    "#,
    // the knowledge graph (graph.rs, docs/GRAPH.md): entities (a merged
    // one kept, pointing at its canonical entity, so a merge can be
    // undone), the name keys they are found by, the memories mentioning
    // them, relations over time; plain tables led by tenant_id under
    // row-level security.
    r#"
    CREATE TABLE entities (
        tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
        id text COLLATE "C" NOT NULL,
        name text NOT NULL,
        kind text NOT NULL,
        aliases text[] NOT NULL,
        summary text,
        user_id text,
        merged_into text COLLATE "C",
        merge_reason text,
        embedding vector NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX entities_merged ON entities (tenant_id, merged_into) WHERE merged_into IS NOT NULL;
    CREATE INDEX entities_user ON entities (tenant_id, user_id, kind);
    CREATE TABLE entity_keys (
        tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
        key text COLLATE "C" NOT NULL,
        entity_id text COLLATE "C" NOT NULL,
        PRIMARY KEY (tenant_id, key, entity_id)
    );
    CREATE INDEX entity_keys_entity ON entity_keys (tenant_id, entity_id);
    CREATE TABLE entity_mentions (
        tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
        entity_id text COLLATE "C" NOT NULL,
        memory_id text COLLATE "C" NOT NULL,
        at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, entity_id, memory_id)
    );
    CREATE TABLE relations (
        tenant_id text COLLATE "C" NOT NULL REFERENCES tenants(id),
        id text COLLATE "C" NOT NULL,
        subject_id text COLLATE "C" NOT NULL,
        predicate text COLLATE "C" NOT NULL,
        object_id text COLLATE "C" NOT NULL,
        valid_from timestamptz,
        valid_to timestamptz,
        sources text[] NOT NULL,
        user_id text,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX relations_subject ON relations (tenant_id, subject_id, predicate);
    CREATE INDEX relations_object ON relations (tenant_id, object_id);
    ALTER TABLE entities ENABLE ROW LEVEL SECURITY;
    ALTER TABLE entities FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON entities
        USING (tenant_id = current_setting('engram.tenant', true))
        WITH CHECK (tenant_id = current_setting('engram.tenant', true));
    ALTER TABLE entity_keys ENABLE ROW LEVEL SECURITY;
    ALTER TABLE entity_keys FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON entity_keys
        USING (tenant_id = current_setting('engram.tenant', true))
        WITH CHECK (tenant_id = current_setting('engram.tenant', true));
    ALTER TABLE entity_mentions ENABLE ROW LEVEL SECURITY;
    ALTER TABLE entity_mentions FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON entity_mentions
        USING (tenant_id = current_setting('engram.tenant', true))
        WITH CHECK (tenant_id = current_setting('engram.tenant', true));
    ALTER TABLE relations ENABLE ROW LEVEL SECURITY;
    ALTER TABLE relations FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON relations
        USING (tenant_id = current_setting('engram.tenant', true))
        WITH CHECK (tenant_id = current_setting('engram.tenant', true));
    "#,
];

pub fn latest_version() -> i32 {
    MIGRATIONS.len() as i32
}

/// Applies pending migrations under the migration lock; returns how many
/// ran.
pub async fn migrate(client: &mut Object) -> Result<usize> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db_err)?;
    let result = apply(client).await;
    // Also released when the session ends, should this fail.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db_err);
    let ran = result?;
    unlocked?;
    Ok(ran)
}

/// Creates pgvector in this database when it is missing and the role may do
/// so (a superuser, or the database owner where pgvector is trusted), so a
/// fresh database needs no manual step; otherwise says who must do it.
async fn ensure_vector_extension(client: &Object) -> Result<()> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')",
            &[],
        )
        .await
        .map_err(db_err)?;
    let present: bool = Stored::named(&row, "pg_extension").get(0)?;
    if present {
        return Ok(());
    }
    client
        .batch_execute("CREATE EXTENSION IF NOT EXISTS vector")
        .await
        .map_err(|e| {
            Error::internal(format!(
                "the pgvector extension is not created in this database and engram's role cannot \
                 create it ({}): have an administrator run `CREATE EXTENSION vector;` in it \
                 (scripts/dev-postgres does this locally)",
                db_err(e)
            ))
        })
}

async fn apply(client: &mut Object) -> Result<usize> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(db_err)?;
    let row = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(db_err)?;
    let current: i32 = Stored::named(&row, "schema_migrations").get(0)?;
    if current > latest_version() {
        return Err(Error::internal(format!(
            "the database has schema version {current}, newer than this engram ({}): upgrade engram",
            latest_version()
        )));
    }
    if current < latest_version() {
        ensure_vector_extension(client).await?;
    }
    let mut ran = 0;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = (i + 1) as i32;
        let tx = client.transaction().await.map_err(db_err)?;
        tx.batch_execute(sql).await.map_err(|e| {
            let e = db_err(e);
            Error::internal(format!(
                "migration {version} failed: {e}; is the `vector` extension created in this database \
                 (scripts/dev-postgres does it)?"
            ))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations(version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        tracing::info!(version, "applied database migration");
        ran += 1;
    }
    Ok(ran)
}
