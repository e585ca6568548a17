import ComputeBackend

/// One backend call with its inputs, to run on a backend under test and on the CPU
/// reference and compare.
public struct Trial: Sendable {
    /// The call and its scalar parameters. Inputs and outputs are the buffers
    /// `inputs` and `outputCounts` describe, in the order each case documents.
    public enum Call: Sendable {
        /// inputs [A, B, C]; outputs [C]
        case gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float)
        /// GEMM with an epilogue: `bias` true for bias + activation, false for the
        /// activation gradient. inputs [A, B, C, bias(n) or forward output(m×n)]; outputs [C]
        case gemmEpilogue(
            transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float,
            bias: Bool, activation: Activation)
        /// GEMM with the column sums of op(B): inputs [A, B, C]; outputs [C, sums(n)]
        case gemmColumnSums(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float)
        /// GEMM whose result is a weight gradient, with the Adam step as its epilogue:
        /// inputs [A, B, C, w(m×n), w.m, w.v, bias(n), bias.m, bias.v]; outputs [w, w.m, w.v,
        /// bias, bias.m, bias.v], then [C, bias gradient] when the gradients are kept.
        case gemmAdam(
            transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float,
            hyper: AdamHyperparameters, step: Int, keepGradients: Bool)
        /// inputs [x(rows×columns)]; outputs [out(columns×rows)]
        case transpose(rows: Int, columns: Int)
        /// inputs [x, bias]; outputs [x]
        case addBias(rows: Int, columns: Int)
        /// inputs [x] (and [x, out] when accumulating); outputs [out(columns)]
        case sumColumns(rows: Int, columns: Int, accumulate: Bool)
        /// inputs [x]; outputs [out(rows)]
        case sumRows(rows: Int, columns: Int)
        /// inputs [x]; outputs [out(1)]
        case mean
        /// inputs [x]; outputs [x]
        case scale(Float)
        /// inputs [x]; outputs [x]
        case clamp(lower: Float, upper: Float)
        /// inputs [x]; outputs [y]
        case activationForward(Activation)
        /// inputs [y, dy]; outputs [dx]
        case activationBackward(Activation)
        /// inputs [logits]; outputs [losses, gradients]
        case objective(LogitObjective, gradientScale: Float)
        /// inputs [logits, labels]; outputs [losses(rows), gradients(rows × classes)]
        case softmaxCrossEntropy(rows: Int, classes: Int, gradientScale: Float)
        /// inputs [p, g, m, v]; outputs [p, m, v]
        case adam(AdamHyperparameters, step: Int)
        /// inputs [p, g, velocity]; outputs [p, velocity]
        case sgd(learningRate: Float, momentum: Float)
        /// inputs [p, g, square average]; outputs [p, square average]
        case rmsprop(RMSPropHyperparameters)
        /// inputs [x]; outputs [x, norm(1)]
        case normalize
        /// inputs [x, divisor(1)]; outputs [out]
        case divide
        /// inputs [G, W_sn (rows×columns), v(rows), u(columns), σ(1)]; outputs [G]
        case spectralNormGradient(rows: Int, columns: Int)
        /// inputs [variance (groups × columns)]; outputs [value (groups)]
        case minibatchStdValue(groups: Int, columns: Int, epsilon: Float)
        /// inputs [x, value (groups)]; outputs [y]
        case appendChannel(rows: Int, spatial: Int, channels: Int, groups: Int)
        /// inputs [x, dy, mean, variance]; outputs [totals (groups), dx]
        case minibatchStdBackward(rows: Int, spatial: Int, channels: Int, groups: Int, epsilon: Float, below: Activation)
        /// inputs [x]; outputs [y]
        case pack(examples: Int, group: Int, spatial: Int, channels: Int, inverse: Bool)
        /// inputs [x, factors]; outputs [y]
        case multiply(rows: Int, columns: Int, perRow: Bool)
        case spanActivation(rows: Int, columns: Int, spanCount: Int, temperature: Float)
        case spanActivationBackward(rows: Int, columns: Int, spanCount: Int, temperature: Float)
        /// inputs [x, values (rows × extra)]; outputs [y]
        case appendChannels(rows: Int, spatial: Int, channels: Int, extra: Int, inverse: Bool)
        /// inputs [x, y]; outputs [x]
        case addScaled(scale: Float)
        /// inputs [average, value]; outputs [average]
        case movingAverage(decay: Float)
        /// inputs [x, uniforms]; outputs [y]
        case dropout(rate: Float)
        /// inputs [x, gamma(columns), beta(columns)]; outputs [mean(rows), variance(rows), y]
        case layerNormForward(rows: Int, columns: Int, epsilon: Float, activation: Activation)
        /// inputs [x, dz, mean(rows), variance(rows), gamma(columns)]; outputs [gammaGradient, betaGradient, dx]
        case layerNormBackward(rows: Int, columns: Int, epsilon: Float, below: Activation)
        /// inputs [real, fake, epsilon(rows)]; outputs [out]
        case interpolateRows(rows: Int, columns: Int)
        /// inputs [gradients]; outputs [norms(rows), losses(rows), directions]
        case gradientPenalty(rows: Int, columns: Int, weight: Float, scale: Float)
        /// inputs []; outputs [x]
        case uniform(seed: UInt64, counter: UInt64)
        /// inputs []; outputs [x]
        case normal(seed: UInt64, counter: UInt64, mean: Float, std: Float)
        /// inputs []; outputs [x]
        case gumbel(seed: UInt64, counter: UInt64)
        /// inputs [source]; outputs [destination]
        case copy
        /// inputs [source, destination]; outputs [destination]
        case copyRange(sourceOffset: Int, destinationOffset: Int, count: Int)
        /// `first` on logits ..< split and `second` on split..., as a discriminator's
        /// real and fake halves: inputs [logits]; outputs [losses, gradients]
        case objectiveHalves(first: LogitObjective, second: LogitObjective, split: Int, gradientScale: Float)
        /// inputs []; outputs [x]
        case fill(Float)
        /// inputs [images]; outputs [columns]
        case im2col(ConvolutionGeometry)
        /// inputs [columns]; outputs [images]
        case col2im(ConvolutionGeometry)
        /// inputs [images, weights] (and [bias] with an activation); outputs [y]
        case convolutionImplicit(ConvolutionGeometry, outputChannels: Int, activation: Activation?)
        /// inputs [x] (and [x, running mean, running variance] with a momentum); outputs
        /// [mean, variance] (and the two running averages)
        case batchNormStatistics(rows: Int, columns: Int, groups: Int, momentum: Float?)
        /// inputs [x, mean, variance, gamma, beta]; outputs [y]
        case batchNormForward(rows: Int, columns: Int, groups: Int, epsilon: Float, activation: Activation)
        /// inputs [x, dz, mean, variance, gamma]; outputs [gamma gradient, beta gradient, dx]
        case batchNormBackward(rows: Int, columns: Int, groups: Int, epsilon: Float, below: Activation)
    }

    /// How results are compared with the reference.
    public enum Comparison: Sendable {
        /// Every output bit for bit.
        case bitExact
        /// max over elements of |x − r| / max(|r|, s), where s is the magnitude of the
        /// terms that make up that element (`Tolerance.scales`), at most `tolerance`.
        case relative(tolerance: Double)
    }

    /// The row label: the operation with its variant ("gemm NT", "tanh forward").
    public let label: String
    public let shape: String
    public let call: Call
    public let inputs: [[Float]]
    public let outputCounts: [Int]
    public let comparison: Comparison

    public init(
        label: String, shape: String, call: Call, inputs: [[Float]], outputCounts: [Int],
        comparison: Comparison
    ) {
        self.label = label
        self.shape = shape
        self.call = call
        self.inputs = inputs
        self.outputCounts = outputCounts
        self.comparison = comparison
    }
}

// MARK: - Running a trial

extension Trial {
    /// Runs the call on `backend`: inputs are written, outputs that are not inputs are
    /// poisoned with NaN first, and the outputs are read back.
    public func run<B: ComputeBackend>(on backend: B) throws -> [[Float]] {
        let given = try inputs.map { try backend.makeBuffer($0) }
        func fresh(_ index: Int) throws -> B.Buffer {
            let buffer = try backend.makeBuffer(count: outputCounts[index])
            try backend.fill(buffer, with: .nan, count: outputCounts[index])
            return buffer
        }
        let outputs: [B.Buffer]
        switch call {
        case .gemm(let ta, let tb, let m, let n, let k, let alpha, let beta):
            try backend.gemm(
                transposeA: ta, transposeB: tb, m: m, n: n, k: k,
                alpha: alpha, a: given[0], b: given[1], beta: beta, c: given[2])
            outputs = [given[2]]
        case .gemmEpilogue(let ta, let tb, let m, let n, let k, let alpha, let beta, let bias, let activation):
            let epilogue: GEMMEpilogue<B.Buffer> =
                bias ? .biasActivation(bias: given[3], activation: activation)
                     : .activationGradient(output: given[3], activation: activation)
            try backend.gemm(
                transposeA: ta, transposeB: tb, m: m, n: n, k: k,
                alpha: alpha, a: given[0], b: given[1], beta: beta, c: given[2], epilogue: epilogue)
            outputs = [given[2]]
        case .gemmColumnSums(let ta, let tb, let m, let n, let k, let alpha, let beta):
            let sums = try fresh(1)
            try backend.gemm(
                transposeA: ta, transposeB: tb, m: m, n: n, k: k,
                alpha: alpha, a: given[0], b: given[1], beta: beta, c: given[2], epilogue: .columnSums(into: sums))
            outputs = [given[2], sums]
        case .gemmAdam(let ta, let tb, let m, let n, let k, let alpha, let beta, let hyper, let step, let keep):
            let biasGradient = try backend.makeBuffer(count: n)
            try backend.fill(biasGradient, with: .nan, count: n)
            try backend.gemm(
                transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: alpha, a: given[0], b: given[1], beta: beta,
                c: given[2],
                epilogue: .adamStep(AdamEpilogue(
                    weight: given[3], weightM: given[4], weightV: given[5], bias: given[6], biasGradient: biasGradient,
                    biasM: given[7], biasV: given[8], hyper: hyper, step: step, keepGradients: keep)))
            outputs = Array(given[3...8]) + (keep ? [given[2], biasGradient] : [])
        case .transpose(let rows, let columns):
            outputs = [try fresh(0)]
            try backend.transpose(given[0], rows: rows, columns: columns, into: outputs[0])
        case .addBias(let rows, let columns):
            try backend.addBias(given[0], rows: rows, columns: columns, bias: given[1])
            outputs = [given[0]]
        case .sumColumns(let rows, let columns, let accumulate):
            outputs = [accumulate ? given[1] : try fresh(0)]
            try backend.sumColumns(given[0], rows: rows, columns: columns, into: outputs[0], accumulate: accumulate)
        case .sumRows(let rows, let columns):
            outputs = [try fresh(0)]
            try backend.sumRows(given[0], rows: rows, columns: columns, into: outputs[0])
        case .mean:
            outputs = [try fresh(0)]
            try backend.mean(given[0], count: inputs[0].count, into: outputs[0])
        case .scale(let factor):
            try backend.scale(given[0], count: inputs[0].count, by: factor)
            outputs = [given[0]]
        case .minibatchStdValue(let groups, let columns, let epsilon):
            outputs = [try fresh(0)]
            try backend.minibatchStdValue(given[0], groups: groups, columns: columns, epsilon: epsilon, into: outputs[0])
        case .appendChannel(let rows, let spatial, let channels, let groups):
            outputs = [try fresh(0)]
            try backend.appendChannel(
                given[0], rows: rows, spatial: spatial, channels: channels, groups: groups, value: given[1], into: outputs[0])
        case .minibatchStdBackward(let rows, let spatial, let channels, let groups, let epsilon, let below):
            outputs = [try fresh(0), try fresh(1)]
            try backend.minibatchStdBackward(
                given[0], outputGradient: given[1], rows: rows, spatial: spatial, channels: channels, groups: groups,
                mean: given[2], variance: given[3], epsilon: epsilon, totals: outputs[0], inputGradient: outputs[1],
                below: below)
        case .pack(let examples, let group, let spatial, let channels, let inverse):
            outputs = [try fresh(0)]
            try backend.pack(
                given[0], examples: examples, group: group, spatial: spatial, channels: channels, inverse: inverse,
                into: outputs[0])
        case .spanActivation(let rows, let columns, let spanCount, let temperature):
            outputs = [try fresh(0)]
            try backend.spanActivation(
                given[0], rows: rows, columns: columns, spans: given[1], spanCount: spanCount, temperature: temperature,
                into: outputs[0])
        case .spanActivationBackward(let rows, let columns, let spanCount, let temperature):
            outputs = [try fresh(0)]
            try backend.spanActivationBackward(
                given[0], outputGradient: given[1], rows: rows, columns: columns, spans: given[2], spanCount: spanCount,
                temperature: temperature, into: outputs[0])
        case .multiply(let rows, let columns, let perRow):
            outputs = [try fresh(0)]
            try backend.multiply(given[0], rows: rows, columns: columns, by: given[1], perRow: perRow, into: outputs[0])
        case .appendChannels(let rows, let spatial, let channels, let extra, let inverse):
            outputs = [try fresh(0)]
            try backend.appendChannels(
                given[0], rows: rows, spatial: spatial, channels: channels, values: given[1], extra: extra, inverse: inverse,
                into: outputs[0])
        case .addScaled(let scale):
            try backend.addScaled(given[0], given[1], count: inputs[0].count, scale: scale)
            outputs = [given[0]]
        case .movingAverage(let decay):
            try backend.movingAverage(given[0], toward: given[1], count: inputs[0].count, decay: decay)
            outputs = [given[0]]
        case .clamp(let lower, let upper):
            try backend.clamp(given[0], count: inputs[0].count, lower: lower, upper: upper)
            outputs = [given[0]]
        case .activationForward(let activation):
            outputs = [try fresh(0)]
            try backend.activationForward(activation, x: given[0], y: outputs[0], count: inputs[0].count)
        case .activationBackward(let activation):
            outputs = [try fresh(0)]
            try backend.activationBackward(activation, y: given[0], dy: given[1], dx: outputs[0], count: inputs[0].count)
        case .objective(let objective, let gradientScale):
            outputs = [try fresh(0), try fresh(1)]
            try backend.objective(
                objective, logits: given[0], count: inputs[0].count,
                losses: outputs[0], gradients: outputs[1], gradientScale: gradientScale)
        case .softmaxCrossEntropy(let rows, let classes, let gradientScale):
            outputs = [try fresh(0), try fresh(1)]
            try backend.softmaxCrossEntropy(
                logits: given[0], labels: given[1], rows: rows, classes: classes,
                losses: outputs[0], gradients: outputs[1], gradientScale: gradientScale)
        case .adam(let hyper, let step):
            try backend.adamStep(
                parameters: given[0], gradients: given[1], m: given[2], v: given[3], count: inputs[0].count,
                hyper: hyper, step: step)
            outputs = [given[0], given[2], given[3]]
        case .sgd(let learningRate, let momentum):
            try backend.sgdStep(
                parameters: given[0], gradients: given[1], velocity: given[2], count: inputs[0].count,
                learningRate: learningRate, momentum: momentum)
            outputs = [given[0], given[2]]
        case .rmsprop(let hyper):
            try backend.rmspropStep(
                parameters: given[0], gradients: given[1], squareAverage: given[2], count: inputs[0].count, hyper: hyper)
            outputs = [given[0], given[2]]
        case .normalize:
            let norm = try fresh(1)
            try backend.normalize(given[0], count: inputs[0].count, norm: norm)
            outputs = [given[0], norm]
        case .divide:
            outputs = [try fresh(0)]
            try backend.divide(given[0], count: inputs[0].count, by: given[1], into: outputs[0])
        case .spectralNormGradient(let rows, let columns):
            try backend.spectralNormGradient(
                given[0], normalizedWeight: given[1], rows: rows, columns: columns, left: given[2], right: given[3],
                sigma: given[4])
            outputs = [given[0]]
        case .layerNormForward(let rows, let columns, let epsilon, let activation):
            outputs = [try fresh(0), try fresh(1), try fresh(2)]
            try backend.layerNormForward(
                given[0], rows: rows, columns: columns, epsilon: epsilon, gamma: given[1], beta: given[2],
                activation: activation, mean: outputs[0], variance: outputs[1], into: outputs[2])
        case .layerNormBackward(let rows, let columns, let epsilon, let below):
            outputs = [try fresh(0), try fresh(1), try fresh(2)]
            try backend.layerNormBackward(
                given[0], outputGradient: given[1], rows: rows, columns: columns, mean: given[2], variance: given[3],
                epsilon: epsilon, gamma: given[4], gammaGradient: outputs[0], betaGradient: outputs[1],
                inputGradient: outputs[2], below: below)
        case .dropout(let rate):
            outputs = [try fresh(0)]
            try backend.dropout(given[0], uniforms: given[1], count: inputs[0].count, rate: rate, into: outputs[0])
        case .interpolateRows(let rows, let columns):
            outputs = [try fresh(0)]
            try backend.interpolateRows(
                real: given[0], fake: given[1], epsilon: given[2], rows: rows, columns: columns, into: outputs[0])
        case .gradientPenalty(let rows, let columns, let weight, let scale):
            outputs = [try fresh(0), try fresh(1), try fresh(2)]
            try backend.gradientPenalty(
                gradients: given[0], rows: rows, columns: columns, weight: weight, scale: scale,
                norms: outputs[0], losses: outputs[1], directions: outputs[2])
        case .uniform(let seed, let counter):
            outputs = [try fresh(0)]
            try backend.uniform(outputs[0], count: outputCounts[0], seed: seed, counter: counter)
        case .normal(let seed, let counter, let mean, let std):
            outputs = [try fresh(0)]
            try backend.normal(outputs[0], count: outputCounts[0], seed: seed, counter: counter, mean: mean, std: std)
        case .gumbel(let seed, let counter):
            outputs = [try fresh(0)]
            try backend.gumbel(outputs[0], count: outputCounts[0], seed: seed, counter: counter)
        case .copy:
            outputs = [try fresh(0)]
            try backend.copy(given[0], to: outputs[0], count: outputCounts[0])
        case .copyRange(let sourceOffset, let destinationOffset, let count):
            try backend.copy(given[0], offset: sourceOffset, to: given[1], offset: destinationOffset, count: count)
            outputs = [given[1]]
        case .objectiveHalves(let first, let second, let split, let gradientScale):
            outputs = [try fresh(0), try fresh(1)]
            let count = inputs[0].count
            try backend.objective(
                first, logits: given[0], offset: 0, count: split, losses: outputs[0], gradients: outputs[1],
                gradientScale: gradientScale)
            try backend.objective(
                second, logits: given[0], offset: split, count: count - split, losses: outputs[0], gradients: outputs[1],
                gradientScale: gradientScale)
        case .fill(let value):
            outputs = [try fresh(0)]
            try backend.fill(outputs[0], with: value, count: outputCounts[0])
        case .im2col(let geometry):
            outputs = [try fresh(0)]
            try backend.im2col(given[0], geometry: geometry, into: outputs[0])
        case .col2im(let geometry):
            outputs = [try fresh(0)]
            try backend.col2im(given[0], geometry: geometry, into: outputs[0])
        case .convolutionImplicit(let geometry, let outputChannels, let activation):
            outputs = [try fresh(0)]
            try backend.convolutionImplicit(
                given[0], geometry: geometry, weights: given[1], outputChannels: outputChannels, into: outputs[0],
                epilogue: activation.map { .biasActivation(bias: given[2], activation: $0) } ?? .none)
        case .batchNormStatistics(let rows, let columns, let groups, let momentum):
            let mean = try fresh(0), variance = try fresh(1)
            try backend.batchNormStatistics(
                given[0], rows: rows, columns: columns, groups: groups, mean: mean, variance: variance,
                running: momentum.map { (given[1], given[2], $0) })
            outputs = [mean, variance] + (momentum == nil ? [] : [given[1], given[2]])
        case .batchNormForward(let rows, let columns, let groups, let epsilon, let activation):
            outputs = [try fresh(0)]
            try backend.batchNormForward(
                given[0], rows: rows, columns: columns, groups: groups, mean: given[1], variance: given[2],
                epsilon: epsilon, gamma: given[3], beta: given[4], activation: activation, into: outputs[0])
        case .batchNormBackward(let rows, let columns, let groups, let epsilon, let below):
            outputs = [try fresh(0), try fresh(1), try fresh(2)]
            try backend.batchNormBackward(
                given[0], outputGradient: given[1], rows: rows, columns: columns, groups: groups, mean: given[2],
                variance: given[3], epsilon: epsilon, gamma: given[4], gammaGradient: outputs[0],
                betaGradient: outputs[1], inputGradient: outputs[2], below: below)
        }
        return try outputs.map { try backend.read($0) }
    }
}
