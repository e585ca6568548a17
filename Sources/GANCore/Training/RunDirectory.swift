import Foundation

/// A run's directory (DESIGN.md): config.json, metrics.csv, curves.svg,
/// samples/step-NNNNNN.png, checkpoints/step-NNNNNN.safetensors.
public final class RunDirectory {
    public let path: String

    /// metrics.csv's evaluation columns, empty on rows without an evaluation and on
    /// those that do not apply to the data (images or a 2-D mixture).
    public static let evaluationColumns = [
        "fd_fmnist", "kid", "precision", "recall", "density", "coverage", "classes_covered", "modes_covered",
        "high_quality", "mode_kl", "fidelity", "pair_fidelity", "dcr_share", "exact_copies", "usefulness",
    ]

    /// metrics.csv's loss-specific columns, empty where the loss has no such figure: the
    /// critic's Wasserstein estimate E[D(x)] − E[D(G(z))] (wgan, wgan-gp), and the mean
    /// gradient penalty and mean ‖∇ₓD(x̂)‖ (wgan-gp).
    public static let lossColumns = ["wasserstein", "gradient_penalty", "gradient_norm"]

    /// The collapse watchdog's diversity at each log step (see `DiversityProbe`), last:
    /// rows from before it have one column fewer.
    public static let watchdogColumns = ["diversity"]

    /// d_real and d_fake are mean probabilities D(x) and D(G(z)) for bce, mean raw
    /// scores for the other losses.
    public static let metricsHeader = "step,epoch,d_loss,g_loss,d_real,d_fake,images_per_second,elapsed_seconds,"
        + (evaluationColumns + lossColumns + watchdogColumns).joined(separator: ",")

    /// Opens `path`, creating it and its folders, and proves it writable by writing a
    /// probe file, so a bad --out fails before any training.
    public init(creating path: String) throws {
        self.path = path
        for folder in [path, "\(path)/samples", "\(path)/checkpoints"] {
            try Self.makeDirectories(folder, for: path)
        }
        try probe()
    }

    /// Opens an existing run directory to resume it (making its samples/ again if it
    /// was removed).
    public init(existing path: String) throws {
        guard isDirectory(path) else { throw GANError("--resume: \(path) is not a run directory") }
        self.path = path
        try Self.makeDirectories("\(path)/samples", for: path)
        try probe()
    }

    /// Writes and removes a small file, so an unwritable or full directory fails now.
    private func probe() throws {
        try writeAtomically(Array("probe\n".utf8), to: "\(path)/.write-probe")
        unlink("\(path)/.write-probe")
    }

    /// mkdir -p, with the system's reason when a component cannot be made.
    private static func makeDirectories(_ folder: String, for run: String) throws {
        var built = folder.hasPrefix("/") ? "" : "."
        for component in folder.split(separator: "/") {
            built += "/\(component)"
            if mkdir(built, 0o755) != 0 && errno != EEXIST {
                throw GANError("cannot create run directory \(run): \(built): \(String(cString: strerror(errno)))")
            }
            guard isDirectory(built) else {
                throw GANError("cannot create run directory \(run): \(built) exists and is not a directory")
            }
        }
    }

    // MARK: - Files

    public func writeConfig(_ config: RunConfig) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(Array(try encoder.encode(config)) + [0x0A], to: "\(path)/config.json")
    }

    public func samplePath(step: Int, extension: String = "png") -> String {
        "\(path)/samples/step-\(Self.number(step)).\(`extension`)"
    }
    public func checkpointPath(step: Int) -> String { "\(path)/checkpoints/step-\(Self.number(step)).safetensors" }

    private static func number(_ step: Int) -> String {
        let digits = String(step)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// Appends one row to metrics.csv, writing the header first into a new file; returns
    /// the row's columns that have a value (all but step), for TensorBoard.
    @discardableResult
    public func appendMetrics(
        step: Int, epoch: Int, _ m: StepMetrics, imagesPerSecond: Double, elapsed: Double, evaluation: [String: Double] = [:]
    ) throws -> [(tag: String, value: Double)] {
        let file = "\(path)/metrics.csv"
        var text = fileExists(file) ? "" : Self.metricsHeader + "\n"
        text += String(format: "%d,%d,%.6f,%.6f,%.6f,%.6f,%.1f,%.3f", step, epoch, m.discriminatorLoss, m.generatorLoss,
                       m.realScore, m.fakeScore, imagesPerSecond, elapsed)
        var columns: [(tag: String, value: Double)] = [
            ("epoch", Double(epoch)), ("d_loss", Double(m.discriminatorLoss)), ("g_loss", Double(m.generatorLoss)),
            ("d_real", Double(m.realScore)), ("d_fake", Double(m.fakeScore)), ("images_per_second", imagesPerSecond),
            ("elapsed_seconds", elapsed),
        ]
        let optional = Self.evaluationColumns.map { ($0, evaluation[$0]) }
            + zip(Self.lossColumns + Self.watchdogColumns, [m.wasserstein, m.gradientPenalty, m.gradientNorm, m.diversity])
        for (column, value) in optional {
            text += "," + (value.map { String(format: "%.6g", $0) } ?? "")
            if let value { columns.append((column, value)) }
        }
        text += "\n"
        guard let handle = FileHandle(forWritingAtPath: file) ?? {
            FileManager.default.createFile(atPath: file, contents: nil)
            return FileHandle(forWritingAtPath: file)
        }() else { throw GANError("cannot write \(file)") }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        return columns
    }

    /// The loss history in metrics.csv, up to and including `step` (rows past it are
    /// from before a resume and are dropped).
    public func lossHistory(through step: Int) -> [LossCurve.Point] {
        guard let text = try? String(contentsOfFile: "\(path)/metrics.csv", encoding: .utf8) else { return [] }
        let lines = text.split(separator: "\n")
        let header = lines.first.map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) } ?? []
        return lines.dropFirst().compactMap { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            guard f.count >= 4, let s = Int(f[0]), s <= step, let d = Double(f[2]), let g = Double(f[3]) else { return nil }
            var evaluation: [String: Double] = [:]
            for (column, field) in zip(header, f) where Self.evaluationColumns.contains(column) {
                if let value = Double(field) { evaluation[column] = value }
            }
            return LossCurve.Point(step: s, discriminatorLoss: d, generatorLoss: g, evaluation: evaluation)
        }
    }

    public func writeCurves(_ points: [LossCurve.Point]) throws {
        try writeAtomically(Array(LossCurve.svg(points).utf8), to: "\(path)/curves.svg")
    }

    // MARK: - Checkpoints

    /// Writes a checkpoint atomically, then removes all but the newest `keep`.
    public func saveCheckpoint(_ bytes: [UInt8], step: Int, keep: Int) throws {
        try writeAtomically(bytes, to: checkpointPath(step: step))
        for old in checkpoints().dropLast(keep) { unlink(old) }
    }

    /// Checkpoint files, oldest first.
    public func checkpoints() -> [String] {
        let folder = "\(path)/checkpoints"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasPrefix("step-") && $0.hasSuffix(".safetensors") }.sorted().map { "\(folder)/\($0)" }
    }

    public func newestCheckpoint() -> String? { checkpoints().last }
}

extension RunDirectory {
    /// Writes eval.json: the newest evaluation's metrics, with the step, sample count and seed.
    public func writeEvaluation(_ result: EvaluationResult, step: Int, samples: Int, seed: UInt64) throws {
        let body: Data
        switch result {
        case .images(let e): body = try JSONEncoder().encode(e)
        case .mixture(let m): body = try JSONEncoder().encode(m)
        case .table(let t): body = try JSONEncoder().encode(t)
        }
        guard var fields = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw GANError("cannot encode the evaluation")
        }
        fields["step"] = step
        fields["samples"] = samples
        fields["seed"] = seed
        fields["data"] = result.dataName
        let text = try JSONSerialization.data(withJSONObject: fields, options: [.prettyPrinted, .sortedKeys])
        try writeAtomically(Array(text) + [0x0A], to: "\(path)/eval.json")
    }
}
