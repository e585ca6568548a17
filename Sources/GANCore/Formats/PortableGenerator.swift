import ComputeBackend
import Foundation

/// A trained generator in the layouts other frameworks use, for `gan-cl export`: the
/// steps of its inference forward, each with its weights in PyTorch's (and ONNX's)
/// layout, and the conversions between gan-cl's flat NHWC rows and NCHW images written
/// out as steps of their own. The ONNX model and the safetensors file with its
/// architecture JSON are both written from this one list, so the test that runs the ONNX
/// model against `gan-cl sample --noise` checks the layouts of both.
public struct PortableGenerator {
    public enum Step {
        /// y = x·Wᵀ + b on (N, inputs), W (outputs, inputs): nn.Linear.
        case linear(name: String, inputs: Int, outputs: Int, weight: [Float], bias: [Float])
        /// nn.Conv2d on (N, C, H, W), W (outputChannels, inputChannels, k, k).
        case conv(name: String, inputChannels: Int, outputChannels: Int, kernel: Int, stride: Int, padding: Int, weight: [Float], bias: [Float])
        /// nn.ConvTranspose2d, W (inputChannels, outputChannels, k, k).
        case convTranspose(name: String, inputChannels: Int, outputChannels: Int, kernel: Int, stride: Int, padding: Int, weight: [Float], bias: [Float])
        /// Batch normalisation with the running averages over dimension 1 of (N, C) or (N, C, H, W).
        case batchNorm(name: String, channels: Int, epsilon: Float, gamma: [Float], beta: [Float], mean: [Float], variance: [Float])
        /// Layer normalisation over each row's `features` elements (flat, H·W·C order).
        case layerNorm(name: String, features: Int, epsilon: Float, gamma: [Float], beta: [Float])
        /// Appends the class one-hot: to (N, F) as `classes` more features, or to (N, C, H, W)
        /// as `classes` more channels, constant over each image (`image` its H×W).
        case condition(classes: Int, image: ImageShape?)
        case activation(Activation)
        /// (N, H·W·C) read as NHWC, to (N, C, H, W).
        case toImage(ImageShape)
        /// (N, C, H, W) to (N, H·W·C) in NHWC order.
        case toFeatures(ImageShape)
    }

    public let noiseDimension: Int
    public let classes: Int?
    public let classNames: [String]
    /// The output: an image (N, C, H, W), or (N, features) for 2-D data.
    public let output: ImageShape
    public let outputIsImage: Bool
    public let steps: [Step]

    /// The inference forward of `generator` (its parameters read back from the backend),
    /// producing `output`-shaped examples: images (N, C, H, W) when `outputIsImage`.
    public init<B: ComputeBackend>(
        generator: Sequential<B>, output: ImageShape, outputIsImage: Bool, classNames: [String]
    ) throws {
        let backend = generator.backend
        func read(_ buffer: B.Buffer, _ count: Int) throws -> [Float] { try backend.read(buffer, offset: 0, count: count) }
        var steps: [Step] = []
        var image: ImageShape?  // the NCHW image the last step left, or nil for flat rows
        func features() {
            if let shape = image { steps.append(.toFeatures(shape)); image = nil }
        }
        func nchw(_ shape: ImageShape) {
            if image == shape { return }
            features()
            steps.append(.toImage(shape))
            image = shape
        }
        var classes: Int?
        for (index, layer) in generator.layers.enumerated() {
            let name = "layers.\(index)"
            switch layer {
            case let dense as Dense<B>:
                features()
                // (inputs, outputs) to nn.Linear's (outputs, inputs), by the backend's transpose.
                let torch = try backend.makeBuffer(count: dense.inputs * dense.outputs)
                try backend.transpose(dense.effectiveWeight, rows: dense.inputs, columns: dense.outputs, into: torch)
                steps.append(.linear(
                    name: name, inputs: dense.inputs, outputs: dense.outputs,
                    weight: try read(torch, dense.inputs * dense.outputs),
                    bias: try read(dense.bias.value, dense.outputs)))
            case let conv as Conv2D<B>:
                nchw(conv.input)
                let (k, cin, cout) = (conv.kernel, conv.input.channels, conv.output.channels)
                let w = try read(conv.effectiveWeight, k * k * cin * cout)
                // gan-cl: W[(ky·k + kx)·Cin + c][o]; PyTorch: W[o][c][ky][kx].
                var torch = [Float](repeating: 0, count: w.count)
                for o in 0..<cout { for c in 0..<cin { for ky in 0..<k { for kx in 0..<k {
                    torch[((o * cin + c) * k + ky) * k + kx] = w[((ky * k + kx) * cin + c) * cout + o]
                } } } }
                steps.append(.conv(
                    name: name, inputChannels: cin, outputChannels: cout, kernel: k, stride: conv.stride,
                    padding: conv.padding, weight: torch, bias: try read(conv.bias.value, cout)))
                image = conv.output
            case let conv as ConvTranspose2D<B>:
                nchw(conv.input)
                let (k, cin, cout) = (conv.kernel, conv.input.channels, conv.output.channels)
                let w = try read(conv.weight.value, k * k * cin * cout)
                // gan-cl: W[i][(ky·k + kx)·Cout + o]; PyTorch: W[i][o][ky][kx].
                var torch = [Float](repeating: 0, count: w.count)
                for i in 0..<cin { for o in 0..<cout { for ky in 0..<k { for kx in 0..<k {
                    torch[((i * cout + o) * k + ky) * k + kx] = w[i * k * k * cout + (ky * k + kx) * cout + o]
                } } } }
                steps.append(.convTranspose(
                    name: name, inputChannels: cin, outputChannels: cout, kernel: k, stride: conv.stride,
                    padding: conv.padding, weight: torch, bias: try read(conv.bias.value, cout)))
                image = conv.output
            case let norm as BatchNorm<B>:
                if norm.shape.height * norm.shape.width == 1 { features() } else { nchw(norm.shape) }
                let c = norm.shape.channels
                steps.append(.batchNorm(
                    name: name, channels: c, epsilon: norm.epsilon, gamma: try read(norm.gamma.value, c),
                    beta: try read(norm.beta.value, c), mean: try read(norm.runningMean, c),
                    variance: try read(norm.runningVariance, c)))
            case let norm as LayerNorm<B>:
                features()
                let f = norm.shape.elements
                steps.append(.layerNorm(
                    name: name, features: f, epsilon: norm.epsilon, gamma: try read(norm.gamma.value, f),
                    beta: try read(norm.beta.value, f)))
            case let condition as Condition<B>:
                guard condition.group == 1 else { throw GANError("layer \(index + 1): a packed condition layer belongs to a discriminator") }
                if condition.input.height * condition.input.width == 1 {
                    features()
                    steps.append(.condition(classes: condition.classes, image: nil))
                } else {
                    nchw(condition.input)
                    steps.append(.condition(classes: condition.classes, image: condition.input))
                    image = condition.output
                }
                classes = condition.classes
            case is Dropout<B>:
                continue  // the identity in inference
            case is SpanHead<B>, is Residual<B>:
                throw GANError("a table's generator (its span head) is not exported: sample rows with gan-cl sample --out rows.csv")
            default:
                throw GANError("layer \(index + 1) (\(type(of: layer))) cannot be exported: it belongs to a discriminator")
            }
            if layer.activation != .identity { steps.append(.activation(layer.activation)) }
        }
        if outputIsImage { nchw(output) } else { features() }
        noiseDimension = generator.inputs
        self.classes = classes
        self.classNames = classNames
        self.output = output
        self.outputIsImage = outputIsImage
        self.steps = steps
    }

    // MARK: - safetensors with the architecture

    /// The weights named as in gan-cl's checkpoints (`layers.<i>.weight`, `.bias`,
    /// `.running_mean`, `.running_var`) in PyTorch's layouts, and the architecture JSON
    /// (`architectureJSON`) in the metadata under "architecture".
    public func safetensors() throws -> SafetensorsFile {
        var tensors: [SafetensorsFile.Tensor] = []
        for step in steps {
            switch step {
            case .linear(let name, let inputs, let outputs, let weight, let bias):
                tensors += [.init(name: "\(name).weight", shape: [outputs, inputs], values: weight),
                            .init(name: "\(name).bias", shape: [outputs], values: bias)]
            case .conv(let name, let cin, let cout, let k, _, _, let weight, let bias):
                tensors += [.init(name: "\(name).weight", shape: [cout, cin, k, k], values: weight),
                            .init(name: "\(name).bias", shape: [cout], values: bias)]
            case .convTranspose(let name, let cin, let cout, let k, _, _, let weight, let bias):
                tensors += [.init(name: "\(name).weight", shape: [cin, cout, k, k], values: weight),
                            .init(name: "\(name).bias", shape: [cout], values: bias)]
            case .batchNorm(let name, let c, _, let gamma, let beta, let mean, let variance):
                tensors += [.init(name: "\(name).weight", shape: [c], values: gamma),
                            .init(name: "\(name).bias", shape: [c], values: beta),
                            .init(name: "\(name).running_mean", shape: [c], values: mean),
                            .init(name: "\(name).running_var", shape: [c], values: variance)]
            case .layerNorm(let name, let f, _, let gamma, let beta):
                tensors += [.init(name: "\(name).weight", shape: [f], values: gamma),
                            .init(name: "\(name).bias", shape: [f], values: beta)]
            case .condition, .activation, .toImage, .toFeatures:
                break
            }
        }
        return SafetensorsFile(tensors: tensors, metadata: ["format": "gan-cl generator", "architecture": try architectureJSON()])
    }

    /// The steps as JSON: what `scripts/load_generator.py` builds a PyTorch module from.
    public func architectureJSON() throws -> String {
        func shape(_ s: ImageShape) -> [Int] { [s.channels, s.height, s.width] }
        var layers: [[String: Any]] = []
        for step in steps {
            switch step {
            case .linear(let name, let inputs, let outputs, _, _):
                layers.append(["type": "linear", "name": name, "in_features": inputs, "out_features": outputs])
            case .conv(let name, let cin, let cout, let k, let s, let p, _, _):
                layers.append(["type": "conv2d", "name": name, "in_channels": cin, "out_channels": cout, "kernel": k, "stride": s, "padding": p])
            case .convTranspose(let name, let cin, let cout, let k, let s, let p, _, _):
                layers.append(["type": "conv_transpose2d", "name": name, "in_channels": cin, "out_channels": cout, "kernel": k, "stride": s, "padding": p])
            case .batchNorm(let name, let c, let epsilon, _, _, _, _):
                layers.append(["type": "batch_norm", "name": name, "channels": c, "eps": Double(epsilon)])
            case .layerNorm(let name, let f, let epsilon, _, _):
                layers.append(["type": "layer_norm", "name": name, "features": f, "eps": Double(epsilon)])
            case .condition(let classes, let image):
                var entry: [String: Any] = ["type": "one_hot_concat", "classes": classes]
                if let image { entry["image"] = shape(image) }
                layers.append(entry)
            case .activation(let activation):
                switch activation {
                case .leakyReLU(let slope): layers.append(["type": "leaky_relu", "negative_slope": Double(slope)])
                default: layers.append(["type": activation.description])
                }
            case .toImage(let image):
                layers.append(["type": "nhwc_to_nchw", "shape": shape(image)])
            case .toFeatures(let image):
                layers.append(["type": "nchw_to_nhwc_flat", "shape": shape(image)])
            }
        }
        var root: [String: Any] = [
            "format": "gan-cl generator 1", "noise_dim": noiseDimension, "layers": layers,
            "output": outputIsImage ? shape(output) : [output.elements],
            "notes": "Input: noise (N, noise_dim) float32, standard normal; conditional models also take class (N) int64. Output in [-1, 1]. Linear and layer-norm steps read (N, F) rows; nhwc_to_nchw reads them as (N, H, W, C) and permutes to (N, C, H, W); batch norm uses the running averages.",
        ]
        if let classes {
            root["classes"] = classes
            root["class_names"] = classNames
        }
        let data = try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
