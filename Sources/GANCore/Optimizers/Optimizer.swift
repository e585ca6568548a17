import ComputeBackend

/// An optimizer: the update rule of a network's parameters from their gradients, and
/// the state it keeps per parameter. A value type: a run holds one per network, and a
/// rollback lowers its learning rate.
public protocol Optimizer: Sendable {
    /// The state buffers it keeps per parameter, each the parameter's size (checkpoint
    /// names end in these).
    var stateNames: [String] { get }
    var learningRate: Float { get set }

    /// One update of `parameter` from its stored gradient; `step` counts updates from 1.
    func update<B: ComputeBackend>(_ parameter: Parameter<B>, on backend: B, step: Int) throws

    /// The epilogue that takes this update inside a dense layer's weight-gradient GEMM
    /// (dW = xᵀ·dz, whose column sums of dz are the bias gradient), or nil when the
    /// optimizer has none and the layer stores the gradients and calls `update`.
    func fusedEpilogue<B: ComputeBackend>(
        weight: Parameter<B>, bias: Parameter<B>, step: Int, keepGradients: Bool
    ) -> GEMMEpilogue<B.Buffer>?
}

extension Optimizer {
    public func fusedEpilogue<B: ComputeBackend>(
        weight: Parameter<B>, bias: Parameter<B>, step: Int, keepGradients: Bool
    ) -> GEMMEpilogue<B.Buffer>? { nil }

    /// Makes the state buffers of every parameter, zeroed.
    func attach<B: ComputeBackend>(to parameters: [Parameter<B>], on backend: B) throws {
        for parameter in parameters {
            parameter.state = try stateNames.map { name in
                let buffer = try backend.makeBuffer(count: parameter.count)
                try backend.fill(buffer, with: 0, count: parameter.count)
                return (name, buffer)
            }
        }
    }
}

/// Adam (Kingma & Ba) with PyTorch's bias correction; fused into the weight-gradient
/// GEMM where the backend fuses it (the `adamStep` epilogue).
public struct Adam: Optimizer {
    public var hyper: AdamHyperparameters
    public init(_ hyper: AdamHyperparameters) { self.hyper = hyper }

    public var stateNames: [String] { ["m", "v"] }
    public var learningRate: Float {
        get { hyper.learningRate }
        set { hyper.learningRate = newValue }
    }

    public func update<B: ComputeBackend>(_ parameter: Parameter<B>, on backend: B, step: Int) throws {
        try backend.adamStep(
            parameters: parameter.value, gradients: parameter.gradient, m: parameter.state("m"), v: parameter.state("v"),
            count: parameter.count, hyper: hyper, step: step)
    }

    public func fusedEpilogue<B: ComputeBackend>(
        weight: Parameter<B>, bias: Parameter<B>, step: Int, keepGradients: Bool
    ) -> GEMMEpilogue<B.Buffer>? {
        .adamStep(AdamEpilogue(
            weight: weight.value, weightM: weight.state("m"), weightV: weight.state("v"), bias: bias.value,
            biasGradient: bias.gradient, biasM: bias.state("m"), biasV: bias.state("v"), hyper: hyper, step: step,
            keepGradients: keepGradients))
    }
}

/// RMSProp (PyTorch's, no momentum): the WGAN paper's optimizer for the critic and the
/// generator.
public struct RMSProp: Optimizer {
    public var hyper: RMSPropHyperparameters
    public init(_ hyper: RMSPropHyperparameters) { self.hyper = hyper }

    public var stateNames: [String] { ["square_average"] }
    public var learningRate: Float {
        get { hyper.learningRate }
        set { hyper.learningRate = newValue }
    }

    public func update<B: ComputeBackend>(_ parameter: Parameter<B>, on backend: B, step: Int) throws {
        try backend.rmspropStep(
            parameters: parameter.value, gradients: parameter.gradient, squareAverage: parameter.state("square_average"),
            count: parameter.count, hyper: hyper)
    }
}

/// Stochastic gradient descent with (PyTorch's) momentum: v = μ·v + g; p −= lr·v.
public struct SGD: Optimizer {
    public var learningRate: Float
    public var momentum: Float
    public init(learningRate: Float, momentum: Float) {
        self.learningRate = learningRate
        self.momentum = momentum
    }

    public var stateNames: [String] { ["velocity"] }

    public func update<B: ComputeBackend>(_ parameter: Parameter<B>, on backend: B, step: Int) throws {
        try backend.sgdStep(
            parameters: parameter.value, gradients: parameter.gradient, velocity: parameter.state("velocity"),
            count: parameter.count, learningRate: learningRate, momentum: momentum)
    }
}

/// The optimizers `--optimizer` names.
public enum OptimizerKind: String, Codable, CaseIterable, Sendable {
    case adam
    case rmsprop
    case sgd
}
