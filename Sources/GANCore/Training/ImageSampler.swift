import ComputeBackend

/// Draws images from a generator: noise from a Philox stream, a forward pass, a read.
/// Its buffers are made once, for chunks of up to `chunk` images. Chunks are a multiple
/// of 4 images, so every chunk but the last draws whole Philox blocks and the images do
/// not depend on the chunk size.
///
/// A conditional generator draws each image of a class: the classes given, or by default
/// an equal share of each (image i of class i mod classes).
///
/// A table's generator (one that ends in a span head) samples with each chunk's own batch
/// statistics (`LayerMode.batchStatistics`), as CTGAN's sampling does; its chunks are
/// then of equal size (a draw of 501 rows is two chunks of 252 and 249, not 500 and 1), and
/// a row depends on the rows drawn with it — the same count and seed give the same rows.
/// Measured on diamonds (30 epochs, three sampling seeds): usefulness 0.545, 0.536, 0.552
/// with the running averages against 0.610, 0.590 and 0.60 with batch statistics, fidelity
/// within 0.002 (benchmarks/README.md, 2026-11-29 fifth session).
public final class ImageSampler<B: ComputeBackend> {
    public let generator: Sequential<B>
    public let chunk: Int
    /// The conditional generator's classes; nil for an unconditional one.
    public let classes: Int?
    /// Whether chunks use their own batch statistics (a table's generator).
    public let batchStatistics: Bool
    private let activations: Workspace<B>
    private let noise: B.Buffer
    private let conditions: B.Buffer?

    public init(generator: Sequential<B>, chunk: Int) throws {
        self.generator = generator
        let chunk = (max(chunk, 1) + 3) / 4 * 4
        self.chunk = chunk
        activations = try Workspace(for: generator, capacity: chunk)
        noise = try generator.backend.makeBuffer(count: chunk * generator.inputs)
        classes = generator.layers.lazy.compactMap { ($0 as? Condition<B>)?.classes }.first
        conditions = try classes.map { try generator.backend.makeBuffer(count: chunk * $0) }
        batchStatistics = generator.layers.contains { $0 is SpanHead<B> }
    }

    /// The classes of `count` images drawn by default: an equal share of each, in turn.
    public func defaultClasses(count: Int) -> [Int]? {
        classes.map { k in (0..<count).map { $0 % k } }
    }

    /// `count` images (count × pixels, in [-1, 1]) from noise keyed by `key`, starting at
    /// counter 0: the same key gives the same images. Batch normalisation uses its running
    /// averages (inference mode), so an image does not depend on the others drawn with it;
    /// the generator's mode and classes are restored afterwards.
    public func sample(count: Int, key: UInt64, classes: [Int]? = nil) throws -> [Float] {
        try sample(count: count, classes: classes, layerKey: key ^ Self.layerStream) { noise, rows, first in
            try generator.backend.normal(
                noise, count: rows * generator.inputs, seed: key, counter: Philox.blocks(first * generator.inputs), mean: 0,
                std: 1)
        }
    }

    /// The images of the given noise vectors (count × noise width, row-major), in
    /// inference mode as `sample(count:key:)` draws them.
    public func sample(noise given: [Float], classes: [Int]? = nil) throws -> [Float] {
        let width = generator.inputs
        guard given.count % width == 0 else {
            throw GANError("noise of \(given.count) values is not whole rows of the generator's \(width) inputs")
        }
        return try sample(count: given.count / width, classes: classes, layerKey: Self.layerStream) { noise, rows, first in
            try generator.backend.write(Array(given[(first * width)..<((first + rows) * width)]), to: noise, offset: 0)
        }
    }

    /// Recomputes batch normalisation's running averages for the generator's weights:
    /// `batches` chunks of noise keyed by `key` (an equal share of each class for a
    /// conditional generator) go through it, each layer's averages becoming the mean of
    /// the chunks' statistics (`LayerMode.averagingStatistics`). For the EMA generator,
    /// whose weights the training batches' statistics were never gathered with. The
    /// generator's mode and classes are restored afterwards.
    public func averageStatistics(batches: Int, key: UInt64) throws {
        let backend = generator.backend
        let previous = generator.conditions
        let mode = generator.mode
        defer {
            generator.setMode(mode)
            if let previous { generator.setConditions(previous) }
        }
        if let conditions, let classes, let labels = defaultClasses(count: chunk) {
            generator.setConditions(conditions)
            try backend.write(oneHot(labels, classes: classes), to: conditions, offset: 0)
        }
        for batch in 0..<batches {
            let first = batch * chunk
            try backend.normal(
                noise, count: chunk * generator.inputs, seed: key, counter: Philox.blocks(first * generator.inputs), mean: 0,
                std: 1)
            generator.setMode(.averagingStatistics(batch: batch))
            _ = generator.setRandomStream(key: key ^ Self.layerStream, counter: Philox.blocks(first * generator.outputs), rows: chunk)
            try generator.forward(noise, rows: chunk, into: activations)
        }
    }

    /// The key (xor the noise's) of the draws of layers that draw in inference (a table's
    /// Gumbel span head).
    static var layerStream: UInt64 { 0x6A09_E667_F3BC_C908 }

    /// Chunks of `count` images: `fill` writes the noise of `rows` images from image
    /// `first` on into the buffer, and the generator runs on it in inference mode; layers
    /// that draw in inference draw from `layerKey` at the chunk's place (whole Philox
    /// blocks, as the chunks are multiples of 4 rows), so the samples do not depend on the
    /// chunk size either.
    private func sample(
        count: Int, classes given: [Int]?, layerKey: UInt64, fill: (B.Buffer, Int, Int) throws -> Void
    ) throws -> [Float] {
        let backend = generator.backend
        let labels = given ?? defaultClasses(count: count)
        if let given {
            guard let classes else { throw GANError("the generator is not conditional: it takes no classes") }
            guard given.count == count else { throw GANError("\(given.count) classes for \(count) images") }
            if let bad = given.first(where: { !(0..<classes).contains($0) }) {
                throw GANError("class \(bad) is not one of the generator's \(classes) (0 to \(classes - 1))")
            }
        }
        // The generator may be a trainer's: its mode and its classes are restored afterwards.
        let previous = generator.conditions
        if let conditions { generator.setConditions(conditions) }
        let mode = generator.mode
        generator.setMode(batchStatistics ? .batchStatistics : .inference)
        defer {
            generator.setMode(mode)
            if let previous { generator.setConditions(previous) }
        }
        let pixels = generator.outputs
        var result: [Float] = []
        result.reserveCapacity(count * pixels)
        // Batch statistics: equal chunks (multiples of 4, for the Philox blocks).
        let chunks = max(1, (count + chunk - 1) / chunk)
        let size = batchStatistics ? min(chunk, ((count + chunks - 1) / chunks + 3) / 4 * 4) : chunk
        var done = 0
        while done < count {
            let rows = min(size, count - done)
            try fill(noise, rows, done)
            if let conditions, let classes, let labels {
                try backend.write(oneHot(labels[done..<(done + rows)], classes: classes), to: conditions, offset: 0)
            }
            _ = generator.setRandomStream(key: layerKey, counter: Philox.blocks(done * pixels), rows: rows)
            try generator.forward(noise, rows: rows, into: activations)
            result += try backend.read(activations.output, offset: 0, count: rows * pixels)
            done += rows
        }
        return result
    }
}

/// The one-hot rows of `labels` (labels.count × classes).
public func oneHot(_ labels: some Collection<Int>, classes: Int) -> [Float] {
    var rows = [Float](repeating: 0, count: labels.count * classes)
    for (i, label) in labels.enumerated() { rows[i * classes + label] = 1 }
    return rows
}
