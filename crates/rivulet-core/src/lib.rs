//! Rivulet's domain: entities, validation rules and the store contract, with no I/O.
//!
//! Everything here is pure: the stores implement [`store::TrackingStore`], the API layer turns
//! wire messages into the types below and calls the rules in [`tracking::validation`].

pub mod error;
pub mod page;
pub mod search;
pub mod store;
pub mod time;
pub mod traces;
pub mod tracking;

pub use error::{CoreError, ErrorCode, Result};
