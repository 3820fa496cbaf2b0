//! The log as received: checksum and size of everything, unacknowledged bytes in memory,
//! acknowledged bytes in an archive (memory or a spill file) for 412/416 rewinds.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Error, Result};

/// `crc32:<8 lowercase hex>` (IEEE) of `bytes`, as sent in `output.checksum`.
pub fn trace_checksum(bytes: &[u8]) -> String {
    format!("crc32:{:08x}", crc32fast::hash(bytes))
}

/// Where acknowledged bytes go.
enum Archive {
    /// The acknowledged chunks themselves: no copy.
    Memory(Vec<Bytes>),
    /// Used from the blocking pool only, one operation at a time (the store is `&mut`).
    File {
        file: Arc<std::fs::File>,
        path: PathBuf,
    },
}

pub(crate) struct LogStore {
    hasher: crc32fast::Hasher,
    total: u64,
    /// Next byte to send; everything below was acknowledged.
    sent_offset: u64,
    /// Offset of the first byte held in `memory`.
    memory_start: u64,
    memory: VecDeque<Bytes>,
    archive: Archive,
}

impl LogStore {
    pub(crate) async fn new(spill_dir: Option<&Path>, job_id: u64) -> Result<Self> {
        let archive = match spill_dir {
            None => Archive::Memory(Vec::new()),
            Some(directory) => {
                let path =
                    directory.join(format!("job-{job_id}-{:016x}.log", rand::random::<u64>()));
                let file = tokio::fs::OpenOptions::new()
                    .create_new(true)
                    .read(true)
                    .write(true)
                    .open(&path)
                    .await
                    .map_err(|source| Error::Io {
                        path: path.clone(),
                        source,
                    })?;
                let file = Arc::new(file.into_std().await);
                Archive::File { file, path }
            }
        };
        Ok(Self {
            hasher: crc32fast::Hasher::new(),
            total: 0,
            sent_offset: 0,
            memory_start: 0,
            memory: VecDeque::new(),
            archive,
        })
    }

    pub(crate) fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.hasher.update(&chunk);
        self.total += chunk.len() as u64;
        self.memory.push_back(chunk);
    }

    pub(crate) fn checksum(&self) -> String {
        format!("crc32:{:08x}", self.hasher.clone().finalize())
    }

    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    pub(crate) fn unsent(&self) -> u64 {
        self.total - self.sent_offset
    }

    /// Bytes held in memory (unacknowledged).
    pub(crate) fn buffered(&self) -> u64 {
        self.total - self.memory_start
    }

    /// The next slice to send: up to `max` bytes from the send offset, as the stored
    /// chunks themselves (no copy).
    pub(crate) fn next_chunks(&self, max: usize) -> Option<(u64, Vec<Bytes>)> {
        let mut wanted = usize::try_from(self.unsent())
            .unwrap_or(usize::MAX)
            .min(max);
        if wanted == 0 {
            return None;
        }
        let mut skip = usize::try_from(self.sent_offset - self.memory_start).unwrap_or(usize::MAX);
        let mut slice = Vec::new();
        for chunk in &self.memory {
            if skip >= chunk.len() {
                skip -= chunk.len();
                continue;
            }
            let take = (chunk.len() - skip).min(wanted);
            slice.push(chunk.slice(skip..skip + take));
            skip = 0;
            wanted -= take;
            if wanted == 0 {
                break;
            }
        }
        Some((self.sent_offset, slice))
    }

    /// The server stored everything below `offset`: move it out of memory.
    pub(crate) async fn acknowledge(&mut self, offset: u64) -> Result<()> {
        self.sent_offset = offset.min(self.total);
        let mut acknowledged = Vec::new();
        while let Some(front) = self.memory.front() {
            let front_end = self.memory_start + front.len() as u64;
            if front_end > self.sent_offset {
                let keep_from = usize::try_from(self.sent_offset - self.memory_start).unwrap_or(0);
                if keep_from > 0 {
                    acknowledged.push(front.slice(..keep_from));
                    let rest = front.slice(keep_from..);
                    self.memory_start += keep_from as u64;
                    if let Some(slot) = self.memory.front_mut() {
                        *slot = rest;
                    }
                }
                break;
            }
            if let Some(chunk) = self.memory.pop_front() {
                acknowledged.push(chunk);
                self.memory_start = front_end;
            }
        }
        self.archive_chunks(acknowledged).await
    }

    /// Resume sending at `offset` (416 `Range`, or 0 after a 412). An offset beyond the
    /// local log is clamped to its end (Beyond: the reference then never finishes).
    pub(crate) async fn rewind(&mut self, offset: u64) -> Result<()> {
        let offset = offset.min(self.total);
        if offset >= self.memory_start {
            self.sent_offset = offset;
            return Ok(());
        }
        for restored in self.read_archive_from(offset).await?.into_iter().rev() {
            self.memory.push_front(restored);
        }
        self.memory_start = offset;
        self.sent_offset = offset;
        Ok(())
    }

    async fn archive_chunks(&mut self, chunks: Vec<Bytes>) -> Result<()> {
        match &mut self.archive {
            Archive::Memory(archive) => archive.extend(chunks),
            Archive::File { .. } if chunks.is_empty() => {}
            Archive::File { file, path } => {
                // One trip to the blocking pool per acknowledgement, with the chunks
                // themselves. Tokio's `File` copies each write into its own buffer and makes
                // the next one wait for it: a PATCH's many small chunks cost a thread round
                // trip each, between two PATCHes (a big log reached the mock at 72 MiB/s
                // instead of 141-168), and joining them first would cost a copy of 1 MiB.
                let file = Arc::clone(file);
                blocking(path, move || {
                    let mut file = &*file;
                    chunks.iter().try_for_each(|chunk| file.write_all(chunk))
                })
                .await?;
            }
        }
        Ok(())
    }

    /// Removes and returns the archived bytes from `offset` to `memory_start`, in order.
    async fn read_archive_from(&mut self, offset: u64) -> Result<Vec<Bytes>> {
        match &mut self.archive {
            Archive::Memory(archive) => {
                let mut restored = Vec::new();
                let mut archive_end = self.memory_start;
                while let Some(chunk) = archive.pop() {
                    let chunk_start = archive_end - chunk.len() as u64;
                    if chunk_start >= offset {
                        restored.push(chunk);
                        archive_end = chunk_start;
                        if chunk_start == offset {
                            break;
                        }
                        continue;
                    }
                    let split = usize::try_from(offset - chunk_start).unwrap_or(0);
                    archive.push(chunk.slice(..split));
                    restored.push(chunk.slice(split..));
                    break;
                }
                restored.reverse();
                Ok(restored)
            }
            Archive::File { file, path } => {
                let length = usize::try_from(self.memory_start - offset).unwrap_or(0);
                let file = Arc::clone(file);
                let restored = blocking(path, move || {
                    let mut file = &*file;
                    let mut restored = vec![0u8; length];
                    file.seek(SeekFrom::Start(offset))?;
                    file.read_exact(&mut restored)?;
                    file.set_len(offset)?;
                    file.seek(SeekFrom::Start(offset))?;
                    Ok(restored)
                })
                .await?;
                Ok(vec![Bytes::from(restored)])
            }
        }
    }

    /// Deletes the spill file, if any.
    pub(crate) async fn remove(self) {
        if let Archive::File { file, path } = self.archive {
            drop(file);
            if let Err(error) = tokio::fs::remove_file(&path).await {
                tracing::warn!(path = %path.display(), %error, "could not remove the job log spill file");
            }
        }
    }
}

/// Runs `operation` on the spill file in the blocking pool; its error names `path`.
async fn blocking<T: Send + 'static>(
    path: &Path,
    operation: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    let io_error = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    tokio::task::spawn_blocking(operation)
        .await
        .map_err(|join| io_error(std::io::Error::other(join)))?
        .map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next_slice(store: &LogStore, max: usize) -> Option<(u64, Vec<u8>)> {
        store
            .next_chunks(max)
            .map(|(offset, chunks)| (offset, chunks.concat()))
    }

    async fn check_store(spill: bool) {
        let directory = tempfile::tempdir().unwrap();
        let mut store = LogStore::new(spill.then(|| directory.path()), 1)
            .await
            .unwrap();
        for chunk in [&b"hello "[..], b"wonderful ", b"world\n"] {
            store.push(Bytes::copy_from_slice(chunk));
        }
        assert_eq!(store.checksum(), trace_checksum(b"hello wonderful world\n"));
        let (offset, slice) = next_slice(&store, 8).unwrap();
        assert_eq!((offset, &slice[..]), (0, &b"hello wo"[..]));
        store.acknowledge(8).await.unwrap();
        assert_eq!(store.buffered(), 14);
        let (offset, slice) = next_slice(&store, 100).unwrap();
        assert_eq!((offset, &slice[..]), (8, &b"nderful world\n"[..]));
        store.acknowledge(22).await.unwrap();
        assert_eq!(store.buffered(), 0);
        assert!(next_slice(&store, 100).is_none());
        store.rewind(3).await.unwrap();
        let (offset, slice) = next_slice(&store, 100).unwrap();
        assert_eq!((offset, &slice[..]), (3, &b"lo wonderful world\n"[..]));
        store.rewind(0).await.unwrap();
        assert_eq!(&next_slice(&store, 5).unwrap().1[..], b"hello");
        store.rewind(1000).await.unwrap();
        assert_eq!(store.unsent(), 0);
        store.remove().await;
    }

    #[tokio::test]
    async fn memory_archive_rewinds() {
        check_store(false).await;
    }

    #[tokio::test]
    async fn spill_file_archive_rewinds() {
        check_store(true).await;
    }

    #[test]
    fn vector_44_checksum_of_hello() {
        assert_eq!(trace_checksum(b"hello\n"), "crc32:363a3020");
    }
}
