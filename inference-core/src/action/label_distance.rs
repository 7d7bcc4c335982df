//! Distances between codebook labels, used to substitute a label the corpus lacks.

use super::corpus::Label;

/// Why a label-distance table could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LabelDistanceError {
    /// There are no labels.
    #[error("the codebook has no labels")]
    Empty,
    /// The matrix is not `labels x labels`, or the centres are not `labels x dimension`.
    #[error("expected {expected} values, got {actual}")]
    Shape {
        /// Number of values expected.
        expected: usize,
        /// Number of values given.
        actual: usize,
    },
    /// A distance or a centre coordinate is NaN or infinite, or a distance is negative.
    #[error("value {index} is not a finite, non-negative number")]
    BadValue {
        /// Index of the offending value.
        index: usize,
    },
}

/// A `labels x labels` matrix of distances between codebook labels.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelDistances {
    labels: usize,
    matrix: Vec<f32>,
}

impl LabelDistances {
    /// Wraps a row-major `labels x labels` distance matrix.
    pub fn from_matrix(labels: usize, matrix: Vec<f32>) -> Result<Self, LabelDistanceError> {
        if labels == 0 {
            return Err(LabelDistanceError::Empty);
        }
        if matrix.len() != labels * labels {
            return Err(LabelDistanceError::Shape {
                expected: labels * labels,
                actual: matrix.len(),
            });
        }
        if let Some(index) = matrix.iter().position(|d| !d.is_finite() || *d < 0.0) {
            return Err(LabelDistanceError::BadValue { index });
        }
        Ok(Self { labels, matrix })
    }

    /// Euclidean distances between codebook centres, given row-major as `labels x dimension`.
    pub fn from_centres(centres: &[f32], dimension: usize) -> Result<Self, LabelDistanceError> {
        if dimension == 0 || centres.is_empty() {
            return Err(LabelDistanceError::Empty);
        }
        if !centres.len().is_multiple_of(dimension) {
            return Err(LabelDistanceError::Shape {
                expected: centres.len().div_ceil(dimension) * dimension,
                actual: centres.len(),
            });
        }
        if let Some(index) = centres.iter().position(|c| !c.is_finite()) {
            return Err(LabelDistanceError::BadValue { index });
        }
        let labels = centres.len() / dimension;
        let rows: Vec<&[f32]> = centres.chunks_exact(dimension).collect();
        let mut matrix = vec![0.0f32; labels * labels];
        for (a, row_a) in rows.iter().enumerate() {
            for (b, row_b) in rows.iter().enumerate() {
                let squared: f64 = row_a
                    .iter()
                    .zip(row_b.iter())
                    .map(|(x, y)| f64::from(x - y).powi(2))
                    .sum();
                matrix[a * labels + b] = squared.sqrt() as f32;
            }
        }
        Self::from_matrix(labels, matrix)
    }

    /// Number of labels the table covers.
    pub fn label_count(&self) -> usize {
        self.labels
    }

    /// Distance between two labels, if both are covered.
    pub fn distance(&self, a: Label, b: Label) -> Option<f32> {
        let (a, b) = (a as usize, b as usize);
        (a < self.labels && b < self.labels).then(|| self.matrix[a * self.labels + b])
    }

    /// The label nearest to `label` among those for which `available` is true, other than
    /// `label` itself; ties go to the smaller label.
    pub fn nearest(&self, label: Label, mut available: impl FnMut(Label) -> bool) -> Option<Label> {
        let row = label as usize;
        if row >= self.labels {
            return None;
        }
        (0..self.labels as Label)
            .filter(|&other| other != label && available(other))
            .map(|other| (self.matrix[row * self.labels + other as usize], other))
            .min_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)))
            .map(|(_, other)| other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centres_give_euclidean_distances_and_nearest_labels() {
        // Four centres on a line: 0, 1, 3, 10.
        let distances =
            LabelDistances::from_centres(&[0.0, 0.0, 1.0, 0.0, 3.0, 0.0, 10.0, 0.0], 2).unwrap();
        assert_eq!(distances.label_count(), 4);
        assert_eq!(distances.distance(1, 2), Some(2.0));
        assert_eq!(distances.distance(4, 0), None);
        assert_eq!(distances.nearest(0, |_| true), Some(1));
        assert_eq!(distances.nearest(0, |l| l != 1), Some(2));
        assert_eq!(distances.nearest(3, |l| l < 2), Some(1));
        assert_eq!(distances.nearest(3, |_| false), None);
    }

    #[test]
    fn malformed_tables_are_rejected() {
        assert_eq!(
            LabelDistances::from_matrix(2, vec![0.0; 3]),
            Err(LabelDistanceError::Shape {
                expected: 4,
                actual: 3
            })
        );
        assert_eq!(
            LabelDistances::from_matrix(2, vec![0.0, f32::NAN, 1.0, 0.0]),
            Err(LabelDistanceError::BadValue { index: 1 })
        );
        assert_eq!(
            LabelDistances::from_centres(&[1.0, 2.0, 3.0], 2).unwrap_err(),
            LabelDistanceError::Shape {
                expected: 4,
                actual: 3
            }
        );
    }
}
