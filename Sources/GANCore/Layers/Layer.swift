import ComputeBackend

/// A named tensor of a layer: its value, its gradient and whatever state its optimizer
/// keeps (Adam's two moments, RMSProp's running average, SGD's velocity). Checkpoints
/// name it `<network>.layers.<i>.<name>` and its state `optimizer.<that>.<state name>`.
public final class Parameter<B: ComputeBackend> {
    public let name: String
    public let shape: [Int]
    public let value: B.Buffer
    public let gradient: B.Buffer
    /// The optimizer's buffers, each the parameter's size, by state name; empty for a
    /// network that is not trained (a sampler's generator).
    public internal(set) var state: [(name: String, buffer: B.Buffer)] = []

    init(backend: B, name: String, shape: [Int]) throws {
        self.name = name
        self.shape = shape
        let count = shape.reduce(1, *)
        value = try backend.makeBuffer(count: count)
        gradient = try backend.makeBuffer(count: count)
    }

    public var count: Int { shape.reduce(1, *) }

    /// The optimizer state named `name`.
    public func state(_ name: String) -> B.Buffer {
        guard let buffer = state.first(where: { $0.name == name })?.buffer else {
            preconditionFailure("parameter \(self.name) has no optimizer state \(name)")
        }
        return buffer
    }
}

/// What a backward pass does with the gradients of a layer's parameters.
public enum ParameterGradients<B: ComputeBackend> {
    /// Nothing: only the input gradient is wanted (the generator's update through D).
    case none
    /// Stores them.
    case store
    /// Takes an optimizer step from them, layer by layer as the pass goes down (each
    /// layer's input gradient is computed from its old weights first). With
    /// `addToStored`, each weight gradient is added to the one already stored (the
    /// gradient penalty's, which has no bias part); with `keepGradients`, a fused step
    /// still stores the gradients (for a log step's check that they are finite).
    case step(any Optimizer, step: Int, addToStored: Bool, keepGradients: Bool)
}

/// A layer of a `Sequential` model: a forward and a backward over buffers of `rows`
/// examples, as llm.c's `<op>_forward`/`<op>_backward` pairs. Inputs are
/// (rows, inputs) and outputs (rows, outputs), row-major.
///
/// A layer may apply an activation to its output as part of its forward (`activation`);
/// its backward then receives dL/d(pre-activation output), because the layer above
/// applied that activation's gradient as it stored its own input gradient (the model
/// does it for the last layer). The same fusion runs down: the backward is told the
/// activation of the layer below and applies its gradient as it stores dL/dx.
public protocol Layer<Backend>: AnyObject {
    associatedtype Backend: ComputeBackend
    var inputs: Int { get }
    var outputs: Int { get }
    /// The activation the forward applies to its output; identity for none.
    var activation: Activation { get }
    /// The layer's parameters, in checkpoint order.
    var parameters: [Parameter<Backend>] { get }
    /// State that is not trained by gradients but belongs in a checkpoint (spectral
    /// normalisation's power-iteration vectors), named like parameters.
    var buffers: [(name: String, shape: [Int], buffer: Backend.Buffer)] { get }

    /// Draws the initial parameters from Philox `seed`, starting at `counter` and
    /// advancing it past the blocks used, on the host: every backend starts alike.
    func initialize(seed: UInt64, counter: inout UInt64) throws

    /// Recomputes what derives from the parameters (spectral normalisation's W/σ): with
    /// `iterate`, after one more power iteration (once per optimizer update); without,
    /// from the stored vectors as they are (after a checkpoint is restored, so that a
    /// resumed run computes the same bits as one that never stopped).
    func refreshDerivedState(iterate: Bool) throws

    /// Makes the scratch the layer needs for batches of up to `rows` rows (a
    /// convolution's column matrices), once, before any step; `Workspace` calls it.
    func reserve(rows: Int) throws

    /// Training (batch statistics, in `groups` equal runs of rows) or inference (running
    /// averages): only layers with batch statistics care.
    func setMode(_ mode: LayerMode)

    /// The Philox blocks the next forward on `rows` rows draws (dropout's mask); 0 for
    /// layers that draw nothing, and in inference.
    func randomBlocks(rows: Int) -> UInt64

    /// Where the next forward's draws start: Philox key and counter (see
    /// `Sequential.setRandomStream`).
    func setRandomStream(key: UInt64, counter: UInt64)

    /// y (rows, outputs) = the layer of x (rows, inputs).
    func forward(_ x: Backend.Buffer, rows: Int, into y: Backend.Buffer) throws

    /// From dz = dL/d(pre-activation output) (rows, outputs) of the forward on x: with
    /// `inputGradient`, writes dL/dx (rows, inputs) into its buffer, multiplied by the
    /// derivative of `below` (the activation that produced x, computed from x itself);
    /// and does with the parameter gradients what `parameterGradients` says.
    func backward(
        _ x: Backend.Buffer, rows: Int, outputGradient dz: Backend.Buffer,
        inputGradient: (buffer: Backend.Buffer, below: Activation)?, parameterGradients: ParameterGradients<Backend>
    ) throws
}

/// A layer that a WGAN-GP critic may contain: it provides the second-order pass that the
/// gradient penalty's gradient with respect to the weights needs (`Sequential.penaltyGradients`).
///
/// For a critic D whose activations are piecewise linear, the penalty's gradient is the
/// derivative along a fixed direction u of S(θ) = Σ_r ⟨u_r, ∇ₓD(x_r)⟩, a directional
/// derivative of D. With forward-mode tangents ḣ₀ = u, ḣᵢ = f'ᵢ ⊙ (ḣᵢ₋₁·Wᵢ) and the
/// backward pass's δᵢ = ∂D/∂zᵢ, ∂S/∂Wᵢ = ḣᵢ₋₁ᵀ·δᵢ and ∂S/∂bᵢ = 0 (f'' is zero almost
/// everywhere, so the terms through the activations' second derivatives vanish).
public protocol SecondOrderLayer<Backend>: Layer {
    /// The forward-mode tangent: dy (rows, outputs) = (dx·W) ⊙ f'(y) for a tangent dx
    /// (rows, inputs) of the input, with y the forward's output.
    func tangentForward(_ dx: Backend.Buffer, rows: Int, output y: Backend.Buffer, into dy: Backend.Buffer) throws

    /// Stores the second-order term of the weights' gradient, tangentᵀ·delta, where
    /// tangent (rows, inputs) is the input's tangent and delta (rows, outputs) the
    /// backward's dD/d(pre-activation output). The bias's term is zero and not written.
    func storeSecondOrderGradient(tangent: Backend.Buffer, delta: Backend.Buffer, rows: Int) throws
}

extension Layer {
    public var buffers: [(name: String, shape: [Int], buffer: Backend.Buffer)] { [] }
    public func refreshDerivedState(iterate: Bool) throws {}
    public func reserve(rows: Int) throws {}
    public func setMode(_ mode: LayerMode) {}
    public func randomBlocks(rows: Int) -> UInt64 { 0 }
    public func setRandomStream(key: UInt64, counter: UInt64) {}
}

/// How layers with batch statistics (batch normalisation) run.
public enum LayerMode: Equatable, Sendable {
    /// Statistics of the batch, each of `groups` equal runs of rows on its own: a
    /// discriminator's update runs the real and the fake batch as one of 2 groups, so
    /// each is normalised by its own statistics, as two separate calls would be.
    case training(groups: Int)
    /// The running averages (sampling from a trained generator).
    case inference
    /// Sampling with the batch's own statistics, the running averages left as they are;
    /// otherwise as inference (no dropout). A table's generator samples so, as CTGAN's
    /// does (it never leaves training mode).
    case batchStatistics
    /// A forward with the batch's statistics (one group) that makes the running averages
    /// the mean of this batch's statistics and those of the `batch` batches before it
    /// (momentum 1/(batch + 1), so batch 0 replaces them): recomputes them for weights
    /// they were not gathered with, such as the EMA generator's (PyTorch's
    /// `swa_utils.update_bn`). Otherwise as inference (no dropout).
    case averagingStatistics(batch: Int)
}

/// The image shape of a layer's input or output, NHWC per row: height × width × channels
/// (a dense layer's features are 1 × 1 × features).
public struct ImageShape: Hashable, Sendable, CustomStringConvertible {
    public let height, width, channels: Int
    public init(height: Int, width: Int, channels: Int) {
        self.height = height
        self.width = width
        self.channels = channels
    }
    public init(features: Int) { self.init(height: 1, width: 1, channels: features) }
    public var elements: Int { height * width * channels }
    public var description: String { "\(height)×\(width)×\(channels)" }
}

/// A dense-shaped layer's parameter gradients: dW (inputs, outputs) = aᵀ·dz over `rows`
/// rows of a (rows, inputs), the bias gradient the column sums of dz; stored, or with a
/// fused optimizer step, or stepped after storing, as `parameterGradients` says. Dense
/// layers pass x as a, convolutions their column matrix. Under spectral normalisation
/// the chain rule through σ runs before any step.
func denseParameterGradients<B: ComputeBackend>(
    backend: B, a: B.Buffer, rows: Int, inputs: Int, outputs: Int, outputGradient dz: B.Buffer,
    weight: Parameter<B>, bias: Parameter<B>, spectralNorm: SpectralNorm<B>?,
    parameterGradients: ParameterGradients<B>
) throws {
    func weightGradient(beta: Float, epilogue: GEMMEpilogue<B.Buffer>) throws {
        try backend.gemm(
            transposeA: true, transposeB: false, m: inputs, n: outputs, k: rows, alpha: 1, a: a, b: dz, beta: beta,
            c: weight.gradient, epilogue: epilogue)
    }
    func storeGradients(beta: Float) throws {
        try weightGradient(beta: beta, epilogue: .columnSums(into: bias.gradient))
        if let spectralNorm { try spectralNorm.chainRule(weight.gradient) }
    }
    switch parameterGradients {
    case .none:
        break
    case .store:
        try storeGradients(beta: 0)
    case .step(let optimizer, let step, let addToStored, let keepGradients):
        let beta: Float = addToStored ? 1 : 0
        if spectralNorm == nil,
           let fused = optimizer.fusedEpilogue(weight: weight, bias: bias, step: step, keepGradients: keepGradients) {
            try weightGradient(beta: beta, epilogue: fused)
        } else {
            try storeGradients(beta: beta)
            try optimizer.update(weight, on: backend, step: step)
            try optimizer.update(bias, on: backend, step: step)
        }
    }
}

extension Activation {
    /// Whether f'' is zero wherever it exists (the second-order pass needs it).
    public var isPiecewiseLinear: Bool {
        switch self {
        case .identity, .relu, .leakyReLU: true
        case .tanh, .sigmoid: false
        }
    }
}
