import Foundation
import GANCore
import Testing

/// A `gan-cl` started in the background.
final class RunningGANCL {
    let process = Process()
    let errFile: TemporaryFile
    let outFile: TemporaryFile

    init(_ arguments: [String]) throws {
        errFile = try TemporaryFile()
        outFile = try TemporaryFile()
        process.executableURL = GANCL.executable
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: outFile.url)
        process.standardError = try FileHandle(forWritingTo: errFile.url)
        try process.run()
    }

    /// Waits until `condition` holds (polling), or `seconds` pass.
    func wait(upTo seconds: Double, until condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            if !process.isRunning { return condition() }
            usleep(20_000)
        }
        return false
    }

    func finish() -> (status: Int32, stdout: String, stderr: String) {
        process.waitUntilExit()
        return (process.terminationStatus,
                (try? String(contentsOf: outFile.url, encoding: .utf8)) ?? "",
                (try? String(contentsOf: errFile.url, encoding: .utf8)) ?? "")
    }
}

func checkpoints(in run: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: "\(run)/checkpoints")) ?? [])
        .filter { $0.hasSuffix(".safetensors") }.sorted()
}

@Suite("Interruption", .serialized)
struct InterruptionTests {
    @Test("SIGINT and SIGTERM finish the step, write a checkpoint and exit 130 or 143",
          arguments: [(SIGINT, Int32(130), "SIGINT"), (SIGTERM, Int32(143), "SIGTERM")])
    func signalWritesACheckpoint(signal: Int32, status: Int32, name: String) throws {
        let data = try SmallDataset()
        let out = try TemporaryDirectory()
        let run = try RunningGANCL(["train", "--data", data.path, "--backend", "cpu", "--steps", "1000000",
                                    "--checkpoint-every", "100000", "--log-every", "5", "--out", out.path] + smallRun)
        #expect(run.wait(upTo: 60) { FileManager.default.fileExists(atPath: "\(out.path)/metrics.csv") })
        kill(run.process.processIdentifier, signal)
        let result = run.finish()
        #expect(result.status == status, "\(result.stderr)")
        #expect(result.stderr.contains("interrupted by \(name) at step "))
        #expect(result.stderr.contains("resume with: gan-cl train --resume \(out.path)"))
        let written = checkpoints(in: out.path)
        #expect(written.count == 1)
        let loaded = try Checkpoint.load("\(out.path)/checkpoints/\(written[0])")
        #expect(result.stderr.contains("at step \(loaded.state.step);"))
        let resumed = try GANCL.run(["train", "--resume", out.path, "--steps", "\(loaded.state.step + 3)"])
        #expect(resumed.status == 0 && resumed.stdout.contains("at step \(loaded.state.step)"))
    }

    /// SIGKILL at 20 random moments of a run that checkpoints every step: each time the
    /// newest checkpoint is complete and `--resume` continues from it.
    @Test func sigkillNeverLeavesABrokenCheckpoint() throws {
        let data = try SmallDataset()
        let out = try TemporaryDirectory()
        var generator = SystemRandomNumberGenerator()
        var resumedSteps: [Int] = []
        for round in 0..<20 {
            let arguments = round == 0
                ? ["train", "--data", data.path, "--backend", "cpu", "--steps", "1000000", "--checkpoint-every", "1",
                   "--keep-checkpoints", "2", "--log-every", "3", "--sample-every", "4", "--out", out.path] + smallRun
                : ["train", "--resume", out.path]
            let before = checkpoints(in: out.path).last
            let run = try RunningGANCL(arguments)
            // Wait for a checkpoint newer than the last one, then kill at a random moment.
            #expect(run.wait(upTo: 60) { checkpoints(in: out.path).last.map { $0 != before } ?? false })
            usleep(UInt32.random(in: 0...300_000, using: &generator))
            kill(run.process.processIdentifier, SIGKILL)
            let result = run.finish()
            #expect(result.status == SIGKILL || run.process.terminationReason == .uncaughtSignal, "round \(round)")
            if round > 0 {
                #expect(result.stdout.contains("Resuming \(out.path) at step "), "round \(round): \(result.stderr)")
            }
            let newest = try #require(checkpoints(in: out.path).last)
            let loaded = try Checkpoint.load("\(out.path)/checkpoints/\(newest)")
            #expect(loaded.file.tensors.count == 48)  // the mlp preset's batch-normed G of smallRun's widths and its EMA, D 784→32→1
            resumedSteps.append(loaded.state.step)
        }
        #expect(resumedSteps == resumedSteps.sorted() && resumedSteps.last! > resumedSteps.first!)
        let final = try GANCL.run(["train", "--resume", out.path, "--steps", "\(resumedSteps.last! + 2)"])
        #expect(final.status == 0, "\(final.stderr)")
        let metrics = try String(contentsOfFile: "\(out.path)/metrics.csv", encoding: .utf8).split(separator: "\n")
        // Every row whole: the header's fields, the 8 always-filled ones and the watchdog's
        // diversity numbers (the evaluation and loss columns are empty here).
        let fields = metrics[0].split(separator: ",").count
        #expect(metrics.dropFirst().allSatisfy { row in
            let f = row.split(separator: ",", omittingEmptySubsequences: false)
            return f.count == fields && f.prefix(8).allSatisfy { Double($0) != nil } && Double(f[fields - 1]) != nil
        }, "no half-written rows remain")
    }
}
