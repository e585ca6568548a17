import Foundation

/// A config file: a JSON object or a TOML document whose keys are `gan-cl train`'s flag
/// names (`batch-size = 128`, `g-hidden = [128, 256, 512, 1024]`).
public enum ConfigFile {
    /// The file's keys and values, in the file's order for TOML, sorted for JSON.
    public static func read(_ path: String) throws -> [(String, ConfigValue)] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GANError("--config: cannot read \(path)")
        }
        return try parse(Array(data), toml: path.lowercased().hasSuffix(".toml"), path: path)
    }

    /// Parses a config file's bytes as TOML or JSON; `path` names it in errors.
    public static func parse(_ bytes: [UInt8], toml isTOML: Bool, path: String) throws -> [(String, ConfigValue)] {
        guard !bytes.contains(0), let text = String(bytes: bytes, encoding: .utf8) else {
            throw GANError("\(path): not UTF-8 text")
        }
        return isTOML ? try toml(text, path: path) : try json(Data(bytes), path: path)
    }

    static func json(_ data: Data, path: String) throws -> [(String, ConfigValue)] {
        let object: [String: JSONValue]
        do {
            object = try JSONDecoder().decode([String: JSONValue].self, from: data)
        } catch {
            throw GANError("\(path): not a JSON object of config keys (\(describe(error)))")
        }
        return object.keys.sorted().map { ($0, object[$0]!.value) }
    }

    static func toml(_ text: String, path: String) throws -> [(String, ConfigValue)] {
        try FlatTOML.parse(text, path: path)
    }

    private static func describe(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error { return context.debugDescription }
        if case DecodingError.typeMismatch(_, let context) = error { return context.debugDescription }
        return "\(error)"
    }
}

/// A JSON value decoded for `ConfigValue`.
struct JSONValue: Decodable {
    let value: ConfigValue

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let b = try? container.decode(Bool.self) {
            value = .boolean(b)
        } else if let i = try? container.decode(Int.self) {
            value = .integer(i)
        } else if let d = try? container.decode(Double.self) {
            value = .number(d)
        } else if let s = try? container.decode(String.self) {
            value = .string(s)
        } else if let l = try? container.decode([JSONValue].self) {
            value = .list(l.map(\.value))
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "a value must be a number, string, boolean or list")
        }
    }
}
