//! In-memory storage backends and fault-injection and metering wrappers
