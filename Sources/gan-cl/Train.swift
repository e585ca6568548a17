import ArgumentParser
import ComputeBackend
import Foundation
import GANCore
import OpenCLBackend

/// `gan-cl train`
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a GAN on Fashion-MNIST, MNIST-format data, a picture folder, a CSV table or a 2-D mixture.",
        discussion: """
            Defaults train the mlp preset (G 100→128→256→512→1024→784 with batch norm, D \
            784→512→256→1, an EMA of G) on /usr/share/datasets/fashion-mnist for 20 epochs. A run directory (default \
            runs/<time>) gets config.json, metrics.csv, curves.svg, samples/ and checkpoints/.
            Config files (JSON, or TOML by the .toml extension) take the flag names as keys; flags win.

            Examples:
              gan-cl train
              gan-cl train --epochs 5 --batch-size 128 --out runs/fmnist
              gan-cl train --data ~/mnist --g-hidden 256,512,1024 --d-steps 2
              gan-cl train --loss wgan-gp --epochs 5
              gan-cl train --config run.toml --backend cpu
              gan-cl train --resume runs/fmnist --epochs 40
            """)

    /// A flag's default per preset for its help, from the presets' own data: "default mlp 100; toy 2; …".
    static func presetDefaults<T>(_ value: (ModelPreset) -> T, of presets: [ModelPreset] = ModelPreset.allCases) -> String {
        "default " + presets.map { preset in
            let v = value(preset)
            let text = (v as? [Int]).map { $0.map(String.init).joined(separator: ",") } ?? "\(v)"
            return "\(preset.rawValue) \(text)"
        }.joined(separator: "; ")
    }

    @Option(help: "Directory of MNIST-format IDX files (.gz or raw), a folder of PNG/JPEG pictures (sub-folders as classes), or a 2-D mixture: ring8 or grid25 (with its own preset).") var data: String?
    @Option(help: "Passes over the data (default 20).") var epochs: String?
    @Option(help: "Generator updates in all (instead of --epochs).") var steps: String?
    @Option(help: "Images per batch (default 64).") var batchSize: String?
    @OptionGroup var target: BackendOptions
    @Option(help: "Seed of initialisation, noise and data order (default 1).") var seed: String?
    @Option(help: "Run directory (default runs/<date-time>).") var out: String?
    @Option(help: "Log metrics every N steps (default 50).") var logEvery: String?
    @Option(help: "Write a sample grid every N steps (default 500).") var sampleEvery: String?
    @Option(help: "Write a checkpoint every N steps (default 1000).") var checkpointEvery: String?
    @Option(help: "Checkpoints to keep (default 3).") var keepCheckpoints: String?
    @Option(help: "Model preset: mlp (the Keras-GAN recipe: G 100→128→256→512→1024→data with batch norm, D data→512→256→1, EMA of G), toy (noise 2, four hidden layers of 128 on both sides) or dcgan (Lucic et al.'s conv GAN for 28×28 images, noise 64); it fills the model flags not given (default toy for 2-D data, else mlp).")
    var model: ModelPreset?
    @Option(help: "The generator as layer lines separated by ';', e.g. \"dense 1024; batch-norm relu; dense 6272; batch-norm relu; reshape 7x7x128; conv-transpose 64 k4 s2 p1; batch-norm relu; conv-transpose 1 k4 s2 p1 tanh\" (see README); instead of --g-hidden.")
    var generator: String?
    @Option(help: "The discriminator as layer lines separated by ';', e.g. \"conv 64 k4 s2 p1 leaky-relu; conv 128 k4 s2 p1; batch-norm leaky-relu; dense 1024; batch-norm leaky-relu; dense 1\"; instead of --d-hidden.")
    var discriminator: String?
    @Option(help: "Noise dimensions (\(Self.presetDefaults(\.noiseDim))).") var noiseDim: String?
    @Option(help: "MLP generator hidden widths (\(Self.presetDefaults(\.generatorHidden, of: [.mlp, .toy]))).") var gHidden: String?
    @Option(help: "MLP discriminator hidden widths (\(Self.presetDefaults(\.discriminatorHidden, of: [.mlp, .toy]))).") var dHidden: String?
    @Option(help: "Generator hidden activation: relu or leaky-relu (default leaky-relu).") var gActivation: HiddenActivation?
    @Option(help: "Discriminator hidden activation: relu or leaky-relu (default leaky-relu).") var dActivation: HiddenActivation?
    @Option(help: "LeakyReLU slope (default 0.2).") var leakySlope: String?
    @Option(help: "GAN loss: bce, wgan (RMSProp 5e-5, 5 critic updates, clipping 0.01), wgan-gp (Adam 1e-4 β 0.5/0.9, 5 critic updates, λ 10), hinge or lsgan; each loss's recipe fills the flags not given (default bce).")
    var loss: LossKind?
    @Option(help: "Optimizer of both networks: adam, rmsprop or sgd (default adam; rmsprop for wgan).") var optimizer: OptimizerKind?
    @Option(help: "wgan: clip every critic parameter to [-c, c] after each update (default 0.01).") var clip: String?
    @Option(help: "wgan-gp: the gradient penalty's weight λ (default 10).") var gpWeight: String?
    @Option(help: "sgd: momentum (default 0.9).") var momentum: String?
    @Flag(help: "Spectral normalisation of every discriminator weight, one power iteration per update.") var spectralNorm = false
    @Option(help: "Adam learning rate of both networks (default 2e-4).") var lr: String?
    @Option(help: "Generator learning rate.") var gLr: String?
    @Option(help: "Discriminator learning rate.") var dLr: String?
    @Option(help: "Adam beta1 (default 0.5).") var beta1: String?
    @Option(help: "Adam beta2 (default 0.999).") var beta2: String?
    @Option(help: "Discriminator updates per generator update (default 1).") var dSteps: String?
    @Option(help: "D's target for real images; below 1 is one-sided label smoothing (default 0.9; 1 for the mlp and dcgan presets).") var realLabel: String?
    @Option(help: "G's update: reuse the fake batch D was just trained on, or draw fresh noise (default fresh).") var generatorNoise: GeneratorNoise?
    @Flag(help: "A minibatch standard deviation layer before D's last layer (ProGAN): D sees the batch's spread.") var minibatchStd = false
    @Flag(inversion: .prefixedNo, help: "The MLP generator with batch normalisation after each hidden layer but the first (momentum 0.2, ε 1e-3).") var gBatchNorm: Bool?
    @Flag(inversion: .prefixedNo, help: "A conditional GAN: the data's classes go into G and D (needs labelled data); sample with --class. On by default for a table with categorical columns.") var conditional: Bool?
    @Option(help: "Several discriminators (GMAN): each trains on its own batches, G against their mean (default 1).") var discriminators: String?
    @Option(help: "PacGAN's packing: D judges this many examples at once, concatenated along channels (default 1: none).") var pack: String?
    @Option(help: "Learning-rate decay: over this last fraction of the run (0-1) both learning rates fall linearly towards 0 (e.g. 0.5); 0: constant (default 0).") var lrDecay: String?
    @Option(help: "Gaussian noise of this standard deviation on D's real and fake inputs, annealed linearly to 0 over the run (e.g. 0.1); 0: none (default 0).") var instanceNoise: String?
    @Option(help: "Decay of an exponential moving average of G's weights (e.g. 0.999), which samples, evaluations and grids use; 0: none (default 0).") var ema: String?
    @Option(help: "On a suspected mode collapse (diversity under --collapse-threshold, or at most 2 classes at an evaluation): warn, stop, or rollback to the newest checkpoint (default warn).") var onCollapse: CollapsePolicy?
    @Option(help: "The diversity (the spread of a fixed noise batch's samples over the data's, at each log step) under which the run counts as collapsed (default 0.05).") var collapseThreshold: String?
    @Option(help: "On a NaN or infinity in a loss, gradient or weight: stop, or rollback to the newest checkpoint (default stop).") var onDivergence: DivergencePolicy?
    @Option(help: "With --on-divergence rollback: multiply the learning rates by this (default 0.5).") var rollbackLrFactor: String?
    @Option(help: "With --on-divergence rollback: roll back at most this many times (default 3).") var maxRollbacks: String?
    @Option(help: "Evaluate every N steps as well as after the last (metrics.csv columns, eval.json); 0: never.") var evalEvery: String?
    @Option(help: "Samples per evaluation (default 10000 for images, 2500 for 2-D data).") var evalSamples: String?
    @Option(help: "The reference classifier for image metrics (default models/fmnist-classifier.safetensors).") var classifier: String?
    @Flag(inversion: .prefixedNo, help: "A TensorBoard event file in the run directory: every metrics.csv column and each sample grid (default on).") var tensorboard: Bool?
    @Option(help: "A folder of pictures: scale and centre-crop them to N×N (default: their common size).") var imageSize: String?
    @Option(help: "A folder of pictures: 1 (grey) or 3 (RGB) channels (default: 3 if any picture has colour).") var channels: String?
    @Flag(help: "A folder of pictures: refuse an unreadable picture instead of skipping it.") var strict = false
    @Option(help: "A table: columns to treat as categorical (comma-separated names).") var categorical: String?
    @Option(help: "A table: columns to treat as numeric (comma-separated names).") var numeric: String?
    @Option(help: "A table: held-out real rows (CSV) for the privacy and usefulness checks.") var holdout: String?
    @Option(help: "A table: hold out this share of its rows (seeded) for the privacy and usefulness checks (default 0).") var holdoutFraction: String?
    @Option(name: .customLong("target"), help: "A table: the categorical column whose prediction measures usefulness (needs a holdout).") var targetColumn: String?
    @Option(help: "A JSON or TOML file of settings; flags win.") var config: String?
    @Option(help: "Continue the run in this directory from its newest checkpoint.") var resume: String?

    /// The flags given, as config keys, in a fixed order.
    private var givenFlags: [(String, String)] {
        let all: [(String, String?)] = [
            ("data", data), ("epochs", epochs), ("steps", steps), ("batch-size", batchSize), ("backend", target.backend?.rawValue),
            ("device", target.device), ("seed", seed), ("out", out), ("log-every", logEvery), ("sample-every", sampleEvery),
            ("checkpoint-every", checkpointEvery), ("keep-checkpoints", keepCheckpoints), ("model", model?.rawValue), ("generator", generator),
            ("discriminator", discriminator), ("noise-dim", noiseDim),
            ("g-hidden", gHidden), ("d-hidden", dHidden), ("g-activation", gActivation?.rawValue), ("d-activation", dActivation?.rawValue),
            ("leaky-slope", leakySlope), ("loss", loss?.rawValue), ("optimizer", optimizer?.rawValue), ("clip", clip),
            ("gp-weight", gpWeight), ("momentum", momentum), ("spectral-norm", spectralNorm ? "true" : nil), ("lr", lr), ("g-lr", gLr), ("d-lr", dLr), ("beta1", beta1), ("beta2", beta2),
            ("d-steps", dSteps), ("real-label", realLabel), ("generator-noise", generatorNoise?.rawValue), ("ema", ema), ("instance-noise", instanceNoise), ("lr-decay", lrDecay), ("pack", pack), ("discriminators", discriminators), ("minibatch-std", minibatchStd ? "true" : nil), ("g-batch-norm", gBatchNorm.map { $0 ? "true" : "false" }), ("conditional", conditional.map { $0 ? "true" : "false" }), ("on-collapse", onCollapse?.rawValue), ("collapse-threshold", collapseThreshold), ("on-divergence", onDivergence?.rawValue),
            ("rollback-lr-factor", rollbackLrFactor), ("max-rollbacks", maxRollbacks), ("eval-every", evalEvery),
            ("eval-samples", evalSamples), ("tensorboard", tensorboard.map { $0 ? "true" : "false" }),
            ("image-size", imageSize), ("channels", channels), ("strict", strict ? "true" : nil),
            ("categorical", categorical), ("numeric", numeric), ("holdout", holdout), ("holdout-fraction", holdoutFraction),
            ("target", targetColumn),
        ]
        return all.compactMap { key, value in value.map { (key, $0) } }
    }

    /// Keys a resumed run may change: how long, how often, and where it runs.
    static let resumableKeys: Set = [
        "epochs", "steps", "log-every", "sample-every", "checkpoint-every", "keep-checkpoints", "backend", "device",
        "on-divergence", "rollback-lr-factor", "max-rollbacks", "eval-every", "eval-samples", "tensorboard",
    ]

    func run() throws {
        try reportingErrors {
            if let resume { try resumeRun(resume) } else { try newRun() }
        }
    }

    private func newRun() throws {
        var settings = RunConfig()
        var given = Set<String>()
        if let config {
            for (key, value) in try ConfigFile.read(config) {
                try settings.set(key, value, source: config)
                given.insert(key)
            }
        }
        for (key, value) in givenFlags {
            try settings.set(key, .string(value), source: "--\(key)")
            given.insert(key)
        }
        let dataset = try loadDataset(
            settings.data, seed: settings.seed, folder: settings.folderOptions, table: settings.tableOptions, warn: note)
        try settings.applyPresets(except: given, data: dataset.shape, dataClasses: dataset.classes)
        if settings.model == .tabular, !given.contains("batch-size"), dataset.count < settings.batchSize {
            // A small table: the largest whole number of packs it holds.
            settings.batchSize = max(settings.pack, dataset.count / settings.pack * settings.pack)
        }
        if settings.out == nil { settings.out = "runs/\(Self.timestamp())" }
        _ = try BatchOrder(count: dataset.count, batchSize: settings.batchSize, seed: settings.seed)
        if settings.conditional, dataset.classes < 2 {
            throw GANError("--conditional needs labelled data with at least 2 classes; \(settings.data) has no labels")
        }
        try settings.checkArchitecture(
            data: dataset.shape, classes: settings.conditional ? dataset.classes : nil, table: dataset.tableTransform)
        let directory = try RunDirectory(creating: settings.out!)
        if let pictures = dataset as? ImageDataset, ImageFolder.isImageFolder(settings.data) {
            try ImageFolder.writeCache(pictures, run: directory.path)
        }
        try withBackend(settings.backend, device: settings.device) { backend in
            try train(on: backend, settings: settings, dataset: dataset, directory: directory, resumeFrom: nil)
        }
    }

    private func resumeRun(_ path: String) throws {
        if config != nil { throw GANError("--config cannot be combined with --resume: the run's saved config is used") }
        let directory = try RunDirectory(existing: path)
        guard let newest = directory.newestCheckpoint() else {
            throw GANError("--resume: \(path) has no checkpoint in \(path)/checkpoints")
        }
        let loaded = try Checkpoint.load(newest)
        var settings = loaded.config
        for (key, value) in givenFlags {
            guard Self.resumableKeys.contains(key) else {
                throw GANError("--\(key) cannot change when resuming; only \(Self.resumableKeys.sorted().map { "--\($0)" }.joined(separator: ", ")) can")
            }
            try settings.set(key, .string(value), source: "--\(key)")
        }
        settings.out = path
        let dataset: any Dataset
        if let cached = try ImageFolder.readCache(run: path) {
            dataset = cached
            say("Read the \(cached.count) decoded pictures of \(settings.data) from \(path)/data")
        } else {
            dataset = try loadDataset(
                settings.data, seed: settings.seed, folder: settings.folderOptions, table: settings.tableOptions, warn: note)
        }
        try withBackend(settings.backend, device: settings.device) { backend in
            try train(on: backend, settings: settings, dataset: dataset, directory: directory, resumeFrom: loaded)
        }
    }

    private func train<B: ComputeBackend>(
        on backend: B, settings: RunConfig, dataset: any Dataset, directory: RunDirectory, resumeFrom: Checkpoint.Loaded?
    ) throws {
        let trainer = try Trainer(backend: backend, config: settings, data: dataset)
        if let resumeFrom {
            try Checkpoint.restore(trainer, from: resumeFrom)
            say("Resuming \(directory.path) at step \(trainer.state.step) from \(resumeFrom.path)")
        }
        var resolved = settings
        resolved.backend = backend is OpenCLBackend ? .opencl : .cpu
        try directory.writeConfig(resolved)
        let total = trainer.totalSteps
        let batches = trainer.order.batchesPerEpoch
        let epochs = (total * settings.dSteps + batches - 1) / batches
        say("Training on \(backend.name): G \(trainer.generator.summary), D \(trainer.discriminator.summary); loss \(settings.loss.rawValue)\(settings.spectralNorm ? " with spectral normalisation of D" : ""), optimizer \(settings.optimizer.rawValue), \(settings.dSteps) D update\(settings.dSteps == 1 ? "" : "s") a step")
        say("\(dataset.summary), batch \(settings.batchSize): \(batches) batches per epoch (the last partial batch is dropped); \(total) steps ≈ \(epochs) epochs; run directory \(directory.path)")
        if let classes = trainer.classes {
            say("conditional on \(classes) classes: " + dataset.classNames.prefix(classes).enumerated().map { "\($0) \($1)" }.joined(separator: ", ")
                + (dataset.conditionedSampling ? " (training-by-sampling: a column, then a category by log-frequency, then a row)" : " (the grids show one row per class)"))
        }
        var display = ProgressDisplay(totalEpochs: epochs)
        let session = try TrainingSession(
            trainer: trainer, directory: directory, classifierPath: classifier ?? ReferenceClassifier.defaultPath())
        Interruption.install()
        try session.run(notice: { note($0) }) { display.show($0) }
        say("Done at step \(trainer.state.step): \(directory.newestCheckpoint() ?? "")")
    }

    private static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return formatter.string(from: Date())
    }
}
