import ComputeBackend

/// The classes a conditional model may have: 2 to this.
public let maximumConditionClasses = 1000

/// A conditional GAN's class input (Mirza & Osindero 2014): the layer appends each row's
/// class, one-hot, to its input — as `classes` more features of a dense input, or as
/// `classes` more channels at every position of an image (the concatenated-label
/// conditioning of conditional DCGANs). Packed (PacGAN), a row is a pack of `group`
/// examples and gets their `group` one-hot vectors, in pack order.
///
/// The classes are not an input of the layer's forward but a buffer the model hands it
/// before each forward (`Sequential.setConditions`): rows × (classes·group) floats, as
/// the trainer or the sampler wrote them. The layer has no parameters; the gradient
/// flows back to the input's channels only. Its tangent is the input's with zeros for
/// the classes (they do not move with the input), so a WGAN-GP critic may hold it.
public final class Condition<B: ComputeBackend>: SecondOrderLayer {
    public typealias Backend = B
    public let backend: B
    public let input: ImageShape
    public let classes: Int
    public let group: Int
    public var activation: Activation { .identity }
    public var parameters: [Parameter<B>] { [] }
    /// The rows' classes, one-hot (rows × classes·group), for the next forward.
    public private(set) var conditions: B.Buffer?
    /// Zeros: the classes' tangent.
    private var zeros: B.Buffer?
    private var reserved = 0

    public init(backend: B, input: ImageShape, classes: Int, group: Int = 1) throws {
        guard input.elements >= 1 else { throw GANError("a condition layer needs a non-empty input") }
        guard (2...maximumConditionClasses).contains(classes) else {
            throw GANError("a conditional model needs 2 to \(maximumConditionClasses) classes, got \(classes)")
        }
        guard group >= 1 else { throw GANError("a condition layer's group must be at least 1") }
        self.backend = backend
        self.input = input
        self.classes = classes
        self.group = group
    }

    /// Values appended per row.
    public var extra: Int { classes * group }
    public var output: ImageShape { ImageShape(height: input.height, width: input.width, channels: input.channels + extra) }
    public var inputs: Int { input.elements }
    public var outputs: Int { output.elements }
    private var spatial: Int { input.height * input.width }

    /// The classes of the next forward's rows (see `conditions`).
    public func setConditions(_ buffer: B.Buffer) { conditions = buffer }

    public func reserve(rows: Int) throws {
        guard rows > reserved else { return }
        let made = try backend.makeBuffer(count: max(1, rows * extra))
        try backend.fill(made, with: 0, count: max(1, rows * extra))
        zeros = made
        reserved = rows
    }

    public func initialize(seed: UInt64, counter: inout UInt64) throws {}

    public func forward(_ x: B.Buffer, rows: Int, into y: B.Buffer) throws {
        guard let conditions else { throw GANError("a conditional model ran without classes: setConditions first") }
        try backend.appendChannels(
            x, rows: rows, spatial: spatial, channels: input.channels, values: conditions, extra: extra, inverse: false,
            into: y)
    }

    public func backward(
        _ x: B.Buffer, rows: Int, outputGradient dz: B.Buffer,
        inputGradient: (buffer: B.Buffer, below: Activation)?, parameterGradients: ParameterGradients<B>
    ) throws {
        guard let (dx, below) = inputGradient else { return }
        try backend.appendChannels(
            dz, rows: rows, spatial: spatial, channels: input.channels, values: dz, extra: extra, inverse: true, into: dx)
        if below != .identity {
            try backend.activationBackward(below, y: x, dy: dx, dx: dx, count: rows * inputs)
        }
    }

    public func tangentForward(_ dx: B.Buffer, rows: Int, output y: B.Buffer, into dy: B.Buffer) throws {
        guard let zeros, rows <= reserved else {
            throw GANError("a condition layer ran on \(rows) rows with scratch for \(reserved): reserve(rows:) first")
        }
        try backend.appendChannels(
            dx, rows: rows, spatial: spatial, channels: input.channels, values: zeros, extra: extra, inverse: false, into: dy)
    }

    public func storeSecondOrderGradient(tangent: B.Buffer, delta: B.Buffer, rows: Int) throws {}
}
