import ComputeBackend

/// A fully connected layer y = f(x·W + b), W (inputs, outputs) and b (outputs), with
/// its activation f fused into the GEMM that computes it.
///
/// Forward: one GEMM with the bias + activation epilogue. Backward: dx = dz·Wᵀ, an NT
/// GEMM on W itself that applies the activation gradient of the layer below as it
/// stores; dW = xᵀ·dz, a TN GEMM whose epilogue also sums dz's columns into the bias
/// gradient or, with an optimizer that fuses (Adam), takes the step.
public final class Dense<B: ComputeBackend>: SecondOrderLayer {
    public typealias Backend = B
    public let backend: B
    public let inputs: Int
    public let outputs: Int
    public let activation: Activation
    public let weight: Parameter<B>
    public let bias: Parameter<B>

    public init(backend: B, inputs: Int, outputs: Int, activation: Activation) throws {
        guard inputs >= 1, outputs >= 1 else {
            throw GANError("a dense layer needs positive widths, got \(inputs)→\(outputs)")
        }
        try activation.validate()
        self.backend = backend
        self.inputs = inputs
        self.outputs = outputs
        self.activation = activation
        weight = try Parameter(backend: backend, name: "weight", shape: [inputs, outputs])
        bias = try Parameter(backend: backend, name: "bias", shape: [outputs])
    }

    public var parameters: [Parameter<B>] { [weight, bias] }

    /// PyTorch's default for nn.Linear, which the classic GAN scripts inherit: W and b
    /// uniform in ±1/√inputs.
    public func initialize(seed: UInt64, counter: inout UInt64) throws {
        let bound = 1 / Float(inputs).squareRoot()
        for parameter in parameters {
            var values = [Float](repeating: 0, count: parameter.count)
            values.withUnsafeMutableBufferPointer { Philox.fillUniform($0, seed: seed, counter: counter) }
            counter += Philox.blocks(parameter.count)
            try backend.write(values.map { ($0 * 2 - 1) * bound }, to: parameter.value, offset: 0)
        }
    }

    public func forward(_ x: B.Buffer, rows: Int, into y: B.Buffer) throws {
        try backend.gemm(
            transposeA: false, transposeB: false, m: rows, n: outputs, k: inputs, alpha: 1, a: x, b: weight.value,
            beta: 0, c: y, epilogue: .biasActivation(bias: bias.value, activation: activation))
    }

    public func backward(
        _ x: B.Buffer, rows: Int, outputGradient dz: B.Buffer,
        inputGradient: (buffer: B.Buffer, below: Activation)?, parameterGradients: ParameterGradients<B>
    ) throws {
        if let (dx, below) = inputGradient {
            // dx (rows, inputs) = dz·Wᵀ, times f' of the layer below, from its output x.
            try backend.gemm(
                transposeA: false, transposeB: true, m: rows, n: inputs, k: outputs, alpha: 1, a: dz, b: weight.value,
                beta: 0, c: dx,
                epilogue: below == .identity ? .none : .activationGradient(output: x, activation: below))
        }
        // dW (inputs, outputs) = xᵀ·dz; db = the column sums of dz, from the same pass.
        func weightGradient(beta: Float, epilogue: GEMMEpilogue<B.Buffer>) throws {
            try backend.gemm(
                transposeA: true, transposeB: false, m: inputs, n: outputs, k: rows, alpha: 1, a: x, b: dz, beta: beta,
                c: weight.gradient, epilogue: epilogue)
        }
        switch parameterGradients {
        case .none:
            break
        case .store:
            try weightGradient(beta: 0, epilogue: .columnSums(into: bias.gradient))
        case .step(let optimizer, let step, let addToStored, let keepGradients):
            let beta: Float = addToStored ? 1 : 0
            if let fused = optimizer.fusedEpilogue(weight: weight, bias: bias, step: step, keepGradients: keepGradients) {
                try weightGradient(beta: beta, epilogue: fused)
            } else {
                try weightGradient(beta: beta, epilogue: .columnSums(into: bias.gradient))
                for parameter in parameters { try optimizer.update(parameter, on: backend, step: step) }
            }
        }
    }

    public func tangentForward(_ dx: B.Buffer, rows: Int, output y: B.Buffer, into dy: B.Buffer) throws {
        try backend.gemm(
            transposeA: false, transposeB: false, m: rows, n: outputs, k: inputs, alpha: 1, a: dx, b: weight.value,
            beta: 0, c: dy, epilogue: activation == .identity ? .none : .activationGradient(output: y, activation: activation))
    }

    public func storeSecondOrderGradient(tangent: B.Buffer, delta: B.Buffer, rows: Int) throws {
        try backend.gemm(
            transposeA: true, transposeB: false, m: inputs, n: outputs, k: rows, alpha: 1, a: tangent, b: delta,
            beta: 0, c: weight.gradient)
    }
}
