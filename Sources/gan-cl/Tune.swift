import ArgumentParser
import BackendConformance
import CPUBackend
import ComputeBackend
import Foundation
import GANCore
import OpenCLBackend

/// `gan-cl tune`: searches the GEMM tunables on one device and stores the winner.
struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search the GEMM kernel's tunables on a device and keep the fastest for later runs.",
        discussion: """
            Each candidate (CPU-kernel blocks on CPU devices, tile shapes on others) is built, \
            checked against the CPU reference on the conformance catalogue's small GEMM shapes \
            (every transpose pair and every fused epilogue), and timed by profiling events on \
            every GEMM of the training step of the MLP GAN and of the dcgan preset (its dense \
            layers and its convolutions' GEMMs; --models) at the given batch sizes, each with \
            the epilogue training gives it (bias + activation, the layer's Adam step, the \
            activation's gradient, or none). The score is \
            the summed time of those GEMMs, the median of several rounds taken in turn. The \
            winner is stored in the tuning cache (GANCL_TUNING_CACHE, else \
            ~/.cache/gan-cl/tunables.json) under the device's name and driver version, and \
            every later run on that device uses it.
            """)

    @OptionGroup var target: DeviceOptions
    @Option(help: "Batch sizes whose layer shapes are timed (comma-separated).") var batches: String = "64,256"
    @Option(help: "Presets whose training GEMMs are timed: mlp, dcgan, or both (comma-separated).") var models: String = "mlp,dcgan"
    @Option(help: "Rounds over all candidates; each candidate's score is its median round.") var rounds: Int = 3
    @Option(help: "At most this many candidates, in the listed order (for quick runs).") var candidates: Int?
    @Option(help: "Write the candidates' scores as JSON to this file.") var json: String?

    struct Candidate: Codable {
        let tunables: String
        let passed: Bool
        let milliseconds: Double?
    }

    /// The GEMMs of the presets' training steps: the mlp's layers and the dcgan's dense
    /// and convolution layers (their im2col and col2im are not GEMMs and not tuned here).
    static func shapes(models: String, batches: [Int]) throws -> [GEMMCase] {
        let names = models.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty, names.allSatisfy({ $0 == "mlp" || $0 == "dcgan" }) else {
            throw GANError("--models takes mlp, dcgan or both (comma-separated), got '\(models)'")
        }
        var shapes: [GEMMCase] = []
        if names.contains("mlp") { shapes += GEMMCase.standard(batches: batches).filter { $0.name != "reference" } }
        if names.contains("dcgan") { shapes += try GEMMCase.dcgan(batches: batches) }
        return shapes
    }

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        if let candidates, candidates < 1 { throw ValidationError("--candidates must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            let sizes = try parseBatchSizes(batches)
            let chosenDevice = try OpenCLDevice.chosen(by: target.device)
            // The device's kernel family, or the one GANCL_GEMM_CPU_KERNELS names.
            var base = OpenCLTunables.builtIn(for: chosenDevice)
            base.cpuGEMM = try OpenCLTunables.cpuKernelsOverride() ?? base.cpuGEMM
            var list = Self.candidates(for: chosenDevice, base: base)
            if let candidates { list = Array(list.prefix(candidates)) }
            print("Tuning GEMM on \(chosenDevice.name) (\(chosenDevice.platformName), driver \(chosenDevice.driverVersion)): \(list.count) candidates")

            // Check each candidate against the reference; keep the ones that pass.
            let reference = CPUBackend(referenceGEMM: true)
            let trials = ["gemm", "gemm-epilogue"].flatMap { ConformanceCatalogue.trials(of: $0, size: .quick) }
            let expected = try trials.map { try $0.run(on: reference) }
            var contenders: [(tunables: OpenCLTunables, backend: OpenCLBackend)] = []
            var report: [String: Candidate] = [:]
            for tunables in list {
                let backend = try OpenCLBackend(device: chosenDevice, tunables: tunables, profiling: true)
                var passed = true
                for (trial, reference) in zip(trials, expected) {
                    let result = Conformance.compare(trial, outputs: try trial.run(on: backend), reference: reference)
                    if !result.passed {
                        print("rejected: \(Self.label(tunables)): \(trial.label) \(trial.shape) is off by \(result.maxError)")
                        passed = false
                        break
                    }
                }
                if passed { contenders.append((tunables, backend)) }
                report[Self.label(tunables)] = Candidate(tunables: Self.label(tunables), passed: passed, milliseconds: nil)
            }
            guard !contenders.isEmpty else {
                throw GANError("no candidate passed the check against the CPU reference; the tuning cache is unchanged")
            }

            // Time them in turn, round after round, so that the machine's drift is shared.
            let shapes = try Self.shapes(models: models, batches: sizes)
            var inputs: [(GEMMCase, [[Float]])] = []
            var random = SplitMix64(seed: 7)
            for shape in shapes {
                inputs.append((shape, [shape.m * shape.k, shape.k * shape.n].map { count in
                    (0..<count).map { _ in random.unitFloat() * 2 - 1 }
                }))
            }
            var times = Array(repeating: [Double](), count: contenders.count)
            for _ in 0..<rounds {
                for (index, contender) in contenders.enumerated() {
                    times[index].append(try Self.summedTime(inputs, on: contender.backend))
                }
            }
            let table = TablePrinter(columns: [("tunables", 100), ("GEMM ms a pass", 14)])
            table.printHeader()
            var scores: [Double] = []
            for (index, contender) in contenders.enumerated() {
                let sorted = times[index].sorted()
                let median = sorted[sorted.count / 2] * 1e3
                scores.append(median)
                let label = Self.label(contender.tunables)
                report[label] = Candidate(tunables: label, passed: true, milliseconds: median)
                table.printRow([label, String(format: "%.2f", median)])
            }
            let best = scores.indices.min { scores[$0] < scores[$1] }!
            let winner = contenders[best].tunables
            let entry = TunedEntry(
                device: chosenDevice, gemm: winner.gemm, cpuKernels: winner.cpuGEMM,
                date: ISO8601DateFormatter().string(from: Date()), milliseconds: scores[best])
            try TuningCache.store(entry)
            print("chosen: \(Self.label(winner)), \(String(format: "%.2f", scores[best])) ms over \(shapes.count) GEMM shapes; stored in \(TuningCache.path)")
            if let json { try writeJSON(Array(report.values).sorted { $0.tunables < $1.tunables }, to: json) }
        }
    }

    /// The candidates for `device`: CPU-kernel blocks (rows × 16·vectors, at most 24
    /// float16 accumulators) where the built-in choice uses the CPU kernels, tile shapes
    /// that fit the device's work-group and local memory otherwise.
    static func candidates(for device: OpenCLDevice, base: OpenCLTunables) -> [OpenCLTunables] {
        if base.cpuGEMM {
            // Every block with the built-in groups and order, then the built-in block with
            // other work-group sizes and with B streamed (row blocks only for large B).
            let blocks = [(4, 4), (8, 2), (4, 1), (4, 2), (5, 4), (6, 2), (6, 3), (8, 1), (8, 3), (12, 1), (12, 2), (16, 1)]
            var list = blocks.map { rows, vectors in
                var t = base
                t.gemm.rowsPerItem = rows
                t.gemm.vectorsPerItem = vectors
                return t
            }
            for group in [0, 1, 2, 8] where group != base.gemm.itemsPerGroup {
                var t = base
                t.gemm.itemsPerGroup = group
                list.append(t)
            }
            var streamingB = base
            streamingB.gemm.shareBAboveBytes = 8 << 20
            if streamingB != base { list.append(streamingB) }
            for bytes in [0, 128 << 10, 256 << 10] where bytes != base.gemm.panelBytes {
                var t = base
                t.gemm.panelBytes = bytes
                list.append(t)
            }
            // The packed kernel's register tiles and blocks (MR, NV, KC, MC, NC) for the
            // device's vector width (24 zmm accumulators or fewer; 12 ymm with 8-float
            // vectors), and the direct kernels alone.
            let packed =
                device.nativeFloatVectorWidth >= 16
                ? [(12, 2, 256, 96, 512), (8, 2, 256, 64, 512), (8, 3, 256, 96, 384), (6, 4, 256, 96, 512),
                   (12, 2, 128, 96, 512), (12, 2, 384, 96, 256)]
                : [(6, 1, 256, 96, 512), (4, 1, 256, 96, 512), (6, 1, 128, 96, 512), (6, 1, 384, 96, 256)]
            if base.gemm.packedMinimumWork != Int.max {
                for (rows, vectors, depth, maxRows, maxColumns) in packed {
                    let blocks = PackedGEMMBlocks(rows: rows, vectors: vectors, depth: depth, maxRows: maxRows, maxColumns: maxColumns)
                    guard blocks != base.gemm.packed, blocks.localBytes <= device.localMemoryBytes else { continue }
                    var t = base
                    t.gemm.packed = blocks
                    list.append(t)
                }
                var direct = base
                direct.gemm.packedMinimumWork = Int.max
                list.append(direct)
            }
            return list
        }
        // Each tile shape with scalar loads, then with float4 loads where it allows them.
        let tiles = [(64, 64, 16, 4, 4), (32, 32, 16, 4, 4), (64, 64, 8, 4, 4), (64, 64, 32, 4, 4), (128, 64, 16, 8, 4),
                     (64, 128, 16, 4, 8), (128, 128, 16, 8, 8), (128, 128, 8, 8, 8), (32, 64, 16, 2, 4)]
        return tiles.flatMap { m, n, k, wm, wn in
            [1, 4].compactMap { width in
                var t = base
                t.gemm = base.gemm.withTiles(m: m, n: n, k: k, perItemM: wm, perItemN: wn, vectorWidth: width)
                return t.gemm.isValidVectorWidth && t.gemm.threads <= device.maxWorkGroupSize
                    && t.gemm.tiledLocalBytes <= device.localMemoryBytes ? t : nil
            }
        }
    }

    static func label(_ tunables: OpenCLTunables) -> String {
        let g = tunables.gemm
        let group = g.itemsPerGroup == 0 ? "runtime's groups" : "groups of \(g.itemsPerGroup)"
        let order = (g.shareBAboveBytes == 0 ? "" : ", B streamed up to \(g.shareBAboveBytes >> 20) MiB")
            + (g.panelBytes == 0 ? "" : ", panels \(g.panelBytes >> 10) KiB")
        let packed = g.packedMinimumWork == Int.max ? ", no packed kernel" : ", packed \(g.packed)"
        return tunables.cpuGEMM
            ? "CPU kernels, \(g.rowsPerItem)x\(16 * g.vectorsPerItem) blocks, \(group)\(order)\(packed)"
            : "tiled, \(g.tileM)x\(g.tileN)x\(g.tileK) tiles, \(g.workPerThreadM)x\(g.workPerThreadN) a work-item"
                + (g.vectorWidth == 1 ? "" : ", float\(g.vectorWidth) loads")
    }

    /// Seconds of device time for one GEMM of every shape, each the median of 3 runs
    /// after one warm-up run, timed by profiling events. Each layer GEMM runs with the
    /// epilogue the training step gives it (a forward with bias and LeakyReLU, a weight
    /// gradient with the Adam step of its layer, an input gradient with the activation's
    /// gradient), since an epilogue's memory traffic can favour another block than the
    /// bare product does.
    static func summedTime(_ inputs: [(GEMMCase, [[Float]])], on backend: OpenCLBackend) throws -> Double {
        var total = 0.0
        let activation = Activation.leakyReLU(slope: 0.2)
        for (shape, values) in inputs {
            let a = try backend.makeBuffer(values[0]), b = try backend.makeBuffer(values[1])
            let c = try backend.makeBuffer(count: shape.m * shape.n)
            // The epilogue's buffers, as training has them: varied values, never zeros
            // (Adam's v positive).
            func random(_ count: Int, scale: Float = 1) throws -> OpenCLBuffer {
                try backend.makeBuffer((0..<count).map { Float(($0 * 7919) % 1009) / 1009 * scale + 1e-3 })
            }
            let epilogue: GEMMEpilogue<OpenCLBuffer>
            switch shape.name.split(separator: " ").last {
            case "fwd": epilogue = .biasActivation(bias: try random(shape.n), activation: activation)
            case "dx": epilogue = .activationGradient(output: try random(shape.m * shape.n), activation: activation)
            case "dW":
                epilogue = .adamStep(AdamEpilogue(
                    weight: try random(shape.m * shape.n), weightM: try random(shape.m * shape.n, scale: 1e-3),
                    weightV: try random(shape.m * shape.n, scale: 1e-6), bias: try random(shape.n),
                    biasGradient: try random(shape.n), biasM: try random(shape.n, scale: 1e-3),
                    biasV: try random(shape.n, scale: 1e-6), hyper: AdamHyperparameters(), step: 10))
            default: epilogue = .none
            }
            func once() throws {
                try backend.gemm(
                    transposeA: shape.transposeA, transposeB: shape.transposeB, m: shape.m, n: shape.n, k: shape.k,
                    alpha: 1, a: a, b: b, beta: 0, c: c, epilogue: epilogue)
            }
            _ = try backend.timed(once)
            let runs = try (0..<3).map { _ in try backend.timed(once) }.sorted()
            total += runs[1]
        }
        return total
    }
}
