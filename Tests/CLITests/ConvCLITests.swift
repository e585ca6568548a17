import ComputeBackend
import Foundation
import GANCore
import Testing

@Suite("gan-cl train with conv layers", .serialized)
struct ConvCLITests {
    /// A conv G and D from a TOML config file (lists of layer lines), trained, sampled and
    /// resumed through the command line; the saved config keeps the lines.
    @Test func layerLinesFromAConfigFileTrainSampleAndResume() throws {
        let data = try SmallDataset()
        let runs = try TemporaryDirectory()
        let config = "\(runs.path)/conv.toml"
        try """
            model = "dcgan"
            batch-size = 8
            noise-dim = 6
            generator = ["dense 24", "batch-norm relu", "dense 196", "batch-norm relu", "reshape 7x7x4",
                         "conv-transpose 3 k4 s2 p1", "batch-norm relu", "conv-transpose 1 k4 s2 p1 tanh"]
            discriminator = ["conv 3 k4 s2 p1 leaky-relu", "conv 5 k4 s2 p1", "batch-norm leaky-relu", "dense 8",
                             "batch-norm leaky-relu", "dense 1"]
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let out = "\(runs.path)/run"
        let run = try GANCL.run(["train", "--data", data.path, "--config", config, "--steps", "6", "--checkpoint-every", "3",
                                 "--sample-every", "3", "--backend", "cpu", "--out", out])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("G 6 → dense 24, batch-norm relu, dense 196, batch-norm relu, conv-transpose 3 k4 s2 p1, batch-norm relu, conv-transpose 1 k4 s2 p1 tanh → 784"), "\(run.stdout)")
        let saved = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/config.json"))) as? [String: Any])
        #expect((saved["generator"] as? [String])?.count == 8 && (saved["discriminator"] as? [String])?.first == "conv 3 k4 s2 p1 leaky-relu")
        #expect(saved["model"] as? String == "dcgan" && saved["noise-dim"] as? Int == 6)
        let sample = try GANCL.run(["sample", "--checkpoint", "\(out)/checkpoints/step-000006.safetensors", "--count", "5",
                                    "--out", "\(runs.path)/s.npy", "--backend", "cpu"])
        #expect(sample.status == 0, "\(sample.stderr)")
        #expect(FileManager.default.contents(atPath: "\(runs.path)/s.npy")?.count == 128 + 5 * 784 * 4)
        let resumed = try GANCL.run(["train", "--resume", out, "--steps", "8"])
        #expect(resumed.status == 0 && resumed.stdout.contains("Resuming \(out) at step 6"), "\(resumed.stderr)")
    }

    /// Descriptions that do not fit are refused before a run directory is made, with one
    /// line naming the layer.
    @Test func badDescriptionsAreRefusedWithOneLine() throws {
        let data = try SmallDataset()
        let runs = try TemporaryDirectory()
        let cases: [([String], String)] = [
            (["--generator", "dense 10; conv 4 k3 s1 p0"], "generator layer 2 ('conv 4 k3 s1 p0')"),
            (["--discriminator", "conv 4 k5 s1 p0; wobble 3; dense 1"], "discriminator layer 2 ('wobble 3'): unknown layer 'wobble'"),
            (["--generator", "dense 100; reshape 10x10x1; conv 1 k3 s1 p1 tanh"], "the generator ends in 100 outputs (10×10×1), it must end in 784"),
            (["--generator", "dense 64; reshape 7x7x2"], "generator layer 2 ('reshape 7x7x2'): 64 elements do not make 7×7×2"),
            (["--discriminator", "conv 8 k4 s2 p4 leaky-relu; dense 1"], "padding"),
            (["--discriminator", "dense 20 sideways; dense 1"], "discriminator layer 1 ('dense 20 sideways'): unexpected 'sideways'"),
            (["--discriminator", "conv 4 k4 s2 p1; layer-norm leaky-relu; flatten; dense 1", "--loss", "wgan-gp"],
             "--loss wgan-gp: the gradient penalty has no second-order pass through 'layer-norm leaky-relu'"),
            (["--discriminator", "dense 20 leaky-relu; dropout 1.5; dense 1"], "discriminator layer 2 ('dropout 1.5'): dropout needs a rate in [0, 1)"),
        ]
        for (index, (flags, fragment)) in cases.enumerated() {
            let out = "\(runs.path)/run\(index)"
            expectOneLineError(
                try GANCL.run(["train", "--data", data.path, "--steps", "2", "--backend", "cpu", "--out", out] + flags), fragment)
            #expect(!FileManager.default.fileExists(atPath: out), "no run directory for a refused description")
        }
    }

    /// `--ema`: the checkpoint holds the moving average beside G; `sample` and `eval` use
    /// it unless `--no-ema`, and the two differ; resuming keeps it.
    @Test func emaSamplesFromTheAverageUnlessAsked() throws {
        let data = try SmallDataset()
        let runs = try TemporaryDirectory()
        let out = "\(runs.path)/run"
        let run = try GANCL.run(["train", "--data", data.path, "--steps", "6", "--checkpoint-every", "6", "--ema", "0.9",
                                 "--g-hidden", "16", "--d-hidden", "16", "--noise-dim", "4", "--batch-size", "8",
                                 "--generator-noise", "reuse", "--eval-every", "0", "--backend", "cpu", "--out", out])
        #expect(run.status == 0, "\(run.stderr)")
        let checkpoint = "\(out)/checkpoints/step-000006.safetensors"
        let file = try SafetensorsFile.read(checkpoint)
        #expect(file.tensor("generator_ema.layers.0.weight") != nil && file.tensor("optimizer.generator_ema.layers.0.weight.m") == nil)
        #expect(file.tensor("generator_ema.layers.0.weight")?.values != file.tensor("generator.layers.0.weight")?.values)
        var drawn: [[UInt8]] = []
        for flags in [[], ["--no-ema"]] {
            let path = "\(runs.path)/s\(drawn.count).npy"
            let sample = try GANCL.run(["sample", "--checkpoint", checkpoint, "--count", "3", "--out", path, "--backend", "cpu"] + flags)
            #expect(sample.status == 0, "\(sample.stderr)")
            drawn.append([UInt8](FileManager.default.contents(atPath: path) ?? Data()))
        }
        #expect(drawn[0].count == 128 + 3 * 784 * 4 && drawn[0] != drawn[1], "the average and the raw weights draw differently")
        let resumed = try GANCL.run(["train", "--resume", out, "--steps", "8"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let bad = try GANCL.run(["train", "--data", data.path, "--ema", "1", "--backend", "cpu", "--out", "\(runs.path)/bad"])
        expectOneLineError(bad, "ema")

        // `--noise`: N images from N given vectors, each from its own row (inference
        // mode): the rows reversed give the images reversed; a wrong width is one line.
        var random = SplitMix64(seed: 4)
        let z = (0..<(5 * 4)).map { _ in random.unitFloat() * 4 - 2 }
        let reversed = (0..<5).reversed().flatMap { z[($0 * 4)..<($0 * 4 + 4)] }
        var images: [[Float]] = []
        for (index, noise) in [z, reversed].enumerated() {
            let zPath = "\(runs.path)/z\(index).npy", outPath = "\(runs.path)/g\(index).npy"
            try Data(SampleFiles.npy(noise, rows: 5, columns: 4)).write(to: URL(fileURLWithPath: zPath))
            let drawn = try GANCL.run(["sample", "--checkpoint", checkpoint, "--noise", zPath, "--out", outPath, "--backend", "cpu"])
            #expect(drawn.status == 0, "\(drawn.stderr)")
            images.append(try NPYFile.read(outPath).values)
        }
        #expect(images[0].count == 5 * 784 && Set(images[0]).count > 100)
        let rowsReversed: [Float] = (0..<5).reversed().flatMap { (row: Int) -> ArraySlice<Float> in
            images[0][(row * 784)..<(row * 784 + 784)]
        }
        #expect(rowsReversed == images[1])
        try Data(SampleFiles.npy(z, rows: 4, columns: 5)).write(to: URL(fileURLWithPath: "\(runs.path)/wide.npy"))
        expectOneLineError(
            try GANCL.run(["sample", "--checkpoint", checkpoint, "--noise", "\(runs.path)/wide.npy", "--out", "\(runs.path)/w.npy"]),
            "float32 N×4 noise")
    }
}
