//! The commands against a server (`--server URL` or `FERROTUNE_SERVER`): the same output as
//! the local commands, from the server's answers turned back into records.

use crate::{NewArgs, Output, RemoteArgs, display};
use anyhow::{Context, Result, anyhow};
use ferrotune_api::{native, v1};
use ferrotune_client::{ClientError, Connection};
use ferrotune_controller::{Counts, Event, lifecycle};
use ferrotune_core::TrialStatus;
use ferrotune_core::validate::Experiment;
use ferrotune_store::{ExperimentRecord, ExperimentStatus, TrialRecord};
use std::path::Path;
use std::process::ExitCode;

async fn connect(r: &RemoteArgs) -> Result<(Connection, String)> {
    let url = r.server.as_deref().ok_or_else(|| {
        anyhow!("this command needs a server: give --server URL or set FERROTUNE_SERVER")
    })?;
    let conn = ferrotune_client::connect(url, r.token.as_deref(), r.ca_file.as_deref()).await?;
    Ok((conn, r.namespace.clone().unwrap_or_default()))
}

/// A status as the user reads it: the server's message, without gRPC's framing.
fn status(e: tonic::Status) -> anyhow::Error {
    anyhow!("{}", ClientError::Status(e))
}

async fn fetch(
    conn: &Connection,
    ns: &str,
    name: &str,
) -> Result<(ExperimentRecord, Vec<TrialRecord>)> {
    let eref = v1::ExperimentRef {
        namespace: ns.to_string(),
        name: name.to_string(),
    };
    let e = conn
        .experiments()
        .get_experiment(eref.clone())
        .await
        .map_err(status)?
        .into_inner();
    let trials = conn
        .trials()
        .list_trials(eref)
        .await
        .map_err(status)?
        .into_inner()
        .trials;
    let record = native::experiment_record(&e)?;
    let trials = trials
        .iter()
        .map(native::trial_record)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((record, trials))
}

/// `submit FILE --server URL`
pub async fn submit(
    file: &Path,
    a: NewArgs,
    runner: &crate::RunnerArgs,
    watch_it: bool,
    r: &RemoteArgs,
) -> Result<ExitCode> {
    let label = file.display().to_string();
    let document = std::fs::read_to_string(file).with_context(|| format!("cannot read {label}"))?;
    let (conn, ns) = connect(r).await?;
    let source = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let reply = conn
        .experiments()
        .create_experiment(v1::CreateExperimentRequest {
            namespace: ns.clone(),
            document,
            name: a.name.unwrap_or_default(),
            seed: a.seed,
            parallel_trial_count: a.parallel,
            max_trial_count: a.max_trials,
            source: source.display().to_string(),
            // Checked by the server, which names the field of what it refuses.
            runner: runner.said().then(|| v1::RunnerOverride {
                kind: runner.kind_name().unwrap_or_default().to_string(),
                ray_address: runner.ray_address.clone().unwrap_or_default(),
                ray_mode: runner.ray_mode.clone().unwrap_or_default(),
            }),
        })
        .await;
    let e = match reply {
        Ok(e) => e.into_inner(),
        Err(s) if s.code() == tonic::Code::InvalidArgument => {
            eprintln!("{label}: the server refused the experiment:");
            for line in s.message().split("; ").flat_map(|l| l.lines()) {
                eprintln!("  {line}");
            }
            return Ok(ExitCode::from(1));
        }
        Err(s) => return Err(status(s)),
    };
    println!(
        "experiment {:?} submitted to namespace {:?} ({}); follow it with `ferrotune watch {}`",
        e.name, e.namespace, e.status, e.name
    );
    if watch_it {
        return watch(
            &e.name,
            Output::Table,
            &RemoteArgs {
                namespace: Some(e.namespace.clone()),
                ..r.clone()
            },
        )
        .await;
    }
    Ok(ExitCode::SUCCESS)
}

/// `list --server URL`
pub async fn list(r: &RemoteArgs, output: Output) -> Result<ExitCode> {
    let (conn, ns) = connect(r).await?;
    let all = conn
        .experiments()
        .list_experiments(v1::ListExperimentsRequest {
            namespace: ns.clone(),
        })
        .await
        .map_err(status)?
        .into_inner()
        .experiments;
    let mut rows = Vec::new();
    for e in all {
        let (record, trials) = fetch(&conn, &e.namespace, &e.name).await?;
        let exp = lifecycle::stored_experiment(&record);
        rows.push((record, exp, trials));
    }
    display::experiments(&rows, output);
    Ok(ExitCode::SUCCESS)
}

/// `show NAME --server URL`
pub async fn show(r: &RemoteArgs, name: &str, output: Output) -> Result<ExitCode> {
    let (conn, ns) = connect(r).await?;
    let (record, trials) = fetch(&conn, &ns, name).await?;
    display::show(
        &record,
        lifecycle::stored_experiment(&record).as_ref(),
        &trials,
        output,
    );
    Ok(ExitCode::SUCCESS)
}

/// `trials NAME --server URL`
pub async fn trials(r: &RemoteArgs, name: &str, output: Output, pareto: bool) -> Result<ExitCode> {
    let (conn, ns) = connect(r).await?;
    let (record, trials) = fetch(&conn, &ns, name).await?;
    display::trials(
        lifecycle::stored_experiment(&record).as_ref(),
        &trials,
        output,
        pareto,
    );
    Ok(ExitCode::SUCCESS)
}

/// `stop NAME --server URL`
pub async fn stop(r: &RemoteArgs, name: &str) -> Result<ExitCode> {
    let (conn, ns) = connect(r).await?;
    let e = conn
        .experiments()
        .stop_experiment(v1::ExperimentRef {
            namespace: ns,
            name: name.to_string(),
        })
        .await
        .map_err(status)?
        .into_inner();
    println!(
        "experiment {name:?} {} ({}); `ferrotune resume {name}` continues it",
        e.status, e.reason
    );
    Ok(ExitCode::SUCCESS)
}

/// `resume NAME --server URL`
pub async fn resume(
    r: &RemoteArgs,
    name: &str,
    max_trials: Option<u32>,
    parallel: Option<u32>,
) -> Result<ExitCode> {
    let (conn, ns) = connect(r).await?;
    let e = conn
        .experiments()
        .resume_experiment(v1::ResumeExperimentRequest {
            experiment: Some(v1::ExperimentRef {
                namespace: ns,
                name: name.to_string(),
            }),
            max_trial_count: max_trials,
            parallel_trial_count: parallel,
        })
        .await
        .map_err(status)?
        .into_inner();
    println!(
        "experiment {name:?} resumed ({}); follow it with `ferrotune watch {name}`",
        e.status
    );
    Ok(ExitCode::SUCCESS)
}

/// `delete NAME --server URL`
pub async fn delete(r: &RemoteArgs, name: &str) -> Result<ExitCode> {
    let (conn, ns) = connect(r).await?;
    conn.experiments()
        .delete_experiment(v1::ExperimentRef {
            namespace: ns,
            name: name.to_string(),
        })
        .await
        .map_err(status)?;
    println!("experiment {name:?} deleted");
    Ok(ExitCode::SUCCESS)
}

fn counts(c: &v1::TrialCounts) -> Counts {
    Counts {
        pending: c.created,
        running: c.running,
        succeeded: c.succeeded,
        failed: c.failed,
        killed: c.killed,
        metrics_unavailable: c.metrics_unavailable,
        early_stopped: c.early_stopped,
    }
}

/// `watch NAME --server URL`: progress as it happens, the summary at the end; the exit
/// status says how the experiment ended (0 succeeded, 1 failed, 130 stopped).
pub async fn watch(name: &str, output: Output, r: &RemoteArgs) -> Result<ExitCode> {
    let (conn, ns) = connect(r).await?;
    let mut stream = conn
        .experiments()
        .watch_experiment(v1::ExperimentRef {
            namespace: ns.clone(),
            name: name.to_string(),
        })
        .await
        .map_err(status)?
        .into_inner();
    let mut progress: Option<(Experiment, display::Progress)> = None;
    let mut best: Option<(String, f64)> = None;
    let mut last: Option<v1::Experiment> = None;
    while let Some(ev) = stream.message().await.map_err(status)? {
        if output == Output::Json {
            println!("{}", event_json(&ev));
        }
        match ev.event {
            Some(v1::experiment_event::Event::Experiment(e)) => {
                if progress.is_none()
                    && output != Output::Json
                    && let Some(exp) = lifecycle::stored_experiment(&native::experiment_record(&e)?)
                {
                    let p = display::Progress::new(&exp);
                    progress = Some((exp, p));
                }
                if let Some((_, p)) = &progress {
                    p.on_event(Event::Progress {
                        counts: counts(&e.counts.unwrap_or_default()),
                        best: best.clone(),
                    });
                }
                last = Some(e);
            }
            Some(v1::experiment_event::Event::Trial(t)) => {
                let Some((exp, p)) = &progress else { continue };
                let t = native::trial_record(&t)?;
                if t.status == TrialStatus::Running {
                    p.on_event(Event::TrialStarted {
                        name: t.name,
                        attempt: t.attempt,
                        parameters: t.parameters,
                    });
                } else if t.status.is_finished() {
                    if matches!(t.status, TrialStatus::Succeeded | TrialStatus::EarlyStopped)
                        && let Some(v) = t.objective
                        && best
                            .as_ref()
                            .is_none_or(|(_, b)| exp.objective.type_.better(v, *b))
                    {
                        best = Some((t.name.clone(), v));
                    }
                    let objectives = if exp.objective.is_multi() {
                        exp.objective.values(&t.metrics).unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    p.on_event(Event::TrialFinished {
                        name: t.name,
                        status: t.status,
                        objective: t.objective,
                        objectives,
                        message: t.message,
                    });
                }
            }
            None => {}
        }
    }
    if let Some((_, p)) = &progress {
        p.finish();
    }
    let Some(last) = last else {
        return Err(anyhow!(
            "the server ended the watch without saying anything"
        ));
    };
    let (record, trials) = fetch(&conn, &last.namespace, &last.name).await?;
    if output != Output::Json
        && let Some(exp) = lifecycle::stored_experiment(&record)
    {
        display::summary(&exp, &record, &trials);
    }
    Ok(match record.status {
        ExperimentStatus::Succeeded => ExitCode::SUCCESS,
        ExperimentStatus::Stopped => ExitCode::from(130),
        ExperimentStatus::Running | ExperimentStatus::Created | ExperimentStatus::Restarting => {
            ExitCode::SUCCESS
        }
        ExperimentStatus::Failed => ExitCode::from(1),
    })
}

fn metrics_json(ms: &[v1::MetricSummary]) -> serde_json::Value {
    ms.iter()
        .map(|m| {
            let v = serde_json::json!({"min": m.min, "max": m.max, "latest": m.latest, "count": m.count});
            (m.name.clone(), v)
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// One watch event as a JSON line, for scripts.
fn event_json(ev: &v1::ExperimentEvent) -> serde_json::Value {
    match &ev.event {
        Some(v1::experiment_event::Event::Experiment(e)) => {
            let c = e.counts.unwrap_or_default();
            serde_json::json!({"experiment": {
                "namespace": e.namespace, "name": e.name, "status": e.status,
                "reason": e.reason, "message": e.message,
                "trials": {"created": c.created, "running": c.running, "succeeded": c.succeeded,
                    "failed": c.failed, "killed": c.killed, "earlyStopped": c.early_stopped,
                    "metricsUnavailable": c.metrics_unavailable},
            }})
        }
        Some(v1::experiment_event::Event::Trial(t)) => {
            let params: serde_json::Map<String, serde_json::Value> = t
                .parameters
                .iter()
                .map(|p| {
                    (
                        p.name.clone(),
                        serde_json::from_str(&p.value).unwrap_or(serde_json::Value::Null),
                    )
                })
                .collect();
            serde_json::json!({"trial": {
                "name": t.name, "status": t.status, "attempt": t.attempt,
                "parameters": params, "objective": t.objective, "message": t.message,
                "metrics": metrics_json(&t.metrics),
            }})
        }
        None => serde_json::Value::Null,
    }
}
