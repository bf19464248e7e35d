//! A model-based test of the ledger: random interleavings of holds, settles, cancels,
//! unreserved records, flushes and each delivery outcome, against a simple model. Checks,
//! after every step: a hold is granted only while `applied + held ≤ limit` (a hard limit
//! is never passed by admissions), and every unit admitted is in exactly one state
//! (reserved, recorded or pending, in flight, delivered, failed, unknown).

use proptest::prelude::*;
use tokio::time::Instant;

use super::{Batch, Holds, UsageLedger};

const LIMIT: i64 = 40;

#[derive(Debug, Clone)]
enum Step {
    /// A request holds `at_least..=want` units.
    Hold { at_least: i64, want: i64 },
    /// The `index`-th request in flight settles, keeping `kept` (capped at its hold).
    Settle { index: usize, kept: i64 },
    /// The `index`-th request in flight is dropped: it gives everything back.
    Cancel { index: usize },
    /// Usage recorded outside any hold (a handler's own record, a fleet's sync).
    Record { units: i64 },
    /// The meter's flush: collects the intake and takes what is due.
    Flush,
    /// The reports in flight come back: delivered, failed, unknown, or refused before
    /// processing (put back).
    Outcome { outcome: u8 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0i64..4, 0i64..8).prop_map(|(at_least, extra)| Step::Hold { at_least, want: at_least + extra }),
        3 => (0usize..8, 0i64..10).prop_map(|(index, kept)| Step::Settle { index, kept }),
        1 => (0usize..8).prop_map(|index| Step::Cancel { index }),
        1 => (1i64..4).prop_map(|units| Step::Record { units }),
        2 => Just(Step::Flush),
        2 => (0u8..4).prop_map(|outcome| Step::Outcome { outcome }),
    ]
}

/// The model: every unit's state, counted.
#[derive(Debug, Default)]
struct Model {
    /// The holds of the requests in flight.
    held: Vec<i64>,
    /// Units in the snapshot's applied usage (kept and recorded).
    applied: i64,
    in_flight: Vec<Batch>,
    delivered: i128,
    failed: i128,
    unknown: i128,
    /// Every unit that entered: kept by a settle, or recorded outside a hold.
    entered: i128,
}

fn run(steps: Vec<Step>, striped: bool) -> Result<(), TestCaseError> {
    let ledger = UsageLedger::default();
    let holds = if striped {
        Holds::striped()
    } else {
        Holds::default()
    };
    let entries = ledger.entries();
    let now = Instant::now();
    let mut model = Model::default();
    for step in steps {
        match step {
            Step::Hold { at_least, want } => {
                let applied = model.applied;
                let before: i64 = model.held.iter().sum();
                match holds.hold(at_least, want, || LIMIT - applied) {
                    Some(held) => {
                        prop_assert!((at_least..=want.max(at_least)).contains(&held));
                        model.held.push(held);
                        prop_assert!(
                            applied + before + held <= LIMIT,
                            "granted {held} with {applied} applied and {before} held"
                        );
                    }
                    None => prop_assert!(
                        applied + before + at_least.max(1) > LIMIT,
                        "refused {at_least} with {applied} applied and {before} held"
                    ),
                }
            }
            Step::Settle { index, kept } => {
                if model.held.is_empty() {
                    continue;
                }
                let held = model.held.swap_remove(index % model.held.len());
                let kept = kept.min(held);
                // As the meter does: into the ledger and the snapshot, then the hold.
                ledger.intake().add("c", "f", kept, entries, usize::MAX);
                model.applied += kept;
                holds.settle(held);
                model.entered += i128::from(kept);
            }
            Step::Cancel { index } => {
                if model.held.is_empty() {
                    continue;
                }
                let held = model.held.swap_remove(index % model.held.len());
                holds.settle(held);
            }
            Step::Record { units } => {
                ledger.intake().add("c", "f", units, entries, usize::MAX);
                model.applied += units;
                holds.revoke();
                model.entered += i128::from(units);
            }
            Step::Flush => {
                ledger.collect();
                let due = ledger.backlog().take_due(now, usize::MAX, entries);
                model.in_flight.extend(due);
            }
            Step::Outcome { outcome } => {
                for batch in std::mem::take(&mut model.in_flight) {
                    let units = i128::from(batch.line.units);
                    match outcome {
                        0 => model.delivered += units,
                        1 => model.failed += units,
                        2 => model.unknown += units,
                        _ => {
                            ledger.backlog().put_back(batch, now, entries);
                            continue;
                        }
                    }
                    ledger.backlog().settled(1, entries);
                }
            }
        }
        // Every unit in exactly one state.
        let reserved = i128::from(holds.held());
        prop_assert_eq!(reserved, i128::from(model.held.iter().sum::<i64>()));
        let waiting = ledger.lock_all().units();
        let in_flight: i128 = model
            .in_flight
            .iter()
            .map(|batch| i128::from(batch.line.units))
            .sum();
        prop_assert_eq!(
            waiting + in_flight + model.delivered + model.failed + model.unknown,
            model.entered
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn the_ledger_keeps_every_unit_in_one_state_and_holds_within_the_limit(
        steps in proptest::collection::vec(step(), 0..80),
        striped in any::<bool>(),
    ) {
        run(steps, striped)?;
    }
}
