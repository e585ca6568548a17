import ComputeBackend

/// The projection discriminator's output (Miyato & Koyama 2018): for features h of a row
/// of class y, D = ψ(h) + ⟨e_y, h⟩ + b_y — a linear score plus the inner product of the
/// features with a learned embedding of the class (and a per-class bias).
///
/// Written as one dense layer h → Z = h·W + b with W of inputs × (1 + classes) (column 0
/// is ψ, column 1 + k the embedding of class k) followed by a selection: D = Σ_k y'_k Z_k
/// with y' = [1 | one-hot(y)]. The selection is a multiply and a row sum; its gradient
/// dZ = y' · dD (per row) feeds the dense layer's backward, so the GEMMs, the fused Adam
/// step and spectral normalisation are the dense layer's own. The layer is linear in h,
/// so a WGAN-GP critic may end in it.
///
/// The classes come as in `Condition`: one-hot rows the model hands over before each
/// forward (`setConditions`); an unpacked critic only (a row is one example).
public final class Projection<B: ComputeBackend>: SecondOrderLayer {
    public typealias Backend = B
    public let backend: B
    public let inputs: Int
    public let classes: Int
    /// The dense layer h → (ψ, embeddings) · h + biases; its weight and bias are this
    /// layer's parameters.
    public let dense: Dense<B>
    public var outputs: Int { 1 }
    public var activation: Activation { .identity }
    public var parameters: [Parameter<B>] { dense.parameters }
    public var buffers: [(name: String, shape: [Int], buffer: B.Buffer)] { dense.buffers }
    private var conditions: B.Buffer?
    /// Scratch for `reserved` rows: a column of ones, y' = [1 | one-hot], Z (or its
    /// tangent), y'⊙Z, and dZ.
    private var ones, selector, scores, products, scoreGradient: B.Buffer?
    private var reserved = 0
    /// The rows y' was built for by the last forward (a backward or tangent reuses it).
    private var selectorRows = 0

    public init(backend: B, inputs: Int, classes: Int, spectralNorm: Bool = false) throws {
        guard (2...maximumConditionClasses).contains(classes) else {
            throw GANError("a projection needs 2 to \(maximumConditionClasses) classes, got \(classes)")
        }
        self.backend = backend
        self.inputs = inputs
        self.classes = classes
        dense = try Dense(backend: backend, inputs: inputs, outputs: classes + 1, activation: .identity, spectralNorm: spectralNorm)
    }

    private var width: Int { classes + 1 }

    public func setConditions(_ buffer: B.Buffer) { conditions = buffer }

    public func reserve(rows: Int) throws {
        guard rows > reserved else { return }
        let n = max(1, rows)
        let made = try backend.makeBuffer(count: n)
        try backend.fill(made, with: 1, count: n)
        ones = made
        selector = try backend.makeBuffer(count: n * width)
        scores = try backend.makeBuffer(count: n * width)
        products = try backend.makeBuffer(count: n * width)
        scoreGradient = try backend.makeBuffer(count: n * width)
        reserved = rows
    }

    public func initialize(seed: UInt64, counter: inout UInt64) throws {
        try dense.initialize(seed: seed, counter: &counter)
    }

    public func refreshDerivedState(iterate: Bool) throws {
        try dense.refreshDerivedState(iterate: iterate)
    }

    private func scratch(_ rows: Int) throws -> (ones: B.Buffer, selector: B.Buffer, scores: B.Buffer, products: B.Buffer, gradient: B.Buffer) {
        guard rows <= reserved, let ones, let selector, let scores, let products, let scoreGradient else {
            throw GANError("a projection ran on \(rows) rows with scratch for \(reserved): reserve(rows:) first")
        }
        return (ones, selector, scores, products, scoreGradient)
    }

    /// y = Σ_k y'_k Z_k for Z = `scores` (rows × width).
    private func select(_ scores: B.Buffer, rows: Int, into y: B.Buffer) throws {
        let s = try scratch(rows)
        try backend.multiply(s.selector, rows: rows, columns: width, by: scores, perRow: false, into: s.products)
        try backend.sumRows(s.products, rows: rows, columns: width, into: y)
    }

    public func forward(_ x: B.Buffer, rows: Int, into y: B.Buffer) throws {
        guard let conditions else { throw GANError("a projection discriminator ran without classes: setConditions first") }
        let s = try scratch(rows)
        try backend.appendChannels(
            s.ones, rows: rows, spatial: 1, channels: 1, values: conditions, extra: classes, inverse: false, into: s.selector)
        selectorRows = rows
        try dense.forward(x, rows: rows, into: s.scores)
        try select(s.scores, rows: rows, into: y)
    }

    public func backward(
        _ x: B.Buffer, rows: Int, outputGradient dz: B.Buffer,
        inputGradient: (buffer: B.Buffer, below: Activation)?, parameterGradients: ParameterGradients<B>
    ) throws {
        let s = try scratch(rows)
        guard selectorRows >= rows else { throw GANError("a projection's backward ran before its forward") }
        try backend.multiply(s.selector, rows: rows, columns: width, by: dz, perRow: true, into: s.gradient)
        try dense.backward(
            x, rows: rows, outputGradient: s.gradient, inputGradient: inputGradient, parameterGradients: parameterGradients)
    }

    public func tangentForward(_ dx: B.Buffer, rows: Int, output y: B.Buffer, into dy: B.Buffer) throws {
        let s = try scratch(rows)
        try dense.tangentForward(dx, rows: rows, output: s.scores, into: s.gradient)
        try select(s.gradient, rows: rows, into: dy)
    }

    public func storeSecondOrderGradient(tangent: B.Buffer, delta: B.Buffer, rows: Int) throws {
        let s = try scratch(rows)
        try backend.multiply(s.selector, rows: rows, columns: width, by: delta, perRow: true, into: s.gradient)
        try dense.storeSecondOrderGradient(tangent: tangent, delta: s.gradient, rows: rows)
    }
}
