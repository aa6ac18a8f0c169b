//! One error type for the whole engine, shaped so the HTTP layer can map each
//! variant to a status code without knowing where the error came from.

/// Errors carry the field they concern (when there is one) so that a client
/// is told exactly what to change.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input was understood but is not acceptable.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0} not found")]
    NotFound(String),
    /// The request contradicts existing state (e.g. an idempotency key reused
    /// with a different body).
    #[error("{0}")]
    Conflict(String),
    /// A dependency (store, embedder) cannot serve right now; retrying later
    /// may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// Stored data that cannot be read back as it was written (a row or a
    /// file changed outside engram, or written by a bug). Never replaced by
    /// a default: a default would be served as if it were what was stored.
    #[error("inconsistent storage: {what}: {reason}")]
    Inconsistent { what: String, reason: String },
    /// A bug or an unexpected fault; never caused by user input.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// `what` names the row or file (table and id, never its content).
    pub fn inconsistent(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Error::Inconsistent {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        Error::Internal(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
