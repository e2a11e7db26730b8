//! `RayDriverService`: the Ray drivers that runners start elsewhere connect back here, and
//! each connection goes to the runner that registered the driver (see
//! [`ferrotune_controller::drivers`]). The driver's own token authenticates it, whatever
//! the server's `--tokens` say.

use crate::ServerError;
use ferrotune_api::native::{DriverMessageKind, FieldProblem, from_driver, to_driver};
use ferrotune_api::v1;
use ferrotune_controller::drivers::DriverHub;
use std::pin::Pin;
use std::time::Duration;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

/// How long a connection may take to say hello.
const HELLO_WITHIN: Duration = Duration::from_secs(30);

pub struct Drivers {
    pub hub: DriverHub,
}

fn invalid(field: &str, problem: String) -> Status {
    ServerError::Field(FieldProblem {
        field: field.into(),
        problem,
    })
    .into()
}

type CommandStream = Pin<Box<dyn Stream<Item = Result<v1::DriverCommand, Status>> + Send>>;

#[tonic::async_trait]
impl v1::ray_driver_service_server::RayDriverService for Drivers {
    type AttachStream = CommandStream;

    async fn attach(
        &self,
        req: Request<Streaming<v1::DriverMessage>>,
    ) -> Result<Response<Self::AttachStream>, Status> {
        let token = crate::auth::bearer(req.metadata())
            .ok_or_else(|| {
                ServerError::Unauthenticated(
                    "a driver sends its own token: `authorization: Bearer TOKEN`".into(),
                )
            })?
            .to_string();
        let mut inbound = req.into_inner();
        let first = match tokio::time::timeout(HELLO_WITHIN, inbound.next()).await {
            Err(_) => {
                return Err(invalid(
                    "hello",
                    format!("no hello within {HELLO_WITHIN:?}"),
                ));
            }
            Ok(None) => return Err(Status::cancelled("the driver went away before its hello")),
            Ok(Some(m)) => m?,
        };
        let hello = match from_driver(first).map_err(ServerError::Field)? {
            DriverMessageKind::Hello(h) => h,
            DriverMessageKind::Message(_) => {
                return Err(invalid("kind", "the first message must be a hello".into()));
            }
        };
        let driver = hello.driver_id.clone();
        let link = self
            .hub
            .attach(hello, &token)
            .map_err(|e| ServerError::Unauthenticated(e.to_string()))?;
        tracing::debug!(%driver, "Ray driver attached");
        let messages = link.messages;
        tokio::spawn(async move {
            while let Some(m) = inbound.next().await {
                let m = match m {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::debug!(%driver, "Ray driver's stream ended: {e}");
                        break;
                    }
                };
                match from_driver(m) {
                    Ok(DriverMessageKind::Message(m)) => {
                        if messages.send(m).is_err() {
                            break;
                        }
                    }
                    Ok(DriverMessageKind::Hello(_)) => {
                        tracing::warn!(%driver, "a second hello on one connection: ignored");
                    }
                    Err(e) => tracing::warn!(%driver, "a driver message ignored: {e}"),
                }
            }
        });
        let out = tokio_stream::wrappers::UnboundedReceiverStream::new(link.commands)
            .map(|c| Ok(to_driver(c)));
        Ok(Response::new(Box::pin(out)))
    }
}
