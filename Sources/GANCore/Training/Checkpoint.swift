import ComputeBackend
import Foundation

/// A training run's full state in a safetensors file: both networks' weights and biases,
/// Adam's moments of each, and in `__metadata__` the step counters, data position, noise
/// counter, image size and the whole resolved config (README: "Checkpoints").
/// A tensor or loss holding a NaN or an infinity.
public struct NonFiniteState: Error {
    public let what: String
}

/// Training stopped because a loss, gradient or weight stopped being finite.
public struct TrainingDiverged: Error, CustomStringConvertible {
    public let step: Int
    public let what: String
    public let lastGoodCheckpoint: String?
    public let rollbacks: Int

    public var description: String {
        var text = "training diverged at step \(step): non-finite values in \(what)"
        if rollbacks > 0 { text += " after \(rollbacks) rollback\(rollbacks == 1 ? "" : "s")" }
        if let lastGoodCheckpoint {
            text += "; the last good checkpoint is \(lastGoodCheckpoint) (--on-divergence rollback restarts from it with lower learning rates)"
        } else {
            text += "; no checkpoint was written before it"
        }
        return text
    }
}

public enum Checkpoint {
    public static let format = "gan-cl-checkpoint-1"
    /// The EMA generator's tensors' prefix.
    public static let averagePrefix = "generator_ema"

    /// A checkpoint read from disk, validated as a gan-cl checkpoint.
    public struct Loaded {
        public let path: String
        public let file: SafetensorsFile
        public let config: RunConfig
        public let state: TrainingState
        public let imageRows: Int
        public let imageColumns: Int
        /// 1 or 3 (RGB); checkpoints from before colour have no entry and are grayscale.
        public let imageChannels: Int
        /// A conditional run's classes and their names; nil and empty otherwise.
        public let classes: Int?
        public let classNames: [String]
        /// A table's fitted transform; nil for other data.
        public let table: TableTransform?

        /// One example's shape (a 2-D point is 1 × 2 × 1).
        public var dataShape: ImageShape { ImageShape(height: imageRows, width: imageColumns, channels: imageChannels) }
    }

    // MARK: - Saving

    /// The checkpoint of `trainer` as safetensors bytes (reads every tensor back).
    public static func encode<B>(_ trainer: Trainer<B>) throws -> [UInt8] {
        try trainer.refreshAverageStatistics()
        let named = trainer.generator.namedTensors(prefix: "generator")
            + trainer.discriminators.enumerated().flatMap { $1.namedTensors(prefix: Trainer<B>.discriminatorPrefix($0)) }
            + (trainer.averageGenerator?.namedTensors(prefix: averagePrefix) ?? [])
        let tensors = try named.map { SafetensorsFile.Tensor(name: $0.name, shape: $0.shape, values: try trainer.backend.read($0.buffer)) }
        // A checkpoint is the state to fall back on: never write a diverged one.
        if let bad = tensors.first(where: { !$0.values.allSatisfy(\.isFinite) }) {
            throw NonFiniteState(what: bad.name)
        }
        let state = trainer.state
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let metadata = [
            "format": format,
            "step": "\(state.step)",
            "discriminator_updates": "\(state.discriminatorUpdates)",
            "epoch": "\(state.epoch)",
            "batch_in_epoch": "\(state.batchInEpoch)",
            "noise_counter": "\(state.noiseCounter)",
            "image_rows": "\(trainer.data.layout.rows)",
            "image_columns": "\(trainer.data.layout.columns)",
            "image_channels": "\(trainer.data.shape.channels)",
            "generator": trainer.generator.summary,
            "discriminator": trainer.discriminator.summary,
            "config": String(decoding: try encoder.encode(trainer.config), as: UTF8.self),
        ].merging(try trainer.data.tableTransform.map { ["table_transform": String(decoding: try encoder.encode($0), as: UTF8.self)] } ?? [:]) { a, _ in a }
        .merging(trainer.classes.map { classes in
            ["classes": "\(classes)",
             "class_names": String(decoding: (try? encoder.encode(Array(trainer.data.classNames.prefix(classes)))) ?? Data(), as: UTF8.self)]
        } ?? [:]) { a, _ in a }
        return try SafetensorsFile(tensors: tensors, metadata: metadata).encoded()
    }

    // MARK: - Loading

    public static func load(_ path: String) throws -> Loaded {
        try validate(try SafetensorsFile.read(path), path: path)
    }

    /// Checks that a safetensors file is a gan-cl checkpoint and reads its metadata.
    public static func validate(_ file: SafetensorsFile, path: String) throws -> Loaded {
        let m = file.metadata
        guard m["format"] == format else {
            throw GANError("\(path) is not a gan-cl checkpoint (its metadata has no format \(format))")
        }
        func integer(_ key: String) throws -> Int {
            guard let text = m[key], let value = Int(text), value >= 0 else {
                throw GANError("\(path): checkpoint metadata \(key) is missing or not a count")
            }
            return value
        }
        guard let configText = m["config"],
              let config = try? JSONDecoder().decode(RunConfig.self, from: Data(configText.utf8))
        else { throw GANError("\(path): checkpoint metadata has no readable config") }
        var state = TrainingState()
        state.step = try integer("step")
        state.discriminatorUpdates = try integer("discriminator_updates")
        state.epoch = try integer("epoch")
        state.batchInEpoch = try integer("batch_in_epoch")
        guard let counter = m["noise_counter"].flatMap(UInt64.init) else {
            throw GANError("\(path): checkpoint metadata noise_counter is missing")
        }
        state.noiseCounter = counter
        var classes: Int?
        var names: [String] = []
        if config.conditional {
            guard let k = m["classes"].flatMap(Int.init), (2...maximumConditionClasses).contains(k) else {
                throw GANError("\(path): a conditional checkpoint's metadata needs its classes (2 to \(maximumConditionClasses))")
            }
            classes = k
            names = m["class_names"].flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? []
            if names.count != k { names = (0..<k).map(String.init) }
        }
        var table: TableTransform?
        if let text = m["table_transform"] {
            guard let decoded = try? JSONDecoder().decode(TableTransform.self, from: Data(text.utf8)) else {
                throw GANError("\(path): checkpoint metadata table_transform is not a readable table transform")
            }
            table = decoded
        }
        let channels = m["image_channels"] == nil ? 1 : try integer("image_channels")
        guard channels == 1 || channels == 3 else { throw GANError("\(path): checkpoint metadata image_channels must be 1 or 3, got \(channels)") }
        return Loaded(
            path: path, file: file, config: config, state: state,
            imageRows: try integer("image_rows"), imageColumns: try integer("image_columns"), imageChannels: channels, classes: classes,
            classNames: names, table: table)
    }

    /// Writes the tensors of `loaded` named `prefix.*` into `network`, after checking
    /// that every tensor the network has is there with the network's shape.
    public static func restore<B>(_ network: Sequential<B>, prefix: String, from loaded: Loaded, includeOptimizer: Bool) throws {
        for tensor in network.namedTensors(prefix: prefix) where includeOptimizer || !tensor.name.hasPrefix("optimizer.") {
            guard let stored = loaded.file.tensor(tensor.name) else {
                throw GANError("\(loaded.path) has no tensor \(tensor.name): it was written for a different architecture than \(prefix) \(network.summary)")
            }
            guard stored.shape == tensor.shape else {
                throw GANError("\(loaded.path): \(tensor.name) has shape \(stored.shape), the \(prefix) \(network.summary) needs \(tensor.shape)")
            }
            try network.backend.write(stored.values, to: tensor.buffer, offset: 0)
        }
    }

    /// Restores a trainer built from the checkpoint's own config.
    public static func restore<B>(_ trainer: Trainer<B>, from loaded: Loaded) throws {
        let shape = trainer.data.shape
        guard loaded.dataShape == shape else {
            throw GANError("\(loaded.path) was trained on \(loaded.dataShape) examples, the data has \(shape)")
        }
        guard loaded.table == trainer.data.tableTransform else {
            throw GANError("\(loaded.path) was trained on a table whose columns were encoded differently: the table has changed since")
        }
        try restore(trainer.generator, prefix: "generator", from: loaded, includeOptimizer: true)
        for (i, d) in trainer.discriminators.enumerated() {
            try restore(d, prefix: Trainer<B>.discriminatorPrefix(i), from: loaded, includeOptimizer: true)
        }
        if let average = trainer.averageGenerator {
            try restore(average, prefix: averagePrefix, from: loaded, includeOptimizer: false)
        }
        try trainer.restore(loaded.state)
    }

    /// The generator of a checkpoint, ready to sample: its EMA weights when it has them,
    /// unless `average` is false (`--no-ema`).
    public static func generator<B>(from loaded: Loaded, on backend: B, average: Bool = true) throws -> Sequential<B> {
        let network = try loaded.config.makeGenerator(
            backend: backend, data: loaded.dataShape, classes: loaded.classes, table: loaded.table)
        let prefix = average && loaded.config.ema > 0 ? averagePrefix : "generator"
        try restore(network, prefix: prefix, from: loaded, includeOptimizer: false)
        return network
    }
}
