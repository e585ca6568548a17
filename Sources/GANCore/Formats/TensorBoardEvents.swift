import Foundation

/// A TensorBoard event file (`events.out.tfevents.<time>.<host>.<pid>.gan-cl`) in a run
/// directory: a TFRecord stream of `Event` messages — the file version first, then
/// scalars (each metrics.csv column) and PNG images (the sample grids) at their steps.
///
/// Each record is its length (uint64), the length's masked CRC-32C (uint32), the message
/// and the message's masked CRC-32C, all little-endian; the messages are encoded by hand
/// (`ProtobufMessage`) with tensorflow/core/util/event.proto's and summary.proto's field
/// numbers. Records are written straight to the file, so TensorBoard sees them while the
/// run goes on and a crash loses at most the record being written.
public final class TensorBoardEvents {
    public let path: String
    private let handle: FileHandle

    /// Starts a new event file in `directory` for a run at `step` (the last step done).
    /// Past 0 (a resumed or rolled-back run) it begins with a SessionLog START at the next
    /// step, which tells TensorBoard to drop the events of earlier files from there on:
    /// they belong to a timeline that was abandoned (a rollback's), and the steps up to
    /// `step` stay as they were logged.
    public init(directory: String, step: Int) throws {
        let host = ProcessInfo.processInfo.hostName.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }
        var name = "events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host.isEmpty ? "localhost" : host).\(getpid())"
        var candidate = "\(directory)/\(name).gan-cl"
        var suffix = 1
        while FileManager.default.fileExists(atPath: candidate) {  // two starts within one second
            suffix += 1
            name += ".\(suffix)"
            candidate = "\(directory)/\(name).gan-cl"
        }
        path = candidate
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw GANError("cannot create the TensorBoard event file \(path)")
        }
        self.handle = handle
        var version = Self.event(step: 0)
        version.string(3, "brain.Event:2")  // Event.file_version
        try write(version)
        if step > 0 {
            var log = ProtobufMessage()
            log.int(1, 1)  // SessionLog.status = START
            var start = Self.event(step: step + 1)
            start.message(7, log)  // Event.session_log
            try write(start)
        }
    }

    deinit { try? handle.close() }

    private static func event(step: Int) -> ProtobufMessage {
        var event = ProtobufMessage()
        event.double(1, Date().timeIntervalSince1970)  // Event.wall_time
        event.int(2, step)  // Event.step
        return event
    }

    /// One scalar per (tag, value), in one event at `step`.
    public func scalars(step: Int, _ values: [(tag: String, value: Double)]) throws {
        guard !values.isEmpty else { return }
        var summary = ProtobufMessage()
        for (tag, value) in values {
            var entry = ProtobufMessage()
            entry.string(1, tag)  // Summary.Value.tag
            entry.float(2, Float(value))  // simple_value
            summary.message(1, entry)  // Summary.value
        }
        var event = Self.event(step: step)
        event.message(5, summary)  // Event.summary
        try write(event)
    }

    /// A PNG image under `tag` at `step`; its size and colour type come from its header.
    public func image(step: Int, tag: String, png: [UInt8]) throws {
        guard png.count > 25, png[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
            throw GANError("not a PNG image")
        }
        func bigEndian(_ at: Int) -> Int { png[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        // IHDR: width at 16, height at 20, colour type at 25 (0 grey, 2 RGB, 4 grey+alpha, 6 RGBA).
        let colourspace = [0: 1, 4: 2, 2: 3, 6: 4][Int(png[25])] ?? 3
        var image = ProtobufMessage()
        image.int(1, bigEndian(20))  // Summary.Image.height
        image.int(2, bigEndian(16))  // width
        image.int(3, colourspace)  // colorspace
        image.data(4, png)  // encoded_image_string
        var entry = ProtobufMessage()
        entry.string(1, tag)
        entry.message(4, image)  // Summary.Value.image
        var summary = ProtobufMessage()
        summary.message(1, entry)
        var event = Self.event(step: step)
        event.message(5, summary)
        try write(event)
    }

    private func write(_ event: ProtobufMessage) throws {
        var record: [UInt8] = []
        let data = event.bytes
        var length: [UInt8] = []
        withUnsafeBytes(of: UInt64(data.count).littleEndian) { length.append(contentsOf: $0) }
        record += length
        withUnsafeBytes(of: CRC32C.masked(length).littleEndian) { record.append(contentsOf: $0) }
        record += data
        withUnsafeBytes(of: CRC32C.masked(data).littleEndian) { record.append(contentsOf: $0) }
        do {
            try handle.write(contentsOf: Data(record))
        } catch {
            throw GANError("cannot write the TensorBoard event file \(path): \(error.localizedDescription)")
        }
    }
}
