import CPUBackend
import ComputeBackend
import Foundation
import GANCore
import Testing

/// Divergence, and checkpoints that cannot be written: training loses nothing.
@Suite("Nothing lost", .serialized)
struct RobustnessTests {
    func session(_ configure: (inout RunConfig) -> Void) throws -> (TrainingSession<CPUBackend>, TemporaryRun) {
        var config = smallConfig()
        config.logEvery = 2
        config.checkpointEvery = 3
        config.sampleEvery = 1000
        config.steps = 12
        configure(&config)
        let run = try TemporaryRun()
        let trainer = try Trainer(backend: CPUBackend(), config: config, data: syntheticDataset())
        return (try TrainingSession(trainer: trainer, directory: try RunDirectory(creating: run.path)), run)
    }

    /// Writes a NaN into the generator's second weight matrix after `step`.
    func poison(_ trainer: Trainer<CPUBackend>, at step: Int, _ progress: TrainingProgress) throws {
        guard progress.step == step else { return }
        try trainer.backend.write([.nan], to: (trainer.generator.layers[1] as! Dense<CPUBackend>).weight.value, offset: 5)
    }

    @Test func divergenceStopsWithinOneLogIntervalAndKeepsTheLastGoodCheckpoint() throws {
        let (session, run) = try session { _ in }
        #expect {
            try session.run { try poison(session.trainer, at: 5, $0) }
        } throws: { error in
            guard let diverged = error as? TrainingDiverged else { return false }
            return diverged.step == 6 && diverged.what.contains("generator")
                && diverged.lastGoodCheckpoint == "\(run.path)/checkpoints/step-000003.safetensors"
                && "\(diverged)".contains("training diverged at step 6")
        }
        // The good checkpoint is intact and finite; no later one was written.
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: "\(run.path)/checkpoints").sorted()
        #expect(checkpoints == ["step-000003.safetensors"])
        let loaded = try Checkpoint.load("\(run.path)/checkpoints/step-000003.safetensors")
        #expect(loaded.file.tensors.allSatisfy { $0.values.allSatisfy(\.isFinite) })
    }

    @Test func aDivergedStateIsNeverCheckpointed() throws {
        // Checkpoint at step 3 without a log step there: the poisoned state of step 2
        // must not be saved.
        let (session, run) = try session { $0.logEvery = 5; $0.checkpointEvery = 3 }
        #expect(throws: TrainingDiverged.self) { try session.run { try poison(session.trainer, at: 2, $0) } }
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(run.path)/checkpoints").isEmpty)
    }

    @Test func rollbackRestoresTheCheckpointWithLowerLearningRates() throws {
        let (session, run) = try session { $0.onDivergence = .rollback; $0.maxRollbacks = 2; $0.rollbackLrFactor = 0.25 }
        var poisoned = false
        var notices: [String] = []
        try session.run(notice: { notices.append($0) }) { progress in
            if !poisoned && progress.step == 5 {
                poisoned = true
                try poison(session.trainer, at: 5, progress)
            }
        }
        #expect(session.trainer.state.step == 12)
        let rollbacks = notices.filter { $0.contains("rolled back") }
        #expect(rollbacks.count == 1 && rollbacks[0].contains("rolled back to step 3") && rollbacks[0].contains("rollback 1 of 2"))
        let final = try Checkpoint.load("\(run.path)/checkpoints/step-000012.safetensors")
        #expect(final.config.gLr == smallConfig().gLr * 0.25 && final.config.dLr == smallConfig().dLr * 0.25)
        #expect(final.file.tensors.allSatisfy { $0.values.allSatisfy(\.isFinite) })
        let steps = try String(contentsOfFile: "\(run.path)/metrics.csv", encoding: .utf8)
            .split(separator: "\n").dropFirst().map { Int($0.split(separator: ",")[0])! }
        #expect(steps == [2, 4, 6, 8, 10, 12], "rows after the rollback point are logged once")
    }

    @Test func rollbacksAreLimited() throws {
        let (session, run) = try session { $0.onDivergence = .rollback; $0.maxRollbacks = 2 }
        defer { withExtendedLifetime(run) {} }
        var notices: [String] = []
        #expect {
            try session.run(notice: { notices.append($0) }) { try poison(session.trainer, at: 5, $0) }
        } throws: { error in
            (error as? TrainingDiverged)?.rollbacks == 2
        }
        #expect(notices.count == 2)
    }

    @Test func aFailedCheckpointWriteKeepsThePreviousAndSaysSo() throws {
        let (session, run) = try session { $0.checkpointEvery = 2; $0.steps = 6 }
        // A directory where step 4's temporary file must go makes that write fail.
        try FileManager.default.createDirectory(
            atPath: "\(run.path)/checkpoints/step-000004.safetensors.tmp-\(getpid())", withIntermediateDirectories: true)
        var notices: [String] = []
        try session.run(notice: { notices.append($0) }) { _ in }
        #expect(notices.count == 1)
        #expect(notices.first?.contains("checkpoint at step 4 not written") == true)
        #expect(notices.first?.contains("still \(run.path)/checkpoints/step-000002.safetensors") == true)
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(run.path)/checkpoints").filter { $0.hasSuffix(".safetensors") }
        #expect(files.sorted() == ["step-000002.safetensors", "step-000006.safetensors"])
    }

    @Test func aFailedFinalCheckpointIsAnError() throws {
        let (session, run) = try session { $0.checkpointEvery = 2; $0.steps = 4 }
        try FileManager.default.createDirectory(
            atPath: "\(run.path)/checkpoints/step-000004.safetensors.tmp-\(getpid())", withIntermediateDirectories: true)
        #expect { try session.run { _ in } } throws: { "\($0)".contains("final checkpoint could not be written") }
    }
}

/// A run directory under /tmp, removed afterwards.
final class TemporaryRun {
    let path = "/tmp/gan-cl-run-\(UInt64.random(in: 0...UInt64.max))"
    init() throws {}
    deinit { try? FileManager.default.removeItem(atPath: path) }
}
