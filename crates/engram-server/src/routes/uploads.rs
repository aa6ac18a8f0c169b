//! Resumable uploads: the tus 1.0 core protocol with the creation,
//! termination and checksum extensions (docs/DOCUMENTS.md), on tenant
//! keys. This file is the protocol's headers; what an upload may be and
//! what happens to it is the engine's.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use engram_core::document::{Document, UploadMetadata};
use engram_core::{Code, Error};
use engram_engine::documents::{CHECKSUM_ALGORITHMS, Checksum, NewUpload};

use crate::AppState;
use crate::auth::{Reader, Writer};
use crate::extract::Path;
use crate::problem::{ApiError, ApiResult, Problem};

const TUS_VERSION: &str = "1.0.0";
const TUS_EXTENSIONS: &str = "creation,termination,checksum";
const OFFSET_STREAM: &str = "application/offset+octet-stream";

/// Every answer of an upload route says which tus it speaks, errors too.
pub async fn tus_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    h.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    resp
}

/// A request must speak tus 1.0.0 (`Tus-Resumable`), else 412.
fn tus_resumable(h: &HeaderMap) -> ApiResult<()> {
    match h.get("tus-resumable").map(|v| v.to_str()) {
        Some(Ok(TUS_VERSION)) => Ok(()),
        Some(other) => Err(Error::User {
            code: Code::TusVersionUnsupported,
            field: Some("Tus-Resumable".into()),
            message: format!(
                "{:?} is not a tus version this server speaks; send Tus-Resumable: {TUS_VERSION}",
                other.unwrap_or("(not text)")
            ),
        }
        .into()),
        None => Err(Error::User {
            code: Code::TusVersionUnsupported,
            field: Some("Tus-Resumable".into()),
            message: format!("the header is missing; send Tus-Resumable: {TUS_VERSION}"),
        }
        .into()),
    }
}

/// A header holding a byte count or offset.
fn number(h: &HeaderMap, name: &str) -> ApiResult<u64> {
    let v = h
        .get(name)
        .ok_or_else(|| ApiError::field(name, "is required (a number of bytes)"))?;
    v.to_str()
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| ApiError::field(name, "must be a non-negative number of bytes"))
}

/// `Upload-Metadata`: comma-separated `key base64value` pairs.
fn metadata(h: &HeaderMap) -> ApiResult<UploadMetadata> {
    const FIELD: &str = "Upload-Metadata";
    let Some(v) = h.get(FIELD) else {
        return Ok(UploadMetadata::default());
    };
    let v = v
        .to_str()
        .map_err(|_| ApiError::field(FIELD, "must be ASCII: `key base64value` pairs"))?;
    let mut pairs = Vec::new();
    for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        let bytes = STANDARD
            .decode(value.trim())
            .map_err(|_| ApiError::field(FIELD, format!("the value of {key:?} is not base64")))?;
        let value = String::from_utf8(bytes)
            .map_err(|_| ApiError::field(FIELD, format!("the value of {key:?} is not UTF-8")))?;
        pairs.push((key.to_string(), value));
    }
    Ok(UploadMetadata::from_pairs(pairs)?)
}

fn offset_headers(resp: &mut Response, d: &Document) {
    let h = resp.headers_mut();
    h.insert("upload-offset", HeaderValue::from(d.offset));
    h.insert("upload-length", HeaderValue::from(d.length));
}

/// tus discovery: the version, extensions, limit and checksum algorithms.
#[utoipa::path(options, path = "/v1/uploads", tag = "documents",
    responses((status = 204, description = "Tus-Version, Tus-Extension, Tus-Max-Size and Tus-Checksum-Algorithm headers")))]
pub async fn options(State(s): State<AppState>) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    h.insert("tus-extension", HeaderValue::from_static(TUS_EXTENSIONS));
    h.insert(
        "tus-max-size",
        HeaderValue::from(s.engine.documents_config().max_bytes),
    );
    h.insert(
        "tus-checksum-algorithm",
        HeaderValue::from_static(CHECKSUM_ALGORITHMS),
    );
    resp
}

/// Create an upload (tus creation): `Upload-Length` bytes of a document
/// described by `Upload-Metadata` (`filename`, `filetype`, `title`,
/// `user_id`, each base64). Answers with its `Location`; PATCH the bytes
/// there.
#[utoipa::path(post, path = "/v1/uploads", tag = "documents", security(("tenant_key" = ["write"])),
    params(
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Length" = u64, Header, description = "The document's size in bytes"),
        ("Upload-Metadata" = Option<String>, Header, description = "`key base64value` pairs, comma-separated: filename, filetype, title, user_id"),
    ),
    responses(
        (status = 201, body = Document, description = "Created; `Location` is the upload's URL"),
        (status = 400, body = Problem), (status = 412, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem)))]
pub async fn create(
    Writer(p): Writer,
    State(s): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    tus_resumable(&headers)?;
    if headers.contains_key("upload-defer-length") {
        return Err(ApiError::field(
            "Upload-Defer-Length",
            "is not supported (no creation-defer-length); give Upload-Length",
        ));
    }
    let new = NewUpload {
        length: number(&headers, "Upload-Length")?,
        metadata: metadata(&headers)?,
    };
    let d = s.engine.create_upload(&p.tenant_id, new).await?;
    let location = format!("/v1/uploads/{}", d.id);
    let mut resp = (StatusCode::CREATED, axum::Json(&d)).into_response();
    offset_headers(&mut resp, &d);
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// Where an upload is: `Upload-Offset` (bytes stored) and `Upload-Length`.
/// Resume a PATCH from that offset.
#[utoipa::path(head, path = "/v1/uploads/{id}", tag = "documents", security(("tenant_key" = ["read"])),
    params(("id" = String, Path), ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses(
        (status = 200, description = "Upload-Offset and Upload-Length headers; never cached"),
        (status = 401, description = "No key, or an unknown one"),
        (status = 403, description = "The key lacks the read scope"),
        (status = 404, description = "No such upload in the tenant"),
        (status = 412, description = "Tus-Resumable missing or not 1.0.0"),
        (status = 429, description = "Rate limited; see Retry-After"),
        (status = 503, description = "The store cannot serve right now")))]
pub async fn head(
    Reader(p): Reader,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    tus_resumable(&headers)?;
    let d = s.engine.document(&p.tenant_id, &id).await?;
    let mut resp = StatusCode::OK.into_response();
    offset_headers(&mut resp, &d);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// Append bytes at `Upload-Offset` (`Content-Type:
/// application/offset+octet-stream`), optionally with `Upload-Checksum:
/// sha1|sha256 <base64>`. A wrong offset is 409, a body that does not
/// match its checksum 460; either way nothing is stored. The last byte
/// starts the document's processing.
#[utoipa::path(patch, path = "/v1/uploads/{id}", tag = "documents", security(("tenant_key" = ["write"])),
    params(
        ("id" = String, Path),
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Offset" = u64, Header, description = "Where these bytes go: the upload's current offset"),
        ("Upload-Checksum" = Option<String>, Header, description = "`sha1 <base64>` or `sha256 <base64>` of the body"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses(
        (status = 204, description = "Stored; Upload-Offset is the new offset"),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem), (status = 460, body = Problem)))]
pub async fn patch(
    Writer(p): Writer,
    State(s): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let headers = req.headers();
    tus_resumable(headers)?;
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !declared.eq_ignore_ascii_case(OFFSET_STREAM) {
        return Err(Error::User {
            code: Code::UnsupportedDocumentType,
            field: Some("Content-Type".into()),
            message: format!("a PATCH body must be sent as {OFFSET_STREAM}, not {declared:?}"),
        }
        .into());
    }
    let offset = number(headers, "Upload-Offset")?;
    let checksum = headers
        .get("upload-checksum")
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::field("Upload-Checksum", "must be ASCII"))
                .and_then(|v| Checksum::parse(v).map_err(ApiError::from))
        })
        .transpose()?;
    let d = s.engine.document(&p.tenant_id, &id).await?;
    s.engine.check_append(&d, offset, 0)?;
    // Read no more than the upload can still take: a longer body is
    // refused without holding it.
    let room = d.length.saturating_sub(d.offset);
    let limit = usize::try_from(room).unwrap_or(usize::MAX);
    let bytes = axum::body::to_bytes(Body::new(req.into_body()), limit)
        .await
        .map_err(|e| {
            if std::error::Error::source(&e)
                .is_some_and(|c| c.is::<http_body_util::LengthLimitError>())
            {
                Error::User {
                    code: Code::UploadTooLarge,
                    field: Some("Upload-Length".into()),
                    message: format!(
                        "the body passes the upload's length ({} bytes, {room} still to come)",
                        d.length
                    ),
                }
                .into()
            } else {
                ApiError::new(
                    Code::UnreadableBody,
                    format!("the body could not be read: {e}"),
                )
            }
        })?;
    let d = s
        .engine
        .append_upload(&p.tenant_id, &id, offset, &bytes, checksum.as_ref())
        .await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    offset_headers(&mut resp, &d);
    Ok(resp)
}

/// Cancel an upload (tus termination): its bytes, and its document with
/// any chunks, are deleted.
#[utoipa::path(delete, path = "/v1/uploads/{id}", tag = "documents", security(("tenant_key" = ["write"])),
    params(("id" = String, Path), ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses((status = 204), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn terminate(
    Writer(p): Writer,
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    tus_resumable(&headers)?;
    s.engine.delete_document(&p.tenant_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
