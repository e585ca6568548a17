import ComputeBackend

/// The shape of a multilayer perceptron: widths from input to output, the activation
/// after each hidden layer and the one after the last layer.
public struct MLPShape: Equatable, Sendable, CustomStringConvertible {
    public let widths: [Int]
    public let hidden: Activation
    public let output: Activation

    public init(widths: [Int], hidden: Activation, output: Activation) {
        self.widths = widths
        self.hidden = hidden
        self.output = output
    }

    public var layerCount: Int { widths.count - 1 }
    public var inputs: Int { widths[0] }
    public var outputs: Int { widths[widths.count - 1] }

    public func activation(ofLayer index: Int) -> Activation {
        index == layerCount - 1 ? output : hidden
    }

    public var description: String {
        widths.map(String.init).joined(separator: "→") + " (\(hidden), out \(output))"
    }
}

/// The model presets, as data, in one place: `mlp` (the classic MLP GAN on images),
/// `toy` (the small MLP for 2-D mixtures) and the reference classifier. A run's config
/// starts from its preset's widths; flags change them.
public enum ModelPreset: String, Codable, CaseIterable, Sendable {
    /// G noise 100 → 128 → 256 → 512 → 1024 → data, D data → 1024 → 512 → 256 → 128 → 1.
    case mlp
    /// G noise 2 → 4 × 128 → data, D data → 4 × 128 → 1.
    case toy

    /// The generator's noise width and hidden widths, and the discriminator's hidden widths.
    public var noiseDim: Int {
        switch self {
        case .mlp: 100
        case .toy: 2
        }
    }

    public var generatorHidden: [Int] {
        switch self {
        case .mlp: [128, 256, 512, 1024]
        case .toy: [128, 128, 128, 128]
        }
    }

    public var discriminatorHidden: [Int] {
        switch self {
        case .mlp: [1024, 512, 256, 128]
        case .toy: [128, 128, 128, 128]
        }
    }

    /// The reference classifier of the image metrics (ReferenceClassifier).
    public static let classifier = MLPShape(widths: [784, 512, 256, 10], hidden: .relu, output: .identity)
}
