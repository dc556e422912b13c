// `status(..)` renames the status values and label of one metric, on every shape, stacked with
// objectives and labels from the call, and raises no lint.

#![deny(warnings)]

use obs_runtime::{ErrorStatus, Status, counted, in_flight, timed, traced};

#[derive(Debug)]
enum SkillError {
    Crashed,
    Refused,
}

impl ErrorStatus for SkillError {
    fn status(&self) -> Status {
        match self {
            SkillError::Crashed => Status::ERROR,
            SkillError::Refused => Status::BLOCKED,
        }
    }
}

#[traced]
#[counted(
    name = "skill_executions_total",
    labels(skill_name = skill),
    status(ok = "success", panic = "error", cancelled = "error"),
    objective(success = 99.0)
)]
#[timed(
    buckets = [0.1, 1.0],
    status(label = "outcome", ok = "success"),
    objective(latency = "1s", percentile = 95)
)]
#[in_flight]
fn run_skill(skill: &str, refuse: bool) -> Result<(), SkillError> {
    if refuse {
        Err(SkillError::Refused)
    } else if skill.is_empty() {
        Err(SkillError::Crashed)
    } else {
        Ok(())
    }
}

struct Jobs;

#[counted(status(label = "status_code", ok = "200", error = "500", timeout = "504"))]
impl Jobs {
    fn get(&self) -> u8 {
        1
    }

    async fn poll(&self) -> Result<(), String> {
        Ok(())
    }
}

fn main() {
    let _ = run_skill("weather", false);
    let _ = run_skill("weather", true);
    let _ = Jobs.get();
    let _ = futures_executor::block_on(Jobs.poll());
}
