//! Work split in two halves, run side by side, for the large parts of a suggestion (TPE's
//! `g` estimator's kernels and candidates' scores with long histories, a GP's
//! hyperparameter starts and candidates). Each item's result depends on that item alone
//! and the results are put back in order, so the suggestion is the one a single thread
//! computes, bit for bit.

use std::sync::OnceLock;

/// Whether a second thread can run beside this one (asked once: std reads the cgroup's
/// limits from files to answer).
fn two_threads() -> bool {
    static TWO: OnceLock<bool> = OnceLock::new();
    *TWO.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2))
}

/// `f(items)`, computed as `f(first half)` and `f(second half)` side by side on rayon's
/// pool when `large` (its threads stay up between calls, so a split costs microseconds
/// instead of a thread's start); `f` must give one result per item, each from that item
/// alone.
pub(crate) fn map_halves<'a, T: Sync, R: Send>(
    items: &'a [T],
    large: bool,
    f: impl Fn(&'a [T]) -> Vec<R> + Sync,
) -> Vec<R> {
    if !large || items.len() < 2 || !two_threads() {
        return f(items);
    }
    let (first, second) = items.split_at(items.len() / 2);
    let (mut out, mut rest) = rayon::join(|| f(first), || f(second));
    out.append(&mut rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_give_the_results_in_order() {
        let items: Vec<u64> = (0..101).collect();
        let square = |part: &[u64]| part.iter().map(|x| x * x).collect::<Vec<_>>();
        let want = square(&items);
        assert_eq!(map_halves(&items, true, square), want);
        assert_eq!(map_halves(&items, false, square), want);
        assert_eq!(map_halves(&items[..1], true, square), want[..1]);
        assert!(map_halves(&items[..0], true, square).is_empty());
    }
}
