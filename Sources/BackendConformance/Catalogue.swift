import CPUBackend
import ComputeBackend

/// Which shapes a conformance run uses.
public enum ConformanceSize: String, Sendable, CaseIterable {
    /// Every shape: 1, primes, sizes past every tile, and the GAN's own (up to 1000³).
    case full
    /// A few small shapes that still cross tile edges: for slow simulators (oclgrind).
    case quick
}

/// The trials of every backend operation: random inputs (never zeros), many shapes.
public enum ConformanceCatalogue {
    /// The operations, in the order they are checked.
    public static let operations = [
        "gemm", "gemm-epilogue", "transpose", "bias-add", "sum-columns", "sum-rows", "mean", "scale", "pack", "append-channels", "multiply", "span-activation", "span-activation-backward", "add-scaled", "moving-average", "clamp",
        "activation-forward", "activation-backward", "objective", "softmax-cross-entropy", "adam", "sgd",
        "rmsprop", "normalize", "divide", "spectral-norm-gradient", "dropout", "interpolate-rows",
        "gradient-penalty", "im2col", "col2im", "conv-implicit", "batch-norm-statistics", "batch-norm-forward",
        "batch-norm-backward", "minibatch-std-value", "append-channel", "minibatch-std-backward", "layer-norm-forward", "layer-norm-backward", "philox-uniform", "philox-normal", "philox-gumbel", "copy", "fill",
    ]

    public static let pointwiseTolerance = 1e-5
    public static let gemmTolerance = 1e-4

    /// (m, n, k) for GEMM: 1, primes, edges of 64-wide tiles, the MLP GAN's layers, and a
    /// deep k (a convolution's weight gradient);
    /// among the quick ones, 36×68×44 has every stored row a multiple of 4 long (the tiled
    /// kernel's aligned float4 loads) and still ends inside a tile in every dimension.
    static func gemmShapes(_ size: ConformanceSize) -> [(Int, Int, Int)] {
        switch size {
        case .quick:
            return [(1, 1, 1), (7, 13, 5), (17, 19, 23), (65, 63, 33), (36, 68, 44)]
        case .full:
            return [
                (1, 1, 1), (7, 13, 5), (2, 3, 4), (1, 100, 1), (100, 1, 1), (1, 1, 100), (17, 19, 23),
                (31, 33, 15), (63, 65, 17), (64, 64, 64), (65, 63, 129), (127, 1, 255), (128, 128, 16),
                (129, 257, 65), (33, 257, 1), (200, 3, 300), (257, 129, 31), (64, 1024, 784),
                (784, 1024, 64), (64, 784, 1024), (1000, 1000, 1000),
                // k past the CPU kernels' copy of a transposed A (GEMMTunables.copyAMinimumK).
                (37, 29, 4099),
            ]
        }
    }

    /// A GEMM trial's C: random, or with beta = 0 poisoned, for the operation must not
    /// read it then.
    static func initialC(_ count: Int, beta: Float, _ random: inout TestRandom) -> [Float] {
        beta == 0 ? [Float](repeating: .nan, count: count) : random.floats(count, in: -1...1)
    }

    /// (rows, columns) for the other operations; elementwise ones use rows·columns.
    static func matrixShapes(_ size: ConformanceSize) -> [(Int, Int)] {
        switch size {
        case .quick:
            return [(1, 1), (7, 13), (65, 63)]
        case .full:
            return [
                (1, 1), (1, 7), (7, 1), (7, 13), (13, 7), (31, 33), (64, 64), (65, 63), (129, 257), (257, 129),
                (1, 1000), (1000, 1), (100, 784), (64, 1024), (256, 1024), (1000, 1000), (3, 100_003),
                (100_003, 3), (2, 65_537), (511, 513), (1024, 784),
            ]
        }
    }

    /// Convolution geometries: 1×1 images, one channel, odd sizes, strides 1–3, padding
    /// 0–2, kernels 1–5, batch 1, one-row and one-column images, and the dcgan preset's
    /// layers (D's convolutions, and G's transposed ones as the convolutions they invert).
    static func convolutionShapes(_ size: ConformanceSize) -> [ConvolutionGeometry] {
        typealias G = ConvolutionGeometry
        switch size {
        case .quick:
            return [
                G(batch: 1, height: 5, width: 5, channels: 1, kernel: 3, stride: 1, padding: 1),
                G(batch: 2, height: 7, width: 6, channels: 3, kernel: 3, stride: 2, padding: 1),
                G(batch: 1, height: 9, width: 11, channels: 2, kernel: 5, stride: 2, padding: 2),
                G(batch: 2, height: 6, width: 6, channels: 4, kernel: 4, stride: 2, padding: 1),
                G(batch: 1, height: 4, width: 5, channels: 16, kernel: 4, stride: 2, padding: 1),
            ]
        case .full:
            return [
                G(batch: 1, height: 1, width: 1, channels: 1, kernel: 1, stride: 1, padding: 0),
                G(batch: 1, height: 5, width: 5, channels: 1, kernel: 3, stride: 1, padding: 1),
                G(batch: 2, height: 7, width: 7, channels: 3, kernel: 3, stride: 1, padding: 0),
                G(batch: 1, height: 28, width: 28, channels: 1, kernel: 4, stride: 2, padding: 1),
                G(batch: 3, height: 14, width: 14, channels: 64, kernel: 4, stride: 2, padding: 1),
                G(batch: 2, height: 28, width: 28, channels: 1, kernel: 4, stride: 2, padding: 1),
                G(batch: 1, height: 9, width: 11, channels: 2, kernel: 5, stride: 2, padding: 2),
                G(batch: 4, height: 6, width: 5, channels: 7, kernel: 2, stride: 2, padding: 0),
                G(batch: 1, height: 3, width: 3, channels: 5, kernel: 3, stride: 1, padding: 2),
                G(batch: 2, height: 8, width: 8, channels: 3, kernel: 1, stride: 1, padding: 0),
                G(batch: 2, height: 8, width: 8, channels: 3, kernel: 1, stride: 2, padding: 0),
                G(batch: 1, height: 13, width: 17, channels: 4, kernel: 3, stride: 2, padding: 1),
                G(batch: 5, height: 4, width: 4, channels: 16, kernel: 4, stride: 1, padding: 0),
                G(batch: 1, height: 10, width: 10, channels: 1, kernel: 5, stride: 1, padding: 2),
                G(batch: 3, height: 5, width: 7, channels: 9, kernel: 2, stride: 1, padding: 1),
                G(batch: 1, height: 31, width: 29, channels: 3, kernel: 3, stride: 3, padding: 1),
                G(batch: 2, height: 12, width: 12, channels: 8, kernel: 4, stride: 2, padding: 1),
                G(batch: 1, height: 1, width: 9, channels: 2, kernel: 1, stride: 1, padding: 0),
                G(batch: 1, height: 6, width: 1, channels: 2, kernel: 3, stride: 1, padding: 1),
                G(batch: 2, height: 14, width: 14, channels: 64, kernel: 4, stride: 2, padding: 1),
                G(batch: 64, height: 7, width: 7, channels: 128, kernel: 3, stride: 1, padding: 1),
            ]
        }
    }

    /// Element counts for the Philox streams, with counters that carry across 32 bits.
    static func randomCounts(_ size: ConformanceSize) -> [Int] {
        switch size {
        case .quick: return [1, 7, 13, 101]
        case .full:
            return [1, 2, 3, 4, 5, 7, 13, 64, 100, 255, 256, 257, 1000, 1023, 4097, 65_537, 100_003, 250_000,
                    1_000_003, 2_000_000]
        }
    }

    /// Every trial of `operation` at `size`, with inputs drawn from `seed`.
    public static func trials(of operation: String, size: ConformanceSize, seed: UInt64 = 0x6A4E_C1) -> [Trial] {
        var random = TestRandom(seed: seed ^ UInt64(truncatingIfNeeded: operation.hashValueStable))
        let pointwise = Trial.Comparison.relative(tolerance: pointwiseTolerance)
        let shapes = matrixShapes(size)
        func shapeText(_ r: Int, _ c: Int) -> String { "\(r)x\(c)" }

        switch operation {
        case "gemm":
            var trials: [Trial] = []
            let scalars: [(Float, Float)] = [(1, 0), (0.7, 0.3), (-1.5, 1)]
            for (index, (m, n, k)) in gemmShapes(size).enumerated() {
                for (pair, (ta, tb)) in [(false, false), (false, true), (true, false), (true, true)].enumerated() {
                    let (alpha, beta) = scalars[(index + pair) % scalars.count]
                    let c = initialC(m * n, beta: beta, &random)
                    trials.append(Trial(
                        label: "gemm \(ta ? "T" : "N")\(tb ? "T" : "N") α=\(alpha) β=\(beta)",
                        shape: "\(m)x\(n)x\(k)",
                        call: .gemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: alpha, beta: beta),
                        inputs: [random.floats(m * k, in: -1...1), random.floats(k * n, in: -1...1), c],
                        outputCounts: [m * n], comparison: .relative(tolerance: gemmTolerance)))
                }
            }
            return trials
        case "gemm-epilogue":
            // Every epilogue (with every activation), across the GEMM shapes and transposes.
            let activations: [Activation] = [.identity, .relu, .leakyReLU(slope: 0.2), .tanh, .sigmoid]
            let scalars: [(Float, Float)] = [(1, 0), (0.7, 0.3), (-1.5, 1)]
            let pairs = [(false, false), (false, true), (true, false), (true, true)]
            var trials: [Trial] = []
            for (index, (m, n, k)) in gemmShapes(size).enumerated() {
                for bias in [true, false] {
                    let activation = activations[(index + (bias ? 0 : 2)) % activations.count]
                    let (ta, tb) = pairs[(index + (bias ? 1 : 0)) % pairs.count]
                    let (alpha, beta) = scalars[(index + (bias ? 0 : 1)) % scalars.count]
                    let c = initialC(m * n, beta: beta, &random)
                    // The gradient form reads the forward output y = f(x) of logits x.
                    let extra = bias
                        ? random.floats(n, in: -1...1)
                        : random.logits(m * n).map { CPUReference.activate(activation, $0) }
                    trials.append(Trial(
                        label: "gemm \(ta ? "T" : "N")\(tb ? "T" : "N") + \(bias ? "bias + \(activation)" : "\(activation) gradient")",
                        shape: "\(m)x\(n)x\(k)",
                        call: .gemmEpilogue(
                            transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: alpha, beta: beta, bias: bias,
                            activation: activation),
                        inputs: [random.floats(m * k, in: -1...1), random.floats(k * n, in: -1...1), c, extra],
                        outputCounts: [m * n], comparison: .relative(tolerance: gemmTolerance)))
                }
                // The column sums of op(B) beside C (the bias gradient of a dW GEMM).
                let (ta, tb) = pairs[(index + 2) % pairs.count]
                let (alpha, beta) = scalars[(index + 2) % scalars.count]
                let c = initialC(m * n, beta: beta, &random)
                trials.append(Trial(
                    label: "gemm \(ta ? "T" : "N")\(tb ? "T" : "N") + column sums of B",
                    shape: "\(m)x\(n)x\(k)",
                    call: .gemmColumnSums(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: alpha, beta: beta),
                    inputs: [random.floats(m * k, in: -1...1), random.floats(k * n, in: -1...1), c],
                    outputCounts: [m * n, n], comparison: .relative(tolerance: gemmTolerance)))
                // The Adam step as the epilogue of a weight-gradient GEMM, the gradients
                // kept or not; moments as after some steps (v ≥ 0).
                let (ta2, tb2) = pairs[(index + 3) % pairs.count]
                let (alpha2, beta2) = scalars[(index + 1) % scalars.count]
                let keep = (index / 4) % 2 == 1
                let c2 = initialC(m * n, beta: beta2, &random)
                trials.append(Trial(
                    label: "gemm \(ta2 ? "T" : "N")\(tb2 ? "T" : "N") + Adam\(keep ? " (gradients kept)" : "")",
                    shape: "\(m)x\(n)x\(k)",
                    call: .gemmAdam(
                        transposeA: ta2, transposeB: tb2, m: m, n: n, k: k, alpha: alpha2, beta: beta2,
                        hyper: AdamHyperparameters(learningRate: 1e-3, beta1: 0.5, beta2: 0.999), step: 1 + index % 7,
                        keepGradients: keep),
                    inputs: [random.floats(m * k, in: -1...1), random.floats(k * n, in: -1...1), c2,
                             random.floats(m * n, in: -1...1), random.floats(m * n, in: -0.1...0.1),
                             random.floats(m * n, in: 0.001...0.1),
                             random.floats(n, in: -1...1), random.floats(n, in: -0.1...0.1), random.floats(n, in: 0.001...0.1)],
                    outputCounts: [m * n, m * n, m * n, n, n, n] + (keep ? [m * n, n] : []),
                    comparison: .relative(tolerance: gemmTolerance)))
            }
            // The weight gradients of convolutions (TN, k = batch·H·W in the thousands, past
            // a panel of B: the CPU kernel goes through k in chunks), with the bias gradient
            // and with the Adam step in the epilogue: the dcgan preset's at batch 64 and 16.
            if size == .full {
                for (m, n, k) in [(16, 64, 25088), (1024, 128, 6272), (128, 1024, 3136), (64, 16, 12544), (1024, 128, 1568)] {
                    trials.append(Trial(
                        label: "gemm TN + column sums of B (conv dW)", shape: "\(m)x\(n)x\(k)",
                        call: .gemmColumnSums(transposeA: true, transposeB: false, m: m, n: n, k: k, alpha: 1, beta: 0),
                        inputs: [random.floats(m * k, in: -1...1), random.floats(k * n, in: -1...1), initialC(m * n, beta: 0, &random)],
                        outputCounts: [m * n, n], comparison: .relative(tolerance: gemmTolerance)))
                    for keep in [false, true] {
                        trials.append(Trial(
                            label: "gemm TN + Adam (conv dW)\(keep ? " (gradients kept)" : "")", shape: "\(m)x\(n)x\(k)",
                            call: .gemmAdam(
                                transposeA: true, transposeB: false, m: m, n: n, k: k, alpha: 1, beta: 0,
                                hyper: AdamHyperparameters(learningRate: 1e-3, beta1: 0.5, beta2: 0.999), step: 3,
                                keepGradients: keep),
                            inputs: [random.floats(m * k, in: -1...1), random.floats(k * n, in: -1...1),
                                     initialC(m * n, beta: 0, &random), random.floats(m * n, in: -1...1),
                                     random.floats(m * n, in: -0.1...0.1), random.floats(m * n, in: 0.001...0.1),
                                     random.floats(n, in: -1...1), random.floats(n, in: -0.1...0.1),
                                     random.floats(n, in: 0.001...0.1)],
                            outputCounts: [m * n, m * n, m * n, n, n, n] + (keep ? [m * n, n] : []),
                            comparison: .relative(tolerance: gemmTolerance)))
                    }
                }
            }
            return trials
        case "transpose":
            return shapes.map { r, c in
                Trial(label: "transpose", shape: shapeText(r, c), call: .transpose(rows: r, columns: c),
                      inputs: [random.floats(r * c, in: -2...2)], outputCounts: [r * c], comparison: .bitExact)
            }
        case "bias-add":
            return shapes.map { r, c in
                Trial(label: "bias add", shape: shapeText(r, c), call: .addBias(rows: r, columns: c),
                      inputs: [random.floats(r * c, in: -2...2), random.floats(c, in: -2...2)],
                      outputCounts: [r * c], comparison: pointwise)
            }
        case "sum-columns":
            return shapes.enumerated().map { index, shape in
                let (r, c) = shape
                let accumulate = index % 2 == 1
                return Trial(label: accumulate ? "sum columns (accumulate)" : "sum columns",
                             shape: shapeText(r, c), call: .sumColumns(rows: r, columns: c, accumulate: accumulate),
                             inputs: [random.floats(r * c, in: -2...2)] + (accumulate ? [random.floats(c, in: -2...2)] : []),
                             outputCounts: [c], comparison: pointwise)
            }
        case "sum-rows":
            return shapes.map { r, c in
                Trial(label: "sum rows", shape: shapeText(r, c), call: .sumRows(rows: r, columns: c),
                      inputs: [random.floats(r * c, in: -2...2)], outputCounts: [r], comparison: pointwise)
            }
        case "mean":
            return shapes.map { r, c in
                Trial(label: "mean", shape: shapeText(r, c), call: .mean,
                      inputs: [random.floats(r * c, in: -2...2)], outputCounts: [1], comparison: pointwise)
            }
        case "scale":
            return shapes.map { r, c in
                let factor = random.floats(1, in: -3...3)[0]
                return Trial(label: "scale ×\(factor)", shape: shapeText(r, c), call: .scale(factor),
                             inputs: [random.floats(r * c, in: -2...2)], outputCounts: [r * c], comparison: pointwise)
            }
        case "minibatch-std-value":
            // (groups, columns): one column, odd widths, past the work-group, the dcgan
            // critic's 6,272 and 1,024 features.
            let cases: [(Int, Int)] = size == .quick
                ? [(1, 1), (2, 13), (2, 300)]
                : [(1, 1), (2, 1), (1, 7), (2, 13), (1, 31), (2, 64), (1, 65), (2, 255), (1, 256), (2, 257), (1, 300),
                   (2, 1000), (1, 1024), (2, 1024), (2, 6272), (1, 6272), (2, 12_545), (1, 65_537), (2, 100_003),
                   (1, 3), (2, 129)]
            return cases.map { groups, c in
                Trial(label: "minibatch-std value", shape: shapeText(groups, c),
                             call: .minibatchStdValue(groups: groups, columns: c, epsilon: 1e-8),
                      inputs: [random.floats(groups * c, in: 0.01...4)], outputCounts: [groups], comparison: pointwise)
            }
        case "append-channel", "minibatch-std-backward":
            // (rows, positions, channels, groups): one row, one channel, odd sizes, two
            // groups, a dense layer's features (1 position), the dcgan critic's 7×7×128.
            let cases: [(Int, Int, Int, Int)] = size == .quick
                ? [(1, 1, 1, 1), (6, 5, 3, 2), (4, 7, 13, 1)]
                : [(1, 1, 1, 1), (6, 5, 3, 2), (4, 7, 13, 1), (2, 1, 1, 2), (16, 49, 128, 2), (64, 1, 128, 2), (65, 1, 33, 1),
                   (10, 9, 4, 2), (3, 100, 1, 1), (8, 1, 1024, 2), (30, 3, 17, 2), (7, 13, 5, 1), (128, 1, 7, 2), (12, 16, 16, 2),
                   (5, 31, 2, 1), (40, 2, 3, 2), (9, 1, 500, 1), (2, 49, 64, 2), (22, 11, 1, 2), (100, 1, 3, 2)]
            let activations: [Activation] = [.identity, .relu, .leakyReLU(slope: 0.2)]
            return cases.enumerated().map { index, shape in
                let (rows, spatial, channels, groups) = shape
                let x = random.floats(rows * spatial * channels, in: -2...2)
                let text = "\(rows)x\(spatial)x\(channels) in \(groups)"
                if operation == "append-channel" {
                    return Trial(label: "append channel", shape: text,
                                 call: .appendChannel(rows: rows, spatial: spatial, channels: channels, groups: groups),
                                 inputs: [x, random.floats(groups, in: 0.1...2)],
                                 outputCounts: [rows * spatial * (channels + 1)], comparison: .bitExact)
                }
                let below = activations[index % activations.count]
                let input = below == .identity ? x : x.map { CPUReference.activate(below, $0) }
                let (mean, variance) = input.withUnsafeBufferPointer {
                    CPUReference.batchNormStatistics($0, rows: rows, columns: spatial * channels, groups: groups)
                }
                return Trial(label: "minibatch-std backward, below \(below)", shape: text,
                             call: .minibatchStdBackward(rows: rows, spatial: spatial, channels: channels, groups: groups,
                                                         epsilon: 1e-8, below: below),
                             inputs: [input, random.floats(rows * spatial * (channels + 1), in: -1...1), mean, variance],
                             outputCounts: [groups, rows * spatial * channels], comparison: pointwise)
            }
        case "pack":
            // (examples, m, positions, channels): one example, packs of 1, odd sizes, the
            // dcgan's 28×28×1 in packs of 4 and 10, RGB; packing and its inverse.
            let cases: [(Int, Int, Int, Int)] = size == .quick
                ? [(1, 1, 1, 1), (6, 3, 5, 2), (12, 4, 7, 3)]
                : [(1, 1, 1, 1), (6, 3, 5, 2), (12, 4, 7, 3), (8, 8, 1, 1), (64, 4, 784, 1), (60, 10, 784, 1),
                   (9, 3, 49, 128), (30, 5, 1, 17), (16, 2, 1024, 3), (7, 7, 13, 1), (20, 1, 33, 4), (2, 2, 1, 1),
                   (256, 4, 784, 1), (100, 10, 2, 1), (15, 5, 196, 64), (4, 2, 3, 5), (33, 11, 9, 2), (10, 5, 4096, 3),
                   (3, 1, 1, 1000), (18, 6, 25, 7), (64, 16, 16, 16)]
            return cases.enumerated().map { index, shape in
                let (examples, m, spatial, channels) = shape
                return Trial(label: index % 2 == 0 ? "pack" : "unpack", shape: "\(examples)/\(m) of \(spatial)×\(channels)",
                             call: .pack(examples: examples, group: m, spatial: spatial, channels: channels, inverse: index % 2 == 1),
                             inputs: [random.floats(examples * spatial * channels, in: -2...2)],
                             outputCounts: [examples * spatial * channels], comparison: .bitExact)
            }
        case "span-activation", "span-activation-backward":
            // Rows tiled into spans of 1 to 12 columns (a tabular table's scalars and
            // one-hots), tanh or softmax, at temperatures 1, 0.2 (CTGAN's Gumbel-softmax)
            // and 0.66, on logits of any scale; the backward on the forward's outputs.
            return shapes.enumerated().map { index, shape in
                let (r, c) = shape
                var table: [Float] = []
                var at = 0
                while at < c {
                    let width = min(c - at, 1 + random.index(12))
                    table += [Float(at), Float(width), random.index(3) == 0 ? 0 : 1]
                    at += width
                }
                let spanCount = table.count / 3
                let temperature: Float = [1, 0.2, 0.66][index % 3]
                let x = random.logits(r * c)
                if operation == "span-activation" {
                    return Trial(label: "span activation", shape: "\(shapeText(r, c)), \(spanCount) spans, τ \(temperature)",
                                 call: .spanActivation(rows: r, columns: c, spanCount: spanCount, temperature: temperature),
                                 inputs: [x, table], outputCounts: [r * c], comparison: pointwise)
                }
                var y = [Float](repeating: 0, count: r * c)
                let spans = table.withUnsafeBufferPointer { CPUReference.spans($0, count: spanCount, columns: c) }
                x.withUnsafeBufferPointer { xs in
                    y.withUnsafeMutableBufferPointer { ys in
                        for row in 0..<r {
                            CPUReference.spanActivation(
                                UnsafeBufferPointer(rebasing: xs[(row * c)..<((row + 1) * c)]), spans: spans, temperature: temperature,
                                into: UnsafeMutableBufferPointer(rebasing: ys[(row * c)..<((row + 1) * c)]))
                        }
                    }
                }
                return Trial(label: "span activation backward", shape: "\(shapeText(r, c)), \(spanCount) spans, τ \(temperature)",
                             call: .spanActivationBackward(rows: r, columns: c, spanCount: spanCount, temperature: temperature),
                             inputs: [y, random.floats(r * c, in: -2...2), table], outputCounts: [r * c], comparison: pointwise)
            }
        case "multiply":
            return shapes.enumerated().map { index, shape in
                let (r, c) = shape
                let perRow = index % 2 == 0
                return Trial(label: perRow ? "multiply per row" : "multiply", shape: shapeText(r, c),
                             call: .multiply(rows: r, columns: c, perRow: perRow),
                             inputs: [random.floats(r * c, in: -2...2), random.floats(perRow ? r : r * c, in: -2...2)],
                             outputCounts: [r * c], comparison: .bitExact)
            }
        case "append-channels":
            // (rows, positions, channels, extra): one of each, a 2-D point with 8 and 25
            // classes, packed points, the dcgan's 28×28 with 10 classes, odd sizes; both ways.
            let cases: [(Int, Int, Int, Int)] = size == .quick
                ? [(1, 1, 1, 1), (5, 7, 3, 2), (6, 1, 2, 25)]
                : [(1, 1, 1, 1), (5, 7, 3, 2), (6, 1, 2, 25), (128, 1, 2, 8), (64, 1, 100, 10), (32, 1, 4, 50),
                   (8, 784, 1, 10), (3, 49, 128, 10), (1, 1, 784, 10), (17, 13, 5, 3), (2, 196, 64, 1), (9, 1, 1, 1000),
                   (7, 4, 4, 7), (33, 25, 3, 2), (1, 1024, 3, 5), (12, 1, 6272, 10), (4, 9, 9, 9), (100, 1, 1, 10),
                   (3, 2, 1, 100), (20, 784, 4, 40), (11, 3, 17, 19)]
            return cases.enumerated().map { index, shape in
                let (rows, spatial, channels, extra) = shape
                let inverse = index % 2 == 1
                let wide = channels + extra
                return Trial(label: inverse ? "drop channels" : "append channels", shape: "\(rows)x\(spatial)x\(channels)+\(extra)",
                             call: .appendChannels(rows: rows, spatial: spatial, channels: channels, extra: extra, inverse: inverse),
                             inputs: [random.floats(rows * spatial * (inverse ? wide : channels), in: -2...2),
                                      random.floats(rows * extra, in: 0...1)],
                             outputCounts: [rows * spatial * (inverse ? channels : wide)], comparison: .bitExact)
            }
        case "add-scaled":
            return shapes.map { r, c in
                let scale = random.floats(1, in: -2...2)[0]
                return Trial(label: "add scaled ×\(scale)", shape: shapeText(r, c), call: .addScaled(scale: scale),
                             inputs: [random.floats(r * c, in: -2...2), random.floats(r * c, in: -2...2)],
                             outputCounts: [r * c], comparison: pointwise)
            }
        case "moving-average":
            let decays: [Float] = [0.999, 0.9, 0.5, 0, 1]
            return shapes.enumerated().map { index, shape in
                let (r, c) = shape
                let decay = decays[index % decays.count]
                return Trial(label: "moving average ×\(decay)", shape: shapeText(r, c), call: .movingAverage(decay: decay),
                             inputs: [random.floats(r * c, in: -2...2), random.floats(r * c, in: -2...2)],
                             outputCounts: [r * c], comparison: pointwise)
            }
        case "clamp":
            return shapes.map { r, c in
                Trial(label: "clamp [-0.01, 0.01]", shape: shapeText(r, c),
                      call: .clamp(lower: -0.01, upper: 0.01), inputs: [random.floats(r * c, in: -0.05...0.05)],
                      outputCounts: [r * c], comparison: pointwise)
            }
        case "activation-forward", "activation-backward":
            let activations: [Activation] = [.identity, .relu, .leakyReLU(slope: 0.2), .tanh, .sigmoid]
            let forward = operation == "activation-forward"
            return activations.flatMap { activation in
                shapes.map { r, c in
                    let x = random.logits(r * c)
                    let label = "\(activation) \(forward ? "forward" : "backward")"
                    if forward {
                        return Trial(label: label, shape: shapeText(r, c),
                                     call: .activationForward(activation), inputs: [x], outputCounts: [r * c],
                                     comparison: pointwise)
                    }
                    let y = x.map { CPUReference.activate(activation, $0) }
                    return Trial(label: label, shape: shapeText(r, c),
                                 call: .activationBackward(activation), inputs: [y, random.floats(r * c, in: -2...2)],
                                 outputCounts: [r * c], comparison: pointwise)
                }
            }
        case "objective":
            let objectives: [LogitObjective] = [
                .crossEntropy(target: 1), .crossEntropy(target: 0), .crossEntropy(target: 0.9),
                .wasserstein(sign: 1), .wasserstein(sign: -1), .hinge(sign: 1), .hinge(sign: -1),
                .leastSquares(target: 1), .leastSquares(target: 0),
            ]
            let whole = objectives.flatMap { objective in
                shapes.map { r, c in
                    Trial(label: "\(objective)", shape: shapeText(r, c),
                          call: .objective(objective, gradientScale: 1 / Float(r * c)), inputs: [random.logits(r * c)],
                          outputCounts: [r * c, r * c], comparison: pointwise)
                }
            }
            // A discriminator's batch of real then fake logits, one objective on each part.
            let pairs: [(LogitObjective, LogitObjective)] = [
                (.crossEntropy(target: 0.9), .crossEntropy(target: 0)), (.hinge(sign: 1), .hinge(sign: -1)),
            ]
            let halves = pairs.flatMap { first, second in
                shapes.filter { $0.0 * $0.1 >= 2 }.map { r, c in
                    Trial(label: "\(first) | \(second)", shape: shapeText(r, c),
                          call: .objectiveHalves(first: first, second: second, split: r * c / 2, gradientScale: 2 / Float(r * c)),
                          inputs: [random.logits(r * c)], outputCounts: [r * c, r * c], comparison: pointwise)
                }
            }
            return whole + halves
        case "softmax-cross-entropy":
            // Rows of logits of any scale (±100 included) against labels in range and,
            // in every seventh row, out of range (no target).
            return shapes.map { r, c in
                let labels = (0..<r).map { i in i % 7 == 6 ? Float(-1) : Float(random.index(c)) }
                return Trial(label: "softmax cross-entropy", shape: shapeText(r, c),
                             call: .softmaxCrossEntropy(rows: r, classes: c, gradientScale: 1 / Float(r)),
                             inputs: [random.logits(r * c), labels], outputCounts: [r, r * c], comparison: pointwise)
            }
        case "adam":
            return shapes.enumerated().map { index, shape in
                let count = shape.0 * shape.1
                let hyper = index % 2 == 0
                    ? AdamHyperparameters()
                    : AdamHyperparameters(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
                let step = 1 + index * 97
                return Trial(label: "adam lr=\(hyper.learningRate) β1=\(hyper.beta1) t=\(step)",
                             shape: shapeText(shape.0, shape.1), call: .adam(hyper, step: step),
                             inputs: [random.floats(count, in: -1...1), random.floats(count, in: -0.1...0.1),
                                      random.floats(count, in: -0.01...0.01), random.floats(count, in: 1e-6...1e-3)],
                             outputCounts: [count, count, count], comparison: pointwise)
            }
        case "sgd":
            return shapes.map { r, c in
                Trial(label: "sgd lr=0.01 momentum=0.9", shape: shapeText(r, c),
                      call: .sgd(learningRate: 0.01, momentum: 0.9),
                      inputs: [random.floats(r * c, in: -1...1), random.floats(r * c, in: -1...1),
                               random.floats(r * c, in: -1...1)],
                      outputCounts: [r * c, r * c], comparison: pointwise)
            }
        case "rmsprop":
            return shapes.enumerated().map { index, shape in
                let count = shape.0 * shape.1
                let hyper = index % 2 == 0
                    ? RMSPropHyperparameters()
                    : RMSPropHyperparameters(learningRate: 1e-3, decay: 0.9, epsilon: 1e-6)
                return Trial(label: "rmsprop lr=\(hyper.learningRate) decay=\(hyper.decay)",
                             shape: shapeText(shape.0, shape.1), call: .rmsprop(hyper),
                             inputs: [random.floats(count, in: -1...1), random.floats(count, in: -0.1...0.1),
                                      random.floats(count, in: 1e-6...1e-3)],
                             outputCounts: [count, count], comparison: pointwise)
            }
        case "normalize":
            // Vectors of any length and scale, and every fourth one all zeros (left as it is).
            return shapes.enumerated().map { index, shape in
                let count = shape.0 * shape.1
                let x = index % 4 == 3 ? [Float](repeating: 0, count: count) : random.floats(count, in: -3...3)
                return Trial(label: index % 4 == 3 ? "normalize (zeros)" : "normalize", shape: shapeText(shape.0, shape.1), call: .normalize,
                             inputs: [x], outputCounts: [count, 1], comparison: pointwise)
            }
        case "divide":
            return shapes.map { r, c in
                Trial(label: "divide by a device scalar", shape: shapeText(r, c), call: .divide,
                      inputs: [random.floats(r * c, in: -2...2), random.floats(1, in: 0.5...4)], outputCounts: [r * c],
                      comparison: pointwise)
            }
        case "spectral-norm-gradient":
            return shapes.map { r, c in
                func unit(_ n: Int) -> [Float] {
                    let x = random.floats(n, in: -1...1)
                    let norm = x.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    return x.map { $0 / norm }
                }
                return Trial(label: "spectral-norm gradient", shape: shapeText(r, c), call: .spectralNormGradient(rows: r, columns: c),
                             inputs: [random.floats(r * c, in: -1...1), random.floats(r * c, in: -0.2...0.2), unit(r), unit(c),
                                      random.floats(1, in: 0.5...3)],
                             outputCounts: [r * c], comparison: pointwise)
            }
        case "dropout":
            // Rates from none to most; a tenth of the uniforms equal the rate exactly (kept).
            let rates: [Float] = [0, 0.1, 0.3, 0.5, 0.9]
            return shapes.enumerated().map { index, shape in
                let (r, c) = shape
                let rate = rates[index % rates.count]
                var uniforms = random.floats(r * c, in: 0...0.999_999)
                for i in stride(from: 0, to: uniforms.count, by: 10) { uniforms[i] = rate }
                return Trial(label: "dropout \(rate)", shape: shapeText(r, c), call: .dropout(rate: rate),
                             inputs: [random.floats(r * c, in: -2...2), uniforms], outputCounts: [r * c],
                             comparison: pointwise)
            }
        case "interpolate-rows":
            return shapes.map { r, c in
                Trial(label: "interpolate rows", shape: shapeText(r, c), call: .interpolateRows(rows: r, columns: c),
                      inputs: [random.floats(r * c, in: -1...1), random.floats(r * c, in: -1...1),
                               random.floats(r, in: 0...1)],
                      outputCounts: [r * c], comparison: pointwise)
            }
        case "gradient-penalty":
            // Rows of gradients whose norms lie below, near and above 1, and every fifth
            // row all zeros (no direction).
            return shapes.map { r, c in
                var g = [Float]()
                for row in 0..<r {
                    let size = [0.05, 0.8, 1.0, 3.0][row % 4] / Float(c).squareRoot()
                    g += row % 5 == 4 ? [Float](repeating: 0, count: c) : random.floats(c, in: -2 * size...2 * size)
                }
                return Trial(label: "gradient penalty λ=10", shape: shapeText(r, c),
                             call: .gradientPenalty(rows: r, columns: c, weight: 10, scale: 1 / Float(r)),
                             inputs: [g], outputCounts: [r, r, r * c], comparison: pointwise)
            }
        case "im2col":
            return convolutionShapes(size).map { g in
                Trial(label: "im2col", shape: "\(g)", call: .im2col(g), inputs: [random.floats(g.imageElements, in: -2...2)],
                      outputCounts: [g.positions * g.patchSize], comparison: .bitExact)
            }
        case "conv-implicit":
            // Output channels below, at and past the CPU kernels' 16-wide vectors (and their
            // blocks of 2 and 4 vectors), a bias and activation on every other shape. The
            // first shapes pad on the right as well as the left: in the whole-block path
            // (64 channels, every block width) and in the edge path (17).
            let activations: [Activation] = [.identity, .relu, .leakyReLU(slope: 0.2), .tanh, .sigmoid]
            let widths = [64, 16, 17, 33, 1, 5, 128, 48]
            return convolutionShapes(size).enumerated().map { index, g in
                let n = widths[index % widths.count]
                let activation: Activation? = index % 2 == 0 ? activations[(index / 2) % activations.count] : nil
                let label = "conv forward, implicit" + (activation.map { " + bias + \($0)" } ?? "")
                return Trial(label: label, shape: "\(g) → \(n)",
                             call: .convolutionImplicit(g, outputChannels: n, activation: activation),
                             inputs: [random.floats(g.imageElements, in: -2...2), random.floats(g.patchSize * n, in: -1...1)]
                                 + (activation == nil ? [] : [random.floats(n, in: -1...1)]),
                             outputCounts: [g.positions * n], comparison: .relative(tolerance: gemmTolerance))
            }
        case "col2im":
            return convolutionShapes(size).map { g in
                Trial(label: "col2im", shape: "\(g)", call: .col2im(g),
                      inputs: [random.floats(g.positions * g.patchSize, in: -2...2)], outputCounts: [g.imageElements],
                      comparison: pointwise)
            }
        case "batch-norm-statistics", "batch-norm-forward", "batch-norm-backward":
            // Columns with offsets of their own (the mean must come off before the squares),
            // two groups on every other shape with even rows; running averages on the rest.
            // The quick shapes add groups of more than 128 rows (the OpenCL kernels' partial
            // sums over blocks of rows): 262 rows in one group, 300 in two.
            let activations: [Activation] = [.identity, .relu, .leakyReLU(slope: 0.2), .tanh, .sigmoid]
            let normShapes = size == .quick ? shapes + [(262, 5), (300, 3)] : shapes
            return normShapes.enumerated().map { index, shape in
                let (r, c) = shape
                let groups = index % 2 == 0 && r % 2 == 0 ? 2 : 1
                let offsets = random.floats(c, in: -3...3)
                let noise = random.floats(r * c, in: -2...2)
                let x = noise.indices.map { offsets[$0 % c] + noise[$0] * Float(1 + ($0 / max(c, 1)) % 3) }
                let text = shapeText(r, c) + (groups > 1 ? " in 2 groups" : "")
                let epsilon: Float = 1e-5
                switch operation {
                case "batch-norm-statistics":
                    let momentum: Float? = groups == 1 ? 0.1 : nil
                    return Trial(label: "batch-norm statistics" + (momentum == nil ? "" : " + running"), shape: text,
                                 call: .batchNormStatistics(rows: r, columns: c, groups: groups, momentum: momentum),
                                 inputs: [x] + (momentum == nil ? [] : [random.floats(c, in: -1...1), random.floats(c, in: 0.5...2)]),
                                 outputCounts: [groups * c, groups * c] + (momentum == nil ? [] : [c, c]), comparison: pointwise)
                case "batch-norm-forward":
                    let activation = activations[index % activations.count]
                    let (mean, variance) = x.withUnsafeBufferPointer {
                        CPUReference.batchNormStatistics($0, rows: r, columns: c, groups: groups)
                    }
                    return Trial(label: "batch-norm forward + \(activation)", shape: text,
                                 call: .batchNormForward(rows: r, columns: c, groups: groups, epsilon: epsilon, activation: activation),
                                 inputs: [x, mean, variance, random.floats(c, in: -2...2), random.floats(c, in: -1...1)],
                                 outputCounts: [r * c], comparison: pointwise)
                default:
                    let below = activations[index % 3]
                    // x as the output of the layer below: LeakyReLU's negatives scaled down.
                    let input = below == .identity ? x : x.map { CPUReference.activate(below, $0) }
                    let (mean, variance) = input.withUnsafeBufferPointer {
                        CPUReference.batchNormStatistics($0, rows: r, columns: c, groups: groups)
                    }
                    return Trial(label: "batch-norm backward, below \(below)", shape: text,
                                 call: .batchNormBackward(rows: r, columns: c, groups: groups, epsilon: epsilon, below: below),
                                 inputs: [input, random.floats(r * c, in: -1...1), mean, variance, random.floats(c, in: -2...2)],
                                 outputCounts: [c, c, r * c], comparison: pointwise)
                }
            }
        case "layer-norm-forward", "layer-norm-backward":
            // Rows with offsets and spreads of their own (the mean must come off before the
            // squares); rows of one column normalise to β.
            let activations: [Activation] = [.identity, .relu, .leakyReLU(slope: 0.2), .tanh, .sigmoid]
            return shapes.enumerated().map { index, shape in
                let (r, c) = shape
                let offsets = random.floats(r, in: -3...3)
                let noise = random.floats(r * c, in: -2...2)
                let x = noise.indices.map { offsets[$0 / max(c, 1)] + noise[$0] * Float(1 + ($0 / max(c, 1)) % 3) }
                let epsilon: Float = 1e-5
                if operation == "layer-norm-forward" {
                    let activation = activations[index % activations.count]
                    return Trial(label: "layer-norm forward + \(activation)", shape: shapeText(r, c),
                                 call: .layerNormForward(rows: r, columns: c, epsilon: epsilon, activation: activation),
                                 inputs: [x, random.floats(c, in: -2...2), random.floats(c, in: -1...1)],
                                 outputCounts: [r, r, r * c], comparison: pointwise)
                }
                let below = activations[index % 3]
                let input = below == .identity ? x : x.map { CPUReference.activate(below, $0) }
                var mean = [Float](repeating: 0, count: r), variance = mean, y = input
                let ones = [Float](repeating: 1, count: c), zeros = [Float](repeating: 0, count: c)
                input.withUnsafeBufferPointer { xs in
                    ones.withUnsafeBufferPointer { g in
                        zeros.withUnsafeBufferPointer { b in
                            mean.withUnsafeMutableBufferPointer { m in
                                variance.withUnsafeMutableBufferPointer { v in
                                    y.withUnsafeMutableBufferPointer { out in
                                        CPUReference.layerNormForward(
                                            xs, rows: r, columns: c, epsilon: epsilon, gamma: g, beta: b, activation: .identity,
                                            mean: m, variance: v, into: out)
                                    }
                                }
                            }
                        }
                    }
                }
                return Trial(label: "layer-norm backward, below \(below)", shape: shapeText(r, c),
                             call: .layerNormBackward(rows: r, columns: c, epsilon: epsilon, below: below),
                             inputs: [input, random.floats(r * c, in: -1...1), mean, variance, random.floats(c, in: -2...2)],
                             outputCounts: [c, c, r * c], comparison: pointwise)
            }
        case "philox-uniform", "philox-normal", "philox-gumbel":
            return randomCounts(size).enumerated().map { index, count in
                let seed = random.next()
                // Every third draw starts just below a 32-bit boundary of the counter.
                let counter = index % 3 == 0 ? 0xFFFF_FFFE : random.next() >> 8
                let call: Trial.Call = switch operation {
                case "philox-uniform": .uniform(seed: seed, counter: counter)
                case "philox-normal": .normal(seed: seed, counter: counter, mean: 0.5, std: 2)
                default: .gumbel(seed: seed, counter: counter)
                }
                return Trial(label: operation.split(separator: "-").joined(separator: " "),
                             shape: "\(count)", call: call,
                             inputs: [], outputCounts: [count], comparison: .bitExact)
            }
        case "copy":
            // Whole buffers, and a range from one offset to another (the rest of the
            // destination must stay as it was).
            return shapes.enumerated().map { index, shape in
                let (r, c) = shape
                let count = r * c
                guard index % 2 == 1 else {
                    return Trial(label: "copy", shape: shapeText(r, c), call: .copy,
                                 inputs: [random.floats(count, in: -2...2)], outputCounts: [count], comparison: .bitExact)
                }
                let length = max(count / 2, 1), from = count - length, to = (count - length) / 2
                return Trial(label: "copy range", shape: shapeText(r, c),
                             call: .copyRange(sourceOffset: from, destinationOffset: to, count: length),
                             inputs: [random.floats(count, in: -2...2), random.floats(count, in: -2...2)],
                             outputCounts: [count], comparison: .bitExact)
            }
        case "fill":
            return shapes.map { r, c in
                Trial(label: "fill", shape: shapeText(r, c), call: .fill(random.floats(1, in: -9...9)[0]),
                      inputs: [], outputCounts: [r * c], comparison: .bitExact)
            }
        default:
            return []
        }
    }
}

// MARK: - Inputs

/// Seeded input data for trials: uniform floats in a range, and logits.
struct TestRandom {
    private var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }

    /// An integer in 0..<bound.
    mutating func index(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func floats(_ count: Int, in range: ClosedRange<Float>) -> [Float] {
        (0..<count).map { _ in range.lowerBound + (range.upperBound - range.lowerBound) * generator.unitFloat() }
    }

    /// Logits as a GAN's discriminator produces them, and its extremes: mostly within
    /// ±6, a quarter anywhere in ±100, and ±100 exactly at the first two positions.
    mutating func logits(_ count: Int) -> [Float] {
        var values = (0..<count).map { _ -> Float in
            let wide = next() % 4 == 0
            return (wide ? 200 : 12) * (generator.unitFloat() - 0.5)
        }
        if count > 0 { values[0] = 100 }
        if count > 1 { values[1] = -100 }
        return values
    }
}

extension String {
    /// A hash that is the same in every process (Swift's `hashValue` is seeded per run).
    var hashValueStable: UInt64 {
        utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
    }
}
