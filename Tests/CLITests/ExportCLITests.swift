import Foundation
import GANCore
import Testing

/// `gan-cl export`: the ONNX model run by onnxruntime, and the safetensors weights run by
/// a NumPy reading of their architecture JSON, each against `gan-cl sample --noise` on the
/// same noise.
@Suite("gan-cl export", .serialized)
struct ExportCLITests {
    /// Standard normal noise (rows × width) written as .npy, from Swift's generator.
    private func writeNoise(rows: Int, width: Int, to path: String) throws {
        var random = SystemRandomNumberGenerator()
        let values = (0..<(rows * width)).map { _ -> Float in
            let u = Float.random(in: Float.ulpOfOne..<1, using: &random), v = Float.random(in: 0..<1, using: &random)
            return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
        }
        try Data(SampleFiles.npy(values, rows: rows, columns: width)).write(to: URL(fileURLWithPath: path))
    }

    /// Exports `checkpoint` to ONNX and runs it in onnxruntime on `rows` noise rows (with the
    /// classes `sample --class all` drew for a conditional one); returns the largest
    /// difference from `gan-cl sample --noise` on the CPU backend.
    private func onnxDifference(checkpoint: String, noiseWidth: Int, rows: Int, in directory: String, conditional: Bool) throws -> Double {
        try writeNoise(rows: rows, width: noiseWidth, to: "\(directory)/z.npy")
        let sample = try GANCL.run(["sample", "--checkpoint", checkpoint, "--noise", "\(directory)/z.npy", "--out", "\(directory)/s.npy", "--backend", "cpu"])
        #expect(sample.status == 0, "\(sample.stderr)")
        let export = try GANCL.run(["export", "--checkpoint", checkpoint, "--out", "\(directory)/g.onnx"])
        #expect(export.status == 0 && export.stdout.contains("ONNX opset 17"), "\(export.stderr)")
        let output = try Python.run("""
            import numpy as np, onnxruntime as ort
            session = ort.InferenceSession("\(directory)/g.onnx", providers=["CPUExecutionProvider"])
            feeds = {"noise": np.load("\(directory)/z.npy")}
            names = [i.name for i in session.get_inputs()]
            assert names == (["noise", "class"] if \(conditional ? "True" : "False") else ["noise"]), names
            assert session.get_inputs()[0].shape[0] == "batch", session.get_inputs()[0].shape
            if "class" in names:
                feeds["class"] = np.load("\(directory)/s.labels.npy")
                assert len(set(feeds["class"].tolist())) > 1
            out = session.run(None, feeds)[0]
            ref = np.load("\(directory)/s.npy")
            assert out.shape[0] == ref.shape[0] == \(rows), (out.shape, ref.shape)
            print(float(np.abs(out.reshape(ref.shape[0], -1) - ref).max()))
            """)
        return try #require(Double(output.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// A conditional conv generator with every exportable layer kind: dense, batch norm over
    /// features and over channels, reshape, a condition in the middle of an image,
    /// conv-transpose, conv, dropout (left out), layer norm, leaky ReLU, ReLU and tanh.
    @Test func conditionalConvGeneratorRunsInONNXRuntime() throws {
        let data = try SmallDataset()
        let runs = try TemporaryDirectory()
        let out = "\(runs.path)/run"
        let generator = "dense 24; batch-norm relu; dense 196; batch-norm relu; reshape 7x7x4; condition; conv-transpose 3 k4 s2 p1; batch-norm leaky-relu; dropout 0.2; conv 4 k3 s1 p1; layer-norm relu; conv-transpose 1 k4 s2 p1 tanh"
        let run = try GANCL.run(["train", "--data", data.path, "--conditional", "--generator", generator,
                                 "--discriminator", "conv 3 k4 s2 p1 leaky-relu; flatten; dense 1",
                                 "--noise-dim", "6", "--batch-size", "8", "--steps", "4", "--backend", "cpu", "--out", out])
        #expect(run.status == 0, "\(run.stderr)")
        let checkpoint = "\(out)/checkpoints/step-000004.safetensors"
        let difference = try onnxDifference(checkpoint: checkpoint, noiseWidth: 6, rows: 13, in: runs.path, conditional: true)
        #expect(difference < 1e-5, "ONNX and gan-cl differ by \(difference)")
    }

    /// The MLP generator (with its moving average) and a 2-D mixture's: the ONNX model, and
    /// the safetensors weights run by NumPy from the architecture JSON.
    @Test func mlpGeneratorsRunInONNXRuntimeAndFromSafetensors() throws {
        let data = try SmallDataset()
        let runs = try TemporaryDirectory()
        for (name, flags, noise, conditional) in [
            ("mlp", ["--data", data.path, "--conditional", "--ema", "0.9", "--g-hidden", "24,32", "--d-hidden", "32", "--noise-dim", "8"], 8, true),
            ("ring", ["--data", "ring8", "--noise-dim", "5"], 5, false),
        ] {
            let out = "\(runs.path)/\(name)"
            let run = try GANCL.run(["train"] + flags + ["--batch-size", "16", "--steps", "4", "--backend", "cpu", "--out", out])
            #expect(run.status == 0, "\(run.stderr)")
            let checkpoint = "\(out)/checkpoints/step-000004.safetensors"
            let difference = try onnxDifference(checkpoint: checkpoint, noiseWidth: noise, rows: 11, in: runs.path, conditional: conditional)
            #expect(difference < 1e-5, "\(name): ONNX and gan-cl differ by \(difference)")

            let export = try GANCL.run(["export", "--checkpoint", checkpoint, "--out", "\(runs.path)/g.safetensors"])
            #expect(export.status == 0 && export.stdout.contains("g.json"), "\(export.stderr)")
            let output = try Python.run("""
                import json, numpy as np
                from safetensors import safe_open
                from safetensors.numpy import load_file
                with safe_open("\(runs.path)/g.safetensors", framework="numpy") as f:
                    arch = json.loads(f.metadata()["architecture"])
                assert arch == json.load(open("\(runs.path)/g.json"))
                w = load_file("\(runs.path)/g.safetensors")
                x = np.load("\(runs.path)/z.npy").astype(np.float64)
                for layer in arch["layers"]:
                    t, n = layer["type"], layer.get("name")
                    if t == "linear": x = x @ w[n + ".weight"].T + w[n + ".bias"]
                    elif t == "batch_norm": x = (x - w[n + ".running_mean"]) / np.sqrt(w[n + ".running_var"] + layer["eps"]) * w[n + ".weight"] + w[n + ".bias"]
                    elif t == "one_hot_concat": x = np.concatenate([x, np.eye(layer["classes"])[np.load("\(runs.path)/s.labels.npy")]], axis=1)
                    elif t == "relu": x = np.maximum(x, 0)
                    elif t == "leaky_relu": x = np.where(x > 0, x, layer["negative_slope"] * x)
                    elif t == "tanh": x = np.tanh(x)
                    elif t == "nhwc_to_nchw":
                        c, h, w_ = layer["shape"]
                        x = x.reshape(-1, h, w_, c).transpose(0, 3, 1, 2).reshape(len(x), -1)
                    else: raise ValueError(t)
                print(float(np.abs(x - np.load("\(runs.path)/s.npy")).max()))
                """)
            let safetensorsDifference = try #require(Double(output.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(safetensorsDifference < 1e-5, "\(name): the safetensors weights and gan-cl differ by \(safetensorsDifference)")
        }
    }

    @Test func badRequestsAreOneLineErrors() throws {
        let runs = try TemporaryDirectory()
        let data = try SmallDataset()
        let out = "\(runs.path)/run"
        let run = try GANCL.run(["train", "--data", data.path, "--steps", "2", "--backend", "cpu", "--out", out] + smallRun)
        #expect(run.status == 0, "\(run.stderr)")
        let checkpoint = "\(out)/checkpoints/step-000002.safetensors"
        expectOneLineError(try GANCL.run(["export", "--checkpoint", checkpoint, "--out", "\(runs.path)/g.png"]), "the extension must be .onnx or .safetensors")
        expectOneLineError(try GANCL.run(["export", "--checkpoint", checkpoint, "--out", "\(runs.path)/g", "--format", "tflite"]), "--format tflite: onnx or safetensors")
        expectOneLineError(try GANCL.run(["export", "--checkpoint", "\(runs.path)/missing.safetensors", "--out", "\(runs.path)/g.onnx"]), "missing.safetensors")
        let corrupt = "\(runs.path)/corrupt.safetensors"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: corrupt))
        expectOneLineError(try GANCL.run(["export", "--checkpoint", corrupt, "--out", "\(runs.path)/g.onnx"]), "not a valid safetensors file")
        #expect(!FileManager.default.fileExists(atPath: "\(runs.path)/g.onnx"))
    }
}
