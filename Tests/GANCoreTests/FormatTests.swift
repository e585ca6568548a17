import ComputeBackend
import Foundation
import GANCore
import Testing

@Suite("Formats and inputs")
struct FormatTests {
    // MARK: Protobuf and CRC-32C

    /// The wire format's published examples (protobuf's encoding guide: field 1 = 150 is
    /// 08 96 01; a string "testing" in field 2 is 12 07 74 65 73 74 69 6e 67; −1 as int64 is
    /// ten bytes) and CRC-32C's check value for "123456789" (0xE3069283, RFC 3720's CRC).
    @Test func protobufAndCRC32CMatchTheirSpecifications() {
        var m = ProtobufMessage()
        m.int(1, 150)
        m.string(2, "testing")
        m.int(3, -1)
        m.float(4, 1)
        #expect(m.bytes == [0x08, 0x96, 0x01, 0x12, 0x07] + Array("testing".utf8) + [0x18] + Array(repeating: 0xFF, count: 9) + [0x01]
            + [0x25, 0x00, 0x00, 0x80, 0x3F])
        var packed = ProtobufMessage()
        packed.packedInts(4, [3, 270, 86942])
        #expect(packed.bytes == [0x22, 0x06, 0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05])
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        let crc = CRC32C.checksum(Array("123456789".utf8))
        #expect(CRC32C.masked(Array("123456789".utf8)) == ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
    }

    /// curves.svg: the losses alone until a run has evaluations, then a second chart with a
    /// marker per evaluated value (shares on 0–1, FD-FMNIST on its own axis).
    @Test func curvesShowEvaluationsBesideTheLosses() {
        var random = SplitMix64(seed: 3)
        func value() -> Double { Double(random.next() % 1000) / 1000 }
        let plain = (1...5).map { LossCurve.Point(step: $0 * 10, discriminatorLoss: value(), generatorLoss: value()) }
        let lossesOnly = LossCurve.svg(plain)
        #expect(lossesOnly.contains("width=\"800\"") && !lossesOnly.contains("<circle") && !lossesOnly.contains("FD-FMNIST"))
        var points = plain
        points[2] = .init(step: 30, discriminatorLoss: value(), generatorLoss: value(),
                          evaluation: ["fd_fmnist": 20 + value(), "precision": value(), "recall": value(), "coverage": value()])
        points[4] = .init(step: 50, discriminatorLoss: value(), generatorLoss: value(),
                          evaluation: ["fd_fmnist": 10 + value(), "precision": value(), "recall": value(), "coverage": value()])
        let both = LossCurve.svg(points)
        #expect(both.contains("width=\"1600\"") && both.contains("FD-FMNIST (right axis") && both.contains(">recall</text>"))
        #expect(both.components(separatedBy: "<circle").count - 1 == 8)
        #expect(both.hasSuffix("</svg>\n") && both.components(separatedBy: "<svg").count == 2)
    }

    // MARK: Pictures

    /// A picture written as PNG (or JPEG) and read back the way the folder reader reads it.
    private func roundTrip(_ pixels: [UInt8], width: Int, height: Int, channels: Int, as wanted: Int, size: Int?,
                           jpeg: Bool = false) throws -> (pixels: [UInt8], height: Int, width: Int) {
        let path = NSTemporaryDirectory() + "gan-cl-picture-\(UUID().uuidString).png"
        defer { unlink(path) }
        if jpeg {
            try Data(try ImageDecoding.encodeJPEG(pixels, width: width, height: height, channels: channels, quality: 100))
                .write(to: URL(fileURLWithPath: path))
        } else {
            try ImageGrid.write(pixels, channels: channels, width: width, height: height, to: path)
        }
        return try ImageFolder.read(Array(try Data(contentsOf: URL(fileURLWithPath: path))), channels: wanted, size: size)
    }

    /// Shrinking averages areas (a 4×4 picture to 2×2 gives its 2×2 blocks' means; 6×4 to 2
    /// crops the centre 2 of the 3 scaled columns' worth); growing is bilinear (corners
    /// kept, the rest between its neighbours); grey from RGB by luma; PNG and JPEG agree.
    @Test func picturesScaleByAreaAndBilinearly() throws {
        var random = SplitMix64(seed: 7)
        let grey = (0..<16).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let shrunk = try roundTrip(grey, width: 4, height: 4, channels: 1, as: 1, size: 2)
        #expect(shrunk.height == 2 && shrunk.width == 2)
        for by in 0..<2 {
            for bx in 0..<2 {
                let block = [0, 1, 4, 5].map { Double(grey[by * 8 + bx * 2 + $0]) }
                #expect(Double(shrunk.pixels[by * 2 + bx]) == (block.reduce(0, +) / 4).rounded())
            }
        }
        // 6 wide, 4 tall, to 2: scale 1/2, 3×2 scaled, the middle... columns 0–1 of 3 (offset 0).
        let wide = (0..<24).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let cropped = try roundTrip(wide, width: 6, height: 4, channels: 1, as: 1, size: 2)
        let firstBlock = [0, 1, 6, 7].map { Double(wide[$0]) }
        #expect(cropped.width == 2 && Double(cropped.pixels[0]) == (firstBlock.reduce(0, +) / 4).rounded())
        let grown = try roundTrip([0, 100, 200, 40], width: 2, height: 2, channels: 1, as: 1, size: 4)
        #expect(grown.pixels[0] == 0 && grown.pixels[3] == 100 && grown.pixels[12] == 200 && grown.pixels[15] == 40)
        #expect(grown.pixels[1] > 0 && grown.pixels[1] < 100 && grown.pixels[4] > 0 && grown.pixels[4] < 200)
        // RGB to grey: red, green, blue and white by luma (about 0.299, 0.587, 0.114).
        let rgb: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]
        let luma = try roundTrip(rgb, width: 4, height: 1, channels: 3, as: 1, size: nil).pixels.map(Int.init)
        #expect(abs(luma[0] - 76) <= 2 && abs(luma[1] - 150) <= 2 && abs(luma[2] - 29) <= 2 && luma[3] == 255, "\(luma)")
        // Grey to RGB repeats the value; a JPEG at quality 100 is close to its pixels.
        let repeated = try roundTrip([10, 200], width: 2, height: 1, channels: 1, as: 3, size: nil).pixels
        #expect(repeated == [10, 10, 10, 200, 200, 200])
        let smooth = (0..<(8 * 8 * 3)).map { i -> UInt8 in
            let column = i / 3 % 8
            return UInt8(column * 20 + 40)
        }
        let jpeg = try roundTrip(smooth, width: 8, height: 8, channels: 3, as: 3, size: nil, jpeg: true)
        #expect(zip(jpeg.pixels, smooth).allSatisfy { abs(Int($0) - Int($1)) <= 8 })
        #expect(throws: GANError.self) { try ImageFolder.read(Array("GIF89a".utf8), channels: 1, size: nil) }
    }

    // MARK: IDX

    func idx(_ dimensions: [Int], payload: Int? = nil, magic: [UInt8] = [0, 0, 8]) -> [UInt8] {
        var bytes = magic + [UInt8(dimensions.count)]
        for d in dimensions { bytes += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
        var random = SplitMix64(seed: 1)
        bytes += (0..<(payload ?? dimensions.reduce(1, *))).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        return bytes
    }

    @Test func idxParsesImagesAndLabels() throws {
        let images = try IDXFile.parse(idx([3, 4, 5]), path: "x")
        #expect(images.dimensions == [3, 4, 5] && images.bytes.count == 60)
        let labels = try IDXFile.parse(idx([7]), path: "y")
        #expect(labels.dimensions == [7] && labels.bytes.count == 7)
    }

    @Test("Bad IDX data is a one-line error naming the file and the fault", arguments: [
        ("wrong magic", [UInt8](arrayLiteral: 1, 2, 8, 1, 0, 0, 0, 1, 9), "not an IDX file"),
        ("wrong type", [UInt8](arrayLiteral: 0, 0, 0x0D, 1, 0, 0, 0, 1, 9, 9, 9, 9), "is not unsigned bytes"),
        ("short", [UInt8](arrayLiteral: 0, 0), "too short"),
        ("truncated header", [UInt8](arrayLiteral: 0, 0, 8, 3, 0, 0), "truncated IDX header"),
    ])
    func idxRejectsBadHeaders(_ name: String, _ bytes: [UInt8], _ message: String) {
        #expect { try IDXFile.parse(bytes, path: "data.idx") } throws: { error in
            "\(error)".hasPrefix("data.idx: ") && "\(error)".contains(message) && !"\(error)".contains("\n")
        }
    }

    @Test func idxRejectsTruncatedAndOverlongData() {
        #expect { try IDXFile.parse(idx([10, 28, 28], payload: 7000), path: "f") } throws: { "\($0)".contains("truncated") }
        #expect { try IDXFile.parse(idx([10], payload: 11), path: "f") } throws: { "\($0)".contains("1 bytes after") }
    }

    // MARK: Safetensors

    func sample() -> SafetensorsFile {
        SafetensorsFile(
            tensors: [
                .init(name: "b.weight", shape: [2, 3], values: [1, -2, 3.5, 4, 5, -6e-8]),
                .init(name: "a.bias", shape: [3], values: [0.25, .pi, -1]),
                .init(name: "scalarish", shape: [1, 1], values: [42]),
            ],
            metadata: ["format": "test", "step": "12"])
    }

    @Test func safetensorsRoundTrips() throws {
        let bytes = try sample().encoded()
        #expect(try SafetensorsFile.decode(bytes, path: "t").tensors.sorted { $0.name < $1.name } == sample().tensors.sorted { $0.name < $1.name })
        #expect(try SafetensorsFile.decode(bytes, path: "t").metadata == sample().metadata)
    }

    /// The header as the format defines it: 8-byte little-endian length N, N bytes of
    /// JSON, then tensors whose data_offsets tile the data exactly, in range.
    @Test func safetensorsHeaderFollowsTheFormat() throws {
        let bytes = try sample().encoded()
        let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        #expect((8 + n) % 8 == 0)
        let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        let dataLength = bytes.count - 8 - n
        var ranges: [(Int, Int)] = []
        for (name, value) in header where name != "__metadata__" {
            let entry = try #require(value as? [String: Any])
            #expect(entry["dtype"] as? String == "F32")
            let shape = try #require(entry["shape"] as? [Int])
            let offsets = try #require(entry["data_offsets"] as? [Int])
            #expect(offsets.count == 2 && offsets[0] <= offsets[1] && offsets[1] <= dataLength)
            #expect(offsets[1] - offsets[0] == 4 * shape.reduce(1, *))
            ranges.append((offsets[0], offsets[1]))
        }
        ranges.sort { $0.0 < $1.0 }
        #expect(ranges.first?.0 == 0 && ranges.last?.1 == dataLength)
        for (x, y) in zip(ranges, ranges.dropFirst()) { #expect(x.1 == y.0) }
        #expect((header["__metadata__"] as? [String: String])?["step"] == "12")
    }

    func corrupt(_ edit: (inout [UInt8], Int) -> Void) throws -> [UInt8] {
        var bytes = try sample().encoded()
        let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        edit(&bytes, n)
        return bytes
    }

    /// The sample file with `old` replaced by `new` (of the same length) in its header.
    func replacing(_ old: String, _ new: String) throws -> [UInt8] {
        try corrupt { bytes, n in
            let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self).replacingOccurrences(of: old, with: new)
            bytes.replaceSubrange(8..<(8 + n), with: Array(header.utf8))
        }
    }

    @Test func safetensorsRejectsCorruptFiles() throws {
        let cases: [([UInt8], String)] = [
            (Array(try sample().encoded().prefix(5)), "shorter than the 8-byte header length"),
            (try corrupt { bytes, _ in bytes[0] = 0xFF; bytes[1] = 0xFF }, "runs past the end"),
            (try corrupt { bytes, n in bytes[8 + 1] = UInt8(ascii: "#") }, "not valid JSON"),
            (try corrupt { bytes, n in bytes.removeLast(4) }, "outside the"),
            (try replacing("\"F32\"", "\"F16\""), "dtype F16"),
            (try replacing("[2,3]", "[3,3]"), "needs 36 bytes"),
            (try corrupt { bytes, _ in bytes += [0, 0, 0, 0] }, "bytes after the last tensor"),
        ]
        for (bytes, message) in cases {
            #expect { try SafetensorsFile.decode(bytes, path: "c.safetensors") } throws: { error in
                "\(error)".hasPrefix("c.safetensors: not a valid safetensors file") && "\(error)".contains(message)
            }
        }
    }

    @Test func safetensorsRejectsOverlappingTensors() throws {
        // Two tensors claiming the same bytes, and nothing else.
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
        bytes += Array(header.utf8) + [0, 0, 128, 63]
        #expect { try SafetensorsFile.decode(bytes, path: "o") } throws: { "\($0)".contains("overlaps") }
    }

    // MARK: NPY, PNG

    @Test func npyHeaderIsNumPys() {
        let bytes = SampleFiles.npy([1, 2, 3, 4, 5, 6], rows: 2, columns: 3)
        #expect(Array(bytes.prefix(8)) == [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        #expect(header.contains("'descr': '<f4'") && header.contains("'shape': (2, 3)") && header.hasSuffix("\n"))
        #expect(bytes.count == 10 + headerLength + 24)
    }

    @Test func pngGridHasTheRightSize() throws {
        let path = "/tmp/gan-cl-grid-\(UInt32.random(in: 0...UInt32.max)).png"
        defer { unlink(path) }
        var random = SplitMix64(seed: 4)
        let images = (0..<(10 * 28 * 28)).map { _ in random.unitFloat() * 2 - 1 }
        try ImageGrid.writePNG(images, count: 10, rows: 28, columns: 28, across: 4, to: path)
        let bytes = try #require(FileManager.default.contents(atPath: path))
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        func be32(_ o: Int) -> Int { Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]) }
        // 28×28 drawn 2× with one-pixel gutters: 4 across and 3 down.
        #expect(ImageGrid.defaultScale(rows: 28, columns: 28) == 2 && ImageGrid.defaultScale(rows: 64, columns: 64) == 1)
        #expect(be32(16) == 4 * 57 + 1 && be32(20) == 3 * 57 + 1)
        #expect(bytes[24] == 8 && bytes[25] == 0, "8-bit grayscale")
    }

    // MARK: Config

    @Test func configKeysAreCheckedAsFlagsAre() throws {
        var config = RunConfig()
        try config.set("batch-size", .string("128"), source: "--batch-size")
        try config.set("g-hidden", .string("64, 128"), source: "--g-hidden")
        try config.set("lr", .number(1e-3), source: "f.json")
        #expect(config.batchSize == 128 && config.gHidden == [64, 128] && config.gLr == 1e-3 && config.dLr == 1e-3)
        let bad: [(String, ConfigValue, String)] = [
            ("batch-size", .string("0"), "at least 1"), ("batch-size", .string("x"), "an integer"),
            ("g-hidden", .string("64,-1"), "positive integers"), ("lr", .number(0), "(0.0, 1.0]"),
            ("backend", .string("cuda"), "opencl or cpu"), ("g-activation", .string("gelu"), "relu or leaky-relu"),
            ("colour", .string("red"), "unknown key 'colour'"), ("epochs", .boolean(true), "an integer"),
        ]
        for (key, value, message) in bad {
            #expect { try config.set(key, value, source: "src") } throws: { "\($0)".hasPrefix("src: ") && "\($0)".contains(message) }
        }
    }

    @Test func configFilesInJSONAndTOML() throws {
        let json = "/tmp/gan-cl-config-\(UInt32.random(in: 0...UInt32.max)).json"
        let toml = json.replacingOccurrences(of: ".json", with: ".toml")
        defer { unlink(json); unlink(toml) }
        try #"{"batch-size": 32, "g-hidden": [16, 32], "lr": 0.001, "backend": "cpu"}"#.write(toFile: json, atomically: true, encoding: .utf8)
        try "batch-size = 32\ng-hidden = [16, 32]\nlr = 0.001\nbackend = \"cpu\"\n".write(toFile: toml, atomically: true, encoding: .utf8)
        for path in [json, toml] {
            var config = RunConfig()
            for (key, value) in try ConfigFile.read(path) { try config.set(key, value, source: path) }
            #expect(config.batchSize == 32 && config.gHidden == [16, 32] && config.gLr == 0.001 && config.backend == .cpu)
        }
        try "batch-size = [\n".write(toFile: toml, atomically: true, encoding: .utf8)
        #expect { try ConfigFile.read(toml) } throws: { "\($0)".contains("invalid TOML") }
        try "[1, 2]".write(toFile: json, atomically: true, encoding: .utf8)
        #expect { try ConfigFile.read(json) } throws: { "\($0)".contains("not a JSON object") }
    }
}

@Suite("NPY input")
struct NPYTests {
    @Test func readsWhatSampleWrites() throws {
        var random = SplitMix64(seed: 8)
        let values = (0..<(5 * 7)).map { _ in random.unitFloat() * 2 - 1 }
        let file = try NPYFile.decode(SampleFiles.npy(values, rows: 5, columns: 7), path: "s.npy")
        #expect(file.rows == 5 && file.columns == 7 && file.elementType == .float32 && file.values == values)
    }

    func npy(_ header: String, data: [UInt8], version: UInt8 = 1) -> [UInt8] {
        var h = header
        while (10 + h.utf8.count + 1) % 64 != 0 { h += " " }
        h += "\n"
        return [0x93] + Array("NUMPY".utf8) + [version, 0, UInt8(h.utf8.count & 255), UInt8(h.utf8.count >> 8)] + Array(h.utf8) + data
    }

    /// Labels as NumPy saves them: int64 or int32, one dimension (a column), negative too;
    /// what `SampleFiles.labelsNPY` writes reads back.
    @Test func readsIntegerLabels() throws {
        let wide = try NPYFile.decode(npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                                          data: [5, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 9, 0, 0, 0, 0, 0, 0, 0]), path: "l")
        #expect(wide.elementType == .int64 && wide.rows == 3 && wide.columns == 1 && wide.values == [5, -1, 9])
        let narrow = try NPYFile.decode(npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 1), }", data: [7, 0, 0, 0, 254, 255, 255, 255]), path: "l")
        #expect(narrow.elementType == .int32 && narrow.values == [7, -2])
        let written = try NPYFile.decode(SampleFiles.labelsNPY([3, 1, 4, 1, 5]), path: "w")
        #expect(written.elementType == .int64 && written.rows == 5 && written.values == [3, 1, 4, 1, 5])
    }

    @Test func readsUnsignedBytes() throws {
        let file = try NPYFile.decode(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", data: [0, 1, 2, 253, 254, 255]), path: "u")
        #expect(file.elementType == .uint8 && file.values == [0, 1, 2, 253, 254, 255])
    }

    @Test func rejectsBadFiles() {
        let good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }"
        let cases: [([UInt8], String)] = [
            (Array("not numpy at all".utf8), "no NumPy magic"),
            (npy(good, data: [UInt8](repeating: 0, count: 16), version: 9), "format version 9.0"),
            (npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", data: [UInt8](repeating: 0, count: 32)), "dtype '<f8'"),
            (npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", data: [UInt8](repeating: 0, count: 16)), "Fortran-ordered"),
            (npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2), }", data: [UInt8](repeating: 0, count: 32)), "not two non-negative sizes"),
            (npy(good, data: [UInt8](repeating: 0, count: 12)), "needs 16 bytes of data, the file holds 12"),
            (Array(npy(good, data: []).prefix(20)), "runs past the end"),
            (npy("{'fortran_order': False, 'shape': (2, 2), }", data: [UInt8](repeating: 0, count: 16)), "no 'descr'"),
            (npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2147483647, 2147483647), }", data: [1]), "needs more bytes"),
        ]
        for (bytes, message) in cases {
            #expect { try NPYFile.decode(bytes, path: "x.npy") } throws: {
                "\($0)".hasPrefix("x.npy: not a valid .npy file: ") && "\($0)".contains(message)
            }
        }
    }
}

@Suite("Flat TOML config files")
struct TOMLTests {
    func parse(_ text: String) throws -> [(String, ConfigValue)] {
        try ConfigFile.parse(Array(text.utf8), toml: true, path: "c.toml")
    }

    @Test func readsTheValuesConfigsUse() throws {
        let entries = try parse("""
            # a comment
            batch-size = 1_024   # trailing comment
            "g-hidden" = [128, 256,
                          512, ]  # a multi-line array
            lr = 2e-4
            beta1 = 0.5
            data = "C:\\\\data\\t\\u00e9"
            device = 'nvidia\\raw'
            seed = 0x1F
            flag = true

            """)
        #expect(entries.map(\.0) == ["batch-size", "g-hidden", "lr", "beta1", "data", "device", "seed", "flag"])
        #expect(entries[0].1 == .integer(1024))
        #expect(entries[1].1 == .list([.integer(128), .integer(256), .integer(512)]))
        #expect(entries[2].1 == .number(2e-4) && entries[3].1 == .number(0.5))
        #expect(entries[4].1 == .string("C:\\data\té") && entries[5].1 == .string("nvidia\\raw"))
        #expect(entries[6].1 == .integer(31) && entries[7].1 == .boolean(true))
    }

    /// Found by Fuzz/FuzzConfig: TOMLKit's toml++ aborted on this table header
    /// (an assertion in parse_key). Now it is an ordinary error.
    @Test func regressionTableHeaderWithABadKey() {
        #expect { try parse("[&= ") } throws: { "\($0)" == "c.toml:1: invalid TOML: TOML tables are not used in gan-cl config files: keys are flat flag names, as in batch-size = 64" }
    }

    @Test func rejectsWhatIsNotFlatTOML() {
        let cases: [(String, String)] = [
            ("a = 1\n[table]\nb = 2", "c.toml:2: invalid TOML: TOML tables"),
            ("a.b = 1", "dotted keys"),
            ("a = {b = 1}", "inline tables"),
            ("a = 1979-05-27", "dates and times"),
            ("a = \"\"\"x\"\"\"", "multi-line strings"),
            ("a = \"open", "unterminated string"),
            ("a = 1\na = 2", "c.toml:2: invalid TOML: the key a appears twice"),
            ("a = 1 2", "unexpected '2'"),
            ("a = 01", "'01' is not"),
            ("a = 1__0", "'1__0' is not"),
            ("a = [1, 2", "',' or ']' expected"),
            ("a = \"\\q\"", "invalid escape"),
            ("= 3", "a key expected"),
            ("a 3", "'=' after the key a expected"),
            (String(repeating: "[", count: 40), "TOML tables"),
            ("a = " + String(repeating: "[", count: 40), "nested too deeply"),
        ]
        for (text, message) in cases {
            #expect { try parse(text) } throws: { "\($0)".contains(message) }
        }
    }
}
