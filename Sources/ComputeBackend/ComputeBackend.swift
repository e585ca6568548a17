// MARK: - Buffers

/// A float32 array owned by one backend. Its contents live wherever the backend keeps
/// them (host memory, device memory); the host sees them only through `read`.
public protocol BackendBuffer: AnyObject {
    /// Number of float32 elements.
    var count: Int { get }
}

// MARK: - The backend protocol

/// The one seam between the model code and the hardware: a short list of layer-sized
/// operations on float32 buffers, each implemented by every backend.
///
/// Matrices are row-major. Operations are queued in order; results are visible to
/// `read` (which waits for the queue) and after `finish()`. Every operation checks its
/// arguments against the buffers' sizes and throws `BackendError.invalidArgument`
/// before it queues anything.
public protocol ComputeBackend: AnyObject {
    associatedtype Buffer: BackendBuffer

    /// A short human-readable name: "cpu", or the OpenCL device's name.
    var name: String { get }

    /// What this backend has done so far, for tests and benchmarks.
    var statistics: BackendStatistics { get }

    // MARK: Memory

    /// A new buffer of `count` float32 elements with unspecified contents.
    func makeBuffer(count: Int) throws -> Buffer
    /// Writes `values` into `buffer` starting at element `offset`.
    func write(_ values: [Float], to buffer: Buffer, offset: Int) throws
    /// Reads `count` elements starting at element `offset`, after all queued work.
    func read(_ buffer: Buffer, offset: Int, count: Int) throws -> [Float]
    /// dst[0..<count] = src[0..<count]
    func copy(_ source: Buffer, to destination: Buffer, count: Int) throws
    /// dst[destinationOffset ..< +count] = src[sourceOffset ..< +count]; the two may
    /// not be the same buffer.
    func copy(_ source: Buffer, offset sourceOffset: Int, to destination: Buffer, offset destinationOffset: Int, count: Int) throws
    /// x[0..<count] = value
    func fill(_ buffer: Buffer, with value: Float, count: Int) throws
    /// Waits until every queued operation has finished.
    func finish() throws

    // MARK: Linear algebra

    /// C = alpha * op(A) * op(B) + beta * C, where op(A) is m×k and op(B) is k×n.
    /// A is stored m×k (k×m if `transposeA`), B is stored k×n (n×k if `transposeB`),
    /// C is m×n. With beta = 0, C is not read (NaNs in it do not propagate).
    func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: Buffer, b: Buffer, beta: Float, c: Buffer
    ) throws

    /// The same GEMM with `epilogue` applied to each element of C as it is stored:
    /// C = epilogue(alpha * op(A) * op(B) + beta * C). The default composes `gemm` with
    /// the pointwise operations; a backend overrides it to fuse them into one pass.
    func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: Buffer, b: Buffer, beta: Float, c: Buffer, epilogue: GEMMEpilogue<Buffer>
    ) throws

    /// out (columns×rows) = xᵀ for an x of rows×columns. out must not be x.
    func transpose(_ x: Buffer, rows: Int, columns: Int, into out: Buffer) throws

    /// x[r, c] += bias[c] for an x of rows×columns.
    func addBias(_ x: Buffer, rows: Int, columns: Int, bias: Buffer) throws
    /// out[c] = Σ_r x[r, c] (the bias gradient), or out[c] += Σ_r x[r, c] when
    /// `accumulate` (gradients of two passes). out has `columns` elements.
    func sumColumns(_ x: Buffer, rows: Int, columns: Int, into out: Buffer, accumulate: Bool) throws
    /// out[r] = Σ_c x[r, c]. out has `rows` elements.
    func sumRows(_ x: Buffer, rows: Int, columns: Int, into out: Buffer) throws
    /// out[0] = (1/count) Σ_i x[i]
    func mean(_ x: Buffer, count: Int, into out: Buffer) throws

    // MARK: Elementwise

    /// x[i] *= factor
    func scale(_ x: Buffer, count: Int, by factor: Float) throws
    /// x[i] += scale · y[i]. y must not be x.
    func addScaled(_ x: Buffer, _ y: Buffer, count: Int, scale: Float) throws
    /// average[i] += (1 − decay) · (value[i] − average[i]): an exponential moving average
    /// (the EMA generator's weights) taking one step toward value. decay in [0, 1].
    func movingAverage(_ average: Buffer, toward value: Buffer, count: Int, decay: Float) throws
    /// x[i] = min(max(x[i], lower), upper)  (WGAN weight clipping)
    func clamp(_ x: Buffer, count: Int, lower: Float, upper: Float) throws
    /// y[i] = f(x[i]). x and y may be the same buffer.
    func activationForward(_ activation: Activation, x: Buffer, y: Buffer, count: Int) throws
    /// dx[i] = dy[i] * f'(x[i]), computed from the forward output y[i]. dy and dx may be
    /// the same buffer.
    func activationBackward(
        _ activation: Activation, y: Buffer, dy: Buffer, dx: Buffer, count: Int
    ) throws

    /// A tabular generator's output head, per row of x (rows × columns): for each of
    /// `spanCount` spans (start, count, kind) in `spans` (3 floats each), tanh of each
    /// column (kind 0) or the softmax of the columns divided by `temperature` (kind 1)
    /// into y. The spans tile the columns (the caller checks; a span outside the row is
    /// clipped to it).
    func spanActivation(
        _ x: Buffer, rows: Int, columns: Int, spans: Buffer, spanCount: Int, temperature: Float, into y: Buffer
    ) throws
    /// Its backward from the forward's output y and dy = dL/dy: a tanh column's dx = dy·(1 − y²),
    /// a softmax span's dx_i = y_i·(dy_i − Σ_j y_j·dy_j)/temperature.
    func spanActivationBackward(
        _ y: Buffer, outputGradient dy: Buffer, rows: Int, columns: Int, spans: Buffer, spanCount: Int, temperature: Float,
        into dx: Buffer
    ) throws

    // MARK: Objectives

    /// For each logit: losses[i] = ℓ(logits[i]) and
    /// gradients[i] = gradientScale * dℓ/dlogit(logits[i]).
    /// With gradientScale = 1/count the gradients are those of the mean loss.
    /// (The form without `offset`, in an extension, is this one on elements 0..<count.)
    ///
    /// The operation works on elements offset ..< offset + count of all three buffers: one
    /// objective on each part of a batch (a discriminator's real and fake halves).
    func objective(
        _ objective: LogitObjective, logits: Buffer, offset: Int, count: Int,
        losses: Buffer, gradients: Buffer, gradientScale: Float
    ) throws

    /// Softmax cross-entropy of each row of `logits` (rows × classes) against the class
    /// whose index `labels[r]` holds (as a float): losses[r] = log Σ_c e^z[r,c] − z[r, label]
    /// and gradients[r, c] = gradientScale · (softmax(z_r)[c] − [c = label]).
    /// A label outside 0..<classes leaves only the log-sum-exp term (no target).
    func softmaxCrossEntropy(
        logits: Buffer, labels: Buffer, rows: Int, classes: Int,
        losses: Buffer, gradients: Buffer, gradientScale: Float
    ) throws

    // MARK: Optimisers

    /// One Adam step with bias correction, in place on params, m and v.
    func adamStep(
        parameters: Buffer, gradients: Buffer, m: Buffer, v: Buffer, count: Int,
        hyper: AdamHyperparameters, step: Int
    ) throws
    /// One SGD step with momentum: v = momentum * v + g; p -= learningRate * v.
    func sgdStep(
        parameters: Buffer, gradients: Buffer, velocity: Buffer, count: Int,
        learningRate: Float, momentum: Float
    ) throws
    /// One RMSProp step (PyTorch's, without momentum or centring), in place on params
    /// and the running average s of squared gradients:
    /// s = decay·s + (1 − decay)·g²;  p −= learningRate · g / (√s + epsilon).
    func rmspropStep(
        parameters: Buffer, gradients: Buffer, squareAverage: Buffer, count: Int, hyper: RMSPropHyperparameters
    ) throws

    // MARK: Spectral normalisation

    /// norm[0] = ‖x‖₂ of x[0..<count], and x /= ‖x‖₂ unless the norm is 0 (a
    /// deterministic reduction): a power iteration's step.
    func normalize(_ x: Buffer, count: Int, norm: Buffer) throws

    /// out[i] = x[i] / divisor[0]: a weight divided by its spectral norm, with the divisor
    /// on the device. out must not be x.
    func divide(_ x: Buffer, count: Int, by divisor: Buffer, into out: Buffer) throws

    /// The gradient through W_sn = W / σ with σ = vᵀ·W·u for fixed unit vectors v (rows)
    /// and u (columns): given G = dL/dW_sn (rows×columns) in `gradient`, replaces it with
    /// dL/dW = (G − ⟨G, W_sn⟩ · v·uᵀ) / σ. ⟨G, W_sn⟩ is a deterministic reduction.
    func spectralNormGradient(
        _ gradient: Buffer, normalizedWeight: Buffer, rows: Int, columns: Int, left v: Buffer, right u: Buffer,
        sigma: Buffer
    ) throws

    // MARK: Gradient penalty (WGAN-GP)

    /// out[r, c] = fake[r, c] + epsilon[r] · (real[r, c] − fake[r, c]): for each row a
    /// point on the segment between a real and a fake example, one ε per row.
    /// real, fake and out are rows×columns, epsilon has `rows` elements; out must be
    /// none of the others.
    func interpolateRows(
        real: Buffer, fake: Buffer, epsilon: Buffer, rows: Int, columns: Int, into out: Buffer
    ) throws

    /// The gradient penalty of each row g_r of `gradients` (rows×columns), the critic's
    /// gradient with respect to its input at one point:
    ///   norms[r] = ‖g_r‖₂,  losses[r] = weight · (‖g_r‖₂ − 1)²,
    ///   directions[r, c] = scale · ∂losses[r]/∂g[r, c] = scale · 2·weight·(‖g_r‖₂ − 1) · g[r, c] / ‖g_r‖₂
    /// (0 for a row of zeros, where the norm has no derivative). Each row's sum of squares
    /// is a deterministic reduction. directions must not be gradients.
    func gradientPenalty(
        gradients: Buffer, rows: Int, columns: Int, weight: Float, scale: Float,
        norms: Buffer, losses: Buffer, directions: Buffer
    ) throws

    // MARK: Convolution (NHWC; see ConvolutionGeometry)

    /// columns (positions × patchSize) = the patches of x (imageElements): row
    /// (n, oy, ox), column (ky, kx, c) holds x[n, oy·stride − padding + ky,
    /// ox·stride − padding + kx, c], or 0 where that lies in the padding.
    func im2col(_ x: Buffer, geometry: ConvolutionGeometry, into columns: Buffer) throws

    /// x (imageElements) = the sum of each element's entries in `columns` (positions ×
    /// patchSize): im2col's adjoint, which turns a patch gradient into an image gradient.
    /// Each element sums its entries in a fixed order (no atomics: deterministic).
    func col2im(_ columns: Buffer, geometry: ConvolutionGeometry, into x: Buffer) throws

    /// y (positions × outputChannels) = epilogue(im2col(x) · weights), weights of patchSize
    /// × outputChannels: a convolution's forward in one call, epilogue `.none` or
    /// `.biasActivation`. The default runs im2col into a buffer of its own and the GEMM;
    /// a backend may instead read the patches straight from x (an implicit GEMM: OpenCL's
    /// `conv_rows`). The layers run im2col and the GEMM themselves (they keep the column
    /// matrix for the weight gradient); this is the alternative `gan-cl bench conv` times.
    func convolutionImplicit(
        _ x: Buffer, geometry: ConvolutionGeometry, weights: Buffer, outputChannels: Int, into y: Buffer,
        epilogue: GEMMEpilogue<Buffer>
    ) throws

    // MARK: Normalisation

    /// Per column of x (rows × columns), within each of `groups` equal runs of rows
    /// (rows divisible by groups): mean[g, c] and the biased variance[g, c], each a
    /// deterministic reduction (the mean first, then the squares about it). Batch
    /// normalisation's statistics, over a batch (dense) or over batch·height·width (NHWC
    /// conv); with groups 2, a discriminator's real and fake halves each have their own.
    /// With `running` (g = 0's statistics only, groups must be 1): running.mean =
    /// (1 − momentum)·running.mean + momentum·mean and the same for running.variance
    /// with the unbiased variance (PyTorch's BatchNorm).
    func batchNormStatistics(
        _ x: Buffer, rows: Int, columns: Int, groups: Int, mean: Buffer, variance: Buffer,
        running: (mean: Buffer, variance: Buffer, momentum: Float)?
    ) throws

    /// y[r, c] = f(gamma[c] · (x[r, c] − mean[g, c]) / √(variance[g, c] + epsilon) + beta[c])
    /// with g the group of row r (groups equal runs of rows; statistics groups × columns).
    /// y may be x.
    func batchNormForward(
        _ x: Buffer, rows: Int, columns: Int, groups: Int, mean: Buffer, variance: Buffer, epsilon: Float,
        gamma: Buffer, beta: Buffer, activation: Activation, into y: Buffer
    ) throws

    /// The backward of a training-mode `batchNormForward` (statistics from the same x,
    /// per group), from dz = dL/d(pre-activation output):
    ///   betaGradient[c] = Σ_r dz[r, c],  gammaGradient[c] = Σ_r dz[r, c]·x̂[r, c],
    ///   dx[r, c] = f'_below(x[r, c]) · gamma[c]·s/N · (N·dz − Σ_group dz − x̂·Σ_group dz·x̂)
    /// with x̂ = (x − mean)·s, s = 1/√(variance + epsilon), N the rows of a group, and the
    /// two inner sums over the row's group; f'_below is computed from x (the output of the
    /// layer below). The sums are deterministic reductions. dx must not be x or dz.
    func batchNormBackward(
        _ x: Buffer, outputGradient dz: Buffer, rows: Int, columns: Int, groups: Int, mean: Buffer, variance: Buffer,
        epsilon: Float, gamma: Buffer, gammaGradient: Buffer, betaGradient: Buffer, inputGradient dx: Buffer,
        below: Activation
    ) throws

    // MARK: Layer normalisation

    /// Per row of x (rows × columns): mean[r] and the biased variance[r] over its columns
    /// (deterministic reductions, the mean first, then the squares about it), and
    /// y[r, c] = f(gamma[c] · (x[r, c] − mean[r]) / √(variance[r] + epsilon) + beta[c]).
    /// Layer normalisation (Ba et al.) over a row's features, or over an NHWC image's
    /// height·width·channels; γ and β per column. y may be x.
    func layerNormForward(
        _ x: Buffer, rows: Int, columns: Int, epsilon: Float, gamma: Buffer, beta: Buffer, activation: Activation,
        mean: Buffer, variance: Buffer, into y: Buffer
    ) throws

    /// The backward of `layerNormForward` (statistics of the same x), from dz =
    /// dL/d(pre-activation output):
    ///   betaGradient[c] = Σ_r dz[r, c],  gammaGradient[c] = Σ_r dz[r, c]·x̂[r, c],
    ///   dx[r, c] = f'_below(x[r, c]) · s/N · (N·g[r, c] − Σ_c g[r, c] − x̂[r, c]·Σ_c g[r, c]·x̂[r, c])
    /// with g = dz·gamma[c], x̂ = (x − mean[r])·s, s = 1/√(variance[r] + epsilon), N the
    /// columns; f'_below is computed from x. The sums are deterministic reductions. dx
    /// must not be x or dz.
    func layerNormBackward(
        _ x: Buffer, outputGradient dz: Buffer, rows: Int, columns: Int, mean: Buffer, variance: Buffer, epsilon: Float,
        gamma: Buffer, gammaGradient: Buffer, betaGradient: Buffer, inputGradient dx: Buffer, below: Activation
    ) throws

    // MARK: Minibatch standard deviation (ProGAN)

    /// value[g] = (1/columns) Σ_c √(variance[g, c] + epsilon) for each of `groups` rows of
    /// `variance` (groups × columns, as `batchNormStatistics` leaves it): the mean standard
    /// deviation of a group's features across its examples. A deterministic reduction.
    func minibatchStdValue(_ variance: Buffer, groups: Int, columns: Int, epsilon: Float, into value: Buffer) throws

    /// y = x with one more channel holding value[g] at every position: x is rows ×
    /// spatial × channels (NHWC), y rows × spatial × (channels + 1), row r in group
    /// r / (rows / groups). y must not be x.
    func appendChannel(
        _ x: Buffer, rows: Int, spatial: Int, channels: Int, groups: Int, value: Buffer, into y: Buffer
    ) throws

    /// The backward of `appendChannel` after `minibatchStdValue` over x's batch statistics
    /// (per group, mean and variance groups × spatial·channels): with t_g the sum of the
    /// extra channel's gradient over group g's rows and positions, and E = spatial·channels,
    ///   dx[r, e] = f'_below(x[r, e]) · (dy[r, e] + t_g/E · (x[r, e] − mean[g, e]) / (N · √(variance[g, e] + epsilon)))
    /// with N the rows of a group (dy indexed as y, skipping the extra channel); `totals`
    /// (groups) receives t. dx must not be x or dy.
    func minibatchStdBackward(
        _ x: Buffer, outputGradient dy: Buffer, rows: Int, spatial: Int, channels: Int, groups: Int, mean: Buffer,
        variance: Buffer, epsilon: Float, totals: Buffer, inputGradient dx: Buffer, below: Activation
    ) throws

    // MARK: Packing (PacGAN)

    /// Packs `examples` NHWC examples of `spatial` positions × `channels` into examples/m
    /// packs of m, concatenated along channels: element (example p·m + j, position s,
    /// channel c) goes to (pack p, position s, channel j·channels + c). With `inverse`,
    /// the other way (a packed gradient back to the examples). examples must be a multiple
    /// of m; y must not be x.
    func pack(
        _ x: Buffer, examples: Int, group m: Int, spatial: Int, channels: Int, inverse: Bool, into y: Buffer
    ) throws

    /// y = x ⊙ factors for x and y rows × columns: with `perRow`, y[r, c] = x[r, c]·factors[r]
    /// (factors of rows elements), else y[i] = x[i]·factors[i] (factors rows × columns).
    /// y may be x. (A projection discriminator's class selection and its gradient.)
    func multiply(_ x: Buffer, rows: Int, columns: Int, by factors: Buffer, perRow: Bool, into y: Buffer) throws

    // MARK: Conditioning

    /// Appends per-row values as channels (a conditional GAN's one-hot class at every
    /// position): x is rows × spatial × channels (NHWC), values rows × extra, and
    ///   y[r, s, c] = x[r, s, c] for c < channels, values[r, c − channels] after,
    /// y rows × spatial × (channels + extra). With `inverse`, the other way for a gradient:
    /// x is rows × spatial × (channels + extra), y gets its first `channels` channels
    /// (values unused). y must not be x.
    func appendChannels(
        _ x: Buffer, rows: Int, spatial: Int, channels: Int, values: Buffer, extra: Int, inverse: Bool, into y: Buffer
    ) throws

    // MARK: Dropout

    /// y[i] = x[i] / (1 − rate) where uniforms[i] ≥ rate, else 0: inverted dropout with
    /// the mask given by uniforms (Philox's, from `uniform`, so every backend drops the
    /// same elements). The same call with dL/dy as x gives dL/dx. rate in [0, 1); y may be x.
    func dropout(_ x: Buffer, uniforms: Buffer, count: Int, rate: Float, into y: Buffer) throws

    // MARK: Random numbers

    /// Philox4x32-10 uniforms in [0, 1): element i comes from block `counter + i / 4`,
    /// word i % 4, under key `seed`. Uses `Philox.blocks(count)` counter values.
    func uniform(_ x: Buffer, count: Int, seed: UInt64, counter: UInt64) throws
    /// Philox4x32-10 normals: mean + std * N(0, 1), Box–Muller on each pair of words of
    /// block `counter + i / 4`. Uses `Philox.blocks(count)` counter values.
    func normal(
        _ x: Buffer, count: Int, seed: UInt64, counter: UInt64, mean: Float, std: Float
    ) throws
    /// Philox4x32-10 standard Gumbel draws, −log(−log u) (a Gumbel-softmax's noise):
    /// element i from word i % 4 of block `counter + i / 4` (`Philox.gumbel`). Uses
    /// `Philox.blocks(count)` counter values.
    func gumbel(_ x: Buffer, count: Int, seed: UInt64, counter: UInt64) throws
}

// MARK: - Fused forms

/// What a GEMM does to each element of its m×n result before storing it.
public enum GEMMEpilogue<Buffer: BackendBuffer> {
    case none
    /// C[r, c] = f(C[r, c] + bias[c]): a dense layer's forward, bias of n elements.
    case biasActivation(bias: Buffer, activation: Activation)
    /// C[r, c] *= f'(·) computed from the forward output y[r, c] (m×n), as
    /// `activationBackward` does: a backward pass's gradient through the previous layer's
    /// activation.
    case activationGradient(output: Buffer, activation: Activation)
    /// C as it is, and out[j] = Σ_p op(B)[p, j] (n elements): with dW = xᵀ·dz, the bias
    /// gradient (the column sums of dz) from the same pass over dz.
    case columnSums(into: Buffer)
    /// The result is a layer's weight gradient (m×n) and the column sums of op(B) its bias
    /// gradient (n): one Adam step updates the layer from both, as `adamStep` would.
    /// C and `biasGradient` receive the two gradients when `keepGradients` is set;
    /// otherwise they are scratch, which a backend that fuses the step into the GEMM
    /// need not write (the composed form writes the gradients there first).
    case adamStep(AdamEpilogue<Buffer>)
}

/// The parameters the `adamStep` epilogue updates: a weight of the GEMM's m×n shape and
/// a bias of n, each with Adam's two moments, and where the bias gradient may go.
public struct AdamEpilogue<Buffer: BackendBuffer> {
    public let weight, weightM, weightV: Buffer
    public let bias, biasGradient, biasM, biasV: Buffer
    public let hyper: AdamHyperparameters
    /// The step t ≥ 1 whose bias corrections apply.
    public let step: Int
    /// Whether C and `biasGradient` must hold the gradients afterwards.
    public let keepGradients: Bool

    public init(
        weight: Buffer, weightM: Buffer, weightV: Buffer, bias: Buffer, biasGradient: Buffer, biasM: Buffer,
        biasV: Buffer, hyper: AdamHyperparameters, step: Int, keepGradients: Bool = false
    ) {
        self.weight = weight
        self.weightM = weightM
        self.weightV = weightV
        self.bias = bias
        self.biasGradient = biasGradient
        self.biasM = biasM
        self.biasV = biasV
        self.hyper = hyper
        self.step = step
        self.keepGradients = keepGradients
    }

    /// The buffers a fused step reads and writes.
    public var buffers: [Buffer] { [weight, weightM, weightV, bias, biasGradient, biasM, biasV] }
}

extension ComputeBackend {
    /// im2col into a buffer of its own, then the GEMM with the epilogue.
    public func convolutionImplicit(
        _ x: Buffer, geometry g: ConvolutionGeometry, weights: Buffer, outputChannels n: Int, into y: Buffer,
        epilogue: GEMMEpilogue<Buffer>
    ) throws {
        switch epilogue {
        case .none, .biasActivation: break
        default: throw BackendError.invalidArgument("a convolution's forward fuses a bias and activation only")
        }
        if let problem = g.problem { throw BackendError.invalidArgument("a convolution over \(problem)") }
        let columns = try makeBuffer(count: max(g.positions * g.patchSize, 1))
        try im2col(x, geometry: g, into: columns)
        try gemm(
            transposeA: false, transposeB: false, m: g.positions, n: n, k: g.patchSize, alpha: 1, a: columns,
            b: weights, beta: 0, c: y, epilogue: epilogue)
    }

    /// The objective on elements 0..<count.
    public func objective(
        _ objective: LogitObjective, logits: Buffer, count: Int,
        losses: Buffer, gradients: Buffer, gradientScale: Float
    ) throws {
        try self.objective(
            objective, logits: logits, offset: 0, count: count, losses: losses, gradients: gradients,
            gradientScale: gradientScale)
    }

    public func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: Buffer, b: Buffer, beta: Float, c: Buffer, epilogue: GEMMEpilogue<Buffer>
    ) throws {
        try ArgumentChecks.gemmEpilogue(epilogue, m: m, n: n, a: a, b: b, c: c)
        try gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, b: b, beta: beta, c: c)
        try composedEpilogue(epilogue, transposeB: transposeB, m: m, n: n, k: k, b: b, c: c)
    }

    /// The epilogue by the other operations, after its GEMM has stored C = α·op(A)·op(B)
    /// + β·C: the default above, and a backend's fallback where a kernel lacks the
    /// epilogue. The `adamStep` epilogue takes C as the weight gradient, the column sums
    /// of op(B) (into `biasGradient`) as the bias gradient, then two Adam steps.
    public func composedEpilogue(
        _ epilogue: GEMMEpilogue<Buffer>, transposeB: Bool, m: Int, n: Int, k: Int, b: Buffer, c: Buffer
    ) throws {
        switch epilogue {
        case .none:
            break
        case .biasActivation(let bias, let activation):
            try addBias(c, rows: m, columns: n, bias: bias)
            if activation != .identity { try activationForward(activation, x: c, y: c, count: m * n) }
        case .activationGradient(let output, let activation):
            if activation != .identity { try activationBackward(activation, y: output, dy: c, dx: c, count: m * n) }
        case .columnSums(let out):
            try columnSums(ofOp: b, transposed: transposeB, k: k, n: n, into: out)
        case .adamStep(let step):
            try columnSums(ofOp: b, transposed: transposeB, k: k, n: n, into: step.biasGradient)
            try adamStep(
                parameters: step.weight, gradients: c, m: step.weightM, v: step.weightV, count: m * n,
                hyper: step.hyper, step: step.step)
            try adamStep(
                parameters: step.bias, gradients: step.biasGradient, m: step.biasM, v: step.biasV, count: n,
                hyper: step.hyper, step: step.step)
        }
    }

    /// out[j] = Σ_p op(B)[p, j] for an op(B) of k×n, B stored k×n (n×k when `transposed`):
    /// the `columnSums` epilogue by the reductions.
    public func columnSums(ofOp b: Buffer, transposed: Bool, k: Int, n: Int, into out: Buffer) throws {
        if transposed {
            try sumRows(b, rows: n, columns: k, into: out)
        } else {
            try sumColumns(b, rows: k, columns: n, into: out, accumulate: false)
        }
    }

}

// MARK: - Conveniences

extension ComputeBackend {
    /// A new buffer holding `values`.
    public func makeBuffer(_ values: [Float]) throws -> Buffer {
        let buffer = try makeBuffer(count: values.count)
        try write(values, to: buffer, offset: 0)
        return buffer
    }

    /// The whole buffer.
    public func read(_ buffer: Buffer) throws -> [Float] {
        try read(buffer, offset: 0, count: buffer.count)
    }
}
