import ComputeBackend

/// The activations of one `Sequential` model for up to `capacity` rows: each layer's
/// output and the gradient with respect to it, the gradient with respect to the model's
/// input and, for a critic under a gradient penalty, the forward-mode tangents. A run
/// makes these once; nothing is allocated per step.
public final class Workspace<B: ComputeBackend> {
    public let capacity: Int
    /// (capacity, outputs of layer i), after its activation.
    public let outputs: [B.Buffer]
    /// dL/d(output of layer i), turned into dL/d(pre-activation) by the backward pass.
    public let outputGradients: [B.Buffer]
    /// dL/d(model input), (capacity, inputs).
    public let inputGradient: B.Buffer
    /// With `tangents`: the forward-mode tangent of each layer's output but the last.
    public let tangents: [B.Buffer]

    /// `inputGradient`, when given, is used as the input-gradient buffer: the
    /// discriminator's input gradient is the generator's output gradient, shared.
    public init(
        for model: Sequential<B>, capacity: Int, inputGradient: B.Buffer? = nil, tangents: Bool = false
    ) throws {
        let backend = model.backend
        self.capacity = capacity
        outputs = try model.layers.map { try backend.makeBuffer(count: capacity * $0.outputs) }
        outputGradients = try model.layers.map { try backend.makeBuffer(count: capacity * $0.outputs) }
        self.inputGradient = try inputGradient ?? backend.makeBuffer(count: capacity * model.inputs)
        self.tangents = tangents ? try model.layers.dropLast().map { try backend.makeBuffer(count: capacity * $0.outputs) } : []
        for layer in model.layers { try layer.reserve(rows: capacity) }
    }

    /// The model's output, (capacity, outputs).
    public var output: B.Buffer { outputs[outputs.count - 1] }
    /// dL/d(model output): where an objective writes its gradients.
    public var outputGradient: B.Buffer { outputGradients[outputGradients.count - 1] }
}

/// A model made of layers: the forward runs them in order, the backward in reverse
/// (llm.c's `gpt2_forward` and `gpt2_backward`). Activations live in a `Workspace`, one
/// per batch size used; optimizer state lives in the parameters once `attach` made it.
public final class Sequential<B: ComputeBackend> {
    public let backend: B
    public let layers: [any Layer<B>]

    public init(backend: B, layers: [any Layer<B>]) throws {
        guard !layers.isEmpty else { throw GANError("a model needs at least one layer") }
        for (below, above) in zip(layers, layers.dropFirst()) where below.outputs != above.inputs {
            throw GANError("layer widths do not chain: \(below.outputs) outputs into \(above.inputs) inputs")
        }
        self.backend = backend
        self.layers = layers
    }

    /// Dense layers of `shape`, each spectrally normalised with `spectralNorm`.
    public convenience init(backend: B, shape: MLPShape, spectralNorm: Bool = false) throws {
        guard shape.widths.count >= 2 else { throw GANError("a network needs at least two widths, got \(shape.widths)") }
        try self.init(backend: backend, layers: (0..<shape.layerCount).map { i in
            try Dense(
                backend: backend, inputs: shape.widths[i], outputs: shape.widths[i + 1],
                activation: shape.activation(ofLayer: i), spectralNorm: spectralNorm)
        })
    }

    public var inputs: Int { layers[0].inputs }
    public var outputs: Int { layers[layers.count - 1].outputs }
    public var parameters: [Parameter<B>] { layers.flatMap { $0.parameters } }

    /// Each layer's initial parameters from Philox `seed`, one counter run through all.
    public func initialize(seed: UInt64) throws {
        var counter: UInt64 = 0
        for layer in layers { try layer.initialize(seed: seed, counter: &counter) }
    }

    /// Recomputes every layer's derived state (see `Layer.refreshDerivedState`).
    public func refreshDerivedState(iterate: Bool) throws {
        for layer in layers { try layer.refreshDerivedState(iterate: iterate) }
    }

    /// The mode of the layers with batch statistics; training with one group at first.
    public private(set) var mode = LayerMode.training(groups: 1)

    /// Sets every layer's mode (see `LayerMode`).
    public func setMode(_ mode: LayerMode) {
        self.mode = mode
        for layer in layers { layer.setMode(mode) }
    }

    /// Hands each layer that draws random numbers (dropout) its run of the Philox stream
    /// `key` for the next forward on `rows` rows, consecutive runs from `counter` on;
    /// returns the blocks used in all (0 for a model that draws nothing), by which the
    /// caller advances its counter. The trainer calls it before every training forward,
    /// with its checkpointed noise counter, so a resumed run draws the same masks.
    public func setRandomStream(key: UInt64, counter: UInt64, rows: Int) -> UInt64 {
        var used: UInt64 = 0
        for layer in layers {
            let blocks = layer.randomBlocks(rows: rows)
            guard blocks > 0 else { continue }
            layer.setRandomStream(key: key, counter: counter + used)
            used += blocks
        }
        return used
    }

    /// Whether the model takes classes (has a `Condition` layer).
    public var isConditional: Bool { layers.contains { $0 is Condition<B> || $0 is Projection<B> } }

    /// The classes the condition layers read (see `setConditions`); nil until set.
    public private(set) var conditions: B.Buffer?

    /// Hands every condition layer the classes of the next forward's rows (see
    /// `Condition.conditions`).
    public func setConditions(_ buffer: B.Buffer) {
        conditions = buffer
        for layer in layers {
            (layer as? Condition<B>)?.setConditions(buffer)
            (layer as? Projection<B>)?.setConditions(buffer)
            (layer as? SpanHead<B>)?.setConditions(buffer)
        }
    }

    /// Makes `optimizer`'s state for every parameter, zeroed.
    public func attach(_ optimizer: any Optimizer) throws {
        try optimizer.attach(to: parameters, on: backend)
    }

    // MARK: - Forward and backward

    /// The model on the first `rows` rows of `input` (rows, inputs).
    public func forward(_ input: B.Buffer, rows: Int, into workspace: Workspace<B>) throws {
        precondition(rows <= workspace.capacity, "rows exceed the workspace's capacity")
        var x = input
        for (layer, y) in zip(layers, workspace.outputs) {
            try layer.forward(x, rows: rows, into: y)
            x = y
        }
    }

    /// Backpropagates dL/d(output), already in `workspace.outputGradient`, through the
    /// model run forward on `input`; with `inputGradient`, writes dL/d(input) to
    /// `workspace.inputGradient`. Afterwards each `outputGradients[i]` holds dL/d(layer
    /// i's pre-activation output).
    public func backward(
        _ input: B.Buffer, rows: Int, workspace: Workspace<B>, parameterGradients: ParameterGradients<B>,
        inputGradient: Bool
    ) throws {
        // The last layer's activation gradient is applied here; every other layer's by
        // the input-gradient GEMM of the layer above it.
        let last = layers.count - 1
        if layers[last].activation != .identity {
            let dz = workspace.outputGradients[last]
            try backend.activationBackward(
                layers[last].activation, y: workspace.outputs[last], dy: dz, dx: dz, count: rows * layers[last].outputs)
        }
        for i in stride(from: last, through: 0, by: -1) {
            let x = i == 0 ? input : workspace.outputs[i - 1]
            let dx: (buffer: B.Buffer, below: Activation)? =
                i > 0 ? (workspace.outputGradients[i - 1], layers[i - 1].activation)
                      : inputGradient ? (workspace.inputGradient, .identity) : nil
            try layers[i].backward(
                x, rows: rows, outputGradient: workspace.outputGradients[i], inputGradient: dx,
                parameterGradients: parameterGradients)
        }
    }

    // MARK: - The gradient penalty's second-order pass

    /// Why this model cannot be a WGAN-GP critic, or nil when it can: every layer needs
    /// the second-order pass, every activation a zero second derivative, and the output
    /// must be one linear score.
    public var gradientPenaltyRefusal: String? {
        if outputs != 1 || layers[layers.count - 1].activation != .identity {
            return "a WGAN-GP critic must end in one linear output"
        }
        if let layer = layers.first(where: { !($0 is any SecondOrderLayer<B>) }) {
            let kind = String(describing: type(of: layer)).prefix { $0 != "<" }
            return "the gradient penalty has no second-order pass through \(kind) layers"
        }
        if let layer = layers.first(where: { !$0.activation.isPiecewiseLinear }) {
            return "the gradient penalty needs piecewise-linear activations in the critic, not \(layer.activation)"
        }
        return nil
    }

    /// The WGAN-GP penalty at the first `rows` rows of `points`: its gradient with respect
    /// to every weight is stored in the weights' gradients (the biases' is zero and not
    /// written), the per-row norms ‖∇ₓD‖ and penalties λ(‖∇ₓD‖ − 1)² into `norms` and
    /// `losses`. The gradient is that of the mean penalty over the rows.
    ///
    /// D runs forward on the points and backward with dD/d(output) = 1, which leaves
    /// ∇ₓD in `workspace.inputGradient` and each layer's δᵢ in its output gradient; the
    /// backend turns ∇ₓD into u = ∂(mean penalty)/∂(∇ₓD); a forward-mode pass carries u
    /// through the layers (`tangentForward`) and each layer stores tangentᵀ·δ
    /// (`SecondOrderLayer`). `workspace` must have tangents; `directions` holds u
    /// (rows, inputs).
    public func penaltyGradients(
        at points: B.Buffer, rows: Int, weight: Float, workspace: Workspace<B>, directions: B.Buffer,
        norms: B.Buffer, losses: B.Buffer
    ) throws {
        if let refusal = gradientPenaltyRefusal { throw GANError(refusal) }
        precondition(workspace.tangents.count == layers.count - 1, "the workspace has no tangents")
        try forward(points, rows: rows, into: workspace)
        try backend.fill(workspace.outputGradient, with: 1, count: rows)
        try backward(points, rows: rows, workspace: workspace, parameterGradients: .none, inputGradient: true)
        try backend.gradientPenalty(
            gradients: workspace.inputGradient, rows: rows, columns: inputs, weight: weight, scale: 1 / Float(rows),
            norms: norms, losses: losses, directions: directions)
        var tangent = directions
        for (i, layer) in layers.enumerated() {
            let secondOrder = layer as! any SecondOrderLayer<B>
            try secondOrder.storeSecondOrderGradient(tangent: tangent, delta: workspace.outputGradients[i], rows: rows)
            if i < layers.count - 1 {
                try secondOrder.tangentForward(tangent, rows: rows, output: workspace.outputs[i], into: workspace.tangents[i])
                tangent = workspace.tangents[i]
            }
        }
    }

    // MARK: - Named tensors

    /// Every tensor of the model's state, named for checkpoints: `<prefix>.layers.<i>.<name>`
    /// for parameters and buffers, and the optimizer's state under
    /// `optimizer.<prefix>.layers.<i>.<name>.<state>`.
    public func namedTensors(prefix: String) -> [(name: String, shape: [Int], buffer: B.Buffer)] {
        layers.enumerated().flatMap { i, layer in
            layer.parameters.flatMap { parameter -> [(name: String, shape: [Int], buffer: B.Buffer)] in
                let base = "\(prefix).layers.\(i).\(parameter.name)"
                return [(base, parameter.shape, parameter.value)]
                    + parameter.state.map { ("optimizer.\(base).\($0.name)", parameter.shape, $0.buffer) }
            } + layer.buffers.map { ("\(prefix).layers.\(i).\($0.name)", $0.shape, $0.buffer) }
        }
    }

    /// A one-line description: widths and activations for dense layers only; otherwise
    /// the layers as layer lines between the input and output widths.
    public var summary: String {
        guard layers.contains(where: { !($0 is Dense<B>) }) else {
            return ([inputs] + layers.map { $0.outputs }).map(String.init).joined(separator: "→")
                + " (" + layers.map { "\($0.activation)" }.joined(separator: ", ") + ")"
        }
        let lines = layers.map { layer -> String in
            let act = layer.activation == .identity ? "" : " \(layer.activation)"
            switch layer {
            case let conv as Conv2D<B>:
                return "conv \(conv.output.channels) k\(conv.kernel) s\(conv.stride) p\(conv.padding)\(act)"
            case let up as ConvTranspose2D<B>:
                return "conv-transpose \(up.output.channels) k\(up.kernel) s\(up.stride) p\(up.padding)\(act)"
            case let norm as BatchNorm<B>:
                let options = (norm.momentum == 0.1 ? "" : " m\(norm.momentum)") + (norm.epsilon == 1e-5 ? "" : " e\(norm.epsilon)")
                return "batch-norm\(options)\(act)"
            case is LayerNorm<B>:
                return "layer-norm\(act)"
            case let dropout as Dropout<B>:
                return "dropout \(dropout.rate)"
            case is MinibatchStd<B>:
                return "minibatch-std"
            case let condition as Condition<B>:
                return "condition (\(condition.classes) classes)"
            case let projection as Projection<B>:
                return "projection (\(projection.classes) classes)"
            case let block as Residual<B>:
                let options = (block.norm.momentum == 0.1 ? "" : " m\(block.norm.momentum)") + (block.norm.epsilon == 1e-5 ? "" : " e\(block.norm.epsilon)")
                return "residual \(block.width)\(options)"
            case let head as SpanHead<B>:
                return "span-head t\(head.temperature)\(head.gumbel ? " gumbel" : "")\(head.classes == nil ? "" : " (conditional)")"
            default:
                return "dense \(layer.outputs)\(act)"
            }
        }
        return "\(inputs) → " + lines.joined(separator: ", ") + " → \(outputs)"
    }
}
