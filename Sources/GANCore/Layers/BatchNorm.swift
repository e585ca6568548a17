import ComputeBackend

/// Batch normalisation (Ioffe & Szegedy) followed by an activation: y = f(γ·x̂ + β) with
/// x̂ = (x − mean)/√(variance + ε) per channel. A dense layer's features are its channels
/// (spatial 1×1); after a convolution the statistics of a channel run over batch·H·W
/// (NHWC makes both a column reduction over rows·H·W rows of `channels` columns).
///
/// Training mode uses the batch's statistics (per group of rows, see `LayerMode`) and
/// keeps PyTorch's running averages (momentum 0.1, unbiased variance) from one-group
/// batches; inference mode uses the running averages. γ and β are named weight and bias,
/// the averages running_mean and running_var, as in PyTorch's checkpoints.
public final class BatchNorm<B: ComputeBackend>: Layer {
    public typealias Backend = B
    public let backend: B
    public let shape: ImageShape
    public let activation: Activation
    public let epsilon: Float
    public let momentum: Float
    public let gamma: Parameter<B>
    public let beta: Parameter<B>
    public let runningMean, runningVariance: B.Buffer
    /// The last training forward's statistics (2 groups at most), and where the
    /// parameter gradients go when they are not wanted, and dx when there is none.
    private let mean, variance, scratchGamma, scratchBeta: B.Buffer
    private var scratchInput: B.Buffer?
    private var reserved = 0
    public private(set) var mode = LayerMode.training(groups: 1)
    /// The statistics the last forward used: the batch's, or the running ones.
    private var lastForwardUsedBatch = true

    public static var maximumGroups: Int { 2 }

    /// `names`: the parameters' names in checkpoints (a composite layer's parts need their own).
    public init(
        backend: B, shape: ImageShape, activation: Activation, epsilon: Float = 1e-5, momentum: Float = 0.1,
        names: (weight: String, bias: String) = ("weight", "bias")
    ) throws {
        guard shape.elements >= 1 else { throw GANError("batch normalisation needs a non-empty input, got \(shape)") }
        try activation.validate()
        self.backend = backend
        self.shape = shape
        self.activation = activation
        self.epsilon = epsilon
        self.momentum = momentum
        gamma = try Parameter(backend: backend, name: names.weight, shape: [shape.channels])
        beta = try Parameter(backend: backend, name: names.bias, shape: [shape.channels])
        runningMean = try backend.makeBuffer(count: shape.channels)
        runningVariance = try backend.makeBuffer(count: shape.channels)
        mean = try backend.makeBuffer(count: Self.maximumGroups * shape.channels)
        variance = try backend.makeBuffer(count: Self.maximumGroups * shape.channels)
        scratchGamma = try backend.makeBuffer(count: shape.channels)
        scratchBeta = try backend.makeBuffer(count: shape.channels)
    }

    public var inputs: Int { shape.elements }
    public var outputs: Int { shape.elements }
    public var parameters: [Parameter<B>] { [gamma, beta] }
    public var buffers: [(name: String, shape: [Int], buffer: B.Buffer)] {
        [("running_mean", [shape.channels], runningMean), ("running_var", [shape.channels], runningVariance)]
    }
    private var spatial: Int { shape.height * shape.width }

    public func setMode(_ mode: LayerMode) { self.mode = mode }

    public func reserve(rows: Int) throws {
        guard rows > reserved else { return }
        scratchInput = try backend.makeBuffer(count: max(1, rows * inputs))
        reserved = rows
    }

    /// γ = 1, β = 0, running mean 0 and variance 1 (PyTorch's); draws nothing.
    public func initialize(seed: UInt64, counter: inout UInt64) throws {
        try backend.fill(gamma.value, with: 1, count: shape.channels)
        try backend.fill(beta.value, with: 0, count: shape.channels)
        try backend.fill(runningMean, with: 0, count: shape.channels)
        try backend.fill(runningVariance, with: 1, count: shape.channels)
    }

    public func forward(_ x: B.Buffer, rows: Int, into y: B.Buffer) throws {
        let n = rows * spatial
        switch mode {
        case .training(let groups):
            guard groups >= 1, groups <= Self.maximumGroups, rows % groups == 0 else {
                throw GANError("batch normalisation cannot split \(rows) rows into \(groups) groups")
            }
            try normalizeByBatch(x, rows: n, groups: groups, running: groups == 1 ? (runningMean, runningVariance, momentum) : nil, into: y)
            lastForwardUsedBatch = true
        case .batchStatistics:
            try normalizeByBatch(x, rows: n, groups: 1, running: nil, into: y)
            lastForwardUsedBatch = false
        case .averagingStatistics(let batch):
            try normalizeByBatch(x, rows: n, groups: 1, running: (runningMean, runningVariance, 1 / Float(batch + 1)), into: y)
            lastForwardUsedBatch = false
        case .inference:
            try backend.batchNormForward(
                x, rows: n, columns: shape.channels, groups: 1, mean: runningMean, variance: runningVariance,
                epsilon: epsilon, gamma: gamma.value, beta: beta.value, activation: activation, into: y)
            lastForwardUsedBatch = false
        }
    }

    /// y = f(γ·(x − μ)/σ + β) with each group's own statistics, moving the running
    /// averages when `running` is given.
    private func normalizeByBatch(
        _ x: B.Buffer, rows n: Int, groups: Int, running: (mean: B.Buffer, variance: B.Buffer, momentum: Float)?,
        into y: B.Buffer
    ) throws {
        try backend.batchNormStatistics(
            x, rows: n, columns: shape.channels, groups: groups, mean: mean, variance: variance, running: running)
        try backend.batchNormForward(
            x, rows: n, columns: shape.channels, groups: groups, mean: mean, variance: variance, epsilon: epsilon,
            gamma: gamma.value, beta: beta.value, activation: activation, into: y)
    }

    public func backward(
        _ x: B.Buffer, rows: Int, outputGradient dz: B.Buffer,
        inputGradient: (buffer: B.Buffer, below: Activation)?, parameterGradients: ParameterGradients<B>
    ) throws {
        guard case .training(let groups) = mode, lastForwardUsedBatch else {
            throw GANError("batch normalisation's backward needs a training-mode forward")
        }
        let wanted: Bool
        switch parameterGradients {
        case .none: wanted = false
        case .store, .step: wanted = true
        }
        if case .step(_, _, true, _) = parameterGradients {
            throw GANError("batch normalisation cannot add to stored gradients (it has no gradient-penalty pass)")
        }
        // With no input gradient wanted (a first layer), dx goes to the layer's scratch.
        let dx: B.Buffer
        if let given = inputGradient?.buffer {
            dx = given
        } else {
            guard let scratchInput, rows <= reserved else {
                throw GANError("batch normalisation ran on \(rows) rows with scratch for \(reserved): reserve(rows:) first")
            }
            dx = scratchInput
        }
        try backend.batchNormBackward(
            x, outputGradient: dz, rows: rows * spatial, columns: shape.channels, groups: groups, mean: mean,
            variance: variance, epsilon: epsilon, gamma: gamma.value,
            gammaGradient: wanted ? gamma.gradient : scratchGamma, betaGradient: wanted ? beta.gradient : scratchBeta,
            inputGradient: dx, below: inputGradient?.below ?? .identity)
        if case .step(let optimizer, let step, _, _) = parameterGradients {
            for parameter in parameters { try optimizer.update(parameter, on: backend, step: step) }
        }
    }
}
