//! The durable per-site engine (docs to come).

mod engine;
mod error;
mod layout;

pub use engine::{Coverage, Engine, EngineConfig, EngineStats, Stores};
pub use error::{Error, Result};
