import ComputeBackend
import Foundation

/// A value from a config file or a command-line flag, before it is checked against the
/// key it sets.
public enum ConfigValue: Equatable, Sendable, CustomStringConvertible {
    case integer(Int)
    case number(Double)
    case string(String)
    case boolean(Bool)
    case list([ConfigValue])

    public var description: String {
        switch self {
        case .integer(let v): "\(v)"
        case .number(let v): "\(v)"
        case .string(let v): "'\(v)'"
        case .boolean(let v): "\(v)"
        case .list(let v): "[\(v.map(\.description).joined(separator: ", "))]"
        }
    }
}

/// The backends `--backend` names.
public enum BackendKind: String, Codable, CaseIterable, Sendable {
    case opencl
    case cpu
}

/// The hidden activations `--g-activation` and `--d-activation` name.
public enum HiddenActivation: String, Codable, CaseIterable, Sendable {
    case relu
    case leakyReLU = "leaky-relu"
}

/// The noise of the generator's update (`--generator-noise`): `reuse` trains G on the fake
/// batch the last D update judged (its noise and forward, as PyTorch's DCGAN example
/// does; one G forward a step fewer); `fresh` draws new noise and runs G again.
public enum GeneratorNoise: String, Codable, CaseIterable, Sendable {
    case reuse
    case fresh
}

/// What a suspected mode collapse does (`--on-collapse`): a warning line, stopping the
/// run (its checkpoint written), or a rollback to the newest checkpoint with lower
/// learning rates (as `on-divergence rollback`).
public enum CollapsePolicy: String, Codable, CaseIterable, Sendable {
    case warn
    case stop
    case rollback
}

/// What a non-finite loss, gradient or weight does (`--on-divergence`).
public enum DivergencePolicy: String, Codable, CaseIterable, Sendable {
    case stop
    case rollback
}

/// Everything that defines a training run. Its keys are the `gan-cl train` flag names;
/// a config file (JSON or TOML) uses the same keys, and flags win over the file.
/// `config.json` in the run directory holds the resolved whole.
public struct RunConfig: Codable, Equatable, Sendable {
    public var data = ImageDataset.defaultDirectory
    /// Passes over the data; ignored when `steps` is set.
    public var epochs = 20
    /// Generator updates in all; nil: `epochs` decides.
    public var steps: Int?
    public var batchSize = 64
    /// nil: OpenCL when a device exists, else the CPU.
    public var backend: BackendKind?
    public var device: String?
    public var seed: UInt64 = 1
    public var out: String?
    public var logEvery = 50
    public var sampleEvery = 500
    public var checkpointEvery = 1000
    public var keepCheckpoints = 3
    /// The model preset whose widths fill `noise-dim`, `g-hidden` and `d-hidden` where
    /// they are not given: `toy` for a 2-D mixture, `mlp` otherwise.
    public var model = ModelPreset.mlp
    public var noiseDim = ModelPreset.mlp.noiseDim
    public var gHidden = ModelPreset.mlp.generatorHidden
    public var dHidden = ModelPreset.mlp.discriminatorHidden
    /// The networks as layer lines (`Architecture`); nil: the MLP of the widths above.
    public var generator: [String]?
    public var discriminator: [String]?
    /// The hidden layers' activation (LeakyReLU with slope `leakySlope`).
    public var gActivation = HiddenActivation.leakyReLU
    public var dActivation = HiddenActivation.leakyReLU
    public var leakySlope: Float = 0.2
    /// The GAN loss; `lossPreset` gives each its paper's recipe for the keys not set.
    public var loss = LossKind.bce
    /// The optimizer of both networks.
    public var optimizer = OptimizerKind.adam
    /// WGAN's weight clipping: critic parameters stay in [−clip, clip].
    public var clip: Float = 0.01
    /// WGAN-GP's penalty weight λ.
    public var gpWeight: Float = 10
    /// SGD's momentum.
    public var momentum: Float = 0.9
    /// Spectral normalisation of every discriminator weight (one power iteration per update).
    public var spectralNorm = false
    public var gLr: Float = 2e-4
    public var dLr: Float = 2e-4
    public var beta1: Float = 0.5
    public var beta2: Float = 0.999
    /// Discriminator updates per generator update.
    public var dSteps = 1
    /// The discriminator's target for real images: 1, or less for one-sided label smoothing.
    public var realLabel: Float = 0.9
    /// Whether G's update reuses the last D update's fake batch or draws new noise.
    public var generatorNoise = GeneratorNoise.fresh
    /// The decay of the generator's exponential moving average (Karras et al.), which
    /// sampling, evaluation and the grids use; 0: none.
    public var ema: Float = 0
    /// Instance noise (Sønderby et al. 2017; Arjovsky & Bottou 2017): Gaussian noise of
    /// this standard deviation on every input D sees, real and fake, annealed linearly to
    /// 0 over the run; 0: none.
    public var instanceNoise: Float = 0
    /// Learning-rate decay: over the last `lrDecay` of the run (a fraction of its steps)
    /// both learning rates fall linearly towards 0; 0: constant learning rates.
    public var lrDecay: Float = 0
    /// PacGAN's packing: D judges `pack` examples at once, concatenated along channels
    /// (features for the MLP), real packs and fake packs; 1: none.
    public var pack = 1
    /// Discriminators (GMAN, Durugkar et al. 2017): each trains on its own batches, G
    /// against their mean.
    public var discriminators = 1
    /// A minibatch standard deviation layer before D's last layer (ProGAN).
    public var minibatchStd = false
    /// The MLP generator with batch normalisation after every hidden layer but the first
    /// (the Keras-GAN recipe's: momentum 0.2 in PyTorch's convention, ε 1e-3).
    public var gBatchNorm = false
    /// A TensorBoard event file in the run directory: every metrics.csv column and each
    /// sample grid.
    public var tensorboard = true
    /// A conditional GAN (Mirza & Osindero 2014): the data's classes, one-hot, go into G
    /// with the noise and into D with the example (a `condition` layer first in each).
    public var conditional = false
    /// A picture folder's size (scaled and centre-cropped to N × N), channels (1 or 3) and
    /// whether an unreadable picture stops the run; nil: from the pictures.
    public var imageSize: Int?
    public var channels: Int?
    public var strict = false

    /// A table's columns forced categorical or numeric (by name), its held-out rows (a
    /// CSV, or a seeded share of the table split off before training) for the privacy and
    /// usefulness checks, and the column whose prediction measures usefulness.
    public var categorical: [String] = []
    public var numeric: [String] = []
    public var holdout: String?
    public var holdoutFraction: Float = 0
    public var target: String?

    /// How a table is read.
    public var tableOptions: TableDataset.Options {
        TableDataset.Options(
            categorical: Set(categorical), numeric: Set(numeric), holdout: holdout, holdoutFraction: Double(holdoutFraction),
            target: target)
    }

    /// How a folder of pictures is read.
    public var folderOptions: ImageFolder.Options { ImageFolder.Options(imageSize: imageSize, channels: channels, strict: strict) }
    /// The collapse watchdog: below this diversity (the spread of a fixed noise batch's
    /// samples over the data's) at a log step, or with at most 2 classes covered at an
    /// evaluation, the run is taken as collapsed and `onCollapse` acts.
    public var collapseThreshold: Float = 0.05
    public var onCollapse = CollapsePolicy.warn
    /// What a non-finite loss, gradient or weight does: "stop", or "rollback" to the
    /// newest checkpoint with the learning rates times `rollbackLrFactor`, at most
    /// `maxRollbacks` times.
    public var onDivergence = DivergencePolicy.stop
    public var rollbackLrFactor: Float = 0.5
    public var maxRollbacks = 3
    /// Evaluate every N steps (and after the last); nil: after the last step only; 0: never.
    public var evalEvery: Int?
    /// Samples per evaluation; nil: 10,000 for images, 2,500 for a 2-D mixture.
    public var evalSamples: Int?

    public init() {}

    /// Reads a config, taking the default for any key it lacks.
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func read<T: Decodable>(_ key: CodingKeys, _ value: inout T) throws {
            if let v = try c.decodeIfPresent(T.self, forKey: key) { value = v }
        }
        try read(.data, &data); try read(.epochs, &epochs); steps = try c.decodeIfPresent(Int.self, forKey: .steps)
        try read(.batchSize, &batchSize); backend = try c.decodeIfPresent(BackendKind.self, forKey: .backend)
        device = try c.decodeIfPresent(String.self, forKey: .device); try read(.seed, &seed)
        out = try c.decodeIfPresent(String.self, forKey: .out); try read(.logEvery, &logEvery)
        try read(.sampleEvery, &sampleEvery); try read(.checkpointEvery, &checkpointEvery)
        try read(.keepCheckpoints, &keepCheckpoints); try read(.model, &model); try read(.noiseDim, &noiseDim); try read(.gHidden, &gHidden)
        try read(.dHidden, &dHidden)
        generator = try c.decodeIfPresent([String].self, forKey: .generator)
        discriminator = try c.decodeIfPresent([String].self, forKey: .discriminator)
        try read(.gActivation, &gActivation); try read(.dActivation, &dActivation)
        try read(.leakySlope, &leakySlope); try read(.loss, &loss); try read(.optimizer, &optimizer)
        try read(.clip, &clip); try read(.gpWeight, &gpWeight); try read(.momentum, &momentum)
        try read(.spectralNorm, &spectralNorm); try read(.gLr, &gLr); try read(.dLr, &dLr); try read(.beta1, &beta1)
        try read(.beta2, &beta2); try read(.dSteps, &dSteps); try read(.realLabel, &realLabel)
        try read(.generatorNoise, &generatorNoise); try read(.ema, &ema)
        try read(.instanceNoise, &instanceNoise); try read(.lrDecay, &lrDecay); try read(.pack, &pack); try read(.minibatchStd, &minibatchStd)
        try read(.tensorboard, &tensorboard); try read(.strict, &strict); try read(.gBatchNorm, &gBatchNorm)
        imageSize = try c.decodeIfPresent(Int.self, forKey: .imageSize)
        channels = try c.decodeIfPresent(Int.self, forKey: .channels)
        try read(.discriminators, &discriminators); try read(.conditional, &conditional)
        try read(.collapseThreshold, &collapseThreshold); try read(.onCollapse, &onCollapse)
        try read(.onDivergence, &onDivergence); try read(.rollbackLrFactor, &rollbackLrFactor)
        try read(.maxRollbacks, &maxRollbacks)
        evalEvery = try c.decodeIfPresent(Int.self, forKey: .evalEvery)
        evalSamples = try c.decodeIfPresent(Int.self, forKey: .evalSamples)
        try read(.categorical, &categorical); try read(.numeric, &numeric); try read(.holdoutFraction, &holdoutFraction)
        holdout = try c.decodeIfPresent(String.self, forKey: .holdout)
        target = try c.decodeIfPresent(String.self, forKey: .target)
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case data, epochs, steps, batchSize = "batch-size", backend, device, seed, out
        case logEvery = "log-every", sampleEvery = "sample-every", checkpointEvery = "checkpoint-every"
        case keepCheckpoints = "keep-checkpoints", model, noiseDim = "noise-dim", gHidden = "g-hidden", dHidden = "d-hidden"
        case generator, discriminator
        case gActivation = "g-activation", dActivation = "d-activation", leakySlope = "leaky-slope"
        case loss, optimizer, clip, gpWeight = "gp-weight", momentum, spectralNorm = "spectral-norm"
        case gLr = "g-lr", dLr = "d-lr", lrDecay = "lr-decay", beta1, beta2, dSteps = "d-steps", realLabel = "real-label"
        case generatorNoise = "generator-noise", ema, instanceNoise = "instance-noise", pack, minibatchStd = "minibatch-std", discriminators
        case conditional
        case collapseThreshold = "collapse-threshold", onCollapse = "on-collapse"
        case onDivergence = "on-divergence", rollbackLrFactor = "rollback-lr-factor", maxRollbacks = "max-rollbacks"
        case evalEvery = "eval-every", evalSamples = "eval-samples"
        case tensorboard, imageSize = "image-size", channels, strict, gBatchNorm = "g-batch-norm"
        case categorical, numeric, holdout, holdoutFraction = "holdout-fraction", target
    }

    /// Every key a config file or flag may set (plus `lr`, which sets both learning rates).
    public static let keys = CodingKeys.allCases.map(\.rawValue) + ["lr"]

    // MARK: - Setting keys

    /// Sets `key` from `value`; `source` names the file or flag in errors.
    public mutating func set(_ key: String, _ value: ConfigValue, source: String) throws {
        func fail(_ expected: String) -> GANError {
            GANError("\(source): \(key) must be \(expected), got \(value)")
        }
        func integer(minimum: Int = 1) throws -> Int {
            let v: Int
            switch value {
            case .integer(let i): v = i
            case .string(let s): guard let i = Int(s) else { throw fail("an integer") }; v = i
            case .number(let d) where d == d.rounded() && abs(d) < 1e15: v = Int(d)
            default: throw fail("an integer")
            }
            guard v >= minimum else { throw fail("at least \(minimum)") }
            return v
        }
        func number(_ range: ClosedRange<Double>, open: Bool = false) throws -> Float {
            let v: Double
            switch value {
            case .integer(let i): v = Double(i)
            case .number(let d): v = d
            case .string(let s): guard let d = Double(s) else { throw fail("a number") }; v = d
            default: throw fail("a number")
            }
            guard range.contains(v), !(open && (v == range.lowerBound)) else {
                throw fail("a number in \(open ? "(" : "[")\(range.lowerBound), \(range.upperBound)]")
            }
            return Float(v)
        }
        func text() throws -> String {
            guard case .string(let s) = value, !s.isEmpty else { throw fail("a non-empty string") }
            return s
        }
        func widths() throws -> [Int] {
            let items: [ConfigValue]
            switch value {
            case .list(let l): items = l
            case .string(let s): items = s.split(separator: ",").map { .string(String($0).trimmingSpaces()) }
            case .integer: items = [value]
            default: throw fail("a list of positive integers")
            }
            let parsed = items.compactMap { item -> Int? in
                switch item {
                case .integer(let i): i
                case .string(let s): Int(s)
                default: nil
                }
            }
            guard parsed.count == items.count, !parsed.isEmpty, parsed.allSatisfy({ $0 >= 1 }) else {
                throw fail("a list of positive integers such as 128,256,512")
            }
            return parsed
        }
        func layerLines() throws -> [String] {
            let lines: [String]
            switch value {
            case .list(let items):
                lines = try items.map { item in
                    guard case .string(let line) = item else { throw fail("a list of layer lines such as \"dense 1024 relu\"") }
                    return line
                }
            case .string(let text): lines = text.split(separator: ";").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
            default: throw fail("layer lines, as a list or separated by ';'")
            }
            // Parsed now, so a bad line is refused where it is given.
            return try Architecture(lines, network: key).texts
        }
        func names() throws -> [String] {
            let items: [ConfigValue]
            switch value {
            case .list(let l): items = l
            case .string(let s): items = s.split(separator: ",").map { .string(String($0).trimmingSpaces()) }
            default: throw fail("a list of column names")
            }
            let parsed = items.compactMap { item -> String? in
                if case .string(let s) = item, !s.isEmpty { return s }
                return nil
            }
            guard parsed.count == items.count, !parsed.isEmpty else { throw fail("a list of column names such as cut,color") }
            return parsed
        }
        func flag() throws -> Bool {
            switch value {
            case .boolean(let b): return b
            case .string("true"): return true
            case .string("false"): return false
            default: throw fail("true or false")
            }
        }
        func choice<T: RawRepresentable & CaseIterable>(_: T.Type) throws -> T where T.RawValue == String {
            let s = try text()
            guard let v = T(rawValue: s) else {
                throw fail(T.allCases.map(\.rawValue).joined(separator: ", ").replacingLastComma(with: " or "))
            }
            return v
        }

        switch key {
        case "data": data = try text()
        case "epochs": epochs = try integer()
        case "steps": steps = try integer()
        case "batch-size": batchSize = try integer()
        case "backend": backend = try choice(BackendKind.self)
        case "device": device = try text()
        case "seed":
            let v = try integer(minimum: 0)
            seed = UInt64(v)
        case "out": out = try text()
        case "log-every": logEvery = try integer()
        case "sample-every": sampleEvery = try integer()
        case "checkpoint-every": checkpointEvery = try integer()
        case "keep-checkpoints": keepCheckpoints = try integer()
        case "model": model = try choice(ModelPreset.self)
        case "noise-dim": noiseDim = try integer()
        case "g-hidden": gHidden = try widths()
        case "d-hidden": dHidden = try widths()
        case "generator": generator = try layerLines()
        case "discriminator": discriminator = try layerLines()
        case "g-activation": gActivation = try choice(HiddenActivation.self)
        case "d-activation": dActivation = try choice(HiddenActivation.self)
        case "leaky-slope": leakySlope = try number(0...1, open: true)
        case "loss": loss = try choice(LossKind.self)
        case "optimizer": optimizer = try choice(OptimizerKind.self)
        case "clip": clip = try number(0...100, open: true)
        case "gp-weight": gpWeight = try number(0...1000, open: true)
        case "momentum": momentum = try number(0...0.999_999)
        case "spectral-norm": spectralNorm = try flag()
        case "lr":
            gLr = try number(0...1, open: true)
            dLr = gLr
        case "g-lr": gLr = try number(0...1, open: true)
        case "d-lr": dLr = try number(0...1, open: true)
        case "beta1": beta1 = try number(0...0.999_999)
        case "beta2": beta2 = try number(0...0.999_999)
        case "d-steps": dSteps = try integer()
        case "real-label": realLabel = try number(0...1, open: true)
        case "generator-noise": generatorNoise = try choice(GeneratorNoise.self)
        case "ema": ema = try number(0...0.999_999)
        case "instance-noise": instanceNoise = try number(0...10)
        case "lr-decay": lrDecay = try number(0...1)
        case "pack":
            pack = try integer(minimum: 1)
            guard pack <= 1024 else { throw fail("an integer from 1 to 1024") }
        case "minibatch-std": minibatchStd = try flag()
        case "tensorboard": tensorboard = try flag()
        case "conditional": conditional = try flag()
        case "image-size":
            let v = try integer()
            guard v <= ImageFolder.maximumImageSize else { throw fail("an integer from 1 to \(ImageFolder.maximumImageSize)") }
            imageSize = v
        case "channels":
            let v = try integer()
            guard v == 1 || v == 3 else { throw fail("1 or 3") }
            channels = v
        case "strict": strict = try flag()
        case "categorical": categorical = try names()
        case "numeric": numeric = try names()
        case "holdout": holdout = try text()
        case "holdout-fraction":
            holdoutFraction = try number(0...0.9)
        case "target": target = try text()
        case "g-batch-norm": gBatchNorm = try flag()
        case "discriminators":
            discriminators = try integer(minimum: 1)
            guard discriminators <= 8 else { throw fail("an integer from 1 to 8") }
        case "collapse-threshold": collapseThreshold = try number(0...1)
        case "on-collapse": onCollapse = try choice(CollapsePolicy.self)
        case "on-divergence": onDivergence = try choice(DivergencePolicy.self)
        case "rollback-lr-factor": rollbackLrFactor = try number(0...1, open: true)
        case "max-rollbacks": maxRollbacks = try integer()
        case "eval-every": evalEvery = try integer(minimum: 0)
        case "eval-samples": evalSamples = try integer(minimum: 10)
        default:
            throw GANError("\(source): unknown key '\(key)'; known keys: \(Self.keys.joined(separator: ", "))")
        }
    }

    // MARK: - The 2-D preset

    /// The recipe for a 2-D mixture (`--data ring8` or `grid25`), taken for every key
    /// the user did not set: the `toy` model, batches of 256 and a fixed number of steps;
    /// the optimiser and losses are the image defaults. Chosen on ring8 and grid25
    /// (benchmarks/README.md).
    public static let mixturePreset: [(key: String, value: ConfigValue)] = [
        ("model", .string(ModelPreset.toy.rawValue)), ("batch-size", .integer(256)),
        ("steps", .integer(5000)), ("log-every", .integer(100)), ("sample-every", .integer(500)),
        ("checkpoint-every", .integer(1000)), ("eval-every", .integer(1000)),
    ]

    /// Applies `mixturePreset` when `data` names a mixture, except for `given` keys
    /// (`steps` counts as given when `epochs` is).
    public mutating func applyMixturePreset(except given: Set<String>) throws {
        guard mixture != nil else { return }
        for (key, value) in Self.mixturePreset {
            if given.contains(key) { continue }
            if key == "steps", given.contains("epochs") { continue }
            try set(key, value, source: "the 2-D preset")
        }
    }

    /// Applies the 2-D preset (for a mixture), then the model preset's widths, then the
    /// loss's recipe, each to the keys not `given`: what a new run does with its flags. A
    /// conv preset's layers are made for examples of `data` (Fashion-MNIST's by default).
    /// A table (`data` a CSV) takes the `tabular` model unless one is given, and trains
    /// conditionally when it has categorical columns (`dataClasses` ≥ 2) unless told.
    public mutating func applyPresets(
        except given: Set<String>, data: ImageShape = ImageShape(height: 28, width: 28, channels: 1), dataClasses: Int = 0
    ) throws {
        try applyMixturePreset(except: given)
        var given = given
        if TableDataset.isTable(self.data), !given.contains("model") {
            model = .tabular
            if !given.contains("conditional") { conditional = dataClasses >= 2 }
        }
        for (key, value) in [
            ("noise-dim", ConfigValue.integer(model.noiseDim)),
            ("g-hidden", .list(model.generatorHidden.map { .integer($0) })),
            ("d-hidden", .list(model.discriminatorHidden.map { .integer($0) })),
        ] + model.recipe where !given.contains(key) {
            if key == "steps" || key == "epochs", given.contains("steps") || given.contains("epochs") { continue }
            try set(key, value, source: "the \(model.rawValue) preset")
            // The preset's settings stand against the loss's recipe below (tabular's WGAN-GP
            // trains with CTGAN's one critic update and rates, not the paper's 5 and 1e-4).
            given.insert(key)
        }
        // The loss first: the dcgan critic depends on it.
        try applyLossPreset(except: given)
        if !given.contains("generator") { generator = try model.generatorLayers(data: data) }
        if !given.contains("discriminator") { discriminator = try model.discriminatorLayers(loss: loss, data: data) }
    }

    // MARK: - The losses' recipes

    /// Each loss's recipe from its paper, taken for every key the user did not set:
    /// WGAN's RMSProp at 5e-5, 5 critic updates a generator update and clipping at 0.01
    /// (Arjovsky et al., Algorithm 1); WGAN-GP's Adam at 1e-4 with β (0.5, 0.9), 5 critic
    /// updates and λ 10 (Gulrajani et al., Algorithm 1, with this project's β₁); the other
    /// losses train as `bce` does.
    public static func lossPreset(_ loss: LossKind) -> [(key: String, value: ConfigValue)] {
        switch loss {
        case .wgan:
            [("optimizer", .string("rmsprop")), ("g-lr", .number(5e-5)), ("d-lr", .number(5e-5)), ("d-steps", .integer(5)),
             ("clip", .number(0.01))]
        case .wganGP:
            [("optimizer", .string("adam")), ("g-lr", .number(1e-4)), ("d-lr", .number(1e-4)), ("beta1", .number(0.5)),
             ("beta2", .number(0.9)), ("d-steps", .integer(5)), ("gp-weight", .number(10))]
        case .bce, .hinge, .lsgan:
            []
        }
    }

    /// Applies `lossPreset(loss)`, except for `given` keys (`lr` counts for both rates).
    public mutating func applyLossPreset(except given: Set<String>) throws {
        for (key, value) in Self.lossPreset(loss) {
            if given.contains(key) { continue }
            if key.hasSuffix("-lr"), given.contains("lr") { continue }
            try set(key, value, source: "the \(loss.rawValue) recipe")
        }
    }

    // MARK: - Derived

    public func activation(_ kind: HiddenActivation) -> Activation {
        switch kind {
        case .relu: .relu
        case .leakyReLU: .leakyReLU(slope: leakySlope)
        }
    }

    /// The 2-D mixture `data` names, if it names one.
    public var mixture: Mixture2D? { Mixture2D.named(data) }

    /// noise → hidden → pixels, tanh out (images in [-1, 1]); linear out for a 2-D
    /// mixture, whose points are not bounded to [-1, 1].
    public func generatorShape(pixels: Int) -> MLPShape {
        MLPShape(
            widths: [noiseDim] + gHidden + [pixels], hidden: activation(gActivation),
            output: mixture == nil ? .tanh : .identity)
    }

    /// pixels → hidden → one logit.
    public func discriminatorShape(pixels: Int) -> MLPShape {
        MLPShape(widths: [pixels] + dHidden + [1], hidden: activation(dActivation), output: .identity)
    }

    /// The generator for examples of `data`'s shape: the layer lines' network, or the MLP;
    /// a conditional one for `classes` classes.
    public func makeGenerator<B: ComputeBackend>(
        backend: B, data: ImageShape, classes: Int? = nil, table: TableTransform? = nil
    ) throws -> Sequential<B> {
        guard let generator = try generatorLines(data: data, classes: classes) else {
            return try Sequential(backend: backend, shape: generatorShape(pixels: data.elements))
        }
        return try Architecture(generator, network: "generator").build(
            backend: backend, input: ImageShape(features: noiseDim), outputs: data.elements, network: "generator",
            leakySlope: leakySlope, classes: classes, table: table)
    }

    /// The discriminator for examples of `data`'s shape, spectrally normalised with
    /// `spectral-norm`; a conditional one for `classes` classes.
    public func makeDiscriminator<B: ComputeBackend>(backend: B, data: ImageShape, classes: Int? = nil) throws -> Sequential<B> {
        let input = packed(data)
        guard let discriminator = try discriminatorLines(classes: classes) else {
            return try Sequential(backend: backend, shape: discriminatorShape(pixels: input.elements), spectralNorm: spectralNorm)
        }
        return try Architecture(discriminator, network: "discriminator").build(
            backend: backend, input: input, outputs: 1, network: "discriminator", leakySlope: leakySlope,
            spectralNorm: spectralNorm, classes: classes, group: pack)
    }

    /// The MLP's hidden layers as layer lines.
    private static func hiddenLines(_ widths: [Int], _ activation: HiddenActivation) -> [String] {
        widths.map { "dense \($0) \(activation == .relu ? "relu" : "leaky-relu")" }
    }

    /// The MLP generator's batch normalisation (`g-batch-norm`), as a layer line's options.
    static let generatorBatchNorm = "batch-norm m0.2 e0.001"

    /// G's layer lines: the given ones, or the MLP's written as lines when conditional or
    /// batch-normed (`g-batch-norm`: every hidden layer but the first followed by batch
    /// normalisation, the activation after it); a conditional one starts with a condition
    /// layer unless it has one. nil: the plain MLP.
    public func generatorLines(data: ImageShape, classes: Int?) throws -> [String]? {
        guard conditional || (gBatchNorm && generator == nil) else { return generator }
        let output = "dense \(data.elements) \(mixture == nil ? "tanh" : "identity")"
        var mlp = Self.hiddenLines(gHidden, gActivation)
        if gBatchNorm {
            let activation = gActivation == .relu ? "relu" : "leaky-relu"
            mlp = gHidden.enumerated().flatMap { i, width in
                i == 0 ? ["dense \(width) \(activation)"] : ["dense \(width)", "\(Self.generatorBatchNorm) \(activation)"]
            }
        }
        guard conditional else { return mlp + [output] }
        guard classes != nil else { throw GANError("conditional training needs labelled data (classes)") }
        var lines = generator ?? (mlp + [output])
        if !lines.contains(where: { $0.hasPrefix("condition") }) { lines.insert("condition", at: 0) }
        return lines
    }

    /// D's layer lines: the given ones, or with `minibatch-std` or `conditional` the MLP's
    /// written as lines; with `minibatch-std`, a minibatch-std line before the last layer;
    /// conditional, unless a condition or projection line is there: an unpacked D of
    /// images (conv or MLP) ends in a projection in place of its last `dense 1`, any other
    /// (packed, a 2-D mixture's, a table's) gets a condition line first. nil: the MLP.
    /// (The MLP on Fashion-MNIST, 5 epochs, seed 0: class agreement 0.755 with the
    /// condition line, 0.876 with the projection, 0.922 with it and `ema 0.999`.)
    public func discriminatorLines(classes: Int?) throws -> [String]? {
        guard minibatchStd || conditional else { return discriminator }
        // The MLP reads an image as its features (a condition then appends features, not
        // channels at every pixel).
        var lines = discriminator ?? (["flatten"] + Self.hiddenLines(dHidden, dActivation) + ["dense 1"])
        if minibatchStd {
            let last = lines.lastIndex { !$0.hasPrefix("flatten") && !$0.hasPrefix("reshape") } ?? lines.count - 1
            lines.insert("minibatch-std", at: last)
        }
        if conditional {
            guard classes != nil else { throw GANError("conditional training needs labelled data (classes)") }
            let placed = lines.contains { $0.hasPrefix("condition") || $0.hasPrefix("projection") }
            let images = mixture == nil && !TableDataset.isTable(data)
            if !placed, images, pack == 1, let last = lines.lastIndex(where: { $0.split(separator: " ") == ["dense", "1"] }) {
                // Miyato & Koyama's projection in place of the last linear layer.
                lines[last] = "projection"
            } else if !placed {
                lines.insert("condition", at: lines.first == "flatten" ? 1 : 0)
            }
        }
        return lines
    }

    /// What D sees of one judged example: `pack` examples of `data` concatenated along
    /// channels.
    public func packed(_ data: ImageShape) -> ImageShape {
        ImageShape(height: data.height, width: data.width, channels: data.channels * pack)
    }

    /// Checks that the configured networks fit examples of `data` (layer lines chain, G
    /// ends in the data's shape), without building them: before a run directory exists.
    public func checkArchitecture(data: ImageShape, classes: Int? = nil, table: TableTransform? = nil) throws {
        if let generator = try generatorLines(data: data, classes: classes) {
            try Architecture(generator, network: "generator").check(
                input: ImageShape(features: noiseDim), outputs: data.elements, network: "generator", classes: classes,
                table: table)
        }
        guard pack >= 1, pack <= 1024, batchSize % pack == 0 else {
            throw GANError("--pack \(pack) does not divide --batch-size \(batchSize) into whole packs")
        }
        if let discriminator = try discriminatorLines(classes: classes) {
            let architecture = try Architecture(discriminator, network: "discriminator")
            try architecture.check(input: packed(data), outputs: 1, network: "discriminator", classes: classes, group: pack)
            if loss == .wganGP, let refusal = architecture.gradientPenaltyRefusal {
                throw GANError("--loss wgan-gp: \(refusal)")
            }
        }
    }

    /// The loss as its objective type.
    public var objective: any GANObjective {
        switch loss {
        case .bce: BinaryCrossEntropy(realLabel: realLabel)
        case .wgan: Wasserstein(clip: clip)
        case .wganGP: WassersteinGradientPenalty(weight: gpWeight)
        case .hinge: Hinge()
        case .lsgan: LeastSquares()
        }
    }

    /// The optimizer at `learningRate` (`gLr` or `dLr`).
    public func makeOptimizer(learningRate: Float) -> any Optimizer {
        switch optimizer {
        case .adam: Adam(AdamHyperparameters(learningRate: learningRate, beta1: beta1, beta2: beta2))
        case .rmsprop: RMSProp(RMSPropHyperparameters(learningRate: learningRate))
        case .sgd: SGD(learningRate: learningRate, momentum: momentum)
        }
    }

    /// Generator updates in the whole run.
    public func totalSteps(batchesPerEpoch: Int) -> Int {
        steps ?? max(1, epochs * batchesPerEpoch / dSteps)
    }
}

extension String {
    /// "a, b, c" as "a, b or c".
    func replacingLastComma(with text: String) -> String {
        guard let range = range(of: ", ", options: .backwards) else { return self }
        return replacingCharacters(in: range, with: text)
    }

    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
