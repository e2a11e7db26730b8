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

/// `n` requests, the `i`-th `base` changed by `change(request, i)`.
fn variants(
    base: pb::GetSuggestionsRequest,
    n: usize,
    change: impl Fn(&mut pb::GetSuggestionsRequest, usize),
) -> Vec<Bytes> {
    (0..n)
        .map(|i| {
            let mut r = base.clone();
            change(&mut r, i);
            Bytes::from(r.encode_to_vec())
        })
        .collect()
}

fn main() {
    let reps: usize = std::env::args().nth(1).map_or(200, |s| s.parse().unwrap());
    let only = std::env::args().nth(2);
    for algorithm in ["random", "multivariate-tpe", "tpe"]
        .into_iter()
        .filter(|a| only.as_deref().is_none_or(|o| o == *a))
    {
        // The requests of 200 calls at least, whatever the number of calls.
        let made = reps.max(200);
        let requests = match std::env::args().nth(3).as_deref() {
            None => vec![Bytes::from(request(algorithm, 1000).encode_to_vec())],
            Some("grow") => variants(request(algorithm, 1000 + made), made, |r, i| {
                r.trials.truncate(1000 + i)
            }),
            Some("first") => variants(request(algorithm, 1000), made, |r, i| {
                if let Some(e) = r.experiment.as_mut() {
                    e.name = format!("first-call-{i}");
                }
            }),
            Some(other) => panic!("pattern {other:?}: give grow, first or nothing"),
        };
        let mut t_read = Vec::new();
        let mut t_all = Vec::new();
        for call in 0..reps {
            let bytes = requests[call % requests.len()].clone();
            let t0 = Instant::now();
            let mut r = WireSuggestionsRequest::read_heads(bytes).expect("read in place");
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
            requests[0].len(),
            t_read[reps / 2],
            t_all[reps / 2]
        );
    }
}
