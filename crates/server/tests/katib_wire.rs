//! GetSuggestions requests read in place answer exactly as the generated service, which
//! decodes them with prost, answers: the same bytes sent to `ferrotune server` and to the
//! generated `SuggestionServer` get the same reply bytes, or the same status and message
//! (undecodable bytes, requests over the size limit, bad trials).

mod common;
mod katib_request;

use ferrotune_api::katib as pb;
use ferrotune_api::katib::suggestion_server::SuggestionServer;
use ferrotune_server::MAX_MESSAGE_BYTES;
use ferrotune_server::katib::KatibSuggestion;
use tokio::net::TcpListener;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic_prost::prost::Message;
use tonic_prost::prost::bytes::{Buf, BufMut};

/// Requests and replies as raw protobuf bytes, so that any bytes can be sent.
#[derive(Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

/// The reply's bytes, or the status's code and message.
type Answer = Result<Vec<u8>, (tonic::Code, String)>;

async fn call(channel: &Channel, bytes: Vec<u8>) -> Answer {
    let mut grpc = tonic::client::Grpc::new(channel.clone())
        .max_encoding_message_size(usize::MAX)
        .max_decoding_message_size(usize::MAX);
    grpc.ready().await.unwrap();
    let path = "/api.v1.beta1.Suggestion/GetSuggestions".parse().unwrap();
    grpc.unary(tonic::Request::new(bytes), path, Raw)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| (s.code(), s.message().to_string()))
}

/// `ferrotune server`, and the generated service alone with the same size limit.
async fn servers() -> (Channel, Channel) {
    let (ours, dir) = common::serve_default().await;
    std::mem::forget(dir);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let generated = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(
                SuggestionServer::new(KatibSuggestion).max_decoding_message_size(MAX_MESSAGE_BYTES),
            )
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let connect = |addr| async move {
        for _ in 0..100 {
            if let Ok(c) = Channel::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect()
                .await
            {
                return c;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no server on {addr}");
    };
    (connect(ours).await, connect(generated).await)
}

/// `n` completed trials of a 3-D space, each with the experiment's objective, times and
/// one metric.
fn request(algorithm: &str, n: usize) -> pb::GetSuggestionsRequest {
    let points = (0..n).map(|k| {
        let x: Vec<f64> = (0..3)
            .map(|i| ((k * 7 + i * 3) % 10) as f64 / 10.0 + 0.01)
            .collect();
        let loss = x[0] - x[1] * x[2];
        (x, loss)
    });
    katib_request::request(algorithm, 3, points)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_suggestions_answers_as_the_generated_service_does() {
    let (ours, generated) = servers().await;
    let same = |bytes: Vec<u8>| {
        let (ours, generated) = (ours.clone(), generated.clone());
        async move {
            let a = call(&ours, bytes.clone()).await;
            let b = call(&generated, bytes.clone()).await;
            assert_eq!(a, b, "request bytes {bytes:?}");
            a
        }
    };
    for algorithm in ["random", "multivariate-tpe", "tpe", "cmaes", "sobol"] {
        let answer = same(request(algorithm, 30).encode_to_vec()).await;
        let reply = pb::GetSuggestionsReply::decode(answer.unwrap().as_slice()).unwrap();
        assert_eq!(reply.parameter_assignments.len(), 2, "{algorithm}");
    }

    // Bad trials and a bad spec, in either order: the same first error.
    let mut r = request("random", 5);
    r.trials[3].status.as_mut().unwrap().observation = Some(pb::Observation {
        metrics: vec![pb::Metric {
            name: "loss".into(),
            value: "n/a".into(),
        }],
    });
    let e = same(r.encode_to_vec()).await.unwrap_err();
    assert_eq!(e.0, tonic::Code::InvalidArgument);
    assert!(
        e.1.contains("trials[3].status.observation.metrics[0].value"),
        "{e:?}"
    );
    r.trials[1].spec.as_mut().unwrap().parameter_assignments = None;
    same(r.encode_to_vec()).await.unwrap_err();
    r.current_request_number = -1;
    same(r.encode_to_vec()).await.unwrap_err();
    r.experiment = None;
    same(r.encode_to_vec()).await.unwrap_err();

    // Bytes that are not a request, or only nearly one.
    let good = request("random", 3).encode_to_vec();
    for bytes in [
        vec![0xff; 7],
        vec![0x12, 0x05, 0x0a, 0x02, 0xc3, 0x28, 0x00],
        vec![],
    ] {
        same(bytes).await.ok();
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let mut b = good.clone();
        let i = next() as usize % b.len();
        b[i] = next() as u8;
        if next() % 4 == 0 {
            b.truncate(next() as usize % b.len());
        }
        same(b).await.ok();
    }

    // Over the size limit: refused before any reading, as before.
    let mut big = request("random", 1).encode_to_vec();
    // An unknown field (number 15) of length-delimited bytes brings it over the limit.
    let pad = MAX_MESSAGE_BYTES + 1 - big.len();
    tonic_prost::prost::encoding::bytes::encode(15, &vec![0u8; pad], &mut big);
    let e = same(big).await.unwrap_err();
    assert_eq!(e.0, tonic::Code::OutOfRange);
}

/// The server keeps an experiment's trials' views from one call to the next and converts
/// only the trials whose bytes changed: every call of a history that changes as Katib's
/// does (and as it should not) answers as the generated service, which keeps nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_trial_views_answer_as_a_fresh_conversion() {
    let (ours, generated) = servers().await;
    let same = |r: &pb::GetSuggestionsRequest| {
        let (ours, generated, bytes) = (ours.clone(), generated.clone(), r.encode_to_vec());
        async move {
            let a = call(&ours, bytes.clone()).await;
            let b = call(&generated, bytes).await;
            assert_eq!(a, b);
            a
        }
    };
    let loss = |r: &mut pb::GetSuggestionsRequest, k: usize, value: &str| {
        r.trials[k].status.as_mut().unwrap().observation = Some(pb::Observation {
            metrics: vec![pb::Metric {
                name: "loss".into(),
                value: value.into(),
            }],
        });
    };
    fn spec(r: &mut pb::GetSuggestionsRequest) -> &mut pb::ExperimentSpec {
        r.experiment.as_mut().unwrap().spec.as_mut().unwrap()
    }
    for algorithm in ["random", "multivariate-tpe", "tpe"] {
        let mut r = request(algorithm, 40);
        same(&r).await.unwrap();
        // The best trial gets worse, and a new best trial arrives in the middle.
        loss(&mut r, 0, "5");
        let mut new = r.trials[3].clone();
        new.name = "t-new".into();
        r.trials.insert(20, new);
        loss(&mut r, 20, "-9");
        same(&r).await.unwrap();
        // A trial goes; two swap names; one is listed twice.
        r.trials.remove(7);
        let (a, b) = (r.trials[1].name.clone(), r.trials[2].name.clone());
        r.trials[1].name = b;
        r.trials[2].name = a;
        r.trials.push(r.trials[5].clone());
        same(&r).await.unwrap();
        // The same history for another space (a parameter's range) and another metric.
        let max = |r: &mut pb::GetSuggestionsRequest, v: &str| {
            let x0 = &mut spec(r).parameter_specs.as_mut().unwrap().parameters[0];
            x0.feasible_space.as_mut().unwrap().max = v.into();
        };
        let metric = |r: &mut pb::GetSuggestionsRequest, v: &str| {
            spec(r).objective.as_mut().unwrap().objective_metric_name = v.into();
        };
        max(&mut r, "0.5");
        same(&r).await.unwrap_err();
        max(&mut r, "2");
        same(&r).await.unwrap();
        // (No trial reports "acc": all of them are without a value.)
        metric(&mut r, "acc");
        same(&r).await.unwrap();
        metric(&mut r, "loss");
        // A trial that was good turns bad: the same error.
        loss(&mut r, 30, "n/a");
        let e = same(&r).await.unwrap_err();
        assert!(e.1.contains("trials[30]"), "{e:?}");
        loss(&mut r, 30, "0.5");
        same(&r).await.unwrap();
        // Trials whose insides the server's reader refuses, after a call that kept every
        // trial: a metric value that is not UTF-8 (prost refuses it too: the same INTERNAL
        // status) and an empty group in a status (prost skips it: the same reply).
        let e = same_bytes(&ours, &generated, &r, 12, |status| {
            let at = status.len() - 1;
            status[at] = 0xff;
        })
        .await
        .unwrap_err();
        assert_eq!(e.0, tonic::Code::Internal, "{e:?}");
        same(&r).await.unwrap();
        same_bytes(&ours, &generated, &r, 12, |status| {
            status.extend_from_slice(&[0x4b, 0x4c])
        })
        .await
        .unwrap();
        same(&r).await.unwrap();
    }

    /// `r` with trial `k`'s status bytes changed by `change`, sent to both servers.
    async fn same_bytes(
        ours: &Channel,
        generated: &Channel,
        r: &pb::GetSuggestionsRequest,
        k: usize,
        mut change: impl FnMut(&mut Vec<u8>),
    ) -> Answer {
        use tonic_prost::prost::encoding;
        let mut head = r.clone();
        head.trials.truncate(k);
        let mut bytes = head.encode_to_vec();
        for (j, t) in r.trials.iter().enumerate().skip(k) {
            let mut trial = t.clone();
            let mut status = trial.status.take().unwrap().encode_to_vec();
            if j == k {
                change(&mut status);
            }
            let mut b = trial.encode_to_vec();
            encoding::bytes::encode(3, &status, &mut b);
            encoding::bytes::encode(2, &b, &mut bytes);
        }
        let a = call(ours, bytes.clone()).await;
        assert_eq!(a, call(generated, bytes).await);
        a
    }
}
