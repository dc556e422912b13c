use obs_runtime::{counted, timed};

// A failure that reads like a success would be counted as one by every error ratio.
#[counted(status(ok = "success", blocked = "success"))]
fn blocked_reads_as_success() {}

#[timed(status(ok = "timeout"))]
fn ok_reads_as_timeout() {}

#[counted(status(error = "ok"))]
fn error_reads_as_ok() {}

fn main() {
    blocked_reads_as_success();
    ok_reads_as_timeout();
    error_reads_as_ok();
}
