import Foundation

/// Samples as NumPy `.npy` (float32, little-endian, shape (count, features)) or CSV
/// (one sample per line, values in [-1, 1] with the shortest exact decimal form).
public enum SampleFiles {
    /// The bytes of an NPY version 1.0 file holding a (rows, columns) float32 array.
    public static func npy(_ values: [Float], rows: Int, columns: Int) -> [UInt8] {
        precondition(values.count == rows * columns)
        var out = npyHeader(descr: "<f4", shape: "(\(rows), \(columns))")
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    /// The bytes of an NPY version 1.0 file holding labels: a (count,) int64 array.
    public static func labelsNPY(_ labels: [Int]) -> [UInt8] {
        var out = npyHeader(descr: "<i8", shape: "(\(labels.count),)")
        for label in labels { withUnsafeBytes(of: Int64(label).littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    /// An NPY 1.0 file's magic, version and header dict, padded so the data starts at a
    /// multiple of 64 bytes.
    private static func npyHeader(descr: String, shape: String) -> [UInt8] {
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        // Magic (6) + version (2) + length (2) + header + newline: a multiple of 64.
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let length = UInt16(header.utf8.count)
        out += [UInt8(length & 0xFF), UInt8(length >> 8)]
        return out + Array(header.utf8)
    }

    public static func csv(_ values: [Float], rows: Int, columns: Int) -> [UInt8] {
        var text = ""
        text.reserveCapacity(values.count * 10)
        for r in 0..<rows {
            text += values[(r * columns)..<((r + 1) * columns)].map { "\($0)" }.joined(separator: ",")
            text += "\n"
        }
        return Array(text.utf8)
    }
}
