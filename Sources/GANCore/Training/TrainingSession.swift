import ComputeBackend
import Foundation

/// What a training session reports after each step.
public struct TrainingProgress: Sendable {
    public let step: Int
    public let totalSteps: Int
    public let epoch: Int
    public let batchInEpoch: Int
    public let batchesPerEpoch: Int
    /// Real images per second over the last log interval.
    public let imagesPerSecond: Double
    public let elapsed: Double
    /// Set on log steps.
    public let metrics: StepMetrics?
}

/// Runs a trainer to its last step, writing the run directory as it goes: metrics and
/// the loss curve every `log-every` steps, a sample grid every `sample-every`, a
/// checkpoint every `checkpoint-every` and after the last step.
public final class TrainingSession<B: ComputeBackend> {
    public let trainer: Trainer<B>
    public let directory: RunDirectory
    private let sampler: ImageSampler<B>
    private let gridKey: UInt64
    private var history: [LossCurve.Point]

    public init(trainer: Trainer<B>, directory: RunDirectory) throws {
        self.trainer = trainer
        self.directory = directory
        sampler = try ImageSampler(generator: trainer.generator, chunk: 64)
        gridKey = RandomStream.sampleGrid.key(seed: trainer.config.seed)
        let resumedAt = trainer.state.step
        try directory.truncateMetrics(after: resumedAt)
        history = directory.lossHistory(through: resumedAt)
    }

    public func run(_ report: (TrainingProgress) throws -> Void) throws {
        let config = trainer.config
        let total = trainer.totalSteps
        let imagesPerStep = Double(config.batchSize * config.dSteps)
        let start = Date()
        var intervalStart = Date()
        var intervalSteps = 0
        var rate = 0.0
        while trainer.state.step < total {
            let step = trainer.state.step + 1
            let isLog = step % config.logEvery == 0 || step == total
            let metrics = try trainer.step(metrics: isLog)
            intervalSteps += 1
            if let metrics {
                // Reading the metrics waited for the queue, so the clock covers the work.
                let seconds = Date().timeIntervalSince(intervalStart)
                rate = Double(intervalSteps) * imagesPerStep / max(seconds, 1e-9)
                intervalStart = Date()
                intervalSteps = 0
                try directory.appendMetrics(
                    step: step, epoch: trainer.state.epoch, metrics, imagesPerSecond: rate,
                    elapsed: Date().timeIntervalSince(start))
                history.append(.init(step: step, discriminatorLoss: metrics.discriminatorLoss, generatorLoss: metrics.generatorLoss))
                try directory.writeCurves(history)
            }
            if step % config.sampleEvery == 0 || step == total {
                let path = directory.samplePath(step: step)
                let images = try sampler.sample(count: 64, key: gridKey)
                try ImageGrid.writePNG(
                    images, count: 64, rows: trainer.dataset.rows, columns: trainer.dataset.columns, across: 8, to: path)
            }
            if step % config.checkpointEvery == 0 || step == total {
                try directory.saveCheckpoint(try Checkpoint.encode(trainer), step: step, keep: config.keepCheckpoints)
            }
            try report(TrainingProgress(
                step: step, totalSteps: total, epoch: trainer.state.epoch, batchInEpoch: trainer.state.batchInEpoch,
                batchesPerEpoch: trainer.order.batchesPerEpoch, imagesPerSecond: rate,
                elapsed: Date().timeIntervalSince(start), metrics: metrics))
        }
    }
}

extension RunDirectory {
    /// Drops metrics.csv rows after `step`: a resumed run logs those steps again.
    func truncateMetrics(after step: Int) throws {
        let file = "\(path)/metrics.csv"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard !lines.isEmpty else { return }
        let header = lines.removeFirst()
        let kept = lines.filter { line in Int(line.split(separator: ",").first ?? "").map { $0 <= step } ?? false }
        guard kept.count != lines.count else { return }
        try writeAtomically(Array(([header] + kept).joined(separator: "\n").utf8) + [0x0A], to: file)
    }
}
