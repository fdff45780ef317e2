//! Where records go: stderr, one `write(2)` per record (`serve --log-flush line`, and every
//! command but `serve`), or through one process buffer (`serve`'s default, `buffered`).
//!
//! Buffered, the records of answered requests (`request`, `ref`, `git`: [`DEFERRED`]) wait in
//! the buffer until it holds [`FLUSH_BYTES`], until the flusher thread's next turn (at most
//! [`FLUSH_EVERY`] after the first of them), until any other event (lifecycle, module, trust,
//! `policy-failure`: written at once, after whatever waits, so the order is kept), or until
//! the process stops ([`super::Flushing`] dropped at the end of `serve`) or panics (a panic
//! hook). A process killed outright (`SIGKILL`, abort, the OOM killer) loses at most the
//! records of the last 10 ms or 64 KiB; a write per record loses at most the one being
//! written. A write that fails (stderr closed) drops its records; it never stops a request.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::Duration;

/// Buffered bytes that are written at once.
pub const FLUSH_BYTES: usize = 64 * 1024;

/// Longest a buffered record waits for the flusher thread.
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);

/// The events that may wait in the buffer: one per answered request, ref or git line.
pub const DEFERRED: [&str; 3] = ["request", "ref", "git"];

/// The records not written yet.
struct Pending {
    bytes: Vec<u8>,
    /// The flusher thread sleeps until a record comes (an idle server never wakes it).
    flusher_waits: bool,
}

struct Sink {
    pending: Mutex<Pending>,
    wake: Condvar,
    /// Held while writing, so writes leave in the order their records came; the bytes
    /// written last, kept for their capacity.
    writing: Mutex<Vec<u8>>,
}

static SINK: Sink = Sink {
    pending: Mutex::new(Pending {
        bytes: Vec::new(),
        flusher_waits: false,
    }),
    wake: Condvar::new(),
    writing: Mutex::new(Vec::new()),
};

/// Records go through the buffer (set once the flusher thread runs).
static BUFFERED: AtomicBool = AtomicBool::new(false);

/// Started once.
static STARTED: AtomicBool = AtomicBool::new(false);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Buffer from now on: starts the flusher thread and the panic hook (once). Records stay
/// one write each if the thread cannot start (the error says why).
pub fn start() -> std::io::Result<()> {
    if STARTED.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    std::thread::Builder::new()
        .name("log-flush".into())
        .spawn(flusher)?;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        flush_on_panic();
        previous(info);
    }));
    BUFFERED.store(true, Ordering::SeqCst);
    Ok(())
}

/// One whole record (its newline included) of `event`.
pub fn put(event: &str, record: &[u8]) {
    if !BUFFERED.load(Ordering::Relaxed) {
        write_out(record);
        return;
    }
    let mut pending = lock(&SINK.pending);
    let was_empty = pending.bytes.is_empty();
    pending.bytes.extend_from_slice(record);
    if DEFERRED.contains(&event) && pending.bytes.len() < FLUSH_BYTES {
        let wake = was_empty && pending.flusher_waits;
        // Woken after the lock is released, the flusher does not wait for it again.
        drop(pending);
        if wake {
            SINK.wake.notify_one();
        }
        return;
    }
    drop(pending);
    flush();
}

/// Write whatever waits, now.
pub fn flush() {
    let mut out = lock(&SINK.writing);
    take(&mut out, lock(&SINK.pending));
    write_out(&out);
    out.clear();
}

/// Moves the pending bytes into `out` (its empty buffer takes their place); the records
/// are written after `pending` is released, so others add theirs meanwhile.
fn take(out: &mut Vec<u8>, mut pending: MutexGuard<'_, Pending>) {
    std::mem::swap(&mut pending.bytes, out);
}

/// One `write(2)` (more only if the kernel takes part of it); errors are dropped.
fn write_out(bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let _ = std::io::stderr().lock().write_all(bytes);
}

/// The flusher thread: asleep while nothing waits; then writes what came in the next
/// [`FLUSH_EVERY`].
fn flusher() {
    loop {
        {
            let mut pending = lock(&SINK.pending);
            while pending.bytes.is_empty() {
                pending.flusher_waits = true;
                pending = SINK
                    .wake
                    .wait(pending)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            pending.flusher_waits = false;
        }
        std::thread::sleep(FLUSH_EVERY);
        flush();
    }
}

/// From the panic hook: write what waits, without waiting long for a lock (the panicking
/// thread may hold one).
fn flush_on_panic() {
    fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
        match m.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
    for _ in 0..50 {
        if let Some(mut out) = try_lock(&SINK.writing)
            && let Some(pending) = try_lock(&SINK.pending)
        {
            take(&mut out, pending);
            write_out(&out);
            out.clear();
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
