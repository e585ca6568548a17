/// Protocol Buffers' wire format, for the few messages gan-cl writes (an ONNX model, a
/// TensorBoard event): a message is a run of fields, each a key (field number · 8 + wire
/// type) as a varint followed by a varint, a little-endian fixed-width number, or a
/// length-prefixed run of bytes (strings, bytes, packed numbers and nested messages).
///
/// Written by hand rather than with swift-protobuf: the handful of fields needs no
/// generated code, and the package's plugin build costs minutes of every clean build.
public struct ProtobufMessage {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    private enum WireType: UInt64 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    private mutating func key(_ field: Int, _ type: WireType) {
        Self.appendVarint(UInt64(field) << 3 | type.rawValue, to: &bytes)
    }

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// An integer field (int32, int64, enum, bool); negative values as their 64-bit
    /// two's complement, as protobuf's int32 and int64 are.
    public mutating func int(_ field: Int, _ value: Int) {
        key(field, .varint)
        Self.appendVarint(UInt64(bitPattern: Int64(value)), to: &bytes)
    }

    public mutating func float(_ field: Int, _ value: Float) {
        key(field, .fixed32)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func double(_ field: Int, _ value: Double) {
        key(field, .fixed64)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func data(_ field: Int, _ value: [UInt8]) {
        key(field, .lengthDelimited)
        Self.appendVarint(UInt64(value.count), to: &bytes)
        bytes.append(contentsOf: value)
    }

    public mutating func string(_ field: Int, _ value: String) { data(field, Array(value.utf8)) }

    public mutating func message(_ field: Int, _ value: ProtobufMessage) { data(field, value.bytes) }

    /// A repeated integer field, packed (one length-delimited run of varints), which
    /// proto2 and proto3 parsers both accept.
    public mutating func packedInts(_ field: Int, _ values: [Int]) {
        var run: [UInt8] = []
        for v in values { Self.appendVarint(UInt64(bitPattern: Int64(v)), to: &run) }
        data(field, run)
    }

    /// A repeated float field, packed.
    public mutating func packedFloats(_ field: Int, _ values: [Float]) {
        var run: [UInt8] = []
        run.reserveCapacity(4 * values.count)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { run.append(contentsOf: $0) } }
        data(field, run)
    }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord files check their
/// records with.
public enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    /// TFRecord's masked form: the CRC rotated right by 15 bits plus a constant, so a
    /// CRC of data that holds CRCs stays well distributed.
    public static func masked(_ bytes: some Sequence<UInt8>) -> UInt32 {
        let c = checksum(bytes)
        return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
    }
}
