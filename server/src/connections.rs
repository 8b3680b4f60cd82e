//! Accepting connections, with the limits `axum::serve` does not offer: at most `--max-connections`
//! open at once (one more gets a short 503 and is closed, so a flood of idle sockets cannot use up
//! the server's file descriptors), and `--header-timeout` to send a request's headers (a client that
//! stalls mid-header, or an idle keep-alive connection, is closed). HTTP/1.1 (hyper).

use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::error::{ApiError, RETRY_AFTER_SECS};
use crate::metrics::Metrics;

/// Largest request head (request line + headers) a client may send.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// How long connections get to finish their request once the server is asked to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// What a connection past the limit is told before it is closed: the `busy` problem, as raw HTTP.
static REFUSAL: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let (status, body) = ApiError::Busy("too many connections").problem();
    let mut response = format!(
        "HTTP/1.1 {status}\r\nretry-after: {RETRY_AFTER_SECS}\r\nconnection: close\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    response
});

pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    metrics.connection_limit.set(limits.max_connections as i64);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let service = TowerToHyperService::new(router);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait, go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics.connections_refused.inc();
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        metrics.connections.inc();
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service.clone()));
        let metrics = metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended");
            }
            metrics.connections.dec();
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(SHUTDOWN_GRACE) => tracing::warn!("connections still open at shutdown"),
    }
    Ok(())
}

/// Answers a connection past the limit with a 503 and closes it. What the client sent is read and
/// dropped for a moment first, so that closing does not reset the connection before it reads the answer.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(&REFUSAL).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 8192];
        let mut read = 0;
        while read < 64 * 1024 {
            match stream.read(&mut sink).await? {
                0 => break,
                n => read += n,
            }
        }
        std::io::Result::Ok(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_refusal_declares_its_length() {
        let text = std::str::from_utf8(&super::REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{head}");
        let declared: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(declared, body.len());
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["code"], "busy");
    }
}
