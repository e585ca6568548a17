import CPUBackend
import ComputeBackend
import GANCore
import OpenCLBackend
import Testing

/// A model of Conv2D, ConvTranspose2D, BatchNorm and Dense layers in Double, its weights
/// read off a `Sequential`, evaluated by the CPU reference's generic functions on a whole
/// batch (batch normalisation needs it): the function the gradient checks differentiate.
struct DoubleNet {
    enum Kind {
        case dense, conv(ConvolutionGeometry), convTranspose(ConvolutionGeometry), batchNorm(ImageShape, groups: Int)
        case layerNorm
        case minibatchStd(ImageShape, groups: Int)
        /// The mask of the layer's last forward: its uniforms, kept where ≥ rate.
        case dropout(rate: Double, uniforms: [Double])
    }
    var kinds: [Kind] = []
    var activations: [Activation] = []
    var inputs: [Int] = [], outputs: [Int] = []
    /// Per layer: its parameters as Double (weight then bias, γ then β).
    var parameters: [[[Double]]] = []
    /// Spectral normalisation's fixed vectors per layer, when it has them.
    var spectral: [([Double], [Double])?] = []

    init<B: ComputeBackend>(_ model: Sequential<B>, groups: Int) throws {
        for layer in model.layers {
            activations.append(layer.activation)
            inputs.append(layer.inputs)
            outputs.append(layer.outputs)
            parameters.append(try layer.parameters.map { try model.backend.read($0.value).map(Double.init) })
            var vectors: ([Double], [Double])? = nil
            switch layer {
            case let conv as Conv2D<B>:
                kinds.append(.conv(ConvolutionGeometry(
                    batch: 1, height: conv.input.height, width: conv.input.width, channels: conv.input.channels,
                    kernel: conv.kernel, stride: conv.stride, padding: conv.padding)))
                if let sn = conv.spectralNorm { vectors = (try model.backend.read(sn.v).map(Double.init), try model.backend.read(sn.u).map(Double.init)) }
            case let transposed as ConvTranspose2D<B>:
                kinds.append(.convTranspose(ConvolutionGeometry(
                    batch: 1, height: transposed.output.height, width: transposed.output.width,
                    channels: transposed.output.channels, kernel: transposed.kernel, stride: transposed.stride,
                    padding: transposed.padding)))
            case let norm as BatchNorm<B>:
                kinds.append(.batchNorm(norm.shape, groups: groups))
            case is LayerNorm<B>:
                kinds.append(.layerNorm)
            case let std as MinibatchStd<B>:
                kinds.append(.minibatchStd(std.input, groups: groups))
            case let dropout as Dropout<B>:
                let uniforms = try dropout.uniforms.map { try model.backend.read($0).map(Double.init) } ?? []
                kinds.append(.dropout(rate: Double(dropout.rate), uniforms: uniforms))
            case let dense as Dense<B>:
                kinds.append(.dense)
                if let sn = dense.spectralNorm { vectors = (try model.backend.read(sn.v).map(Double.init), try model.backend.read(sn.u).map(Double.init)) }
            default:
                throw GANError("no Double model of \(type(of: layer))")
            }
            spectral.append(vectors)
        }
    }

    static func gemm(_ a: [Double], _ b: [Double], m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer {
                    CPUReference.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: ap, b: bp, beta: 0, c: $0)
                }
            }
        }
        return c
    }

    func effectiveWeight(_ l: Int) -> [Double] {
        let w = parameters[l][0]
        guard let (v, u) = spectral[l] else { return w }
        let m = u.count
        var sigma = 0.0
        for i in v.indices { for j in u.indices { sigma += v[i] * w[i * m + j] * u[j] } }
        return w.map { $0 / sigma }
    }

    /// Layer l's pre-activation output for the batch x (rows × inputs[l]).
    func preActivation(_ l: Int, _ x: [Double], rows: Int) -> [Double] {
        let p = parameters[l]
        func biased(_ z: [Double], _ channels: Int) -> [Double] { z.indices.map { z[$0] + p[1][$0 % channels] } }
        switch kinds[l] {
        case .dense:
            return biased(Self.gemm(x, effectiveWeight(l), m: rows, n: outputs[l], k: inputs[l]), outputs[l])
        case .conv(let one):
            let g = ConvolutionGeometry(batch: rows, height: one.height, width: one.width, channels: one.channels, kernel: one.kernel, stride: one.stride, padding: one.padding)
            var columns = [Double](repeating: 0, count: g.positions * g.patchSize)
            x.withUnsafeBufferPointer { xp in columns.withUnsafeMutableBufferPointer { CPUReference.im2col(xp, geometry: g, into: $0) } }
            let channels = outputs[l] / (g.outputHeight * g.outputWidth)
            return biased(Self.gemm(columns, effectiveWeight(l), m: g.positions, n: channels, k: g.patchSize), channels)
        case .convTranspose(let one):
            let g = ConvolutionGeometry(batch: rows, height: one.height, width: one.width, channels: one.channels, kernel: one.kernel, stride: one.stride, padding: one.padding)
            let columns = Self.gemm(x, p[0], m: g.positions, n: g.patchSize, k: inputs[l] / (g.outputHeight * g.outputWidth))
            var y = [Double](repeating: 0, count: g.imageElements)
            columns.withUnsafeBufferPointer { cp in y.withUnsafeMutableBufferPointer { CPUReference.col2im(cp, geometry: g, into: $0) } }
            return biased(y, g.channels)
        case .batchNorm(let shape, let groups):
            let n = rows * shape.height * shape.width
            let (mean, variance) = x.withUnsafeBufferPointer { CPUReference.batchNormStatistics($0, rows: n, columns: shape.channels, groups: groups) }
            var y = [Double](repeating: 0, count: x.count)
            x.withUnsafeBufferPointer { xp in
                mean.withUnsafeBufferPointer { mp in
                    variance.withUnsafeBufferPointer { vp in
                        p[0].withUnsafeBufferPointer { gp in
                            p[1].withUnsafeBufferPointer { bp in
                                y.withUnsafeMutableBufferPointer {
                                    CPUReference.batchNormForward(xp, rows: n, columns: shape.channels, groups: groups, mean: mp, variance: vp, epsilon: 1e-5, gamma: gp, beta: bp, activation: .identity, into: $0)
                                }
                            }
                        }
                    }
                }
            }
            return y
        case .layerNorm:
            var y = x, mean = [Double](repeating: 0, count: rows), variance = mean
            x.withUnsafeBufferPointer { xp in
                p[0].withUnsafeBufferPointer { gp in
                    p[1].withUnsafeBufferPointer { bp in
                        mean.withUnsafeMutableBufferPointer { mp in
                            variance.withUnsafeMutableBufferPointer { vp in
                                y.withUnsafeMutableBufferPointer {
                                    CPUReference.layerNormForward(xp, rows: rows, columns: inputs[l], epsilon: 1e-5, gamma: gp, beta: bp, activation: .identity, mean: mp, variance: vp, into: $0)
                                }
                            }
                        }
                    }
                }
            }
            return y
        case .dropout(let rate, let uniforms):
            return x.indices.map { CPUReference.dropout(x[$0], uniform: uniforms[$0], rate: rate) }
        case .minibatchStd(let shape, let groups):
            let e = shape.elements, per = rows / groups, spatial = shape.height * shape.width
            let (_, variance) = x.withUnsafeBufferPointer { CPUReference.batchNormStatistics($0, rows: rows, columns: e, groups: groups) }
            let values = variance.withUnsafeBufferPointer { CPUReference.minibatchStdValue($0, groups: groups, columns: e, epsilon: 1e-8) }
            return (0..<(rows * spatial * (shape.channels + 1))).map { i in
                let c = i % (shape.channels + 1), position = i / (shape.channels + 1)
                return c < shape.channels ? x[position * shape.channels + c] : values[position / spatial / per]
            }
        }
    }

    /// The model's output for the batch.
    func forward(_ x: [Double], rows: Int) -> [Double] {
        var h = x
        for l in kinds.indices { h = preActivation(l, h, rows: rows).map { CPUReference.activate(activations[l], $0) } }
        return h
    }

    /// ∇ₓ of Σ (the model's outputs) for the batch x, by backpropagation in Double (no
    /// batch normalisation): what the gradient penalty measures.
    func inputGradient(_ x: [Double], rows: Int) -> [Double] {
        var hs = [x]
        for l in kinds.indices { hs.append(preActivation(l, hs[l], rows: rows).map { CPUReference.activate(activations[l], $0) }) }
        var delta = hs[kinds.count].map { _ in 1.0 }
        for l in kinds.indices.reversed() {
            delta = delta.indices.map { delta[$0] * CPUReference.derivative(activations[l], output: hs[l + 1][$0]) }
            let w = effectiveWeight(l)
            switch kinds[l] {
            case .dense:
                delta = Self.gemm(delta, w, m: rows, n: inputs[l], k: outputs[l], transposeB: true)
            case .conv(let one):
                let g = ConvolutionGeometry(batch: rows, height: one.height, width: one.width, channels: one.channels, kernel: one.kernel, stride: one.stride, padding: one.padding)
                let columns = Self.gemm(delta, w, m: g.positions, n: g.patchSize, k: outputs[l] / (g.outputHeight * g.outputWidth), transposeB: true)
                var dx = [Double](repeating: 0, count: g.imageElements)
                columns.withUnsafeBufferPointer { cp in dx.withUnsafeMutableBufferPointer { CPUReference.col2im(cp, geometry: g, into: $0) } }
                delta = dx
            case .convTranspose(let one):
                let g = ConvolutionGeometry(batch: rows, height: one.height, width: one.width, channels: one.channels, kernel: one.kernel, stride: one.stride, padding: one.padding)
                var columns = [Double](repeating: 0, count: g.positions * g.patchSize)
                delta.withUnsafeBufferPointer { dp in columns.withUnsafeMutableBufferPointer { CPUReference.im2col(dp, geometry: g, into: $0) } }
                delta = Self.gemm(columns, w, m: g.positions, n: inputs[l] / (g.outputHeight * g.outputWidth), k: g.patchSize, transposeB: true)
            case .batchNorm, .layerNorm, .minibatchStd:
                preconditionFailure("no input gradient through batch or layer normalisation here")
            case .dropout(let rate, let uniforms):
                delta = delta.indices.map { CPUReference.dropout(delta[$0], uniform: uniforms[$0], rate: rate) }
            }
        }
        return delta
    }

    /// Central differences of f with respect to layer l's parameter i.
    func differences(layer l: Int, parameter i: Int, _ f: (DoubleNet) -> Double) -> [Double] {
        centralDifferences(parameters[l][i]) { values in
            var moved = self
            moved.parameters[l][i] = values
            return f(moved)
        }
    }
}

@Suite("Conv layers: gradients against finite differences in Double")
struct ConvLayerTests {
    static func random(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        LayerGradientTests.randomValues(count, seed: seed, scale: scale)
    }

    /// A small conv net on 5×6×2 images: Conv2D (k3 s2 p1) → BatchNorm over channels →
    /// ConvTranspose2D (k4 s2 p1) → Conv2D (k2 s1 p0, one output channel) → Dense → BatchNorm
    /// over features → Dense, every activation in turn; odd sizes so no tile divides them.
    static func model<B: ComputeBackend>(
        _ backend: B, activation: Activation, spectralNorm: Bool = false
    ) throws -> Sequential<B> {
        let image = ImageShape(height: 5, width: 6, channels: 2)
        let conv = try Conv2D(backend: backend, input: image, outputChannels: 3, kernel: 3, stride: 2, padding: 1, activation: .identity, spectralNorm: spectralNorm)
        let norm = try BatchNorm(backend: backend, shape: conv.output, activation: activation)
        let up = try ConvTranspose2D(backend: backend, input: conv.output, outputChannels: 2, kernel: 4, stride: 2, padding: 1, activation: activation)
        let single = try Conv2D(backend: backend, input: up.output, outputChannels: 1, kernel: 2, stride: 1, padding: 0, activation: activation, spectralNorm: spectralNorm)
        let dense = try Dense(backend: backend, inputs: single.outputs, outputs: 5, activation: .identity)
        let features = try BatchNorm(backend: backend, shape: ImageShape(features: 5), activation: activation)
        let out = try Dense(backend: backend, inputs: 5, outputs: 3, activation: .tanh)
        let model = try Sequential(backend: backend, layers: [conv, norm, up, single, dense, features, out])
        try model.initialize(seed: 21)
        // γ and β away from 1 and 0, so their gradients are checked at a general point.
        for layer in [norm, features] {
            try backend.write(random(layer.gamma.count, seed: 31, scale: 0.5).map { $0 + 1 }, to: layer.gamma.value, offset: 0)
            try backend.write(random(layer.beta.count, seed: 32, scale: 0.3), to: layer.beta.value, offset: 0)
        }
        for _ in 0..<3 { try model.refreshDerivedState(iterate: true) }
        return model
    }

    /// dL/d(every parameter) and dL/dx of L = Σ c ⊙ y through the conv net, with batch
    /// statistics in one group and in two (a discriminator's halves), on the CPU backend,
    /// against central differences of the Double model. The biases right before a batch
    /// normalisation have a gradient of exactly 0 (the mean takes them off), which float
    /// rounding leaves near 1e-5: such a tensor (its differences all below 1e-8) must be
    /// within 1e-4 of 0; every other is compared relatively (above 1e-3), within 1e-2: the
    /// float32 backward subtracts batch means, and small entries keep ~1e-5 of rounding.
    @Test(arguments: [(Activation.relu, 1, false), (.leakyReLU(slope: 0.2), 2, false), (.tanh, 1, false),
                      (.sigmoid, 2, false), (.leakyReLU(slope: 0.2), 1, true)])
    func backwardMatchesDifferences(activation: Activation, groups: Int, spectralNorm: Bool) throws {
        let backend = CPUBackend(referenceGEMM: true)
        let model = try Self.model(backend, activation: activation, spectralNorm: spectralNorm)
        model.setMode(.training(groups: groups))
        let rows = 4
        let x = Self.random(rows * model.inputs, seed: 1)
        let c = Self.random(rows * model.outputs, seed: 2)
        let input = try backend.makeBuffer(x)
        let workspace = try Workspace(for: model, capacity: rows)
        try model.forward(input, rows: rows, into: workspace)
        try backend.write(c, to: workspace.outputGradient, offset: 0)
        try model.backward(input, rows: rows, workspace: workspace, parameterGradients: .store, inputGradient: true)

        let reference = try DoubleNet(model, groups: groups)
        let xs = x.map(Double.init), cs = c.map(Double.init)
        func loss(_ net: DoubleNet, _ xs: [Double]) -> Double {
            zip(net.forward(xs, rows: rows), cs).reduce(0.0) { $0 + $1.0 * $1.1 }
        }
        let y = try backend.read(workspace.output)
        #expect(zip(y, reference.forward(xs, rows: rows)).allSatisfy { abs(Double($0) - $1) < 1e-5 })
        let (worst, place) = try Self.worstDiscrepancy(model, reference: reference, xs: xs, workspace: workspace, loss: loss)
        #expect(worst < 1e-2, "largest discrepancy \(worst) at \(place)")
    }

    /// The largest discrepancy, and where, between the gradients a backward stored (every
    /// parameter's, and dL/dx in the workspace) and central differences of `loss` on the
    /// Double model. A tensor whose differences are all below 1e-8 (exactly 0: a bias
    /// right before a normalisation) must be within 1e-4 of 0 instead.
    static func worstDiscrepancy<B: ComputeBackend>(
        _ model: Sequential<B>, reference: DoubleNet, xs: [Double], workspace: Workspace<B>,
        loss: (DoubleNet, [Double]) -> Double
    ) throws -> (Double, String) {
        var worst = 0.0, place = ""
        for (l, layer) in model.layers.enumerated() {
            for (i, parameter) in layer.parameters.enumerated() {
                let numeric = reference.differences(layer: l, parameter: i) { loss($0, xs) }
                let analytic = try model.backend.read(parameter.gradient)
                if numeric.allSatisfy({ abs($0) < 1e-8 }) {
                    #expect(analytic.allSatisfy { abs($0) < 1e-4 }, "layer \(l) \(parameter.name): \(analytic) should be 0")
                    continue
                }
                for (a, n) in zip(analytic, numeric) where discrepancy(Double(a), n) > worst {
                    worst = discrepancy(Double(a), n)
                    place = "layer \(l) \(parameter.name): \(a) vs \(n)"
                }
            }
        }
        let dx = centralDifferences(xs) { loss(reference, $0) }
        for (a, n) in zip(try model.backend.read(workspace.inputGradient), dx) where discrepancy(Double(a), n) > worst {
            worst = discrepancy(Double(a), n)
            place = "input: \(a) vs \(n)"
        }
        return (worst, place)
    }

    /// The same forward and backward on OpenCL agree with the CPU backend (all outputs,
    /// gradients and running averages), at a batch of 10 rows in two groups. A bias right
    /// before batch normalisation has a gradient of exactly 0 in exact arithmetic, so
    /// differences are measured against a floor of 0.05.
    @Test func backendsAgree() throws {
        func run<B: ComputeBackend>(_ backend: B) throws -> [[Float]] {
            let model = try Self.model(backend, activation: .leakyReLU(slope: 0.2))
            let rows = 10
            let input = try backend.makeBuffer(Self.random(rows * model.inputs, seed: 5))
            let workspace = try Workspace(for: model, capacity: rows)
            model.setMode(.training(groups: 2))
            try model.forward(input, rows: rows, into: workspace)
            try backend.write(Self.random(rows * model.outputs, seed: 6), to: workspace.outputGradient, offset: 0)
            try model.backward(input, rows: rows, workspace: workspace, parameterGradients: .store, inputGradient: true)
            var out = [try backend.read(workspace.output), try backend.read(workspace.inputGradient)]
            out += try model.parameters.map { try backend.read($0.gradient) }
            model.setMode(.training(groups: 1))
            try model.forward(input, rows: rows, into: workspace)
            model.setMode(.inference)
            try model.forward(input, rows: rows, into: workspace)
            out.append(try backend.read(workspace.output))
            for layer in model.layers { out += try layer.buffers.map { try backend.read($0.buffer) } }
            return out
        }
        Self.expectClose(try run(CPUBackend(referenceGEMM: true)), try run(try OpenCLBackend(deviceSpec: nil)))
    }

    /// Each tensor of `a` and `b` within 1e-4 of the larger of its largest magnitude and 0.05.
    static func expectClose(_ cpu: [[Float]], _ openCL: [[Float]]) {
        #expect(cpu.count == openCL.count)
        for (index, (a, b)) in zip(cpu, openCL).enumerated() {
            let scale = max(a.map { abs($0) }.max()!, 0.05)
            let worst = zip(a, b).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-4 * scale, "output \(index): \(worst) apart at scale \(scale)")
        }
    }

    /// Inference uses the running averages, which follow PyTorch's update (momentum 0.1,
    /// unbiased variance) from training batches, or average the statistics of batches run
    /// to recompute them.
    @Test func runningAveragesAndInference() throws {
        let backend = CPUBackend()
        let norm = try BatchNorm(backend: backend, shape: ImageShape(height: 2, width: 1, channels: 3), activation: .identity)
        let model = try Sequential(backend: backend, layers: [norm])
        try model.initialize(seed: 1)
        let rows = 5
        let x = Self.random(rows * 6, seed: 9, scale: 3).map { $0 + 2 }
        let input = try backend.makeBuffer(x)
        let workspace = try Workspace(for: model, capacity: rows)
        try model.forward(input, rows: rows, into: workspace)
        try model.forward(input, rows: rows, into: workspace)
        let n = Double(rows * 2)
        for c in 0..<3 {
            let values = stride(from: c, to: x.count, by: 3).map { Double(x[$0]) }
            let mean = values.reduce(0, +) / n
            let unbiased = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
            // Two updates from (0, 1): r = 0.9·(0.9·r₀ + 0.1·s) + 0.1·s.
            let expectedMean = 0.19 * mean, expectedVariance = 0.81 + 0.19 * unbiased
            #expect(abs(Double(try backend.read(norm.runningMean)[c]) - expectedMean) < 1e-5 * max(1, abs(expectedMean)))
            #expect(abs(Double(try backend.read(norm.runningVariance)[c]) - expectedVariance) < 1e-5 * expectedVariance)
        }
        model.setMode(.inference)
        try model.forward(input, rows: rows, into: workspace)
        let y = try backend.read(workspace.output)
        let mean = try backend.read(norm.runningMean), variance = try backend.read(norm.runningVariance)
        for i in x.indices {
            let expected = (x[i] - mean[i % 3]) / (variance[i % 3] + 1e-5).squareRoot()
            #expect(abs(y[i] - expected) < 1e-5 * max(1, abs(expected)))
        }
        // No backward after an inference forward.
        #expect(throws: GANError.self) {
            try model.backward(input, rows: rows, workspace: workspace, parameterGradients: .store, inputGradient: true)
        }
        // Averaging statistics: after batches 0, 1, 2 the running averages are the mean of
        // their means and of their unbiased variances (batch 0 replaces the old ones); the
        // outputs use each batch's own statistics.
        var means = [Double](repeating: 0, count: 3), variances = [Double](repeating: 0, count: 3)
        for batch in 0..<3 {
            let xb = Self.random(rows * 6, seed: 20 + UInt64(batch), scale: Float(1 + batch)).map { $0 + Float(batch) }
            model.setMode(.averagingStatistics(batch: batch))
            try model.forward(try backend.makeBuffer(xb), rows: rows, into: workspace)
            let yb = try backend.read(workspace.output)
            for c in 0..<3 {
                let values = stride(from: c, to: xb.count, by: 3).map { Double(xb[$0]) }
                let mean = values.reduce(0, +) / n
                let biased = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
                means[c] += mean / 3
                variances[c] += biased * n / (n - 1) / 3
                for i in stride(from: c, to: xb.count, by: 3) {
                    let expected = (Double(xb[i]) - mean) / (biased + 1e-5).squareRoot()
                    #expect(abs(Double(yb[i]) - expected) < 1e-4 * max(1, abs(expected)))
                }
            }
        }
        for c in 0..<3 {
            #expect(abs(Double(try backend.read(norm.runningMean)[c]) - means[c]) < 1e-5 * max(1, abs(means[c])))
            #expect(abs(Double(try backend.read(norm.runningVariance)[c]) - variances[c]) < 1e-5 * variances[c])
        }
        #expect(throws: GANError.self) {
            try model.backward(input, rows: rows, workspace: workspace, parameterGradients: .store, inputGradient: true)
        }
    }

    /// The gradient penalty's gradient with respect to every weight of a conv critic
    /// (Conv2D, ConvTranspose2D, Conv2D, Dense; LeakyReLU and ReLU) by the second-order
    /// pass, against central differences of the penalty in Double (∇ₓD by backpropagation
    /// in Double).
    @Test(arguments: [Float(0.05), 40, 400])
    func penaltyGradientThroughConvolutions(outputScale: Float) throws {
        let backend = CPUBackend(referenceGEMM: true)
        let conv = try Conv2D(backend: backend, input: ImageShape(height: 5, width: 5, channels: 1), outputChannels: 3, kernel: 3, stride: 2, padding: 1, activation: .leakyReLU(slope: 0.2))
        let up = try ConvTranspose2D(backend: backend, input: conv.output, outputChannels: 2, kernel: 2, stride: 1, padding: 0, activation: .relu)
        let down = try Conv2D(backend: backend, input: up.output, outputChannels: 2, kernel: 2, stride: 2, padding: 0, activation: .leakyReLU(slope: 0.2))
        let out = try Dense(backend: backend, inputs: down.outputs, outputs: 1, activation: .identity)
        let critic = try Sequential(backend: backend, layers: [conv, up, down, out])
        #expect(critic.gradientPenaltyRefusal == nil)
        try critic.initialize(seed: 17)
        try backend.write(try backend.read(out.weight.value).map { $0 * outputScale * 3 }, to: out.weight.value, offset: 0)
        let rows = 3, weight: Float = 10
        let x = Self.random(rows * critic.inputs, seed: 12, scale: 2)
        let points = try backend.makeBuffer(x)
        let workspace = try Workspace(for: critic, capacity: rows, tangents: true)
        let directions = try backend.makeBuffer(count: rows * critic.inputs)
        let norms = try backend.makeBuffer(count: rows), losses = try backend.makeBuffer(count: rows)
        for parameter in critic.parameters { try backend.fill(parameter.gradient, with: .nan, count: parameter.count) }
        try critic.penaltyGradients(
            at: points, rows: rows, weight: weight, workspace: workspace, directions: directions, norms: norms, losses: losses)

        let reference = try DoubleNet(critic, groups: 1)
        let xs = x.map(Double.init), n = critic.inputs
        func penalty(_ net: DoubleNet) -> Double {
            let gradient = net.inputGradient(xs, rows: rows)
            return (0..<rows).reduce(0.0) { total, r in
                let norm = gradient[(r * n)..<((r + 1) * n)].reduce(0.0) { $0 + $1 * $1 }.squareRoot()
                return total + Double(weight) * (norm - 1) * (norm - 1)
            } / Double(rows)
        }
        let meanNorm = try backend.read(norms).reduce(0.0) { $0 + Double($1) } / Double(rows)
        #expect(discrepancy(try backend.read(losses).reduce(0.0) { $0 + Double($1) } / Double(rows), penalty(reference), floor: 1e-6) < 1e-4)
        var worst = 0.0, place = ""
        for (l, layer) in critic.layers.enumerated() {
            let numeric = reference.differences(layer: l, parameter: 0) { penalty($0) }
            for (a, d) in zip(try backend.read(layer.parameters[0].gradient), numeric) where discrepancy(Double(a), d) > worst {
                worst = discrepancy(Double(a), d)
                place = "layer \(l): \(a) vs \(d)"
            }
            // The biases' term is zero, and not written by the pass.
            for d in reference.differences(layer: l, parameter: 1, { penalty($0) }) { worst = max(worst, discrepancy(0, d)) }
        }
        #expect(worst < 2e-3, "largest discrepancy \(worst) at \(place), mean ‖∇ₓD‖ \(meanNorm)")
        // The scales put ‖∇ₓD‖ near 0, around 1 and far above 1.
        if outputScale < 0.1 { #expect(meanNorm < 0.05) }
        if outputScale == 40 { #expect(meanNorm > 0.5 && meanNorm < 2) }
        if outputScale > 100 { #expect(meanNorm > 5) }
    }

    /// Shapes that do not fit are refused with a reason.
    @Test func badShapesAreRefused() throws {
        let backend = CPUBackend()
        #expect(throws: GANError.self) {
            try Conv2D(backend: backend, input: ImageShape(height: 2, width: 2, channels: 1), outputChannels: 4, kernel: 5, stride: 1, padding: 0, activation: .relu)
        }
        #expect(throws: GANError.self) {
            try ConvTranspose2D(backend: backend, input: ImageShape(height: 3, width: 3, channels: 2), outputChannels: 1, kernel: 2, stride: 1, padding: 2, activation: .relu)
        }
        let conv = try Conv2D(backend: backend, input: ImageShape(height: 6, width: 6, channels: 1), outputChannels: 2, kernel: 4, stride: 2, padding: 1, activation: .relu)
        #expect(conv.output == ImageShape(height: 3, width: 3, channels: 2))
        #expect(throws: GANError.self) {
            try Sequential(backend: backend, layers: [conv, try Dense(backend: backend, inputs: 17, outputs: 1, activation: .identity)])
        }
    }
}
