//! The export worker fed by hand: a queue it never finds empty, a sink that takes its time.

use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::otlp::response::Accepted;
use crate::traces::ids::SpanIds;
use crate::traces::record::{SpanRecord, SpanStatus};
use crate::traces::tail::{TailSampling, Tally};

/// A collector that takes `pause` a batch and keeps, in order, the first byte of the trace
/// id of each span it gets.
struct Slow {
    got: Arc<Mutex<Vec<u8>>>,
    pause: Duration,
}

impl Sink for Slow {
    fn export(&mut self, batch: &[Item], _timeout: Duration) -> Result<Accepted, Failure> {
        std::thread::sleep(self.pause);
        let mut got = self.got.lock().unwrap();
        got.extend(batch.iter().map(|s| s.record.ids.trace_id[0]));
        Ok(Accepted::default())
    }

    fn target(&self) -> String {
        "a slow test sink".into()
    }
}

fn meta() -> &'static tracing::Metadata<'static> {
    use tracing::callsite::Callsite as _;
    tracing::callsite! { name: "queued", kind: tracing::metadata::Kind::SPAN, fields: [] }
        .metadata()
}

/// A closed span `id` of trace `trace`, ending now, stamped with pipeline `generation`.
fn span(trace: u8, id: u8, sampled: bool, status: SpanStatus, generation: u64) -> Finished {
    let ids = SpanIds {
        trace_id: [trace; 16],
        span_id: [id; 8],
        sampled,
    };
    let mut record = SpanRecord::new(ids, Some([1; 8]), 0, 0);
    record.status = status;
    Finished {
        meta: meta(),
        record,
        end: crate::clock::raw(),
        generation,
    }
}

/// With a collector slower than the spans arrive, the queue is never empty when the worker
/// looks; once per schedule delay it still decides the traces held past `max_age` (it did so
/// only when the queue was empty, so under a steady backlog they stayed held until
/// `max_memory` decided every new trace at its first span), and exports the kept ones as its
/// own, whichever pipeline was active when their spans closed.
#[test]
fn the_age_sweep_runs_while_the_queue_is_never_empty() {
    const QUEUED: usize = 200;
    let _turn = crate::traces::tail::tests::sweeping();
    let rules = Rules::new(
        TailSampling::new()
            .errors()
            .max_age(Duration::from_millis(1)),
    );
    // A failed child whose root stays open: held and listed, not yet decided.
    let held = Tally::new(Arc::clone(&rules), [1; 8]);
    held.close(span(9, 2, false, SpanStatus::Error("e".into()), 3), |_| {
        panic!("decided at its first span");
    });
    let (queue, batches) = sync_channel(QUEUED);
    for _ in 0..QUEUED {
        queue
            .send(vec![span(1, 3, true, SpanStatus::Unset, 7)])
            .unwrap();
    }
    drop(queue);
    let got = Arc::new(Mutex::new(Vec::new()));
    let mut worker = Worker {
        sink: Box::new(Slow {
            got: Arc::clone(&got),
            pause: Duration::from_millis(1),
        }),
        batch: Batching {
            max_queue: 2048,
            max_batch: 512,
            delay: Duration::from_millis(10),
            export_timeout: Duration::from_secs(5),
        },
        generation: 7,
        shutdown: Arc::default(),
        failing: false,
        told_drop: false,
        told_partial: false,
        tail: Some(rules),
    };
    worker.run(&batches);
    let got = got.lock().unwrap();
    assert_eq!(got.len(), QUEUED + 1, "every queued span and the held one");
    let at = got
        .iter()
        .position(|&t| t == 9)
        .expect("the held trace is kept");
    // At least QUEUED ms of exports, swept after the first 10 ms.
    assert!(
        at < QUEUED,
        "decided at batch {at}, once the queue was empty"
    );
    drop(held);
}
