import ComputeBackend

/// The shape of a multilayer perceptron: widths from input to output, the activation
/// after each hidden layer and the one after the last layer.
public struct MLPShape: Equatable, Sendable, CustomStringConvertible {
    public let widths: [Int]
    public let hidden: Activation
    public let output: Activation

    public init(widths: [Int], hidden: Activation, output: Activation) {
        self.widths = widths
        self.hidden = hidden
        self.output = output
    }

    public var layerCount: Int { widths.count - 1 }
    public var inputs: Int { widths[0] }
    public var outputs: Int { widths[widths.count - 1] }

    public func activation(ofLayer index: Int) -> Activation {
        index == layerCount - 1 ? output : hidden
    }

    public var description: String {
        widths.map(String.init).joined(separator: "→") + " (\(hidden), out \(output))"
    }
}

/// One dense layer's parameters y = f(x·W + b) with W (inputs, outputs) and b (outputs),
/// their gradients and Adam's two moments of each.
public final class DenseParameters<B: ComputeBackend> {
    public let inputs: Int
    public let outputs: Int
    public let activation: Activation
    public let weight, bias: B.Buffer
    public let weightGradient, biasGradient: B.Buffer
    public let weightM, weightV, biasM, biasV: B.Buffer

    init(backend: B, inputs: Int, outputs: Int, activation: Activation) throws {
        self.inputs = inputs
        self.outputs = outputs
        self.activation = activation
        weight = try backend.makeBuffer(count: inputs * outputs)
        bias = try backend.makeBuffer(count: outputs)
        weightGradient = try backend.makeBuffer(count: inputs * outputs)
        biasGradient = try backend.makeBuffer(count: outputs)
        weightM = try backend.makeBuffer(count: inputs * outputs)
        weightV = try backend.makeBuffer(count: inputs * outputs)
        biasM = try backend.makeBuffer(count: outputs)
        biasV = try backend.makeBuffer(count: outputs)
    }
}

/// The activations of one MLP for up to `capacity` rows: each layer's output and the
/// gradient with respect to it, and the gradient with respect to the network's input.
/// A training run makes these once; nothing is allocated per step.
public final class MLPActivations<B: ComputeBackend> {
    public let capacity: Int
    /// (capacity, width of layer i's output), after the activation.
    public let outputs: [B.Buffer]
    /// dL/d(output of layer i), turned in place into dL/d(pre-activation).
    public let outputGradients: [B.Buffer]
    /// dL/d(network input), (capacity, inputs).
    public let inputGradient: B.Buffer

    /// `inputGradient`, when given, is used as the input-gradient buffer: the
    /// discriminator's input gradient is the generator's output gradient, shared.
    public init(backend: B, shape: MLPShape, capacity: Int, inputGradient: B.Buffer? = nil) throws {
        self.capacity = capacity
        outputs = try shape.widths.dropFirst().map { try backend.makeBuffer(count: capacity * $0) }
        outputGradients = try shape.widths.dropFirst().map { try backend.makeBuffer(count: capacity * $0) }
        self.inputGradient = try inputGradient ?? backend.makeBuffer(count: capacity * shape.inputs)
    }

    /// The network's output, (capacity, outputs).
    public var output: B.Buffer { outputs[outputs.count - 1] }
    /// dL/d(network output): where an objective writes its gradients.
    public var outputGradient: B.Buffer { outputGradients[outputGradients.count - 1] }
}

/// A multilayer perceptron on a backend: its parameters, forward and backward passes,
/// and Adam updates. Its activations live in `MLPActivations`, one per batch size used.
///
/// The passes use the backend's fused forms: the forward is one GEMM + bias + activation
/// per layer, and the backward's dx GEMM applies the previous layer's activation gradient
/// as it stores. dx = dz·Wᵀ is an NT GEMM on W itself (the OpenCL backend's CPU kernels
/// take it as dot products along W's contiguous rows, with no copy of Wᵀ).
public final class MLP<B: ComputeBackend> {
    public let backend: B
    public let shape: MLPShape
    public let layers: [DenseParameters<B>]

    public init(backend: B, shape: MLPShape) throws {
        guard shape.widths.count >= 2, shape.widths.allSatisfy({ $0 >= 1 }) else {
            throw GANError("a network needs at least two positive widths, got \(shape.widths)")
        }
        self.backend = backend
        self.shape = shape
        layers = try (0..<shape.layerCount).map {
            try DenseParameters(
                backend: backend, inputs: shape.widths[$0], outputs: shape.widths[$0 + 1],
                activation: shape.activation(ofLayer: $0))
        }
    }

    // MARK: - Initialisation

    /// PyTorch's default for nn.Linear, which the classic GAN scripts inherit: W and b
    /// uniform in ±1/√inputs. Drawn from Philox on the host with `seed`, so every backend
    /// starts from the same bits. Adam's moments start at zero.
    public func initialize(seed: UInt64) throws {
        var counter: UInt64 = 0
        for layer in layers {
            let bound = 1 / Float(layer.inputs).squareRoot()
            for (buffer, count) in [(layer.weight, layer.inputs * layer.outputs), (layer.bias, layer.outputs)] {
                var values = [Float](repeating: 0, count: count)
                values.withUnsafeMutableBufferPointer { Philox.fillUniform($0, seed: seed, counter: counter) }
                counter += Philox.blocks(count)
                try backend.write(values.map { ($0 * 2 - 1) * bound }, to: buffer, offset: 0)
            }
            for moment in [layer.weightM, layer.weightV] { try backend.fill(moment, with: 0, count: layer.inputs * layer.outputs) }
            for moment in [layer.biasM, layer.biasV] { try backend.fill(moment, with: 0, count: layer.outputs) }
        }
    }

    // MARK: - Forward and backward

    /// out_i = f_i(out_{i−1}·W_i + b_i) for the first `rows` rows of `input` (rows, inputs).
    public func forward(_ input: B.Buffer, rows: Int, into activations: MLPActivations<B>) throws {
        precondition(rows <= activations.capacity, "rows exceed the activations' capacity")
        var x = input
        for (i, layer) in layers.enumerated() {
            let y = activations.outputs[i]
            try backend.gemm(
                transposeA: false, transposeB: false, m: rows, n: layer.outputs, k: layer.inputs,
                alpha: 1, a: x, b: layer.weight, beta: 0, c: y,
                epilogue: .biasActivation(bias: layer.bias, activation: layer.activation))
            x = y
        }
    }

    /// An Adam step taken by the backward pass itself (see `backward`).
    public struct FusedAdam {
        public var hyper: AdamHyperparameters
        public var step: Int
        /// Whether the gradients are written as well (for a caller that reads them).
        public var keepGradients: Bool

        public init(hyper: AdamHyperparameters, step: Int, keepGradients: Bool) {
            self.hyper = hyper
            self.step = step
            self.keepGradients = keepGradients
        }
    }

    /// Backpropagates dL/d(output), already in `activations.outputGradient`, through the
    /// network run forward on `input`. With `parameterGradients`, writes (or, with
    /// `accumulate`, adds) dL/dW and dL/db; with `inputGradient`, writes dL/d(input) to
    /// `activations.inputGradient`.
    ///
    /// With `adam`, each layer's dW GEMM also takes the Adam step (the GEMM's `adamStep`
    /// epilogue: the gradients need not be stored, nor read again), after the layer's dx
    /// GEMM has used the old W: the same result as this pass without it and then
    /// `adamStep`. Needs `parameterGradients` and not `accumulate`.
    public func backward(
        _ input: B.Buffer, rows: Int, activations: MLPActivations<B>,
        parameterGradients: Bool, accumulate: Bool, inputGradient: Bool, adam: FusedAdam? = nil
    ) throws {
        precondition(adam == nil || (parameterGradients && !accumulate), "a fused Adam step needs whole gradients")
        // The output layer's activation gradient is applied here; every other layer's is
        // applied by the dx GEMM of the layer above it, as that GEMM stores.
        let last = layers.count - 1
        if layers[last].activation != .identity {
            let dz = activations.outputGradients[last]
            try backend.activationBackward(
                layers[last].activation, y: activations.outputs[last], dy: dz, dx: dz, count: rows * layers[last].outputs)
        }
        for i in stride(from: last, through: 0, by: -1) {
            let layer = layers[i]
            let x = i == 0 ? input : activations.outputs[i - 1]
            let dz = activations.outputGradients[i]
            if i > 0 || inputGradient {
                // dx (rows, inputs) = dz·Wᵀ, times f'_{i−1} of the layer below (when there is one).
                let epilogue: GEMMEpilogue<B.Buffer> =
                    i > 0 && layers[i - 1].activation != .identity
                    ? .activationGradient(output: activations.outputs[i - 1], activation: layers[i - 1].activation)
                    : .none
                try backend.gemm(
                    transposeA: false, transposeB: true, m: rows, n: layer.inputs, k: layer.outputs,
                    alpha: 1, a: dz, b: layer.weight, beta: 0,
                    c: i > 0 ? activations.outputGradients[i - 1] : activations.inputGradient, epilogue: epilogue)
            }
            if parameterGradients {
                // dW (inputs, outputs) = xᵀ·dz; db = column sums of dz, from the same GEMM
                // unless the gradients accumulate; with `adam`, the step too.
                let epilogue: GEMMEpilogue<B.Buffer> =
                    if let adam {
                        .adamStep(AdamEpilogue(
                            weight: layer.weight, weightM: layer.weightM, weightV: layer.weightV, bias: layer.bias,
                            biasGradient: layer.biasGradient, biasM: layer.biasM, biasV: layer.biasV, hyper: adam.hyper,
                            step: adam.step, keepGradients: adam.keepGradients))
                    } else {
                        accumulate ? .none : .columnSums(into: layer.biasGradient)
                    }
                try backend.gemm(
                    transposeA: true, transposeB: false, m: layer.inputs, n: layer.outputs, k: rows,
                    alpha: 1, a: x, b: dz, beta: accumulate ? 1 : 0, c: layer.weightGradient, epilogue: epilogue)
                if accumulate {
                    try backend.sumColumns(dz, rows: rows, columns: layer.outputs, into: layer.biasGradient, accumulate: true)
                }
            }
        }
    }

    /// One Adam update of every parameter from its gradient.
    public func adamStep(_ hyper: AdamHyperparameters, step: Int) throws {
        for layer in layers {
            try backend.adamStep(
                parameters: layer.weight, gradients: layer.weightGradient, m: layer.weightM, v: layer.weightV,
                count: layer.inputs * layer.outputs, hyper: hyper, step: step)
            try backend.adamStep(
                parameters: layer.bias, gradients: layer.biasGradient, m: layer.biasM, v: layer.biasV,
                count: layer.outputs, hyper: hyper, step: step)
        }
    }

    // MARK: - Named tensors

    /// Every tensor of the network's state, named for checkpoints: `<prefix>.layers.<i>.weight`
    /// (inputs, outputs), `.bias` (outputs), and Adam's moments under `optimizer.<prefix>...`
    /// with `.m` and `.v` appended.
    public func namedTensors(prefix: String) -> [(name: String, shape: [Int], buffer: B.Buffer)] {
        return layers.enumerated().flatMap { i, layer -> [(name: String, shape: [Int], buffer: B.Buffer)] in
            let base = "\(prefix).layers.\(i)"
            let w = [layer.inputs, layer.outputs], b = [layer.outputs]
            return [
                ("\(base).weight", w, layer.weight), ("\(base).bias", b, layer.bias),
                ("optimizer.\(base).weight.m", w, layer.weightM), ("optimizer.\(base).weight.v", w, layer.weightV),
                ("optimizer.\(base).bias.m", b, layer.biasM), ("optimizer.\(base).bias.v", b, layer.biasV),
            ]
        }
    }
}
