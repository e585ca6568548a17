import ArgumentParser
import ComputeBackend
import Foundation
import GANCore
import CPUBackend

/// `gan-cl eval`
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure samples: mode metrics on 2-D mixtures, classifier-feature metrics on images.",
        discussion: """
            Samples come from a checkpoint's generator (--checkpoint) or from a file \
            (--samples: .npy, float32 N×784 in [-1, 1] or uint8 0–255; for 2-D data float32 N×2 \
            with --data ring8|grid25). Prints a table and writes eval.json (--out).

            Images are measured in the penultimate features of gan-cl's reference Fashion-MNIST \
            classifier (models/fmnist-classifier.safetensors, checked against its SHA-256) \
            against the test split: FD-FMNIST (Fréchet distance; not comparable with Inception \
            FID), KID, precision and recall (k 3), density and coverage (k 5), classes covered, \
            and a memorisation check against the training split. 2-D samples get the \
            PacGAN/VEEGAN mode metrics on 2,500 samples.

            A conditional checkpoint's samples are drawn in equal shares of each class; with \
            them, or with --labels (the class each of --samples was asked to be), the table adds \
            the classifier's agreement with the requested class, overall and per class, and \
            each class's FD-FMNIST against the test images of that class.

            Examples:
              gan-cl eval --checkpoint runs/fmnist/checkpoints/step-018740.safetensors
              gan-cl eval --samples samples.npy --out eval.json
              gan-cl eval --samples cgan.npy --labels cgan.labels.npy
              gan-cl eval --checkpoint runs/ring8/checkpoints/step-003000.safetensors
            """)

    @Option(help: "A checkpoint written by gan-cl train: draws --count samples from its generator.") var checkpoint: String?
    @Option(help: "A .npy file of samples (float32 in [-1, 1] or uint8 0–255; N×2 for 2-D data).") var samples: String?
    @Option(help: "With --samples: a .npy of each sample's requested class (0–9; int64, int32, uint8 or float32), for the class agreement.") var labels: String?
    @Option(help: "Samples to draw from a checkpoint (default 10000 for images, 2500 for 2-D data).") var count: Int?
    @Option(help: "Seed of the sampling noise and of KID's subsets (default 0).") var seed: UInt64 = 0
    @Option(help: "The real data: a Fashion-MNIST directory (default: the checkpoint's, else /usr/share/datasets/fashion-mnist), or ring8 / grid25.") var data: String?
    @Option(help: "The reference classifier (default: models/fmnist-classifier.safetensors of this source tree, or GANCL_CLASSIFIER).") var classifier: String?
    @Option(help: "Where to write the results (default eval.json).") var out: String = "eval.json"
    @Option(help: "Tables: held-out real rows (CSV) for privacy and usefulness.") var holdout: String?
    @Option(help: "Tables: the categorical column whose prediction measures usefulness (needs --holdout).") var target: String?
    @Option(help: "Tables: columns to treat as categorical (comma-separated names).") var categorical: String?
    @Option(help: "Tables: columns to treat as numeric (comma-separated names).") var numeric: String?
    @Flag(help: "Sample from the generator's raw weights, not its moving average (for a checkpoint trained with --ema).") var noEma = false
    @OptionGroup var backendOptions: BackendOptions

    func run() throws {
        try reportingErrors {
            guard (checkpoint == nil) != (samples == nil) else {
                throw GANError("give exactly one of --checkpoint FILE and --samples FILE.npy")
            }
            if let count, count < 2 { throw GANError("--count must be at least 2, got \(count)") }
            if labels != nil, samples == nil {
                throw GANError("--labels goes with --samples (a conditional checkpoint's samples carry their classes)")
            }
            if let samples, samples.lowercased().hasSuffix(".csv") || data?.lowercased().hasSuffix(".csv") == true {
                guard let data, data.lowercased().hasSuffix(".csv") else {
                    throw GANError("--samples \(samples) is a table: give the real one with --data real.csv")
                }
                try evaluateTable(Table.read(samples), real: try Table.read(data), realPath: data, holdout: try holdout.map(Table.read))
                return
            }
            if let checkpoint, let loaded = try? Checkpoint.load(checkpoint), let transform = loaded.table {
                try evaluateTableCheckpoint(loaded, transform: transform)
                return
            }
            if holdout != nil || target != nil || categorical != nil || numeric != nil {
                throw GANError("--holdout, --target, --categorical and --numeric are for tables: --data real.csv --samples synthetic.csv")
            }
            let loaded = try checkpoint.map(Checkpoint.load)
            let dataSpec = data ?? loaded?.config.data ?? ImageDataset.defaultDirectory
            if let mixture = Mixture2D.named(dataSpec) {
                try evaluateMixture(mixture, loaded: loaded)
            } else {
                try evaluateImages(data: dataSpec, loaded: loaded)
            }
        }
    }

    /// A table's checkpoint: rows drawn as `sample` draws them (`--count`, default the
    /// training rows up to 5,000) against its training rows and holdout — rebuilt from the
    /// run's config, the split included — or against `--data` and `--holdout` when given.
    private func evaluateTableCheckpoint(_ loaded: Checkpoint.Loaded, transform: TableTransform) throws {
        if categorical != nil || numeric != nil {
            throw GANError("--categorical and --numeric are for two CSV files: a checkpoint's columns are its own")
        }
        let real: Table, realPath: String, held: Table?
        if let data {
            guard data.lowercased().hasSuffix(".csv") else { throw GANError("--data \(data): a table's checkpoint is measured against a CSV table") }
            (real, realPath, held) = (try Table.read(data), data, try holdout.map(Table.read))
        } else {
            let config = loaded.config
            let rebuilt = try TableDataset(path: config.data, options: config.tableOptions, seed: config.seed)
            (real, realPath, held) = (rebuilt.training, config.data, try holdout.map(Table.read) ?? rebuilt.holdout)
        }
        let n = count ?? min(real.rows.count, 5000)
        var vectors: [Float] = []
        try withBackend(backendOptions.backend, device: backendOptions.device) { backend in
            let key = RandomStream.sampling.key(seed: seed)
            let labels = loaded.classes == nil ? nil : TableDataset.samplingClasses(count: n, key: key ^ 0x9E37_79B9_7F4A_7C15, transform: transform)
            vectors = try draw(on: backend, from: loaded, count: n, labels: labels)
        }
        try evaluateTable(transform.decode(vectors, rows: n), real: real, realPath: realPath, holdout: held, transform: transform)
    }

    /// A synthetic table against the real one (and a holdout): fidelity, pairs, privacy
    /// and usefulness (`TableEvaluation`); the columns' kinds from `transform`, else
    /// inferred from the real table.
    private func evaluateTable(
        _ synthetic: Table, real: Table, realPath: String, holdout: Table?, transform given: TableTransform? = nil
    ) throws {
        func names(_ list: String?) -> Set<String> {
            Set((list ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        }
        let transform = try given ?? TableTransform(fitting: real, categorical: names(categorical), numeric: names(numeric), path: realPath)
        let evaluation = try TableEvaluation(
            real: real, synthetic: synthetic, holdout: holdout, target: target, transform: transform)
        let table = TablePrinter(columns: [("metric", 44), ("value", 12)])
        table.printHeader()
        table.printRow(["rows (real, synthetic)", "\(evaluation.realRows), \(evaluation.syntheticRows)"])
        table.printRow(["valid rows (in range, categories seen)", String(format: "%.4f", evaluation.validRowShare)])
        for column in evaluation.columns {
            table.printRow(["fidelity: \(column.column) (\(column.kind == "categorical" ? "1 − TVD" : "1 − KS"))", String(format: "%.4f", column.score)])
        }
        table.printRow(["fidelity, mean of the columns", String(format: "%.4f", evaluation.fidelity)])
        table.printRow(["pairs, mean (\(evaluation.pairs.count) pairs)", String(format: "%.4f", evaluation.pairFidelity)])
        if let privacy = evaluation.privacy {
            table.printRow(["privacy: nearer a training row than holdout", String(format: "%.3f", privacy.closerToTrainingShare)])
            table.printRow(["privacy: exact copies of training rows", "\(privacy.exactCopies)"])
            table.printRow(["privacy: mean nearest-neighbour ratio", String(format: "%.3f", privacy.meanNearestNeighbourRatio)])
        }
        if let usefulness = evaluation.usefulness {
            table.printRow(["usefulness: macro-F1 trained on synthetic", String(format: "%.4f", usefulness.syntheticMacroF1)])
            table.printRow(["usefulness: macro-F1 trained on real", String(format: "%.4f", usefulness.realMacroF1)])
            table.printRow(["usefulness: ratio", String(format: "%.3f", usefulness.ratio)])
        }
        if let warning = evaluation.privacy?.warning { note("warning: \(warning)") }
        try writeJSON(evaluation, to: out)
    }

    private func evaluateMixture(_ mixture: Mixture2D, loaded: Checkpoint.Loaded?) throws {
        let points: [Float]
        let source: String
        if let loaded {
            guard loaded.config.mixture == mixture else {
                throw GANError("\(loaded.path) was trained on \(loaded.config.data), not \(mixture.name)")
            }
            let n = count ?? ModeMetrics.protocolSamples
            var drawn: [Float] = []
            try withBackend(backendOptions.backend, device: backendOptions.device) { backend in
                drawn = try draw(on: backend, from: loaded, count: n)
            }
            points = drawn
            source = loaded.path
        } else {
            let file = try NPYFile.read(samples!)
            guard file.columns == 2, file.elementType == .float32 else {
                throw GANError("\(samples!): 2-D samples must be float32 N×2, got \(file.elementType.rawValue) \(file.rows)×\(file.columns)")
            }
            points = file.values
            source = samples!
        }
        let metrics = try ModeMetrics(points: points, mixture: mixture)
        let report = MixtureReport(
            data: mixture.name, source: source, seed: seed, samples: metrics.samples, modes: metrics.modes,
            modesCovered: metrics.modesCovered, highQualityPercent: metrics.highQuality * 100,
            modeKL: metrics.modeKL, histogram: metrics.histogram)
        let table = TablePrinter(columns: [("metric", 26), ("value", 14)])
        table.printHeader()
        table.printRow(["samples", "\(metrics.samples)"])
        table.printRow(["modes covered", "\(metrics.modesCovered)/\(metrics.modes)"])
        table.printRow(["high quality (within 3σ)", String(format: "%.1f%%", metrics.highQuality * 100)])
        table.printRow(["mode KL to uniform", String(format: "%.4f", metrics.modeKL)])
        try writeJSON(report, to: out)
    }

    private func evaluateImages(data: String, loaded: Checkpoint.Loaded?) throws {
        if let loaded {
            guard loaded.config.mixture == nil, loaded.dataShape == ImageShape(height: 28, width: 28, channels: 1) else {
                throw GANError("\(loaded.path) does not generate 28×28 grayscale images; the image metrics need them")
            }
        }
        let fileImages: [Float]?
        var fileLabels: [Int]?
        if let labels {
            let file = try NPYFile.read(labels)
            guard file.columns == 1 else {
                throw GANError("\(labels): labels must be one per sample (shape (N,) or (N, 1)), got \(file.rows)×\(file.columns)")
            }
            if let bad = file.values.first(where: { $0 != $0.rounded() || !(0..<Float(ReferenceClassifier.classes)).contains($0) }) {
                throw GANError("\(labels): labels must be Fashion-MNIST classes 0 to \(ReferenceClassifier.classes - 1), found \(bad)")
            }
            fileLabels = file.values.map { Int($0) }
        }
        if let samples {
            let file = try NPYFile.read(samples)
            guard file.elementType == .float32 || file.elementType == .uint8 else {
                throw GANError("\(samples): samples must be float32 in [-1, 1] or uint8 0–255, got \(file.elementType.rawValue)")
            }
            guard file.columns == 784 else {
                throw GANError("\(samples): samples must be N×784 (28×28 images), got \(file.rows)×\(file.columns)")
            }
            if file.elementType == .float32, let bad = file.values.first(where: { !($0 >= -1.0001 && $0 <= 1.0001) }) {
                throw GANError("\(samples): float32 samples must lie in [-1, 1], found \(bad)")
            }
            fileImages = ImageEvaluator<CPUBackend>.scaled(file)
            if let fileLabels, fileLabels.count != file.rows {
                throw GANError("\(labels!) has \(fileLabels.count) labels for \(file.rows) samples in \(samples)")
            }
        } else {
            fileImages = nil
        }
        let classifierPath = classifier ?? ReferenceClassifier.defaultPath()
        try withBackend(backendOptions.backend, device: backendOptions.device) { backend in
            try evaluateImages(
                on: backend, data: data, loaded: loaded, fileImages: fileImages, fileLabels: fileLabels,
                classifierPath: classifierPath)
        }
    }

    private func evaluateImages<B: ComputeBackend>(
        on backend: B, data: String, loaded: Checkpoint.Loaded?, fileImages: [Float]?, fileLabels: [Int]?,
        classifierPath: String
    ) throws {
        let start = Date()
        let evaluator = try ImageEvaluator(backend: backend, classifierPath: classifierPath, data: data)
        var labels = fileLabels
        let images: [Float]
        if let fileImages {
            images = fileImages
        } else {
            let n = count ?? 10_000
            labels = try Sample.classes(nil, count: n, loaded: loaded!)
            if let classes = loaded!.classes, classes != ReferenceClassifier.classes {
                say("the checkpoint has \(classes) classes, not Fashion-MNIST's \(ReferenceClassifier.classes): no class agreement")
                labels = nil
            }
            images = try draw(on: backend, from: loaded!, count: n, labels: labels)
        }
        let result = try evaluator.evaluate(images, seed: seed, labels: labels)
        printTable(result)
        let report = ImageReport(
            source: samples ?? loaded!.path, data: data, classifier: classifierPath, backend: backend.name,
            evaluation: result, seconds: Date().timeIntervalSince(start))
        try writeJSON(report, to: out)
    }

    private func printTable(_ r: ImageEvaluation) {
        let table = TablePrinter(columns: [("metric", 30), ("value", 22)])
        table.printHeader()
        table.printRow(["samples (vs test split)", "\(r.samples)"])
        table.printRow(["FD-FMNIST", String(format: "%.3f", r.fdFMNIST)])
        table.printRow(["KID ×1000", String(format: "%.3f ± %.3f", r.kidMean * 1000, r.kidSD * 1000)])
        table.printRow(["precision (k 3)", String(format: "%.3f", r.precision)])
        table.printRow(["recall (k 3)", String(format: "%.3f", r.recall)])
        table.printRow(["density (k 5)", String(format: "%.3f", r.density)])
        table.printRow(["coverage (k 5)", String(format: "%.3f", r.coverage)])
        table.printRow(["classes covered", "\(r.classesCovered)/\(ReferenceClassifier.classes)"])
        table.printRow(["class KL to uniform", String(format: "%.4f", r.classKL)])
        table.printRow(["memorisation ratio", String(format: "%.3f", r.memorisationRatio)])
        table.printRow(["near copies", String(format: "%.1f%%%@", r.nearCopies * 100, r.memorised ? "  MEMORISED" : "")])
        guard let c = r.conditional else { return }
        table.printRow(["class agreement (requested)", String(format: "%.3f", c.agreement)])
        let perClass = TablePrinter(columns: [("requested class", 22), ("samples", 8), ("agreement", 10), ("FD-FMNIST", 10)])
        perClass.printHeader()
        for k in 0..<c.samplesPerClass.count where c.samplesPerClass[k] > 0 {
            perClass.printRow([
                "\(k) \(ImageDataset.fashionNames[k])", "\(c.samplesPerClass[k])",
                c.agreementPerClass[k].map { String(format: "%.3f", $0) } ?? "–",
                c.fdPerClass[k].map { String(format: "%.2f", $0) } ?? "–",
            ])
        }
    }

    private func draw<B: ComputeBackend>(
        on backend: B, from loaded: Checkpoint.Loaded, count: Int, labels: [Int]? = nil
    ) throws -> [Float] {
        let generator = try Checkpoint.generator(from: loaded, on: backend, average: !noEma)
        let sampler = try ImageSampler(generator: generator, chunk: min(count, 512))
        // Without labels a conditional sampler draws equal shares of its classes.
        return try sampler.sample(count: count, key: RandomStream.sampling.key(seed: seed), classes: labels)
    }
}

/// eval.json for images.
struct ImageReport: Encodable {
    let source: String
    let data: String
    let classifier: String
    let backend: String
    let evaluation: ImageEvaluation
    let seconds: Double

    enum CodingKeys: String, CodingKey { case source, data, classifier, backend, seconds }

    /// The metrics at the top level, beside where they came from.
    func encode(to encoder: Encoder) throws {
        try evaluation.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(source, forKey: .source)
        try c.encode(data, forKey: .data)
        try c.encode(classifier, forKey: .classifier)
        try c.encode(backend, forKey: .backend)
        try c.encode(seconds, forKey: .seconds)
    }
}

/// eval.json for 2-D samples.
struct MixtureReport: Encodable {
    let data: String
    let source: String
    let seed: UInt64
    let samples: Int
    let modes: Int
    let modesCovered: Int
    let highQualityPercent: Double
    let modeKL: Double
    let histogram: [Int]

    enum CodingKeys: String, CodingKey {
        case data, source, seed, samples, modes, histogram
        case modesCovered = "modes_covered", highQualityPercent = "high_quality_percent", modeKL = "mode_kl"
    }
}
