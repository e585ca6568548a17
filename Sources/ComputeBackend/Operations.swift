import RealModule

// MARK: - Activations

/// Pointwise nonlinearities. Each backward is computed from the forward output, so a
/// layer keeps only its output; that requires every activation's output to determine
/// its derivative, which is why LeakyReLU's slope must be positive.
public enum Activation: Equatable, Hashable, Sendable, CustomStringConvertible {
    case identity
    case relu
    /// max(x, slope * x) for a slope in (0, 1].
    case leakyReLU(slope: Float)
    case tanh
    case sigmoid

    public var description: String {
        switch self {
        case .identity: "identity"
        case .relu: "relu"
        case .leakyReLU(let slope): "leaky-relu(\(slope))"
        case .tanh: "tanh"
        case .sigmoid: "sigmoid"
        }
    }

    /// The code the kernels use for this activation.
    public var kernelCode: Int32 {
        switch self {
        case .identity: 0
        case .relu: 1
        case .leakyReLU: 2
        case .tanh: 3
        case .sigmoid: 4
        }
    }

    /// LeakyReLU's slope; 0 for the others.
    public var slope: Float {
        if case .leakyReLU(let slope) = self { return slope }
        return 0
    }

    /// Throws unless the activation's parameters are in range.
    public func validate() throws {
        if case .leakyReLU(let slope) = self, !(slope > 0 && slope <= 1) {
            throw BackendError.invalidArgument("LeakyReLU slope must be in (0, 1], got \(slope)")
        }
    }
}

// MARK: - GAN objectives on logits

/// One term of a GAN objective: a loss ℓ(x) of a discriminator's (or critic's) logit x.
/// A GAN loss is a pair of these for D (real and fake terms) and one for G.
public enum LogitObjective: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Binary cross-entropy of sigmoid(x) against `target` (1 for real, 0 for fake,
    /// 0.9 with one-sided label smoothing): softplus(x) − target·x. With target 1 this
    /// is also the non-saturating generator loss −log sigmoid(x).
    case crossEntropy(target: Float)
    /// Wasserstein: −x for the critic on real data and for the generator, +x for the
    /// critic on fake data (`sign` is +1 or −1; ℓ(x) = sign · x).
    case wasserstein(sign: Float)
    /// Hinge: max(0, 1 − sign·x); sign +1 for D on real data, −1 for D on fake data.
    /// (The hinge generator loss is `wasserstein(sign: -1)`.)
    case hinge(sign: Float)
    /// Least squares: ½(x − target)².
    case leastSquares(target: Float)

    public var description: String {
        switch self {
        case .crossEntropy(let t): "bce(target \(t))"
        case .wasserstein(let s): "wasserstein(\(s > 0 ? "+" : "-")x)"
        case .hinge(let s): "hinge(\(s > 0 ? "real" : "fake"))"
        case .leastSquares(let t): "least-squares(target \(t))"
        }
    }

    /// The code the kernels use for this objective.
    public var kernelCode: Int32 {
        switch self {
        case .crossEntropy: 0
        case .wasserstein: 1
        case .hinge: 2
        case .leastSquares: 3
        }
    }

    /// The objective's one parameter (target or sign).
    public var parameter: Float {
        switch self {
        case .crossEntropy(let t), .leastSquares(let t): t
        case .wasserstein(let s), .hinge(let s): s
        }
    }

    /// Throws unless the parameter is in range.
    public func validate() throws {
        switch self {
        case .crossEntropy(let t) where !(t >= 0 && t <= 1):
            throw BackendError.invalidArgument("cross-entropy target must be in [0, 1], got \(t)")
        case .wasserstein(let s) where s != 1 && s != -1,
             .hinge(let s) where s != 1 && s != -1:
            throw BackendError.invalidArgument("objective sign must be +1 or -1, got \(s)")
        case .leastSquares(let t) where !t.isFinite:
            throw BackendError.invalidArgument("least-squares target must be finite")
        default:
            break
        }
    }
}

// MARK: - Optimisers

/// Adam's hyperparameters (Kingma & Ba), with PyTorch's bias correction and epsilon
/// placement: p -= lr · m̂ / (√v̂ + ε).
public struct AdamHyperparameters: Equatable, Sendable {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float

    public init(learningRate: Float = 2e-4, beta1: Float = 0.5, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// 1 − β₁ᵗ and 1 − β₂ᵗ for step t ≥ 1, computed once on the host in Double so every
    /// backend uses the same two floats.
    public func biasCorrections(step: Int) -> (Float, Float) {
        let t = Double(step)
        return (Float(1 - Double.pow(Double(beta1), t)), Float(1 - Double.pow(Double(beta2), t)))
    }
}

/// RMSProp's hyperparameters (Tieleman & Hinton), as PyTorch's `RMSprop` without momentum:
/// s = decay·s + (1 − decay)·g²;  p −= lr · g / (√s + ε). The WGAN paper's optimiser.
public struct RMSPropHyperparameters: Equatable, Sendable {
    public var learningRate: Float
    /// PyTorch's `alpha`: how much of the running average each step keeps.
    public var decay: Float
    public var epsilon: Float

    public init(learningRate: Float = 5e-5, decay: Float = 0.99, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.decay = decay
        self.epsilon = epsilon
    }
}

// MARK: - Statistics

/// Counts of what a backend has done: a training step should allocate nothing and read
/// nothing back outside its log steps, and its launch count is a cost to drive down.
public struct BackendStatistics: Equatable, Sendable {
    /// Buffers made.
    public var buffersAllocated = 0
    /// Reads back to the host.
    public var reads = 0
    /// Writes from the host.
    public var writes = 0
    /// Operations queued: kernel launches, copies and fills (on the CPU, operations run).
    public var operations = 0

    public init() {}
}

// MARK: - Errors

/// Errors every backend can raise. Backend-specific failures (an OpenCL call that
/// returned an error code) have their own types.
public enum BackendError: Error, Equatable, CustomStringConvertible {
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .invalidArgument(let message): "invalid argument: \(message)"
        }
    }
}
