import ComputeBackend
import Foundation

/// The metrics a training run records at its evaluation steps: the image metrics for
/// images (against Fashion-MNIST's test split), the mode metrics for a 2-D mixture.
public enum EvaluationResult: Sendable {
    case images(ImageEvaluation)
    case mixture(ModeMetrics)
    case table(TableEvaluation)

    /// The metrics.csv columns this result fills (see `RunDirectory.evaluationColumns`).
    public var columns: [String: Double] {
        switch self {
        case .images(let e):
            ["fd_fmnist": e.fdFMNIST, "kid": e.kidMean, "precision": e.precision, "recall": e.recall,
             "density": e.density, "coverage": e.coverage, "classes_covered": Double(e.classesCovered)]
        case .mixture(let m):
            ["modes_covered": Double(m.modesCovered), "high_quality": m.highQuality, "mode_kl": m.modeKL]
        case .table(let t):
            ["fidelity": t.fidelity, "pair_fidelity": t.pairFidelity]
                .merging(t.privacy.map { ["dcr_share": $0.closerToTrainingShare, "exact_copies": Double($0.exactCopies)] } ?? [:]) { a, _ in a }
                .merging(t.usefulness.map { ["usefulness": $0.ratio] } ?? [:]) { a, _ in a }
        }
    }

    /// What the samples were measured against.
    public var dataName: String {
        switch self {
        case .images: "fashion-mnist test split"
        case .mixture(let m): m.mixtureName
        case .table: "the training table (privacy and usefulness against the holdout)"
        }
    }

    /// One line for the training log.
    public var summary: String {
        switch self {
        case .images(let e):
            String(format: "FD-FMNIST %.3f, KID %.4f, precision %.3f, recall %.3f, density %.3f, coverage %.3f, classes %d/10%@",
                   e.fdFMNIST, e.kidMean, e.precision, e.recall, e.density, e.coverage, e.classesCovered,
                   e.memorised ? ", MEMORISED" : "")
                + (e.conditional.map { String(format: ", class agreement %.3f", $0.agreement) } ?? "")
        case .mixture(let m):
            String(format: "modes %d/%d, high quality %.1f%%, mode KL %.3f", m.modesCovered, m.modes, m.highQuality * 100, m.modeKL)
        case .table(let t):
            String(format: "fidelity %.3f, pairs %.3f", t.fidelity, t.pairFidelity)
                + (t.privacy.map { String(format: ", closer to training %.3f, %d copies", $0.closerToTrainingShare, $0.exactCopies) + ($0.warning.map { " — \($0)" } ?? "") } ?? "")
                + (t.usefulness.map { String(format: ", usefulness %.3f (macro-F1 %.3f vs real %.3f)", $0.ratio, $0.syntheticMacroF1, $0.realMacroF1) } ?? "")
        }
    }
}

/// Evaluates a trainer's generator during and after training, with its data's measure
/// (`Dataset.evaluator`).
public final class TrainingEvaluator<B: ComputeBackend> {
    public let trainer: Trainer<B>
    public let classifierPath: String
    private let measure: ([Float], [Int]?, UInt64) throws -> EvaluationResult
    private let sampler: ImageSampler<B>

    public init(trainer: Trainer<B>, classifierPath: String = ReferenceClassifier.defaultPath()) throws {
        self.trainer = trainer
        self.classifierPath = classifierPath
        measure = trainer.data.evaluator(on: trainer.backend, classifierPath: classifierPath, config: trainer.config)
        sampler = try ImageSampler(generator: trainer.samplingGenerator, chunk: 500)
    }

    /// Samples drawn per evaluation.
    public var sampleCount: Int { trainer.config.evalSamples ?? trainer.data.evaluationSamples }

    /// Draws samples (a fixed noise stream, so evaluations differ only by the generator)
    /// and measures them.
    public func evaluate() throws -> EvaluationResult {
        try trainer.refreshAverageStatistics()
        let key = RandomStream.evaluation.key(seed: trainer.config.seed)
        let count = sampleCount
        let classes = sampler.classes == nil ? nil : trainer.data.samplingClasses(count: count, key: key) ?? sampler.defaultClasses(count: count)
        return try measure(try sampler.sample(count: count, key: key, classes: classes), classes, trainer.config.seed)
    }
}
