//! One error type for the whole engine. Each error carries its [`Code`], so
//! the REST and MCP layers answer from the code alone without knowing
//! where the error came from.

use std::fmt;

pub use crate::code::{Code, Log};

/// Any error value, kept whole so its cause chain reaches the log.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Refusals of the request and faults of the server are separate variants:
/// the first are for the client to fix (their message is sent back), the
/// second are for the operator (sent back only as the code, logged with
/// their cause chain).
#[derive(Debug)]
pub enum Error {
    /// The request cannot be served as sent. `field` names the request
    /// field at fault, when there is one, so the client knows what to change.
    User {
        code: Code,
        field: Option<String>,
        message: String,
    },
    /// The server or a dependency failed. `cause` is the error that did,
    /// unflattened: it shows as this error's message, and its own sources
    /// as this error's sources, so a `{:#}` chain prints each cause once.
    Internal { code: Code, cause: BoxError },
}

impl Error {
    /// A field of the request is not acceptable.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::User {
            code: Code::InvalidField,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// `what` names the thing looked for ("memory 0190..."), never its content.
    pub fn not_found(what: impl fmt::Display) -> Self {
        Error::user(Code::NotFound, format!("{what} not found"))
    }

    /// The request contradicts existing state; `code` says how.
    pub fn conflict(code: Code, message: impl Into<String>) -> Self {
        Error::user(code, message)
    }

    /// A refusal that concerns no single field.
    pub fn user(code: Code, message: impl Into<String>) -> Self {
        Error::User {
            code,
            field: None,
            message: message.into(),
        }
    }

    /// A dependency (store, embedder) cannot serve right now; retrying
    /// later may succeed. The message is shown to the client.
    pub fn unavailable(cause: impl Into<BoxError>) -> Self {
        Error::Internal {
            code: Code::Unavailable,
            cause: cause.into(),
        }
    }

    /// Stored data that cannot be read back as it was written (a row or a
    /// file changed outside engram, or written by a bug). Never replaced by
    /// a default: a default would be served as if it were what was stored.
    /// `what` names the row or file (table and id, never its content).
    pub fn inconsistent(what: impl Into<String>, reason: impl fmt::Display) -> Self {
        Error::Internal {
            code: Code::InconsistentStorage,
            cause: Box::new(Inconsistency {
                what: what.into(),
                reason: reason.to_string(),
            }),
        }
    }

    /// A bug or an unexpected fault; never caused by user input. Takes an
    /// error (kept as the cause, with its sources) or a message.
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Error::Internal {
            code: Code::Internal,
            cause: cause.into(),
        }
    }

    pub fn code(&self) -> Code {
        match self {
            Error::User { code, .. } | Error::Internal { code, .. } => *code,
        }
    }

    /// The request field at fault, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::User { field, .. } => field.as_deref(),
            Error::Internal { .. } => None,
        }
    }

    /// The error a fault came from, for downcasting (`None` for refusals).
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self {
            Error::User { .. } => None,
            Error::Internal { cause, .. } => Some(cause.as_ref()),
        }
    }

    /// This error and every source below it, joined by ": ", for a log line.
    pub fn chain(&self) -> impl fmt::Display + '_ {
        Chain(self)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::User {
                field: Some(field),
                message,
                ..
            } => write!(f, "{field}: {message}"),
            Error::User { message, .. } => f.write_str(message),
            Error::Internal { cause, .. } => cause.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::User { .. } => None,
            Error::Internal { cause, .. } => cause.source(),
        }
    }
}

/// The cause of an `inconsistent_storage` error, typed so a test (or a
/// repair tool) can tell which row or file it was.
#[derive(Debug)]
pub struct Inconsistency {
    pub what: String,
    pub reason: String,
}

impl fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "inconsistent storage: {}: {}", self.what, self.reason)
    }
}

impl std::error::Error for Inconsistency {}

struct Chain<'a>(&'a Error);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = std::error::Error::source(self.0);
        while let Some(e) = next {
            write!(f, ": {e}")?;
            next = e.source();
        }
        Ok(())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the index")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn an_internal_error_keeps_its_cause_and_the_cause_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
        let e = Error::internal(Outer(io));
        assert_eq!(e.code(), Code::Internal);
        assert!(e.cause().and_then(|c| c.downcast_ref::<Outer>()).is_some());
        let source = std::error::Error::source(&e).expect("the cause's source");
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        assert_eq!(
            e.chain().to_string(),
            "reading the index: permission denied"
        );
    }

    #[test]
    fn refusals_carry_their_code_and_field() {
        let e = Error::invalid("items[1].content", "must not be empty");
        assert_eq!(
            (e.code(), e.field()),
            (Code::InvalidField, Some("items[1].content"))
        );
        assert_eq!(e.to_string(), "items[1].content: must not be empty");
        let e = Error::not_found("memory m1");
        assert_eq!(
            (e.code(), e.to_string().as_str()),
            (Code::NotFound, "memory m1 not found")
        );
        let e = Error::conflict(Code::MemoryIdTaken, "a memory with id m1 already exists");
        assert_eq!((e.code(), e.field()), (Code::MemoryIdTaken, None));
        assert!(e.cause().is_none());
        assert_eq!(Error::unavailable("store busy").code(), Code::Unavailable);
        let e = Error::inconsistent("memories row 7", "labels are not JSON");
        assert_eq!(e.code(), Code::InconsistentStorage);
        assert_eq!(
            e.to_string(),
            "inconsistent storage: memories row 7: labels are not JSON"
        );
        let i = e.cause().and_then(|c| c.downcast_ref::<Inconsistency>());
        assert_eq!(i.map(|i| i.what.as_str()), Some("memories row 7"));
    }
}
