//! In progress (event-model classification work).
