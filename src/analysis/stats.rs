//! Replications: the mean, sample standard deviation and Student-t 95 % confidence interval of
//! a metric over seeds, as `compare --seeds N` and `sweep` report them.
//!
//! The t quantile comes from a table of the 0.975 quantiles for 1 to 30 degrees of freedom
//! (the published values, to nine digits) and, past 30, the Cornish–Fisher expansion around
//! the normal quantile 1.959964 (three terms: within 2·10⁻⁵ of the exact value from 31 degrees
//! of freedom on). No statistics crate is a dependency of this project for one quantile.

/// The 0.975 quantile of Student's t for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706204736,
    4.302652730,
    3.182446305,
    2.776445105,
    2.570581836,
    2.446911851,
    2.364624252,
    2.306004135,
    2.262157163,
    2.228138852,
    2.200985160,
    2.178812830,
    2.160368656,
    2.144786688,
    2.131449546,
    2.119905299,
    2.109815578,
    2.100922040,
    2.093024054,
    2.085963447,
    2.079613845,
    2.073873068,
    2.068657610,
    2.063898562,
    2.059538553,
    2.055529439,
    2.051830516,
    2.048407142,
    2.045229642,
    2.042272456,
];

/// The 0.975 quantile of the standard normal distribution.
pub const Z975: f64 = 1.959963984540054;

/// The 0.975 quantile of Student's t with `df` degrees of freedom (`df` ≥ 1): the two-sided
/// 95 % critical value.
pub fn t975(df: usize) -> f64 {
    assert!(df >= 1, "Student's t needs at least one degree of freedom");
    if df <= T975.len() {
        return T975[df - 1];
    }
    let (z, n) = (Z975, df as f64);
    let g1 = (z.powi(3) + z) / 4.0;
    let g2 = (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / 96.0;
    let g3 = (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / 384.0;
    z + g1 / n + g2 / (n * n) + g3 / (n * n * n)
}

/// A metric over replications.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Replications with a value.
    pub n: usize,
    /// Mean (`None` without values).
    pub mean: Option<f64>,
    /// Sample standard deviation (n − 1 in the denominator; `None` below two values).
    pub sd: Option<f64>,
    /// Half-width of the 95 % confidence interval of the mean, `t975(n − 1) · sd / √n`
    /// (`None` below two values).
    pub half_width: Option<f64>,
}

impl Summary {
    /// The summary of `values` (NaN values are left out).
    pub fn of(values: &[f64]) -> Summary {
        let v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        let n = v.len();
        if n == 0 {
            return Summary { n, mean: None, sd: None, half_width: None };
        }
        let mean = v.iter().sum::<f64>() / n as f64;
        if n < 2 {
            return Summary { n, mean: Some(mean), sd: None, half_width: None };
        }
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let sd = var.sqrt();
        Summary { n, mean: Some(mean), sd: Some(sd), half_width: Some(t975(n - 1) * sd / (n as f64).sqrt()) }
    }

    /// Lower end of the 95 % confidence interval.
    pub fn low(&self) -> Option<f64> {
        self.mean.zip(self.half_width).map(|(m, h)| m - h)
    }

    /// Upper end of the 95 % confidence interval.
    pub fn high(&self) -> Option<f64> {
        self.mean.zip(self.half_width).map(|(m, h)| m + h)
    }

    /// The CSV cells `n, mean, sd, ci95_low, ci95_high` (empty where a value does not apply).
    pub fn cells(&self) -> [String; 5] {
        let f = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
        [self.n.to_string(), f(self.mean), f(self.sd), f(self.low()), f(self.high())]
    }

    /// `mean ± half-width` with `digits` decimals (`mean` alone for one value, `-` for none).
    pub fn text(&self, digits: usize) -> String {
        match (self.mean, self.half_width) {
            (Some(m), Some(h)) => format!("{m:.digits$} ± {h:.digits$}"),
            (Some(m), None) => format!("{m:.digits$}"),
            _ => "-".into(),
        }
    }
}

/// The CSV column names of a summarised metric: `<name>_n`, `_mean`, `_sd`, `_ci95_low`,
/// `_ci95_high`.
pub fn columns(name: &str) -> [String; 5] {
    ["n", "mean", "sd", "ci95_low", "ci95_high"].map(|s| format!("{name}_{s}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_t_quantiles_are_the_published_ones() {
        // Published two-sided 95 % critical values (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2).
        for (df, t) in [(1, 12.706), (2, 4.303), (5, 2.571), (10, 2.228), (20, 2.086), (30, 2.042)] {
            assert!((t975(df) - t).abs() < 5e-4, "df {df}: {}", t975(df));
        }
        for (df, t) in [(31, 2.039513), (40, 2.021075), (60, 2.000298), (100, 1.983972), (120, 1.979930)] {
            assert!((t975(df) - t).abs() < 2e-5, "df {df}: {}", t975(df));
        }
        assert!((t975(1_000_000) - Z975).abs() < 1e-5);
        assert!((1..200).all(|df| t975(df) > t975(df + 1)), "decreasing in the degrees of freedom");
    }

    #[test]
    fn summaries_by_hand() {
        // 1, 2, 3, 4: mean 2.5, sd sqrt(5/3), half-width t(3) * sd / 2.
        let s = Summary::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!((s.n, s.mean), (4, Some(2.5)));
        let sd = (5.0f64 / 3.0).sqrt();
        assert!((s.sd.unwrap() - sd).abs() < 1e-12);
        assert!((s.half_width.unwrap() - 3.182446305 * sd / 2.0).abs() < 1e-9);
        assert!((s.low().unwrap() - (2.5 - 2.054_260)).abs() < 1e-5);
        let one = Summary::of(&[7.0, f64::NAN]);
        assert_eq!((one.n, one.mean, one.sd, one.half_width), (1, Some(7.0), None, None));
        assert_eq!(one.cells(), ["1", "7", "", "", ""]);
        assert_eq!(Summary::of(&[]).text(2), "-");
        assert_eq!(Summary::of(&[2.0, 2.0]).text(1), "2.0 ± 0.0");
    }
}
