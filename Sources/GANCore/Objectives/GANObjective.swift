import ComputeBackend

/// A GAN loss: the discriminator's (critic's) terms on real and fake examples, the
/// generator's term, and the extras a loss brings (weight clipping, the gradient
/// penalty). Each term is a per-example objective on D's output that the backend
/// evaluates (`ComputeBackend.objective`); D's loss is the mean of its real term plus
/// the mean of its fake term, G's the mean of its term.
public protocol GANObjective: Sendable {
    var real: LogitObjective { get }
    var fake: LogitObjective { get }
    var generator: LogitObjective { get }
    /// Clip every critic parameter to [−c, c] after each critic update (WGAN).
    var clip: Float? { get }
    /// The gradient penalty's weight λ (WGAN-GP).
    var penaltyWeight: Float? { get }
    /// Whether D's output is the logit of a probability (the d_real and d_fake metrics
    /// are then mean probabilities, otherwise mean raw scores).
    var outputIsLogit: Bool { get }
    /// Whether E[D(x)] − E[D(G(z))] estimates a Wasserstein distance (logged as `wasserstein`).
    var estimatesWasserstein: Bool { get }
}

extension GANObjective {
    public var clip: Float? { nil }
    public var penaltyWeight: Float? { nil }
    public var outputIsLogit: Bool { false }
    public var estimatesWasserstein: Bool { false }
}

/// The losses `--loss` names.
public enum LossKind: String, Codable, CaseIterable, Sendable {
    case bce
    case wgan
    case wganGP = "wgan-gp"
    case hinge
    case lsgan
}

/// The original GAN's binary cross-entropy (Goodfellow et al. 2014) with the
/// non-saturating generator loss −log D(G(z)); D's target for real examples may be
/// below 1 (one-sided label smoothing).
public struct BinaryCrossEntropy: GANObjective {
    public var realLabel: Float
    public init(realLabel: Float) { self.realLabel = realLabel }
    public var real: LogitObjective { .crossEntropy(target: realLabel) }
    public var fake: LogitObjective { .crossEntropy(target: 0) }
    public var generator: LogitObjective { .crossEntropy(target: 1) }
    public var outputIsLogit: Bool { true }
}

/// WGAN (Arjovsky et al. 2017): the critic minimises E[D(G(z))] − E[D(x)], the generator
/// −E[D(G(z))], and every critic parameter is clipped to [−c, c] after each update.
public struct Wasserstein: GANObjective {
    public var clipValue: Float
    public init(clip: Float) { clipValue = clip }
    public var real: LogitObjective { .wasserstein(sign: -1) }
    public var fake: LogitObjective { .wasserstein(sign: 1) }
    public var generator: LogitObjective { .wasserstein(sign: -1) }
    public var clip: Float? { clipValue }
    public var estimatesWasserstein: Bool { true }
}

/// WGAN-GP (Gulrajani et al. 2017): WGAN's losses, and in place of clipping the penalty
/// λ·E[(‖∇ₓD(x̂)‖₂ − 1)²] at points x̂ between real and fake examples (one uniform ε per
/// example), whose gradient with respect to the critic is exact (a second-order pass).
public struct WassersteinGradientPenalty: GANObjective {
    public var weight: Float
    public init(weight: Float) { self.weight = weight }
    public var real: LogitObjective { .wasserstein(sign: -1) }
    public var fake: LogitObjective { .wasserstein(sign: 1) }
    public var generator: LogitObjective { .wasserstein(sign: -1) }
    public var penaltyWeight: Float? { weight }
    public var estimatesWasserstein: Bool { true }
}

/// The hinge loss of SNGAN and BigGAN: D minimises E[max(0, 1 − D(x))] +
/// E[max(0, 1 + D(G(z)))], G minimises −E[D(G(z))].
public struct Hinge: GANObjective {
    public init() {}
    public var real: LogitObjective { .hinge(sign: 1) }
    public var fake: LogitObjective { .hinge(sign: -1) }
    public var generator: LogitObjective { .wasserstein(sign: -1) }
}

/// Least squares (LSGAN, Mao et al. 2017): D minimises ½E[(D(x) − 1)²] + ½E[D(G(z))²],
/// G minimises ½E[(D(G(z)) − 1)²].
public struct LeastSquares: GANObjective {
    public init() {}
    public var real: LogitObjective { .leastSquares(target: 1) }
    public var fake: LogitObjective { .leastSquares(target: 0) }
    public var generator: LogitObjective { .leastSquares(target: 1) }
}
