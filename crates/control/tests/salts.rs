//! Salt rotation across epochs with a manual clock, under retries, restarts
//! and injected faults.

use std::sync::Arc;
use std::time::Duration;

use futures::executor::block_on;
use glinto_control::{Error, SaltManager};
use glinto_event_model::visitor::{Salt, SaltPeriod, Salts};
use glinto_storage::{Clock, ManualClock, StateStore, Timestamp};
use glinto_storage_memory::{Fault, FaultPlan, Faulty, MemoryState, Op};

const DAY: Duration = Duration::from_secs(86_400);
const T0: u64 = 1_764_979_200_000 + 3_600_000; // 2025-12-06 01:00 UTC

fn ids(salts: &Salts) -> (u64, Option<u64>) {
    let ids = salts.visitor_ids("Mozilla/5.0", "203.0.113.7".parse().unwrap(), "a.example");
    (ids.current, ids.previous)
}

/// The id a visitor gets under exactly `salt`.
fn id_under(salt: [u8; 16]) -> u64 {
    glinto_event_model::visitor::visitor_id(
        &Salt::from_bytes(salt),
        "Mozilla/5.0",
        "203.0.113.7".parse().unwrap(),
        "a.example",
    )
}

fn stored(state: &MemoryState) -> Option<Salts> {
    state
        .snapshot()
        .get("salts")
        .map(|bytes| Salts::decode_secret(bytes).unwrap())
}

#[test]
fn salts_rotate_daily_keep_one_previous_and_destroy_the_rest() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(T0)));
    let state = MemoryState::new(clock.clone());
    let salts = SaltManager::new(&state, SaltPeriod::Daily);
    let day0 = salts.epoch_at(clock.now());

    assert_eq!(
        block_on(salts.load(clock.now())).unwrap(),
        None,
        "nothing before the first ensure"
    );
    // (days after T0, fresh bytes offered, expected current salt, expected previous salt)
    let steps: &[(u32, u8, u8, Option<u8>)] = &[
        (0, 1, 1, None),    // created
        (0, 2, 1, None),    // same epoch: the stored salt, `fresh` unused
        (1, 3, 3, Some(1)), // rotated: yesterday's kept
        (2, 4, 4, Some(3)), // day 0's salt destroyed
        (4, 5, 5, None),    // a skipped epoch: no previous (no visit spans it)
        (5, 6, 6, Some(5)),
    ];
    for &(days, fresh, current, previous) in steps {
        clock.set(Timestamp::from_unix_millis(
            T0 + u64::from(days) * 86_400_000,
        ));
        let got = block_on(salts.ensure(clock.now(), [fresh; 16])).unwrap();
        assert_eq!(got.epoch().index, day0.index + days);
        assert_eq!(
            ids(&got),
            (id_under([current; 16]), previous.map(|p| id_under([p; 16]))),
            "day {days}"
        );
        assert_eq!(
            stored(&state).as_ref(),
            Some(&got),
            "the store holds exactly the salts in force"
        );
        assert_eq!(block_on(salts.load(clock.now())).unwrap(), Some(got));
    }
    assert_eq!(
        salts.next_rotation(clock.now()),
        Timestamp::from_unix_millis(1_764_979_200_000 + 6 * 86_400_000)
    );
}

/// The stored record: its current salt's byte, and whether it keeps a previous salt.
type Stored = Option<(u8, bool)>;

#[test]
fn idle_epochs_destroy_salts_without_creating_any() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(T0)));
    let state = MemoryState::new(clock.clone());
    let salts = SaltManager::new(&state, SaltPeriod::Daily);
    block_on(salts.ensure(clock.now(), [1; 16])).unwrap();
    clock.advance(DAY);
    block_on(salts.ensure(clock.now(), [2; 16])).unwrap();

    // (days after the last rotation, destroyed?, stored (current, has previous))
    let steps: &[(u32, bool, Stored)] = &[
        (0, false, Some((2, true))),
        (1, true, Some((2, false))), // day 0's salt is two behind: gone
        (1, false, Some((2, false))),
        (2, true, None), // day 1's salt is two behind too: the record is gone
        (3, false, None),
    ];
    let rotated = clock.now();
    for &(days, destroyed, expected) in steps {
        clock.set(rotated.saturating_add(DAY * days));
        assert_eq!(
            block_on(salts.destroy_expired(clock.now())).unwrap(),
            destroyed,
            "day +{days}"
        );
        let record = stored(&state);
        assert_eq!(
            record.as_ref().map(|s| (ids(s).0, s.has_previous())),
            expected.map(|(c, p)| (id_under([c; 16]), p))
        );
        // Nothing expired is ever served.
        let loaded = block_on(salts.load(clock.now())).unwrap();
        assert!(loaded.is_none() || days == 0);
    }
    assert_eq!(block_on(salts.load(clock.now())).unwrap(), None);
}

#[test]
fn a_restart_or_retry_mid_rotation_never_makes_two_salts_for_one_epoch() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(T0)));
    let memory = MemoryState::new(clock.clone());
    // The 2nd write (the rotation to day 1) lands, then reports a timeout.
    let plan = FaultPlan::new(1).with(Fault::transient().on(&[Op::Write]).nth(2).after_applying());
    let state = Faulty::new(&memory, plan);
    let salts = SaltManager::new(&state, SaltPeriod::Daily);
    block_on(salts.ensure(clock.now(), [1; 16])).unwrap();
    clock.advance(DAY);
    let err = block_on(salts.ensure(clock.now(), [2; 16])).unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    // The retry offers other random bytes but gets the salt that landed.
    let retried = block_on(salts.ensure(clock.now(), [3; 16])).unwrap();
    assert_eq!(ids(&retried), (id_under([2; 16]), Some(id_under([1; 16]))));

    // A restart (a new manager on the same store) sees the same salts.
    let restarted = SaltManager::new(&memory, SaltPeriod::Daily);
    assert_eq!(
        block_on(restarted.load(clock.now())).unwrap(),
        Some(retried.clone())
    );
    assert_eq!(
        block_on(restarted.ensure(clock.now(), [4; 16])).unwrap(),
        retried
    );
}

#[test]
fn a_write_that_fails_before_landing_keeps_nothing_in_memory() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(T0)));
    let memory = MemoryState::new(clock.clone());
    let plan = FaultPlan::new(1).with(Fault::transient().on(&[Op::Write]).first(1));
    let state = Faulty::new(&memory, plan);
    let salts = SaltManager::new(&state, SaltPeriod::Daily);
    assert!(block_on(salts.ensure(clock.now(), [1; 16])).is_err());
    assert_eq!(block_on(salts.load(clock.now())).unwrap(), None);
    assert!(memory.snapshot().is_empty());
    let created = block_on(salts.ensure(clock.now(), [2; 16])).unwrap();
    assert_eq!(ids(&created), (id_under([2; 16]), None));
}

#[test]
fn clock_skew_and_period_changes() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(
        T0 + 86_400_000,
    )));
    let state = MemoryState::new(clock.clone());
    let daily = SaltManager::new(&state, SaltPeriod::Daily);
    let today = block_on(daily.ensure(clock.now(), [1; 16])).unwrap();
    // A clock that went back a day gets today's salts, never a recreated
    // salt for an epoch whose salt may have been destroyed.
    let yesterday = Timestamp::from_unix_millis(T0);
    assert_eq!(block_on(daily.ensure(yesterday, [2; 16])).unwrap(), today);
    assert_eq!(block_on(daily.load(yesterday)).unwrap(), Some(today));

    // Switching to weekly salts starts afresh, with no previous salt.
    let weekly = SaltManager::new(&state, SaltPeriod::Weekly);
    let week = block_on(weekly.ensure(clock.now(), [3; 16])).unwrap();
    assert_eq!(week.epoch().period, SaltPeriod::Weekly);
    assert_eq!(ids(&week), (id_under([3; 16]), None));
    assert!(!block_on(weekly.destroy_expired(clock.now())).unwrap());
    // And back: weekly salts never serve a daily manager (nor the reverse).
    let daily = SaltManager::new(&state, SaltPeriod::Daily);
    assert_eq!(block_on(daily.load(clock.now())).unwrap(), None);
    let day = block_on(daily.ensure(clock.now(), [4; 16])).unwrap();
    assert_eq!(day.epoch().period, SaltPeriod::Daily);
    assert_eq!(ids(&day), (id_under([4; 16]), None));
    // (A restarted weekly manager: one manager owns the record at a time.)
    let weekly = SaltManager::new(&state, SaltPeriod::Weekly);
    assert_eq!(block_on(weekly.load(clock.now())).unwrap(), None);
    assert!(
        block_on(weekly.destroy_expired(clock.now())).unwrap(),
        "another period's salts go"
    );
    assert!(state.snapshot().is_empty());
    block_on(daily.ensure(clock.now(), [5; 16])).unwrap();
    block_on(daily.destroy_all()).unwrap();
    assert!(state.snapshot().is_empty());
}

#[test]
fn corrupt_salt_records_are_reported_not_replaced() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_millis(T0)));
    let state = MemoryState::new(clock.clone());
    block_on(state.write(glinto_storage::WriteBatch::new().put("salts", vec![9u8; 5]))).unwrap();
    let salts = SaltManager::new(&state, SaltPeriod::Daily);
    let err = block_on(salts.ensure(clock.now(), [1; 16])).unwrap_err();
    assert!(
        matches!(err, Error::Corrupt { ref key, .. } if key == "salts"),
        "{err:?}"
    );
    assert_eq!(state.snapshot().get("salts").map(|b| b.len()), Some(5));
}
