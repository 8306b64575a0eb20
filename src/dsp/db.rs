//! `librosa.power_to_db`.

/// The reference level of a dB conversion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DbRef {
    /// A fixed reference power (librosa's default is 1.0).
    Value(f64),
    /// The maximum of the input (`ref=np.max`).
    Max,
}

/// `10·log10(max(amin, S)) − 10·log10(max(amin, ref))`, then clipped to at
/// most `top_db` below its maximum. In place.
pub fn power_to_db(values: &mut [f32], reference: DbRef, amin: f64, top_db: Option<f64>) {
    let ref_value = match reference {
        DbRef::Value(v) => v.abs(),
        DbRef::Max => values.iter().fold(0.0f64, |m, &v| m.max(f64::from(v))),
    };
    let offset = 10.0 * amin.max(ref_value).log10();
    let mut max_db = f64::NEG_INFINITY;
    for v in values.iter_mut() {
        let db = 10.0 * amin.max(f64::from(*v)).log10() - offset;
        max_db = max_db.max(db);
        *v = db as f32;
    }
    if let Some(top) = top_db {
        let floor = (max_db - top) as f32;
        for v in values.iter_mut() {
            *v = v.max(floor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_librosa_semantics() {
        let mut s = vec![1.0, 0.1, 1e-12, 100.0];
        power_to_db(&mut s, DbRef::Value(1.0), 1e-10, None);
        assert_eq!(s, vec![0.0, -10.0, -100.0, 20.0]);
        let mut s = vec![1.0, 0.1, 1e-12, 100.0];
        power_to_db(&mut s, DbRef::Max, 1e-10, Some(80.0));
        assert_eq!(s, vec![-20.0, -30.0, -80.0, 0.0]);
    }
}
