import ComputeBackend

/// A tabular generator's output head (CTGAN's): tanh on each scalar column and a softmax
/// over each one-hot span, at `temperature` (CTGAN's Gumbel-softmax uses 0.2). The spans
/// tile the features: `TableTransform.spans`.
///
/// With `gumbel`, the softmax spans are a Gumbel-softmax (Jang et al. 2017): standard
/// Gumbel noise (`ComputeBackend.gumbel`, from the Philox stream the model hands the layer
/// before each forward, like dropout's masks) is added to the span's logits first, in
/// training and in sampling alike (so the argmax that decodes a span draws its category
/// from softmax(x), the Gumbel-max trick, as CTGAN's sampling does).
///
/// Forward: `spanActivation` (of x plus the noise). Backward: the forward is recomputed
/// from its (noisy) input into scratch (the backward is handed x, not y), then dx = Jᵀ·dz
/// by `spanActivationBackward` — the noise is additive, so its derivative is 1 — a tanh
/// column's dz·(1 − y²), a softmax span's y ⊙ (dz − ⟨y, dz⟩)/τ — and the gradient of the
/// activation below. No parameters.
///
/// A conditional tabular generator's head also carries CTGAN's generator term that makes G
/// honour its condition: the cross-entropy between the conditioned column's span of the
/// head's input (its logits, at temperature 1) and the requested category, summed over
/// the row and averaged over the batch, added to G's loss with weight 1. Its gradient,
/// mask ⊙ softmax(x) − e (mask: 1 on the conditioned column's span; e: the requested
/// category's one-hot there), is added to dL/dx in the backward. The condition is the
/// model's class buffer (`setConditions`): class `first + k` of a categorical span is
/// category k, so mask and e are the classes' one-hot times two constant matrices
/// (`classes × features`), two small GEMMs.
public final class SpanHead<B: ComputeBackend>: Layer {
    public typealias Backend = B
    public let backend: B
    public let features: Int
    public let spans: [TableTransform.Span]
    public let temperature: Float
    /// Whether the softmax spans get Gumbel noise.
    public let gumbel: Bool
    public var activation: Activation { .identity }
    public var parameters: [Parameter<B>] { [] }
    /// (start, count, kind) per span, as the kernels read them.
    private let table: B.Buffer
    private var scratch: B.Buffer?
    /// The cross-entropy gradient's scratch (rows × features), conditional heads only.
    private var crossEntropyScratch: (softmax: B.Buffer, mask: B.Buffer)?
    private var reserved = 0
    /// Gumbel: 1 on the softmax spans' features, 0 on the tanh ones (reserved rows ×
    /// features); the draws; the last forward's noisy input; where the next draws start.
    private var noiseBuffers: (mask: B.Buffer, draws: B.Buffer, noisy: B.Buffer)?
    private var stream: (key: UInt64, counter: UInt64)?
    private var lastForwardNoisy = false
    /// Conditional: the classes, and the matrices from a class's one-hot to its span's mask
    /// and to its category's one-hot in the output layout (classes × features each).
    public let classes: Int?
    private let conditionMatrices: (mask: B.Buffer, target: B.Buffer)?
    /// The rows' classes, one-hot, for the next backward (see `Sequential.setConditions`).
    public private(set) var conditions: B.Buffer?

    /// A head over `spans`; with `conditionSpans` (each categorical span's start and
    /// count in the features and its first class), a conditional one whose backward adds
    /// the cross-entropy term.
    public init(
        backend: B, features: Int, spans: [TableTransform.Span], temperature: Float = 1, gumbel: Bool = false,
        conditionSpans: [(start: Int, count: Int, first: Int)]? = nil
    ) throws {
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
        self.gumbel = gumbel
        table = try backend.makeBuffer(values)
        if let conditionSpans, !conditionSpans.isEmpty {
            let classes = conditionSpans.reduce(0) { $0 + $1.count }
            var mask = [Float](repeating: 0, count: classes * features)
            var target = mask
            for span in conditionSpans {
                guard span.start >= 0, span.count >= 1, span.start + span.count <= features, span.first + span.count <= classes else {
                    throw GANError("a span head's condition spans must lie in its \(features) features")
                }
                for k in 0..<span.count {
                    let c = span.first + k
                    for j in span.start..<(span.start + span.count) { mask[c * features + j] = 1 }
                    target[c * features + span.start + k] = 1
                }
            }
            self.classes = classes
            conditionMatrices = (try backend.makeBuffer(mask), try backend.makeBuffer(target))
        } else {
            classes = nil
            conditionMatrices = nil
        }
    }

    /// The classes of the next backward's rows.
    public func setConditions(_ buffer: B.Buffer) { conditions = buffer }

    public var inputs: Int { features }
    public var outputs: Int { features }

    public func initialize(seed: UInt64, counter: inout UInt64) throws {}

    public func reserve(rows: Int) throws {
        guard rows > reserved else { return }
        scratch = try backend.makeBuffer(count: max(1, rows * features))
        if gumbel {
            var row = [Float](repeating: 0, count: features)
            for span in spans {
                if case .softmax(let start, let count) = span { for j in start..<(start + count) { row[j] = 1 } }
            }
            let mask = [Float]((0..<rows).map { _ in row }.joined())
            noiseBuffers = (try backend.makeBuffer(mask), try backend.makeBuffer(count: max(1, rows * features)),
                            try backend.makeBuffer(count: max(1, rows * features)))
        }
        if conditionMatrices != nil {
            crossEntropyScratch = (try backend.makeBuffer(count: max(1, rows * features)), try backend.makeBuffer(count: max(1, rows * features)))
        }
        reserved = rows
    }

    /// Gumbel: the draws of a forward on `rows` rows, in training and in inference.
    public func randomBlocks(rows: Int) -> UInt64 { gumbel ? Philox.blocks(rows * features) : 0 }

    public func setRandomStream(key: UInt64, counter: UInt64) { stream = (key, counter) }

    public func forward(_ x: B.Buffer, rows: Int, into y: B.Buffer) throws {
        var input = x
        if gumbel {
            guard let stream else { throw GANError("a Gumbel span head's forward needs a random stream: setRandomStream first") }
            guard rows <= reserved, let noiseBuffers else {
                throw GANError("a span head ran on \(rows) rows with scratch for \(reserved): reserve(rows:) first")
            }
            let count = rows * features
            try backend.gumbel(noiseBuffers.draws, count: count, seed: stream.key, counter: stream.counter)
            try backend.multiply(noiseBuffers.draws, rows: rows, columns: features, by: noiseBuffers.mask, perRow: false, into: noiseBuffers.draws)
            try backend.copy(x, to: noiseBuffers.noisy, count: count)
            try backend.addScaled(noiseBuffers.noisy, noiseBuffers.draws, count: count, scale: 1)
            input = noiseBuffers.noisy
            // One draw per stream position: a second forward without a new stream would repeat it.
            self.stream = nil
        }
        lastForwardNoisy = gumbel
        try backend.spanActivation(
            input, rows: rows, columns: features, spans: table, spanCount: spans.count, temperature: temperature, into: y)
    }

    public func backward(
        _ x: B.Buffer, rows: Int, outputGradient dz: B.Buffer,
        inputGradient: (buffer: B.Buffer, below: Activation)?, parameterGradients: ParameterGradients<B>
    ) throws {
        guard let (dx, below) = inputGradient else { return }
        guard rows <= reserved, let scratch else {
            throw GANError("a span head ran on \(rows) rows with scratch for \(reserved): reserve(rows:) first")
        }
        // The forward's own input: with Gumbel noise, the noisy logits it kept.
        try backend.spanActivation(
            lastForwardNoisy ? noiseBuffers!.noisy : x, rows: rows, columns: features, spans: table, spanCount: spans.count,
            temperature: temperature, into: scratch)
        try backend.spanActivationBackward(
            scratch, outputGradient: dz, rows: rows, columns: features, spans: table, spanCount: spans.count,
            temperature: temperature, into: dx)
        if let classes, let conditionMatrices, let conditions, let (softmax, mask) = crossEntropyScratch {
            // mask ⊙ softmax(x) − e, averaged over the rows, into dL/dx.
            try backend.spanActivation(
                x, rows: rows, columns: features, spans: table, spanCount: spans.count, temperature: 1, into: softmax)
            try backend.gemm(
                transposeA: false, transposeB: false, m: rows, n: features, k: classes, alpha: 1, a: conditions,
                b: conditionMatrices.mask, beta: 0, c: mask)
            try backend.multiply(softmax, rows: rows, columns: features, by: mask, perRow: false, into: softmax)
            try backend.gemm(
                transposeA: false, transposeB: false, m: rows, n: features, k: classes, alpha: -1, a: conditions,
                b: conditionMatrices.target, beta: 1, c: softmax)
            try backend.addScaled(dx, softmax, count: rows * features, scale: 1 / Float(rows))
        }
        if below != .identity { try backend.activationBackward(below, y: x, dy: dx, dx: dx, count: rows * features) }
    }
}
