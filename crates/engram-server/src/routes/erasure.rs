//! Exact erasure of a user (docs/LIFECYCLE.md). `DELETE /v1/memories?user_id=`
//! stays what it was (the user's memories, `{deleted: n}`); this route is the
//! right to be forgotten: everything holding the user's content, with a receipt.

use axum::Json;
use axum::extract::State;

use engram_core::erasure::Receipt;

use crate::AppState;
use crate::auth::Writer;
use crate::extract::Path;
use crate::problem::{ApiResult, Problem};

/// Erase a user: their memories and conversations, facts and summaries made
/// only from them, idempotency records and jobs holding their content; no
/// copy is left in the store's files. Answers with a receipt of counts
/// (no content), also logged. Idempotent: a repeat erases nothing more.
#[utoipa::path(delete, path = "/v1/users/{user_id}", tag = "memories", security(("tenant_key" = ["write"])),
    params(("user_id" = String, Path)),
    responses((status = 200, body = Receipt), (status = 400, body = Problem)))]
pub async fn erase_user(
    Writer(p): Writer,
    State(s): State<AppState>,
    Path(user_id): Path<String>,
) -> ApiResult<Json<Receipt>> {
    Ok(Json(s.engine.erase_user(&p.tenant_id, &user_id).await?))
}
