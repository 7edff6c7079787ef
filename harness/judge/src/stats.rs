//! Statistics for comparing two sides' timings without calling noise a change: medians, nearest-rank
//! percentiles, and a bootstrap confidence interval of the ratio of medians (candidate /
//! baseline). The bootstrap is seeded, so the same values always give the same interval.

/// Nearest-rank percentile of sorted, non-empty values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of values (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// A small deterministic generator (xorshift64*) for the bootstrap.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

/// The ratio of medians `median(candidate) / median(baseline)` and its bootstrap confidence
/// interval at `level` (e.g. 0.95): both samples are resampled with replacement `resamples`
/// times. `None` when a side has no values or a median is not positive. See [`log_ratio`].
pub fn ratio_of_medians(
    baseline: &[f64],
    candidate: &[f64],
    level: f64,
    resamples: usize,
) -> Option<(f64, f64, f64)> {
    let (ratio, lo, hi) = log_ratio(baseline, candidate, level, resamples)?;
    Some((ratio, lo.exp(), hi.exp()))
}

/// The ratio of medians `median(candidate) / median(baseline)` and the natural logarithms of the
/// ends of its bootstrap confidence interval at `level`.
///
/// Exactly symmetric, so that swapping the sides of a comparison swaps its verdicts: the
/// resamples do not depend on which side is the baseline (each sample is sorted, and the one that
/// sorts first is drawn first, from a seed of both sizes), each resample's ratio is a difference
/// of logarithms (which negates exactly), and the interval's ends are the same number of
/// resamples in from either end. So with the sides swapped the interval is exactly `(-hi, -lo)`.
/// `None` when a side has no values or a median is not positive.
pub fn log_ratio(
    baseline: &[f64],
    candidate: &[f64],
    level: f64,
    resamples: usize,
) -> Option<(f64, f64, f64)> {
    let (mb, mc) = (median(baseline)?, median(candidate)?);
    if mb <= 0.0 || mc <= 0.0 {
        return None;
    }
    let sorted = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    };
    let (base, cand) = (sorted(baseline), sorted(candidate));
    let key = |v: &[f64]| (v.len(), v.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
    let base_first = key(&base) <= key(&cand);
    let (first, second) = if base_first {
        (&base, &cand)
    } else {
        (&cand, &base)
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (first.len() as u64) << 20 ^ second.len() as u64);
    let mut logs = Vec::with_capacity(resamples);
    let mut a = vec![0.0; first.len()];
    let mut b = vec![0.0; second.len()];
    for _ in 0..resamples {
        for x in a.iter_mut() {
            *x = first[rng.below(first.len())];
        }
        for x in b.iter_mut() {
            *x = second[rng.below(second.len())];
        }
        let (ma, mbb) = (median(&a)?, median(&b)?);
        if ma > 0.0 && mbb > 0.0 {
            let (lb, lc) = if base_first {
                (ma.ln(), mbb.ln())
            } else {
                (mbb.ln(), ma.ln())
            };
            logs.push(lc - lb);
        }
    }
    if logs.is_empty() {
        return None;
    }
    logs.sort_by(f64::total_cmp);
    let tail = (1.0 - level).max(0.0) / 2.0;
    let k = ((tail * logs.len() as f64).ceil() as usize).clamp(1, logs.len());
    Some((mc / mb, logs[k - 1], logs[logs.len() - k]))
}

/// Whether `n` and `m` values can show a change at `level` at all, by ranks: the chance that noise
/// alone orders every value of one side above every value of the other, `1 / C(n + m, n)`, is
/// within the tail `(1 - level) / 2`. With fewer values a percentile bootstrap spans no more than
/// the data's range, so its interval is no stricter than that, whatever the level asked.
pub fn attainable(n: usize, m: usize, level: f64) -> bool {
    let ways = (1..=n.min(m)).fold(1.0_f64, |c, k| c * (n + m + 1 - k) as f64 / k as f64);
    1.0 / ways <= (1.0 - level) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_percentiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 10.0);
        assert_eq!(percentile(&v, 95.0), 19.0);
    }

    #[test]
    fn noise_straddles_one_and_a_real_change_does_not() {
        let base = [1.00, 1.05, 0.97, 1.02, 0.99];
        let same = [1.01, 0.98, 1.04, 1.00, 0.96];
        let (r, lo, hi) = ratio_of_medians(&base, &same, 0.95, 2000).unwrap();
        assert!(lo <= 1.0 && hi >= 1.0, "{r} [{lo}, {hi}]");
        let slower = [2.01, 1.98, 2.10, 2.03, 1.97];
        let (r, lo, hi) = ratio_of_medians(&base, &slower, 0.95, 2000).unwrap();
        assert!(lo > 1.5 && r > 1.9, "{r} [{lo}, {hi}]");
        // Deterministic: the same values give the same interval.
        assert_eq!(
            ratio_of_medians(&base, &slower, 0.95, 2000),
            ratio_of_medians(&base, &slower, 0.95, 2000)
        );
        assert_eq!(ratio_of_medians(&[], &slower, 0.95, 100), None);
    }

    #[test]
    fn few_values_cannot_attain_a_strict_level() {
        // C(6, 3) = 20, C(10, 5) = 252, C(11, 5) = 462, C(12, 6) = 924.
        assert!(!attainable(3, 3, 0.95));
        assert!(attainable(3, 3, 0.89));
        assert!(attainable(5, 5, 0.99));
        assert!(!attainable(5, 5, 1.0 - 0.05 / 8.0));
        assert!(attainable(5, 6, 1.0 - 0.05 / 8.0));
        assert!(attainable(6, 5, 1.0 - 0.05 / 8.0));
        assert!(attainable(15, 15, 1.0 - 0.05 / 8.0));
    }
}
