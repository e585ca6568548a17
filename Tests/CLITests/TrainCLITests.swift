import Foundation
import GANCore
import Testing

/// A directory of small MNIST-format files: random 28×28 images, gzip-compressed.
final class SmallDataset {
    let directory: TemporaryDirectory
    var path: String { directory.path }

    /// `labelValue`: every label that class (a data set with one class); else random 0–9.
    init(images: Int = 100, labels: Int? = nil, imageBytes: (([UInt8]) -> [UInt8])? = nil, gzip: Bool = true,
         labelValue: UInt8? = nil) throws {
        directory = try TemporaryDirectory()
        var random = SystemRandomNumberGenerator()
        func header(_ dims: [Int]) -> [UInt8] {
            [0, 0, 8, UInt8(dims.count)] + dims.flatMap { d in [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
        }
        var imageFile = header([images, 28, 28]) + (0..<(images * 784)).map { _ in UInt8.random(in: 0...255, using: &random) }
        if let imageBytes { imageFile = imageBytes(imageFile) }
        let labelCount = labels ?? images
        let labelFile = header([labelCount]) + (0..<labelCount).map { _ in labelValue ?? UInt8.random(in: 0...9, using: &random) }
        try write(imageFile, "train-images-idx3-ubyte", gzip: gzip)
        try write(labelFile, "train-labels-idx1-ubyte", gzip: gzip)
    }

    private func write(_ bytes: [UInt8], _ name: String, gzip: Bool) throws {
        let file = "\(path)/\(name)"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        if gzip {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["gzip", "-f", file]
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw CLITestError("gzip failed") }
        }
    }
}

/// Flags for a run small enough to take a second or two.
let smallRun = ["--batch-size", "16", "--g-hidden", "24,32", "--d-hidden", "32", "--noise-dim", "8"]

func expectOneLineError(_ result: ProcessResult, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status != 0, "exit status", sourceLocation: sourceLocation)
    // PoCL's compiler prints its own "N warnings generated." when it builds a program it
    // has not cached (float16 arguments on a CPU without AVX-512): not gan-cl's output.
    let lines = result.stderr.split(separator: "\n").filter { !$0.hasSuffix(" warnings generated.") && !$0.hasSuffix(" warning generated.") }
    #expect(lines.count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
    #expect(lines.first?.hasPrefix("gan-cl: error: ") == true, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
    #expect(result.stderr.contains(fragment), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
}

@Suite("gan-cl train and sample", .serialized)
struct TrainCLITests {
    @Test func trainWritesTheRunDirectoryAndSampleReadsIt() throws {
        let data = try SmallDataset()
        let out = try TemporaryDirectory()
        let run = try GANCL.run(["train", "--data", data.path, "--steps", "12", "--log-every", "4", "--sample-every", "6",
                                 "--checkpoint-every", "6", "--keep-checkpoints", "1", "--backend", "cpu", "--out", out.path] + smallRun)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("step 4/12") && run.stdout.contains("step 12/12"), "plain lines when not a terminal")
        let files = Set(try FileManager.default.subpathsOfDirectory(atPath: out.path))
        for expected in ["config.json", "metrics.csv", "curves.svg", "samples/step-000006.png", "samples/step-000012.png",
                         "checkpoints/step-000012.safetensors"] {
            #expect(files.contains(expected), "\(expected) in \(files.sorted())")
        }
        #expect(!files.contains("checkpoints/step-000006.safetensors"), "--keep-checkpoints 1 removes older ones")
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.url.appendingPathComponent("config.json"))) as? [String: Any])
        #expect(config["backend"] as? String == "cpu" && config["batch-size"] as? Int == 16 && config["steps"] as? Int == 12)
        #expect(Set(config.keys).isSuperset(of: ["data", "seed", "g-hidden", "d-hidden", "g-lr", "d-lr", "beta1", "beta2", "real-label", "out"]))
        let metrics = try String(contentsOf: out.url.appendingPathComponent("metrics.csv"), encoding: .utf8).split(separator: "\n")
        let header = "step,epoch,d_loss,g_loss,d_real,d_fake,images_per_second,elapsed_seconds,fd_fmnist,kid,precision,recall,density,coverage,classes_covered,modes_covered,high_quality,mode_kl,fidelity,pair_fidelity,dcr_share,exact_copies,usefulness,wasserstein,gradient_penalty,gradient_norm,diversity"
        #expect(metrics.first.map(String.init) == header)
        #expect(metrics.count == 4)
        #expect(try String(contentsOf: out.url.appendingPathComponent("curves.svg"), encoding: .utf8).contains("<polyline"))

        let checkpoint = "\(out.path)/checkpoints/step-000012.safetensors"
        for (name, check) in [("grid.png", "png"), ("s.npy", "npy"), ("s.csv", "csv")] {
            let file = "\(out.path)/\(name)"
            let sample = try GANCL.run(["sample", "--checkpoint", checkpoint, "--count", "10", "--seed", "4", "--out", file, "--backend", "cpu"])
            #expect(sample.status == 0, "\(sample.stderr)")
            let bytes = try #require(FileManager.default.contents(atPath: file))
            switch check {
            case "png": #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]))
            case "npy": #expect(bytes.count == 128 + 10 * 784 * 4)
            default:
                let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
                #expect(lines.count == 10 && lines.allSatisfy { $0.split(separator: ",").count == 784 })
            }
        }
        let python = try Python.run("""
            import numpy as np
            from safetensors.numpy import load_file
            t = load_file("\(checkpoint)")
            # The mlp preset's G: dense 8→24, dense 24→32, batch norm, dense 32→784.
            assert t["generator.layers.0.weight"].shape == (8, 24), t["generator.layers.0.weight"].shape
            assert t["generator.layers.2.running_var"].shape == (32,)
            assert t["generator.layers.3.weight"].shape == (32, 784)
            assert t["discriminator.layers.1.bias"].shape == (1,)
            assert t["optimizer.generator.layers.0.weight.v"].dtype == np.float32
            assert t["generator_ema.layers.3.weight"].shape == (32, 784)  # the preset's EMA of G
            assert len(t) == 48, len(t)
            s = np.load("\(out.path)/s.npy")
            assert s.shape == (10, 784) and s.dtype == np.float32 and s.min() >= -1 and s.max() <= 1
            print("ok")
            """)
        #expect(python == "ok\n")
    }

    /// Resuming through the command line continues exactly: the resumed run's final
    /// tensors equal those of one straight run.
    @Test(arguments: ["cpu", "opencl"])
    func resumeContinuesBitForBit(backend: String) throws {
        let data = try SmallDataset()
        let straight = try TemporaryDirectory(), split = try TemporaryDirectory()
        let common = ["train", "--data", data.path, "--backend", backend, "--log-every", "5", "--checkpoint-every", "5"] + smallRun
        #expect(try GANCL.run(common + ["--steps", "14", "--out", straight.path]).status == 0)
        #expect(try GANCL.run(common + ["--steps", "7", "--out", split.path]).status == 0)
        let resumed = try GANCL.run(["train", "--resume", split.path, "--steps", "14"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("Resuming \(split.path) at step 7"))
        let a = try SafetensorsFile.read("\(straight.path)/checkpoints/step-000014.safetensors")
        let b = try SafetensorsFile.read("\(split.path)/checkpoints/step-000014.safetensors")
        #expect(a.tensors.count == 48 && a.tensors.map(\.name) == b.tensors.map(\.name))
        for (x, y) in zip(a.tensors, b.tensors) {
            #expect(x.values.map(\.bitPattern) == y.values.map(\.bitPattern), "\(x.name)")
        }
        let metrics = try String(contentsOfFile: "\(split.path)/metrics.csv", encoding: .utf8).split(separator: "\n")
        // The first run logged its last step, 7; the resumed run logs 10 and 14.
        #expect(metrics.map { $0.split(separator: ",")[0] } == ["step", "5", "7", "10", "14"])
    }

    // MARK: - Bad input: one line, non-zero exit

    @Test func missingDataDirectory() throws {
        expectOneLineError(try GANCL.run(["train", "--data", "/nonexistent/fmnist", "--backend", "cpu"]),
                           "data directory /nonexistent/fmnist does not exist")
    }

    @Test func truncatedGzip() throws {
        let data = try SmallDataset()
        let file = "\(data.path)/train-images-idx3-ubyte.gz"
        let bytes = try #require(FileManager.default.contents(atPath: file))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: file))
        expectOneLineError(try GANCL.run(["train", "--data", data.path, "--backend", "cpu"] + smallRun), "truncated")
    }

    @Test func wrongMagic() throws {
        let data = try SmallDataset(imageBytes: { var b = $0; b[0] = 0x1F; b[1] = 0x07; return b })
        expectOneLineError(try GANCL.run(["train", "--data", data.path, "--backend", "cpu"] + smallRun), "not an IDX file")
    }

    @Test func labelCountDiffersFromImageCount() throws {
        let data = try SmallDataset(images: 100, labels: 90, gzip: false)
        expectOneLineError(try GANCL.run(["train", "--data", data.path, "--backend", "cpu"] + smallRun),
                           "has 90 labels but")
    }

    @Test func zeroBatchSize() throws {
        let data = try SmallDataset()
        expectOneLineError(try GANCL.run(["train", "--data", data.path, "--backend", "cpu", "--batch-size", "0"]),
                           "--batch-size: batch-size must be at least 1")
    }

    @Test func unwritableOut() throws {
        let data = try SmallDataset()
        let blocker = try TemporaryFile()
        let result = try GANCL.run(["train", "--data", data.path, "--backend", "cpu", "--out", "\(blocker.url.path)/run"] + smallRun)
        expectOneLineError(result, "cannot create run directory")
    }

    @Test func resumeWithoutACheckpoint() throws {
        let empty = try TemporaryDirectory()
        expectOneLineError(try GANCL.run(["train", "--resume", empty.path]), "has no checkpoint")
    }

    @Test func sampleRejectsACheckpointOfAnotherArchitecture() throws {
        let data = try SmallDataset()
        let out = try TemporaryDirectory()
        #expect(try GANCL.run(["train", "--data", data.path, "--backend", "cpu", "--steps", "2", "--out", out.path] + smallRun).status == 0)
        let original = try SafetensorsFile.read("\(out.path)/checkpoints/step-000002.safetensors")
        var metadata = original.metadata
        metadata["config"] = metadata["config"]!.replacingOccurrences(of: "\"g-hidden\":[24,32]", with: "\"g-hidden\":[24,40]")
        #expect(metadata["config"] != original.metadata["config"])
        let other = "\(out.path)/other.safetensors"
        try Data(try SafetensorsFile(tensors: original.tensors, metadata: metadata).encoded()).write(to: URL(fileURLWithPath: other))
        expectOneLineError(try GANCL.run(["sample", "--checkpoint", other, "--out", "\(out.path)/x.png", "--backend", "cpu"]),
                           "layers.1.weight has shape [24, 32]")
        expectOneLineError(try GANCL.run(["sample", "--checkpoint", "\(out.path)/config.json", "--out", "\(out.path)/x.png"]),
                           "not a valid safetensors file")
    }

    /// Every loss trains, logs its own columns, samples and resumes from the command line;
    /// each loss's recipe fills the flags not given, and flags win over it.
    @Test(arguments: ["wgan", "wgan-gp", "hinge", "lsgan"])
    func everyLossTrainsSamplesAndResumes(loss: String) throws {
        let data = try SmallDataset()
        let out = try TemporaryDirectory()
        let run = try GANCL.run(["train", "--data", data.path, "--backend", "cpu", "--steps", "4", "--log-every", "2",
                                 "--checkpoint-every", "2", "--loss", loss, "--out", out.path] + smallRun)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("loss \(loss)"))
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.url.appendingPathComponent("config.json"))) as? [String: Any])
        #expect(config["loss"] as? String == loss)
        let wasserstein = loss.hasPrefix("wgan")
        #expect(config["d-steps"] as? Int == (wasserstein ? 5 : 1))
        #expect(config["optimizer"] as? String == (loss == "wgan" ? "rmsprop" : "adam"))
        if loss == "wgan-gp" { #expect(config["beta2"] as? Double == 0.9 && config["gp-weight"] as? Double == 10) }
        let rows = try String(contentsOf: out.url.appendingPathComponent("metrics.csv"), encoding: .utf8).split(separator: "\n")
        let header = rows[0].split(separator: ",").map(String.init)
        let last = rows.last!.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(last.count == header.count)
        func column(_ name: String) -> String { last[header.firstIndex(of: name)!] }
        #expect(!column("wasserstein").isEmpty == wasserstein, "\(rows.last!)")
        #expect(!column("gradient_penalty").isEmpty == (loss == "wgan-gp") && !column("gradient_norm").isEmpty == (loss == "wgan-gp"))
        if wasserstein { #expect(run.stdout.contains(" W ")) }

        let sample = try GANCL.run(["sample", "--checkpoint", "\(out.path)/checkpoints/step-000004.safetensors", "--count", "5",
                                    "--out", "\(out.path)/s.png", "--backend", "cpu"])
        #expect(sample.status == 0, "\(sample.stderr)")
        let resumed = try GANCL.run(["train", "--resume", out.path, "--steps", "6", "--backend", "cpu"])
        #expect(resumed.status == 0 && resumed.stdout.contains("step 6/6"), "\(resumed.stderr)")
        expectOneLineError(try GANCL.run(["train", "--resume", out.path, "--loss", "bce"]), "--loss cannot change when resuming")
    }

    /// A checkpoint written before models were made of layers (commit b579da8: ring8,
    /// G and D with one hidden layer of 8, 3 steps) still samples, evaluates and resumes.
    @Test func checkpointsFromBeforeLayersKeepWorking() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/ring8-before-layers.safetensors")
        let run = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: "\(run.path)/checkpoints", withIntermediateDirectories: true)
        let checkpoint = "\(run.path)/checkpoints/step-000003.safetensors"
        try FileManager.default.copyItem(atPath: fixture.path, toPath: checkpoint)
        let sample = try GANCL.run(["sample", "--checkpoint", checkpoint, "--count", "50", "--out", "\(run.path)/s.svg", "--backend", "cpu"])
        #expect(sample.status == 0, "\(sample.stderr)")
        let eval = try GANCL.run(["eval", "--checkpoint", checkpoint, "--backend", "cpu", "--out", "\(run.path)/eval.json"])
        #expect(eval.status == 0 && eval.stdout.contains("modes covered"), "\(eval.stdout)\(eval.stderr)")
        let resumed = try GANCL.run(["train", "--resume", run.path, "--steps", "5", "--backend", "cpu"])
        #expect(resumed.status == 0 && resumed.stdout.contains("Resuming") && resumed.stdout.contains("loss bce"), "\(resumed.stderr)")
        let written = try SafetensorsFile.read("\(run.path)/checkpoints/step-000005.safetensors")
        #expect(written.tensor("optimizer.discriminator.layers.1.weight.m")?.shape == [8, 1])
    }

    @Test func lossFlagsAreCheckedAndWinOverTheRecipe() throws {
        let data = try SmallDataset()
        let out = try TemporaryDirectory()
        let run = try GANCL.run(["train", "--data", data.path, "--backend", "cpu", "--steps", "2", "--loss", "wgan",
                                 "--d-steps", "2", "--clip", "0.05", "--spectral-norm", "--out", out.path] + smallRun)
        #expect(run.status == 0, "\(run.stderr)")
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.url.appendingPathComponent("config.json"))) as? [String: Any])
        #expect(config["d-steps"] as? Int == 2 && config["clip"] as? Double == 0.05 && config["optimizer"] as? String == "rmsprop")
        #expect(config["spectral-norm"] as? Bool == true && run.stdout.contains("with spectral normalisation of D"))
        expectOneLineError(try GANCL.run(["train", "--data", data.path, "--loss", "wasserstein"]),
                           "The value 'wasserstein' is invalid for '--loss <loss>'")
        expectOneLineError(try GANCL.run(["train", "--data", data.path, "--optimizer", "adagrad"]), "'adam', 'rmsprop' or 'sgd'")
        expectOneLineError(try GANCL.run(["train", "--data", data.path, "--loss", "wgan", "--clip", "0"]), "--clip: clip must be a number in (0.0, 100.0]")
        expectOneLineError(try GANCL.run(["train", "--data", data.path, "--gp-weight=-1"]), "--gp-weight: gp-weight must be")
        let file = "\(out.path)/loss.json"
        try Data("{\"loss\": \"hinge2\"}".utf8).write(to: URL(fileURLWithPath: file))
        expectOneLineError(try GANCL.run(["train", "--data", data.path, "--config", file]),
                           "loss must be bce, wgan, wgan-gp, hinge or lsgan")
    }

    @Test func noOpenCLPlatform() throws {
        let data = try SmallDataset()
        let out = try TemporaryDirectory()
        let empty = try TemporaryDirectory()
        let environment = ["OCL_ICD_VENDORS": empty.path, "OCL_ICD_FILENAMES": ""]
        let fallback = try GANCL.run(["train", "--data", data.path, "--steps", "2", "--out", out.path] + smallRun, environment: environment)
        #expect(fallback.status == 0)
        #expect(fallback.stderr.contains("no OpenCL platform found") && fallback.stderr.contains("training on the CPU backend"))
        #expect(fallback.stdout.contains("Training on cpu"))
        expectOneLineError(try GANCL.run(["train", "--data", data.path, "--backend", "opencl", "--out", out.path] + smallRun, environment: environment),
                           "no OpenCL platform found")
    }
}

enum Python {
    /// Runs a Python program and returns its standard output; throws on failure.
    static func run(_ program: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", program]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let error = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CLITestError("python3 failed: \(String(decoding: error, as: UTF8.self))")
        }
        return String(decoding: output, as: UTF8.self)
    }
}
