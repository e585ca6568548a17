import ComputeBackend

/// A network described as data: one line per layer, as a config file or a flag gives
/// it, checked and built into a `Sequential` for an input shape. The dcgan preset is one
/// (`ModelPreset.dcgan`); a user's own conv G and D are others.
///
/// Each line is a layer kind, its size, its options and an activation (default none):
///
///     dense 1024 [activation]              a dense layer of 1024 outputs
///     residual 256 [m0.1] [e1e-5]          CTGAN's block: ReLU(BN(dense 256)) followed by the block's input
///                                          (256 more features; `Residual`)
///     conv 64 k4 s2 p1 [activation]        Conv2D to 64 channels, 4×4 kernel, stride 2, padding 1
///     conv-transpose 64 k4 s2 p1 [act.]    ConvTranspose2D to 64 channels
///     batch-norm [m0.1] [e1e-5] [act.]     batch normalisation over channels (features): running-average
///                                          momentum m (PyTorch's convention) and epsilon e
///     layer-norm [activation]              layer normalisation over each example's elements
///     dropout 0.3                          inverted dropout at rate 0.3 (training only)
///     minibatch-std                        appends the batch's mean standard deviation as a channel
///     condition                            appends each row's class, one-hot (a conditional GAN's input;
///                                          `conditional` puts one first in G and D when none is given)
///     projection                           a projection discriminator's score ψ(h) + ⟨e_y, h⟩ + b_y
///                                          (Miyato & Koyama; the conditional conv D's last layer)
///     span-head [t0.2] [gumbel]            a table's output head over its encoded columns: tanh on each
///                                          scalar, softmax at temperature t on each one-hot span, with Gumbel
///                                          noise first if asked (`SpanHead`; conditional, with CTGAN's
///                                          cross-entropy on the conditioned span)
///     reshape 7x7x128                      reads the features as a 7×7×128 NHWC image
///     flatten                              reads an image as its H·W·C features
///
/// Activations: relu, leaky-relu (slope `leaky-slope`), tanh, sigmoid, identity. k, s
/// and p default to 3, 1 and 0. A description whose shapes do not chain is refused before
/// training with one line naming the layer.
public struct Architecture: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case dense
        case residual
        case conv
        case convTranspose = "conv-transpose"
        case batchNorm = "batch-norm"
        case layerNorm = "layer-norm"
        case dropout
        case minibatchStd = "minibatch-std"
        case condition
        case projection
        case spanHead = "span-head"
        case reshape
        case flatten
    }

    public struct Line: Equatable, Sendable {
        public let text: String
        public let kind: Kind
        public let size: Int
        public let kernel, stride, padding: Int
        /// Dropout's rate.
        public let rate: Float
        /// Batch normalisation's running-average momentum (PyTorch's convention: the new
        /// batch's weight) and epsilon.
        public var momentum: Float = 0.1
        public var epsilon: Float = 1e-5
        /// A span head's softmax temperature, and whether it adds Gumbel noise.
        public var temperature: Float = 1
        public var gumbel = false
        public let activation: HiddenActivationKind
        public let image: ImageShape?
    }

    /// The activations a line may name.
    public enum HiddenActivationKind: String, Sendable, CaseIterable {
        case identity, relu, tanh, sigmoid
        case leakyReLU = "leaky-relu"

        func activation(slope: Float) -> Activation {
            switch self {
            case .identity: .identity
            case .relu: .relu
            case .leakyReLU: .leakyReLU(slope: slope)
            case .tanh: .tanh
            case .sigmoid: .sigmoid
            }
        }
    }

    public let lines: [Line]

    /// Parses `lines`; `network` ("generator", "discriminator") names them in errors.
    public init(_ lines: [String], network: String) throws {
        guard !lines.isEmpty else { throw GANError("the \(network) description has no layers") }
        self.lines = try lines.enumerated().map { index, text in
            do {
                return try Self.parse(text)
            } catch let error as GANError {
                throw GANError("\(network) layer \(index + 1) ('\(text)'): \(error.description)")
            }
        }
    }

    public var description: String { lines.map(\.text).joined(separator: "; ") }
    public var texts: [String] { lines.map(\.text) }

    /// The largest layer size and element count a line may give (2²⁴): larger ones are
    /// surely mistakes, and every product of sizes stays far inside Int.
    public static let maximumSize = 1 << 24

    static func parse(_ text: String) throws -> Line {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first else { throw GANError("an empty layer") }
        guard let kind = Kind(rawValue: first) else {
            throw GANError("unknown layer '\(first)'; layers: \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var size = 0, kernel = 3, stride = 1, padding = 0
        var rate: Float = 0
        var activation = HiddenActivationKind.identity
        var image: ImageShape?
        var rest = words.dropFirst()
        switch kind {
        case .dense, .residual, .conv, .convTranspose:
            guard let word = rest.first, let n = Int(word), n >= 1, n <= Self.maximumSize else {
                throw GANError("\(kind.rawValue) needs a size from 1 to \(Self.maximumSize) first (outputs or channels)")
            }
            size = n
            rest = rest.dropFirst()
        case .reshape:
            let parts = rest.first?.split(separator: "x").compactMap { Int($0) } ?? []
            guard parts.count == 3, parts.allSatisfy({ $0 >= 1 && $0 <= Self.maximumSize }),
                  parts[0] * parts[1] <= Self.maximumSize, parts[0] * parts[1] * parts[2] <= Self.maximumSize else {
                throw GANError("reshape needs a shape such as 7x7x128 (height x width x channels, at most \(Self.maximumSize) elements)")
            }
            image = ImageShape(height: parts[0], width: parts[1], channels: parts[2])
            rest = rest.dropFirst()
        case .dropout:
            guard let word = rest.first, let value = Float(word), value >= 0, value < 1 else {
                throw GANError("dropout needs a rate in [0, 1) first, such as 0.3")
            }
            rate = value
            rest = rest.dropFirst()
        case .batchNorm, .layerNorm, .flatten, .minibatchStd, .condition, .projection, .spanHead:
            break
        }
        var activationSeen = false
        var momentum: Float = 0.1, epsilon: Float = 1e-5, temperature: Float = 1, gumbel = false
        for word in rest {
            if kind == .spanHead, word == "gumbel", !gumbel {
                gumbel = true
            } else if kind == .spanHead, word.first == "t", let value = Float(word.dropFirst()) {
                guard value > 0, value <= 100 else { throw GANError("span-head's temperature t must be in (0, 100], got \(word)") }
                temperature = value
            } else if kind == .batchNorm || kind == .residual, let option = word.first, "me".contains(option), let value = Float(word.dropFirst()) {
                if option == "m" {
                    guard value > 0, value <= 1 else { throw GANError("\(kind.rawValue)'s momentum m must be in (0, 1], got \(word)") }
                    momentum = value
                } else {
                    guard value > 0, value < 1 else { throw GANError("\(kind.rawValue)'s epsilon e must be in (0, 1), got \(word)") }
                    epsilon = value
                }
            } else if let option = word.first, "ksp".contains(option), let value = Int(word.dropFirst()), value >= 0, value <= 64 {
                guard kind == .conv || kind == .convTranspose else { throw GANError("\(kind.rawValue) takes no '\(word)'") }
                switch option {
                case "k": kernel = value
                case "s": stride = value
                default: padding = value
                }
            } else if let named = HiddenActivationKind(rawValue: word), !activationSeen,
                      ![.reshape, .flatten, .dropout, .minibatchStd, .condition, .projection, .spanHead, .residual].contains(kind) {
                activation = named
                activationSeen = true
            } else {
                throw GANError("unexpected '\(word)'")
            }
        }
        guard kernel >= 1, stride >= 1, padding >= 0, padding < kernel else {
            throw GANError("kernel \(kernel), stride \(stride), padding \(padding): kernel and stride must be ≥ 1, padding in 0..<kernel")
        }
        var line = Line(
            text: words.joined(separator: " "), kind: kind, size: size, kernel: kernel, stride: stride, padding: padding,
            rate: rate, activation: activation, image: image)
        line.momentum = momentum
        line.epsilon = epsilon
        line.temperature = temperature
        line.gumbel = gumbel
        return line
    }

    /// Why these lines cannot be a WGAN-GP critic, before anything is built (the reasons
    /// of `Sequential.gradientPenaltyRefusal`): normalisation layers have no second-order
    /// pass, activations must be piecewise linear, and the score must be linear.
    public var gradientPenaltyRefusal: String? {
        if let line = lines.first(where: { [.batchNorm, .layerNorm, .minibatchStd, .residual].contains($0.kind) }) {
            return "the gradient penalty has no second-order pass through '\(line.text)': leave it out of the critic"
        }
        if let line = lines.first(where: { $0.activation == .tanh || $0.activation == .sigmoid }) {
            return "the gradient penalty needs piecewise-linear activations in the critic, not '\(line.text)'"
        }
        if let last = lines.last(where: { $0.kind != .flatten && $0.kind != .reshape }), last.activation != .identity {
            return "a WGAN-GP critic must end in one linear output, not '\(last.text)'"
        }
        return nil
    }

    /// Checks that the layers chain from `input` to `outputs` elements without building
    /// anything: the same one-line refusals as `build`, before a run starts.
    /// `classes` (a conditional model's; nil for none) and `group` (the examples a row of
    /// D packs) size the condition layers.
    /// `table` (a table's transform) sizes a span head.
    public func check(
        input: ImageShape, outputs: Int, network: String, classes: Int? = nil, group: Int = 1, table: TableTransform? = nil
    ) throws {
        var shape = input
        for (index, line) in lines.enumerated() {
            func fail(_ message: String) -> GANError {
                GANError("\(network) layer \(index + 1) ('\(line.text)'): \(message) (its input is \(shape))")
            }
            switch line.kind {
            case .dense:
                shape = ImageShape(features: line.size)
            case .residual:
                shape = ImageShape(features: line.size + shape.elements)
            case .conv:
                let g = ConvolutionGeometry(
                    batch: 1, height: shape.height, width: shape.width, channels: shape.channels, kernel: line.kernel,
                    stride: line.stride, padding: line.padding)
                if let problem = g.problem { throw fail("a convolution over \(problem)") }
                shape = ImageShape(height: g.outputHeight, width: g.outputWidth, channels: line.size)
            case .convTranspose:
                let height = (shape.height - 1) * line.stride - 2 * line.padding + line.kernel
                let width = (shape.width - 1) * line.stride - 2 * line.padding + line.kernel
                guard height >= 1, width >= 1 else { throw fail("a transposed convolution with no output") }
                shape = ImageShape(height: height, width: width, channels: line.size)
            case .batchNorm, .layerNorm, .dropout:
                break
            case .reshape:
                guard let image = line.image, image.elements == shape.elements else {
                    throw fail("\(shape.elements) elements do not make \(line.image.map { "\($0)" } ?? "?")")
                }
                shape = image
            case .flatten:
                shape = ImageShape(features: shape.elements)
            case .minibatchStd:
                shape = ImageShape(height: shape.height, width: shape.width, channels: shape.channels + 1)
            case .condition:
                guard let classes else { throw fail("a condition layer needs labelled data and conditional training") }
                shape = ImageShape(height: shape.height, width: shape.width, channels: shape.channels + classes * group)
            case .projection:
                guard classes != nil else { throw fail("a projection needs labelled data and conditional training") }
                guard group == 1 else { throw fail("a projection judges one example a row: not with packing (use a condition line)") }
                shape = ImageShape(features: 1)
            case .spanHead:
                guard let table else { throw fail("a span head is for table data (a CSV)") }
                guard shape.elements == table.width else {
                    throw fail("a span head over the table's \(table.width) encoded features needs \(table.width) inputs")
                }
                if let classes, classes != table.conditionClasses {
                    throw fail("a conditional span head needs the table's \(table.conditionClasses) classes, not \(classes)")
                }
            }
            // Every later product stays inside Int, and the kernels' 32-bit indices hold.
            let (area, overflowA) = shape.height.multipliedReportingOverflow(by: shape.width)
            let (all, overflowB) = area.multipliedReportingOverflow(by: shape.channels)
            guard !overflowA, !overflowB, all <= Self.maximumSize * 64 else {
                throw GANError("\(network) layer \(index + 1) ('\(line.text)'): an output of \(shape.height)×\(shape.width)×\(shape.channels) is too large")
            }
        }
        guard shape.elements == outputs else {
            throw GANError("the \(network) ends in \(shape.elements) outputs (\(shape)), it must end in \(outputs)")
        }
    }

    /// The network for inputs of `input`, checked to end in `output` elements: each
    /// layer's shape from the one before, refused with the layer named where it does not
    /// fit. With `spectralNorm`, dense and conv layers are spectrally normalised.
    public func build<B: ComputeBackend>(
        backend: B, input: ImageShape, outputs: Int, network: String, leakySlope: Float, spectralNorm: Bool = false,
        classes: Int? = nil, group: Int = 1, table: TableTransform? = nil
    ) throws -> Sequential<B> {
        try check(input: input, outputs: outputs, network: network, classes: classes, group: group, table: table)
        var shape = input
        var layers: [any Layer<B>] = []
        for (index, line) in lines.enumerated() {
            func fail(_ message: String) -> GANError {
                GANError("\(network) layer \(index + 1) ('\(line.text)'): \(message)")
            }
            let activation = line.activation.activation(slope: leakySlope)
            do {
                switch line.kind {
                case .dense:
                    let layer = try Dense(
                        backend: backend, inputs: shape.elements, outputs: line.size, activation: activation,
                        spectralNorm: spectralNorm)
                    layers.append(layer)
                    shape = ImageShape(features: line.size)
                case .residual:
                    let layer = try Residual(
                        backend: backend, inputs: shape.elements, width: line.size, epsilon: line.epsilon, momentum: line.momentum)
                    layers.append(layer)
                    shape = ImageShape(features: layer.outputs)
                case .conv:
                    let layer = try Conv2D(
                        backend: backend, input: shape, outputChannels: line.size, kernel: line.kernel, stride: line.stride,
                        padding: line.padding, activation: activation, spectralNorm: spectralNorm)
                    layers.append(layer)
                    shape = layer.output
                case .convTranspose:
                    let layer = try ConvTranspose2D(
                        backend: backend, input: shape, outputChannels: line.size, kernel: line.kernel, stride: line.stride,
                        padding: line.padding, activation: activation)
                    layers.append(layer)
                    shape = layer.output
                case .batchNorm:
                    layers.append(try BatchNorm(
                        backend: backend, shape: shape, activation: activation, epsilon: line.epsilon, momentum: line.momentum))
                case .layerNorm:
                    layers.append(try LayerNorm(backend: backend, shape: shape, activation: activation))
                case .dropout:
                    layers.append(try Dropout(backend: backend, features: shape.elements, rate: line.rate))
                case .minibatchStd:
                    let layer = try MinibatchStd(backend: backend, input: shape)
                    layers.append(layer)
                    shape = layer.output
                case .projection:
                    layers.append(try Projection(backend: backend, inputs: shape.elements, classes: classes ?? 0, spectralNorm: spectralNorm))
                    shape = ImageShape(features: 1)
                case .condition:
                    let layer = try Condition(backend: backend, input: shape, classes: classes ?? 0, group: group)
                    layers.append(layer)
                    shape = layer.output
                case .spanHead:
                    guard let table else { throw fail("a span head is for table data (a CSV)") }
                    layers.append(try SpanHead(
                        backend: backend, features: shape.elements, spans: table.spans, temperature: line.temperature,
                        gumbel: line.gumbel, conditionSpans: classes == nil ? nil : table.categoricalSpans.map { ($0.start, $0.count, $0.first) }))
                case .flatten:
                    shape = ImageShape(features: shape.elements)
                case .reshape:
                    guard let image = line.image, image.elements == shape.elements else {
                        throw fail("the input has \(shape.elements) elements (\(shape)), the shape \(line.image.map { "\($0)" } ?? "?") has \(line.image?.elements ?? 0)")
                    }
                    shape = image
                }
            } catch let error as GANError where !error.description.hasPrefix("\(network) layer") {
                throw fail("\(error.description) (its input is \(shape))")
            }
        }
        guard !layers.isEmpty else { throw GANError("the \(network) description has no layers with parameters") }
        guard shape.elements == outputs else {
            throw GANError("the \(network) ends in \(shape.elements) outputs (\(shape)), it must end in \(outputs)")
        }
        return try Sequential(backend: backend, layers: layers)
    }
}
