//! Stopping cleanly (SIGTERM, as Kubernetes sends it): readiness goes false at once while the
//! console keeps serving for the pre-stop delay, so load balancers stop sending before it stops
//! answering; then open streams end with a reason (the browser's EventSource reconnects, to
//! another replica), running queries are cancelled on their replica and recorded `abandoned`,
//! no new connection is taken, and the process exits within the drain timeout whatever is left.
//!
//! Behind a Kubernetes Service, endpoints removal steers new connections only: a client's
//! kept-alive connection still reaches this pod. So while draining every HTTP/1.1 response says
//! `Connection: close`, and the client's next request opens a connection that reaches a ready
//! replica, instead of racing the close of an idle connection at the end of the pre-stop delay.

use std::future::IntoFuture;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What a stream sends before it ends for a drain.
pub const RESTARTING: &str =
    "this console is restarting: reconnecting to another one (nothing you ran is lost)";

/// The drain's state, shared by readiness, the streams and `serve`. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Drain {
    draining: Arc<AtomicBool>,
    closing: watch::Sender<bool>,
}

impl Default for Drain {
    fn default() -> Self {
        Drain { draining: Default::default(), closing: watch::channel(false).0 }
    }
}

impl Drain {
    /// Readiness is false from now on; everything is still served.
    pub fn start(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Open streams end now.
    pub fn close(&self) {
        self.start();
        self.closing.send_replace(true);
    }

    /// Resolves once [`Drain::close`] is called: streams select on it.
    pub async fn closed(&self) {
        let mut closing = self.closing.subscribe();
        let _ = closing.wait_for(|closed| *closed).await;
    }
}

/// While draining, answers close their connection (see the module comment). HTTP/2 has no such
/// header: its clients are sent GOAWAY by the graceful shutdown.
pub async fn close_connections(
    axum::extract::State(drain): axum::extract::State<Drain>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let http1 = request.version() <= axum::http::Version::HTTP_11;
    let mut response = next.run(request).await;
    if http1 && drain.is_draining() {
        response
            .headers_mut()
            .insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    response
}

/// How long a drain takes: serving while unready, then the bound on what is left.
#[derive(Clone, Copy, Debug)]
pub struct DrainTimes {
    pub pre_stop: Duration,
    pub timeout: Duration,
}

/// Serves `app` on `listener` until `stop` resolves, then drains: readiness false while still
/// serving for the pre-stop delay; then `stop_queries` (running queries abandoned), open streams
/// end, no new connection is taken, and requests already being answered finish within the
/// timeout (the process exits after it whatever is left).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    drain: Drain,
    times: DrainTimes,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
    stop_queries: impl FnOnce() -> usize + Send + 'static,
) -> std::io::Result<()> {
    let (closing, closed) = tokio::sync::oneshot::channel::<()>();
    let shutdown = {
        let drain = drain.clone();
        async move {
            stop.await;
            tracing::info!(
                pre_stop_s = times.pre_stop.as_secs(),
                "stopping: readiness false, still serving"
            );
            drain.start();
            tokio::time::sleep(times.pre_stop).await;
            let queries = stop_queries();
            drain.close();
            tracing::info!(
                queries,
                "stopping: streams ended, running work abandoned, no new connections"
            );
            let _ = closing.send(());
        }
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown).into_future();
    tokio::pin!(server);
    // Serve until the drain closes, then give what is left the timeout.
    tokio::select! {
        result = &mut server => return result,
        _ = closed => {}
    }
    match tokio::time::timeout(times.timeout, server).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(
                timeout_s = times.timeout.as_secs(),
                "stopping: drain timeout reached, exiting"
            );
            Ok(())
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C. As PID 1 in a container a signal without a handler is
/// ignored, so both are handled explicitly.
pub async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use std::time::Instant;

    /// A server whose `/slow` answers after `slow`, stopped when `stop` is sent.
    async fn server(
        times: DrainTimes,
        slow: Duration,
    ) -> (String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>)
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let drain = Drain::default();
        let app = axum::Router::new()
            .route("/fast", get(|| async { "fast" }))
            .route(
                "/slow",
                get(move || async move {
                    tokio::time::sleep(slow).await;
                    "slow"
                }),
            )
            .layer(axum::middleware::from_fn_with_state(drain.clone(), close_connections));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            let _ = stopped.await;
        };
        let served = tokio::spawn(serve(listener, app, drain, times, signal, || 0));
        (base, stop, served)
    }

    #[tokio::test]
    async fn a_request_being_answered_when_the_drain_closes_is_answered_in_full() {
        let times =
            DrainTimes { pre_stop: Duration::from_millis(200), timeout: Duration::from_secs(10) };
        let (base, stop, served) = server(times, Duration::from_millis(1500)).await;
        let http = reqwest::Client::new();
        let slow = tokio::spawn({
            let (http, base) = (http.clone(), base.clone());
            async move { http.get(format!("{base}/slow")).send().await?.text().await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stopped = Instant::now();
        stop.send(()).unwrap();
        // The drain closes at 200 ms, the slow answer comes at 1.5 s: it is still sent in full.
        assert_eq!(slow.await.unwrap().unwrap(), "slow");
        // Then the server ends without waiting out the timeout.
        served.await.unwrap().unwrap();
        assert!(stopped.elapsed() < Duration::from_secs(3), "{:?}", stopped.elapsed());
        // And takes no new connection.
        assert!(http.get(format!("{base}/fast")).send().await.is_err());
    }

    #[tokio::test]
    async fn during_the_pre_stop_delay_answers_close_their_connection() {
        let times =
            DrainTimes { pre_stop: Duration::from_secs(2), timeout: Duration::from_secs(1) };
        let (base, stop, served) = server(times, Duration::ZERO).await;
        let http = reqwest::Client::new();
        let before = http.get(format!("{base}/fast")).send().await.unwrap();
        assert!(before.headers().get("connection").is_none(), "kept alive before the drain");
        stop.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let during = http.get(format!("{base}/fast")).send().await.unwrap();
        assert_eq!(during.status(), 200);
        assert_eq!(during.headers()["connection"], "close");
        assert_eq!(during.text().await.unwrap(), "fast");
        served.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn what_never_finishes_is_cut_at_the_timeout() {
        let times = DrainTimes {
            pre_stop: Duration::from_millis(100),
            timeout: Duration::from_millis(500),
        };
        let (base, stop, served) = server(times, Duration::from_secs(3600)).await;
        let hung = tokio::spawn(async move { reqwest::get(format!("{base}/slow")).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stopped = Instant::now();
        stop.send(()).unwrap();
        served.await.unwrap().unwrap();
        let took = stopped.elapsed();
        assert!(took >= Duration::from_millis(600) && took < Duration::from_secs(2), "{took:?}");
        hung.abort();
    }
}
