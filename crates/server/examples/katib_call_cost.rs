//! The server's own work in a Katib `GetSuggestions` call with 1,000 completed trials
//! (6-D, as `benches/katib` sends), in-process: reading the request in place and answering
//! it, repeated with the same request as `benches/katib` does. Wall times here are rough;
//! for instruction counts (what RESULTS.md quotes), run it under callgrind with 1 and 21
//! calls and take the difference over 20:
//!
//!     cargo build --release -p ferrotune-server --example katib_call_cost
//!     valgrind --tool=callgrind target/release/examples/katib_call_cost 21 random
//!
//! Arguments: the number of calls (default 200), one algorithm (default: `random`,
//! `multivariate-tpe` and `tpe` in turn), and `grow` for Katib's own pattern: each call's
//! request holds one more trial than the last (1,000, 1,001, …; the requests for 200 calls
//! are made first whatever the number of calls, so that 1 and 21 calls differ only in the
//! calls), or `first` for first calls (each request names a new experiment).
use ferrotune_api::convert::wire::WireSuggestionsRequest;
use ferrotune_api::katib as pb;
use std::time::Instant;
use tonic_prost::prost::Message;
use tonic_prost::prost::bytes::Bytes;

#[path = "../tests/katib_request/mod.rs"]
mod katib_request;

/// 1,000 random points of `[0, 1]^6` (a fixed seed) with losses in `[-3, 0]`.
fn request(algorithm: &str, n: usize) -> pb::GetSuggestionsRequest {
    let mut s: u64 = 42;
    let mut rnd = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let points: Vec<(Vec<f64>, f64)> = (0..n)
        .map(|_| ((0..6).map(|_| rnd()).collect(), -3.0 * rnd()))
        .collect();
    // One suggestion a call, as benches/katib asks.
    let mut r = katib_request::request(algorithm, 6, points);
    r.current_request_number = 1;
    r
}

fn main() {
    let reps: usize = std::env::args().nth(1).map_or(200, |s| s.parse().unwrap());
    let only = std::env::args().nth(2);
    for algorithm in ["random", "multivariate-tpe", "tpe"]
        .into_iter()
        .filter(|a| only.as_deref().is_none_or(|o| o == *a))
    {
        let pattern = std::env::args().nth(3);
        let grow = pattern.as_deref() == Some("grow");
        let first = pattern.as_deref() == Some("first");
        let requests: Vec<Bytes> = if grow {
            let all = request(algorithm, 1000 + reps.max(200));
            (0..reps.max(200))
                .map(|i| {
                    let mut r = all.clone();
                    r.trials.truncate(1000 + i);
                    Bytes::from(r.encode_to_vec())
                })
                .collect()
        } else if first {
            let one = request(algorithm, 1000);
            (0..reps.max(200))
                .map(|i| {
                    let mut r = one.clone();
                    if let Some(e) = r.experiment.as_mut() {
                        e.name = format!("first-call-{i}");
                    }
                    Bytes::from(r.encode_to_vec())
                })
                .collect()
        } else {
            vec![Bytes::from(request(algorithm, 1000).encode_to_vec())]
        };
        let bytes = requests[0].clone();
        let mut t_read = Vec::new();
        let mut t_all = Vec::new();
        for call in 0..reps {
            let bytes = requests[call % requests.len()].clone();
            let t0 = Instant::now();
            let mut r = WireSuggestionsRequest::read_heads(bytes.clone()).expect("read in place");
            let t1 = Instant::now();
            let reply = ferrotune_server::katib::suggest_in_place(&mut r).expect("suggest");
            let t2 = Instant::now();
            std::hint::black_box(reply);
            drop(r);
            t_read.push((t1 - t0).as_secs_f64() * 1e3);
            t_all.push((t2 - t0).as_secs_f64() * 1e3);
        }
        t_read.sort_by(f64::total_cmp);
        t_all.sort_by(f64::total_cmp);
        println!(
            "{algorithm}: {} bytes; heads read median {:.3} ms; read+suggest median {:.3} ms",
            bytes.len(),
            t_read[reps / 2],
            t_all[reps / 2]
        );
    }
}
