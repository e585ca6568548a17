import CPNG
import Foundation

/// A grid of grayscale images written as an 8-bit PNG by libpng.
public enum ImageGrid {
    /// Writes `images` (count × rows × columns values in [-1, 1]) as a grid `across`
    /// images wide, with a 2-pixel black border between them.
    public static func writePNG(
        _ images: [Float], count: Int, rows: Int, columns: Int, across: Int, to path: String
    ) throws {
        let down = (count + across - 1) / across
        let border = 2
        let width = across * (columns + border) + border
        let height = down * (rows + border) + border
        var pixels = [UInt8](repeating: 0, count: width * height)
        for i in 0..<count {
            let top = border + (i / across) * (rows + border)
            let left = border + (i % across) * (columns + border)
            for r in 0..<rows {
                for c in 0..<columns {
                    let v = images[(i * rows + r) * columns + c]
                    let scaled = ((min(max(v, -1), 1) + 1) * 127.5).rounded()
                    pixels[(top + r) * width + left + c] = UInt8(scaled)
                }
            }
        }
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = png_uint_32(PNG_FORMAT_GRAY)
        let temporary = path + ".tmp-\(getpid()).png"
        let ok = pixels.withUnsafeBytes { png_image_write_to_file(&image, temporary, 0, $0.baseAddress, png_int_32(width), nil) }
        let message = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        png_image_free(&image)
        guard ok != 0 else {
            unlink(temporary)
            throw GANError("cannot write \(path): libpng: \(message)")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw GANError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
