//! Figures as the tables print them: medians, numbers with thousands separators, and Hearth's figure against
//! another server's in words ("3.1× lower"). The formats follow Python's (`,.1f`, `g` and `repr`), which the
//! first tables of BENCHMARKS.md were printed with, so old and new tables read alike.

/// The median of the values present (`None` when there are none): the middle one, or the mean of the two
/// middle ones.
pub fn median(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let mut values: Vec<f64> = values.into_iter().flatten().collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// `v` with `digits` decimals and a comma between thousands (`12,345.6`); `?` when there is no figure.
pub fn num(v: Option<f64>, digits: usize) -> String {
    let Some(v) = v else {
        return "?".to_owned();
    };
    let fixed = format!("{:.*}", digits, v.abs());
    let (int, frac) = fixed.split_at(fixed.find('.').unwrap_or(fixed.len()));
    let mut grouped = String::with_capacity(fixed.len() + int.len() / 3 + 1);
    if v.is_sign_negative() {
        grouped.push('-');
    }
    for (i, digit) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped.push_str(frac);
    grouped
}

/// Python's `g` format with its default 6 significant digits: fixed notation for exponents from -4 to 5,
/// scientific otherwise, trailing zeros dropped (`30`, `0.5`, `1.23457e+06`).
pub fn general(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".to_owned()
        } else if v > 0.0 {
            "inf".to_owned()
        } else {
            "-inf".to_owned()
        };
    }
    // Rounded to 6 significant digits first: the exponent is the rounded value's.
    let sci = format!("{v:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        let decimals = usize::try_from(5 - exp).unwrap_or(0);
        trim_zeros(&format!("{v:.decimals$}"))
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_zeros(mantissa), exp.abs())
    }
}

/// Python's `repr` of a float: the shortest digits that read back as `v`, `.0` on whole numbers, scientific
/// below 1e-4 and from 1e16 (`1000.0`, `0.847`, `1e-05`, `1e+16`).
pub fn repr(v: f64) -> String {
    if !v.is_finite() {
        return general(v);
    }
    let magnitude = v.abs();
    if magnitude != 0.0 && !(1e-4..1e16).contains(&magnitude) {
        let sci = format!("{v:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    if v == v.trunc() {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s.to_owned()
    }
}

/// Which way is better for a figure, and the words for Hearth's side of it.
#[derive(Debug, Clone, Copy)]
pub struct Sense {
    pub better: &'static str,
    pub worse: &'static str,
    pub higher_is_better: bool,
    /// Differences up to this are no difference (CPU figures: 0.01 cores is noise).
    pub noise: f64,
}

impl Sense {
    pub const fn lower(better: &'static str, worse: &'static str) -> Sense {
        Sense {
            better,
            worse,
            higher_is_better: false,
            noise: 0.0,
        }
    }

    pub const fn higher(better: &'static str, worse: &'static str) -> Sense {
        Sense {
            better,
            worse,
            higher_is_better: true,
            noise: 0.0,
        }
    }

    pub const fn with_noise(self, noise: f64) -> Sense {
        Sense { noise, ..self }
    }
}

/// Hearth's figure `h` against another server's `o`, in words: `3.1× lower`, `≈ same`, `n/a`.
pub fn ratio(h: Option<f64>, o: Option<f64>, sense: Sense) -> String {
    let (Some(h), Some(o)) = (h, o) else {
        return "n/a".to_owned();
    };
    if (h - o).abs() <= sense.noise {
        return if h == o { "same" } else { "≈ same" }.to_owned();
    }
    // good / bad > 1: Hearth does better.
    let (good, bad) = if sense.higher_is_better {
        (h, o)
    } else {
        (o, h)
    };
    if bad <= 0.0 || good <= 0.0 {
        let word = if bad <= 0.0 {
            sense.better
        } else {
            sense.worse
        };
        return format!("{word} ({} vs {})", general(h), general(o));
    }
    let r = good / bad;
    if (r - 1.0).abs() < 0.05 {
        "≈ same".to_owned()
    } else if r >= 1.0 {
        format!("{r:.1}× {}", sense.better)
    } else {
        format!("{:.1}× {}", 1.0 / r, sense.worse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_skip_missing_figures_and_average_the_middle_pair() {
        assert_eq!(median([Some(3.0), None, Some(1.0), Some(2.0)]), Some(2.0));
        assert_eq!(
            median([Some(4.0), Some(1.0), Some(2.0), Some(3.0)]),
            Some(2.5)
        );
        assert_eq!(median([None, None]), None);
        assert_eq!(median([]), None);
    }

    #[test]
    fn numbers_group_thousands_and_round_like_python() {
        assert_eq!(num(Some(1234567.891), 1), "1,234,567.9");
        assert_eq!(num(Some(799533.0), 0), "799,533");
        assert_eq!(num(Some(999.5), 0), "1,000");
        assert_eq!(num(Some(2.5), 0), "2", "ties to even, as Python's format");
        assert_eq!(num(Some(0.04), 3), "0.040");
        assert_eq!(num(Some(-1234.5), 1), "-1,234.5");
        assert_eq!(num(Some(123.0), 2), "123.00");
        assert_eq!(num(None, 2), "?");
    }

    #[test]
    fn general_format_matches_python_g() {
        for (v, g) in [
            (30.0, "30"),
            (0.5, "0.5"),
            (10.0, "10"),
            (0.0, "0"),
            (-0.0, "-0"),
            (2.675, "2.675"),
            (1234567.5, "1.23457e+06"),
            (999999.5, "1e+06"),
            (123456.0, "123456"),
            (0.0001, "0.0001"),
            (0.00001234, "1.234e-05"),
            (-42.125, "-42.125"),
        ] {
            assert_eq!(general(v), g, "{v}");
        }
    }

    #[test]
    fn repr_matches_python_repr() {
        for (v, r) in [
            (1000.0, "1000.0"),
            (0.847, "0.847"),
            (-0.0, "-0.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (99986.5, "99986.5"),
            (0.00001, "1e-05"),
            (1.5e16, "1.5e+16"),
            (123456789.0, "123456789.0"),
        ] {
            assert_eq!(repr(v), r, "{v}");
        }
    }

    #[test]
    fn ratios_read_as_hearths_figure_against_the_others() {
        let latency = Sense::lower("lower", "higher");
        let throughput = Sense::higher("more", "fewer");
        assert_eq!(ratio(Some(90.1), Some(204.8), latency), "2.3× lower");
        assert_eq!(ratio(Some(204.8), Some(90.1), latency), "2.3× higher");
        assert_eq!(
            ratio(Some(799533.0), Some(364498.0), throughput),
            "2.2× more"
        );
        assert_eq!(ratio(Some(12.9), Some(13.4), latency), "≈ same");
        assert_eq!(ratio(Some(5.0), Some(5.0), latency), "same");
        assert_eq!(ratio(None, Some(1.0), latency), "n/a");
        let cores = Sense::lower("less", "more").with_noise(0.01);
        assert_eq!(ratio(Some(0.04), Some(0.035), cores), "≈ same");
        assert_eq!(ratio(Some(0.04), Some(0.02), cores), "2.0× more");
        assert_eq!(ratio(Some(0.0), Some(0.5), cores), "less (0 vs 0.5)");
        assert_eq!(ratio(Some(0.5), Some(0.0), cores), "more (0.5 vs 0)");
    }
}
