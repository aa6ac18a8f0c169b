//! The vocabulary every other engram crate speaks: what a memory is, how a
//! query is scoped, how rankings are fused and how a context block is packed.
//!
//! Nothing here performs I/O, so the logic that decides what an agent
//! remembers can be unit-tested exhaustively and shared by every store.

pub mod bm25;
pub mod budget;
pub mod cancel;
pub mod chunk;
pub mod code;
pub mod context;
pub mod conversation;
pub mod document;
pub mod erasure;
pub mod error;
pub mod fusion;
pub mod graph;
pub mod lexical;
pub mod memory;
pub mod mentions;
pub mod query;
pub mod ranking;
pub mod retention;
pub mod summary;
pub mod temporal;
pub mod tenant;
pub mod topk;
pub mod vector;

pub use code::Code;
pub use error::{Error, Result};
pub use memory::{Kind, Memory, MemoryPatch, NewMemory};
pub use query::{Filter, SearchMode};
