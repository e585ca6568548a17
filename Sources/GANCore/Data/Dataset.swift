import ComputeBackend

/// What a GAN trains on, as the model sees it: `count` examples of `features` floats.
/// A data kind is a type conforming to this (images from IDX files, a 2-D mixture), not
/// a case switched on across the trainer, the session and the evaluation.
public protocol Dataset: Sendable {
    var count: Int { get }
    /// Floats per example.
    var features: Int { get }
    /// One example as rows × columns (1 × 2 for a point): checkpoints record it, and a
    /// checkpoint resumes only on data of the same layout.
    var layout: (rows: Int, columns: Int) { get }
    /// A one-line description for the training log.
    var summary: String { get }

    /// Writes the examples `indices` into `out` (indices.count × features) as the model's
    /// inputs.
    func fill(_ indices: ArraySlice<Int>, into out: UnsafeMutableBufferPointer<Float>)

    /// The classes of labelled data (a conditional GAN's), 0 for unlabelled data.
    var classes: Int { get }
    /// Each class's name, for logs and grids.
    var classNames: [String] { get }
    /// The class of example `index`, from 0 (labelled data only).
    func label(_ index: Int) -> Int

    /// Whether a conditional run draws each real row by `drawConditioned` (a table's
    /// training-by-sampling) rather than in the epoch's shuffled order.
    var conditionedSampling: Bool { get }
    /// A row and its class from three uniforms in [0, 1) (`conditionedSampling` data only).
    func drawConditioned(_ u: Float, _ v: Float, _ w: Float) -> (index: Int, label: Int)
    /// The classes a conditional generator draws `count` samples for by default (previews,
    /// evaluations), from Philox `key`; nil: an equal share of each class.
    func samplingClasses(count: Int, key: UInt64) -> [Int]?
    /// A table's transform (its generator ends in a span head over it); nil for other data.
    var tableTransform: TableTransform? { get }

    /// How many generated examples a training run's sample file shows.
    var previewCount: Int { get }
    /// Writes generated examples (previewCount × features) as the run's sample file for
    /// `step`: a grid of images, a scatter plot of points.
    func writePreview(_ samples: [Float], step: Int, in directory: RunDirectory) throws

    /// Generated examples an evaluation draws unless the config says otherwise.
    var evaluationSamples: Int { get }
    /// The measure of generated examples against this data: `evaluate(samples, classes,
    /// seed)`, with the class each sample was drawn for by a conditional generator.
    /// Whatever it needs (a classifier, real features) is made at its first call.
    func evaluator<B: ComputeBackend>(
        on backend: B, classifierPath: String, config: RunConfig
    ) -> ([Float], [Int]?, UInt64) throws -> EvaluationResult
}

extension Dataset {
    public var conditionedSampling: Bool { false }
    public func drawConditioned(_ u: Float, _ v: Float, _ w: Float) -> (index: Int, label: Int) {
        preconditionFailure("\(summary) does not draw rows by condition")
    }
    public func samplingClasses(count: Int, key: UInt64) -> [Int]? { nil }
    public var tableTransform: TableTransform? { nil }
}

extension TableDataset {
    public var tableTransform: TableTransform? { transform }
}

/// The data `spec` names: a 2-D mixture's name (`ring8`, `grid25`), a CSV table (read
/// with `table`), a directory of MNIST-format IDX files, or a folder of pictures
/// (`ImageFolder`, read with `folder`; `warn` gets a line about the pictures skipped). A
/// mixture's training set is drawn from `seed`, a table's holdout split and encoding too.
public func loadDataset(
    _ spec: String, seed: UInt64, folder: ImageFolder.Options = .init(), table: TableDataset.Options = .init(),
    warn: (String) -> Void = { _ in }
) throws -> any Dataset {
    if let mixture = Mixture2D.named(spec) {
        return MixtureDataset(mixture: mixture, seed: seed)
    }
    if TableDataset.isTable(spec) {
        return try TableDataset(path: spec, options: table, seed: seed)
    }
    if ImageFolder.isImageFolder(spec) {
        let loaded = try ImageFolder.load(directory: spec, options: folder)
        if let first = loaded.skipped.first {
            warn("skipped \(loaded.skipped.count) of the pictures in \(spec) (first: \(first.file): \(first.reason)); --strict refuses them")
        }
        return loaded.dataset
    }
    return try ImageDataset.load(directory: spec)
}

/// A fixed sample of a 2-D mixture: the model sees its points as they are.
public struct MixtureDataset: Dataset {
    public let mixture: Mixture2D
    /// count × 2.
    public let points: [Float]

    /// Points in a mixture's training set.
    public static let size = 100_000

    /// Each point's mode, its class.
    public let modes: [UInt8]

    public init(mixture: Mixture2D, seed: UInt64) {
        self.mixture = mixture
        let drawn = mixture.labelledSample(count: Self.size, key: RandomStream.data.key(seed: seed))
        points = drawn.points
        modes = drawn.modes.map { UInt8($0) }
    }

    /// Each mode is a class.
    public var classes: Int { mixture.means.count }
    public var classNames: [String] { (0..<classes).map { "mode \($0)" } }
    public func label(_ index: Int) -> Int { Int(modes[index]) }

    public var count: Int { points.count / 2 }
    public var features: Int { 2 }
    public var layout: (rows: Int, columns: Int) { (1, 2) }
    public var summary: String { "\(count) points of \(mixture.name) (\(mixture.means.count) Gaussians, σ \(mixture.sigma))" }

    public func fill(_ indices: ArraySlice<Int>, into out: UnsafeMutableBufferPointer<Float>) {
        for (row, point) in indices.enumerated() {
            out[2 * row] = points[2 * point]
            out[2 * row + 1] = points[2 * point + 1]
        }
    }

    public var previewCount: Int { ModeMetrics.protocolSamples }

    /// A scatter plot over the modes' 3σ circles.
    public func writePreview(_ samples: [Float], step: Int, in directory: RunDirectory) throws {
        let svg = ScatterPlot.svg(points: samples, mixture: mixture, title: "\(mixture.name), step \(step)")
        try writeAtomically(Array(svg.utf8), to: directory.samplePath(step: step, extension: "svg"))
    }

    public var evaluationSamples: Int { ModeMetrics.protocolSamples }

    public func evaluator<B: ComputeBackend>(
        on backend: B, classifierPath: String, config: RunConfig
    ) -> ([Float], [Int]?, UInt64) throws -> EvaluationResult {
        { samples, _, _ in .mixture(try ModeMetrics(points: samples, mixture: mixture)) }
    }
}

extension ImageDataset: Dataset {
    /// One more than the largest label when the labels name at least 2 classes, else 0.
    public var classes: Int {
        let top = Int(labels.max() ?? 0) + 1
        return labels.count == count && top >= 2 ? top : 0
    }
    public func label(_ index: Int) -> Int { Int(labels[index]) }
    public var features: Int { pixelsPerImage }
    public var layout: (rows: Int, columns: Int) { (rows, columns) }
    public var summary: String { "\(count) images of \(rows)×\(columns)\(channels == 3 ? " RGB" : "")" }

    /// Pixels scaled to [-1, 1], the range of the generator's tanh.
    public func fill(_ indices: ArraySlice<Int>, into out: UnsafeMutableBufferPointer<Float>) {
        let width = pixelsPerImage
        pixels.withUnsafeBufferPointer { source in
            for (row, image) in indices.enumerated() {
                for p in 0..<width { out[row * width + p] = Float(source[image * width + p]) / 127.5 - 1 }
            }
        }
    }

    public var previewCount: Int { 64 }

    /// An 8×8 grid.
    public func writePreview(_ samples: [Float], step: Int, in directory: RunDirectory) throws {
        try ImageGrid.writePNG(
            samples, count: previewCount, rows: rows, columns: columns, channels: channels, across: 8,
            to: directory.samplePath(step: step))
    }

    public var evaluationSamples: Int { 10_000 }

    /// The image metrics in the reference classifier's features, against the test split
    /// of the training directory.
    public func evaluator<B: ComputeBackend>(
        on backend: B, classifierPath: String, config: RunConfig
    ) -> ([Float], [Int]?, UInt64) throws -> EvaluationResult {
        let made = LazyImageEvaluator<B>()
        // Per-class agreement is defined for Fashion-MNIST's ten classes.
        let tenClasses = classes == ReferenceClassifier.classes
        let shape = "\(rows)×\(columns)×\(channels)"
        return { samples, labels, seed in
            guard rows * columns == 784, channels == 1 else {
                throw GANError("the image metrics are for 28×28 grayscale images (the reference classifier's), not \(shape)")
            }
            if made.evaluator == nil {
                made.evaluator = try ImageEvaluator(backend: backend, classifierPath: classifierPath, data: config.data)
            }
            return .images(try made.evaluator!.evaluate(samples, seed: seed, labels: tenClasses ? labels : nil))
        }
    }
}

/// The image evaluator an `ImageDataset` evaluator makes at its first use.
private final class LazyImageEvaluator<B: ComputeBackend> {
    var evaluator: ImageEvaluator<B>?
}

extension Dataset {
    /// An example as an NHWC image: layout rows × columns × the channels that make up
    /// `features` (a 2-D point is 1 × 2 × 1).
    public var shape: ImageShape {
        ImageShape(height: layout.rows, width: layout.columns, channels: max(1, features / max(1, layout.rows * layout.columns)))
    }
}
