import CPNG
import CTurboJPEG
import Foundation

/// PNG and JPEG files decoded by the system's libpng (its simplified png_image API) and
/// libjpeg-turbo (its TurboJPEG API): both report a bad file by a return value, never by
/// longjmp, so a corrupt file is an error here and never a crash. The format is told by
/// the file's first bytes, not its name: a JPEG named .png is read as a JPEG.
public enum ImageDecoding {
    public enum Format: String, Sendable { case png = "PNG", jpeg = "JPEG" }

    /// What a file's header says: its size and whether it has colour.
    public struct Header: Equatable, Sendable {
        public let format: Format
        public let width, height: Int
        public let isColor: Bool
    }

    /// The largest image read: 2¹⁴ pixels a side and 2²⁶ pixels in all (a decompression
    /// bomb is refused before any pixel is decoded).
    public static let maximumSide = 1 << 14, maximumPixels = 1 << 26

    public static func format(of bytes: [UInt8]) -> Format? {
        if bytes.count >= 8, bytes[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        return nil
    }

    /// The header of a PNG or JPEG file's bytes, checked against the size limits.
    public static func header(_ bytes: [UInt8]) throws -> Header {
        guard let format = format(of: bytes) else { throw GANError("neither a PNG nor a JPEG file (by its first bytes)") }
        let header: Header
        switch format {
        case .png:
            header = try readingPNG(bytes) { image in
                Header(
                    format: .png, width: Int(image.width), height: Int(image.height),
                    isColor: image.format & png_uint_32(PNG_FORMAT_FLAG_COLOR) != 0)
            }
        case .jpeg:
            guard let handle = tjInitDecompress() else { throw GANError("TurboJPEG could not start a decompressor") }
            defer { tjDestroy(handle) }
            var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
            let status = bytes.withUnsafeBufferPointer {
                tjDecompressHeader3(handle, $0.baseAddress, UInt($0.count), &width, &height, &subsampling, &colorspace)
            }
            guard status == 0 else { throw GANError("a corrupt JPEG: \(String(cString: tjGetErrorStr2(handle)))") }
            header = Header(format: .jpeg, width: Int(width), height: Int(height), isColor: colorspace != Int32(TJCS_GRAY.rawValue))
        }
        guard header.width >= 1, header.height >= 1, header.width <= maximumSide, header.height <= maximumSide,
              header.width * header.height <= maximumPixels else {
            throw GANError("a \(header.width)×\(header.height) image, outside 1 to \(maximumSide) pixels a side and \(maximumPixels) in all")
        }
        return header
    }

    /// Decodes a PNG or JPEG file's bytes to 8-bit pixels with `channels` channels (1:
    /// grayscale, 3: RGB, row-major, interleaved). Each file is decoded in its own colour
    /// (a PNG's alpha composited over black by libpng), then converted the same way for
    /// both formats: grey to RGB by repeating it, RGB to grey by Rec. 601 luma on the
    /// stored values, 0.299 R + 0.587 G + 0.114 B (what JPEG's Y and PIL's "L" are).
    public static func decode(_ bytes: [UInt8], channels: Int) throws -> (header: Header, pixels: [UInt8]) {
        precondition(channels == 1 || channels == 3)
        let header = try header(bytes)
        let native = try decodeNative(bytes, header: header, channels: header.isColor ? 3 : 1)
        if channels == (header.isColor ? 3 : 1) { return (header, native) }
        if channels == 3 { return (header, native.flatMap { [$0, $0, $0] }) }
        let grey = stride(from: 0, to: native.count, by: 3).map { i -> UInt8 in
            let y = 0.299 * Double(native[i]) + 0.587 * Double(native[i + 1]) + 0.114 * Double(native[i + 2])
            return UInt8(min(max(y.rounded(), 0), 255))
        }
        return (header, grey)
    }

    private static func decodeNative(_ bytes: [UInt8], header: Header, channels: Int) throws -> [UInt8] {
        var pixels = [UInt8](repeating: 0, count: header.width * header.height * channels)
        switch header.format {
        case .png:
            try readingPNG(bytes) { image in
                image.format = png_uint_32(channels == 3 ? PNG_FORMAT_FLAG_COLOR : 0)
                var black = png_color(red: 0, green: 0, blue: 0)
                let ok = pixels.withUnsafeMutableBytes {
                    png_image_finish_read(&image, &black, $0.baseAddress, png_int_32(header.width * channels), nil)
                }
                guard ok != 0 else { throw GANError("a corrupt PNG: \(message(of: image))") }
            }
        case .jpeg:
            guard let handle = tjInitDecompress() else { throw GANError("TurboJPEG could not start a decompressor") }
            defer { tjDestroy(handle) }
            let format = channels == 3 ? TJPF_RGB : TJPF_GRAY
            let status = bytes.withUnsafeBufferPointer { source in
                pixels.withUnsafeMutableBufferPointer { target in
                    tjDecompress2(
                        handle, source.baseAddress, UInt(source.count), target.baseAddress, Int32(header.width),
                        Int32(header.width * channels), Int32(header.height), Int32(format.rawValue), 0)
                }
            }
            // A warning (a truncated scan, say) leaves part of the image grey: corrupt too.
            guard status == 0 else {
                throw GANError("a corrupt JPEG: \(String(cString: tjGetErrorStr2(handle)))")
            }
        }
        return pixels
    }

    /// Starts libpng's simplified reader on `bytes` and runs `body` with it while the bytes
    /// stay pinned (libpng reads them until the image is finished), then frees it.
    private static func readingPNG<T>(_ bytes: [UInt8], _ body: (inout png_image) throws -> T) throws -> T {
        try bytes.withUnsafeBytes { memory in
            var image = png_image()
            image.version = png_uint_32(PNG_IMAGE_VERSION)
            defer { png_image_free(&image) }
            guard png_image_begin_read_from_memory(&image, memory.baseAddress, memory.count) != 0 else {
                throw GANError("a corrupt PNG: \(message(of: image))")
            }
            return try body(&image)
        }
    }

    private static func message(of image: png_image) -> String {
        var image = image
        return withUnsafeBytes(of: &image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// A JPEG of 8-bit grayscale (1 channel) or RGB (3) pixels at `quality` (1–100), by
    /// TurboJPEG (the tests make picture folders with it).
    public static func encodeJPEG(_ pixels: [UInt8], width: Int, height: Int, channels: Int, quality: Int = 90) throws -> [UInt8] {
        precondition(pixels.count == width * height * channels && (channels == 1 || channels == 3))
        guard let handle = tjInitCompress() else { throw GANError("TurboJPEG could not start a compressor") }
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let status = pixels.withUnsafeBufferPointer {
            tjCompress2(
                handle, $0.baseAddress, Int32(width), Int32(width * channels), Int32(height),
                Int32((channels == 3 ? TJPF_RGB : TJPF_GRAY).rawValue), &buffer, &size,
                Int32((channels == 3 ? TJSAMP_444 : TJSAMP_GRAY).rawValue), Int32(quality), 0)
        }
        defer { if let buffer { tjFree(buffer) } }
        guard status == 0, let buffer else { throw GANError("TurboJPEG: \(String(cString: tjGetErrorStr2(handle)))") }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }
}
