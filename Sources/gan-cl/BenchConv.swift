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
            random. Beside a convolution's forward: the same forward as one implicit GEMM \
            (`conv_rows`, the patches read straight from the images, no column matrix) and \
            CLBlast's Convgemm when libclblast is installed (on NCHW images, its layout).
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
                ("layer", 34), ("batch", 5), ("GEMM MxNxK", 18), ("forward", 8), ("implicit", 8), ("Convgemm", 8),
                ("input grad", 10), ("weight grad", 11),
            ])
            let clblast = CLBlastGEMM()
            if clblast?.hasConvgemm != true { note("CLBlast's Convgemm not found (apt-get install libclblast-dev); its column is empty") }
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
                        var forwardOnly: [String] = ["–", "–"]
                        switch layer {
                        case let conv as Conv2D<OpenCLBackend>:
                            let g = ConvolutionGeometry(
                                batch: batch, height: conv.input.height, width: conv.input.width, channels: conv.input.channels,
                                kernel: conv.kernel, stride: conv.stride, padding: conv.padding)
                            flops = 2 * Double(g.positions * g.patchSize * conv.output.channels)
                            let rates = try forwardRates(g, outputChannels: conv.output.channels, backend: backend, clblast: clblast)
                            forwardOnly = rates.map { $0.map { String(format: "%.1f", flops / $0 / 1e9) } ?? "–" }
                            shape = "\(g.positions)x\(conv.output.channels)x\(g.patchSize)"
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
                        let text = rates.map { String(format: "%.1f", $0) }
                        table.printRow([label, "\(batch)", shape, text[0]] + forwardOnly + text[1...])
                    }
                }
            }
        }
    }

    /// Median seconds of a convolution's forward as one implicit GEMM (`conv_rows`, with a
    /// bias) and as CLBlast's Convgemm (nil without it), on random images and weights.
    private func forwardRates(
        _ g: ConvolutionGeometry, outputChannels n: Int, backend: OpenCLBackend, clblast: CLBlastGEMM?
    ) throws -> [Double?] {
        var random = SplitMix64(seed: 11)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in random.unitFloat() * 2 - 1 } }
        let x = try backend.makeBuffer(values(g.imageElements))
        let weights = try backend.makeBuffer(values(g.patchSize * n))
        let bias = try backend.makeBuffer(values(n))
        let y = try backend.makeBuffer(count: g.positions * n)
        let implicit = try median(on: backend) {
            try backend.convolutionImplicit(
                x, geometry: g, weights: weights, outputChannels: n, into: y,
                epilogue: .biasActivation(bias: bias, activation: .identity))
        }
        guard let clblast, clblast.hasConvgemm else { return [implicit, nil] }
        let convgemm = try median(on: backend) {
            try clblast.convgemm(on: backend, geometry: g, outputChannels: n, x: x, kernels: weights, y: y)
        }
        return [implicit, convgemm]
    }

    /// The median of timed runs (two warm-up runs, then at least 5 and --seconds).
    private func median(on backend: OpenCLBackend, _ pass: () throws -> Void) throws -> Double {
        for _ in 0..<2 { _ = try backend.timed(pass) }
        var samples: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        while samples.count < 5 || Double(DispatchTime.now().uptimeNanoseconds - start) < seconds * 1e9 {
            samples.append(try backend.timed(pass))
        }
        samples.sort()
        return samples[samples.count / 2]
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
        return try passes.map { try median(on: backend, $0) }
    }
}
