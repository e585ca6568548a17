import ComputeBackend
import Foundation

/// A CSV table as training data (`gan-cl train --data table.csv`): its rows encoded by a
/// `TableTransform` fitted on the training rows, each example a row's encoded vector.
///
/// A held-out part (`--holdout file.csv`, or a seeded `--holdout-fraction` of the rows
/// split off before anything is fitted) is kept out of training for the privacy and
/// usefulness checks of the evaluation.
///
/// With categorical columns the data is labelled for a conditional generator (CTGAN's
/// conditional vector): the classes are every categorical column's categories one after
/// another, and training-by-sampling draws each real row by first choosing a categorical
/// column uniformly, then one of its categories with probability proportional to the log
/// of its frequency (so rare categories are seen), then a row with that category
/// (`drawConditioned`).
public struct TableDataset: Dataset {
    public struct Options: Equatable, Sendable {
        public var categorical: Set<String> = []
        public var numeric: Set<String> = []
        public var holdout: String?
        public var holdoutFraction = 0.0
        public var target: String?
        public init(
            categorical: Set<String> = [], numeric: Set<String> = [], holdout: String? = nil, holdoutFraction: Double = 0,
            target: String? = nil
        ) {
            self.categorical = categorical
            self.numeric = numeric
            self.holdout = holdout
            self.holdoutFraction = holdoutFraction
            self.target = target
        }
    }

    public let path: String
    /// The rows trained on, and the held-out ones.
    public let training: Table
    public let holdout: Table?
    public let transform: TableTransform
    /// training.rows.count × transform.width.
    public let encoded: [Float]
    public let target: String?
    /// Per class (see the type's note), the training rows with that category.
    private let rowsOfClass: [[Int]]
    /// Per categorical column, its classes' cumulative sampling probabilities (log
    /// frequency) and cumulative raw frequencies.
    private let logCumulative: [[Double]]
    private let rawCumulative: [[Double]]

    /// Whether `spec` names a CSV table.
    public static func isTable(_ spec: String) -> Bool { spec.lowercased().hasSuffix(".csv") }

    /// Reads and fits `path`; `seed` splits off the holdout fraction and draws each
    /// value's mode in the encoding.
    public init(path: String, options: Options = .init(), seed: UInt64) throws {
        let table = try Table.read(path)
        var training = table
        var holdout: Table?
        if let file = options.holdout {
            let rows = try Table.read(file)
            guard rows.header == table.header else {
                throw GANError("--holdout \(file): its columns \(rows.header) are not those of \(path) \(table.header)")
            }
            holdout = rows
        } else if options.holdoutFraction > 0 {
            // A seeded shuffle; the last fraction of it is held out, in the table's order.
            var order = Array(table.rows.indices)
            var generator = SplitMix64(seed: RandomStream.data.key(seed: seed) ^ 0x4801_D0C7)
            for i in stride(from: order.count - 1, to: 0, by: -1) {
                order.swapAt(i, Int(generator.next() % UInt64(i + 1)))
            }
            let held = Int((Double(order.count) * options.holdoutFraction).rounded())
            guard held >= 1, held < order.count - 1 else {
                throw GANError("--holdout-fraction \(options.holdoutFraction) of \(order.count) rows leaves no holdout or no training rows")
            }
            let heldRows = Set(order.suffix(held))
            training = Table(header: table.header, rows: table.rows.indices.filter { !heldRows.contains($0) }.map { table.rows[$0] })
            holdout = Table(header: table.header, rows: table.rows.indices.filter { heldRows.contains($0) }.map { table.rows[$0] })
        }
        if let target = options.target {
            guard table.header.contains(target) else {
                throw GANError("--target: \(path) has no column '\(target)' (columns: \(table.header.joined(separator: ", ")))")
            }
            guard holdout != nil else { throw GANError("--target measures usefulness on held-out rows: give --holdout or --holdout-fraction") }
        }
        let transform = try TableTransform(
            fitting: training, categorical: options.categorical, numeric: options.numeric, path: path)
        try self.init(
            path: path, training: training, holdout: holdout, transform: transform, target: options.target, seed: seed)
    }

    /// The dataset of `training` rows under a fitted `transform`.
    public init(path: String, training: Table, holdout: Table?, transform: TableTransform, target: String?, seed: UInt64) throws {
        guard training.rows.count >= 2 else { throw GANError("\(path): a table needs at least 2 rows to train on") }
        self.path = path
        self.training = training
        self.holdout = holdout
        self.transform = transform
        self.target = target
        encoded = try transform.encode(training, seed: RandomStream.data.key(seed: seed), path: path)
        let spans = transform.categoricalSpans
        var rowsOfClass = [[Int]](repeating: [], count: transform.conditionClasses)
        let width = transform.width
        for span in spans {
            for r in training.rows.indices {
                let base = r * width + span.start
                for k in 0..<span.count where encoded[base + k] == 1 { rowsOfClass[span.first + k].append(r) }
            }
        }
        self.rowsOfClass = rowsOfClass
        func cumulative(_ weights: [Double]) -> [Double] {
            let total = weights.reduce(0, +)
            var sum = 0.0
            return weights.map { sum += $0; return sum / total }
        }
        logCumulative = spans.map { span in cumulative((0..<span.count).map { log(Double(rowsOfClass[span.first + $0].count) + 1) }) }
        rawCumulative = spans.map { span in cumulative((0..<span.count).map { Double(rowsOfClass[span.first + $0].count) }) }
    }

    public var count: Int { training.rows.count }
    public var features: Int { transform.width }
    public var layout: (rows: Int, columns: Int) { (1, transform.width) }
    public var summary: String {
        let categorical = transform.columns.filter { $0.kind == .categorical }.count
        return "\(count) rows of \(path) (\(transform.columns.count - categorical) numeric, \(categorical) categorical columns → \(transform.width) features)"
            + (holdout.map { ", \($0.rows.count) held out" } ?? "")
    }

    public func fill(_ indices: ArraySlice<Int>, into out: UnsafeMutableBufferPointer<Float>) {
        let width = transform.width
        encoded.withUnsafeBufferPointer { source in
            for (row, index) in indices.enumerated() {
                for j in 0..<width { out[row * width + j] = source[index * width + j] }
            }
        }
    }

    /// Labelled when some column is categorical (with two categories at least).
    public var classes: Int { transform.conditionClasses >= 2 ? transform.conditionClasses : 0 }
    public var classNames: [String] {
        transform.categoricalSpans.flatMap { span in
            transform.columns[span.column].categories.map { "\(transform.columns[span.column].name)=\($0.isEmpty ? "(missing)" : $0)" }
        }
    }
    /// The class of the row's first categorical column.
    public func label(_ index: Int) -> Int {
        guard let span = transform.categoricalSpans.first else { return 0 }
        let base = index * transform.width + span.start
        return span.first + ((0..<span.count).first { encoded[base + $0] == 1 } ?? 0)
    }

    public var conditionedSampling: Bool { classes >= 2 }

    /// Training-by-sampling (see the type's note) from three uniforms in [0, 1).
    public func drawConditioned(_ u: Float, _ v: Float, _ w: Float) -> (index: Int, label: Int) {
        let spans = transform.categoricalSpans
        let s = min(Int(Double(u) * Double(spans.count)), spans.count - 1)
        let k = logCumulative[s].firstIndex { Double(v) < $0 } ?? spans[s].count - 1
        let rows = rowsOfClass[spans[s].first + k]
        // Every category has a row (the transform was fitted on these rows).
        let index = rows[min(Int(Double(w) * Double(rows.count)), rows.count - 1)]
        return (index, spans[s].first + k)
    }

    /// CTGAN's conditions for sampling: a categorical column uniformly, then a category by
    /// its frequency in the data.
    public func samplingClasses(count: Int, key: UInt64) -> [Int]? {
        guard classes >= 2 else { return nil }
        return Self.samplingClasses(count: count, key: key, transform: transform)
    }

    /// `samplingClasses` from a transform's stored counts (a checkpoint's).
    public static func samplingClasses(count: Int, key: UInt64, transform: TableTransform) -> [Int] {
        let spans = transform.categoricalSpans
        var uniforms = [Float](repeating: 0, count: 2 * count)
        uniforms.withUnsafeMutableBufferPointer { Philox.fillUniform($0, seed: key, counter: 0) }
        return (0..<count).map { i in
            let s = min(Int(Double(uniforms[2 * i]) * Double(spans.count)), spans.count - 1)
            let counts = transform.columns[spans[s].column].counts.map(Double.init)
            let total = counts.reduce(0, +)
            var sum = 0.0
            let v = Double(uniforms[2 * i + 1]) * total
            let k = counts.firstIndex { sum += $0; return v < sum } ?? spans[s].count - 1
            return spans[s].first + k
        }
    }

    public var previewCount: Int { 1000 }

    /// The first rows of a sample as a CSV file (samples/step-N.csv).
    public func writePreview(_ samples: [Float], step: Int, in directory: RunDirectory) throws {
        let table = transform.decode(samples, rows: samples.count / transform.width)
        try writeAtomically(Array(table.csv().utf8), to: directory.samplePath(step: step, extension: "csv"))
    }

    /// As many rows as the training table, up to 5,000.
    public var evaluationSamples: Int { min(count, 5000) }

    /// Fidelity against the training rows, and with a holdout privacy (and usefulness for
    /// a target column): `TableEvaluation`.
    public func evaluator<B: ComputeBackend>(
        on backend: B, classifierPath: String, config: RunConfig
    ) -> ([Float], [Int]?, UInt64) throws -> EvaluationResult {
        { samples, _, _ in
            let synthetic = transform.decode(samples, rows: samples.count / transform.width)
            return .table(try TableEvaluation(
                real: training, synthetic: synthetic, holdout: holdout, target: target, transform: transform))
        }
    }
}
