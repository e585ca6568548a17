import Foundation

/// A 2-D array from a NumPy `.npy` file (format versions 1.0 to 3.0): float32 ('<f4'),
/// unsigned bytes ('|u1') or integers ('<i8', '<i4', for labels), C order; a 1-D array
/// (labels) reads as one column. Samples from any source arrive this way.
public struct NPYFile: Equatable {
    public enum ElementType: String, Sendable {
        case float32 = "<f4"
        case uint8 = "|u1"
        /// Integer labels, as NumPy writes them by default.
        case int64 = "<i8"
        case int32 = "<i4"

        var size: Int {
            switch self {
            case .float32, .int32: 4
            case .uint8: 1
            case .int64: 8
            }
        }
    }

    public let rows: Int
    public let columns: Int
    public let elementType: ElementType
    /// rows × columns values as stored (bytes widened to Float for '|u1').
    public let values: [Float]

    /// Parses and validates an .npy file; `path` names it in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> NPYFile {
        func fail(_ why: String) -> GANError { GANError("\(path): not a valid .npy file: \(why)") }
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("no NumPy magic string") }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header length") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail("format version \(major).\(bytes[7]) is not 1.0, 2.0 or 3.0")
        }
        guard headerLength <= bytes.count - headerStart else {
            throw fail("header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
        }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard let descr = field("descr", in: header), let typeText = quoted(descr) else { throw fail("the header has no 'descr'") }
        guard let type = ElementType(rawValue: typeText == "u1" ? "|u1" : typeText) else {
            throw fail("dtype '\(typeText)' is not float32 ('<f4'), uint8 ('|u1'), int64 ('<i8') or int32 ('<i4')")
        }
        guard let order = field("fortran_order", in: header) else { throw fail("the header has no 'fortran_order'") }
        guard order.hasPrefix("False") else { throw fail("Fortran-ordered arrays are not read; save with C order") }
        guard let shapeText = field("shape", in: header), shapeText.hasPrefix("("), let close = shapeText.firstIndex(of: ")") else {
            throw fail("the header has no 'shape' tuple")
        }
        let dimensions = shapeText[shapeText.index(after: shapeText.startIndex)..<close]
            .split(separator: ",").map { $0.trimmingCharacters(in: " ") }.filter { !$0.isEmpty }
        var shape = dimensions.compactMap { Int($0) }
        guard shape.count == dimensions.count, shape.count == 2 || shape.count == 1, shape.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else {
            throw fail("shape (\(dimensions.joined(separator: ", "))) is not two non-negative sizes (samples, features) or one (labels)")
        }
        if shape.count == 1 { shape.append(1) }
        let itemSize = type.size
        let dataStart = headerStart + headerLength
        // Sizes up to 2³¹ each: their product times 8 bytes can pass Int's range.
        let (count, overflowA) = shape[0].multipliedReportingOverflow(by: shape[1])
        let (size, overflowB) = count.multipliedReportingOverflow(by: itemSize)
        guard !overflowA, !overflowB, bytes.count - dataStart == size else {
            throw fail("shape (\(shape[0]), \(shape[1])) needs \(overflowA || overflowB ? "more" : "\(size)") bytes of data, the file holds \(bytes.count - dataStart)")
        }
        func word(_ o: Int, _ n: Int) -> UInt64 { (0..<n).reduce(0) { $0 | UInt64(bytes[o + $1]) << (8 * $1) } }
        let values: [Float]
        switch type {
        case .float32: values = (0..<count).map { Float(bitPattern: UInt32(word(dataStart + 4 * $0, 4))) }
        case .uint8: values = bytes[dataStart...].map(Float.init)
        case .int32: values = (0..<count).map { Float(Int32(bitPattern: UInt32(word(dataStart + 4 * $0, 4)))) }
        case .int64: values = (0..<count).map { Float(Int64(bitPattern: word(dataStart + 8 * $0, 8))) }
        }
        return NPYFile(rows: shape[0], columns: shape[1], elementType: type, values: values)
    }

    /// The text after `'key':` in a header dict, up to the end of the header.
    private static func field(_ key: String, in header: String) -> Substring? {
        guard let range = header.range(of: "'\(key)':") else { return nil }
        return header[range.upperBound...].drop(while: { $0 == " " })
    }

    /// The contents of a leading quoted string.
    private static func quoted(_ text: Substring) -> String? {
        guard let quote = text.first, quote == "'" || quote == "\"" else { return nil }
        let rest = text.dropFirst()
        guard let end = rest.firstIndex(of: quote) else { return nil }
        return String(rest[..<end])
    }
}

extension Substring {
    func trimmingCharacters(in characters: String) -> String {
        var s = self
        while let f = s.first, characters.contains(f) { s.removeFirst() }
        while let l = s.last, characters.contains(l) { s.removeLast() }
        return String(s)
    }
}

extension NPYFile {
    /// Reads and validates the .npy file at `path`.
    public static func read(_ path: String) throws -> NPYFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GANError("\(path): cannot read (missing or unreadable)")
        }
        return try decode(Array(data), path: path)
    }
}
