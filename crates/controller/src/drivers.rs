//! Where remote drivers connect back: a runner that starts a driver elsewhere (the Ray
//! runner's tasks mode submits one Ray job per experiment) registers it here with a fresh
//! token, and the server's `RayDriverService` hands each connection of that driver to the
//! runner as a [`DriverSession`]. The runner never listens itself, and the server never
//! knows what a driver does.

use ferrotune_core::placement::TrialResources;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// One attempt of a trial, as a driver runs it: a process with this argv, environment and
/// working directory, where these resources are free.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    pub trial: String,
    pub attempt: i64,
    pub argv: Vec<String>,
    /// Applied in order: a later entry wins.
    pub env: Vec<(String, String)>,
    pub cwd: String,
    /// Folders to create before the process starts.
    pub mkdirs: Vec<String>,
    /// What each replica needs.
    pub resources: TrialResources,
    /// Processes gang-scheduled for the attempt (torch.distributed style); 1 for most.
    pub replicas: u32,
}

/// What a controller's runner tells its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum ToDriver {
    Launch(TaskSpec),
    /// SIGTERM to the attempt's process group, SIGKILL after `grace`.
    Cancel {
        trial: String,
        attempt: i64,
        grace: Duration,
    },
    /// The experiment is over: the driver ends.
    Shutdown,
}

/// What a driver tells its runner.
#[derive(Debug, Clone, PartialEq)]
pub enum FromDriver {
    Started {
        trial: String,
        attempt: i64,
        node_id: String,
        node_ip: String,
    },
    Output {
        trial: String,
        attempt: i64,
        lines: Vec<String>,
        /// The replica that wrote them; only rank 0's carry metrics.
        rank: u32,
        /// The index of the first among the replica's lines (lines sent again after a
        /// reconnection overlap); `None`: the driver's own note.
        first_line: Option<u64>,
    },
    /// The process ended with a code or a signal; or the task failed without one (`error`).
    Exited {
        trial: String,
        attempt: i64,
        code: Option<i32>,
        signal: Option<i32>,
        error: String,
        /// The task never started its process (cancelled while it waited for resources).
        not_started: bool,
    },
}

/// A driver's first message on each connection.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DriverHello {
    pub driver_id: String,
    /// Attempts the driver still runs (it reconnected), with each one's report token.
    pub running: Vec<(String, i64, String)>,
    pub ray_version: String,
}

/// One connection of a driver, as its runner sees it. Dropping `commands` ends the
/// connection; `messages` ends when the driver goes away.
#[derive(Debug)]
pub struct DriverSession {
    pub hello: DriverHello,
    pub commands: mpsc::UnboundedSender<ToDriver>,
    pub messages: mpsc::UnboundedReceiver<FromDriver>,
}

/// The server's side of one connection.
#[derive(Debug)]
pub struct DriverLink {
    pub commands: mpsc::UnboundedReceiver<ToDriver>,
    pub messages: mpsc::UnboundedSender<FromDriver>,
}

struct Slot {
    token: String,
    sessions: mpsc::UnboundedSender<DriverSession>,
}

/// Registered drivers, by id. Cheap to clone; one per process, shared through the
/// [`crate::ReportHub`].
#[derive(Clone, Default)]
pub struct DriverHub {
    slots: Arc<Mutex<HashMap<String, Slot>>>,
}

impl std::fmt::Debug for DriverHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverHub").finish_non_exhaustive()
    }
}

/// Why a connection was refused: the same answer for an unknown driver and a wrong token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no driver {0:?} is expected here")]
pub struct UnknownDriver(pub String);

impl DriverHub {
    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Expects a driver: returns the token it must present and where its connections
    /// arrive.
    pub fn register(&self, driver_id: &str) -> (String, mpsc::UnboundedReceiver<DriverSession>) {
        let token = crate::ingest::new_token();
        let rx = self.register_with_token(driver_id, &token);
        (token, rx)
    }

    /// Expects a driver that already has its token (started by an earlier controller).
    pub fn register_with_token(
        &self,
        driver_id: &str,
        token: &str,
    ) -> mpsc::UnboundedReceiver<DriverSession> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.slots().insert(
            driver_id.to_string(),
            Slot {
                token: token.to_string(),
                sessions: tx,
            },
        );
        rx
    }

    /// No longer expects the driver; a connection it has stays until either side drops it.
    pub fn unregister(&self, driver_id: &str) {
        self.slots().remove(driver_id);
    }

    /// Hands a driver's new connection to its runner.
    pub fn attach(&self, hello: DriverHello, token: &str) -> Result<DriverLink, UnknownDriver> {
        let slots = self.slots();
        let unknown = || UnknownDriver(hello.driver_id.clone());
        let slot = slots.get(&hello.driver_id).ok_or_else(unknown)?;
        if !crate::ingest::same_token(&slot.token, token) {
            return Err(unknown());
        }
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (msg_tx, msg_rx) = mpsc::unbounded_channel();
        slot.sessions
            .send(DriverSession {
                hello: hello.clone(),
                commands: cmd_tx,
                messages: msg_rx,
            })
            .map_err(|_| unknown())?;
        Ok(DriverLink {
            commands: cmd_rx,
            messages: msg_tx,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(id: &str) -> DriverHello {
        DriverHello {
            driver_id: id.into(),
            ..Default::default()
        }
    }

    #[test]
    fn only_a_registered_driver_with_its_token_attaches() {
        let hub = DriverHub::default();
        let (token, mut sessions) = hub.register("d1");
        assert_eq!(
            hub.attach(hello("d1"), "wrong").unwrap_err(),
            UnknownDriver("d1".into())
        );
        assert!(hub.attach(hello("d2"), &token).is_err());
        let mut link = hub.attach(hello("d1"), &token).unwrap();
        let mut session = sessions.try_recv().unwrap();
        assert_eq!(session.hello.driver_id, "d1");
        session.commands.send(ToDriver::Shutdown).unwrap();
        assert_eq!(link.commands.try_recv().unwrap(), ToDriver::Shutdown);
        let out = FromDriver::Output {
            trial: "t".into(),
            attempt: 1,
            lines: vec!["x".into()],
            rank: 0,
            first_line: Some(0),
        };
        link.messages.send(out.clone()).unwrap();
        assert_eq!(session.messages.try_recv().unwrap(), out);
        hub.unregister("d1");
        assert!(hub.attach(hello("d1"), &token).is_err());
    }
}
