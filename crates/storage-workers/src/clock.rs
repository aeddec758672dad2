//! The Workers clock.

use glinto_storage::{Clock, Timestamp};

/// `Date.now()`: the runtime's wall clock, in milliseconds.
///
/// Inside workerd the clock advances only across I/O (a Spectre mitigation),
/// which is what TTLs and alarms measured by the runtime see as well.
#[derive(Clone, Copy, Debug, Default)]
pub struct WorkersClock;

impl Clock for WorkersClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(worker::Date::now().as_millis())
    }
}
