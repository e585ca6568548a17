/// Images with labels, as unsigned bytes, from a directory of MNIST-format IDX files.
public struct ImageDataset: Sendable {
    public enum Split: String, Sendable {
        case train
        case test = "t10k"
    }

    /// Where Debian's dataset-fashion-mnist package puts the data.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    public let count: Int
    public let rows: Int
    public let columns: Int
    /// 1 (grayscale) or 3 (RGB).
    public let channels: Int
    /// count × rows × columns × channels bytes (NHWC), 0 (background) to 255.
    public let pixels: [UInt8]
    public let labels: [UInt8]
    /// Each class's name: Fashion-MNIST's garments for a directory named for it, else the
    /// labels' digits.
    public let classNames: [String]

    /// Bytes per image: rows · columns · channels.
    public var pixelsPerImage: Int { rows * columns * channels }

    /// Fashion-MNIST's ten classes, by label.
    public static let fashionNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    public init(
        count: Int, rows: Int, columns: Int, channels: Int = 1, pixels: [UInt8], labels: [UInt8], classNames: [String]? = nil
    ) {
        self.count = count
        self.rows = rows
        self.columns = columns
        self.channels = channels
        self.pixels = pixels
        self.labels = labels
        let top = Int(labels.max() ?? 0) + 1
        self.classNames = classNames ?? (0..<top).map(String.init)
    }

    /// Loads `<split>-images-idx3-ubyte[.gz]` and `<split>-labels-idx1-ubyte[.gz]` from
    /// `directory`.
    public static func load(directory: String, split: Split = .train) throws -> ImageDataset {
        guard isDirectory(directory) else {
            throw GANError("data directory \(directory) does not exist (install dataset-fashion-mnist, or pass --data DIR)")
        }
        let imagesPath = try find(directory, "\(split.rawValue)-images-idx3-ubyte")
        let labelsPath = try find(directory, "\(split.rawValue)-labels-idx1-ubyte")
        let images = try IDXFile.read(imagesPath)
        let labels = try IDXFile.read(labelsPath)
        guard images.dimensions.count == 3 else {
            throw GANError("\(imagesPath): images need 3 dimensions (count, rows, columns), found \(images.dimensions.count)")
        }
        guard labels.dimensions.count == 1 else {
            throw GANError("\(labelsPath): labels need 1 dimension, found \(labels.dimensions.count)")
        }
        guard labels.dimensions[0] == images.dimensions[0] else {
            throw GANError("\(labelsPath) has \(labels.dimensions[0]) labels but \(imagesPath) has \(images.dimensions[0]) images")
        }
        let fashion = directory.lowercased().contains("fashion") && (labels.bytes.max() ?? 0) == 9
        return ImageDataset(
            count: images.dimensions[0], rows: images.dimensions[1], columns: images.dimensions[2],
            pixels: images.bytes, labels: labels.bytes, classNames: fashion ? fashionNames : nil)
    }

    private static func find(_ directory: String, _ name: String) throws -> String {
        for candidate in ["\(directory)/\(name).gz", "\(directory)/\(name)"] where fileExists(candidate) {
            return candidate
        }
        throw GANError("\(directory) has no \(name).gz or \(name)")
    }
}

#if canImport(Glibc)
import Glibc
#endif

func fileExists(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
}

func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
}
