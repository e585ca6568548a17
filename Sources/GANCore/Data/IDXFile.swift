import CZlib

/// An array in the IDX format of MNIST and Fashion-MNIST: a big-endian header
/// (0, 0, type, rank, then one UInt32 size per dimension) followed by the values.
/// Only unsigned bytes (type 0x08) are read: the format of every image and label file.
public struct IDXFile {
    public let dimensions: [Int]
    public let bytes: [UInt8]

    /// Reads `path`, gzip-compressed or raw (zlib reads both).
    public static func read(_ path: String) throws -> IDXFile {
        try parse(readMaybeGzip(path), path: path)
    }

    /// Parses the contents of an IDX file; `path` names it in errors.
    public static func parse(_ data: [UInt8], path: String) throws -> IDXFile {
        guard data.count >= 4 else { throw GANError("\(path): too short to be an IDX file (\(data.count) bytes)") }
        guard data[0] == 0, data[1] == 0 else {
            throw GANError("\(path): not an IDX file (magic number starts \(hex(data[0])) \(hex(data[1])), expected 00 00)")
        }
        guard data[2] == 0x08 else {
            throw GANError("\(path): IDX element type \(hex(data[2])) is not unsigned bytes (08)")
        }
        let rank = Int(data[3])
        guard rank >= 1, rank <= 4 else { throw GANError("\(path): IDX rank \(rank) is not 1 to 4") }
        let headerLength = 4 + 4 * rank
        guard data.count >= headerLength else { throw GANError("\(path): truncated IDX header") }
        var dimensions: [Int] = []
        var expected = 1
        for d in 0..<rank {
            let o = 4 + 4 * d
            let size = Int(data[o]) << 24 | Int(data[o + 1]) << 16 | Int(data[o + 2]) << 8 | Int(data[o + 3])
            guard size > 0 else { throw GANError("\(path): IDX dimension \(d) is 0") }
            dimensions.append(size)
            let (product, overflow) = expected.multipliedReportingOverflow(by: size)
            guard !overflow, product <= 1 << 34 else { throw GANError("\(path): IDX dimensions \(dimensions) are too large") }
            expected = product
        }
        let available = data.count - headerLength
        guard available >= expected else {
            throw GANError(
                "\(path): truncated: the header declares \(dimensions.map(String.init).joined(separator: "×")) = \(expected) bytes of data, the file holds \(available)")
        }
        guard available == expected else {
            throw GANError("\(path): \(available - expected) bytes after the \(expected) the header declares")
        }
        return IDXFile(dimensions: dimensions, bytes: Array(data[headerLength...]))
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}

/// The whole contents of a file, decompressed if it is gzip; raw files pass through.
func readMaybeGzip(_ path: String) throws -> [UInt8] {
    guard let file = gzopen(path, "rb") else {
        throw GANError("\(path): cannot open (\(String(cString: strerror(errno))))")
    }
    defer { gzclose(file) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
        if n < 0 {
            throw GANError("\(path): corrupt gzip data (\(gzipMessage(file, path)))")
        }
        if n == 0 { break }
        result.append(contentsOf: chunk[0..<Int(n)])
    }
    var code: Int32 = 0
    _ = gzerror(file, &code)
    if code != Z_OK && code != Z_STREAM_END {
        // zlib reports a stream cut short as Z_BUF_ERROR ("unexpected end of file").
        throw GANError("\(path): truncated or corrupt gzip data (\(gzipMessage(file, path)))")
    }
    return result
}

/// zlib's message for the last error, without the path it puts in front.
private func gzipMessage(_ file: gzFile, _ path: String) -> String {
    var code: Int32 = 0
    let message = String(cString: gzerror(file, &code))
    return message.hasPrefix("\(path): ") ? String(message.dropFirst(path.count + 2)) : message
}

#if canImport(Glibc)
import Glibc
#endif
