import ComputeBackend

/// A 2-D convolution over NHWC images: y = f(conv(x, W) + b), W (k·k·inputChannels,
/// outputChannels) and b (outputChannels); with spectral normalisation, W/σ(W) (σ of W
/// as that matrix, as PyTorch's spectral_norm takes it).
///
/// Forward: im2col turns x (rows, H·W·Cin) into the column matrix (rows·OH·OW, k·k·Cin);
/// one GEMM with the bias + activation epilogue gives y (rows·OH·OW, Cout), which is y
/// (rows, OH·OW·Cout) in NHWC. Backward: dW = columnsᵀ·dz with the bias gradient or the
/// fused Adam step from the same pass, as a dense layer's; dx = col2im(dz·Wᵀ), then the
/// activation gradient of the layer below. The column matrix of the forward is reused by
/// the backward, which must follow the forward on the same x (as `Sequential` runs them).
public final class Conv2D<B: ComputeBackend>: SecondOrderLayer {
    public typealias Backend = B
    public let backend: B
    public let input: ImageShape
    public let output: ImageShape
    public let kernel, stride, padding: Int
    public let activation: Activation
    public let weight: Parameter<B>
    public let bias: Parameter<B>
    public let spectralNorm: SpectralNorm<B>?
    /// The column matrix of the last forward, and the patch gradients, for `reserved` rows.
    private var columns, columnGradients: B.Buffer?
    private var reserved = 0

    public init(
        backend: B, input: ImageShape, outputChannels: Int, kernel: Int, stride: Int, padding: Int,
        activation: Activation, spectralNorm: Bool = false
    ) throws {
        let geometry = ConvolutionGeometry(
            batch: 1, height: input.height, width: input.width, channels: input.channels, kernel: kernel, stride: stride,
            padding: padding)
        if let problem = geometry.problem { throw GANError("a convolution over \(problem)") }
        guard outputChannels >= 1 else { throw GANError("a convolution needs 1 or more output channels, got \(outputChannels)") }
        try activation.validate()
        self.backend = backend
        self.input = input
        output = ImageShape(height: geometry.outputHeight, width: geometry.outputWidth, channels: outputChannels)
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.activation = activation
        weight = try Parameter(backend: backend, name: "weight", shape: [geometry.patchSize, outputChannels])
        bias = try Parameter(backend: backend, name: "bias", shape: [outputChannels])
        self.spectralNorm = spectralNorm
            ? try SpectralNorm(backend: backend, inputs: geometry.patchSize, outputs: outputChannels) : nil
    }

    public var inputs: Int { input.elements }
    public var outputs: Int { output.elements }
    public var parameters: [Parameter<B>] { [weight, bias] }
    public var buffers: [(name: String, shape: [Int], buffer: B.Buffer)] { spectralNorm?.buffers ?? [] }
    private var patchSize: Int { kernel * kernel * input.channels }
    var effectiveWeight: B.Buffer { spectralNorm?.normalized ?? weight.value }

    func geometry(rows: Int) -> ConvolutionGeometry {
        ConvolutionGeometry(
            batch: rows, height: input.height, width: input.width, channels: input.channels, kernel: kernel,
            stride: stride, padding: padding)
    }

    public func reserve(rows: Int) throws {
        guard rows > reserved else { return }
        let count = max(1, rows * output.height * output.width * patchSize)
        columns = try backend.makeBuffer(count: count)
        columnGradients = try backend.makeBuffer(count: count)
        reserved = rows
    }

    private func scratch(rows: Int) throws -> (columns: B.Buffer, gradients: B.Buffer) {
        guard rows <= reserved, let columns, let columnGradients else {
            throw GANError("a convolution ran on \(rows) rows with scratch for \(reserved): reserve(rows:) first")
        }
        return (columns, columnGradients)
    }

    public func refreshDerivedState(iterate: Bool) throws {
        try spectralNorm?.refresh(weight.value, iterate: iterate)
    }

    /// PyTorch's default for nn.Conv2d: W and b uniform in ±1/√(k·k·inputChannels).
    public func initialize(seed: UInt64, counter: inout UInt64) throws {
        try initializeUniform([weight, bias], bound: 1 / Float(patchSize).squareRoot(), backend: backend, seed: seed, counter: &counter)
        try spectralNorm?.initialize(seed: seed, counter: &counter)
    }

    public func forward(_ x: B.Buffer, rows: Int, into y: B.Buffer) throws {
        let (columns, _) = try scratch(rows: rows)
        let g = geometry(rows: rows)
        try backend.im2col(x, geometry: g, into: columns)
        try backend.gemm(
            transposeA: false, transposeB: false, m: g.positions, n: output.channels, k: patchSize, alpha: 1, a: columns,
            b: effectiveWeight, beta: 0, c: y, epilogue: .biasActivation(bias: bias.value, activation: activation))
    }

    public func backward(
        _ x: B.Buffer, rows: Int, outputGradient dz: B.Buffer,
        inputGradient: (buffer: B.Buffer, below: Activation)?, parameterGradients: ParameterGradients<B>
    ) throws {
        let (columns, columnGradients) = try scratch(rows: rows)
        let g = geometry(rows: rows)
        if let (dx, below) = inputGradient {
            // d(columns) = dz·Wᵀ, then each pixel gathers its patch entries.
            try backend.gemm(
                transposeA: false, transposeB: true, m: g.positions, n: patchSize, k: output.channels, alpha: 1, a: dz,
                b: effectiveWeight, beta: 0, c: columnGradients)
            try backend.col2im(columnGradients, geometry: g, into: dx)
            if below != .identity {
                try backend.activationBackward(below, y: x, dy: dx, dx: dx, count: rows * inputs)
            }
        }
        try denseParameterGradients(
            backend: backend, a: columns, rows: g.positions, inputs: patchSize, outputs: output.channels,
            outputGradient: dz, weight: weight, bias: bias, spectralNorm: spectralNorm,
            parameterGradients: parameterGradients)
    }

    public func tangentForward(_ dx: B.Buffer, rows: Int, output y: B.Buffer, into dy: B.Buffer) throws {
        let (_, tangentColumns) = try scratch(rows: rows)
        let g = geometry(rows: rows)
        try backend.im2col(dx, geometry: g, into: tangentColumns)
        try backend.gemm(
            transposeA: false, transposeB: false, m: g.positions, n: output.channels, k: patchSize, alpha: 1,
            a: tangentColumns, b: effectiveWeight, beta: 0, c: dy,
            epilogue: activation == .identity ? .none : .activationGradient(output: y, activation: activation))
    }

    public func storeSecondOrderGradient(tangent: B.Buffer, delta: B.Buffer, rows: Int) throws {
        let (_, tangentColumns) = try scratch(rows: rows)
        let g = geometry(rows: rows)
        try backend.im2col(tangent, geometry: g, into: tangentColumns)
        try backend.gemm(
            transposeA: true, transposeB: false, m: patchSize, n: output.channels, k: g.positions, alpha: 1,
            a: tangentColumns, b: delta, beta: 0, c: weight.gradient)
    }
}

/// A transposed convolution (a convolution's input gradient as a layer): y = f(convᵀ(x,
/// W) + b) over NHWC images, upsampling by `stride`: output height (H − 1)·stride −
/// 2·padding + kernel. W (inputChannels, k·k·outputChannels), b (outputChannels).
///
/// Forward: columns = x·W (rows·H·W, k·k·Cout), then col2im into y, then the bias and
/// the activation. Backward: d(columns) = im2col(dz); dx = d(columns)·Wᵀ with the
/// activation gradient of the layer below in the GEMM's epilogue; dW = xᵀ·d(columns); the
/// bias gradient the column sums of dz. The same two kernels as `Conv2D`, swapped.
public final class ConvTranspose2D<B: ComputeBackend>: SecondOrderLayer {
    public typealias Backend = B
    public let backend: B
    public let input: ImageShape
    public let output: ImageShape
    public let kernel, stride, padding: Int
    public let activation: Activation
    public let weight: Parameter<B>
    public let bias: Parameter<B>
    private var columns: B.Buffer?
    private var reserved = 0

    public init(
        backend: B, input: ImageShape, outputChannels: Int, kernel: Int, stride: Int, padding: Int, activation: Activation
    ) throws {
        guard input.elements >= 1, outputChannels >= 1, kernel >= 1, stride >= 1, padding >= 0, padding < kernel else {
            throw GANError("a transposed convolution needs positive sizes and padding below the kernel, got \(input) → \(outputChannels) channels, kernel \(kernel), stride \(stride), padding \(padding)")
        }
        let height = (input.height - 1) * stride - 2 * padding + kernel
        let width = (input.width - 1) * stride - 2 * padding + kernel
        guard height >= 1, width >= 1 else {
            throw GANError("a transposed convolution of \(input) with kernel \(kernel), stride \(stride), padding \(padding) has no output")
        }
        try activation.validate()
        self.backend = backend
        self.input = input
        output = ImageShape(height: height, width: width, channels: outputChannels)
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.activation = activation
        weight = try Parameter(backend: backend, name: "weight", shape: [input.channels, kernel * kernel * outputChannels])
        bias = try Parameter(backend: backend, name: "bias", shape: [outputChannels])
    }

    public var inputs: Int { input.elements }
    public var outputs: Int { output.elements }
    public var parameters: [Parameter<B>] { [weight, bias] }
    private var patchSize: Int { kernel * kernel * output.channels }

    /// The convolution whose input gradient this layer's forward is: over the output.
    func geometry(rows: Int) -> ConvolutionGeometry {
        ConvolutionGeometry(
            batch: rows, height: output.height, width: output.width, channels: output.channels, kernel: kernel,
            stride: stride, padding: padding)
    }

    public func reserve(rows: Int) throws {
        guard rows > reserved else { return }
        columns = try backend.makeBuffer(count: max(1, rows * input.height * input.width * patchSize))
        reserved = rows
    }

    private func scratch(rows: Int) throws -> B.Buffer {
        guard rows <= reserved, let columns else {
            throw GANError("a transposed convolution ran on \(rows) rows with scratch for \(reserved): reserve(rows:) first")
        }
        return columns
    }

    /// PyTorch's default for nn.ConvTranspose2d: W and b uniform in ±1/√(k·k·outputChannels)
    /// (its fan-in is taken from the weight's (in, out, k, k) layout: out·k·k).
    public func initialize(seed: UInt64, counter: inout UInt64) throws {
        try initializeUniform([weight, bias], bound: 1 / Float(patchSize).squareRoot(), backend: backend, seed: seed, counter: &counter)
    }

    public func forward(_ x: B.Buffer, rows: Int, into y: B.Buffer) throws {
        let columns = try scratch(rows: rows)
        let g = geometry(rows: rows)
        try backend.gemm(
            transposeA: false, transposeB: false, m: g.positions, n: patchSize, k: input.channels, alpha: 1, a: x,
            b: weight.value, beta: 0, c: columns)
        try backend.col2im(columns, geometry: g, into: y)
        try backend.addBias(y, rows: rows * output.height * output.width, columns: output.channels, bias: bias.value)
        if activation != .identity { try backend.activationForward(activation, x: y, y: y, count: rows * outputs) }
    }

    public func backward(
        _ x: B.Buffer, rows: Int, outputGradient dz: B.Buffer,
        inputGradient: (buffer: B.Buffer, below: Activation)?, parameterGradients: ParameterGradients<B>
    ) throws {
        let columns = try scratch(rows: rows)
        let g = geometry(rows: rows)
        try backend.im2col(dz, geometry: g, into: columns)
        if let (dx, below) = inputGradient {
            try backend.gemm(
                transposeA: false, transposeB: true, m: g.positions, n: input.channels, k: patchSize, alpha: 1,
                a: columns, b: weight.value, beta: 0, c: dx,
                epilogue: below == .identity ? .none : .activationGradient(output: x, activation: below))
        }
        func storeGradients(beta: Float) throws {
            try backend.gemm(
                transposeA: true, transposeB: false, m: input.channels, n: patchSize, k: g.positions, alpha: 1, a: x,
                b: columns, beta: beta, c: weight.gradient)
            try backend.sumColumns(
                dz, rows: rows * output.height * output.width, columns: output.channels, into: bias.gradient,
                accumulate: beta != 0)
        }
        switch parameterGradients {
        case .none:
            break
        case .store:
            try storeGradients(beta: 0)
        case .step(let optimizer, let step, let addToStored, _):
            try storeGradients(beta: addToStored ? 1 : 0)
            for parameter in parameters { try optimizer.update(parameter, on: backend, step: step) }
        }
    }

    public func tangentForward(_ dx: B.Buffer, rows: Int, output y: B.Buffer, into dy: B.Buffer) throws {
        let columns = try scratch(rows: rows)
        let g = geometry(rows: rows)
        try backend.gemm(
            transposeA: false, transposeB: false, m: g.positions, n: patchSize, k: input.channels, alpha: 1, a: dx,
            b: weight.value, beta: 0, c: columns)
        try backend.col2im(columns, geometry: g, into: dy)
        if activation != .identity { try backend.activationBackward(activation, y: y, dy: dy, dx: dy, count: rows * outputs) }
    }

    public func storeSecondOrderGradient(tangent: B.Buffer, delta: B.Buffer, rows: Int) throws {
        let columns = try scratch(rows: rows)
        let g = geometry(rows: rows)
        try backend.im2col(delta, geometry: g, into: columns)
        try backend.gemm(
            transposeA: true, transposeB: false, m: input.channels, n: patchSize, k: g.positions, alpha: 1, a: tangent,
            b: columns, beta: 0, c: weight.gradient)
    }
}

/// Parameters drawn uniform in ±bound from Philox `seed` at `counter`, on the host.
func initializeUniform<B: ComputeBackend>(
    _ parameters: [Parameter<B>], bound: Float, backend: B, seed: UInt64, counter: inout UInt64
) throws {
    for parameter in parameters {
        var values = [Float](repeating: 0, count: parameter.count)
        values.withUnsafeMutableBufferPointer { Philox.fillUniform($0, seed: seed, counter: counter) }
        counter += Philox.blocks(parameter.count)
        try backend.write(values.map { ($0 * 2 - 1) * bound }, to: parameter.value, offset: 0)
    }
}
