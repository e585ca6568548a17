import CPNG
import Foundation

/// A grid of grayscale or RGB images written as an 8-bit PNG by libpng.
public enum ImageGrid {
    /// The gutter between images: one pixel of mid-grey, visible on black backgrounds.
    public static let gutter = 1, gutterValue: UInt8 = 128

    /// The integer upscale of images of rows × columns: small images (28×28) are drawn at
    /// least 56 pixels tall, so a grid is not a stamp; 64 pixels and more stay as they are.
    public static func defaultScale(rows: Int, columns: Int) -> Int { max(1, 64 / max(rows, columns, 1)) }

    /// Writes `images` (count × rows × columns × channels values in [-1, 1], NHWC; 1 channel
    /// grayscale, 3 RGB) as a grid `across` images wide, each drawn `scale`× (nearest
    /// neighbour; default `defaultScale`), with one-pixel grey gutters around them. With
    /// `rowLabels`, each row of the grid is labelled on the left with its number (a
    /// conditional sample's class), in a small white digit font.
    public static func writePNG(
        _ images: [Float], count: Int, rows: Int, columns: Int, channels: Int = 1, across: Int, rowLabels: [Int]? = nil,
        scale: Int? = nil, to path: String
    ) throws {
        precondition(channels == 1 || channels == 3, "a grid is grayscale or RGB")
        let zoom = max(1, scale ?? defaultScale(rows: rows, columns: columns))
        let (tall, wide) = (rows * zoom, columns * zoom)
        let down = (count + across - 1) / across
        let digits = rowLabels.map { labels in labels.map { String($0).count }.max() ?? 1 } ?? 0
        let margin = digits == 0 ? 0 : digits * (glyphWidth + 1) * glyphScale + 2
        let width = margin + across * (wide + gutter) + gutter
        let height = down * (tall + gutter) + gutter
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        func setGrey(_ y: Int, _ x: Int, _ value: UInt8) {
            for c in 0..<channels { pixels[(y * width + x) * channels + c] = value }
        }
        // Gutters: grey lines between (and around) the images' cells.
        for row in 0...down {
            let y = row * (tall + gutter)
            for x in margin..<width { setGrey(y, x, gutterValue) }
        }
        for column in 0...across {
            let x = margin + column * (wide + gutter)
            for y in 0..<height { setGrey(y, x, gutterValue) }
        }
        if let rowLabels {
            for (row, label) in rowLabels.prefix(down).enumerated() {
                let top = gutter + row * (tall + gutter) + max(0, (tall - glyphHeight * glyphScale) / 2)
                draw(String(label), at: (top, 1), width: width, height: height) { setGrey($0, $1, 255) }
            }
        }
        for i in 0..<count {
            let top = gutter + (i / across) * (tall + gutter)
            let left = margin + gutter + (i % across) * (wide + gutter)
            for r in 0..<tall {
                for c in 0..<wide {
                    for k in 0..<channels {
                        let v = images[((i * rows + r / zoom) * columns + c / zoom) * channels + k]
                        let scaled = ((min(max(v, -1), 1) + 1) * 127.5).rounded()
                        pixels[((top + r) * width + left + c) * channels + k] = UInt8(scaled)
                    }
                }
            }
        }
        try write(pixels, channels: channels, width: width, height: height, to: path)
    }

    // MARK: - Digits

    static let glyphWidth = 3, glyphHeight = 5, glyphScale = 2
    /// 3×5 digits, rows top to bottom, 3 bits each (left bit first).
    static let glyphs: [[UInt8]] = [
        [7, 5, 5, 5, 7], [2, 6, 2, 2, 7], [7, 1, 7, 4, 7], [7, 1, 7, 1, 7], [5, 5, 7, 1, 1],
        [7, 4, 7, 1, 7], [7, 4, 7, 5, 7], [7, 1, 1, 1, 1], [7, 5, 7, 5, 7], [7, 5, 7, 1, 7],
    ]

    /// Draws the digits of `text` with their top-left corner at (row, column), calling
    /// `plot(y, x)` for each pixel of a glyph inside width × height.
    static func draw(_ text: String, at origin: (row: Int, column: Int), width: Int, height: Int, plot: (Int, Int) -> Void) {
        for (n, character) in text.enumerated() {
            guard let digit = character.wholeNumberValue else { continue }
            let left = origin.column + n * (glyphWidth + 1) * glyphScale
            for (r, bits) in glyphs[digit].enumerated() {
                for c in 0..<glyphWidth where bits & (4 >> c) != 0 {
                    for dy in 0..<glyphScale {
                        for dx in 0..<glyphScale {
                            let y = origin.row + r * glyphScale + dy, x = left + c * glyphScale + dx
                            if y < height, x < width { plot(y, x) }
                        }
                    }
                }
            }
        }
    }

    /// Writes 8-bit grayscale (1 channel) or RGB (3) pixels as a PNG, atomically.
    public static func write(_ pixels: [UInt8], channels: Int, width: Int, height: Int, to path: String) throws {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = png_uint_32(channels == 3 ? PNG_FORMAT_FLAG_COLOR : 0)  // PNG_FORMAT_RGB or PNG_FORMAT_GRAY
        let temporary = path + ".tmp-\(getpid()).png"
        let ok = pixels.withUnsafeBytes { png_image_write_to_file(&image, temporary, 0, $0.baseAddress, png_int_32(width * channels), nil) }
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
