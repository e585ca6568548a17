import ComputeBackend

/// Minibatch standard deviation (Karras et al., ProGAN 2018): the layer appends one
/// feature (one channel, at every position of an image) holding the mean over features
/// of their standard deviation across the batch — a discriminator that sees it can tell a
/// batch of near-copies from a varied one, which punishes mode collapse. The statistics
/// are per group of rows (`LayerMode`): a discriminator update's real and fake halves
/// each have their own, as two calls would. It needs a whole batch, so no WGAN-GP critic
/// (whose penalty is per example) may hold it.
public final class MinibatchStd<B: ComputeBackend>: Layer {
    public typealias Backend = B
    public let backend: B
    public let input: ImageShape
    public let epsilon: Float
    public var activation: Activation { .identity }
    public var parameters: [Parameter<B>] { [] }
    private let mean, variance, value, totals: B.Buffer
    private var scratchInput: B.Buffer?
    private var reserved = 0
    private var groups = 1

    public static var maximumGroups: Int { 2 }

    public init(backend: B, input: ImageShape, epsilon: Float = 1e-8) throws {
        guard input.elements >= 1 else { throw GANError("minibatch-std needs a non-empty input") }
        self.backend = backend
        self.input = input
        self.epsilon = epsilon
        mean = try backend.makeBuffer(count: Self.maximumGroups * input.elements)
        variance = try backend.makeBuffer(count: Self.maximumGroups * input.elements)
        value = try backend.makeBuffer(count: Self.maximumGroups)
        totals = try backend.makeBuffer(count: Self.maximumGroups)
    }

    public var output: ImageShape { ImageShape(height: input.height, width: input.width, channels: input.channels + 1) }
    public var inputs: Int { input.elements }
    public var outputs: Int { output.elements }
    private var spatial: Int { input.height * input.width }

    /// Training: the mode's groups; inference: the batch given as one group.
    public func setMode(_ mode: LayerMode) {
        if case .training(let g) = mode { groups = g } else { groups = 1 }
    }

    public func reserve(rows: Int) throws {
        guard rows > reserved else { return }
        scratchInput = try backend.makeBuffer(count: max(1, rows * inputs))
        reserved = rows
    }

    public func initialize(seed: UInt64, counter: inout UInt64) throws {}

    public func forward(_ x: B.Buffer, rows: Int, into y: B.Buffer) throws {
        guard groups <= Self.maximumGroups, rows % groups == 0 else {
            throw GANError("minibatch-std cannot split \(rows) rows into \(groups) groups")
        }
        try backend.batchNormStatistics(
            x, rows: rows, columns: inputs, groups: groups, mean: mean, variance: variance, running: nil)
        try backend.minibatchStdValue(variance, groups: groups, columns: inputs, epsilon: epsilon, into: value)
        try backend.appendChannel(
            x, rows: rows, spatial: spatial, channels: input.channels, groups: groups, value: value, into: y)
    }

    public func backward(
        _ x: B.Buffer, rows: Int, outputGradient dz: B.Buffer,
        inputGradient: (buffer: B.Buffer, below: Activation)?, parameterGradients: ParameterGradients<B>
    ) throws {
        guard let dx = inputGradient?.buffer ?? scratchInput else {
            throw GANError("minibatch-std ran with no scratch: reserve(rows:) first")
        }
        try backend.minibatchStdBackward(
            x, outputGradient: dz, rows: rows, spatial: spatial, channels: input.channels, groups: groups, mean: mean,
            variance: variance, epsilon: epsilon, totals: totals, inputGradient: dx, below: inputGradient?.below ?? .identity)
    }
}
