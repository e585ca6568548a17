import CPUBackend
import ComputeBackend
import GANCore
import OpenCLBackend
import Testing

/// A dense MLP in Double, from weights read off a model: the function that the gradient
/// checks differentiate numerically.
struct DoubleMLP {
    var weights: [[Double]]
    var biases: [[Double]]
    let widths: [Int]
    let activations: [Activation]
    /// Spectral normalisation's fixed vectors (v, u) per layer, when it has them: the layer
    /// then uses W/σ with σ = vᵀ·W·u.
    let spectral: [([Double], [Double])?]

    init<B: ComputeBackend>(_ model: Sequential<B>) throws {
        widths = [model.inputs] + model.layers.map { $0.outputs }
        activations = model.layers.map { $0.activation }
        weights = try model.layers.map { try model.backend.read(($0 as! Dense<B>).weight.value).map(Double.init) }
        biases = try model.layers.map { try model.backend.read(($0 as! Dense<B>).bias.value).map(Double.init) }
        spectral = try model.layers.map { layer in
            try (layer as! Dense<B>).spectralNorm.map {
                (try model.backend.read($0.v).map(Double.init), try model.backend.read($0.u).map(Double.init))
            }
        }
    }

    /// Layer l's weight as the layer uses it.
    func effectiveWeight(_ l: Int) -> [Double] {
        guard let (v, u) = spectral[l] else { return weights[l] }
        let m = widths[l + 1]
        var sigma = 0.0
        for i in v.indices { for j in u.indices { sigma += v[i] * weights[l][i * m + j] * u[j] } }
        return weights[l].map { $0 / sigma }
    }

    /// Each layer's pre-activation z and output y for one row x.
    func forward(_ x: [Double]) -> (z: [[Double]], y: [[Double]]) {
        var h = x, zs: [[Double]] = [], ys: [[Double]] = []
        for l in 0..<weights.count {
            let (n, m) = (widths[l], widths[l + 1])
            let w = effectiveWeight(l)
            let z = (0..<m).map { j in biases[l][j] + (0..<n).reduce(0.0) { $0 + h[$1] * w[$1 * m + j] } }
            h = z.map { CPUReference.activate(activations[l], $0) }
            zs.append(z)
            ys.append(h)
        }
        return (zs, ys)
    }

    /// ∇ₓ of the single output at x (of Σ_j weights[j]·output[j] with `outputWeights`).
    func inputGradient(_ x: [Double], outputWeights: [Double] = [1.0]) -> [Double] {
        let (_, ys) = forward(x)
        var delta = outputWeights
        for l in stride(from: weights.count - 1, through: 0, by: -1) {
            let (n, m) = (widths[l], widths[l + 1])
            var below = (0..<n).map { i in (0..<m).reduce(0.0) { $0 + delta[$1] * weights[l][i * m + $1] } }
            if l > 0 { below = below.indices.map { below[$0] * CPUReference.derivative(activations[l - 1], output: ys[l - 1][$0]) } }
            delta = below
        }
        return delta
    }

    /// Central differences of `f` with respect to layer `layer`'s weights (or biases).
    func differences(layer: Int, biases: Bool, _ f: (DoubleMLP) -> Double) -> [Double] {
        centralDifferences(biases ? self.biases[layer] : weights[layer]) { values in
            var moved = self
            if biases { moved.biases[layer] = values } else { moved.weights[layer] = values }
            return f(moved)
        }
    }

    /// The mean gradient penalty λ(‖∇ₓD‖ − 1)² over the rows.
    func penalty(_ rows: [[Double]], weight: Double) -> Double {
        rows.reduce(0.0) { total, x in
            let norm = inputGradient(x).reduce(0.0) { $0 + $1 * $1 }.squareRoot()
            return total + weight * (norm - 1) * (norm - 1)
        } / Double(rows.count)
    }
}

/// Central differences of `f` with respect to each element of `values`.
func centralDifferences(_ values: [Double], step: Double = 1e-6, _ f: ([Double]) -> Double) -> [Double] {
    var moved = values
    return values.indices.map { i in
        moved[i] = values[i] + step
        let up = f(moved)
        moved[i] = values[i] - step
        let down = f(moved)
        moved[i] = values[i]
        return (up - down) / (2 * step)
    }
}

/// |a − n| relative to the larger of the two and of `floor` (gradients near zero are
/// compared absolutely).
func discrepancy(_ analytic: Double, _ numeric: Double, floor: Double = 1e-3) -> Double {
    abs(analytic - numeric) / max(abs(analytic), abs(numeric), floor)
}

@Suite("Layers: gradients against finite differences in Double")
struct LayerGradientTests {
    static func randomValues(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in (Float(random.next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
    }

    /// Sequential's backward (Dense layers with every activation, the activation of the
    /// layer below fused into each input-gradient GEMM) gives dL/dW, dL/db and dL/dx of
    /// L = Σ c ⊙ y for random c, as finite differences of the Double model do.
    /// With spectral normalisation the weights' gradients go through σ = vᵀ·W·u too.
    @Test(arguments: [(Activation.relu, false), (.leakyReLU(slope: 0.2), false), (.tanh, false), (.sigmoid, false),
                      (.leakyReLU(slope: 0.2), true), (.tanh, true)])
    func sequentialBackward(hidden: Activation, spectralNorm: Bool) throws {
        let backend = CPUBackend(referenceGEMM: true)
        let model = try Sequential(
            backend: backend, shape: MLPShape(widths: [5, 7, 6, 3], hidden: hidden, output: .tanh), spectralNorm: spectralNorm)
        try model.initialize(seed: 11)
        for _ in 0..<3 { try model.refreshDerivedState(iterate: true) }
        let rows = 4
        let x = Self.randomValues(rows * 5, seed: 1)
        let c = Self.randomValues(rows * 3, seed: 2)
        let input = try backend.makeBuffer(x)
        let workspace = try Workspace(for: model, capacity: rows)
        try model.forward(input, rows: rows, into: workspace)
        try backend.write(c, to: workspace.outputGradient, offset: 0)
        try model.backward(input, rows: rows, workspace: workspace, parameterGradients: .store, inputGradient: true)

        let reference = try DoubleMLP(model)
        let xs = x.map(Double.init)
        let cs = c.map(Double.init)
        func loss(_ reference: DoubleMLP, _ xs: [Double]) -> Double {
            (0..<rows).reduce(0.0) { total, r in
                let y = reference.forward(Array(xs[(r * 5)..<((r + 1) * 5)])).y.last!
                return total + (0..<3).reduce(0.0) { $0 + cs[r * 3 + $1] * y[$1] }
            }
        }
        var worst = 0.0
        for l in 0..<model.layers.count {
            let dense = model.layers[l] as! Dense<CPUBackend>
            let dw = reference.differences(layer: l, biases: false) { loss($0, xs) }
            let db = reference.differences(layer: l, biases: true) { loss($0, xs) }
            for (a, n) in zip(try backend.read(dense.weight.gradient), dw) { worst = max(worst, discrepancy(Double(a), n)) }
            for (a, n) in zip(try backend.read(dense.bias.gradient), db) { worst = max(worst, discrepancy(Double(a), n)) }
        }
        let dx = centralDifferences(xs) { loss(reference, $0) }
        for (a, n) in zip(try backend.read(workspace.inputGradient), dx) { worst = max(worst, discrepancy(Double(a), n)) }
        #expect(worst < 2e-3, "largest discrepancy \(worst)")
    }

    /// The gradient penalty's gradient with respect to every critic weight and bias (the
    /// second-order pass) against finite differences of the penalty computed in Double,
    /// for critics whose ‖∇ₓD‖ is near 0, around 1 and far above 1.
    @Test(arguments: [(Activation.relu, Float(1)), (.leakyReLU(slope: 0.2), 1), (.leakyReLU(slope: 0.2), 0.02),
                      (.relu, 0.05), (.leakyReLU(slope: 0.2), 60), (.relu, 90)])
    func penaltyGradient(hidden: Activation, outputScale: Float) throws {
        let backend = CPUBackend(referenceGEMM: true)
        let critic = try Sequential(backend: backend, shape: MLPShape(widths: [6, 9, 7, 1], hidden: hidden, output: .identity))
        try critic.initialize(seed: 5)
        // Scaling the output layer scales ∇ₓD: norms near 0 or far above 1.
        let last = critic.layers.last as! Dense<CPUBackend>
        try backend.write(try backend.read(last.weight.value).map { $0 * outputScale }, to: last.weight.value, offset: 0)
        let rows = 5, weight: Float = 10
        let x = Self.randomValues(rows * 6, seed: 3, scale: 2)
        let points = try backend.makeBuffer(x)
        let workspace = try Workspace(for: critic, capacity: rows, tangents: true)
        let directions = try backend.makeBuffer(count: rows * 6)
        let norms = try backend.makeBuffer(count: rows), losses = try backend.makeBuffer(count: rows)
        for parameter in critic.parameters { try backend.fill(parameter.gradient, with: .nan, count: parameter.count) }
        try critic.penaltyGradients(
            at: points, rows: rows, weight: weight, workspace: workspace, directions: directions, norms: norms, losses: losses)

        let reference = try DoubleMLP(critic)
        let xs = (0..<rows).map { r in x[(r * 6)..<((r + 1) * 6)].map(Double.init) }
        let meanNorm = try backend.read(norms).reduce(0.0) { $0 + Double($1) } / Double(rows)
        let penalty = try backend.read(losses).reduce(0.0) { $0 + Double($1) } / Double(rows)
        #expect(discrepancy(penalty, reference.penalty(xs, weight: Double(weight)), floor: 1e-6) < 1e-4)
        var worst = 0.0
        for l in 0..<critic.layers.count {
            let dense = critic.layers[l] as! Dense<CPUBackend>
            let dw = reference.differences(layer: l, biases: false) { $0.penalty(xs, weight: Double(weight)) }
            let db = reference.differences(layer: l, biases: true) { $0.penalty(xs, weight: Double(weight)) }
            for (a, n) in zip(try backend.read(dense.weight.gradient), dw) { worst = max(worst, discrepancy(Double(a), n)) }
            // The biases' term is zero (not written by the pass): so must the differences be.
            for n in db { worst = max(worst, discrepancy(0, n)) }
        }
        #expect(worst < 2e-3, "largest discrepancy \(worst) at mean ‖∇ₓD‖ \(meanNorm)")
        // The scales did what they are for.
        if outputScale < 0.1 { #expect(meanNorm < 0.05) }
        if outputScale > 5 { #expect(meanNorm > 2) }
    }

    /// The second-order pass on OpenCL (its GEMMs, the penalty kernel) gives the CPU
    /// backend's weight gradients, norms and penalties, on widths past PoCL's blocks.
    @Test func penaltyGradientsAgreeAcrossBackends() throws {
        func run<B: ComputeBackend>(_ backend: B) throws -> [[Float]] {
            let critic = try Sequential(backend: backend, shape: MLPShape(widths: [37, 70, 19, 1], hidden: .leakyReLU(slope: 0.2), output: .identity))
            try critic.initialize(seed: 8)
            let rows = 13
            let points = try backend.makeBuffer(Self.randomValues(rows * 37, seed: 4))
            let workspace = try Workspace(for: critic, capacity: rows, tangents: true)
            let directions = try backend.makeBuffer(count: rows * 37)
            let norms = try backend.makeBuffer(count: rows), losses = try backend.makeBuffer(count: rows)
            try critic.penaltyGradients(
                at: points, rows: rows, weight: 10, workspace: workspace, directions: directions, norms: norms, losses: losses)
            return try [backend.read(norms), backend.read(losses)]
                + critic.layers.map { try backend.read(($0 as! Dense<B>).weight.gradient) }
        }
        let cpu = try run(CPUBackend(referenceGEMM: true))
        let openCL = try run(try OpenCLBackend(deviceSpec: nil))
        for (index, (a, b)) in zip(cpu, openCL).enumerated() {
            let scale = a.map { abs($0) }.max()!
            let worst = zip(a, b).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-4 * scale, "output \(index): \(worst) apart at scale \(scale)")
        }
    }

    /// The power iteration finds the largest singular value: σ after 60 iterations against
    /// a Double power iteration of WᵀW from another start.
    @Test func spectralNormFindsTheLargestSingularValue() throws {
        let backend = CPUBackend()
        let layer = try Dense(backend: backend, inputs: 23, outputs: 11, activation: .identity, spectralNorm: true)
        var counter: UInt64 = 0
        try layer.initialize(seed: 3, counter: &counter)
        for _ in 0..<60 { try layer.refreshDerivedState(iterate: true) }
        let sigma = Double(try backend.read(layer.spectralNorm!.sigma)[0])
        let w = try backend.read(layer.weight.value).map(Double.init)
        var x = [Double](repeating: 1, count: 11)
        var largest = 0.0
        for _ in 0..<500 {
            let wx = (0..<23).map { i in (0..<11).reduce(0.0) { $0 + w[i * 11 + $1] * x[$1] } }
            let y = (0..<11).map { j in (0..<23).reduce(0.0) { $0 + w[$1 * 11 + j] * wx[$1] } }
            largest = y.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
            x = y.map { $0 / largest }
        }
        #expect(abs(sigma - largest.squareRoot()) < 1e-4 * largest.squareRoot(), "σ \(sigma), largest singular value \(largest.squareRoot())")
        let normalized = try backend.read(layer.spectralNorm!.normalized)
        #expect(zip(normalized, w).allSatisfy { abs(Double($0) - $1 / sigma) <= 1e-6 * max(abs($1 / sigma), 1) })
    }

    /// A critic the second-order pass cannot take is refused with a reason.
    @Test func penaltyRefusesCurvedActivations() throws {
        let backend = CPUBackend()
        let tanh = try Sequential(backend: backend, shape: MLPShape(widths: [4, 3, 1], hidden: .tanh, output: .identity))
        #expect(tanh.gradientPenaltyRefusal?.contains("piecewise-linear") == true)
        let squashed = try Sequential(backend: backend, shape: MLPShape(widths: [4, 3, 1], hidden: .relu, output: .sigmoid))
        #expect(squashed.gradientPenaltyRefusal?.contains("one linear output") == true)
        let fine = try Sequential(backend: backend, shape: MLPShape(widths: [4, 3, 1], hidden: .relu, output: .identity))
        #expect(fine.gradientPenaltyRefusal == nil)
    }
}
