import Foundation

/// Samples as NumPy `.npy` (float32, little-endian, shape (count, features)) or CSV
/// (one sample per line, values in [-1, 1] with the shortest exact decimal form).
public enum SampleFiles {
    /// The bytes of an NPY version 1.0 file holding a (rows, columns) float32 array.
    public static func npy(_ values: [Float], rows: Int, columns: Int) -> [UInt8] {
        precondition(values.count == rows * columns)
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(columns)), }"
        // Magic (6) + version (2) + length (2) + header + newline: a multiple of 64.
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let length = UInt16(header.utf8.count)
        out += [UInt8(length & 0xFF), UInt8(length >> 8)]
        out += Array(header.utf8)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        return out
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
