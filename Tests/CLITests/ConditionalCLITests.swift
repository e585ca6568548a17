import Foundation
import GANCore
import Testing

@Suite("gan-cl conditional training, sampling and evaluation", .serialized)
struct ConditionalCLITests {
    /// `train --conditional` on labelled IDX files; `sample --class` draws one class,
    /// all of them in equal shares (a PNG with one row per class) or refuses classes the
    /// checkpoint lacks; .npy output gets its classes in X.labels.npy; resume continues.
    @Test func trainSampleAndRefuse() throws {
        let data = try SmallDataset()
        let out = try TemporaryDirectory()
        let run = try GANCL.run(["train", "--data", data.path, "--conditional", "--steps", "8", "--log-every", "4",
                                 "--eval-every", "0", "--backend", "cpu", "--out", out.path] + smallRun)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("conditional on 10 classes: 0 0, 1 1"), "\(run.stdout)")
        let checkpoint = "\(out.path)/checkpoints/step-000008.safetensors"
        let loaded = try Checkpoint.load(checkpoint)
        #expect(loaded.classes == 10 && loaded.config.conditional)

        let npy = "\(out.path)/three.npy"
        let three = try GANCL.run(["sample", "--checkpoint", checkpoint, "--class", "3", "--count", "10", "--out", npy, "--backend", "cpu"])
        #expect(three.status == 0, "\(three.stderr)")
        let labels = try NPYFile.read("\(out.path)/three.labels.npy")
        #expect(labels.elementType == .int64 && labels.rows == 10 && labels.values.allSatisfy { $0 == 3 })
        #expect(try NPYFile.read(npy).rows == 10)
        let all = "\(out.path)/all.npy"
        #expect(try GANCL.run(["sample", "--checkpoint", checkpoint, "--count", "25", "--out", all, "--backend", "cpu"]).status == 0)
        let shares = try NPYFile.read("\(out.path)/all.labels.npy").values
        var expected: [Float] = []
        for c in 0..<10 { expected += [Float](repeating: Float(c), count: c < 5 ? 3 : 2) }
        #expect(shares == expected, "\(shares)")
        let png = "\(out.path)/grid.png"
        let grid = try GANCL.run(["sample", "--checkpoint", checkpoint, "--class", "all", "--count", "40", "--out", png, "--backend", "cpu"])
        #expect(grid.status == 0, "\(grid.stderr)")
        // 10 rows of 4 images, each 28 pixels drawn 2× and a one-pixel gutter, and a label
        // margin on the left.
        let header = Array(try Data(contentsOf: URL(fileURLWithPath: png)).prefix(24))
        let width = header[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = header[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(height == 10 * 57 + 1 && width > 4 * 57 + 1, "\(width)×\(height)")
        #expect(FileManager.default.fileExists(atPath: "\(out.path)/samples/step-000008.png"))

        // --interpolate: 3 rows of 5 steps, row i of class i (with all), its ends the same
        // noise a walk of 2 steps draws; the middle images lie between.
        let walk = "\(out.path)/walk.npy", ends = "\(out.path)/ends.npy"
        #expect(try GANCL.run(["sample", "--checkpoint", checkpoint, "--interpolate", "5", "--count", "3", "--out", walk, "--backend", "cpu"]).status == 0)
        #expect(try GANCL.run(["sample", "--checkpoint", checkpoint, "--interpolate", "2", "--count", "3", "--out", ends, "--backend", "cpu"]).status == 0)
        let walked = try NPYFile.read(walk), endpoints = try NPYFile.read(ends)
        #expect(walked.rows == 15 && endpoints.rows == 6)
        #expect(try NPYFile.read("\(out.path)/walk.labels.npy").values == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2])
        for row in 0..<3 {
            let first = Array(walked.values[(row * 5 * 784)..<((row * 5 + 1) * 784)])
            let last = Array(walked.values[((row * 5 + 4) * 784)..<((row * 5 + 5) * 784)])
            #expect(first == Array(endpoints.values[(row * 2 * 784)..<((row * 2 + 1) * 784)]))
            #expect(last == Array(endpoints.values[((row * 2 + 1) * 784)..<((row * 2 + 2) * 784)]))
            let middle = Array(walked.values[((row * 5 + 2) * 784)..<((row * 5 + 3) * 784)])
            #expect(middle != first && middle != last)
        }
        expectOneLineError(try GANCL.run(["sample", "--checkpoint", checkpoint, "--interpolate", "1", "--out", walk, "--backend", "cpu"]),
                           "--interpolate takes 2 to 64 steps")

        expectOneLineError(try GANCL.run(["sample", "--checkpoint", checkpoint, "--class", "12", "--out", npy, "--backend", "cpu"]),
                           "the checkpoint has 10 classes, 0 to 9")
        expectOneLineError(try GANCL.run(["sample", "--checkpoint", checkpoint, "--class", "hat", "--out", npy, "--backend", "cpu"]),
                           "not a class of the checkpoint")
        let plain = try TemporaryDirectory()
        #expect(try GANCL.run(["train", "--data", data.path, "--steps", "2", "--eval-every", "0", "--backend", "cpu",
                               "--out", plain.path] + smallRun).status == 0)
        expectOneLineError(try GANCL.run(["sample", "--checkpoint", "\(plain.path)/checkpoints/step-000002.safetensors",
                                          "--class", "1", "--out", npy, "--backend", "cpu"]), "is not conditional")
        let resumed = try GANCL.run(["train", "--resume", out.path, "--steps", "12", "--backend", "cpu"])
        #expect(resumed.status == 0 && FileManager.default.fileExists(atPath: "\(out.path)/checkpoints/step-000012.safetensors"), "\(resumed.stderr)")
    }

    /// Data whose labels name one class cannot train a conditional GAN.
    @Test func unlabelledDataIsRefused() throws {
        let data = try SmallDataset(labelValue: 0)
        let out = try TemporaryDirectory()
        expectOneLineError(try GANCL.run(["train", "--data", data.path, "--conditional", "--steps", "2", "--backend", "cpu",
                                          "--out", "\(out.path)/run"] + smallRun), "--conditional needs labelled data")
    }

    /// `eval --samples X --labels Y`: Fashion-MNIST training images, the first half with
    /// their own labels and the second with labels shifted by one class: the reference
    /// classifier agrees with about its accuracy (~0.93) on the first half and hardly at
    /// all on the second, so about 0.47 overall; per-class FD is reported for every class.
    @Test func evalMeasuresClassAgreement() throws {
        let directory = try TemporaryDirectory()
        let images = "\(directory.path)/real.npy", labels = "\(directory.path)/real.labels.npy"
        _ = try Python.run("""
            import gzip, numpy as np
            d = '\(ImageDataset.defaultDirectory)'
            x = np.frombuffer(gzip.open(d + '/train-images-idx3-ubyte.gz').read(), np.uint8, offset=16).reshape(-1, 784)
            y = np.frombuffer(gzip.open(d + '/train-labels-idx1-ubyte.gz').read(), np.uint8, offset=8).astype(np.int64)
            pick = np.random.default_rng(5).choice(len(x), 1500, replace=False)
            labels = y[pick].copy()
            labels[750:] = (labels[750:] + 1) % 10
            np.save('\(images)', x[pick])
            np.save('\(labels)', labels)
            """)
        let json = "\(directory.path)/eval.json"
        let run = try GANCL.run(["eval", "--samples", images, "--labels", labels, "--out", json])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("class agreement") && run.stdout.contains("9 Ankle boot"), "\(run.stdout)")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
        let conditional = try #require(report?["conditional"] as? [String: Any])
        let agreement = try #require(conditional["agreement"] as? Double)
        let fds = try #require(conditional["fd_fmnist_per_class"] as? [Double])
        let counts = try #require(conditional["samples_per_class"] as? [Int])
        #expect(agreement > 0.4 && agreement < 0.55, "half the labels right: \(agreement)")
        #expect(fds.count == 10 && fds.allSatisfy { $0.isFinite && $0 >= 0 } && counts.reduce(0, +) == 1500)
        expectOneLineError(try GANCL.run(["eval", "--samples", images, "--labels", "\(directory.path)/none.npy", "--backend", "cpu"]),
                           "cannot read")
        try Data(SampleFiles.labelsNPY([1, 2, 3])).write(to: URL(fileURLWithPath: "\(directory.path)/three.npy"))
        expectOneLineError(try GANCL.run(["eval", "--samples", images, "--labels", "\(directory.path)/three.npy", "--backend", "cpu"]),
                           "has 3 labels for 1500 samples")
    }
}
