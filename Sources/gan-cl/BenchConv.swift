import ArgumentParser
import ComputeBackend
import Foundation
import GANCore
import OpenCLBackend

/// `gan-cl bench conv`: GFLOP/s of each convolution of the dcgan preset, per pass.
struct BenchConv: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv",
        abstract: "GFLOP/s of the dcgan preset's convolutions: forward, input gradient and weight gradient, per batch size.",
        discussion: """
            Each pass is timed as the layer runs it in training, im2col and col2im included: a \
            convolution's forward is im2col and a GEMM (with the bias and activation), its \
            input gradient a GEMM and col2im, its weight gradient a GEMM over the forward's \
            column matrix (with the bias gradient); a transposed convolution's forward is a GEMM \
            and col2im, its gradients an im2col and two GEMMs. GFLOP count 2·positions·patch·\
            channels per pass. Timed by profiling events, median of runs after warm-up; inputs \
            random. (CLBlast's Convgemm takes NCHW images, not gan-cl's NHWC: it is not beside \
            these.)
            """)

    @OptionGroup var target: DeviceOptions
    @Option(help: "Batch sizes (comma-separated).") var batches: String = "64,256"
    @Option(help: "Seconds of timed runs per pass (at least 5 runs).") var seconds: Double = 1

    func run() throws {
        try reportingErrors {
            let backend = try OpenCLBackend(device: try OpenCLDevice.chosen(by: target.device), profiling: true)
            try backend.buildAllPrograms()
            print("Convolutions of the dcgan preset on \(backend.device.name) (\(backend.device.platformName), driver \(backend.device.driverVersion))")
            let table = TablePrinter(columns: [
                ("layer", 34), ("batch", 5), ("GEMM MxNxK", 18), ("forward", 8), ("input grad", 10), ("weight grad", 11),
            ])
            table.printHeader()
            var config = RunConfig()
            config.model = .dcgan
            try config.applyPresets(except: ["model"])
            let image = ImageShape(height: 28, width: 28, channels: 1)
            let networks = [
                ("G", try config.makeGenerator(backend: backend, data: image)),
                ("D", try config.makeDiscriminator(backend: backend, data: image)),
            ]
            for batch in try parseBatchSizes(batches) {
                for (name, network) in networks {
                    for (index, layer) in network.layers.enumerated() {
                        let flops: Double, shape: String, label: String
                        switch layer {
                        case let conv as Conv2D<OpenCLBackend>:
                            let positions = batch * conv.output.height * conv.output.width
                            let patch = conv.kernel * conv.kernel * conv.input.channels
                            flops = 2 * Double(positions * patch * conv.output.channels)
                            shape = "\(positions)x\(conv.output.channels)x\(patch)"
                            label = "\(name) \(index) conv \(conv.input)→\(conv.output)"
                        case let up as ConvTranspose2D<OpenCLBackend>:
                            let positions = batch * up.input.height * up.input.width
                            let patch = up.kernel * up.kernel * up.output.channels
                            flops = 2 * Double(positions * patch * up.input.channels)
                            shape = "\(positions)x\(patch)x\(up.input.channels)"
                            label = "\(name) \(index) conv-transpose \(up.input)→\(up.output)"
                        default:
                            continue
                        }
                        let rates = try passRates(of: layer, batch: batch, backend: backend).map { flops / $0 / 1e9 }
                        table.printRow([label, "\(batch)", shape] + rates.map { String(format: "%.1f", $0) })
                    }
                }
            }
        }
    }

    /// Median seconds of the layer's forward, input-gradient and weight-gradient passes.
    private func passRates(of layer: any Layer<OpenCLBackend>, batch: Int, backend: OpenCLBackend) throws -> [Double] {
        var random = SplitMix64(seed: 9)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in random.unitFloat() * 2 - 1 } }
        try layer.reserve(rows: batch)
        var counter: UInt64 = 0
        try layer.initialize(seed: 3, counter: &counter)
        let x = try backend.makeBuffer(values(batch * layer.inputs))
        let y = try backend.makeBuffer(count: batch * layer.outputs)
        let dz = try backend.makeBuffer(values(batch * layer.outputs))
        let dx = try backend.makeBuffer(count: batch * layer.inputs)
        try layer.forward(x, rows: batch, into: y)
        let passes: [() throws -> Void] = [
            { try layer.forward(x, rows: batch, into: y) },
            { try layer.backward(x, rows: batch, outputGradient: dz, inputGradient: (dx, .identity), parameterGradients: .none) },
            { try layer.backward(x, rows: batch, outputGradient: dz, inputGradient: nil, parameterGradients: .store) },
        ]
        return try passes.map { pass in
            for _ in 0..<2 { _ = try backend.timed(pass) }
            var samples: [Double] = []
            let start = DispatchTime.now().uptimeNanoseconds
            while samples.count < 5 || Double(DispatchTime.now().uptimeNanoseconds - start) < seconds * 1e9 {
                samples.append(try backend.timed(pass))
            }
            samples.sort()
            return samples[samples.count / 2]
        }
    }
}
