import ComputeBackend

/// A tabular generator's output head (CTGAN's): tanh on each scalar column and a softmax
/// over each one-hot span, at `temperature` (CTGAN's Gumbel-softmax uses 0.2; the noise is
/// not part of this layer). The spans tile the features: `TableTransform.spans`.
///
/// Forward: `spanActivation`. Backward: the forward is recomputed from x into scratch (the
/// backward is handed x, not y), then dx = Jᵀ·dz by `spanActivationBackward` — a tanh
/// column's dz·(1 − y²), a softmax span's y ⊙ (dz − ⟨y, dz⟩)/τ — and the gradient of the
/// activation below. No parameters.
public final class SpanHead<B: ComputeBackend>: Layer {
    public typealias Backend = B
    public let backend: B
    public let features: Int
    public let spans: [TableTransform.Span]
    public let temperature: Float
    public var activation: Activation { .identity }
    public var parameters: [Parameter<B>] { [] }
    /// (start, count, kind) per span, as the kernels read them.
    private let table: B.Buffer
    private var scratch: B.Buffer?
    private var reserved = 0

    public init(backend: B, features: Int, spans: [TableTransform.Span], temperature: Float = 1) throws {
        guard temperature > 0, temperature.isFinite else { throw GANError("a span head's temperature must be positive, got \(temperature)") }
        var covered = 0
        var values: [Float] = []
        for span in spans {
            switch span {
            case .tanh(let start):
                guard start == covered else { throw GANError("the spans of a span head must tile its \(features) features in order") }
                values += [Float(start), 1, 0]
                covered += 1
            case .softmax(let start, let count):
                guard start == covered, count >= 1 else { throw GANError("the spans of a span head must tile its \(features) features in order") }
                values += [Float(start), Float(count), 1]
                covered += count
            }
        }
        guard covered == features, features >= 1 else {
            throw GANError("the spans of a span head cover \(covered) features, it has \(features)")
        }
        guard features <= 1 << 24 else { throw GANError("a span head of \(features) features is too wide") }
        self.backend = backend
        self.features = features
        self.spans = spans
        self.temperature = temperature
        table = try backend.makeBuffer(values)
    }

    public var inputs: Int { features }
    public var outputs: Int { features }

    public func initialize(seed: UInt64, counter: inout UInt64) throws {}

    public func reserve(rows: Int) throws {
        guard rows > reserved else { return }
        scratch = try backend.makeBuffer(count: max(1, rows * features))
        reserved = rows
    }

    public func forward(_ x: B.Buffer, rows: Int, into y: B.Buffer) throws {
        try backend.spanActivation(
            x, rows: rows, columns: features, spans: table, spanCount: spans.count, temperature: temperature, into: y)
    }

    public func backward(
        _ x: B.Buffer, rows: Int, outputGradient dz: B.Buffer,
        inputGradient: (buffer: B.Buffer, below: Activation)?, parameterGradients: ParameterGradients<B>
    ) throws {
        guard let (dx, below) = inputGradient else { return }
        guard rows <= reserved, let scratch else {
            throw GANError("a span head ran on \(rows) rows with scratch for \(reserved): reserve(rows:) first")
        }
        try forward(x, rows: rows, into: scratch)
        try backend.spanActivationBackward(
            scratch, outputGradient: dz, rows: rows, columns: features, spans: table, spanCount: spans.count,
            temperature: temperature, into: dx)
        if below != .identity { try backend.activationBackward(below, y: x, dy: dx, dx: dx, count: rows * features) }
    }
}
