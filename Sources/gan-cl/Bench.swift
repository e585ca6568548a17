import ArgumentParser
import CPUBackend
import ComputeBackend
import Foundation
import GANCore
import OpenCLBackend

/// `gan-cl bench`: timings that benchmarks/README.md records.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure backend speed.", subcommands: [BenchGEMM.self, BenchTrain.self, BenchConv.self])
}

/// The batch sizes of `--batches 64,256`.
func parseBatchSizes(_ text: String) throws -> [Int] {
    let sizes = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) >= 1 }) else {
        throw GANError("--batches takes positive integers such as 64,256, got '\(text)'")
    }
    return sizes.compactMap { $0 }
}

/// One GEMM shape of the benchmark.
struct GEMMCase: Codable {
    let name: String
    let transposeA: Bool
    let transposeB: Bool
    let m: Int
    let n: Int
    let k: Int

    var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
    var label: String { "\(transposeA ? "T" : "N")\(transposeB ? "T" : "N") \(m)x\(n)x\(k)" }

    /// The fast-kernels issue's reference shapes.
    static let referenceShapes = [
        GEMMCase(name: "reference", transposeA: false, transposeB: false, m: 64, n: 1024, k: 784),
        GEMMCase(name: "reference", transposeA: true, transposeB: false, m: 784, n: 1024, k: 64),
        GEMMCase(name: "reference", transposeA: false, transposeB: true, m: 64, n: 784, k: 1024),
        GEMMCase(name: "reference", transposeA: false, transposeB: false, m: 256, n: 1024, k: 784),
        GEMMCase(name: "reference", transposeA: false, transposeB: false, m: 1024, n: 1024, k: 1024),
        GEMMCase(name: "reference", transposeA: false, transposeB: false, m: 2048, n: 2048, k: 2048),
    ]

    /// NN shapes from `--shapes`: MxNxK, comma-separated.
    static func parse(shapes text: String) throws -> [GEMMCase] {
        let cases = text.split(separator: ",", omittingEmptySubsequences: false).map { item -> GEMMCase? in
            let parts = item.trimmingCharacters(in: .whitespaces).split(separator: "x", omittingEmptySubsequences: false)
            let sizes = parts.compactMap { Int($0) }
            guard parts.count == 3, sizes.count == 3, sizes.allSatisfy({ $0 >= 1 }) else { return nil }
            return GEMMCase(name: "requested", transposeA: false, transposeB: false, m: sizes[0], n: sizes[1], k: sizes[2])
        }
        guard !cases.isEmpty, cases.allSatisfy({ $0 != nil }) else {
            throw GANError("--shapes takes MxNxK sizes such as 4096x4096x4096 (comma-separated), got '\(text)'")
        }
        return cases.compactMap { $0 }
    }

    /// `reference` (by default the reference shapes), then every GEMM of the MLP GAN's
    /// training step at `batches`: the forward (x·W), and the backward dW = xᵀ·dz and
    /// dx = dz·Wᵀ of each layer (NT on W, as training computes it).
    static func standard(batches: [Int], reference: [GEMMCase] = referenceShapes) -> [GEMMCase] {
        var cases = reference
        // The classic MLP GAN on 28×28 images (the peers' network; the mlp preset's G
        // widths, without its batch norms, which add no GEMM).
        var config = RunConfig()
        config.dHidden = ModelPreset.classicDiscriminatorHidden
        let generator = config.generatorShape(pixels: 784).widths
        let discriminator = config.discriminatorShape(pixels: 784).widths
        for batch in batches {
            for (network, widths) in [("G", generator), ("D", discriminator)] {
                for (input, output) in zip(widths, widths.dropFirst()) {
                    let layer = "\(network) \(input)→\(output) b\(batch)"
                    cases.append(GEMMCase(name: "\(layer) fwd", transposeA: false, transposeB: false, m: batch, n: output, k: input))
                    cases.append(GEMMCase(name: "\(layer) dW", transposeA: true, transposeB: false, m: input, n: output, k: batch))
                    cases.append(GEMMCase(name: "\(layer) dx", transposeA: false, transposeB: true, m: batch, n: input, k: output))
                }
            }
        }
        return cases
    }

    /// Every GEMM of the dcgan preset's training step at `batches`, as its layers call
    /// them: a dense layer's forward, dW and dx; a convolution's forward (columns·W), input
    /// gradient (dz·Wᵀ, before col2im: no epilogue) and weight gradient (columnsᵀ·dz, Adam
    /// fused); a transposed convolution's forward (x·W, before col2im: no epilogue), input
    /// gradient (columns·Wᵀ) and weight gradient (xᵀ·columns, stored: no epilogue). The
    /// last word of a name picks the epilogue `tune` times it with.
    static func dcgan(batches: [Int]) throws -> [GEMMCase] {
        var config = RunConfig()
        config.model = .dcgan
        try config.applyPresets(except: ["model"])
        let backend = CPUBackend()
        let image = ImageShape(height: 28, width: 28, channels: 1)
        let networks = [
            ("G", try config.makeGenerator(backend: backend, data: image)),
            ("D", try config.makeDiscriminator(backend: backend, data: image)),
        ]
        var cases: [GEMMCase] = []
        for batch in batches {
            for (name, network) in networks {
                for (index, layer) in network.layers.enumerated() {
                    let label = "dcgan \(name) \(index) b\(batch)"
                    func add(_ pass: String, _ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int) {
                        cases.append(GEMMCase(name: "\(label) \(pass)", transposeA: ta, transposeB: tb, m: m, n: n, k: k))
                    }
                    switch layer {
                    case let dense as Dense<CPUBackend>:
                        add("fwd", false, false, batch, dense.outputs, dense.inputs)
                        add("dW", true, false, dense.inputs, dense.outputs, batch)
                        add("dx", false, true, batch, dense.inputs, dense.outputs)
                    case let conv as Conv2D<CPUBackend>:
                        let positions = batch * conv.output.height * conv.output.width
                        let patch = conv.kernel * conv.kernel * conv.input.channels
                        add("fwd", false, false, positions, conv.output.channels, patch)
                        add("dx-columns", false, true, positions, patch, conv.output.channels)
                        add("dW", true, false, patch, conv.output.channels, positions)
                    case let up as ConvTranspose2D<CPUBackend>:
                        let positions = batch * up.input.height * up.input.width
                        let patch = up.kernel * up.kernel * up.output.channels
                        add("fwd-columns", false, false, positions, patch, up.input.channels)
                        add("dx", false, true, positions, up.input.channels, patch)
                        add("dW-stored", true, false, up.input.channels, patch, positions)
                    default:
                        continue
                    }
                }
            }
        }
        return cases
    }
}

/// `gan-cl bench gemm`
struct BenchGEMM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "GFLOP/s of GEMM: gan-cl's OpenCL kernel, CLBlast on the same device, OpenBLAS, and the CPU backend.",
        discussion: """
            Each figure is the median of timed runs after warm-up runs. On OpenCL a run is \
            timed by profiling events: from the start of a marker queued before the GEMM's \
            launches to the end of one queued after them, so launch latency and every \
            launch of a call (gan-cl's transposed copy, CLBlast's own helper kernels) count. \
            The CPU backend is timed on the host's monotonic clock. Inputs are random, never zeros. CLBlast \
            (libclblast.so.1, from libclblast-dev) runs on the same queue and buffers in the \
            same process; without it its column is empty. On a CPU device, OpenBLAS's sgemm \
            (libopenblas.so.0, from libopenblas-dev) runs on as many threads as the device has \
            compute units, timed on the host's clock: the limit beside gan-cl's figure.
            """)

    @OptionGroup var target: DeviceOptions

    @Option(help: "Batch sizes for the MLP GAN's layer shapes (comma-separated; empty for none).")
    var batches: String = "64,256"

    @Option(help: ArgumentHelp(
        "NN shapes MxNxK (comma-separated) to time instead of the six reference shapes, such as 4096x4096x4096.",
        valueName: "shapes"))
    var shapes: String?

    @Option(help: "Time the CPU backend only on shapes up to this many GFLOP (0: never).")
    var cpuLimit: Double = 0.5

    @Option(help: "Seconds of timed runs per shape and backend (at least 5 runs).")
    var seconds: Double = 0.5

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    struct Row: Codable {
        let shape: GEMMCase
        let openCLGFLOPS: Double
        let clblastGFLOPS: Double?
        let openBLASGFLOPS: Double?
        let cpuGFLOPS: Double?
    }

    struct Report: Codable {
        let device: String
        let driver: String
        let tunables: String
        let openBLASCore: String?
        let date: String
        let rows: [Row]
    }

    func run() throws {
        try reportingErrors {
            // An empty list: only the reference (or --shapes) shapes.
            let batchSizes = batches.isEmpty ? [] : try parseBatchSizes(batches)
            let reference = try shapes.map { try GEMMCase.parse(shapes: $0) } ?? GEMMCase.referenceShapes
            let backend = try OpenCLBackend(device: try OpenCLDevice.chosen(by: target.device), profiling: true)
            try backend.buildAllPrograms()
            let cpu = CPUBackend()
            let clblast = CLBlastGEMM()
            print("GEMM on \(backend.device.name) (\(backend.device.platformName), driver \(backend.device.driverVersion)); tunables \(backend.tunables.gemm)")
            if clblast == nil { note("CLBlast not found (apt-get install libclblast-dev); its column is empty") }
            let openBLAS = backend.device.isGPU ? nil : OpenBLASGEMM(threads: backend.device.computeUnits)
            if !backend.device.isGPU {
                if let openBLAS {
                    print("OpenBLAS: \(openBLAS.core) kernels, \(backend.device.computeUnits) threads")
                } else {
                    note("OpenBLAS not found (apt-get install libopenblas-dev); its column is empty")
                }
            }
            let table = TablePrinter(columns: [
                ("shape", 22), ("case", 24), ("gan-cl GFLOP/s", 14), ("CLBlast GFLOP/s", 15), ("gan-cl/CLBlast", 14),
                ("OpenBLAS GFLOP/s", 16), ("gan-cl/OpenBLAS", 15), ("CPU GFLOP/s", 11),
            ])
            table.printHeader()
            var rows: [Row] = []
            for shape in GEMMCase.standard(batches: batchSizes, reference: reference) {
                let openCL = try gflops(shape, on: backend, timer: backend.timed)
                let theirs = try clblast.map { library in
                    try gflops(shape, on: backend, timer: backend.timed) { a, b, c in
                        try library.gemm(
                            on: backend, transposeA: shape.transposeA, transposeB: shape.transposeB, m: shape.m, n: shape.n,
                            k: shape.k, alpha: 1, a: a, b: b, beta: 0, c: c)
                    }
                }
                let limit = openBLAS.map { $0.gflops(shape, seconds: seconds) }
                // OpenBLAS's threads spin for a while after a call (its THREAD_TIMEOUT):
                // they would take the cores from the next shape's runs.
                if limit != nil { usleep(300_000) }
                let reference = shape.flops <= cpuLimit * 1e9 ? try gflops(shape, on: cpu) : nil
                rows.append(Row(shape: shape, openCLGFLOPS: openCL, clblastGFLOPS: theirs, openBLASGFLOPS: limit, cpuGFLOPS: reference))
                table.printRow([shape.label, shape.name, String(format: "%.1f", openCL),
                                theirs.map { String(format: "%.1f", $0) } ?? "-",
                                theirs.map { String(format: "%.2f×", openCL / $0) } ?? "-",
                                limit.map { String(format: "%.1f", $0) } ?? "-",
                                limit.map { String(format: "%.2f×", openCL / $0) } ?? "-",
                                reference.map { String(format: "%.1f", $0) } ?? "-"])
            }
            if let json {
                try writeJSON(
                    Report(device: backend.device.name, driver: backend.device.driverVersion,
                           tunables: backend.tunables.gemm.description, openBLASCore: openBLAS?.core, date: ISO8601DateFormatter().string(from: Date()),
                           rows: rows),
                    to: json)
            }
        }
    }

    /// Median GFLOP/s of `shape` on `backend` after two warm-up runs, of the backend's
    /// GEMM or of `call` on the backend's buffers, each run timed by `timer` (by default
    /// the host's clock around the run and a wait for the backend).
    private func gflops<B: ComputeBackend>(
        _ shape: GEMMCase, on backend: B, timer: ((() throws -> Void) throws -> Double)? = nil,
        call: ((B.Buffer, B.Buffer, B.Buffer) throws -> Void)? = nil
    ) throws -> Double {
        var random = SplitMix64(seed: 42)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in random.unitFloat() * 2 - 1 } }
        let a = try backend.makeBuffer(values(shape.m * shape.k))
        let b = try backend.makeBuffer(values(shape.k * shape.n))
        let c = try backend.makeBuffer(values(shape.m * shape.n))
        func once() throws {
            if let call {
                try call(a, b, c)
            } else {
                try backend.gemm(
                    transposeA: shape.transposeA, transposeB: shape.transposeB, m: shape.m, n: shape.n, k: shape.k,
                    alpha: 1, a: a, b: b, beta: 0, c: c)
            }
        }
        func hostTimed(_ work: () throws -> Void) throws -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try work()
            try backend.finish()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        }
        let measure = timer ?? hostTimed
        return try medianGFLOPS(shape, seconds: seconds) { try measure(once) }
    }
}

extension GEMMCase {
    /// The case and shape a CPU GEMM kernel's profiling label ends with ("gemm_rows + Adam
    /// TN 784x1024x64"); nil for a label without them.
    init?(profileLabel: String) {
        let words = profileLabel.split(separator: " ")
        guard words.count >= 3, let pair = words.dropLast().last, pair.count == 2, pair.allSatisfy({ $0 == "N" || $0 == "T" })
        else { return nil }
        let sizes = words.last!.split(separator: "x").compactMap { Int($0) }
        guard sizes.count == 3 else { return nil }
        self.init(name: String(profileLabel), transposeA: pair.first == "T", transposeB: pair.last == "T", m: sizes[0], n: sizes[1], k: sizes[2])
    }
}

/// GFLOP/s of `shape` from the median of `run`'s seconds after two warm-up runs: at least
/// 5 runs, and more up to `seconds` of them.
func medianGFLOPS(_ shape: GEMMCase, seconds: Double, _ run: () throws -> Double) rethrows -> Double {
    for _ in 0..<2 { _ = try run() }
    var samples: [Double] = []
    let start = DispatchTime.now().uptimeNanoseconds
    while samples.count < 5 || (Double(DispatchTime.now().uptimeNanoseconds - start) < seconds * 1e9 && samples.count < 1000) {
        samples.append(try run())
    }
    samples.sort()
    return shape.flops / samples[samples.count / 2] / 1e9
}

/// `gan-cl bench train`
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Seconds per epoch and images per second of a model preset's training step (the MLP GAN, or --model dcgan), per backend and batch size (also: bench step).",
        discussion: """
            A timed block is several training steps (no logging) followed by a wait for the \
            device; each figure is the median block after warm-up steps. Images per second \
            count the real images the discriminator sees. Launches are the backend operations \
            queued per step.
            """,
        aliases: ["step"])

    @Option(help: "Directory of MNIST-format IDX files.") var data: String = ImageDataset.defaultDirectory
    @Option(help: "Batch sizes (comma-separated).") var batches: String = "64,256"
    @Option(help: "The GAN loss, with its recipe (d-steps, optimizer) as `train --loss` gives it.") var loss: LossKind = .bce
    @Option(help: "The model preset: mlp or dcgan (toy is for 2-D data).") var model: ModelPreset = .mlp
    @Option(help: "G's update: reuse D's fake batch or draw fresh noise (default: as train has it).") var generatorNoise: GeneratorNoise?
    @Option(help: "Backends to time: opencl, cpu or both.") var backend: String = "both"
    @Flag(help: "The conditional GAN of the preset (train --conditional) on the data's classes.") var conditional = false
    @OptionGroup var target: DeviceOptions
    @Option(help: "Seconds of timed blocks per configuration (at least 3 blocks).") var seconds: Double = 10
    @Option(help: "Write the results as JSON to this file.") var json: String?
    @Flag(help: "Also time every OpenCL kernel by profiling events and print where a step's device time goes.")
    var profile = false

    struct Row: Codable {
        let backend: String
        let batchSize: Int
        let imagesPerSecond: Double
        let secondsPerEpoch: Double
        let launchesPerStep: Double
    }

    func run() throws {
        try reportingErrors {
            let sizes = try parseBatchSizes(batches)
            guard ["opencl", "cpu", "both"].contains(backend) else { throw GANError("--backend must be opencl, cpu or both") }
            // A CSV table trains the tabular preset (conditional when it has categories).
            let dataset: any Dataset = TableDataset.isTable(data) ? try TableDataset(path: data, seed: 1) : try ImageDataset.load(directory: data)
            var rows: [Row] = []
            let table = TablePrinter(columns: [("backend", 34), ("batch", 5), ("images/s", 10), ("s/epoch", 9), ("launches/step", 13)])
            table.printHeader()
            func measure<B: ComputeBackend>(_ backend: B) throws {
                for size in sizes {
                    let row = try time(backend, batch: size, data: dataset)
                    rows.append(row)
                    table.printRow([backend.name, "\(size)", String(format: "%.0f", row.imagesPerSecond),
                                    String(format: "%.1f", row.secondsPerEpoch), String(format: "%.0f", row.launchesPerStep)])
                }
            }
            if backend != "cpu" {
                let openCL = try OpenCLBackend(device: try OpenCLDevice.chosen(by: target.device))
                try measure(openCL)
                if profile {
                    for size in sizes { try printProfile(openCL.device, batch: size, data: dataset) }
                }
            }
            if backend != "opencl" { try measure(CPUBackend()) }
            if let json { try writeJSON(rows, to: json) }
        }
    }

    /// Runs steps on a profiling backend and prints each kernel's share of the device time.
    private func printProfile(_ device: OpenCLDevice, batch: Int, data: any Dataset) throws {
        let backend = try OpenCLBackend(device: device, profiling: true)
        let config = try self.config(batch: batch, data: data)
        let trainer = try Trainer(backend: backend, config: config, data: data)
        for _ in 0..<3 { try trainer.step(metrics: false) }
        try backend.resetKernelProfile()
        let steps = 20
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<steps { try trainer.step(metrics: false) }
        try backend.finish()
        let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9 / Double(steps)
        let kernels = try backend.kernelProfile().sorted { $0.value.seconds > $1.value.seconds }
        let busy = kernels.reduce(0) { $0 + $1.value.seconds } / Double(steps)
        print("\nbatch \(batch): \(String(format: "%.2f", wall * 1e3)) ms a step on the host clock, "
              + "\(String(format: "%.2f", busy * 1e3)) ms inside kernels (profiling events)")
        // A CPU GEMM's rows (their labels name the case and shape): its GFLOP/s, and
        // OpenBLAS's on the same shape and threads, timed after the steps.
        let openBLAS = device.isGPU ? nil : OpenBLASGEMM(threads: device.computeUnits)
        let table = TablePrinter(columns: [("kernel", 36), ("launches/step", 13), ("ms/step", 8), ("share", 6),
                                           ("GFLOP/s", 8), ("OpenBLAS GFLOP/s", 16)])
        table.printHeader()
        for (name, time) in kernels {
            let shape = GEMMCase(profileLabel: name)
            let rate = shape.map { $0.flops * Double(time.launches) / time.seconds / 1e9 }
            let limit = shape.flatMap { shape in openBLAS.map { $0.gflops(shape, seconds: 0.2) } }
            table.printRow([name, String(format: "%.0f", Double(time.launches) / Double(steps)),
                            String(format: "%.3f", time.seconds / Double(steps) * 1e3),
                            String(format: "%.1f%%", 100 * time.seconds / Double(steps) / busy),
                            rate.map { String(format: "%.1f", $0) } ?? "-", limit.map { String(format: "%.1f", $0) } ?? "-"])
        }
    }

    /// The model preset's config at `batch`, with the loss's recipe, as `train` makes it.
    private func config(batch: Int, data: any Dataset) throws -> RunConfig {
        var config = RunConfig()
        config.batchSize = batch
        if let table = data as? TableDataset {
            config.data = table.path
            try config.applyPresets(except: ["batch-size"], data: data.shape, dataClasses: data.classes)
            return config
        }
        config.loss = loss
        config.model = model
        try config.applyPresets(except: ["batch-size", "loss", "model"])
        if model == .mlp {
            // The classic MLP GAN the peers' scripts build (benchmarks/peers), not the mlp
            // preset's batch-normed G, narrower D and EMA: the step tables stay comparable.
            config.gBatchNorm = false
            config.dHidden = ModelPreset.classicDiscriminatorHidden
            config.realLabel = 0.9
        }
        // The peers' steps keep no moving average of G: neither does the timed one.
        config.ema = 0
        if let generatorNoise { config.generatorNoise = generatorNoise }
        config.conditional = conditional
        return config
    }

    private func time<B: ComputeBackend>(_ backend: B, batch: Int, data: any Dataset) throws -> Row {
        let config = try self.config(batch: batch, data: data)
        let trainer = try Trainer(backend: backend, config: config, data: data)
        try trainer.step(metrics: false)
        try trainer.step(metrics: false)
        try backend.finish()
        // Size a block to about a tenth of the budget, from one timed step.
        var t0 = DispatchTime.now().uptimeNanoseconds
        try trainer.step(metrics: false)
        try backend.finish()
        let single = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        let stepsPerBlock = max(1, Int(seconds / 10 / max(single, 1e-6)))
        var blocks: [Double] = []
        let launchesBefore = backend.statistics.operations
        var steps = 0
        let start = DispatchTime.now().uptimeNanoseconds
        while blocks.count < 3 || Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 < seconds {
            t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<stepsPerBlock { try trainer.step(metrics: false) }
            try backend.finish()
            blocks.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9 / Double(stepsPerBlock))
            steps += stepsPerBlock
        }
        blocks.sort()
        let perStep = blocks[blocks.count / 2]
        return Row(
            backend: backend.name, batchSize: batch,
            imagesPerSecond: Double(batch * config.dSteps) / perStep,
            secondsPerEpoch: perStep * Double(trainer.order.batchesPerEpoch / config.dSteps),
            launchesPerStep: Double(backend.statistics.operations - launchesBefore) / Double(steps))
    }
}
