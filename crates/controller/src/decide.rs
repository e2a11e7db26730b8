//! The experiment's decision rule, pure: from counts and limits to what happens next.
//! Kept apart from I/O so that every limit and condition is unit-tested directly.

use ferrotune_core::TrialStatus;

/// How many trials are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Created and not yet running (including interrupted ones waiting to re-run).
    pub pending: u32,
    pub running: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub killed: u32,
    pub metrics_unavailable: u32,
    pub early_stopped: u32,
}

impl Counts {
    /// Trials that have ended, whatever their end; these count towards `maxTrialCount`.
    pub fn finished(&self) -> u32 {
        self.succeeded + self.failed + self.killed + self.metrics_unavailable + self.early_stopped
    }

    /// Trials that exist and have not ended.
    pub fn active(&self) -> u32 {
        self.pending + self.running
    }

    pub fn add(&mut self, s: TrialStatus) {
        *self.slot(s) += 1;
    }

    pub fn remove(&mut self, s: TrialStatus) {
        let slot = self.slot(s);
        *slot = slot.saturating_sub(1);
    }

    fn slot(&mut self, s: TrialStatus) -> &mut u32 {
        match s {
            TrialStatus::Created => &mut self.pending,
            TrialStatus::Running => &mut self.running,
            TrialStatus::Succeeded => &mut self.succeeded,
            TrialStatus::Failed => &mut self.failed,
            TrialStatus::Killed => &mut self.killed,
            TrialStatus::MetricsUnavailable => &mut self.metrics_unavailable,
            TrialStatus::EarlyStopped => &mut self.early_stopped,
        }
    }
}

/// The experiment's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub parallel: u32,
    pub max_trials: Option<u32>,
    pub max_failed: Option<u32>,
}

/// Why an experiment ended; Katib's reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    GoalReached,
    MaxTrialsReached,
    SuggestionEndReached,
    /// More failed trials than `maxFailedTrialCount`.
    TooManyFailures,
}

impl Completion {
    /// Katib's reason string.
    pub fn reason(self) -> &'static str {
        match self {
            Completion::GoalReached => "ExperimentGoalReached",
            Completion::MaxTrialsReached => "ExperimentMaxTrialsReached",
            Completion::SuggestionEndReached => "ExperimentSuggestionEndReached",
            Completion::TooManyFailures => "ExperimentFailed",
        }
    }

    pub fn succeeded(self) -> bool {
        !matches!(self, Completion::TooManyFailures)
    }
}

/// What the controller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Complete(Completion),
    /// Ask for this many new trials (more than zero).
    Launch(u32),
    /// Wait for running trials.
    Wait,
}

/// Decides, in Katib's order: goal, failures, trial limit, end of suggestions, then how many
/// new trials fit under `parallel` without ever letting finished + active exceed the limit.
pub fn decide(c: &Counts, l: &Limits, goal_reached: bool, suggestions_exhausted: bool) -> Decision {
    if goal_reached {
        return Decision::Complete(Completion::GoalReached);
    }
    if let Some(mf) = l.max_failed
        && c.failed > mf
    {
        return Decision::Complete(Completion::TooManyFailures);
    }
    if let Some(m) = l.max_trials
        && c.finished() >= m
    {
        return Decision::Complete(Completion::MaxTrialsReached);
    }
    if suggestions_exhausted {
        return if c.active() == 0 {
            Decision::Complete(Completion::SuggestionEndReached)
        } else {
            Decision::Wait
        };
    }
    let mut room = l.parallel.saturating_sub(c.active());
    if let Some(m) = l.max_trials {
        room = room.min(m.saturating_sub(c.finished() + c.active()));
    }
    if room > 0 {
        Decision::Launch(room)
    } else {
        Decision::Wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(parallel: u32, max: Option<u32>, max_failed: Option<u32>) -> Limits {
        Limits {
            parallel,
            max_trials: max,
            max_failed,
        }
    }

    #[test]
    fn fills_parallel_slots_without_passing_the_trial_limit() {
        let c = Counts::default();
        assert_eq!(
            decide(&c, &limits(3, Some(10), None), false, false),
            Decision::Launch(3)
        );
        let c = Counts {
            running: 2,
            succeeded: 7,
            ..Default::default()
        };
        assert_eq!(
            decide(&c, &limits(3, Some(10), None), false, false),
            Decision::Launch(1)
        );
        let c = Counts {
            running: 3,
            succeeded: 5,
            ..Default::default()
        };
        assert_eq!(
            decide(&c, &limits(3, Some(10), None), false, false),
            Decision::Wait
        );
        let c = Counts {
            pending: 1,
            running: 1,
            succeeded: 7,
            ..Default::default()
        };
        assert_eq!(
            decide(&c, &limits(8, Some(10), None), false, false),
            Decision::Launch(1)
        );
        let c = Counts {
            running: 0,
            succeeded: 4,
            ..Default::default()
        };
        assert_eq!(
            decide(&c, &limits(8, None, None), false, false),
            Decision::Launch(8)
        );
    }

    #[test]
    fn every_kind_of_end_counts_towards_the_limit() {
        let c = Counts {
            succeeded: 2,
            failed: 1,
            killed: 1,
            metrics_unavailable: 1,
            early_stopped: 1,
            ..Default::default()
        };
        assert_eq!(c.finished(), 6);
        assert_eq!(
            decide(&c, &limits(2, Some(6), None), false, false),
            Decision::Complete(Completion::MaxTrialsReached)
        );
    }

    #[test]
    fn failures_beyond_the_limit_fail_the_experiment() {
        let c = Counts {
            failed: 2,
            running: 1,
            ..Default::default()
        };
        assert_eq!(
            decide(&c, &limits(3, Some(10), Some(2)), false, false),
            Decision::Launch(2)
        );
        let c = Counts {
            failed: 3,
            running: 1,
            ..Default::default()
        };
        let d = decide(&c, &limits(3, Some(10), Some(2)), false, false);
        assert_eq!(d, Decision::Complete(Completion::TooManyFailures));
        assert!(!Completion::TooManyFailures.succeeded());
        assert_eq!(Completion::TooManyFailures.reason(), "ExperimentFailed");
    }

    #[test]
    fn goal_comes_first() {
        let c = Counts {
            failed: 5,
            succeeded: 10,
            ..Default::default()
        };
        assert_eq!(
            decide(&c, &limits(3, Some(10), Some(1)), true, false),
            Decision::Complete(Completion::GoalReached)
        );
    }

    #[test]
    fn exhausted_suggestions_end_once_nothing_runs() {
        let c = Counts {
            running: 2,
            succeeded: 4,
            ..Default::default()
        };
        assert_eq!(
            decide(&c, &limits(3, Some(10), None), false, true),
            Decision::Wait
        );
        let c = Counts {
            succeeded: 6,
            ..Default::default()
        };
        assert_eq!(
            decide(&c, &limits(3, Some(10), None), false, true),
            Decision::Complete(Completion::SuggestionEndReached)
        );
        // the trial limit wins when both apply
        let c = Counts {
            succeeded: 10,
            ..Default::default()
        };
        assert_eq!(
            decide(&c, &limits(3, Some(10), None), false, true),
            Decision::Complete(Completion::MaxTrialsReached)
        );
    }

    #[test]
    fn counts_move_between_states() {
        let mut c = Counts::default();
        c.add(TrialStatus::Created);
        c.remove(TrialStatus::Created);
        c.add(TrialStatus::Running);
        c.remove(TrialStatus::Running);
        c.add(TrialStatus::Succeeded);
        assert_eq!(
            c,
            Counts {
                succeeded: 1,
                ..Default::default()
            }
        );
        c.remove(TrialStatus::Failed); // never below zero
        assert_eq!(c.failed, 0);
    }
}
