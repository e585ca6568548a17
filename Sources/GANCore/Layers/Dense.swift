import ComputeBackend

/// A fully connected layer y = f(x·W + b), W (inputs, outputs) and b (outputs), with
/// its activation f fused into the GEMM that computes it; with spectral normalisation
/// (Miyato et al. 2018), y = f(x·W/σ(W) + b).
///
/// Forward: one GEMM with the bias + activation epilogue. Backward: dx = dz·Wᵀ, an NT
/// GEMM on W itself that applies the activation gradient of the layer below as it
/// stores; dW = xᵀ·dz, a TN GEMM whose epilogue also sums dz's columns into the bias
/// gradient or, with an optimizer that fuses (Adam), takes the step.
public final class Dense<B: ComputeBackend>: SecondOrderLayer {
    public typealias Backend = B
    public let backend: B
    public let inputs: Int
    public let outputs: Int
    public let activation: Activation
    public let weight: Parameter<B>
    public let bias: Parameter<B>
    public let spectralNorm: SpectralNorm<B>?

    /// `names`: the parameters' names in checkpoints (a composite layer's parts need their own).
    public init(
        backend: B, inputs: Int, outputs: Int, activation: Activation, spectralNorm: Bool = false,
        names: (weight: String, bias: String) = ("weight", "bias")
    ) throws {
        guard inputs >= 1, outputs >= 1 else {
            throw GANError("a dense layer needs positive widths, got \(inputs)→\(outputs)")
        }
        try activation.validate()
        self.backend = backend
        self.inputs = inputs
        self.outputs = outputs
        self.activation = activation
        weight = try Parameter(backend: backend, name: names.weight, shape: [inputs, outputs])
        bias = try Parameter(backend: backend, name: names.bias, shape: [outputs])
        self.spectralNorm = spectralNorm ? try SpectralNorm(backend: backend, inputs: inputs, outputs: outputs) : nil
    }

    public var parameters: [Parameter<B>] { [weight, bias] }
    public var buffers: [(name: String, shape: [Int], buffer: B.Buffer)] { spectralNorm?.buffers ?? [] }

    /// The weight the GEMMs use: W, or W/σ under spectral normalisation.
    var effectiveWeight: B.Buffer { spectralNorm?.normalized ?? weight.value }

    public func refreshDerivedState(iterate: Bool) throws {
        try spectralNorm?.refresh(weight.value, iterate: iterate)
    }

    /// PyTorch's default for nn.Linear, which the classic GAN scripts inherit: W and b
    /// uniform in ±1/√inputs.
    public func initialize(seed: UInt64, counter: inout UInt64) throws {
        try initializeUniform(parameters, bound: 1 / Float(inputs).squareRoot(), backend: backend, seed: seed, counter: &counter)
        try spectralNorm?.initialize(seed: seed, counter: &counter)
    }

    public func forward(_ x: B.Buffer, rows: Int, into y: B.Buffer) throws {
        try backend.gemm(
            transposeA: false, transposeB: false, m: rows, n: outputs, k: inputs, alpha: 1, a: x, b: effectiveWeight,
            beta: 0, c: y, epilogue: .biasActivation(bias: bias.value, activation: activation))
    }

    public func backward(
        _ x: B.Buffer, rows: Int, outputGradient dz: B.Buffer,
        inputGradient: (buffer: B.Buffer, below: Activation)?, parameterGradients: ParameterGradients<B>
    ) throws {
        if let (dx, below) = inputGradient {
            // dx (rows, inputs) = dz·Wᵀ, times f' of the layer below, from its output x.
            try backend.gemm(
                transposeA: false, transposeB: true, m: rows, n: inputs, k: outputs, alpha: 1, a: dz, b: effectiveWeight,
                beta: 0, c: dx,
                epilogue: below == .identity ? .none : .activationGradient(output: x, activation: below))
        }
        // dW (inputs, outputs) = xᵀ·dz; db = the column sums of dz, from the same pass.
        try denseParameterGradients(
            backend: backend, a: x, rows: rows, inputs: inputs, outputs: outputs, outputGradient: dz, weight: weight,
            bias: bias, spectralNorm: spectralNorm, parameterGradients: parameterGradients)
    }

    public func tangentForward(_ dx: B.Buffer, rows: Int, output y: B.Buffer, into dy: B.Buffer) throws {
        try backend.gemm(
            transposeA: false, transposeB: false, m: rows, n: outputs, k: inputs, alpha: 1, a: dx, b: effectiveWeight,
            beta: 0, c: dy, epilogue: activation == .identity ? .none : .activationGradient(output: y, activation: activation))
    }

    public func storeSecondOrderGradient(tangent: B.Buffer, delta: B.Buffer, rows: Int) throws {
        try backend.gemm(
            transposeA: true, transposeB: false, m: inputs, n: outputs, k: rows, alpha: 1, a: tangent, b: delta,
            beta: 0, c: weight.gradient)
    }
}

/// Spectral normalisation's state for a weight W (inputs, outputs): the power iteration's
/// unit vectors v (inputs) and u (outputs), σ = vᵀ·W·u ≈ W's largest singular value, and
/// W/σ, which the layer's GEMMs use in place of W.
public final class SpectralNorm<B: ComputeBackend> {
    public let backend: B
    public let inputs: Int
    public let outputs: Int
    public let v, u, sigma, normalized: B.Buffer
    /// Wᵀ·v when σ is recomputed without iterating (u keeps its value).
    private let scratch: B.Buffer

    init(backend: B, inputs: Int, outputs: Int) throws {
        self.backend = backend
        self.inputs = inputs
        self.outputs = outputs
        v = try backend.makeBuffer(count: inputs)
        u = try backend.makeBuffer(count: outputs)
        sigma = try backend.makeBuffer(count: 1)
        normalized = try backend.makeBuffer(count: inputs * outputs)
        scratch = try backend.makeBuffer(count: outputs)
    }

    /// Checkpoint names: the vectors (σ and W/σ follow from them and W).
    var buffers: [(name: String, shape: [Int], buffer: B.Buffer)] {
        [("spectral_norm.v", [inputs], v), ("spectral_norm.u", [outputs], u)]
    }

    /// u and v start as normal draws from Philox, normalised (PyTorch's start).
    func initialize(seed: UInt64, counter: inout UInt64) throws {
        for (vector, count) in [(v, inputs), (u, outputs)] {
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBufferPointer { Philox.fillNormal($0, seed: seed, counter: counter, mean: 0, std: 1) }
            counter += Philox.blocks(count)
            try backend.write(values, to: vector, offset: 0)
            try backend.normalize(vector, count: count, norm: sigma)
        }
    }

    /// With `iterate`: v = W·u/‖W·u‖, u = Wᵀ·v/‖Wᵀ·v‖; either way σ = ‖Wᵀ·v‖ (= vᵀ·W·u for
    /// that u) and W/σ.
    func refresh(_ weight: B.Buffer, iterate: Bool) throws {
        if iterate {
            try backend.gemm(
                transposeA: false, transposeB: false, m: inputs, n: 1, k: outputs, alpha: 1, a: weight, b: u, beta: 0, c: v)
            try backend.normalize(v, count: inputs, norm: sigma)
        }
        let target = iterate ? u : scratch
        try backend.gemm(
            transposeA: true, transposeB: false, m: outputs, n: 1, k: inputs, alpha: 1, a: weight, b: v, beta: 0, c: target)
        try backend.normalize(target, count: outputs, norm: sigma)
        try backend.divide(weight, count: inputs * outputs, by: sigma, into: normalized)
    }

    /// dL/d(W/σ) in `gradient` becomes dL/dW, with u and v held fixed (as PyTorch's
    /// spectral_norm differentiates).
    func chainRule(_ gradient: B.Buffer) throws {
        try backend.spectralNormGradient(
            gradient, normalizedWeight: normalized, rows: inputs, columns: outputs, left: v, right: u, sigma: sigma)
    }
}
