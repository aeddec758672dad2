//! Persistent embedded storage backend for glinto serve and Rust services
