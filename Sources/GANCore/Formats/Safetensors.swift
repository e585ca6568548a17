import Foundation

/// The safetensors format (huggingface/safetensors): an 8-byte little-endian header
/// length, a JSON header naming each tensor's dtype, shape and [begin, end) byte range
/// within the data that follows, an optional "__metadata__" map of strings, then the data.
/// Python's `safetensors.numpy.load_file` reads what this writes. Only F32 tensors.
public struct SafetensorsFile: Equatable {
    public struct Tensor: Equatable {
        public let name: String
        public let shape: [Int]
        public let values: [Float]

        public init(name: String, shape: [Int], values: [Float]) {
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    public let tensors: [Tensor]
    public let metadata: [String: String]

    public init(tensors: [Tensor], metadata: [String: String]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    public func tensor(_ name: String) -> Tensor? { tensors.first { $0.name == name } }

    // MARK: - Writing

    /// The file's bytes: tensors stored in the order given, header padded with spaces
    /// so the data starts at a multiple of 8 bytes.
    public func encoded() throws -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        for tensor in tensors {
            precondition(tensor.shape.reduce(1, *) == tensor.values.count, "shape and values of \(tensor.name) disagree")
            let bytes = tensor.values.count * 4
            header[tensor.name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = Array(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        for tensor in tensors {
            tensor.values.withUnsafeBytes { raw in
                for v in raw.bindMemory(to: UInt32.self) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
            }
        }
        return out
    }

    // MARK: - Reading

    /// Parses and validates a safetensors file; `path` names it in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws -> SafetensorsFile {
        func fail(_ why: String) -> GANError { GANError("\(path): not a valid safetensors file: \(why)") }
        guard bytes.count >= 8 else { throw fail("\(bytes.count) bytes, shorter than the 8-byte header length") }
        let headerLength = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
        }
        let dataStart = 8 + Int(headerLength)
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart]))
        } catch {
            throw fail("the header is not valid JSON")
        }
        guard let header = parsed as? [String: Any] else { throw fail("the header is not a JSON object") }
        var metadata: [String: String] = [:]
        if let raw = header["__metadata__"] {
            guard let map = raw as? [String: Any] else { throw fail("__metadata__ is not an object") }
            for (key, value) in map {
                guard let text = value as? String else { throw fail("__metadata__ value of \(key) is not a string") }
                metadata[key] = text
            }
        }
        let dataLength = bytes.count - dataStart
        var entries: [(name: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, raw) in header where name != "__metadata__" {
            guard let entry = raw as? [String: Any] else { throw fail("entry \(name) is not an object") }
            guard let dtype = entry["dtype"] as? String else { throw fail("\(name) has no dtype") }
            guard dtype == "F32" else { throw fail("\(name) has dtype \(dtype); gan-cl reads F32 only") }
            guard let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  shape.count == (entry["shape"] as? [Any])?.count, shape.allSatisfy({ $0 >= 0 })
            else { throw fail("\(name) has no valid shape") }
            guard let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  offsets.count == 2
            else { throw fail("\(name) has no valid data_offsets") }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw fail("\(name)'s data_offsets [\(begin), \(end)] are outside the \(dataLength) bytes of data")
            }
            let (elements, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !overflow, elements * 4 == end - begin else {
                throw fail("\(name)'s shape \(shape) needs \(overflow ? "too many" : String(elements * 4)) bytes, its offsets span \(end - begin)")
            }
            entries.append((name, shape, begin, end))
        }
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var expected = 0
        for entry in entries {
            guard entry.begin == expected else {
                throw fail(entry.begin < expected
                    ? "\(entry.name)'s data overlaps the tensor before it"
                    : "a gap of \(entry.begin - expected) bytes before \(entry.name)")
            }
            expected = entry.end
        }
        guard expected == dataLength else { throw fail("\(dataLength - expected) bytes after the last tensor") }
        let tensors = entries.map { entry -> Tensor in
            var values = [Float](repeating: 0, count: (entry.end - entry.begin) / 4)
            values.withUnsafeMutableBytes { destination in
                bytes.withUnsafeBytes { source in
                    destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[(dataStart + entry.begin)..<(dataStart + entry.end)]))
                }
            }
            return Tensor(name: entry.name, shape: entry.shape, values: values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) })
        }
        return SafetensorsFile(tensors: tensors, metadata: metadata)
    }

    /// Reads and validates the file at `path`.
    public static func read(_ path: String) throws -> SafetensorsFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GANError("\(path): cannot read (missing or unreadable)")
        }
        return try decode(Array(data), path: path)
    }
}
