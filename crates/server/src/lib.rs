//! ferrotune's gRPC server. Today it serves Katib's `Suggestion`, `EarlyStopping` and
//! `DBManager` services (so Katib's controller can use ferrotune's algorithms, and Katib's
//! metrics collectors its database), gRPC health checking and server reflection; the native `ferrotune.v1` services and server-side experiments come
//! next (see the issue on the server mode).

pub mod dbmanager;
pub mod error;
pub mod katib;

pub use error::ServerError;

use ferrotune_api::katib::db_manager_server::DbManagerServer;
use ferrotune_api::katib::early_stopping_server::EarlyStoppingServer;
use ferrotune_api::katib::suggestion_server::SuggestionServer;
use ferrotune_store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Largest request accepted: a Katib GetSuggestions call carries the whole trial history
/// (about 200 bytes a trial), so 64 MiB is room for hundreds of thousands of trials.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// HTTP/2 flow-control windows: a Katib request of 1,000 trials is about 280 kB.
const WINDOW_BYTES: u32 = 16 * 1024 * 1024;

/// Whether `addr` listens on loopback only: anything else needs tokens (or `--insecure`).
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Serves every service on `listener`, with `store` behind the DB manager, until
/// `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    store: Arc<dyn Store>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<SuggestionServer<katib::KatibSuggestion>>()
        .await;
    reporter
        .set_serving::<EarlyStoppingServer<katib::KatibEarlyStopping>>()
        .await;
    reporter
        .set_serving::<DbManagerServer<dbmanager::KatibDbManager>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(ferrotune_api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServerError::Internal(format!("reflection: {e}")))?;
    // Nagle's algorithm with delayed acknowledgements holds a reply for up to 40 ms; a
    // request carrying a whole trial history needs wide HTTP/2 windows to arrive in one go.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .initial_stream_window_size(WINDOW_BYTES)
        .initial_connection_window_size(WINDOW_BYTES)
        .add_service(health)
        .add_service(reflection)
        .add_service(
            SuggestionServer::new(katib::KatibSuggestion)
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            EarlyStoppingServer::new(katib::KatibEarlyStopping)
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            DbManagerServer::new(dbmanager::KatibDbManager::new(store))
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| ServerError::Internal(format!("serving: {e}")))
}
