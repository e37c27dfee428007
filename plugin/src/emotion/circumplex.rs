//! Valence and arousal from class probabilities: each class has a fixed place on Russell's
//! circumplex (valence = pleasant vs unpleasant, arousal = activated vs deactivated), and the
//! outputs are the probability-weighted mean of those places.

use super::N_CLASSES;

/// (valence, arousal) per class, in `CLASSES` order; documented in the README.
pub const COORDINATES: [(f32, f32); N_CLASSES] = [
    (0.0, 0.0),   // neutral
    (0.4, -0.6),  // calm
    (0.8, 0.5),   // happy
    (-0.7, -0.5), // sad
    (-0.6, 0.8),  // angry
    (-0.7, 0.6),  // fearful
    (-0.6, 0.3),  // disgust
    (0.3, 0.8),   // surprised
];

pub fn valence_arousal(probs: &[f32; N_CLASSES]) -> (f32, f32) {
    let total: f32 = probs.iter().sum();
    if !total.is_finite() || total <= 0.0 {
        return (0.0, 0.0);
    }
    let (v, a) = probs
        .iter()
        .zip(COORDINATES)
        .fold((0.0, 0.0), |(v, a), (p, (cv, ca))| (v + p * cv, a + p * ca));
    ((v / total).clamp(-1.0, 1.0), (a / total).clamp(-1.0, 1.0))
}

/// Index of the most probable class.
pub fn dominant(probs: &[f32; N_CLASSES]) -> usize {
    (0..N_CLASSES)
        .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hot_probabilities_land_on_the_class_coordinates() {
        for (i, &(v, a)) in COORDINATES.iter().enumerate() {
            let mut p = [0.0; N_CLASSES];
            p[i] = 1.0;
            assert_eq!(valence_arousal(&p), (v, a));
            assert_eq!(dominant(&p), i);
        }
    }

    #[test]
    fn mixtures_average_and_unnormalised_input_is_handled() {
        let mut p = [0.0; N_CLASSES];
        p[2] = 0.5; // happy (0.8, 0.5)
        p[3] = 0.5; // sad (-0.7, -0.5)
        let (v, a) = valence_arousal(&p);
        assert!((v - 0.05).abs() < 1e-6 && a.abs() < 1e-6);
        p[2] = 2.0;
        p[3] = 2.0;
        assert!((valence_arousal(&p).0 - 0.05).abs() < 1e-6);
        assert_eq!(valence_arousal(&[0.0; N_CLASSES]), (0.0, 0.0));
        assert_eq!(valence_arousal(&[f32::NAN; N_CLASSES]), (0.0, 0.0));
    }
}
