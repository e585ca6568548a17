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

/// The model presets, as data, in one place: `mlp` (the classic MLP GAN on images),
/// `toy` (the small MLP for 2-D mixtures) and the reference classifier. A run's config
/// starts from its preset's widths; flags change them.
public enum ModelPreset: String, Codable, CaseIterable, Sendable {
    /// The Keras-GAN recipe: G noise 100 → 128 → 256 → 512 → 1024 → data with batch
    /// normalisation (momentum 0.2, ε 1e-3) after each hidden layer but the first, D data →
    /// 512 → 256 → 1, LeakyReLU 0.2, real targets of 1. (Until 2026-11-29 the default was
    /// the plain MLP with D 1024 → 512 → 256 → 128 and a real label of 0.9: FD-FMNIST 22.7,
    /// 50.7 and 20.5 at 5 epochs on seeds 0–2 against this recipe's 14.7, 19.3 and 22.0.)
    case mlp
    /// G noise 2 → 4 × 128 → data, D data → 4 × 128 → 1.
    case toy
    /// The conv GAN Lucic et al. ("Are GANs Created Equal?", 2018) used on MNIST and
    /// Fashion-MNIST, for 28×28×1 images: G z(64) → FC 1024, BN, ReLU → FC 7·7·128, BN,
    /// ReLU → ConvT 64 4×4 s2, BN, ReLU → ConvT 1 4×4 s2, tanh; D Conv 64 4×4 s2, LReLU →
    /// Conv 128 4×4 s2, BN, LReLU → FC 1024, BN, LReLU → FC 1 (no BN in a WGAN-GP critic).
    case dcgan
    /// CTGAN's networks for a table (Xu et al. 2019, the sdv-dev defaults), for the
    /// encoded rows of `TableTransform`: G z(128) → two residual blocks of 256 (each
    /// ReLU(BN(FC 256)) followed by its input: 128 → 384 → 640 features) → FC width → span
    /// head (tanh scalars, Gumbel-softmax at temperature 0.2 over each one-hot span); D
    /// (packs of 10 rows) → FC 256, LReLU 0.2, dropout 0.5 → FC 256, LReLU, dropout 0.5 → FC 1.
    case tabular

    /// Training settings the preset changes from the defaults, for keys the user did not
    /// give. mlp: the batch-normed G and real targets of 1 (the Keras-GAN recipe), and
    /// the EMA of G at 0.999 for sampling and evaluation (FD-FMNIST at 5 epochs, seed 0:
    /// 14.66 → 12.40, and 7.74 with the average's own batch-norm averages; benchmarks/README.md,
    /// sixth and seventh sessions of 2026-11-29). dcgan: real targets of 1 (one-sided label smoothing at 0.9, the MLP's default,
    /// made its runs far worse: FD-FMNIST 125 against 27 at 500 steps, the same seed) and G
    /// trained on the fake batch D judged, as PyTorch's DCGAN example does (one G forward a
    /// step fewer), and the EMA of G at 0.999 with its own batch-norm averages (FD-FMNIST at
    /// 5 epochs, seed 1: 2.52 from the raw weights; seventh session of 2026-11-29 in
    /// benchmarks/README.md). benchmarks/README.md, 2026-11-29 (session 3), has the probes.
    public var recipe: [(key: String, value: ConfigValue)] {
        switch self {
        case .mlp: [("g-batch-norm", .boolean(true)), ("real-label", .number(1)), ("ema", .number(0.999))]
        case .toy: []
        case .dcgan: [("real-label", .number(1)), ("generator-noise", .string("reuse")), ("ema", .number(0.999))]
        case .tabular:
            // CTGAN's: WGAN-GP with one critic update a step, Adam 2e-4, β (0.5, 0.9), batches
            // of 500 in packs of 10, 300 epochs.
            [("loss", .string("wgan-gp")), ("d-steps", .integer(1)), ("g-lr", .number(2e-4)), ("d-lr", .number(2e-4)),
             ("beta1", .number(0.5)), ("beta2", .number(0.9)), ("pack", .integer(10)), ("batch-size", .integer(500)),
             ("epochs", .integer(300)), ("log-every", .integer(50)), ("sample-every", .integer(1000)),
             ("checkpoint-every", .integer(1000))]
        }
    }

    /// The generator's noise width and hidden widths, and the discriminator's hidden widths.
    public var noiseDim: Int {
        switch self {
        case .mlp: 100
        case .toy: 2
        case .dcgan: 64
        case .tabular: 128
        }
    }

    public var generatorHidden: [Int] {
        switch self {
        case .mlp, .dcgan: [128, 256, 512, 1024]
        case .tabular: [256, 256]
        case .toy: [128, 128, 128, 128]
        }
    }

    /// The classic MLP GAN's D widths (the mlp preset's until 2026-11-29), which the peers'
    /// scripts in benchmarks/peers build: `bench` measures that network.
    public static let classicDiscriminatorHidden = [1024, 512, 256, 128]

    public var discriminatorHidden: [Int] {
        switch self {
        case .mlp: [512, 256]
        case .dcgan: [1024, 512, 256, 128]
        case .tabular: [256, 256]
        case .toy: [128, 128, 128, 128]
        }
    }

    /// The sides the dcgan preset has a network for besides 28: Radford et al.'s DCGAN
    /// scaled to 4 · 2ⁿ (64 is theirs).
    public static let radfordSides = [8, 16, 32, 64, 128]

    /// Why the dcgan preset has no network for `data`, or nil.
    public static func dcganRefusal(_ data: ImageShape) -> String? {
        if data == ImageShape(height: 28, width: 28, channels: 1) { return nil }
        if data.height == data.width, radfordSides.contains(data.height) { return nil }
        return "the dcgan preset is for 28×28×1 and square \(radfordSides.map(String.init).joined(separator: ", ")) images, not \(data) (give --image-size, or --generator and --discriminator lines)"
    }

    /// The generator as layer lines (`Architecture`) for examples of `data`, for presets
    /// that are not MLPs: for 28×28×1 Lucic et al.'s network; for a square side S = 4·2ⁿ
    /// and C channels Radford et al.'s DCGAN (for 64×64: z → ConvT 512 4×4 (4×4), BN, ReLU
    /// → ConvT 256, 128, 64 4×4 s2, each BN, ReLU → ConvT C 4×4 s2, tanh), with the
    /// widths halving from 64·2ⁿ⁻¹ as the image doubles.
    public func generatorLayers(data: ImageShape) throws -> [String]? {
        switch self {
        case .mlp, .toy: return nil
        case .tabular:
            return ["residual 256", "residual 256", "dense \(data.elements)", "span-head t0.2 gumbel"]
        case .dcgan:
            if let refusal = Self.dcganRefusal(data) { throw GANError(refusal) }
            if data.height == 28 {
                return ["dense 1024", "batch-norm relu", "dense 6272", "batch-norm relu", "reshape 7x7x128",
                        "conv-transpose 64 k4 s2 p1", "batch-norm relu", "conv-transpose 1 k4 s2 p1 tanh"]
            }
            let doublings = Self.doublings(data.height)
            // The noise (a conditional G's with its class) is a 1×1 image already.
            var lines = ["conv-transpose \(64 << (doublings - 1)) k4 s1 p0", "batch-norm relu"]
            for i in 1..<doublings { lines += ["conv-transpose \(64 << (doublings - 1 - i)) k4 s2 p1", "batch-norm relu"] }
            return lines + ["conv-transpose \(data.channels) k4 s2 p1 tanh"]
        }
    }

    /// n for a side of 4 · 2ⁿ.
    static func doublings(_ side: Int) -> Int { (side / 4).trailingZeroBitCount }

    /// The discriminator as layer lines for `loss` and examples of `data`: a WGAN-GP
    /// critic has no batch normalisation (its penalty is per example), so each BN's
    /// activation moves onto the layer before it. Radford's D for a side 4·2ⁿ: Conv 64 4×4
    /// s2, LReLU, then n − 1 more (128, 256, …), each BN, LReLU, then the 4×4×(64·2ⁿ⁻¹)
    /// features to one score (their last 4×4 convolution, as a dense layer).
    public func discriminatorLayers(loss: LossKind, data: ImageShape) throws -> [String]? {
        switch self {
        case .mlp, .toy: return nil
        case .tabular:
            // A row is stored as a 1×width image: flattened first, so a condition appends
            // features (one one-hot per packed row), not channels at every position.
            return ["flatten", "dense 256 leaky-relu", "dropout 0.5", "dense 256 leaky-relu", "dropout 0.5", "dense 1"]
        case .dcgan:
            if let refusal = Self.dcganRefusal(data) { throw GANError(refusal) }
            let normalised = loss != .wganGP
            if data.height == 28 {
                if !normalised {
                    return ["conv 64 k4 s2 p1 leaky-relu", "conv 128 k4 s2 p1 leaky-relu", "dense 1024 leaky-relu", "dense 1"]
                }
                return ["conv 64 k4 s2 p1 leaky-relu", "conv 128 k4 s2 p1", "batch-norm leaky-relu", "dense 1024",
                        "batch-norm leaky-relu", "dense 1"]
            }
            var lines = ["conv 64 k4 s2 p1 leaky-relu"]
            for i in 1..<Self.doublings(data.height) {
                lines += normalised ? ["conv \(64 << i) k4 s2 p1", "batch-norm leaky-relu"] : ["conv \(64 << i) k4 s2 p1 leaky-relu"]
            }
            return lines + ["flatten", "dense 1"]
        }
    }

    /// The reference classifier of the image metrics (ReferenceClassifier).
    public static let classifier = MLPShape(widths: [784, 512, 256, 10], hidden: .relu, output: .identity)
}
