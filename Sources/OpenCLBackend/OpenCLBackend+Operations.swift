import ComputeBackend

// MARK: - The protocol's operations as kernel launches

extension OpenCLBackend {
    public func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: OpenCLBuffer, b: OpenCLBuffer, beta: Float, c: OpenCLBuffer
    ) throws {
        try gemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, b: b, beta: beta,
            c: c, epilogue: .none)
    }

    /// The kernels apply the epilogue as they store C (one pass, one launch) where they
    /// have it: gemm_rows every epilogue, gemm_dot all but Adam, the tiled kernel those
    /// of a layer's forward and backward. Otherwise the GEMM, then the composed epilogue.
    public func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: OpenCLBuffer, b: OpenCLBuffer, beta: Float, c: OpenCLBuffer,
        epilogue: GEMMEpilogue<OpenCLBuffer>
    ) throws {
        try ArgumentChecks.gemm(m: m, n: n, k: k, a: a, b: b, c: c)
        try ArgumentChecks.gemmEpilogue(epilogue, m: m, n: n, a: a, b: b, c: c)
        // Large shapes by the packed kernel on CPU devices; NT by dot products along
        // contiguous k (no copy of B) below them.
        let packed = tunables.cpuGEMM && tunables.gemm.usesPackedKernel(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k)
        let byDot = !packed && tunables.cpuGEMM && transposeB && !transposeA && k >= tunables.gemm.dotMinimumK
        let fusedHere =
            switch epilogue {
            case .none, .biasActivation, .activationGradient: true
            case .columnSums: tunables.cpuGEMM
            case .adamStep: tunables.cpuGEMM && !byDot
            }
        guard fusedHere else {
            try gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, b: b, beta: beta, c: c)
            try composedEpilogue(epilogue, transposeB: transposeB, m: m, n: n, k: k, b: b, c: c)
            return
        }
        // No epilogue: code 0, and any buffer for `extra`, which is not read.
        let plain: [KernelArgument] = [.int(0), .buffer(a), .int(0), .float(0)]
        let fused: [KernelArgument] =
            switch epilogue {
            case .none: plain
            case .biasActivation(let bias, let activation):
                [.int(1), .buffer(bias), .int(Int(activation.kernelCode)), .float(activation.slope)]
            case .activationGradient(let output, let activation):
                [.int(2), .buffer(output), .int(Int(activation.kernelCode)), .float(activation.slope)]
            case .columnSums(let out):
                [.int(3), .buffer(out), .int(0), .float(0)]
            case .adamStep(let step):
                [.int(step.keepGradients ? 5 : 4), .buffer(step.biasGradient), .int(0), .float(0)]
            }
        if packed {
            try gemmPacked(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, b: b, beta: beta, c: c,
                fused: fused, epilogue: epilogue)
            return
        }
        let group = tunables.gemm.itemsPerGroup
        if byDot {
            try launch(
                "gemm", "gemm_dot", global: [(m + 3) / 4, (n + 3) / 4], local: group > 0 ? [group, 1] : nil,
                label: profiling ? "gemm_dot NT \(m)x\(n)x\(k)" : nil,
                [.int(m), .int(n), .int(k), .float(alpha), .buffer(a), .buffer(b), .float(beta), .buffer(c)] + fused)
            return
        }
        if tunables.cpuGEMM {
            let adam = adamArguments(epilogue)
            // gemm_rows reads op(A) in place either way. A transposed B (n, k) is first
            // copied out as (k, n) into a scratch buffer that grows to the largest B and is
            // kept: n·k copies against the GEMM's m·n·k.
            try gemmScratchLock.withLock { _ in
                var left = a
                var transposeA = transposeA
                // A deep TN: A copied out as (m, k) first (see `GEMMTunables.copyAMinimumK`).
                if transposeA, k >= tunables.gemm.copyAMinimumK {
                    left = try scratch(\.gemmScratchA, count: m * k)
                    try transpose(a, rows: k, columns: m, into: left)
                    transposeA = false
                }
                var right = b
                if transposeB {
                    right = try scratch(\.gemmScratch, count: n * k)
                    try transpose(b, rows: n, columns: k, into: right)
                }
                // Row blocks along dimension 0 when B is too large to stay cached.
                let rowOrder = k * n * MemoryLayout<Float>.stride > tunables.gemm.shareBAboveBytes
                let blocks = rowsGlobal(m: m, n: n)
                let global = rowOrder ? [blocks[1], blocks[0]] : blocks
                let label = profiling ? "gemm_rows\(adam.isEmpty ? "" : " + Adam") \(transposeA ? "T" : "N")N \(m)x\(n)x\(k)" : nil
                let head: [KernelArgument] = [.int(m), .int(n), .int(k), .int(transposeA ? 1 : 0), .float(alpha), .buffer(left), .buffer(right)]
                if !adam.isEmpty {
                    try launch(
                        "gemm", "gemm_rows_adam", global: global, local: group > 0 ? [group, 1] : nil, label: label,
                        head + [.float(beta), .buffer(c)] + fused + [.int(rowOrder ? 1 : 0)] + adam)
                    return
                }
                // Row blocks keep a panel of B (k × the block's columns) in the cache; a
                // deep k goes in chunks whose panel fits, each adding to C (beta 1 after
                // the first), the epilogue applied with the last. Column sums need all of
                // k at once.
                var chunk = k
                if rowOrder, tunables.gemm.panelBytes > 0, !epilogue.readsAllOfK {
                    let columns = 16 * tunables.gemm.vectorsPerItem
                    chunk = max(16, tunables.gemm.panelBytes / (columns * MemoryLayout<Float>.stride))
                }
                var p0 = 0
                repeat {
                    let p1 = min(k, p0 + chunk)
                    try launch(
                        "gemm", "gemm_rows", global: global, local: group > 0 ? [group, 1] : nil, label: label,
                        head + [.float(p0 == 0 ? beta : 1), .buffer(c)]
                            + (p1 == k ? fused : plain)
                            + [.int(rowOrder ? 1 : 0), .int(p0), .int(p1)])
                    p0 = p1
                } while p0 < k
            }
            return
        }
        let t = tunables.gemm
        let local = [t.tileN / t.workPerThreadN, t.tileM / t.workPerThreadM]
        let global = [(n + t.tileN - 1) / t.tileN * local[0], (m + t.tileM - 1) / t.tileM * local[1]]
        try launch(
            "gemm", "gemm", global: global, local: local,
            [.int(m), .int(n), .int(k), .int(transposeA ? 1 : 0), .int(transposeB ? 1 : 0),
             .float(alpha), .buffer(a), .buffer(b), .float(beta), .buffer(c)] + fused)
    }

    /// gemm_rows_adam's and gemm_packed_adam's last arguments: the step's buffers and
    /// scalars (none for the other epilogues).
    private func adamArguments(_ epilogue: GEMMEpilogue<OpenCLBuffer>) -> [KernelArgument] {
        guard case .adamStep(let step) = epilogue else { return [] }
        let (c1, c2) = step.hyper.biasCorrections(step: step.step)
        return [step.weight, step.weightM, step.weightV, step.bias, step.biasM, step.biasV].map { .buffer($0) }
            + [step.hyper.learningRate, step.hyper.beta1, step.hyper.beta2, step.hyper.epsilon, c1, c2].map { .float($0) }
    }

    /// The packed kernel: one work-group per block of C, every transpose case read in
    /// place while packing, every epilogue fused.
    private func gemmPacked(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: OpenCLBuffer, b: OpenCLBuffer,
        beta: Float, c: OpenCLBuffer, fused: [KernelArgument], epilogue: GEMMEpilogue<OpenCLBuffer>
    ) throws {
        let (rows, columns) = packedBlock(m: m, n: n)
        let adam = adamArguments(epilogue)
        let label = profiling ? "gemm_packed\(adam.isEmpty ? "" : " + Adam") \(transposeA ? "T" : "N")\(transposeB ? "T" : "N") \(m)x\(n)x\(k)" : nil
        try launch(
            "gemm", adam.isEmpty ? "gemm_packed" : "gemm_packed_adam",
            global: [(n + columns - 1) / columns, (m + rows - 1) / rows], local: [1, 1], label: label,
            [.int(m), .int(n), .int(k), .int(transposeA ? 1 : 0), .int(transposeB ? 1 : 0), .float(alpha), .buffer(a),
             .buffer(b), .float(beta), .buffer(c)] + fused + [.int(rows), .int(columns)] + adam)
    }

    /// The packed kernel's block of C for an m × n result: as large as its local blocks
    /// allow (each work-group packs its own panels of A and B, so larger blocks pack less),
    /// split until there are two work-groups a compute unit, so that the cores finish
    /// together; the dimension with more micro-panels is halved first.
    func packedBlock(m: Int, n: Int) -> (rows: Int, columns: Int) {
        let blocks = tunables.gemm.packed
        func roundUp(_ x: Int, _ unit: Int) -> Int { (x + unit - 1) / unit * unit }
        var rows = min(blocks.maxRows, roundUp(m, blocks.rows))
        var columns = min(blocks.maxColumns, roundUp(n, blocks.columns))
        let groups = { ((m + rows - 1) / rows) * ((n + columns - 1) / columns) }
        while groups() < 2 * device.computeUnits {
            let rowPanels = rows / blocks.rows, columnPanels = columns / blocks.columns
            if rowPanels <= 1 && columnPanels <= 1 { break }
            if rowPanels >= columnPanels {
                rows = roundUp(rows / 2, blocks.rows)
            } else {
                columns = roundUp(columns / 2, blocks.columns)
            }
        }
        return (rows, columns)
    }

    public func transpose(_ x: OpenCLBuffer, rows: Int, columns: Int, into out: OpenCLBuffer) throws {
        try ArgumentChecks.transpose(x, rows: rows, columns: columns, out: out)
        let group = tunables.gemm.itemsPerGroup
        try launch(
            "gemm", "transpose", global: [(columns + 15) / 16, (rows + 15) / 16],
            local: tunables.cpuGEMM && group > 0 ? [group, 1] : nil,
            [.buffer(x), .buffer(out), .int(rows), .int(columns)])
    }

    /// gemm_rows' global size: one work-item per block of rowsPerItem × 16·vectorsPerItem.
    private func rowsGlobal(m: Int, n: Int) -> [Int] {
        let t = tunables.gemm
        let width = 16 * t.vectorsPerItem
        return [(n + width - 1) / width, (m + t.rowsPerItem - 1) / t.rowsPerItem]
    }

    public func addBias(_ x: OpenCLBuffer, rows: Int, columns: Int, bias: OpenCLBuffer) throws {
        try ArgumentChecks.matrix(x, rows: rows, columns: columns, vector: bias, vectorLength: columns, "bias")
        try launch(
            "elementwise", "bias_add", global: [rows * columns],
            [.buffer(x), .buffer(bias), .int(rows), .int(columns)])
    }

    public func sumColumns(_ x: OpenCLBuffer, rows: Int, columns: Int, into out: OpenCLBuffer, accumulate: Bool) throws {
        try ArgumentChecks.matrix(x, rows: rows, columns: columns, vector: out, vectorLength: columns, "out")
        try launch(
            "reduce", "sum_columns", global: [columns],
            [.buffer(x), .buffer(out), .int(rows), .int(columns), .int(accumulate ? 1 : 0)])
    }

    public func sumRows(_ x: OpenCLBuffer, rows: Int, columns: Int, into out: OpenCLBuffer) throws {
        try ArgumentChecks.matrix(x, rows: rows, columns: columns, vector: out, vectorLength: rows, "out")
        let group = tunables.reduceWorkGroup
        try launch(
            "reduce", "sum_rows", global: [group, rows], local: [group, 1],
            [.buffer(x), .buffer(out), .int(rows), .int(columns)])
    }

    public func mean(_ x: OpenCLBuffer, count: Int, into out: OpenCLBuffer) throws {
        try ArgumentChecks.buffer(x, holds: count, "x")
        try ArgumentChecks.buffer(out, holds: 1, "out")
        let group = tunables.reduceWorkGroup
        try launch("reduce", "mean", global: [group], local: [group], [.buffer(x), .buffer(out), .int(count)])
    }

    public func scale(_ x: OpenCLBuffer, count: Int, by factor: Float) throws {
        try ArgumentChecks.buffer(x, holds: count, "x")
        try launch("elementwise", "scale", global: [count], [.buffer(x), .int(count), .float(factor)])
    }

    public func minibatchStdValue(
        _ variance: OpenCLBuffer, groups: Int, columns: Int, epsilon: Float, into value: OpenCLBuffer
    ) throws {
        try ArgumentChecks.minibatchStdValue(variance: variance, groups: groups, columns: columns, value: value)
        guard groups > 0 else { return }
        let group = tunables.reduceWorkGroup
        try launch(
            "reduce", "minibatch_std_value", global: [group, groups], local: [group, 1],
            [.buffer(variance), .int(columns), .float(epsilon), .buffer(value)])
    }

    public func appendChannel(
        _ x: OpenCLBuffer, rows: Int, spatial: Int, channels: Int, groups: Int, value: OpenCLBuffer, into y: OpenCLBuffer
    ) throws {
        try ArgumentChecks.minibatchStd(
            rows: rows, spatial: spatial, channels: channels, groups: groups, perGroup: [value], statistics: [], inputs: [x],
            outputs: [y])
        let count = rows * spatial * (channels + 1)
        try launch(
            "reduce", "append_channel", global: [count],
            [.buffer(x), .int(count), .int(spatial), .int(channels), .int(max(rows / groups, 1)), .buffer(value), .buffer(y)])
    }

    public func minibatchStdBackward(
        _ x: OpenCLBuffer, outputGradient dy: OpenCLBuffer, rows: Int, spatial: Int, channels: Int, groups: Int,
        mean: OpenCLBuffer, variance: OpenCLBuffer, epsilon: Float, totals: OpenCLBuffer, inputGradient dx: OpenCLBuffer,
        below: Activation
    ) throws {
        try ArgumentChecks.minibatchStdBackward(
            x: x, dy: dy, rows: rows, spatial: spatial, channels: channels, groups: groups, mean: mean, variance: variance,
            totals: totals, dx: dx, below: below)
        guard rows > 0 else { return }
        let per = rows / groups
        let group = tunables.reduceWorkGroup
        try launch(
            "reduce", "minibatch_std_totals", global: [group, groups], local: [group, 1],
            [.buffer(dy), .int(spatial), .int(channels), .int(per), .buffer(totals)])
        let count = rows * spatial * channels
        try launch(
            "reduce", "minibatch_std_backward", global: [count],
            [.buffer(x), .buffer(dy), .int(count), .int(spatial), .int(channels), .int(per), .buffer(mean),
             .buffer(variance), .float(epsilon), .buffer(totals), .int(Int(below.kernelCode)), .float(below.slope),
             .buffer(dx)])
    }

    public func pack(
        _ x: OpenCLBuffer, examples: Int, group m: Int, spatial: Int, channels: Int, inverse: Bool, into y: OpenCLBuffer
    ) throws {
        try ArgumentChecks.pack(x: x, examples: examples, group: m, spatial: spatial, channels: channels, y: y)
        try launch(
            "elementwise", "pack_examples", global: [examples * spatial * channels],
            [.buffer(x), .buffer(y), .int(examples * spatial * channels), .int(m), .int(spatial), .int(channels),
             .int(inverse ? 1 : 0)])
    }

    public func spanActivation(
        _ x: OpenCLBuffer, rows: Int, columns: Int, spans: OpenCLBuffer, spanCount: Int, temperature: Float, into y: OpenCLBuffer
    ) throws {
        try ArgumentChecks.spanActivation(x: x, rows: rows, columns: columns, spans: spans, spanCount: spanCount, temperature: temperature, y: y)
        try launch(
            "loss", "span_activation", global: [rows * spanCount],
            [.buffer(x), .buffer(spans), .buffer(y), .int(rows), .int(columns), .int(spanCount), .float(temperature)])
    }

    public func spanActivationBackward(
        _ y: OpenCLBuffer, outputGradient dy: OpenCLBuffer, rows: Int, columns: Int, spans: OpenCLBuffer, spanCount: Int,
        temperature: Float, into dx: OpenCLBuffer
    ) throws {
        try ArgumentChecks.spanActivation(
            x: y, rows: rows, columns: columns, spans: spans, spanCount: spanCount, temperature: temperature, y: dx, extra: dy)
        try launch(
            "loss", "span_activation_backward", global: [rows * spanCount],
            [.buffer(y), .buffer(dy), .buffer(spans), .buffer(dx), .int(rows), .int(columns), .int(spanCount), .float(temperature)])
    }

    public func multiply(
        _ x: OpenCLBuffer, rows: Int, columns: Int, by factors: OpenCLBuffer, perRow: Bool, into y: OpenCLBuffer
    ) throws {
        try ArgumentChecks.multiply(x: x, rows: rows, columns: columns, factors: factors, perRow: perRow, y: y)
        try launch(
            "elementwise", "multiply", global: [rows * columns],
            [.buffer(x), .buffer(factors), .buffer(y), .int(rows * columns), .int(perRow ? columns : 1)])
    }

    public func appendChannels(
        _ x: OpenCLBuffer, rows: Int, spatial: Int, channels: Int, values: OpenCLBuffer, extra: Int, inverse: Bool,
        into y: OpenCLBuffer
    ) throws {
        try ArgumentChecks.appendChannels(
            x: x, rows: rows, spatial: spatial, channels: channels, values: values, extra: extra, inverse: inverse, y: y)
        let count = rows * spatial * (inverse ? channels : channels + extra)
        try launch(
            "elementwise", "append_channels", global: [count],
            [.buffer(x), .buffer(values), .buffer(y), .int(count), .int(spatial), .int(channels), .int(extra),
             .int(inverse ? 1 : 0)])
    }

    public func addScaled(_ x: OpenCLBuffer, _ y: OpenCLBuffer, count: Int, scale: Float) throws {
        try ArgumentChecks.addScaled(x: x, y: y, count: count)
        try launch("elementwise", "add_scaled", global: [count], [.buffer(x), .buffer(y), .int(count), .float(scale)])
    }

    public func movingAverage(_ average: OpenCLBuffer, toward value: OpenCLBuffer, count: Int, decay: Float) throws {
        try ArgumentChecks.movingAverage(average: average, value: value, count: count, decay: decay)
        try launch(
            "elementwise", "moving_average", global: [count],
            [.buffer(average), .buffer(value), .int(count), .float(1 - decay)])
    }

    public func clamp(_ x: OpenCLBuffer, count: Int, lower: Float, upper: Float) throws {
        try ArgumentChecks.buffer(x, holds: count, "x")
        try ArgumentChecks.clampBounds(lower: lower, upper: upper)
        try launch(
            "elementwise", "clamp_values", global: [count],
            [.buffer(x), .int(count), .float(lower), .float(upper)])
    }

    public func activationForward(_ activation: Activation, x: OpenCLBuffer, y: OpenCLBuffer, count: Int) throws {
        try activation.validate()
        try ArgumentChecks.buffers(["x": x, "y": y], hold: count)
        try launch(
            "elementwise", "activation_forward", global: [count],
            [.buffer(x), .buffer(y), .int(count), .int(Int(activation.kernelCode)), .float(activation.slope)])
    }

    public func activationBackward(
        _ activation: Activation, y: OpenCLBuffer, dy: OpenCLBuffer, dx: OpenCLBuffer, count: Int
    ) throws {
        try activation.validate()
        try ArgumentChecks.buffers(["y": y, "dy": dy, "dx": dx], hold: count)
        try launch(
            "elementwise", "activation_backward", global: [count],
            [.buffer(y), .buffer(dy), .buffer(dx), .int(count), .int(Int(activation.kernelCode)),
             .float(activation.slope)])
    }

    public func objective(
        _ objective: LogitObjective, logits: OpenCLBuffer, offset: Int, count: Int,
        losses: OpenCLBuffer, gradients: OpenCLBuffer, gradientScale: Float
    ) throws {
        try ArgumentChecks.objectiveRange(
            objective, logits: logits, offset: offset, count: count, losses: losses, gradients: gradients)
        try launch(
            "loss", "objective", global: [count],
            [.buffer(logits), .buffer(losses), .buffer(gradients), .int(offset), .int(count),
             .int(Int(objective.kernelCode)), .float(objective.parameter), .float(gradientScale)])
    }

    public func softmaxCrossEntropy(
        logits: OpenCLBuffer, labels: OpenCLBuffer, rows: Int, classes: Int,
        losses: OpenCLBuffer, gradients: OpenCLBuffer, gradientScale: Float
    ) throws {
        try ArgumentChecks.softmax(logits: logits, labels: labels, rows: rows, classes: classes, losses: losses, gradients: gradients)
        try launch(
            "loss", "softmax_cross_entropy", global: [rows],
            [.buffer(logits), .buffer(labels), .buffer(losses), .buffer(gradients), .int(rows), .int(classes),
             .float(gradientScale)])
    }

    public func adamStep(
        parameters: OpenCLBuffer, gradients: OpenCLBuffer, m: OpenCLBuffer, v: OpenCLBuffer, count: Int,
        hyper: AdamHyperparameters, step: Int
    ) throws {
        try ArgumentChecks.adam(parameters: parameters, gradients: gradients, m: m, v: v, count: count, step: step)
        let (c1, c2) = hyper.biasCorrections(step: step)
        // On CPU devices, 16 parameters per work-item run at memory speed; elsewhere one.
        try launch(
            "optim", tunables.cpuGEMM ? "adam_step_vector" : "adam_step",
            global: [tunables.cpuGEMM ? (count + 15) / 16 : count],
            [.buffer(parameters), .buffer(gradients), .buffer(m), .buffer(v), .int(count),
             .float(hyper.learningRate), .float(hyper.beta1), .float(hyper.beta2), .float(hyper.epsilon),
             .float(c1), .float(c2)])
    }

    public func sgdStep(
        parameters: OpenCLBuffer, gradients: OpenCLBuffer, velocity: OpenCLBuffer, count: Int,
        learningRate: Float, momentum: Float
    ) throws {
        try ArgumentChecks.buffers(["parameters": parameters, "gradients": gradients, "velocity": velocity], hold: count)
        try launch(
            "optim", "sgd_step", global: [count],
            [.buffer(parameters), .buffer(gradients), .buffer(velocity), .int(count),
             .float(learningRate), .float(momentum)])
    }

    public func rmspropStep(
        parameters: OpenCLBuffer, gradients: OpenCLBuffer, squareAverage: OpenCLBuffer, count: Int,
        hyper: RMSPropHyperparameters
    ) throws {
        try ArgumentChecks.buffers(["parameters": parameters, "gradients": gradients, "squareAverage": squareAverage], hold: count)
        try ArgumentChecks.rmsprop(hyper)
        try launch(
            "optim", "rmsprop_step", global: [count],
            [.buffer(parameters), .buffer(gradients), .buffer(squareAverage), .int(count),
             .float(hyper.learningRate), .float(hyper.decay), .float(hyper.epsilon)])
    }

    public func normalize(_ x: OpenCLBuffer, count: Int, norm: OpenCLBuffer) throws {
        try ArgumentChecks.buffer(x, holds: count, "x")
        try ArgumentChecks.buffer(norm, holds: 1, "norm")
        let group = tunables.reduceWorkGroup
        try launch("reduce", "normalize_vector", global: [group], local: [group], [.buffer(x), .int(count), .buffer(norm)])
    }

    public func divide(_ x: OpenCLBuffer, count: Int, by divisor: OpenCLBuffer, into out: OpenCLBuffer) throws {
        try ArgumentChecks.divide(x, count: count, divisor: divisor, out: out)
        try launch("elementwise", "divide", global: [count], [.buffer(x), .int(count), .buffer(divisor), .buffer(out)])
    }

    public func spectralNormGradient(
        _ gradient: OpenCLBuffer, normalizedWeight: OpenCLBuffer, rows: Int, columns: Int, left v: OpenCLBuffer,
        right u: OpenCLBuffer, sigma: OpenCLBuffer
    ) throws {
        try ArgumentChecks.spectralNormGradient(
            gradient, normalizedWeight: normalizedWeight, rows: rows, columns: columns, v: v, u: u, sigma: sigma)
        let group = tunables.reduceWorkGroup
        try launch(
            "reduce", "spectral_norm_gradient", global: [group], local: [group],
            [.buffer(gradient), .buffer(normalizedWeight), .int(rows), .int(columns), .buffer(v), .buffer(u), .buffer(sigma)])
    }

    public func dropout(_ x: OpenCLBuffer, uniforms: OpenCLBuffer, count: Int, rate: Float, into y: OpenCLBuffer) throws {
        try ArgumentChecks.dropout(x: x, uniforms: uniforms, count: count, rate: rate, y: y)
        try launch(
            "elementwise", "dropout", global: [count],
            [.buffer(x), .buffer(uniforms), .buffer(y), .int(count), .float(rate), .float(1 / (1 - rate))])
    }

    public func interpolateRows(
        real: OpenCLBuffer, fake: OpenCLBuffer, epsilon: OpenCLBuffer, rows: Int, columns: Int, into out: OpenCLBuffer
    ) throws {
        try ArgumentChecks.interpolateRows(real: real, fake: fake, epsilon: epsilon, rows: rows, columns: columns, out: out)
        try launch(
            "elementwise", "interpolate_rows", global: [rows * columns],
            [.buffer(real), .buffer(fake), .buffer(epsilon), .buffer(out), .int(rows), .int(columns)])
    }

    public func gradientPenalty(
        gradients: OpenCLBuffer, rows: Int, columns: Int, weight: Float, scale: Float,
        norms: OpenCLBuffer, losses: OpenCLBuffer, directions: OpenCLBuffer
    ) throws {
        try ArgumentChecks.gradientPenalty(
            gradients: gradients, rows: rows, columns: columns, norms: norms, losses: losses, directions: directions)
        let group = tunables.reduceWorkGroup
        try launch(
            "reduce", "gradient_penalty", global: [group, rows], local: [group, 1],
            [.buffer(gradients), .int(rows), .int(columns), .float(weight), .float(scale), .buffer(norms),
             .buffer(losses), .buffer(directions)])
    }

    // MARK: Convolution and normalisation

    private func geometryArguments(_ g: ConvolutionGeometry) -> [KernelArgument] {
        [.int(g.height), .int(g.width), .int(g.channels), .int(g.kernel), .int(g.stride), .int(g.padding),
         .int(g.outputHeight), .int(g.outputWidth)]
    }

    public func im2col(_ x: OpenCLBuffer, geometry g: ConvolutionGeometry, into columns: OpenCLBuffer) throws {
        try ArgumentChecks.im2col(images: x, columns: columns, geometry: g)
        try launch(
            "conv", "im2col", global: [g.channels, g.kernel * g.kernel, g.positions], label: profiling ? "im2col \(g)" : nil,
            [.buffer(x), .buffer(columns)] + geometryArguments(g))
    }

    public func col2im(_ columns: OpenCLBuffer, geometry g: ConvolutionGeometry, into x: OpenCLBuffer) throws {
        try ArgumentChecks.im2col(images: x, columns: columns, geometry: g)
        try launch(
            "conv", "col2im", global: [g.width, g.batch * g.height], label: profiling ? "col2im \(g)" : nil,
            [.buffer(columns), .buffer(x)] + geometryArguments(g))
    }

    /// A convolution's forward as one implicit GEMM (the `conv_rows` kernel): y (positions,
    /// n) = epilogue(im2col(x) · weights (patch, n)) without the column matrix, each
    /// patch entry read from the NHWC images as the GEMM needs it. Any device; local sizes
    /// as the GEMM's CPU kernel.
    public func convolutionImplicit(
        _ x: OpenCLBuffer, geometry g: ConvolutionGeometry, weights: OpenCLBuffer, outputChannels n: Int,
        into y: OpenCLBuffer, epilogue: GEMMEpilogue<OpenCLBuffer>
    ) throws {
        if let problem = g.problem { throw BackendError.invalidArgument("a convolution over \(problem)") }
        try ArgumentChecks.buffer(x, holds: g.imageElements, "the images")
        try ArgumentChecks.size(n, "the output channels")
        try ArgumentChecks.buffer(weights, holds: g.patchSize * n, "the weights")
        try ArgumentChecks.buffer(y, holds: g.positions * n, "the output")
        guard g.positions * n == 0 || (y !== x && y !== weights) else {
            throw BackendError.invalidArgument("a convolution's output must not alias its images or weights")
        }
        try ArgumentChecks.gemmEpilogue(epilogue, m: g.positions, n: n, a: x, b: weights, c: y)
        let fused: [KernelArgument]
        switch epilogue {
        case .none: fused = [.int(0), .buffer(x), .int(0), .float(0)]
        case .biasActivation(let bias, let activation):
            fused = [.int(1), .buffer(bias), .int(Int(activation.kernelCode)), .float(activation.slope)]
        default: throw BackendError.invalidArgument("the implicit convolution fuses a bias and activation only")
        }
        guard g.positions > 0, n > 0 else { return }
        let rowOrder = g.patchSize * n * MemoryLayout<Float>.stride > tunables.gemm.shareBAboveBytes
        let blocks = rowsGlobal(m: g.positions, n: n)
        let group = tunables.gemm.itemsPerGroup
        try launch(
            "gemm", "conv_rows", global: rowOrder ? [blocks[1], blocks[0]] : blocks,
            local: group > 0 ? [group, 1] : nil, label: profiling ? "conv_rows \(g) → \(n)" : nil,
            [.int(g.positions), .int(n), .int(g.patchSize), .float(1), .buffer(x), .buffer(weights), .float(0), .buffer(y)]
                + fused + [.int(rowOrder ? 1 : 0)] + geometryArguments(g))
    }

    public func batchNormStatistics(
        _ x: OpenCLBuffer, rows: Int, columns: Int, groups: Int, mean: OpenCLBuffer, variance: OpenCLBuffer,
        running: (mean: OpenCLBuffer, variance: OpenCLBuffer, momentum: Float)?
    ) throws {
        try ArgumentChecks.batchNormStatistics(
            x: x, rows: rows, columns: columns, groups: groups, mean: mean, variance: variance, running: running)
        // A work-item per block of rows and column, then a pass over the partials: every
        // core busy when a conv layer's few channels span many rows.
        let per = groups > 0 ? rows / groups : 0
        let blocks = (per + Self.normSumBlock - 1) / Self.normSumBlock
        try normScratchLock.withLock { _ in
            let partial = try scratch(\.normScratch, count: groups * blocks * columns)
            for squares in [0, 1] {
                try launch(
                    "conv", "batch_norm_partial_sums", global: [columns, groups * blocks],
                    [.buffer(x), .int(rows), .int(columns), .int(groups), .int(blocks), .int(squares), .buffer(mean),
                     .buffer(partial)])
                try launch(
                    "conv", "batch_norm_finish_statistics", global: [columns, groups],
                    [.buffer(partial), .int(rows), .int(columns), .int(groups), .int(blocks), .int(squares),
                     .buffer(mean), .buffer(variance), .int(running == nil ? 0 : 1),
                     .buffer(running?.mean ?? mean), .buffer(running?.variance ?? variance),
                     .float(running?.momentum ?? 0)])
            }
        }
    }

    /// conv.cl's SUM_BLOCK: the rows each partial sum of batch normalisation covers.
    static let normSumBlock = 128

    /// The scratch buffer at `slot`, grown to hold `count` floats and kept (call under
    /// the slot's lock).
    private func scratch(_ slot: ReferenceWritableKeyPath<OpenCLBackend, OpenCLBuffer?>, count: Int) throws -> OpenCLBuffer {
        if let buffer = self[keyPath: slot], buffer.count >= count { return buffer }
        let buffer = try makeBuffer(count: max(count, 1))
        self[keyPath: slot] = buffer
        return buffer
    }

    public func batchNormForward(
        _ x: OpenCLBuffer, rows: Int, columns: Int, groups: Int, mean: OpenCLBuffer, variance: OpenCLBuffer,
        epsilon: Float, gamma: OpenCLBuffer, beta: OpenCLBuffer, activation: Activation, into y: OpenCLBuffer
    ) throws {
        try activation.validate()
        try ArgumentChecks.batchNorm(
            x: x, rows: rows, columns: columns, groups: groups, statistics: [mean, variance], vectors: [gamma, beta],
            matrices: [y])
        try launch(
            "conv", "batch_norm_forward", global: [columns, rows],
            [.buffer(x), .int(rows), .int(columns), .int(groups), .buffer(mean), .buffer(variance), .float(epsilon),
             .buffer(gamma), .buffer(beta), .int(Int(activation.kernelCode)), .float(activation.slope), .buffer(y)])
    }

    public func batchNormBackward(
        _ x: OpenCLBuffer, outputGradient dz: OpenCLBuffer, rows: Int, columns: Int, groups: Int, mean: OpenCLBuffer,
        variance: OpenCLBuffer, epsilon: Float, gamma: OpenCLBuffer, gammaGradient: OpenCLBuffer,
        betaGradient: OpenCLBuffer, inputGradient dx: OpenCLBuffer, below: Activation
    ) throws {
        try ArgumentChecks.batchNormBackward(
            x: x, dz: dz, rows: rows, columns: columns, groups: groups, mean: mean, variance: variance, gamma: gamma,
            gammaGradient: gammaGradient, betaGradient: betaGradient, dx: dx, below: below)
        guard rows > 0 else {
            try fill(gammaGradient, with: 0, count: columns)
            try fill(betaGradient, with: 0, count: columns)
            return
        }
        // Partial sums per block of rows, the group sums from them, then dx element by
        // element.
        let per = rows / groups
        let blocks = (per + Self.normSumBlock - 1) / Self.normSumBlock
        try normScratchLock.withLock { _ in
            let partial = try scratch(\.normScratch, count: 2 * groups * blocks * columns)
            let sums = try scratch(\.normSums, count: 2 * groups * columns)
            try launch(
                "conv", "batch_norm_backward_partials", global: [columns, groups * blocks],
                [.buffer(x), .buffer(dz), .int(rows), .int(columns), .int(groups), .int(blocks), .buffer(mean),
                 .buffer(variance), .float(epsilon), .buffer(partial)])
            try launch(
                "conv", "batch_norm_backward_sums", global: [columns],
                [.buffer(partial), .int(columns), .int(groups), .int(blocks), .buffer(sums), .buffer(gammaGradient),
                 .buffer(betaGradient)])
            try launch(
                "conv", "batch_norm_backward_dx", global: [columns, rows],
                [.buffer(x), .buffer(dz), .int(rows), .int(columns), .int(groups), .buffer(mean), .buffer(variance),
                 .float(epsilon), .buffer(gamma), .buffer(sums), .buffer(dx), .int(Int(below.kernelCode)),
                 .float(below.slope)])
        }
    }

    public func layerNormForward(
        _ x: OpenCLBuffer, rows: Int, columns: Int, epsilon: Float, gamma: OpenCLBuffer, beta: OpenCLBuffer,
        activation: Activation, mean: OpenCLBuffer, variance: OpenCLBuffer, into y: OpenCLBuffer
    ) throws {
        try ArgumentChecks.layerNormForward(
            x: x, rows: rows, columns: columns, gamma: gamma, beta: beta, activation: activation, mean: mean,
            variance: variance, y: y)
        guard rows > 0, columns > 0 else { return }
        let group = tunables.reduceWorkGroup
        try launch(
            "reduce", "layer_norm_forward", global: [group, rows], local: [group, 1],
            [.buffer(x), .int(rows), .int(columns), .float(epsilon), .buffer(gamma), .buffer(beta),
             .int(Int(activation.kernelCode)), .float(activation.slope), .buffer(mean), .buffer(variance), .buffer(y)])
    }

    public func layerNormBackward(
        _ x: OpenCLBuffer, outputGradient dz: OpenCLBuffer, rows: Int, columns: Int, mean: OpenCLBuffer,
        variance: OpenCLBuffer, epsilon: Float, gamma: OpenCLBuffer, gammaGradient: OpenCLBuffer,
        betaGradient: OpenCLBuffer, inputGradient dx: OpenCLBuffer, below: Activation
    ) throws {
        try ArgumentChecks.layerNormBackward(
            x: x, dz: dz, rows: rows, columns: columns, mean: mean, variance: variance, gamma: gamma,
            gammaGradient: gammaGradient, betaGradient: betaGradient, dx: dx, below: below)
        guard columns > 0 else { return }
        try launch(
            "reduce", "layer_norm_parameter_gradients", global: [columns],
            [.buffer(x), .buffer(dz), .int(rows), .int(columns), .buffer(mean), .buffer(variance), .float(epsilon),
             .buffer(gammaGradient), .buffer(betaGradient)])
        guard rows > 0 else { return }
        let group = tunables.reduceWorkGroup
        try launch(
            "reduce", "layer_norm_input_gradient", global: [group, rows], local: [group, 1],
            [.buffer(x), .buffer(dz), .int(rows), .int(columns), .buffer(mean), .buffer(variance), .float(epsilon),
             .buffer(gamma), .buffer(dx), .int(Int(below.kernelCode)), .float(below.slope)])
    }

    public func uniform(_ x: OpenCLBuffer, count: Int, seed: UInt64, counter: UInt64) throws {
        try ArgumentChecks.buffer(x, holds: count, "x")
        try launch("random", "philox_uniform", global: [randomWorkItems(count)], [.buffer(x), .int(count)] + key(seed, counter))
    }

    public func normal(
        _ x: OpenCLBuffer, count: Int, seed: UInt64, counter: UInt64, mean: Float, std: Float
    ) throws {
        try ArgumentChecks.buffer(x, holds: count, "x")
        try launch(
            "random", "philox_normal", global: [randomWorkItems(count)],
            [.buffer(x), .int(count)] + key(seed, counter) + [.float(mean), .float(std)])
    }

    public func gumbel(_ x: OpenCLBuffer, count: Int, seed: UInt64, counter: UInt64) throws {
        try ArgumentChecks.buffer(x, holds: count, "x")
        try launch("random", "philox_gumbel", global: [randomWorkItems(count)], [.buffer(x), .int(count)] + key(seed, counter))
    }

    /// random.cl's work-items for a draw of `count`: each computes 16 Philox blocks.
    private func randomWorkItems(_ count: Int) -> Int {
        (Int(Philox.blocks(count)) + 15) / 16
    }

    private func key(_ seed: UInt64, _ counter: UInt64) -> [KernelArgument] {
        [.uint(UInt32(truncatingIfNeeded: seed)), .uint(UInt32(truncatingIfNeeded: seed >> 32)),
         .uint(UInt32(truncatingIfNeeded: counter)), .uint(UInt32(truncatingIfNeeded: counter >> 32))]
    }
}

extension GEMMEpilogue {
    /// Whether the epilogue needs all of k in one pass (column sums of op(B), and the Adam
    /// step whose bias gradient they are), so that the GEMM cannot go in chunks of k.
    var readsAllOfK: Bool {
        switch self {
        case .none, .biasActivation, .activationGradient: false
        case .columnSums, .adamStep: true
        }
    }
}
