//! Placeholder: filled in by the event-model work.
fn main() {}
