import ComputeBackend

/// Layer normalisation (Ba et al. 2016) followed by an activation: y = f(γ·x̂ + β) with
/// x̂ = (x − mean)/√(variance + ε) over each example's features — a dense layer's
/// outputs, or a convolution's whole height × width × channels image — and γ, β per
/// element (PyTorch's `nn.LayerNorm` over those dimensions). It has no batch statistics,
/// so each example is normalised alone: the normalisation for critics whose penalty is per
/// example (WGAN-GP), where batch normalisation is wrong. γ and β are named weight and
/// bias, as in PyTorch's checkpoints.
public final class LayerNorm<B: ComputeBackend>: Layer {
    public typealias Backend = B
    public let backend: B
    public let shape: ImageShape
    public let activation: Activation
    public let epsilon: Float
    public let gamma: Parameter<B>
    public let beta: Parameter<B>
    /// The last forward's per-row statistics, the parameter gradients when they are not
    /// wanted, and dx when there is none.
    private var mean, variance, scratchInput: B.Buffer?
    private let scratchGamma, scratchBeta: B.Buffer
    private var reserved = 0

    public init(backend: B, shape: ImageShape, activation: Activation, epsilon: Float = 1e-5) throws {
        guard shape.elements >= 1 else { throw GANError("layer normalisation needs a non-empty input, got \(shape)") }
        try activation.validate()
        self.backend = backend
        self.shape = shape
        self.activation = activation
        self.epsilon = epsilon
        gamma = try Parameter(backend: backend, name: "weight", shape: [shape.elements])
        beta = try Parameter(backend: backend, name: "bias", shape: [shape.elements])
        scratchGamma = try backend.makeBuffer(count: shape.elements)
        scratchBeta = try backend.makeBuffer(count: shape.elements)
    }

    public var inputs: Int { shape.elements }
    public var outputs: Int { shape.elements }
    public var parameters: [Parameter<B>] { [gamma, beta] }

    public func reserve(rows: Int) throws {
        guard rows > reserved else { return }
        mean = try backend.makeBuffer(count: max(1, rows))
        variance = try backend.makeBuffer(count: max(1, rows))
        scratchInput = try backend.makeBuffer(count: max(1, rows * inputs))
        reserved = rows
    }

    private func statistics(rows: Int) throws -> (mean: B.Buffer, variance: B.Buffer) {
        guard rows <= reserved, let mean, let variance else {
            throw GANError("layer normalisation ran on \(rows) rows with scratch for \(reserved): reserve(rows:) first")
        }
        return (mean, variance)
    }

    /// γ = 1 and β = 0 (PyTorch's); draws nothing.
    public func initialize(seed: UInt64, counter: inout UInt64) throws {
        try backend.fill(gamma.value, with: 1, count: shape.elements)
        try backend.fill(beta.value, with: 0, count: shape.elements)
    }

    public func forward(_ x: B.Buffer, rows: Int, into y: B.Buffer) throws {
        let (mean, variance) = try statistics(rows: rows)
        try backend.layerNormForward(
            x, rows: rows, columns: inputs, epsilon: epsilon, gamma: gamma.value, beta: beta.value, activation: activation,
            mean: mean, variance: variance, into: y)
    }

    public func backward(
        _ x: B.Buffer, rows: Int, outputGradient dz: B.Buffer,
        inputGradient: (buffer: B.Buffer, below: Activation)?, parameterGradients: ParameterGradients<B>
    ) throws {
        let (mean, variance) = try statistics(rows: rows)
        let wanted: Bool
        switch parameterGradients {
        case .none: wanted = false
        case .store, .step: wanted = true
        }
        if case .step(_, _, true, _) = parameterGradients {
            throw GANError("layer normalisation cannot add to stored gradients (it has no gradient-penalty pass)")
        }
        guard let dx = inputGradient?.buffer ?? scratchInput else {
            throw GANError("layer normalisation ran with no scratch: reserve(rows:) first")
        }
        try backend.layerNormBackward(
            x, outputGradient: dz, rows: rows, columns: inputs, mean: mean, variance: variance, epsilon: epsilon,
            gamma: gamma.value, gammaGradient: wanted ? gamma.gradient : scratchGamma,
            betaGradient: wanted ? beta.gradient : scratchBeta, inputGradient: dx, below: inputGradient?.below ?? .identity)
        if case .step(let optimizer, let step, _, _) = parameterGradients {
            for parameter in parameters { try optimizer.update(parameter, on: backend, step: step) }
        }
    }
}
