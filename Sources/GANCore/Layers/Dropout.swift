import ComputeBackend

/// Inverted dropout (Srivastava et al. 2014): in training, each element is kept with
/// probability 1 − rate and scaled by 1/(1 − rate), or zeroed; in inference, the identity.
/// The mask comes from Philox uniforms under the key and counter the model hands the
/// layer before each forward (`setRandomStream`): the same bits on every backend, and a
/// resumed run draws the masks an uninterrupted one would. The backward reuses the
/// forward's mask, so it must follow its own forward.
///
/// Dropout is linear for a fixed mask: its tangent is the mask applied to the tangent,
/// and it has no parameters, so it may sit in a WGAN-GP critic.
public final class Dropout<B: ComputeBackend>: SecondOrderLayer {
    public typealias Backend = B
    public let backend: B
    public let features: Int
    public let rate: Float
    public var activation: Activation { .identity }
    public var parameters: [Parameter<B>] { [] }
    /// The last training forward's uniforms (its mask: kept where ≥ rate).
    public private(set) var uniforms: B.Buffer?
    private var reserved = 0
    private var mode = LayerMode.training(groups: 1)
    private var stream: (key: UInt64, counter: UInt64)?
    /// Whether the last forward dropped (training) or copied (inference).
    private var lastForwardDropped = false

    public init(backend: B, features: Int, rate: Float) throws {
        guard features >= 1 else { throw GANError("dropout needs a non-empty input") }
        guard rate >= 0, rate < 1 else { throw GANError("a dropout rate must be in [0, 1), got \(rate)") }
        self.backend = backend
        self.features = features
        self.rate = rate
    }

    public var inputs: Int { features }
    public var outputs: Int { features }

    public func setMode(_ mode: LayerMode) { self.mode = mode }

    public func reserve(rows: Int) throws {
        guard rows > reserved else { return }
        uniforms = try backend.makeBuffer(count: max(1, rows * features))
        reserved = rows
    }

    public func initialize(seed: UInt64, counter: inout UInt64) throws {}

    public func randomBlocks(rows: Int) -> UInt64 {
        guard case .training = mode else { return 0 }
        return Philox.blocks(rows * features)
    }

    public func setRandomStream(key: UInt64, counter: UInt64) { stream = (key, counter) }

    private func mask(rows: Int) throws -> B.Buffer {
        guard rows <= reserved, let uniforms else {
            throw GANError("dropout ran on \(rows) rows with scratch for \(reserved): reserve(rows:) first")
        }
        return uniforms
    }

    public func forward(_ x: B.Buffer, rows: Int, into y: B.Buffer) throws {
        let count = rows * features
        guard case .training = mode else {
            if x !== y { try backend.copy(x, to: y, count: count) }
            lastForwardDropped = false
            return
        }
        guard let stream else { throw GANError("dropout's forward needs a random stream: setRandomStream first") }
        let uniforms = try mask(rows: rows)
        try backend.uniform(uniforms, count: count, seed: stream.key, counter: stream.counter)
        try backend.dropout(x, uniforms: uniforms, count: count, rate: rate, into: y)
        // One mask per stream position: a second forward without a new stream would
        // repeat it.
        self.stream = nil
        lastForwardDropped = true
    }

    public func backward(
        _ x: B.Buffer, rows: Int, outputGradient dz: B.Buffer,
        inputGradient: (buffer: B.Buffer, below: Activation)?, parameterGradients: ParameterGradients<B>
    ) throws {
        guard let (dx, below) = inputGradient else { return }
        let count = rows * features
        if lastForwardDropped {
            try backend.dropout(dz, uniforms: try mask(rows: rows), count: count, rate: rate, into: dx)
        } else if dx !== dz {
            try backend.copy(dz, to: dx, count: count)
        }
        if below != .identity { try backend.activationBackward(below, y: x, dy: dx, dx: dx, count: count) }
    }

    public func tangentForward(_ dx: B.Buffer, rows: Int, output y: B.Buffer, into dy: B.Buffer) throws {
        let count = rows * features
        if lastForwardDropped {
            try backend.dropout(dx, uniforms: try mask(rows: rows), count: count, rate: rate, into: dy)
        } else {
            try backend.copy(dx, to: dy, count: count)
        }
    }

    public func storeSecondOrderGradient(tangent: B.Buffer, delta: B.Buffer, rows: Int) throws {}
}
