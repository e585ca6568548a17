/// A parser for the part of TOML (v1.0) that gan-cl config files use: one `key = value`
/// per line, where the value is a string, integer, float, boolean or array of those.
/// Tables, dotted keys, inline tables, dates and multi-line strings are rejected with a
/// message saying so: config keys are flat flag names. Every malformed input is an
/// error naming the line, never a crash (it is fuzzed by Fuzz/FuzzConfig).
struct FlatTOML {
    private let bytes: [UInt8]
    private let path: String
    private var index = 0
    private var line = 1

    static func parse(_ text: String, path: String) throws -> [(String, ConfigValue)] {
        var parser = FlatTOML(bytes: Array(text.utf8), path: path)
        return try parser.document()
    }

    private init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    // MARK: - Document

    private mutating func document() throws -> [(String, ConfigValue)] {
        var entries: [(String, ConfigValue)] = []
        var seen = Set<String>()
        while true {
            skipSpaceCommentsAndNewlines()
            guard let c = peek else { return entries }
            if c == UInt8(ascii: "[") {
                throw fail("TOML tables are not used in gan-cl config files: keys are flat flag names, as in batch-size = 64")
            }
            let key = try self.key()
            skipSpaces()
            if peek == UInt8(ascii: ".") { throw fail("dotted keys are not used in gan-cl config files") }
            try expect(UInt8(ascii: "="), "'=' after the key \(key)")
            skipSpaces()
            let value = try self.value(depth: 0)
            skipSpaces()
            skipComment()
            if let c = peek, c != 0x0A, c != 0x0D { throw fail("unexpected '\(Character(UnicodeScalar(c)))' after the value of \(key)") }
            guard seen.insert(key).inserted else { throw fail("the key \(key) appears twice") }
            entries.append((key, value))
        }
    }

    private mutating func key() throws -> String {
        guard let c = peek else { throw fail("a key expected") }
        if c == UInt8(ascii: "\"") { return try basicString() }
        if c == UInt8(ascii: "'") { return try literalString() }
        let start = index
        while let c = peek, isBareKeyCharacter(c) { index += 1 }
        guard index > start else { throw fail("a key expected, found '\(Character(UnicodeScalar(c)))'") }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    // MARK: - Values

    private mutating func value(depth: Int) throws -> ConfigValue {
        guard let c = peek else { throw fail("a value expected") }
        switch c {
        case UInt8(ascii: "\""):
            if starts(with: "\"\"\"") { throw fail("multi-line strings are not used in gan-cl config files") }
            return .string(try basicString())
        case UInt8(ascii: "'"):
            if starts(with: "'''") { throw fail("multi-line strings are not used in gan-cl config files") }
            return .string(try literalString())
        case UInt8(ascii: "["):
            guard depth < 16 else { throw fail("arrays nested too deeply") }
            return try array(depth: depth + 1)
        case UInt8(ascii: "{"):
            throw fail("inline tables are not used in gan-cl config files")
        default:
            return try scalar()
        }
    }

    private mutating func array(depth: Int) throws -> ConfigValue {
        index += 1
        var items: [ConfigValue] = []
        while true {
            skipSpaceCommentsAndNewlines()
            if peek == UInt8(ascii: "]") {
                index += 1
                return .list(items)
            }
            items.append(try value(depth: depth))
            skipSpaceCommentsAndNewlines()
            if peek == UInt8(ascii: ",") {
                index += 1
            } else if peek != UInt8(ascii: "]") {
                throw fail("',' or ']' expected in an array")
            }
        }
    }

    /// A boolean, integer or float: the run of characters up to a delimiter.
    private mutating func scalar() throws -> ConfigValue {
        let start = index
        while let c = peek, !(c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == UInt8(ascii: ",")
                               || c == UInt8(ascii: "]") || c == UInt8(ascii: "#")) { index += 1 }
        let word = String(decoding: bytes[start..<index], as: UTF8.self)
        switch word {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        case "inf", "+inf": return .number(.infinity)
        case "-inf": return .number(-.infinity)
        case "nan", "+nan", "-nan": return .number(.nan)
        case "": throw fail("a value expected")
        default: break
        }
        if word.contains(where: { $0 == ":" }) || (word.count >= 10 && word.dropFirst(4).first == "-" && word.first?.isNumber == true) {
            throw fail("dates and times are not used in gan-cl config files")
        }
        guard let number = Self.number(word) else { throw fail("'\(word)' is not a string, number, boolean or array") }
        return number
    }

    /// TOML integers (decimal with underscores between digits, 0x, 0o, 0b) and floats.
    static func number(_ word: String) -> ConfigValue? {
        let characters = Array(word)
        // Underscores must sit between two digits.
        for (i, c) in characters.enumerated() where c == "_" {
            guard i > 0, i < characters.count - 1, characters[i - 1].isHexDigit, characters[i + 1].isHexDigit else { return nil }
        }
        let plain = word.replacingUnderscores()
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where plain.hasPrefix(prefix) {
            return Int(plain.dropFirst(2), radix: radix).map(ConfigValue.integer)
        }
        let unsigned = plain.first == "+" || plain.first == "-" ? plain.dropFirst() : Substring(plain)
        guard let first = unsigned.first, first.isNumber else { return nil }
        // No leading zeros in decimal integers or integer parts.
        if unsigned.count > 1, first == "0", unsigned.dropFirst().first?.isNumber == true { return nil }
        if unsigned.allSatisfy(\.isNumber) { return Int(plain).map(ConfigValue.integer) }
        guard unsigned.allSatisfy({ $0.isNumber || $0 == "." || $0 == "e" || $0 == "E" || $0 == "+" || $0 == "-" }),
              !unsigned.hasSuffix("."), !unsigned.contains(".e"), !unsigned.contains(".E")
        else { return nil }
        return Double(plain).map(ConfigValue.number)
    }

    // MARK: - Strings

    private mutating func basicString() throws -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() {
            scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
            raw.removeAll()
        }
        while true {
            guard let c = peek, c != 0x0A else { throw fail("unterminated string") }
            index += 1
            if c == UInt8(ascii: "\"") {
                flush()
                return String(scalars)
            }
            guard c == UInt8(ascii: "\\") else {
                guard c >= 0x20 || c == 0x09, c != 0x7F else { throw fail("a control character in a string") }
                raw.append(c)
                continue
            }
            guard let e = peek else { throw fail("unterminated string") }
            index += 1
            flush()
            switch e {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                let digits = e == UInt8(ascii: "u") ? 4 : 8
                guard index + digits <= bytes.count,
                      let code = UInt32(String(decoding: bytes[index..<(index + digits)], as: UTF8.self), radix: 16),
                      let scalar = UnicodeScalar(code)
                else { throw fail("an invalid \\u escape") }
                index += digits
                scalars.append(scalar)
            default:
                throw fail("an invalid escape \\\(Character(UnicodeScalar(e)))")
            }
        }
    }

    private mutating func literalString() throws -> String {
        index += 1
        let start = index
        while let c = peek, c != UInt8(ascii: "'") {
            guard c != 0x0A else { throw fail("unterminated string") }
            index += 1
        }
        guard peek != nil else { throw fail("unterminated string") }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        index += 1
        return text
    }

    // MARK: - Characters

    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    private func starts(with text: String) -> Bool {
        let t = Array(text.utf8)
        return index + t.count <= bytes.count && Array(bytes[index..<(index + t.count)]) == t
    }

    private func isBareKeyCharacter(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
    }

    private mutating func skipSpaces() {
        while let c = peek, c == 0x20 || c == 0x09 { index += 1 }
    }

    private mutating func skipComment() {
        guard peek == UInt8(ascii: "#") else { return }
        while let c = peek, c != 0x0A { index += 1 }
    }

    private mutating func skipSpaceCommentsAndNewlines() {
        while true {
            skipSpaces()
            skipComment()
            guard let c = peek, c == 0x0A || c == 0x0D else { return }
            if c == 0x0A { line += 1 }
            index += 1
        }
    }

    private mutating func expect(_ c: UInt8, _ what: String) throws {
        guard peek == c else { throw fail("\(what) expected") }
        index += 1
    }

    private func fail(_ message: String) -> GANError {
        GANError("\(path):\(line): invalid TOML: \(message)")
    }
}

extension String {
    func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
