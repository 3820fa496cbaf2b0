//! /debug/pprof/profile returns a gzipped profile.proto that decodes and holds CPU samples.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pprof::protos::Message;

use crate::common::{get, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_profile_decodes_as_profile_proto_with_samples() {
    let harness = start().await;
    let addr = harness.server.local_addr();
    // Keep one thread busy so the profile has CPU samples to record.
    let stop = Arc::new(AtomicBool::new(false));
    let spinner = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut x: u64 = 1;
            while !stop.load(Ordering::Relaxed) {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                std::hint::black_box(x);
            }
        })
    };
    let response = get(addr, "/debug/pprof/profile?seconds=1").await;
    stop.store(true, Ordering::Relaxed);
    spinner.join().unwrap();

    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(&response.body[..2], &[0x1f, 0x8b], "not gzip");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(response.body.as_slice())
        .read_to_end(&mut raw)
        .unwrap();
    let profile = pprof::protos::Profile::decode(raw.as_slice()).unwrap();
    assert!(!profile.sample_type.is_empty());
    let sample_type_names: Vec<&str> = profile
        .sample_type
        .iter()
        .map(|t| profile.string_table[t.ty as usize].as_str())
        .collect();
    assert!(sample_type_names.contains(&"cpu"), "{sample_type_names:?}");
    assert!(
        !profile.sample.is_empty(),
        "no samples while a thread was spinning"
    );
    assert!(profile.period > 0);
    harness.server.shutdown().await;
}
