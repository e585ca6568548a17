import ArgumentParser
import ComputeBackend
import Foundation
import GANCore

/// `gan-cl sample`
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw images from a checkpoint's generator.",
        discussion: """
            The output's extension chooses the format: .png (a grid 8 images wide), .npy \
            (float32, count × pixels, values in [-1, 1]) or .csv (one image per line); for a \
            2-D mixture's checkpoint .svg (a scatter plot over the modes), .npy or .csv (N×2). \
            A table's checkpoint writes .csv rows in the table's own format (its columns in \
            order, integers as integers, its category labels, values inside each column's \
            observed range); --condition column=value draws rows with that category only.

            A conditional checkpoint (trained with --conditional) draws the classes --class \
            names: one class by number or name, or all (the default: an equal share of each, \
            in class order). Its .png has one row per class, labelled with the class number; \
            .npy and .csv outputs get the classes beside them in X.labels.npy (int64).

            Example:
              gan-cl sample --checkpoint runs/fmnist/checkpoints/step-018740.safetensors --count 64 --out grid.png
              gan-cl sample --checkpoint runs/cgan/checkpoints/step-004685.safetensors --class 7 --count 100 --out sneakers.npy
              gan-cl sample --checkpoint runs/diamonds/checkpoints/step-032000.safetensors --count 10000 --out synthetic.csv --condition cut=Fair
            """)

    @Option(help: "A checkpoint written by gan-cl train.") var checkpoint: String
    @Option(help: "How many images.") var count: Int = 64
    @Option(help: "Seed of the noise: the same seed gives the same images.") var seed: UInt64 = 0
    @Option(help: "Output file: .png, .npy or .csv.") var out: String
    @Option(help: "Draw from these noise vectors (.npy, float32 N×noise-dim) instead of seeded ones; --count is N.") var noise: String?
    @Option(name: .customLong("class"), help: "A conditional checkpoint's class to draw: a number, a name (Sneaker), or all (default: all).") var classChoice: String?
    @Flag(help: "Sample from the generator's raw weights, not its moving average (for a checkpoint trained with --ema).") var noEma = false
    @Option(help: "Latent interpolation: --count rows, each walking in this many steps (2 to 64) between two seeded noise vectors (slerp).") var interpolate: Int?
    @Option(help: "A table's checkpoint: draw rows with this category, as column=value (e.g. cut=Fair).") var condition: String?
    @Flag(help: "A table's checkpoint: let numbers leave the range each column had in the training table (default: clamped to it).") var unclamped = false
    @OptionGroup var target: BackendOptions

    func run() throws {
        try reportingErrors {
            let format = (out as NSString).pathExtension.lowercased()
            guard ["png", "npy", "csv", "svg"].contains(format) else {
                throw GANError("--out \(out): the extension must be .png, .npy or .csv (.svg for 2-D data)")
            }
            guard count >= 1 else { throw GANError("--count must be at least 1, got \(count)") }
            let loaded = try Checkpoint.load(checkpoint)
            if let table = loaded.table {
                try sampleTable(table, loaded: loaded, format: format)
                return
            }
            if let condition { throw GANError("--condition \(condition): \(loaded.path) is not a table's checkpoint (use --class)") }
            let given = try noise.map { path -> NPYFile in
                let file = try NPYFile.read(path)
                guard file.elementType == .float32, file.columns == loaded.config.noiseDim, file.rows >= 1 else {
                    throw GANError("--noise \(path): the checkpoint's generator takes float32 N×\(loaded.config.noiseDim) noise, got \(file.elementType.rawValue) \(file.rows)×\(file.columns)")
                }
                return file
            }
            if loaded.config.mixture != nil ? format == "png" : format == "svg" {
                throw GANError("--out \(out): .\(format) is for \(format == "png" ? "images; a 2-D checkpoint writes .svg" : "2-D data; an image checkpoint writes .png")")
            }
            if let steps = interpolate {
                guard (2...64).contains(steps) else { throw GANError("--interpolate takes 2 to 64 steps, got \(steps)") }
                guard noise == nil else { throw GANError("--interpolate draws its own noise: leave out --noise") }
                // Each row keeps its class (with --class all, row i is of class i mod classes).
                let all = (classChoice ?? "all").lowercased() == "all"
                let labels = try Self.classes(classChoice, count: count, loaded: loaded).map { perRow in
                    (0..<count).flatMap { row in Array(repeating: all ? row % (loaded.classes ?? 1) : perRow[row], count: steps) }
                }
                let walk = Self.interpolation(rows: count, steps: steps, width: loaded.config.noiseDim, seed: seed)
                try withBackend(target.backend, device: target.device) { backend in
                    let images = try draw(on: backend, from: loaded, noise: walk, labels: labels)
                    try write(images, count: count * steps, loaded: loaded, format: format, labels: labels, across: steps)
                }
                return
            }
            let n = given?.rows ?? count
            let labels = try Self.classes(classChoice, count: n, loaded: loaded)
            try withBackend(target.backend, device: target.device) { backend in
                let images = try draw(on: backend, from: loaded, noise: given?.values, labels: labels)
                try write(images, count: n, loaded: loaded, format: format, labels: labels)
            }
        }
    }

    /// Noise for `rows` walks of `steps` each: two Philox normal vectors per row (keyed by
    /// the sampling stream of `seed`) and the spherical interpolation between them,
    /// slerp(a, b, t) = sin((1−t)θ)/sin θ · a + sin(tθ)/sin θ · b at t = 0, 1/(steps−1), …, 1,
    /// which keeps the norms a Gaussian's vectors have (a straight line would pass near 0).
    static func interpolation(rows: Int, steps: Int, width: Int, seed: UInt64) -> [Float] {
        var ends = [Float](repeating: 0, count: 2 * rows * width)
        ends.withUnsafeMutableBufferPointer {
            Philox.fillNormal($0, seed: RandomStream.sampling.key(seed: seed), counter: 0, mean: 0, std: 1)
        }
        var walk: [Float] = []
        walk.reserveCapacity(rows * steps * width)
        for row in 0..<rows {
            let a = ends[(2 * row * width)..<((2 * row + 1) * width)].map(Double.init)
            let b = ends[((2 * row + 1) * width)..<((2 * row + 2) * width)].map(Double.init)
            let dot = zip(a, b).reduce(0.0) { $0 + $1.0 * $1.1 }
            let norms = (a.reduce(0.0) { $0 + $1 * $1 } * b.reduce(0.0) { $0 + $1 * $1 }).squareRoot()
            let theta = acos(min(1, max(-1, dot / max(norms, 1e-30))))
            for step in 0..<steps {
                let t = Double(step) / Double(steps - 1)
                let (wa, wb) = theta < 1e-6 ? (1 - t, t) : (sin((1 - t) * theta) / sin(theta), sin(t * theta) / sin(theta))
                walk += zip(a, b).map { Float(wa * $0 + wb * $1) }
            }
        }
        return walk
    }

    /// The class of each of `count` samples for `choice` (nil: all, for a conditional
    /// checkpoint); nil for an unconditional one. All: equal shares in class order, the
    /// first classes one more when `count` does not divide.
    static func classes(_ choice: String?, count: Int, loaded: Checkpoint.Loaded) throws -> [Int]? {
        guard let classes = loaded.classes else {
            if let choice { throw GANError("--class \(choice): \(loaded.path) is not conditional (train with --conditional to draw classes)") }
            return nil
        }
        let text = (choice ?? "all").trimmingCharacters(in: .whitespaces)
        if text.lowercased() == "all" {
            return (0..<classes).flatMap { c in Array(repeating: c, count: count / classes + (c < count % classes ? 1 : 0)) }
        }
        if let number = Int(text) {
            guard (0..<classes).contains(number) else {
                throw GANError("--class \(text): the checkpoint has \(classes) classes, 0 to \(classes - 1)")
            }
            return Array(repeating: number, count: count)
        }
        if let named = loaded.classNames.firstIndex(where: { $0.lowercased() == text.lowercased() }) {
            return Array(repeating: named, count: count)
        }
        throw GANError("--class \(text): not a class of the checkpoint (0 to \(classes - 1), a name such as \(loaded.classNames.first ?? "0"), or all)")
    }

    /// A table's rows: conditions drawn as in training's sampling (a categorical column
    /// uniformly, then a category by its frequency), or all one category with
    /// `--condition`, whose rows are kept only when they have it (drawn in rounds until
    /// there are --count of them).
    private func sampleTable(_ table: TableTransform, loaded: Checkpoint.Loaded, format: String) throws {
        guard format == "csv" else { throw GANError("--out \(out): a table's checkpoint writes .csv rows") }
        if let classChoice { throw GANError("--class \(classChoice): a table's checkpoint takes --condition column=value") }
        if interpolate != nil { throw GANError("--interpolate is for images") }
        if noise != nil, condition != nil { throw GANError("--noise and --condition cannot be combined: --condition draws its own noise") }
        var wanted: (column: Int, category: String, label: Int)?
        if let condition {
            guard let equals = condition.firstIndex(of: "="), equals != condition.startIndex else {
                throw GANError("--condition \(condition): give it as column=value, such as cut=Fair")
            }
            let name = String(condition[..<equals]), value = String(condition[condition.index(after: equals)...])
            let label = try table.conditionClass(column: name, value: value)
            guard loaded.classes != nil else {
                throw GANError("--condition: \(loaded.path) was trained without conditions (--no-conditional)")
            }
            wanted = (table.columns.firstIndex { $0.name == name }!, TableTransform.isMissing(value) ? "" : value, label)
        }
        let given = try noise.map { path -> [Float] in
            let file = try NPYFile.read(path)
            guard file.elementType == .float32, file.columns == loaded.config.noiseDim, file.rows >= 1 else {
                throw GANError("--noise \(path): the checkpoint's generator takes float32 N×\(loaded.config.noiseDim) noise, got \(file.elementType.rawValue) \(file.rows)×\(file.columns)")
            }
            return file.values
        }
        let n = given.map { $0.count / loaded.config.noiseDim } ?? count
        try withBackend(target.backend, device: target.device) { backend in
            try writeTable(on: backend, table, loaded: loaded, wanted: wanted, given: given, n: n)
        }
    }

    private func writeTable<B: ComputeBackend>(
        on backend: B, _ table: TableTransform, loaded: Checkpoint.Loaded, wanted: (column: Int, category: String, label: Int)?,
        given: [Float]?, n: Int
    ) throws {
        do {
            let generator = try Checkpoint.generator(from: loaded, on: backend, average: !noEma)
            let sampler = try ImageSampler(generator: generator, chunk: min(n, 500))
            let key = RandomStream.sampling.key(seed: seed)
            func labels(_ rows: Int, round: UInt64) -> [Int]? {
                guard loaded.classes != nil else { return nil }
                if let wanted { return Array(repeating: wanted.label, count: rows) }
                return TableDataset.samplingClasses(count: rows, key: key ^ (round &+ 1) &* 0x9E37_79B9_7F4A_7C15, transform: table)
            }
            if let given {
                let rows = table.decode(try sampler.sample(noise: given, classes: labels(n, round: 0)), rows: n, clamp: !unclamped)
                try writeAtomically(Array(rows.csv().utf8), to: out)
                say("wrote \(n) rows to \(out)")
                return
            }
            var kept: [[String]] = []
            var drawn = 0
            var round: UInt64 = 0
            while kept.count < n {
                let rows = min(max(2 * (n - kept.count), 256), 100_000)
                let roundKey = round == 0 ? key : key ^ (round &* 0xD1B5_4A32_D192_ED03)
                let decoded = table.decode(try sampler.sample(count: rows, key: roundKey, classes: labels(rows, round: round)), rows: rows, clamp: !unclamped)
                drawn += rows
                kept += wanted.map { w in decoded.rows.filter { $0[w.column] == w.category } } ?? decoded.rows
                round += 1
                if let wanted, round >= 20, kept.count < n {
                    throw GANError("--condition \(condition!): the generator drew \(table.columns[wanted.column].name) = \(wanted.category) in only \(kept.count) of \(drawn) rows; train longer, or ask for fewer")
                }
            }
            try writeAtomically(Array(Table(header: table.columns.map(\.name), rows: Array(kept.prefix(n))).csv().utf8), to: out)
            if wanted != nil {
                say("wrote \(n) rows to \(out) (\(kept.count) of \(drawn) drawn rows had \(condition!))")
            } else {
                say("wrote \(n) rows to \(out)")
            }
        }
    }

    private func draw<B: ComputeBackend>(
        on backend: B, from loaded: Checkpoint.Loaded, noise: [Float]?, labels: [Int]?
    ) throws -> [Float] {
        let generator = try Checkpoint.generator(from: loaded, on: backend, average: !noEma)
        let sampler = try ImageSampler(generator: generator, chunk: min(noise.map { $0.count / generator.inputs } ?? count, 256))
        if let noise { return try sampler.sample(noise: noise, classes: labels) }
        return try sampler.sample(count: count, key: RandomStream.sampling.key(seed: seed), classes: labels)
    }

    private func write(
        _ images: [Float], count: Int, loaded: Checkpoint.Loaded, format: String, labels: [Int]?, across: Int? = nil
    ) throws {
        let pixels = loaded.dataShape.elements
        switch format {
        case "svg":
            let mixture = loaded.config.mixture!
            try writeAtomically(Array(ScatterPlot.svg(points: images, mixture: mixture, title: "\(mixture.name), \(count) samples").utf8), to: out)
        case "png":
            if let across {
                // An interpolation: one walk a row, labelled with its class when conditional.
                try ImageGrid.writePNG(
                    images, count: count, rows: loaded.imageRows, columns: loaded.imageColumns, channels: loaded.imageChannels,
                    across: across,
                    rowLabels: labels.map { l in stride(from: 0, to: l.count, by: across).map { l[$0] } }, to: out)
            } else if let labels {
                try writeClassGrid(images, labels: labels, loaded: loaded)
            } else {
                try ImageGrid.writePNG(
                    images, count: count, rows: loaded.imageRows, columns: loaded.imageColumns, channels: loaded.imageChannels,
                    across: 8, to: out)
            }
        case "npy":
            try writeAtomically(SampleFiles.npy(images, rows: count, columns: pixels), to: out)
        default:
            try writeAtomically(SampleFiles.csv(images, rows: count, columns: pixels), to: out)
        }
        if let labels, format == "npy" || format == "csv" {
            let path = Self.labelsPath(out)
            try writeAtomically(SampleFiles.labelsNPY(labels), to: path)
            say("wrote \(count) samples to \(out) and their classes to \(path)")
        } else {
            say("wrote \(count) samples to \(out)")
        }
        if let labels {
            let shown = Set(labels).sorted()
            say("classes: " + shown.map { "\($0) \(loaded.classNames[$0])" }.joined(separator: ", "))
        }
    }

    /// X.npy → X.labels.npy (X.csv → X.labels.npy).
    static func labelsPath(_ out: String) -> String {
        (out as NSString).deletingPathExtension + ".labels.npy"
    }

    /// One row per class drawn, labelled with its number; rows as wide as the largest
    /// share (at most 16), shorter shares left black.
    private func writeClassGrid(_ images: [Float], labels: [Int], loaded: Checkpoint.Loaded) throws {
        let pixels = loaded.dataShape.elements
        let rowClasses = Set(labels).sorted()
        let across = min(16, rowClasses.map { c in labels.filter { $0 == c }.count }.max() ?? 1)
        var grid = [Float](repeating: -1, count: rowClasses.count * across * pixels)
        for (row, c) in rowClasses.enumerated() {
            for (slot, i) in labels.indices.filter({ labels[$0] == c }).prefix(across).enumerated() {
                let target = (row * across + slot) * pixels
                grid.replaceSubrange(target..<(target + pixels), with: images[(i * pixels)..<((i + 1) * pixels)])
            }
        }
        try ImageGrid.writePNG(
            grid, count: rowClasses.count * across, rows: loaded.imageRows, columns: loaded.imageColumns,
            channels: loaded.imageChannels, across: across,
            rowLabels: rowClasses, to: out)
    }
}
