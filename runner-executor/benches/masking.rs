//! Masking throughput: 100, 5 and no masked values plus the default token prefixes over
//! log-like text.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use runner_executor::TraceWriter;
use tokio::sync::mpsc;

fn log_text(size: usize) -> Vec<u8> {
    let lines = [
        "Compiling runner-executor v0.1.0 (/builds/group/project/runner-executor)\n",
        "test trace::mask::tests::split_writes_are_masked ... ok\n",
        "Downloading https://example.com/archive.tar.gz?version=3&arch=amd64 [=====>    ] 55%\n",
        "npm WARN deprecated request@2.88.2: request has been deprecated\n",
        "$ make test && ./scripts/check.sh --verbose\n",
    ];
    let mut text = Vec::with_capacity(size + 128);
    let mut index = 0;
    while text.len() < size {
        text.extend_from_slice(lines[index % lines.len()].as_bytes());
        index += 1;
    }
    text.truncate(size);
    text
}

/// 100 masked values of 16 to 40 characters from a fixed pseudo-random sequence, like real
/// generated passwords and keys (varied first bytes).
fn secrets() -> Vec<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..100)
        .map(|_| {
            let len = 16 + (next() % 25) as usize;
            (0..len)
                .map(|_| char::from(ALPHABET[(next() % ALPHABET.len() as u64) as usize]))
                .collect()
        })
        .collect()
}

fn masking(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let text = log_text(4 << 20);
    let chunks: Vec<&[u8]> = text.chunks(32 * 1024).collect();
    let mut group = c.benchmark_group("masking");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(20);
    for (name, values) in [
        ("100_values_32k_writes", secrets()),
        // A typical job: its token and a few masked variables.
        ("5_values_32k_writes", secrets()[..5].to_vec()),
        ("no_values_32k_writes", Vec::new()),
    ] {
        let (sender, mut receiver) = mpsc::channel::<Bytes>(1024);
        let mut trace = TraceWriter::builder(sender)
            .mask_values(values)
            .output_limit(usize::MAX)
            .build();
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    for chunk in &chunks {
                        trace.write(black_box(chunk)).await;
                        while let Ok(out) = receiver.try_recv() {
                            black_box(out);
                        }
                    }
                });
            });
        });
    }
    group.finish();
}

criterion_group!(benches, masking);
criterion_main!(benches);
