//! Conversations, their messages, folders, export and import (tenant
//! keys). Every message is a memory, so `/v1/search`, `/v1/context` and
//! `/v1/memories` see messages too.

use std::io::Write;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use engram_core::Code;
use engram_core::conversation::{
    Conversation, ConversationPage, ConversationPatch, ConversationSearch, ExportedConversation,
    Folder, ImportJob, Message, MessagePage, NewConversation, NewMessage,
};
use engram_core::query::SearchResponse;
use engram_engine::conversations::ListConversations;
use engram_engine::conversations::import::{Format, ImportOptions};

use crate::AppState;
use crate::auth::{Reader, Writer};
use crate::extract::{Body, Path, QueryParams};
use crate::problem::{ApiError, ApiResult, Problem};
use crate::routes::memories::idempotency_key;

/// The largest export `POST /v1/import` takes: ChatGPT exports of years of
/// daily use run to a few hundred MB; the file is spooled to a temporary
/// file, never held in memory.
pub const MAX_IMPORT_BYTES: u64 = 2 << 30;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    label: Option<String>,
    /// This folder and every folder below it (`work` lists `work/clients`).
    folder: Option<String>,
    pinned: Option<bool>,
    archived: Option<bool>,
    user_id: Option<String>,
    /// Text the title contains.
    q: Option<String>,
    /// 1 to 1000; default 50.
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1 to 1000; default 50.
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBatch {
    /// 1 to 1000 messages, written all or none.
    items: Vec<NewMessage>,
}

#[derive(Serialize, ToSchema)]
pub struct Messages {
    items: Vec<Message>,
}

#[derive(Serialize, ToSchema)]
pub struct Folders {
    folders: Vec<Folder>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `json` (default) or `markdown`.
    format: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// `chatgpt`, `claude` or `jsonl`.
    format: String,
    /// File every imported conversation in this folder.
    folder: Option<String>,
    /// Give every imported conversation this label.
    label: Option<String>,
}

/// Start a conversation.
#[utoipa::path(post, path = "/v1/conversations", tag = "conversations", request_body = NewConversation,
    security(("tenant_key" = ["write"])),
    responses((status = 201, body = Conversation), (status = 400, body = Problem)))]
pub async fn create(
    Writer(p): Writer,
    State(s): State<AppState>,
    Body(new): Body<NewConversation>,
) -> ApiResult<(StatusCode, Json<Conversation>)> {
    let c = s.engine.create_conversation(&p.tenant_id, new).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// List conversations, newest first, with filters.
#[utoipa::path(get, path = "/v1/conversations", tag = "conversations", security(("tenant_key" = ["read"])),
    params(ListParams),
    responses((status = 200, body = ConversationPage), (status = 400, body = Problem)))]
pub async fn list(
    Reader(p): Reader,
    State(s): State<AppState>,
    QueryParams(q): QueryParams<ListParams>,
) -> ApiResult<Json<ConversationPage>> {
    let req = ListConversations {
        label: q.label,
        folder: q.folder,
        pinned: q.pinned,
        archived: q.archived,
        user_id: q.user_id,
        q: q.q,
        limit: q.limit,
        cursor: q.cursor,
    };
    Ok(Json(s.engine.list_conversations(&p.tenant_id, req).await?))
}

/// Read one conversation.
#[utoipa::path(get, path = "/v1/conversations/{id}", tag = "conversations", security(("tenant_key" = ["read"])),
    params(("id" = String, Path)),
    responses((status = 200, body = Conversation), (status = 404, body = Problem)))]
pub async fn get(
    Reader(p): Reader,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(s.engine.get_conversation(&p.tenant_id, &id).await?))
}

/// Rename, move, label, pin or unpin, archive or unarchive, re-weigh.
#[utoipa::path(patch, path = "/v1/conversations/{id}", tag = "conversations", request_body = ConversationPatch,
    security(("tenant_key" = ["write"])), params(("id" = String, Path)),
    responses((status = 200, body = Conversation), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn update(
    Writer(p): Writer,
    State(s): State<AppState>,
    Path(id): Path<String>,
    Body(patch): Body<ConversationPatch>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(
        s.engine
            .update_conversation(&p.tenant_id, &id, patch)
            .await?,
    ))
}

/// Delete a conversation with all its messages (their memories too).
#[utoipa::path(delete, path = "/v1/conversations/{id}", tag = "conversations", security(("tenant_key" = ["write"])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    Writer(p): Writer,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.engine.delete_conversation(&p.tenant_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn replayed(mut resp: Response, replayed: bool) -> Response {
    if replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}

/// Append one message. With `Idempotency-Key`, a retry returns the first
/// result instead of appending twice.
#[utoipa::path(post, path = "/v1/conversations/{id}/messages", tag = "conversations", request_body = NewMessage,
    security(("tenant_key" = ["write"])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    responses((status = 201, body = Message), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn append(
    Writer(p): Writer,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(item): Body<NewMessage>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let done = s
        .engine
        .append_messages(&p.tenant_id, &id, vec![item], key)
        .await?;
    let message = done
        .messages
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::new(Code::Internal, "an append returned no message"))?;
    Ok(replayed(
        (StatusCode::CREATED, Json(message)).into_response(),
        done.replayed,
    ))
}

/// Append up to 1000 messages, all or none, in order.
#[utoipa::path(post, path = "/v1/conversations/{id}/messages/batch", tag = "conversations",
    request_body = MessageBatch, security(("tenant_key" = ["write"])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    responses((status = 201, body = Messages), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn append_batch(
    Writer(p): Writer,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(b): Body<MessageBatch>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let done = s
        .engine
        .append_messages(&p.tenant_id, &id, b.items, key)
        .await?;
    Ok(replayed(
        (
            StatusCode::CREATED,
            Json(Messages {
                items: done.messages,
            }),
        )
            .into_response(),
        done.replayed,
    ))
}

/// A conversation's messages, oldest first, a page at a time.
#[utoipa::path(get, path = "/v1/conversations/{id}/messages", tag = "conversations",
    security(("tenant_key" = ["read"])), params(("id" = String, Path), PageParams),
    responses((status = 200, body = MessagePage), (status = 404, body = Problem)))]
pub async fn messages(
    Reader(p): Reader,
    State(s): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<PageParams>,
) -> ApiResult<Json<MessagePage>> {
    Ok(Json(
        s.engine
            .messages(&p.tenant_id, &id, q.limit, q.cursor.as_deref())
            .await?,
    ))
}

/// A conversation with every message, as JSON (the `jsonl` import reads
/// it back, one a line) or as a Markdown transcript.
#[utoipa::path(get, path = "/v1/conversations/{id}/export", tag = "conversations",
    security(("tenant_key" = ["read"])), params(("id" = String, Path), ExportParams),
    responses((status = 200, description = "the conversation (JSON) or its transcript (Markdown)",
        content((ExportedConversation = "application/json"), (String = "text/markdown"))),
        (status = 404, body = Problem)))]
pub async fn export(
    Reader(p): Reader,
    State(s): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<ExportParams>,
) -> ApiResult<Response> {
    let markdown = match q.format.as_deref() {
        None | Some("json") => false,
        Some("markdown") => true,
        Some(_) => return Err(ApiError::field("format", "must be json or markdown")),
    };
    let exported = s.engine.export_conversation(&p.tenant_id, &id).await?;
    Ok(if markdown {
        (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            exported.markdown(),
        )
            .into_response()
    } else {
        Json(exported).into_response()
    })
}

/// Search the messages of one conversation, or of the conversations in a
/// folder (and below) and/or with a label.
#[utoipa::path(post, path = "/v1/conversations/search", tag = "conversations", request_body = ConversationSearch,
    security(("tenant_key" = ["read"])),
    responses((status = 200, body = SearchResponse), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn search(
    Reader(p): Reader,
    State(s): State<AppState>,
    Body(req): Body<ConversationSearch>,
) -> ApiResult<Json<SearchResponse>> {
    Ok(Json(
        s.engine.search_conversations(&p.tenant_id, &req).await?,
    ))
}

/// The folder tree: every folder holding a conversation and each folder
/// above one, with counts, sorted by path.
#[utoipa::path(get, path = "/v1/folders", tag = "conversations", security(("tenant_key" = ["read"])),
    responses((status = 200, body = Folders)))]
pub async fn folders(Reader(p): Reader, State(s): State<AppState>) -> ApiResult<Json<Folders>> {
    Ok(Json(Folders {
        folders: s.engine.folders(&p.tenant_id).await?,
    }))
}

/// A multipart upload: the export in the field `file`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImportUpload {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Import an export file: the body as sent (ChatGPT's or Claude's
/// `conversations.json`, or engram's JSON lines, e.g. with `Content-Type:
/// application/json`), or a `multipart/form-data` upload with the file in
/// the field `file`. The whole file is checked first: a malformed or
/// truncated one is refused with 422 naming the conversation at fault, and
/// nothing is written. Then the import runs in the background, one
/// transaction per conversation; follow it at `GET /v1/import/{id}`.
/// Importing the same file again writes nothing new.
#[utoipa::path(post, path = "/v1/import", tag = "conversations", security(("tenant_key" = ["write"])),
    params(ImportParams),
    request_body(description = "the export file",
        content((String = "application/octet-stream"), (String = "application/json"),
            (ImportUpload = "multipart/form-data"))),
    responses((status = 202, body = ImportJob), (status = 400, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem)))]
pub async fn import(
    Writer(p): Writer,
    State(s): State<AppState>,
    QueryParams(q): QueryParams<ImportParams>,
    request: Request,
) -> ApiResult<Response> {
    let format = Format::parse(&q.format, "format")?;
    let opts = ImportOptions::new(format, q.folder.as_deref(), q.label.as_deref())?;
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let spool = if multipart {
        let mut form = Multipart::from_request(request, &())
            .await
            .map_err(|e| ApiError::field("body", e.body_text()))?;
        loop {
            let field = form
                .next_field()
                .await
                .map_err(|e| ApiError::new(Code::UnreadableBody, e.body_text()))?
                .ok_or_else(|| {
                    ApiError::field(
                        "file",
                        "is missing: send the export in the form field `file`",
                    )
                })?;
            if field.name() == Some("file") {
                break spool(field).await?;
            }
        }
    } else {
        spool(request.into_body().into_data_stream()).await?
    };
    let file = spool
        .reopen()
        .map_err(|e| ApiError::new(Code::Internal, format!("reopening the spooled import: {e}")))?;
    let job = s
        .engine
        .start_import(&p.tenant_id, opts, file, spool)
        .await?;
    let location = format!("/v1/import/{}", job.id);
    let mut resp = (StatusCode::ACCEPTED, Json(job)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// Writes the chunks to a temporary file (deleted when dropped), refusing
/// more than [`MAX_IMPORT_BYTES`].
async fn spool<E: std::fmt::Display>(
    mut chunks: impl futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
) -> ApiResult<tempfile::NamedTempFile> {
    let internal =
        |e: std::io::Error| ApiError::new(Code::Internal, format!("spooling an import: {e}"));
    let mut file = tempfile::NamedTempFile::new().map_err(internal)?;
    let mut written = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| ApiError::new(Code::UnreadableBody, e.to_string()))?;
        written += chunk.len() as u64;
        if written > MAX_IMPORT_BYTES {
            return Err(ApiError::new(
                Code::PayloadTooLarge,
                format!("the import is larger than {MAX_IMPORT_BYTES} bytes; split the export"),
            ));
        }
        file.write_all(&chunk).map_err(internal)?;
    }
    file.flush().map_err(internal)?;
    if written == 0 {
        return Err(ApiError::field(
            "body",
            "is empty: send the export file as the body",
        ));
    }
    Ok(file)
}

/// An import's progress: conversations done of `total`, messages written
/// and skipped; `done` or `failed` (with `error`) at the end.
#[utoipa::path(get, path = "/v1/import/{id}", tag = "conversations", security(("tenant_key" = ["read"])),
    params(("id" = String, Path)),
    responses((status = 200, body = ImportJob), (status = 404, body = Problem)))]
pub async fn import_job(
    Reader(p): Reader,
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ImportJob>> {
    Ok(Json(s.engine.import_job(&p.tenant_id, &id).await?))
}
