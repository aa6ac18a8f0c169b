//! Vector math on f32 embeddings, for every crate: the one place that says
//! what a unit vector, a dot product and a cosine are here. (The embedded
//! index keeps its half-precision kernels beside its codec, where the
//! storage format is.)

use numkong::Dot;

/// The dot product of two vectors of equal length: the cosine of two unit
/// vectors, which is how every stored embedding is kept. numkong picks the
/// widest SIMD kernel the CPU has at run time (AVX-512 where there is
/// one), several times a scalar loop at 384 dimensions.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    f32::dot(a, b).unwrap_or(0.0) as f32
}

/// Scales `v` to unit length so cosine similarity becomes a dot product.
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in v {
            *x /= norm;
        }
    }
}

/// Cosine similarity of two vectors of equal length (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_parallel_and_orthogonal_vectors() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }

    #[test]
    fn normalized_vectors_have_unit_length_and_dot_is_their_cosine() {
        let mut a = vec![3.0, 4.0];
        normalize(&mut a);
        assert!((dot(&a, &a) - 1.0).abs() < 1e-6);
        let mut b = vec![4.0, 3.0];
        normalize(&mut b);
        assert!((dot(&a, &b) - cosine(&[3.0, 4.0], &[4.0, 3.0])).abs() < 1e-6);
        let mut zero = vec![0.0, 0.0];
        normalize(&mut zero);
        assert_eq!(zero, vec![0.0, 0.0], "a zero vector stays zero");
    }
}
