import ComputeBackend

/// An ONNX model (opset 17, IR version 8) of a `PortableGenerator`: inputs `noise`
/// (batch × noise-dim float32) and, for a conditional generator, `class` (batch, int64);
/// output `image` (batch × C × H × W) or `samples` (batch × features) for 2-D data; the
/// batch dimension is dynamic. Encoded by hand in protobuf's wire format (onnx.proto's
/// field numbers are cited where they are written).
public enum ONNXModel {
    public static let opset = 17
    static let irVersion = 8

    // TensorProto.DataType
    private static let float = 1, int64 = 7

    /// The model file's bytes.
    public static func encode(_ generator: PortableGenerator, producerVersion: String) -> [UInt8] {
        var graph = GraphBuilder()
        var current = "noise"
        var oneHot: String?
        func classOneHot() -> String {
            if let oneHot { return oneHot }
            let depth = graph.int64Constant([generator.classes ?? 0])
            let values = graph.floatConstant([0, 1], dims: [2])
            let made = graph.node("OneHot", ["class", depth, values], attributes: [.int("axis", -1)])
            oneHot = made
            return made
        }
        for step in generator.steps {
            switch step {
            case .linear(let name, let inputs, let outputs, let weight, let bias):
                let w = graph.initializer("\(name).weight", weight, dims: [outputs, inputs])
                let b = graph.initializer("\(name).bias", bias, dims: [outputs])
                current = graph.node("Gemm", [current, w, b], attributes: [.int("transB", 1)])
            case .conv(let name, let cin, let cout, let k, let s, let p, let weight, let bias):
                let w = graph.initializer("\(name).weight", weight, dims: [cout, cin, k, k])
                let b = graph.initializer("\(name).bias", bias, dims: [cout])
                current = graph.node("Conv", [current, w, b], attributes: [
                    .ints("kernel_shape", [k, k]), .ints("strides", [s, s]), .ints("pads", [p, p, p, p])])
            case .convTranspose(let name, let cin, let cout, let k, let s, let p, let weight, let bias):
                let w = graph.initializer("\(name).weight", weight, dims: [cin, cout, k, k])
                let b = graph.initializer("\(name).bias", bias, dims: [cout])
                current = graph.node("ConvTranspose", [current, w, b], attributes: [
                    .ints("kernel_shape", [k, k]), .ints("strides", [s, s]), .ints("pads", [p, p, p, p])])
            case .batchNorm(let name, let c, let epsilon, let gamma, let beta, let mean, let variance):
                let inputs = [current] + [("weight", gamma), ("bias", beta), ("running_mean", mean), ("running_var", variance)].map {
                    graph.initializer("\(name).\($0.0)", $0.1, dims: [c])
                }
                current = graph.node("BatchNormalization", inputs, attributes: [.float("epsilon", epsilon)])
            case .layerNorm(let name, let f, let epsilon, let gamma, let beta):
                let g = graph.initializer("\(name).weight", gamma, dims: [f])
                let b = graph.initializer("\(name).bias", beta, dims: [f])
                current = graph.node("LayerNormalization", [current, g, b], attributes: [.int("axis", 1), .float("epsilon", epsilon)])
            case .condition(let classes, let image):
                var appended = classOneHot()
                if let image {
                    let columns = graph.node("Reshape", [appended, graph.int64Constant([-1, classes, 1, 1])])
                    appended = graph.node("Expand", [columns, graph.int64Constant([1, classes, image.height, image.width])])
                }
                current = graph.node("Concat", [current, appended], attributes: [.int("axis", 1)])
            case .activation(let activation):
                switch activation {
                case .identity: break
                case .relu: current = graph.node("Relu", [current])
                case .leakyReLU(let slope): current = graph.node("LeakyRelu", [current], attributes: [.float("alpha", slope)])
                case .tanh: current = graph.node("Tanh", [current])
                case .sigmoid: current = graph.node("Sigmoid", [current])
                }
            case .toImage(let image):
                let nhwc = graph.node("Reshape", [current, graph.int64Constant([-1, image.height, image.width, image.channels])])
                current = graph.node("Transpose", [nhwc], attributes: [.ints("perm", [0, 3, 1, 2])])
            case .toFeatures(let image):
                let nhwc = graph.node("Transpose", [current], attributes: [.ints("perm", [0, 2, 3, 1])])
                current = graph.node("Reshape", [nhwc, graph.int64Constant([-1, image.elements])])
            }
        }
        let outputName = generator.outputIsImage ? "image" : "samples"
        graph.nodes.append(GraphBuilder.nodeProto("Identity", inputs: [current], output: outputName, name: "output", attributes: []))

        var graphProto = ProtobufMessage()
        for node in graph.nodes { graphProto.message(1, node) }  // GraphProto.node
        graphProto.string(2, "gan-cl generator")  // GraphProto.name
        for tensor in graph.initializers { graphProto.message(5, tensor) }  // GraphProto.initializer
        graphProto.string(10, "The generator of a gan-cl checkpoint; noise is standard normal.")  // doc_string
        graphProto.message(11, valueInfo("noise", elementType: float, dims: [nil, generator.noiseDimension]))  // input
        if generator.classes != nil { graphProto.message(11, valueInfo("class", elementType: int64, dims: [nil])) }
        let o = generator.output
        graphProto.message(12, valueInfo(  // output
            outputName, elementType: float, dims: generator.outputIsImage ? [nil, o.channels, o.height, o.width] : [nil, o.elements]))

        var opsetID = ProtobufMessage()
        opsetID.string(1, "")  // OperatorSetIdProto.domain: the default ONNX domain
        opsetID.int(2, opset)  // version
        var model = ProtobufMessage()
        model.int(1, irVersion)  // ModelProto.ir_version
        model.string(2, "gan-cl")  // producer_name
        model.string(3, producerVersion)  // producer_version
        model.message(7, graphProto)  // graph
        model.message(8, opsetID)  // opset_import
        return model.bytes
    }

    /// ValueInfoProto of a tensor whose dims are given, or named "batch" where nil.
    private static func valueInfo(_ name: String, elementType: Int, dims: [Int?]) -> ProtobufMessage {
        var shape = ProtobufMessage()
        for dim in dims {
            var d = ProtobufMessage()
            if let dim { d.int(1, dim) } else { d.string(2, "batch") }  // dim_value, dim_param
            shape.message(1, d)  // TensorShapeProto.dim
        }
        var tensor = ProtobufMessage()
        tensor.int(1, elementType)  // TypeProto.Tensor.elem_type
        tensor.message(2, shape)  // shape
        var type = ProtobufMessage()
        type.message(1, tensor)  // TypeProto.tensor_type
        var info = ProtobufMessage()
        info.string(1, name)  // ValueInfoProto.name
        info.message(2, type)  // type
        return info
    }

    enum Attribute {
        case int(String, Int)
        case float(String, Float)
        case ints(String, [Int])

        var proto: ProtobufMessage {
            var a = ProtobufMessage()
            switch self {
            case .int(let name, let value):
                a.string(1, name)  // AttributeProto.name
                a.int(3, value)  // i
                a.int(20, 2)  // type INT
            case .float(let name, let value):
                a.string(1, name)
                a.float(2, value)  // f
                a.int(20, 1)  // type FLOAT
            case .ints(let name, let values):
                a.string(1, name)
                a.packedInts(8, values)  // ints
                a.int(20, 7)  // type INTS
            }
            return a
        }
    }

    /// The nodes and initializers of a graph as it is built, with fresh names.
    struct GraphBuilder {
        var nodes: [ProtobufMessage] = []
        var initializers: [ProtobufMessage] = []
        private var counter = 0

        private mutating func fresh(_ prefix: String) -> String {
            counter += 1
            return "\(prefix)\(counter)"
        }

        static func nodeProto(_ op: String, inputs: [String], output: String, name: String, attributes: [Attribute]) -> ProtobufMessage {
            var node = ProtobufMessage()
            for input in inputs { node.string(1, input) }  // NodeProto.input
            node.string(2, output)  // output
            node.string(3, name)  // name
            node.string(4, op)  // op_type
            for attribute in attributes { node.message(5, attribute.proto) }  // attribute
            return node
        }

        /// Adds a node of one output and returns the output's name.
        mutating func node(_ op: String, _ inputs: [String], attributes: [Attribute] = []) -> String {
            let output = fresh("t")
            nodes.append(Self.nodeProto(op, inputs: inputs, output: output, name: "\(op.lowercased())_\(counter)", attributes: attributes))
            return output
        }

        private mutating func tensor(_ name: String, dims: [Int], type: Int, raw: [UInt8]) -> String {
            var t = ProtobufMessage()
            t.packedInts(1, dims)  // TensorProto.dims
            t.int(2, type)  // data_type
            t.string(8, name)  // name
            t.data(9, raw)  // raw_data, little-endian
            initializers.append(t)
            return name
        }

        mutating func initializer(_ name: String, _ values: [Float], dims: [Int]) -> String {
            var raw: [UInt8] = []
            raw.reserveCapacity(4 * values.count)
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw.append(contentsOf: $0) } }
            return tensor(name, dims: dims, type: ONNXModel.float, raw: raw)
        }

        mutating func floatConstant(_ values: [Float], dims: [Int]) -> String {
            initializer(fresh("const"), values, dims: dims)
        }

        /// A 1-D int64 initializer (shapes, depths).
        mutating func int64Constant(_ values: [Int]) -> String {
            var raw: [UInt8] = []
            for v in values { withUnsafeBytes(of: Int64(v).littleEndian) { raw.append(contentsOf: $0) } }
            return tensor(fresh("const"), dims: [values.count], type: ONNXModel.int64, raw: raw)
        }
    }
}
