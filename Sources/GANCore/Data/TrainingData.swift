import ComputeBackend

/// What a GAN trains on: images from an MNIST-format directory, or a fixed sample of a
/// 2-D mixture (`ring8`, `grid25`). Either way the model sees rows of `features` floats.
public enum TrainingData: Sendable {
    case images(ImageDataset)
    /// `points` (count × 2) drawn once from the mixture.
    case mixture(Mixture2D, points: [Float])

    /// Points in a mixture's training set.
    public static let mixturePoints = 100_000

    /// The data `spec` names: a mixture's name, else a directory of IDX files. A
    /// mixture's training set is drawn from `seed`.
    public static func load(_ spec: String, seed: UInt64) throws -> TrainingData {
        if let mixture = Mixture2D.named(spec) {
            return .mixture(mixture, points: mixture.sample(count: mixturePoints, key: RandomStream.data.key(seed: seed)))
        }
        return .images(try ImageDataset.load(directory: spec))
    }

    public var count: Int {
        switch self {
        case .images(let d): d.count
        case .mixture(_, let points): points.count / 2
        }
    }

    /// Floats per example: pixels per image, or 2.
    public var features: Int {
        switch self {
        case .images(let d): d.pixelsPerImage
        case .mixture: 2
        }
    }

    /// The example's layout as rows × columns (1 × 2 for points), for checkpoints.
    public var layout: (rows: Int, columns: Int) {
        switch self {
        case .images(let d): (d.rows, d.columns)
        case .mixture: (1, 2)
        }
    }

    public var mixture: Mixture2D? {
        if case .mixture(let m, _) = self { return m }
        return nil
    }

    /// A one-line description for the training log.
    public var summary: String {
        switch self {
        case .images(let d): "\(d.count) images of \(d.rows)×\(d.columns)"
        case .mixture(let m, _): "\(count) points of \(m.name) (\(m.means.count) Gaussians, σ \(m.sigma))"
        }
    }

    /// Writes the examples `indices` into `out` as model inputs: pixels scaled to
    /// [-1, 1] (the range of the generator's tanh), points as they are.
    public func fill(_ indices: ArraySlice<Int>, into out: UnsafeMutableBufferPointer<Float>) {
        let width = features
        switch self {
        case .images(let d):
            d.pixels.withUnsafeBufferPointer { source in
                for (row, image) in indices.enumerated() {
                    for p in 0..<width { out[row * width + p] = Float(source[image * width + p]) / 127.5 - 1 }
                }
            }
        case .mixture(_, let points):
            for (row, point) in indices.enumerated() {
                out[2 * row] = points[2 * point]
                out[2 * row + 1] = points[2 * point + 1]
            }
        }
    }
}
