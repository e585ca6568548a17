import Foundation

/// A user's folder of PNG and JPEG pictures as an `ImageDataset`.
///
/// - Files: `*.png`, `*.jpg`, `*.jpeg` (any case) directly in the folder, or in its
///   sub-folders, each sub-folder a class (named by it, in name order) for `--conditional`;
///   with class folders, pictures beside them are skipped with a warning. Deeper folders
///   and other files are left alone. Hidden files and folders (a leading dot) are ignored.
/// - Each file's format is told by its first bytes (a JPEG named .png is read as JPEG).
///   A file that cannot be read (corrupt, truncated, neither PNG nor JPEG, too large) is
///   skipped and counted, or, with `strict`, refused with one line.
/// - Channels: `channels` (1 or 3), else 3 if any picture has colour, else 1: grey
///   pictures among colour ones are repeated into R, G and B, colour pictures made grey
///   by Rec. 601 luma (`ImageDecoding.decode`). A PNG's alpha is composited over black.
/// - Size: with `imageSize` N, each picture is scaled so its shorter side is N — by area
///   averaging when it shrinks (each output pixel the mean of the source area it covers,
///   partial pixels weighted by their share) and bilinearly when it grows — and the
///   centre N × N cropped. Without it, the pictures must share one size, which is kept.
public enum ImageFolder {
    public struct Options: Equatable, Sendable {
        public var imageSize: Int?
        public var channels: Int?
        public var strict: Bool

        public init(imageSize: Int? = nil, channels: Int? = nil, strict: Bool = false) {
            self.imageSize = imageSize
            self.channels = channels
            self.strict = strict
        }
    }

    /// The largest `imageSize`: 512.
    public static let maximumImageSize = 512
    public static let extensions: Set = ["png", "jpg", "jpeg"]

    public struct Loaded: Sendable {
        public let dataset: ImageDataset
        /// Files skipped, with why (relative paths).
        public let skipped: [(file: String, reason: String)]
        /// A line for the training log.
        public var summary: String {
            var line = "\(dataset.count) pictures of \(dataset.rows)×\(dataset.columns)\(dataset.channels == 3 ? " RGB" : " grey")"
            if dataset.classes > 0 { line += " in \(dataset.classes) class folders" }
            if let first = skipped.first { line += "; skipped \(skipped.count) (first: \(first.file): \(first.reason))" }
            return line
        }
    }

    /// Whether `path` is a folder of pictures rather than a folder of IDX files.
    public static func isImageFolder(_ path: String) -> Bool {
        guard isDirectory(path) else { return false }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return !names.contains { $0.hasPrefix("train-images-idx3-ubyte") }
    }

    private static func isPicture(_ name: String) -> Bool {
        !name.hasPrefix(".") && extensions.contains((name as NSString).pathExtension.lowercased())
    }

    /// The picture files of `directory` (relative paths) and their classes (class names, or
    /// none), with the files skipped for standing beside class folders.
    static func listing(_ directory: String) throws -> (files: [(path: String, label: Int)], classNames: [String], beside: [String]) {
        let manager = FileManager.default
        guard isDirectory(directory) else { throw GANError("data directory \(directory) does not exist") }
        let names: [String]
        do {
            names = try manager.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            throw GANError("cannot list \(directory): \(error.localizedDescription)")
        }
        let pictures = names.filter { isPicture($0) && fileExists("\(directory)/\($0)") }
        var classNames: [String] = []
        var files: [(String, Int)] = []
        for name in names where !name.hasPrefix(".") && isDirectory("\(directory)/\(name)") {
            let inside = ((try? manager.contentsOfDirectory(atPath: "\(directory)/\(name)")) ?? []).sorted()
                .filter { isPicture($0) && fileExists("\(directory)/\(name)/\($0)") }
            guard !inside.isEmpty else { continue }
            files += inside.map { ("\(name)/\($0)", classNames.count) }
            classNames.append(name)
        }
        if classNames.isEmpty { return (pictures.map { ($0, 0) }, [], []) }
        return (files, classNames, pictures)
    }

    /// Reads the pictures of `directory`.
    public static func load(directory: String, options: Options = Options()) throws -> Loaded {
        if let size = options.imageSize, !(1...maximumImageSize).contains(size) {
            throw GANError("--image-size must be 1 to \(maximumImageSize), got \(size)")
        }
        if let channels = options.channels, channels != 1, channels != 3 {
            throw GANError("--channels must be 1 or 3, got \(channels)")
        }
        let (files, classNames, beside) = try listing(directory)
        var skipped = beside.map { (file: $0, reason: "beside the class folders (\(classNames.joined(separator: ", ")))") }
        func skip(_ file: String, _ reason: String) throws {
            if options.strict { throw GANError("\(directory)/\(file): \(reason) (--strict refuses unreadable pictures)") }
            skipped.append((file, reason))
        }
        if options.strict, let first = skipped.first { throw GANError("\(directory)/\(first.file): \(first.reason) (--strict)") }
        guard classNames.count <= 256 else {
            throw GANError("\(directory) has \(classNames.count) class folders; at most 256")
        }
        // First pass: the headers, for the channels and the common size.
        var readable: [(path: String, label: Int, header: ImageDecoding.Header)] = []
        for (file, label) in files {
            do {
                let bytes = try readFile("\(directory)/\(file)")
                readable.append((file, label, try ImageDecoding.header(bytes)))
            } catch let error as GANError {
                try skip(file, error.description)
            }
        }
        guard !readable.isEmpty else {
            if files.isEmpty {
                throw GANError("\(directory) has no pictures (.png, .jpg or .jpeg files, directly or in class folders) and no train-images-idx3-ubyte[.gz]")
            }
            throw GANError("none of the \(files.count) pictures in \(directory) could be read (first: \(skipped.first.map { "\($0.file): \($0.reason)" } ?? ""))")
        }
        let channels = options.channels ?? (readable.contains { $0.header.isColor } ? 3 : 1)
        let (rows, columns): (Int, Int)
        if let size = options.imageSize {
            (rows, columns) = (size, size)
        } else {
            let sizes = Set(readable.map { "\($0.header.width)×\($0.header.height)" })
            guard sizes.count == 1 else {
                let a = readable[0], b = readable.first { $0.header.width != a.header.width || $0.header.height != a.header.height }!
                throw GANError("the pictures in \(directory) differ in size (\(a.path) is \(a.header.width)×\(a.header.height), \(b.path) \(b.header.width)×\(b.header.height)): give --image-size N to scale and crop them to N×N")
            }
            (rows, columns) = (readable[0].header.height, readable[0].header.width)
        }
        // Second pass: decode, convert, scale and crop each.
        var pixels: [UInt8] = []
        pixels.reserveCapacity(readable.count * rows * columns * channels)
        var labels: [UInt8] = []
        for (file, label, _) in readable {
            do {
                let picture = try read(try readFile("\(directory)/\(file)"), channels: channels, size: options.imageSize)
                guard picture.height == rows, picture.width == columns else {
                    throw GANError("is \(picture.width)×\(picture.height), its header said \(columns)×\(rows)")
                }
                pixels += picture.pixels
                labels.append(UInt8(label))
            } catch let error as GANError {
                try skip(file, error.description)
            }
        }
        guard !labels.isEmpty else {
            throw GANError("none of the \(files.count) pictures in \(directory) could be read (first: \(skipped.first.map { "\($0.file): \($0.reason)" } ?? ""))")
        }
        let dataset = ImageDataset(
            count: labels.count, rows: rows, columns: columns, channels: channels, pixels: pixels,
            labels: classNames.isEmpty ? [] : labels, classNames: classNames.isEmpty ? [] : classNames)
        return Loaded(dataset: dataset, skipped: skipped)
    }

    /// One picture file's bytes decoded with `channels` channels and, with `size`, scaled
    /// and centre-cropped to size × size: what the folder reader does with each file.
    public static func read(_ bytes: [UInt8], channels: Int, size: Int?) throws -> (pixels: [UInt8], height: Int, width: Int) {
        let (header, decoded) = try ImageDecoding.decode(bytes, channels: channels)
        guard let size, size != header.width || size != header.height else { return (decoded, header.height, header.width) }
        guard (1...maximumImageSize).contains(size) else { throw GANError("a size of \(size), outside 1 to \(maximumImageSize)") }
        return (scaleAndCrop(decoded, width: header.width, height: header.height, channels: channels, to: size), size, size)
    }

    private static func readFile(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw GANError("cannot be read") }
        return Array(data)
    }

    // MARK: - Scaling

    /// The source positions and weights of each of `count` output samples starting at
    /// `offset` along an axis scaled from `source` samples by `scale`: the source interval
    /// an output sample covers, each source sample weighted by its overlap (area averaging)
    /// when shrinking; the two nearest source samples by distance (bilinear, pixel centres
    /// aligned) when growing.
    static func weights(source: Int, scale: Double, offset: Int, count: Int) -> [[(index: Int, weight: Double)]] {
        (0..<count).map { i in
            let o = Double(i + offset)
            if scale < 1 {
                let (start, end) = (o / scale, (o + 1) / scale)
                var taps: [(Int, Double)] = []
                var s = Int(start.rounded(.down))
                while Double(s) < end, s < source {
                    let overlap = min(end, Double(s + 1)) - max(start, Double(s))
                    if overlap > 0 { taps.append((s, overlap)) }
                    s += 1
                }
                let total = taps.reduce(0) { $0 + $1.1 }
                return taps.map { ($0.0, $0.1 / total) }
            }
            let centre = min(max((o + 0.5) / scale - 0.5, 0), Double(source - 1))
            let low = Int(centre.rounded(.down)), high = min(low + 1, source - 1)
            let t = centre - Double(low)
            return t == 0 || high == low ? [(low, 1)] : [(low, 1 - t), (high, t)]
        }
    }

    /// Scales `pixels` (height × width × channels) so the shorter side is `size`, and
    /// crops the centre size × size.
    static func scaleAndCrop(_ pixels: [UInt8], width: Int, height: Int, channels: Int, to size: Int) -> [UInt8] {
        let scale = Double(size) / Double(min(width, height))
        let scaledWidth = max(size, Int((Double(width) * scale).rounded()))
        let scaledHeight = max(size, Int((Double(height) * scale).rounded()))
        let across = weights(source: width, scale: scale, offset: (scaledWidth - size) / 2, count: size)
        let down = weights(source: height, scale: scale, offset: (scaledHeight - size) / 2, count: size)
        // Along the width first (height × size), then along the height.
        var rowsDone = [Double](repeating: 0, count: height * size * channels)
        for y in 0..<height {
            for (x, taps) in across.enumerated() {
                for c in 0..<channels {
                    var sum = 0.0
                    for (index, weight) in taps { sum += weight * Double(pixels[(y * width + index) * channels + c]) }
                    rowsDone[(y * size + x) * channels + c] = sum
                }
            }
        }
        var out = [UInt8](repeating: 0, count: size * size * channels)
        for (y, taps) in down.enumerated() {
            for x in 0..<size {
                for c in 0..<channels {
                    var sum = 0.0
                    for (index, weight) in taps { sum += weight * rowsDone[(index * size + x) * channels + c] }
                    out[(y * size + x) * channels + c] = UInt8(min(max(sum.rounded(), 0), 255))
                }
            }
        }
        return out
    }

    // MARK: - The run's cache

    /// Where a run keeps its decoded pictures: `<run>/data/`, as IDX files (images count ×
    /// rows × columns × channels, labels) and classes.json, so a resume does not decode the
    /// folder again.
    static func cachePaths(_ run: String) -> (images: String, labels: String, classes: String) {
        ("\(run)/data/images-idx4-ubyte", "\(run)/data/labels-idx1-ubyte", "\(run)/data/classes.json")
    }

    public static func writeCache(_ dataset: ImageDataset, run: String) throws {
        let paths = cachePaths(run)
        if !isDirectory("\(run)/data"), mkdir("\(run)/data", 0o755) != 0 {
            throw GANError("cannot create \(run)/data: \(String(cString: strerror(errno)))")
        }
        func idx(_ dimensions: [Int], _ bytes: [UInt8]) -> [UInt8] {
            [0, 0, 8, UInt8(dimensions.count)] + dimensions.flatMap { d in (0..<4).reversed().map { UInt8(truncatingIfNeeded: d >> (8 * $0)) } } + bytes
        }
        try writeAtomically(idx([dataset.count, dataset.rows, dataset.columns, dataset.channels], dataset.pixels), to: paths.images)
        if dataset.labels.isEmpty { unlink(paths.labels) } else { try writeAtomically(idx([dataset.labels.count], dataset.labels), to: paths.labels) }
        try writeAtomically(Array(try JSONSerialization.data(withJSONObject: dataset.classNames)), to: paths.classes)
    }

    /// The pictures a run cached, or nil when it has no cache.
    public static func readCache(run: String) throws -> ImageDataset? {
        let paths = cachePaths(run)
        guard fileExists(paths.images) else { return nil }
        let images = try IDXFile.read(paths.images)
        let labels = fileExists(paths.labels) ? try IDXFile.read(paths.labels).bytes : []
        guard images.dimensions.count == 4, [1, 3].contains(images.dimensions[3]),
              labels.isEmpty || labels.count == images.dimensions[0],
              let data = FileManager.default.contents(atPath: paths.classes),
              let names = try? JSONSerialization.jsonObject(with: data) as? [String] else {
            throw GANError("\(run)/data: the cache of decoded pictures is damaged; remove \(run)/data to decode the folder again")
        }
        return ImageDataset(
            count: images.dimensions[0], rows: images.dimensions[1], columns: images.dimensions[2],
            channels: images.dimensions[3], pixels: images.bytes, labels: labels, classNames: names)
    }
}
