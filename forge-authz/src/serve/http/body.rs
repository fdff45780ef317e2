//! What a response body carries until it is dropped (sent to the end, or abandoned with
//! its connection): the request's timing, the connection's "request over" mark.

#[allow(unused_imports)]
use super::*;

/// A response body that keeps `guard` until it is dropped: what the end of a request must
/// trigger (timing, "request over") happens exactly when hyper lets go of the body.
struct Guarded<G> {
    inner: Body,
    _guard: G,
}

/// `inner` keeping `guard` until it is dropped.
pub(super) fn guarded<G: Unpin + Send + 'static>(inner: Body, guard: G) -> Body {
    Guarded {
        inner,
        _guard: guard,
    }
    .boxed_unsync()
}

impl<G: Unpin> hyper::body::Body for Guarded<G> {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Records the request's whole duration when dropped.
pub(super) struct Timing {
    pub(super) started: std::time::Instant,
    pub(super) route: Route,
    pub(super) shared: Arc<Shared>,
}

impl Drop for Timing {
    fn drop(&mut self) {
        self.shared
            .counters
            .request_seconds
            .observe(self.route, self.started.elapsed());
    }
}

/// What a listener reports about its connections (counters).
pub(super) struct ConnEvents<R, E> {
    /// A connection was turned away with `503`.
    pub(super) refused: R,
    /// A connection was closed to make room for a new one.
    pub(super) evicted: E,
}

/// Marks a connection's request over (evictable again) when dropped.
pub(super) struct RequestOver {
    pub(super) conns: Arc<Conns>,
    pub(super) id: u64,
}

impl Drop for RequestOver {
    fn drop(&mut self) {
        self.conns.done(self.id);
    }
}
