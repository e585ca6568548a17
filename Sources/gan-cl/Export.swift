import ArgumentParser
import CPUBackend
import Foundation
import GANCore

/// `gan-cl export`
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint's generator as an ONNX model or as safetensors weights for PyTorch.",
        discussion: """
            onnx: an ONNX model (opset \(ONNXModel.opset)) of the generator's inference forward \
            (batch norm with its running averages, dropout left out). Input `noise`: float32 \
            (batch, noise-dim), standard normal, as `gan-cl sample --noise` takes it; a \
            conditional generator also takes `class`: int64 (batch). Output `image`: float32 \
            (batch, channels, height, width) in [-1, 1] (`samples`, (batch, 2), for a 2-D \
            mixture). The batch dimension is dynamic.

            safetensors: the generator's weights in PyTorch's layouts (nn.Linear's (out, in), \
            nn.Conv2d's and nn.ConvTranspose2d's), named layers.<i>.weight and so on, with the \
            architecture as JSON in the file's metadata ("architecture") and beside it in \
            X.json; scripts/load_generator.py builds the PyTorch module from the two.

            The moving average of the generator is exported when the checkpoint has one \
            (--ema), the raw weights with --no-ema.

            Example:
              gan-cl export --checkpoint runs/fmnist/checkpoints/step-018740.safetensors --out generator.onnx
            """)

    @Option(help: "A checkpoint written by gan-cl train.") var checkpoint: String
    @Option(help: "Output file: .onnx or .safetensors.") var out: String
    @Option(help: "onnx or safetensors (default: from the extension of --out).") var format: String?
    @Flag(help: "Export the generator's raw weights, not its moving average.") var noEma = false

    func run() throws {
        try reportingErrors {
            let chosen = (format ?? (out as NSString).pathExtension).lowercased()
            guard ["onnx", "safetensors"].contains(chosen) else {
                throw GANError(format == nil
                    ? "--out \(out): the extension must be .onnx or .safetensors (or give --format)"
                    : "--format \(format!): onnx or safetensors")
            }
            let loaded = try Checkpoint.load(checkpoint)
            let generator = try Checkpoint.generator(from: loaded, on: CPUBackend(), average: !noEma)
            generator.setMode(.inference)
            let isImage = loaded.config.mixture == nil
            let portable = try PortableGenerator(
                generator: generator,
                output: isImage ? loaded.dataShape : ImageShape(features: loaded.dataShape.elements),
                outputIsImage: isImage, classNames: loaded.classNames)
            let averaged = !noEma && loaded.config.ema > 0 ? " (its moving average)" : ""
            if chosen == "onnx" {
                try writeAtomically(ONNXModel.encode(portable, producerVersion: "1"), to: out)
                say("wrote the generator\(averaged) to \(out): ONNX opset \(ONNXModel.opset), inputs noise (batch, \(portable.noiseDimension))\(portable.classes != nil ? " and class (batch)" : ""), output \(isImage ? "image (batch, \(loaded.imageChannels), \(loaded.imageRows), \(loaded.imageColumns))" : "samples (batch, \(loaded.imageColumns))")")
            } else {
                let file = try portable.safetensors()
                let json = (out as NSString).deletingPathExtension + ".json"
                try writeAtomically(file.encoded(), to: out)
                try writeAtomically(Array(try portable.architectureJSON().utf8), to: json)
                say("wrote the generator's weights\(averaged) to \(out) (\(file.tensors.count) tensors) and its architecture to \(json)")
            }
        }
    }
}
