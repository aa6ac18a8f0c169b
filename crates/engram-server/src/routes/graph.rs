//! The knowledge graph's routes (docs/GRAPH.md): entities by name or type,
//! one entity with its relations and sources, its neighbourhood, the
//! history of its relations, deleting it and undoing a merge.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use engram_core::graph::{Entity, EntityDetail, EntityPage, Neighborhood, RelationList};
use engram_engine::graph::EntityListing;

use crate::AppState;
use crate::auth::{Reader, Writer};
use crate::extract::{Path, QueryParams};
use crate::problem::{ApiResult, Problem};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EntityParams {
    /// Entities whose name or an alias contains this (case-insensitive).
    name: Option<String>,
    /// Only entities of this type (`person`, `place`, `name`, `email`, ...).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
    /// Only entities found in this user's memories.
    user_id: Option<String>,
    /// 1 to 100; default 20.
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DepthParams {
    /// Hops from the entity: 0, 1 (default) or 2.
    depth: Option<u32>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// The relations that held at this time (RFC 3339); default now.
    as_of: Option<DateTime<Utc>>,
    /// Every version instead, closed ones included, oldest first.
    all: Option<bool>,
}

/// List entities (canonical ones; merged entities show as aliases), in
/// creation order, a page at a time.
#[utoipa::path(get, path = "/v1/entities", tag = "graph", security(("tenant_key" = ["read"])),
    params(EntityParams),
    responses((status = 200, body = EntityPage), (status = 400, body = Problem)))]
pub async fn list(
    Reader(p): Reader,
    State(s): State<AppState>,
    QueryParams(q): QueryParams<EntityParams>,
) -> ApiResult<Json<EntityPage>> {
    let listing = EntityListing {
        name: q.name,
        kind: q.kind,
        user_id: q.user_id,
        limit: q.limit,
        cursor: q.cursor,
    };
    Ok(Json(s.engine.list_entities(&p.tenant_id, listing).await?))
}

/// An entity with the entities merged into it, its relations holding now
/// and the memories mentioning it.
#[utoipa::path(get, path = "/v1/entities/{id}", tag = "graph", security(("tenant_key" = ["read"])),
    params(("id" = String, Path)),
    responses((status = 200, body = EntityDetail), (status = 404, body = Problem)))]
pub async fn get(
    Reader(p): Reader,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<EntityDetail>> {
    Ok(Json(s.engine.entity(&p.tenant_id, &id).await?))
}

/// The entities within `depth` hops over relations holding now (the entity
/// itself at depth 0, at most 100) and the relations among them.
#[utoipa::path(get, path = "/v1/entities/{id}/neighbors", tag = "graph",
    security(("tenant_key" = ["read"])), params(("id" = String, Path), DepthParams),
    responses((status = 200, body = Neighborhood), (status = 400, body = Problem),
        (status = 404, body = Problem)))]
pub async fn neighbors(
    Reader(p): Reader,
    State(s): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<DepthParams>,
) -> ApiResult<Json<Neighborhood>> {
    let depth = q.depth.unwrap_or(1);
    Ok(Json(s.engine.neighbors(&p.tenant_id, &id, depth).await?))
}

/// What was true when: the entity's relations that held at `as_of`
/// (default now), or with `all=true` every version, closed ones with
/// their `valid_to`.
#[utoipa::path(get, path = "/v1/entities/{id}/relations", tag = "graph",
    security(("tenant_key" = ["read"])), params(("id" = String, Path), HistoryParams),
    responses((status = 200, body = RelationList), (status = 400, body = Problem),
        (status = 404, body = Problem)))]
pub async fn relations(
    Reader(p): Reader,
    State(s): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<HistoryParams>,
) -> ApiResult<Json<RelationList>> {
    Ok(Json(
        s.engine
            .entity_relations(&p.tenant_id, &id, q.as_of, q.all.unwrap_or(false))
            .await?,
    ))
}

/// Delete an entity, the entities merged into it, their mentions and the
/// relations naming them. The memories stay.
#[utoipa::path(delete, path = "/v1/entities/{id}", tag = "graph",
    security(("tenant_key" = ["write"])), params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    Writer(p): Writer,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.engine.delete_entity(&p.tenant_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undo a merge: the entity (one listed under `merged` of another) stands
/// on its own again with the mentions and relations it brought; 409
/// `entity_not_merged` when it was not merged.
#[utoipa::path(post, path = "/v1/entities/{id}/unmerge", tag = "graph",
    security(("tenant_key" = ["write"])), params(("id" = String, Path)),
    responses((status = 200, body = Entity), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn unmerge(
    Writer(p): Writer,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Entity>> {
    Ok(Json(s.engine.unmerge_entity(&p.tenant_id, &id).await?))
}
