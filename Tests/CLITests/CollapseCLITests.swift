import Foundation
import GANCore
import Testing

@Suite("The collapse watchdog", .serialized)
struct CollapseCLITests {
    /// A deliberately collapsing configuration: G by SGD at learning rate 1 with momentum
    /// 0.99 against a D that hardly learns; its biases run away and every sample becomes
    /// the same saturated image within a few steps.
    /// (The plain MLP G: the mlp preset's batch norm keeps this run's samples spread.)
    static let collapsing = smallRun + [
        "--no-g-batch-norm", "--optimizer", "sgd", "--g-lr", "1", "--d-lr", "0.000001", "--momentum", "0.99", "--log-every", "5",
        "--eval-every", "0", "--backend", "cpu",
    ]

    /// The diversity column of metrics.csv, by step.
    static func diversity(_ run: String) throws -> [(step: Int, value: Double)] {
        let text = try String(contentsOfFile: "\(run)/metrics.csv", encoding: .utf8)
        let lines = text.split(separator: "\n")
        let column = try #require(lines.first?.split(separator: ",").firstIndex(of: "diversity"))
        return lines.dropFirst().map { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            return (Int(fields[0])!, Double(fields[column])!)
        }
    }

    /// warn (the default) says it once and trains on, the diversity logged at every log
    /// step; stop ends the run at the first log step that sees it, with one line, a
    /// non-zero exit and that step's checkpoint; rollback restores an earlier checkpoint
    /// with lower learning rates until its rollbacks run out.
    @Test func aCollapsingRunIsSeenWithinAFewLogSteps() throws {
        let data = try SmallDataset()
        let runs = try TemporaryDirectory()
        let warned = try GANCL.run(["train", "--data", data.path, "--steps", "40", "--out", "\(runs.path)/warn"] + Self.collapsing)
        #expect(warned.status == 0, "\(warned.stderr)")
        let notices = (warned.stdout + warned.stderr).components(separatedBy: "mode collapse suspected at step").count - 1
        #expect(notices == 1, "one warning per spell: \(warned.stdout) \(warned.stderr)")
        let values = try Self.diversity("\(runs.path)/warn")
        #expect(values.count == 8)
        let first = try #require(values.first { $0.value < 0.05 })
        // Its diversity falls from 0.14 at step 5 through 0.06 at step 15: seen by the
        // fourth log step.
        #expect(first.step <= 20, "seen within four log steps: \(values)")

        let stopped = try GANCL.run(["train", "--data", data.path, "--steps", "40", "--on-collapse", "stop", "--out", "\(runs.path)/stop"] + Self.collapsing)
        expectOneLineError(stopped, "training stopped at step \(first.step): mode collapse suspected (diversity")
        #expect(FileManager.default.fileExists(atPath: "\(runs.path)/stop/checkpoints/step-\(String(format: "%06d", first.step)).safetensors"))

        let rolled = try GANCL.run(["train", "--data", data.path, "--steps", "40", "--on-collapse", "rollback", "--checkpoint-every", "1",
                                    "--max-rollbacks", "2", "--out", "\(runs.path)/rollback"] + Self.collapsing)
        #expect(rolled.status != 0)
        #expect((rolled.stdout + rolled.stderr).contains("rolled back to step"), "\(rolled.stdout) \(rolled.stderr)")
        #expect(rolled.stderr.contains("no earlier checkpoint or rollback left"), "\(rolled.stderr)")
    }

    /// A healthy run never trips it: ring8's recipe over 1,500 steps, and the small
    /// image run of the other tests.
    @Test func aHealthyRunNeverTripsIt() throws {
        let runs = try TemporaryDirectory()
        let ring = try GANCL.run(["train", "--data", "ring8", "--steps", "1500", "--on-collapse", "stop", "--out", "\(runs.path)/ring8"])
        #expect(ring.status == 0, "\(ring.stderr)")
        let values = try Self.diversity("\(runs.path)/ring8")
        #expect(values.count == 15 && values.allSatisfy { $0.value > 0.05 }, "\(values)")
        let data = try SmallDataset()
        let images = try GANCL.run(["train", "--data", data.path, "--steps", "60", "--log-every", "10", "--on-collapse", "stop",
                                    "--eval-every", "0", "--backend", "cpu", "--out", "\(runs.path)/images"] + smallRun)
        #expect(images.status == 0, "\(images.stderr)")
        #expect(try Self.diversity("\(runs.path)/images").allSatisfy { $0.value > 0.05 })
    }
}
