import ArgumentParser
import ComputeBackend
import Foundation
import GANCore

/// `gan-cl sample`
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw images from a checkpoint's generator.",
        discussion: """
            The output's extension chooses the format: .png (a grid 8 images wide), .npy \
            (float32, count × pixels, values in [-1, 1]) or .csv (one image per line); for a \
            2-D mixture's checkpoint .svg (a scatter plot over the modes), .npy or .csv (N×2).

            Example:
              gan-cl sample --checkpoint runs/fmnist/checkpoints/step-018740.safetensors --count 64 --out grid.png
            """)

    @Option(help: "A checkpoint written by gan-cl train.") var checkpoint: String
    @Option(help: "How many images.") var count: Int = 64
    @Option(help: "Seed of the noise: the same seed gives the same images.") var seed: UInt64 = 0
    @Option(help: "Output file: .png, .npy or .csv.") var out: String
    @Option(help: "Draw from these noise vectors (.npy, float32 N×noise-dim) instead of seeded ones; --count is N.") var noise: String?
    @Flag(help: "Sample from the generator's raw weights, not its moving average (for a checkpoint trained with --ema).") var noEma = false
    @OptionGroup var target: BackendOptions

    func run() throws {
        try reportingErrors {
            let format = (out as NSString).pathExtension.lowercased()
            guard ["png", "npy", "csv", "svg"].contains(format) else {
                throw GANError("--out \(out): the extension must be .png, .npy or .csv (.svg for 2-D data)")
            }
            guard count >= 1 else { throw GANError("--count must be at least 1, got \(count)") }
            let loaded = try Checkpoint.load(checkpoint)
            let given = try noise.map { path -> NPYFile in
                let file = try NPYFile.read(path)
                guard file.elementType == .float32, file.columns == loaded.config.noiseDim, file.rows >= 1 else {
                    throw GANError("--noise \(path): the checkpoint's generator takes float32 N×\(loaded.config.noiseDim) noise, got \(file.elementType.rawValue) \(file.rows)×\(file.columns)")
                }
                return file
            }
            if loaded.config.mixture != nil ? format == "png" : format == "svg" {
                throw GANError("--out \(out): .\(format) is for \(format == "png" ? "images; a 2-D checkpoint writes .svg" : "2-D data; an image checkpoint writes .png")")
            }
            try withBackend(target.backend, device: target.device) { backend in
                let images = try draw(on: backend, from: loaded, noise: given?.values)
                try write(images, count: given?.rows ?? count, loaded: loaded, format: format)
            }
        }
    }

    private func draw<B: ComputeBackend>(on backend: B, from loaded: Checkpoint.Loaded, noise: [Float]?) throws -> [Float] {
        let generator = try Checkpoint.generator(from: loaded, on: backend, average: !noEma)
        let sampler = try ImageSampler(generator: generator, chunk: min(noise.map { $0.count / generator.inputs } ?? count, 256))
        if let noise { return try sampler.sample(noise: noise) }
        return try sampler.sample(count: count, key: RandomStream.sampling.key(seed: seed))
    }

    private func write(_ images: [Float], count: Int, loaded: Checkpoint.Loaded, format: String) throws {
        let pixels = loaded.imageRows * loaded.imageColumns
        switch format {
        case "svg":
            let mixture = loaded.config.mixture!
            try writeAtomically(Array(ScatterPlot.svg(points: images, mixture: mixture, title: "\(mixture.name), \(count) samples").utf8), to: out)
        case "png":
            try ImageGrid.writePNG(images, count: count, rows: loaded.imageRows, columns: loaded.imageColumns, across: 8, to: out)
        case "npy":
            try writeAtomically(SampleFiles.npy(images, rows: count, columns: pixels), to: out)
        default:
            try writeAtomically(SampleFiles.csv(images, rows: count, columns: pixels), to: out)
        }
        say("wrote \(count) samples to \(out)")
    }
}
