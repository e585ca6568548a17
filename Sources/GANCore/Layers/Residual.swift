import ComputeBackend

/// CTGAN's generator block (Xu et al. 2019, its `Residual`): h = ReLU(BN(x·W + b)) of
/// `width` features, and the output is h followed by the input, [h, x] — each block
/// widens the features by `width`, a dense-net's concatenation more than a sum.
///
/// Forward: the dense layer into `a`, batch normalisation with the ReLU into `h`, then
/// `appendChannels` lays x after h. Backward from dL/dy: dh is y's first `width` columns
/// (`appendChannels`'s inverse) and the skip's gradient its last `inputs` columns (taken
/// through two transposes and a contiguous copy); dh runs back through the ReLU, the
/// batch normalisation and the dense layer, and the skip's gradient is added to the dense
/// layer's dL/dx before the derivative of the activation below. Parameters: the dense
/// layer's (`fc.weight`, `fc.bias`) and the batch normalisation's (`bn.weight`,
/// `bn.bias`), with its running averages.
public final class Residual<B: ComputeBackend>: Layer {
    public typealias Backend = B
    public let backend: B
    public let inputs: Int
    public let width: Int
    public let dense: Dense<B>
    public let norm: BatchNorm<B>
    public var activation: Activation { .identity }
    private var scratch: (a: B.Buffer, h: B.Buffer, dh: B.Buffer, da: B.Buffer, transposed: B.Buffer, skip: B.Buffer, skipGradient: B.Buffer)?
    private var reserved = 0

    public init(backend: B, inputs: Int, width: Int, epsilon: Float = 1e-5, momentum: Float = 0.1) throws {
        guard inputs >= 1, width >= 1 else { throw GANError("a residual block needs positive widths, got \(inputs)→\(width)") }
        self.backend = backend
        self.inputs = inputs
        self.width = width
        dense = try Dense(backend: backend, inputs: inputs, outputs: width, activation: .identity, names: ("fc.weight", "fc.bias"))
        norm = try BatchNorm(
            backend: backend, shape: ImageShape(features: width), activation: .relu, epsilon: epsilon, momentum: momentum,
            names: ("bn.weight", "bn.bias"))
    }

    public var outputs: Int { width + inputs }
    public var parameters: [Parameter<B>] { dense.parameters + norm.parameters }
    public var buffers: [(name: String, shape: [Int], buffer: B.Buffer)] {
        norm.buffers.map { ("bn.\($0.name)", $0.shape, $0.buffer) }
    }

    public func initialize(seed: UInt64, counter: inout UInt64) throws {
        try dense.initialize(seed: seed, counter: &counter)
        try norm.initialize(seed: seed, counter: &counter)
    }

    public func setMode(_ mode: LayerMode) { norm.setMode(mode) }

    public func reserve(rows: Int) throws {
        try dense.reserve(rows: rows)
        try norm.reserve(rows: rows)
        guard rows > reserved else { return }
        func make(_ count: Int) throws -> B.Buffer { try backend.makeBuffer(count: max(1, count)) }
        scratch = (try make(rows * width), try make(rows * width), try make(rows * width), try make(rows * width),
                   try make(rows * outputs), try make(rows * inputs), try make(rows * inputs))
        reserved = rows
    }

    private func buffers(rows: Int) throws -> (a: B.Buffer, h: B.Buffer, dh: B.Buffer, da: B.Buffer, transposed: B.Buffer, skip: B.Buffer, skipGradient: B.Buffer) {
        guard rows <= reserved, let scratch else {
            throw GANError("a residual block ran on \(rows) rows with scratch for \(reserved): reserve(rows:) first")
        }
        return scratch
    }

    public func forward(_ x: B.Buffer, rows: Int, into y: B.Buffer) throws {
        let s = try buffers(rows: rows)
        try dense.forward(x, rows: rows, into: s.a)
        try norm.forward(s.a, rows: rows, into: s.h)
        try backend.appendChannels(s.h, rows: rows, spatial: 1, channels: width, values: x, extra: inputs, inverse: false, into: y)
    }

    public func backward(
        _ x: B.Buffer, rows: Int, outputGradient dz: B.Buffer,
        inputGradient: (buffer: B.Buffer, below: Activation)?, parameterGradients: ParameterGradients<B>
    ) throws {
        let s = try buffers(rows: rows)
        // dh = dz[:, ..<width], through the ReLU (from its output h).
        try backend.appendChannels(dz, rows: rows, spatial: 1, channels: width, values: x, extra: inputs, inverse: true, into: s.dh)
        try backend.activationBackward(.relu, y: s.h, dy: s.dh, dx: s.dh, count: rows * width)
        try norm.backward(s.a, rows: rows, outputGradient: s.dh, inputGradient: (s.da, .identity), parameterGradients: parameterGradients)
        guard let (dx, below) = inputGradient else {
            try dense.backward(x, rows: rows, outputGradient: s.da, inputGradient: nil, parameterGradients: parameterGradients)
            return
        }
        try dense.backward(x, rows: rows, outputGradient: s.da, inputGradient: (dx, .identity), parameterGradients: parameterGradients)
        // The skip's gradient dz[:, width...]: rows width... of dzᵀ are contiguous.
        try backend.transpose(dz, rows: rows, columns: outputs, into: s.transposed)
        try backend.copy(s.transposed, offset: width * rows, to: s.skip, offset: 0, count: inputs * rows)
        try backend.transpose(s.skip, rows: inputs, columns: rows, into: s.skipGradient)
        try backend.addScaled(dx, s.skipGradient, count: rows * inputs, scale: 1)
        if below != .identity { try backend.activationBackward(below, y: x, dy: dx, dx: dx, count: rows * inputs) }
    }
}
