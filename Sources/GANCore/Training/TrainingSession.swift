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
///
/// Nothing is lost: a signal (see `Interruption`) ends the step, writes a checkpoint and
/// throws `TrainingInterrupted`; a non-finite loss, gradient or weight, looked for at
/// every log step and before every checkpoint, throws `TrainingDiverged` or, with
/// `on-divergence rollback`, restores the newest checkpoint with lower learning rates;
/// a checkpoint that cannot be written leaves the previous one and is reported.
public final class TrainingSession<B: ComputeBackend> {
    public let trainer: Trainer<B>
    public let directory: RunDirectory
    private let sampler: ImageSampler<B>
    private let gridKey: UInt64
    private var history: [LossCurve.Point]
    private var rollbacks = 0
    private let evaluator: TrainingEvaluator<B>
    private var evaluationOff = false
    private let diversity: DiversityProbe<B>
    /// Whether the collapse watchdog judges yet (see `watchCollapse`).
    private var watchdogArmed = false
    /// The step from which the run has looked collapsed (a warning is said once per spell).
    private var collapsedSince: Int?
    /// The TensorBoard event file, with `tensorboard`.
    private var events: TensorBoardEvents?

    public init(trainer: Trainer<B>, directory: RunDirectory, classifierPath: String = ReferenceClassifier.defaultPath()) throws {
        self.trainer = trainer
        self.directory = directory
        evaluator = try TrainingEvaluator(trainer: trainer, classifierPath: classifierPath)
        sampler = try ImageSampler(generator: trainer.samplingGenerator, chunk: min(trainer.data.previewCount, 500))
        gridKey = RandomStream.sampleGrid.key(seed: trainer.config.seed)
        diversity = try DiversityProbe(sampler: sampler, data: trainer.data, seed: trainer.config.seed)
        history = []
        try resetHistory()
    }

    /// Drops what was logged past the trainer's step (a resume or a rollback) and starts
    /// a new TensorBoard event file there.
    private func resetHistory() throws {
        try directory.truncateMetrics(after: trainer.state.step)
        history = directory.lossHistory(through: trainer.state.step)
        if trainer.config.tensorboard { events = try TensorBoardEvents(directory: directory.path, step: trainer.state.step) }
    }

    /// Runs to the last step. `report` gets every step's progress; `notice` gets lines
    /// for the user (a rollback, a checkpoint that could not be written).
    public func run(notice: (String) -> Void = { _ in }, _ report: (TrainingProgress) throws -> Void) throws {
        let total = trainer.totalSteps
        let start = Date()
        var intervalStart = Date()
        var intervalSteps = 0
        var rate = 0.0
        var lastCheckpointFailed = false
        while trainer.state.step < total {
            let config = trainer.config
            let step = trainer.state.step + 1
            let isEval = !evaluationOff && config.evalEvery != 0
                && (step == total || config.evalEvery.map { step % $0 == 0 } == true)
            let isLog = step % config.logEvery == 0 || step == total || isEval
            var metrics = try trainer.step(metrics: isLog)
            intervalSteps += 1
            if metrics != nil {
                metrics!.diversity = try diversity.measure()
            }
            if let metrics {
                if let bad = try nonFinite(metrics) {
                    try diverged(at: step, what: bad, notice: notice)
                    continue
                }
                // Reading the metrics waited for the queue, so the clock covers the work.
                let seconds = Date().timeIntervalSince(intervalStart)
                rate = Double(intervalSteps * config.batchSize * config.dSteps) / max(seconds, 1e-9)
                intervalStart = Date()
                intervalSteps = 0
                let evaluation = isEval ? evaluate(step: step, notice: notice) : nil
                let columns = try directory.appendMetrics(
                    step: step, epoch: trainer.state.epoch, metrics, imagesPerSecond: rate,
                    elapsed: Date().timeIntervalSince(start), evaluation: evaluation?.columns ?? [:])
                try events?.scalars(step: step, columns)
                if evaluation != nil { intervalStart = Date() }
                history.append(.init(
                    step: step, discriminatorLoss: metrics.discriminatorLoss, generatorLoss: metrics.generatorLoss,
                    evaluation: evaluation?.columns ?? [:]))
                try directory.writeCurves(history)
                if try watchCollapse(step: step, metrics: metrics, evaluation: evaluation, notice: notice) { continue }
            }
            if step % config.sampleEvery == 0 || step == total {
                try writeSamples(step: step)
                if let events, let png = FileManager.default.contents(atPath: directory.samplePath(step: step)) {
                    try events.image(step: step, tag: "samples", png: Array(png))
                }
            }
            let interrupted = Interruption.pending
            if step % config.checkpointEvery == 0 || step == total || interrupted != nil {
                do {
                    try directory.saveCheckpoint(try Checkpoint.encode(trainer), step: step, keep: config.keepCheckpoints)
                    lastCheckpointFailed = false
                } catch let bad as NonFiniteState {
                    try diverged(at: step, what: bad.what, notice: notice)
                    continue
                } catch {
                    lastCheckpointFailed = true
                    notice("checkpoint at step \(step) not written: \(error); the newest complete checkpoint is still \(directory.newestCheckpoint() ?? "none")")
                }
            }
            try report(TrainingProgress(
                step: step, totalSteps: total, epoch: trainer.state.epoch, batchInEpoch: trainer.state.batchInEpoch,
                batchesPerEpoch: trainer.order.batchesPerEpoch, imagesPerSecond: rate,
                elapsed: Date().timeIntervalSince(start), metrics: metrics))
            if let interrupted {
                throw TrainingInterrupted(
                    signal: interrupted, step: step,
                    checkpoint: lastCheckpointFailed ? nil : directory.checkpointPath(step: step),
                    runDirectory: directory.path)
            }
        }
        if lastCheckpointFailed {
            throw GANError("the final checkpoint could not be written; the newest complete one is \(directory.newestCheckpoint() ?? "none")")
        }
    }

    /// Evaluates the generator, writes eval.json and reports a line; when evaluation is
    /// impossible (no reference classifier, no test split), says why once and stops
    /// evaluating, without stopping the training.
    private func evaluate(step: Int, notice: (String) -> Void) -> EvaluationResult? {
        do {
            let result = try evaluator.evaluate()
            try directory.writeEvaluation(result, step: step, samples: evaluator.sampleCount, seed: trainer.config.seed)
            notice("evaluation at step \(step) (\(evaluator.sampleCount) samples): \(result.summary)")
            return result
        } catch {
            evaluationOff = true
            notice("evaluation skipped from step \(step) on: \(error)")
            return nil
        }
    }

    /// The data's preview (a grid of 64 images, a scatter plot of 2,500 points) from one
    /// fixed noise batch. A conditional image run's grid has one row of 8 per class (the
    /// first 16 classes), labelled with the class.
    private func writeSamples(step: Int) throws {
        try trainer.refreshAverageStatistics()
        let data = trainer.data
        if let classes = sampler.classes, data.layout.rows > 1 {
            let shown = min(classes, 16), across = 8
            let labels = (0..<(shown * across)).map { $0 / across }
            let images = try sampler.sample(count: labels.count, key: gridKey, classes: labels)
            try ImageGrid.writePNG(
                images, count: labels.count, rows: data.layout.rows, columns: data.layout.columns,
                channels: data.shape.channels, across: across,
                rowLabels: Array(0..<shown), to: directory.samplePath(step: step))
            return
        }
        let classes = sampler.classes == nil ? nil : data.samplingClasses(count: data.previewCount, key: gridKey)
        try data.writePreview(try sampler.sample(count: data.previewCount, key: gridKey, classes: classes), step: step, in: directory)
    }

    /// What is not finite after a log step: a parameter or gradient (which names where
    /// it went wrong), else a loss.
    private func nonFinite(_ metrics: StepMetrics) throws -> String? {
        if let tensor = try trainer.firstNonFiniteTensor() { return tensor }
        if !metrics.discriminatorLoss.isFinite { return "the discriminator loss" }
        if !metrics.generatorLoss.isFinite { return "the generator loss" }
        return nil
    }

    /// The collapse watchdog at a log step: the diversity under `collapse-threshold`, or
    /// at most 2 classes covered at an evaluation, is a suspected collapse — once the
    /// watchdog is armed: a fresh generator's samples are all alike before it has learned
    /// anything, so the watchdog waits until the diversity has once reached the threshold
    /// (a collapse is a fall from there) or a tenth of the run has passed (a generator
    /// that never spread out by then is collapsed from the start) — which
    /// `on-collapse` warns about (once a spell), stops at (with this step's checkpoint) or
    /// rolls back from. Returns whether it rolled back.
    private func watchCollapse(
        step: Int, metrics: StepMetrics, evaluation: EvaluationResult?, notice: (String) -> Void
    ) throws -> Bool {
        let config = trainer.config
        if let value = metrics.diversity, value >= Double(config.collapseThreshold) { watchdogArmed = true }
        if step >= max(1, trainer.totalSteps / 10) { watchdogArmed = true }
        guard watchdogArmed else { return false }
        var signals: [String] = []
        if let value = metrics.diversity, value < Double(config.collapseThreshold) {
            signals.append(String(format: "diversity %.3f under %.3f", value, config.collapseThreshold))
        }
        if let classes = evaluation?.columns["classes_covered"], classes <= 2 {
            signals.append("\(Int(classes)) of 10 classes covered")
        }
        guard !signals.isEmpty else {
            collapsedSince = nil
            return false
        }
        let signal = signals.joined(separator: ", ")
        switch config.onCollapse {
        case .warn:
            if collapsedSince == nil { notice("mode collapse suspected at step \(step): \(signal) (--on-collapse warn; stop or rollback act on it)") }
            collapsedSince = collapsedSince ?? step
            return false
        case .stop:
            let path = try? directory.saveCheckpoint(try Checkpoint.encode(trainer), step: step, keep: config.keepCheckpoints)
            throw TrainingCollapsed(step: step, signal: signal, checkpoint: path.map { _ in directory.checkpointPath(step: step) })
        case .rollback:
            // The newest checkpoint before this step (one written at the step would hold the collapse).
            guard rollbacks < config.maxRollbacks,
                  let newest = directory.newestCheckpoint(), (try? Checkpoint.load(newest))?.state.step ?? step < step else {
                throw TrainingCollapsed(step: step, signal: signal + " and no earlier checkpoint or rollback left", checkpoint: nil)
            }
            let loaded = try Checkpoint.load(newest)
            try Checkpoint.restore(trainer, from: loaded)
            trainer.scaleLearningRates(by: config.rollbackLrFactor)
            rollbacks += 1
            collapsedSince = nil
            try resetHistory()
            notice("mode collapse suspected at step \(step) (\(signal)); rolled back to step \(loaded.state.step) from \(newest) with learning rates ×\(config.rollbackLrFactor): G \(trainer.config.gLr), D \(trainer.config.dLr) (rollback \(rollbacks) of \(config.maxRollbacks))")
            return true
        }
    }

    /// Stops, or rolls back to the newest checkpoint with lower learning rates.
    private func diverged(at step: Int, what: String, notice: (String) -> Void) throws {
        let newest = directory.newestCheckpoint()
        let config = trainer.config
        guard config.onDivergence == .rollback, rollbacks < config.maxRollbacks, let newest else {
            throw TrainingDiverged(step: step, what: what, lastGoodCheckpoint: newest, rollbacks: rollbacks)
        }
        let loaded = try Checkpoint.load(newest)
        try Checkpoint.restore(trainer, from: loaded)
        trainer.scaleLearningRates(by: config.rollbackLrFactor)
        rollbacks += 1
        try resetHistory()
        notice("training diverged at step \(step) (non-finite values in \(what)); rolled back to step \(loaded.state.step) from \(newest) with learning rates ×\(config.rollbackLrFactor): G \(trainer.config.gLr), D \(trainer.config.dLr) (rollback \(rollbacks) of \(config.maxRollbacks))")
    }
}

extension RunDirectory {
    /// Keeps only the well-formed metrics.csv rows up to `step`: a resumed or rolled-back
    /// run logs the later steps again, and a killed run may have left half a line.
    func truncateMetrics(after step: Int) throws {
        let file = "\(path)/metrics.csv"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        let fields = Self.metricsHeader.split(separator: ",").count
        // Rows written before the loss or watchdog columns existed get them, empty.
        let older = fields - Self.lossColumns.count - Self.watchdogColumns.count
        let kept = lines.dropFirst().compactMap { line -> String? in
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            guard (older...fields).contains(f.count), f.prefix(8).allSatisfy({ Double($0) != nil }),
                  f.dropFirst(8).allSatisfy({ $0.isEmpty || Double($0) != nil }), Int(f[0]).map({ $0 <= step }) == true
            else { return nil }
            return String(line) + String(repeating: ",", count: fields - f.count)
        }
        let cleaned = ([Self.metricsHeader] + kept).joined(separator: "\n") + "\n"
        if cleaned != text { try writeAtomically(Array(cleaned.utf8), to: file) }
    }
}
