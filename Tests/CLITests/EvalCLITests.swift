import Foundation
import GANCore
import Testing

@Suite("gan-cl eval", .serialized)
struct EvalCLITests {
    /// Writes `rows` Fashion-MNIST training images (uint8, chosen by numpy with a seed)
    /// and one of them repeated (float32 in [-1, 1]) as .npy files.
    func writeSamples(in directory: TemporaryDirectory, rows: Int) throws -> (real: String, repeated: String) {
        let real = "\(directory.path)/real.npy", repeated = "\(directory.path)/repeated.npy"
        _ = try Python.run("""
            import gzip, numpy as np
            x = np.frombuffer(gzip.open('\(ImageDataset.defaultDirectory)/train-images-idx3-ubyte.gz').read(), np.uint8, offset=16).reshape(-1, 784)
            pick = x[np.random.default_rng(3).choice(len(x), \(rows), replace=False)]
            np.save('\(real)', pick)
            np.save('\(repeated)', np.repeat(pick[:1].astype(np.float32) / 127.5 - 1, \(rows), axis=0))
            """)
        return (real, repeated)
    }

    func readJSON(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
    }

    /// Real images score near the floor and are flagged as training copies; one image
    /// repeated covers one class and has no recall; eval.json holds every metric.
    @Test func samplesFromFilesAreOrdered() throws {
        let directory = try TemporaryDirectory()
        let (real, repeated) = try writeSamples(in: directory, rows: 1500)
        let realJSON = "\(directory.path)/real.json", repeatedJSON = "\(directory.path)/repeated.json"
        let first = try GANCL.run(["eval", "--samples", real, "--backend", "cpu", "--out", realJSON])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("FD-FMNIST") && first.stdout.contains("MEMORISED"), "\(first.stdout)")
        let second = try GANCL.run(["eval", "--samples", repeated, "--backend", "cpu", "--out", repeatedJSON])
        #expect(second.status == 0, "\(second.stderr)")
        let a = try readJSON(realJSON), b = try readJSON(repeatedJSON)
        for key in ["fd_fmnist", "kid_mean", "kid_sd", "precision", "recall", "density", "coverage", "classes_covered",
                    "class_kl", "memorisation_ratio", "near_copies", "memorised", "samples", "split", "classifier_sha256", "seed"] {
            #expect(a.keys.contains(key), "eval.json has no \(key)")
        }
        let samples = a["samples"] as? Int, split = a["split"] as? String, hash = a["classifier_sha256"] as? String
        #expect(samples == 1500 && split == "test")
        #expect(hash == ReferenceClassifier.sha256)
        let fdReal = a["fd_fmnist"] as? Double ?? .nan, fdRepeated = b["fd_fmnist"] as? Double ?? .nan
        #expect(fdReal < fdRepeated / 10, "FD \(fdReal) vs \(fdRepeated)")
        let classesA = a["classes_covered"] as? Int, classesB = b["classes_covered"] as? Int
        #expect(classesA == 10 && classesB == 1)
        let recallA = a["recall"] as? Double ?? 0, recallB = b["recall"] as? Double ?? 1
        #expect(recallB < 0.01 && recallA > 0.7)
        let memorised = a["memorised"] as? Bool
        #expect(memorised == true)
    }

    @Test func badInputIsAOneLineError() throws {
        let directory = try TemporaryDirectory()
        let wide = "\(directory.path)/wide.npy", outOfRange = "\(directory.path)/range.npy"
        try Data(SampleFiles.npy([Float](repeating: 0.5, count: 50 * 100), rows: 50, columns: 100)).write(to: URL(fileURLWithPath: wide))
        try Data(SampleFiles.npy([Float](repeating: 3, count: 20 * 784), rows: 20, columns: 784)).write(to: URL(fileURLWithPath: outOfRange))
        expectOneLineError(try GANCL.run(["eval"]), "exactly one of --checkpoint")
        expectOneLineError(try GANCL.run(["eval", "--samples", wide, "--checkpoint", wide]), "exactly one of --checkpoint")
        expectOneLineError(try GANCL.run(["eval", "--samples", wide, "--backend", "cpu"]), "must be N×784")
        expectOneLineError(try GANCL.run(["eval", "--samples", outOfRange, "--backend", "cpu"]), "must lie in [-1, 1]")
        expectOneLineError(try GANCL.run(["eval", "--samples", "\(directory.path)/missing.npy"]), "cannot read")
        // A classifier that is not the committed one is refused before use.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: ReferenceClassifier.defaultPath()))
        var changed = Array(bytes)
        changed[changed.count - 1] ^= 0x40
        let other = "\(directory.path)/other.safetensors"
        try Data(changed).write(to: URL(fileURLWithPath: other))
        let images = "\(directory.path)/ok.npy"
        try Data(SampleFiles.npy([Float](repeating: 0.1, count: 20 * 784), rows: 20, columns: 784)).write(to: URL(fileURLWithPath: images))
        expectOneLineError(try GANCL.run(["eval", "--samples", images, "--backend", "cpu", "--classifier", other]), "SHA-256")
        expectOneLineError(try GANCL.run(["eval", "--samples", images, "--backend", "cpu", "--classifier", "\(directory.path)/none"]),
                           "reference classifier")
    }

    /// ring8 with the 2-D preset: evaluations land in metrics.csv and eval.json, the
    /// samples are scatter plots, and `eval --checkpoint` measures the generator.
    @Test func ringRunRecordsModeMetrics() throws {
        let out = try TemporaryDirectory()
        let run = try GANCL.run(["train", "--data", "ring8", "--backend", "cpu", "--steps", "60", "--eval-every", "30",
                                 "--log-every", "10", "--sample-every", "60", "--out", out.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("evaluation at step 30 (2500 samples): modes "), "\(run.stderr)")
        let rows = try String(contentsOfFile: "\(out.path)/metrics.csv", encoding: .utf8).split(separator: "\n")
        let header = rows[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let modes = header.firstIndex(of: "modes_covered")!
        let evaluated = rows.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false) }.filter { !$0[modes].isEmpty }
        #expect(evaluated.map { Int($0[0]) } == [30, 60])
        #expect(FileManager.default.fileExists(atPath: "\(out.path)/samples/step-000060.svg"))
        let saved = try readJSON("\(out.path)/eval.json")
        let step = saved["step"] as? Int, data = saved["data"] as? String, modeCount = saved["modes"] as? Int
        #expect(step == 60 && data == "ring8" && modeCount == 8)
        let json = "\(out.path)/again.json"
        let again = try GANCL.run(["eval", "--checkpoint", "\(out.path)/checkpoints/step-000060.safetensors", "--backend", "cpu", "--out", json])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("modes covered"))
        let drawn = try readJSON(json)["samples"] as? Int
        #expect(drawn == 2500)
        let checkpoint = "\(out.path)/checkpoints/step-000060.safetensors"
        let svg = try GANCL.run(["sample", "--checkpoint", checkpoint, "--count", "300", "--out", "\(out.path)/s.svg", "--backend", "cpu"])
        #expect(svg.status == 0, "\(svg.stderr)")
        let plot = try String(contentsOfFile: "\(out.path)/s.svg", encoding: .utf8)
        #expect(plot.components(separatedBy: "fill=\"#1f77b4\"").count > 100, "the scatter plot shows the samples")
        expectOneLineError(try GANCL.run(["sample", "--checkpoint", checkpoint, "--out", "\(out.path)/s.png", "--backend", "cpu"]),
                           "a 2-D checkpoint writes .svg")
    }
}
