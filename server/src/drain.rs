//! Stopping cleanly (SIGTERM, as Kubernetes sends it): readiness goes false at once while the
//! console keeps serving for the pre-stop delay, so load balancers stop sending before it stops
//! answering; then open streams end with a reason (the browser's EventSource reconnects, to
//! another replica), running queries are cancelled on their replica and recorded `abandoned`,
//! no new connection is taken, and the process exits within the drain timeout whatever is left.

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

/// How long a drain takes: serving while unready, then the bound on what is left.
#[derive(Clone, Copy, Debug)]
pub struct DrainTimes {
    pub pre_stop: Duration,
    pub timeout: Duration,
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
