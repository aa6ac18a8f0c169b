//! Documents (tenant keys): what finished uploads became. Their chunks are
//! memories, so `/v1/search` and `/v1/context` find them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use engram_core::document::{Document, DocumentPage};

use crate::AppState;
use crate::auth::{Reader, Writer};
use crate::extract::{Path, QueryParams};
use crate::problem::{ApiResult, Problem};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1 to 1000; default 50.
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List documents (and unfinished uploads), newest first.
#[utoipa::path(get, path = "/v1/documents", tag = "documents", security(("tenant_key" = ["read"])),
    params(PageParams),
    responses((status = 200, body = DocumentPage), (status = 400, body = Problem)))]
pub async fn list(
    Reader(p): Reader,
    State(s): State<AppState>,
    QueryParams(q): QueryParams<PageParams>,
) -> ApiResult<Json<DocumentPage>> {
    Ok(Json(
        s.engine
            .documents(&p.tenant_id, q.limit, q.cursor.as_deref())
            .await?,
    ))
}

/// Read a document: its status (`uploading`, `processing`, `ready`,
/// `failed`), upload offset, chunk count and error.
#[utoipa::path(get, path = "/v1/documents/{id}", tag = "documents", security(("tenant_key" = ["read"])),
    params(("id" = String, Path)),
    responses((status = 200, body = Document), (status = 404, body = Problem)))]
pub async fn get(
    Reader(p): Reader,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Document>> {
    Ok(Json(s.engine.document(&p.tenant_id, &id).await?))
}

/// Delete a document with its chunks (memories) and its uploaded bytes.
#[utoipa::path(delete, path = "/v1/documents/{id}", tag = "documents", security(("tenant_key" = ["write"])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    Writer(p): Writer,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.engine.delete_document(&p.tenant_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
