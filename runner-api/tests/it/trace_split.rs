//! Property: however the output is split into chunks and PATCHes, the fake reassembles it
//! exactly and the final checksum matches.

use bytes::Bytes;
use proptest::prelude::*;
use runner_api::{JobResponse, JobResult, JobTrace, TraceOptions, trace_checksum};

use crate::support::*;

async fn send_split(log: Vec<u8>, cuts: Vec<usize>, max_patch_size: usize) {
    let fake = fake().await;
    let job_id = fake.enqueue_job(serde_json::json!({}));
    let job =
        JobResponse::from_json(&serde_json::to_vec(&fake.job(job_id).unwrap().payload).unwrap())
            .unwrap();
    let (client, _) = client(&fake);
    let (output, receiver) = tokio::sync::mpsc::channel(2);
    let options = TraceOptions {
        max_patch_size,
        max_buffered: 64,
        ..TraceOptions::default()
    };
    let trace = JobTrace::start(client, &job, info(), receiver, options);
    let mut boundaries: Vec<usize> = cuts.into_iter().map(|cut| cut % (log.len() + 1)).collect();
    boundaries.push(0);
    boundaries.push(log.len());
    boundaries.sort_unstable();
    for window in boundaries.windows(2) {
        output
            .send(Bytes::copy_from_slice(&log[window[0]..window[1]]))
            .await
            .unwrap();
    }
    drop(output);
    trace.finish(JobResult::success()).await.unwrap();
    let record = fake.job(job_id).unwrap();
    assert_eq!(record.trace, log);
    let update = record.last_update().unwrap();
    assert_eq!(update.checksum, Some(trace_checksum(&log)));
    assert_eq!(update.bytesize.unwrap_or(0), log.len() as u64);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_split_reassembles_exactly(
        log in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        max_patch_size in 1usize..200,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(send_split(log, cuts, max_patch_size));
    }
}
