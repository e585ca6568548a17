import ComputeBackend

/// Draws images from a generator: noise from a Philox stream, a forward pass, a read.
/// Its buffers are made once, for chunks of up to `chunk` images. Chunks are a multiple
/// of 4 images, so every chunk but the last draws whole Philox blocks and the images do
/// not depend on the chunk size.
public final class ImageSampler<B: ComputeBackend> {
    public let generator: Sequential<B>
    public let chunk: Int
    private let activations: Workspace<B>
    private let noise: B.Buffer

    public init(generator: Sequential<B>, chunk: Int) throws {
        self.generator = generator
        let chunk = (max(chunk, 1) + 3) / 4 * 4
        self.chunk = chunk
        activations = try Workspace(for: generator, capacity: chunk)
        noise = try generator.backend.makeBuffer(count: chunk * generator.inputs)
    }

    /// `count` images (count × pixels, in [-1, 1]) from noise keyed by `key`, starting at
    /// counter 0: the same key gives the same images. Batch normalisation uses its running
    /// averages (inference mode), so an image does not depend on the others drawn with it;
    /// the generator's mode is restored afterwards.
    public func sample(count: Int, key: UInt64) throws -> [Float] {
        try sample(count: count) { noise, rows, first in
            try generator.backend.normal(
                noise, count: rows * generator.inputs, seed: key, counter: Philox.blocks(first * generator.inputs), mean: 0,
                std: 1)
        }
    }

    /// The images of the given noise vectors (count × noise width, row-major), in
    /// inference mode as `sample(count:key:)` draws them.
    public func sample(noise given: [Float]) throws -> [Float] {
        let width = generator.inputs
        guard given.count % width == 0 else {
            throw GANError("noise of \(given.count) values is not whole rows of the generator's \(width) inputs")
        }
        return try sample(count: given.count / width) { noise, rows, first in
            try generator.backend.write(Array(given[(first * width)..<((first + rows) * width)]), to: noise, offset: 0)
        }
    }

    /// Chunks of `count` images: `fill` writes the noise of `rows` images from image
    /// `first` on into the buffer, and the generator runs on it in inference mode.
    private func sample(count: Int, fill: (B.Buffer, Int, Int) throws -> Void) throws -> [Float] {
        let backend = generator.backend
        let mode = generator.mode
        generator.setMode(.inference)
        defer { generator.setMode(mode) }
        let pixels = generator.outputs
        var result: [Float] = []
        result.reserveCapacity(count * pixels)
        var done = 0
        while done < count {
            let rows = min(chunk, count - done)
            try fill(noise, rows, done)
            try generator.forward(noise, rows: rows, into: activations)
            result += try backend.read(activations.output, offset: 0, count: rows * pixels)
            done += rows
        }
        return result
    }
}
